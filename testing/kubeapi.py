"""A Kubernetes API stand-in on 127.0.0.1 for tests: core/v1 Secrets (GET, POST, PUT with
resourceVersion → 409 on conflict, PATCH incl. server-side apply) and Flux Kustomizations (GET),
with injectable 403s, and a stop() that makes it unreachable mid-run. The real ``kubernetes``
client talks to it through a generated kubeconfig.

It also plays the External Secrets Operator's controller: ``apply_external_secret`` is
Flux applying an ExternalSecret from git; ``eso_sync`` is one reconcile: each ``spec.data[]`` item is
fetched through ``store_reader(key, property, version)`` (the test wires it to the real store),
``spec.target.template`` is rendered (``{{ .name }}`` substitutions, what our builders emit) into the
target Secret with the template's labels and annotations, and ``status`` gets ``Ready``/``SecretSynced``,
``refreshTime`` and ``syncedResourceVersion`` (or ``Ready=False``/``SecretSyncedError``). With
``eso_auto`` an apply that changes the spec or the ``force-sync`` annotation reconciles at once, as
ESO does. GET (and merge-PATCH of annotations) of ``external-secrets.io/v1`` ExternalSecrets are served."""

from __future__ import annotations

import base64
import datetime as dt
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from testing import httpserve
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
        self.external_secrets: dict[tuple[str, str], dict[str, Any]] = {}
        self.store_reader: Callable[[str, str, str | None], str] | None = None
        self.eso_auto = True
        self.now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)

    _KEEP = ("url", "_server", "lock")

    def state(self) -> dict[str, Any]:
        """Everything a test can change (objects, injected 403s and conflicts, requests seen, ESO's mode)."""
        with self.lock:
            return httpserve.state(self, self._KEEP)

    def restore(self, saved: dict[str, Any]) -> None:
        """Back to ``saved`` (from ``state``), on the same server and address."""
        with self.lock:
            httpserve.restore(self, saved, self._KEEP)

    # --- ESO's controller ---------------------------------------------------------------------------

    def apply_external_secret(self, doc: dict[str, Any]) -> None:
        """Flux applies ``doc``; with ``eso_auto``, ESO reconciles when spec or force-sync changed."""
        import copy

        doc = copy.deepcopy(doc)
        meta = doc["metadata"]
        key = (meta["namespace"], meta["name"])
        with self.lock:
            old = self.external_secrets.get(key)
            changed = (
                old is None
                or old.get("spec") != doc.get("spec")
                or (old["metadata"].get("annotations") or {}).get("force-sync")
                != (meta.get("annotations") or {}).get("force-sync")
            )
            meta["resourceVersion"] = self.next_rv()
            meta["generation"] = (old or {}).get("metadata", {}).get("generation", 0) + (
                1 if old is None or old.get("spec") != doc.get("spec") else 0
            )
            doc["status"] = (old or {}).get("status") or {}
            self.external_secrets[key] = doc
        if changed and self.eso_auto:
            self.eso_sync(*key)

    def eso_sync(self, namespace: str, name: str) -> None:
        with self.lock:
            es = self.external_secrets[(namespace, name)]
            spec = es["spec"]
            when = self.now().strftime("%Y-%m-%dT%H:%M:%SZ")
            try:
                if self.store_reader is None:
                    raise LookupError("no store wired to the stand-in")
                values = {
                    d["secretKey"]: self.store_reader(
                        d["remoteRef"]["key"], d["remoteRef"].get("property", ""), d["remoteRef"].get("version")
                    )
                    for d in spec.get("data") or []
                }
            except Exception as exc:  # noqa: BLE001 - any store failure is ESO's SecretSyncedError
                failed = {
                    "type": "Ready",
                    "status": "False",
                    "reason": "SecretSyncedError",
                    "message": f"could not get secret data from provider: {type(exc).__name__}",
                    "lastTransitionTime": when,
                }
                es["status"] = {**es.get("status", {}), "conditions": [failed]}
                return
            target = spec["target"]
            tmpl = target.get("template") or {}
            data = (
                {
                    k: re.sub(r"\{\{\s*\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}", lambda m: values[m.group(1)], v)
                    for k, v in (tmpl.get("data") or {}).items()
                }
                if tmpl.get("data")
                else values
            )
            tmeta = tmpl.get("metadata") or {}
            secret_name = target.get("name") or name
            current = self.secrets.get((namespace, secret_name))
            self.secrets[(namespace, secret_name)] = {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {
                    "name": secret_name,
                    "namespace": namespace,
                    "labels": dict(tmeta.get("labels") or {}),
                    "annotations": dict(tmeta.get("annotations") or {}),
                    "resourceVersion": self.next_rv(),
                    "uid": (current or {}).get("metadata", {}).get("uid", f"uid-{secret_name}"),
                },
                "type": tmpl.get("type", "Opaque"),
                "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
            }
            es["status"] = {
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "True",
                        "reason": "SecretSynced",
                        "message": "secret synced",
                        "lastTransitionTime": when,
                    }
                ],
                "refreshTime": when,
                "syncedResourceVersion": f"{es['metadata']['generation']}-sync",
                "binding": {"name": secret_name},
            }

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
            "status": {
                "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
                "lastAppliedRevision": revision,
            },
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
_ES = re.compile(r"^/apis/external-secrets\.io/v1/namespaces/([^/]+)/externalsecrets/([^/?]+)")
_KS = re.compile(r"^/apis/kustomize\.toolkit\.fluxcd\.io/v1/namespaces/([^/]+)/kustomizations/([^/?]+)")


@contextmanager
def serve() -> Iterator[FakeCluster]:
    fake = FakeCluster()

    class Handler(BaseHTTPRequestHandler):
        def _send(self, code: int, body: dict[str, Any]) -> None:
            send_json(self, code, body)

        def _status(self, code: int, reason: str) -> None:
            self._send(
                code, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": reason, "code": code}
            )

        def _body(self) -> Any:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            return yaml.safe_load(raw) if raw else None

        def _handle(self) -> None:
            verb = {"GET": "get", "POST": "create", "PUT": "update", "PATCH": "patch"}[self.command]
            kind = f" {self.headers.get('Content-Type', '')}" if verb == "patch" else ""
            fake.requests.append(f"{verb} {self.path}{kind}")
            m, k, e = _SECRET.match(self.path), _KS.match(self.path), _ES.match(self.path)
            resource = "secrets" if m else "kustomizations" if k else "externalsecrets" if e else ""
            if (verb, resource) in fake.forbidden:
                return self._status(403, "Forbidden")
            if e and verb == "patch":  # a merge patch of annotations (e.g. force-sync)
                patch = self._body() or {}
                with fake.lock:
                    obj = fake.external_secrets.get((e.group(1), e.group(2)))
                    if obj is None:
                        return self._status(404, "NotFound")
                    before = dict(obj["metadata"].get("annotations") or {})
                    obj["metadata"].setdefault("annotations", {}).update(
                        (patch.get("metadata") or {}).get("annotations") or {}
                    )
                    obj["metadata"]["resourceVersion"] = fake.next_rv()
                    resync = before.get("force-sync") != obj["metadata"]["annotations"].get("force-sync")
                if resync and fake.eso_auto:
                    fake.eso_sync(e.group(1), e.group(2))
                return self._send(200, fake.external_secrets[(e.group(1), e.group(2))])
            with fake.lock:
                if e and verb == "get":
                    obj = fake.external_secrets.get((e.group(1), e.group(2)))
                    return self._send(200, obj) if obj else self._status(404, "NotFound")
                if k and verb == "get":
                    obj = fake.kustomizations.get((k.group(1), k.group(2)))
                    return self._send(200, obj) if obj else self._status(404, "NotFound")
                if not m:
                    return self._status(404, "NotFound")
                ns, name = m.group(1), m.group(2)
                body: dict[str, Any] = self._body() if verb != "get" else {}
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
                current = fake.secrets.get((ns, name)) or {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {"name": name, "namespace": ns},
                    "type": "Opaque",
                    "data": {},
                }
                for field in ("labels", "annotations"):
                    if body.get("metadata", {}).get(field):
                        current["metadata"].setdefault(field, {}).update(body["metadata"][field])
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
