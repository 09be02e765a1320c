"""``aigw-secrets rotate`` and ``aigw-secrets status`` (the engines are in ``rotation/``)."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

from aigw_secrets import output
from aigw_secrets.errors import ConfigError, DataError, ExitCode
from aigw_secrets.gateway import config as gateway_config
from aigw_secrets.rotation.credential import (
    exit_code,
    find_provider,
    rotate_credential,
    rotate_due,
    secret_status,
    superseded_journal,
)
from aigw_secrets.rotation.datakeys import rotate_data_keys
from aigw_secrets.rotation.journal import Step
from aigw_secrets.rotation.mcpseed import NAMES as MCP_SEED_NAMES
from aigw_secrets.rotation.mcpseed import rotate_mcp_seed, seed_status
from aigw_secrets.rotation.results import NeedsOperator, RevocationColumns, Revocations, StatusRow, Summary

if TYPE_CHECKING:
    from aigw_secrets.rotation.revoke import ClusterAccess


def status(root: Path, *, fmt: str = "table") -> int:
    """Every managed Secret; exit 1 when anything is overdue (for monitoring)."""
    root = root.resolve()
    cfg = gateway_config.load(root)
    from aigw_secrets.rotation import revoke

    rows = [
        _revoked(
            _with_columns(
                _waiting_for_operator(root, cfg, pc, secret_status(root, cfg, pc)), revoke.status(root, cfg, pc)
            )
        )
        for pc in managed(cfg)
    ]  # revocation columns
    seed_row = seed_status(root, cfg)  # the MCP session seed's age
    rows += [seed_row] if seed_row else []
    if fmt == "json":
        output.result(json.dumps(rows, indent=2))
    else:
        header = f"{'PROVIDER':18} {'AUTH':16} {'AGE':>5} {'NEXT DUE':20} {'STATE':22} PREVIOUS CREDENTIAL"
        lines = [header]
        for r in rows:
            age = f"{r.get('age_days')}d" if r.get("age_days") is not None else "-"
            flag = " OVERDUE" if r.get("overdue") else (" data key due" if r.get("data_key_overdue") else "")
            prev = "-"
            if r.get("previous_revoked"):
                prev = f"{r['previous_credential']} (revoked)"
            elif r.get("previous_credential"):
                when = "now" if r["safe_to_revoke_now"] else f"after {r['previous_revoke_after']}"
                prev = f"{r['previous_credential']} (revoke {when}" + (
                    ", by hand in the provider's console)" if r.get("revoke_by_hand") else ")"
                )
            lines.append(
                f"{r['provider']:18} {r['auth']:16} {age:>5} {str(r.get('next_due', '-')) + flag:20} "
                f"{r['state']:22} {prev}"
            )
            if r.get("needs_operator"):
                lines.append(f"{'':18} needs operator: {r['needs_operator']}")
            if r.get("backend") == "external-secrets":
                lines.append(
                    f"{'':18} store {r.get('remote_key')} version {r.get('store_version') or '-'}; ESO {r.get('sync')}"
                )
            if r.get("pending_revocation"):
                gates = (
                    ", ".join(f"{name} {'ok' if ok else 'WAITING'}" for name, ok, _why in r["gates"])
                    or "not checked yet"
                )
                lines.append(f"{'':18} revoke {r['pending_revocation']} ({r['revocation_state']}): {gates}")
        output.result("\n".join(lines))
        overdue = sum(bool(r.get("overdue") or r.get("data_key_overdue")) for r in rows)
        waiting = sum(r.get("state") == "needs operator" for r in rows)
        output.summary(
            f"{len(rows)} Secret(s), {overdue} overdue" + (f", {waiting} waiting for an operator" if waiting else "")
        )
    return int(ExitCode.FINDINGS) if any(r.get("overdue") or r.get("data_key_overdue") for r in rows) else 0


def managed(cfg: gateway_config.Config) -> list[gateway_config.ProviderConfig]:
    """Every credential Secret aigw-secrets manages: the providers' and the MCP servers'."""
    return [pc for pc in (*cfg.providers, *cfg.mcp_backends) if pc.auth.secret_key]


def _with_columns(row: StatusRow, columns: RevocationColumns) -> StatusRow:
    """The row with the revocation columns after (and over) its own."""
    return row | cast(StatusRow, columns)  # every revocation column is a StatusRow key


def _revoked(row: StatusRow) -> StatusRow:
    """A previous credential neither an issuer nor an operator still has to revoke was revoked (recorded);
    nothing is claimed while the provider's keys could not be listed."""
    if (
        row.get("previous_credential")
        and not row.get("pending_revocation")
        and not row.get("revoke_by_hand")
        and not row.get("provider_keys_error")
    ):
        return {**row, "previous_revoked": True, "safe_to_revoke_now": False}
    return row


@dataclass(frozen=True)
class RevokeOptions:
    """``rotate``'s revocation options (``--revoke`` and ``--due``)."""

    ref: str | None = None  # with --revoke: a key this tool did not create, named by the operator
    assume_applied: bool = False
    kubeconfig: Path | None = None
    context: str | None = None
    kustomization: str = "flux-system/flux-system"


def _report(summary: Summary) -> None:
    """The text report of a rotate run: what failed, what waits, and what to do next."""
    for item in summary["needs_operator"]:
        output.warn(f"needs an operator: {item['reason']}")
    for failure in summary["errors"]:
        output.error(failure["error"])
    for waiting in summary.get("waiting", []):
        output.info(f"waiting: {waiting['reason']}")
    output.summary(
        f"{len(summary['rotated'])} credential(s) and {summary.get('data_keys_rotated', 0)} data key(s) rotated"
    )
    if summary["rotated"] or summary.get("data_keys_rotated"):
        output.hint(
            "commit and push the changed files (the cron job does); `aigw-secrets status` shows when each "
            "previous credential may be revoked"
        )
    for item in summary["needs_operator"]:
        if item.get("untrusted_recipients"):
            continue  # its reason says what the operator can do
        output.hint(
            f"provide {item['provider']}'s new credential and run `aigw-secrets rotate --provider "
            f"{item['provider']} --source file:PATH` (or env:VAR, cmd:COMMAND, stdin), or `aigw-secrets "
            f"rotate --cancel {item['provider']}`"
        )
    if summary.get("waiting"):
        output.hint(
            "nothing to do now: run the same command again once the gates above have passed (the cron job does)"
        )


def run(
    root: Path,
    *,
    provider: str | None,
    data_key: bool,
    due: bool,
    files: Sequence[Path],
    source: str | None,
    verify: bool,
    fmt: str,
    revoke: str | None = None,
    revoke_opts: RevokeOptions | None = None,
    cancel: str | None = None,
    accept_recipients: bool = False,
) -> int:
    root = root.resolve()
    if sum(bool(x) for x in (provider, data_key, due, revoke, cancel)) != 1:
        raise ConfigError("choose one of --provider NAME, --data-key, --due, --revoke NAME or --cancel NAME")
    if accept_recipients:
        _accept_recipients_allowed(provider)
    if cancel:
        return _cancel(root, cancel, fmt)
    opts = revoke_opts or RevokeOptions()
    if revoke:
        return _revoke(root, revoke, fmt, opts)
    summary: Summary
    if data_key:
        keys = rotate_data_keys(root, files)
        summary = {
            "rotated": [],
            "needs_operator": [],
            "errors": keys["data_key_errors"],
            "data_keys_rotated": keys["data_keys_rotated"],
        }
    elif due:
        if opts.assume_applied:
            # the bot never takes the cluster gates on trust; an operator may, at a terminal
            raise ConfigError(
                "--assume-applied is for an operator revoking one provider (--revoke NAME), never with --due: "
                "the cron job checks the cluster"
            )
        summary = rotate_due(root, verify=verify)
        _note_needs_operator(root, summary["needs_operator"])
        failed = {str(e.get("provider")) for e in summary["errors"]}  # its admin call just failed: not again
        revocations = _revoke_due(root, opts, skip=failed)
        summary["revoked"], summary["waiting"], summary["revoke_errors"] = (
            revocations["revoked"],
            revocations["waiting"],
            revocations["revoke_errors"],
        )
    elif provider in MCP_SEED_NAMES:  # the controller's MCP session seed
        rotated = rotate_mcp_seed(root, gateway_config.load(root), accept_recipients=accept_recipients)
        summary = {"rotated": [rotated], "needs_operator": [], "errors": [], "data_keys_rotated": 0}
    else:
        cfg = gateway_config.load(root)
        pc = find_provider(cfg, provider or "")
        interactive = sys.stdin.isatty() and sys.stderr.isatty()
        summary = {
            "rotated": [
                rotate_credential(
                    root,
                    cfg,
                    pc,
                    source=source,
                    verify=verify,
                    interactive=interactive,
                    accept_recipients=accept_recipients,
                )
            ],
            "needs_operator": [],
            "errors": [],
            "data_keys_rotated": 0,
        }
    if fmt == "json":
        output.result(json.dumps(summary, indent=2))
    else:
        _report(summary)
    return _with_revocations(summary, exit_code(summary))


def _accept_recipients_allowed(provider: str | None) -> None:
    """``--accept-recipients`` is an operator's decision at a terminal, for one credential: never the
    cron job's (whatever its arguments), whose recipients are the committed ones or the trust list."""
    from aigw_secrets.rotation.revoke import at_terminal

    if not provider:
        raise ConfigError("--accept-recipients goes with --provider NAME (one credential, an operator deciding)")
    if not at_terminal():
        raise ConfigError(
            "--accept-recipients is for an operator at a terminal; unattended runs encrypt only to the "
            "Secret's committed recipients and AIGW_SECRETS_TRUSTED_RECIPIENTS"
        )


def _note_needs_operator(root: Path, items: list[NeedsOperator]) -> None:
    """A rotation --due could not obtain a value for: its journal records why, so ``status`` can say."""
    from aigw_secrets.rotation.journal import CREDENTIAL, Journal, repo_lock

    with repo_lock(root):
        for item in items:
            journal = Journal(root, f"rotate-{item['provider']}", CREDENTIAL)
            if journal.state == Step.PLANNED:
                journal.save(needs_operator=item["reason"])


def _waiting_for_operator(
    root: Path, cfg: gateway_config.Config, pc: gateway_config.ProviderConfig, row: StatusRow
) -> StatusRow:
    """A journal that never got a value is not a rotation in progress: an operator has to provide one."""
    from aigw_secrets.rotation.journal import CREDENTIAL, Journal
    from aigw_secrets.rotation.pending import UNTRUSTED

    key = pc.key
    journal = Journal(root, f"rotate-{key}", CREDENTIAL)
    if journal.active and journal.data.get(UNTRUSTED):  # the last run refused the recipients .sops.yaml gives
        return {**row, "state": "needs operator", "needs_operator": str(journal.data[UNTRUSTED])}
    if journal.state != Step.PLANNED:
        return row
    if superseded_journal(root, cfg, pc):  # the next `rotate --due` closes it
        return {**row, "state": "idle"}
    reason = str(journal.data.get("needs_operator") or "no new credential was obtained")
    return {**row, "state": "needs operator", "needs_operator": reason}


_WRITTEN = (
    Step.ENCRYPTED,
    Step.STORED,
    Step.WRITTEN,
)  # from here on the Secret (or the store) may hold the new value: only finishing makes sense


def _cancel(root: Path, name: str, fmt: str) -> int:
    """Abort a journaled credential rotation that has not written the Secret yet."""
    from aigw_secrets.rotation import pending
    from aigw_secrets.rotation.journal import CREDENTIAL, Journal, repo_lock

    cfg = gateway_config.load(root)
    pc = find_provider(cfg, name)
    with repo_lock(root):
        journal = Journal(root, f"rotate-{pc.key}", CREDENTIAL)
        state = journal.state
        if not state:
            raise ConfigError(f"{pc.key}: no credential rotation in progress; nothing to cancel")
        if state in _WRITTEN:
            raise DataError(
                f"{pc.key}: the rotation already wrote {journal.data.get('file')} (step {state}); it cannot "
                f"be cancelled, finish it with `aigw-secrets rotate --provider {pc.key}`"
            )
        pending.abandon(root, pc, "the rotation was cancelled")  # a minted key is revoked at once
        journal.step(Step.ABORTED, error="cancelled")
    if fmt == "json":
        output.json_result({"cancelled": pc.key, "at_step": state, "summary": f"rotation of {pc.key} cancelled"})
    else:
        output.status(
            "cancelled", journal.path.name, f"rotation of {pc.key} at step {state}; the Secret was not changed"
        )
        output.summary(f"rotation of {pc.key} cancelled")
    return 0


# --- revoking the previous credential once the cluster serves its successor ----------


def _access(opts: RevokeOptions) -> ClusterAccess:
    from aigw_secrets.rotation.revoke import ClusterAccess

    return ClusterAccess(opts.kubeconfig, opts.context, opts.kustomization)


def _revoke(root: Path, name: str, fmt: str, opts: RevokeOptions) -> int:
    from aigw_secrets.rotation.journal import repo_lock
    from aigw_secrets.rotation.revoke import revoke

    cfg = gateway_config.load(root)
    pc = find_provider(cfg, name)
    with repo_lock(root):
        result = revoke(root, cfg, pc, _access(opts), ref=opts.ref, assume_applied=opts.assume_applied)
    if fmt == "json":
        output.result(json.dumps(result, indent=2))
    elif result["state"] in ("revoke by hand", "revoked by hand"):
        output.info(f"{pc.key}: {result['state']}: {result['why']}")
    elif result["state"] != "revoked":
        output.info(f"{pc.key}: {result['state']}")
        if result["state"] != "nothing to revoke":
            output.hint(
                f"run `aigw-secrets rotate --revoke {pc.key}` again once every gate holds (`aigw-secrets "
                "status` shows them)"
            )
    else:
        output.summary(f"{pc.key}: previous credential {result.get('ref')} revoked")
    return 0


def _revoke_due(root: Path, opts: RevokeOptions, *, skip: set[str] | None = None) -> Revocations:
    from aigw_secrets.rotation.revoke import revoke_due

    return revoke_due(
        root, gateway_config.load(root), _access(opts), assume_applied=opts.assume_applied, skip=skip or set()
    )


def _with_revocations(summary: Summary, code: int) -> int:
    """Revocation errors count like rotation errors; a gate that needs the cluster and cannot reach it is 75."""
    if code:
        return code
    if summary.get("revoke_errors"):
        return int(summary["revoke_errors"][0]["exit_code"])
    if any(w.get("no_cluster_access") for w in summary.get("waiting", [])):
        return int(ExitCode.LOCKED)
    return 0
