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
from aigw_secrets.sops import agekeys
from aigw_secrets.sops import files as sops_files
from aigw_secrets.sops.binary import Sops
from testing.corpus import corpus
from testing.helpers import sops_bin

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
    recipient = agekeys.read_key_file(repo / "age.key")[0].recipient
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
    (repo / "kubernetes/apps/x/plain.sops.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nstringData:\n  a: hunter2hunter2\n"
    )
    (repo / "age.key").chmod(0o644)
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    for expected in (
        "unknown key encrypted_regexp (did you mean encrypted_regex?)",
        "no encrypted_regex",
        "is not an age recipient",
        "matches none of the",
        "unknown top-level key input_type",
        "plain.sops.yaml: matches creation rule 1 of .sops.yaml but is not encrypted",
        "readable by group/others",
    ):
        assert expected in out, expected
    assert out.count("fix:") >= 7


def _doctor(capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["doctor"])
    return code, capsys.readouterr().out


def _recipient() -> str:
    return agekeys.generate_in_process().recipient


# The shape of cluster-template's .sops.yaml (our own text): a whole-file rule for Talos, a
# data/stringData rule for manifests, mac_only_encrypted, stores.yaml.indent.
CLUSTER_TEMPLATE_SHAPE = """\
---
creation_rules:
  - path_regex: talos/.*\\.sops\\.ya?ml
    mac_only_encrypted: true
    age: "{r}"
  - path_regex: (bootstrap|kubernetes)/.*\\.sops\\.ya?ml
    encrypted_regex: "^(data|stringData)$"
    mac_only_encrypted: true
    age: "{r}"
stores:
  yaml:
    indent: 2
"""


def test_doctor_accepts_the_cluster_template_shape(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    recipient = agekeys.read_key_file(repo / "age.key")[0].recipient
    (repo / ".sops.yaml").write_text(CLUSTER_TEMPLATE_SHAPE.format(r=recipient))
    assert _doctor(capsys)[0] == 0
    # with its files encrypted as cluster-template's tasks do (plain `sops encrypt -i`)
    (repo / "talos").mkdir()
    (repo / "talos/talsecret.sops.yaml").write_text(
        "cluster:\n  id: fake-id\n  secret: fake-secret\nsecrets:\n  bootstraptoken: fake.token\n"
    )
    (repo / "bootstrap").mkdir()
    (repo / "bootstrap/sops-age.sops.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: sops-age\nstringData:\n  age.agekey: fake\n"
    )
    code, out = _doctor(capsys)
    assert code == 1 and out.count("but is not encrypted") == 2
    for f in ("talos/talsecret.sops.yaml", "bootstrap/sops-age.sops.yaml"):
        subprocess.run([sops_bin(), "encrypt", "-i", f], cwd=repo, check=True, capture_output=True)
    code, out = _doctor(capsys)
    assert code == 0, out
    assert "encrypted_regex" not in out  # never asked for on the Talos rule


def test_doctor_nearest_config_formats_and_anchors(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    r = _recipient()
    (repo / ".sops.yaml").write_text(
        f"keys:\n  - &me {r}\ncreation_rules:\n  - path_regex: .*\\.sops\\.(ya?ml|json|env)$\n"
        "    key_groups:\n      - age:\n          - *me\n"
    )
    (repo / "app.sops.json").write_text('{"password": "plain-fake-pw"}\n')
    (repo / "app.sops.env").write_text("PASSWORD=plain-fake-pw\n")
    sub = repo / "ansible"
    sub.mkdir()
    (sub / ".sops.yaml").write_text(f"creation_rules:\n  - path_regex: vars/.*\\.yaml$\n    age: {r}\n")
    (sub / "vars").mkdir()
    (sub / "vars/main.yaml").write_text("db_password: Xk9vQ7mR2pL4\n")
    code, out = _doctor(capsys)
    assert code == 1
    assert "unknown top-level key keys" not in out  # an anchor holder, used by the rules
    assert "app.sops.json: matches creation rule 1 of .sops.yaml but is not encrypted" in out
    assert "app.sops.env: matches creation rule 1 of .sops.yaml but is not encrypted" in out
    assert "ansible/vars/main.yaml: matches creation rule 1 of ansible/.sops.yaml but is not encrypted" in out
    assert "encrypted_regex" not in out  # whole-file encryption of Ansible vars is right
    assert ".sops.yaml: matches" not in out.replace("of .sops.yaml", "").replace(
        "of ansible/.sops.yaml", ""
    )  # the config is not a managed file
    # the nested config is the one sops uses from there, and the one aigw-secrets uses too
    from aigw_secrets.sops.binary import Sops

    assert Sops(repo).config_for("ansible/vars/main.yaml") == sub / ".sops.yaml"


def test_doctor_dead_typo_next_to_a_selector_is_deleted_not_renamed(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    r = _recipient()
    text = (
        "creation_rules:\n  - path_regex: .*\\.sops\\.yaml$\n    encrypted_regex: ^(data|stringData)$\n"
        f"    unencrypted-regex: ^(metadata)$\n    age: {r}\n"
    )
    (repo / ".sops.yaml").write_text(text)
    code, out = _doctor(capsys)
    assert code == 1
    assert "unknown key unencrypted-regex" in out and "fix: delete it" in out and "(checked with sops)" in out
    assert "rename" not in out


def test_doctor_advice_is_checked_with_sops(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A manifest rule without a selector: the advice is verified by sops; two selectors: keep one;
    RE2 that Python's re refuses is valid; an invalid path_regex is named with its rule."""
    r = agekeys.read_key_file(repo / "age.key")[0].recipient
    (repo / ".sops.yaml").write_text(
        "creation_rules:\n"
        f"  - path_regex: kubernetes/.*\\.sops\\.yaml$\n    age: {r}\n"
        "  - path_regex: other/.*\\.sops\\.yaml$\n    encrypted_regex: ^(?i)(data|stringdata)$\n"
        f"    unencrypted_suffix: _plain\n    age: {r}\n"
        f"  - path_regex: bad/(unclosed\n    age: {r}\n"
    )
    encrypted(repo)
    code, out = _doctor(capsys)
    assert code == 1
    assert (
        "creation rule 1: no encrypted_regex" in out
        and "fix: add  encrypted_regex: ^(data|stringData)$ (checked with sops)" in out
    )
    assert (
        "creation rule 2: more than one selector" in out
        and "keep only encrypted_regex: delete unencrypted_suffix (checked with sops)" in out
    )
    assert "not a valid Go (RE2)" in out and "creation rule 3: path_regex" in out
    assert "sops refuses this config" in out


def test_doctor_age_pq_recipient_is_valid(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / ".sops.yaml").write_text(
        "creation_rules:\n  - path_regex: talos/.*\\.sops\\.yaml$\n    age: age1pq1" + "q" * 1900 + "\n"
    )
    code, out = _doctor(capsys)
    assert code == 0 and "not an age recipient" not in out


def test_deep_config_is_one_line(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / ".sops.yaml").write_text("creation_rules: " + "[" * 10000 + "]" * 10000 + "\n")
    assert main(["encrypt", "x.sops.yaml"]) in (ExitCode.CONFIG, ExitCode.NO_INPUT)
    assert main(["updatekeys"]) == ExitCode.CONFIG
    err = capsys.readouterr().err
    assert "nested more than" in err and "Traceback" not in err
    code, out = _doctor(capsys)
    assert code == 1 and "nested more than" in out


def test_invalid_path_regex_is_one_line_naming_the_rule(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = encrypted(repo)
    text = (repo / ".sops.yaml").read_text()
    (repo / ".sops.yaml").write_text(
        text.replace("creation_rules:\n", "creation_rules:\n  - path_regex: (unclosed\n    age: age1x\n", 1)
    )
    capsys.readouterr()
    assert main(["updatekeys", str(path)]) == ExitCode.CONFIG
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "creation rule 1: path_regex is not a valid Go regular expression" in err


def test_doctor_key_file_checks(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
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
    assert capsys.readouterr().out.strip() == agekeys.read_key_file(path)[0].recipient
    assert main(["keys", "generate-age", "-o", str(path)]) == ExitCode.CANT_WRITE  # never overwrites


def test_add_recipient_keeps_layout_and_is_idempotent(repo: Path) -> None:
    before = (repo / ".sops.yaml").read_text()
    new = agekeys.generate_in_process().recipient
    assert main(["keys", "add-recipient", "--age", new]) == 0
    after = (repo / ".sops.yaml").read_text()
    assert after == re.sub(r"(age: age1\w+)", rf"\1,{new}", before)
    assert main(["keys", "add-recipient", "--age", new]) == 0
    assert (repo / ".sops.yaml").read_text() == after
    assert main(["keys", "add-recipient", "--age", "age1short"]) == ExitCode.CONFIG
    pq = "age1pq1" + "q" * 1900  # hybrid post-quantum recipients stay valid
    assert main(["keys", "add-recipient", "--age", pq]) == 0
    assert pq in (repo / ".sops.yaml").read_text()


@pytest.fixture
def gnupghome(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    if shutil.which("gpg") is None:
        pytest.skip("gpg not installed")
    # gpg-agent's socket path must be short: not under pytest's long tmp path
    home = Path(tempfile.mkdtemp(prefix="aigw-gpg-", dir="/tmp"))
    home.chmod(0o700)
    monkeypatch.setenv("GNUPGHOME", str(home))
    yield home
    subprocess.run(
        ["gpgconf", "--kill", "all"], env={"GNUPGHOME": str(home), "PATH": "/usr/bin:/bin"}, capture_output=True
    )
    shutil.rmtree(home, ignore_errors=True)


def test_pgp_recipient_end_to_end(
    repo: Path, gnupghome: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = encrypted(repo)
    capsys.readouterr()
    assert (
        main(["keys", "generate-pgp", "--name", "aigw test", "--email", "test@example.invalid", "--expire", "0"]) == 0
    )
    fpr = capsys.readouterr().out.strip()
    assert re.fullmatch(r"[0-9A-F]{40}", fpr)
    assert main(["keys", "add-recipient", "--pgp", fpr]) == 0
    assert f"pgp: {fpr}" in (repo / ".sops.yaml").read_text()
    assert main(["updatekeys", str(path)]) == 0
    assert "fp: " + fpr in path.read_text()
    # Only the PGP key now: sops decrypts through gpg, and the formatting is still the author's.
    monkeypatch.delenv("SOPS_AGE_KEY_FILE")
    (repo / "age.key").rename(repo.parent / "age.key.moved")
    assert sops_files.decrypt(Sops(repo), path.read_bytes(), str(FILE)).decode() == TEXT
    assert main(["keys", "list", "--json"]) == 0
    listed = capsys.readouterr().out
    assert fpr in listed and '"private_key": "gpg keyring"' in listed


def test_import_pgp(gnupghome: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = Path(tempfile.mkdtemp(prefix="aigw-gpg2-", dir="/tmp"))
    try:
        gen = [
            "gpg",
            "--homedir",
            str(other),
            "--batch",
            "--passphrase",
            "",
            "--quick-gen-key",
            "other <o@example.invalid>",
            "ed25519",
            "default",
            "0",
        ]
        subprocess.run(gen, check=True, capture_output=True)
        exported = subprocess.run(
            ["gpg", "--homedir", str(other), "--armor", "--export"], check=True, capture_output=True
        ).stdout
        (tmp_path / "pub.asc").write_bytes(exported)
        assert main(["keys", "import-pgp", str(tmp_path / "pub.asc")]) == 0
        assert re.fullmatch(r"[0-9A-F]{40}\n", capsys.readouterr().out)
    finally:
        subprocess.run(
            ["gpgconf", "--kill", "all"], env={"GNUPGHOME": str(other), "PATH": "/usr/bin:/bin"}, capture_output=True
        )
        shutil.rmtree(other, ignore_errors=True)


def test_doctor_old_sops(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An old sops cannot be provoked with the real binary: a stand-in that reports 3.7.3."""
    fake = tmp_path / "sops"
    fake.write_text("#!/bin/sh\necho 'sops 3.7.3 (latest)'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("SOPS_BINARY", str(fake))
    assert main(["doctor"]) == 1
    assert "sops 3.7.3 is older than 3.9.0" in capsys.readouterr().out
