"""The objects that route requests to a provider, built from its configuration (pure: dicts out), and
the Kustomization listing the generated files.

Shapes follow ../shared/reference/AIGW-API.md (Envoy AI Gateway v1.1):
  Secret (key the controller reads) ← BackendSecurityPolicy.spec.targetRefs → AIServiceBackend
  AIServiceBackend.spec.backendRef → Envoy Gateway Backend (+ BackendTLSPolicy, gateway.networking.k8s.io/v1)
  AIGatewayRoute: one x-ai-eg-model Exact rule per model, at most 15 rules per route.
The Secret, the policy and the backend share one namespace by default: for API-key types v1.1 reads
the Secret from the policy's namespace whatever secretRef.namespace says (AIGW-API §2.6). v1.2 honours
secretRef.namespace for every type and needs a ReferenceGrant in the Secret's namespace (§7), which
``reference_grant`` emits when ``ai_gateway_secret_namespace`` puts the Secrets elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from aigw_secrets import kube
from aigw_secrets.gateway.config import Config, ProviderConfig, is_ip
from aigw_secrets.gateway.marks import ANNOTATION, metadata
from aigw_secrets.gateway.secretdoc import secret_name, secret_namespace

AIGW = "aigateway.envoyproxy.io/v1beta1"
EG = "gateway.envoyproxy.io/v1alpha1"
GWAPI_TLS = "gateway.networking.k8s.io/v1"
GWAPI_GRANT = "gateway.networking.k8s.io/v1beta1"  # what the v1.2 controller watches (AIGW-API §7)
MAX_RULES = 15  # AIGatewayRoute.spec.rules maxItems (one slot is the controller's catch-all)
MODEL_HEADER = "x-ai-eg-model"


def backend_names(pc: ProviderConfig) -> list[str]:
    """Names of this provider's AIServiceBackends, one per backend spec that has models."""
    return [pc.name + b.suffix for b in pc.provider.backends if b.suffix in pc.models]


_KEY_FIELDS = {"APIKey": "apiKey", "AzureAPIKey": "azureAPIKey", "AnthropicAPIKey": "anthropicAPIKey"}


def security_policy(pc: ProviderConfig, cfg: Config) -> dict[str, Any] | None:
    auth, s = pc.auth, pc.settings
    if auth.bsp_type is None:
        return None
    ref = {"name": secret_name(pc), "namespace": secret_namespace(pc, cfg)}
    spec: dict[str, Any] = {
        "targetRefs": [
            {"group": "aigateway.envoyproxy.io", "kind": "AIServiceBackend", "name": n} for n in backend_names(pc)
        ],
        "type": auth.bsp_type,
    }
    if auth.bsp_type in _KEY_FIELDS:
        spec[_KEY_FIELDS[auth.bsp_type]] = {"secretRef": ref}
    elif auth.bsp_type == "AzureCredentials":
        spec["azureCredentials"] = {"clientID": s["client_id"], "tenantID": s["tenant_id"], "clientSecretRef": ref}
    elif auth.bsp_type == "AWSCredentials":
        aws: dict[str, Any] = {"region": s["region"]}
        if auth.secret_key:  # keyless irsa / pod-identity: region only → AWS SDK default chain
            aws["credentialsFile"] = {"secretRef": ref, "profile": "default"}
        spec["awsCredentials"] = aws
    elif auth.bsp_type == "GCPCredentials":
        gcp: dict[str, Any] = {"projectName": s["project"], "region": s["region"]}
        if auth.secret_key:  # keyless adc / workload-identity: no credentialsFile → ADC
            gcp["credentialsFile"] = {"secretRef": ref}
        spec["gcpCredentials"] = gcp
    else:  # pragma: no cover - the table and this function must agree
        raise AssertionError(auth.bsp_type)
    return {
        "apiVersion": AIGW,
        "kind": "BackendSecurityPolicy",
        "metadata": metadata(pc.name, cfg.namespace, pc.key),
        "spec": spec,
    }


def reference_grant(pc: ProviderConfig, cfg: Config) -> dict[str, Any] | None:
    """Lets ``pc``'s BackendSecurityPolicy read its Secret in another namespace (v1.2 enforces
    group/kind and, when set, the exact ``to.name``)."""
    ns = secret_namespace(pc, cfg)
    if not pc.auth.secret_key or pc.auth.bsp_type is None or ns == cfg.namespace:
        return None
    return {
        "apiVersion": GWAPI_GRANT,
        "kind": "ReferenceGrant",
        "metadata": metadata(f"{pc.name}-secret", ns, pc.key),
        "spec": {
            "from": [{"group": "aigateway.envoyproxy.io", "kind": "BackendSecurityPolicy", "namespace": cfg.namespace}],
            "to": [{"group": "", "kind": "Secret", "name": secret_name(pc)}],
        },
    }


def backend(pc: ProviderConfig, cfg: Config) -> dict[str, Any]:
    endpoint = (
        {"ip": {"address": pc.host, "port": pc.port}}
        if is_ip(pc.host)
        else {"fqdn": {"hostname": pc.host, "port": pc.port}}
    )
    return {
        "apiVersion": EG,
        "kind": "Backend",
        "metadata": metadata(pc.name, cfg.namespace, pc.key),
        "spec": {"endpoints": [endpoint]},
    }


def tls_policy(pc: ProviderConfig, cfg: Config) -> dict[str, Any] | None:
    if not pc.tls:
        return None
    return {
        "apiVersion": GWAPI_TLS,
        "kind": "BackendTLSPolicy",
        "metadata": metadata(f"{pc.name}-tls", cfg.namespace, pc.key),
        "spec": {
            "targetRefs": [{"group": "gateway.envoyproxy.io", "kind": "Backend", "name": pc.name}],
            "validation": {"wellKnownCACertificates": "System", "hostname": pc.host},
        },
    }


def service_backends(pc: ProviderConfig, cfg: Config) -> list[dict[str, Any]]:
    out = []
    fill = {k: v for k, v in pc.settings.items() if isinstance(v, str)}
    for b in pc.provider.backends:
        if b.suffix not in pc.models:
            continue
        schema: dict[str, Any] = {"name": b.schema}
        if b.version:
            schema["version"] = b.version.format(**fill)
        if pc.prefix and b.schema in ("OpenAI", "Anthropic"):  # prefix is ignored for the other schemas
            schema["prefix"] = pc.prefix
        out.append(
            {
                "apiVersion": AIGW,
                "kind": "AIServiceBackend",
                "metadata": metadata(pc.name + b.suffix, cfg.namespace, pc.key),
                "spec": {
                    "schema": schema,
                    "backendRef": {"name": pc.name, "kind": "Backend", "group": "gateway.envoyproxy.io"},
                },
            }
        )
    return out


def provider_objects(pc: ProviderConfig, cfg: Config) -> list[dict[str, Any]]:
    """Everything for one provider except its Secret, in apply order."""
    objs = [
        security_policy(pc, cfg),
        reference_grant(pc, cfg),
        backend(pc, cfg),
        tls_policy(pc, cfg),
        *service_backends(pc, cfg),
    ]
    return [o for o in objs if o is not None]


POLICY_ANNOTATION = f"{ANNOTATION}/secret-generation"


def mark_generation(objs: list[Any], generation: str | None) -> bool:
    """Record the Secret's generation on the BackendSecurityPolicy; True when that changed it.

    Envoy AI Gateway v1.1.0 can keep serving a credential it read before the Secret changed until
    its next reconcile (fixed in v1.2.0); a changed policy is reconciled at once. ``generate`` and
    rotation both write it from the Secret's current generation, so they never undo each other."""
    changed = False
    for doc in objs:
        if not (generation and isinstance(doc, dict) and doc.get("kind") == "BackendSecurityPolicy"):
            continue
        meta = doc.setdefault("metadata", {})
        ann = meta.setdefault("annotations", {}) if isinstance(meta, dict) else None
        if not isinstance(ann, dict):
            continue  # a policy a commit reshaped: generate writes it anew (generate --check shows it)
        changed |= ann.get(POLICY_ANNOTATION) != generation
        ann[POLICY_ANNOTATION] = generation
    return changed


def routes(cfg: Config, created_at: Mapping[str, str], now: str) -> list[dict[str, Any]]:
    """AIGatewayRoutes with one rule per model, split into chunks of at most 15 rules."""
    rules = []
    for pc in cfg.providers:
        for b in pc.provider.backends:
            for model in pc.models.get(b.suffix, []):
                rules.append(
                    {
                        "matches": [{"headers": [{"type": "Exact", "name": MODEL_HEADER, "value": model}]}],
                        "backendRefs": [{"name": pc.name + b.suffix}],
                        "modelsOwnedBy": pc.provider.title,
                        "modelsCreatedAt": created_at.get(model, now),
                    }
                )
    parent: dict[str, Any] = {"name": cfg.gateway_name, "kind": "Gateway", "group": "gateway.networking.k8s.io"}
    if cfg.gateway_namespace != cfg.namespace:
        parent["namespace"] = cfg.gateway_namespace
    out = []
    for i in range(0, len(rules), MAX_RULES):
        name = cfg.route_name if i == 0 else f"{cfg.route_name}-{i // MAX_RULES + 1}"
        out.append(
            {
                "apiVersion": AIGW,
                "kind": "AIGatewayRoute",
                "metadata": metadata(name, cfg.namespace),
                "spec": {"parentRefs": [parent], "rules": rules[i : i + MAX_RULES]},
            }
        )
    return out


def models_created_at(documents: Iterable[Any]) -> dict[str, str]:
    """model → modelsCreatedAt from previously generated routes, so re-runs do not churn."""
    out: dict[str, str] = {}
    for doc in documents:
        if not isinstance(doc, dict) or doc.get("kind") != "AIGatewayRoute":
            continue
        for rule in kube.mappings(kube.mapping(doc.get("spec")).get("rules")):
            stamp = rule.get("modelsCreatedAt")
            for match in kube.mappings(rule.get("matches")):
                for header in kube.mappings(match.get("headers")):
                    if header.get("name") == MODEL_HEADER and isinstance(stamp, str):
                        out[str(header.get("value"))] = stamp
    return out


def kustomization(resources: Iterable[str]) -> dict[str, Any]:
    return {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": sorted(resources)}
