"""``doctor`` for the External Secrets backend: every ExternalSecret in the repository
that makes a Secret a BackendSecurityPolicy or MCPRoute reads must produce the key that reader
reads, and name a SecretStore / ClusterSecretStore that exists in the repository or in cluster.yaml
(``ai_gateway_external_secrets_store``). Only plaintext YAML is read (never a sops file's values)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from aigw_secrets import kube, yamlload
from aigw_secrets.sops.findings import Finding

# BackendSecurityPolicy type → (field holding the secretRef, the Secret key the controller reads)
_READS = {
    "APIKey": (("apiKey", "secretRef"), "apiKey"),
    "AzureAPIKey": (("azureAPIKey", "secretRef"), "apiKey"),
    "AnthropicAPIKey": (("anthropicAPIKey", "secretRef"), "apiKey"),
    "AzureCredentials": (("azureCredentials", "clientSecretRef"), "client-secret"),
    "AWSCredentials": (("awsCredentials", "credentialsFile", "secretRef"), "credentials"),
    "GCPCredentials": (("gcpCredentials", "credentialsFile", "secretRef"), "service_account.json"),
}


def _dig(obj: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        obj = obj.get(key) if isinstance(obj, dict) else None
    return obj


def _docs(root: Path) -> list[tuple[Path, dict[str, Any]]]:
    from aigw_secrets.sops import config as sops_config

    out = []
    for path in sops_config.yaml_files(root):
        try:
            text = path.read_text("utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if "external-secrets.io" not in text and "aigateway.envoyproxy.io" not in text:
            continue  # cheap: only files that can matter are parsed
        try:
            docs = [d for d in yamlload.safe_load_all(text) if isinstance(d, dict)]
        except yaml.YAMLError:
            continue
        out += [(path, d) for d in docs if "sops" not in d]
    return out


Readers = dict[tuple[str, str], list[tuple[str, str]]]  # (ns, secret) -> [(key read, who)]
Stores = set[tuple[str, str]]  # (kind, name); SecretStore names carry their namespace as "ns/name"


def check(root: Path) -> list[Finding]:
    from aigw_secrets.errors import AigwError
    from aigw_secrets.gateway import config as gateway_config

    try:
        cfg = gateway_config.load(root)
        configured = cfg.external_secrets
    except AigwError:
        cfg, configured = None, None
    default_ns = cfg.namespace if cfg else "default"
    docs = _docs(root)
    readers, stores = _index(docs, default_ns)
    if configured:
        stores.add(
            (
                configured.store_kind,
                configured.store_name
                if configured.store_kind == "ClusterSecretStore"
                else f"*/{configured.store_name}",
            )
        )
    return [
        finding
        for path, d in docs
        if d.get("kind") == "ExternalSecret" and str(d.get("apiVersion", "")).startswith("external-secrets.io/")
        for finding in _check_external_secret(path.relative_to(root), d, default_ns, readers, stores)
    ]


def _index(docs: list[tuple[Path, dict[str, Any]]], default_ns: str) -> tuple[Readers, Stores]:
    """Who reads which Secret key (BackendSecurityPolicies, MCPRoutes) and which stores the repository defines."""
    readers: Readers = {}
    stores: Stores = set()
    for _path, d in docs:
        kind, meta = d.get("kind"), kube.mapping(d.get("metadata"))
        ns = str(meta.get("namespace") or default_ns)
        if kind == "BackendSecurityPolicy" and str(d.get("apiVersion", "")).startswith("aigateway.envoyproxy.io/"):
            spec = kube.mapping(d.get("spec"))
            field, key = _READS.get(str(spec.get("type")), ((), ""))
            ref = _dig(spec, field) if field else None
            if isinstance(ref, dict) and ref.get("name"):
                readers.setdefault((str(ref.get("namespace") or ns), str(ref["name"])), []).append(
                    (key, f"BackendSecurityPolicy {ns}/{meta.get('name')}")
                )
        elif kind == "MCPRoute":
            for backend in kube.mappings(kube.mapping(d.get("spec")).get("backendRefs")):
                ref = _dig(backend, ("securityPolicy", "apiKey", "secretRef"))
                if isinstance(ref, dict) and ref.get("name"):
                    readers.setdefault((str(ref.get("namespace") or ns), str(ref["name"])), []).append(
                        ("apiKey", f"MCPRoute {ns}/{meta.get('name')}")
                    )
        elif kind == "ClusterSecretStore":
            stores.add(("ClusterSecretStore", str(meta.get("name"))))
        elif kind == "SecretStore":
            stores.add(("SecretStore", f"{ns}/{meta.get('name')}"))
    return readers, stores


def _made_keys(spec: dict[str, Any]) -> set[str]:
    """The keys of the Secret an ExternalSecret makes: its template's, its data's, or both when merged."""
    template = kube.mapping(kube.mapping(spec.get("target")).get("template"))
    data_keys = {str(x.get("secretKey")) for x in kube.mappings(spec.get("data"))}
    if not (template.get("data") or template.get("templateFrom")):
        return data_keys
    made = {str(k) for k in kube.mapping(template.get("data"))}
    if template.get("mergePolicy") == "Merge" or template.get("templateFrom"):
        made |= data_keys
    return made


def _check_external_secret(
    rel: Path, d: dict[str, Any], default_ns: str, readers: Readers, stores: Stores
) -> list[Finding]:
    meta, spec = kube.mapping(d.get("metadata")), kube.mapping(d.get("spec"))
    ns = str(meta.get("namespace") or default_ns)
    where = f"{rel}: ExternalSecret {ns}/{meta.get('name')}"
    target = kube.mapping(spec.get("target"))
    secret = str(target.get("name") or meta.get("name"))
    made = _made_keys(spec)
    opaque = bool(spec.get("dataFrom")) or bool(kube.mapping(target.get("template")).get("templateFrom"))
    out: list[Finding] = []
    for key, who in readers.get((ns, secret), []):
        if key not in made and not opaque:
            fix = f"template the key {key} (spec.target.template.data.{key}); `aigw-secrets generate` writes it right"
            out.append(
                Finding(
                    "error",
                    where,
                    f"makes Secret {secret} with key(s) {', '.join(sorted(made)) or 'none'}, but {who} reads key {key}",
                    fix,
                )
            )
    managed = kube.mapping(meta.get("labels")).get("app.kubernetes.io/managed-by") == "aigw-secrets"
    if managed and (ns, secret) not in readers:
        out.append(
            Finding(
                "warning",
                where,
                f"makes Secret {ns}/{secret}, which no BackendSecurityPolicy or MCPRoute in the repository reads",
                "check spec.target.name against the policy's secretRef, or re-run `aigw-secrets generate`",
            )
        )
    ref = kube.mapping(spec.get("secretStoreRef"))
    kind, name = str(ref.get("kind") or "SecretStore"), str(ref.get("name") or "")
    known = (
        (kind, name) in stores
        if kind == "ClusterSecretStore"
        else ((kind, f"{ns}/{name}") in stores or (kind, f"*/{name}") in stores)
    )
    if not known and (managed or (ns, secret) in readers):  # someone else's ExternalSecret: its store is theirs to know
        fix = f"add the {kind} manifest, or set ai_gateway_external_secrets_store (and _store_kind) in cluster.yaml"
        out.append(
            Finding(
                "error",
                where,
                f"names {kind} {name!r}, which is neither in the repository nor ai_gateway_external_secrets_store",
                fix,
            )
        )
    interval = str(spec.get("refreshInterval", "1h"))
    if spec.get("refreshPolicy", "Periodic") == "Periodic" and interval.strip("0smh.") == "" and managed:
        out.append(
            Finding(
                "error",
                where,
                f"refreshInterval {interval} syncs once: a rotated credential never reaches the cluster",
                "set a non-zero ai_gateway_external_secrets_refresh_interval and re-run `aigw-secrets generate`",
            )
        )
    return out
