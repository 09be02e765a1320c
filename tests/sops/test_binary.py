"""How we react to sops failures: a one-line reason, the right exit code, never sops's output."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from aigw_secrets.errors import ConfigError, DataError, NoKeyError, SopsError
from aigw_secrets.sops import binary as sops_binary
from testing import fakes

SECRET = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  apiKey: {value}\n"


def test_encrypt_decrypt_in_memory(repo: Path) -> None:
    value = fakes.openai_project_key()
    s = sops_binary.Sops(repo)
    ct = s.encrypt(SECRET.format(value=value).encode(), "kubernetes/x.sops.yaml")
    assert value.encode() not in ct and b"ENC[AES256_GCM" in ct
    assert value.encode() in s.decrypt(ct, "kubernetes/x.sops.yaml")


def test_tampered_ciphertext_is_a_data_error(repo: Path) -> None:
    s = sops_binary.Sops(repo)
    ct = s.encrypt(SECRET.format(value=fakes.groq_key()).encode(), "kubernetes/x.sops.yaml").decode()
    start = ct.index("ENC[AES256_GCM,data:") + len("ENC[AES256_GCM,data:") + 2
    tampered = ct[:start] + ("A" if ct[start] != "A" else "B") + ct[start + 1 :]
    with pytest.raises(DataError, match="tampered"):
        s.decrypt(tampered.encode(), "kubernetes/x.sops.yaml")


def test_hand_edited_plaintext_value_is_not_echoed(repo: Path) -> None:
    """sops's stderr quotes the plaintext value here; our message must not."""
    s = sops_binary.Sops(repo)
    ct = s.encrypt(SECRET.format(value=fakes.groq_key()).encode(), "kubernetes/x.sops.yaml").decode()
    planted = fakes.groq_key()
    edited = ct.replace("stringData:\n", f"stringData:\n  extra: {planted}\n", 1)
    with pytest.raises(DataError) as exc:
        s.decrypt(edited.encode(), "kubernetes/x.sops.yaml")
    assert planted not in str(exc.value)


def test_no_key(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s = sops_binary.Sops(repo)
    ct = s.encrypt(SECRET.format(value=fakes.groq_key()).encode(), "kubernetes/x.sops.yaml")
    monkeypatch.delenv("SOPS_AGE_KEY_FILE")
    (repo / "age.key").rename(repo / "elsewhere.key")
    with pytest.raises(NoKeyError, match="SOPS_AGE_KEY_FILE"):
        sops_binary.Sops(repo).decrypt(ct, "kubernetes/x.sops.yaml")


def test_already_encrypted(repo: Path) -> None:
    s = sops_binary.Sops(repo)
    ct = s.encrypt(SECRET.format(value=fakes.groq_key()).encode(), "kubernetes/x.sops.yaml")
    with pytest.raises(DataError, match="already encrypted"):
        s.encrypt(ct, "kubernetes/x.sops.yaml")


def test_no_rule(repo: Path) -> None:
    with pytest.raises(ConfigError, match="no creation rule"):
        sops_binary.Sops(repo).encrypt(SECRET.format(value="x").encode(), "elsewhere/x.sops.yaml")


def test_unexpected_failure_never_shows_sops_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure real sops cannot be made to produce on demand (exit 23, ErrorEncryptingTree)."""
    fake = tmp_path / "sops"
    fake.write_text("#!/bin/sh\necho 'sk-proj-SECRET-ON-STDOUT'\necho 'sk-proj-SECRET-ON-STDERR' >&2\nexit 23\n")
    fake.chmod(0o755)
    monkeypatch.setenv("SOPS_BINARY", str(fake))
    with pytest.raises(SopsError) as exc:
        sops_binary.Sops(tmp_path).encrypt(b"a: b\n", "x.yaml")
    message = str(exc.value)
    assert "exit code 23" in message and "SECRET" not in message and "\n" not in message
    res = sops_binary.run([str(fake)])
    assert "SECRET" not in repr(res)


def test_binary_resolution(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert os.access(sops_binary.find_binary(), os.X_OK)
    monkeypatch.setenv("SOPS_BINARY", str(tmp_path / "missing"))
    with pytest.raises(Exception, match="SOPS_BINARY"):
        sops_binary.find_binary()
