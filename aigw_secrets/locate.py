"""Finding a repository's files without importing anything heavy (used on the hook's start-up path)."""

from __future__ import annotations

import os
from pathlib import Path


def find_sops_config(root: Path) -> Path | None:
    """The ``.sops.yaml`` sops will use from ``root`` (sops walks up from its working directory)."""
    explicit = os.environ.get("SOPS_CONFIG")
    if explicit:
        return Path(explicit) if Path(explicit).is_file() else None
    for directory in (root, *root.parents):
        candidate = directory / ".sops.yaml"
        if candidate.is_file():
            return candidate
    return None


def git_root(start: Path) -> Path | None:
    """The work tree that contains ``start`` (a ``.git`` directory or file), without running git."""
    start = start.resolve()
    for directory in (start, *start.parents):
        if (directory / ".git").exists():
            return directory
    return None
