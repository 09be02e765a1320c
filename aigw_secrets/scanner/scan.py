"""The scanner proper: bytes of one file in, findings out. Pure and offline (no network, no git).

Two passes over each readable file: the combined line-rule pattern over the whole text, and, only
for YAML that mentions a Secret, a secretGenerator or a sops block, a structural pass that
understands Kubernetes Secrets (``data`` is base64-decoded and judged on content) and SOPS files (a
plaintext value inside an encrypted section). base64 blobs in Secrets, ``.env`` and JSON files are
decoded and scanned again. A finding keeps the secret in memory only to hash and preview it.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from typing import Any, NamedTuple

from aigw_secrets.scanner import rules
from aigw_secrets.shapes import is_placeholder

MAX_BYTES = 10 * 1024 * 1024
ALLOW = "aigw-secrets: allow"
_B64 = re.compile(r"(?<![A-Za-z0-9+/_\-])[A-Za-z0-9+/]{24,}={0,2}(?![A-Za-z0-9+/=_\-])")
_ENC_START = "ENC[AES256_GCM,"
_STRUCTURAL_HINT = re.compile(r"^\s*(?:kind:\s*[\"']?Secret|secretGenerator:|sops:\s*$)", re.M)


class Finding(NamedTuple):
    path: str
    line: int
    column: int
    rule: str
    secret: str  # in memory only: hashed for baselines, previewed for people, never printed whole
    note: str = ""

    @property
    def fingerprint(self) -> str:
        """What a baseline stores: a SHA-256 of rule and value, never the value."""
        import hashlib

        return hashlib.sha256(f"{self.rule}:{self.secret}".encode()).hexdigest()

    @property
    def preview(self) -> str:
        return f"{self.secret[:4]}… ({len(self.secret)} chars)" if self.secret else "no value"

    def __repr__(self) -> str:
        return f"Finding({self.path}:{self.line} {self.rule} {self.preview})"


class Skipped(NamedTuple):
    path: str
    reason: str


def is_binary(data: bytes) -> bool:
    return b"\0" in data[:8192]


class _Lines:
    """Offsets → 1-based line and column, computed only when something is found."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._starts: list[int] | None = None

    def at(self, offset: int) -> tuple[int, int]:
        if self._starts is None:
            self._starts = [0] + [m.end() for m in re.finditer("\n", self.text)]
        i = bisect.bisect_right(self._starts, offset) - 1
        return i + 1, offset - self._starts[i] + 1

    def line_text(self, offset: int) -> str:
        start = self.text.rfind("\n", 0, offset) + 1
        end = self.text.find("\n", offset)
        return self.text[start : end if end >= 0 else len(self.text)]


def _inside_enc(text: str, offset: int) -> bool:
    """Within an ENC[AES256_GCM,...] string (ciphertext can look like anything)."""
    start = text.rfind(_ENC_START, max(0, offset - 4096), offset)
    return start >= 0 and "]" not in text[start:offset]


def scan_line_rules(path: str, text: str, lines: _Lines, *, decoded_from: tuple[int, int] | None = None) -> Iterator[Finding]:
    for rule, m, secret in rules.matches(text):
        if is_placeholder(secret) or _inside_enc(text, m.start()):
            continue
        if decoded_from is not None:
            line, col = decoded_from
            yield Finding(path, line, col, rule.id, secret, "base64-encoded")
            continue
        line, col = lines.at(m.start())
        if ALLOW in lines.line_text(m.start()):
            continue
        yield Finding(path, line, col, rule.id, secret)


def _decode_b64(token: str) -> str | None:
    import base64
    import binascii

    if len(token) % 4:
        return None
    try:
        raw = base64.b64decode(token, validate=True)
        return raw.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def scan_base64(path: str, text: str, lines: _Lines) -> Iterator[Finding]:
    for m in _B64.finditer(text):
        decoded = _decode_b64(m.group(0))
        if decoded and not _inside_enc(text, m.start()) and ALLOW not in lines.line_text(m.start()):
            yield from scan_line_rules(path, decoded, _Lines(decoded), decoded_from=lines.at(m.start()))


def scan_file(path: str, data: bytes, *, must_encrypt: bool = False) -> tuple[list[Finding], Skipped | None]:
    """All findings for one file. ``must_encrypt``: a .sops.yaml creation rule covers this path."""
    name = path.rsplit("/", 1)[-1]
    if name == ".sops.yaml":
        return [], None
    if len(data) > MAX_BYTES:
        return [], Skipped(path, f"larger than {MAX_BYTES // (1024 * 1024)} MB; not scanned")
    if is_binary(data):
        return [], Skipped(path, "binary")
    text = data.decode("utf-8", "replace")
    lines = _Lines(text)
    found = list(scan_line_rules(path, text, lines))
    lower = name.lower()
    if lower.endswith((".json", ".ipynb")) or lower == ".env" or lower.startswith(".env.") or lower.endswith(".env"):
        found += scan_base64(path, text, lines)
    if lower.endswith((".yaml", ".yml")) and (must_encrypt or _STRUCTURAL_HINT.search(text)):
        found += _scan_yaml(path, text, lines, must_encrypt)
    return _dedupe(found), None


def _dedupe(found: list[Finding]) -> list[Finding]:
    """One finding per value and line; a generic PEM finding yields to a more specific one."""
    seen: set[tuple[int, str]] = set()
    specific = {f.line for f in found if f.rule != "private-key"}
    out = []
    for f in sorted(found, key=lambda f: (f.line, f.column, f.rule)):
        if (f.line, f.secret) in seen or (f.rule == "private-key" and f.line in specific):
            continue
        seen.add((f.line, f.secret))
        out.append(f)
    return out


# --- structural rules: Kubernetes Secrets, kustomize, SOPS ---------------------------------------


def _compose(text: str) -> list[Any] | None:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return [n for n in yaml.compose_all(text, Loader=loader) if n is not None]
    except yaml.YAMLError:
        return None  # malformed: the line rules have run already


def _value(node: Any) -> Any:
    import yaml

    if isinstance(node, yaml.MappingNode):
        return {k.value: v for k, v in node.value if isinstance(k, yaml.ScalarNode)}
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return node.value


def _scan_yaml(path: str, text: str, lines: _Lines, must_encrypt: bool) -> list[Finding]:
    import yaml

    docs = _compose(text)
    if docs is None:
        return []
    out: list[Finding] = []
    encrypted_file = False
    for doc in docs:
        if not isinstance(doc, yaml.MappingNode):
            continue
        top = _value(doc)
        sops = top.get("sops")
        if isinstance(sops, yaml.MappingNode):
            encrypted_file = True
            out += _scan_sops_doc(path, doc, _value(sops), lines)
            continue
        kind = top.get("kind")
        if isinstance(kind, yaml.ScalarNode) and kind.value == "Secret":
            out += _scan_secret(path, top, lines)
        generators = top.get("secretGenerator")
        if isinstance(generators, yaml.SequenceNode):
            out += _scan_generators(path, generators, lines)
    if must_encrypt and not encrypted_file:
        out.append(Finding(path, 1, 1, "sops-rule-unencrypted", "", "run `aigw-secrets encrypt` on it"))
    return out


def _allowed(lines: _Lines, node: Any) -> bool:
    return ALLOW in lines.line_text(node.start_mark.index)


def _scan_secret(path: str, top: dict[str, Any], lines: _Lines) -> Iterator[Finding]:
    import yaml

    for section in ("data", "stringData"):
        entries = top.get(section)
        if not isinstance(entries, yaml.MappingNode):
            continue
        for key, node in entries.value:
            if not isinstance(node, yaml.ScalarNode) or node.tag == "tag:yaml.org,2002:null" or _allowed(lines, node):
                continue
            value = str(node.value)
            if not value.strip() or value.startswith(_ENC_START):
                continue
            line, col = lines.at(node.start_mark.index)
            content = value
            if section == "data":
                decoded = _decode_b64(re.sub(r"\s", "", value))
                if decoded is None:
                    continue  # not base64 text: the API server would reject it; the line rules ran
                content = decoded
            if is_placeholder(content):
                continue
            specific = list(scan_line_rules(path, content, _Lines(content), decoded_from=(line, col)))
            if specific:
                yield from (f._replace(note=f"in Secret {section}.{key.value}") for f in specific)
            else:
                yield Finding(path, line, col, "k8s-secret-plaintext", value, f"{section}.{key.value} is not encrypted")


def _scan_generators(path: str, generators: Any, lines: _Lines) -> Iterator[Finding]:
    import yaml

    for gen in generators.value:
        if not isinstance(gen, yaml.MappingNode):
            continue
        literals = _value(gen).get("literals")
        if not isinstance(literals, yaml.SequenceNode):
            continue
        for node in literals.value:
            if not isinstance(node, yaml.ScalarNode) or _allowed(lines, node):
                continue
            key, _, value = str(node.value).partition("=")
            if value and not is_placeholder(value) and not value.startswith(_ENC_START):
                line, col = lines.at(node.start_mark.index)
                yield Finding(path, line, col, "kustomize-secret-literal", value, f"literal {key}")


def _scan_sops_doc(path: str, doc: Any, meta: dict[str, Any], lines: _Lines) -> Iterator[Finding]:
    """A SOPS document: MAC present, and every value sops would encrypt is an ENC[...] string."""
    import yaml

    def scalar(name: str) -> str | None:
        node = meta.get(name)
        return str(node.value) if isinstance(node, yaml.ScalarNode) and node.value else None

    if scalar("mac") is None:
        line, col = lines.at(doc.start_mark.index)
        yield Finding(path, line, col, "sops-missing-mac", "", "the sops block has no mac")
    selectors = {k: scalar(k) for k in ("encrypted_regex", "unencrypted_regex", "encrypted_suffix", "unencrypted_suffix")}

    def should_encrypt(keys: list[str]) -> bool:  # sops.go shouldBeEncrypted
        enc = True
        if selectors["unencrypted_suffix"] and any(k.endswith(selectors["unencrypted_suffix"]) for k in keys):
            enc = False
        if selectors["encrypted_suffix"]:
            enc = any(k.endswith(selectors["encrypted_suffix"]) for k in keys)
        try:
            if selectors["unencrypted_regex"] and any(re.search(selectors["unencrypted_regex"], k) for k in keys):
                enc = False
            if selectors["encrypted_regex"]:
                enc = any(re.search(selectors["encrypted_regex"], k) for k in keys)
        except re.error:
            return False
        if not any(selectors.values()):
            enc = not any(k.endswith("_unencrypted") for k in keys)
        return enc

    def walk(node: Any, keys: list[str]) -> Iterator[Finding]:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if not keys and k.value == "sops":
                    continue
                yield from walk(v, [*keys, str(k.value)])
        elif isinstance(node, yaml.SequenceNode):
            for v in node.value:
                yield from walk(v, keys)
        elif (
            isinstance(node, yaml.ScalarNode)
            and node.tag != "tag:yaml.org,2002:null"
            and node.value != ""
            and should_encrypt(keys)
            and not str(node.value).startswith(_ENC_START)
            and not _allowed(lines, node)
        ):
            line, col = lines.at(node.start_mark.index)
            yield Finding(path, line, col, "sops-plaintext-value", str(node.value), f"{'.'.join(keys)} is in an encrypted section")

    yield from walk(doc, [])
