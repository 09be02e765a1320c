"""Credential rotation (after AWS Secrets Manager's create/set/test/finish) and due-ness.

Obtain the new value from its source → validate it against the provider → write the re-encrypted
Secret (new generation, ``previous-credential-ref`` = the old credential's identity, never its value,
and the time after which it is safe to revoke) → complete. Each step is journaled before it is taken
and is idempotent, so a killed run resumes where it stopped. One rotation per repository at a time.
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import yaml

from aigw_secrets import kube, output, yamlload
from aigw_secrets.errors import AigwError, ConfigError, CredentialError, ExitCode, NoInputError, SupersededError
from aigw_secrets.gateway import config as gateway_config
from aigw_secrets.gateway import contenthash, credentials, marks, operator, plan, secretdoc, validate
from aigw_secrets.gateway.config import Config, ProviderConfig
from aigw_secrets.gateway.credentials import identity as identity  # the console id; lives with the credential kinds
from aigw_secrets.rotation import pending, vouched
from aigw_secrets.rotation.datakeys import rotate_data_keys
from aigw_secrets.rotation.journal import CREDENTIAL, DATA_KEY, Journal, Step, now, parse_stamp, repo_lock, stamp
from aigw_secrets.rotation.results import Rotated, StatusRow, Summary
from aigw_secrets.sops import binary as sops_binary
from aigw_secrets.sops import files as sops_files
from aigw_secrets.sops import recipients as sopsrecipients
from aigw_secrets.util import atomic_write, confined

A = marks.ANNOTATION


def fingerprint(value: str) -> str:
    """The journal's record of which value a run obtained: salted scrypt (``contenthash.content_hash``),
    so even the untracked journal holds nothing a dictionary can reverse."""
    return contenthash.content_hash({"journal": value})


def _same_value(stored: object, value: str) -> bool:
    return isinstance(stored, str) and contenthash.hash_matches(stored, {"journal": value})


def find_provider(cfg: Config, name: str) -> ProviderConfig:
    for pc in (*cfg.providers, *cfg.mcp_backends):  # MCP servers' API keys are managed Secrets too
        if name in (pc.key, pc.name, pc.key.replace("_", "-")):
            return pc
    known = ", ".join(pc.key for pc in (*cfg.providers, *cfg.mcp_backends)) or "none"
    raise ConfigError(f"unknown or disabled provider {name!r} (enabled: {known})")


def _current(path: Path, rel: str) -> dict[str, Any]:
    try:
        doc = yamlload.load(path.read_text("utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        raise NoInputError(f"{rel}: missing or unreadable; run `aigw-secrets generate` first") from None
    if not isinstance(doc, dict) or "sops" not in doc:
        raise ConfigError(f"{rel}: not a SOPS-encrypted Secret")
    return doc


def _validate(
    root: Path,
    cfg: Config,
    pc: ProviderConfig,
    value: str,
    journal: Journal,
    fp: str,
    *,
    verify: bool,
    policy: operator.Policy,
) -> str:
    """Check the new value against the provider (unless --no-verify) and journal it; returns the
    provider's warning. A refused value is abandoned: it never lands."""
    if not verify:
        output.warn(f"{pc.provider.title}: --no-verify: the new credential was NOT checked against the provider")
        journal.step(Step.VALIDATED, validated=fp, http_status=None)
        return ""
    try:
        outcome = validate.check(pc, value, policy=policy)
    except AigwError as exc:
        journal.step(Step.ABORTED, error=type(exc).__name__)
        pending.abandon(root, pc, f"it failed validation ({type(exc).__name__})", cfg)
        raise
    if outcome.warning:
        output.warn(outcome.warning)
    journal.step(Step.VALIDATED, validated=fp, http_status=outcome.status)
    return outcome.warning


def rotate_credential(
    root: Path,
    cfg: Config,
    pc: ProviderConfig,
    *,
    source: str | None = None,
    verify: bool = True,
    interactive: bool = False,
    locked: bool = False,
    policy: operator.Policy | None = None,
    accept_recipients: bool = False,
) -> Rotated:
    """Staged rotation of one provider's credential; see the module docstring.

    ``policy`` is the operator's (``gateway/operator.py``); by default it is read from the
    environment and the untracked operator config. ``accept_recipients``: an operator at a terminal
    accepts the recipients .sops.yaml gives now (``recipients_check``).
    """
    if not locked:
        with repo_lock(root):
            return rotate_credential(
                root,
                cfg,
                pc,
                source=source,
                verify=verify,
                interactive=interactive,
                locked=True,
                policy=policy,
                accept_recipients=accept_recipients,
            )
    if not pc.auth.secret_key:
        raise ConfigError(f"{pc.provider.title}: auth {pc.auth.name} is keyless; there is no credential to rotate")
    if pc.backend == gateway_config.EXTERNAL_SECRETS:  # through the secret store
        from aigw_secrets.rotation import externalsecret

        helpers = externalsecret.Helpers(identity, fingerprint, _same_value)
        return externalsecret.rotate(
            root,
            cfg,
            pc,
            source=source,
            verify=verify,
            interactive=interactive,
            policy=policy,
            helpers=helpers,
            accept_recipients=accept_recipients,
        )
    policy = policy if policy is not None else operator.load(root)
    path = confined(root, cfg.output_dir / secretdoc.secret_file(pc))  # checked before any provider call
    if pc.settings.get("server_secret"):
        confined(root, pending.companion_file(cfg, pc, str(pc.settings["server_secret"])))
    rel = str(path.relative_to(root))
    current = _current(path, rel)
    src = credentials.source_for(pc, source)  # parsed first: a malformed spec is never journaled
    journal = Journal(root, f"rotate-{pc.key}", CREDENTIAL)
    if not journal.active:
        journal.data = {}
        journal.step(
            Step.PLANNED,
            rotation_id=str(uuid.uuid4()),
            provider=pc.key,
            file=rel,
            source=src.describe() if src else "environment",
        )
    else:
        output.info(
            f"resuming rotation {journal.field('rotation_id', str)} of {pc.key} at step {journal.field('state', str)}"
        )
    baseline = pending.recipients_check(root, cfg, pc, journal, accept=accept_recipients)  # before anything is minted
    # --- a configured issuer mints the new value (held sops-encrypted until written) ---
    cred = pending.obtain(root, cfg, pc, fresh=journal.data.get("state") == Step.PLANNED) if source is None else None
    cred = cred or credentials.obtain(pc, source, interactive=interactive, policy=policy)
    cred = credentials.given_or_prompted(pc, cred, interactive=interactive, rotating=True)
    annotations = kube.annotations_of(current)
    new_hash_matches = contenthash.hash_matches(
        annotations.get(marks.HASH_ANNOTATION), {pc.auth.secret_key: cred.value}
    )
    same_as_journal = _same_value(journal.data.get("fingerprint"), cred.value)
    if new_hash_matches and not same_as_journal:
        journal.step(Step.ABORTED, error="unchanged")
        raise CredentialError(f"{pc.provider.title} ({pc.name}): the new credential is the one already in {rel}")
    if (
        not new_hash_matches
        and not same_as_journal
        and contenthash.was_replaced(annotations, {pc.auth.secret_key: cred.value})
    ):
        journal.step(Step.ABORTED, error="superseded")  # an older credential never comes back unasked
        raise SupersededError(
            f"{pc.provider.title} ({pc.name}): the new credential from {cred.source} is one {rel} held before "
            "and a rotation replaced; give a new one"
        )
    if not same_as_journal:  # a new value (or the source changed since a crash)
        old_ref = _old_identity(root, pc, path, rel)
        fp = fingerprint(cred.value)
        journal.step(Step.OBTAINED, fingerprint=fp, old_ref=old_ref, validated=None)
    fp = str(journal.data["fingerprint"])
    warning = ""
    if journal.data.get("validated") != fp:
        warning = _validate(root, cfg, pc, cred.value, journal, fp, verify=verify, policy=policy)
    revoke_after = stamp(now() + dt.timedelta(hours=cfg.grace_hours))
    if not new_hash_matches:  # not written yet (a resumed run may find it already written)
        generation = secretdoc.generation(annotations, rel) + 1
        rotation = secretdoc.rotation_annotations(
            generation,
            pc.settings["rotation_period_days"],
            rotated_at=stamp(),
            previous_ref=journal.data.get("old_ref") or "unknown",
            revoke_after=revoke_after,
        )
        rotation.update(pending.new_annotations(root, pc))  # issuer, credential-ref, previous-issued-ref
        replaced = contenthash.carry_replaced(annotations, {pc.auth.secret_key: cred.value})
        if replaced:
            rotation[marks.REPLACED_ANNOTATION] = replaced
        doc = secretdoc.secret(pc, cfg, cred.value, rotation=rotation)
        # In place: the diff shows the value, the rotation annotations and the sops block only.
        new, verified = plan.encrypt_secret(sops_binary.Sops(root), rel, doc, sops_files.read(path))
        if baseline is not None:
            sopsrecipients.check_written(new, rel, baseline, what="Secret")
        journal.step(Step.ENCRYPTED)
        atomic_write(path, new)
        vouched.remember(root, rel, new, pending.owner(pc))
        journal.step(Step.WRITTEN, verified=verified)
    companions = pending.landed(root, cfg, pc, baseline) + pending.bump_policy(
        root, cfg, pc
    )  # model server's Secret; BSP reconcile
    journal.step(Step.COMPLETE, completed_at=stamp(), revoke_after=journal.data.get("revoke_after") or revoke_after)
    pending.finish(root, pc)  # wipe the pending entry
    output.status(
        "rotated",
        rel,
        (
            f"{pc.provider.title}; previous credential {journal.data.get('old_ref')} safe to revoke after "
            f"{journal.data['revoke_after']}"
        ),
    )
    return {
        "provider": pc.key,
        "file": rel,
        "files": [rel, *companions],
        "issuer": pc.settings.get("issuer") or "operator",
        "previous": journal.data.get("old_ref"),
        "revoke_after": journal.data["revoke_after"],
        "warning": warning,
    }


def _old_identity(root: Path, pc: ProviderConfig, path: Path, rel: str) -> str | None:
    try:
        plain = yamlload.load(sops_files.decrypt(sops_binary.Sops(root), path.read_bytes(), rel))
        return identity(pc, str(plain["stringData"][pc.auth.secret_key]))
    except (AigwError, KeyError, TypeError, yaml.YAMLError):
        return None  # no key here to read it: recorded as unknown


def secret_status(root: Path, cfg: Config, pc: ProviderConfig) -> StatusRow:
    if pc.backend == gateway_config.EXTERNAL_SECRETS:
        from aigw_secrets.rotation import externalsecret

        return externalsecret.status(root, cfg, pc)
    path = cfg.output_dir / secretdoc.secret_file(pc)
    rel = str(path.relative_to(root))
    row: StatusRow = {"provider": pc.key, "auth": pc.auth.name, "file": rel}
    try:
        doc = _current(path, rel)
    except AigwError as exc:
        return {**row, "state": "missing", "error": str(exc), "overdue": True}
    ann = kube.annotations_of(doc)
    sops_meta: dict[str, Any] = doc["sops"] if isinstance(doc.get("sops"), dict) else {}
    rotated = parse_stamp(ann.get(f"{A}/rotated-at")) or parse_stamp(sops_meta.get("lastmodified"))
    modified = parse_stamp(sops_meta.get("lastmodified"))
    period = dt.timedelta(days=int(pc.settings["rotation_period_days"]))
    dk_period = dt.timedelta(days=cfg.data_key_days)
    t = now()
    due = rotated + period if rotated else t
    dk_due = modified + dk_period if modified else t
    journal = Journal(root, f"rotate-{pc.key}", CREDENTIAL)
    revoke_after = parse_stamp(ann.get(f"{A}/previous-revoke-after"))
    previous = ann.get(f"{A}/previous-credential-ref")
    return {
        **row,
        "generation": secretdoc.generation(ann, rel),
        "rotated_at": stamp(rotated) if rotated else None,
        "age_days": (t - rotated).days if rotated else None,
        "next_due": stamp(due),
        "data_key_next_due": stamp(dk_due),
        "state": f"in progress ({journal.data.get('state')})" if journal.active else "idle",
        "previous_credential": previous,
        "previous_revoke_after": stamp(revoke_after) if revoke_after else None,
        "safe_to_revoke_now": bool(previous and revoke_after and t >= revoke_after),
        "overdue": t >= due,
        "data_key_overdue": t >= dk_due,
    }


def superseded_journal(root: Path, cfg: Config, pc: ProviderConfig, *, close: bool = False) -> bool:
    """A rotation that never obtained a value ("needs operator") whose Secret got a new credential
    since it was planned (``generate``, ``set``, ``edit``): nothing is left for it to do. ``close``
    ends it (under the repository lock), so cron stops asking for an operator."""
    journal = Journal(root, f"rotate-{pc.key}", CREDENTIAL)
    if journal.state != Step.PLANNED:
        return False
    planned = next(
        (
            parse_stamp(h.get("at"))
            for h in journal.data.get("history", [])
            if isinstance(h, dict) and h.get("state") == Step.PLANNED
        ),
        None,
    )
    try:
        doc = yamlload.load((cfg.output_dir / secretdoc.secret_file(pc)).read_text("utf-8")) or {}
        rotated = parse_stamp(kube.annotations_of(doc).get(f"{A}/rotated-at"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError, AttributeError):
        return False
    if planned is None or rotated is None or rotated < planned:
        return False
    if close:
        journal.step(Step.ABORTED, error="superseded: the Secret got a new credential another way")
        output.info(f"{pc.key}: the pending rotation is closed; the Secret got a new credential at {stamp(rotated)}")
    return True


def _observe(root: Path, cfg: Config) -> None:
    """Record the recipients of the Secrets and the MCP seed the bot has not seen yet (``vouched``)."""
    owners: list[tuple[str, str]] = []
    for pc in (*cfg.providers, *cfg.mcp_backends):
        owners += [(pending.owner(pc), rel) for rel in pending.recipient_targets(root, cfg, pc)[:1]]
    if cfg.mcp_seed is not None:
        from aigw_secrets.rotation import mcpseed

        owners.append((mcpseed.OWNER, mcpseed.seed_rel(root, cfg)))
    rels = [rel for pc in (*cfg.providers, *cfg.mcp_backends) for rel in pending.recipient_targets(root, cfg, pc)]
    # the first run also records every file .sops.yaml governs, and which file each secret is in
    vouched.observe_files(root, [*rels, *(rel for _, rel in owners)], owners)


def rotate_due(root: Path, *, verify: bool = True) -> Summary:
    """Everything past its period that can be rotated unattended; the rest needs an operator."""
    from aigw_secrets import adminenv

    cfg = gateway_config.load(root)
    summary: Summary = {"rotated": [], "needs_operator": [], "errors": [], "data_keys_rotated": 0}
    with repo_lock(root), adminenv.unattended():
        _observe(root, cfg)
        dk_files = []
        for pc in (p for p in (*cfg.providers, *cfg.mcp_backends) if p.auth.secret_key):
            superseded_journal(root, cfg, pc, close=True)  # generate/set already gave it a new value
            row = secret_status(root, cfg, pc)
            journal = Journal(root, f"rotate-{pc.key}", CREDENTIAL)
            if row.get("overdue") or journal.active:
                try:
                    summary["rotated"].append(rotate_credential(root, cfg, pc, verify=verify, locked=True))
                    continue
                except sopsrecipients.UntrustedRecipients as exc:
                    summary["needs_operator"].append(
                        {"provider": pc.key, "reason": str(exc), "untrusted_recipients": True}
                    )
                except CredentialError as exc:
                    summary["needs_operator"].append({"provider": pc.key, "reason": str(exc)})
                except AigwError as exc:
                    summary["errors"].append({"provider": pc.key, "error": str(exc), "exit_code": int(exc.code)})
            if row.get("data_key_overdue") and row.get("state") != "missing":
                dk_files.append(root / row["file"])
        from aigw_secrets.rotation.mcpseed import seed_status

        seed = seed_status(root, cfg)  # the MCP seed's data key is due like the others'
        if seed and seed.get("data_key_overdue") and seed.get("state") != "missing":
            dk_files.append(root / seed["file"])
        if dk_files or Journal(root, "data-key", DATA_KEY).active:
            result = rotate_data_keys(root, dk_files, locked=True)
            summary["data_keys_rotated"] = result["data_keys_rotated"]
            summary["errors"] += result["data_key_errors"]
    return summary


def exit_code(summary: Summary) -> int:
    codes = [e.get("exit_code", int(ExitCode.SOPS_FAILED)) for e in summary["errors"]]
    if codes:
        return int(codes[0])
    return int(ExitCode.MANUAL_ACTION) if summary["needs_operator"] else 0
