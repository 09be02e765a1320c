"""The scanner proper: bytes of one file in, findings out. Pure and offline (no network, no git).

Finding policy. A credential-shaped value (a provider key, a private key, an age identity: the line
rules, also run on base64-decoded values) is reported wherever it appears, except inside a complete
``ENC[...]`` value. A plaintext value in an unencrypted Kubernetes Secret is reported when it is
credential-shaped, when it looks like a generated token (one word of 20+ characters, letters and
digits, high entropy), or when its key name says credential (password, token, secret, key, ...) and
the value is not a template, a reference or an obvious non-secret; a ``${...}`` or ``{{ ... }}``
reference anywhere in a value, a secret-manager reference (``op://``, ``vault:``, ``ref+``,
``<path:...>``), a public certificate (``tls.crt``/``ca.crt`` holding only ``BEGIN CERTIFICATE``),
host names, ports, booleans and placeholders are never findings. A SOPS file (its own ``sops``
metadata, judged with sops's own RE2 rules) is reported for a plaintext value its selector says must
be encrypted, for a credential its selector left in plaintext (even with a valid MAC), and for
``ENC[...]`` values without any sops metadata. ``sops-rule-unencrypted`` is reported only for a
file that carries secret material (a Secret with real data, a ``*.sops.*``-named file, a
credential) and that a ``.sops.yaml`` rule covers or that is named ``*.sops.*``; the finding names
what would be exposed. A file that cannot be judged (unparseable YAML, limits reached) is reported
as skipped with the reason, never passed silently.

Two passes over each readable file: the combined line-rule pattern over the whole text, and, for
YAML/JSON/dotenv that may hold a Secret, a secretGenerator or sops data, a structural pass. A
finding keeps the secret in memory only to hash and preview it.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable, Iterator

from aigw_secrets import lean
from aigw_secrets.scanner import rules
from aigw_secrets.shapes import is_placeholder

if lean.TYPE_CHECKING:  # pragma: no cover - for the type checker only
    from typing import Any

MAX_BYTES = 10 * 1024 * 1024
ALLOW = "aigw-secrets: allow"
_B64 = lean.pattern(r"(?<![A-Za-z0-9+/_\-])[A-Za-z0-9+/]{24,}={0,2}(?![A-Za-z0-9+/=_\-])")
_ENC_START = "ENC[AES256_GCM,"
_ENC_TOKEN = lean.pattern(r"ENC\[AES256_GCM,data:[A-Za-z0-9+/=]*,iv:[A-Za-z0-9+/=]*,tag:[A-Za-z0-9+/=]*,type:[a-z]*\]")
# Cheap test whether the structural pass can find anything: a Secret or a List (any quoting, a
# !!str tag, flow style), a secretGenerator, sops metadata or ciphertext.
_STRUCTURAL_HINT = lean.pattern(
    r"""^[ \t]*["']?kind["']?[ \t]*:[ \t]*(?:!!str[ \t]+)?["']?(?:Secret|ExternalSecret|\w*List)\b"""
    r"""|["']kind["'][ \t]*:[ \t]*["'](?:Secret|ExternalSecret|\w*List)["']"""
    # sops metadata is top-level
    r"""|^["']?sops["']?[ \t]*:|"sops"[ \t]*:[ \t]*\{|secretGenerator[ \t]*:|ENC\[AES256_GCM,""",
    re.M,
)
_SOPS_META = lean.pattern(r"""(?m)^\s*["']?sops["']?\s*:|"sops"\s*:|^sops_(?:mac|version|lastmodified)=|^\[sops\]""")
_PEM_B64 = "LS0tLS1CRUdJTi"  # base64 of "-----BEGIN": a PEM file stored base64-encoded
_PEM_B64_B64 = "TFMwdExTMUNSVWRK"  # ... and base64 of that (of "LS0tLS1CRUdJ")
_SOPS_NAME = lean.pattern(r"\.(?:sops|enc)(?:\.age)?\.[A-Za-z0-9]+$|\.sops$")  # x.sops.yaml, x.enc.yaml, x.enc.age.yaml
# A file of any name whose text starts as a Kubernetes object (a Secret in `master.key`, a kubeconfig)
_K8S_START = lean.pattern(r"\A(?:[ \t]*(?:#[^\n]*)?\r?\n|---[^\n]*\n)*(?:apiVersion|kind)[ \t]*:[ \t]*\S", re.S)
# A key that may name a credential (filters.key_says_credential decides): a cheap test before a
# file a creation rule covers is parsed for its configuration values.
# Run on the lower-cased text: a case-insensitive alternation is ~6x slower in Python's re.
_CREDENTIAL_KEY = lean.pattern(
    r"(?:pass|pwd|token|secret|key|auth|cred|salt|seed|pin|cookie|dsn|jwt|pat)[\w.\-]*[\"']?[ \t]*[:=]"
)
_TEMPLATE_EXT = (".j2", ".tmpl", ".tpl", ".template", ".example", ".sample", ".dist")
_GENERIC = frozenset({"private-key", "k8s-secret-plaintext", "sops-unselected-secret"})
_WEAKEST = frozenset({"credential-literal"})  # yields to any other finding on its line
_JUDGED = frozenset({"k8s-secret-plaintext", "sops-unselected-secret"})  # yield to any credential shape on their line


class Finding(lean.Record):
    path: str
    line: int
    column: int
    rule: str
    secret: str  # in memory only: hashed for baselines, previewed for people, never printed whole
    note: str = ""
    commit: str = ""  # history: the first commit that introduced the blob
    blob: str = ""  # history: the blob id

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


class Skipped(lean.Record):
    path: str
    reason: str


def is_binary(data: bytes) -> bool:
    return b"\0" in data[:8192]


def is_sops_name(name: str) -> bool:
    """``app.sops.yaml``, ``secret.sops.json``, ``.sops.env``, ``x.enc.yaml``, ``x.enc.age.yaml``; not
    templates such as ``x.sops.yaml.j2``."""
    return bool(_SOPS_NAME.search(name)) and name != ".sops.yaml" and not name.endswith(_TEMPLATE_EXT)


class _Lines:
    """Offsets -> 1-based line and column, and the allow-comment test, in O(log n) per lookup."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._starts: list[int] | None = None
        self._allowed: dict[int, bool] = {}
        self._enc: list[tuple[int, int]] | None = None
        self.judged: set[int] = set()  # lines whose value a structural rule judged (Secret data, sops leaves)

    @property
    def starts(self) -> list[int]:
        if self._starts is None:
            self._starts = [0] + [m.end() for m in re.finditer("\n", self.text)]
        return self._starts

    def at(self, offset: int) -> tuple[int, int]:
        i = bisect.bisect_right(self.starts, offset) - 1
        return i + 1, offset - self.starts[i] + 1

    def allowed(self, offset: int) -> bool:
        """Whether the line holding ``offset`` carries ``# aigw-secrets: allow`` (cached per line)."""
        starts = self.starts
        i = bisect.bisect_right(starts, offset) - 1
        if i not in self._allowed:
            end = starts[i + 1] if i + 1 < len(starts) else len(self.text)
            self._allowed[i] = self.text.find(ALLOW, starts[i], end) >= 0
        return self._allowed[i]

    def inside_enc(self, offset: int) -> bool:
        """Within a complete ENC[AES256_GCM,data:…,iv:…,tag:…,type:…] token (ciphertext looks like
        anything); an unterminated ``ENC[`` hides nothing."""
        if self._enc is None:
            self._enc = [m.span() for m in _ENC_TOKEN.finditer(self.text)] if _ENC_START in self.text else []
        i = bisect.bisect_right(self._enc, (offset, float("inf"))) - 1
        return i >= 0 and self._enc[i][0] <= offset < self._enc[i][1]


# Where a literal under a credential name is most often an example or a fixture, not a deployed
# secret: source code (docstrings, tests) and vendored or test trees. The distinctive rules still run there.
_NO_LITERALS = lean.pattern(
    r"\.(?:py|pyi|go|js|mjs|ts|tsx|jsx|java|kt|scala|rb|rs|c|h|cc|cpp|hpp|cs|php|swift|lua|pl|ex|exs|ipynb)$"
    r"|(?:^|/)(?:tests?|testdata|fixtures?|examples?|vendor|node_modules|site-packages|ansible_collections|third_party)/"
    r"|\.(?:j2|tmpl|tpl|template|example|sample|dist)$"  # templates: stand-in values by design
)


def scan_line_rules(
    path: str, text: str, lines: _Lines, *, decoded_from: tuple[int, int] | None = None
) -> Iterator[Finding]:
    literals: bool | None = None  # asked on the first literal rule's match (most files have none)
    for rule, m, secret in rules.matches(text):
        if rule.literal:
            if literals is None:
                literals = not _NO_LITERALS.search(path)
            if not literals:
                continue
        start = m.start()
        if rule.group or rule.key_group or "\n" in m.group(0):  # the value (not its key), also over several lines
            start = max(text.find(secret, start, m.end()), start)
        if is_placeholder(secret) or lines.inside_enc(start):
            continue
        if decoded_from is not None:
            line, col = decoded_from
            yield Finding(path, line, col, rule.id, secret, "base64-encoded")
            continue
        if lines.allowed(start):  # the value's place, not its key's (an MCPRoute's `apiKey:` is a line above)
            continue
        line, col = lines.at(start)
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


def scan_base64(
    path: str, text: str, lines: _Lines, *, decoded_from: tuple[int, int] | None = None
) -> Iterator[Finding]:
    """Line rules over base64 tokens, decoded; twice when the decoded text is a base64 PEM again
    (Talos configs keep such doubly encoded keys)."""
    for m in _B64.finditer(text):
        if decoded_from is None and (lines.inside_enc(m.start()) or lines.allowed(m.start())):
            continue
        decoded = _decode_b64(m.group(0))
        if decoded:
            where = decoded_from or lines.at(m.start())
            yield from scan_line_rules(path, decoded, _Lines(decoded), decoded_from=where)
            if decoded_from is None and _PEM_B64 in decoded:
                yield from scan_base64(path, decoded, _Lines(decoded), decoded_from=where)


def _kind(name: str) -> str:
    lower = name.lower()
    if lower.endswith((".yaml", ".yml")):
        return "yaml"
    if lower.endswith(".json"):
        return "json"
    if lower.endswith(".ipynb"):
        return "ipynb"
    if lower == ".env" or lower.startswith(".env.") or lower.endswith(".env"):
        return "env"
    return ""


def structured(path: str) -> bool:
    """Whether the structural pass reads this kind of file (so .sops.yaml coverage matters)."""
    return _kind(path.rsplit("/", 1)[-1]) in ("yaml", "json", "env")


def scan_file(
    path: str, data: bytes, *, must_encrypt: bool | Callable[[], bool] = False
) -> tuple[list[Finding], Skipped | None]:
    """All findings for one file, and why (part of) it was not judged. ``path`` is the real path
    (also for history blobs); ``must_encrypt``: a .sops.yaml creation rule covers this path (a
    callable is asked only when the file carries secret material: most files never load the config)."""
    name = path.rsplit("/", 1)[-1]
    if len(data) > MAX_BYTES:
        return [], Skipped(path, f"larger than {MAX_BYTES // (1024 * 1024)} MB; not scanned")
    if is_binary(data):
        return [], Skipped(path, "binary")
    text = data.decode("utf-8", "replace")
    lines = _Lines(text)
    found = list(scan_line_rules(path, text, lines))
    if name == ".sops.yaml":
        return _dedupe(found), None  # the config: line rules only (a pasted age identity)
    kind = _kind(name)
    guessed = (
        not kind and not name.endswith(_TEMPLATE_EXT) and "apiVersion" in text[:4096] and bool(_K8S_START.match(text))
    )
    if guessed:
        kind = "yaml"
    if kind in ("json", "ipynb", "env") or (kind == "yaml" and (_PEM_B64 in text or _PEM_B64_B64 in text)):
        found += scan_base64(path, text, lines)
    skipped = None
    sops_name = is_sops_name(name)

    def covered() -> bool:
        return sops_name or (must_encrypt() if callable(must_encrypt) else must_encrypt)

    if kind in ("yaml", "json") and (
        sops_name or found or _structural(text) or (covered() and _CREDENTIAL_KEY.search(text.lower()) is not None)
    ):
        more, problem = _scan_yaml(path, text.replace("\t", " ") if kind == "json" else text, lines, found, covered)
        found += more
        skipped = Skipped(path, f"{problem}; structural checks incomplete") if problem and not guessed else None
        if lines.judged:  # the structural verdict on a value stands over the generic line rule's
            found = [f for f in found if not (f.rule in _WEAKEST and f.line in lines.judged and not f.note)]
    elif kind == "env" and (
        sops_name
        or found
        or "sops_" in text
        or _ENC_START in text
        or (covered() and _CREDENTIAL_KEY.search(text.lower()) is not None)
    ):
        found += _scan_env(path, text, lines, found, covered)
    elif kind == "" and sops_name and not _SOPS_META.search(text) and text.strip() and not _empty_form(text):
        found.append(Finding(path, 1, 1, "sops-rule-unencrypted", "", "a *.sops.* file in plaintext"))
    enc = _uncommented_enc(text, lines) if kind and _ENC_START in text else None
    if enc and not _SOPS_META.search(text):
        line, col = lines.at(enc.start())
        found.append(Finding(path, line, col, "sops-missing-metadata", "", "ENC[...] values but no sops metadata"))
    return _dedupe(found), skipped


def _empty_form(text: str) -> bool:
    """An INI / properties form whose every value is empty (``server_token =``): it exposes nothing."""
    for line in text.splitlines():
        s = line.strip()
        if not s or s[0] in "#;[":
            continue
        key, sep, value = s.partition("=") if "=" in s else s.partition(":")
        if not sep or not key.strip() or value.strip():
            return False
    return True


def _uncommented_enc(text: str, lines: _Lines) -> re.Match[str] | None:
    """The first ENC[...] value outside a comment (a commented-out old value decrypts nothing)."""
    for m in _ENC_TOKEN.finditer(text):
        start = lines.starts[lines.at(m.start())[0] - 1]
        if not text[start : m.start()].lstrip().startswith("#"):
            return m
    return None


def exposure(path: str, data: bytes) -> str | None:
    """What a plaintext file would expose if it were committed as it is, given that a creation rule
    covers it: ``scan``'s ``sops-rule-unencrypted`` verdict (its note), or a credential shape found
    in it; None when the file carries no secret material (or is encrypted already)."""
    found, _skipped = scan_file(path, data, must_encrypt=True)
    for f in found:
        if f.rule == "sops-rule-unencrypted":
            return f.note or "secret material"
    shapes = [f"the value on line {f.line}" for f in found if f.rule in rules.LINE_RULE_IDS]
    return f"would expose {', '.join(dict.fromkeys(shapes))}" if shapes else None


def _structural(text: str) -> bool:
    # substring tests first: the regex has no literal prefix and most manifests mention none of these
    return any(word in text for word in ("Secret", "List", "sops", "secretGenerator", _ENC_START)) and bool(
        _STRUCTURAL_HINT.search(text)
    )


def _dedupe(found: list[Finding]) -> list[Finding]:
    """One finding per value and line; a generic finding yields to a specific one on its line."""
    seen: set[tuple[int, str]] = set()
    specific = {f.line for f in found if f.rule not in _GENERIC and f.rule not in _WEAKEST and f.secret}
    shaped = {f.line for f in found if f.rule in rules.LINE_RULE_IDS and f.rule not in _WEAKEST}
    other = {f.line for f in found if f.rule not in _WEAKEST and f.secret}
    out = []
    for f in sorted(found, key=lambda f: (f.line, f.column, f.rule)):
        if f.secret and (
            (f.line, f.secret) in seen
            or (f.rule in _GENERIC and f.line in specific)
            or (f.rule in _JUDGED and f.line in shaped)
            or (f.rule in _WEAKEST and f.line in other)
        ):
            continue
        seen.add((f.line, f.secret))
        out.append(f)
    return out


# --- structural rules: Kubernetes Secrets, kustomize, SOPS ---------------------------------------


def _secret_docs(doc: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """(name, top-level mapping) of each Secret in a document, also inside ``kind: List`` items
    (each item node once: a list of a thousand aliases of one Secret is one Secret)."""
    from aigw_secrets.scanner import yamlread

    top = yamlread.mapping(doc)
    kind = yamlread.scalar(top["kind"]) if "kind" in top else None
    if kind == "Secret":
        yield yamlread.scalar(yamlread.mapping(top.get("metadata")).get("name")) or "?", top
    elif kind is not None and kind.endswith("List") and getattr(top.get("items"), "id", None) == "sequence":
        items = {id(item): item for item in top["items"].value}
        for item in items.values():
            inner = yamlread.mapping(item)
            if yamlread.scalar(inner.get("kind")) == "Secret":
                yield yamlread.scalar(yamlread.mapping(inner.get("metadata")).get("name")) or "?", inner


def _scan_yaml(
    path: str, text: str, lines: _Lines, found: list[Finding], covered: Callable[[], bool]
) -> tuple[list[Finding], str | None]:
    from aigw_secrets.scanner import yamlread

    composed = yamlread.compose(text)
    problem = composed.problem
    out: list[Finding] = []
    exposed: list[str] = []
    encrypted_file = False
    plain_docs = []  # not sops: judged as a whole *.sops.* file
    for doc in composed.docs:
        top = yamlread.mapping(doc)
        if "sops" in top and top["sops"].id == "mapping":
            encrypted_file = True
            more, why = _scan_sops_doc(path, doc, yamlread.mapping(top["sops"]), lines)
            out += more
            problem = problem or why
            continue
        secrets = list(_secret_docs(doc))
        for name, secret in secrets:
            for f in _scan_secret(path, secret, lines):
                out.append(f)
                exposed.append(f"Secret {name} {f.note.split(' ')[0]}")
        plain_docs.append(doc)
        if yamlread.scalar(top.get("kind")) == "ExternalSecret":  # the template is not a store
            out += _scan_external_secret(path, top, lines)
        generators = top.get("secretGenerator")
        if getattr(generators, "id", None) == "sequence":
            out += _scan_generators(path, generators, lines)
    if not encrypted_file and not _SOPS_META.search(text):
        # key paths first (doctor's fix depends on whether the rule's selector reaches them), then the
        # rules that found credential shapes elsewhere in the file; a literal under a credential name
        # the walk did not judge comes last
        # a credential shape is named by where it stands (`ConfigMap x data.configuration.yaml`), not by
        # the rule that found it
        weak = [_place(plain_docs, f.line) for f in found if f.secret]
        shapes = [_place(plain_docs, f.line) for f in found if f.secret and f.rule not in _WEAKEST]
        sops_name = is_sops_name(path.rsplit("/", 1)[-1])
        what = []
        if (
            exposed or weak or sops_name or _CREDENTIAL_KEY.search(text.lower())
        ) and covered():  # only covered files are walked
            what = exposed or _config_credentials(plain_docs) + shapes
            if not what and sops_name:
                what = _material(plain_docs)
            what = what or weak
        if what:
            unique = list(dict.fromkeys(what))
            tail = " …" if len(unique) > 4 else ""
            out.append(Finding(path, 1, 1, "sops-rule-unencrypted", "", f"would expose {', '.join(unique[:4])}{tail}"))
    return out, problem


def _place(docs: list[Any], line: int) -> str:
    """Where the value on ``line`` stands: its key path (``ConfigMap x data.configuration.yaml`` in a
    Kubernetes object, ``auth.token`` elsewhere), the innermost value whose text covers the line (a
    line inside a block scalar belongs to it); ``the value on line N`` when no value covers it (a
    comment)."""
    from aigw_secrets.scanner import yamlread

    best: tuple[int, str] | None = None
    for doc in docs:
        top = yamlread.mapping(doc)
        kind = _kube_kind(doc)
        prefix = f"{kind} {yamlread.scalar(yamlread.mapping(top.get('metadata')).get('name')) or '?'} " if kind else ""
        for keys, node in yamlread.Walk(doc):
            first, end = node.start_mark.line + 1, node.end_mark.line + 1
            last = end - 1 if node.end_mark.column == 0 and end > first else end
            if keys and first <= line <= last and (best is None or last - first < best[0]):
                best = (last - first, prefix + ".".join(keys))
    return best[1] if best else f"the value on line {line}"


def _kube_kind(doc: Any) -> str | None:
    from aigw_secrets.scanner import policy, yamlread

    top = yamlread.mapping(doc)
    return (yamlread.scalar(top.get("kind")) or "") if policy.is_object(top.keys()) else None


def _material(docs: list[Any]) -> list[str]:
    """Key paths of values in a plaintext ``*.sops.*`` file, where secrets live (policy.secret_place),
    that are not templates, references or obvious non-secrets (a file of ``${VAR}`` templates
    exposes nothing; a Secret's data counts whatever its length)."""
    from aigw_secrets.scanner import filters, policy, yamlread

    found = []
    for doc in docs:
        kube_kind = _kube_kind(doc)
        walk = yamlread.Walk(doc)
        for keys, node in walk:
            value = yamlread.scalar(node)
            if (
                keys
                and value
                and not _tagged_reference(node)
                and not value.startswith(_ENC_START)
                and len(value) >= 8
                and policy.secret_place(keys, kube_kind=kube_kind)
                and not filters.is_non_secret(value)
            ):
                found.append(".".join(keys))
    return found


def _tagged_reference(node: Any) -> bool:
    """A scalar with an application's own YAML tag (recyclarr's ``!env_var NAME``, Home Assistant's
    ``!secret name``, ``!include``): a pointer the application resolves, not the value. Ansible's
    ``!unsafe`` marks a literal, and is judged."""
    from aigw_secrets.scanner import yamlread

    tag = yamlread.tag(node)
    return tag.startswith("!") and tag != "!unsafe"


def _config_credentials(docs: list[Any]) -> list[str]:
    """Key paths of credentials by name in configuration: every such value of a file that is not a
    Kubernetes object (Ansible vars, Talos, Terraform values), and in an object's body (a
    HelmRelease's values) one that also looks generated (``token: wgXS…==``; ``existingSecret:
    authelia`` names a Secret and is not one; a bare ``key:`` is a selector's or a secretKeyRef's))."""
    from aigw_secrets.scanner import filters, policy, yamlread

    found = []
    for doc in docs:
        kube_kind = _kube_kind(doc)
        if kube_kind == "Secret":
            continue  # judged by _scan_secret
        for keys, node in yamlread.Walk(doc):
            value = yamlread.scalar(node)
            if (
                value
                and not _tagged_reference(node)
                and policy.credential_by_name(keys, value, kube_kind=kube_kind)
                and (kube_kind is None or (keys[-1] != "key" and filters.is_token_like(value)))
            ):
                found.append(".".join(keys))
    return found


def _scan_secret(path: str, top: dict[str, Any], lines: _Lines) -> Iterator[Finding]:
    from aigw_secrets.scanner import yamlread

    for section in ("data", "stringData"):
        entries: Any = top.get(section)
        if getattr(entries, "id", None) != "mapping":
            continue
        for key, node in entries.value:
            value = yamlread.scalar(node)
            if (
                value is None
                or not value.strip()
                or value.startswith(_ENC_START)
                or lines.allowed(node.start_mark.index)
            ):
                continue
            line, col = lines.at(node.start_mark.index)
            if "\n" not in value.strip():
                lines.judged.add(line)
            content = value
            where = f"{section}.{key.value}"
            if section == "data":
                decoded = _decode_b64(re.sub(r"\s", "", value))
                if decoded is None:
                    where += " (not base64)"  # the API server would reject it; judged as written
                else:
                    content = decoded
            specific = list(scan_line_rules(path, content, _Lines(content), decoded_from=(line, col)))
            if specific:
                if content is value and "\n" in value.strip():
                    continue  # a multi-line value as written: the file's line rules placed each finding on its line
                yield from (f._replace(note=f"{where} in a Secret") for f in specific)
            elif _is_plaintext_secret(str(key.value), content, path):
                yield Finding(path, line, col, "k8s-secret-plaintext", value, f"{where} is not encrypted")


_TEMPLATE_EXPR = lean.pattern(r"\{\{.*?\}\}", re.S)


def _scan_external_secret(path: str, top: dict[str, Any], lines: _Lines) -> Iterator[Finding]:
    """An ExternalSecret is not a finding; a literal credential in ``spec.target.template.data`` is
    (what is left once the ``{{ ... }}`` expressions are taken out, judged as a Secret value)."""
    from aigw_secrets.scanner import yamlread

    target = yamlread.mapping(yamlread.mapping(top.get("spec")).get("target"))
    entries: Any = yamlread.mapping(target.get("template")).get("data")
    if getattr(entries, "id", None) != "mapping":
        return
    for key, node in entries.value:
        value = yamlread.scalar(node)
        if value is None or lines.allowed(node.start_mark.index):
            continue
        literal = _TEMPLATE_EXPR.sub(" ", value).strip()
        line, col = lines.at(node.start_mark.index)
        if "\n" not in value.strip():
            lines.judged.add(line)
        where = f"spec.target.template.data.{key.value}"
        from aigw_secrets.scanner import filters

        templated = literal != value.strip()  # around a {{ }}: only a token-like rest ("Bearer " is not)
        judged = (
            filters.is_token_like(literal) and not filters.is_non_secret(literal)
            if templated
            else _is_plaintext_secret(str(key.value), literal)
        )
        if literal and judged and not any(f.secret in value for f in scan_line_rules(path, value, _Lines(value))):
            yield Finding(
                path, line, col, "externalsecret-template-literal", literal, f"{where} is a literal, not from the store"
            )


def _is_plaintext_secret(key: str, value: str, path: str = "") -> bool:
    """The Secret half of the finding policy (see the module docstring)."""
    from aigw_secrets.scanner import filters

    # the two cheap questions that can make it one, first: a value neither under a credential name nor
    # shaped like a token is no finding whatever the exceptions below say (a Secret of 80,000 plain keys)
    if not (filters.key_says_credential(key) or filters.is_token_like(value)):
        return False
    if filters.is_non_secret(value) or filters.is_default_word(key, value) or _names_its_app(value, f"{path}/{key}"):
        return False
    if value.startswith((".", "$plaintext$")) and filters.is_named_thing(value.removeprefix("$plaintext$")):
        return False  # a template's leftover `.API_KEY`; Authelia's plaintext notation around a stand-in name
    return "\n" not in value.strip()  # a whole config file: only credential-shaped content in it counts


def _scan_generators(path: str, generators: Any, lines: _Lines) -> Iterator[Finding]:
    from aigw_secrets.scanner import yamlread

    for gen in generators.value:
        literals: Any = yamlread.mapping(gen).get("literals")
        if getattr(literals, "id", None) != "sequence":
            continue
        for node in literals.value:
            text = yamlread.scalar(node)
            if text is None or lines.allowed(node.start_mark.index):
                continue
            key, _, value = text.partition("=")
            # judged as a Secret's value is (`AWS_REGION=garage` is no secret; `DB_PASSWORD=…` is)
            if value and not value.startswith(_ENC_START) and _is_plaintext_secret(key, value, path):
                line, col = lines.at(node.start_mark.index)
                yield Finding(path, line, col, "kustomize-secret-literal", value, f"literal {key}")


# --- SOPS: judged from the file's own metadata with sops's rules (RE2) ----------------------------

_SELECTORS = ("encrypted_regex", "unencrypted_regex", "encrypted_suffix", "unencrypted_suffix")


def _should_encrypt(selectors: dict[str, str | None]) -> Any:
    """sops's shouldBeEncrypted for a key path, with RE2 (the regexes are Go regexps)."""
    from aigw_secrets.sops import regex as sops_regex

    def should(keys: tuple[str, ...]) -> bool:
        enc = True
        if selectors["unencrypted_suffix"] and any(k.endswith(selectors["unencrypted_suffix"]) for k in keys):
            enc = False
        if selectors["encrypted_suffix"]:
            enc = any(k.endswith(selectors["encrypted_suffix"]) for k in keys)
        if selectors["unencrypted_regex"] and any(sops_regex.search(selectors["unencrypted_regex"], k) for k in keys):
            enc = False
        if selectors["encrypted_regex"]:
            enc = any(sops_regex.search(selectors["encrypted_regex"], k) for k in keys)
        if not any(selectors.values()):
            enc = not any(k.endswith("_unencrypted") for k in keys)
        return enc

    return should


def _regex_problem(selectors: dict[str, str | None]) -> str | None:
    from aigw_secrets.sops import regex as sops_regex

    for name in ("encrypted_regex", "unencrypted_regex"):
        pattern = selectors[name]
        if pattern and sops_regex.problem(pattern):
            return f"sops metadata {name} is not a valid Go regexp; sops checks not run"
    return None


def _case_hint(selectors: dict[str, str | None], key: str) -> str:
    from aigw_secrets.sops import regex as sops_regex

    pattern = selectors["encrypted_regex"]
    if pattern and not sops_regex.search(pattern, key) and sops_regex.search(f"(?i){pattern}", key):
        return f" (encrypted_regex is case-sensitive: {pattern} does not match {key})"
    return ""


def _judge_leaves(
    path: str,
    leaves: Iterable[tuple[tuple[str, ...], str, int]],
    selectors: dict[str, str | None],
    lines: _Lines,
    *,
    kube_kind: str | None = None,
) -> Iterator[Finding]:
    """sops-plaintext-value for what the selector says must be encrypted; sops-unselected-secret for
    a credential by name that it left out, where secrets live (policy.credential_by_name: never an
    object's metadata, so ``aigw-secrets.io/auth: service-account`` is no finding)."""
    from aigw_secrets.scanner import policy

    should = _should_encrypt(selectors)
    leaves = list(leaves)
    # No selector recorded but some values encrypted: sops before 3.4 did not record --encrypted-regex,
    # so plaintext apiVersion/kind/metadata beside ENC data is how such files look; judge only
    # credentials there, as for an unselected key.
    default = {
        **selectors,
        "unencrypted_suffix": None
        if selectors["unencrypted_suffix"] == "_unencrypted"
        else selectors["unencrypted_suffix"],
    }
    unrecorded = (
        not any(default.values())
        and any(v.startswith(_ENC_START) for _k, v, _o in leaves)
        and any(not v.startswith(_ENC_START) and k and k[0] in ("apiVersion", "kind") for k, v, _o in leaves)
    )
    for keys, value, offset in leaves:
        if not value or value.startswith(_ENC_START) or lines.allowed(offset):
            continue
        line, col = lines.at(offset)
        if "\n" not in value.strip():
            lines.judged.add(line)
        dotted = ".".join(keys)
        if should(keys) and not unrecorded and policy.secret_place(keys, kube_kind=kube_kind):
            yield Finding(path, line, col, "sops-plaintext-value", value, f"{dotted} is in an encrypted section")
        elif policy.credential_by_name(keys, value, kube_kind=kube_kind) and _credential_leaf(keys, value):
            yield Finding(
                path,
                line,
                col,
                "sops-unselected-secret",
                value,
                f"{dotted} is plaintext{_case_hint(selectors, keys[-1])}",
            )


def _names_its_app(value: str, path: str) -> bool:
    """`MYSQL_PASSWORD: kodi` in `apps/media/kodidb/secret.yaml`: a lower-case word that names the app
    (a chart default or template stand-in), not a chosen secret."""
    from aigw_secrets.scanner import filters

    v = value.strip().strip("'\"").lower()
    if v.isalpha() and len(v) <= 16 and v in path.lower():
        return True
    words = {w for w in re.split(r"[^a-z0-9]+", path.lower()) if len(w) >= 3}
    return filters.made_of_words(
        v, words | {w[: -len(s)] for w in words for s in ("db", "s") if w.endswith(s) and len(w) > len(s) + 2}
    )


def _credential_leaf(keys: tuple[str, ...], value: str) -> bool:
    """A plaintext value under a credential name that is not a reference (`configMapKeyRef.key`),
    a resource name, a default word (`password: password`) or an obvious non-secret."""
    from aigw_secrets.scanner import filters

    if not filters.key_says_credential(keys[-1]) or len(value) < 8 or filters.is_non_secret(value):
        return False
    if len(keys) > 1 and keys[-2].lower().endswith(("ref", "refs", "selector")):
        return False
    return not (filters.is_default_word(keys[-1], value) or filters.is_named_thing(value))


def _scan_sops_doc(path: str, doc: Any, meta: dict[str, Any], lines: _Lines) -> tuple[list[Finding], str | None]:
    """A SOPS document: MAC present; every value sops would encrypt is ENC[...]; no credential left
    in plaintext by the selector."""
    from aigw_secrets.scanner import yamlread

    out: list[Finding] = []
    if _skeleton(meta):
        return out, None  # a template of a sops file: no recipients, no mac, no version
    if yamlread.scalar(meta.get("mac")) in (None, ""):
        line, col = lines.at(doc.start_mark.index)
        out.append(Finding(path, line, col, "sops-missing-mac", "", "the sops block has no mac"))
    selectors = {k: yamlread.scalar(meta.get(k)) or None for k in _SELECTORS}
    problem = _regex_problem(selectors)
    if problem:
        return out, problem
    walk = yamlread.Walk(doc, skip_top=("sops",))
    leaves = ((keys, yamlread.scalar(node) or "", node.start_mark.index) for keys, node in walk)
    out += _judge_leaves(path, leaves, selectors, lines, kube_kind=_kube_kind(doc))
    return out, walk.truncated


def _skeleton(meta: dict[str, Any]) -> bool:
    from aigw_secrets.scanner import yamlread

    groups = ("age", "pgp", "kms", "gcp_kms", "azure_kv", "hc_vault", "key_groups")
    empty = all(getattr(meta.get(g), "value", None) in (None, [], "") for g in groups)
    return empty and not yamlread.scalar(meta.get("mac")) and not yamlread.scalar(meta.get("version"))


_ENV_LINE = lean.pattern(r"(?m)^[ \t]*(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_.\-]*)[ \t]*=[ \t]*(.*?)[ \t]*$")


def _scan_env(path: str, text: str, lines: _Lines, found: list[Finding], covered: Callable[[], bool]) -> list[Finding]:
    """A dotenv file: sops's dotenv format keeps its metadata in ``sops_*`` keys."""
    pairs = [(m.group(1), m.group(2).strip("'\""), m.start(2)) for m in _ENV_LINE.finditer(text)]
    meta = {k[len("sops_") :]: v for k, v, _o in pairs if k.startswith("sops_")}
    values = [((k,), v, o) for k, v, o in pairs if not k.startswith("sops_")]
    if meta:
        selectors = {k: meta.get(k) or None for k in _SELECTORS}
        out = [] if meta.get("mac") else [Finding(path, 1, 1, "sops-missing-mac", "", "no sops_mac")]
        if _regex_problem(selectors) is None:
            out += _judge_leaves(path, values, selectors, lines)
        return out
    if values:
        from aigw_secrets.scanner import policy

        creds = [f.rule for f in found if f.secret] + [
            k[0] for k, v, _o in values if policy.credential_by_name(k, v, kube_kind=None)
        ]
        if (creds or is_sops_name(path.rsplit("/", 1)[-1])) and covered():
            keys = ", ".join(k[0] for k, _v, _o in values[:4])
            return [
                Finding(
                    path, 1, 1, "sops-rule-unencrypted", "", f"would expose {keys}{' …' if len(values) > 4 else ''}"
                )
            ]
    return []
