"""Baselines and reports (text, JSON, SARIF 2.1.0). Values are never written: a 4-character preview
and the length for people, a SHA-256 for machines."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aigw_secrets import __version__
from aigw_secrets.errors import ConfigError, OutputError
from aigw_secrets.scanner.rules import RULES
from aigw_secrets.scanner.scan import Finding, Skipped

BASELINE_VERSION = 1


def load_baseline(path: Path) -> set[tuple[str, str, str]]:
    """(path, rule, sha256) of accepted findings; ConfigError (one line) for anything malformed."""
    import json

    try:
        data = json.loads(_read_regular(path).decode("utf-8"))
    except FileNotFoundError:
        return set()
    except (OSError, ValueError):
        raise ConfigError(f"{_shown(path)}: not a valid aigw-secrets baseline (JSON)") from None
    if not isinstance(data, dict) or data.get("version") != BASELINE_VERSION:
        version = data.get("version") if isinstance(data, dict) else "?"
        raise ConfigError(f"{_shown(path)}: unsupported baseline version {str(version)[:20]}")
    entries = data.get("findings", [])
    fields = ("path", "rule", "sha256")
    if not isinstance(entries, list) or not all(
        isinstance(e, dict) and all(isinstance(e.get(k), str) for k in fields) for e in entries
    ):
        raise ConfigError(f"{_shown(path)}: malformed baseline (each finding needs string path, rule and sha256)")
    return {(e["path"], e["rule"], e["sha256"]) for e in entries}


def _shown(path: Path) -> str:
    return os.fsdecode(path).encode("utf-8", "backslashreplace").decode("utf-8")


def _read_regular(path: Path) -> bytes:
    import stat

    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(0, "not a regular file")
        return fh.read(64 * 1024 * 1024)


def _writable(path: Path) -> None:
    """Writing replaces a regular file only: never a symlink, a directory, a device or a pipe."""
    import stat

    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise OutputError(f"{_shown(path)}: cannot write ({exc.strerror})") from None
    if not stat.S_ISREG(st.st_mode):
        what = (
            "a symlink"
            if stat.S_ISLNK(st.st_mode)
            else "a directory"
            if stat.S_ISDIR(st.st_mode)
            else "not a regular file"
        )
        raise OutputError(f"{_shown(path)}: is {what}; refusing to replace it")


def write_report(path: Path, body: str) -> None:
    """A regular (or new) file is replaced atomically; an existing device, pipe or link to one
    (``/dev/null``, ``/dev/stdout``) is written into, never replaced."""
    import stat

    from aigw_secrets.util import atomic_write

    try:
        special = not stat.S_ISREG(os.stat(path).st_mode) and not stat.S_ISDIR(os.stat(path).st_mode)
    except OSError:
        special = False
    if special:
        try:
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(body)
        except OSError as exc:
            raise OutputError(f"{_shown(path)}: cannot write ({exc.strerror})") from None
        return
    _writable(path)
    atomic_write(path, body.encode())


def write_baseline(path: Path, findings: Sequence[Finding]) -> None:
    import json

    from aigw_secrets.util import atomic_write

    _writable(path)
    entries = sorted({(f.path, f.rule, f.fingerprint) for f in findings})
    body = {
        "version": BASELINE_VERSION,
        "generated_by": f"aigw-secrets {__version__}",
        "note": "accepted findings: a SHA-256 of rule and value each, never the value",
        "findings": [{"path": p, "rule": r, "sha256": h} for p, r, h in entries],
    }
    atomic_write(path, (json.dumps(body, indent=2) + "\n").encode())


def in_baseline(f: Finding, baseline: set[tuple[str, str, str]]) -> bool:
    return (f.path, f.rule, f.fingerprint) in baseline


_KEYS = frozenset(
    {"age-secret-key", "private-key", "pgp-private-key", "gcp-service-account-key", "wireguard-private-key"}
)
_TOKENS = frozenset({"github-token", "gitlab-token", "vault-token", "vault-unseal-key", "kube-bootstrap-token", "jwt"})


def advice(f: Finding) -> str:
    """What to do about this finding: only advice that works for it."""
    return rule_advice(f.rule, history=bool(f.blob), secret_doc="Secret " in f.note)


def rule_advice(rule: str, *, history: bool = False, secret_doc: bool = False) -> str:
    if history and rule in ("sops-missing-metadata", "sops-missing-mac"):
        return "no value was exposed by this old version; fix the file if it is still like this"
    if rule.endswith("-webhook-url"):
        return (
            "regenerate the webhook (the URL is the credential: anyone holding it can post) and keep the new one "
            "in an encrypted Secret"
        )
    if rule in _TOKENS:
        return (
            "revoke it where it was issued and mint a new one (it is compromised once committed); keep the new "
            "one in an encrypted Secret"
        )
    if rule == "password-hash":
        return (
            "change those passwords (hashes in a public repository are cracked offline) and keep the file in an "
            "encrypted Secret"
        )
    if history or rule in _KEYS:
        return "remove it and rotate the key (it is compromised once committed; encrypting it now does not help)"
    if rule == "k8s-secret-plaintext" or (rule == "sops-rule-unencrypted" and secret_doc):
        return "encrypt the Secret (`aigw-secrets encrypt FILE`), or move the value out of the repository"
    if rule == "externalsecret-template-literal":
        return (
            "put the value in the secret store, template it as {{ .property }} from spec.data, and rotate it if "
            "it was ever pushed"
        )
    if rule == "sops-rule-unencrypted":
        return "encrypt the file with `sops encrypt --in-place FILE`, or narrow the .sops.yaml rule"
    if rule in ("sops-plaintext-value", "sops-missing-mac"):
        return "re-encrypt it with `sops edit FILE` (a hand-edited value is not protected)"
    if rule == "sops-unselected-secret":
        return "fix the creation rule's selector (or use whole-file encryption) and re-encrypt; rotate the value"
    if rule == "sops-missing-metadata":
        return "restore the sops metadata from git history; without it nobody can decrypt the values"
    return "move the value to an encrypted Secret and rotate it if it was ever pushed"


def text(findings: Sequence[Finding], skipped: Sequence[Skipped]) -> str:
    lines = []
    for f in findings:
        note = f"; {f.note}" if f.note else ""
        where = f" (blob {f.blob[:12]}, first in commit {f.commit[:12] or 'unknown'})" if f.blob else ""
        lines.append(f"{f.path}:{f.line}:{f.column}: {f.rule}: {RULES[f.rule].description} [{f.preview}{note}]{where}")
    for s in skipped:
        if s.reason != "binary":
            lines.append(f"{s.path}: skipped: {s.reason}")
    if findings:
        lines.append(f"\naigw-secrets: {len(findings)} finding(s). What to do:")
        for rule, how in dict.fromkeys((f.rule, advice(f)) for f in findings):
            lines.append(f"  {rule}: {how}")
        lines.append(
            "A false alarm: add `# aigw-secrets: allow` to the line, or accept it with --update-baseline "
            "(default baseline: .aigw-baseline.json)."
        )
    return "\n".join(lines)


def as_json(findings: Sequence[Finding], skipped: Sequence[Skipped]) -> str:
    import json

    return json.dumps(
        {
            "findings": [
                {
                    "path": f.path,
                    "line": f.line,
                    "column": f.column,
                    "rule": f.rule,
                    "preview": f.preview,
                    "sha256": f.fingerprint,
                    "note": f.note,
                    "advice": advice(f),
                    **({"commit": f.commit, "blob": f.blob} if f.blob else {}),
                }
                for f in findings
            ],
            "skipped": [{"path": s.path, "reason": s.reason} for s in skipped],
        },
        indent=2,
    )


def sarif(findings: Sequence[Finding]) -> str:
    """SARIF 2.1.0 as GitHub code scanning accepts it."""
    import json

    rules = [
        {
            "id": r.id,
            "name": "".join(part.capitalize() for part in r.id.split("-")),
            "shortDescription": {"text": r.description},
            "fullDescription": {"text": r.description},
            "help": {"text": rule_advice(r.id)},
            "defaultConfiguration": {"level": "error"},
            "properties": {"tags": ["security", "secrets"], "precision": "high", "security-severity": "9.0"},
        }
        for r in RULES.values()
    ]
    index = {r["id"]: i for i, r in enumerate(rules)}
    results: list[dict[str, Any]] = [
        {
            "ruleId": f.rule,
            "ruleIndex": index[f.rule],
            "level": "error",
            "message": {
                "text": f"{RULES[f.rule].description} ({f.preview}){'; ' + f.note if f.note else ''}. {advice(f)}"
            },
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": f.path, "uriBaseId": "%SRCROOT%"},
                        "region": {"startLine": f.line, "startColumn": f.column},
                    }
                }
            ],
            "partialFingerprints": {"aigwSecretHash/v1": f.fingerprint},
        }
        for f in findings
    ]
    doc = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "aigw-secrets",
                        "version": __version__,
                        "informationUri": "https://github.com/aigw-secrets/aigw-secrets",
                        "rules": rules,
                    }
                },
                "results": results,
            }
        ],
    }
    return json.dumps(doc, indent=2)
