"""Issue 21 with the other two stores: generate and rotate (an operator-supplied key, validated at
the stand-in provider) through a real OpenBao server (KV v2: pinned by version number) and the
1Password Connect stand-in (no versions: unpinned), ESO played by the kube stand-in."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from aigw_secrets.cli import main
from aigw_secrets.stores import StoreSettings, open_store
from testing import crds, fakes, kubeapi, onepassword, standin
from testing.repos import provider_settings, write_cluster

pytestmark = pytest.mark.usefixtures("operator_allows_loopback")
OUT = Path("kubernetes/apps/ai-gateway/providers")
ES_FILE = OUT / "groq.externalsecret.yaml"
KEY = "ai-gateway/ai-gateway/groq-apikey"


@pytest.fixture(params=["vault", "onepassword"])
def store(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, repo: Path
) -> Iterator[tuple[str, dict[str, Any]]]:
    if request.param == "vault":
        server = request.getfixturevalue("bao")
        monkeypatch.setenv("VAULT_ADDR", server.url)
        monkeypatch.setenv("VAULT_TOKEN", server.token)
        # each test its own prefix: the dev server lives for the module
        yield (
            "vault",
            {
                "ai_gateway_external_secrets_provider": "vault",
                "ai_gateway_external_secrets_prefix": f"t{fakes.rand(8).lower()}/",
            },
        )
        return
    with onepassword.serve() as connect:
        monkeypatch.setenv("OP_CONNECT_HOST", connect.url)
        monkeypatch.setenv("OP_CONNECT_TOKEN", connect.token)
        yield (
            "onepassword",
            {
                "ai_gateway_external_secrets_provider": "onepassword",
                "ai_gateway_external_secrets_onepassword_vault": connect.vault,
            },
        )


@pytest.mark.shared
def test_generate_rotate_and_sync(
    repo: Path, store: tuple[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch, shared_crds: None
) -> None:
    kind, extra = store
    with standin.serve() as provider:
        old, new = fakes.groq_key(), fakes.groq_key()
        provider.status.update({old: 200, new: 200})
        settings = {
            **provider_settings("groq"),
            "ai_gateway_groq_validation_url": f"{provider.url}/openai/v1/models",
            "ai_gateway_secret_backend": "external-secrets",
            "ai_gateway_external_secrets_store": "my-store",
            **extra,
        }
        write_cluster(repo, settings)
        monkeypatch.setenv("GROQ_API_KEY", old)
        assert main(["generate", "--no-input"]) == 0
        doc = yaml.safe_load((repo / ES_FILE).read_text())
        assert not crds.validate(doc).schema_errors
        ref = doc["spec"]["data"][0]["remoteRef"]
        prefix = extra.get("ai_gateway_external_secrets_prefix", "ai-gateway/")
        assert ref["key"] == f"{prefix}ai-gateway/groq-apikey"
        assert ("version" in ref) == (kind == "vault")
        monkeypatch.setenv("GROQ_API_KEY", new)
        assert main(["rotate", "--provider", "groq"]) == 0
        rotated = yaml.safe_load((repo / ES_FILE).read_text())
        assert rotated["metadata"]["annotations"]["aigw-secrets.io/generation"] == "2"
    cfg = StoreSettings(
        kind,
        "my-store",
        "ClusterSecretStore",
        prefix,
        "1h",
        "",
        "secret",
        extra.get("ai_gateway_external_secrets_onepassword_vault", ""),
    )
    backend = open_store(cfg)
    if kind == "vault":  # both versions are there; the ExternalSecret pins the new one
        assert backend.get(ref["key"], ref["version"]) == {"apiKey": old}
        assert rotated["spec"]["data"][0]["remoteRef"]["version"] == str(int(ref["version"]) + 1)
    assert backend.get(ref["key"]) == {"apiKey": new}
    with kubeapi.serve() as cluster:

        def read(key: str, prop: str, version: str | None) -> str:
            props = backend.get(key, version)
            assert props is not None
            return props[prop]

        cluster.store_reader = read
        cluster.apply_external_secret(rotated)
        live = cluster.secrets[("ai-gateway", "groq-apikey")]
        assert base64.b64decode(live["data"]["apiKey"]).decode() == new
