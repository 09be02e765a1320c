"""A commit hook that runs the scan, exercised the same way whatever wires it (pre-commit, lefthook)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from testing import fakes
from testing.helpers import git

SECRET = "kubernetes/apps/ai/openai.sops.yaml"


def plaintext_then_encrypted(
    repo: Path, env: dict[str, str]
) -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str], str]:
    """In ``repo`` (hook installed): `aigw-secrets init`, commit a Secret holding a plaintext OpenAI key,
    then encrypt it and commit again. Returns both commits' results and the key (to check it never shows)."""
    subprocess.run([sys.executable, "-m", "aigw_secrets", "init"], cwd=repo, env=env, check=True, capture_output=True)
    env["SOPS_AGE_KEY_FILE"] = str(repo / "age.key")
    secret = repo / SECRET
    secret.parent.mkdir(parents=True)
    key = fakes.openai_project_key()
    secret.write_text(f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: openai\nstringData:\n  apiKey: {key}\n")
    git(repo, "add", "-A")
    refused = subprocess.run(
        ["git", "commit", "-m", "add openai key"], cwd=repo, env=env, capture_output=True, text=True
    )
    subprocess.run(
        [sys.executable, "-m", "aigw_secrets", "encrypt", str(secret)],
        cwd=repo,
        env=env,
        check=True,
        capture_output=True,
    )
    git(repo, "add", "-A")
    accepted = subprocess.run(
        ["git", "commit", "-m", "add openai key, encrypted"], cwd=repo, env=env, capture_output=True, text=True
    )
    return refused, accepted, key
