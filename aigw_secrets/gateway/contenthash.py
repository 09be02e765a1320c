"""The content hash a Secret carries (``aigw-secrets.io/content-hash``): a salted scrypt fingerprint of
its values, so an unchanged credential is not re-encrypted; and the fingerprints of the values it
held before (``replaced-hashes``), so a replaced value never comes back unasked."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Mapping
from typing import Any

from aigw_secrets.gateway.marks import HASH_ANNOTATION, REPLACED_ANNOTATION

# scrypt keeps the stored fingerprint of a credential expensive to brute-force even for a weak
# (user-chosen) key; it exists only so that an unchanged credential is not re-encrypted. The cost
# is written into the fingerprint (``scrypt$ln=14,r=8,p=1$<salt>$<digest>``) and read back from
# it, so a fingerprint verifies whatever cost wrote it; the older ``scrypt:<salt>:<digest>`` form
# means the cost below. A cost read from a file is bounded (a committed fingerprint must not make
# every run spend minutes or gigabytes).
SCRYPT_COST = (14, 8, 1)  # (log2 n, r, p): what new fingerprints use
_LEGACY_COST = (14, 8, 1)  # the cost of every ``scrypt:`` fingerprint
_DKLEN = 32
_MAXMEM = 64 * 1024 * 1024
_COST_FORM = re.compile(r"ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})")


def _cost_bounded(ln: int, r: int, p: int) -> bool:
    return 1 <= ln <= 20 and 1 <= r <= 32 and 1 <= p <= 16 and 128 * r * (2**ln) * 2 <= _MAXMEM


def _scrypt(data: Mapping[str, str], salt: bytes, cost: tuple[int, int, int]) -> bytes:
    payload = json.dumps(dict(data), sort_keys=True, separators=(",", ":")).encode("utf-8")
    ln, r, p = cost
    return hashlib.scrypt(payload, salt=salt, n=2**ln, r=r, p=p, dklen=_DKLEN, maxmem=_MAXMEM)


def content_hash(data: Mapping[str, str], salt: bytes | None = None) -> str:
    """The salted scrypt fingerprint of ``data`` at ``SCRYPT_COST``, the cost written into it."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    ln, r, p = SCRYPT_COST
    digest = _scrypt(data, salt, SCRYPT_COST)
    return f"scrypt$ln={ln},r={r},p={p}$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


def hash_matches(stored: str | None, data: Mapping[str, str]) -> bool:
    """Does ``stored`` (either fingerprint form) fingerprint ``data``? False for anything malformed
    or with a cost outside the bounds."""
    if not stored:
        return False
    if stored.startswith("scrypt:"):
        parts = stored.split(":")
        if len(parts) != 3:
            return False
        cost, salt_b64, digest_b64 = _LEGACY_COST, parts[1], parts[2]
    elif stored.startswith("scrypt$"):
        parts = stored.split("$")
        form = _COST_FORM.fullmatch(parts[1]) if len(parts) == 4 else None
        if form is None:
            return False
        ln, r, p = (int(g) for g in form.groups())
        if not _cost_bounded(ln, r, p):
            return False
        cost, salt_b64, digest_b64 = (ln, r, p), parts[2], parts[3]
    else:
        return False
    try:
        salt = base64.b64decode(salt_b64, validate=True)
        want = base64.b64decode(digest_b64, validate=True)
    except ValueError:
        return False
    if len(want) != _DKLEN:
        return False
    return hmac.compare_digest(want, _scrypt(data, salt, cost))


_REPLACED_KEPT = 4  # how many replaced values a Secret remembers (each check is one scrypt)


def replaced_hashes(annotations: Mapping[str, Any]) -> list[str]:
    """The salted fingerprints of the values the Secret held before its current one, newest first."""
    text = annotations.get(REPLACED_ANNOTATION)
    return [h for h in str(text).split() if h.startswith(("scrypt:", "scrypt$"))] if text else []


def carry_replaced(annotations: Mapping[str, Any], data: Mapping[str, str] | None = None) -> str | None:
    """``replaced-hashes`` for the Secret that replaces the one annotated ``annotations``: its
    current fingerprint first, then the older ones, at most a few, none of which matches ``data``
    (the value being written: a value written back is current, not replaced)."""
    current = annotations.get(HASH_ANNOTATION)
    chain = (
        [str(current)] if isinstance(current, str) and current.startswith(("scrypt:", "scrypt$")) else []
    ) + replaced_hashes(annotations)
    if data is not None:
        chain = [h for h in chain if not hash_matches(h, data)]
    return " ".join(dict.fromkeys(chain[:_REPLACED_KEPT])) or None


def was_replaced(annotations: Mapping[str, Any], data: Mapping[str, str]) -> bool:
    """Did this Secret hold ``data`` before a later rotate / set / edit / generate replaced it?"""
    return any(hash_matches(h, data) for h in replaced_hashes(annotations))
