"""Scalars that YAML 1.1 (PyYAML) and sops's Go yaml.v3 read differently (``no``, ``017``, ``1:20``,
``.NaN``, ``2001-12-14``, ``=``, ``<<``, ``!!binary``, explicit tags...), checked against the real sops:

* the engine reads each one as sops does (sops's own ``type:`` and plaintext are the oracle), for a
  fixed list and for generated texts (Hypothesis, a few sops runs);
* each one as a mapping value, a list item and a key, encrypted (under encrypted_regex and in a
  whole-file rule) and left in clear beside an encrypted value, encrypts, decrypts byte for byte, and
  the real sops decrypts the result to the same values;
* what sops cannot take (a key that is not a string, an integer above 2**63-1) and what the engine
  cannot keep (a value sops writes in another form inside a flow collection) is refused naming the place.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from aigw_secrets.errors import DataError
from aigw_secrets.sops import agekeys, goyaml, reader, splice
from aigw_secrets.sops import files as sops_files
from aigw_secrets.sops.binary import Sops
from testing.helpers import sops_bin

# The list of the issue, and the edges of each rule (Go ParseInt/ParseFloat, time.Parse, yaml.v3's map).
ORACLE = [
    *[
        "yes",
        "no",
        "on",
        "off",
        "y",
        "n",
        "Yes",
        "NO",
        "On",
        "OFF",
        "Y",
        "N",
        "True",
        "TRUE",
        "true",
        "tRue",
        "False",
        "FALSE",
        "false",
    ],
    *["~", "null", "Null", "NULL", "nULL"],
    "",
    *[
        "017",
        "0o17",
        "0O17",
        "0x1F",
        "0X1f",
        "0b101",
        "0B101",
        "08",
        "09",
        "0",
        "-0",
        "00",
        "+1",
        "-1",
        "+0x1F",
        "-0x1F",
        "-0b101",
        "-0o17",
        "0x",
        "0o8",
        "0b2",
    ],
    *[
        "1_000",
        "1__0",
        "1_",
        "0_17",
        "0x_1F",
        "1_000.5",
        "1e3",
        "1E3",
        "1.5e3",
        "1.",
        "0.",
        "+1.",
        "-.5",
        ".5",
        "+.5",
        ".5_5",
        ".5e3",
        "._5",
        ".",
        "1e400",
        "-1e400",
    ],
    *[
        "9223372036854775807",
        "-9223372036854775808",
        "-9223372036854775809",
        "18446744073709551616",
        "0xFFFFFFFFFFFFFFFFFF",
    ],
    *[
        ".inf",
        ".Inf",
        ".INF",
        ".iNf",
        "+.inf",
        "-.inf",
        "-.Inf",
        "+.INF",
        ".nan",
        ".NaN",
        ".NAN",
        "NaN",
        "inf",
        "Infinity",
        "+Inf",
        "1.50",
    ],
    *["1:20", "190:20:30", "-1:20", "1:20.5"],
    *[
        "2001-12-14",
        "2001-1-4",
        "2001-12-14t21:59:43.10-05:00",
        "2001-12-14T21:59:43Z",
        "2001-12-14T21:59:43.1234567891Z",
    ],
    *[
        "2001-12-14T21:59:43,5Z",
        "2001-12-14T2:3:4+00:00",
        "2001-12-14T21:59:43",
        "2001-02-29",
        "2000-02-29",
        "2001-13-01",
    ],
    *["2001-12-32", "2001-12-14T24:00:00Z", "0000-01-01", "20011-12-14", "2001-12-14x"],
    "2001-12-14 21:59:43.10",
    "2001-12-14 21:59:43.10 -5",
    "2001-12-14 21:59:43Z",
    *["=", "<<", "+", "-x", "0.1.2", "1,000", "0x1p3", "1e", "e3", "12e3e4"],
    "!!binary aGVsbG8=",
    "!!str 017",
    "!!str yes",
    "!!int 017",
    '!!int "17"',
    "!!int '0x1F'",
    "!!float 1",
    '!!float "1.5"',
    "!!bool true",
    '!!bool "True"',
    "!!null ~",
    "!!null ''",
    "!!timestamp 2001-12-14",
    '!!timestamp "2001-12-14"',
    "!vault secret",
    "!vault 017",
    "!!foo 017",
    "'yes'",
    '"017"',
]


def _outside_ciphertext(encrypted: bytes) -> bytes:
    body = encrypted.split(b"\nsops:", 1)[0]  # the metadata holds only random material (the age armor)
    return re.sub(rb"ENC\[AES256_GCM,[^\]]*\]", b"", body)


def _same_typed(a: Any, b: Any) -> bool:
    return type(a) is type(b) and goyaml.same(a, b)


def _sops_view(repo: Path, texts: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the engine's reading, sops's) of ``k<i>: <text>`` for each text: the real sops encrypts
    the file whole, and its ``type:`` tags and plaintext give its reading."""
    text = "values:\n" + "".join(f"  k{i}: {v}\n" for i, v in enumerate(texts))
    res = subprocess.run(
        [sops_bin(), "encrypt", "--filename-override", "plain/oracle.yaml"],
        input=text.encode(),
        capture_output=True,
        cwd=repo,
        check=True,
        env=Sops(repo).env,
    )
    docs, _key = reader.decrypt_docs(splice.load_all(res.stdout.decode()), Sops(repo).env)
    return splice.load_all(text)[0]["values"], docs[0]["values"]


@pytest.fixture
def rules(repo: Path) -> Path:
    r = agekeys.read_key_file(repo / "age.key")[0].recipient
    (repo / ".sops.yaml").write_text(
        f"creation_rules:\n  - path_regex: plain/.*\n    age: {r}\n"
        f"  - path_regex: kubernetes/.*\n    encrypted_regex: ^(data|stringData)$\n    age: {r}\n"
    )
    return repo


def test_the_engine_reads_every_scalar_as_sops_does(rules: Path) -> None:
    ours, theirs = _sops_view(rules, ORACLE)
    wrong = [
        (v, ours[f"k{i}"], theirs[f"k{i}"])
        for i, v in enumerate(ORACLE)
        if not _same_typed(ours[f"k{i}"], theirs[f"k{i}"])
    ]
    assert not wrong
    # and they are not what YAML 1.1 reads: the reason this module exists
    at = {v: ours[f"k{i}"] for i, v in enumerate(ORACLE)}
    assert (at["no"], at["017"], at["1:20"], at["2001-12-14"]) == (
        "no",
        15,
        "1:20",
        goyaml.GoTime("2001-12-14T00:00:00Z"),
    )


_PIECES = st.sampled_from(
    [
        *"0123456789",
        *"0123456789",
        *"_.eE+-xobF:TtZ ",
        *("2001-12-14", "21:59:43", "+05:00", ".5", "inf", "nan", "Inf", "yes", "No", "true", "~", "null", "0x", "0o"),
    ]
)
_scalar = st.lists(_PIECES, min_size=1, max_size=6).map("".join)


def _plain_scalar(text: str) -> bool:
    """A text that stands as one plain scalar after `k: ` (and that sops can hold)."""
    if (
        text != text.strip()
        or ": " in text
        or " #" in text
        or (text.startswith(("-", "?", ":")) and len(text) > 1 and text[1] == " ")
    ):
        return False
    try:
        value = splice.load_all(f"k: {text}\n")
    except Exception:  # noqa: BLE001 - not a plain scalar of its own
        return False
    ok = value == [{"k": value[0]["k"]}] and not isinstance(value[0]["k"], dict | list)
    return ok and not (isinstance(value[0]["k"], int) and value[0]["k"] > goyaml.INT64[1])


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(texts=st.lists(_scalar, min_size=1, max_size=25))
def test_generated_scalars_are_read_as_sops_reads_them(rules: Path, texts: list[str]) -> None:
    texts = [t for t in texts if _plain_scalar(t)]
    assume(texts)
    ours, theirs = _sops_view(rules, texts)
    for i, text in enumerate(texts):
        assert _same_typed(ours[f"k{i}"], theirs[f"k{i}"]), (text, ours[f"k{i}"], theirs[f"k{i}"])


# --- the engine: every form, every place, real sops ---------------------------------------------

FORMS = [
    *[
        "yes",
        "no",
        "on",
        "off",
        "y",
        "n",
        "Yes",
        "NO",
        "True",
        "False",
        "TRUE",
        "017",
        "0o17",
        "0x1F",
        "1_000",
        "1:20",
        ".inf",
        "-.Inf",
        ".NaN",
        "~",
        "null",
        "Null",
        "1.50",
        "1e3",
    ],
    "",
    "2001-12-14",
    "2001-12-14t21:59:43.10-05:00",
    "2001-12-14 21:59:43.10",
    "=",
    "<<",
    "!!binary aGVsbG8=",
    "!!binary /w==",
    "!!binary |\n      aGVs\n      bG8=",
    "!!str 017",
    "!!int 017",
    '!!int "17"',
    "!!float 1",
    "!!bool true",
    "!!timestamp 2001-12-14",
    "&anchor !!int 017",
    "!vault x",
]
STRING_KEYS = [
    f
    for f in FORMS
    if f
    and f != "<<"  # a merge key: refused (README)
    and "\n" not in f
    and isinstance(splice.load_all(f"{f}: x\n")[0], dict)
    and all(isinstance(k, str | bytes) for k in splice.load_all(f"{f}: x\n")[0])
]


def _document(place: str, section: str) -> str:
    if place == "value":
        body = "".join(f"  k{i}: {f}\n" for i, f in enumerate(FORMS))
    elif place == "item":
        body = "  items:\n" + "".join(f"    - {f.replace(chr(10) + '      ', chr(10) + '        ')}\n" for f in FORMS)
    else:
        body = "  keys:\n" + "".join(f"    {f}: v{i}\n" for i, f in enumerate(STRING_KEYS))
    out = f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: no\n{section}:\n{body}"
    return out + ("stringData:\n  password: hunter2hunter2\n" if section == "config" else "")


@pytest.mark.parametrize("place", ["value", "item", "key"])
@pytest.mark.parametrize(
    ("mode", "rel", "section"),
    [
        ("encrypted", "kubernetes/f.yaml", "stringData"),
        ("in clear beside an encrypted value", "kubernetes/f.yaml", "config"),
        ("whole file", "plain/f.yaml", "stringData"),
    ],
)
def test_every_form_round_trips_with_real_sops(rules: Path, place: str, mode: str, rel: str, section: str) -> None:
    text = _document(place, section)
    sops = Sops(rules)
    encrypted = sops_files.encrypt(sops, text.encode(), rel)
    if mode != "in clear beside an encrypted value" and place != "key":  # sops never encrypts keys
        clear = _outside_ciphertext(encrypted)
        assert b"hunter2" not in clear and b"aGVsbG8=" not in clear and b"017" not in clear
    assert sops_files.decrypt(sops, encrypted, rel).decode() == text
    res = subprocess.run(
        [sops_bin(), "decrypt", "--filename-override", rel],
        input=encrypted,
        capture_output=True,
        cwd=rules,
        env=sops.env,
    )
    assert res.returncode == 0, res.stderr
    assert goyaml.same(splice.load_all(res.stdout.decode()), splice.load_all(text))
    rotated = sops_files.rotate(sops, encrypted, rel)  # a new data key: still the same text underneath
    assert sops_files.decrypt(sops, rotated, rel).decode() == text


def test_what_sops_cannot_take_is_refused_naming_the_place(rules: Path) -> None:
    sops = Sops(rules)
    for body, expected in [
        ("stringData:\n  ports:\n    8080: web\n", "stringData.ports: a key that sops reads as an integer"),
        ("stringData:\n  flags:\n    true: x\n", "a key that sops reads as a boolean"),
        ("stringData:\n  dates:\n    2001-12-14: x\n", "a key that sops reads as a timestamp"),
        ("stringData:\n  base: &b {x: 1}\n  m:\n    <<: *b\n", "merge keys (<<)"),
        ("stringData:\n  big: 9223372036854775808\n", "stringData.big: an integer above 2**63-1"),
    ]:
        with pytest.raises(DataError) as err:
            sops_files.encrypt(sops, f"apiVersion: v1\nkind: Secret\n{body}".encode(), "kubernetes/r.yaml")
        assert str(err.value).startswith("kubernetes/r.yaml:") and expected in str(err.value), str(err.value)


FLOWS = {
    "one line": "  list: [017, x, 2001-12-14, no]\n",
    "a map and an author's comment": "  map: {a: 1.50, b: !!binary aGVsbG8=}  # kept\n  pw: x\n",
    "over several lines": '  list: [\n    017,\n    "a\\u0041",\n  ]\n  nan: [.NaN]\n',
    "nested": "  deep: {a: [0x1F, {b: 1_000}], c: yes}\n",
    "kept as written": "  list: [no, yes, '017', 15, 1.5, x]\n",
}


@pytest.mark.parametrize("form", sorted(FLOWS))
def test_flow_collections_keep_their_text(rules: Path, form: str) -> None:
    """A flow collection has no room for a comment after each value: the comment after the collection
    stores the collection's text (encrypted), when a value in it is one sops writes in another form."""
    text = "apiVersion: v1\nkind: Secret\nstringData:\n" + FLOWS[form]
    sops = Sops(rules)
    for rel in ("kubernetes/flow.yaml", "plain/flow.yaml"):
        encrypted = sops_files.encrypt(sops, text.encode(), rel)
        assert b"017" not in _outside_ciphertext(encrypted) and b"aGVsbG8" not in _outside_ciphertext(encrypted)
        assert sops_files.decrypt(sops, encrypted, rel).decode() == text
        res = subprocess.run(
            [sops_bin(), "decrypt", "--filename-override", rel],
            input=encrypted,
            capture_output=True,
            cwd=rules,
            env=sops.env,
        )
        assert goyaml.same(splice.load_all(res.stdout.decode()), splice.load_all(text)), res.stderr
        again = sops_files.updatekeys(sops, sops_files.rotate(sops, encrypted, rel), rel)
        assert sops_files.decrypt(sops, again, rel).decode() == text


def test_a_flow_collection_mixing_encrypted_and_clear_values_is_refused(rules: Path) -> None:
    """The stored text would sit in a comment sops leaves in clear (README: forms that cannot be kept)."""
    cfg = rules / ".sops.yaml"
    cfg.write_text(cfg.read_text().replace("^(data|stringData)$", "^password$"))
    with pytest.raises(DataError) as err:
        sops_files.encrypt(Sops(rules), b"conf: {password: 017, user: x}\n", "kubernetes/mixed.yaml")
    assert str(err.value).startswith("kubernetes/mixed.yaml:1: this flow collection mixes encrypted and clear values")


def test_a_plain_sops_file_gives_yaml11_words_back_quoted(rules: Path) -> None:
    """A file plain sops wrote has no layout comments: a string YAML 1.1 reads as a boolean comes back
    quoted (as sops writes it), so kubectl and sops agree on the decrypted file."""
    text = "apiVersion: v1\nkind: Secret\nstringData:\n  a: no\n  b: 'on'\n  c: 017\n  d: 2001-12-14\n  e: .NaN\n"
    enc = subprocess.run(
        [sops_bin(), "encrypt", "--filename-override", "kubernetes/p.yaml"],
        input=text.encode(),
        capture_output=True,
        cwd=rules,
        check=True,
        env={**os.environ, **Sops(rules).env},
    ).stdout
    out = sops_files.decrypt(Sops(rules), enc, "kubernetes/p.yaml").decode()
    assert 'a: "no"\n    b: "on"\n    c: 15\n    d: 2001-12-14T00:00:00Z\n    e: .nan\n' in out
    assert goyaml.same(splice.load_all(out), splice.load_all(text))


def test_the_reader_takes_sops_time_and_special_floats() -> None:
    assert reader.typed(b"2001-12-14T00:00:00Z", "time") == goyaml.GoTime("2001-12-14T00:00:00Z")
    assert reader.typed(b"NaN", "float") is goyaml.NAN and reader.typed(b"-Inf", "float") == -math.inf
    assert (
        reader.to_bytes(math.inf) == b"+Inf"
        and reader.to_bytes(goyaml.GoTime("2001-12-14T21:59:43.1-05:00")) == b"2001-12-14T21:59:43.1-05:00"
    )
    assert reader.typed(b"\xff", "str") == b"\xff"  # a !!binary value that is not UTF-8: a Go string of bytes


def test_set_inside_a_stored_flow_collection(rules: Path) -> None:
    """`set` on a value of a flow collection whose text is stored whole re-encrypts the new text (the
    stored text would otherwise give the old value back; before, set refused)."""
    sops = Sops(rules)
    rel = "kubernetes/set.yaml"
    text = "apiVersion: v1\nkind: Secret\nstringData:\n  list: [017, x]  # ports\n  pw: old-value\n"
    encrypted = sops_files.encrypt(sops, text.encode(), rel)
    changed = sops_files.set_value(sops, encrypted, rel, ("stringData", "list", 1), "no")
    assert sops_files.decrypt(sops, changed, rel).decode() == text.replace("x]", '"no"]')
    changed = sops_files.set_value(sops, changed, rel, ("stringData", "pw"), "new-value")
    assert sops_files.decrypt(sops, changed, rel).decode() == text.replace("x]", '"no"]').replace("old", "new")


def test_the_reader_leaves_to_sops_what_it_cannot_read() -> None:
    assert reader.typed(b"\x00\xff", "bytes") == b"\x00\xff"
    for raw, kind in [(b"\xff", "int"), (b"abc", "int"), (b"x", "float"), (b"2001-12-14", "time"), (b"1", "uint64")]:
        with pytest.raises(reader.Unsupported):
            reader.typed(raw, kind)


def test_a_decrypted_copy_is_known_by_its_name_or_its_encrypted_sibling(tmp_path: Path) -> None:
    from aigw_secrets.sops.filecheck import _encrypted_original

    (tmp_path / "app.yaml").write_text(
        "a: ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]\nsops:\n  mac: ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]\n"
    )
    for name, original in [
        ("app.dec.yaml", "app.yaml"),
        ("app.yaml.plain", "app.yaml"),
        ("secrets.decrypted.sops.yaml", "secrets.decrypted.sops.yaml"),  # no sibling left: the copy itself
        ("plain.yaml", None),
        ("values.yaml", None),
    ]:
        (tmp_path / name).write_text("a: b\n")
        found = _encrypted_original(tmp_path / name)
        assert (found.name if found else None) == original, name
