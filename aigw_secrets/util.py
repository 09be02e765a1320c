"""Running external programs (``run``), atomic file writes, optional libraries, time."""

from __future__ import annotations

import datetime as dt
import importlib
import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from aigw_secrets import adminenv
from aigw_secrets.errors import MissingExtra, OutputError, ToolMissingError


class Result(NamedTuple):
    returncode: int
    stdout: bytes
    stderr: bytes

    def __repr__(self) -> str:  # never show the streams, whatever prints this object
        return (
            f"Result(returncode={self.returncode}, stdout=<{len(self.stdout)} bytes>, stderr=<{len(self.stderr)} "
            "bytes>)"
        )


def run(
    argv: Sequence[str],
    *,
    stdin: bytes | None = None,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = 120,
    own_group: bool = False,
) -> Result:
    """Run ``argv`` and capture both streams as bytes; never raises on a non-zero exit.

    The subprocess choke point: the stdout of ``sops decrypt`` is a secret, and sops's stderr can
    quote a plaintext value ("Input string <value> does not match sops' data format"), so neither
    stream may ever end up in an exception message, a log line or a repr (``Result`` shows sizes).

    ``own_group`` starts the program in a new process group and, when it times out or the run is
    interrupted, kills the whole group: a user's command (a password manager wrapper) may fork
    children that would otherwise outlive it and keep the pipes open.
    """
    try:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=adminenv.scrubbed(env),  # no child sees the bot's admin credentials
            start_new_session=own_group,
        )
    except FileNotFoundError:
        raise ToolMissingError(f"{argv[0]}: executable not found") from None
    except PermissionError:
        raise ToolMissingError(f"{argv[0]}: not executable") from None
    except OSError as exc:
        raise ToolMissingError(f"{argv[0]}: cannot run ({exc.strerror or type(exc).__name__})") from None
    try:
        stdout, stderr = proc.communicate(stdin if stdin is not None else b"", timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill(proc, own_group)
        raise ToolMissingError(f"{Path(argv[0]).name} did not finish within {timeout:.0f}s") from None
    except BaseException:
        _kill(proc, own_group)
        raise
    return Result(proc.returncode, stdout, stderr)


def _kill(proc: subprocess.Popen[bytes], group: bool) -> None:
    import signal

    try:
        if group:
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()  # not communicate(): a grandchild outside the group may still hold the pipes
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            try:
                stream.close()
            except OSError:
                pass  # closing stdin flushes what a writer left in its buffer, into a pipe nobody reads


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Kill a program started with ``start_new_session=True`` and everything it started."""
    _kill(proc, True)


def which(name: str) -> str | None:
    return shutil.which(name)


_T = TypeVar("_T")
_R = TypeVar("_R")


def workers() -> int:
    """Threads for work that is mostly short sops processes: a few more than cores keeps the cores
    busy while processes start."""
    return max(2, 2 * (os.cpu_count() or 1))


def parallel_map(fn: Callable[[_T], _R], items: Iterable[_T], *, max_workers: int | None = None) -> Iterator[_R]:
    """``map`` over a thread pool, results in input order."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=max_workers or workers()) as pool:
        yield from pool.map(fn, items)


def private_dir() -> Path:
    """A 0700 directory for plaintext, on tmpfs (/dev/shm) where there is one.

    Its name carries the creating process id, so a later run wipes what a killed one left
    (``sweep_stale``): a ``kill -9`` runs no cleanup handler.
    """
    shm = Path("/dev/shm")  # noqa: S108 - mkdtemp makes a private 0700 directory inside it
    base = Path(str(shm) if shm.is_dir() and os.access(shm, os.W_OK | os.X_OK) else tempfile.gettempdir())
    sweep_stale(base, "aigw-edit-")
    return Path(tempfile.mkdtemp(prefix=f"aigw-edit-{os.getpid()}-", dir=base))


def sweep_stale(directory: Path, prefix: str) -> int:
    """Remove ``<prefix><pid>-*`` entries (files or scratch directories) whose process is gone.

    Only our own (same owner) and only of dead processes: a live run's files are never touched.
    """
    removed = 0
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return 0
    for entry in entries:
        if not entry.name.startswith(prefix):
            continue
        pid = entry.name[len(prefix) :].split("-", 1)[0]
        try:
            if not pid.isdigit() or entry.stat(follow_symlinks=False).st_uid != os.getuid() or _alive(int(pid)):
                continue
            if entry.is_dir(follow_symlinks=False):
                wipe(Path(entry.path))
            else:
                os.unlink(entry.path)
            removed += 1
        except OSError:
            continue
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def wipe(directory: Path) -> None:
    """Overwrite every file in ``directory`` with zeros, then remove the directory."""
    for path in directory.glob("*"):
        try:
            with path.open("r+b") as fh:
                fh.write(b"\0" * path.stat().st_size)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError:
            pass
    shutil.rmtree(directory, ignore_errors=True)


def file_kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISLNK, "symlink"),
        (stat.S_ISDIR, "directory"),
        (stat.S_ISFIFO, "named pipe"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISCHR, "device"),
        (stat.S_ISBLK, "device"),
    ):
        if test(mode):
            return name
    return "regular file" if stat.S_ISREG(mode) else "special file"


def require_regular(path: Path) -> os.stat_result | None:
    """The ``lstat`` of ``path`` (None when absent); refuses anything but a regular file.

    Every writer goes through here, so a symlink planted where a file is expected (pointing out of
    the repository, or at a device or a pipe) is never written through or replaced.
    """
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise OutputError(f"{path}: cannot write ({exc.strerror or exc})") from None
    if not stat.S_ISREG(st.st_mode):
        raise OutputError(f"{path}: is a {file_kind(st.st_mode)}, not a regular file; refusing to write it")
    return st


TMP_PREFIX = ".aigw-"  # staged files: .aigw-<pid>-<random>.tmp beside their target


def stage(path: Path, data: bytes, *, mode: int | None = None) -> Path:
    """Write ``data`` to a fsynced temp file beside ``path`` (``.aigw-*.tmp``); ``commit`` puts it in place."""
    directory = path.parent
    try:
        current = require_regular(path)
        directory.mkdir(parents=True, exist_ok=True)
        if mode is None:
            mode = current.st_mode & 0o7777 if current else 0o644
        fd, tmp = tempfile.mkstemp(prefix=f"{TMP_PREFIX}{os.getpid()}-", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write ({exc.strerror or exc})") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), mode)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        discard(Path(tmp))
        raise OutputError(f"{path}: cannot write ({exc.strerror or exc})") from None
    return Path(tmp)


def commit(tmp: Path, path: Path) -> None:
    """Rename a staged file over ``path`` and make the rename durable."""
    try:
        require_regular(path)
        os.replace(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write ({exc.strerror or exc})") from None


def discard(tmp: Path) -> None:
    try:
        os.unlink(tmp)
    except OSError:
        pass


def atomic_write(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Replace ``path`` with ``data``: temp file in the same directory, fsync, rename, fsync dir.

    A reader sees the old content or the new one, never a mix; a crash leaves at most a stray
    ``.aigw-*.tmp`` file, never a truncated target. The existing file's mode is kept unless
    ``mode`` is given. Anything but a regular file at ``path`` is refused (``require_regular``).
    """
    tmp = stage(path, data, mode=mode)
    try:
        commit(tmp, path)
    except BaseException:
        discard(tmp)
        raise


def create_private_file(path: Path, data: bytes) -> None:
    """Create ``path`` with mode 0600; refuse to overwrite an existing file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise OutputError(f"{path}: already exists; refusing to overwrite a key file") from None
    except OSError as exc:
        raise OutputError(f"{path}: cannot create ({exc.strerror or exc})") from None
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


# --- time (AIGW_SECRETS_NOW lets tests and dry runs pretend it is another time) ---------------------


def now() -> dt.datetime:
    fake = os.environ.get("AIGW_SECRETS_NOW")  # tests and dry runs: pretend it is this time
    return (
        dt.datetime.fromisoformat(fake.replace("Z", "+00:00"))
        if fake
        else dt.datetime.now(dt.UTC).replace(microsecond=0)
    )


def stamp(when: dt.datetime | None = None) -> str:
    return (when or now()).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_stamp(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        when = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)  # written without a zone: UTC, as Kubernetes


def lazy(module: str, extra: str) -> Any:
    """Import an optional client library, or fail in one line naming the extra that brings it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtra(f"{module} is not installed: pip install 'aigw-secrets[{extra}]'") from None


def confined(root: Path, path: Path) -> Path:
    """``path`` if it stays inside the repository ``root`` once resolved: no ``..`` out of it and no
    symlink on the way (a directory a commit replaced by a symlink). ConfigError otherwise."""
    from aigw_secrets.errors import ConfigError

    top = root.resolve()
    full = path if path.is_absolute() else root / path
    try:
        rel = full.relative_to(root) if full.is_relative_to(root) else full.relative_to(top)
    except ValueError:
        raise ConfigError(f"{path}: outside the repository {top}; refusing to write there") from None
    if ".." in rel.parts:
        raise ConfigError(f"{rel}: leads out of the repository (..); refusing to write there")
    walk = top
    for part in rel.parts:
        walk = walk / part
        if walk.is_symlink():
            raise ConfigError(
                f"{walk.relative_to(top)}: is a symlink; aigw-secrets writes only inside the repository, "
                "never through one"
            )
    if not full.resolve().is_relative_to(top):
        raise ConfigError(f"{rel}: resolves outside the repository; refusing to write there")
    return top / rel
