"""Issue 18: the commands agree with each other. generate never writes back a credential a rotation
replaced; MCP API-key Secrets are managed like the providers'; the advice each command gives works."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from aigw_secrets.cli import main
from aigw_secrets.errors import ExitCode
from aigw_secrets.sops import files as sops_files
from aigw_secrets.sops.binary import Sops
from testing import fakes, standin
from testing.repos import provider_settings, write_cluster
from testing.standin import setup_groq

OUT = Path("kubernetes/apps/ai-gateway/providers")
A = "aigw-secrets.io"


def value_in(repo: Path, name: str) -> str:
    rel = OUT / f"{name}.secret.sops.yaml"
    doc = yaml.safe_load(sops_files.decrypt(Sops(repo), (repo / rel).read_bytes(), str(rel)))
    return str(next(iter(doc["stringData"].values())))


def annotations(repo: Path, name: str) -> dict[str, str]:
    return dict(yaml.safe_load((repo / OUT / f"{name}.secret.sops.yaml").read_text())["metadata"]["annotations"])


# --- (a) generate never undoes a rotation unasked ------------------------------------------------


def test_generate_refuses_the_key_a_rotation_replaced(
    repo: Path, provider: standin.Provider, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    old = setup_groq(repo, provider, monkeypatch)  # GROQ_API_KEY=old stays exported
    new = fakes.groq_key()
    provider.status[new] = 200
    src = repo.parent / "new-key"
    src.write_text(new)
    assert main(["rotate", "--provider", "groq", "--source", f"file:{src}"]) == 0
    before = (repo / OUT / "groq.secret.sops.yaml").read_bytes()
    ann = annotations(repo, "groq")
    capsys.readouterr()
    for args in (["generate", "--no-input"], ["generate", "--no-input", "--check"]):
        assert main(args) == ExitCode.SUPERSEDED
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "--replace-rotated" in err[0] and "groq" in err[0] and old not in err[0]
    assert (repo / OUT / "groq.secret.sops.yaml").read_bytes() == before and value_in(repo, "groq") == new
    # forced: the old key comes back, and the record of the key it replaces is kept
    assert main(["generate", "--no-input", "--replace-rotated"]) == 0
    assert value_in(repo, "groq") == old
    after = annotations(repo, "groq")
    assert after[f"{A}/previous-credential-ref"] == f"gsk_...{new[-4:]}"
    assert f"{A}/previous-revoke-after" in after
    assert int(after[f"{A}/generation"]) == int(ann[f"{A}/generation"]) + 1
    # and now the newer key is the replaced one
    monkeypatch.setenv("GROQ_API_KEY", new)
    assert main(["generate", "--no-input"]) == ExitCode.SUPERSEDED


def test_generate_refuses_a_key_set_replaced_two_generations_back(
    repo: Path, provider: standin.Provider, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = setup_groq(repo, provider, monkeypatch)
    path = repo / OUT / "groq.secret.sops.yaml"
    for _ in range(2):
        monkeypatch.setenv("NEXT", fakes.groq_key())
        assert main(["set", "--from-env", "NEXT", str(path), "stringData.apiKey"]) == 0
    current = value_in(repo, "groq")
    monkeypatch.setenv("GROQ_API_KEY", first)
    assert main(["generate", "--no-input"]) == ExitCode.SUPERSEDED
    assert value_in(repo, "groq") == current


def test_generate_with_a_new_key_records_the_replaced_one(
    repo: Path, provider: standin.Provider, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = setup_groq(repo, provider, monkeypatch)
    monkeypatch.setenv("GROQ_API_KEY", fakes.groq_key())
    assert main(["generate", "--no-input"]) == 0
    ann = annotations(repo, "groq")
    assert ann[f"{A}/previous-credential-ref"] == f"gsk_...{old[-4:]}" and f"{A}/previous-revoke-after" in ann
    assert main(["generate", "--no-input", "--check"]) == 0


# --- (c) advice that works -------------------------------------------------------------------------


def test_rotate_given_generates_source_syntax_is_a_usage_error(
    repo: Path, provider: standin.Provider, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    setup_groq(repo, provider, monkeypatch)
    capsys.readouterr()
    assert main(["rotate", "--provider", "groq", "--source", "groq=file:/nonexistent"]) == ExitCode.USAGE
    assert "bare SPEC" in capsys.readouterr().err


def test_needs_operator_hint_names_rotates_own_syntax(
    repo: Path, provider: standin.Provider, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    setup_groq(repo, provider, monkeypatch)
    monkeypatch.delenv("GROQ_API_KEY")
    monkeypatch.setenv("AIGW_SECRETS_NOW", "2030-01-01T00:00:00Z")
    capsys.readouterr()
    assert main(["rotate", "--due"]) == ExitCode.MANUAL_ACTION
    err = capsys.readouterr().err
    assert "groq=" not in err and "--source file:PATH" in err
    # the advice, followed, works
    new = fakes.groq_key()
    provider.status[new] = 200
    src = repo.parent / "k"
    src.write_text(new)
    assert main(["rotate", "--provider", "groq", "--source", f"file:{src}"]) == 0


def test_generate_supplying_the_key_ends_a_needs_operator_rotation(
    repo: Path, provider: standin.Provider, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    setup_groq(repo, provider, monkeypatch)
    monkeypatch.delenv("GROQ_API_KEY")
    monkeypatch.setenv("AIGW_SECRETS_NOW", "2030-01-01T00:00:00Z")
    assert main(["rotate", "--due"]) == ExitCode.MANUAL_ACTION
    capsys.readouterr()
    assert main(["status"]) == ExitCode.FINDINGS and "needs operator" in capsys.readouterr().out
    monkeypatch.setenv("AIGW_SECRETS_NOW", "2030-01-01T00:10:00Z")
    monkeypatch.setenv("GROQ_API_KEY", fakes.groq_key())
    assert main(["generate", "--no-input"]) == 0
    monkeypatch.delenv("GROQ_API_KEY")
    capsys.readouterr()
    main(["status", "--format", "json"])
    assert json.loads(capsys.readouterr().out)[0]["state"] == "idle"
    for _ in range(2):  # cron, run after run
        assert main(["rotate", "--due"]) == 0


def test_revoke_and_status_agree_on_an_operator_supplied_key(
    repo: Path, provider: standin.Provider, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    old = setup_groq(repo, provider, monkeypatch)
    new = fakes.groq_key()
    provider.status[new] = 200
    monkeypatch.setenv("GROQ_API_KEY", new)
    assert main(["rotate", "--provider", "groq"]) == 0
    ref = f"gsk_...{old[-4:]}"
    monkeypatch.setenv("AIGW_SECRETS_NOW", "2031-01-01T00:00:00Z")
    capsys.readouterr()
    main(["status"])
    out = capsys.readouterr().out
    assert f"{ref} (revoke now, by hand" in out
    assert main(["rotate", "--revoke", "groq"]) == 0
    err = capsys.readouterr().err
    assert "nothing to revoke" not in err and ref in err and "console" in err and "no ai_gateway_groq_issuer" in err
    assert main(["--quiet", "rotate", "--revoke", "groq", "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["state"] == "revoke by hand" and result["ref"] == ref and result["safe_now"] is True
    # the operator revoked it in the console and says so: both commands stop asking
    assert main(["rotate", "--revoke", "groq", "--ref", ref]) == 0
    capsys.readouterr()
    main(["status", "--format", "json"])
    row = json.loads(capsys.readouterr().out)[0]
    assert row["previous_revoked"] is True and row["safe_to_revoke_now"] is False
    assert main(["rotate", "--revoke", "groq"]) == 0
    assert "nothing to revoke" in capsys.readouterr().err


def test_cron_textfile_keeps_the_last_success_after_a_failure(
    repo: Path, provider: standin.Provider, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    setup_groq(repo, provider, monkeypatch)
    project = Path(__file__).resolve().parents[2]
    prom = tmp_path / "aigw.prom"
    env = {
        "AIGW_REPO": str(repo),
        "AIGW_TEXTFILE": str(prom),
        "AIGW_SECRETS": str(Path(sys.executable).with_name("aigw-secrets")),
    }
    cron = project / "scripts/aigw-rotate-cron"
    subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True)
    subprocess.run(["git", "-C", str(repo), "commit", "-qm", "init"], check=True)
    res = subprocess.run([str(cron)], env={**os.environ, **env}, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    first = [
        ln for ln in prom.read_text().splitlines() if ln.startswith("aigw_secrets_last_success_timestamp_seconds ")
    ]
    assert first
    monkeypatch.delenv("GROQ_API_KEY")
    res = subprocess.run(
        [str(cron)],
        env={**os.environ, **env, "GROQ_API_KEY": "", "AIGW_SECRETS_NOW": "2030-01-01T00:00:00Z"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == ExitCode.MANUAL_ACTION, res.stderr
    text = prom.read_text()
    assert "aigw_secrets_last_exit_code 11" in text
    assert [ln for ln in text.splitlines() if ln.startswith("aigw_secrets_last_success_timestamp_seconds ")] == first


# --- (b) MCP API-key Secrets and the session seed are managed Secrets --------------------------------


def _mcp_repo(repo: Path, provider: standin.Provider, monkeypatch: pytest.MonkeyPatch) -> str:
    first = "mcp-" + fakes.rand(32)
    provider.status[first] = 200
    write_cluster(
        repo,
        {
            **provider_settings("groq"),
            "ai_gateway_mcp_backends": [f"kiwi={provider.url}/mcp"],
            "ai_gateway_mcp_session_seed": True,
        },
    )
    monkeypatch.setenv("GROQ_API_KEY", fakes.groq_key())
    monkeypatch.setenv("MCP_KIWI_API_KEY", first)
    assert main(["generate", "--no-input"]) == 0
    return first


def test_mcp_secrets_are_in_status_rotation_and_data_key_rotation(
    repo: Path, provider: standin.Provider, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    first = _mcp_repo(repo, provider, monkeypatch)
    capsys.readouterr()
    main(["status", "--format", "json"])
    rows = {r["provider"]: r for r in json.loads(capsys.readouterr().out)}
    assert {"groq", "mcp_kiwi", "mcp-session-seed"} <= set(rows)
    assert rows["mcp_kiwi"]["state"] == "idle" and rows["mcp_kiwi"]["next_due"]
    new = "mcp-" + fakes.rand(32)
    provider.status[new] = 200
    monkeypatch.setenv("MCP_KIWI_API_KEY", new)
    assert main(["rotate", "--provider", "mcp_kiwi"]) == 0
    assert provider.calls[-1] == new and provider.paths[-1] == "/mcp"  # validated with the MCP initialize call
    assert value_in(repo, "mcp-kiwi") == new
    # a rejected MCP key changes nothing
    bad = "mcp-" + fakes.rand(32)
    provider.status[bad] = 401
    monkeypatch.setenv("MCP_KIWI_API_KEY", bad)
    assert main(["rotate", "--provider", "mcp-kiwi"]) == ExitCode.ROTATION_REJECTED
    assert value_in(repo, "mcp-kiwi") == new
    # the old MCP key exported again is refused by generate
    monkeypatch.setenv("MCP_KIWI_API_KEY", first)
    assert main(["generate", "--no-input"]) == ExitCode.SUPERSEDED
    # --due, 40 days on: every managed Secret's data key, the MCP ones included
    monkeypatch.setenv("MCP_KIWI_API_KEY", new)
    seed = repo / OUT / "mcp-session-encryption.secret.sops.yaml"
    kiwi = repo / OUT / "mcp-kiwi.secret.sops.yaml"
    before = {p: yaml.safe_load(p.read_text())["sops"]["age"][0]["enc"] for p in (seed, kiwi)}  # the wrapped data key
    monkeypatch.setenv("AIGW_SECRETS_NOW", "2099-01-01T00:00:00Z")
    monkeypatch.setenv("GROQ_API_KEY", fakes.groq_key())
    provider.accept_prefix = "gsk_"
    capsys.readouterr()
    main(["--quiet", "rotate", "--due", "--no-verify", "--format", "json"])
    summary = json.loads(capsys.readouterr().out)
    assert summary["data_keys_rotated"] >= 2  # groq got a new credential (and with it a new data key)
    for p, lm in before.items():
        assert yaml.safe_load(p.read_text())["sops"]["age"][0]["enc"] != lm, p.name
