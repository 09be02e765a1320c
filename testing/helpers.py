"""Helpers shared by the tests: real git and sops, nothing faked."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def sops_bin() -> str:
    from aigw_secrets.sops.binary import find_binary

    return find_binary()


def sops_decrypt(path: Path, key_file: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SOPS_AGE_KEY_FILE": str(key_file)}
    return subprocess.run([sops_bin(), "decrypt", str(path)], capture_output=True, text=True, env=env, cwd=path.parent)


needs_age_keygen = pytest.mark.skipif(
    shutil.which("age-keygen") is None, reason="age-keygen not installed (apt-get install age)"
)


def _in_process(
    repo: Path, argv: list[str], env: Mapping[str, str] | None, stdin: bytes, binary: bool = False
) -> tuple[int, str | bytes, str]:
    """``aigw-secrets ARGV`` through the console script's entry point in this process: exit code,
    stdout (``binary``: the bytes written to a text stream over a byte buffer, like a process's), stderr."""
    from aigw_secrets import output
    from aigw_secrets.entry import main

    out: io.TextIOBase = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", newline="") if binary else io.StringIO()
    err = io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(repo)
        for name, value in (env or {}).items():
            mp.setenv(name, value)
        mp.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8"))
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(argv)
    output.configure()  # -q/-v of this run never leak into the test's next call
    if isinstance(out, io.TextIOWrapper):
        out.flush()
        buffer = out.buffer
        assert isinstance(buffer, io.BytesIO)
        return code, buffer.getvalue(), err.getvalue()
    assert isinstance(out, io.StringIO)
    return code, out.getvalue(), err.getvalue()


def run_cli(
    repo: Path, argv: list[str], env: Mapping[str, str] | None = None, stdin: bytes = b""
) -> subprocess.CompletedProcess[str]:
    """``aigw-secrets ARGV`` in this process (the console script's entry point, without an
    interpreter start-up), in ``repo`` with ``env`` added to the environment and ``stdin`` as its
    standard input; its exit code and output as a CompletedProcess. For runs nothing kills."""
    code, out, err = _in_process(repo, argv, env, stdin)
    assert isinstance(out, str)
    return subprocess.CompletedProcess(["aigw-secrets", *argv], code, out, err)


def run_cli_binary(
    repo: Path, argv: list[str], env: Mapping[str, str] | None = None, stdin: bytes = b""
) -> subprocess.CompletedProcess[bytes]:
    """``run_cli`` with stdout as the exact bytes written (``decrypt`` writes the file's bytes)."""
    code, out, err = _in_process(repo, argv, env, stdin, binary=True)
    assert isinstance(out, bytes)
    return subprocess.CompletedProcess(["aigw-secrets", *argv], code, out, err.encode("utf-8"))


# Imported before a fork, so that children do not each import them (the Kubernetes client is the
# biggest: a second each); every worker imports them for the stand-in cluster tests anyway.
WARM = ("aigw_secrets.entry", "aigw_secrets.cli", "kubernetes.client", "kubernetes.config")


def _warm(extra: tuple[str, ...]) -> None:
    import importlib

    for name in (*WARM, *extra):
        try:
            importlib.import_module(name)
        except ImportError:
            if not name.startswith("kubernetes"):  # an optional extra the child would miss as well
                raise


def run_killed(
    repo: Path, argv: list[str], step: str, env: Mapping[str, str] | None = None, warm: tuple[str, ...] = ()
) -> int:
    """``aigw-secrets ARGV`` in a child forked from this (warm) process, killed (exit 137) right after
    journal step ``step`` as ``AIGW_SECRETS_CRASH_AT`` does; returns the child's exit code. The
    stand-ins keep serving in this process, so they see the child's calls. ``warm``: modules to
    import here first (besides ``WARM``), so that every child does not import them again."""
    _warm(warm)
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 70
        # A tracer inherited from this process (coverage.py) would only slow the child down: it ends
        # with os._exit, so nothing it measured is ever saved.
        sys.settrace(None)
        threading.settrace(None)
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - the child ends with os._exit
            os.chdir(repo)
            os.environ.update(env or {})
            os.environ["AIGW_SECRETS_CRASH_AT"] = step
            from aigw_secrets.entry import main

            code = main(argv)
        except BaseException:  # noqa: BLE001 - whatever happens, the child must not run pytest on
            code = 70
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


class Stopped:
    """``aigw-secrets ARGV`` in a child forked from this (warm) process, stopped at a point of the
    test's choosing (see ``run_until``): ``kill`` sends it SIGKILL there, ``release`` lets it go on."""

    def __init__(self, pid: int, reached: bool, hold: int) -> None:
        self.pid, self.reached, self._hold = pid, reached, hold
        self.exit_code: int | None = None

    def _wait(self) -> int:
        if self.exit_code is None:
            _, status = os.waitpid(self.pid, 0)
            self.exit_code = os.waitstatus_to_exitcode(status)
            os.close(self._hold)
        return self.exit_code

    def kill(self) -> int:
        """SIGKILL (a real ``kill -9``: no handler, no cleanup); its exit code (-9) or, when it had
        already finished without reaching the point, that exit code."""
        if self.exit_code is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return self._wait()

    def release(self) -> int:
        """Let it run on from the point to its end; its exit code."""
        if self.exit_code is None:
            os.write(self._hold, b"go")
        return self._wait()


def run_until(
    repo: Path,
    argv: list[str],
    arm: Callable[[Callable[[], None]], None],
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
    warm: tuple[str, ...] = (),
) -> Stopped:
    """Start ``aigw-secrets ARGV`` in a child forked from this process and wait (an event, no
    sleep) until it reaches a point: ``arm(stop)`` runs in the child before the command and puts
    calls to ``stop()`` where the child shall stop (by patching the child's functions; the parent's
    are untouched). ``reached`` is False when the child ended without reaching the point. ``warm``:
    modules to import here first (besides ``WARM``), so that every child does not import them again."""
    import select

    _warm(warm)
    ready_r, ready_w = os.pipe()
    hold_r, hold_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 70
        # A tracer inherited from this process (coverage.py) would only slow the child down: it ends
        # with os._exit, so nothing it measured is ever saved.
        sys.settrace(None)
        threading.settrace(None)
        try:
            os.close(ready_r)
            os.close(hold_w)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - the child ends with os._exit
            os.chdir(repo)
            os.environ.update(env or {})

            def stop() -> None:
                os.write(ready_w, b"!")
                os.read(hold_r, 2)  # until the parent releases it (or kills it)

            arm(stop)
            from aigw_secrets.entry import main

            code = main(argv)
        except BaseException:  # noqa: BLE001 - whatever happens, the child must not run pytest on
            code = 70
        finally:
            os._exit(code)
    os.close(ready_w)
    os.close(hold_r)
    try:
        readable, _, _ = select.select([ready_r], [], [], timeout)
        if not readable:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(hold_w)
            raise AssertionError(f"aigw-secrets {' '.join(argv)} neither reached the point nor ended in {timeout}s")
        reached = os.read(ready_r, 1) == b"!"  # b"": it ended without reaching the point
    finally:
        os.close(ready_r)
    return Stopped(pid, reached, hold_w)


def kill_then_resume(repo: Path, argv: list[str], step: str) -> subprocess.CompletedProcess[str]:
    """Run ``aigw-secrets ARGV`` killed (exit 137) right after journal step ``step`` (a forked
    child), then again to the end in this process; returns the resumed run."""
    assert run_killed(repo, argv, step) == 137
    return run_cli(repo, argv)


def bare_remote(repo: Path, where: Path) -> Path:
    """Commit everything in ``repo`` and push it to a new bare repository ``where/remote.git`` (origin)."""
    bare = where / "remote.git"
    git(where, "init", "-q", "--bare", str(bare))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "initial")
    git(repo, "remote", "add", "origin", str(bare))
    git(repo, "push", "-q", "origin", "HEAD")
    return bare


def at_a_terminal(argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` with its stdin and stderr on a pseudo-terminal (an operator typing it), stdout
    captured; what it writes to the terminal is returned as stderr."""
    import pty

    leader, follower = pty.openpty()
    try:
        proc = subprocess.run(
            argv, cwd=cwd, env=env, stdin=follower, stdout=subprocess.PIPE, stderr=follower, text=True, check=False
        )
        os.close(follower)
        follower = -1
        chunks = []
        while True:
            try:
                data = os.read(leader, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        return subprocess.CompletedProcess(
            argv, proc.returncode, proc.stdout, b"".join(chunks).decode("utf-8", "replace")
        )
    finally:
        if follower >= 0:
            os.close(follower)
        os.close(leader)
