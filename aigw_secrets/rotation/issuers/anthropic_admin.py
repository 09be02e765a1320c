"""Anthropic: keys are created in the Console only, so new values stay operator-supplied; the
previous key is revoked through the Admin API: ``POST /v1/organizations/api_keys/{id}`` with
``{"status": "inactive"}`` (reversible), later ``"archived"``. The key to revoke is always named by
the operator (``rotate --revoke anthropic --ref apikey_...``): this tool never created it.
Admin key: ``$ANTHROPIC_ADMIN_KEY`` (or ``_FILE``); API base: ``$AIGW_SECRETS_ANTHROPIC_ADMIN_URL``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from aigw_secrets.rotation.issuers.interface import (
    Issuer,
    Key,
    Minted,
    NotFound,
    admin_secret,
    admin_url,
    entries,
    http_json,
    redacted_matches,
)

DEFAULT_URL = "https://api.anthropic.com/v1"


class AnthropicAdmin(Issuer):
    kind = "anthropic-admin"
    mints = False
    soft_revoke = True

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        headers = {"x-api-key": admin_secret("ANTHROPIC_ADMIN_KEY", "Anthropic"), "anthropic-version": "2023-06-01"}
        return http_json(method, admin_url("anthropic", DEFAULT_URL) + path, headers, "Anthropic Admin API", body)

    def mint(self, name: str) -> Minted:  # pragma: no cover - mints is False: never called
        raise NotImplementedError("Anthropic API keys can only be created in the Console")

    def listed(self) -> list[Key]:
        return [
            Key(
                str(k["id"]),
                str(k.get("name", "")),
                k.get("status") == "active",
                hint=str(k.get("partial_key_hint") or ""),
            )
            for k in entries(self._get, "/organizations/api_keys?limit=100", "after_id")
        ]

    def _get(self, path: str) -> Any:
        return self._call("GET", path)

    def identify(self, value: str, keys: list[Key]) -> set[str]:
        return {k.ref for k in keys if redacted_matches(k.hint, value)}

    def _set(self, ref: str, status: str) -> None:
        try:
            self._call("POST", f"/organizations/api_keys/{quote(ref, safe='')}", {"status": status})
        except NotFound:
            pass

    def disable(self, ref: str) -> None:
        self._set(ref, "inactive")

    def delete(self, ref: str) -> None:
        self._set(ref, "archived")  # the Admin API's final state; cannot be undone
