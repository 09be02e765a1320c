"""cluster.yaml contents and credential environments for tests."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from aigw_secrets.gateway.providers import PROVIDERS
from testing import fakes

# Settings each provider needs beyond its toggle.
REQUIRED: dict[str, dict[str, Any]] = {
    "azure": {"resource": "my-openai"},
    "vertex": {"project": "demo-project"},
    "gcp_anthropic": {"project": "demo-project"},
    "vllm": {"url": "http://vllm.vllm.svc.cluster.local:8000", "models": ["Qwen/Qwen2.5-0.5B-Instruct"]},
    "openai_compatible": {"host": "llm.example.internal", "models": ["my-org/my-model"]},
}
EXTRA_FOR_AUTH: dict[tuple[str, str], dict[str, Any]] = {
    ("azure", "entra"): {
        "tenant_id": "00000000-0000-0000-0000-000000000001",
        "client_id": "00000000-0000-0000-0000-000000000002",
    },
}

# (provider, auth mode) for every mode of every provider.
AUTH_MATRIX = [(p.key, m.name) for p in PROVIDERS.values() for m in p.auth_modes]


def provider_settings(key: str, auth: str | None = None) -> dict[str, Any]:
    settings: dict[str, Any] = {f"ai_gateway_{key}_enabled": True}
    for name, value in REQUIRED.get(key, {}).items():
        settings[f"ai_gateway_{key}_{name}"] = value
    if auth:
        settings[f"ai_gateway_{key}_auth"] = auth
        for name, value in EXTRA_FOR_AUTH.get((key, auth), {}).items():
            settings[f"ai_gateway_{key}_{name}"] = value
    if key == "gcp_anthropic":  # two GCP providers must not claim the same model
        settings["ai_gateway_gcp_anthropic_models"] = ["claude-opus-4-1@20250805"]
    if key == "bedrock":  # exercise the second (AWSAnthropic) backend too
        settings["ai_gateway_bedrock_anthropic_models"] = ["us.anthropic.claude-sonnet-4-5-20250929-v1:0"]
    return settings


def all_providers(auth: dict[str, str] | None = None) -> dict[str, Any]:
    """Every provider enabled; secret-needing auth modes by default (vllm with an API key)."""
    auth = {"vllm": "api-key", **(auth or {})}
    settings: dict[str, Any] = {"cluster_name": "test"}
    for key in PROVIDERS:
        settings.update(provider_settings(key, auth.get(key)))
    return settings


def write_cluster(root: Path, settings: dict[str, Any], *, fmt: str = "yaml") -> Path:
    if fmt == "toml":
        import tomllib  # noqa: F401 - only to assert we emit what it reads

        lines = []
        for k, v in settings.items():
            if isinstance(v, bool):
                lines.append(f"{k} = {'true' if v else 'false'}")
            elif isinstance(v, list):
                lines.append(f"{k} = [{', '.join(repr(str(x)).replace(chr(39), chr(34)) for x in v)}]")
            else:
                lines.append(f'{k} = "{v}"')
        path = root / "cluster.toml"
        path.write_text("\n".join(lines) + "\n")
        return path
    path = root / "cluster.yaml"
    path.write_text(yaml.safe_dump(settings, sort_keys=False))
    return path


# Providers added with Agent Router v1.2: SDK environment variable → fake key of the provider's shape.
NEW_KEYS = {
    "GEMINI_API_KEY": fakes.gemini_key,
    "MISTRAL_API_KEY": fakes.mistral_key,
    "XAI_API_KEY": fakes.xai_key,
    "OPENROUTER_API_KEY": fakes.openrouter_key,
    "DEEPSEEK_API_KEY": fakes.deepseek_key,
    "TOGETHER_API_KEY": fakes.together_key,
    "DEEPINFRA_API_KEY": fakes.deepinfra_key,
    "CO_API_KEY": fakes.cohere_key,
    "AWS_BEARER_TOKEN_BEDROCK": fakes.bedrock_api_key,
}


def set_credentials(monkeypatch: pytest.MonkeyPatch, tmp: Path) -> dict[str, str]:
    """Fresh fake credentials for every provider in the environment; returns every secret string."""
    sa = fakes.gcp_service_account_json()
    sa_path = tmp / "sa.json"
    sa_path.write_text(sa)
    values = {
        "OPENAI_API_KEY": fakes.openai_project_key(),
        "AZURE_OPENAI_API_KEY": fakes.azure_openai_key(),
        "AZURE_CLIENT_SECRET": fakes.entra_client_secret(),
        "AWS_ACCESS_KEY_ID": fakes.aws_access_key_id(),
        "AWS_SECRET_ACCESS_KEY": fakes.aws_secret_access_key(),
        "ANTHROPIC_API_KEY": fakes.anthropic_key(),
        "GROQ_API_KEY": fakes.groq_key(),
        "VLLM_API_KEY": fakes.generic_key(),
        "OPENAI_COMPATIBLE_API_KEY": fakes.generic_key(),
        **{env: make() for env, make in NEW_KEYS.items()},
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(sa_path))
    import json

    secrets = dict(values)
    secrets["GCP_PRIVATE_KEY"] = json.loads(sa)["private_key"]
    return secrets


def init_repo(root: Path, monkeypatch: pytest.MonkeyPatch, template: Path | None = None) -> Path:
    """``root`` made a git repository with an age key (age.key) and a .sops.yaml by `aigw-secrets init`; cwd.
    With ``template`` (a repository this function made before), a copy of it: the same files, git
    history and age key, without paying for ``git init`` and a key again."""
    from aigw_secrets.cli import main
    from testing.helpers import git

    if template is not None:
        shutil.copytree(template, root, symlinks=True)
    else:
        root.mkdir()
        git(root, "init", "-q")
        assert main(["init", "--repo", str(root)]) == 0
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(root / "age.key"))
    monkeypatch.chdir(root)
    return root
