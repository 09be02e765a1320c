"""Cross-reference checks over a set of generated objects, the links an API server does not check
but the AI Gateway controller follows (AIGW-API.md §0, §2.4, §2.6): needs no CRDs, so these run on a
fresh clone without ../shared too."""

from __future__ import annotations

from typing import Any

# The Secret key each BackendSecurityPolicy type reads (AIGW-API.md §0).
CONTROLLER_KEYS = {
    "APIKey": "apiKey",
    "AzureAPIKey": "apiKey",
    "AnthropicAPIKey": "apiKey",
    "AWSCredentials": "credentials",
    "AzureCredentials": "client-secret",
    "GCPCredentials": "service_account.json",
}
_TYPE_FIELD = {
    "APIKey": "apiKey",
    "AzureAPIKey": "azureAPIKey",
    "AnthropicAPIKey": "anthropicAPIKey",
    "AWSCredentials": "awsCredentials",
    "AzureCredentials": "azureCredentials",
    "GCPCredentials": "gcpCredentials",
}


def generated(cfg: Any) -> list[dict[str, Any]]:
    """What `generate` emits for ``cfg`` (a gateway.config.Config), Secrets with a stand-in value."""
    from aigw_secrets.gateway import routing, secretdoc

    out: list[dict[str, Any]] = []
    for pc in cfg.providers:
        out += routing.provider_objects(pc, cfg)
        if pc.auth.secret_key:
            out.append(secretdoc.secret(pc, cfg, "value-not-checked-here", fingerprint=False))
    return out + routing.routes(cfg, {}, "2026-01-01T00:00:00Z")


def _secret_ref(policy: dict[str, Any]) -> dict[str, Any] | None:
    block = policy["spec"].get(_TYPE_FIELD.get(policy["spec"].get("type", ""), ""), {}) or {}
    return (
        block.get("secretRef") or block.get("clientSecretRef") or (block.get("credentialsFile") or {}).get("secretRef")
    )


def problems(objects: list[dict[str, Any]]) -> list[str]:
    """Every broken link among ``objects`` (empty when the set is consistent)."""
    by_kind: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}
    for o in objects:
        by_kind.setdefault(o["kind"], {})[(o["metadata"].get("namespace", ""), o["metadata"]["name"])] = o
    out: list[str] = []

    def has(kind: str, ns: str, name: str) -> bool:
        return (ns, name) in by_kind.get(kind, {})

    for (ns, name), policy in by_kind.get("BackendSecurityPolicy", {}).items():
        for ref in policy["spec"].get("targetRefs") or []:
            if not has(ref.get("kind", ""), ns, ref.get("name", "")):
                out.append(
                    f"BackendSecurityPolicy {name}: targetRef {ref.get('kind')}/{ref.get('name')} does not "
                    f"exist in {ns}"
                )
        ref = _secret_ref(policy)
        if ref is None:
            continue
        secret_ns = ref.get("namespace", ns)
        secret = by_kind.get("Secret", {}).get((secret_ns, ref["name"]))
        if secret is None:
            out.append(f"BackendSecurityPolicy {name}: Secret {secret_ns}/{ref['name']} does not exist")
            continue
        want = CONTROLLER_KEYS[policy["spec"]["type"]]
        keys = set(secret.get("stringData") or {}) | set(secret.get("data") or {})
        if want not in keys:
            out.append(f"Secret {ref['name']}: lacks key {want}, which a {policy['spec']['type']} policy reads")
        if secret_ns != ns:
            grants = [
                g for g in by_kind.get("ReferenceGrant", {}).values()
                if g["metadata"].get("namespace") == secret_ns
                and any(
                    f.get("group") == "aigateway.envoyproxy.io"
                    and f.get("kind") == "BackendSecurityPolicy"
                    and f.get("namespace") == ns
                    for f in g["spec"].get("from") or []
                )
                # v1.2 enforces to.name exactly when set (release notes v1.2.0); the core group is ""
                and any(
                    t.get("group") == "" and t.get("kind") == "Secret" and t.get("name") in (None, ref["name"])
                    for t in g["spec"].get("to") or []
                )
            ]  # fmt: skip
            if not grants:
                out.append(
                    f"BackendSecurityPolicy {name}: Secret in namespace {secret_ns} without a ReferenceGrant there"
                )
    for (ns, name), backend in by_kind.get("AIServiceBackend", {}).items():
        ref = backend["spec"].get("backendRef") or {}
        if not has("Backend", ref.get("namespace", ns), ref.get("name", "")):
            out.append(f"AIServiceBackend {name}: backendRef Backend/{ref.get('name')} does not exist")
    for (ns, name), tls in by_kind.get("BackendTLSPolicy", {}).items():
        for ref in tls["spec"].get("targetRefs") or []:
            if not has(ref.get("kind", ""), ns, ref.get("name", "")):
                out.append(f"BackendTLSPolicy {name}: targetRef {ref.get('kind')}/{ref.get('name')} does not exist")
    for (ns, name), route in by_kind.get("AIGatewayRoute", {}).items():
        for rule in route["spec"].get("rules") or []:
            for ref in rule.get("backendRefs") or []:
                if not has("AIServiceBackend", ref.get("namespace", ns), ref["name"]):
                    out.append(f"AIGatewayRoute {name}: backendRef {ref['name']} is not an AIServiceBackend in {ns}")
    return out
