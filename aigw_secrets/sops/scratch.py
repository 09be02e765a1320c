"""Scratch places for sops work (ciphertext copies; the plaintext of ``edit``) and their cleanup.

Every name carries the id of the process that made it (``aigw-<pid>-...``, ``aigw-edit-<pid>-...``,
``.aigw-<pid>-....tmp``), so that a later run can tell what a killed run left behind (``kill -9``
runs no cleanup) and remove exactly that: entries whose process no longer exists (``util.sweep_stale``).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from aigw_secrets.util import TMP_PREFIX, private_dir, sweep_stale

_KINDS = ("aigw-", "aigw-edit-", "aigw-doctor-")
_swept = False


def make_dir(kind: str = "", base: Path | None = None) -> Path:
    """A new private (0700) directory ``aigw-[kind-]<pid>-XXXX`` in ``base`` (default: $TMPDIR)."""
    return Path(tempfile.mkdtemp(prefix=f"aigw-{kind + '-' if kind else ''}{os.getpid()}-", dir=base))


def plaintext_dir() -> Path:
    """A private directory for plaintext, on tmpfs (/dev/shm) where there is one."""
    return private_dir()


def sweep(directories: Iterable[Path]) -> int:
    """Remove what dead runs left in these directories; returns how many entries went."""
    return sum(sweep_stale(Path(d), prefix) for d in dict.fromkeys(directories) for prefix in (*_KINDS, TMP_PREFIX))


def sweep_at_start(near: Iterable[Path] = ()) -> None:
    """Once per process: $TMPDIR and /dev/shm; every time: the directories of the files about to be written."""
    global _swept
    places = [Path(p).parent for p in near]
    if not _swept:
        _swept = True
        places += [Path(tempfile.gettempdir()), Path("/dev/shm")]  # noqa: S108 - only our own pid-named entries are removed
    sweep(places)
