"""Issuer ``self`` (vLLM): the key is made here, lands in the gateway's and the model server's
Secret in one change, is held only sops-encrypted in between; revocation gates against the
Kubernetes API stand-in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from aigw_secrets.cli import main
from aigw_secrets.errors import ExitCode
from aigw_secrets.sops import files as sops_files
from aigw_secrets.sops.binary import Sops
from testing import fakes, kubeapi, standin
from testing.helpers import git, run_cli, run_killed
from testing.repos import provider_settings, write_cluster

pytestmark = pytest.mark.usefixtures("operator_allows_loopback")

OUT = Path("kubernetes/apps/ai-gateway/providers")
SECRET = OUT / "vllm.secret.sops.yaml"
SERVER = OUT / "vllm-api-key.vllm.secret.sops.yaml"


@pytest.fixture
def provider(monkeypatch: pytest.MonkeyPatch, provider_standin: standin.Provider) -> Iterator[standin.Provider]:
    monkeypatch.setenv("AIGW_SECRETS_VALIDATE_BACKOFF", "0.01")
    p = provider_standin
    p.accept_prefix = "sk-aigw-"
    yield p


def decrypted(repo: Path, rel: Path) -> dict[str, str]:
    return dict(yaml.safe_load(sops_files.decrypt(Sops(repo), (repo / rel).read_bytes(), str(rel)))["stringData"])


def ann(repo: Path, rel: Path = SECRET) -> dict[str, str]:
    return dict(yaml.safe_load((repo / rel).read_text())["metadata"]["annotations"])


def setup_vllm(repo: Path, provider: standin.Provider, monkeypatch: pytest.MonkeyPatch) -> str:
    old = fakes.generic_key()
    provider.status[old] = 200
    settings = {
        **provider_settings("vllm", "api-key"),
        "ai_gateway_vllm_validation_url": f"{provider.url}/v1/models",
        "ai_gateway_vllm_issuer": "self",
        "ai_gateway_vllm_server_secret": "vllm/vllm-api-key",
    }
    write_cluster(repo, settings)
    monkeypatch.setenv("VLLM_API_KEY", old)
    assert main(["generate", "--no-input"]) == 0
    monkeypatch.delenv("VLLM_API_KEY")
    return old


def plaintext_anywhere(root: Path, values: list[str]) -> list[str]:
    """Every file under root (git objects inflated too) that holds one of the values in the clear."""
    import zlib

    hits = []
    for p in root.rglob("*"):
        if not p.is_file():
            continue
        data = p.read_bytes()
        if "/objects/" in str(p) and not p.name.endswith((".pack", ".idx")):
            try:
                data = zlib.decompress(data)
            except zlib.error:
                pass
        hits += [f"{p}" for v in values if v.encode() in data]
    return hits


def test_mints_writes_both_secrets(
    repo: Path, provider: standin.Provider, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    old = setup_vllm(repo, provider, monkeypatch)
    assert main(["rotate", "--provider", "vllm"]) == 0
    new = decrypted(repo, SECRET)["apiKey"]
    assert new.startswith("sk-aigw-") and len(new) > 50 and new != old
    assert decrypted(repo, SERVER) == {"VLLM_API_KEY": new}
    a = ann(repo)
    assert a["aigw-secrets.io/issuer"] == "self" and a["aigw-secrets.io/credential-ref"] == "self:aigw-vllm-g2"
    assert "aigw-secrets.io/previous-issued-ref" not in a  # the operator's key: not ours to revoke
    policy = next(
        d
        for d in yaml.safe_load_all((repo / OUT / "vllm.yaml").read_text())
        if d and d["kind"] == "BackendSecurityPolicy"
    )
    assert policy["metadata"]["annotations"]["aigw-secrets.io/secret-generation"] == "2"  # v1.1.0 reconciles (#2603)
    assert not (repo / ".git/aigw-secrets/pending-vllm.sops.yaml").exists()
    out = capsys.readouterr()
    assert new not in out.out + out.err
    assert plaintext_anywhere(repo, [new]) == []
    # the next generation records the one this tool made as revocable
    assert main(["rotate", "--provider", "vllm"]) == 0
    assert ann(repo)["aigw-secrets.io/previous-issued-ref"] == "self:aigw-vllm-g2"


# `self` is the cheapest minting issuer: it runs every step of the minting path (the pending entry
# included); the other issuers run only the steps that are their own (tests/rotation/test_issuer_*.py).
@pytest.mark.parametrize("step", ["planned", "minting", "minted", "obtained", "validated", "encrypted", "written"])
def test_kill_at_every_step(repo: Path, provider: standin.Provider, monkeypatch: pytest.MonkeyPatch, step: str) -> None:
    setup_vllm(repo, provider, monkeypatch)
    argv = ["rotate", "--provider", "vllm"]
    assert run_killed(repo, argv, step) == 137
    if step == "minted":  # between minted and written: only the sops-encrypted pending entry holds it
        pend = repo / ".git/aigw-secrets/pending-vllm.sops.yaml"
        assert pend.exists() and b"ENC[AES256_GCM" in pend.read_bytes()
        held = yaml.safe_load(Sops(repo).decrypt(pend.read_bytes(), str(SECRET)))["stringData"]["value"]
        assert plaintext_anywhere(repo, [held]) == []
    res = run_cli(repo, argv)
    assert res.returncode == 0, res.stderr
    new = decrypted(repo, SECRET)["apiKey"]
    assert decrypted(repo, SERVER)["VLLM_API_KEY"] == new
    assert ann(repo)["aigw-secrets.io/generation"] == "2"
    if step == "minted":
        assert new == held  # finished with the pending value, not a second key
    assert not (repo / ".git/aigw-secrets/pending-vllm.sops.yaml").exists()


@pytest.fixture
def cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[kubeapi.FakeCluster]:
    with kubeapi.serve() as fake:
        monkeypatch.setenv("KUBECONFIG", str(fake.kubeconfig(tmp_path / "kubeconfig")))
        yield fake


def in_cluster(fake: kubeapi.FakeCluster, repo: Path) -> None:
    """What Flux would apply: the Secret's metadata as the repository has it now."""
    meta = yaml.safe_load((repo / SECRET).read_text())["metadata"]
    fake.secrets[("ai-gateway", meta["name"])] = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {**meta, "resourceVersion": fake.next_rv()},
        "data": {},
    }


def test_revocation_gates(
    repo: Path,
    provider: standin.Provider,
    cluster: kubeapi.FakeCluster,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    setup_vllm(repo, provider, monkeypatch)
    assert main(["rotate", "--provider", "vllm"]) == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "g2")
    first = git(repo, "rev-parse", "HEAD").strip()
    in_cluster(cluster, repo)
    cluster.flux_applies("flux-system", "flux-system", f"main@sha1:{first}")
    assert main(["rotate", "--provider", "vllm"]) == 0
    revoke = ["rotate", "--revoke", "vllm"]
    capsys.readouterr()
    assert main(revoke) == ExitCode.LOCKED  # grace not over; Flux applied the commit of generation 2
    assert "does not carry generation 3" in capsys.readouterr().err
    git(repo, "commit", "-qam", "g3")
    second = git(repo, "rev-parse", "HEAD").strip()
    monkeypatch.setenv("AIGW_SECRETS_NOW", "2099-01-01T00:00:00Z")  # grace over
    assert main(revoke) == ExitCode.LOCKED
    err = capsys.readouterr().err
    assert f"applied main@sha1:{first}, which does not carry generation 3" in err  # Flux still on the first commit
    cluster.flux_applies("flux-system", "flux-system", f"main@sha1:{second}")
    assert main(revoke) == ExitCode.LOCKED
    assert "serves another credential" in capsys.readouterr().err
    assert main(["status"]) in (0, 1)
    assert "revoke self:aigw-vllm-g2 (waiting): grace ok, applied ok, in-cluster WAITING" in capsys.readouterr().out
    in_cluster(cluster, repo)
    assert main(revoke) == 0
    assert "revoked" in capsys.readouterr().err
    assert main(revoke) == 0  # idempotent: nothing left
    assert "nothing to revoke" in capsys.readouterr().err


def test_no_cluster_access_waits_unless_assumed(
    repo: Path,
    provider: standin.Provider,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    setup_vllm(repo, provider, monkeypatch)
    assert main(["rotate", "--provider", "vllm"]) == 0
    assert main(["rotate", "--provider", "vllm"]) == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "g3")
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent"))
    monkeypatch.setenv("AIGW_SECRETS_NOW", "2099-01-01T00:00:00Z")
    capsys.readouterr()
    assert main(["rotate", "--revoke", "vllm"]) == ExitCode.LOCKED
    assert "no cluster access" in capsys.readouterr().err
    assert main(["rotate", "--revoke", "vllm", "--assume-applied"]) == 0
