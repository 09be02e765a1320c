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
