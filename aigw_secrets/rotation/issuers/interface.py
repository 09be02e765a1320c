"""What every credential issuer implements, and what crosses the boundary (pip-audit's shape).

An issuer mints a new credential at the provider (or, for self-run servers, makes one), finds a
credential again by the deterministic name it gave it (crash recovery), lists the keys it can see,
and revokes: ``disable`` (soft, where the provider has it) then ``delete``. The admin credential an
issuer uses comes only from the bot's environment or an untracked file named there, never from
cluster.yaml or argv, and admin API base URLs are the providers' documented hosts unless the
operator overrides them from the environment (``AIGW_SECRETS_<ISSUER>_ADMIN_URL``).
"""

from __future__ import annotations

import abc
import json
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

from aigw_secrets.errors import AigwError, ConfigError, ExitCode
from aigw_secrets.gateway.config import ProviderConfig
from aigw_secrets.util import lazy as lazy


class IssuerError(AigwError):
    """The provider's admin API failed or was inconclusive (5xx, 429, no answer)."""

    code = ExitCode.UNAVAILABLE


class AdminRejected(IssuerError):
    """The admin credential was refused (401/403): a person has to fix its permissions."""

    code = ExitCode.PERMISSION


class KeyLimit(IssuerError):
    """The provider's key quota is full with keys this tool may not remove on its own."""

    code = ExitCode.MANUAL_ACTION


@dataclass(frozen=True)
class Minted:
    """A credential just created; ``value`` is exactly what goes into the Secret key."""

    ref: str  # the provider's id for it (never the value)
    name: str  # the deterministic name it was created under
    value: str = field(repr=False)
    companions: dict[str, str] = field(default_factory=dict, repr=False)  # other Secrets that get the same value


@dataclass(frozen=True)
class Key:
    """A credential the provider lists: its id, the name/tag/description its issuer set, whether it
    authenticates, when it was created (epoch seconds, when the provider says) and the provider's
    redacted form of its value (``sk-abc...wxyz``, an Entra hint), never the value."""

    ref: str
    name: str
    active: bool
    created: float | None = None
    hint: str = ""


def redacted_matches(hint: str, value: str) -> bool:
    """Whether ``value`` fits the provider's redacted form of a key (``sk-abc...wxyz``, ``sk-ant-api03-AbC...wxyz``)."""
    for sep in ("...", "\u2026", "****", "***"):
        if sep in hint:
            head, _, tail = hint.partition(sep)
            head, tail = head.strip("*"), tail.strip("*")
            return (
                bool(head or tail)
                and len(value) > len(head) + len(tail)
                and value.startswith(head)
                and value.endswith(tail)
            )
    return False


class Issuer(abc.ABC):
    """One provider's admin API. ``mints`` is False where the provider cannot create keys (Anthropic)."""

    kind: ClassVar[str]
    mints: ClassVar[bool] = True
    soft_revoke: ClassVar[bool] = False  # disable first, delete after a further wait
    # records: the provider lists the keys (False: self-issued, nothing is registered anywhere).
    # generations: each generation is its own key at the provider, found again by the name this tool
    # gave it (or, GCP, by the bot's own ledger): what to revoke is decided from those records. False
    # (Azure's two fixed slots): nothing says which generation a slot holds; the Secret's annotations
    # name the target, and the guards (never the key the Secret holds) still decide.
    records: ClassVar[bool] = True
    generations: ClassVar[bool] = True

    def __init__(self, pc: ProviderConfig) -> None:
        self.pc = pc

    def name_for(self, generation: int) -> str:
        """The deterministic name of generation N: a resumed run finds what it created by it."""
        return f"{mint_prefix()}-{self.pc.name}-g{generation}"

    def minted_for(self, key: Key) -> bool:
        """Whether the provider's record shows this key as minted by this tool for this Secret: the
        name the issuer set (an OpenAI service account's name, the AWS tag, the Entra displayName)."""
        return (
            re.fullmatch(rf"{re.escape(mint_prefix())}-{re.escape(self.pc.name)}-g[0-9]{{1,9}}", key.name) is not None
        )

    def identify(self, value: str, keys: list[Key]) -> set[str]:
        """The refs, among ``keys``, of the key whose value this is (established at the provider: the
        AWS access key id, GCP private_key_id, the provider's redacted value); empty when it is none of
        them. Several when the provider's redacted form cannot tell them apart (all then protected)."""
        return set()

    @abc.abstractmethod
    def mint(self, name: str) -> Minted: ...

    @abc.abstractmethod
    def listed(self) -> list[Key]: ...

    def find(self, name: str) -> Key | None:
        return next((k for k in self.listed() if k.name == name), None)

    def prepare(self, annotations: Mapping[str, str], value: str | None = None) -> None:  # noqa: B027 - optional hook
        """What the current Secret records and holds (``value``, decrypted; None when it cannot be), before
        minting (Azure: which key is in use)."""

    def make_room(  # noqa: B027 - optional hook: only AWS has a hard 2-key limit
        self, *, force: bool = False, keep: str | None = None, revoke: Callable[[str], None] | None = None
    ) -> None:
        """Free a slot before minting when the provider's limit is reached (never ``keep``, the current
        key), through ``revoke`` (the caller's guarded delete)."""

    def disable(self, ref: str) -> None:  # noqa: B027 - optional hook: a no-op where there is no soft revoke
        """Soft revoke (reversible)."""

    @abc.abstractmethod
    def delete(self, ref: str) -> None:
        """Hard revoke; a credential already gone counts as deleted."""


def mint_prefix() -> str:
    """``aigw``, or ``$AIGW_SECRETS_MINT_PREFIX`` (set by the operator, outside the repository): bots that
    share a provider project or account each get their own, so one never takes another's keys for its own."""
    value = os.environ.get("AIGW_SECRETS_MINT_PREFIX", "").strip() or "aigw"
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,30}", value):
        raise ConfigError("$AIGW_SECRETS_MINT_PREFIX: lowercase letters, digits and '-', at most 31 characters")
    return value


def admin_deadline() -> float:
    """The deadline of one admin-API exchange (connect, headers, body): the operator's
    ``AIGW_SECRETS_HTTP_DEADLINE`` (default 20 s)."""
    from aigw_secrets.gateway import operator

    return operator.load().http_deadline


def setting(pc: ProviderConfig, name: str) -> str:
    value = pc.settings.get(name)
    if not value:
        raise ConfigError(f"cluster.yaml: ai_gateway_{pc.key}_{name} is required by issuer {pc.settings.get('issuer')}")
    return str(value)


def admin_secret(env: str, label: str) -> str:
    """The admin credential: ``$ENV``, or the untracked file named by ``$ENV_FILE``; never the repo."""
    from aigw_secrets.stores import env_secret

    return env_secret(
        env, label, kind="admin credential", whose="the rotation bot's environment", missing=AdminRejected
    )


def admin_url(kind: str, default: str) -> str:
    """The documented host, or ``$AIGW_SECRETS_<KIND>_ADMIN_URL`` (https, or http on loopback only)."""
    env = f"AIGW_SECRETS_{kind.upper().replace('-', '_')}_ADMIN_URL"
    url = os.environ.get(env) or default
    parts = urlsplit(url)
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise ConfigError(f"${env}: {url!r} must be https (plain http only on 127.0.0.1)")
    return url.rstrip("/")


def http_json(
    method: str, url: str, headers: dict[str, str], label: str, body: Any = None, *, ok: tuple[int, ...] = (200, 201)
) -> Any:
    """One admin-API call through the project's only provider-HTTP door; errors by status class."""
    from aigw_secrets import http

    data = json.dumps(body).encode() if body is not None else None
    hdrs = {**headers, "Accept": "application/json"}
    if data is not None:
        hdrs["Content-Type"] = "application/json"
    res = http.request(method, url, headers=hdrs, body=data, deadline=admin_deadline())
    where = f"{label}: {method} {urlsplit(url).path}"
    if res.status in ok:
        try:
            return json.loads(res.body) if res.body.strip() else {}
        except ValueError:
            raise IssuerError(f"{where} answered {res.status} with a body that is not JSON") from None
    if res.status in (401, 403):
        raise AdminRejected(f"{where}: the admin credential was rejected (HTTP {res.status}); check its permissions")
    if res.status == 404:
        raise NotFound(f"{where}: not found (HTTP 404)")
    if res.status == 0:
        raise IssuerError(f"{where}: no answer ({res.reason})")
    if res.status == 429:
        raise IssuerError(f"{where}: rate limited (HTTP 429); the next run retries")
    raise IssuerError(f"{where}: HTTP {res.status}")


MAX_PAGES = 50  # a listing longer than this many pages is cut there


def entries(get: Callable[[str], Any], path: str, cursor: str) -> Iterator[Mapping[str, Any]]:
    """The entries (``data``) of a cursor-paginated admin listing, page after page (``has_more``/
    ``last_id``, the cursor passed back as ``&{cursor}=``): ``get`` fetches one path, ``path`` already
    carries its first query parameter. An entry that is not a JSON object is skipped."""
    after = ""
    for _page in range(MAX_PAGES):
        page = get(path + (f"&{cursor}={quote(after)}" if after else ""))
        yield from (entry for entry in page.get("data") or [] if isinstance(entry, dict))
        if not page.get("has_more") or not page.get("last_id"):
            break
        after = str(page["last_id"])


class NotFound(IssuerError):
    code = ExitCode.CONFIG
