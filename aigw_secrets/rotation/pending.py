"""A minted credential between "created at the provider" and "written to the Secret".

The value is never in plaintext on disk: it is held only in ``pending-<provider>.sops.yaml`` in the records
directory (``.git/aigw-secrets/``, or ``$AIGW_SECRETS_STATE_DIR``'s subdirectory for the repository),
encrypted by the real sops (over stdin) to the same recipients as the provider's Secret file.
Each step is journaled *before* it is taken (``mint-<provider>.json`` there):

    minting  the deterministic name and the provider's keys before the call are recorded
    minted   the provider answered and the encrypted pending entry is on disk
    complete the Secret holds the value (pending entry wiped)   |   aborted: revoked, start over

A kill -9 anywhere leaves either nothing at the provider, or a key found again by its name (or,
for AWS before it is tagged, by being new since ``minting``) that, without a captured value, is an
orphan and is revoked before minting again; or a pending entry that the resumed run finishes with.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import yaml

from aigw_secrets import kube, output, yamlload
from aigw_secrets.errors import AigwError, ConfigError, DataError
from aigw_secrets.gateway import config as gateway_config
from aigw_secrets.gateway import credentials, marks, routing, secretdoc, yamltext
from aigw_secrets.gateway.config import Config, ProviderConfig
from aigw_secrets.rotation.issuers.interface import Issuer, Minted
from aigw_secrets.rotation.journal import Journal, Step, Transitions, records_dir
from aigw_secrets.rotation.results import MintState
from aigw_secrets.sops import binary as sops_binary
from aigw_secrets.sops import files as sops_files
from aigw_secrets.util import atomic_write, confined

A = marks.ANNOTATION
ISSUER_ANNOTATION = f"{A}/issuer"
REF_ANNOTATION = f"{A}/credential-ref"
PREVIOUS_ISSUED = f"{A}/previous-issued-ref"

# ai_gateway_<p>_issuer value -> "module:Class" (imported only when used: boto3 & co. are extras).
ISSUERS: dict[str, str] = {
    "self": "self_issued:SelfIssued",
    "aws-iam": "aws_iam:AwsIam",
    "openai-admin": "openai_admin:OpenAIAdmin",
    "anthropic-admin": "anthropic_admin:AnthropicAdmin",
    "gcp-iam": "gcp_iam:GcpIam",
    "entra-graph": "entra_graph:EntraGraph",
    "azure-arm": "azure_arm:AzureArm",
}

MINT: Transitions = {
    "": (Step.MINTING,),
    Step.MINTING: (Step.MINTING, Step.MINTED, Step.ABORTED),
    Step.MINTED: (Step.COMPLETE, Step.ABORTED),
}


def issuer_for(pc: ProviderConfig) -> Issuer | None:
    kind = pc.settings.get("issuer")
    if not kind or kind == "operator":
        return None
    if kind not in ISSUERS:
        raise ConfigError(
            f"cluster.yaml: ai_gateway_{pc.key}_issuer: unknown issuer {kind!r} (known: operator, {', '.join(ISSUERS)})"
        )
    module, cls = ISSUERS[str(kind)].split(":")
    issuer: Issuer = getattr(importlib.import_module(f"aigw_secrets.rotation.issuers.{module}"), cls)(pc)
    return issuer


def _paths(root: Path, pc: ProviderConfig) -> tuple[Journal, Path]:
    records = records_dir(root)  # what was minted at the provider: kept where a fresh clone finds it too
    return Journal(root, f"mint-{pc.key}", MINT, directory=records), records / f"pending-{pc.key}.sops.yaml"


journal_paths = _paths


def _secret_rel(root: Path, cfg: Config, pc: ProviderConfig) -> str:
    return str((cfg.output_dir / secretdoc.secret_file(pc)).relative_to(root))


def _sops_rel(root: Path, cfg: Config, pc: ProviderConfig) -> str:
    """The path whose .sops.yaml creation rule encrypts the pending entry: the SOPS Secret's, also
    with the external-secrets backend (its ExternalSecret file is plain YAML, matched by no rule)."""
    return str((cfg.output_dir / secretdoc.sops_secret_file(pc)).relative_to(root))


def _annotations(root: Path, cfg: Config, pc: ProviderConfig) -> dict[str, str]:
    try:
        doc = yamlload.load((root / _secret_rel(root, cfg, pc)).read_text("utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return {}
    return kube.annotations_of(doc)


UNTRUSTED = "untrusted_recipients"  # the credential journal's field `status` reads


def owner(pc: ProviderConfig) -> str:
    """The name ``vouched`` records ``pc``'s credential under, wherever its files are."""
    return f"provider:{pc.key}"


def recipient_targets(root: Path, cfg: Config, pc: ProviderConfig) -> list[str]:
    """The SOPS files a rotation of ``pc`` writes its credential into; the first one's committed
    recipients are the baseline."""
    targets: list[str] = []
    if pc.backend != gateway_config.EXTERNAL_SECRETS:
        targets.append(_secret_rel(root, cfg, pc))
    if pc.settings.get("server_secret"):
        targets.append(str(companion_file(cfg, pc, str(pc.settings["server_secret"])).relative_to(root)))
    return targets


def recipients_check(
    root: Path,
    cfg: Config,
    pc: ProviderConfig,
    journal: Journal | None,
    *,
    accept: bool = False,
    remember: bool = True,
) -> set[str] | None:
    """Before anything is minted: sops would encrypt the new credential (the SOPS Secret, the model
    server's Secret) only to recipients of the Secret as committed (with the external-secrets backend:
    of the model server's Secret) that the bot saw there before (``vouched``), or in the operator's
    trust list. Otherwise exit 11, the refusal recorded in the rotation's ``journal`` and nothing else
    changed, so the run after an operator acted (``updatekeys``, ``AIGW_SECRETS_TRUSTED_RECIPIENTS``,
    ``--accept-recipients`` at a terminal) proceeds. Returns the baseline, or None when nothing is
    checked (the operator accepted what sops gives, or no SOPS file is written). ``remember``: a Secret
    seen for the first time is recorded (not by ``doctor``, which only looks)."""
    targets = recipient_targets(root, cfg, pc)
    if accept or not targets:
        return None
    from aigw_secrets.rotation import vouched
    from aigw_secrets.sops import recipients

    committed = recipients.committed(root / targets[0], targets[0])
    baseline = vouched.baseline(root, targets[0], committed, remember=remember, owner=owner(pc))
    server_key = [str(pc.settings.get("server_secret_key") or "VLLM_API_KEY")]
    keys = {rel: [pc.auth.secret_key or "apiKey"] for rel in targets} | {rel: server_key for rel in targets[1:]}
    if pc.backend == gateway_config.EXTERNAL_SECRETS:
        keys = {rel: server_key for rel in targets}  # only the model server's Secret is a SOPS file
    try:
        recipients.require(
            sops_binary.Sops(root),
            targets,
            baseline,
            committed=committed,
            keys=keys,
            what=f"{pc.key}'s new credential",
            secret=targets[0],
            fix=(
                f"An operator: `aigw-secrets updatekeys {targets[0]}`, or `aigw-secrets rotate --provider "
                f"{pc.key} --accept-recipients` at a terminal"
            ),
        )
    except recipients.UntrustedRecipients as exc:
        if journal is not None:
            journal.save(**{UNTRUSTED: str(exc)})
        raise
    if journal is not None and journal.data.get(UNTRUSTED):
        journal.save(**{UNTRUSTED: None})
    return baseline


def obtain(
    root: Path, cfg: Config, pc: ProviderConfig, *, fresh: bool, force: bool = False
) -> credentials.Credential | None:
    """The new credential from the provider's issuer (minting or resuming), or None: operator-supplied.

    ``fresh``: the credential rotation is just planned. A pending value the Secret already holds
    then belongs to a finished rotation whose clean-up was interrupted.
    """
    issuer = issuer_for(pc)
    if issuer is None or not issuer.mints:
        return None
    journal, pending = _paths(root, pc)
    rel = _sops_rel(root, cfg, pc)
    if (
        fresh
        and journal.active
        and journal.data["state"] == Step.MINTED
        and _annotations(root, cfg, pc).get(REF_ANNOTATION) == journal.data["ref"]
    ):
        finish(root, pc)
    if journal.active and journal.data["state"] == Step.MINTED:
        value = _read_pending(root, pending, rel)
        if value is not None:
            return credentials.Credential(value, f"issuer {issuer.kind} ({journal.data['ref']}, pending)")
        output.warn(
            f"{pc.key}: the pending credential {journal.data['ref']} cannot be decrypted here; revoking it "
            "and minting again"
        )
        _revoke_new(root, cfg, pc, issuer, journal, str(journal.data["ref"]))
    if journal.active and journal.data["state"] == Step.MINTING:
        _clean_orphans(root, cfg, pc, issuer, journal)
    ann = _annotations(root, cfg, pc)
    generation = secretdoc.generation(ann, _secret_rel(root, cfg, pc)) + 1
    name = issuer.name_for(generation)
    current = _current_value(root, cfg, pc)
    # the key the Secret holds, identified at the provider from the decrypted value (never the annotation)
    previous = issued = None
    if current is not None and issuer.records and issuer.generations:
        from aigw_secrets.rotation import trust

        listed = issuer.listed()
        held = issuer.identify(current, listed)
        previous = next(iter(held)) if len(held) == 1 else None
        issued = previous if any(k.ref == previous and trust.minted_here(root, pc, issuer, k) for k in listed) else None
    elif ann.get(ISSUER_ANNOTATION) == issuer.kind:
        previous = issued = ann.get(REF_ANNOTATION)
    issuer.prepare(ann, current)
    issuer.make_room(
        force=force, keep=previous, revoke=lambda ref: _guarded_delete(root, cfg, pc, issuer, ref, operator_named=force)
    )
    journal.data = {}
    journal.step(
        Step.MINTING,
        name=name,
        generation=generation,
        before=[k.ref for k in issuer.listed()],
        previous_ref=issued,
        previous_kind=ann.get(ISSUER_ANNOTATION),
    )
    minted = issuer.mint(name)
    from aigw_secrets.rotation import trust

    trust.record_minted(root, pc, minted.ref)
    bad = _unusable(pc, minted.value)
    if bad:  # never stored, never written: revoked at once, and the next run starts over
        journal.step(Step.MINTED, ref=minted.ref, companions=[])
        output.warn(f"{pc.key}: the provider returned a new credential {minted.ref} with {bad}; revoking it")
        _revoke_new(root, cfg, pc, issuer, journal, minted.ref)
        from aigw_secrets.rotation.issuers.interface import IssuerError

        raise IssuerError(
            f"{pc.key}: the provider returned a new credential with {bad}; it was revoked and nothing was written"
        )
    _write_pending(root, pending, rel, minted)
    journal.step(Step.MINTED, ref=minted.ref, companions=sorted(minted.companions))
    output.status(
        "minted", minted.ref, f"{pc.provider.title}: new credential {minted.name}, held sops-encrypted until written"
    )
    return credentials.Credential(minted.value, f"issuer {issuer.kind} ({minted.ref})")


def _clean_orphans(root: Path, cfg: Config, pc: ProviderConfig, issuer: Issuer, journal: Journal) -> None:
    """A run killed between the provider call and the pending entry: what it made has no value here.
    Only a key the provider shows under this rotation's name, or (AWS, killed before tagging) an
    untagged key that appeared during this bot's own mint, and never the key the Secret holds."""
    from aigw_secrets.rotation import trust

    before = set(journal.field("before", list, []))
    name = journal.data.get("name")
    for key in issuer.listed():
        named = bool(key.name) and key.name == name and issuer.minted_for(key)
        appeared = not key.name and key.ref not in before and issuer.records
        if not (named or appeared):
            continue
        if trust.guard(root, cfg, pc, issuer, key.ref, ours=True) is None:
            continue
        output.warn(
            f"revoking orphan {key.ref} ({key.name or 'untagged'}): created by an interrupted run, its value "
            "was never captured"
        )
        if issuer.soft_revoke:
            issuer.disable(key.ref)
        issuer.delete(key.ref)
    journal.step(Step.ABORTED, error="orphan revoked")


def _revoke_new(root: Path, cfg: Config, pc: ProviderConfig, issuer: Issuer, journal: Journal, ref: str) -> None:
    """The credential this bot just minted is revoked: only if the provider shows it under this
    Secret's name (or the bot's ledger has it), and never the key the Secret holds."""
    from aigw_secrets.rotation import trust

    if (
        trust.guard(root, cfg, pc, issuer, ref, fresh=True) is not None
    ):  # minted under this Secret's name, never the held key
        if issuer.soft_revoke:
            issuer.disable(ref)
        issuer.delete(ref)
    journal.step(Step.ABORTED, error="pending credential revoked")


def _guarded_delete(
    root: Path, cfg: Config, pc: ProviderConfig, issuer: Issuer, ref: str, *, operator_named: bool = False
) -> None:
    from aigw_secrets.rotation import trust

    if trust.guard(root, cfg, pc, issuer, ref, operator_named=operator_named) is not None:
        issuer.delete(ref)


_MAX_VALUE = 64 * 1024


def _unusable(pc: ProviderConfig, value: str) -> str:
    """Why a freshly minted value cannot go into a Secret ("" when it can): control characters (a CR/LF
    would split a header or a credentials file) or an absurd size. Structured values (AWS credentials
    file, GCP key JSON) may have line breaks; nothing else may."""
    if not value or len(value) > _MAX_VALUE:
        return "an absurd size"
    structured = pc.auth.credential in ("aws", "gcp-sa")
    allowed = "\n" if structured else ""
    if any((ord(c) < 32 and c not in allowed) or 0x7F <= ord(c) < 0xA0 for c in value):
        return "control characters"
    return ""


def _current_value(root: Path, cfg: Config, pc: ProviderConfig) -> str | None:
    from aigw_secrets.rotation import trust

    try:
        return trust.current_value(root, cfg, pc)
    except AigwError:
        return None


def abandon(root: Path, pc: ProviderConfig, why: str, cfg: Config | None = None) -> None:
    """The minted credential failed validation: revoke it at once; the current one is untouched."""
    issuer = issuer_for(pc)
    journal, pending = _paths(root, pc)
    if issuer is None or not journal.active or journal.data.get("state") != Step.MINTED:
        return
    output.warn(f"{pc.key}: revoking the new credential {journal.data['ref']}: {why}")
    _revoke_new(root, cfg or gateway_config.load(root), pc, issuer, journal, str(journal.data["ref"]))
    pending.unlink(missing_ok=True)


def new_annotations(root: Path, pc: ProviderConfig) -> dict[str, str]:
    """What the new Secret records about its issuer (ids only): written with the new generation."""
    journal, _ = _paths(root, pc)
    if not journal.active or journal.data.get("state") != Step.MINTED:
        return {}
    out = {ISSUER_ANNOTATION: str(pc.settings["issuer"]), REF_ANNOTATION: str(journal.data["ref"])}
    if journal.data.get("previous_ref"):
        out[PREVIOUS_ISSUED] = str(journal.data["previous_ref"])
    return out


def landed(root: Path, cfg: Config, pc: ProviderConfig, baseline: set[str] | None = None) -> list[str]:
    """After the Secret is written: the companion Secrets (model server), in the same change, encrypted
    only to ``baseline`` (the Secret's recipients as committed) and the operator's trust list, unless
    None (an operator accepted what sops gives)."""
    journal, pending = _paths(root, pc)
    if not journal.active or journal.data.get("state") != Step.MINTED:
        return []
    written: list[str] = []
    if journal.data.get("companions"):
        value = _read_pending(root, pending, _sops_rel(root, cfg, pc))
        if value is None:
            raise DataError(f"{pending}: cannot decrypt the pending credential to write the model server's Secret")
        for target in journal.data["companions"]:
            written.append(write_companion(root, cfg, pc, str(target), value, baseline))
    return written


def finish(root: Path, pc: ProviderConfig) -> None:
    """The rotation is complete: close the mint journal and wipe the pending entry."""
    journal, pending = _paths(root, pc)
    if journal.active and journal.data.get("state") == Step.MINTED:
        journal.step(Step.COMPLETE)
    pending.unlink(missing_ok=True)


def companion_file(cfg: Config, pc: ProviderConfig, target: str) -> Path:
    ns, _, name = target.partition("/")
    return cfg.output_dir / f"{name}.{ns}.secret.sops.yaml"


def write_companion(
    root: Path, cfg: Config, pc: ProviderConfig, target: str, value: str, baseline: set[str] | None = None
) -> str:
    ns, _, name = target.partition("/")
    if not ns or not name:
        raise ConfigError(f"cluster.yaml: ai_gateway_{pc.key}_server_secret must be NAMESPACE/NAME, not {target!r}")
    key = str(pc.settings.get("server_secret_key") or "VLLM_API_KEY")
    doc = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": name,
            "namespace": ns,
            "labels": dict(marks.LABELS),
            "annotations": {f"{A}/paired-with": f"{cfg.namespace}/{secretdoc.secret_name(pc)}"},
        },
        "type": "Opaque",
        "stringData": {key: value},
    }
    path = confined(root, companion_file(cfg, pc, target))  # never outside the repository
    rel = str(path.relative_to(root))
    data = sops_files.encrypt(
        sops_binary.Sops(root),
        yamltext.dump([doc], marks.SECRET_HEADER, markers=False).encode(),
        rel,
        verify=False,
    )
    _refuse_plain(data, value, rel)
    if baseline is not None:
        from aigw_secrets.sops import recipients

        recipients.check_written(data, rel, baseline, what="model server's Secret")
    atomic_write(path, data, mode=0o600)
    from aigw_secrets.rotation import vouched

    first = recipient_targets(root, cfg, pc)[0]  # with external-secrets, the credential's own file
    vouched.remember(root, rel, data, owner(pc) if rel == first else None)
    return rel


def _refuse_plain(data: bytes, value: str, rel: str) -> None:
    if value.encode() in data:  # a creation rule that leaves stringData in the clear must not get this far
        raise DataError(
            f"{rel}: sops left the value unencrypted (check encrypted_regex in .sops.yaml); nothing written"
        )
    sops_files.require_encrypted(data, rel)


def _write_pending(root: Path, pending: Path, rel: str, minted: Minted) -> None:
    doc = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": minted.name, "annotations": {REF_ANNOTATION: minted.ref}},
        "stringData": {"value": minted.value},
    }
    text = yaml.safe_dump(doc, sort_keys=False)
    try:
        data = sops_binary.Sops(root).encrypt(text.encode(), rel)  # stdin; encrypted as the Secret file is
    except AigwError:
        raise
    _refuse_plain(data, minted.value, rel)
    atomic_write(pending, data, mode=0o600)


def _read_pending(root: Path, pending: Path, rel: str) -> str | None:
    try:
        plain: Any = yamlload.load(sops_binary.Sops(root).decrypt(pending.read_bytes(), rel))
        return str(plain["stringData"]["value"])
    except (OSError, AigwError, KeyError, TypeError, yaml.YAMLError):
        return None


def state(root: Path, pc: ProviderConfig) -> MintState:
    journal, pending = _paths(root, pc)
    return {"mint_state": journal.data.get("state") if journal.active else None, "pending": pending.exists()}


POLICY_ANNOTATION = routing.POLICY_ANNOTATION


def bump_policy(root: Path, cfg: Config, pc: ProviderConfig) -> list[str]:
    """Record the Secret's generation on the provider's BackendSecurityPolicy
    (``routing.mark_generation``: the Envoy AI Gateway v1.1.0 stale-credential mitigation), through
    the same function ``set``/``edit`` use. Returns the file it changed."""
    from aigw_secrets.gateway.plan import sync_policy_generation

    secret = cfg.output_dir / secretdoc.secret_file(pc)
    try:
        changed = sync_policy_generation(secret, secret.read_bytes())
    except OSError:
        return []
    return [str(changed.relative_to(root))] if changed else []
