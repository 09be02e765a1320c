"""What ``generate`` writes, computed in memory: every output file, and every Secret encrypted and
verified, before the first file is replaced. Unchanged inputs change no file: a Secret whose credential
still matches its stored fingerprint is not re-encrypted, and routes keep their ``modelsCreatedAt``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from aigw_secrets import kube, output, yamlload
from aigw_secrets.errors import (
    AigwError,
    ConfigError,
    DataError,
    NoKeyError,
    OutputError,
    SupersededError,
)
from aigw_secrets.gateway import contenthash, credentials, marks, mcp, operator, routing, secretdoc, yamltext
from aigw_secrets.gateway.config import Config, ProviderConfig
from aigw_secrets.sops import binary as sops_binary
from aigw_secrets.sops import files as sops_files
from aigw_secrets.util import parallel_map, stamp

ROUTES_FILE = "routes.yaml"
KUSTOMIZATION = "kustomization.yaml"


class Planned(NamedTuple):
    rel: str  # file name inside the output directory
    content: bytes | None  # None = keep the existing file as it is
    note: str = ""


class SecretJob(NamedTuple):
    pc: ProviderConfig | None  # None: the MCP session seed
    rel: str
    plaintext: str
    document: dict[str, Any]


def check_writable(out: Path, root: Path) -> None:
    """Fail before any work when the output directory cannot be created or written."""
    probe = out
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise OutputError(f"{probe.relative_to(root)}: cannot write {out.relative_to(root)} (a file is in the way)")
    if not os.access(probe, os.W_OK | os.X_OK):
        why = "Read-only file system" if os.statvfs(probe).f_flag & os.ST_RDONLY else "permission denied"
        raise OutputError(f"{probe}: cannot write ({why})")


def plan_secret(
    pc: ProviderConfig,
    cfg: Config,
    out: Path,
    source: str | None,
    interactive: bool,
    *,
    run_commands: bool = True,
    policy: operator.Policy | None = None,
    replace_rotated: bool = False,
) -> tuple[Planned, SecretJob | None]:
    rel = secretdoc.secret_file(pc)
    target = out / rel
    cred = credentials.obtain(pc, source, interactive=interactive, run_commands=run_commands, policy=policy)
    current = read_documents(target)
    current_doc = current[0] if len(current) == 1 and isinstance(current[0], dict) else None
    # What the Secret must look like apart from its value (the value is encrypted; the shape is not).
    shape = secretdoc.secret(pc, cfg, "", fingerprint=False)
    if cred is None:
        # No new value offered: keep the existing encrypted Secret if it still describes this provider.
        if current_doc and marks.is_ours(target) and _same_shape(current_doc, shape):
            return Planned(rel, None, "kept; no new credential given"), None
        cred = credentials.given_or_prompted(pc, cred, interactive=interactive, rotating=False)
    key = pc.auth.secret_key or ""
    stored = kube.annotations_of(current_doc)
    stored_hash = stored.get(marks.HASH_ANNOTATION)
    kept = current_doc and marks.is_ours(target) and _same_shape(current_doc, shape)
    if kept and contenthash.hash_matches(stored_hash, {key: cred.value}):  # scrypt: only when needed
        return Planned(rel, None, f"credential unchanged ({cred.source})"), None
    ours = bool(kept)  # the same Secret (a changed auth mode starts a new record: not a rotation)
    if ours and not replace_rotated and _replaced_before(pc, stored, cred.value):
        raise SupersededError(_superseded_message(pc, (out / rel).relative_to(cfg.root), stored, cred.source))
    # A new or changed credential starts a new generation (the rotation history of this Secret).
    generation = str(stored.get(f"{marks.ANNOTATION}/generation", "0")).strip()
    previous = int(generation) if current_doc and generation.isdigit() and len(generation) < 10 else 0
    rotation = secretdoc.rotation_annotations(previous + 1, pc.settings["rotation_period_days"], rotated_at=stamp())
    if ours:  # the record of the credential this one replaces is kept, never dropped
        rotation.update(_replacement_record(pc, cfg, out, rel, stored, {key: cred.value}, run_commands=run_commands))
    doc = secretdoc.secret(pc, cfg, cred.value, rotation=rotation)
    text = yamltext.dump([doc], marks.SECRET_HEADER, markers=False)
    return Planned(rel, None, f"from {cred.source}"), SecretJob(pc, rel, text, doc)


def _replaced_before(pc: ProviderConfig, stored: dict[str, Any], value: str) -> bool:
    """Did the Secret hold ``value`` before a rotate / set / edit replaced it? Its salted record of
    replaced values says; a Secret from before that record: the previous credential's console id."""
    if contenthash.was_replaced(stored, {pc.auth.secret_key or "": value}):
        return True
    previous = stored.get(f"{marks.ANNOTATION}/previous-credential-ref")
    return (
        marks.REPLACED_ANNOTATION not in stored
        and bool(previous)
        and previous != "unknown"
        and credentials.identity(pc, value) == previous
    )


def _superseded_message(pc: ProviderConfig, rel: Path, stored: dict[str, Any], source: str) -> str:
    at = stored.get(f"{marks.ANNOTATION}/rotated-at") or "a later run"
    generation = stored.get(f"{marks.ANNOTATION}/generation") or "?"
    return (
        f"{rel}: {pc.key}'s credential from {source} is one this Secret held before and a rotation replaced "
        f"(generation {generation}, {at}); not writing it back (it may be revoked). Unset it or give the current one; "
        f"to write it anyway: generate --replace-rotated"
    )


def _replacement_record(
    pc: ProviderConfig,
    cfg: Config,
    out: Path,
    rel: str,
    stored: dict[str, Any],
    data: dict[str, str],
    *,
    run_commands: bool,
) -> dict[str, str]:
    """What the new generation records about the value it replaces: its salted fingerprint among the
    replaced ones, its console id and when it may be revoked (``previous-credential-ref`` /
    ``previous-revoke-after``, as ``rotate`` writes them), and a minted key it replaces as the one
    pending revocation (``previous-issued-ref``)."""
    import datetime as dt

    from aigw_secrets.util import now

    issuer_ann, ref_ann, previous_issued = (
        f"{marks.ANNOTATION}/{n}" for n in ("issuer", "credential-ref", "previous-issued-ref")
    )  # rotation/pending's

    record: dict[str, str] = {}
    replaced = contenthash.carry_replaced(stored, data)
    if replaced:
        record[marks.REPLACED_ANNOTATION] = replaced
    old_ref = _old_identity(pc, cfg.root, out / rel) if run_commands else None  # --check decrypts nothing
    record[f"{marks.ANNOTATION}/previous-credential-ref"] = old_ref or str(
        stored.get(f"{marks.ANNOTATION}/previous-credential-ref") or "unknown"
    )
    record[f"{marks.ANNOTATION}/previous-revoke-after"] = stamp(now() + dt.timedelta(hours=cfg.grace_hours))
    minted = stored.get(ref_ann)
    if minted and stored.get(issuer_ann):  # the key replaced was minted: revoke it through its issuer
        record[issuer_ann] = str(stored[issuer_ann])
        record[previous_issued] = str(minted)
        waiting = stored.get(previous_issued)
        if waiting and waiting != minted:
            output.warn(
                f"{pc.key}: {waiting} was still waiting to be revoked; revoke it with `aigw-secrets rotate "
                f"--revoke {pc.key} --ref {waiting}`"
            )
    return record


def _old_identity(pc: ProviderConfig, root: Path, path: Path) -> str | None:
    try:
        plain = yamlload.load(
            sops_files.decrypt(sops_binary.Sops(root), path.read_bytes(), str(path.relative_to(root)))
        )
        return credentials.identity(pc, str(plain["stringData"][pc.auth.secret_key]))
    except (AigwError, OSError, KeyError, TypeError, ValueError, yaml.YAMLError):
        return None  # no key here to read it: the record says so ("unknown")


def plan_mcp_seed(cfg: Config, out: Path) -> tuple[Planned, SecretJob | None]:
    """The controller's MCP session seed: made once, then kept (a new seed ends every live MCP
    session; ``rotate`` changes it with the fallback procedure)."""
    rel = mcp.MCP_SEED_FILE
    target = out / rel
    current = read_documents(target)
    if len(current) == 1 and isinstance(current[0], dict) and marks.is_ours(target):
        data = kube.mapping(current[0].get("stringData") or current[0].get("data"))
        fallback = "-" if mcp.MCP_FALLBACK_KEY in data else None
        if _same_shape(current[0], mcp.mcp_seed_secret(cfg, "-", fallback, fingerprint=False)):
            return Planned(rel, None, "kept; the seed changes only with rotate"), None
    rotation = secretdoc.rotation_annotations(1, 90, rotated_at=stamp())
    doc = mcp.mcp_seed_secret(cfg, mcp.new_mcp_seed(), rotation=rotation)
    text = yamltext.dump([doc], marks.SECRET_HEADER, markers=False)
    return Planned(rel, None, "new random seed"), SecretJob(None, rel, text, doc)


def _same_shape(current: dict[str, Any], expected: dict[str, Any]) -> bool:
    """Same kind, metadata (but the fingerprint) and Secret keys: the ciphertext can stay."""

    def strip(doc: dict[str, Any]) -> tuple[Any, ...]:
        meta = dict(kube.mapping(doc.get("metadata")))
        ann = meta.get("annotations") or {}
        if isinstance(ann, dict):  # anything else differs from what generate writes anyway
            ann = {k: v for k, v in ann.items() if k not in marks.STATE_ANNOTATIONS}
        meta["annotations"] = ann
        data = kube.mapping(doc.get("stringData") or doc.get("data"))
        return doc.get("apiVersion"), doc.get("kind"), doc.get("type"), meta, sorted(str(k) for k in data)

    return strip(current) == strip(expected)


def encrypt_all(jobs: list[SecretJob], root: Path, rel_out: Path) -> dict[str, tuple[bytes, str]]:
    """Encrypt (and verify) every Secret in parallel sops processes; nothing is written here."""
    if not jobs:
        return {}
    sops = sops_binary.Sops(root)

    def one(job: SecretJob) -> tuple[str, tuple[bytes, str]]:
        rel_path = str(rel_out / job.rel)
        current = root / rel_path
        new, verified = encrypt_secret(
            sops, rel_path, job.document, current.read_bytes() if marks.is_ours(current) else None
        )
        if not new.startswith(marks.MARKER.encode()):
            raise DataError(f"{rel_path}: sops output lost the header comment; refusing to write it")
        return job.rel, (
            new,
            "encrypted and verified" if verified else "encrypted; not verified: no private key to decrypt it here",
        )

    return dict(parallel_map(one, jobs, max_workers=max(1, min(len(jobs), os.cpu_count() or 1))))


def encrypt_secret(sops: sops_binary.Sops, rel: str, doc: dict[str, Any], current: bytes | None) -> tuple[bytes, bool]:
    """The encrypted Secret ``doc`` and whether it was verified. An existing Secret (``current``) is
    changed in place: values, annotations and the sops block only, in the file's own style. A new
    one (or one whose shape changed) is our canonical text, encrypted keeping that layout, so it has
    one house style whatever the .sops.yaml emitter settings. Without a private key (a rotation bot
    holding only the recipients) the Secret is written anew, unverified."""
    if current is not None:
        try:
            new = sops_files.update(sops, current, rel, lambda before: secretdoc.secret_changes(before, doc))
        except NoKeyError:
            new = None
        else:
            if new is not None:
                sops_files.require_encrypted(new, rel)
                _check_in_place(sops, rel, doc, new)
                return new, True
    text = yamltext.dump([doc], marks.SECRET_HEADER, markers=False).encode()
    try:
        new, verified = sops_files.encrypt(sops, text, rel), True
    except NoKeyError:
        new, verified = sops_files.encrypt(sops, text, rel, verify=False), False
    sops_files.require_encrypted(new, rel)
    return new, verified


def _check_in_place(sops: sops_binary.Sops, rel: str, doc: dict[str, Any], new: bytes) -> None:
    """The Secret changed in place holds ``doc``'s values and annotations (anyone else's annotations
    and comments may be there too)."""
    back = yamlload.load(sops_files.decrypt(sops, new, rel))
    ann = ((back.get("metadata") or {}).get("annotations") or {}) if isinstance(back, dict) else {}
    wanted = doc["metadata"].get("annotations") or {}
    if back.get("stringData") != doc["stringData"] or any(ann.get(k) != v for k, v in wanted.items()):
        raise DataError(f"{rel}: the updated Secret does not decrypt to what was generated; nothing written")


def read_documents(path: Path) -> list[Any]:
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    try:
        return [d for d in yamlload.safe_load_all(text) if d is not None]
    except yaml.YAMLError:
        return []


def sync_policy_generation(secret_path: Path, secret_text: bytes) -> Path | None:
    """After ``set``/``edit`` changed a managed Secret's credential: carry its new generation to the
    provider's BackendSecurityPolicy next to it (``<name>.yaml``, ``routing.mark_generation``), as
    ``rotate`` and ``generate`` do, so ``generate --check`` agrees with the files. Returns the file changed."""
    from aigw_secrets.util import atomic_write

    suffix = next((x for x in (".secret.sops.yaml", ".externalsecret.yaml") if secret_path.name.endswith(x)), "")
    if not suffix:
        return None
    policy = secret_path.with_name(secret_path.name[: -len(suffix)] + ".yaml")
    try:
        doc = yamlload.load(secret_text)
        generation = kube.annotations_of(doc).get(f"{marks.ANNOTATION}/generation")
        if not generation or not marks.is_ours(policy):
            return None
        text = policy.read_text("utf-8")
        docs = [d for d in yamlload.load_all(text) if d is not None]
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    if not all(isinstance(d, dict) for d in docs) or not routing.mark_generation(docs, str(generation)):
        return None
    header = text.split("\n", 1)[0] + "\n"  # our own header line, naming the config file
    atomic_write(policy, yamltext.dump(docs, header).encode())
    return policy


def secret_generation(pc: ProviderConfig, out: Path, job: SecretJob | StoreJob | None) -> str | None:
    """The generation ``pc``'s Secret carries after this run (the new one when ``job`` writes it),
    for ``routing.mark_generation``: generate emits what rotation's policy bump wrote."""
    docs = [job.document] if job else read_documents(out / secretdoc.secret_file(pc))
    generation = kube.annotations_of(docs[0] if docs else None).get(f"{marks.ANNOTATION}/generation")
    return str(generation) if generation else None


# --- the External Secrets Operator backend -------------------------------------------


class StoreJob(NamedTuple):
    """A credential bound for the secret store; its ExternalSecret is finished once the store says
    which version it wrote (``store_and_render``)."""

    pc: ProviderConfig
    rel: str
    value: str
    document: dict[str, Any]  # the ExternalSecret, version pin not yet filled in
    props: dict[str, str]


def plan_external_secret(
    pc: ProviderConfig,
    cfg: Config,
    out: Path,
    source: str | None,
    interactive: bool,
    *,
    run_commands: bool = True,
    policy: operator.Policy | None = None,
) -> tuple[Planned, StoreJob | None]:
    """As ``plan_secret``, for a provider whose value lives in the store: nothing is written to the
    store here (``--check`` plans too); an unchanged credential (its content hash) writes nothing."""
    from aigw_secrets.gateway import externalsecrets

    store = cfg.external_secrets
    if store is None:  # pragma: no cover - config.load sets it whenever a provider uses the backend
        raise DataError(f"{pc.key}: external-secrets backend without store settings")
    rel = secretdoc.secret_file(pc)
    target = out / rel
    cred = credentials.obtain(pc, source, interactive=interactive, run_commands=run_commands, policy=policy)
    current = read_documents(target)
    current_doc = current[0] if len(current) == 1 and isinstance(current[0], dict) else None
    shape_doc, _ = externalsecrets.for_provider(
        pc, cfg, store, "-", version_ref=None, content_hash=None, rotation={}, force_sync=None
    )
    kept = bool(
        current_doc and marks.is_ours(target) and externalsecrets.shape(current_doc) == externalsecrets.shape(shape_doc)
    )
    if cred is None:
        if kept:
            return Planned(rel, None, "kept; no new credential given"), None
        cred = credentials.given_or_prompted(pc, cred, interactive=interactive, rotating=False)
    key = pc.auth.secret_key or ""
    stored = kube.annotations_of(current_doc)
    if kept and contenthash.hash_matches(stored.get(marks.HASH_ANNOTATION), {key: cred.value}):
        return Planned(rel, None, f"credential unchanged ({cred.source})"), None
    generation = str(stored.get(f"{marks.ANNOTATION}/generation", "0")).strip()
    previous = int(generation) if current_doc and generation.isdigit() and len(generation) < 10 else 0
    at = stamp()
    rotation = secretdoc.rotation_annotations(previous + 1, pc.settings["rotation_period_days"], rotated_at=at)
    doc, props = externalsecrets.for_provider(
        pc,
        cfg,
        store,
        cred.value,
        version_ref=None,
        content_hash=contenthash.content_hash({key: cred.value}),
        rotation=rotation,
        force_sync=at,
    )
    return Planned(rel, None, f"from {cred.source}, to the {store.provider} store"), StoreJob(
        pc, rel, cred.value, doc, props
    )


def store_and_render(jobs: list[StoreJob], cfg: Config) -> dict[str, tuple[bytes, str]]:
    """Write each value as a new store version, read it back, and render its ExternalSecret pinned
    to that version. Runs before any file is replaced: a failure leaves the files as they were (a
    version written before it is simply not referenced; the cluster keeps reading the pinned one)."""
    if not jobs:
        return {}
    from aigw_secrets import stores
    from aigw_secrets.gateway import externalsecrets

    assert cfg.external_secrets is not None  # noqa: S101 - set whenever a StoreJob exists
    check_store_credentials(cfg)
    store = stores.open_store(cfg.external_secrets)
    out: dict[str, tuple[bytes, str]] = {}
    for job in jobs:
        doc = pin(job.document, store, store.put(remote_of(job.document), job.props))
        at = stamp()  # after the write: the revocation gate wants a sync later than this
        doc["metadata"]["annotations"].update({f"{marks.ANNOTATION}/rotated-at": at, externalsecrets.FORCE_SYNC: at})
        version = doc["metadata"]["annotations"].get(externalsecrets.STORE_VERSION)
        if not stores.holds(store.get(remote_of(doc), version if store.versioned else None), job.props):
            raise DataError(
                f"{job.rel}: the {store.kind} store does not return what was written to {remote_of(doc)}; "
                "nothing written"
            )
        out[job.rel] = (
            externalsecrets.HEADER.encode() + yamltext.dump([doc], markers=False).encode(),
            f"value in {store.describe(remote_of(doc))} version {version or '(unversioned)'}, verified",
        )
    return out


def remote_of(doc: dict[str, Any]) -> str:
    return str(doc["spec"]["data"][0]["remoteRef"]["key"])


def pin(doc: dict[str, Any], store: Any, version: str) -> dict[str, Any]:
    """``doc`` with every remoteRef pinned to ``version`` and the store-version annotation set."""
    import copy

    from aigw_secrets.gateway import externalsecrets

    doc = copy.deepcopy(doc)
    ref = store.version_ref(version) if store.versioned else None
    for item in doc["spec"]["data"]:
        if ref:
            item["remoteRef"]["version"] = ref
        else:
            item["remoteRef"].pop("version", None)
    doc["metadata"].setdefault("annotations", {})[externalsecrets.STORE_VERSION] = version
    return doc


def check_store_credentials(cfg: Config) -> None:
    """An AWS store takes boto3's default chain, which reads $AWS_ACCESS_KEY_ID first: where that holds
    an AWS provider's (Bedrock's) own key, the store would be written with it. Then the store needs its
    own profile ($AIGW_SECRETS_STORE_AWS_PROFILE)."""
    import os

    store = cfg.external_secrets
    if (
        store is None
        or store.provider != "aws"
        or os.environ.get("AIGW_SECRETS_STORE_AWS_PROFILE")
        or not os.environ.get("AWS_ACCESS_KEY_ID")
    ):
        return
    aws = [
        pc.key
        for pc in cfg.providers
        if pc.backend == "external-secrets" and pc.auth.credential == "aws" and "AWS_ACCESS_KEY_ID" in pc.auth.env
    ]
    if aws:
        raise ConfigError(
            f"$AWS_ACCESS_KEY_ID is {aws[0]}'s credential, and the AWS Secrets Manager store would be written with it; "
            "give the store its own profile: set $AIGW_SECRETS_STORE_AWS_PROFILE"
        )
