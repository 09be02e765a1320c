"""A small tmpfs for full-disk and read-only tests; the test is skipped (with the reason) where
mounting is not allowed (no root, no CAP_SYS_ADMIN, a locked-down container)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def small_tmpfs(path: Path, size: str = "2m") -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    res = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True, text=True, check=False
    )
    if res.returncode != 0:
        pytest.skip(
            "cannot mount a tmpfs for the full-disk case (needs root or CAP_SYS_ADMIN): "
            f"{res.stderr.strip() or res.returncode}"
        )
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def remount_read_only(path: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True)


def fill(path: Path, leave_pages: int = 0) -> Path:
    """Fill the file system holding ``path``, then free ``leave_pages`` pages (4 KiB) again."""
    filler = path / "filler.bin"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        while os.write(fd, b"\0" * 4096) == 4096:
            pass
    except OSError:
        pass
    finally:
        os.close(fd)
    size = filler.stat().st_size
    os.truncate(filler, max(0, size - leave_pages * 4096))
    return filler


@contextmanager
def repo_on_tmpfs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: str = "2m") -> Iterator[tuple[Path, Path]]:
    """(mount point, repository): a git repository after `aigw-secrets init` on a small tmpfs, as cwd."""
    from testing.repos import init_repo

    with small_tmpfs(tmp_path / "disk", size) as disk:
        yield disk, init_repo(disk / "repo", monkeypatch)
