"""OpenAI: one project service account per generation, created and deleted with an admin key.

``POST /v1/organization/projects/{project}/service_accounts {"name"}`` answers with the account and
its API key, whose unredacted ``value`` is shown this once. The account's name is deterministic
(``aigw-<name>-g<N>``) so an interrupted run finds it again. Revoking deletes the service account
(its key goes with it; a service account's key cannot be deleted on its own). Admin key:
``$OPENAI_ADMIN_KEY`` (or ``$OPENAI_ADMIN_KEY_FILE``); API base: ``$AIGW_SECRETS_OPENAI_ADMIN_URL``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from aigw_secrets.rotation.issuers.interface import (
    Issuer,
    IssuerError,
    Key,
    Minted,
    NotFound,
    admin_secret,
    admin_url,
    entries,
    http_json,
    redacted_matches,
    setting,
)

DEFAULT_URL = "https://api.openai.com/v1"


class OpenAIAdmin(Issuer):
    kind = "openai-admin"

    def __init__(self, pc: Any) -> None:
        super().__init__(pc)
        self.project = setting(pc, "project_id")

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        base = admin_url("openai", DEFAULT_URL)
        headers = {"Authorization": f"Bearer {admin_secret('OPENAI_ADMIN_KEY', 'OpenAI')}"}
        return http_json(
            method,
            f"{base}/organization/projects/{quote(self.project, safe='')}{path}",
            headers,
            "OpenAI admin API",
            body,
        )

    def mint(self, name: str) -> Minted:
        made = self._call("POST", "/service_accounts", {"name": name})
        value = ((made or {}).get("api_key") or {}).get("value")
        if not made.get("id") or not value:
            raise IssuerError("OpenAI admin API: the new service account came back without its API key value")
        return Minted(ref=str(made["id"]), name=name, value=str(value))

    def listed(self) -> list[Key]:
        return [
            Key(str(a["id"]), str(a.get("name", "")), True, _number(a.get("created_at")))
            for a in entries(self._get, "/service_accounts?limit=100", "after")
        ]

    def identify(self, value: str, keys: list[Key]) -> set[str]:
        """The service account whose API key this is: the project's key list gives each key's
        redacted value and its owner (``GET .../projects/{project}/api_keys``)."""
        refs = {k.ref for k in keys}
        found: set[str] = set()
        for k in entries(self._get, "/api_keys?limit=100", "after"):
            owner = (k.get("owner") or {}).get("service_account") or {}
            if owner.get("id") in refs and redacted_matches(str(k.get("redacted_value") or ""), value):
                found.add(str(owner["id"]))
        return found

    def _get(self, path: str) -> Any:
        return self._call("GET", path)

    def delete(self, ref: str) -> None:
        try:
            self._call("DELETE", f"/service_accounts/{quote(ref, safe='')}")
        except NotFound:
            pass  # already gone: revoked


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
