"""git.py, the one door to git: no call can wait for a person or hang a hook or a cron job."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from aigw_secrets import git
from aigw_secrets.errors import ConfigError


def _repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / "a.txt").write_text("a\n")
    return root


def _hook(root: Path, body: str) -> None:
    hook = root / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\n" + body)
    hook.chmod(0o755)


def _signing(root: Path, program: str) -> None:
    """The user's own signing setup (commit.gpgsign + gpg.program): the tool's commits keep it."""
    gpg = root.parent / "gpg"
    gpg.write_text("#!/bin/sh\n" + program)
    gpg.chmod(0o755)
    subprocess.run(["git", "-C", str(root), "config", "commit.gpgsign", "true"], check=True)
    subprocess.run(["git", "-C", str(root), "config", "gpg.program", str(gpg)], check=True)


def test_a_hanging_signing_program_stops_with_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A GPG program waiting for a passphrase (and leaving a child holding git's pipes) cannot hold the
    run: git and everything it started are stopped at the deadline, with a reason naming the likely causes."""
    root = _repo(tmp_path)
    marker = tmp_path / "started"
    _signing(root, f"touch {marker}\nsleep 300 &\nexec sleep 300\n")
    monkeypatch.setenv("AIGW_SECRETS_GIT_TIMEOUT", "0.5")
    with pytest.raises(git.GitError) as err:
        git.commit(root, "state", [root / "a.txt"])
    message = str(err.value)
    assert marker.exists() and "\n" not in message
    assert message.startswith("git commit did not finish within 0.5s") and "GPG" in message


def test_the_repositorys_hooks_never_run_in_the_tools_commits(tmp_path: Path) -> None:
    """Hooks are code any contributor can merge; the tool commits while it holds private keys."""
    root = _repo(tmp_path)
    marker = tmp_path / "hook-ran"
    _hook(root, f"touch {marker}\nexit 1\n")
    git.commit(root, "state", [root / "a.txt"])
    assert not marker.exists()


def test_git_and_its_children_get_no_prompt_no_terminal_and_empty_stdin(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    seen = tmp_path / "seen"
    probe = (
        f'{{ echo "prompt=$GIT_TERMINAL_PROMPT askpass=$GIT_ASKPASS ssh=$SSH_ASKPASS/$SSH_ASKPASS_REQUIRE"; cat; '
        f'echo "stdin-end"; if (: </dev/tty) 2>/dev/null; then echo tty; else echo no-tty; fi; }} > {seen}'
    )
    git.run(root, "-c", f"alias.probe=!sh -c '{probe}'", "probe")
    lines = seen.read_text().splitlines()
    assert lines == ["prompt=0 askpass=false ssh=false/never", "stdin-end", "no-tty"]
    sha = git.commit(root, "state", [root / "a.txt"])
    assert (
        sha
        == subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
    )


def test_a_failing_commit_names_the_subcommand(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    _signing(root, "echo 'refused by policy' >&2\nexit 1\n")
    with pytest.raises(git.GitError, match=r"^git commit failed in .*: .*"):
        git.commit(root, "state", [root / "a.txt"])


@pytest.mark.parametrize("value", ["soon", "0", "-1", "inf", "nan"])
def test_a_bad_timeout_is_a_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("AIGW_SECRETS_GIT_TIMEOUT", value)
    with pytest.raises(ConfigError, match="AIGW_SECRETS_GIT_TIMEOUT"):
        git.run(tmp_path, "version")


def test_cat_file_batch_stopped_early_leaves_no_git_behind(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    paths = [tmp_path / f"blob{i}" for i in range(50)]
    for path in paths:
        path.write_bytes(os.urandom(70000))
    blobs = subprocess.run(
        ["git", "hash-object", "-w", "--", *map(str, paths)], cwd=root, capture_output=True, text=True, check=True
    ).stdout.split()
    reader = git.cat_file_batch(root, blobs * 20)
    spec, kind, content = next(reader)
    assert (spec, kind, len(content or b"")) == (blobs[0], "blob", 70000)
    reader.close()  # the caller stops: git is killed, not left blocked on a full pipe
    assert [(s, k) for s, k, _ in git.cat_file_batch(root, [blobs[1], "0" * 40])] == [
        (blobs[1], "blob"),
        ("0" * 40, "missing"),
    ]
