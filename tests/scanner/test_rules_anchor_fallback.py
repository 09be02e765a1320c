"""scanner.rules' line anchors: an anchor that is not a literal-word alternation with a one-line
tail falls back to the regex and finds the same lines as the word search."""

from __future__ import annotations

from aigw_secrets.scanner import rules


def test_a_non_word_anchor_falls_back_to_the_regex() -> None:
    assert rules._split_anchor(r"(?:pass|token).*=") == ((), None)
    assert rules._split_anchor(r"secret\s*:") == ((), None)
    text = "a: 1\npassword = x\nnothing\ntoken: y\n"
    lines = rules._anchored_lines(r"(?:pass|token)[a-z]*[ \t]*[:=]", text, text.lower())
    fallback = rules._anchored_lines(r"(pass|token)[a-z]*[ \t]*[:=]", text, text.lower())
    assert [text[s:e] for s, e in lines] == [text[s:e] for s, e in fallback] == ["password = x", "token: y"]
