"""Validation through the client libraries (botocore SigV4, google-auth's JWT signer, msal's
client-credentials flow), sent through http.py to a stand-in on 127.0.0.1: what each library puts
on the wire, the outcome rules (200 / 401 / 403 / GCP invalid_grant / 404 / 429 / 5xx), and the
one-line error naming the extra when the library is absent."""

from __future__ import annotations

import json
import sys
import urllib.parse
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from aigw_secrets.errors import ConfigError
from aigw_secrets.gateway import config, operator, validate
from aigw_secrets.gateway.config import ProviderConfig
from testing import fakes
from testing.httpserve import send_json, start
from testing.repos import provider_settings, write_cluster


class Server:
    def __init__(self) -> None:
        self.answer: tuple[int, Any] = (200, {"access_token": "t", "expires_in": 3600})
        self.seen: list[tuple[str, str, dict[str, str], bytes]] = []
        self.url = ""


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    srv = Server()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            srv.seen.append((self.command, self.path, dict(self.headers.items()), body))
            send_json(self, *srv.answer)

        do_GET = do_POST = _answer

        def log_message(self, *args: object) -> None:
            pass

    httpd, srv.url = start(Handler)
    monkeypatch.setenv("AIGW_SECRETS_ALLOW_HOSTS", "127.0.0.1")  # the operator, not the repository
    monkeypatch.setenv("AIGW_SECRETS_VALIDATE_BACKOFF", "0.01")
    try:
        yield srv
    finally:
        httpd.shutdown()
        httpd.server_close()


# provider key, auth, credential maker, the extra and one module it needs
CASES: dict[str, tuple[str, str, Callable[[], str], str, str]] = {
    "aws": ("bedrock", "static", fakes.aws_credentials_file, "aws", "botocore.auth"),
    "gcp": ("vertex", "service-account", fakes.gcp_service_account_json, "gcp", "google.auth.crypt"),
    "entra": ("azure", "entra", fakes.entra_client_secret, "azure", "msal"),
}


def provider(tmp_path: Path, server: Server, case: str) -> ProviderConfig:
    key, auth, *_ = CASES[case]
    write_cluster(tmp_path, {**provider_settings(key, auth), f"ai_gateway_{key}_validation_url": f"{server.url}/token"})
    (pc,) = config.load(tmp_path).providers
    return pc


def check(pc: ProviderConfig, value: str) -> validate.Outcome:
    return validate.check(pc, value, attempts=3, timeout=20, policy=operator.load())


@pytest.mark.parametrize("case", sorted(CASES))
def test_what_each_library_sends(tmp_path: Path, server: Server, case: str) -> None:
    pc = provider(tmp_path, server, case)
    value = CASES[case][2]()
    assert check(pc, value) == validate.Outcome(200)
    ((method, path, headers, body),) = server.seen  # one request: nothing else goes anywhere
    assert (method, path) == ("POST", "/token")
    form = urllib.parse.parse_qs(body.decode())
    if case == "aws":
        key_id = value.split("aws_access_key_id = ")[1].split("\n")[0]
        assert (
            headers["Authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={key_id}/")
            and "/us-east-1/sts/aws4_request" in headers["Authorization"]
        )
        assert "X-Amz-Date" in headers and form == {"Action": ["GetCallerIdentity"], "Version": ["2011-06-15"]}
    elif case == "gcp":
        from cryptography.hazmat.primitives import serialization
        from google.auth import jwt

        sa = json.loads(value)
        public = serialization.load_pem_private_key(sa["private_key"].encode(), None).public_key()
        pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        claims = jwt.decode(form["assertion"][0], certs=pem, audience=f"{server.url}/token")  # the signature verifies
        assert claims["iss"] == sa["client_email"] and form["grant_type"] == [
            "urn:ietf:params:oauth:grant-type:jwt-bearer"
        ]
    else:
        assert form["grant_type"] == ["client_credentials"] and form["client_secret"] == [value]
        assert (
            form["client_id"] == [pc.settings["client_id"]]
            and "https://cognitiveservices.azure.com/.default" in form["scope"][0]
        )


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize(
    ("status", "expect"),
    [
        (401, validate.Rejected),
        (403, validate.Rejected),
        (404, ConfigError),
        (429, None),
        (500, validate.Unavailable),
        (503, validate.Unavailable),
    ],
)
def test_outcomes(tmp_path: Path, server: Server, case: str, status: int, expect: type[Exception] | None) -> None:
    pc = provider(tmp_path, server, case)
    server.answer = (status, {"error": "server_error"})
    value = CASES[case][2]()
    if expect is None:
        outcome = check(pc, value)
        assert outcome.status == 429 and "throttled" in outcome.warning
        return
    with pytest.raises(expect) as exc:
        check(pc, value)
    assert "\n" not in str(exc.value) and value not in str(exc.value)
    if status >= 500:  # retried within the deadline, then inconclusive
        assert len(server.seen) == 3


def test_gcp_invalid_grant_is_a_rejection(tmp_path: Path, server: Server) -> None:
    pc = provider(tmp_path, server, "gcp")
    server.answer = (400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."})
    with pytest.raises(validate.Rejected):
        check(pc, fakes.gcp_service_account_json())


@pytest.mark.parametrize("case", sorted(CASES))
def test_missing_library_names_the_extra(
    tmp_path: Path, server: Server, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    pc = provider(tmp_path, server, case)
    *_, extra, module = CASES[case]
    monkeypatch.setitem(sys.modules, module, None)  # import fails as if not installed
    value = CASES[case][2]()
    with pytest.raises(ConfigError) as exc:
        check(pc, value)
    assert f"aigw-secrets[{extra}]" in str(exc.value) and "\n" not in str(exc.value) and value not in str(exc.value)
    assert server.seen == []


def test_a_cluster_yaml_host_never_receives_the_credential(
    tmp_path: Path, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The operator allow-list decides, for the library paths too: without it, nothing is sent."""
    monkeypatch.delenv("AIGW_SECRETS_ALLOW_HOSTS")
    for case in CASES:
        pc = provider(tmp_path, server, case)
        with pytest.raises(ConfigError, match="AIGW_SECRETS_ALLOW_HOSTS"):
            check(pc, CASES[case][2]())
    assert server.seen == []
