"""Key services a sops run would contact by a URL the repository names, and whether the operator trusts them.

Two kinds of sops master key name their server by URL, in a creation rule and in a file's ``sops``
metadata, both written by any contributor (the metadata is not under the MAC):

* HashiCorp Vault / OpenBao (``hc_vault_transit_uri``, a key group's ``hc_vault``; ``vault_address`` in
  metadata): sops logs in there with ``VAULT_TOKEN`` (or ``~/.vault-token``) and waits for it;
* Azure Key Vault (``azure_keyvault``, ``vaultUrl``; ``vault_url`` in metadata): sops asks it for a
  challenge with the Azure identity of its environment, and waits for it.

So no sops run may involve such a server the operator did not name outside the repository: for a Vault,
``VAULT_ADDR`` / ``BAO_ADDR`` where the tool runs; for a Key Vault, a host under Azure's own Key Vault
domains; for either, a URL listed in ``AIGW_SECRETS_TRUSTED_RECIPIENTS``. Every rule and every key group
counts (nested ``merge`` groups too), whatever the spelling (YAML escapes are resolved, and any field
that looks like an address counts even where the file cannot be parsed). Checked before sops starts;
nothing is contacted.
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
VAULT, AZURE = "HashiCorp Vault", "Azure Key Vault"
# Field names (lower case) under which each kind names its server, in rules and in metadata.
_FIELDS = {
    "hc_vault_transit_uri": VAULT,
    "hc_vault": VAULT,
    "vault_address": VAULT,
    "azure_keyvault": AZURE,
    "azure_kv": AZURE,
    "vaulturl": AZURE,
    "vault_url": AZURE,
}
# Azure's own Key Vault and Managed HSM domains (public, China, US Government clouds).
_AZURE_DOMAINS = (
    ".vault.azure.net",
    ".vault.azure.cn",
    ".vault.usgovcloudapi.net",
    ".managedhsm.azure.net",
    ".managedhsm.azure.cn",
    ".managedhsm.usgovcloudapi.net",
)
# Every field that looks like an address, whatever the format (YAML, JSON, dotenv's and INI's flattened keys).
_ADDRESS = re.compile(
    r"(hc_vault_transit_uri|vault_address|azure_keyvault|vaulturl|vault_url)\W{0,6}?[:=]\s*\[?\s*[\"']?([^\"'\s,}\]]+)",
    re.IGNORECASE,
)


def _in_text(data: bytes) -> list[tuple[str, str]]:
    found = ((_FIELDS.get(k.casefold()), v) for k, v in _ADDRESS.findall(data.decode("utf-8", "replace")))
    return [(kind or VAULT, v) for kind, v in found]


UNREADABLE = "(a sops block or rule it cannot read with certainty)"


def _name(key: Any) -> str:
    """A field name as sops's decoder reads it: a ``!!binary`` key is its bytes, and Go's JSON decoder
    matches names without regard to case (Unicode folding: ``ſ`` is an ``s``)."""
    return (key.decode("utf-8", "replace") if isinstance(key, bytes) else str(key)).casefold()


_LENIENT: list[Any] = []


def _lenient() -> Any:
    """PyYAML's safe loader (on libyaml where the wheel has it) reading a tag it does not know (``!x``) as
    the plain value it tags, as Go's decoder does (it ignores it)."""
    if not _LENIENT:
        import yaml

        base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

        class Lenient(base):  # type: ignore[misc] # a subclass of PyYAML's (untyped) loader
            pass

        def plain(loader: Any, _suffix: str, node: Any) -> Any:
            if isinstance(node, yaml.MappingNode):
                return loader.construct_mapping(node)
            if isinstance(node, yaml.SequenceNode):
                return loader.construct_sequence(node)
            return loader.construct_scalar(node)

        Lenient.add_multi_constructor("!", plain)
        Lenient.add_multi_constructor("tag:", plain)
        _LENIENT.append(Lenient)
    return _LENIENT[0]


def _parse(text: str, every: bool) -> list[Any]:
    """The documents of ``text`` as sops's YAML decoder sees them. Raises ``yaml.YAMLError`` when unreadable."""
    import yaml

    docs = yaml.load_all(text, Loader=_lenient())
    return list(docs) if every else [next(iter(docs), None)]


def _walk(node: Any, kind: str | None = None, seen: set[tuple[int, str | None]] | None = None) -> list[tuple[str, str]]:
    """Every URL under a field that names a key server, with its kind. A node an alias shares is visited
    once per kind (an alias bomb is as cheap as its text)."""
    seen = set() if seen is None else seen
    if isinstance(node, dict | list):
        if (id(node), kind) in seen:
            return []
        seen.add((id(node), kind))
    if isinstance(node, dict):
        return [f for k, v in node.items() for f in _walk(v, _FIELDS.get(_name(k), kind), seen)]
    if isinstance(node, list):
        return [f for v in node for f in _walk(v, kind, seen)]
    if kind is None or not isinstance(node, str | bytes):
        return []
    text = node.decode("utf-8", "replace") if isinstance(node, bytes) else node
    return [(kind, u.strip()) for u in text.split(",") if "://" in u]


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


def trusted(env: Mapping[str, str], *, vault: bool = True) -> set[str]:
    """The origins the operator named: the trust list, and (for a Vault) VAULT_ADDR / BAO_ADDR."""
    found = [env.get("VAULT_ADDR", ""), env.get("BAO_ADDR", "")] if vault else []
    found += [r for r in os.environ.get(TRUST_ENV, env.get(TRUST_ENV, "")).split(",") if "://" in r]
    return {origin(u) for u in found if u.strip()}


def in_metadata(data: bytes) -> list[tuple[str, str]]:
    """The key servers (kind, URL) a sops file's metadata names: every field that looks like one in the
    text, and every one under the parsed ``sops`` block (YAML or JSON; escapes, tags and aliases resolved).
    Always parsed: no guess from the text decides whether it is read."""
    found = _in_text(data)
    try:
        docs = _parse(data.decode("utf-8", "replace"), True)
    except Exception:  # noqa: BLE001 - unparseable here is not unparseable to sops: never run it
        return [*found, (VAULT, UNREADABLE)]
    blocks = [v for doc in docs if isinstance(doc, dict) for k, v in doc.items() if _name(k) == "sops"]
    return found + [f for block in blocks for f in _walk(block)]


def in_config(text: str) -> list[tuple[str, str]]:
    """The key servers (kind, URL) any part of a ``.sops.yaml`` names (every rule and key group, not only
    the one sops would pick: no second guess of sops's matching decides whether a token is sent)."""
    found = _in_text(text.encode("utf-8", "replace"))
    try:
        (doc,) = _parse(text, False)
    except Exception:  # noqa: BLE001 - unparseable here is not unparseable to sops: never run it
        return [*found, (VAULT, UNREADABLE)]
    return found + _walk(doc)


def in_rule(config: Path | None) -> list[tuple[str, str]]:
    """``in_config`` of the file ``config`` (none when there is none)."""
    if config is None:
        return []
    try:
        raw = config.read_bytes()
    except OSError:
        return []
    return in_config(raw.decode("utf-8", "replace"))


def _trusted(env: Mapping[str, str], kind: str, url: str) -> bool:
    if origin(url) in trusted(env, vault=kind == VAULT):
        return True
    if kind != AZURE:
        return False
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    host = (parts.hostname or "").lower()
    return parts.scheme.lower() == "https" and host.endswith(_AZURE_DOMAINS)


def require(env: Mapping[str, str], rel: str, servers: Iterable[tuple[str, str]], where: str) -> None:
    """Refuse (before sops runs) when ``servers`` name a key server the operator does not trust."""
    bad = sorted({(kind, origin(url)) for kind, url in servers if url.strip() and not _trusted(env, kind, url)})
    if not bad:
        return
    if any(url == UNREADABLE for _, url in bad):
        raise UntrustedVault(
            f"{rel}: {where} may name a key server (a Vault, a Key Vault) but cannot be read with certainty; "
            "sops not run. Check that it is valid YAML; otherwise an operator: review the commit that changed it"
        )
    kind = bad[0][0]
    hint = (
        "set VAULT_ADDR (or list its transit URI)"
        if kind == VAULT
        else f"list its URL in {TRUST_ENV} (a host under Azure's Key Vault domains needs nothing)"
    )
    secret = "the Vault token" if kind == VAULT else "its Azure identity"
    raise UntrustedVault(
        f"{rel}: {where} names a {kind} at {', '.join(u for _, u in bad)}, which the operator did not name "
        f"outside the repository; sops not run (it would contact it with {secret}). If it is yours, {hint}; "
        "otherwise an operator: `aigw-secrets updatekeys` the file and review the commit that added it"
    )
