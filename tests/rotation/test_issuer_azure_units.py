"""The Azure issuers' decisions on answers the stand-ins never give: an ARM regenerateKey without
the slot, a Secret this bot cannot decrypt, a Graph addPassword without the secret, removePassword
on a credential that is gone, and a bot without its app registration."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from aigw_secrets.errors import ConfigError
from aigw_secrets.rotation.issuers import entra_graph
from aigw_secrets.rotation.issuers.azure_arm import AzureArm
from aigw_secrets.rotation.issuers.entra_graph import EntraGraph
from aigw_secrets.rotation.issuers.interface import AdminRejected, IssuerError, NotFound


class Arm(AzureArm):
    def __init__(self, answers: dict[str, Any]) -> None:
        super().__init__(
            SimpleNamespace(
                key="azure", name="azure-openai", settings={"resource_id": "/subscriptions/s/x", "tenant_id": "t"}
            )
        )
        self.answers = answers
        self.calls: list[tuple[str, Any]] = []

    def _call(self, action: str, body: Any = None) -> Any:
        self.calls.append((action, body))
        return self.answers[action]


def test_arm_will_not_regenerate_blindly_when_the_secret_is_unreadable() -> None:
    arm = Arm({"listKeys": {"key1": "a" * 32, "key2": "b" * 32}})
    arm.prepare({}, None)
    assert arm.in_use() is None
    with pytest.raises(ConfigError, match="neither key1 nor key2"):
        arm.mint("x")
    assert arm.calls == []  # nothing asked of ARM, nothing regenerated


def test_arm_regenerate_without_the_slot_is_an_issuer_error() -> None:
    arm = Arm({"listKeys": {"key1": "a" * 32, "key2": "b" * 32}, "regenerateKey": {"key1": "a" * 32}})
    arm.prepare({}, "a" * 32)
    with pytest.raises(IssuerError, match="regenerateKey answered without key2"):
        arm.mint("x")
    assert arm.calls[-1] == ("regenerateKey", {"keyName": "Key2"})


def test_arm_delete_touches_only_its_two_slots() -> None:
    arm = Arm({"regenerateKey": {}})
    arm.delete("some-other-ref")
    assert arm.calls == []
    arm.delete("key1")
    assert arm.calls == [("regenerateKey", {"keyName": "Key1"})]


class Graph(EntraGraph):
    def __init__(self, answer: Any) -> None:
        super().__init__(
            SimpleNamespace(
                key="azure", name="azure-openai", settings={"application_object_id": "app", "tenant_id": "t"}
            )
        )
        self.answer = answer

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer


def test_graph_add_password_without_secret_text_is_an_issuer_error() -> None:
    with pytest.raises(IssuerError, match="without keyId/secretText"):
        Graph({"keyId": "k"}).mint("aigw-azure-openai-g1")


@pytest.mark.parametrize(
    "gone", [NotFound("Microsoft Graph: HTTP 404"), IssuerError("Microsoft Graph: HTTP 400 (invalid keyId)")]
)
def test_graph_removing_a_credential_that_is_gone_is_done(gone: IssuerError) -> None:
    Graph(gone).delete("k")


def test_graph_other_removal_failures_propagate() -> None:
    with pytest.raises(IssuerError, match="HTTP 500"):
        Graph(IssuerError("Microsoft Graph: HTTP 500")).delete("k")


def test_bot_token_needs_the_bots_app_registration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(entra_graph, "lazy", lambda *a: object())
    monkeypatch.delenv("AIGW_SECRETS_ENTRA_ADMIN_CLIENT_ID", raising=False)
    with pytest.raises(AdminRejected, match="AIGW_SECRETS_ENTRA_ADMIN_CLIENT_ID"):
        entra_graph.bot_token("t", "https://graph.microsoft.com/.default")
