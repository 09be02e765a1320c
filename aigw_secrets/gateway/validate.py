"""Checking a new credential against its provider before it lands (ROTATION.md §2.2).

The cheapest authenticated call per provider, as its row in the provider table says
(``providers.Validation``: URL, header, signer): ``GET /models`` for OpenAI-compatible servers and
Anthropic, a client-credentials token request for Azure Entra (msal), a SigV4-signed STS
GetCallerIdentity for AWS (botocore), a signed-JWT token exchange for GCP (google-auth); the
libraries are optional extras ([aws], [gcp], [azure]) imported only here. This module is generic
over the row: a new provider is a row. An endpoint can be overridden
(``ai_gateway_<provider>_validation_url``) for private endpoints, vLLM and tests, but a credential is
only ever sent to the provider's documented host over https, or to a host the operator allowed from
outside the repository (``gateway/operator.py``); redirects are never followed (``http.py``) and the
whole check, retries included, has one deadline.

200 → valid; 401/403 (and GCP's 400 invalid_grant) → rejected; 404 → configuration error;
429 → valid but throttled (accepted with a warning); 3xx → inconclusive at once; 5xx, 529 and
timeouts → retried with backoff within the deadline, then inconclusive. Nothing here ever puts the
credential in a message.
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.parse
from typing import NamedTuple

from aigw_secrets.errors import AigwError, ConfigError, ExitCode
from aigw_secrets.gateway import operator
from aigw_secrets.gateway.config import ProviderConfig
from aigw_secrets.gateway.providers import DNS_LABEL
from aigw_secrets.util import lazy


class Rejected(AigwError):
    code = ExitCode.ROTATION_REJECTED


class Unavailable(AigwError):
    code = ExitCode.UNAVAILABLE


class Outcome(NamedTuple):
    status: int
    warning: str = ""


class _Request(NamedTuple):
    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None = None
    entra: tuple[str, str, str] | None = None  # (tenant, client id, secret): msal makes the request

    def __repr__(self) -> str:  # headers, body and entra may hold the credential
        return f"_Request({self.method} {self.url})"


def _origin(pc: ProviderConfig) -> str:
    scheme = "https" if pc.tls else "http"
    port = "" if (pc.tls and pc.port == 443) or (not pc.tls and pc.port == 80) else f":{pc.port}"
    return f"{scheme}://{pc.host}{port}"


def _base(pc: ProviderConfig) -> str:
    return _origin(pc) + (pc.prefix or "/v1").rstrip("/")


def _fill(pc: ProviderConfig, template: str) -> str:
    """``template`` with its ``{setting}`` placeholders filled from ``pc``'s settings: a value in the
    host must match its shape (``Validation.shapes``, default one DNS label), so a value from the
    repository cannot move the host; in the path and query it is percent-encoded."""
    spec = pc.auth.validation
    shapes = dict(spec.shapes) if spec is not None else {}
    split = template.find("/", template.find("//") + 2) if "//" in template else 0
    split = len(template) if split < 0 else split

    def value(name: str, in_host: bool) -> str:
        raw = pc.settings.get(name)
        text = raw if isinstance(raw, str) else ""
        if in_host:
            if not re.fullmatch(shapes.get(name, DNS_LABEL), text):
                raise ConfigError(
                    f"ai_gateway_{pc.key}_{name}: {text!r} is not a valid {'DNS label' if name not in shapes else name}"
                )
            return text
        if not text:
            raise ConfigError(f"ai_gateway_{pc.key}_{name} is not set; the credential check needs it")
        return urllib.parse.quote(text, safe="")

    head = re.sub(r"\{(\w+)\}", lambda m: value(m[1], True), template[:split])
    tail = re.sub(r"\{(\w+)\}", lambda m: value(m[1], False), template[split:])
    return head + tail


def documented_url(pc: ProviderConfig) -> str | None:
    """The URL of the provider row's documented check (``AuthMode.validation``); None when the mode
    has none (keyless)."""
    spec = pc.auth.validation
    if spec is None:
        return None
    if spec.url is None:
        return _base(pc) + "/models"
    if spec.url.startswith("/"):
        return _origin(pc) + _fill(pc, spec.url)
    return _fill(pc, spec.url)


def request_for(pc: ProviderConfig, value: str) -> _Request:
    """The validation request for this provider and credential value (built, not sent), as the
    provider row's ``Validation`` says; ``ai_gateway_<provider>_validation_url`` overrides the URL."""
    override = pc.settings.get("validation_url")
    if pc.key.startswith("mcp_") and pc.auth.bsp_type is None:  # an MCP server: the MCP initialize request
        body = (
            b'{"jsonrpc":"2.0","id":1,"method":"initialize",'
            b'"params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"aigw-secrets","version":"1"}}}'
        )
        headers = {
            "Authorization": f"Bearer {value}",
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
        }
        return _Request("POST", str(override or pc.settings["url"]), headers, body)
    spec = pc.auth.validation
    if spec is None:
        raise ConfigError(f"{pc.key}: no validation for auth {pc.auth.name}")
    url = override or documented_url(pc) or ""
    if spec.signer == "sigv4-sts":
        return _sts_request(pc, value, url)
    if spec.signer == "gcp-jwt":
        return _gcp_request(value, override, url)
    if spec.signer == "entra":
        return _Request("POST", url, {}, entra=(str(pc.settings["tenant_id"]), str(pc.settings["client_id"]), value))
    return _Request("GET", url, {**dict(spec.headers), spec.header: spec.scheme + value})


def _sts_request(pc: ProviderConfig, ini: str, url: str) -> _Request:
    """STS GetCallerIdentity signed by botocore's SigV4Auth with the new credential."""
    import configparser

    auth, awsrequest, credentials = (lazy(f"botocore.{m}", "aws") for m in ("auth", "awsrequest", "credentials"))
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(ini)
    prof = parser["default"]
    region = pc.settings.get("region") or "us-east-1"
    body = b"Action=GetCallerIdentity&Version=2011-06-15"
    signed = awsrequest.AWSRequest(
        "POST", url, data=body, headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    )
    creds = credentials.Credentials(
        prof["aws_access_key_id"], prof["aws_secret_access_key"], prof.get("aws_session_token")
    )
    auth.SigV4Auth(creds, "sts", region).add_auth(signed)
    return _Request("POST", url, dict(signed.headers.items()), body)


def _gcp_request(sa_json: str, override: str | None, documented: str) -> _Request:
    """A JWT-bearer assertion signed by google-auth (``google.auth.crypt`` / ``google.auth.jwt``),
    posted by ``check`` through http.py so the outcome rules and the one deadline stay ours."""
    crypt, jwt = lazy("google.auth.crypt", "gcp"), lazy("google.auth.jwt", "gcp")
    sa = json.loads(sa_json)
    url = override or sa.get("token_uri") or documented
    try:
        signer = crypt.RSASigner.from_service_account_info(sa)
    except (ValueError, KeyError, TypeError):  # the message could quote the key: never passed on
        raise ConfigError("the service-account key file has no usable RSA private_key") from None
    issued = int(time.time())
    claims = {
        "iss": sa["client_email"],
        "scope": "https://www.googleapis.com/auth/cloud-platform",
        "aud": url,
        "iat": issued,
        "exp": issued + 600,
    }
    form = {
        "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "assertion": jwt.encode(signer, claims).decode(),
    }
    return _Request(
        "POST", url, {"Content-Type": "application/x-www-form-urlencoded"}, urllib.parse.urlencode(form).encode()
    )


def _entra_send(req: _Request, entra: tuple[str, str, str], timeout: float) -> tuple[int, bytes]:
    """The client-credentials request made by msal's ConfidentialClientApplication.

    msal insists on an https authority and discovers its token endpoint; the adapter answers that
    discovery document itself (the documented shape: ``{authority}/oauth2/v2.0/token``) and carries
    msal's token request to ``req.url``, the URL ``allowed`` already checked, so msal never chooses
    where the credential goes. The outcome is the HTTP status of that one token request."""
    import contextlib

    from aigw_secrets.http import MsalHttp

    msal = lazy("msal", "azure")
    tenant, client_id, secret = entra
    # msal's authority only names the tenant: its discovery is answered here and its token request
    # carried to req.url (the row's documented URL or the override, checked by ``allowed``)
    authority = f"https://login.microsoftonline.com/{urllib.parse.quote(tenant, safe='')}"
    token = f"{authority}/oauth2/v2.0/token"
    discovery = {
        "issuer": f"{authority}/v2.0",
        "authorization_endpoint": f"{authority}/oauth2/v2.0/authorize",
        "token_endpoint": token,
    }
    client = MsalHttp(
        deadline=timeout,
        routes={token: req.url},
        answers={f"{authority}/v2.0/.well-known/openid-configuration": discovery},
    )
    # msal raises on answers it cannot parse (a 5xx page, a redirect); the status it got decides, below
    with contextlib.suppress(ValueError, RuntimeError, KeyError, AigwError, msal.exceptions.MsalError):
        app = msal.ConfidentialClientApplication(
            client_id, client_credential=secret, authority=authority, http_client=client, instance_discovery=False
        )
        app.acquire_token_for_client(scopes=["https://cognitiveservices.azure.com/.default"])
    return (client.last.status, client.last.body) if client.last is not None else (0, b"")


def documented_host(pc: ProviderConfig) -> str | None:
    """The host the provider's documentation names for the validation call: the host of the row's
    whole validation URL, else the table's upstream host (``Azure: <resource>.openai.azure.com``, never
    ``ai_gateway_<p>_host``); None when there is none, e.g. a vLLM server: the operator has to allow
    its host."""
    spec = pc.auth.validation
    if spec is not None and spec.url is not None and not spec.url.startswith("/"):
        try:
            return (urllib.parse.urlsplit(_fill(pc, spec.url)).hostname or "").lower() or None
        except ConfigError:
            return None
    if pc.provider.host:
        try:
            return pc.provider.host.format(**{k: v for k, v in pc.settings.items() if isinstance(v, str)}).lower()
        except (KeyError, IndexError, ValueError):
            return None
    return None


def allowed(pc: ProviderConfig, url: str, policy: operator.Policy) -> None:
    """Refuse to send a credential anywhere but the provider's documented host over https, unless
    the operator allowed that host from outside the repository."""
    parts = urllib.parse.urlsplit(url)
    host = (parts.hostname or "").lower()
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise ConfigError(f"{pc.provider.title} ({pc.name}): the validation URL has an invalid port") from None
    if policy.allows_host(host, port):
        return
    if parts.scheme == "https" and port == 443 and host == documented_host(pc):
        return
    documented = documented_host(pc)
    expected = (
        f"{pc.provider.title}'s documented host {documented} (https, port 443)"
        if documented
        else f"a documented host ({pc.provider.title} has none)"
    )
    raise ConfigError(
        f"{pc.provider.title} ({pc.name}): validation would send the credential to "
        f"{parts.scheme}://{host}:{port}, not {expected}; "
        f"if that is intended, allow it from outside the repository: AIGW_SECRETS_ALLOW_HOSTS={host}:{port} "
        "(or allow_hosts in operator.toml)"
    )


def check(
    pc: ProviderConfig,
    value: str,
    *,
    attempts: int | None = None,
    timeout: float | None = None,
    policy: operator.Policy | None = None,
) -> Outcome:
    """Validate ``value`` for ``pc``; raises Rejected, ConfigError or Unavailable.

    ``timeout`` (default: the operator's ``http_deadline``) bounds the whole check, retries included.
    """
    policy = policy if policy is not None else operator.load()
    req = request_for(pc, value)
    allowed(pc, req.url, policy)
    label = f"{pc.provider.title} ({pc.name})"
    tries = attempts or int(os.environ.get("AIGW_SECRETS_VALIDATE_ATTEMPTS", "4"))
    delay = float(os.environ.get("AIGW_SECRETS_VALIDATE_BACKOFF", "1.0"))
    deadline = timeout if timeout is not None else policy.http_deadline
    end = time.monotonic() + deadline
    last = ""
    for attempt in range(tries):
        left = end - time.monotonic()
        if left <= 0:
            last = f"no complete answer within {deadline:g}s"
            break
        status, body = _send(req, left)
        if status == 200:
            return Outcome(200)
        if status in (401, 403) or (status == 400 and b"invalid_grant" in body):
            raise Rejected(f"{label}: the provider rejected the new credential (HTTP {status}); nothing was changed")
        if status == 404:
            raise ConfigError(
                f"{label}: validation endpoint {req.url} answered 404: check the host, prefix or validation_url"
            )
        if status == 429:
            return Outcome(
                429, f"{label}: the provider throttled the check (HTTP 429); the credential authenticated, accepted"
            )
        if 300 <= status < 400:
            raise Unavailable(
                f"{label}: the validation endpoint answered with a redirect (HTTP {status}); redirects are "
                "never followed, nothing was changed"
            )
        last = f"HTTP {status}" if status else f"no answer in time (deadline {deadline:g}s) or connection refused"
        if attempt + 1 < tries:
            time.sleep(max(0.0, min(delay * (2**attempt), end - time.monotonic())))
    raise Unavailable(f"{label}: could not validate the new credential ({last}); nothing was changed")


def _send(req: _Request, timeout: float) -> tuple[int, bytes]:
    from aigw_secrets import http

    if req.entra is not None:
        return _entra_send(req, req.entra, timeout)
    res = http.request(req.method, req.url, headers=req.headers, body=req.body, deadline=timeout, max_bytes=4096)
    return res.status, res.body
