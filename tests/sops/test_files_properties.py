"""Property: any Secret written in any mix of styles survives encrypt → decrypt byte for byte,
and the real sops decrypts the result to the same values."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from aigw_secrets.sops import files as sops_files
from aigw_secrets.sops import splice
from aigw_secrets.sops.binary import Sops

REL = "kubernetes/prop/secret.sops.yaml"

keys = st.from_regex(r"[a-z][a-zA-Z0-9_.-]{0,10}", fullmatch=True)
words = st.from_regex(r"v[a-z0-9]{1,8}( [a-z0-9]{1,8}){0,3}", fullmatch=True)  # plain-safe in YAML 1.1 and 1.2
any_line = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=30)


def yaml_double_quoted(value: str, *, escape_non_ascii: bool) -> str:
    """YAML escapes (not JSON's: YAML has \\U........ instead of surrogate pairs)."""
    out = json.dumps(value, ensure_ascii=False)
    if escape_non_ascii:
        out = "".join(
            c if ord(c) < 128 else (f"\\u{ord(c):04x}" if ord(c) < 0x10000 else f"\\U{ord(c):08x}") for c in out
        )
    return out


@st.composite
def value_text(draw: st.DrawFn, indent: int) -> str:
    """The text after `key: ` for one value, in a random style."""
    style = draw(st.sampled_from(["plain", "single", "double", "literal", "folded"]))
    if style == "plain":
        return draw(words)
    if style == "single":
        v = draw(any_line)
        return "'" + v.replace("'", "''") + "'"
    if style == "double":
        return yaml_double_quoted(draw(any_line), escape_non_ascii=draw(st.booleans()))
    lines = draw(st.lists(words, min_size=1, max_size=4))
    chomp = draw(st.sampled_from(["", "-", "+"]))
    body = "".join(" " * indent + line + "\n" for line in lines)
    blank = "\n" * draw(st.integers(0, 2))
    return ("|" if style == "literal" else ">") + chomp + "\n" + body + blank


@st.composite
def secret_doc(draw: st.DrawFn) -> str:
    step = draw(st.sampled_from([2, 4]))
    pad = " " * step
    out = []
    if draw(st.booleans()):
        out.append("---\n")
    if draw(st.booleans()):
        out.append("# a header comment\n")
    out.append("apiVersion: v1\nkind: Secret\nmetadata:\n")
    name = draw(st.from_regex(r"[a-z]{1,8}", fullmatch=True))  # yes, no, on, off, y, n are strings to sops
    out.append(f"{pad}name: {name}")
    out.append("  # inline\n" if draw(st.booleans()) else "\n")
    if draw(st.booleans()):
        out.append(f"{pad}labels: {{app: demo}}\n")
    out.append("\n" * draw(st.integers(0, 2)))
    section = draw(st.sampled_from(["stringData", "data"]))
    out.append(f"{section}:\n")
    for key in draw(st.lists(keys, min_size=1, max_size=5, unique=True)):
        text = draw(value_text(step * 2))
        out.append(f"{pad}{key}: {text}" + ("" if text.endswith("\n") else "\n"))
        out.append("\n" * draw(st.integers(0, 1)))
    if draw(st.booleans()):
        out.append("# footer\n")
    return "".join(out)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(doc=secret_doc())
@example(doc="apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\nstringData:\n  a: '='\n")  # sops prints `a: =`
def test_any_style_round_trips(repo: Path, doc: str) -> None:
    expected = splice.load_all(doc)  # as sops reads it (yaml.v3)
    sops = Sops(repo)
    encrypted = sops_files.encrypt(sops, doc.encode(), REL)
    assert sops_files.decrypt(sops, encrypted, REL).decode() == doc
    values = splice.load_all(sops.decrypt(encrypted, REL).decode())
    assert values == expected


def test_a_yaml11_boolean_word_round_trips(repo: Path) -> None:
    """Found by Hypothesis: `name: no` (false to YAML 1.1, the string "no" to sops's yaml.v3) made the
    engine refuse ("sops would change some values"): it read values with PyYAML's YAML 1.1."""
    doc = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: no\nstringData:\n  password: hunter2hunter2\n"
    sops = Sops(repo)
    encrypted = sops_files.encrypt(sops, doc.encode(), REL)
    assert sops_files.decrypt(sops, encrypted, REL).decode() == doc


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=200))
def test_parser_and_comment_scanner_never_crash(text: str) -> None:
    """Arbitrary text: either a clear DataError or a parse; comments() never raises."""
    try:
        parsed = splice.parse(text, "fuzz")
    except Exception as exc:  # noqa: BLE001
        assert type(exc).__name__ == "DataError", repr(exc)
        return
    list(splice.comments(text, splice.all_spans(parsed)))
