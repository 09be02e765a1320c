"""The small HTTP plumbing the test stand-ins share: JSON answers, a server on 127.0.0.1 only, and
a stand-in's state kept and put back (a session's stand-in, reset for each test)."""

from __future__ import annotations

import contextlib
import copy
import json
import socket
import sys
import threading
from collections.abc import Collection
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def send_json(handler: BaseHTTPRequestHandler, code: int, body: Any) -> None:
    data = json.dumps(body).encode()
    handler.send_response(code)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        # Only stand-in code runs here: a tracer inherited from the test (coverage.py's) measures
        # nothing in it and makes every request three times slower.
        sys.settrace(None)
        super().process_request_thread(request, client_address)

    def shutdown(self) -> None:
        """``serve_forever`` notices a shutdown when its select() returns: a connection wakes it at
        once, instead of a short poll that keeps every idle stand-in of a session busy."""
        stopper = threading.Thread(target=super().shutdown, daemon=True)
        stopper.start()
        while stopper.is_alive():
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", self.server_address[1]), timeout=1).close()
            stopper.join(0.005)


def start(handler: type[BaseHTTPRequestHandler]) -> tuple[ThreadingHTTPServer, str]:
    """A threaded server on a free loopback port (never another address); the caller shuts it down."""
    server = _Server(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def state(obj: object, keep: Collection[str]) -> dict[str, Any]:
    """A deep copy of ``obj``'s attributes but ``keep`` (its server, address, lock)."""
    return copy.deepcopy({k: v for k, v in vars(obj).items() if k not in keep})


def restore(obj: object, saved: dict[str, Any], keep: Collection[str]) -> None:
    """``obj``'s attributes but ``keep`` exactly as ``state`` saved them: what a test added goes,
    what it changed comes back (a deep copy, so ``saved`` serves the next test as well)."""
    for name in [k for k in vars(obj) if k not in keep and k not in saved]:
        delattr(obj, name)
    for name, value in copy.deepcopy(saved).items():
        setattr(obj, name, value)
