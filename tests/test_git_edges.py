"""git.py when git itself is the problem: absent, given a file as its directory, interrupted, or
silent past the deadline in a history read; and the small questions (nothing to read, tracked only,
a key git already ignores)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from aigw_secrets import git


def _repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


def _fake_git(tmp_path: Path, body: str) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "git"
    fake.write_text("#!/bin/sh\n" + body)
    fake.chmod(0o755)
    return bin_dir


def test_missing_git_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _repo(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    with pytest.raises(git.GitError, match="git not found; install git"):
        git.run(root, "status")
    with pytest.raises(git.GitError, match="git not found; install git"):
        list(git.cat_file_batch(root, ["0" * 40]))


def test_a_file_as_the_directory_names_the_subcommand(tmp_path: Path) -> None:
    plain = tmp_path / "file"
    plain.write_text("x")
    with pytest.raises(git.GitError, match=r"git status: cannot run in .*file \(Not a directory\)"):
        git.run(plain, "status")


def test_an_interrupted_call_stops_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _repo(tmp_path)
    fake = _fake_git(tmp_path, "exec sleep 30\n")  # still running when the call is interrupted
    monkeypatch.setenv("PATH", f"{fake}:/usr/bin:/bin")
    killed: list[int] = []
    kill = git._kill

    def interrupted(*a: object, **k: object) -> tuple[bytes, bytes]:
        raise KeyboardInterrupt

    def recorded(child: Any) -> None:
        killed.append(child.pid)
        kill(child)

    monkeypatch.setattr(git, "_communicate", interrupted)
    monkeypatch.setattr(git, "_kill", recorded)
    with pytest.raises(KeyboardInterrupt):
        git.run(root, "status")
    assert len(killed) == 1
    with pytest.raises(ChildProcessError):  # killed and reaped: no git left behind
        os.waitpid(killed[0], os.WNOHANG)


def test_a_silent_call_is_stopped_at_the_deadline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _repo(tmp_path)
    fake = _fake_git(tmp_path, "sleep 30 &\necho started >&2\nexec sleep 30\n")  # git and a child of its own
    monkeypatch.setenv("PATH", f"{fake}:/usr/bin:/bin")
    monkeypatch.setenv("AIGW_SECRETS_GIT_TIMEOUT", "0.3")
    with pytest.raises(git.GitError, match=r"git status did not finish within 0.3s"):
        git.run(root, "status")


def test_run_feeds_stdin_larger_than_a_pipe_and_reads_both_streams(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    shas = "".join(f"{i:040x}\n" for i in range(20_000)).encode()  # 820 KB in, as much out: both pipes fill
    out = git.run(root, "cat-file", "--batch-check", stdin=shas)
    assert out.splitlines() == [f"{i:040x} missing".encode() for i in range(20_000)]
    with pytest.raises(git.GitError, match=r"git rev-parse failed in .*: fatal: "):
        git.run(root, "rev-parse", "--verify", "no-such-ref")


def test_a_silent_history_read_is_stopped_at_the_deadline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _repo(tmp_path)
    fake = _fake_git(tmp_path, "exec sleep 30\n")  # answers nothing until it is killed
    monkeypatch.setenv("PATH", f"{fake}:/usr/bin:/bin")
    monkeypatch.setenv("AIGW_SECRETS_GIT_TIMEOUT", "0.3")
    with pytest.raises(git.GitError, match=r"git cat-file did not finish within 0.3s"):
        list(git.cat_file_batch(root, ["0" * 40]))


def test_nothing_to_read_starts_no_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))  # git absent: not even looked for
    assert list(git.cat_file_batch(tmp_path, [])) == []


def test_ls_files_lists_tracked_only_unless_asked(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    (root / "tracked").write_text("t\n")
    (root / "untracked").write_text("u\n")
    subprocess.run(["git", "add", "tracked"], cwd=root, check=True)
    assert git.ls_files(root) == ["tracked"]
    assert sorted(git.ls_files(root, others=True)) == ["tracked", "untracked"]


def test_a_key_git_already_ignores_leaves_gitignore_alone(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    (root / ".gitignore").write_text("*.agekey\n")
    (root / "keys").mkdir()
    key = root / "keys" / "age.agekey"
    key.write_text("AGE-SECRET-KEY-1TEST\n")
    git.ignore(root, key)
    assert (root / ".gitignore").read_text() == "*.agekey\n"


def test_a_missing_directory_names_the_subcommand(tmp_path: Path) -> None:
    with pytest.raises(git.GitError, match=r"git status: cannot run in .*gone \(No such file or directory\)"):
        git.run(tmp_path / "gone", "status")


def test_a_git_that_cannot_be_run_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _repo(tmp_path)
    fake = _fake_git(tmp_path, "exit 0\n")
    (fake / "git").chmod(0o644)  # found on PATH, not executable
    monkeypatch.setenv("PATH", str(fake))
    with pytest.raises(git.GitError, match=r"git status: cannot run in .* \(Permission denied\)"):
        git.run(root, "status")


def test_stdin_git_never_reads_is_dropped(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    out = git.run(root, "--version", stdin=b"x" * (4 << 20))  # git exits at once: the rest meets a closed pipe
    assert out.startswith(b"git version")


def test_a_git_that_closes_its_pipes_but_never_exits_is_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _repo(tmp_path)
    fake = _fake_git(tmp_path, "exec 0<&- 1>&- 2>&-\nexec sleep 30\n")
    monkeypatch.setenv("PATH", f"{fake}:/usr/bin:/bin")
    monkeypatch.setenv("AIGW_SECRETS_GIT_TIMEOUT", "0.3")
    with pytest.raises(git.GitError, match=r"git status did not finish within 0.3s"):
        git.run(root, "status")


def test_loose_objects_answer_only_for_verified_blobs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import zlib

    root = _repo(tmp_path)
    (root / "f").write_text("hello\n")
    subprocess.run(["git", "add", "f"], cwd=root, check=True)
    sha = subprocess.run(
        ["git", "rev-parse", ":f"], cwd=root, check=True, capture_output=True, text=True
    ).stdout.strip()
    loose = git.LooseObjects(root)
    assert loose.has(sha) and loose.read(sha, 100) == b"hello\n"
    assert not loose.has("not-an-id") and loose.read("not-an-id", 100) is None
    assert loose.read("0" * 40, 100) is None  # absent
    objects = root / ".git" / "objects"
    junk = objects / "ab" / ("c" * 38)
    junk.parent.mkdir(exist_ok=True)
    junk.write_bytes(b"not zlib")
    assert loose.read("ab" + "c" * 38, 100) is None
    tree = subprocess.run(["git", "write-tree"], cwd=root, check=True, capture_output=True, text=True).stdout.strip()
    assert loose.read(tree, 100) is None  # a tree, not a blob
    fake = objects / "cd" / ("e" * 38)
    fake.parent.mkdir(exist_ok=True)
    fake.write_bytes(zlib.compress(b"blob 3\0abc"))
    assert loose.read("cd" + "e" * 38, 100) is None  # does not hash to its name

    monkeypatch.setenv("GIT_OBJECT_DIRECTORY", str(objects))
    assert git.LooseObjects(tmp_path).dir == str(objects)
    monkeypatch.delenv("GIT_OBJECT_DIRECTORY")
    monkeypatch.setenv("GIT_COMMON_DIR", str(root / ".git"))
    assert git.LooseObjects(root).dir == str(root / ".git" / "objects")
    monkeypatch.delenv("GIT_COMMON_DIR")
    odd = tmp_path / "odd"
    odd.mkdir()
    (odd / ".git").write_text("not a gitdir line\n")
    assert git.LooseObjects(odd).dir is None and not git.LooseObjects(odd).has(sha)
    (odd / ".git").write_bytes(b"gitdir: \xff\n")
    assert git.LooseObjects(odd).dir is None


def test_tracked_file_follows_symlinks_both_ways(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    (root / "notes.txt").write_text("n\n")
    subprocess.run(["git", "add", "notes.txt"], cwd=root, check=True)
    (root / "loose.txt").write_text("l\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "to-notes").symlink_to(root / "notes.txt")  # an untracked link to a tracked file
    (outside / "key").write_text("k\n")
    (root / "link").symlink_to(outside / "key")  # a tracked link to an untracked file
    subprocess.run(["git", "add", "link"], cwd=root, check=True)
    assert git.tracked_file(root / "notes.txt")
    assert git.tracked_file(outside / "to-notes")
    assert git.tracked_file(root / "link")
    assert not git.tracked_file(root / "loose.txt")
    assert not git.tracked_file(outside / "key")
    assert not git.tracked_file(tmp_path / "missing-dir" / "x")
