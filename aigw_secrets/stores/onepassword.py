"""1Password Connect (ESO's ``onepassword`` provider): one item per credential in the configured
vault, titled by the remote key, one CONCEALED field per property (``remoteRef.property`` = the
field's label). Items we create carry the tag ``aigw-secrets``; an item with that title but
without the tag is never replaced. Connect keeps no readable version history, so ExternalSecrets
are not pinned (``versioned = False``): ESO reads the current item; the revocation gate still
waits for a sync after the write and the new content hash on the Secret. ``put`` returns the
item's version number. Host ``$OP_CONNECT_HOST`` (https, or http to loopback / with
``$AIGW_SECRETS_STORE_ALLOW_HTTP=1`` for Connect as an in-cluster Service), token
``$OP_CONNECT_TOKEN`` (or an untracked ``$OP_CONNECT_TOKEN_FILE``).
"""

from __future__ import annotations

import json
import os
import re
import urllib.parse
from typing import Any

from aigw_secrets import http
from aigw_secrets.errors import ConfigError
from aigw_secrets.stores.base import MARK_VALUE, NotOurs, Store, StoreError, StoreRejected, check_endpoint, env_secret

TAG = MARK_VALUE
_VAULT_ID = re.compile(r"^[0-9a-z]{26}$")


class OnePasswordConnect(Store):
    kind = "onepassword"
    versioned = False

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        if not _VAULT_ID.fullmatch(settings.onepassword_vault):
            raise ConfigError(
                f"ai_gateway_external_secrets_onepassword_vault: {settings.onepassword_vault!r} is not a "
                "1Password vault id (26 lowercase letters and digits)"
            )
        self.vault = settings.onepassword_vault

    def _base(self) -> str:
        host = os.environ.get("OP_CONNECT_HOST")
        if not host:
            raise ConfigError("1Password Connect store: set $OP_CONNECT_HOST to the Connect server's address")
        return check_endpoint(host, "$OP_CONNECT_HOST")

    def _req(self, method: str, path: str, body: Any = None, ok: tuple[int, ...] = (200,)) -> Any:
        url = f"{self._base()}/v1/vaults/{self.vault}{path}"
        token = env_secret("OP_CONNECT_TOKEN", "1Password Connect store")
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        res = http.request(method, url, headers=headers, body=data)
        where = f"1Password Connect {method} {urllib.parse.urlsplit(url).path}"
        if res.status in ok:
            try:
                return json.loads(res.body) if res.body.strip() else None
            except ValueError:
                raise StoreError(f"{where}: answered {res.status} with a body that is not JSON") from None
        if res.status in (401, 403):
            raise StoreRejected(
                f"{where}: the Connect token was refused (HTTP {res.status}); it needs read/write on vault {self.vault}"
            )
        if res.status == 404:
            return None
        if res.status == 0:
            raise StoreError(f"{where}: no answer ({res.reason})")
        raise StoreError(f"{where}: HTTP {res.status}")

    def _find(self, key: str) -> dict[str, Any] | None:
        title = key.replace("\\", "\\\\").replace('"', '\\"')
        found = self._req("GET", "/items?" + urllib.parse.urlencode({"filter": f'title eq "{title}"'})) or []
        found = [i for i in found if i.get("title") == key]
        if len(found) > 1:
            raise StoreError(
                f"1Password vault {self.vault}: {len(found)} items are titled {key}; remove the extra ones"
            )
        if not found:
            return None
        item: dict[str, Any] | None = self._req("GET", f"/items/{found[0]['id']}")
        return item

    def ours(self, key: str) -> bool | None:
        item = self._find(key)
        return None if item is None else TAG in (item.get("tags") or [])

    def put(self, key: str, properties: dict[str, str]) -> str:
        item = self._find(key)
        fields = [{"label": k, "value": v, "type": "CONCEALED"} for k, v in properties.items()]
        if item is None:
            made = self._req(
                "POST",
                "/items",
                {
                    "vault": {"id": self.vault},
                    "title": key,
                    "category": "API_CREDENTIAL",
                    "tags": [TAG],
                    "fields": fields,
                },
                ok=(200, 201),
            )
        else:
            if TAG not in (item.get("tags") or []):
                raise NotOurs(
                    f"1Password item {key} in vault {self.vault} exists and was not created by aigw-secrets "
                    f"(no tag {TAG}); not replacing it"
                )
            kept = [
                f for f in item.get("fields") or [] if f.get("label") not in properties
            ]  # fields someone else added stay
            new = {**item, "fields": kept + fields}
            made = self._req("PUT", f"/items/{item['id']}", new)
        if not made:
            raise StoreError(f"1Password Connect: writing item {key} returned nothing")
        return str(made.get("version") or "")

    def get(self, key: str, version: str | None = None) -> dict[str, str] | None:
        item = self._find(key)
        if item is None:
            return None
        return {str(f.get("label")): str(f.get("value") or "") for f in item.get("fields") or [] if f.get("label")}

    def current_version(self, key: str) -> str | None:
        item = self._find(key)
        return str(item.get("version")) if item else None

    def version_ref(self, version: str) -> str | None:
        return None
