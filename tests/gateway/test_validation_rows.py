"""Each provider row carries its credential check (providers.Validation: URL, header, signer, the
shape of host placeholders); validate.py is generic over the row. Tables over the pure builders:
nothing is sent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from aigw_secrets.errors import ConfigError
from aigw_secrets.gateway import config, operator, validate
from aigw_secrets.gateway.config import ProviderConfig
from aigw_secrets.gateway.providers import PROVIDERS, AuthMode, BackendSpec, Provider, Validation
from testing.repos import AUTH_MATRIX, provider_settings, write_cluster

CHECKED = [(key, auth) for key, auth in AUTH_MATRIX if PROVIDERS[key].auth(auth).secret_key is not None]
NO_DOCUMENTED_HOST = {"vllm", "openai_compatible"}  # self-run servers: the operator allows their host


def _pc(tmp_path: Path, key: str, auth: str | None = None, **extra: Any) -> ProviderConfig:
    write_cluster(tmp_path, {**provider_settings(key, auth), **{f"ai_gateway_{key}_{k}": v for k, v in extra.items()}})
    (pc,) = config.load(tmp_path).providers
    return pc


@pytest.mark.parametrize(("key", "auth"), CHECKED)
def test_every_credential_is_checked_on_its_documented_host(tmp_path: Path, key: str, auth: str) -> None:
    """With no override and no operator allowance, the row's check goes where `allowed` lets a
    credential go (https, port 443, the documented host), for every mode that holds a credential."""
    pc = _pc(tmp_path, key, auth)
    assert pc.auth.validation is not None, f"{key}/{auth}: a credential without a check"
    url = validate.documented_url(pc)
    assert url is not None
    if key in NO_DOCUMENTED_HOST:
        with pytest.raises(ConfigError, match="AIGW_SECRETS_ALLOW_HOSTS"):
            validate.allowed(pc, url, operator.Policy())
    else:
        validate.allowed(pc, url, operator.Policy())
        assert url.startswith(f"https://{validate.documented_host(pc)}/")


def test_keyless_modes_have_no_check() -> None:
    for provider in PROVIDERS.values():
        for mode in provider.auth_modes:
            if mode.secret_key is None:
                assert mode.validation is None, f"{provider.key}/{mode.name}"


def test_bedrock_api_keys_are_checked_on_the_bedrock_control_plane(tmp_path: Path) -> None:
    """Regression: the check (ListFoundationModels) is on bedrock.<region>, the upstream is
    bedrock-runtime.<region>; the documented host used to be the upstream's, so `allowed` refused
    every Bedrock API key rotation unless the operator allowed the host by hand."""
    pc = _pc(tmp_path, "bedrock_api_key", region="eu-west-1")
    assert pc.host == "bedrock-runtime.eu-west-1.amazonaws.com"
    assert validate.documented_host(pc) == "bedrock.eu-west-1.amazonaws.com"
    req = validate.request_for(pc, "ABSK" + "A" * 40)
    assert (req.method, req.url) == ("GET", "https://bedrock.eu-west-1.amazonaws.com/foundation-models")
    validate.allowed(pc, req.url, operator.Policy())


@pytest.mark.parametrize(
    ("key", "auth"), [("bedrock_api_key", None), ("bedrock", "static"), ("bedrock_openai", "static")]
)
@pytest.mark.parametrize("region", ["s3", "us-east-1.evil.example", "evil.example/x?", "US-EAST-1", ""])
def test_an_aws_region_must_look_like_one(tmp_path: Path, key: str, auth: str | None, region: str) -> None:
    """`sts.s3.amazonaws.com` is someone's S3 bucket: a region from the repository fills the host
    only when it has a region's shape."""
    pc = _pc(tmp_path, key, auth)
    pc.settings["region"] = region
    with pytest.raises(ConfigError, match=f"ai_gateway_{key}_region"):
        validate.documented_url(pc)
    assert validate.documented_host(pc) is None


def test_path_placeholders_are_encoded(tmp_path: Path) -> None:
    pc = _pc(tmp_path, "azure")
    pc.settings["api_version"] = "2025-01-01-preview&x=/../y"
    assert (
        validate.documented_url(pc)
        == "https://my-openai.openai.azure.com/openai/models?api-version=2025-01-01-preview%26x%3D%2F..%2Fy"
    )


HEADERS = {
    "openai": ("https://api.openai.com/v1/models", {"Authorization": "Bearer {v}"}),
    "groq": ("https://api.groq.com/openai/v1/models", {"Authorization": "Bearer {v}"}),
    "anthropic": ("https://api.anthropic.com/v1/models", {"x-api-key": "{v}", "anthropic-version": "2023-06-01"}),
    "azure": ("https://my-openai.openai.azure.com/openai/models?api-version=2025-01-01-preview", {"api-key": "{v}"}),
}


@pytest.mark.parametrize("key", sorted(HEADERS))
def test_the_credential_goes_in_the_rows_header(tmp_path: Path, key: str) -> None:
    url, headers = HEADERS[key]
    req = validate.request_for(_pc(tmp_path, key), "the-value")
    assert (req.method, req.url, req.headers) == ("GET", url, {k: v.format(v="the-value") for k, v in headers.items()})


def test_the_entra_check_is_the_tenants_token_endpoint(tmp_path: Path) -> None:
    req = validate.request_for(_pc(tmp_path, "azure", "entra"), "client-secret-value")
    assert (req.method, req.url) == (
        "POST",
        "https://login.microsoftonline.com/00000000-0000-0000-0000-000000000001/oauth2/v2.0/token",
    )
    assert req.entra == (
        "00000000-0000-0000-0000-000000000001",
        "00000000-0000-0000-0000-000000000002",
        "client-secret-value",
    )


def test_a_new_provider_is_a_row() -> None:
    """validate.py knows no provider by name: a row with its own URL, header and host shape is checked
    as the row says."""
    row = Provider(
        key="newllm",
        name="newllm",
        title="New LLM",
        backends=(BackendSpec("", "OpenAI"),),
        auth_modes=(
            AuthMode(
                "api-key", "APIKey", "apiKey", "api-key", ("NEWLLM_API_KEY",), "apikey",
                validation=Validation(
                    "https://{zone}.auth.newllm.example/v2/whoami?org={org}",
                    header="X-Key",
                    scheme="Key ",
                    headers=(("X-Client", "aigw"),),
                    shapes=(("zone", r"z[0-9]"),),
                ),
            ),
        ),
        default_auth="api-key",
        host="api.newllm.example",
    )  # fmt: skip
    pc = ProviderConfig(
        row, {"zone": "z1", "org": "acme inc"}, row.auth_modes[0], "newllm", "api.newllm.example", 443, True, None, {}
    )
    req = validate.request_for(pc, "k-123")
    assert (req.method, req.url, req.headers) == (
        "GET",
        "https://z1.auth.newllm.example/v2/whoami?org=acme%20inc",
        {"X-Key": "Key k-123", "X-Client": "aigw"},
    )
    assert validate.documented_host(pc) == "z1.auth.newllm.example"
    validate.allowed(pc, req.url, operator.Policy())
    pc.settings["zone"] = "evil"
    with pytest.raises(ConfigError, match="ai_gateway_newllm_zone"):
        validate.request_for(pc, "k-123")
