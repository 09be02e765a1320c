"""Reading sops files in process (age identities only): the fast path for verification and decryption.

A sops run costs ~30 ms of CPU, mostly process start; checking a file we just wrote, or decrypting
one, here costs well under a millisecond. This module only *reads*: encryption is always done by
sops. Anything it cannot do with certainty (PGP/KMS recipients, Shamir key groups,
``mac_only_encrypted``, a value whose MAC or path it does not reproduce) raises ``Unsupported``, and
callers fall back to the real sops, which stays the arbiter of what decrypts.

Formats: age v1 (X25519 stanzas, HKDF-SHA-256, ChaCha20-Poly1305 STREAM) for the data key; sops
values are AES-256-GCM with a 32-byte IV and the key path ``a:b:`` as associated data; the MAC is
SHA-512 over every non-null leaf in document order, encrypted with ``lastmodified`` as associated
data (getsops/sops ``sops.go``, ``aes/cipher.go``).
"""

from __future__ import annotations

import base64
import decimal
import functools
import hashlib
import hmac
import math
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from aigw_secrets.sops import goyaml
from aigw_secrets.sops.agekeys import IDENTITY_RE, bech32_decode

_ENC = re.compile(r"^ENC\[AES256_GCM,data:([^,]*),iv:([^,]*),tag:([^,]*),type:([a-z]+)\]$")


class Unsupported(Exception):
    """Not decidable in process: use sops."""


def identities(env: Mapping[str, str]) -> list[tuple[str, str]]:
    """(identity, recipient) for the age identities sops would find: SOPS_AGE_KEY, SOPS_AGE_KEY_FILE,
    the default keys.txt. Cached per file modification time: bulk operations ask once per file."""
    files = [env.get("SOPS_AGE_KEY_FILE")]
    config = env.get("XDG_CONFIG_HOME") or (str(Path(env["HOME"]) / ".config") if env.get("HOME") else None)
    if config:
        files.append(str(Path(config) / "sops" / "age" / "keys.txt"))
    stamps = []
    for name in files:
        try:
            stamps.append((name, os.stat(name).st_mtime_ns) if name else None)
        except OSError:
            stamps.append(None)
    key = (env.get("SOPS_AGE_KEY", ""), tuple(stamps))
    if key not in _IDENTITIES:
        texts = [key[0]]
        for entry in stamps:
            if entry:
                try:
                    texts.append(Path(entry[0]).read_text("utf-8"))
                except (OSError, UnicodeDecodeError):
                    pass
        from aigw_secrets.sops.agekeys import recipient_of

        found = [m.group(0) for text in texts for m in IDENTITY_RE.finditer(text)]
        _IDENTITIES.clear()
        _IDENTITIES[key] = [(i, recipient_of(i)) for i in found]
    return _IDENTITIES[key]


_IDENTITIES: dict[Any, list[tuple[str, str]]] = {}


def _b64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def _age_decrypt(armored: str, identity: str) -> bytes:
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
    from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
    from cryptography.hazmat.primitives.hashes import SHA256
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    body = re.sub(r"-----(BEGIN|END) AGE ENCRYPTED FILE-----|\s", "", armored)
    data = base64.b64decode(body)
    header_end = data.index(b"\n---")
    header = data[:header_end].decode("ascii").split("\n")
    payload = data[data.index(b"\n", header_end + 1) + 1 :]
    if header[0] != "age-encryption.org/v1":
        raise Unsupported("not age v1")
    key, ours = _x25519(identity)
    file_key = None
    i = 1
    while i < len(header):
        args = header[i].split(" ")
        lines = []
        i += 1
        while i < len(header) and not header[i].startswith("-> "):
            lines.append(header[i])
            i += 1
            if len(lines[-1]) < 64:
                break
        if args[:2] != ["->", "X25519"] or len(args) != 3:
            continue
        share = _b64(args[2])
        shared = key.exchange(X25519PublicKey.from_public_bytes(share))
        wrap = HKDF(SHA256(), 32, share + ours, b"age-encryption.org/v1/X25519").derive(shared)
        try:
            file_key = ChaCha20Poly1305(wrap).decrypt(b"\0" * 12, _b64("".join(lines)), None)
            break
        except Exception:  # noqa: BLE001, S112 - a stanza for another identity does not decrypt: try the next
            continue
    if file_key is None:
        raise Unsupported("no stanza for this identity")
    nonce, stream = payload[:16], payload[16:]
    payload_key = HKDF(SHA256(), 32, nonce, b"payload").derive(file_key)
    if len(stream) > 64 * 1024 + 16:
        raise Unsupported("multi-chunk payload")
    return ChaCha20Poly1305(payload_key).decrypt(b"\0" * 11 + b"\x01", stream, None)


@functools.lru_cache(maxsize=16)
def _x25519(identity: str) -> tuple[Any, bytes]:
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    _hrp, raw = bech32_decode(identity)
    key = X25519PrivateKey.from_private_bytes(raw)
    return key, key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def data_key(metadata: Mapping[str, Any], env: Mapping[str, str]) -> bytes:
    """The file's data key, unwrapped with an age identity from the environment."""
    groups, age = metadata.get("key_groups") or [], metadata.get("age") or []
    if metadata.get("mac_only_encrypted") or not isinstance(groups, list) or len(groups) > 1:
        raise Unsupported("key groups / mac_only_encrypted")
    if not isinstance(age, list):
        raise Unsupported("age stanzas")  # sops refuses it too: let it say why
    stanzas = {str(s.get("recipient")): s.get("enc") for s in age if isinstance(s, dict)}
    for identity, recipient in identities(env):
        enc = stanzas.get(recipient)
        if enc:
            try:
                key = _age_decrypt(enc, identity)
            except Unsupported:
                continue
            except Exception as exc:  # noqa: BLE001 - malformed: let sops give the authoritative error
                raise Unsupported(type(exc).__name__) from None
            if len(key) == 32:
                return key
    raise Unsupported("no age identity here for this file")


def _aes(enc: str, key: bytes, aad: str) -> tuple[bytes, str]:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    m = _ENC.match(enc)
    if not m:
        raise Unsupported("not an ENC value")
    data, iv, tag = (base64.b64decode(m.group(n)) for n in (1, 2, 3))
    kind = m.group(4)
    try:
        return AESGCM(key).decrypt(iv, data + tag, aad.encode("utf-8")), str(kind)
    except Exception:  # noqa: BLE001 - InvalidTag or a malformed value: either way sops decides
        raise Unsupported("value does not decrypt here") from None


def typed(raw: bytes, kind: str) -> Any:
    """A decrypted value of sops type ``kind``, as the engine reads values (see goyaml)."""
    if kind == "bytes":
        return raw
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        if kind == "str":  # a Go string holds any bytes (a !!binary value that is not UTF-8)
            return raw
        raise Unsupported(f"{kind} value is not UTF-8") from None
    if kind == "str" or kind == "comment":
        return text
    try:
        if kind == "int":
            return int(text)
        if kind == "float":
            value = float(text)  # Go writes NaN, +Inf, -Inf as Python reads them
            return goyaml.NAN if math.isnan(value) else value
    except ValueError:
        raise Unsupported(f"{kind} value") from None
    if kind == "bool":
        return text.lower() == "true"
    if kind == "time":
        stamp = goyaml.parse_timestamp(text)
        if stamp is None or stamp.text != text:
            raise Unsupported("time value")
        return stamp
    raise Unsupported(f"type {kind}")


def to_bytes(value: Any) -> bytes:
    """sops ``ToBytes``: how a leaf enters the MAC."""
    if isinstance(value, bool):
        return b"True" if value else b"False"
    if isinstance(value, int):
        return str(value).encode()
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return b"NaN" if math.isnan(value) else b"+Inf" if value > 0 else b"-Inf"
        text = format(decimal.Decimal(repr(value)), "f")  # Go FormatFloat(f, 'f', -1, 64)
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return text.encode()
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytes):
        return value
    if isinstance(value, goyaml.GoTime):
        return value.text.encode()  # Go time.MarshalText
    raise Unsupported(f"leaf of type {type(value).__name__}")


def _leaves(node: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Any]]:
    if isinstance(node, dict):
        for k, v in node.items():
            if not isinstance(k, str):
                raise Unsupported("non-string key")
            yield from _leaves(v, (*path, k))
    elif isinstance(node, list):
        for v in node:
            yield from _leaves(v, path)  # list items keep their parent's path
    elif node is not None:
        yield path, node


def decrypt_docs(docs: list[Any], env: Mapping[str, str]) -> tuple[list[Any], bytes]:
    """Decrypt every ENC value of parsed sops YAML documents and check the MAC; returns the documents
    without their sops blocks, and the data key."""
    meta = docs[0].get("sops") if docs and isinstance(docs[0], dict) else None
    if not isinstance(meta, dict):
        raise Unsupported("no sops metadata")
    key = data_key(meta, env)

    def walk(node: Any, path: tuple[str, ...]) -> Any:
        if isinstance(node, dict):
            return {k: walk(v, (*path, k)) for k, v in node.items() if not (path == () and k == "sops")}
        if isinstance(node, list):
            return [walk(v, path) for v in node]
        if isinstance(node, str) and node.startswith("ENC["):
            if not all(isinstance(k, str) for k in path):  # a !!binary key that is not UTF-8
                raise Unsupported("non-string key")
            raw, kind = _aes(node, key, ":".join(path) + ":")
            return typed(raw, kind)
        return node

    plain = [walk(d, ()) for d in docs]
    digest = hashlib.sha512()
    for doc in plain:
        for _path, leaf in _leaves(doc, ()):
            digest.update(to_bytes(leaf))
    stored = meta.get("mac")
    modified = meta.get("lastmodified")
    if not isinstance(stored, str) or not isinstance(modified, str):
        raise Unsupported("no MAC")
    mac, _kind = _aes(stored, key, modified)
    if not hmac.compare_digest(mac.decode("ascii", "replace"), digest.hexdigest().upper()):
        raise Unsupported("MAC differs")
    return plain, key


def decrypt_comment(enc: str, candidates: list[tuple[Any, ...]], key: bytes) -> str:
    """A ``#ENC[...,type:comment]`` comment's text. Its associated data is the path of the mapping
    it sits in; AES-GCM authentication tells which of the candidate paths is right."""
    for parent in candidates:
        path = [str(k) for k in parent if not isinstance(k, int)]
        try:
            raw, kind = _aes(enc, key, ":".join(path) + ":")
        except Unsupported:
            continue
        if kind == "comment":
            return raw.decode("utf-8")
    raise Unsupported("comment does not decrypt here")
