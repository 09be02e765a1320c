"""A stand-in LLM provider on 127.0.0.1 for tests: answers each credential with a chosen status.

It understands the validation calls of every provider: Bearer / x-api-key / api-key headers, an
Entra client-credentials form, an AWS SigV4 Authorization header (by access key id), and a GCP
JWT-bearer assertion (by the service account's e-mail). Unknown credentials get 401.
"""

from __future__ import annotations

import base64
import json
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from typing import Any

from testing.httpserve import send_json, start


class Provider:
    def __init__(self) -> None:
        self.url = ""
        self.reset()

    def reset(self) -> None:
        """Forget every test's settings and calls (a session-wide stand-in serves each test afresh)."""
        self.status: dict[str, int] = {}  # credential (or key id / e-mail) -> HTTP status
        self.calls: list[str] = []  # which credential each request used (for assertions)
        self.paths: list[str] = []  # the request line's path of each request
        self.bodies: dict[str, object] = {}  # path -> the JSON a 200 answers there (default: an OpenAI model list)
        self.accept_prefix = ""  # credentials with this prefix get 200 (values minted during a test)

    def identify(self, handler: BaseHTTPRequestHandler, body: bytes) -> str:
        h = handler.headers
        auth = h.get("Authorization", "")
        if auth.startswith("Bearer "):
            return auth[7:]
        if auth.startswith("AWS4-HMAC-SHA256 Credential="):
            return auth.split("Credential=")[1].split("/")[0]
        if h.get("x-api-key"):
            return h["x-api-key"]
        if h.get("api-key"):
            return h["api-key"]
        form = urllib.parse.parse_qs(body.decode())
        if "client_secret" in form:
            return form["client_secret"][0]
        if "assertion" in form:
            payload = form["assertion"][0].split(".")[1]
            return str(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["iss"])
        return ""


@contextmanager
def serve() -> Iterator[Provider]:
    provider = Provider()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            who = provider.identify(self, body)
            provider.calls.append(who)
            provider.paths.append(self.path)
            code = provider.status.get(
                who, 200 if provider.accept_prefix and who.startswith(provider.accept_prefix) else 401
            )
            payload: object = {"object": "list", "data": []} if code == 200 else {"error": {"code": code}}
            if code == 200 and self.path in provider.bodies:
                payload = provider.bodies[self.path]
            elif code == 200 and self.command == "POST":
                payload = {"access_token": "t", "expires_in": 3600}
            send_json(self, code, payload)

        do_GET = do_POST = _answer

        def log_message(self, *args: object) -> None:
            pass

    server, provider.url = start(Handler)
    try:
        yield provider
    finally:
        server.shutdown()
        server.server_close()


def setup_groq(repo: Any, provider: Provider, monkeypatch: Any) -> str:
    """A repository whose Groq Secret was generated from a key the stand-in accepts; that key."""
    from aigw_secrets.cli import main
    from testing import fakes
    from testing.repos import provider_settings, write_cluster

    old = fakes.groq_key()
    provider.status[old] = 200
    write_cluster(
        repo, {**provider_settings("groq"), "ai_gateway_groq_validation_url": f"{provider.url}/openai/v1/models"}
    )
    monkeypatch.setenv("GROQ_API_KEY", old)
    assert main(["generate", "--no-input"]) == 0
    return old
