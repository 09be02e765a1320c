"""``aigw-secrets doctor``: lint .sops.yaml and the key set-up (the checks are in ``sops/lint.py``)."""

from __future__ import annotations

from pathlib import Path

from aigw_secrets import output
from aigw_secrets.errors import ExitCode
from aigw_secrets.sops.lint import check_config, check_keys, check_sops


def doctor(root: Path) -> int:
    root = root.resolve()
    findings = check_sops() + check_config(root) + check_keys(root)
    for f in findings:
        output.result(f"{f.level}: {f.where}: {f.message}\n    fix: {f.fix}")
    errors = sum(f.level == "error" for f in findings)
    output.info(f"{errors} error(s), {len(findings) - errors} warning(s)" if findings else "no problems found")
    return int(ExitCode.FINDINGS) if errors else 0
