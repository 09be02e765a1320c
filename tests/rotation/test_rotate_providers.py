"""`rotate` checks each issue-14 provider's new key the documented way (method, path, auth header):
a table over the request builder for every provider, and end-to-end rotations against a stand-in on
127.0.0.1 that answers like that provider's endpoint."""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from pathlib import Path

import pytest

from aigw_secrets.cli import main
from aigw_secrets.errors import ExitCode
from aigw_secrets.gateway import config, operator, validate
from aigw_secrets.gateway.config import ProviderConfig
from testing import fakes, standin
from testing.repos import provider_settings, write_cluster

# provider → (fake key maker, documented validation path, what the provider answers there with 200)
MODELS = {"object": "list", "data": [{"id": "m", "object": "model"}]}
CASES: dict[str, tuple[Callable[[], str], str, object]] = {
    "gemini": (fakes.gemini_key, "/v1beta/openai/models", MODELS),
    "mistral": (fakes.mistral_key, "/v1/models", MODELS),
    "xai": (fakes.xai_key, "/v1/models", MODELS),
    "openrouter": (
        fakes.openrouter_key,
        "/api/v1/key",
        {"data": {"label": "sk-or-v1-abc...xyz", "usage": 0, "limit": None}},
    ),
    "deepseek": (fakes.deepseek_key, "/models", MODELS),
    "together": (fakes.together_key, "/v1/models", [{"id": "m", "object": "model", "type": "chat"}]),
    "deepinfra": (fakes.deepinfra_key, "/v1/openai/models", MODELS),
    "cohere": (fakes.cohere_key, "/v1/models", {"models": [{"name": "command-a-03-2025"}]}),
    "cohere_openai": (fakes.cohere_key, "/v1/models", {"models": [{"name": "command-r7b-12-2024"}]}),
    "bedrock_api_key": (fakes.bedrock_api_key, "/foundation-models", {"modelSummaries": []}),
}


def _provider(tmp_path: Path, key: str) -> ProviderConfig:
    write_cluster(tmp_path, provider_settings(key))
    return next(pc for pc in config.load(tmp_path).providers if pc.key == key)


# Each provider's check as a table over the pure request builder: method, documented path, auth
# header, and a host the credential may go to without the operator allowing it.
@pytest.mark.parametrize("key", sorted(CASES))
def test_validation_request_per_provider(tmp_path: Path, key: str) -> None:
    make, path, _ = CASES[key]
    pc = _provider(tmp_path, key)
    value = make()
    req = validate.request_for(pc, value)
    url = urllib.parse.urlsplit(req.url)
    assert (req.method, url.scheme, url.path, req.headers.get("Authorization")) == (
        "GET",
        "https",
        path,
        f"Bearer {value}",
    )
    assert url.hostname == validate.documented_host(pc)
    validate.allowed(pc, req.url, operator.load())  # no allow-list needed: the documented host


@pytest.mark.parametrize(
    "key", ["gemini", "bedrock_api_key"]
)  # one end-to-end rotation per kind of check: the upstream's own path, another host
def test_rotate_checks_the_documented_endpoint(
    repo: Path, provider: standin.Provider, tmp_path: Path, key: str
) -> None:
    make, path, body = CASES[key]
    provider.bodies[path] = body
    port = int(provider.url.rsplit(":", 1)[1])
    settings = provider_settings(key)
    if key == "bedrock_api_key":  # its check is on the Bedrock control-plane host, not the upstream
        settings[f"ai_gateway_{key}_validation_url"] = f"{provider.url}/foundation-models"
    else:  # the upstream itself is the stand-in: the row's documented path is what gets called
        settings.update(
            {f"ai_gateway_{key}_host": "127.0.0.1", f"ai_gateway_{key}_port": port, f"ai_gateway_{key}_tls": False}
        )
    write_cluster(repo, settings)
    first, second, third = make(), make(), make()
    provider.status.update({first: 200, second: 200, third: 401})
    src = tmp_path / "cred"
    src.write_text(first)
    assert main(["generate", "--no-input", "--source", f"{key}=file:{src}"]) == 0
    src.write_text(second)
    assert main(["rotate", "--provider", key, "--source", f"file:{src}"]) == 0
    assert (provider.calls[-1], provider.paths[-1]) == (second, path)
    src.write_text(third)
    assert main(["rotate", "--provider", key, "--source", f"file:{src}"]) == ExitCode.ROTATION_REJECTED
    assert provider.calls[-1] == third


def test_rotate_awsopenai_checks_sigv4_credentials(repo: Path, provider: standin.Provider, tmp_path: Path) -> None:
    """Bedrock through the v1.2 `AWSOpenAI` schema: an AWSCredentials policy, checked with STS GetCallerIdentity."""
    write_cluster(
        repo, {**provider_settings("bedrock_openai"), "ai_gateway_bedrock_openai_validation_url": f"{provider.url}/"}
    )
    first, second = fakes.aws_credentials_file(), fakes.aws_credentials_file()
    ident = [c.split("aws_access_key_id = ")[1].split("\n")[0] for c in (first, second)]
    provider.status.update(dict.fromkeys(ident, 200))
    src = tmp_path / "cred"
    src.write_text(first)
    assert main(["generate", "--no-input", "--source", f"bedrock_openai=file:{src}"]) == 0
    src.write_text(second)
    assert main(["rotate", "--provider", "bedrock_openai", "--source", f"file:{src}"]) == 0
    assert provider.calls[-1] == ident[1]
