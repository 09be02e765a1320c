"""The content-hash fingerprint: its cost travels with it, old fingerprints still verify, and a
cost read from a file is bounded."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys

import pytest

from aigw_secrets.gateway import contenthash

DATA = {"apiKey": "sk-test-fingerprint"}


def _legacy(data: dict[str, str], salt: bytes) -> str:
    """The fingerprint as releases before the cost was recorded wrote it (n=2**14, r=8, p=1)."""
    payload = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    digest = hashlib.scrypt(payload, salt=salt, n=2**14, r=8, p=1, dklen=32)
    return "scrypt:" + base64.b64encode(salt).decode() + ":" + base64.b64encode(digest).decode()


def test_fingerprint_records_its_cost_and_verifies() -> None:
    ln, r, p = contenthash.SCRYPT_COST
    fp = contenthash.content_hash(DATA)
    assert fp.startswith(f"scrypt$ln={ln},r={r},p={p}$")
    assert contenthash.hash_matches(fp, DATA)
    assert not contenthash.hash_matches(fp, {"apiKey": "sk-test-other"})
    assert contenthash.content_hash(DATA) != fp  # salted


def test_fingerprint_verifies_at_the_cost_it_records(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(contenthash, "SCRYPT_COST", (2, 1, 1))
    cheap = contenthash.content_hash(DATA)
    monkeypatch.setattr(contenthash, "SCRYPT_COST", (3, 2, 1))
    assert contenthash.hash_matches(cheap, DATA)  # the cost comes from the fingerprint, not the setting


def test_old_fingerprint_form_still_verifies() -> None:
    old = _legacy(DATA, b"0123456789abcdef")
    assert contenthash.hash_matches(old, DATA)
    assert not contenthash.hash_matches(old, {"apiKey": "sk-test-other"})


def test_production_writes_its_own_cost() -> None:
    # the suite runs with a cheap cost (conftest); a fresh interpreter has the production one
    code = "from aigw_secrets.gateway import contenthash; print(contenthash.content_hash({'a': 'b'}))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.startswith("scrypt$ln=14,r=8,p=1$")


@pytest.mark.parametrize(
    "stored",
    [
        None,
        "",
        "md5:abc:def",
        "scrypt:only-two",
        "scrypt:a:b:c",
        "scrypt:!!!:AAAA",
        "scrypt$ln=14,r=8,p=1$salt",
        "scrypt$ln=14,r=8$c2FsdA==$" + "A" * 44,
        "scrypt$ln=14,r=8,p=1$!!$" + "A" * 44,
        "scrypt$ln=14,r=8,p=1$c2FsdA==$AAAA",  # digest of the wrong length
        "scrypt$ln=0,r=8,p=1$c2FsdA==$" + "A" * 44,
        "scrypt$ln=40,r=8,p=1$c2FsdA==$" + "A" * 44,  # absurd: 2**40 rounds
        "scrypt$ln=20,r=32,p=1$c2FsdA==$" + "A" * 44,  # absurd: gigabytes of memory
        "scrypt$ln=14,r=8,p=99$c2FsdA==$" + "A" * 44,
        "scrypt$ln=14,r=0,p=1$c2FsdA==$" + "A" * 44,
    ],
)
def test_malformed_or_absurd_fingerprints_never_match(stored: str | None) -> None:
    assert not contenthash.hash_matches(stored, DATA)
