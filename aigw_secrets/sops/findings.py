"""What ``doctor`` reports: a finding (error or warning), where it is, what is wrong, how to fix it;
and how places in the repository are named in one."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple


class Finding(NamedTuple):
    level: str  # error | warning
    where: str
    message: str
    fix: str


def repo_where(root: Path, where: str) -> str:
    """``/abs/repo/.sops.yaml:3`` as ``.sops.yaml:3`` (a config outside the repository stays absolute)."""
    prefix = str(root.resolve()) + os.sep
    return where[len(prefix) :] if where.startswith(prefix) else where


def repo_path(root: Path, path: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)
