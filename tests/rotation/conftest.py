from __future__ import annotations

import socket
import urllib.request
from collections.abc import Iterator

import pytest

from testing import standin


@pytest.fixture
def provider(monkeypatch: pytest.MonkeyPatch) -> Iterator[standin.Provider]:
    """A provider stand-in on 127.0.0.1 that the operator (the test's environment, never the
    repository) allows validation to talk to."""
    monkeypatch.setenv("AIGW_SECRETS_VALIDATE_BACKOFF", "0.01")
    with standin.serve() as p:
        monkeypatch.setenv("AIGW_SECRETS_ALLOW_HOSTS", p.url.split("//", 1)[1])
        yield p


@pytest.fixture
def operator_allows_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """The operator (the test's environment) lets validation reach the 127.0.0.1 stand-ins, any port."""
    monkeypatch.setenv("AIGW_SECRETS_ALLOW_HOSTS", "127.0.0.1")


@pytest.fixture(scope="session")
def moto_server_url() -> Iterator[str]:
    """ONE moto server (AWS IAM/STS in server mode) on 127.0.0.1 per session (per xdist worker)."""
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
    urllib.request.urlopen(urllib.request.Request(f"{moto_server_url}/moto-api/reset", method="POST"), timeout=10).close()
    return moto_server_url
