"""Issue 18, things generate can see would break outside the files it writes: a Flux
Kustomization's targetNamespace, plain-http MCP servers on public hosts, keys appended to a
cluster-template cluster.toml after its tables; and status/generate run from a subdirectory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aigw_secrets.cli import main
from aigw_secrets.errors import ExitCode
from testing import fakes
from testing.repos import provider_settings, write_cluster

KS = """---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: ai-gateway
spec:
  interval: 1h
  path: ./kubernetes/apps/ai-gateway/providers
  prune: true
  sourceRef: {kind: GitRepository, name: flux-system, namespace: flux-system}
  targetNamespace: ai-gateway
"""


def test_target_namespace_that_moves_the_seed_and_secrets_is_warned(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_cluster(
        repo,
        {
            **provider_settings("openai"),
            "ai_gateway_secret_namespace": "llm-secrets",
            "ai_gateway_mcp_session_seed": True,
        },
    )
    monkeypatch.setenv("OPENAI_API_KEY", fakes.openai_project_key())
    (repo / "kubernetes/apps/ai-gateway").mkdir(parents=True)
    (repo / "kubernetes/apps/ai-gateway/ks.yaml").write_text(KS)
    capsys.readouterr()
    assert main(["generate", "--no-input"]) == 0
    err = capsys.readouterr().err
    line = next(ln for ln in err.splitlines() if "targetNamespace" in ln)
    assert (
        "kubernetes/apps/ai-gateway/ks.yaml" in line
        and "MCP session seed" in line
        and "llm-secrets" in line
        and "ReferenceGrant" in line
    )
    assert main(["doctor"]) == 0  # a warning: the files are right, the cluster would move them
    out = capsys.readouterr().out
    assert "warning: kubernetes/apps/ai-gateway/ks.yaml:" in out and "MCP session seed" in out
    # a Kustomization applying something else, or one without targetNamespace, is no concern
    (repo / "kubernetes/apps/ai-gateway/ks.yaml").write_text(KS.replace("ai-gateway/providers", "other/app"))
    assert main(["generate", "--no-input"]) == 0
    assert "targetNamespace" not in capsys.readouterr().err
    assert main(["doctor"]) == 0 and "targetNamespace" not in capsys.readouterr().out


def test_plain_http_mcp_server_on_a_public_host_is_warned(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_cluster(
        repo,
        {
            "ai_gateway_mcp_backends": [
                "pub=http://mcp.example.com/mcp",
                "local=http://kiwi.mcp.svc.cluster.local:8080",
                "lo=http://127.0.0.1:9/mcp",
            ]
        },
    )
    for name in ("PUB", "LOCAL", "LO"):
        monkeypatch.setenv(f"MCP_{name}_API_KEY", "tok-" + fakes.rand(30))
    capsys.readouterr()
    assert main(["generate", "--no-input"]) == 0
    warned = [ln for ln in capsys.readouterr().err.splitlines() if "in the clear" in ln]
    assert len(warned) == 1 and "mcp.example.com" in warned[0]


def test_keys_appended_after_a_toml_table_are_named_not_ignored(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "cluster.toml").write_text(
        '[network]\nnode_cidr = "10.0.0.0/24"\n\n[cilium.bgp]\nenabled = false\n\nai_gateway_openai_enabled = true\n'
    )
    capsys.readouterr()
    assert main(["generate", "--no-input"]) == ExitCode.CONFIG
    err = capsys.readouterr().err.strip()
    assert (
        len(err.splitlines()) == 1
        and "cluster.toml:7" in err
        and "[cilium.bgp]" in err
        and "above the first [table]" in err
    )


def test_status_and_generate_find_the_root_from_a_subdirectory(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_cluster(repo, provider_settings("openai"))
    monkeypatch.setenv("OPENAI_API_KEY", fakes.openai_project_key())
    sub = repo / "kubernetes/apps"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    assert main(["generate", "--no-input"]) == 0
    assert (repo / "kubernetes/apps/ai-gateway/providers/openai.secret.sops.yaml").is_file()
    assert not (sub / "kubernetes").exists()
    capsys.readouterr()
    assert main(["status", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["provider"] == "openai"
    assert main(["generate", "--no-input", "--check"]) == 0
