"""What the rotation bot establishes itself before any destructive provider call.

The repository is written by every contributor, and anyone can write a Secret that sops decrypts
(the age *public* key is in ``.sops.yaml``; the MAC proves integrity, not authorship). So nothing a
commit carries (annotations, credential refs, revoke-after times) decides what is disabled, deleted or
regenerated. The facts are:

- the provider's own records: the keys it lists for the Secret's identity, with the names, tags or
  descriptions this tool's issuers set when minting (``Issuer.minted_for``), re-read right before each
  call, plus the bot's own ledger of what it minted, kept where no commit can write (``state_dir``);
- the key the Secret holds, established by *decrypting* the Secret and identifying the value at the
  provider (``Issuer.identify``: the AWS access key id, GCP ``private_key_id``, the provider's redacted
  value, the Azure slot whose value matches);
- what the cluster serves (``revoke.py``'s in-cluster gate compares the live Secret with that value).

``guard`` is the one check every destructive call goes through.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aigw_secrets import yamlload
from aigw_secrets.errors import AigwError, ConfigError, DataError, NoKeyError
from aigw_secrets.gateway import secretdoc
from aigw_secrets.gateway.config import Config, ProviderConfig
from aigw_secrets.rotation.issuers.interface import Issuer, Key
from aigw_secrets.rotation.journal import records_dir, state_dir
from aigw_secrets.sops import binary as sops_binary
from aigw_secrets.sops import files as sops_files
from aigw_secrets.util import atomic_write


class Refused(ConfigError):
    """A destructive call the facts do not support (exit 78: a person has to look)."""


@dataclass
class Facts:
    keys: list[Key]  # what the provider lists for the Secret's identity
    current: set[str]  # the refs the Secret's value is, identified at the provider
    value: str = field(repr=False)  # the decrypted value (never printed)
    file: str = ""


# Backends whose value is not in a SOPS file register how to read it (the external-secrets backend:
# the store's entry at the version the ExternalSecret pins), so this module imports none of them.
VALUE_READERS: dict[str, Callable[[Path, Config, ProviderConfig, str], str]] = {}


def secret_rel(root: Path, cfg: Config, pc: ProviderConfig) -> str:
    return str((cfg.output_dir / secretdoc.secret_file(pc)).relative_to(root))


def current_value(root: Path, cfg: Config, pc: ProviderConfig) -> str:
    """The credential the Secret file holds, decrypted (NoKeyError when the bot cannot); with the
    external-secrets backend, the store's value at the version the ExternalSecret pins."""
    rel = secret_rel(root, cfg, pc)
    if pc.backend in VALUE_READERS:
        return VALUE_READERS[pc.backend](root, cfg, pc, rel)
    if pc.backend != "sops":
        raise DataError(
            f"{rel}: which credential the {pc.backend} backend holds cannot be read here; no key is revoked"
        )
    try:
        data = (root / rel).read_bytes()
    except OSError as exc:
        raise DataError(f"{rel}: cannot read the Secret ({type(exc).__name__})") from None
    plain: Any = yamlload.load(sops_files.decrypt(sops_binary.Sops(root), data, rel))
    try:
        return str(plain["stringData"][pc.auth.secret_key])
    except (KeyError, TypeError):
        raise DataError(f"{rel}: the Secret has no stringData.{pc.auth.secret_key}") from None


def establish(root: Path, cfg: Config, pc: ProviderConfig, issuer: Issuer) -> Facts:
    """The provider's keys and which of them the Secret holds; raises when the bot cannot tell."""
    rel = secret_rel(root, cfg, pc)
    try:
        value = current_value(root, cfg, pc)
    except NoKeyError as exc:
        raise NoKeyError(
            f"{pc.key}: cannot decrypt {rel}, so which key it holds is unknown; no key is revoked ({exc})"
        ) from None
    keys = issuer.listed() if issuer.records else []
    current = issuer.identify(value, keys) if keys else set()
    return Facts(keys, current, value, rel)


def require_current(pc: ProviderConfig, facts: Facts) -> None:
    if not facts.current:
        raise DataError(
            f"{pc.key}: the credential in {facts.file} is not a key the provider lists for this identity; "
            "no key is revoked (review the commits that changed that file)"
        )


# --- the bot's own ledger of what it minted (kept beside the journals, never in the work tree) ----


def _ledger_path(root: Path, pc: ProviderConfig) -> Path:
    return records_dir(root) / f"minted-{pc.key}.json"


def ledger(root: Path, pc: ProviderConfig) -> set[str]:
    """The refs the bot recorded minting for this Secret (in ``$AIGW_SECRETS_STATE_DIR`` when set, and
    what this clone's own state directory recorded before it was set)."""
    refs: set[str] = set()
    for path in {_ledger_path(root, pc), state_dir(root) / f"minted-{pc.key}.json"}:
        try:
            data = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError):
            continue
        refs |= {str(r) for r in data} if isinstance(data, list) else set()
    return refs


def record_minted(root: Path, pc: ProviderConfig, ref: str) -> None:
    refs = sorted(ledger(root, pc) | {ref})
    atomic_write(_ledger_path(root, pc), (json.dumps(refs) + "\n").encode(), mode=0o600)


def minted_here(root: Path, pc: ProviderConfig, issuer: Issuer, key: Key) -> bool:
    return issuer.minted_for(key) or key.ref in ledger(root, pc)


def guard(
    root: Path,
    cfg: Config,
    pc: ProviderConfig,
    issuer: Issuer,
    ref: str,
    *,
    operator_named: bool = False,
    ours: bool = False,
    fresh: bool = False,
) -> Key | None:
    """Re-establish the facts at the provider right before disabling, deleting or regenerating ``ref``.

    Never the key the Secret holds (decrypted and identified at the provider; when it cannot be
    identified, nothing is revoked), never the only active key, and never a key the provider does not
    show as minted by this tool for this Secret, unless the operator named it at a terminal
    (``operator_named``) or the bot's own journal saw it appear during its own mint (``ours``). Nothing
    is revoked while the Secret holds a key the bot's records do not show as minted by it (a commit put
    it there), except the bot's own new key that never landed (``ours``, ``fresh``).
    Returns the provider's record of the key, or None when it is gone already.
    """
    if not issuer.records:
        return Key(ref, ref, True)  # nothing at a provider (self-issued): nothing destructive happens
    facts = establish(root, cfg, pc, issuer)
    require_current(pc, facts)
    if ref in facts.current:
        raise Refused(f"{pc.key}: {ref} is the credential {facts.file} holds now; refusing to revoke it")
    if not (operator_named or ours or fresh) and not any(
        minted_here(root, pc, issuer, k) for k in facts.keys if k.ref in facts.current
    ):
        # the bot's own record wins over the file: a value it did not mint is one a commit put there (its own
        # just-minted key that never landed, ``ours``, may still go)
        raise Refused(
            f"{pc.key}: {facts.file} holds a key aigw-secrets did not mint for this Secret (not in its own records); "
            "no key is revoked, an operator has to review the commits that changed that file"
        )
    key = next((k for k in facts.keys if k.ref == ref), None)
    if key is None:
        return None
    if not (operator_named or ours or minted_here(root, pc, issuer, key)):
        raise Refused(
            f"{pc.key}: {ref} is not a key the provider shows as minted by aigw-secrets for this Secret; "
            f"an operator can name it at a terminal: aigw-secrets rotate --revoke {pc.key} --ref {ref}"
        )
    if not any(k.active and k.ref != ref for k in facts.keys):
        raise Refused(f"{pc.key}: {ref} is the only active key at the provider; refusing to revoke it")
    return key


def safe_identify(root: Path, cfg: Config, pc: ProviderConfig, issuer: Issuer) -> Facts | None:
    """``establish``, or None when it cannot be done here (for messages and ``status``)."""
    try:
        return establish(root, cfg, pc, issuer)
    except AigwError:
        return None
