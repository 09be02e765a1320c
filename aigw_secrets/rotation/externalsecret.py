"""Credential rotation and revocation gates with the External Secrets Operator backend.

The same protocol as for a SOPS Secret (``rotation/credential.py``), the value going to the store:

    planned → obtained (minted by the issuer, or from the operator) → validated at the provider
    → stored: a new store version (the previous one stays: AWSPREVIOUS / the older KV version)
    → written: the ExternalSecret pinned to the new version, new content hash, new ``force-sync``
      (Flux applies it; ESO syncs at once) → complete

Each step is journaled before the next; a killed run resumes without writing a second version.
Revocation (``rotation/revoke.py``) then waits, besides the grace period, Flux and re-validation,
for ESO's own word: the live ExternalSecret ``Ready`` (``SecretSynced``) with a ``refreshTime``
after the store write, and the Secret it made carrying the new content hash.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from aigw_secrets import kube, output, yamlload
from aigw_secrets.errors import AigwError, ConfigError, CredentialError, DataError, NoInputError
from aigw_secrets.gateway import (
    contenthash,
    credentials,
    externalsecrets,
    marks,
    operator,
    secretdoc,
    validate,
    yamltext,
)
from aigw_secrets.gateway.config import Config, ProviderConfig
from aigw_secrets.rotation import pending, storepin
from aigw_secrets.rotation.journal import Journal, Step, Transitions, crash_point, now, parse_stamp, record, stamp
from aigw_secrets.rotation.results import Rollout, Rotated, StatusRow
from aigw_secrets.stores import Store, holds, open_store
from aigw_secrets.util import atomic_write

A = marks.ANNOTATION
ESO_CREDENTIAL: Transitions = {
    "": (Step.PLANNED,),
    Step.PLANNED: (Step.OBTAINED, Step.ABORTED),
    Step.OBTAINED: (Step.OBTAINED, Step.VALIDATED, Step.ABORTED),
    Step.VALIDATED: (Step.OBTAINED, Step.STORED, Step.COMPLETE, Step.ABORTED),
    Step.STORED: (Step.STORED, Step.WRITTEN, Step.COMPLETE),
    Step.WRITTEN: (Step.COMPLETE,),
}


def store_for(cfg: Config) -> Store:
    if cfg.external_secrets is None:  # pragma: no cover - config.load sets it for these providers
        raise ConfigError("external-secrets backend without ai_gateway_external_secrets_* settings")
    return open_store(cfg.external_secrets)


@dataclass(frozen=True)
class Current:
    """An ExternalSecret this tool wrote, read back from its file: where its value lives (the store
    entry, its properties, the version it pins, the template that makes the Secret's keys) and its
    annotations (rotation state, content hash)."""

    key: str
    properties: tuple[str, ...]
    version: str | None
    template: Mapping[str, str]
    annotations: Mapping[str, str]  # as Kubernetes holds them: text (marks.annotations_of)


def current(path: Path, rel: str) -> Current:
    try:
        doc = yamlload.load(path.read_text("utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        raise NoInputError(f"{rel}: missing or unreadable; run `aigw-secrets generate` first") from None
    info = externalsecrets.read(doc)
    if info is None or not marks.is_ours(path):
        raise ConfigError(f"{rel}: not an ExternalSecret written by aigw-secrets")
    key, props, version, template = info
    return Current(key, tuple(props), version, template, kube.annotations_of(doc))


def value_of(store: Store, doc: Current, pc: ProviderConfig, cfg: Config) -> str | None:
    """The credential the ExternalSecret ``doc`` makes, read from the store (None: not there). Only
    from the entry this tool made under the configured name: a merged commit that points the
    ExternalSecret at another entry never gets that entry read (and sent for validation, or into git)."""
    if cfg.external_secrets is None:
        return None
    expected = externalsecrets.remote_key(
        cfg.external_secrets, secretdoc.secret_namespace(pc, cfg), secretdoc.secret_name(pc)
    )
    if doc.key != expected:
        raise DataError(
            f"ExternalSecret {secretdoc.secret_name(pc)} names store entry {doc.key}, not {expected}; not reading "
            "another entry"
        )
    if store.ours(doc.key) is not True:
        raise DataError(f"{store.describe(doc.key)}: not created by aigw-secrets; not reading it")
    props = store.get(doc.key, externalsecrets.store_version(doc.version) if store.versioned else None)
    if props is None:
        return None
    return externalsecrets.render(dict(doc.template), props).get(pc.auth.secret_key or "")


class Helpers(NamedTuple):
    """What ``credential.py`` shares with this module (passed in: the two never import each other)."""

    identity: Callable[[ProviderConfig, str], str]
    fingerprint: Callable[[str], str]
    same_value: Callable[[object, str], bool]


def rotate(
    root: Path,
    cfg: Config,
    pc: ProviderConfig,
    *,
    source: str | None,
    verify: bool,
    interactive: bool,
    policy: operator.Policy | None,
    helpers: Helpers,
    accept_recipients: bool = False,
) -> Rotated:
    """One rotation through the store; called by ``credential.rotate_credential`` under the repository lock."""
    identity, fingerprint, _same_value = helpers

    from aigw_secrets.gateway.plan import check_store_credentials

    policy = policy if policy is not None else operator.load(root)
    check_store_credentials(cfg)
    store = store_for(cfg)
    assert cfg.external_secrets is not None  # noqa: S101 - store_for checked it
    path = cfg.output_dir / secretdoc.secret_file(pc)
    rel = str(path.relative_to(root))
    doc = current(path, rel)
    expected = externalsecrets.remote_key(
        cfg.external_secrets, secretdoc.secret_namespace(pc, cfg), secretdoc.secret_name(pc)
    )
    where = storepin.location(cfg.external_secrets, expected)
    storepin.check(root, pc.key, where, accept=accept_recipients, rel=rel)  # before any mint
    src = credentials.source_for(pc, source)
    journal = Journal(root, f"rotate-{pc.key}", ESO_CREDENTIAL)
    if not journal.active:
        journal.data = {}
        journal.step(
            Step.PLANNED,
            provider=pc.key,
            file=rel,
            backend="external-secrets",
            source=src.describe() if src else "environment",
        )
    else:
        output.info(f"resuming rotation of {pc.key} at step {journal.field('state', str)}")
    baseline = pending.recipients_check(root, cfg, pc, journal, accept=accept_recipients)
    cred = pending.obtain(root, cfg, pc, fresh=journal.data.get("state") == Step.PLANNED) if source is None else None
    cred = cred or credentials.obtain(pc, source, interactive=interactive, policy=policy)
    cred = credentials.given_or_prompted(pc, cred, interactive=interactive, rotating=True)
    secret_key = pc.auth.secret_key or ""
    ann = doc.annotations
    written = contenthash.hash_matches(ann.get(marks.HASH_ANNOTATION), {secret_key: cred.value})
    same_as_journal = _same_value(journal.data.get("fingerprint"), cred.value)
    if written and not same_as_journal:
        journal.step(Step.ABORTED, error="unchanged")
        raise CredentialError(f"{pc.provider.title} ({pc.name}): the new credential is the one {rel} already names")
    if not same_as_journal:
        try:
            old = value_of(store, doc, pc, cfg)
        except AigwError:
            old = None
        journal.step(
            Step.OBTAINED,
            fingerprint=fingerprint(cred.value),
            old_ref=identity(pc, old) if old else None,
            validated=None,
            version=None,
        )
    fp = str(journal.data["fingerprint"])
    warning = ""
    if journal.data.get("validated") != fp:
        if verify:
            try:
                outcome = validate.check(pc, cred.value, policy=policy)
            except AigwError as exc:
                journal.step(Step.ABORTED, error=type(exc).__name__)
                pending.abandon(root, pc, f"it failed validation ({type(exc).__name__})")
                raise
            warning = outcome.warning
            if warning:
                output.warn(warning)
            journal.step(Step.VALIDATED, validated=fp, http_status=outcome.status)
        else:
            output.warn(f"{pc.provider.title}: --no-verify: the new credential was NOT checked against the provider")
            journal.step(Step.VALIDATED, validated=fp, http_status=None)
    if not written:
        new_doc, props = externalsecrets.for_provider(
            pc, cfg, cfg.external_secrets, cred.value, version_ref=None, content_hash=None, rotation={}, force_sync=None
        )
        key = doc.key
        if key != expected:
            raise DataError(f"{rel}: names store entry {key}, not {expected}; run `aigw-secrets generate` first")
        if journal.data.get("state") != Step.STORED:
            version = store.put(key, props)  # a new version; the previous one stays readable
            storepin.remember(root, pc.key, where)
            journal.step(Step.STORED, version=version, stored_at=stamp())
            crash_point("stored")
        version = str(journal.data["version"])
        if not holds(store.get(key, version if store.versioned else None), props):
            raise DataError(
                f"{store.describe(key)}: version {version} does not hold what was written; {rel} not changed"
            )
        stored_at = str(journal.data["stored_at"])
        revoke_after = stamp((parse_stamp(stored_at) or now()) + dt.timedelta(hours=cfg.grace_hours))
        rotation = secretdoc.rotation_annotations(
            secretdoc.generation(ann, rel) + 1,
            pc.settings["rotation_period_days"],
            rotated_at=stored_at,
            previous_ref=journal.data.get("old_ref") or "unknown",
            revoke_after=revoke_after,
        )
        rotation.update(pending.new_annotations(root, pc))
        from aigw_secrets.gateway.plan import pin

        new_doc, _ = externalsecrets.for_provider(
            pc,
            cfg,
            cfg.external_secrets,
            cred.value,
            version_ref=None,
            content_hash=contenthash.content_hash({secret_key: cred.value}),
            rotation=rotation,
            force_sync=stored_at,
        )
        new_doc = pin(new_doc, store, version)
        atomic_write(path, externalsecrets.HEADER.encode() + yamltext.dump([new_doc], markers=False).encode())
        journal.step(Step.WRITTEN, revoke_after=revoke_after)
    companions = pending.landed(root, cfg, pc, baseline) + pending.bump_policy(root, cfg, pc)
    final = current(path, rel)
    revoke_after = str(final.annotations.get(f"{A}/previous-revoke-after") or journal.data.get("revoke_after") or "")
    journal.step(Step.COMPLETE, completed_at=stamp(), revoke_after=revoke_after)
    pending.finish(root, pc)
    pinned = final.annotations.get(externalsecrets.STORE_VERSION)
    output.status(
        "rotated",
        rel,
        (
            f"{pc.provider.title}: store version {pinned}; previous credential {journal.data.get('old_ref')} safe "
            f"to revoke after {revoke_after}"
        ),
    )
    issuer = pc.settings.get("issuer") or "operator"
    return {
        "provider": pc.key,
        "file": rel,
        "files": [rel, *companions],
        "issuer": issuer,
        "previous": journal.data.get("old_ref"),
        "revoke_after": revoke_after,
        "store_version": pinned,
        "warning": warning,
    }


def status(root: Path, cfg: Config, pc: ProviderConfig) -> StatusRow:
    """``status`` row for a provider on the external-secrets backend (no store or cluster call)."""
    from aigw_secrets.rotation.journal import CREDENTIAL

    path = cfg.output_dir / secretdoc.secret_file(pc)
    rel = str(path.relative_to(root))
    row: StatusRow = {"provider": pc.key, "auth": pc.auth.name, "file": rel, "backend": "external-secrets"}
    try:
        doc = current(path, rel)
    except AigwError as exc:
        return {**row, "state": "missing", "error": str(exc), "overdue": True}
    ann = doc.annotations
    rotated = parse_stamp(ann.get(f"{A}/rotated-at"))
    t = now()
    due = rotated + dt.timedelta(days=int(pc.settings["rotation_period_days"])) if rotated else t
    revoke_after = parse_stamp(ann.get(f"{A}/previous-revoke-after"))
    previous = ann.get(f"{A}/previous-credential-ref")
    journal = Journal(root, f"rotate-{pc.key}", CREDENTIAL)
    return {
        **row,
        "generation": secretdoc.generation(ann, rel),
        "rotated_at": stamp(rotated) if rotated else None,
        "age_days": (t - rotated).days if rotated else None,
        "next_due": stamp(due),
        "data_key_next_due": None,
        "state": f"in progress ({journal.data.get('state')})" if journal.active else "idle",
        "previous_credential": previous,
        "previous_revoke_after": stamp(revoke_after) if revoke_after else None,
        "safe_to_revoke_now": bool(previous and revoke_after and t >= revoke_after),
        "overdue": t >= due,
        "data_key_overdue": False,
        "remote_key": doc.key,
        "store_version": ann.get(externalsecrets.STORE_VERSION),
        "sync": _last_sync(root, pc),
    }


def _last_sync(root: Path, pc: ProviderConfig) -> str:
    """ESO's sync state as the last revocation check saw it (``status`` makes no cluster call)."""
    states: Transitions = {
        "": (Step.WAITING,),
        Step.WAITING: (Step.WAITING, Step.DISABLED, Step.COMPLETE),
        Step.DISABLED: (Step.DISABLED, Step.COMPLETE),
    }
    journal = record(root, f"revoke-{pc.key}", states)  # read only (revoke.py owns its transitions)
    for name, ok, why in journal.data.get("gates") or []:
        if name == "in-cluster":
            return ("synced: " if ok else "not synced: ") + str(why)
    return "not checked"


# --- revocation gate -------------------------------------------------------------------------


def in_cluster_gate(cluster: Any, cfg: Config, pc: ProviderConfig, t: Rollout) -> tuple[bool, str]:
    """ESO says Ready (SecretSynced) with a refreshTime after the store write, and the Secret it made
    carries the new content hash."""
    ns, name = secretdoc.secret_namespace(pc, cfg), secretdoc.secret_name(pc)
    live = cluster.external_secret(ns, name)
    if live is None:
        return False, f"ExternalSecret {ns}/{name} is not in the cluster yet"
    status = live.get("status") or {}
    ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
    if not ready or ready.get("status") != "True":
        why = f"{ready.get('reason')}: {ready.get('message') or ''}".strip(": ") if ready else "no Ready condition"
        return False, f"ExternalSecret {ns}/{name} is not Ready ({why})"
    written = parse_stamp(t.stored_at)
    refreshed = parse_stamp(status.get("refreshTime"))
    if written is None or refreshed is None or refreshed < written:
        return (
            False,
            (
                f"ExternalSecret {ns}/{name} last synced {status.get('refreshTime') or 'never'}, before the store "
                f"write at {t.stored_at}"
            ),
        )
    secret = cluster.read_secret(ns, name)
    live_hash = kube.annotations_of(secret).get(marks.HASH_ANNOTATION)
    if secret is None or live_hash != t.content_hash:
        return False, f"Secret {ns}/{name} does not carry generation {t.generation} yet"
    return (
        True,
        (
            f"ExternalSecret {ns}/{name} Ready, synced {status.get('refreshTime')}; Secret carries generation "
            f"{t.generation}"
        ),
    )


def current_value(root: Path, cfg: Config, pc: ProviderConfig, rel: str) -> str:
    """The credential the ExternalSecret names, from the store (revocation's re-validation)."""
    value = value_of(store_for(cfg), current(root / rel, rel), pc, cfg)
    if value is None:
        raise DataError(f"{rel}: the store has no entry at the version it pins")
    return value


def _register() -> None:
    from aigw_secrets.rotation import trust

    trust.VALUE_READERS["external-secrets"] = current_value  # the bot's guards read the store's value


_register()
