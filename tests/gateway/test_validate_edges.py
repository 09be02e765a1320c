"""validate's refusals on the paths the provider rows do not take by default: a keyless mode has no
check, an unset path setting or an invalid port is one line, a host template missing its setting
names no host, and a request never shows its headers (the credential) in a repr."""

from __future__ import annotations

from pathlib import Path

import pytest

from aigw_secrets.errors import ConfigError
from aigw_secrets.gateway import operator, validate
from tests.gateway.test_validation_rows import _pc


def test_a_request_repr_never_shows_the_credential(tmp_path: Path) -> None:
    value = "sk-proj-" + "Q" * 40
    req = validate.request_for(_pc(tmp_path, "openai"), value)
    assert value in req.headers["Authorization"]
    assert value not in repr(req) and req.url in repr(req)


def test_a_keyless_mode_has_no_check(tmp_path: Path) -> None:
    pc = _pc(tmp_path, "bedrock", "irsa")
    assert validate.documented_url(pc) is None
    with pytest.raises(ConfigError, match="bedrock: no validation for auth irsa"):
        validate.request_for(pc, "anything")


def test_an_unset_path_setting_is_named(tmp_path: Path) -> None:
    pc = _pc(tmp_path, "azure", "api-key")
    pc.settings["api_version"] = ""
    with pytest.raises(ConfigError, match="ai_gateway_azure_api_version is not set"):
        validate.documented_url(pc)


def test_a_host_template_missing_its_setting_names_no_host(tmp_path: Path) -> None:
    pc = _pc(tmp_path, "azure", "api-key")
    assert validate.documented_host(pc)
    del pc.settings["resource"]
    assert validate.documented_host(pc) is None


def test_an_invalid_port_is_refused_before_anything_is_sent(tmp_path: Path) -> None:
    pc = _pc(tmp_path, "openai")
    with pytest.raises(ConfigError, match="invalid port"):
        validate.allowed(pc, "https://api.openai.com:99999/v1/models", operator.Policy())
