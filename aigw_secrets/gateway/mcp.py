"""The MCP objects (v1.2): a Backend (+ BackendTLSPolicy) per MCP server, the MCPRoute naming their
API-key Secrets, and the controller's session-encryption seed (its Secret and the chart's values)."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from aigw_secrets.gateway.config import Config
from aigw_secrets.gateway.marks import ANNOTATION, MARKER, metadata
from aigw_secrets.gateway.routing import AIGW, backend, tls_policy
from aigw_secrets.gateway.secretdoc import secret_doc, secret_name
from aigw_secrets.gateway.yamltext import dump

# Field names from api/v1beta1/mcp_route.go (agent-router): backendRefs[] inline a
# BackendObjectReference plus `path` and `securityPolicy.apiKey.secretRef` (a SecretObjectReference whose
# Secret key is "apiKey"); `apiKey.inline` (a plaintext key in the CR) is never generated.
MCP_ROUTE_FILE = "mcp.yaml"
MCP_SEED_FILE = "mcp-session-encryption.secret.sops.yaml"
MCP_VALUES_FILE = "mcp-session-encryption.values.yaml"  # Helm values, not a Kubernetes object
MCP_SEED_KEY = "seed"  # templates/mcp_session_encryption_secret.yaml: `data: seed:`
MCP_FALLBACK_KEY = "fallbackSeed"  # ours: the previous seed, fed to fallback.seed (see mcp_values)


def mcp_objects(cfg: Config) -> list[dict[str, Any]]:
    """Backend (+ BackendTLSPolicy) per MCP server and one MCPRoute naming their API-key Secrets."""
    if not cfg.mcp_backends:
        return []
    objs: list[dict[str, Any]] = []
    refs = []
    for pc in cfg.mcp_backends:
        objs += [o for o in (backend(pc, cfg), tls_policy(pc, cfg)) if o is not None]
        refs.append(
            {
                "name": pc.name,
                "kind": "Backend",
                "group": "gateway.envoyproxy.io",
                "path": pc.settings["path"],
                "securityPolicy": {"apiKey": {"secretRef": {"name": secret_name(pc)}}},
            }
        )
    parent: dict[str, Any] = {"name": cfg.gateway_name, "kind": "Gateway", "group": "gateway.networking.k8s.io"}
    if cfg.gateway_namespace != cfg.namespace:
        parent["namespace"] = cfg.gateway_namespace
    route = {
        "apiVersion": AIGW,
        "kind": "MCPRoute",
        "metadata": metadata(cfg.mcp_route_name, cfg.namespace),
        "spec": {"parentRefs": [parent], "backendRefs": refs},
    }
    return [*objs, route]


def new_mcp_seed() -> str:
    """64 random alphanumerics (≈381 bits), the chart's own `randAlphaNum 64` shape; never contains `$`."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(64))


def mcp_seed_secret(
    cfg: Config,
    seed: str,
    fallback: str | None = None,
    *,
    rotation: Mapping[str, str] | None = None,
    salt: bytes | None = None,
    fingerprint: bool = True,
) -> dict[str, Any]:
    """The Secret the chart reads through ``controller.mcp.sessionEncryption.existingSecret``."""
    if cfg.mcp_seed is None:  # pragma: no cover - callers check
        raise ValueError("ai_gateway_mcp_session_seed is off")
    data = {MCP_SEED_KEY: seed}
    if fallback:
        data[MCP_FALLBACK_KEY] = fallback
    annotations = {f"{ANNOTATION}/auth": "mcp-session-seed", **(rotation or {})}
    return secret_doc(cfg.mcp_seed.secret_name, cfg.mcp_seed.namespace, None, data, annotations, salt, fingerprint)


def mcp_values(cfg: Config) -> str:
    """Helm values for the controller chart: use our Secret instead of rendering a new seed each time.

    Value names from manifests/charts/ai-gateway-helm (agent-router): values.yaml
    `controller.mcp.sessionEncryption.{seed,iterations,fallback.seed,fallback.iterations}`,
    templates/_helpers.tpl `mcpSessionEncryptionSecretName` (existingSecret, else
    <controller fullname>-mcp-session-encryption), templates/mcp_session_encryption_secret.yaml (key `seed`).
    The chart reads the fallback seed only as a value (`--mcpFallbackSessionEncryptionSeed`); no Secret key
    for it could be confirmed, so a Flux HelmRelease feeds our `fallbackSeed` key to that value with
    `valuesFrom` (optional: absent until the first rotation)."""
    if cfg.mcp_seed is None:  # pragma: no cover - callers check
        raise ValueError("ai_gateway_mcp_session_seed is off")
    name = cfg.mcp_seed.secret_name
    header = (
        f"{MARKER}: Helm values for the ai-gateway-helm controller chart (not a Kubernetes object).\n"
        "# With a Flux HelmRelease, put this under spec.values and let rotation's fallback seed reach the chart:\n"
        "#   valuesFrom:\n"
        f"#     - {{kind: Secret, name: {name}, valuesKey: {MCP_FALLBACK_KEY}, targetPath: "
        f"controller.mcp.sessionEncryption.fallback.seed, optional: true}}\n"
    )
    values = {"controller": {"mcp": {"sessionEncryption": {"existingSecret": name}}}}
    return dump([values], header, markers=False)
