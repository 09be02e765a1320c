"""Issuers ``openai-admin`` and ``anthropic-admin`` against stand-ins of their admin APIs on
127.0.0.1 (testing/adminapis.py): mint, the value shown once, resume after kill -9, revoke exactly
the previous key, and the errors that matter (401/403 admin key -> 77, 429/5xx -> 69)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from aigw_secrets.cli import main
from aigw_secrets.errors import ExitCode
from aigw_secrets.sops import files as sops_files
from aigw_secrets.sops.binary import Sops
from testing import adminapis, fakes, standin
from testing.helpers import bare_remote, git, kill_then_resume, run_killed
from testing.repos import provider_settings, write_cluster

pytestmark = pytest.mark.usefixtures("operator_allows_loopback")

OUT = Path("kubernetes/apps/ai-gateway/providers")


def value(repo: Path, name: str) -> str:
    rel = OUT / f"{name}.secret.sops.yaml"
    return str(
        next(
            iter(
                yaml.safe_load(sops_files.decrypt(Sops(repo), (repo / rel).read_bytes(), str(rel)))[
                    "stringData"
                ].values()
            )
        )
    )


def ann(repo: Path, name: str) -> dict[str, str]:
    return dict(yaml.safe_load((repo / OUT / f"{name}.secret.sops.yaml").read_text())["metadata"]["annotations"])


@pytest.fixture
def openai(repo: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[adminapis.OpenAI]:
    api = adminapis.OpenAI()
    with adminapis.serve(api):
        monkeypatch.setenv("AIGW_SECRETS_VALIDATE_BACKOFF", "0.01")
        monkeypatch.setenv("AIGW_SECRETS_OPENAI_ADMIN_URL", f"{api.url}/v1")
        monkeypatch.setenv("OPENAI_ADMIN_KEY", api.admin_key)
        _, first = api.add("operator-made")
        settings = {
            **provider_settings("openai"),
            "ai_gateway_openai_issuer": "openai-admin",
            "ai_gateway_openai_project_id": api.project,
            "ai_gateway_openai_validation_url": f"{api.url}/v1/models",
        }
        write_cluster(repo, settings)
        monkeypatch.setenv("OPENAI_API_KEY", first)
        assert main(["generate", "--no-input"]) == 0
        monkeypatch.delenv("OPENAI_API_KEY")
        yield api


def names(api: adminapis.OpenAI) -> list[str]:
    return sorted(a["name"] for a in api.accounts.values())


def test_openai_cycle(
    repo: Path, openai: adminapis.OpenAI, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["rotate", "--provider", "openai"]) == 0
    g2 = next(a for a in openai.accounts.values() if a["name"] == "aigw-openai-g2")
    assert value(repo, "openai") == g2["_key"] and ann(repo, "openai")["aigw-secrets.io/credential-ref"] == g2["id"]
    assert main(["rotate", "--provider", "openai"]) == 0
    assert names(openai) == ["aigw-openai-g2", "aigw-openai-g3", "operator-made"]
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "g3")
    monkeypatch.setenv("AIGW_SECRETS_NOW", "2099-01-01T00:00:00Z")
    out = capsys.readouterr()
    assert g2["_key"] not in out.out + out.err
    assert main(["rotate", "--revoke", "openai", "--assume-applied"]) == 0  # no soft revoke: deleted
    assert names(openai) == ["aigw-openai-g3", "operator-made"]  # exactly the previous one
    seen = len(openai.requests)
    assert main(["rotate", "--revoke", "openai", "--assume-applied"]) == 0  # idempotent: nothing left to do
    assert not any(r.startswith("DELETE") for r in openai.requests[seen:])


def test_generate_and_rotation_agree_on_the_policy_annotation(
    repo: Path, openai: adminapis.OpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """generate writes the Secret's generation on the BackendSecurityPolicy as rotation's bump does
    (the v1.1.0 stale-credential mitigation), so generate after a rotation changes nothing."""
    policy_file = repo / OUT / "openai.yaml"

    def generation() -> str:
        (policy,) = [
            d for d in yaml.safe_load_all(policy_file.read_text()) if d and d["kind"] == "BackendSecurityPolicy"
        ]
        return str(policy["metadata"]["annotations"]["aigw-secrets.io/secret-generation"])

    assert generation() == ann(repo, "openai")["aigw-secrets.io/generation"] == "1"
    assert main(["rotate", "--provider", "openai"]) == 0
    assert generation() == "2"
    before = {p: p.read_bytes() for p in (repo / OUT).iterdir()}
    assert main(["generate", "--no-input"]) == 0
    assert {p: p.read_bytes() for p in (repo / OUT).iterdir()} == before


@pytest.mark.slow
def test_cron_reports_a_rejected_admin_key(repo: Path, openai: adminapis.OpenAI, tmp_path: Path) -> None:
    """scripts/aigw-rotate-cron: an admin key the provider rejects is exit 77 and counted in the textfile."""
    import os
    import subprocess
    import sys

    prom = tmp_path / "aigw.prom"
    env = {
        **os.environ,
        "OPENAI_ADMIN_KEY": fakes.openai_admin_key(),
        "AIGW_SECRETS_NOW": "2099-01-01T00:00:00Z",
        "AIGW_TEXTFILE": str(prom),
        "AIGW_SECRETS": str(Path(sys.executable).with_name("aigw-secrets")),
    }
    script = Path(__file__).resolve().parents[2] / "scripts/aigw-rotate-cron"
    res = subprocess.run([str(script)], cwd=repo, env=env, capture_output=True, text=True)
    assert res.returncode == ExitCode.PERMISSION, res.stderr + res.stdout
    assert json.loads(res.stdout)["exit_code"] == ExitCode.PERMISSION
    metrics = prom.read_text()
    assert "aigw_secrets_admin_credential_rejected 1" in metrics and "aigw_secrets_last_exit_code 77" in metrics
    assert "aigw_secrets_credentials_minted 0" in metrics and names(openai) == ["operator-made"]


@pytest.mark.parametrize(
    ("fail", "code"),
    [
        (401, ExitCode.PERMISSION),
        (403, ExitCode.PERMISSION),
        (429, ExitCode.UNAVAILABLE),
        (500, ExitCode.UNAVAILABLE),
        (503, ExitCode.UNAVAILABLE),
    ],
)
def test_openai_admin_errors(repo: Path, openai: adminapis.OpenAI, fail: int, code: int) -> None:
    before = (repo / OUT / "openai.secret.sops.yaml").read_bytes()
    openai.fail = [fail]
    assert main(["rotate", "--provider", "openai"]) == code
    assert (repo / OUT / "openai.secret.sops.yaml").read_bytes() == before
    assert main(["rotate", "--provider", "openai"]) == 0  # the next run goes through, no orphan
    assert names(openai) == ["aigw-openai-g2", "operator-made"]


def test_openai_wrong_admin_key_and_quota(
    repo: Path, openai: adminapis.OpenAI, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OPENAI_ADMIN_KEY", fakes.openai_admin_key())
    assert main(["rotate", "--provider", "openai"]) == ExitCode.PERMISSION
    monkeypatch.delenv("OPENAI_ADMIN_KEY")
    capsys.readouterr()
    assert main(["rotate", "--provider", "openai"]) == ExitCode.PERMISSION
    assert "$OPENAI_ADMIN_KEY" in capsys.readouterr().err
    monkeypatch.setenv("OPENAI_ADMIN_KEY", openai.admin_key)
    openai.max_accounts = 1
    assert main(["rotate", "--provider", "openai"]) == ExitCode.UNAVAILABLE
    assert names(openai) == ["operator-made"]


def test_openai_admin_url_must_be_https(repo: Path, openai: adminapis.OpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIGW_SECRETS_OPENAI_ADMIN_URL", "http://admin.example.invalid/v1")
    assert main(["rotate", "--provider", "openai"]) == ExitCode.CONFIG


def test_openai_rejected_new_key_is_revoked(repo: Path, openai: adminapis.OpenAI) -> None:
    with standin.serve() as refusing:  # validation answers 401 to everything
        write_cluster(
            repo,
            {
                **provider_settings("openai"),
                "ai_gateway_openai_issuer": "openai-admin",
                "ai_gateway_openai_project_id": openai.project,
                "ai_gateway_openai_validation_url": f"{refusing.url}/v1/models",
            },
        )
        assert main(["rotate", "--provider", "openai"]) == ExitCode.ROTATION_REJECTED
    assert names(openai) == ["operator-made"]  # the minted account did not outlive the failed check
    assert not (repo / ".git/aigw-secrets/pending-openai.sops.yaml").exists()


# The issuer's own steps; the engine's generic ones (validated, written, ...) run once, in test_issuer_self.py.
@pytest.mark.parametrize("step", ["minting", "minted"])
def test_openai_kill(repo: Path, openai: adminapis.OpenAI, step: str) -> None:
    res = kill_then_resume(repo, ["rotate", "--provider", "openai"], step)
    assert res.returncode == 0, res.stderr
    assert names(openai) == ["aigw-openai-g2", "operator-made"]
    assert value(repo, "openai") == next(a["_key"] for a in openai.accounts.values() if a["name"] == "aigw-openai-g2")


@pytest.mark.usefixtures("at_terminal")
def test_anthropic_revocation_of_a_named_key(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    api = adminapis.Anthropic()
    with adminapis.serve(api):
        monkeypatch.setenv("AIGW_SECRETS_VALIDATE_BACKOFF", "0.01")
        monkeypatch.setenv("AIGW_SECRETS_ANTHROPIC_ADMIN_URL", f"{api.url}/v1")
        monkeypatch.setenv("ANTHROPIC_ADMIN_KEY", api.admin_key)
        old_id, old = api.add("gateway-2026-01")
        new_id, new = api.add("gateway-2026-04")
        write_cluster(
            repo,
            {
                **provider_settings("anthropic"),
                "ai_gateway_anthropic_issuer": "anthropic-admin",
                "ai_gateway_anthropic_validation_url": f"{api.url}/v1/models",
            },
        )
        monkeypatch.setenv("ANTHROPIC_API_KEY", old)
        assert main(["generate", "--no-input"]) == 0
        monkeypatch.setenv("ANTHROPIC_API_KEY", new)  # creation stays with the operator
        assert main(["rotate", "--provider", "anthropic"]) == 0
        assert value(repo, "anthropic") == new
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", "new key")
        assert main(["rotate", "--revoke", "anthropic", "--assume-applied"]) == 0
        err = capsys.readouterr().err  # never a key it did not create, unnamed: the operator is told which and how
        assert "revoke by hand" in err and "--ref KEY_ID" in err and api.keys[old_id]["status"] == "active"
        monkeypatch.setenv("AIGW_SECRETS_NOW", "2099-01-01T00:00:00Z")
        assert main(["rotate", "--revoke", "anthropic", "--ref", old_id, "--assume-applied"]) == ExitCode.LOCKED
        assert api.keys[old_id]["status"] == "inactive" and api.keys[new_id]["status"] == "active"
        monkeypatch.setenv("AIGW_SECRETS_NOW", "2099-01-02T00:00:00Z")
        assert main(["rotate", "--revoke", "anthropic", "--ref", old_id, "--assume-applied"]) == 0
        assert api.keys[old_id]["status"] == "archived" and api.keys[new_id]["status"] == "active"
        # never the only active key
        assert main(["rotate", "--revoke", "anthropic", "--ref", new_id, "--assume-applied"]) == ExitCode.CONFIG
        assert api.keys[new_id]["status"] == "active"
        monkeypatch.setenv("ANTHROPIC_ADMIN_KEY", fakes.anthropic_admin_key())  # a revoked admin key
        assert main(["rotate", "--revoke", "anthropic", "--ref", new_id, "--assume-applied"]) == ExitCode.PERMISSION


@pytest.fixture
def gcp(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[adminapis.Gcp]:
    api = adminapis.Gcp()
    with adminapis.serve(api):
        admin = tmp_path / "admin-sa.json"  # outside the repository
        admin.write_text(json.dumps(api.admin_file()))
        monkeypatch.setenv("AIGW_SECRETS_GCP_ADMIN_CREDENTIALS", str(admin))
        monkeypatch.setenv("AIGW_SECRETS_GCP_ADMIN_URL", f"{api.url}/v1")
        monkeypatch.setenv("AIGW_SECRETS_VALIDATE_BACKOFF", "0.01")
        first = tmp_path / "first.json"
        first.write_text(json.dumps(api.add_key()))
        settings = {
            "ai_gateway_vertex_issuer": "gcp-iam",
            "ai_gateway_vertex_service_account": api.email,
            "ai_gateway_vertex_validation_url": f"{api.url}/token",
        }
        write_cluster(repo, {**provider_settings("vertex"), **settings})
        assert main(["generate", "--no-input", "--source", f"vertex=file:{first}"]) == 0  # the operator names the file
        first.unlink()
        yield api


def test_gcp_cycle(repo: Path, gcp: adminapis.Gcp, monkeypatch: pytest.MonkeyPatch) -> None:
    (operator,) = gcp.keys
    assert main(["rotate", "--provider", "vertex"]) == 0
    g2 = json.loads(value(repo, "gcp-vertex"))["private_key_id"]
    assert set(gcp.keys) == {operator, g2}
    assert main(["rotate", "--provider", "vertex"]) == 0
    g3 = json.loads(value(repo, "gcp-vertex"))["private_key_id"]
    assert ann(repo, "gcp-vertex")["aigw-secrets.io/previous-issued-ref"] == g2
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "g3")
    monkeypatch.setenv("AIGW_SECRETS_NOW", "2099-01-01T00:00:00Z")
    assert main(["rotate", "--revoke", "vertex", "--assume-applied"]) == ExitCode.LOCKED  # disabled, soaking
    assert gcp.keys[g2]["disabled"] and not gcp.keys[g3]["disabled"]
    monkeypatch.setenv("AIGW_SECRETS_NOW", "2099-01-02T00:00:00Z")
    assert main(["rotate", "--revoke", "vertex", "--assume-applied"]) == 0
    assert set(gcp.keys) == {operator, g3}


@pytest.mark.parametrize("step", ["minting", "minted"])
def test_gcp_kill(repo: Path, gcp: adminapis.Gcp, step: str) -> None:
    res = kill_then_resume(repo, ["rotate", "--provider", "vertex"], step)
    assert res.returncode == 0, res.stderr
    assert len(gcp.keys) == 2 and json.loads(value(repo, "gcp-vertex"))["private_key_id"] in gcp.keys


def test_gcp_errors(repo: Path, gcp: adminapis.Gcp, monkeypatch: pytest.MonkeyPatch) -> None:
    # google-auth retries the token endpoint after 1 s and 2 s: the same retries, without the waits
    backoff = pytest.importorskip("google.auth._exponential_backoff")
    monkeypatch.setattr(backoff._BaseExponentialBackoff, "_calculate_jitter", lambda self: 0.0)
    gcp.max_keys = 1
    assert main(["rotate", "--provider", "vertex"]) == ExitCode.UNAVAILABLE  # FAILED_PRECONDITION: key quota
    gcp.max_keys = 10
    gcp.fail = [503] * 10  # the token endpoint keeps failing (google-auth retries it)
    assert main(["rotate", "--provider", "vertex"]) == ExitCode.UNAVAILABLE
    gcp.fail = []
    gcp.admin["private_key_id"] = "revoked"  # the admin key no longer grants tokens
    assert main(["rotate", "--provider", "vertex"]) == ExitCode.PERMISSION
    assert len(gcp.keys) == 1


@pytest.fixture
def entra(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[adminapis.Entra]:
    api = adminapis.Entra()
    with adminapis.tls_serve(api, tmp_path) as running:
        monkeypatch.setenv("SSL_CERT_FILE", str(running.cert))  # trust the stand-in's fresh certificate
        monkeypatch.setenv("AIGW_SECRETS_ENTRA_ADMIN_URL", api.url)
        monkeypatch.setenv("AIGW_SECRETS_GRAPH_ADMIN_URL", f"{api.url}/v1.0")
        monkeypatch.setenv("AIGW_SECRETS_ENTRA_ADMIN_CLIENT_ID", api.admin_client_id)
        monkeypatch.setenv("AIGW_SECRETS_ENTRA_ADMIN_CLIENT_SECRET", api.admin_key)
        monkeypatch.setenv("AIGW_SECRETS_VALIDATE_BACKOFF", "0.01")
        _, first = api.add("operator-made")
        settings = {
            "ai_gateway_azure_issuer": "entra-graph",
            "ai_gateway_azure_application_object_id": api.app_object_id,
            "ai_gateway_azure_validation_url": f"{api.url}/{api.tenant}/oauth2/v2.0/token",
        }
        write_cluster(repo, {**provider_settings("azure", "entra"), **settings})
        monkeypatch.setenv("AZURE_CLIENT_SECRET", first)
        assert main(["generate", "--no-input"]) == 0
        monkeypatch.delenv("AZURE_CLIENT_SECRET")
        yield api


def test_entra_cycle(repo: Path, entra: adminapis.Entra, monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["rotate", "--provider", "azure"]) == 0
    by_name = {p["displayName"]: p for p in entra.passwords.values()}
    g2 = by_name["aigw-azure-openai-g2"]
    assert value(repo, "azure-openai") == g2["_secret"]
    assert g2["endDateTime"] > "2027"  # period (90 days) + 7 days from now
    assert main(["rotate", "--provider", "azure"]) == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "g3")
    monkeypatch.setenv("AIGW_SECRETS_NOW", "2099-01-01T00:00:00Z")
    assert main(["rotate", "--revoke", "azure", "--assume-applied"]) == 0  # removePassword: no soft revoke
    assert sorted(p["displayName"] for p in entra.passwords.values()) == ["aigw-azure-openai-g3", "operator-made"]


def test_entra_errors(repo: Path, entra: adminapis.Entra, monkeypatch: pytest.MonkeyPatch) -> None:
    entra.fail = [503]  # OIDC discovery
    assert main(["rotate", "--provider", "azure"]) == ExitCode.UNAVAILABLE
    monkeypatch.setenv("AIGW_SECRETS_ENTRA_ADMIN_CLIENT_SECRET", fakes.entra_client_secret())
    assert main(["rotate", "--provider", "azure"]) == ExitCode.PERMISSION
    assert len(entra.passwords) == 1


def test_azure_arm_dual_key(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    api = adminapis.Entra()
    with adminapis.tls_serve(api, tmp_path) as running:
        env = {
            "SSL_CERT_FILE": str(running.cert),
            "AIGW_SECRETS_ENTRA_ADMIN_URL": api.url,
            "AIGW_SECRETS_ARM_ADMIN_URL": api.url,
        }
        env.update(
            AIGW_SECRETS_ENTRA_ADMIN_CLIENT_ID=api.admin_client_id,
            AIGW_SECRETS_ENTRA_ADMIN_CLIENT_SECRET=api.admin_key,
            AIGW_SECRETS_VALIDATE_BACKOFF="0.01",
        )
        for name, setting in env.items():
            monkeypatch.setenv(name, setting)
        settings = {
            "ai_gateway_azure_issuer": "azure-arm",
            "ai_gateway_azure_resource_id": "/" + api.resource_id,
            "ai_gateway_azure_tenant_id": api.tenant,
            "ai_gateway_azure_validation_url": f"{api.url}/openai/models",
        }
        write_cluster(repo, {**provider_settings("azure"), **settings})
        monkeypatch.setenv("AZURE_OPENAI_API_KEY", api.resource_keys["key1"])  # the gateway serves with key1
        assert main(["generate", "--no-input"]) == 0
        monkeypatch.delenv("AZURE_OPENAI_API_KEY")
        key1 = api.resource_keys["key1"]
        assert main(["rotate", "--provider", "azure"]) == 0  # key2 regenerated and switched to; key1 untouched
        assert api.resource_keys["key1"] == key1 and value(repo, "azure-openai") == api.resource_keys["key2"]
        assert ann(repo, "azure-openai")["aigw-secrets.io/credential-ref"] == "key2"
        assert main(["rotate", "--provider", "azure"]) == 0  # back to key1 (regenerated), key2 still serves
        key2 = api.resource_keys["key2"]
        assert value(repo, "azure-openai") == api.resource_keys["key1"] != key1
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", "key1 again")
        monkeypatch.setenv("AIGW_SECRETS_NOW", "2099-01-01T00:00:00Z")
        assert main(["rotate", "--revoke", "azure", "--assume-applied"]) == 0  # revoking key2 = regenerating it
        assert api.resource_keys["key2"] != key2 and value(repo, "azure-openai") == api.resource_keys["key1"]
        # a Secret that holds neither key: never regenerate blindly
        api.resource_keys["key1"] = fakes.azure_openai_key()
        assert main(["rotate", "--provider", "azure"]) == ExitCode.CONFIG


def fresh_clone(bare: Path, where: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """What the CronJob does every run: a new clone (no .git/aigw-secrets), the age key mounted."""
    clone = where / f"clone-{len(list(where.glob('clone-*')))}"
    git(where, "clone", "-q", str(bare), str(clone))
    monkeypatch.chdir(clone)
    return clone


def test_gcp_fresh_clone_recognises_the_keys_earlier_runs_minted(
    repo: Path, gcp: adminapis.Gcp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GCP keys carry no name: only the bot's ledger says which it minted. With AIGW_SECRETS_STATE_DIR
    (a volume outside the repository) a fresh clone every run still revokes the earlier generations."""
    monkeypatch.setenv("AIGW_SECRETS_STATE_DIR", str(tmp_path / "state"))
    (operator,) = gcp.keys
    bare = bare_remote(repo, tmp_path)
    for n in (2, 3):
        clone = fresh_clone(bare, tmp_path, monkeypatch)
        assert main(["rotate", "--provider", "vertex"]) == 0
        git(clone, "commit", "-qam", f"g{n}")
        git(clone, "push", "-q", "origin", "HEAD")
    g3 = json.loads(value(clone, "gcp-vertex"))["private_key_id"]
    (g2,) = set(gcp.keys) - {operator, g3}
    clone = fresh_clone(bare, tmp_path, monkeypatch)
    monkeypatch.setenv("AIGW_SECRETS_NOW", "2099-01-01T00:00:00Z")
    assert main(["rotate", "--revoke", "vertex", "--assume-applied"]) == ExitCode.LOCKED  # disabled, soaking
    assert gcp.keys[g2]["disabled"] and not gcp.keys[g3]["disabled"] and not gcp.keys[operator]["disabled"]
    clone = fresh_clone(bare, tmp_path, monkeypatch)
    monkeypatch.setenv("AIGW_SECRETS_NOW", "2099-01-02T00:00:00Z")
    assert main(["rotate", "--revoke", "vertex", "--assume-applied"]) == 0
    assert set(gcp.keys) == {operator, g3}
    assert not list(clone.glob(".git/aigw-secrets/minted-*"))  # the records are on the volume


def test_gcp_killed_mint_is_finished_by_the_next_fresh_clone(
    repo: Path, gcp: adminapis.Gcp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run killed right after the provider answered: the pending value (sops-encrypted) and the mint
    journal are on the volume, so the next run's fresh clone writes that key instead of minting another."""
    state = tmp_path / "state"
    monkeypatch.setenv("AIGW_SECRETS_STATE_DIR", str(state))
    (operator,) = gcp.keys
    bare = bare_remote(repo, tmp_path)
    clone = fresh_clone(bare, tmp_path, monkeypatch)
    assert run_killed(clone, ["rotate", "--provider", "vertex"], "minted") == 137
    (g2,) = set(gcp.keys) - {operator}
    pending = list(state.glob("*/pending-vertex.sops.yaml"))
    assert len(pending) == 1 and "PRIVATE KEY" not in pending[0].read_text()  # sops-encrypted
    clone = fresh_clone(bare, tmp_path, monkeypatch)
    assert main(["rotate", "--provider", "vertex"]) == 0
    assert set(gcp.keys) == {operator, g2} and json.loads(value(clone, "gcp-vertex"))["private_key_id"] == g2
    assert not list(state.glob("*/pending-*"))


def test_state_dir_must_be_outside_the_repository(
    repo: Path, gcp: adminapis.Gcp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIGW_SECRETS_STATE_DIR", str(repo / "state"))
    keys = dict(gcp.keys)
    assert main(["rotate", "--provider", "vertex"]) == ExitCode.CONFIG
    monkeypatch.setenv("AIGW_SECRETS_STATE_DIR", "relative/state")
    assert main(["rotate", "--provider", "vertex"]) == ExitCode.CONFIG
    assert gcp.keys == keys and not (repo / "state").exists()


def test_admin_listings_follow_the_cursor_and_stop() -> None:
    """Both Admin APIs page with has_more/last_id; the cursor goes back under the issuer's own name,
    and a listing that never ends is cut at MAX_PAGES."""
    from aigw_secrets.rotation.issuers import interface

    asked: list[str] = []

    def three(path: str) -> dict[str, object]:
        asked.append(path)
        n = len(asked)
        return {"data": [{"n": n}, "not an object"], "has_more": n < 3, "last_id": f"id {n}"}

    assert list(interface.entries(three, "/keys?limit=100", "after_id")) == [{"n": 1}, {"n": 2}, {"n": 3}]
    assert asked == ["/keys?limit=100", "/keys?limit=100&after_id=id%201", "/keys?limit=100&after_id=id%202"]
    calls: list[str] = []

    def endless(path: str) -> dict[str, object]:
        calls.append(path)
        return {"data": [], "has_more": True, "last_id": "x"}

    assert list(interface.entries(endless, "/k?limit=1", "after")) == []
    assert len(calls) == interface.MAX_PAGES
    assert list(interface.entries(lambda path: {"has_more": True}, "/k?limit=1", "after")) == []  # no cursor
