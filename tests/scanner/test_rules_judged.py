"""scanner.rules' judgement of where a match stands: a JWT after `Bearer` is a credential whatever
names the line, one with no key before it is not; a refined shape (vault token) under a bare `key:`
stays quiet like any literal there."""

from __future__ import annotations

import string

from aigw_secrets.scanner import rules
from testing import fakes
from tests.scanner.test_detection import jwt


def _ids(text: str) -> list[str]:
    return [rule.id for rule, _m, _s in rules.matches(text)]


def test_a_jwt_after_bearer_is_reported_whatever_the_key() -> None:
    token = jwt()
    assert "jwt" in _ids(f'curl -H "X-Upstream: Bearer {token}" https://example.invalid\n')


def test_a_jwt_with_no_key_before_it_is_quiet() -> None:
    assert "jwt" not in _ids(f"- {jwt()}\n")


def test_a_vault_token_under_a_bare_key_is_quiet_under_a_credential_name_reported() -> None:
    vault = "s." + fakes.rand(24, string.ascii_letters + string.digits)
    assert _ids(f"key: {vault}\n") == []
    assert _ids(f"vault_token: {vault}\n") == ["vault-token"]
