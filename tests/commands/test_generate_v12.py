"""`generate` for Agent Router v1.2, end to end with the real sops and age: Secrets in another
namespace, MCP API-key backends, the MCP session seed, values Flux would substitute."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from aigw_secrets import flux
from aigw_secrets.cli import main
from aigw_secrets.gateway import mcp
from testing import fakes
from testing.helpers import sops_decrypt
from testing.repos import provider_settings, write_cluster

OUT = Path("kubernetes/apps/ai-gateway/providers")


def decrypted(repo: Path, name: str) -> dict[str, object]:
    res = sops_decrypt(repo / OUT / name, repo / "age.key")
    assert res.returncode == 0, name
    doc = yaml.safe_load(res.stdout)
    assert isinstance(doc, dict)
    return doc


def resources(repo: Path) -> list[str]:
    return list(yaml.safe_load((repo / OUT / "kustomization.yaml").read_text().split("---\n", 1)[1])["resources"])


def test_secret_namespace_and_grant(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = fakes.gemini_key()
    monkeypatch.setenv("GEMINI_API_KEY", key)
    write_cluster(repo, {**provider_settings("gemini"), "ai_gateway_secret_namespace": "ai-secrets"})
    assert main(["generate", "--no-input"]) == 0
    doc = decrypted(repo, "gemini.secret.sops.yaml")
    assert doc["metadata"]["namespace"] == "ai-secrets" and doc["stringData"] == {"apiKey": key}  # type: ignore[index]  # parsed YAML
    objects = list(yaml.safe_load_all((repo / OUT / "gemini.yaml").read_text()))
    grant = next(o for o in objects if o and o["kind"] == "ReferenceGrant")
    assert grant["metadata"]["namespace"] == "ai-secrets" and grant["spec"]["to"][0]["name"] == "gemini-apikey"
    assert key not in (repo / OUT / "gemini.secret.sops.yaml").read_text()


def test_mcp_backend_key_and_session_seed(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    token = "ghp_" + fakes.rand(36)
    monkeypatch.setenv("MCP_GITHUB_API_KEY", token)
    write_cluster(
        repo,
        {"ai_gateway_mcp_backends": ["github=https://api.githubcopilot.com/mcp"], "ai_gateway_mcp_session_seed": True},
    )
    assert main(["generate", "--no-input"]) == 0
    out = repo / OUT
    assert decrypted(repo, "mcp-github.secret.sops.yaml")["stringData"] == {"apiKey": token}
    route = next(d for d in yaml.safe_load_all((out / "mcp.yaml").read_text()) if d and d["kind"] == "MCPRoute")
    assert route["spec"]["backendRefs"][0]["securityPolicy"]["apiKey"]["secretRef"]["name"] == "mcp-github-apikey"

    seed_doc = decrypted(repo, mcp.MCP_SEED_FILE)
    seed = seed_doc["stringData"]["seed"]  # type: ignore[index]  # parsed YAML
    assert len(seed) == 64 and seed.isalnum()
    meta = seed_doc["metadata"]
    assert (meta["name"], meta["namespace"]) == (
        "ai-gateway-controller-mcp-session-encryption",
        "envoy-ai-gateway-system",
    )  # type: ignore[index]  # parsed YAML
    values = yaml.safe_load((out / mcp.MCP_VALUES_FILE).read_text())
    assert values == {
        "controller": {"mcp": {"sessionEncryption": {"existingSecret": "ai-gateway-controller-mcp-session-encryption"}}}
    }
    assert mcp.MCP_VALUES_FILE not in resources(repo) and mcp.MCP_SEED_FILE in resources(repo)
    for path in out.iterdir():
        assert token not in path.read_text() and seed not in path.read_text()

    # A re-run keeps the seed (a new one would end every live MCP session).
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert main(["generate", "--no-input"]) == 0
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_value_flux_would_substitute_round_trips_exactly(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A credential containing `${...}`: the decrypted value is exactly the input and the Secret opts out
    of Flux post-build substitution (which is strict by default since Flux 2.9)."""
    value = "tok-" + fakes.rand(12) + "${CLUSTER_DOMAIN}" + fakes.rand(12)
    monkeypatch.setenv("OPENAI_COMPATIBLE_API_KEY", value)
    write_cluster(repo, provider_settings("openai_compatible"))
    assert main(["generate", "--no-input"]) == 0
    doc = decrypted(repo, "openai-compatible.secret.sops.yaml")
    assert doc["stringData"] == {"apiKey": value}
    assert doc["metadata"]["annotations"][flux.FLUX_SUBSTITUTE] == "disabled"  # type: ignore[index]  # parsed YAML
    for path in (repo / OUT).glob("*.yaml"):  # nothing else we wrote carries a live ${
        text = path.read_text() if path.name != "openai-compatible.secret.sops.yaml" else ""
        assert not flux.flux_substitution_hazard(text), path.name
