"""Secret stores the External Secrets Operator reads: one door per store.

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

from aigw_secrets.errors import ConfigError
from aigw_secrets.stores.base import (
    ALLOW_HTTP_ENV,
    KINDS,
    MARK_KEY,
    MARK_VALUE,
    NotOurs,
    Store,
    StoreError,
    StoreRejected,
    StoreSettings,
    check_endpoint,
    env_secret,
    holds,
)

__all__ = [
    "ALLOW_HTTP_ENV",
    "KINDS",
    "MARK_KEY",
    "MARK_VALUE",
    "NotOurs",
    "Store",
    "StoreError",
    "StoreRejected",
    "StoreSettings",
    "check_endpoint",
    "env_secret",
    "holds",
    "open_store",
]


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
