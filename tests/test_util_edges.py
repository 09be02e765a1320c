"""util's small judgements: what a path is called in an error, and `confined` refusing a path that
climbs out of the repository however it is spelled."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from aigw_secrets.errors import ConfigError
from aigw_secrets.util import confined, file_kind


@pytest.mark.parametrize(
    ("mode", "name"),
    [
        (stat.S_IFREG, "regular file"),
        (stat.S_IFLNK, "symlink"),
        (stat.S_IFDIR, "directory"),
        (stat.S_IFIFO, "named pipe"),
        (stat.S_IFSOCK, "socket"),
        (stat.S_IFCHR, "device"),
        (stat.S_IFBLK, "device"),
        (0, "special file"),
    ],
)
def test_file_kind_names_what_is_there(mode: int, name: str) -> None:
    assert file_kind(mode) == name


def test_confined_refuses_dotdot_and_outside(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    assert confined(root, Path("a/b.yaml")) == root.resolve() / "a/b.yaml"
    with pytest.raises(ConfigError, match=r"leads out of the repository \(\.\.\)"):
        confined(root, Path("a/../../x.yaml"))
    with pytest.raises(ConfigError, match="outside the repository"):
        confined(root, tmp_path / "x.yaml")
