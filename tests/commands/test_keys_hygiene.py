"""No command leaves a private key in the work tree where `git add -A` would pick it up."""

from __future__ import annotations

from pathlib import Path

import pytest

from aigw_secrets.cli import main
from testing.helpers import git


def _untracked_keys(root: Path) -> list[str]:
    untracked = git(root, "ls-files", "--others", "--exclude-standard").split()
    return [f for f in untracked if "AGE-SECRET-KEY" in (root / f).read_text(errors="replace")]


def test_generate_age_in_a_repo_is_ignored_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    git(tmp_path, "init", "-q")
    monkeypatch.chdir(tmp_path)
    assert main(["keys", "generate-age", "-o", "new.agekey"]) == 0
    assert main(["keys", "generate-age", "-o", "sub/dir/key.txt"]) == 0  # directories created on the way
    assert _untracked_keys(tmp_path) == []
    assert "/new.agekey" in (tmp_path / ".gitignore").read_text()


def test_init_ignores_the_key(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    assert main(["init", "--repo", str(tmp_path)]) == 0
    assert _untracked_keys(tmp_path) == []
    assert main(["init", "--repo", str(tmp_path)]) == 0  # idempotent: no second .gitignore entry
    assert (tmp_path / ".gitignore").read_text().count("/age.key") == 1
