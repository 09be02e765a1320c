"""plan with no credential from any source: non-interactive is one line naming what to set, for
the SOPS and the External Secrets backends alike; at a terminal the value is asked for (and only
then) and planned like any other."""

from __future__ import annotations

from pathlib import Path

import pytest

from aigw_secrets.errors import CredentialError
from aigw_secrets.gateway import config, credentials, plan
from aigw_secrets.gateway.credentials import Credential
from testing.repos import write_cluster

ESO = {"ai_gateway_secret_backend": "external-secrets", "ai_gateway_external_secrets_store": "s"}


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


@pytest.mark.usefixtures("no_env")
@pytest.mark.parametrize("backend", [{}, ESO])
def test_no_credential_non_interactive_names_what_to_set(
    tmp_path: Path, backend: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_cluster(tmp_path, {"ai_gateway_openai_enabled": True, **backend})
    cfg = config.load(tmp_path)
    (pc,) = cfg.providers
    planner = plan.plan_external_secret if backend else plan.plan_secret
    monkeypatch.setattr(credentials, "prompt", lambda pc: pytest.fail("never prompts when not interactive"))
    with pytest.raises(
        CredentialError, match=r"OpenAI \(openai\): no credential; set OPENAI_API_KEY, or pass --source openai="
    ):
        planner(pc, cfg, tmp_path / "out", None, False)


@pytest.mark.usefixtures("no_env")
@pytest.mark.parametrize("backend", [{}, ESO])
def test_no_credential_at_a_terminal_is_asked_for(
    tmp_path: Path, backend: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_cluster(tmp_path, {"ai_gateway_openai_enabled": True, **backend})
    cfg = config.load(tmp_path)
    (pc,) = cfg.providers
    asked: list[str] = []
    value = "sk-proj-" + "T" * 48

    def prompt(p: object) -> Credential:
        asked.append(pc.key)
        return Credential(value, "prompt")

    monkeypatch.setattr(credentials, "prompt", prompt)
    planner = plan.plan_external_secret if backend else plan.plan_secret
    planned, job = planner(pc, cfg, tmp_path / "out", None, True)
    assert asked == ["openai"] and job is not None and "prompt" in planned[2]


@pytest.mark.usefixtures("no_env")
@pytest.mark.parametrize("backend", [{}, ESO])
def test_rotate_without_a_credential_names_the_bare_spec_rotate_takes(
    tmp_path: Path, backend: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both rotation paths (SOPS and External Secrets) share the message; rotate's --source is a bare
    SPEC (it refuses PROVIDER=SPEC), so the hint must not name generate's form."""
    write_cluster(tmp_path, {"ai_gateway_openai_enabled": True, **backend})
    (pc,) = config.load(tmp_path).providers
    monkeypatch.setattr(credentials, "prompt", lambda pc: pytest.fail("never prompts when not interactive"))
    with pytest.raises(CredentialError) as err:
        credentials.given_or_prompted(pc, None, interactive=False, rotating=True)
    assert str(err.value) == (
        "OpenAI (openai): no new credential; set OPENAI_API_KEY or pass --source file:PATH|cmd:COMMAND|stdin"
    )
    assert credentials.Source.parse("file:/k", "--source openai").kind == "file"
