"""Rotation state on disk: the repository lock and the journals, under ``<repo>/.aigw/`` (git-ignored).

Journals never hold a credential: a credential rotation records where the new value comes from and
a fingerprint of it, and re-reads the source when it resumes. Every write is atomic.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from aigw_secrets.errors import AigwError, ExitCode
from aigw_secrets.util import atomic_write, now, parse_stamp, stamp

__all__ = ["Journal", "Locked", "now", "parse_stamp", "repo_lock", "stamp", "state_dir"]

STATE_DIR = ".aigw"


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


# Each kind of journal has a table: state -> the states that may follow it ("" = a new journal).
# A step outside the table is a bug, never something to write down.
CREDENTIAL: dict[str, tuple[str, ...]] = {
    "": ("planned",),
    "planned": ("obtained", "aborted"),
    "obtained": ("obtained", "validated", "aborted"),  # obtained again: the source changed since a crash
    "validated": ("obtained", "encrypted", "complete", "aborted"),
    "encrypted": ("obtained", "encrypted", "written", "complete"),
    "written": ("obtained", "complete"),
}
DATA_KEY: dict[str, tuple[str, ...]] = {"": ("planned",), "planned": ("complete", "failed")}
FINAL = ("complete", "aborted")


class Journal:
    """A JSON record of one operation; each step is written before it is taken."""

    def __init__(self, root: Path, name: str, transitions: dict[str, tuple[str, ...]]) -> None:
        self.path = state_dir(root) / f"{name}.json"
        self.transitions = transitions
        self.data: dict[str, Any] = {}
        if self.path.exists():
            try:
                self.data = json.loads(self.path.read_text("utf-8"))
            except (OSError, ValueError):
                self.data = {}  # unreadable journal: start over (every step is idempotent)

    @property
    def active(self) -> bool:
        return bool(self.data) and self.data.get("state") not in FINAL

    def save(self, **changes: Any) -> None:
        self.data.update(changes)
        self.data["updated_at"] = stamp()
        atomic_write(self.path, (json.dumps(self.data, indent=2, sort_keys=True) + "\n").encode(), mode=0o600)

    def step(self, state: str, **changes: Any) -> None:
        current = str(self.data.get("state") or "") if self.active else ""
        if state not in self.transitions.get(current, ()) and state != "aborted":
            raise AigwError(f"internal: journal {self.path.name} cannot go from {current or 'new'} to {state}")
        history = list(self.data.get("history", []))
        history.append({"state": state, "at": stamp()})
        self.save(state=state, history=history, **changes)
        crash_point(state)
