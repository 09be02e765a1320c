"""A test's environment, isolated from the machine's: no real HOME, keys or credentials leak in;
git and gpg work in throwaway places; scratch files (ours and sops's) go to a TMPDIR of the test's."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

PROVIDER_ENV = (
    "OPENAI_API_KEY",
    "AZURE_OPENAI_API_KEY",
    "AZURE_CLIENT_SECRET",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "ANTHROPIC_API_KEY",
    "GROQ_API_KEY",
    "VLLM_API_KEY",
    "OPENAI_COMPATIBLE_API_KEY",
    "GEMINI_API_KEY",
    "MISTRAL_API_KEY",
    "XAI_API_KEY",
    "OPENROUTER_API_KEY",
    "DEEPSEEK_API_KEY",
    "TOGETHER_API_KEY",
    "DEEPINFRA_API_KEY",
    "CO_API_KEY",
    "AWS_BEARER_TOKEN_BEDROCK",
    "SOPS_AGE_KEY_FILE",
    "SOPS_AGE_KEY",
    "SOPS_AGE_KEY_CMD",
    "SOPS_AGE_RECIPIENTS",
    "SOPS_CONFIG",
    "SOPS_BINARY",
)


def _no_flush(fd: int) -> None:
    os.fstat(fd)


def isolate(monkeypatch: pytest.MonkeyPatch, home: Path, scratch: Path) -> None:
    """HOME, the XDG config, GNUPGHOME and TMPDIR in throwaway places, no provider or sops variable of
    the machine's, a fixed git identity."""
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    for name in PROVIDER_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GNUPGHOME", str(home / ".gnupg"))
    monkeypatch.setenv("GIT_AUTHOR_NAME", "test")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "test@example.invalid")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "test")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "test@example.invalid")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


def cheap(monkeypatch: pytest.MonkeyPatch) -> None:
    """What costs time in this process and nothing in a test's meaning.

    Fingerprints record their scrypt cost, so tests write cheap ones (production's is tested in
    tests/gateway/test_fingerprint.py); CLI subprocesses still use the production cost. Every write is
    fsynced (file and directory); tests never lose power, so in this process an fsync only checks its
    descriptor (a bad one still fails) and skips the flush to disk (thousands of them in a run,
    milliseconds each). sops, git and CLI subprocesses still fsync.

    Go programs (sops, two thousand runs of a few milliseconds) collect garbage only near a memory
    limit they never reach: a fifth less CPU per sops run, the same output."""
    from aigw_secrets.gateway import contenthash

    monkeypatch.setattr(contenthash, "SCRYPT_COST", (4, 1, 1))
    monkeypatch.setattr(os, "fsync", _no_flush)
    monkeypatch.setenv("GOGC", "off")
    monkeypatch.setenv("GOMEMLIMIT", "1GiB")
