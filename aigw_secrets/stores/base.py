"""What every store door shares: settings, errors, the base class, the endpoint and credential rules."""

from __future__ import annotations

import abc
import os
from pathlib import Path
from typing import Any, ClassVar, NamedTuple
from urllib.parse import urlsplit

from aigw_secrets.errors import AigwError, ConfigError, ExitCode

MARK_KEY = "aigw-secrets.io/managed-by"
MARK_VALUE = "aigw-secrets"
ALLOW_HTTP_ENV = "AIGW_SECRETS_STORE_ALLOW_HTTP"
KINDS = ("aws", "vault", "onepassword")


class StoreError(AigwError):
    """The store failed or did not answer: a later run retries."""

    code = ExitCode.UNAVAILABLE


class StoreRejected(StoreError):
    """The store refused the credential (401/403): a person has to fix its permissions."""

    code = ExitCode.PERMISSION


class NotOurs(AigwError):
    """The entry exists and aigw-secrets did not create it: never overwritten."""

    code = ExitCode.CONFIG


class StoreSettings(NamedTuple):
    """``ai_gateway_external_secrets_*`` from cluster.yaml (no credential is ever read from there)."""

    provider: str  # aws | vault | onepassword: whose API the value is written through
    store_name: str  # the SecretStore / ClusterSecretStore the ExternalSecrets name
    store_kind: str  # ClusterSecretStore | SecretStore
    prefix: str  # remote keys are <prefix><namespace>/<secret name>
    refresh_interval: str
    aws_region: str
    vault_mount: str
    onepassword_vault: str


class Store(abc.ABC):
    kind: ClassVar[str]
    versioned: ClassVar[bool] = True  # remoteRef.version can pin what was written

    def __init__(self, settings: StoreSettings) -> None:
        self.settings = settings

    @abc.abstractmethod
    def put(self, key: str, properties: dict[str, str]) -> str:
        """Write a new version of ``key`` (creating it, marked, if absent); returns its version id.
        Raises NotOurs when the entry exists without our mark."""

    @abc.abstractmethod
    def get(self, key: str, version: str | None = None) -> dict[str, str] | None:
        """The properties of ``key`` at ``version`` (None: the current one); None when absent."""

    @abc.abstractmethod
    def current_version(self, key: str) -> str | None: ...

    @abc.abstractmethod
    def ours(self, key: str) -> bool | None:
        """True: the entry carries our mark; False: it exists without it; None: absent."""

    def version_ref(self, version: str) -> str | None:
        """What ``remoteRef.version`` says to pin ``version`` (None: the store cannot pin)."""
        return version

    def describe(self, key: str) -> str:
        return f"{self.kind}:{key}"


def holds(found: dict[str, str] | None, props: dict[str, str]) -> bool:
    """The entry read back carries every property written, with its value (a 1Password item may
    carry other fields someone added; they are kept and do not matter here)."""
    return found is not None and all(found.get(k) == v for k, v in props.items())


def check_endpoint(url: str, what: str) -> str:
    """https anywhere; plain http only to loopback, or anywhere with ``$AIGW_SECRETS_STORE_ALLOW_HTTP=1``
    (an in-cluster store Service without TLS: the operator's explicit choice)."""
    parts = urlsplit(url)
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if parts.scheme == "https" and parts.hostname:
        return url.rstrip("/")
    if parts.scheme == "http" and parts.hostname and (loopback or os.environ.get(ALLOW_HTTP_ENV) == "1"):
        return url.rstrip("/")
    raise ConfigError(
        f"{what}: {url!r} must be https (plain http only to 127.0.0.1, or set ${ALLOW_HTTP_ENV}=1 for an "
        "in-cluster store without TLS)"
    )


def env_secret(
    name: str,
    label: str,
    *,
    kind: str = "credential",
    whose: str = "the environment of whoever writes to the store",
    missing: type[AigwError] = StoreRejected,
) -> str:
    """A credential from the environment: ``$NAME``, or the file ``$NAME_FILE`` when it is not (and does not
    link to) a file tracked in git; never the repository. The stores' own credentials, and the issuers'
    admin credentials (``kind``, ``whose`` and ``missing`` say which)."""
    from aigw_secrets import git

    value = os.environ.get(name)
    path = os.environ.get(f"{name}_FILE")
    if not value and path:
        p = Path(path).expanduser()
        if git.tracked_file(p):
            raise ConfigError(
                f"${name}_FILE names {p}, a file tracked in git; keep the {label} {kind} outside the repository"
            )
        try:
            value = p.read_text("utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"${name}_FILE: cannot read {p} ({type(exc).__name__})") from None
    if not value:
        raise missing(f"{label}: no {kind}: set ${name} (or ${name}_FILE) in {whose}")
    return value


def lazy(module: str, extra: str) -> Any:
    from aigw_secrets.util import lazy as _lazy

    return _lazy(module, extra)
