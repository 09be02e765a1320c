"""HashiCorp Vault (and OpenBao) addresses a sops run would contact, and whether the operator trusts them.

A ``hc_vault`` master key names its server by URL: in a creation rule (``hc_vault_transit_uri``) and in
a file's ``sops`` metadata (``vault_address``), both written by any contributor (the metadata is not
under the MAC). sops logs in to that address with ``VAULT_TOKEN`` (or ``~/.vault-token``) from its
environment, and waits for it. So no sops run may involve a Vault the operator did not name outside
the repository: ``VAULT_ADDR`` / ``BAO_ADDR`` where the tool runs, or a transit URI listed in
``AIGW_SECRETS_TRUSTED_RECIPIENTS``. Checked before sops starts; nothing is contacted.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aigw_secrets.errors import CredentialError, ExitCode

TRUST_ENV = "AIGW_SECRETS_TRUSTED_RECIPIENTS"
_MARK = b"hc_vault"
_ADDRESS = re.compile(r"""vault_address["']?\s*:\s*["']?([^"'\s,}]+)""")


class UntrustedVault(CredentialError):
    """A sops run would contact a Vault nobody named outside the repository (exit 11)."""

    code = ExitCode.MANUAL_ACTION


def origin(url: str) -> str:
    """``scheme://host:port`` of ``url`` (lower case, default ports filled in); the text itself when it
    is not a URL (so it never matches a trusted origin by accident)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())
    except ValueError:
        return url
    if not parts.scheme or not parts.hostname:
        return url
    return f"{parts.scheme.lower()}://{parts.hostname.lower()}:{port}"


def trusted(env: Mapping[str, str]) -> set[str]:
    found = [env.get("VAULT_ADDR", ""), env.get("BAO_ADDR", "")]
    found += [r for r in os.environ.get(TRUST_ENV, env.get(TRUST_ENV, "")).split(",") if "://" in r]
    return {origin(u) for u in found if u.strip()}


def in_metadata(data: bytes) -> list[str]:
    """The Vault addresses a sops file's metadata names (YAML or JSON; any ``vault_address`` field when
    the block cannot be parsed, so a hidden one still counts)."""
    if _MARK not in data:
        return []
    text = data.decode("utf-8", "replace")
    try:
        import yaml

        docs = list(yaml.safe_load_all(text))
    except Exception:  # noqa: BLE001 - unparseable: fall back to every field that looks like one
        return _ADDRESS.findall(text)
    found: list[str] = []
    for doc in docs:
        meta = doc.get("sops") if isinstance(doc, dict) else None
        if not isinstance(meta, dict):
            continue
        groups: list[Any] = [meta, *(g for g in meta.get("key_groups") or [] if isinstance(g, dict))]
        for group in groups:
            for entry in group.get("hc_vault") or []:
                if isinstance(entry, dict):
                    found.append(str(entry.get("vault_address") or ""))
    return found


def in_rule(config: Path | None, path: Path) -> list[str]:
    """The Vault transit URIs of the creation rule in ``config`` that applies to ``path``."""
    if config is None:
        return []
    try:
        raw = config.read_bytes()
    except OSError:
        return []
    if _MARK not in raw:
        return []
    from aigw_secrets.errors import AigwError
    from aigw_secrets.sops import config as sops_config

    try:
        cfg = sops_config.load(config)
        rule = cfg.rule_for(cfg.rel(path))
    except AigwError:  # fail closed: every URI it names
        return re.findall(r"""hc_vault_transit_uri["']?\s*:\s*["']?([^"'\s]+)""", raw.decode("utf-8", "replace"))
    return [] if rule is None else [u for part in rule.recipients("hc_vault_transit_uri") for u in part.split(",")]


def require(env: Mapping[str, str], rel: str, addresses: Iterable[str], where: str) -> None:
    """Refuse (before sops runs) when ``addresses`` name a Vault outside the trusted origins."""
    ok = trusted(env)
    bad = sorted({origin(a) for a in addresses if a.strip()} - ok)
    if bad:
        raise UntrustedVault(
            f"{rel}: {where} names a HashiCorp Vault at {', '.join(bad)}, not VAULT_ADDR where aigw-secrets runs "
            f"nor in {TRUST_ENV}; sops not run (it would log in there with the Vault token). If it is yours, set "
            "VAULT_ADDR (or list its transit URI); otherwise an operator: `aigw-secrets updatekeys` the file and "
            "review the commit that added it"
        )
