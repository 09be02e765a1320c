"""sops's regexes (``path_regex``, ``encrypted_regex``, ...) are Go regexps, i.e. RE2 syntax, not
Python's ``re``: ``^(?i)data$`` is valid there and an error here, and a Python-only construct such
as a look-behind is an error there. They are compiled with RE2 (the ``google-re2`` binding) so that
what matches, and what is invalid, is what sops decides.
"""

from __future__ import annotations

import functools
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
    return compile_go(pattern).search(text) is not None


def problem(pattern: str) -> str | None:
    """Why sops would refuse ``pattern``, or None when it is valid."""
    try:
        compile_go(pattern)
    except GoRegexError as exc:
        return str(exc)
    return None
