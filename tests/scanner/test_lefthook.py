"""The README's lefthook snippet with the real lefthook (npm package `lefthook`): a commit with a
plaintext key is refused, the same file encrypted passes. Skipped when lefthook cannot be had here."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from testing import hooks
from testing.helpers import git

PROJECT = Path(__file__).resolve().parents[2]
NPM_CACHE = Path.home() / ".npm"  # the real one: read before the tests isolate HOME


def lefthook(tmp_path: Path) -> str:
    found = os.environ.get("AIGW_SECRETS_LEFTHOOK") or shutil.which("lefthook")
    if found:
        return found
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("lefthook is not installed and npm is not available to install it (npm install lefthook)")
    prefix = tmp_path / "lefthook-npm"
    prefix.mkdir()
    # --ignore-scripts and a cwd outside any git repository: the package's postinstall runs
    # `lefthook install`, which would otherwise put hooks into whatever repository npm was started in.
    res = subprocess.run(
        [
            npm,
            "install",
            "--ignore-scripts",
            "--prefer-offline",
            "--no-audit",
            "--no-fund",
            "--cache",
            str(NPM_CACHE),
            "--prefix",
            str(prefix),
            "lefthook",
        ],
        cwd=prefix,
        env={**os.environ, "GIT_CEILING_DIRECTORIES": str(tmp_path), "LEFTHOOK": "0"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    binary = prefix / "node_modules" / ".bin" / "lefthook"
    if res.returncode != 0 or not binary.exists():
        pytest.skip(
            f"could not install lefthook with npm (exit {res.returncode}); set AIGW_SECRETS_LEFTHOOK to a "
            "lefthook binary"
        )
    return str(binary)


@pytest.mark.slow
def test_lefthook_snippet_from_the_readme(tmp_path: Path) -> None:
    binary = lefthook(tmp_path)
    readme = (PROJECT / "README.md").read_text()
    snippet = re.search(r"<!-- lefthook-snippet -->\n```yaml\n(.*?)```\n<!-- /lefthook-snippet -->", readme, re.S)
    assert snippet, "README.md lost its lefthook snippet"
    repo = tmp_path / "gitops"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "lefthook.yml").write_text(snippet.group(1))
    bindir = Path(sys.executable).parent  # aigw-secrets of this checkout
    env = {**os.environ, "PATH": f"{bindir}:{Path(binary).parent}:{os.environ['PATH']}"}
    subprocess.run([binary, "install"], cwd=repo, env=env, check=True, capture_output=True)
    assert (repo / ".git/hooks/pre-commit").is_file()  # into the test's repository, nowhere else
    refused, accepted, key = hooks.plaintext_then_encrypted(repo, env)
    output = refused.stdout + refused.stderr
    assert refused.returncode != 0, output
    assert "openai-api-key" in output and "aigw-secrets-scan" in output
    assert key not in output
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert git(repo, "log", "--format=%s", "-1").strip() == "add openai key, encrypted"
