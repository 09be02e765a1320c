"""Azure OpenAI resource keys (``auth: api-key``): the dual-key pattern through Azure Resource Manager.

The resource has ``key1`` and ``key2``. Which one the Secret holds is read from its salted content
hash (no decryption needed); rotation regenerates the *other* one
(``POST {resource}/regenerateKey {"keyName": "Key2"}``) and switches the Secret to it. Revoking the
previous key regenerates that slot, so its old value stops working. Token: the bot's app
registration through msal (scope ``https://management.azure.com/.default``); ``resource_id`` is the
account's ARM id. Host: ``$AIGW_SECRETS_ARM_ADMIN_URL``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aigw_secrets.errors import ConfigError
from aigw_secrets.gateway import marks
from aigw_secrets.rotation.issuers.entra_graph import bot_token
from aigw_secrets.rotation.issuers.interface import Issuer, IssuerError, Key, Minted, admin_url, http_json, setting

ARM = "https://management.azure.com"
API_VERSION = "2023-05-01"
SLOTS = {"key1": "Key1", "key2": "Key2"}


class AzureArm(Issuer):
    kind = "azure-arm"
    generations = False  # two fixed slots: nothing says which generation each holds

    def __init__(self, pc: Any) -> None:
        super().__init__(pc)
        self.resource = setting(pc, "resource_id").strip("/")
        self.tenant = setting(pc, "tenant_id")
        self._token: str | None = None
        self.current_hash: str | None = None
        self.current_value: str | None = None

    def prepare(self, annotations: Mapping[str, str], value: str | None = None) -> None:
        self.current_hash = annotations.get(marks.HASH_ANNOTATION)
        self.current_value = value  # decrypted from the Secret: what decides, never the annotation alone

    def _call(self, action: str, body: Any = None) -> Any:
        if self._token is None:
            self._token = bot_token(self.tenant, "https://management.azure.com/.default")
        url = f"{admin_url('arm', ARM)}/{self.resource}/{action}?api-version={API_VERSION}"
        return http_json("POST", url, {"Authorization": f"Bearer {self._token}"}, "Azure Resource Manager", body)

    def listed(self) -> list[Key]:
        return [Key(slot, slot, True) for slot in SLOTS]  # both keys always work

    def minted_for(self, key: Key) -> bool:
        return key.ref in SLOTS

    def identify(self, value: str, keys: list[Key]) -> set[str]:
        listed = self._call("listKeys")
        return {slot for slot in SLOTS if listed.get(slot) and str(listed[slot]) == value}

    def in_use(self) -> str | None:
        if self.current_value is None:  # a Secret this bot cannot decrypt: which key is live is unknown
            return None
        found = self.identify(self.current_value, self.listed())
        return next(iter(found)) if len(found) == 1 else None

    def mint(self, name: str) -> Minted:
        current = self.in_use()
        if current is None:  # regenerating blindly could cut off the key the gateway serves with
            raise ConfigError(
                f"Azure Resource Manager: the Secret holds neither key1 nor key2 of {self.resource}; put one "
                "of them in first"
            )
        slot = "key2" if current == "key1" else "key1"
        keys = self._call("regenerateKey", {"keyName": SLOTS[slot]})
        if not keys.get(slot):
            raise IssuerError(f"Azure Resource Manager: regenerateKey answered without {slot}")
        return Minted(ref=slot, name=slot, value=str(keys[slot]))

    def delete(self, ref: str) -> None:
        if ref in SLOTS:
            self._call("regenerateKey", {"keyName": SLOTS[ref]})  # its old value stops working
