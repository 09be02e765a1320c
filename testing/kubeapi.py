"""A Kubernetes API stand-in on 127.0.0.1 for tests: core/v1 Secrets (GET, POST, PUT with
resourceVersion → 409 on conflict, PATCH incl. server-side apply) and Flux Kustomizations (GET),
with injectable 403s, and a stop() that makes it unreachable mid-run. The real ``kubernetes``
client talks to it through a generated kubeconfig."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from testing.httpserve import send_json, start


class FakeCluster:
    def __init__(self) -> None:
        self.secrets: dict[tuple[str, str], dict[str, Any]] = {}
        self.kustomizations: dict[tuple[str, str], dict[str, Any]] = {}
        self.forbidden: set[tuple[str, str]] = set()  # (verb, resource)
        self.conflicts = 0  # answer the next N writes with 409
        self.requests: list[str] = []
        self.url = ""
        self._rv = 100
        self._server: ThreadingHTTPServer | None = None
        self.lock = threading.Lock()

    def next_rv(self) -> str:
        self._rv += 1
        return str(self._rv)

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def flux_applies(self, namespace: str, name: str, revision: str, ready: bool = True) -> None:
        self.kustomizations[(namespace, name)] = {
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
            "kind": "Kustomization",
            "metadata": {"name": name, "namespace": namespace},
            "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}], "lastAppliedRevision": revision},
        }

    def kubeconfig(self, path: Path) -> Path:
        path.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [{"name": "standin", "cluster": {"server": self.url}}],
                    "users": [{"name": "tester", "user": {"token": "test-token"}}],
                    "contexts": [{"name": "standin", "context": {"cluster": "standin", "user": "tester"}}],
                    "current-context": "standin",
                }
            )
        )
        return path


_SECRET = re.compile(r"^/api/v1/namespaces/([^/]+)/secrets(?:/([^/?]+))?")
_KS = re.compile(r"^/apis/kustomize\.toolkit\.fluxcd\.io/v1/namespaces/([^/]+)/kustomizations/([^/?]+)")


@contextmanager
def serve() -> Iterator[FakeCluster]:
    fake = FakeCluster()

    class Handler(BaseHTTPRequestHandler):
        def _send(self, code: int, body: dict[str, Any]) -> None:
            send_json(self, code, body)

        def _status(self, code: int, reason: str) -> None:
            self._send(code, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": reason, "code": code})

        def _body(self) -> Any:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            return yaml.safe_load(raw) if raw else None

        def _handle(self) -> None:
            verb = {"GET": "get", "POST": "create", "PUT": "update", "PATCH": "patch"}[self.command]
            kind = f" {self.headers.get('Content-Type', '')}" if verb == "patch" else ""
            fake.requests.append(f"{verb} {self.path}{kind}")
            m, k = _SECRET.match(self.path), _KS.match(self.path)
            resource = "secrets" if m else "kustomizations" if k else ""
            if (verb, resource) in fake.forbidden:
                return self._status(403, "Forbidden")
            with fake.lock:
                if k and verb == "get":
                    obj = fake.kustomizations.get((k.group(1), k.group(2)))
                    return self._send(200, obj) if obj else self._status(404, "NotFound")
                if not m:
                    return self._status(404, "NotFound")
                ns, name = m.group(1), m.group(2)
                body = self._body() if verb != "get" else None
                if verb in ("create", "update", "patch") and fake.conflicts:
                    fake.conflicts -= 1
                    fake._rv += 1
                    current = fake.secrets.get((ns, name))
                    if current:
                        current["metadata"]["resourceVersion"] = fake.next_rv()
                    return self._status(409, "Conflict")
                if verb == "get":
                    obj = fake.secrets.get((ns, name))
                    return self._send(200, obj) if obj else self._status(404, "NotFound")
                if verb == "create":
                    name = body["metadata"]["name"]
                    if (ns, name) in fake.secrets:
                        return self._status(409, "AlreadyExists")
                    body["metadata"]["resourceVersion"] = fake.next_rv()
                    fake.secrets[(ns, name)] = body
                    return self._send(201, body)
                if verb == "update":
                    current = fake.secrets.get((ns, name))
                    if current is None:
                        return self._status(404, "NotFound")
                    if body["metadata"].get("resourceVersion") != current["metadata"]["resourceVersion"]:
                        return self._status(409, "Conflict")
                    body["metadata"]["resourceVersion"] = fake.next_rv()
                    fake.secrets[(ns, name)] = body
                    return self._send(200, body)
                # patch: server-side apply (or a merge patch) of labels, annotations, data, stringData
                current = fake.secrets.get((ns, name)) or {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": ns}, "type": "Opaque", "data": {}}
                for field in ("labels", "annotations"):
                    if body.get("metadata", {}).get(field):
                        current["metadata"].setdefault(field, {}).update(body["metadata"][field])
                import base64

                data = dict(current.get("data") or {})
                data.update(body.get("data") or {})
                for key, value in (body.get("stringData") or {}).items():
                    data[key] = base64.b64encode(str(value).encode()).decode()
                current["data"] = data
                current["metadata"]["resourceVersion"] = fake.next_rv()
                current["metadata"].setdefault("managedFields", [{"manager": "aigw-secrets", "operation": "Apply"}])
                fake.secrets[(ns, name)] = current
                return self._send(200, current)

        do_GET = do_POST = do_PUT = do_PATCH = _handle

        def log_message(self, *args: object) -> None:
            pass

    fake._server, fake.url = start(Handler)
    try:
        yield fake
    finally:
        fake.stop()
