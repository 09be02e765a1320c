"""age identities: generate with ``age-keygen`` when present, otherwise in process.

The in-process path is X25519 from ``cryptography`` plus a BIP-173 Bech32 encoder (checksum
constant 1, not bech32m), which is what age uses for ``AGE-SECRET-KEY-1…`` and ``age1…``.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

from aigw_secrets import shapes
from aigw_secrets.errors import DataError, NoInputError
from aigw_secrets.util import create_private_file, run, which

_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
RECIPIENT_RE = re.compile(rf"\b{shapes.AGE_RECIPIENT}\b")
IDENTITY_RE = re.compile(shapes.AGE_IDENTITY)  # X25519 only: what the in-process reader handles


class AgeKey(NamedTuple):
    identity: str  # AGE-SECRET-KEY-1...
    recipient: str  # age1...

    def __repr__(self) -> str:  # the identity is a secret
        return f"AgeKey(recipient={self.recipient!r})"

    def file_text(self) -> str:
        created = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
        return f"# created: {created}\n# public key: {self.recipient}\n{self.identity}\n"


def _polymod(values: list[int]) -> int:
    gen = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            chk ^= gen[i] if (top >> i) & 1 else 0
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _to_5bit(data: bytes) -> list[int]:
    acc = bits = 0
    out: list[int] = []
    for byte in data:
        acc = (acc << 8) | byte
        bits += 8
        while bits >= 5:
            bits -= 5
            out.append((acc >> bits) & 31)
    if bits:
        out.append((acc << (5 - bits)) & 31)
    return out


def _from_5bit(data: list[int]) -> bytes:
    acc = bits = 0
    out = bytearray()
    for v in data:
        acc = (acc << 5) | v
        bits += 5
        if bits >= 8:
            bits -= 8
            out.append((acc >> bits) & 0xFF)
    if bits >= 5 or (acc & ((1 << bits) - 1)):
        raise ValueError("invalid padding")
    return bytes(out)


def bech32_encode(hrp: str, data: bytes) -> str:
    values = _to_5bit(data)
    polymod = _polymod(_hrp_expand(hrp) + values + [0] * 6) ^ 1
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(_CHARSET[v] for v in values + checksum)


def bech32_decode(text: str) -> tuple[str, bytes]:
    lower = text.lower()
    pos = lower.rfind("1")
    if pos < 1 or pos + 7 > len(lower):
        raise ValueError("not bech32")
    hrp, rest = lower[:pos], lower[pos + 1 :]
    try:
        values = [_CHARSET.index(c) for c in rest]
    except ValueError:
        raise ValueError("invalid bech32 character") from None
    if _polymod(_hrp_expand(hrp) + values) != 1:
        raise ValueError("bad bech32 checksum")
    return hrp, _from_5bit(values[:-6])


def recipient_of(identity: str) -> str:
    """The ``age1…`` recipient for an ``AGE-SECRET-KEY-1…`` identity."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    try:
        hrp, raw = bech32_decode(identity.strip())
    except ValueError:
        raise DataError("not an age identity (AGE-SECRET-KEY-1...)") from None
    if hrp != "age-secret-key-" or len(raw) != 32:
        raise DataError("not an X25519 age identity")
    public = X25519PrivateKey.from_private_bytes(raw).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return bech32_encode("age", public)


def generate_in_process() -> AgeKey:
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
        PublicFormat,
    )

    key = X25519PrivateKey.generate()
    raw = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return AgeKey(bech32_encode("age-secret-key-", raw).upper(), bech32_encode("age", public))


def generate(*, prefer_age_keygen: bool = True) -> AgeKey:
    """A new X25519 age identity, from ``age-keygen`` if it is installed."""
    exe = which("age-keygen") if prefer_age_keygen else None
    if exe:
        res = run([exe])
        match = IDENTITY_RE.search(res.stdout.decode("ascii", "replace"))
        if res.returncode == 0 and match:
            identity = match.group(0)
            return AgeKey(identity, recipient_of(identity))
    return generate_in_process()


def default_key_file(root: Path) -> Path:
    """cluster-template keeps the age identity in ``<repo>/age.key`` (git-ignored)."""
    return root / "age.key"


def key_file_for(root: Path, key_file: Path | None) -> Path:
    """The operator's age key file: ``--key-file``, else ``$SOPS_AGE_KEY_FILE``, else ``<repo>/age.key``."""
    if key_file:
        return key_file
    env = os.environ.get("SOPS_AGE_KEY_FILE")
    return Path(env) if env else default_key_file(root)


def recipients_in(data: Mapping[str, bytes]) -> set[str]:
    """The age recipients whose identities a decryption Secret holds (Flux reads entries ``*.agekey``)."""
    found = set()
    for name, value in data.items():
        if name.endswith(".agekey"):
            for m in IDENTITY_RE.finditer(value.decode("utf-8", "replace")):
                found.add(recipient_of(m.group(0)))
    return found


def read_key_file(path: Path) -> list[AgeKey]:
    """Every identity in an age key file (``#`` lines are comments)."""
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise NoInputError(f"{path}: age key file does not exist") from None
    keys = [AgeKey(m.group(0), recipient_of(m.group(0))) for m in IDENTITY_RE.finditer(text)]
    if not keys:
        raise DataError(f"{path}: no AGE-SECRET-KEY-1... identity in the file")
    return keys


def write_key_file(path: Path, key: AgeKey) -> None:
    """Create a new key file, mode 0600; never overwrites."""
    create_private_file(path, key.file_text().encode("ascii"))
