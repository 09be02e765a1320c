"""``aigw-secrets migrate --to external-secrets|sops``: move the managed credentials
between SOPS Secrets in git and a secret store read by the External Secrets Operator.

To the store: each managed SOPS Secret is decrypted (in memory), its value written to the store as
a new version and read back; only when the store returns exactly that value is the Secret file
replaced by its ExternalSecret (the rotation state annotations carried over), ``kustomization.yaml``
updated and ``ai_gateway_secret_backend`` flipped in the config, all in one journaled commit.
Back (``--to sops``): the value is read from the store at the version the ExternalSecret pins,
encrypted by sops (over stdin) and decrypted again to check it before the ExternalSecret is replaced;
the store entry stays (delete it yourself once Flux applied the change). Only the Secrets ``generate``
made for providers and MCP servers move: bootstrap Secrets (the store's access token, the age key,
the MCP session seed, anything else) stay SOPS.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aigw_secrets import kube, output, yamlload
from aigw_secrets.errors import ConfigError, DataError
from aigw_secrets.gateway import config as gateway_config
from aigw_secrets.gateway import contenthash, externalsecrets, marks, routing, secretdoc, yamltext
from aigw_secrets.gateway.plan import pin, read_documents
from aigw_secrets.rotation import storepin
from aigw_secrets.rotation.journal import COMMIT_JOURNAL, CREDENTIAL, Journal, commit_files, repo_lock, stamp
from aigw_secrets.sops import binary as sops_binary
from aigw_secrets.sops import files as sops_files
from aigw_secrets.stores import open_store

KEY = "ai_gateway_secret_backend"


def migrate(root: Path, *, to: str, config_path: Path | None = None, fmt: str = "text") -> int:
    root = root.resolve()
    output.begin(fmt)
    if to not in gateway_config.BACKENDS:
        raise ConfigError(f"--to: {to!r} is not one of {', '.join(gateway_config.BACKENDS)}")
    with repo_lock(root):
        before = gateway_config.load(root, config_path)
        text = before.path.read_text("utf-8")
        new_text = set_backend(text, to, toml=before.path.suffix == ".toml")
        after = _load_text(root, before.path, new_text)
        moving = [
            (old, new) for old, new in zip(_managed(before), _managed(after), strict=True) if old.backend != new.backend
        ]
        for pc, _ in moving:
            journal = Journal(root, f"rotate-{pc.key}", CREDENTIAL)
            if journal.active:
                raise ConfigError(
                    f"{pc.key}: a credential rotation is in progress (step {journal.data.get('state')}); "
                    "finish or cancel it before migrating"
                )
        from aigw_secrets.gateway.plan import check_store_credentials

        check_store_credentials(after if to == gateway_config.EXTERNAL_SECRETS else before)
        out = before.output_dir
        writes: dict[Path, bytes] = {}
        removals: list[Path] = []
        notes: list[tuple[str, str]] = []
        for old, new in moving:
            src, dst = out / secretdoc.secret_file(old), out / secretdoc.secret_file(new)
            if not marks.is_ours(src):
                raise ConfigError(
                    f"{src.relative_to(root)}: missing or not written by aigw-secrets; run `aigw-secrets "
                    "generate` first"
                )
            if dst.exists() and not marks.is_ours(dst):
                raise ConfigError(
                    f"{dst.relative_to(root)}: exists and was not written by aigw-secrets; not replacing it"
                )
            if to == gateway_config.EXTERNAL_SECRETS:
                content, note = _to_store(root, after, new, src)
            else:
                content, note = _to_sops(root, before, old, new, src)
            writes[dst] = content
            removals.append(src)
            notes.append((str(dst.relative_to(root)), note))
        if moving:
            kust = out / "kustomization.yaml"
            if marks.is_ours(kust):
                writes[kust] = _kustomization(
                    kust, {secretdoc.secret_file(o): secretdoc.secret_file(n) for o, n in moving}
                )
        if new_text != text:
            writes[before.path] = new_text.encode()
        commit_files(root, COMMIT_JOURNAL, writes, removals)
    for rel, note in notes:
        output.status("migrated", rel, note)
    if new_text != text:
        output.status("wrote", before.path.relative_to(root), f"{KEY}: {to}")
    output.finish(f"{len(moving)} credential(s) moved to {to}", moved=len(moving), to=to)
    if moving:
        output.hint(
            "review and commit the changes, then push so Flux applies them"
            + ("; the store entries stay until you delete them" if to == "sops" else "")
        )
    return 0


def _managed(cfg: gateway_config.Config) -> list[gateway_config.ProviderConfig]:
    return [pc for pc in (*cfg.providers, *cfg.mcp_backends) if pc.auth.secret_key]


def set_backend(text: str, to: str, *, toml: bool) -> str:
    """``text`` with ``ai_gateway_secret_backend`` set to ``to``: its line replaced, or one appended."""
    line = f'{KEY} = "{to}"' if toml else f"{KEY}: {to}"
    pattern = re.compile(rf"^{KEY}\s*[:=].*$", re.MULTILINE)
    if pattern.search(text):
        return pattern.sub(line, text, count=1)
    return text + ("" if text.endswith("\n") or not text else "\n") + line + "\n"


def _load_text(root: Path, path: Path, text: str) -> gateway_config.Config:
    """The configuration ``text`` would give (read from a scratch copy; it holds no secret)."""
    with tempfile.TemporaryDirectory(prefix="aigw-migrate-") as tmp:
        scratch = Path(tmp) / path.name
        scratch.write_text(text, "utf-8")
        try:
            return gateway_config.load(root, scratch)._replace(path=path)
        except ConfigError as exc:
            raise ConfigError(str(exc).replace(str(scratch), str(path))) from None


def _decrypt_secret(root: Path, path: Path) -> dict[str, Any]:
    rel = str(path.relative_to(root))
    doc = yamlload.load(sops_files.decrypt(sops_binary.Sops(root), path.read_bytes(), rel))
    if not isinstance(doc, dict) or not isinstance(doc.get("stringData"), dict):
        raise DataError(f"{rel}: not a Secret with stringData")
    return doc


def _carried(ann: Mapping[str, str]) -> dict[str, str]:
    """Rotation state that moves with the value (generation, rotated-at, previous refs, issuer refs)."""
    return {
        k: v
        for k, v in ann.items()
        if k.startswith(f"{marks.ANNOTATION}/")
        and k
        not in (
            marks.HASH_ANNOTATION,
            f"{marks.ANNOTATION}/auth",
            externalsecrets.STORE_VERSION,
            externalsecrets.REMOTE_KEY,
        )
    }


def _to_store(
    root: Path, cfg: gateway_config.Config, pc: gateway_config.ProviderConfig, src: Path
) -> tuple[bytes, str]:
    assert cfg.external_secrets is not None  # noqa: S101 - load() sets it when a provider uses the backend
    secret = _decrypt_secret(root, src)
    key = pc.auth.secret_key or ""
    value = secret["stringData"].get(key)
    if not isinstance(value, str):
        raise DataError(f"{src.relative_to(root)}: no stringData.{key}")
    store = open_store(cfg.external_secrets)
    doc, props = externalsecrets.for_provider(
        pc,
        cfg,
        cfg.external_secrets,
        value,
        version_ref=None,
        content_hash=contenthash.content_hash({key: value}),
        rotation=_carried(kube.annotations_of(secret)),
        force_sync=stamp(),
    )
    remote = str(doc["spec"]["data"][0]["remoteRef"]["key"])
    where = storepin.location(cfg.external_secrets, remote)
    storepin.check(root, pc.key, where, rel=str(src.relative_to(root)))
    version = store.put(remote, props)
    storepin.remember(root, pc.key, where)
    doc = pin(doc, store, version)
    back = store.get(remote, version if store.versioned else None)
    if back is None or externalsecrets.render(doc["spec"]["target"]["template"]["data"], back) != {key: value}:
        raise DataError(
            f"{store.describe(remote)}: does not return the value of {src.relative_to(root)}; nothing changed "
            "in the repository"
        )
    return externalsecrets.HEADER.encode() + yamltext.dump(
        [doc], markers=False
    ).encode(), f"value in {store.describe(remote)} version {version}, read back and compared"


def _to_sops(
    root: Path,
    cfg: gateway_config.Config,
    old: gateway_config.ProviderConfig,
    new: gateway_config.ProviderConfig,
    src: Path,
) -> tuple[bytes, str]:
    from aigw_secrets.rotation.externalsecret import current, value_of

    rel_src = str(src.relative_to(root))
    doc = current(src, rel_src)
    if cfg.external_secrets is None:  # pragma: no cover - the source config uses the backend
        raise ConfigError("no ai_gateway_external_secrets_* settings")
    value = value_of(open_store(cfg.external_secrets), doc, old, cfg)  # only our own entry, under its configured name
    if value is None:
        raise DataError(f"{rel_src}: the store has no entry at the version it pins; nothing changed")
    secret = secretdoc.secret(new, cfg, value, rotation=_carried(doc.annotations))
    dst = src.parent / secretdoc.secret_file(new)
    rel = str(dst.relative_to(root))
    data = sops_files.encrypt(
        sops_binary.Sops(root), yamltext.dump([secret], marks.SECRET_HEADER, markers=False).encode(), rel
    )
    if value.encode() in data:
        raise DataError(
            f"{rel}: sops left the value unencrypted (check encrypted_regex in .sops.yaml); nothing changed"
        )
    back = yamlload.load(sops_files.decrypt(sops_binary.Sops(root), data, rel))
    if back.get("stringData") != secret["stringData"]:
        raise DataError(f"{rel}: does not decrypt to the store's value; nothing changed")
    return data, "value from the store, encrypted and verified"


def _kustomization(path: Path, renames: dict[str, str]) -> bytes:
    text = path.read_text("utf-8")
    docs = read_documents(path)
    if len(docs) != 1 or not isinstance(docs[0], dict):
        raise DataError(f"{path.name}: not one kustomization")
    resources = [renames.get(r, r) for r in docs[0].get("resources") or []]
    header = text.split("\n", 1)[0] + "\n"
    return yamltext.dump([routing.kustomization(resources)], header).encode()
