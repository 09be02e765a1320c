from __future__ import annotations

from collections.abc import Iterator

import pytest

from testing import standin


@pytest.fixture
def provider(monkeypatch: pytest.MonkeyPatch, provider_standin: standin.Provider) -> Iterator[standin.Provider]:
    """A provider stand-in on 127.0.0.1 that the operator (the test's environment, never the
    repository) allows validation to talk to."""
    monkeypatch.setenv("AIGW_SECRETS_VALIDATE_BACKOFF", "0.01")
    p = provider_standin
    monkeypatch.setenv("AIGW_SECRETS_ALLOW_HOSTS", p.url.split("//", 1)[1])
    yield p


@pytest.fixture
def operator_allows_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """The operator (the test's environment) lets validation reach the 127.0.0.1 stand-ins, any port."""
    monkeypatch.setenv("AIGW_SECRETS_ALLOW_HOSTS", "127.0.0.1")


@pytest.fixture
def at_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """The operator at a terminal (only they may name a key with ``--ref``, never cron)."""
    from aigw_secrets.rotation import revoke

    monkeypatch.setattr(revoke, "at_terminal", lambda: True)
