"""Scratch places for sops work (ciphertext copies; the plaintext of ``edit``) and their cleanup.

Every name carries the id of the process that made it (``aigw-<pid>-...``, ``aigw-edit-<pid>-...``,
``.aigw-<pid>-....tmp``), so that a later run can tell what a killed run left behind (``kill -9``
runs no cleanup) and remove exactly that: entries whose process no longer exists.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

from aigw_secrets.util import wipe

_OWNED = re.compile(r"^\.?aigw-(?:[a-z]+-)?(\d+)-")
_SHM = Path("/dev/shm")  # noqa: S108 - mkdtemp makes a private 0700 directory inside it
_swept = False


def make_dir(kind: str = "", base: Path | None = None) -> Path:
    """A new private (0700) directory ``aigw-[kind-]<pid>-XXXX`` in ``base`` (default: $TMPDIR)."""
    return Path(tempfile.mkdtemp(prefix=f"aigw-{kind + '-' if kind else ''}{os.getpid()}-", dir=base))


def plaintext_dir() -> Path:
    """A private directory for plaintext, on tmpfs (/dev/shm) where there is one."""
    shm = _SHM if _SHM.is_dir() and os.access(_SHM, os.W_OK | os.X_OK) else None
    return make_dir("edit", shm)


def _dead(pid: int) -> bool:
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # exists, owned by someone else
    return False


def sweep(directories: Iterable[Path]) -> list[Path]:
    """Remove what dead runs left in these directories; returns what was removed."""
    removed = []
    for directory in dict.fromkeys(directories):
        try:
            entries = list(os.scandir(directory))
        except OSError:
            continue
        for entry in entries:
            m = _OWNED.match(entry.name)
            if not m or not _dead(int(m[1])):
                continue
            path = Path(entry.path)
            try:
                if entry.is_dir(follow_symlinks=False):
                    if entry.stat(follow_symlinks=False).st_uid != os.getuid():
                        continue
                    wipe(path) if entry.name.startswith("aigw-edit-") else shutil.rmtree(path, ignore_errors=True)
                elif entry.name.startswith(".aigw-") and entry.name.endswith(".tmp") and entry.is_file(follow_symlinks=False):
                    path.unlink()
                else:
                    continue
            except OSError:
                continue
            removed.append(path)
    return removed


def sweep_at_start(near: Iterable[Path] = ()) -> None:
    """Once per process: $TMPDIR, /dev/shm and the directories of the files about to be written."""
    global _swept
    places = [Path(p).parent for p in near]
    if not _swept:
        _swept = True
        places += [Path(tempfile.gettempdir()), _SHM]
    sweep(places)
