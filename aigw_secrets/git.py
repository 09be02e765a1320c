"""Every git call, with one error policy: a failing git command raises ``GitError`` naming the
subcommand and git's first line of stderr. Only the standard library is imported (the hook's
start-up path runs through here), and ``subprocess`` only when git is really run.

No git call can wait for a person or hang a hook or a cron job: git never prompts (no terminal
prompt, askpass programs that answer nothing, no editor), its standard input is empty, it runs in a
session of its own without a controlling terminal (so a commit hook or a GPG passphrase prompt
cannot read one), and every call has a deadline (``AIGW_SECRETS_GIT_TIMEOUT`` seconds, default
600) after which git and whatever it started are killed and the run stops with a one-line error.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence

from aigw_secrets.errors import ConfigError
from aigw_secrets.lean import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover - for the type checker only
    import subprocess
    from pathlib import Path
    from typing import IO

    StrPath = str | os.PathLike[str]

DEFAULT_TIMEOUT = 600.0


class GitError(ConfigError):
    """git is missing, or a git command failed or did not finish in time."""


def toplevel(start: Path) -> Path | None:
    """The work tree that contains ``start`` (a ``.git`` directory or file), without running git."""
    from pathlib import Path

    found = work_tree(start)
    return None if found is None else Path(found)


def work_tree(start: StrPath) -> str | None:
    """``toplevel`` as a string (os.path only: the scan hook never imports pathlib)."""
    directory = os.path.realpath(start)
    while True:
        if os.path.exists(os.path.join(directory, ".git")):
            return directory
        parent = os.path.dirname(directory)
        if parent == directory:
            return None
        directory = parent


def require_toplevel(start: Path) -> Path:
    found = toplevel(start)
    if found is None:
        raise GitError(f"{start}: not inside a git repository")
    return found


def _env() -> dict[str, str]:
    # Never let git, ssh or a credential helper ask for anything (credentials, an editor) in a hook
    # or a cron job: an askpass program that answers nothing makes them fail at once instead.
    # Nor see the bot's admin credentials: git runs hooks, credential helpers, ssh.
    from aigw_secrets.adminenv import scrubbed

    return {
        **scrubbed(),
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ASKPASS": "false",
        "SSH_ASKPASS": "false",
        "SSH_ASKPASS_REQUIRE": "never",
        "GCM_INTERACTIVE": "never",
        "GIT_EDITOR": "false",
    }


def timeout() -> float:
    """Seconds one git call may take: ``$AIGW_SECRETS_GIT_TIMEOUT``, default 600."""
    raw = os.environ.get("AIGW_SECRETS_GIT_TIMEOUT", "")
    try:
        value = float(raw) if raw else DEFAULT_TIMEOUT
    except ValueError:
        raise ConfigError(f"AIGW_SECRETS_GIT_TIMEOUT={raw!r} is not a number of seconds") from None
    if not 0 < value < float("inf"):
        raise ConfigError(f"AIGW_SECRETS_GIT_TIMEOUT={raw!r} must be a positive number of seconds")
    return value


def _subcommand(args: Sequence[str]) -> str:
    """``commit`` for ``-c user.name=x commit -m ...``: the word to name in a message."""
    rest = list(args)
    while len(rest) > 1 and rest[0] == "-c":
        rest = rest[2:]
    return rest[0] if rest else "?"


def _late(args: Sequence[str], root: StrPath, seconds: float) -> GitError:
    sub = _subcommand(args)
    hint = ": a commit hook still running, or a GPG passphrase prompt (commit.gpgsign)?" if sub == "commit" else ""
    return GitError(
        f"git {sub} did not finish within {seconds:g}s in {root}{hint}; it was stopped "
        "(AIGW_SECRETS_GIT_TIMEOUT sets the limit)"
    )


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    # util (datetime, shutil, tempfile, ...) is loaded only when a git call must be stopped: the
    # pre-commit hook runs git on its start-up path
    from aigw_secrets.util import kill_group

    kill_group(proc)


def run(root: StrPath, *args: str, stdin: bytes | None = None) -> bytes:
    """``git ARGS`` in ``root``; stdout, or GitError with git's first stderr line."""
    seconds = timeout()
    child = _spawn(root, args)
    try:
        stdout, stderr = _communicate(child, stdin or b"", time.monotonic() + seconds)
        returncode = _wait(child.pid, time.monotonic() + seconds)
    except TimeoutError:
        _kill(child)
        raise _late(args, root, seconds) from None
    except BaseException:
        _kill(child)
        raise
    if returncode != 0:
        first = stderr.decode("utf-8", "replace").strip().splitlines()[:1]
        raise GitError(f"git {_subcommand(args)} failed in {root}: {first[0] if first else f'exit code {returncode}'}")
    return stdout


# ``run`` starts git with os.posix_spawn and reads it with poll(2), not with subprocess: importing
# subprocess (signal, selectors, threading, ...) costs the pre-commit hook ~5 ms, a seventh of its
# run. What subprocess.Popen(cwd=root, start_new_session=True, stdin/stdout/stderr=PIPE) did, it
# does: git runs in ``root`` (``-C``), in a session of its own, with SIGPIPE and SIGXFSZ at their
# defaults, the three pipes only (every other descriptor of ours is close-on-exec).


class _Child:
    def __init__(self, pid: int, stdin: int, stdout: int, stderr: int) -> None:
        self.pid, self.stdin, self.stdout, self.stderr = pid, stdin, stdout, stderr
        self.open = {stdin, stdout, stderr}

    def close(self, fd: int) -> None:
        if fd in self.open:
            self.open.discard(fd)
            os.close(fd)


def _spawn(root: StrPath, args: Sequence[str]) -> _Child:
    if TYPE_CHECKING:  # pragma: no cover - for the type checker only
        import signal as _signal
    else:
        import _signal  # the built-in half of signal, loaded at start-up
    where = os.fspath(root)
    if not os.path.isdir(where):
        import errno

        reason = os.strerror(errno.ENOTDIR if os.path.exists(where) else errno.ENOENT)
        raise GitError(f"git {_subcommand(args)}: cannot run in {root} ({reason})")
    pipes = [os.pipe() for _ in range(3)]  # close-on-exec; dup2 gives the child its own 0, 1, 2
    ours = (pipes[0][1], pipes[1][0], pipes[2][0])
    theirs = (pipes[0][0], pipes[1][1], pipes[2][1])
    failure: OSError | None = None
    try:
        pid = os.posix_spawnp(
            "git",
            ["git", "-C", where, *args],
            _env(),
            file_actions=[(os.POSIX_SPAWN_DUP2, fd, n) for n, fd in enumerate(theirs)],
            setsid=True,
            setsigdef=(_signal.SIGPIPE, _signal.SIGXFSZ),
        )
    except OSError as exc:
        failure = exc
    for fd in theirs:
        os.close(fd)
    if failure is not None:
        for fd in ours:
            os.close(fd)
        if isinstance(failure, FileNotFoundError):
            raise GitError("git not found; install git") from None
        raise GitError(f"git {_subcommand(args)}: cannot run in {root} ({failure.strerror})") from None
    return _Child(pid, *ours)


def _communicate(child: _Child, data: bytes, deadline: float) -> tuple[bytes, bytes]:
    """Write ``data`` to git's stdin and read its stdout and stderr to their ends, by ``deadline``
    (TimeoutError past it)."""
    import select

    chunks: dict[int, list[bytes]] = {child.stdout: [], child.stderr: []}
    poller = select.poll()
    for fd in chunks:
        poller.register(fd, select.POLLIN)
    view, offset = memoryview(data), 0
    if data:
        os.set_blocking(child.stdin, False)
        poller.register(child.stdin, select.POLLOUT)
    else:
        child.close(child.stdin)  # an empty stdin: git reads its end at once
    while child.open:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        for fd, _event in poller.poll(remaining * 1000):
            if fd == child.stdin:
                try:
                    offset += os.write(fd, view[offset : offset + select.PIPE_BUF])
                except BlockingIOError:  # pragma: no cover - poll said a pipe buffer's worth fits
                    continue
                except BrokenPipeError:
                    offset = len(view)  # git reads no more: what it answered stands
                if offset >= len(view):
                    poller.unregister(fd)
                    child.close(fd)
                continue
            piece = os.read(fd, 1 << 16)
            if piece:
                chunks[fd].append(piece)
            else:
                poller.unregister(fd)
                child.close(fd)
    return b"".join(chunks[child.stdout]), b"".join(chunks[child.stderr])


def _wait(pid: int, deadline: float) -> int:
    """git's exit code; it closed its pipes, so it is exiting (TimeoutError if it is not done by
    ``deadline``)."""
    delay = 0.0002
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() >= deadline:
            raise TimeoutError
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def _kill(child: _Child) -> None:
    """Kill git and everything it started (its session), reap it, close our ends."""
    import signal

    try:
        os.killpg(child.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        os.waitpid(child.pid, 0)
    except ChildProcessError:
        pass
    for fd in list(child.open):
        child.close(fd)


def succeeds(root: Path, *args: str) -> bool:
    """Whether ``git ARGS`` exits 0 (for yes/no questions such as check-ignore)."""
    try:
        run(root, *args)
    except GitError:
        return False
    return True


def ls_files(root: Path, *patterns: str, others: bool = False) -> list[str]:
    """Tracked files (and, with ``others``, untracked files that are not ignored), NUL-safe."""
    args = ["ls-files", "-z", "--cached"]
    if others:
        args += ["--others", "--exclude-standard"]
    out = run(root, *args, "--", *patterns)
    return [name for name in out.decode("utf-8", "surrogateescape").split("\0") if name]


def index_entries(root: StrPath, names: Sequence[str] = ()) -> dict[str, tuple[str, str]]:
    """name -> (mode, blob sha) for index entries (all of them when ``names`` is empty)."""
    out = run(root, "ls-files", "-s", "-z", "--", *names).decode("utf-8", "surrogateescape")
    entries = {}
    for entry in out.split("\0"):
        if "\t" in entry:
            meta, name = entry.split("\t", 1)
            mode, sha, _stage = meta.split(" ")
            entries[name] = (mode, sha)
    return entries


class LooseObjects:
    """The repository's loose objects (``git add`` writes each staged file as one), read without
    starting git: the pre-commit hook reads its few blobs here instead of through a ``cat-file``
    process. A blob is returned only when its bytes hash to the id asked for, so what is read is
    exactly what git would give; anything else (packed, absent, unreadable, not a blob, larger than
    the limit) is None, for ``cat_file_batch`` to answer."""

    def __init__(self, root: StrPath) -> None:
        self.dir = _objects_dir(os.fspath(root))

    def _path(self, sha: str) -> str | None:
        if self.dir is None or len(sha) not in (40, 64) or not all(c in "0123456789abcdef" for c in sha):
            return None
        return os.path.join(self.dir, sha[:2], sha[2:])

    def has(self, sha: str) -> bool:
        path = self._path(sha)
        return path is not None and os.path.isfile(path)

    def read(self, sha: str, limit: int) -> bytes | None:
        import zlib

        if TYPE_CHECKING:  # pragma: no cover - for the type checker only
            from hashlib import sha1, sha256
        else:
            try:  # the built-in modules: hashlib (OpenSSL) costs a hook ~3 ms to import
                from _sha1 import sha1
                from _sha256 import sha256
            except ImportError:  # pragma: no cover - an interpreter built without them
                from hashlib import sha1, sha256
        path = self._path(sha)
        if path is None:
            return None
        try:
            with open(path, "rb") as fh:
                raw = fh.read()
            inflate = zlib.decompressobj()
            data = inflate.decompress(raw, limit + 32)  # "blob <size>\0" and at most limit bytes
        except (OSError, zlib.error):
            return None
        if not inflate.eof:
            return None  # larger than the limit (or damaged)
        header, nul, content = data.partition(b"\0")
        if not nul or header != b"blob %d" % len(content) or len(content) > limit:
            return None
        return content if (sha1 if len(sha) == 40 else sha256)(data).hexdigest() == sha else None


def _objects_dir(root: str) -> str | None:
    """Where git keeps the objects of the repository at ``root`` (``$GIT_OBJECT_DIRECTORY``, else the
    common directory's ``objects``: a linked work tree's ``.git`` file points at its own git
    directory, whose ``commondir`` names the shared one). A wrong guess costs only speed: every
    object read there is checked against its id."""
    explicit = os.environ.get("GIT_OBJECT_DIRECTORY")
    if explicit:
        return os.path.join(root, explicit)
    gitdir = os.path.join(root, os.environ.get("GIT_DIR") or ".git")
    try:
        if os.path.isfile(gitdir):
            with open(gitdir, encoding="utf-8") as fh:
                line = fh.readline().rstrip("\n")
            if not line.startswith("gitdir: "):
                return None
            gitdir = os.path.join(os.path.dirname(gitdir), line[len("gitdir: ") :])
        common = os.environ.get("GIT_COMMON_DIR")
        if common:
            gitdir = os.path.join(root, common)
        elif os.path.isfile(os.path.join(gitdir, "commondir")):
            with open(os.path.join(gitdir, "commondir"), encoding="utf-8") as fh:
                gitdir = os.path.join(gitdir, fh.read().strip())
    except (OSError, UnicodeDecodeError):
        return None
    return os.path.join(gitdir, "objects")


def cat_file_batch(root: StrPath, specs: Sequence[str]) -> Iterator[tuple[str, str, bytes | None]]:
    """(spec, object type or "missing", content) for each spec, read through one ``cat-file --batch``.

    ``--batch`` takes one spec per line: pass blob SHAs, never paths (a path may hold a newline).
    """
    if not specs:
        return
    import subprocess
    import threading

    seconds = timeout()
    try:
        proc = subprocess.Popen(
            ["git", "cat-file", "--batch"],
            cwd=root,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=_env(),
            start_new_session=True,
        )
    except FileNotFoundError:
        raise GitError("git not found; install git") from None
    stdin, stdout = proc.stdin, proc.stdout
    if stdin is None or stdout is None:  # pragma: no cover - both are PIPEs
        raise GitError("git cat-file: no pipes")
    writer = threading.Thread(target=_feed, args=(stdin, specs), daemon=True)
    silence = _Silence(proc, seconds)
    writer.start()
    finished = False
    try:
        for spec in specs:
            parts = stdout.readline().decode("utf-8", "replace").rstrip("\n").split(" ")
            silence.heard(root)
            if len(parts) != 3 or parts[1] == "missing":
                yield spec, "missing", None
                continue
            content = stdout.read(int(parts[2]))
            stdout.read(1)  # the newline after each object
            silence.heard(root)
            yield spec, parts[1], content
        finished = True
    finally:
        silence.done.set()
        if not finished:
            _kill_group(proc)  # stopped early: git must not wait to write the rest
        writer.join()
        stdout.close()
        proc.wait()


def _feed(stdin: IO[bytes], specs: Sequence[str]) -> None:
    """Write the specs to ``cat-file --batch``, one a line (on a thread: git answers as it reads)."""
    try:
        for spec in specs:
            stdin.write(spec.encode("utf-8", "surrogateescape") + b"\n")
    except (BrokenPipeError, ValueError):
        pass  # git was stopped: the reader reports it
    finally:
        try:
            stdin.close()
        except BrokenPipeError:
            pass


class _Silence:
    """A deadline on silence, not on the whole read (a history holds any number of objects): when git
    answers nothing for ``seconds``, it is killed, and the next ``heard`` raises."""

    def __init__(self, proc: subprocess.Popen[bytes], seconds: float) -> None:
        self.proc, self.seconds = proc, seconds
        import threading

        self.last = time.monotonic()
        self.done = threading.Event()
        self.stalled = threading.Event()
        threading.Thread(target=self._watch, daemon=True).start()

    def heard(self, root: StrPath) -> None:
        """Git answered: the deadline starts again (or the read ends, if git was stopped for silence)."""
        self.last = time.monotonic()
        if self.stalled.is_set():
            raise _late(["cat-file"], root, self.seconds)

    def _watch(self) -> None:
        import signal

        while not self.done.wait(max(0.0, self.last + self.seconds - time.monotonic())):
            if time.monotonic() - self.last >= self.seconds:
                self.stalled.set()
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)  # the read sees the end of the pipe
                except (ProcessLookupError, PermissionError):
                    pass
                return


def commit(root: Path, message: str, files: Sequence[Path]) -> str:
    """Stage ``files`` and commit them (even when nothing changed); returns the new HEAD.

    The repository's hooks never run: they are code any contributor can merge, and the tool commits while it
    holds private keys and admin credentials (``core.hooksPath=/dev/null`` covers hooks ``--no-verify`` does not).
    """
    run(root, "add", "--", *(str(f) for f in files))
    who = [
        "-c", "core.hooksPath=/dev/null",
        "-c", f"user.name={os.environ.get('GIT_AUTHOR_NAME', 'aigw-secrets')}",
        "-c", f"user.email={os.environ.get('GIT_AUTHOR_EMAIL', 'aigw-secrets@localhost')}",
    ]  # fmt: skip
    run(root, *who, "commit", "--quiet", "--no-verify", "--allow-empty", "-m", message)
    return run(root, "rev-parse", "HEAD").decode().strip()


def is_tracked(root: Path, rel: str) -> bool:
    return succeeds(root, "ls-files", "--error-unmatch", "--", rel)


def tracked_file(path: Path) -> bool:
    """Whether ``path``, or the file it leads to through symlinks, is tracked in the git work tree that
    holds it (a credential file named from the environment must not be)."""
    for candidate in (path.absolute(), path.resolve()):
        directory = candidate.parent
        top = toplevel(directory) if directory.is_dir() else None
        if top is None:
            continue
        try:
            rel = (directory.resolve() / candidate.name).relative_to(top)
        except ValueError:
            continue
        if is_tracked(top, rel.as_posix()):
            return True
    return False


def is_ignored(root: Path, rel: str) -> bool:
    return succeeds(root, "check-ignore", "-q", "--no-index", "--", rel)


def hooks_dir(root: Path) -> Path:
    from pathlib import Path

    hooks = Path(run(root, "rev-parse", "--git-path", "hooks").decode().strip())
    return hooks if hooks.is_absolute() else root / hooks


def ignore(root: Path, key: Path, *, entry: str | None = None) -> None:
    """Add the key file (or ``entry``, a pattern) to .gitignore when it lives inside the repository
    and git does not ignore it already. Call it BEFORE the private key is written."""
    try:
        rel = key.resolve().relative_to(root.resolve())
    except ValueError:
        return
    gitignore = root / ".gitignore"
    entry = entry or "/" + rel.as_posix()
    lines = gitignore.read_text("utf-8").splitlines() if gitignore.exists() else []
    if entry in lines or rel.as_posix() in lines:
        return
    if entry.startswith("/") and (root / ".git").exists() and is_ignored(root, rel.as_posix()):
        return
    body = "\n".join([*lines, "# age private key (aigw-secrets): never commit it", entry]) + "\n"
    from aigw_secrets import output
    from aigw_secrets.util import atomic_write

    atomic_write(gitignore, body.encode())
    output.status("updated", gitignore, f"ignores {entry}")
