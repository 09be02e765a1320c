"""Every generated object, for every provider and auth mode, against the real CRDs (../shared/crds)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from aigw_secrets.gateway import config, routing, secretdoc
from testing import crds, crossref, fakes
from testing.repos import AUTH_MATRIX, all_providers, provider_settings, write_cluster

CONTROLLER_KEYS = crossref.CONTROLLER_KEYS
shared = pytest.mark.usefixtures("shared_crds")


def _load(tmp_path: Path, settings: dict[str, object]) -> config.Config:
    write_cluster(tmp_path, settings)
    return config.load(tmp_path)


def assert_valid(obj: dict[str, object], version: str = "v1.1") -> None:
    report = crds.validate(obj, version)
    assert report.schema_errors == [], (obj["kind"], report.schema_errors)
    assert report.cel_failures == [], (obj["kind"], report.cel_failures)
    assert report.cel_evaluated > 0, f"no CEL rule evaluated for {obj['kind']}"


@shared
@pytest.mark.parametrize(("provider", "auth"), AUTH_MATRIX)
def test_every_provider_and_auth_mode_validates(tmp_path: Path, provider: str, auth: str) -> None:
    cfg = _load(tmp_path, provider_settings(provider, auth))
    (pc,) = cfg.providers
    objects = routing.provider_objects(pc, cfg) + routing.routes(cfg, {}, "2026-01-01T00:00:00Z")
    kinds = [o["kind"] for o in objects]
    assert "AIServiceBackend" in kinds and "Backend" in kinds and "AIGatewayRoute" in kinds
    # v1.2-only rows (AWSOpenAI) against the v1.1.0 CRDs patched with exactly the v1.2 Go types' additions
    # (testing/crds.py _patch_v12); everything else against the plain v1.1.0 CRDs.
    for obj in objects:
        assert obj["metadata"]["namespace"] == cfg.namespace
        assert_valid(obj, pc.provider.min_version)

    policy = next((o for o in objects if o["kind"] == "BackendSecurityPolicy"), None)
    if pc.auth.secret_key:
        secret = secretdoc.secret(pc, cfg, "value-not-checked-here")
        assert policy is not None
        assert list(secret["stringData"]) == [CONTROLLER_KEYS[policy["spec"]["type"]]]
        assert secret["metadata"]["namespace"] == policy["metadata"]["namespace"]
        refs = str(policy["spec"])
        assert secret["metadata"]["name"] in refs
    targets = {t["name"] for t in policy["spec"]["targetRefs"]} if policy else set()
    backends = {o["metadata"]["name"] for o in objects if o["kind"] == "AIServiceBackend"}
    if policy:
        assert targets == backends
    for ab in (o for o in objects if o["kind"] == "AIServiceBackend"):
        assert "host" not in ab["spec"] and "backendSecurityPolicyRef" not in ab["spec"]


@shared
def test_all_providers_together(tmp_path: Path) -> None:
    cfg = _load(tmp_path, all_providers())
    objects = [o for pc in cfg.providers for o in routing.provider_objects(pc, cfg)]
    objects += routing.routes(cfg, {}, "2026-01-01T00:00:00Z")
    for obj in objects:
        assert_valid(obj, "v1.2")
    schemas = {o["spec"]["schema"]["name"]: o["spec"]["schema"] for o in objects if o["kind"] == "AIServiceBackend"}
    assert schemas["AzureOpenAI"]["version"] == "2025-01-01-preview"
    assert schemas["GCPAnthropic"]["version"] == "vertex-2023-10-16"
    assert schemas["AWSAnthropic"]["version"] == "bedrock-2023-05-31"
    groq = next(o for o in objects if o["kind"] == "AIServiceBackend" and o["metadata"]["name"] == "groq")
    assert groq["spec"]["schema"] == {"name": "OpenAI", "prefix": "/openai/v1"}


@shared
def test_ip_endpoint_and_split_routes_validate(tmp_path: Path) -> None:
    settings = provider_settings("vllm")
    settings["ai_gateway_vllm_url"] = "https://10.0.0.5:8443/custom/v1"
    settings["ai_gateway_vllm_models"] = [f"m{i}" for i in range(20)]
    cfg = _load(tmp_path, settings)
    (pc,) = cfg.providers
    objects = routing.provider_objects(pc, cfg) + routing.routes(cfg, {}, "2026-01-01T00:00:00Z")
    backend = next(o for o in objects if o["kind"] == "Backend")
    assert backend["spec"]["endpoints"] == [{"ip": {"address": "10.0.0.5", "port": 8443}}]
    assert next(o for o in objects if o["kind"] == "AIServiceBackend")["spec"]["schema"]["prefix"] == "/custom/v1"
    assert [o["kind"] for o in objects].count("AIGatewayRoute") == 2
    for obj in objects:
        assert_valid(obj)


@shared
def test_validator_rejects_what_the_api_server_would(tmp_path: Path) -> None:
    """Negative controls: the checks above would catch the classic mistakes."""
    cfg = _load(tmp_path, provider_settings("openai"))
    (pc,) = cfg.providers
    policy, backend, _tls, service = routing.provider_objects(pc, cfg)

    stale = copy.deepcopy(service)
    stale["spec"]["host"] = "api.openai.com"  # seed notes: AIServiceBackend.host (never existed)
    assert crds.validate(stale).schema_errors

    removed = copy.deepcopy(service)
    removed["spec"]["backendSecurityPolicyRef"] = {"name": "openai"}  # removed in v0.4.0
    assert crds.validate(removed).schema_errors

    two_types = copy.deepcopy(policy)
    two_types["spec"]["azureAPIKey"] = {"secretRef": {"name": "x"}}
    assert crds.validate(two_types).cel_failures

    service_ref = copy.deepcopy(service)
    service_ref["spec"]["backendRef"] = {"name": "openai", "kind": "Service", "group": ""}
    assert crds.validate(service_ref).cel_failures

    too_many = routing.routes(cfg, {}, "2026-01-01T00:00:00Z")[0]
    too_many["spec"]["rules"] = too_many["spec"]["rules"] * 16
    assert crds.validate(too_many).schema_errors

    both = copy.deepcopy(backend)
    both["spec"]["endpoints"][0]["ip"] = {"address": "10.0.0.1", "port": 443}
    assert crds.validate(both).cel_failures


def test_secret_value_shapes_round_trip(tmp_path: Path) -> None:
    """The AWS file has a [default] profile; the GCP key is the JSON the controller parses."""
    import json

    from aigw_secrets.gateway import credentials

    cfg = _load(tmp_path, {**provider_settings("bedrock"), **provider_settings("vertex")})
    bedrock, vertex = cfg.providers
    aws = credentials.check(bedrock, fakes.aws_credentials_file(), "test").value
    assert aws.splitlines()[0] == "[default]"
    sa = fakes.gcp_service_account()
    gcp = credentials.check(vertex, json.dumps(sa), "test").value
    assert json.loads(gcp) == sa
