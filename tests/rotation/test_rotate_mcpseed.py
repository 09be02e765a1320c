"""`rotate --provider mcp-session-seed`: the fallback-seed procedure (the old seed becomes the fallback,
so sessions survive one rotation), `status` shows the seed's age, `generate` keeps a rotated seed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from aigw_secrets.cli import main
from aigw_secrets.gateway import mcp
from testing.helpers import sops_decrypt
from testing.repos import write_cluster

OUT = Path("kubernetes/apps/ai-gateway/providers")


def seed_data(repo: Path) -> dict[str, str]:
    res = sops_decrypt(repo / OUT / mcp.MCP_SEED_FILE, repo / "age.key")
    assert res.returncode == 0
    return dict(yaml.safe_load(res.stdout)["stringData"])


def test_fallback_seed_procedure(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_cluster(repo, {"ai_gateway_mcp_session_seed": True})
    assert main(["generate", "--no-input"]) == 0
    first = seed_data(repo)
    assert list(first) == ["seed"]

    capsys.readouterr()
    assert main(["rotate", "--provider", "mcp-session-seed"]) == 0
    second = seed_data(repo)
    assert second["fallbackSeed"] == first["seed"] and second["seed"] != first["seed"] and len(second["seed"]) == 64
    assert main(["rotate", "--provider", "mcp-session-seed"]) == 0
    third = seed_data(repo)
    assert third["fallbackSeed"] == second["seed"] and first["seed"] not in third.values()  # only one rotation back
    out = capsys.readouterr()
    for value in (*first.values(), *second.values(), *third.values()):
        assert value not in out.out + out.err

    before = (repo / OUT / mcp.MCP_SEED_FILE).read_bytes()
    assert main(["generate", "--no-input"]) == 0  # keeps the rotated seed (and its fallback)
    assert (repo / OUT / mcp.MCP_SEED_FILE).read_bytes() == before

    capsys.readouterr()
    assert main(["status", "--format", "json"]) == 0
    (row,) = [r for r in json.loads(capsys.readouterr().out) if r["provider"] == "mcp-session-seed"]
    assert row["age_days"] == 0 and row["overdue"] is False


def test_killed_rotation_resumes_without_a_second_rotation(repo: Path) -> None:
    write_cluster(repo, {"ai_gateway_mcp_session_seed": True})
    assert main(["generate", "--no-input"]) == 0
    first = seed_data(repo)
    env = {"AIGW_SECRETS_CRASH_AT": "planned"}
    code = "import sys; from aigw_secrets.cli import main; sys.exit(main(['rotate', '--provider', 'mcp-session-seed']))"
    res = subprocess.run([sys.executable, "-c", code], cwd=repo, env={**os.environ, **env}, check=False)
    assert res.returncode == 137 and seed_data(repo) == first  # killed before writing: nothing changed
    assert main(["rotate", "--provider", "mcp-session-seed"]) == 0
    assert seed_data(repo)["fallbackSeed"] == first["seed"]


def test_rotating_without_the_seed_enabled(repo: Path) -> None:
    write_cluster(repo, {"ai_gateway_openai_enabled": False})
    assert main(["rotate", "--provider", "mcp-session-seed"]) != 0


def test_a_missing_seed_file_is_named_by_rotate_and_status(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_cluster(repo, {"ai_gateway_mcp_session_seed": True})
    assert main(["generate", "--no-input"]) == 0
    (repo / OUT / mcp.MCP_SEED_FILE).unlink()
    capsys.readouterr()
    assert main(["rotate", "--provider", "mcp-session-seed"]) not in (0, 1)
    assert "missing; run `aigw-secrets generate` first" in capsys.readouterr().err
    main(["status", "--format", "json"])
    (row,) = [r for r in json.loads(capsys.readouterr().out) if r["provider"] == "mcp-session-seed"]
    assert row["state"] == "missing" and row["overdue"] is True
    assert main(["doctor"]) in (0, 1)  # the recipients check skips a Secret that is not there; other checks name it
