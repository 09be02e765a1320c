"""Agent Router v1.2: target version, Secrets in another namespace + ReferenceGrant, v1.2-only
values against the patched schema, MCP objects, the Flux substitution predicate, new providers' rows."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from aigw_secrets import flux
from aigw_secrets.errors import ConfigError
from aigw_secrets.gateway import config, credentials, mcp, routing, secretdoc, validate
from aigw_secrets.gateway.providers import PROVIDERS
from testing import crds, crossref, fakes
from testing.repos import AUTH_MATRIX, provider_settings, write_cluster

shared = pytest.mark.usefixtures("shared_crds")
SECRET_NS = "ai-secrets"
SECRET_MODES = [(k, a) for k, a in AUTH_MATRIX if PROVIDERS[k].auth(a).secret_key]


def _load(tmp_path: Path, settings: dict[str, Any]) -> config.Config:
    write_cluster(tmp_path, settings)
    return config.load(tmp_path)


def _error(tmp_path: Path, settings: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as exc:
        _load(tmp_path, settings)
    assert "\n" not in str(exc.value)
    return str(exc.value)


_objects = crossref.generated


# --- ai_gateway_version


def test_version_default_and_choices(tmp_path: Path) -> None:
    assert _load(tmp_path, provider_settings("openai")).version == "v1.2"
    assert _load(tmp_path, {**provider_settings("openai"), "ai_gateway_version": "v1.1"}).version == "v1.1"
    assert "ai_gateway_version: 'v1.3' is not one of v1.1, v1.2" in _error(tmp_path, {"ai_gateway_version": "v1.3"})


def test_v12_only_provider_refused_on_v11(tmp_path: Path) -> None:
    msg = _error(tmp_path, {**provider_settings("bedrock_openai"), "ai_gateway_version": "v1.1"})
    assert "ai_gateway_bedrock_openai_enabled" in msg and "v1.2" in msg


# --- Secrets in another namespace


@pytest.mark.parametrize(("provider", "auth"), SECRET_MODES)
def test_cross_namespace_secret_has_an_exact_grant(tmp_path: Path, provider: str, auth: str) -> None:
    cfg = _load(tmp_path, {**provider_settings(provider, auth), "ai_gateway_secret_namespace": SECRET_NS})
    objects = _objects(cfg)
    assert crossref.problems(objects) == []
    (pc,) = cfg.providers
    secret = next(o for o in objects if o["kind"] == "Secret")
    policy = next(o for o in objects if o["kind"] == "BackendSecurityPolicy")
    (grant,) = [o for o in objects if o["kind"] == "ReferenceGrant"]
    assert secret["metadata"]["namespace"] == SECRET_NS and policy["metadata"]["namespace"] == cfg.namespace
    assert SECRET_NS in str(policy["spec"])  # secretRef.namespace (clientSecretRef / credentialsFile.secretRef)
    assert grant["apiVersion"] == "gateway.networking.k8s.io/v1beta1"
    assert grant["metadata"]["namespace"] == SECRET_NS
    assert grant["spec"] == {
        "from": [{"group": "aigateway.envoyproxy.io", "kind": "BackendSecurityPolicy", "namespace": cfg.namespace}],
        "to": [{"group": "", "kind": "Secret", "name": secretdoc.secret_name(pc)}],
    }


def test_same_namespace_needs_no_grant(tmp_path: Path) -> None:
    cfg = _load(tmp_path, {**provider_settings("openai"), "ai_gateway_secret_namespace": "ai-gateway"})
    assert cfg.secret_namespace == ""
    assert not [o for o in _objects(cfg) if o["kind"] == "ReferenceGrant"]


@pytest.mark.parametrize("provider", ["openai", "azure", "anthropic", "bedrock"])
def test_v11_refuses_cross_namespace_for_types_it_read_locally(tmp_path: Path, provider: str) -> None:
    msg = _error(
        tmp_path,
        {**provider_settings(provider), "ai_gateway_version": "v1.1", "ai_gateway_secret_namespace": SECRET_NS},
    )
    assert "ai_gateway_secret_namespace" in msg and "v1.2" in msg


def test_v11_allows_cross_namespace_for_types_it_read_there(tmp_path: Path) -> None:
    """v1.1 read GCP credentialsFile and Azure clientSecretRef across namespaces (AIGW-API §2.6)."""
    settings = {**provider_settings("vertex"), **provider_settings("azure", "entra")}
    cfg = _load(tmp_path, {**settings, "ai_gateway_version": "v1.1", "ai_gateway_secret_namespace": SECRET_NS})
    assert crossref.problems(_objects(cfg)) == []


def test_grant_negative_controls(tmp_path: Path) -> None:
    cfg = _load(tmp_path, {**provider_settings("openai"), "ai_gateway_secret_namespace": SECRET_NS})
    objects = _objects(cfg)

    def broken(path: tuple[str, int, str], value: str | None) -> list[str]:
        objs = copy.deepcopy(objects)
        grant = next(o for o in objs if o["kind"] == "ReferenceGrant")
        entry = grant["spec"][path[0]][path[1]]
        if value is None:
            grant["metadata"]["namespace"] = "elsewhere"
        else:
            entry[path[2]] = value
        return crossref.problems(objs)

    assert broken(("to", 0, "name"), "another-secret")
    assert broken(("to", 0, "group"), "v1")
    assert broken(("to", 0, "kind"), "ConfigMap")
    assert broken(("from", 0, "group"), "gateway.networking.k8s.io")
    assert broken(("from", 0, "kind"), "HTTPRoute")
    assert broken(("from", 0, "namespace"), "other")
    assert broken(("to", 0, "name"), None)  # grant in the wrong namespace


@shared
def test_grant_and_cross_namespace_policies_validate(tmp_path: Path) -> None:
    from testing.repos import all_providers

    cfg = _load(tmp_path, {**all_providers(), "ai_gateway_secret_namespace": SECRET_NS})
    objects = _objects(cfg)
    grants = [o for o in objects if o["kind"] == "ReferenceGrant"]
    assert len(grants) == sum(1 for pc in cfg.providers if pc.auth.secret_key)
    for obj in objects:
        if obj["kind"] == "Secret":
            continue
        report = crds.validate(obj, "v1.2")
        assert report.schema_errors == [] and report.cel_failures == [], (obj["kind"], report)
    bad = copy.deepcopy(grants[0])
    bad["spec"]["to"][0]["kind"] = ""  # minLength 1
    assert crds.validate(bad).schema_errors


# --- v1.2-only values


@shared
def test_awsopenai_needs_the_v12_schema(tmp_path: Path) -> None:
    """`AWSOpenAI` is in the v1beta1 VersionedAPISchema enum of agent-router api/v1beta1/shared_types.go
    (@509c7eb4); the v1.1.0 CRD rejects it, the schema patched with exactly that value accepts it."""
    cfg = _load(tmp_path, provider_settings("bedrock_openai"))
    (pc,) = cfg.providers
    (backend,) = routing.service_backends(pc, cfg)
    assert backend["spec"]["schema"] == {"name": "AWSOpenAI"}  # prefix: the controller's default openai/v1
    assert crds.validate(backend).schema_errors
    assert crds.validate(backend, "v1.2").schema_errors == []
    policy = routing.security_policy(pc, cfg)
    assert policy is not None and policy["spec"]["type"] == "AWSCredentials"  # SigV4 through an AWS policy


@shared
def test_patched_schema_adds_exactly_the_go_types_fields(tmp_path: Path) -> None:
    """headerValueFilters (ai_service_backend.go @2738c62f: GCPAnthropic/AWSAnthropic only, CEL) and
    excludeFromModelsEndpoint (release notes v1.2.0) exist in the patched schema, not in v1.1.0."""
    cfg = _load(tmp_path, provider_settings("bedrock"))
    (pc,) = cfg.providers
    anthropic = next(b for b in routing.service_backends(pc, cfg) if b["spec"]["schema"]["name"] == "AWSAnthropic")
    anthropic["spec"]["headerValueFilters"] = [{"name": "anthropic-beta", "values": ["context-1m-2025-08-07"]}]
    assert crds.validate(anthropic).schema_errors
    report = crds.validate(anthropic, "v1.2")
    assert report.schema_errors == [] and report.cel_failures == []
    openai = copy.deepcopy(anthropic)
    openai["spec"]["schema"] = {"name": "OpenAI"}
    assert crds.validate(openai, "v1.2").cel_failures
    route = routing.routes(cfg, {}, "2026-01-01T00:00:00Z")[0]
    route["spec"]["rules"][0]["excludeFromModelsEndpoint"] = True
    assert crds.validate(route).schema_errors and crds.validate(route, "v1.2").schema_errors == []
    typesafe = copy.deepcopy(anthropic)
    typesafe["spec"] = {"schema": {"name": "TypeSafe"}, "backendRef": anthropic["spec"]["backendRef"]}
    assert crds.validate(typesafe, "v1.2").schema_errors  # not patched in: we never emit it


# --- MCP


def test_mcp_route_and_backends(tmp_path: Path) -> None:
    """Shape per agent-router api/v1beta1/mcp_route.go: backendRefs inline a BackendObjectReference plus
    `path`; `securityPolicy.apiKey` has exactly one of secretRef/inline; the Secret key is `apiKey`."""
    cfg = _load(
        tmp_path,
        {"ai_gateway_mcp_backends": ["github=https://api.githubcopilot.com/mcp/", "kiwi=http://10.0.0.7:8080"]},
    )
    objects = mcp.mcp_objects(cfg)
    route = objects[-1]
    assert route["kind"] == "MCPRoute" and route["apiVersion"] == "aigateway.envoyproxy.io/v1beta1"
    github, kiwi = route["spec"]["backendRefs"]
    assert github == {
        "name": "mcp-github",
        "kind": "Backend",
        "group": "gateway.envoyproxy.io",
        "path": "/mcp",
        "securityPolicy": {"apiKey": {"secretRef": {"name": "mcp-github-apikey"}}},
    }
    assert kiwi["path"] == "/mcp" and "inline" not in str(route)
    kinds = [o["kind"] for o in objects]
    assert kinds == ["Backend", "BackendTLSPolicy", "Backend", "MCPRoute"]  # no TLS policy for http://
    secret = secretdoc.secret(cfg.mcp_backends[0], cfg, "tok-" + fakes.rand(30), fingerprint=False)
    assert list(secret["stringData"]) == ["apiKey"] and secret["metadata"]["namespace"] == cfg.namespace
    names = {o["metadata"]["name"] for o in objects if o["kind"] == "Backend"}
    assert {r["name"] for r in route["spec"]["backendRefs"]} <= names


def test_mcp_backend_entries_are_checked(tmp_path: Path) -> None:
    assert "NAME=URL" in _error(tmp_path, {"ai_gateway_mcp_backends": ["https://x.example/mcp"]})
    assert "http:// or https://" in _error(tmp_path, {"ai_gateway_mcp_backends": ["a=ftp://x"]})


def test_mcp_seed_secret_name_follows_the_chart(tmp_path: Path) -> None:
    cfg = _load(tmp_path, {"ai_gateway_mcp_session_seed": True})
    assert cfg.mcp_seed == config.MCPSeed("ai-gateway-controller-mcp-session-encryption", "envoy-ai-gateway-system")
    cfg = _load(
        tmp_path,
        {
            "ai_gateway_mcp_session_seed": True,
            "ai_gateway_mcp_fullname_override": "",
            "ai_gateway_mcp_release_name": "aieg",
        },
    )
    assert cfg.mcp_seed is not None and cfg.mcp_seed.secret_name == "aieg-ai-gateway-helm-mcp-session-encryption"
    assert config.controller_fullname("my-ai-gateway-helm", "") == "my-ai-gateway-helm"
    seed = mcp.mcp_seed_secret(cfg, mcp.new_mcp_seed(), "old", fingerprint=False)
    assert sorted(seed["stringData"]) == ["fallbackSeed", "seed"] and len(seed["stringData"]["seed"]) == 64
    assert "existingSecret: aieg-ai-gateway-helm-mcp-session-encryption" in mcp.mcp_values(cfg)


# --- Flux 2.9 strict substitution


@pytest.mark.parametrize(
    ("value", "hazard"),
    [
        ("plain-key", False),
        ("a${VAR}b", True),
        ("${VAR:=default}", True),
        ("$${VAR}", False),  # Flux's escape
        ("$$${VAR}", True),
        ("$VAR and $ {x}", False),
        ("ok$${A}then${B}", True),
    ],
)
def test_flux_substitution_hazard(value: str, hazard: bool) -> None:
    assert flux.flux_substitution_hazard(value) is hazard


def test_hazardous_value_opts_the_secret_out_of_substitution(tmp_path: Path) -> None:
    cfg = _load(tmp_path, provider_settings("openai_compatible"))
    (pc,) = cfg.providers
    plain = secretdoc.secret(pc, cfg, "tok-plain-value", fingerprint=False)
    assert flux.FLUX_SUBSTITUTE not in plain["metadata"]["annotations"]
    doc = secretdoc.secret(pc, cfg, "tok-${NOT_A_VAR}", fingerprint=False)
    assert doc["metadata"]["annotations"][flux.FLUX_SUBSTITUTE] == "disabled"
    assert doc["stringData"]["apiKey"] == "tok-${NOT_A_VAR}"  # value kept exactly, not escaped


# --- provider rows: shape checks and documented validation calls

KEYS = {
    "gemini": fakes.gemini_key,
    "mistral": fakes.mistral_key,
    "xai": fakes.xai_key,
    "openrouter": fakes.openrouter_key,
    "deepseek": fakes.deepseek_key,
    "together": fakes.together_key,
    "deepinfra": fakes.deepinfra_key,
    "cohere": fakes.cohere_key,
    "cohere_openai": fakes.cohere_key,
    "bedrock_api_key": fakes.bedrock_api_key,
}
DOCUMENTED = {
    "gemini": "https://generativelanguage.googleapis.com/v1beta/openai/models",
    "mistral": "https://api.mistral.ai/v1/models",
    "xai": "https://api.x.ai/v1/models",
    "openrouter": "https://openrouter.ai/api/v1/key",
    "deepseek": "https://api.deepseek.com/models",
    "together": "https://api.together.xyz/v1/models",
    "deepinfra": "https://api.deepinfra.com/v1/openai/models",
    "cohere": "https://api.cohere.com/v1/models",
    "cohere_openai": "https://api.cohere.com/v1/models",
    "bedrock_api_key": "https://bedrock.eu-west-1.amazonaws.com/foundation-models",
}


@pytest.mark.parametrize("key", sorted(KEYS))
def test_new_provider_key_shapes_and_validation_call(tmp_path: Path, key: str) -> None:
    settings = provider_settings(key)
    if key == "bedrock_api_key":
        settings["ai_gateway_bedrock_api_key_region"] = "eu-west-1"
    cfg = _load(tmp_path, settings)
    (pc,) = cfg.providers
    value = KEYS[key]()
    assert credentials.check(pc, value, "test").value == value
    if pc.provider.key_prefixes:
        with pytest.raises(Exception, match="does not look like"):
            credentials.check(pc, "zz" + value, "test")
    req = validate.request_for(pc, value)
    assert (req.method, req.url, req.headers) == ("GET", DOCUMENTED[key], {"Authorization": f"Bearer {value}"})


def test_new_provider_backends(tmp_path: Path) -> None:
    schemas = {}
    for key in [*KEYS, "bedrock_openai"]:
        cfg = _load(tmp_path, provider_settings(key))
        (pc,) = cfg.providers
        (backend,) = routing.service_backends(pc, cfg)
        schemas[key] = (
            routing.backend(pc, cfg)["spec"]["endpoints"][0]["fqdn"]["hostname"],
            backend["spec"]["schema"],
        )
    assert schemas["gemini"] == ("generativelanguage.googleapis.com", {"name": "OpenAI", "prefix": "/v1beta/openai"})
    assert schemas["openrouter"] == ("openrouter.ai", {"name": "OpenAI", "prefix": "/api/v1"})
    assert schemas["deepinfra"] == ("api.deepinfra.com", {"name": "OpenAI", "prefix": "/v1/openai"})
    assert schemas["cohere"] == ("api.cohere.com", {"name": "Cohere", "version": "v2"})
    assert schemas["cohere_openai"] == ("api.cohere.com", {"name": "OpenAI", "prefix": "/compatibility/v1"})
    assert schemas["bedrock_api_key"] == (
        "bedrock-runtime.us-east-1.amazonaws.com",
        {"name": "OpenAI", "prefix": "/openai/v1"},
    )
    assert schemas["bedrock_openai"] == ("bedrock-runtime.us-east-1.amazonaws.com", {"name": "AWSOpenAI"})
    for key in ("mistral", "xai", "deepseek", "together"):
        assert schemas[key][1] == {"name": "OpenAI"}  # /v1


def test_key_shapes_are_re2_and_match_the_fakes() -> None:
    """shapes.KEY_SHAPES (data for the scanner's rules) compile under RE2 and match well-formed keys;
    the distinctive ones do not match another provider's key."""
    import re2

    from aigw_secrets.shapes import KEY_SHAPES

    makers = {**KEYS, "bedrock_api_key_short": lambda: "bedrock-api-key-" + fakes.rand(120, fakes.ALNUM + "+/")}
    for name, shape in KEY_SHAPES.items():
        assert re2.fullmatch(shape.pattern, makers[name]()), name
        if shape.distinctive:
            others = [m() for n, m in makers.items() if n != name and not n.startswith(name[:7])]
            assert not any(re2.search(shape.pattern, o) for o in others), name


def test_a_repository_value_cannot_move_the_validation_host(tmp_path: Path) -> None:
    settings = {**provider_settings("bedrock_api_key"), "ai_gateway_bedrock_api_key_region": "evil.example/x?"}
    write_cluster(tmp_path, settings)
    with pytest.raises(ConfigError):  # the upstream host check refuses it first
        config.load(tmp_path)
    cfg = _load(tmp_path, provider_settings("bedrock_api_key"))
    (pc,) = cfg.providers
    pc.settings["region"] = "evil.example/x?"
    with pytest.raises(ConfigError, match="ai_gateway_bedrock_api_key_region"):
        validate.request_for(pc, fakes.bedrock_api_key())
