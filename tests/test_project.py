"""The project holds itself to its own rules: its hook and ruff pass on its own tracked files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from aigw_secrets.entry import main

PROJECT = Path(__file__).resolve().parents[1]


def test_own_tracked_files_scan_clean(capsys: pytest.CaptureFixture[str]) -> None:
    if not (PROJECT / ".git").exists():
        pytest.skip("not a git work tree: the scan covers tracked files")
    assert main(["scan", "--all", "--repo", str(PROJECT)]) == 0, capsys.readouterr().err


def test_own_pre_commit_config_passes(tmp_path: Path) -> None:
    bin_dir = Path(sys.executable).parent  # .venv/bin: pre-commit, ruff and aigw-secrets
    if not (PROJECT / ".git").exists() or not (bin_dir / "pre-commit").exists():
        pytest.skip("needs a git work tree and pre-commit (installed by ./scripts/test)")
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "PRE_COMMIT_HOME": str(tmp_path / "cache"),
    }
    res = subprocess.run(
        ["pre-commit", "run", "--all-files", "--config", ".pre-commit-config.yaml"],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stdout[-2000:]


def test_commands_leave_no_scratch_behind(repo: Path, tmp_path: Path) -> None:
    """A bulk sops operation (scratch copies of ciphertext) leaves nothing in TMPDIR when it ends."""
    scratch = tmp_path / "scratch-tmp"
    scratch.mkdir()
    secret = repo / "kubernetes" / "a.sops.yaml"
    secret.parent.mkdir(parents=True)
    secret.write_text("apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\nstringData:\n  k: v\n")
    env = {**os.environ, "TMPDIR": str(scratch)}
    for argv in (["encrypt", str(secret)], ["updatekeys", str(secret)], ["rotate", "--data-key", str(secret)]):
        res = subprocess.run(
            [sys.executable, "-m", "aigw_secrets", *argv], cwd=repo, env=env, capture_output=True, text=True
        )
        assert res.returncode == 0, res.stderr
    assert list(scratch.iterdir()) == []


def test_the_longest_first_list_names_existing_tests() -> None:
    """tests/conftest.py LONGEST_FIRST orders the run; a renamed test would silently drop out of it."""
    import ast

    root = Path(__file__).resolve().parent.parent
    tree = ast.parse((root / "tests/conftest.py").read_text("utf-8"))
    (names,) = [
        ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "LONGEST_FIRST" for t in node.targets)
    ]
    assert names
    for name in names:
        path, test = name.split("::")
        assert f"def {test}(" in (root / path).read_text("utf-8"), name
