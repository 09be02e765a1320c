"""The links between generated objects (Secret key, targetRefs, backendRefs), for every provider and
auth mode. Needs no CRDs: runs on a fresh clone without ../shared."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from aigw_secrets.gateway import config
from testing import crossref
from testing.repos import AUTH_MATRIX, all_providers, provider_settings, write_cluster


def _objects(tmp_path: Path, settings: dict[str, object]) -> list[dict[str, object]]:
    write_cluster(tmp_path, settings)
    return crossref.generated(config.load(tmp_path))


@pytest.mark.parametrize(("provider", "auth"), AUTH_MATRIX)
def test_every_provider_and_auth_mode_links_up(tmp_path: Path, provider: str, auth: str) -> None:
    assert crossref.problems(_objects(tmp_path, provider_settings(provider, auth))) == []


def test_all_providers_together_link_up(tmp_path: Path) -> None:
    assert crossref.problems(_objects(tmp_path, all_providers())) == []


def test_negative_controls(tmp_path: Path) -> None:
    """The checks catch each broken link they claim to."""
    objects = _objects(tmp_path, provider_settings("openai"))

    def broken(change: str) -> list[str]:
        objs = copy.deepcopy(objects)
        kinds = {o["kind"]: o for o in objs}
        if change == "secret key":
            kinds["Secret"]["stringData"] = {"api-key": "x"}
        elif change == "secret name":
            kinds["Secret"]["metadata"]["name"] = "other"
        elif change == "target":
            kinds["BackendSecurityPolicy"]["spec"]["targetRefs"][0]["name"] = "nope"
        elif change == "backend":
            kinds["AIServiceBackend"]["spec"]["backendRef"]["name"] = "nope"
        elif change == "route":
            kinds["AIGatewayRoute"]["spec"]["rules"][0]["backendRefs"][0]["name"] = "nope"
        elif change == "tls":
            kinds["BackendTLSPolicy"]["spec"]["targetRefs"][0]["name"] = "nope"
        elif change == "cross-namespace without grant":
            kinds["Secret"]["metadata"]["namespace"] = "secrets"
            kinds["BackendSecurityPolicy"]["spec"]["apiKey"]["secretRef"]["namespace"] = "secrets"
        return crossref.problems(objs)

    for change in ("secret key", "secret name", "target", "backend", "route", "tls", "cross-namespace without grant"):
        assert broken(change), change
