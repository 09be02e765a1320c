"""Formatting-preserving encrypt / decrypt / set / updatekeys / edit, with the real sops."""

from __future__ import annotations

import difflib
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from aigw_secrets.cli import main
from aigw_secrets.errors import ExitCode
from aigw_secrets.sops import files as sops_files
from aigw_secrets.sops.binary import Sops
from testing.corpus import corpus
from testing.helpers import git, run_cli_binary, sops_bin

CORPUS = corpus()
FILE = Path("kubernetes/apps/x/secret.sops.yaml")
BLOCK_HEADER = re.compile(r"^\s*(- )?[^#]*: [|>]-$")


def write(repo: Path, text: str | bytes) -> Path:
    path = repo / FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def markers(text: str) -> list[str]:
    return re.findall(r"v[A-Za-z0-9]{18}", text)


def unexpected_changes(before: str, after: str) -> list[str]:
    """Lines the encryption changed that are neither an ENC value nor part of a sops block."""
    a, b = before.replace("\r\n", "\n").splitlines(), after.replace("\r\n", "\n").splitlines()
    in_sops = set()
    inside = False
    for i, line in enumerate(b):
        if line == "sops:":
            inside = True
        elif inside and (not line.startswith(" ") or line == "---"):
            inside = False
        if inside:
            in_sops.add(i)
    bad = []
    for op, _i1, _i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "equal":
            continue
        # a block scalar's stand-in starts with a `|-` / `>-` header line
        bad += [
            b[j]
            for j in range(j1, j2)
            if j not in in_sops and "NC[AES256_GCM" not in b[j] and not BLOCK_HEADER.match(b[j])
        ]
    return bad


def run_cli(repo: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "aigw_secrets", *args], capture_output=True, cwd=repo, env=env or dict(os.environ)
    )


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_corpus_round_trip(repo: Path, name: str) -> None:
    original = CORPUS[name]
    path = write(repo, original)
    assert main(["encrypt", str(path)]) == 0
    result = path.read_bytes().decode()

    # 1. Only values (replaced in place by ENC strings) and the sops blocks changed.
    assert unexpected_changes(original, result) == []
    # 2. No plaintext value is left readable.
    assert [m for m in markers(original) if m in result] == []
    # 3. Plain `sops decrypt` accepts it (MAC intact) and gives the original values.
    res = subprocess.run([sops_bin(), "decrypt", str(FILE)], capture_output=True, text=True, cwd=repo)
    assert res.returncode == 0, res.stderr[-300:]
    assert list(yaml.safe_load_all(res.stdout)) == list(yaml.safe_load_all(original))
    # 4. Our decrypt gives back the original bytes.
    out = run_cli_binary(repo, ["decrypt", str(FILE)])  # in process: the bytes it writes to stdout
    assert out.returncode == 0, out.stderr.decode()[-300:]
    assert out.stdout == original.encode()


def test_corpus_has_twenty_styles() -> None:
    assert len(CORPUS) >= 20


_SOPS_CHANGES = {"mac", "lastmodified", "enc", "-----BEGIN AGE ENCRYPTED FILE-----", "-----END AGE ENCRYPTED FILE-----"}


def test_set_changes_three_lines(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    original = CORPUS["literal-chomping"]
    path = write(repo, original)
    assert main(["encrypt", str(path)]) == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "x")
    monkeypatch.setattr("sys.stdin", io.StringIO("brand new value\n"))
    assert main(["set", "--stdin", str(path), "stringData.last"]) == 0
    # the layout stays line for line; the value changes under a new data key (the file's own may be one a
    # commit's author knows), so every ENC value and the sops block's key stanzas change with it
    assert len(path.read_text().splitlines()) == len(git(repo, "show", f"HEAD:{FILE}").splitlines())
    diff = git(repo, "diff", "-U0", "--", str(FILE))
    added = [line[1:] for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    assert any(line.strip().startswith("last:") for line in added)
    assert all(
        "ENC[" in line or line.strip().split(":")[0] in _SOPS_CHANGES or line.startswith(" " * 4) for line in added
    )
    old = re.search(r"last: (x\w+)", original)
    assert old is not None
    plain = sops_files.decrypt(Sops(repo), path.read_bytes(), str(FILE)).decode()
    assert plain == original.replace(old.group(1), "brand new value")


def test_set_other_sources_and_refusals(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(repo, CORPUS["folded-block"])
    assert main(["encrypt", str(path)]) == 0
    monkeypatch.setenv("NEW_NOTE", "line one\nline two\n")
    assert main(["set", "--from-env", "NEW_NOTE", str(path), "stringData.note"]) == 0
    assert (
        yaml.safe_load(sops_files.decrypt(Sops(repo), path.read_bytes(), str(FILE)))["stringData"]["note"]
        == "line one\nline two\n"
    )
    value_file = repo.parent / "value.txt"
    value_file.write_text("from-a-file\n")
    assert main(["set", "--from-file", str(value_file), str(path), '["stringData"]["one"]']) == 0
    assert (
        yaml.safe_load(sops_files.decrypt(Sops(repo), path.read_bytes(), str(FILE)))["stringData"]["one"]
        == "from-a-file"
    )
    before = path.read_bytes()
    assert main(["set", "--from-env", "NEW_NOTE", str(path), "metadata.name"]) == ExitCode.DATA
    assert main(["set", "--from-env", "NEW_NOTE", str(path), "stringData.missing"]) == ExitCode.DATA
    assert path.read_bytes() == before
    assert "line one" not in capsys.readouterr().err


def test_updatekeys_adds_a_recipient_keeping_formatting(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from aigw_secrets.sops import agekeys

    path = write(repo, CORPUS["blank-lines"])
    assert main(["encrypt", str(path)]) == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "x")
    new = agekeys.generate()
    sops_yaml = repo / ".sops.yaml"
    sops_yaml.write_text(re.sub(r"age: (age1\w+)", rf"age: \1,{new.recipient}", sops_yaml.read_text()))
    assert main(["updatekeys"]) == 0
    diff = git(repo, "diff", "-U0", "--", str(FILE))
    added = [line for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    assert added and not [line for line in added if "ENC[AES256_GCM" in line]  # values untouched
    # the new key alone decrypts it, to the author's text
    monkeypatch.setenv("SOPS_AGE_KEY", new.identity)
    monkeypatch.delenv("SOPS_AGE_KEY_FILE")
    (repo / "age.key").rename(repo / "old.key")
    assert sops_files.decrypt(Sops(repo), path.read_bytes(), str(FILE)).decode() == CORPUS["blank-lines"]


def test_rotate_data_key_keeps_formatting(repo: Path) -> None:
    path = write(repo, CORPUS["flow-collections"])
    assert main(["encrypt", str(path)]) == 0
    before = path.read_bytes()
    rotated = sops_files.rotate(Sops(repo), before, str(FILE))
    assert rotated != before
    assert sops_files.decrypt(Sops(repo), rotated, str(FILE)).decode() == CORPUS["flow-collections"]


def test_encrypt_every_governed_file(repo: Path) -> None:
    paths = []
    for i, name in enumerate(sorted(CORPUS)[:8]):
        p = repo / f"kubernetes/many/{i}.sops.yaml"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(CORPUS[name])
        paths.append(p)
    (repo / "kubernetes/many/plain.yaml").write_text("a: 1\n")  # no rule matches: left alone
    assert main(["encrypt"]) == 0
    assert all(re.search(rb"\nsops:\r?\n", p.read_bytes()) for p in paths)
    assert (repo / "kubernetes/many/plain.yaml").read_text() == "a: 1\n"


# --- bad input: a one-line reason naming the file, nothing written -----------------------------

BAD: dict[str, str | bytes | None] = {
    "already-encrypted": None,  # made by the test
    "no-secret-section": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
    "yaml-directive": "%YAML 1.2\n---\napiVersion: v1\nkind: Secret\nstringData:\n  a: b\n",
    "not-utf8": b"apiVersion: v1\nstringData:\n  a: \xff\xfe\n",
    "binary": b"\x00\x01\x02sops\x00",
    "invalid-yaml": "apiVersion: v1\nstringData: [unclosed\n",
    "empty-document": "---\n---\napiVersion: v1\nstringData:\n  a: b\n",
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_writes_nothing(repo: Path, case: str, capsys: pytest.CaptureFixture[str]) -> None:
    content = BAD[case]
    if content is None:
        path = write(repo, CORPUS["basic-2-space"])
        assert main(["encrypt", str(path)]) == 0
        capsys.readouterr()
        content = path.read_bytes()
    path = write(repo, content)
    before = path.read_bytes()
    assert main(["encrypt", str(path)]) == ExitCode.DATA
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(FILE) in err, err
    assert path.read_bytes() == before
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".aigw-")]


# Shapes of real Secret manifests (our own text): comments inside stringData/data, commented-out
# values, a comment after the section's last value, inline comments, a block header comment.
COMMENTED = {
    "postgres-init": (
        "---\n"
        "apiVersion: v1\n"
        "kind: Secret\n"
        "metadata:\n"
        "  name: app-secret\n"
        "  namespace: default\n"
        "stringData:\n"
        "  # Postgres Init\n"
        "  INIT_POSTGRES_DBNAME: app\n"
        "  INIT_POSTGRES_HOST: postgres-rw.database.svc.cluster.local\n"
        "  INIT_POSTGRES_PASS: fake-Pw-1234\n"
        "  # INIT_POSTGRES_SUPER_PASS: old-fake-pw\n"
        "  #   more commented-out text\n"
        "\n"
        "  # Redis\n"
        '  REDIS_PASSWORD: "fake redis"  # rotated by hand\n'
        "  # OLD_TOKEN: fake-token\n"
    ),
    "data-and-layout": (
        "apiVersion: v1\n"
        "kind: Secret\n"
        "metadata:\n"
        "  name: x  # plain comment stays plain\n"
        "data:\n"
        "  # base64 below\n"
        "  a: ZmFrZQ==\n"
        '  b: "needs layout\\u0041"   # inline after a value whose layout is stored\n'
        "  c: |  # header comment\n"
        "    line one\n"
        "    line two\n"
        "# footer\n"
    ),
}


@pytest.mark.parametrize("case", sorted(COMMENTED))
def test_comments_in_encrypted_sections_are_encrypted_and_round_trip(repo: Path, case: str) -> None:
    text = COMMENTED[case]
    path = write(repo, text)
    assert main(["encrypt", str(path)]) == 0
    enc = path.read_text()
    section = text[re.search(r"(?m)^(stringData|data):", text).start() :]  # type: ignore[union-attr] # both cases have one
    for line in section.splitlines():  # no comment of an encrypted section is left in clear
        if line.startswith("  ") and "#" in line:
            assert line.split("#", 1)[1] not in enc, line
    assert "# plain comment stays plain" in enc or case != "data-and-layout"
    assert "#ENC[AES256_GCM," in enc and "type:comment]" in enc
    assert sops_files.decrypt(Sops(repo), path.read_bytes(), str(FILE)).decode() == text
    # the real sops reads the file, values and comments
    dec = Sops(repo).decrypt(path.read_bytes(), str(FILE)).decode()
    assert yaml.safe_load(dec) == yaml.safe_load(text)
    assert "Postgres Init" in dec or case != "postgres-init"


def test_duplicate_anchor_is_accepted(repo: Path) -> None:
    text = (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\n  labels: {a: &v one, b: &v two, c: *v}\n"
        "stringData:\n  pw: fake-pw\n"
    )
    path = write(repo, text)
    assert main(["encrypt", str(path)]) == 0
    assert sops_files.decrypt(Sops(repo), path.read_bytes(), str(FILE)).decode() == text


def test_invalid_yaml_names_the_line(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(repo, "apiVersion: v1\nkind: Secret\nstringData:\n  a: [1, 2\n")
    assert main(["encrypt", str(path)]) == ExitCode.DATA
    err = capsys.readouterr().err
    assert f"{FILE}:4: invalid YAML" in err and "flow sequence" in err


def test_tampered_and_missing_key(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(repo, CORPUS["basic-2-space"])
    assert main(["encrypt", str(path)]) == 0
    good = path.read_text()
    tampered = re.sub(
        r"(apiKey: ENC\[AES256_GCM,data:)(.)", lambda m: m.group(1) + ("A" if m.group(2) != "A" else "B"), good
    )
    path.write_text(tampered)
    assert main(["decrypt", str(path)]) == ExitCode.DATA
    path.write_text(good.replace("name: a", "name: b"))  # metadata edited behind sops's back
    assert main(["decrypt", str(path)]) == ExitCode.DATA
    assert "MAC mismatch" in capsys.readouterr().err
    path.write_text(good)
    monkeypatch.delenv("SOPS_AGE_KEY_FILE")
    (repo / "age.key").rename(repo / "elsewhere.key")
    assert main(["decrypt", str(path)]) == ExitCode.NO_KEY


def test_no_verify_without_key(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(repo, CORPUS["basic-2-space"])
    monkeypatch.delenv("SOPS_AGE_KEY_FILE")
    (repo / "age.key").rename(repo / "elsewhere.key")
    assert main(["encrypt", str(path)]) == ExitCode.NO_KEY
    assert path.read_text() == CORPUS["basic-2-space"]
    assert main(["encrypt", "--no-verify", str(path)]) == 0
    assert "\nsops:\n" in path.read_text()


# --- edit ---------------------------------------------------------------------------------------


def _editor(tmp_path: Path, body: str) -> str:
    script = tmp_path / "editor.sh"
    script.write_text('#!/bin/sh\necho "$1" >> ' + str(tmp_path / "seen") + "\n" + body)
    script.chmod(0o755)
    return str(script)


def test_edit_changes_one_value(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(repo, CORPUS["literal-block"])
    assert main(["encrypt", str(path)]) == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "x")
    monkeypatch.setenv("EDITOR", _editor(tmp_path, "sed -i 's/^  after: .*/  after: edited-value/' \"$1\"\n"))
    monkeypatch.delenv("VISUAL", raising=False)
    assert main(["edit", str(path)]) == 0
    scratch = Path((tmp_path / "seen").read_text().strip())
    assert not scratch.exists() and not scratch.parent.exists()
    if Path("/dev/shm").is_dir():
        assert str(scratch).startswith("/dev/shm/")
    diff = git(repo, "diff", "-U0", "--", str(FILE))
    added = [line[1:] for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    assert any(line.strip().startswith("after:") for line in added)  # under a new data key (see set)
    assert all(
        "ENC[" in line or line.strip().split(":")[0] in _SOPS_CHANGES or line.startswith(" " * 4) for line in added
    )
    expected = re.sub(r"after: \w+", "after: edited-value", CORPUS["literal-block"])
    assert sops_files.decrypt(Sops(repo), path.read_bytes(), str(FILE)).decode() == expected


def test_edit_without_change_and_cleanup_on_failure_and_interrupt(repo: Path, tmp_path: Path) -> None:
    path = write(repo, CORPUS["basic-2-space"])
    assert main(["encrypt", str(path)]) == 0
    before = path.read_bytes()
    env = {**os.environ, "EDITOR": _editor(tmp_path, "true\n")}
    assert run_cli(repo, "edit", str(path), env=env).returncode == 0 and path.read_bytes() == before
    env["EDITOR"] = _editor(tmp_path, "exit 3\n")
    res = run_cli(repo, "edit", str(path), env=env)
    assert res.returncode != 0 and path.read_bytes() == before
    env["EDITOR"] = _editor(tmp_path, "kill -INT $PPID\nsleep 1\n")
    res = run_cli(repo, "edit", str(path), env=env)
    assert res.returncode == ExitCode.INTERRUPTED and path.read_bytes() == before
    seen = (tmp_path / "seen").read_text().split()
    assert len(seen) == 3
    assert not [p for p in seen if Path(p).parent.exists()]
