"""sops's regexes are Go (RE2) regexps; the common subset is decided by Python's ``re`` without loading
RE2. Differential: on random patterns and ASCII strings, both engines accept the same patterns and
match the same strings wherever the subset claims a pattern."""

from __future__ import annotations

import os

import re2
from hypothesis import given, settings
from hypothesis import strategies as st

from aigw_secrets.sops import regex as sops_regex

# pieces of patterns: the subset's constructs and near misses it must leave to RE2
PIECES = [
    "a", "b", "Z", "0", "9", "_", "/", "-", ".", ",", ":", " ", "#", "&", "~",
    "\\.", "\\-", "\\/", "\\d", "\\w", "\\D", "\\W", "\\s", "\\S", "\\b", "\\z", "\\A", "\\Q", "\\p{L}", "\\x41", "\\",
    "*", "+", "?", "*?", "+?", "??", "*+", "++", "{2}", "{1,3}", "{,2}", "{",
    "(", ")", "(?:", "(?i)", "(?P<n>", "(?s:", "|", "^", "$",
    "[a-z]", "[^a-z]", "[0-9_.]", "[-a]", "[a-]", "[]a]", "[z-a]", "[[:alpha:]]", "[a--b]", "[\\d]", "[", "]",
    "sops", "yaml", "ya?ml", "é",
]  # fmt: skip
TEXT = st.text(alphabet="abZ09_/-.,: #&~\n\tyamlsope[]()|*+?$^\\", max_size=24)


def _re2_valid(pattern: str) -> bool:
    options = re2.Options()
    options.log_errors = False
    try:
        re2.compile(pattern, options=options)
    except re2.error:
        return False
    return True


def _re2_search(pattern: str, text: str) -> bool:
    options = re2.Options()
    options.log_errors = False
    return re2.compile(pattern, options=options).search(text) is not None


# 800 generated patterns in the suite (each RE2-checked); AIGW_TEST_REGEX_EXAMPLES=60000 for a soak
@settings(max_examples=int(os.environ.get("AIGW_TEST_REGEX_EXAMPLES", "800")), deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=8).map("".join), st.lists(TEXT, min_size=1, max_size=6))
def test_the_subset_decides_as_re2(pattern: str, texts: list[str]) -> None:
    same = sops_regex.python_equivalent(pattern)
    if same is None:
        return
    assert _re2_valid(pattern), pattern  # nothing RE2 refuses is claimed
    assert sops_regex.problem(pattern) is None
    for text in texts:
        assert (same.search(text) is not None) == _re2_search(pattern, text), (pattern, text)
        assert sops_regex.search(pattern, text) == _re2_search(pattern, text)


def test_the_usual_sops_regexes_are_in_the_subset() -> None:
    for pattern in (
        r"\.sops\.ya?ml$",
        r"^(data|stringData)$",
        r"(bootstrap|kubernetes|talos)/.*\.sops\.ya?ml",
        r"kubernetes/.*\.sops\.(env|ini|json|toml|ya?ml)$",
        r"talos/.*\.sops\.ya?ml",
        r"^(kubernetes|clusters)/[a-z0-9-]+/.*\.ya?ml$",
    ):
        assert sops_regex.python_equivalent(pattern) is not None, pattern
    path = "kubernetes/apps/network/cloudflared/app/secret.sops.yaml"
    assert sops_regex.python_for(r"(bootstrap|kubernetes|talos)/.*\.sops\.ya?ml", path) is not None
    # $ is the end of the text, as in Go (Python's own $ also matches before a final newline)
    assert not sops_regex.search(r"\.yaml$", "x.yaml\n") and not _re2_search(r"\.yaml$", "x.yaml\n")
    # what the subset leaves out still goes to RE2: Go-only syntax works, Python-only syntax is refused
    assert sops_regex.search(r"(?i)^DATA$", "data") and sops_regex.python_equivalent(r"(?i)^DATA$") is None
    assert sops_regex.problem(r"(?<=a)b") is not None and sops_regex.problem(r"a*+") is not None
    assert sops_regex.search(r"\.sops\.yaml$", "é.sops.yaml")  # non-ASCII text: RE2 decides


def test_every_edge_of_the_subset() -> None:
    """Each way in or out of the subset, and RE2's verdict wherever the subset claims a pattern."""
    inside = ["a.b", "a*?", "a+?", "a??", "(?:ab)", "()", "a|", "[^-a-z.]", "[a-]", "[-a]", "\\.\\d\\W", "^x$"]
    outside = [
        "\\", "\\q", "*a", "a**", "a*??", "^*", "$?", "(?i)a", "(a", "a)", "(" * 101 + ")" * 101, "[a", "[]",
        "[^]", "[a-\\]", "[z-a]", "[a-{]", "[a&b]", "x" * 1001, "é", "a{2}",
        "(?:ab)+", "()*", "a*b+c*", ".*.*.*", "a?" * 7, "(a|b)(a|b)(a|b)(a|b)(a|b)(a|b)(a|b)",  # backtracking bound
    ]  # fmt: skip
    for pattern in inside:
        assert sops_regex.python_equivalent(pattern) is not None, pattern
        assert _re2_valid(pattern)
    for pattern in outside:
        assert sops_regex.python_equivalent(pattern) is None, pattern


def test_a_pattern_a_commit_writes_never_backtracks_for_long() -> None:
    """Python's engine backtracks, RE2 does not: a rule like ``(.*.*)*X`` (sops skips it at once) took
    Python's ``re`` 27 s on 16 characters. The subset leaves such patterns, and long texts, to RE2."""
    for pattern in (r"(.*.*)*X", r"(a|a)*X", r".*.*.*.*X", r"(a?){30}a{30}", "a?" * 30 + "a" * 30):
        assert sops_regex.python_equivalent(pattern) is None, pattern
        assert not sops_regex.search(pattern, "k" * 4000)
    # in the subset, but its worst case on this text is past the budget: RE2 searches, with the same answer
    crafted = "(a|.)" * 6 + "[a-z./]*" + "[a-z./]" * 135 + "!"
    assert sops_regex.python_equivalent(crafted) is not None
    assert sops_regex.python_for(crafted, "a" * 993) is None and not sops_regex.search(crafted, "a" * 993)
    assert sops_regex.python_for(r".*X", "k" * 5000) is None and sops_regex.search(r".*X", "k" * 5000 + "X")
