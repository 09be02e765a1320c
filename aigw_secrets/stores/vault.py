"""HashiCorp Vault / OpenBao KV v2 through hvac (ESO's ``vault`` provider, ``version: v2``).

Each write is a new KV version; older versions stay until they are destroyed (``max_versions``),
so ``remoteRef.version: "<n>"`` pins what was written. An entry we create gets the custom metadata
``aigw-secrets.io/managed-by=aigw-secrets`` *before* its first version (metadata first, then the
data with ``cas=0``), and every later write is check-and-set against the version read, so a
concurrent writer is never silently overwritten. Address ``$VAULT_ADDR`` (or ``$BAO_ADDR``), token
``$VAULT_TOKEN`` (``$BAO_TOKEN``, or an untracked ``$VAULT_TOKEN_FILE``), CA ``$VAULT_CACERT``,
namespace ``$VAULT_NAMESPACE``: only from the environment.
"""

from __future__ import annotations

import os
from typing import Any

from aigw_secrets.errors import ConfigError
from aigw_secrets.stores.aws import quiet_logs
from aigw_secrets.stores.base import (
    MARK_KEY,
    MARK_VALUE,
    NotOurs,
    Store,
    StoreError,
    StoreRejected,
    check_endpoint,
    env_secret,
    lazy,
)


class VaultKV2(Store):
    kind = "vault"

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self._client: Any = None

    def client(self) -> Any:
        if self._client is None:
            addr_env = "VAULT_ADDR" if os.environ.get("VAULT_ADDR") else "BAO_ADDR"
            addr = os.environ.get(addr_env)
            if not addr:
                raise ConfigError("Vault/OpenBao store: set $VAULT_ADDR (or $BAO_ADDR) to its https:// address")
            url = check_endpoint(addr, f"${addr_env}")
            token = (
                os.environ.get("VAULT_TOKEN")
                or os.environ.get("BAO_TOKEN")
                or env_secret("VAULT_TOKEN", "Vault/OpenBao store")
            )
            hvac = lazy("hvac", "vault")
            verify: bool | str = os.environ.get("VAULT_CACERT") or True
            # no redirects: a standby's 307 would carry X-Vault-Token to wherever it points (point VAULT_ADDR
            # at the active node or the load balancer)
            self._client = hvac.Client(
                url=url,
                token=token,
                verify=verify,
                namespace=os.environ.get("VAULT_NAMESPACE") or None,
                timeout=20,
                allow_redirects=False,
            )
        return self._client

    @property
    def mount(self) -> str:
        return self.settings.vault_mount

    def _call(self, what: str, key: str, fn: Any) -> Any:
        exceptions = lazy("hvac.exceptions", "vault")
        requests_exc = lazy("requests.exceptions", "vault")
        where = f"Vault/OpenBao KV v2 {what} {self.mount}/{key}"
        try:
            with quiet_logs():
                return fn(self.client().secrets.kv.v2)
        except exceptions.InvalidPath:
            return None
        except (exceptions.Forbidden, exceptions.Unauthorized):
            raise StoreRejected(
                f"{where}: the store token was refused (permission denied); it needs create/update/read on "
                f"{self.mount}/data/{key} and {self.mount}/metadata/{key}"
            ) from None
        except exceptions.InvalidRequest as exc:
            if "check-and-set" in str(exc):
                raise StoreError(f"{where}: changed by someone else meanwhile (check-and-set); try again") from None
            raise StoreError(f"{where}: refused (HTTP 400)") from None
        except exceptions.VaultError as exc:
            raise StoreError(f"{where} failed ({type(exc).__name__})") from None
        except (requests_exc.RequestException, OSError) as exc:
            raise StoreError(f"{where}: no answer ({type(exc).__name__})") from None

    def _metadata(self, key: str) -> dict[str, Any] | None:
        res = self._call("read metadata", key, lambda kv: kv.read_secret_metadata(path=key, mount_point=self.mount))
        return dict(res["data"]) if res else None

    def ours(self, key: str) -> bool | None:
        meta = self._metadata(key)
        if meta is None:
            return None
        return (meta.get("custom_metadata") or {}).get(MARK_KEY) == MARK_VALUE

    def put(self, key: str, properties: dict[str, str]) -> str:
        meta = self._metadata(key)
        if meta is not None and (meta.get("custom_metadata") or {}).get(MARK_KEY) != MARK_VALUE:
            raise NotOurs(
                f"Vault/OpenBao entry {self.mount}/{key} exists and was not created by aigw-secrets (no "
                f"{MARK_KEY} custom metadata); not writing to it"
            )
        if meta is None:
            self._call(
                "write metadata",
                key,
                lambda kv: kv.update_metadata(path=key, custom_metadata={MARK_KEY: MARK_VALUE}, mount_point=self.mount),
            )
            cas = 0
        else:
            cas = int(meta.get("current_version") or 0)
        res = self._call(
            "write",
            key,
            lambda kv: kv.create_or_update_secret(path=key, secret=dict(properties), cas=cas, mount_point=self.mount),
        )
        if not res:
            raise StoreError(f"Vault/OpenBao KV v2 write {self.mount}/{key}: no version in the answer")
        return str(res["data"]["version"])

    def get(self, key: str, version: str | None = None) -> dict[str, str] | None:
        res = self._call(
            "read",
            key,
            lambda kv: kv.read_secret_version(
                path=key,
                version=int(version) if version else None,
                mount_point=self.mount,
                raise_on_deleted_version=True,
            ),
        )
        if not res:
            return None
        return {str(k): str(v) for k, v in (res["data"]["data"] or {}).items()}

    def current_version(self, key: str) -> str | None:
        meta = self._metadata(key)
        return str(meta["current_version"]) if meta and meta.get("current_version") else None
