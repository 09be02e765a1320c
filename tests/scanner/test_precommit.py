"""The hook through the real pre-commit framework: a user adds this repository with hook id
aigw-secrets-scan; a commit with a plaintext key is refused, the same file encrypted passes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from testing import hooks
from testing.helpers import git

PROJECT = Path(__file__).resolve().parents[2]


def snapshot(dest: Path) -> str:
    """This working tree (tracked and new files) as a one-commit repository; returns its commit."""
    names = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=PROJECT, capture_output=True, check=True
    ).stdout
    for name in filter(None, names.decode().split("\0")):
        src = PROJECT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    git(dest, "init", "-q")
    git(dest, "add", "-A")
    git(dest, "commit", "-qm", "snapshot")
    return git(dest, "rev-parse", "HEAD").strip()


@pytest.mark.slow
def test_pre_commit_framework(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pre_commit = shutil.which("pre-commit", path=str(Path(sys.executable).parent))
    if pre_commit is None:
        pytest.skip("pre-commit is not installed (pip install pre-commit)")
    src = tmp_path / "aigw-secrets"
    src.mkdir()
    rev = snapshot(src)
    repo = tmp_path / "gitops"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {src}\n    rev: {rev}\n    hooks:\n      - id: aigw-secrets-scan\n"
    )
    env = {
        **os.environ,
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "PIP_NO_COMPILE": "1",  # the hook's environment compiles what it imports, not every installed module
    }
    subprocess.run([pre_commit, "install"], cwd=repo, env=env, check=True, capture_output=True)
    refused, accepted, key = hooks.plaintext_then_encrypted(repo, env)
    output = refused.stdout + refused.stderr
    assert refused.returncode != 0, output
    assert "aigw-secrets scan" in output and "Failed" in output
    assert f"{hooks.SECRET}:6:11: openai-api-key" in output
    assert key not in output
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert "Passed" in accepted.stdout + accepted.stderr
