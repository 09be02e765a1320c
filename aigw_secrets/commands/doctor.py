"""``aigw-secrets doctor``: lint .sops.yaml and the key set-up (the checks are in ``sops/configcheck.py``,
``sops/filecheck.py`` and ``sops/setupcheck.py``)."""

from __future__ import annotations

from pathlib import Path

from aigw_secrets import output
from aigw_secrets.errors import ExitCode
from aigw_secrets.scanner.scan import exposure
from aigw_secrets.sops.configcheck import check_config
from aigw_secrets.sops.findings import Finding
from aigw_secrets.sops.recipients import UntrustedRecipients
from aigw_secrets.sops.setupcheck import check_keys, check_sops


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
        + _recipient_findings(root)
        + _unreadable_findings(root)
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


def _recipient_findings(root: Path) -> list[Finding]:
    """A managed Secret whose next unattended rotation would stop: .sops.yaml gives its credential
    recipients the committed Secret does not have (one sops encryption of a throwaway document each)."""
    from aigw_secrets.errors import AigwError
    from aigw_secrets.gateway import config as gateway_config
    from aigw_secrets.rotation import pending

    try:
        cfg = gateway_config.load(root)
    except AigwError:
        return []  # no cluster.yaml (or a broken one, which generate reports): nothing managed
    findings = []
    for pc in (p for p in (*cfg.providers, *cfg.mcp_backends) if p.auth.secret_key):
        try:
            pending.recipients_check(root, cfg, pc, None, remember=False)
        except UntrustedRecipients as exc:
            findings.append(_untrusted(pc.key, exc))
        except AigwError:
            continue  # missing Secret, sops unable to encrypt here: other checks say so
    return findings


def _unreadable_findings(root: Path) -> list[Finding]:
    """A managed Secret (or ExternalSecret) file that does not parse (a hand edit, a merge): ``status``
    counts it as missing and rotation cannot read it, so doctor says so too, with the line."""
    import yaml

    from aigw_secrets import yamlload
    from aigw_secrets.errors import AigwError
    from aigw_secrets.gateway import config as gateway_config
    from aigw_secrets.gateway import mcp, secretdoc
    from aigw_secrets.sops import splice

    try:
        cfg = gateway_config.load(root)
    except AigwError:
        return []
    files = [(p.key, cfg.output_dir / secretdoc.secret_file(p)) for p in (*cfg.providers, *cfg.mcp_backends)]
    if cfg.mcp_seed:
        files.append(("the MCP session seed", cfg.output_dir / mcp.MCP_SEED_FILE))
    findings = []
    for who, path in files:
        try:
            text = path.read_text("utf-8")
            yamlload.load(text)  # one document, as status and rotation read it
        except (OSError, UnicodeDecodeError):
            continue  # missing: generate writes it
        except yaml.YAMLError as exc:
            line, reason = splice.yaml_problem(exc, text)
            findings.append(
                Finding(
                    "error",
                    f"{path.relative_to(root)}{f':{line}' if line else ''}",
                    f"invalid YAML: {reason}; status counts {who}'s Secret as missing and rotation cannot read it",
                    "restore it from git history (`git log -p -- FILE`), or write it anew with `aigw-secrets generate`",
                )
            )
    return findings


def _untrusted(provider: str, exc: UntrustedRecipients) -> Finding:
    from aigw_secrets.sops.recipients import ENV

    if exc.added:
        return Finding(
            "warning",
            exc.rel,
            f"{', '.join(exc.extra)} became a recipient after aigw-secrets last wrote this Secret (sops metadata is "
            f"not under its MAC: a commit can add a recipient without the key); the next unattended rotation of "
            f"{provider} stops (exit 11)",
            f"if it belongs, list it in {ENV} where the bot runs (or an operator runs `aigw-secrets updatekeys` "
            "on that file); otherwise review the commit that added it",
        )
    return Finding(
        "warning",
        exc.rel,
        f"the next unattended rotation of {provider} stops (exit 11): .sops.yaml would encrypt it also to "
        f"{', '.join(exc.extra)}, not a recipient of the committed Secret",
        (
            "if the recipients belong, run `aigw-secrets updatekeys` on that file or list them in "
            f"{ENV}; otherwise revert the .sops.yaml change"
        ),
    )
