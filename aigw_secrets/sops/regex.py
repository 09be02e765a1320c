"""sops's regexes (``path_regex``, ``encrypted_regex``, ...) are Go regexps, i.e. RE2 syntax, not
Python's ``re``: ``^(?i)data$`` is valid there and an error here, and a Python-only construct such
as a look-behind is an error there. They are compiled with RE2 (the ``google-re2`` binding) so that
what matches, and what is invalid, is what sops decides.
"""

from __future__ import annotations

import functools
import re

from aigw_secrets.lean import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover - for the type checker only
    from typing import Any


class GoRegexError(ValueError):
    """Not a valid Go (RE2) regular expression; sops would refuse it too."""


@functools.lru_cache(maxsize=512)
def compile_go(pattern: str) -> Any:
    """The compiled RE2 pattern; GoRegexError when sops could not compile it either."""
    import re2

    options = re2.Options()
    options.log_errors = False  # RE2 would print parse errors to stderr itself
    try:
        return re2.compile(pattern, options=options)
    except re2.error as exc:
        reason = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise GoRegexError(reason) from None


def search(pattern: str, text: str) -> bool:
    """Whether ``pattern`` matches anywhere in ``text`` (Go's ``MatchString``: unanchored)."""
    same = python_for(pattern, text)
    if same is not None:
        return same.search(text) is not None
    return compile_go(pattern).search(text) is not None


def problem(pattern: str) -> str | None:
    """Why sops would refuse ``pattern``, or None when it is valid."""
    if python_equivalent(pattern) is not None:
        return None  # in the common subset every pattern is valid for RE2 too
    try:
        compile_go(pattern)
    except GoRegexError as exc:
        return str(exc)
    return None


# The common subset. Most sops regexes are plain (``\.sops\.ya?ml$``, ``^(data|stringData)$``,
# ``(bootstrap|kubernetes)/.*``): for those, Python's ``re`` decides exactly as RE2 on ASCII text, and
# a pre-commit hook is spared loading RE2 (~3 ms). Within the subset both engines accept the same
# patterns and match the same ASCII strings:
#   literal letters, digits and ``_/-,:=@%~ '"#!<>&;``; ``.`` (any character but a newline in both);
#   escapes of punctuation, and \d \D \w \W (ASCII classes in RE2, the same on ASCII text in
#   Python); ``^`` (start of text in both); ``$`` (end of text in RE2: ``\Z`` in Python, whose ``$``
#   also matches before a final newline); ``(...)``, ``(?:...)``, ``|``; ``*`` ``+`` ``?`` after an
#   atom, each optionally followed by one ``?`` (lazy: the same strings match); classes ``[...]`` and
#   ``[^...]`` of letters, digits, ``_./ `` and ordered ranges, ``-`` first or last.
# Anything else (``{n,m}``, flags, other escapes, nested or POSIX classes, possessive or repeated
# quantifiers, non-ASCII text) is left to RE2. A differential test checks the two engines agree.
# Python's engine backtracks (RE2 does not): a pattern a commit writes could take it exponential time
# on a path (``(.*.*)*X``). So the subset also bounds the backtracking: no quantifier after a group, at
# most two ``*`` or ``+`` and 64 ways through the alternations and ``?`` together; and each search
# estimates its worst case, (text length)^(1 + stars) x ways x pattern length steps, and goes to RE2
# (linear time) past _BUDGET: a usual rule on a usual path stays in Python, a long path or a crafted
# rule does not.
_MAX_UNBOUNDED, _MAX_WAYS, _BUDGET = 2, 64, 2_000_000
_LITERAL = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_/-,:=@%~ '\"#!<>&;")
_ATOMS = _LITERAL | {"."}  # one character each: a literal or any character
_PUNCT_ESCAPES = frozenset(".-/+*?()[]{}|^$\\")
_CLASS_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./ ")
_equivalents: dict[str, tuple[re.Pattern[str], int, int] | None] = {}


def python_equivalent(pattern: str) -> re.Pattern[str] | None:
    """A compiled Python regex deciding exactly as RE2 does on ASCII text, when ``pattern`` is in the
    common subset above; None otherwise (RE2 must decide)."""
    found = _equivalent(pattern)
    return found[0] if found else None


def python_for(pattern: str, text: str) -> re.Pattern[str] | None:
    """``python_equivalent`` when searching ``text`` with it stays within the backtracking budget."""
    found = _equivalent(pattern) if text.isascii() else None
    if found is None:
        return None
    compiled, unbounded, ways = found
    return compiled if (len(text) + 1) ** (1 + unbounded) * ways * len(pattern) <= _BUDGET else None


def _equivalent(pattern: str) -> tuple[re.Pattern[str], int, int] | None:
    if pattern not in _equivalents:
        source = _tokens(pattern) if pattern.isascii() and len(pattern) <= 1000 else None
        shape = _shape(pattern) if source is not None else None
        try:
            _equivalents[pattern] = (re.compile(source), *shape) if source is not None and shape else None
        except re.error:  # pragma: no cover - the subset compiles; RE2 decides otherwise
            _equivalents[pattern] = None
    return _equivalents[pattern]


_ANCHORS = {"|": "|", "^": "^", "$": r"\Z"}  # alternation and anchors: no quantifier may follow


def _escape(pattern: str, i: int) -> str | None:
    """The escape at ``i`` (a backslash) when the subset holds it: punctuation, \\d \\D \\w \\W."""
    e = pattern[i + 1] if i + 1 < len(pattern) else ""
    return "\\" + e if e and (e in _PUNCT_ESCAPES or e in "dDwW") else None


def _group(pattern: str, i: int) -> str | None:
    """The group opened at ``i``: capturing or non-capturing (no flags, names or look-arounds)."""
    if not pattern.startswith("(?", i):
        return "("
    return "(?:" if pattern.startswith("(?:", i) else None


def _shape(pattern: str) -> tuple[int, int] | None:
    """(stars, ways) of a pattern ``_tokens`` accepted, None past the subset's bound (see above): counted
    on its text, where classes and escapes hold no quantifier or alternation of their own."""
    plain = re.sub(r"\\.|\[[^\]]*\]", "a", pattern)  # each escape or class: one atom
    if re.search(r"\)[*+?]", plain):
        return None
    unbounded = len(re.findall(r"(?<![*+?])[*+]", plain))
    paths, stack = 2 ** len(re.findall(r"(?<![*+?])\?", plain)), [1]  # each optional atom: two ways
    for c in plain:
        if c == "(":
            stack.append(1)
        elif c == "|":
            stack[-1] += 1
        elif c == ")" and len(stack) > 1:
            paths *= stack.pop()
    paths *= stack[0]
    return (unbounded, paths) if unbounded <= _MAX_UNBOUNDED and paths <= _MAX_WAYS else None


def _tokens(pattern: str) -> str | None:
    out: list[str] = []
    depth = 0
    atom = False  # the last token can take a quantifier
    quantified = False  # the last token is a quantifier (only one lazy "?" may follow it)
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c in _ATOMS:
            out.append(c)
            atom, quantified = True, False
        elif c == "\\":
            escape = _escape(pattern, i)
            if escape is None:
                return None
            out.append(escape)
            i += 1
            atom, quantified = True, False
        elif c in "*+?":
            if not (atom or (quantified and c == "?")):
                return None
            out.append(c)  # after a quantifier, "?" makes it lazy: x*? x+? x??
            atom, quantified = False, not quantified
        elif c == "(":
            group = _group(pattern, i)
            if group is None or depth >= 100:  # at most 100 groups deep
                return None
            out.append(group)
            i += len(group) - 1
            depth += 1
            atom, quantified = False, False
        elif c == ")":
            if depth == 0:
                return None
            depth -= 1
            out.append(")")
            atom, quantified = True, False
        elif c in _ANCHORS:
            out.append(_ANCHORS[c])
            atom, quantified = False, False
        elif c == "[":
            end = _class_end(pattern, i)
            if end is None:
                return None
            out.append(pattern[i:end])
            i = end - 1
            atom, quantified = True, False
        else:
            return None
        i += 1
    return "".join(out) if depth == 0 else None


def _class_end(pattern: str, start: int) -> int | None:
    """The index after the ``]`` closing a class in the subset opened at ``start``; None when the class
    is outside it."""
    i = start + 1
    if i < len(pattern) and pattern[i] == "^":
        i += 1
    body_start = i
    items: list[str] = []
    while i < len(pattern) and pattern[i] != "]":
        items.append(pattern[i])
        i += 1
    if i >= len(pattern) or not items:
        return None  # unterminated, or empty (``[]``: RE2 and Python read ``]`` differently there)
    body = pattern[body_start:i]
    core = body[1:] if body.startswith("-") else body
    core = core[:-1] if core.endswith("-") else core
    j = 0
    while j < len(core):
        if core[j] not in _CLASS_CHARS:
            return None
        if j + 1 < len(core) and core[j + 1] == "-":
            if j + 2 >= len(core) or core[j + 2] not in _CLASS_CHARS or core[j] > core[j + 2]:
                return None
            j += 3
        else:
            j += 1
    return i + 1
