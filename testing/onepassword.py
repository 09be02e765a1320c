"""A 1Password Connect server stand-in on 127.0.0.1, from the Connect API reference (v1.8):
``GET /v1/vaults/{vault}/items[?filter=title eq "…"]``, ``GET|PUT|DELETE /v1/vaults/{vault}/items/{id}``,
``POST /v1/vaults/{vault}/items``; ``Authorization: Bearer <token>`` (401 otherwise, 403 for another
vault); items have ``id``, ``title``, ``tags``, ``version`` (bumped on each PUT), ``category``, ``vault``
and ``fields`` [{id, label, value, type}]. The list answers item summaries without field values."""

from __future__ import annotations

import json
import re
import secrets
import string
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from typing import Any

from testing.httpserve import send_json, start

_ID = string.ascii_lowercase + string.digits


def new_id() -> str:
    return "".join(secrets.choice(_ID) for _ in range(26))


class Connect:
    def __init__(self) -> None:
        self.token = secrets.token_urlsafe(32)
        self.vault = new_id()
        self.items: dict[str, dict[str, Any]] = {}
        self.requests: list[str] = []
        self.url = ""

    def handle(self, method: str, path: str, auth: str, body: Any) -> tuple[int, Any]:
        if auth != f"Bearer {self.token}":
            return 401, {"status": 401, "message": "Invalid token signature"}
        parts = urllib.parse.urlsplit(path)
        m = re.match(r"^/v1/vaults/([^/]+)/items(?:/([^/]+))?$", parts.path)
        if not m:
            return 404, {"status": 404, "message": "Not found"}
        if m.group(1) != self.vault:
            return 403, {"status": 403, "message": "Authorization: token does not have access to vault"}
        item_id = m.group(2)
        if method == "GET" and not item_id:
            query = urllib.parse.parse_qs(parts.query).get("filter", [""])[0]
            title = re.match(r'^title eq "((?:[^"\\]|\\.)*)"$', query)
            found = [
                i
                for i in self.items.values()
                if not title or i["title"] == title.group(1).replace('\\"', '"').replace("\\\\", "\\")
            ]
            return 200, [{k: v for k, v in i.items() if k != "fields"} for i in found]
        if method == "POST" and not item_id:
            item = {
                "id": new_id(),
                "title": body["title"],
                "tags": body.get("tags", []),
                "category": body.get("category", "LOGIN"),
                "vault": {"id": self.vault},
                "version": 1,
            }
            item["fields"] = [{"id": new_id(), **f} for f in body.get("fields") or []]
            self.items[item["id"]] = item
            return 200, item
        found_item = self.items.get(item_id or "")
        if found_item is None:
            return 404, {"status": 404, "message": "Item not found"}
        item = found_item
        if method == "GET":
            return 200, item
        if method == "PUT":
            if body.get("id") not in (None, item_id):
                return 400, {"status": 400, "message": "item id mismatch"}
            new = {
                **item,
                **{k: body[k] for k in ("title", "tags", "category", "fields") if k in body},
                "version": item["version"] + 1,
            }
            new["fields"] = [{"id": f.get("id") or new_id(), **f} for f in new["fields"]]
            self.items[item_id or ""] = new
            return 200, new
        if method == "DELETE":
            del self.items[item_id or ""]
            return 204, None
        return 405, {"status": 405, "message": "method not allowed"}


@contextmanager
def serve() -> Iterator[Connect]:
    connect = Connect()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            connect.requests.append(f"{self.command} {self.path}")
            code, payload = connect.handle(
                self.command, self.path, self.headers.get("Authorization", ""), json.loads(raw) if raw else None
            )
            if code == 204:
                self.send_response(204)
                self.end_headers()
                return
            send_json(self, code, payload)

        do_GET = do_POST = do_PUT = do_DELETE = _answer

        def log_message(self, *args: object) -> None:
            pass

    server, connect.url = start(Handler)
    try:
        yield connect
    finally:
        server.shutdown()
        server.server_close()
