"""Stand-ins on 127.0.0.1 for the providers' admin APIs, written from their API references
(ROTATION.md §2.1): paths, methods, bodies, status codes and the value shown only once. Each also
serves the provider's validation call for the keys it made, and answers the errors that matter on
demand (``fail``: the next requests get these statuses: 401/403 admin key, 429, 5xx)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from typing import Any

from testing import fakes, httpserve
from testing.httpserve import send_json, start


class Base:
    def __init__(self) -> None:
        self.admin_key = ""
        self.fail: list[int] = []  # statuses for the next requests, in order
        self.requests: list[str] = []
        self.url = ""

    _KEEP = ("url", "_server")

    def state(self) -> dict[str, Any]:
        """Everything a test can change (accounts, keys, injected failures, requests seen)."""
        return httpserve.state(self, self._KEEP)

    def restore(self, saved: dict[str, Any]) -> None:
        """Back to ``saved`` (from ``state``), on the same server and address."""
        httpserve.restore(self, saved, self._KEEP)


class OpenAI(Base):
    """``/v1/organization/projects/{project}/service_accounts`` (+ ``/v1/models`` for validation)."""

    def __init__(self) -> None:
        super().__init__()
        self.admin_key = fakes.openai_admin_key()
        self.project = "proj_" + fakes.rand(24)
        self.accounts: dict[str, dict[str, Any]] = {}  # id -> account (+ "_key": the value)
        self.max_accounts = 100

    def add(self, name: str) -> tuple[str, str]:
        """A service account made by someone else (the operator's): returns (id, key value)."""
        sid, value = "svc_acct_" + fakes.rand(24), fakes.openai_service_account_key()
        self.accounts[sid] = {
            "object": "organization.project.service_account",
            "id": sid,
            "name": name,
            "role": "member",
            "created_at": 0,
            "_key": value,
        }
        return sid, value

    def handle(self, method: str, path: str, headers: Any, body: Any) -> tuple[int, Any]:
        auth = headers.get("Authorization", "")
        if path == "/v1/models":
            ok = any(a["_key"] == auth.removeprefix("Bearer ") for a in self.accounts.values())
            return (
                (200, {"object": "list", "data": []})
                if ok
                else (401, _oai_error("invalid_api_key", "Incorrect API key provided"))
            )
        if auth != f"Bearer {self.admin_key}":
            return 401, _oai_error("invalid_api_key", "Incorrect API key provided")
        k = re.match(r"^/v1/organization/projects/([^/?]+)/api_keys(?:\?.*)?$", path)
        if k and method == "GET":  # the project's API keys: redacted value and owner, never the value
            if k.group(1) != self.project:
                return 404, _oai_error(None, "not found")
            data = [
                {
                    "object": "organization.project.api_key",
                    "redacted_value": a["_key"][:6] + "..." + a["_key"][-4:],
                    "name": "Secret Key",
                    "created_at": a["created_at"],
                    "id": "key_" + sid[-16:],
                    "owner": {"type": "service_account", "service_account": _public(a)},
                }
                for sid, a in self.accounts.items()
            ]
            return 200, {"object": "list", "data": data, "first_id": None, "last_id": None, "has_more": False}
        m = re.match(r"^/v1/organization/projects/([^/?]+)/service_accounts(?:/([^/?]+))?(?:\?(.*))?$", path)
        if not m or m.group(1) != self.project:
            return 404, _oai_error(None, "not found")
        sa_id, query = m.group(2), dict(p.split("=", 1) for p in (m.group(3) or "").split("&") if "=" in p)
        if method == "POST" and not sa_id:
            if not isinstance(body, dict) or not body.get("name"):
                return 400, _oai_error(None, "name is required")
            if len(self.accounts) >= self.max_accounts:
                return 400, _oai_error("limit_exceeded", "too many service accounts in this project")
            sid = "svc_acct_" + fakes.rand(24)
            value = fakes.openai_service_account_key()
            now = int(time.time())
            self.accounts[sid] = {
                "object": "organization.project.service_account",
                "id": sid,
                "name": body["name"],
                "role": "member",
                "created_at": now,
                "_key": value,
            }
            api_key = {
                "object": "organization.project.service_account.api_key",
                "value": value,
                "name": "Secret Key",
                "created_at": now,
                "id": "key_" + fakes.rand(16),
            }
            return 200, {**_public(self.accounts[sid]), "api_key": api_key}  # the only time the value is shown
        if method == "GET" and not sa_id:
            ids = sorted(self.accounts, key=lambda i: self.accounts[i]["created_at"])
            start_at = ids.index(query["after"]) + 1 if query.get("after") in ids else 0
            limit = int(query.get("limit", 20))
            page = ids[start_at : start_at + limit]
            return 200, {
                "object": "list",
                "data": [_public(self.accounts[i]) for i in page],
                "first_id": page[0] if page else None,
                "last_id": page[-1] if page else None,
                "has_more": start_at + limit < len(ids),
            }
        if method == "DELETE" and sa_id:
            if sa_id not in self.accounts:
                return 404, _oai_error(None, "No such service account")
            del self.accounts[sa_id]
            return 200, {"object": "organization.project.service_account.deleted", "id": sa_id, "deleted": True}
        return 405, _oai_error(None, "method not allowed")


def _oai_error(code: str | None, message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}}


def _public(account: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in account.items() if not k.startswith("_")}


class Anthropic(Base):
    """``/v1/organizations/api_keys`` (list, update status) (+ ``/v1/models`` for validation)."""

    def __init__(self) -> None:
        super().__init__()
        self.admin_key = fakes.anthropic_admin_key()
        self.keys: dict[str, dict[str, Any]] = {}  # id -> key record (+ "_value")

    def add(self, name: str) -> tuple[str, str]:
        """A key made in the Console (the only place keys are made): returns (id, value)."""
        kid = "apikey_" + fakes.rand(24)
        value = fakes.anthropic_key()
        self.keys[kid] = {
            "type": "api_key",
            "id": kid,
            "name": name,
            "status": "active",
            "partial_key_hint": value[:7] + "..." + value[-4:],
            "created_at": "2026-01-01T00:00:00Z",
            "workspace_id": None,
            "_value": value,
        }
        return kid, value

    def handle(self, method: str, path: str, headers: Any, body: Any) -> tuple[int, Any]:
        if headers.get("anthropic-version") != "2023-06-01":
            return 400, _ant_error("invalid_request_error", "anthropic-version header is required")
        key = headers.get("x-api-key", "")
        if path == "/v1/models":
            ok = any(k["_value"] == key and k["status"] == "active" for k in self.keys.values())
            return (
                (200, {"data": [], "has_more": False})
                if ok
                else (401, _ant_error("authentication_error", "invalid x-api-key"))
            )
        if key != self.admin_key:
            return 401, _ant_error("authentication_error", "invalid x-api-key")
        if method == "GET" and path.startswith("/v1/organizations/api_keys"):
            data = [_public(k) for k in self.keys.values()]
            return 200, {
                "data": data,
                "has_more": False,
                "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None,
            }
        m = re.match(r"^/v1/organizations/api_keys/([^/?]+)$", path)
        if method == "POST" and m:
            k = self.keys.get(m.group(1))
            if k is None:
                return 404, _ant_error("not_found_error", "api key not found")
            status = (body or {}).get("status")
            if status not in (None, "active", "inactive", "archived") or (
                k["status"] == "archived" and status != "archived"
            ):
                return 400, _ant_error("invalid_request_error", "invalid status transition")
            if status:
                k["status"] = status
            return 200, _public(k)
        return 404, _ant_error("not_found_error", "not found")


def _ant_error(kind: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}}


@contextmanager
def serve(api: Any) -> Iterator[Any]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            api.requests.append(f"{self.command} {self.path}")
            if api.fail:
                code = api.fail.pop(0)
                return send_json(self, code, {"error": {"message": f"injected {code}", "code": code}})
            if isinstance(api, Gcp | Entra):  # form-encoded token grants as well as JSON
                return send_json(self, *api.handle_raw(self.command, self.path, self.headers, raw))
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                return send_json(self, 400, {"error": {"message": "body is not JSON"}})
            code, payload = api.handle(self.command, self.path, self.headers, body)
            send_json(self, code, payload)

        do_GET = do_POST = do_DELETE = _answer

        def log_message(self, *args: object) -> None:
            pass

    server, api.url = start(Handler)
    api._server = server
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()


class Gcp(Base):
    """IAM ``/v1/projects/-/serviceAccounts/{email}/keys`` (create, list, ``:disable``, delete) and the
    OAuth token endpoint (``/token``: JWT-bearer grants of the admin key and of the keys made here)."""

    def __init__(self, email: str = "gateway@demo-project.iam.gserviceaccount.com") -> None:
        super().__init__()
        self.email = email
        self.admin = fakes.gcp_service_account()
        self.keys: dict[str, dict[str, Any]] = {}  # key id -> record (+ "_info": the key file)
        self.tokens: set[str] = set()
        self.max_keys = 10

    def add_key(self) -> dict[str, str]:
        """A key made outside this tool (the operator's first one): returns the key file."""
        info = {**fakes.gcp_service_account(), "client_email": self.email, "token_uri": f"{self.url}/token"}
        self.keys[info["private_key_id"]] = {
            "name": f"projects/demo-project/serviceAccounts/{self.email}/keys/{info['private_key_id']}",
            "disabled": False,
            "keyType": "USER_MANAGED",
            "_info": info,
        }
        return info

    def admin_file(self) -> dict[str, str]:
        return {**self.admin, "token_uri": f"{self.url}/token"}

    def _grant(self, body: str) -> tuple[int, Any]:
        import base64
        import urllib.parse

        form = urllib.parse.parse_qs(body)
        try:
            head, payload, _sig = form["assertion"][0].split(".")
            header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except (KeyError, ValueError):
            return 400, {"error": "invalid_request"}
        kid, iss = header.get("kid"), claims.get("iss")
        admin = iss == self.admin["client_email"] and kid == self.admin["private_key_id"]
        key = self.keys.get(str(kid))
        if not admin and not (key and not key["disabled"] and iss == self.email):
            return 400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
        token = "ya29." + fakes.rand(40)
        if admin:
            self.tokens.add(token)
        return 200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}

    def handle(self, method: str, path: str, headers: Any, body: Any) -> tuple[int, Any]:
        raise AssertionError("Gcp answers raw bodies: see handle_raw")

    def handle_raw(self, method: str, path: str, headers: Any, raw: bytes) -> tuple[int, Any]:
        import base64

        if path == "/token" and method == "POST":
            return self._grant(raw.decode())
        if headers.get("Authorization", "").removeprefix("Bearer ") not in self.tokens:
            return 401, {
                "error": {
                    "code": 401,
                    "message": "Request had invalid authentication credentials.",
                    "status": "UNAUTHENTICATED",
                }
            }
        m = re.match(r"^/v1/projects/-/serviceAccounts/([^/?]+)/keys(?:/([^/?:]+))?(:disable)?(?:\?.*)?$", path)
        if not m or m.group(1) != self.email:
            return 404, {"error": {"code": 404, "message": "Service account not found", "status": "NOT_FOUND"}}
        kid, disable = m.group(2), m.group(3)
        if method == "GET" and not kid:
            return 200, {"keys": [_public(k) for k in self.keys.values()]}
        if method == "POST" and not kid:
            if len(self.keys) >= self.max_keys:
                return 400, {
                    "error": {"code": 400, "message": "Precondition check failed.", "status": "FAILED_PRECONDITION"}
                }
            info = {**fakes.gcp_service_account(), "client_email": self.email, "token_uri": f"{self.url}/token"}
            rec = {
                "name": f"projects/demo-project/serviceAccounts/{self.email}/keys/{info['private_key_id']}",
                "disabled": False,
                "keyType": "USER_MANAGED",
                "_info": info,
            }
            self.keys[info["private_key_id"]] = rec
            data = base64.b64encode(json.dumps(info).encode()).decode()
            return 200, {
                **_public(rec),
                "privateKeyType": "TYPE_GOOGLE_CREDENTIALS_FILE",
                "privateKeyData": data,
                "keyAlgorithm": "KEY_ALG_RSA_2048",
                "keyOrigin": "GOOGLE_PROVIDED",
            }
        if kid not in self.keys:
            return 404, {"error": {"code": 404, "message": "key not found", "status": "NOT_FOUND"}}
        if method == "POST" and disable:
            self.keys[kid]["disabled"] = True
            return 200, {}
        if method == "DELETE":
            del self.keys[kid]
            return 200, {}
        return 400, {"error": {"code": 400, "status": "INVALID_ARGUMENT"}}


class Entra(Base):
    """Microsoft Graph ``/v1.0/applications/{id}`` (``addPassword``, ``removePassword``, the
    ``passwordCredentials`` list) and the Entra login endpoints msal uses (OIDC discovery,
    client-credentials token); the token endpoint also validates the client secrets made here.
    Served over TLS (msal insists on an https authority): see ``tls_serve``."""

    def __init__(self, tenant: str = "00000000-0000-0000-0000-000000000001") -> None:
        super().__init__()
        self.tenant = tenant
        self.app_object_id = "11111111-2222-3333-4444-" + fakes.rand(12, "0123456789abcdef")
        self.admin_client_id = "bot-" + fakes.rand(8)
        self.admin_key = fakes.entra_client_secret()
        self.passwords: dict[str, dict[str, Any]] = {}  # keyId -> credential (+ "_secret")
        self.tokens: set[str] = set()
        self.resource_id = (
            "subscriptions/" + _uuid() + "/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/my-openai"
        )
        self.resource_keys = {"key1": fakes.azure_openai_key(), "key2": fakes.azure_openai_key()}

    def add(self, name: str) -> tuple[str, str]:
        kid, secret = _uuid(), fakes.entra_client_secret()
        self.passwords[kid] = {
            "keyId": kid,
            "displayName": name,
            "endDateTime": "2099-01-01T00:00:00Z",
            "hint": secret[:3],
            "secretText": None,
            "_secret": secret,
        }
        return kid, secret

    def handle_raw(self, method: str, path: str, headers: Any, raw: bytes) -> tuple[int, Any]:
        import urllib.parse

        base = f"/{self.tenant}"
        if path.startswith(f"{base}/v2.0/.well-known/openid-configuration"):
            return 200, {
                "authorization_endpoint": f"{self.url}{base}/oauth2/v2.0/authorize",
                "token_endpoint": f"{self.url}{base}/oauth2/v2.0/token",
                "issuer": f"{self.url}{base}/v2.0",
            }
        if path == f"{base}/oauth2/v2.0/token" and method == "POST":
            form = {k: v[0] for k, v in urllib.parse.parse_qs(raw.decode()).items()}
            if form.get("client_id") == self.admin_client_id and form.get("client_secret") == self.admin_key:
                token = "eyJ" + fakes.rand(40)
                self.tokens.add(token)
                return 200, {"token_type": "Bearer", "expires_in": 3599, "access_token": token}
            if any(p["_secret"] == form.get("client_secret") for p in self.passwords.values()):
                return 200, {"token_type": "Bearer", "expires_in": 3599, "access_token": "eyJ" + fakes.rand(40)}
            return 401, {
                "error": "invalid_client",
                "error_description": "AADSTS7000215: Invalid client secret provided.",
            }
        if path.startswith("/openai/models"):  # Azure OpenAI data plane: validation of a resource key
            ok = headers.get("api-key") in self.resource_keys.values()
            return (
                (200, {"data": []})
                if ok
                else (401, {"error": {"code": "401", "message": "Access denied due to invalid subscription key"}})
            )
        if headers.get("Authorization", "").removeprefix("Bearer ") not in self.tokens:
            return 401, {"error": {"code": "InvalidAuthenticationToken", "message": "Access token is empty."}}
        arm = re.match(
            r"^/(subscriptions/[^?]+/providers/Microsoft\.CognitiveServices/accounts/[^/?]+)/(listKeys|regenerateKey)\?api-version=\d{4}-\d{2}-\d{2}",
            path,
        )
        if arm and method == "POST":
            if arm.group(1) != self.resource_id:
                return 404, {"error": {"code": "ResourceNotFound", "message": "The Resource was not found."}}
            if arm.group(2) == "regenerateKey":
                name = (json.loads(raw) if raw else {}).get("keyName")
                if name not in ("Key1", "Key2"):
                    return 400, {"error": {"code": "InvalidRequestContent", "message": "keyName must be Key1 or Key2"}}
                self.resource_keys[name.lower()] = fakes.azure_openai_key()
            return 200, dict(self.resource_keys)
        m = re.match(r"^/v1\.0/applications/([^/?]+)(/addPassword|/removePassword)?(?:\?.*)?$", path)
        if not m or m.group(1) != self.app_object_id:
            return 404, {"error": {"code": "Request_ResourceNotFound", "message": "Resource does not exist"}}
        body = json.loads(raw) if raw else {}
        if method == "GET" and not m.group(2):
            return 200, {
                "id": self.app_object_id,
                "passwordCredentials": [
                    {k: v for k, v in p.items() if not k.startswith("_")} for p in self.passwords.values()
                ],
            }
        if method == "POST" and m.group(2) == "/addPassword":
            cred = body.get("passwordCredential") or {}
            kid, secret = _uuid(), fakes.entra_client_secret()
            self.passwords[kid] = {
                "keyId": kid,
                "displayName": cred.get("displayName"),
                "endDateTime": cred.get("endDateTime"),
                "hint": secret[:3],
                "secretText": None,
                "_secret": secret,
            }
            return 200, {
                "customKeyIdentifier": None,
                "displayName": cred.get("displayName"),
                "endDateTime": cred.get("endDateTime"),
                "hint": secret[:3],
                "keyId": kid,
                "secretText": secret,
                "startDateTime": "2026-01-01T00:00:00Z",
            }
        if method == "POST" and m.group(2) == "/removePassword":
            if body.get("keyId") not in self.passwords:
                return 400, {
                    "error": {"code": "Request_BadRequest", "message": "No password credential found with keyId"}
                }
            del self.passwords[body["keyId"]]
            return 204, None
        return 405, {"error": {"code": "Request_BadRequest"}}


def _uuid() -> str:
    import uuid

    return str(uuid.uuid4())


def self_signed(directory: Any) -> tuple[Any, Any]:
    """A certificate for 127.0.0.1 and its key, made now (PEM files in ``directory``)."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "standin.crt", directory / "standin.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@contextmanager
def tls_serve(api: Any, directory: Any) -> Iterator[Any]:
    """``serve`` over TLS with a fresh self-signed certificate; the caller trusts it (SSL_CERT_FILE)."""
    import ssl

    cert, key = self_signed(directory)
    with serve(api) as running:
        server = running._server
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
        running.url = running.url.replace("http://", "https://")
        running.cert = cert
        yield running
