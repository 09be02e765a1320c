"""Secret stores the External Secrets Operator reads: one door per store (issue 21).

With ``ai_gateway_secret_backend: external-secrets`` a credential's value goes to a store through
its own API, never to git; git gets an ``ExternalSecret`` (``gateway/externalsecrets.py``) that
pins the store version it was written as. Every store here:

- keeps an entry as a flat mapping of properties (``remoteRef.property`` selects one);
- writes a new *version* on each ``put`` and keeps the previous one (AWS Secrets Manager moves
  ``AWSCURRENT``/``AWSPREVIOUS``; KV v2 keeps numbered versions), so the credential a rotation
  replaced stays readable until it is revoked, and a ``git revert`` of the ExternalSecret works;
- marks the entries it creates (an AWS tag, KV v2 custom metadata, a 1Password tag) and refuses to
  write to an existing entry without that mark: a store entry someone else made is never overwritten;
- takes its own credential only from the environment (like the issuers' admin credentials), and
  talks https, or plain http to 127.0.0.1 only, unless ``AIGW_SECRETS_STORE_ALLOW_HTTP=1`` says
  the store is an in-cluster http service the operator accepts.

Client libraries (boto3, hvac) are imported only here, only when a store is used.
"""

from __future__ import annotations

import abc
import os
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


def check_endpoint(url: str, what: str) -> str:
    """https anywhere; plain http only to loopback, or anywhere with ``$AIGW_SECRETS_STORE_ALLOW_HTTP=1``
    (an in-cluster store Service without TLS: the operator's explicit choice)."""
    parts = urlsplit(url)
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if parts.scheme == "https" and parts.hostname:
        return url.rstrip("/")
    if parts.scheme == "http" and parts.hostname and (loopback or os.environ.get(ALLOW_HTTP_ENV) == "1"):
        return url.rstrip("/")
    raise ConfigError(f"{what}: {url!r} must be https (plain http only to 127.0.0.1, or set ${ALLOW_HTTP_ENV}=1 for an in-cluster store without TLS)")


def env_secret(name: str, label: str) -> str:
    """The store's credential: ``$NAME`` or the untracked file ``$NAME_FILE``; never the repository."""
    from aigw_secrets.rotation.issuers.interface import admin_secret

    try:
        return admin_secret(name, label)
    except AigwError as exc:
        raise StoreRejected(str(exc).replace("rotation bot's environment", "environment of whoever writes to the store")) from None


def open_store(settings: StoreSettings) -> Store:
    if settings.provider == "aws":
        from aigw_secrets.stores.aws import AwsSecretsManager

        return AwsSecretsManager(settings)
    if settings.provider == "vault":
        from aigw_secrets.stores.vault import VaultKV2

        return VaultKV2(settings)
    if settings.provider == "onepassword":
        from aigw_secrets.stores.onepassword import OnePasswordConnect

        return OnePasswordConnect(settings)
    raise ConfigError(f"ai_gateway_external_secrets_provider: {settings.provider!r} is not one of {', '.join(KINDS)}")


def lazy(module: str, extra: str) -> Any:
    from aigw_secrets.rotation.issuers.interface import lazy as _lazy

    return _lazy(module, extra)
