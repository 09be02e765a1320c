"""Rotation state on disk: the repository lock and the journals, under ``<repo>/.aigw/`` (git-ignored).

Journals never hold a credential: a credential rotation records where the new value comes from and
a fingerprint of it, and re-reads the source when it resumes. Every write is atomic.
"""

from __future__ import annotations

import datetime as dt
import errno
import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from aigw_secrets.errors import AigwError, ExitCode
from aigw_secrets.util import atomic_write

STATE_DIR = ".aigw"


def now() -> dt.datetime:
    fake = os.environ.get("AIGW_SECRETS_NOW")  # tests and dry runs: pretend it is this time
    return dt.datetime.fromisoformat(fake.replace("Z", "+00:00")) if fake else dt.datetime.now(dt.UTC).replace(microsecond=0)


def stamp(when: dt.datetime | None = None) -> str:
    return (when or now()).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_stamp(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        return dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None


def state_dir(root: Path) -> Path:
    d = root / STATE_DIR
    d.mkdir(mode=0o700, exist_ok=True)
    ignore = d / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n")  # never committed, whatever the repository's .gitignore says
    return d


class Locked(AigwError):
    code = ExitCode.LOCKED


@contextmanager
def repo_lock(root: Path) -> Iterator[None]:
    """One rotation per repository at a time; a second run fails at once (exit 75)."""
    path = state_dir(root) / "lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                raise Locked(f"{root}: another aigw-secrets rotation holds the lock ({path}); try again later") from None
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)  # closing releases the flock, also when the process is killed


def crash_point(step: str) -> None:
    """Test hook: AIGW_SECRETS_CRASH_AT=<step> kills the process right after that step is journaled."""
    if os.environ.get("AIGW_SECRETS_CRASH_AT") == step:
        os._exit(137)


class Journal:
    """A JSON record of one operation; each step is written before it is taken."""

    def __init__(self, root: Path, name: str) -> None:
        self.path = state_dir(root) / f"{name}.json"
        self.data: dict[str, Any] = {}
        if self.path.exists():
            try:
                self.data = json.loads(self.path.read_text("utf-8"))
            except (OSError, ValueError):
                self.data = {}  # unreadable journal: start over (every step is idempotent)

    @property
    def active(self) -> bool:
        return bool(self.data) and self.data.get("state") not in ("complete", "aborted")

    def save(self, **changes: Any) -> None:
        self.data.update(changes)
        self.data["updated_at"] = stamp()
        atomic_write(self.path, (json.dumps(self.data, indent=2, sort_keys=True) + "\n").encode(), mode=0o600)

    def step(self, state: str, **changes: Any) -> None:
        history = list(self.data.get("history", []))
        history.append({"state": state, "at": stamp()})
        self.save(state=state, history=history, **changes)
        crash_point(state)
