"""AWS Secrets Manager through boto3: one secret per credential, a JSON object of properties.

``PutSecretValue`` makes a new version and moves ``AWSCURRENT`` to it (the previous one becomes
``AWSPREVIOUS`` and stays readable); ESO pins a version with ``remoteRef.version: uuid/<VersionId>``.
Entries we create carry the tag ``aigw-secrets.io/managed-by=aigw-secrets``; an existing secret
without it is never written to. Credentials: boto3's own chain (environment, the profile named by
``$AIGW_SECRETS_STORE_AWS_PROFILE``, IRSA / Pod Identity); endpoint ``$AWS_ENDPOINT_URL[_SECRETS_MANAGER]``
(boto3 reads it; checked here: https, or http to loopback). botocore logs request and response
bodies at DEBUG: its loggers are held at WARNING while a store call runs, so a value never reaches a log.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import uuid
from collections.abc import Iterator
from typing import Any

from aigw_secrets.errors import ConfigError
from aigw_secrets.stores.base import (
    MARK_KEY,
    MARK_VALUE,
    NotOurs,
    Store,
    StoreError,
    StoreRejected,
    check_endpoint,
    lazy,
)

DEADLINE = 20.0  # seconds per request to the store, connect to the last byte (as the Vault store)

# AWS error codes that mean the credential was refused (the store's, and the IAM issuer's admin one).
DENIED = (
    "AccessDenied",
    "AccessDeniedException",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "UnrecognizedClientException",
    "ExpiredToken",
    "ExpiredTokenException",
)
_QUIET = ("botocore", "boto3", "urllib3", "s3transfer")


def client_config(deadline: float) -> Any:
    """botocore's configuration for a client whose requests ``through_http`` carries: one attempt per
    call (the caller decides about retrying), its own timeouts no longer than the deadline."""
    config = lazy("botocore.config", "aws")
    return config.Config(
        connect_timeout=deadline, read_timeout=deadline, retries={"total_max_attempts": 1, "mode": "standard"}
    )


def through_http(client: Any, deadline: float) -> None:
    """Every request of a boto3 ``client`` goes out through aigw_secrets.http: one deadline over the
    whole exchange (botocore's read timeout bounds a single read) and redirects never followed."""
    import functools

    client.meta.events.register("before-send", functools.partial(_send, deadline=deadline))


def _send(request: Any, *, deadline: float, **_: Any) -> Any:
    """botocore's ``before-send`` hook: the request goes out through aigw_secrets.http (one deadline
    over connect, headers and body; redirects never followed); returning a response skips urllib3."""
    from aigw_secrets import http

    awsrequest = lazy("botocore.awsrequest", "aws")
    exceptions = lazy("botocore.exceptions", "aws")
    body = request.body
    if hasattr(body, "read"):
        body = body.read()
    if isinstance(body, str):
        body = body.encode()
    res = http.request(
        request.method,
        request.url,
        headers={k: (v.decode() if isinstance(v, bytes) else str(v)) for k, v in request.headers.items()},
        body=body or None,
        deadline=deadline,
    )
    if res.status == 0:
        raise exceptions.EndpointConnectionError(endpoint_url=request.url)
    return awsrequest.AWSResponse(request.url, res.status, dict(res.headers), _Raw(res.body))


class _Raw:
    """What botocore reads an answer's body from (``AWSResponse.raw.stream()``)."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Any:
        yield self._body


@contextlib.contextmanager
def quiet_logs() -> Iterator[None]:
    """botocore's DEBUG records carry request params and response bodies (the secret value)."""
    loggers = [logging.getLogger(n) for n in _QUIET]
    before = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for lg, level in zip(loggers, before, strict=True):
            lg.setLevel(level)


class AwsSecretsManager(Store):
    kind = "aws"

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self._client: Any = None

    def client(self) -> Any:
        if self._client is None:
            for env in ("AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_ENDPOINT_URL"):
                if os.environ.get(env):
                    check_endpoint(os.environ[env], f"${env}")
                    break
            boto3 = lazy("boto3", "aws")
            with quiet_logs():
                session = boto3.session.Session(profile_name=os.environ.get("AIGW_SECRETS_STORE_AWS_PROFILE") or None)
                self._client = session.client(
                    "secretsmanager",
                    region_name=self.settings.aws_region or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
                    config=client_config(DEADLINE),
                )
            through_http(self._client, DEADLINE)
        return self._client

    def _call(self, op: str, key: str, **kwargs: Any) -> Any:
        botocore = lazy("botocore.exceptions", "aws")
        where = f"AWS Secrets Manager {op} {key}"
        try:
            with quiet_logs():
                return getattr(self.client(), op)(**kwargs)
        except botocore.ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code == "ResourceNotFoundException":
                return None
            if code in DENIED:
                raise StoreRejected(
                    f"{where}: the store credential was rejected ({code}); it needs "
                    f"secretsmanager:{op.title().replace('_', '')}"
                ) from None
            raise StoreError(f"{where} failed ({code or 'error'})") from None
        except botocore.NoCredentialsError:
            raise StoreRejected(
                f"{where}: no AWS credentials for the store (environment, $AIGW_SECRETS_STORE_AWS_PROFILE, or "
                "the pod's role)"
            ) from None
        except (botocore.BotoCoreError, OSError) as exc:
            raise StoreError(f"{where}: no answer ({type(exc).__name__})") from None

    def _describe(self, key: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self._call("describe_secret", key, SecretId=key)
        return found

    def ours(self, key: str) -> bool | None:
        found = self._describe(key)
        if found is None:
            return None
        return any(t.get("Key") == MARK_KEY and t.get("Value") == MARK_VALUE for t in found.get("Tags") or [])

    def put(self, key: str, properties: dict[str, str]) -> str:
        body = json.dumps(properties, sort_keys=True)
        token = str(uuid.uuid4())
        state = self.ours(key)
        if state is False:
            raise NotOurs(
                f"AWS Secrets Manager secret {key} exists and was not created by aigw-secrets (no {MARK_KEY} "
                "tag); not writing to it"
            )
        if state is None:
            made = self._call(
                "create_secret",
                key,
                Name=key,
                SecretString=body,
                ClientRequestToken=token,
                Tags=[{"Key": MARK_KEY, "Value": MARK_VALUE}],
                Description="Managed by aigw-secrets",
            )
            if made is None:
                raise StoreError(f"AWS Secrets Manager create_secret {key}: no answer")
            return str(made["VersionId"])
        res = self._call("put_secret_value", key, SecretId=key, SecretString=body, ClientRequestToken=token)
        if res is None:
            raise StoreError(f"AWS Secrets Manager put_secret_value {key}: the secret vanished")
        return str(res["VersionId"])

    def get(self, key: str, version: str | None = None) -> dict[str, str] | None:
        args: dict[str, Any] = {"SecretId": key}
        if version:
            args["VersionId"] = version
        res = self._call("get_secret_value", key, **args)
        if res is None:
            return None
        try:
            data = json.loads(res.get("SecretString") or "")
        except ValueError:
            raise ConfigError(f"AWS Secrets Manager secret {key}: not a JSON object of properties") from None
        if not isinstance(data, dict):
            raise ConfigError(f"AWS Secrets Manager secret {key}: not a JSON object of properties")
        return {str(k): str(v) for k, v in data.items()}

    def current_version(self, key: str) -> str | None:
        found = self._describe(key)
        for vid, stages in ((found or {}).get("VersionIdsToStages") or {}).items():
            if "AWSCURRENT" in stages:
                return str(vid)
        return None

    def stages(self, key: str) -> dict[str, list[str]]:
        found = self._describe(key)
        return {str(k): list(v) for k, v in ((found or {}).get("VersionIdsToStages") or {}).items()}

    def version_ref(self, version: str) -> str | None:
        return f"uuid/{version}"
