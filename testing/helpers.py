"""Helpers shared by the tests: real git and sops, nothing faked."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def sops_bin() -> str:
    from aigw_secrets.sops.binary import find_binary

    return find_binary()


def sops_decrypt(path: Path, key_file: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SOPS_AGE_KEY_FILE": str(key_file)}
    return subprocess.run([sops_bin(), "decrypt", str(path)], capture_output=True, text=True, env=env, cwd=path.parent)


needs_age_keygen = pytest.mark.skipif(shutil.which("age-keygen") is None, reason="age-keygen not installed (apt-get install age)")


def kill_then_resume(repo: Path, argv: list[str], step: str) -> subprocess.CompletedProcess[str]:
    """Run ``aigw-secrets ARGV`` killed (exit 137) right after journal step ``step``, then again to
    the end; returns the resumed run."""
    import sys

    env = {**os.environ, "AIGW_SECRETS_CRASH_AT": step}
    cmd = [sys.executable, "-m", "aigw_secrets", *argv]
    assert subprocess.run(cmd, cwd=repo, env=env, capture_output=True).returncode == 137
    del env["AIGW_SECRETS_CRASH_AT"]
    return subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True)


def bare_remote(repo: Path, where: Path) -> Path:
    """Commit everything in ``repo`` and push it to a new bare repository ``where/remote.git`` (origin)."""
    bare = where / "remote.git"
    git(where, "init", "-q", "--bare", str(bare))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "initial")
    git(repo, "remote", "add", "origin", str(bare))
    git(repo, "push", "-q", "origin", "HEAD")
    return bare
