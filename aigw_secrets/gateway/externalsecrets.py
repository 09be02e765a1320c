"""Builders for the External Secrets Operator backend: ``ExternalSecret`` objects
(``external-secrets.io/v1``, ESO v2.9.0) that make exactly the Secret the BackendSecurityPolicy or
MCPRoute reads, from a store entry aigw-secrets wrote.

- ``metadata.name`` and ``spec.target.name`` are the Secret's name (``secretdoc.secret_name``).
- The store entry is a flat mapping of properties; ``spec.data[]`` fetches each one (pinned with
  ``remoteRef.version`` to the version this tool wrote, where the store has versions) and
  ``spec.target.template.data`` assembles exactly the key the controller reads: ``apiKey``,
  ``client-secret``, ``service_account.json``, the MCP ``seed``, or the AWS ``credentials`` INI from
  its two (three) properties, byte for byte what the SOPS backend would write.
- ``spec.target.template.metadata.annotations`` put the content hash and generation on the
  in-cluster Secret: the revocation gate compares them, as it does for a SOPS Secret.
- The ExternalSecret's own annotations carry the rotation state (as a SOPS Secret's do) and
  ``force-sync``: a new value makes ESO sync at once when Flux applies the change.
- ``refreshPolicy: Periodic`` with a non-zero ``refreshInterval`` (``0`` means "sync once", which would
  never pick up a rotation; refused in config).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from aigw_secrets import kube
from aigw_secrets.errors import CredentialError
from aigw_secrets.gateway import contenthash, marks, mcp, secretdoc
from aigw_secrets.gateway.config import Config, ProviderConfig
from aigw_secrets.stores import StoreSettings

API = "external-secrets.io/v1"
KIND = "ExternalSecret"
FORCE_SYNC = "force-sync"
STORE_VERSION = f"{marks.ANNOTATION}/store-version"
REMOTE_KEY = f"{marks.ANNOTATION}/remote-key"
FILE_SUFFIX = ".externalsecret.yaml"
HEADER = (
    f"{marks.MARKER}. External Secrets: the value lives in the secret store; change it with `aigw-secrets "
    "generate` or `rotate`.\n"
)
# Annotations on the ExternalSecret that record state, not shape (generate keeps the file when only these differ).
STATE = marks.STATE_ANNOTATIONS | {FORCE_SYNC, STORE_VERSION}
_AWS_PROPS = ("aws_access_key_id", "aws_secret_access_key", "aws_session_token")
_TEMPLATE_VAR = re.compile(r"\{\{\s*\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def file_name(name: str) -> str:
    return f"{name}{FILE_SUFFIX}"


def remote_key(store: StoreSettings, namespace: str, name: str) -> str:
    return f"{store.prefix}{namespace}/{name}"


def prop_name(secret_key: str) -> str:
    """A Secret key as a Go template identifier and a store property (``client-secret`` → ``client_secret``)."""
    out = re.sub(r"[^A-Za-z0-9_]", "_", secret_key)
    return out if out[:1].isalpha() else f"k_{out}"


def split_value(kind: str, secret_key: str, value: str) -> tuple[dict[str, str], dict[str, str]]:
    """(store properties, template data) whose rendering is exactly ``{secret_key: value}``."""
    if kind == "aws":
        props = _aws_properties(value)
        if props is not None:
            lines = ["[default]", *(f"{p} = {{{{ .{p} }}}}" for p in _AWS_PROPS if p in props)]
            return props, {secret_key: "\n".join(lines) + "\n"}
    prop = prop_name(secret_key)
    return {prop: value}, {secret_key: f"{{{{ .{prop} }}}}"}


def _aws_properties(value: str) -> dict[str, str] | None:
    props: dict[str, str] = {}
    lines = value.split("\n")
    if not lines or lines[0] != "[default]" or value[-1:] != "\n":
        return None
    for line in lines[1:-1]:
        name, sep, v = line.partition(" = ")
        if not sep or name not in _AWS_PROPS or name in props or "{{" in v:
            return None
        props[name] = v
    if not {"aws_access_key_id", "aws_secret_access_key"} <= set(props):
        return None
    return props


def render(template: Mapping[str, str], props: Mapping[str, str]) -> dict[str, str]:
    """The Secret data ESO's template engine makes from ``template`` (only ``{{ .prop }}`` is used)."""
    missing = sorted({m for text in template.values() for m in _TEMPLATE_VAR.findall(text)} - set(props))
    if missing:
        raise CredentialError(f"the store entry has no property {', '.join(missing)} that the template uses")
    return {key: _TEMPLATE_VAR.sub(lambda m: props[m.group(1)], text) for key, text in template.items()}


def external_secret(
    name: str,
    namespace: str,
    provider: str | None,
    store: StoreSettings,
    key: str,
    props: list[str],
    template: Mapping[str, str],
    *,
    version_ref: str | None,
    content_hash: str | None,
    annotations: Mapping[str, str],
    force_sync: str | None,
) -> dict[str, Any]:
    labels = dict(marks.LABELS)
    if provider:
        labels[f"{marks.ANNOTATION}/provider"] = provider
    ann = {k: v for k, v in annotations.items() if k != marks.HASH_ANNOTATION}
    meta: dict[str, Any] = {"name": name, "namespace": namespace, "labels": labels, "annotations": ann}
    if content_hash:
        ann[marks.HASH_ANNOTATION] = content_hash
    ann[REMOTE_KEY] = key
    if force_sync:
        ann[FORCE_SYNC] = force_sync
    target_ann = {
        k: v
        for k, v in (
            (marks.HASH_ANNOTATION, content_hash),
            (f"{marks.ANNOTATION}/generation", annotations.get(f"{marks.ANNOTATION}/generation")),
        )
        if v
    }
    data = []
    for prop in props:
        ref: dict[str, Any] = {"key": key, "property": prop}
        if version_ref:
            ref["version"] = version_ref
        data.append({"secretKey": prop, "remoteRef": ref})
    return {
        "apiVersion": API,
        "kind": KIND,
        "metadata": meta,
        "spec": {
            "secretStoreRef": {"kind": store.store_kind, "name": store.store_name},
            "refreshPolicy": "Periodic",
            "refreshInterval": store.refresh_interval,
            "target": {
                "name": name,
                "creationPolicy": "Owner",
                "deletionPolicy": "Retain",
                "template": {
                    "type": "Opaque",
                    "engineVersion": "v2",
                    "metadata": {"labels": labels, "annotations": target_ann},
                    "data": dict(template),
                },
            },
            "data": data,
        },
    }


def for_provider(
    pc: ProviderConfig,
    cfg: Config,
    store: StoreSettings,
    value: str,
    *,
    version_ref: str | None,
    content_hash: str | None,
    rotation: Mapping[str, str],
    force_sync: str | None,
) -> tuple[dict[str, Any], dict[str, str]]:
    """The ExternalSecret of ``pc``'s credential and the store properties holding ``value``."""
    secret_key = pc.auth.secret_key or ""
    props, template = split_value(pc.auth.credential or "", secret_key, value)
    name, ns = secretdoc.secret_name(pc), secretdoc.secret_namespace(pc, cfg)
    annotations = {f"{marks.ANNOTATION}/auth": pc.auth.name, **rotation}
    doc = external_secret(
        name,
        ns,
        pc.key,
        store,
        remote_key(store, ns, name),
        list(props),
        template,
        version_ref=version_ref,
        content_hash=content_hash,
        annotations=annotations,
        force_sync=force_sync,
    )
    return doc, props


def for_mcp_seed(
    cfg: Config,
    store: StoreSettings,
    seed: str,
    fallback: str | None,
    *,
    version_ref: str | None,
    rotation: Mapping[str, str],
) -> tuple[dict[str, Any], dict[str, str]]:
    """The controller chart's MCP session seed Secret (key ``seed``, and ``fallbackSeed`` after a
    rotation) as an ExternalSecret. Not wired yet: ``generate`` keeps the seed SOPS-encrypted (it is
    the controller's own bootstrap material, rotated by ``rotate --provider mcp-session-seed``)."""
    if cfg.mcp_seed is None:  # pragma: no cover - callers check
        raise ValueError("ai_gateway_mcp_session_seed is off")
    data = {mcp.MCP_SEED_KEY: seed, **({mcp.MCP_FALLBACK_KEY: fallback} if fallback else {})}
    props = {prop_name(k): v for k, v in data.items()}
    template = {k: f"{{{{ .{prop_name(k)} }}}}" for k in data}
    name, ns = cfg.mcp_seed.secret_name, cfg.mcp_seed.namespace
    doc = external_secret(
        name,
        ns,
        None,
        store,
        remote_key(store, ns, name),
        list(props),
        template,
        version_ref=version_ref,
        content_hash=contenthash.content_hash(data),
        annotations={f"{marks.ANNOTATION}/auth": "mcp-session-seed", **rotation},
        force_sync=None,
    )
    return doc, props


def _copy(value: Any) -> dict[Any, Any]:
    return dict(kube.mapping(value))


def shape(doc: Any) -> Any:
    """What must match for an existing ExternalSecret to be kept: all but state annotations and version pins."""
    if not isinstance(doc, dict):
        return None
    meta = _copy(doc.get("metadata"))  # anything but a mapping differs from what generate writes: not kept
    ann = meta.get("annotations") or {}
    meta["annotations"] = {k: v for k, v in ann.items() if k not in STATE} if isinstance(ann, dict) else ann
    spec = _copy(doc.get("spec"))
    target = _copy(spec.get("target"))
    tmpl = _copy(target.get("template"))
    tmpl.pop("metadata", None)
    # the keys the Secret gets; how they are assembled depends on the value (AWS session token)
    tmpl["data"] = sorted(str(k) for k in _copy(tmpl.get("data")))
    target["template"] = tmpl
    spec["target"] = target
    data: list[Any] = spec["data"] if isinstance(spec.get("data"), list) else []
    spec["data"] = sorted({str(_copy(d.get("remoteRef")).get("key")) for d in data if isinstance(d, dict)})
    return doc.get("apiVersion"), doc.get("kind"), meta, spec


def read(doc: Any) -> tuple[str, list[str], str | None, dict[str, str]] | None:
    """(remote key, properties, pinned version, template data) of an ExternalSecret we wrote; None if it is not one."""
    if not isinstance(doc, dict) or doc.get("kind") != KIND:
        return None
    spec = kube.mapping(doc.get("spec"))
    refs = [kube.mapping(d.get("remoteRef")) for d in kube.mappings(spec.get("data"))]
    scalar = (str, int, float)  # a key or version written as a number is its text; a list or mapping is no ref
    if any(
        not isinstance(r.get("key"), scalar) or not isinstance(r.get("version"), (*scalar, type(None))) for r in refs
    ):
        return None
    keys = {str(r["key"]) for r in refs}
    if len(keys) != 1 or not refs:
        return None
    versions = {None if r.get("version") is None else str(r["version"]) for r in refs}
    template = kube.mapping(kube.mapping(kube.mapping(spec.get("target")).get("template")).get("data"))
    return (
        str(keys.pop()),
        [str(r.get("property")) for r in refs],
        (versions.pop() if len(versions) == 1 else None),
        dict(template),
    )


def store_version(version_ref: str | None) -> str | None:
    """The store's own version id from a ``remoteRef.version`` (``uuid/<id>`` for AWS)."""
    if not version_ref:
        return None
    return version_ref.removeprefix("uuid/")


FLUX_HINT = (
    "ExternalSecrets need ESO's CRDs and your store first: give the Flux Kustomization that applies this directory "
    "`spec.dependsOn: [{name: <the Kustomization with ESO and the ClusterSecretStore>}]` (README: External "
    "Secrets Operator backend)"
)
