"""`aigw-secrets` started warm: a fork server for tests that run the real executable many times.

A fresh `aigw-secrets` process spends most of a short run importing (boto3, the kubernetes client,
click, PyYAML, ...). ``serve()`` starts one server process that has imported them and nothing else;
``shim`` is an executable that takes the place of `aigw-secrets` (as ``$AIGW_SECRETS`` for the cron
script): it hands its argv, environment, working directory, umask and its stdin/stdout/stderr to the
server, which forks a child that becomes that command (the same ``entry.main`` the console script
calls) and reports how it ended; the shim exits the same way. Signals sent to the shim go to the
child. The server never runs a command itself and holds no test state: each child starts from a
process that only imported modules, with the caller's environment, directory and file descriptors.
Like the tests' own process it writes fingerprints at a cheap scrypt cost (each records its cost).

Tests that check how the executable itself starts (import time, the hook's start-up) keep running
the real console script.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

# What a run may import on its first use, imported once by the server (an absent one is skipped).
PRELOAD = (
    "aigw_secrets.entry",
    "aigw_secrets.cli",
    "aigw_secrets.commands.rotate",
    "aigw_secrets.commands.doctor",
    "aigw_secrets.rotation.credential",
    "aigw_secrets.rotation.revoke",
    "aigw_secrets.rotation.issuers.aws_iam",
    "aigw_secrets.kube",
    "aigw_secrets.sops.files",
    "aigw_secrets.scanner.hook",
    "boto3",
    "botocore.session",
    "kubernetes.client",
    "kubernetes.config",
    "kubernetes.client.api.core_v1_api",
    "kubernetes.client.api.custom_objects_api",
    "yaml",
    "ruamel.yaml",
    "click",
)

SHIM = """\
import json, os, signal, socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect({sock!r})
umask = os.umask(0o22)
os.umask(umask)
msg = json.dumps({{"argv": sys.argv, "env": dict(os.environ), "cwd": os.getcwd(), "umask": umask,
                  "pgid": os.getpgrp()}}).encode()
socket.send_fds(s, [struct.pack("!I", len(msg)) + msg], [0, 1, 2])
f = s.makefile("r")
pid = int(f.readline() or 0)
if not pid:
    sys.stderr.write("aigw-secrets (warm): the fork server is gone\\n")
    sys.exit(70)
for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT):
    signal.signal(sig, lambda n, _f: os.kill(pid, n))
how, _, value = (f.readline() or "exit 70").partition(" ")
if how == "signal":
    signal.signal(int(value), signal.SIG_DFL)
    os.kill(os.getpid(), int(value))
sys.exit(int(value))
"""


@contextlib.contextmanager
def serve(where: Path) -> Iterator[Path]:
    """Start the fork server; yield the shim's path (an executable standing for `aigw-secrets`)."""
    where.mkdir(parents=True, exist_ok=True)
    # a short path: a Unix socket's name is limited to about a hundred bytes
    sock = Path(tempfile.mkdtemp(prefix="aigw-warm-", dir="/tmp")) / "s"
    shim = where / "aigw-secrets"
    shim.write_text(f"#!{sys.executable} -IS\n" + SHIM.format(sock=str(sock)))
    shim.chmod(0o755)
    server = subprocess.Popen(
        [sys.executable, __file__, str(sock)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        cwd="/",
    )
    try:
        assert server.stdout is not None
        if server.stdout.readline().strip() != b"ready":
            raise RuntimeError("the aigw-secrets fork server did not start")
        yield shim
    finally:
        server.terminate()
        server.wait()
        with contextlib.suppress(OSError):
            sock.unlink()
            sock.parent.rmdir()


def _receive(conn: socket.socket) -> tuple[dict[str, object], list[int]]:
    data, fds, _flags, _addr = socket.recv_fds(conn, 1 << 20, 3)
    (size,) = struct.unpack("!I", data[:4])
    body = data[4:]
    while len(body) < size:
        more = conn.recv(size - len(body))
        if not more:
            raise EOFError
        body += more
    request: dict[str, object] = json.loads(body)
    return request, fds


def _become(request: dict[str, object], fds: list[int]) -> None:
    """In the forked child: take the caller's place, run the command, exit as the console script would."""
    import atexit

    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    env = request["env"]
    assert isinstance(env, dict)
    os.environ.clear()
    os.environ.update(env)
    tempfile.tempdir = None  # read $TMPDIR again, as a new process would
    os.chdir(str(request["cwd"]))
    umask = request["umask"]
    assert isinstance(umask, int)
    os.umask(umask)
    with contextlib.suppress(OSError):
        pgid = request["pgid"]
        assert isinstance(pgid, int)
        os.setpgid(0, pgid)
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    # as the interpreter opens them at start-up (the server's encoding: same locale)
    encoding, errors = sys.__stdout__.encoding if sys.__stdout__ else "utf-8", "strict"
    if sys.__stdout__ is not None:
        errors = sys.__stdout__.errors or "strict"
    sys.stdin = open(0, encoding=encoding, errors=errors, closefd=False)  # noqa: SIM115
    line = 1 if os.isatty(1) else -1  # line-buffered on a terminal, as at start-up
    sys.stdout = open(1, "w", line, encoding=encoding, errors=errors, closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", 1, encoding=encoding, errors="backslashreplace", closefd=False)  # noqa: SIM115
    argv = request["argv"]
    assert isinstance(argv, list)
    sys.argv = [str(a) for a in argv]
    code: object = 0
    try:
        from aigw_secrets.entry import main

        code = main()
    except SystemExit as exc:
        code = exc.code
    except BaseException:  # noqa: BLE001 - what the interpreter does with an uncaught exception
        import traceback

        traceback.print_exc()
        code = 1
    if code is None:
        code = 0
    elif not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code & 0xFF)


def _waiter(conn: socket.socket) -> None:
    """A forked child per request: it forks the command, tells the shim its pid and how it ended."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    request, fds = _receive(conn)
    pid = os.fork()
    if pid == 0:
        conn.close()
        _become(request, fds)
    for fd in fds:
        os.close(fd)
    conn.sendall(f"{pid}\n".encode())
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        conn.sendall(f"signal {os.WTERMSIG(status)}\n".encode())
    else:
        conn.sendall(f"exit {os.WEXITSTATUS(status)}\n".encode())


def _server(path: str) -> None:
    import importlib

    # the console script's sys.path: its own directory first, never this file's or the caller's
    sys.path[0] = str(Path(sys.executable).parent)
    for name in PRELOAD:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    # Fingerprints record their scrypt cost: runs forked from here write cheap ones, as the tests'
    # own process does (tests/conftest.py); the real console script keeps the production cost.
    from aigw_secrets.gateway import contenthash

    contenthash.SCRYPT_COST = (4, 1, 1)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # waiters are reaped by the kernel
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(16)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    while True:
        conn, _ = listener.accept()
        if os.fork() == 0:
            listener.close()
            try:
                _waiter(conn)
            finally:
                os._exit(0)
        conn.close()


if __name__ == "__main__":
    _server(sys.argv[1])
