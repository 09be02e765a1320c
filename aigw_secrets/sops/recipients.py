"""Who a sops file is encrypted to, and which recipients an unattended write may encrypt to.

The rule in ``.sops.yaml`` (the repository's, or a nested one nearer the file) is written by every
contributor, so it cannot decide who reads a credential the bot writes on its own: a merged commit
adding its author's age key to the rule covering a Secret would hand them the next minted key. Nor
can the file's own metadata (not under the MAC: anyone can append a recipient without the key). The
caller passes a baseline it established itself (``rotation.vouched``: the committed recipients the
bot saw before); the bot encrypts a credential only to those, or to recipients the operator lists
outside the repository (``AIGW_SECRETS_TRUSTED_RECIPIENTS``). Fewer recipients is fine, more is not.

Recipients are read from the ``sops`` metadata block (no private key needed), one string each:
the age recipient (post-quantum ``age1pq1...`` and SSH recipients included), the PGP fingerprint
(upper case), the AWS KMS key ARN, the GCP KMS resource id, the Azure Key Vault key URL
(``https://VAULT/keys/NAME/VERSION``), the HashiCorp Vault transit URI
(``https://ADDR/v1/ENGINE/keys/NAME``), and for other kinds ``kind:field=value,...``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from aigw_secrets import yamlload
from aigw_secrets.errors import CredentialError, DataError, ExitCode
from aigw_secrets.sops.binary import Sops
from aigw_secrets.sops.config import store_of

ENV = "AIGW_SECRETS_TRUSTED_RECIPIENTS"

# every metadata field of a sops block that is not a list of master keys
_NOT_KEYS = frozenset({"key_groups", "lastmodified", "mac", "version", "shamir_threshold"})
_SKIP_FIELDS = frozenset({"enc", "created_at", "aws_profile", "context", "role"})
_HEX = re.compile(r"[0-9A-Fa-f]{16,40}")


class UntrustedRecipients(CredentialError):
    """An unattended write would encrypt a credential to a recipient nobody vouched for (exit 11:
    an operator has to act)."""

    code = ExitCode.MANUAL_ACTION

    def __init__(self, message: str, *, rel: str = "", extra: Iterable[str] = (), added: bool = False) -> None:
        super().__init__(message)
        self.rel, self.extra = rel, sorted(extra)
        self.added = added  # in the file's metadata already, not only in what .sops.yaml would give


def _one(kind: str, entry: Mapping[str, Any]) -> str:
    def f(name: str) -> str:
        return str(entry.get(name) or "").strip()

    if kind == "age":
        return f("recipient")
    if kind == "pgp":
        return f("fp").upper()
    if kind == "kms":
        return f("arn")
    if kind == "gcp_kms":
        return f("resource_id")
    if kind == "azure_kv":
        return f"{f('vault_url').rstrip('/')}/keys/{f('name')}/{f('version')}"
    if kind == "hc_vault":
        return f"{f('vault_address').rstrip('/')}/v1/{f('engine_path').strip('/')}/keys/{f('key_name')}"
    fields = ",".join(f"{k}={v}" for k, v in sorted(entry.items(), key=str) if k not in _SKIP_FIELDS)
    return f"{kind}:{fields}"


def _group(group: Mapping[str, Any]) -> set[str]:
    out: set[str] = set()
    for kind, entries in group.items():
        if kind in _NOT_KEYS or not isinstance(entries, list):
            continue
        out |= {_one(str(kind), e) for e in entries if isinstance(e, Mapping)}
    return out - {""}


def _as_sops_reads(node: Any, done: dict[int, Any] | None = None) -> Any:
    """``node`` with every ``!!binary`` key or value as the text sops's decoder reads it. A node an alias
    shares is converted once and stays shared (an alias bomb is as cheap as its text)."""
    done = {} if done is None else done
    if isinstance(node, bytes):
        return node.decode("utf-8", "replace")
    if not isinstance(node, Mapping | list):
        return node
    if id(node) not in done:
        if isinstance(node, Mapping):
            done[id(node)] = {_as_sops_reads(k, done): _as_sops_reads(v, done) for k, v in node.items()}
        else:
            done[id(node)] = [_as_sops_reads(v, done) for v in node]
    return done[id(node)]


def of_metadata(meta: Mapping[str, Any], rel: str) -> set[str]:
    """Every recipient a sops metadata block wraps the data key for (key groups included)."""
    meta = _as_sops_reads(meta)
    out = _group(meta)
    groups = meta.get("key_groups") or []
    if not isinstance(groups, list):
        raise DataError(f"{rel}: cannot read its sops metadata (key_groups is not a list)")
    for group in groups:
        if isinstance(group, Mapping):
            out |= _group(group)
    return out


_FLAT = re.compile(r"^[ \t]*(?P<key>[A-Za-z0-9_]+)[ \t]*=[ \t]*(?P<value>.*?)[ \t]*$", re.M)


def _flat(text: str, rel: str) -> dict[str, Any]:
    """The sops block of a dotenv (``sops_age__list_0__map_recipient=...``) or INI file (its
    ``[sops]`` section), unflattened."""
    if store_of(rel) == "ini":
        start = text.find("[sops]")
        text = text[start + len("[sops]") :] if start >= 0 else ""
        end = re.search(r"^\[", text, re.M)
        text = text[: end.start()] if end else text
        prefix = ""
    else:
        prefix = "sops_"
    tree: dict[str, Any] = {}
    for m in _FLAT.finditer(text):
        key = m["key"]
        if not key.startswith(prefix):
            continue
        path: list[str | int] = []
        for i, token in enumerate(key[len(prefix) :].split("__")):
            if i and token.startswith("list_") and token[5:].isdigit():
                path.append(int(token[5:]))
            else:
                path.append(token[4:] if i and token.startswith("map_") else token)
        node: dict[Any, Any] = tree
        for step in path[:-1]:
            if not isinstance(node.get(step), dict):
                node[step] = {}
            node = node[step]
        node[path[-1]] = m["value"]
    flat: dict[str, Any] = _lists(tree)
    return flat


def _lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    if node and all(isinstance(k, int) for k in node):
        return [_lists(node[k]) for k in sorted(node)]
    return {k: _lists(v) for k, v in node.items()}


def of_file(data: bytes, rel: str) -> set[str]:
    """The recipients of a sops-encrypted file (YAML, JSON, dotenv, INI), from its metadata (no key needed)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise DataError(f"{rel}: cannot read its sops metadata (not UTF-8)") from None
    if store_of(rel) in ("dotenv", "ini"):
        meta = _flat(text, rel)
        if not meta:
            raise DataError(f"{rel}: not sops-encrypted (no sops metadata)")
        return of_metadata(meta, rel)
    return _of_yaml(text, rel)


def _of_yaml(text: str, rel: str) -> set[str]:
    try:
        docs = [d for d in yamlload.load_all(text) if d is not None]
    except yaml.YAMLError:
        raise DataError(f"{rel}: cannot read its sops metadata (not YAML or JSON)") from None
    metas = [d["sops"] for d in docs if isinstance(d, dict) and isinstance(d.get("sops"), Mapping)]
    if not metas:
        raise DataError(f"{rel}: not sops-encrypted (no sops block)")
    return set().union(*(of_metadata(m, rel) for m in metas))


def readable(data: bytes, rel: str) -> set[str] | None:
    """``of_file``, or None for a file whose metadata is not a YAML/JSON sops block (dotenv, ini, binary)."""
    try:
        return of_file(data, rel)
    except DataError:
        return None


def committed(path: Path, rel: str) -> set[str]:
    """The recipients of the file as it is in the repository (none when it does not exist yet)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return set()
    except OSError as exc:
        raise DataError(f"{rel}: cannot read ({exc.strerror})") from None
    return of_file(data, rel)


def _probe_doc(keys: Iterable[str]) -> bytes:
    names = list(dict.fromkeys(keys)) or ["probe"]
    body = "".join(f"  {json.dumps(k)}: probe\n" for k in names)
    return f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: recipients-probe\nstringData:\n{body}".encode()


def _probe(sops: Sops, rel: str, keys: Iterable[str] = ()) -> tuple[set[str], list[str]]:
    """A throwaway Secret holding ``keys`` encrypted as ``rel`` is (the same creation rule, nested
    ``.sops.yaml`` and ``SOPS_*`` variables): the recipients it got, and the keys left in the clear."""
    from aigw_secrets.sops import files as sops_files

    out = sops.encrypt(_probe_doc(keys), rel)
    return _of_yaml(out.decode("utf-8", "replace"), rel), sops_files.plain_in_secret(out)


def would_give(sops: Sops, rel: str) -> set[str]:
    """The recipients sops encrypts ``rel`` to now (``_probe``). Nothing is written; it fails the way
    the real write would (a missing PGP key, a bad rule)."""
    return _probe(sops, rel)[0]


def _norm(recipient: str) -> str:
    r = recipient.strip().rstrip("/")
    return r.upper() if _HEX.fullmatch(r) else r


def from_environment() -> set[str]:
    """``AIGW_SECRETS_TRUSTED_RECIPIENTS``: recipients the operator trusts, comma separated (set outside
    the repository; a PGP key may be given by its fingerprint or its 16-digit key id)."""
    return {_norm(r) for r in os.environ.get(ENV, "").split(",") if r.strip()}


def _trusted(recipient: str, baseline: set[str], listed: set[str]) -> bool:
    r = _norm(recipient)
    if r in baseline or r in listed:
        return True
    # a key id names a PGP key only in the operator's own list: a short id in a committed file's metadata
    # must not vouch for every key whose fingerprint ends with it
    return bool(_HEX.fullmatch(r)) and any(_HEX.fullmatch(t) and r.endswith(t) for t in listed)


def untrusted(new: Iterable[str], baseline: set[str]) -> list[str]:
    """The recipients of ``new`` that are neither in ``baseline`` nor in the operator's trust list."""
    committed_ = {_norm(r) for r in baseline}
    listed = from_environment()
    return sorted(r for r in set(new) if not _trusted(r, committed_, listed))


def require(
    sops: Sops,
    targets: Iterable[str],
    baseline: set[str],
    *,
    what: str,
    secret: str,
    fix: str,
    committed: Iterable[str] = (),
    keys: Mapping[str, Iterable[str]] | None = None,
) -> None:
    """Refuse (exit 11, before anything is minted or written) when sops would encrypt ``what`` for any
    of ``targets`` to a recipient outside ``baseline`` (the recipients of ``secret`` the bot vouches
    for) and the operator's trust list, or when ``secret`` as ``committed`` lists such a recipient (its
    metadata is not under the MAC: a commit can add one without the key, and a write in place keeps it),
    or when the rule would leave one of the Secret ``keys`` each target will hold (``stringData``) in
    the clear. One line: the file, its config and the new recipients (public)."""
    added = untrusted(committed, baseline)
    if added:
        raise UntrustedRecipients(
            f"{secret}: its sops metadata lists {', '.join(added)}, added after aigw-secrets last wrote it (a "
            f"commit can add a recipient without the key) and not in {ENV}; nothing minted or written. If it "
            f"belongs, list it in {ENV} where the bot runs; otherwise: {fix}",
            rel=secret,
            extra=added,
            added=True,
        )
    for rel in targets:
        given, plain = _probe(sops, rel, (keys or {}).get(rel, ()))
        extra = untrusted(given, baseline)
        config = sops.config_for(rel)
        where = f" (by {sops.relative(config)})" if config is not None else ""
        if plain:
            raise UntrustedRecipients(
                f"{rel}: sops would leave {what} in the clear ({', '.join(plain)}: the creation rule{where} "
                f"does not select it with encrypted_regex / unencrypted_*); nothing minted or written. An "
                "operator: fix the rule",
                rel=rel,
            )
        if extra:
            raise UntrustedRecipients(
                f"{rel}: sops would encrypt {what} to {', '.join(extra)}{where}, not a recipient of {secret} as "
                f"committed nor in {ENV}; nothing minted or written. {fix}",
                rel=rel,
                extra=extra,
            )


def check_written(data: bytes, rel: str, baseline: set[str], *, what: str) -> None:
    """The bytes about to be written are encrypted to trusted recipients only (after the fact: the
    check before minting is ``require``; this one catches a config changed in between)."""
    extra = untrusted(of_file(data, rel), baseline)
    if extra:
        raise UntrustedRecipients(
            (
                f"{rel}: the encrypted {what} would open for {', '.join(extra)}, not a recipient as committed and "
                f"as aigw-secrets last saw it, nor in {ENV}; nothing written"
            ),
            rel=rel,
            extra=extra,
        )


def require_each(
    sops: Sops,
    paths: Iterable[Path],
    *,
    own: set[str],
    fix: str,
    vouched: Callable[[str, set[str]], set[str]] = lambda _rel, found: found,
) -> None:
    """Before re-keying files (``updatekeys``) unattended: for each file, the recipients sops would
    give it now are its committed ones (as far as ``vouched`` keeps them), ``own`` (recipients the tool
    itself adds, e.g. the age key it just generated) or in the operator's trust list. A file whose
    metadata cannot be read here is refused (sops may read what this tool cannot, and re-key it for anyone)."""
    from aigw_secrets.util import parallel_map

    def one(path: Path) -> tuple[str, list[str]]:
        rel = sops.relative(path)
        try:
            before = readable(path.read_bytes(), rel)
        except OSError:
            before = None
        if before is None:  # fail closed: sops may read metadata this tool cannot, and re-key it for anyone
            return rel, ["(unreadable sops metadata)"]
        return rel, untrusted(would_give(sops, rel) - own, vouched(rel, before))

    bad = [(rel, extra) for rel, extra in parallel_map(one, list(paths)) if extra]
    if bad:
        rel, extra = bad[0]
        more = f" (and {len(bad) - 1} more file(s))" if len(bad) > 1 else ""
        raise UntrustedRecipients(
            f"{rel}{more}: .sops.yaml would add {', '.join(extra)}, not a recipient of the file as committed "
            f"nor in {ENV}; "
            f"nothing re-keyed. {fix}",
            rel=rel,
            extra=extra,
        )
