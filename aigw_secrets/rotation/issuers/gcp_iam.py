"""GCP service-account keys through the IAM API, with google-auth for the admin token.

Mint = ``POST /v1/projects/-/serviceAccounts/{email}/keys`` (``privateKeyData`` is returned only
here: the base64 of the key file that goes into the Secret). Keys have no name, so an interrupted
run's orphan is the key that is new since the journaled ``before`` list. Revoke = ``keys/{id}:disable``,
later ``DELETE``. Admin credential: a key-admin service account's key file named by
``$AIGW_SECRETS_GCP_ADMIN_CREDENTIALS`` (outside the repository), else Application Default
Credentials (workload identity). API base: ``$AIGW_SECRETS_GCP_ADMIN_URL``. Every request goes
through ``aigw_secrets.http`` (google-auth's token exchange too).
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aigw_secrets import git
from aigw_secrets.errors import ConfigError
from aigw_secrets.rotation.issuers.interface import (
    AdminRejected,
    Issuer,
    IssuerError,
    Key,
    Minted,
    NotFound,
    admin_deadline,
    admin_url,
    http_json,
    lazy,
    setting,
)

DEFAULT_URL = "https://iam.googleapis.com/v1"
SCOPE = "https://www.googleapis.com/auth/cloud-platform"


class GcpIam(Issuer):
    kind = "gcp-iam"
    soft_revoke = True

    def __init__(self, pc: Any) -> None:
        super().__init__(pc)
        self.email = setting(pc, "service_account")
        self._creds: Any = None

    def _token(self) -> str:
        if self._creds is None:
            self._creds = _admin_credentials()
        if not self._creds.valid:
            exceptions = lazy("google.auth.exceptions", "gcp")
            try:
                self._creds.refresh(_transport())
            except exceptions.RefreshError as exc:
                if getattr(exc, "retryable", False):  # 5xx / 429 at the token endpoint
                    raise IssuerError("GCP token endpoint: unavailable; the next run retries") from None
                raise AdminRejected(
                    "GCP: the admin service account could not get a token (key revoked or disabled?)"
                ) from None
            except exceptions.TransportError as exc:
                raise IssuerError(f"GCP token endpoint: no answer ({exc.__class__.__name__})") from None
        return str(self._creds.token)

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        base = admin_url("gcp", DEFAULT_URL)
        url = f"{base}/projects/-/serviceAccounts/{quote(self.email, safe='@.')}/keys{path}"
        return http_json(method, url, {"Authorization": f"Bearer {self._token()}"}, "GCP IAM API", body)

    def mint(self, name: str) -> Minted:
        made = self._call(
            "POST", "", {"privateKeyType": "TYPE_GOOGLE_CREDENTIALS_FILE", "keyAlgorithm": "KEY_ALG_RSA_2048"}
        )
        try:
            value = base64.b64decode(made["privateKeyData"]).decode("utf-8")
            json.loads(value)
        except (KeyError, ValueError, TypeError):
            raise IssuerError("GCP IAM API: the new key came back without a usable privateKeyData") from None
        return Minted(ref=str(made["name"]).rsplit("/", 1)[-1], name="", value=value)

    def listed(self) -> list[Key]:
        page = self._call("GET", "?keyTypes=USER_MANAGED")
        return [Key(str(k["name"]).rsplit("/", 1)[-1], "", not k.get("disabled", False)) for k in page.get("keys", [])]

    def minted_for(self, key: Key) -> bool:
        return False  # a GCP key carries no name: only the bot's own ledger says what it minted

    def identify(self, value: str, keys: list[Key]) -> set[str]:
        try:
            key_id = json.loads(value).get("private_key_id")
        except (ValueError, AttributeError):
            return set()
        return {k.ref for k in keys if k.ref == key_id}

    def disable(self, ref: str) -> None:
        try:
            self._call("POST", f"/{quote(ref, safe='')}:disable", {})
        except NotFound:
            pass

    def delete(self, ref: str) -> None:
        try:
            self._call("DELETE", f"/{quote(ref, safe='')}")
        except NotFound:
            pass


def _admin_credentials() -> Any:
    path = os.environ.get("AIGW_SECRETS_GCP_ADMIN_CREDENTIALS")
    if not path:
        google_auth = lazy("google.auth", "gcp")
        creds, _project = google_auth.default(scopes=[SCOPE])
        return creds
    p = Path(path).expanduser()
    if git.tracked_file(p):
        raise ConfigError(
            f"$AIGW_SECRETS_GCP_ADMIN_CREDENTIALS names {p}, a file tracked in git; keep the admin key "
            "outside the repository"
        )
    try:
        info = json.loads(p.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"$AIGW_SECRETS_GCP_ADMIN_CREDENTIALS: cannot read {p} ({type(exc).__name__})") from None
    service_account = lazy("google.oauth2.service_account", "gcp")
    try:
        return service_account.Credentials.from_service_account_info(info, scopes=[SCOPE])
    except (ValueError, KeyError):
        raise ConfigError(f"$AIGW_SECRETS_GCP_ADMIN_CREDENTIALS: {p} is not a service-account key file") from None


def _transport() -> Any:
    """google-auth's transport, carried out by aigw_secrets.http (no redirects, one deadline)."""
    transport = lazy("google.auth.transport", "gcp")
    from aigw_secrets import http

    base_response: Any = transport.Response  # an optional library, typed as Any here
    base_request: Any = transport.Request

    class Response(base_response):  # type: ignore[misc]  # subclassing Any
        def __init__(self, res: http.Response) -> None:
            self._res = res

        @property
        def status(self) -> int:
            return self._res.status

        @property
        def headers(self) -> Mapping[str, str]:
            return self._res.headers

        @property
        def data(self) -> bytes:
            return self._res.body

    class Request(base_request):  # type: ignore[misc]  # subclassing Any
        def __call__(
            self, url: str, method: str = "GET", body: Any = None, headers: Any = None, timeout: Any = None, **_: Any
        ) -> Any:
            data = body.encode() if isinstance(body, str) else body
            res = http.request(method, url, headers=headers, body=data, deadline=admin_deadline())
            if res.status == 0:
                raise lazy("google.auth.exceptions", "gcp").TransportError(res.reason)
            return Response(res)

    return Request()
