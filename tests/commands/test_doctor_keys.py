"""`doctor`, `keys`, and PGP recipients with the real gpg in an isolated GNUPGHOME."""

from __future__ import annotations

import re
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from aigw_secrets.cli import main
from aigw_secrets.errors import ExitCode
from aigw_secrets.sops import agekeys as keys
from aigw_secrets.sops import files as sopsfile
from aigw_secrets.sops.binary import Sops
from testing.corpus import corpus

FILE = Path("kubernetes/apps/x/secret.sops.yaml")
TEXT = corpus()["literal-block"]


def encrypted(repo: Path) -> Path:
    path = repo / FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(TEXT)
    assert main(["encrypt", str(path)]) == 0
    return path


def test_doctor_clean(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    encrypted(repo)
    assert main(["doctor"]) == 0
    assert "no problems found" in capsys.readouterr().err


def test_doctor_finds_what_sops_accepts(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    encrypted(repo)
    recipient = keys.read_key_file(repo / "age.key")[0].recipient
    (repo / ".sops.yaml").write_text(
        "creation_rules:\n"
        "  - path_regex: kubernetes/.*\\.sops\\.yaml\n"
        "    encrypted_regexp: ^(data|stringData)$\n"
        f"    age: {recipient},age1notarecipient\n"
        "  - path_regex: nowhere/.*\n"
        "    encrypted_regex: ^data$\n"
        f"    age: {recipient}\n"
        "stores: {yaml: {indent: 2}}\n"
        "input_type: yaml\n"
    )
    (repo / "kubernetes/apps/x/plain.sops.yaml").write_text("apiVersion: v1\nkind: Secret\nstringData:\n  a: b\n")
    (repo / "age.key").chmod(0o644)
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    for expected in (
        "unknown key encrypted_regexp (did you mean encrypted_regex?)",
        "no encrypted_regex",
        "is not an age recipient",
        "matches none of the",
        "unknown top-level key input_type",
        "plain.sops.yaml: matches creation rule 1 but is not encrypted",
        "readable by group/others",
    ):
        assert expected in out, expected
    assert out.count("fix:") >= 7


def test_doctor_key_file_checks(repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / ".gitignore").write_text("")
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(repo / "missing.agekey"))
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "SOPS_AGE_KEY_FILE: points to" in out
    assert "age.key: private key is inside the repository and not git-ignored" in out


def test_keys_generate_age(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "new.agekey"
    assert main(["keys", "generate-age", "-o", str(path)]) == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert capsys.readouterr().out.strip() == keys.read_key_file(path)[0].recipient
    assert main(["keys", "generate-age", "-o", str(path)]) == ExitCode.CANT_WRITE  # never overwrites


def test_add_recipient_keeps_layout_and_is_idempotent(repo: Path) -> None:
    before = (repo / ".sops.yaml").read_text()
    new = keys.generate_in_process().recipient
    assert main(["keys", "add-recipient", "--age", new]) == 0
    after = (repo / ".sops.yaml").read_text()
    assert after == re.sub(r"(age: age1\w+)", rf"\1,{new}", before)
    assert main(["keys", "add-recipient", "--age", new]) == 0
    assert (repo / ".sops.yaml").read_text() == after
    assert main(["keys", "add-recipient", "--age", "age1short"]) == ExitCode.CONFIG


@pytest.fixture
def gnupghome(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    if shutil.which("gpg") is None:
        pytest.skip("gpg not installed")
    # gpg-agent's socket path must be short: not under pytest's long tmp path
    home = Path(tempfile.mkdtemp(prefix="aigw-gpg-", dir="/tmp"))
    home.chmod(0o700)
    monkeypatch.setenv("GNUPGHOME", str(home))
    yield home
    subprocess.run(["gpgconf", "--kill", "all"], env={"GNUPGHOME": str(home), "PATH": "/usr/bin:/bin"}, capture_output=True)
    shutil.rmtree(home, ignore_errors=True)


def test_pgp_recipient_end_to_end(repo: Path, gnupghome: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    path = encrypted(repo)
    capsys.readouterr()
    assert main(["keys", "generate-pgp", "--name", "aigw test", "--email", "test@example.invalid", "--expire", "0"]) == 0
    fpr = capsys.readouterr().out.strip()
    assert re.fullmatch(r"[0-9A-F]{40}", fpr)
    assert main(["keys", "add-recipient", "--pgp", fpr]) == 0
    assert f"pgp: {fpr}" in (repo / ".sops.yaml").read_text()
    assert main(["updatekeys", str(path)]) == 0
    assert "fp: " + fpr in path.read_text()
    # Only the PGP key now: sops decrypts through gpg, and the formatting is still the author's.
    monkeypatch.delenv("SOPS_AGE_KEY_FILE")
    (repo / "age.key").rename(repo.parent / "age.key.moved")
    assert sopsfile.decrypt(Sops(repo), path.read_bytes(), str(FILE)).decode() == TEXT
    assert main(["keys", "list", "--json"]) == 0
    listed = capsys.readouterr().out
    assert fpr in listed and '"private_key": "gpg keyring"' in listed


def test_import_pgp(gnupghome: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = Path(tempfile.mkdtemp(prefix="aigw-gpg2-", dir="/tmp"))
    try:
        gen = ["gpg", "--homedir", str(other), "--batch", "--passphrase", "", "--quick-gen-key", "other <o@example.invalid>", "ed25519", "default", "0"]
        subprocess.run(gen, check=True, capture_output=True)
        exported = subprocess.run(["gpg", "--homedir", str(other), "--armor", "--export"], check=True, capture_output=True).stdout
        (tmp_path / "pub.asc").write_bytes(exported)
        assert main(["keys", "import-pgp", str(tmp_path / "pub.asc")]) == 0
        assert re.fullmatch(r"[0-9A-F]{40}\n", capsys.readouterr().out)
    finally:
        subprocess.run(["gpgconf", "--kill", "all"], env={"GNUPGHOME": str(other), "PATH": "/usr/bin:/bin"}, capture_output=True)
        shutil.rmtree(other, ignore_errors=True)


def test_doctor_old_sops(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """An old sops cannot be provoked with the real binary: a stand-in that reports 3.7.3."""
    fake = tmp_path / "sops"
    fake.write_text("#!/bin/sh\necho 'sops 3.7.3 (latest)'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("SOPS_BINARY", str(fake))
    assert main(["doctor"]) == 1
    assert "sops 3.7.3 is older than 3.9.0" in capsys.readouterr().out
