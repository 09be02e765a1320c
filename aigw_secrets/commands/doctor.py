"""``aigw-secrets doctor``: lint .sops.yaml and the key set-up (the checks are in ``sops/lint.py``)."""

from __future__ import annotations

from pathlib import Path

from aigw_secrets import output
from aigw_secrets.errors import ExitCode
from aigw_secrets.scanner.scan import exposure
from aigw_secrets.sops.lint import check_config, check_keys, check_sops


def doctor(root: Path, *, fmt: str = "text") -> int:
    root = root.resolve()
    output.begin(fmt)
    from aigw_secrets.gateway import esdoctor, targetns

    findings = (
        check_sops()
        + check_config(root, exposure)
        + check_keys(root)
        + esdoctor.check(root)
        + targetns.doctor_findings(root)
    )
    if fmt != "json":
        for f in findings:
            output.result(f"{f.level}: {f.where}: {f.message}\n    fix: {f.fix}")
    errors = sum(f.level == "error" for f in findings)
    output.finish(
        f"{errors} error(s), {len(findings) - errors} warning(s)" if findings else "no problems found",
        findings=[{"level": f.level, "where": str(f.where), "message": f.message, "fix": f.fix} for f in findings],
        errors=errors,
        warnings=len(findings) - errors,
    )
    return int(ExitCode.FINDINGS) if errors else 0
