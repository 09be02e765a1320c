"""Baselines and reports (text, JSON, SARIF 2.1.0). Values are never written: a 4-character preview
and the length for people, a SHA-256 for machines."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aigw_secrets import __version__
from aigw_secrets.errors import ConfigError
from aigw_secrets.scanner.rules import RULES
from aigw_secrets.scanner.scan import Finding, Skipped

BASELINE_VERSION = 1


def load_baseline(path: Path) -> set[tuple[str, str, str]]:
    """(path, rule, sha256) of accepted findings."""
    import json

    try:
        data = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return set()
    except (OSError, ValueError):
        raise ConfigError(f"{path}: not a valid aigw-secrets baseline (JSON)") from None
    if not isinstance(data, dict) or data.get("version") != BASELINE_VERSION:
        raise ConfigError(f"{path}: unsupported baseline version {data.get('version') if isinstance(data, dict) else '?'}")
    return {(e["path"], e["rule"], e["sha256"]) for e in data.get("findings", []) if isinstance(e, dict)}


def write_baseline(path: Path, findings: Sequence[Finding]) -> None:
    import json

    from aigw_secrets.util import atomic_write

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


def text(findings: Sequence[Finding], skipped: Sequence[Skipped]) -> str:
    lines = []
    for f in findings:
        note = f"; {f.note}" if f.note else ""
        lines.append(f"{f.path}:{f.line}:{f.column}: {f.rule}: {RULES[f.rule].description} [{f.preview}{note}]")
    for s in skipped:
        if s.reason != "binary":
            lines.append(f"{s.path}: skipped: {s.reason}")
    if findings:
        lines.append(
            f"\naigw-secrets: {len(findings)} plaintext credential(s) found. Encrypt the file "
            "(`aigw-secrets encrypt FILE`), move the value to an encrypted Secret, or, for a false "
            "alarm, add `# aigw-secrets: allow` to the line or record it with --update-baseline."
        )
    return "\n".join(lines)


def as_json(findings: Sequence[Finding], skipped: Sequence[Skipped]) -> str:
    import json

    return json.dumps(
        {
            "findings": [
                {"path": f.path, "line": f.line, "column": f.column, "rule": f.rule, "preview": f.preview, "sha256": f.fingerprint, "note": f.note}
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
            "help": {"text": "Encrypt the value with SOPS (aigw-secrets encrypt) or remove it; rotate it if it was ever pushed."},
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
            "message": {"text": f"{RULES[f.rule].description} ({f.preview}){'; ' + f.note if f.note else ''}"},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": f.path.split(" (blob ")[0], "uriBaseId": "%SRCROOT%"},
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
