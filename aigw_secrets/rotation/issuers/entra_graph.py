"""Azure Entra ID client secrets (``auth: entra``) through Microsoft Graph, with msal for the token.

Mint = ``POST /v1.0/applications/{object id}/addPassword`` with ``displayName`` = the deterministic
name and ``endDateTime`` = now + rotation period + grace (``secretText`` is returned only here);
revoke = ``POST .../removePassword {"keyId"}``. The bot's own app registration (client id + secret,
``AIGW_SECRETS_ENTRA_ADMIN_CLIENT_ID`` / ``AIGW_SECRETS_ENTRA_ADMIN_CLIENT_SECRET`` or ``_FILE``)
needs the Graph application permission ``Application.ReadWrite.OwnedBy`` and to own the target
application. Hosts: ``$AIGW_SECRETS_ENTRA_ADMIN_URL`` and ``$AIGW_SECRETS_GRAPH_ADMIN_URL`` (https).
msal's HTTP goes through ``aigw_secrets.http`` (no redirects, one deadline).
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any
from urllib.parse import quote

from aigw_secrets.http import MsalHttp
from aigw_secrets.rotation.issuers.interface import (
    AdminRejected,
    Issuer,
    IssuerError,
    Key,
    Minted,
    NotFound,
    admin_deadline,
    admin_secret,
    admin_url,
    http_json,
    lazy,
    setting,
)
from aigw_secrets.rotation.journal import now

GRAPH = "https://graph.microsoft.com/v1.0"
LOGIN = "https://login.microsoftonline.com"


class EntraGraph(Issuer):
    kind = "entra-graph"

    def __init__(self, pc: Any) -> None:
        super().__init__(pc)
        self.app = setting(pc, "application_object_id")
        self.tenant = setting(pc, "tenant_id")
        self._token: str | None = None

    def token(self) -> str:
        if self._token is None:
            self._token = bot_token(self.tenant, "https://graph.microsoft.com/.default")
        return self._token

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        url = f"{admin_url('graph', GRAPH)}/applications/{quote(self.app, safe='')}{path}"
        return http_json(
            method, url, {"Authorization": f"Bearer {self.token()}"}, "Microsoft Graph", body, ok=(200, 201, 204)
        )

    def mint(self, name: str) -> Minted:
        days = int(self.pc.settings.get("rotation_period_days") or 90)
        grace = dt.timedelta(days=days) + dt.timedelta(days=7)  # the period, plus time to rotate and revoke
        end = (now() + grace).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        made = self._call("POST", "/addPassword", {"passwordCredential": {"displayName": name, "endDateTime": end}})
        if not made.get("keyId") or not made.get("secretText"):
            raise IssuerError("Microsoft Graph: addPassword answered without keyId/secretText")
        return Minted(ref=str(made["keyId"]), name=name, value=str(made["secretText"]))

    def listed(self) -> list[Key]:
        app = self._call("GET", "?$select=passwordCredentials")
        return [
            Key(str(p["keyId"]), str(p.get("displayName") or ""), True, hint=str(p.get("hint") or ""))
            for p in app.get("passwordCredentials", [])
        ]

    def identify(self, value: str, keys: list[Key]) -> set[str]:
        """Graph shows the first 3 characters of a client secret (``hint``): every key they fit is protected."""
        return {k.ref for k in keys if len(k.hint) >= 3 and value.startswith(k.hint)}

    def delete(self, ref: str) -> None:
        try:
            self._call("POST", "/removePassword", {"keyId": ref})
        except NotFound:
            pass  # the application or the credential is gone already
        except IssuerError as exc:
            if "HTTP 400" not in str(exc):  # Graph: 400 for a keyId that no longer exists
                raise


def bot_token(tenant: str, scope: str) -> str:
    """A token for the rotation bot's own app registration (client credentials, through msal)."""
    msal = lazy("msal", "azure")
    client_id = os.environ.get("AIGW_SECRETS_ENTRA_ADMIN_CLIENT_ID")
    if not client_id:
        raise AdminRejected(
            "Azure Entra: set $AIGW_SECRETS_ENTRA_ADMIN_CLIENT_ID (the rotation bot's app registration)"
        )
    secret = admin_secret("AIGW_SECRETS_ENTRA_ADMIN_CLIENT_SECRET", "Azure Entra")
    authority = f"{admin_url('entra', LOGIN)}/{quote(tenant, safe='')}"
    try:
        app = msal.ConfidentialClientApplication(
            client_id,
            client_credential=secret,
            authority=authority,
            http_client=MsalHttp(deadline=admin_deadline()),
            instance_discovery=False,
        )
        result = app.acquire_token_for_client(scopes=[scope])
    except (ValueError, RuntimeError, msal.exceptions.MsalServiceError) as exc:  # discovery failed: tenant, host, 5xx
        raise IssuerError(f"Azure Entra login failed ({type(exc).__name__}); the next run retries") from None
    if "access_token" not in result:
        raise AdminRejected(
            f"Azure Entra: the bot's app could not get a token for {scope} ({result.get('error', 'error')})"
        )
    return str(result["access_token"])
