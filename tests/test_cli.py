"""Start-up path and error handling of the command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from aigw_secrets.cli import main
from aigw_secrets.errors import ExitCode


def test_help_imports_nothing_heavy() -> None:
    code = (
        "import sys; from aigw_secrets.cli import main; rc = main(['--help']); "
        "heavy = [m for m in ('kubernetes', 'gnupg', 'yaml', 'ruamel', 'cryptography', "
        "'aigw_secrets.sops.binary', 'aigw_secrets.sops.files') if m in sys.modules]; "
        "print(heavy); raise SystemExit(rc)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0
    assert res.stdout.strip().endswith("[]"), res.stdout
    assert "generate" in res.stdout and "init" in res.stdout


def test_version_and_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert main(["no-such-command"]) == ExitCode.USAGE
    assert main(["generate", "--source", "nonsense"]) == ExitCode.USAGE


def test_no_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["generate"]) == ExitCode.CONFIG
    assert "no cluster.yaml or cluster.toml" in capsys.readouterr().err


def test_internal_errors_do_not_echo_the_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import aigw_secrets.commands.generate as gen

    def boom(*args: object, **kwargs: object) -> int:
        raise KeyError("sk-proj-would-be-a-secret")

    monkeypatch.setattr(gen, "generate", boom)
    assert main(["generate"]) == ExitCode.INTERNAL
    err = capsys.readouterr().err
    assert "KeyError" in err and "would-be-a-secret" not in err


def test_console_script_runs() -> None:
    res = subprocess.run([sys.executable, "-m", "aigw_secrets", "--help"], capture_output=True, text=True)
    assert res.returncode == 0 and "Envoy AI Gateway" in res.stdout


def test_hook_path_imports_nothing_heavy(tmp_path: Path) -> None:
    target = tmp_path / "app.py"
    target.write_text("x = 1\n")
    code = (
        "import sys; from aigw_secrets.entry import main; rc = main(['scan', sys.argv[1]]); "
        "print([m for m in ('kubernetes', 'gnupg', 'click', 'cryptography', 'aigw_secrets.sops.binary', "
        "'aigw_secrets.sops.files') if m in sys.modules]); raise SystemExit(rc)"
    )
    res = subprocess.run([sys.executable, "-c", code, str(target)], capture_output=True, text=True)
    assert res.returncode == 0 and res.stdout.strip() == "[]", res.stdout + res.stderr


# --- issue 10 item 13: a one-line reason and its exit code instead of "internal error" -------------


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (PermissionError(13, "Permission denied", "/repo/x"), ExitCode.PERMISSION),
        (OSError(30, "Read-only file system", "/repo/x"), ExitCode.CANT_WRITE),
        (OSError(28, "No space left on device", "/repo/x"), ExitCode.CANT_WRITE),
        (FileNotFoundError(2, "No such file or directory", "/repo/x"), ExitCode.NO_INPUT),
        (IsADirectoryError(21, "Is a directory", "/repo/.gitignore"), ExitCode.CANT_WRITE),
        (OverflowError("date value out of range"), ExitCode.DATA),
        (RecursionError(), ExitCode.DATA),
    ],
)
def test_unexpected_os_errors_are_one_line(capsys: pytest.CaptureFixture[str], exc: BaseException, code: int) -> None:
    from aigw_secrets.errors import guarded

    def run() -> int:
        raise exc

    assert guarded(run) == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal error" not in err
    if isinstance(exc, OSError):
        assert f"{exc.filename}: {exc.strerror}" in err


def test_control_characters_in_messages_are_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    from aigw_secrets.errors import ConfigError, guarded

    def run() -> int:
        raise ConfigError("bad\nname\x1b[2J")

    assert guarded(run) == ExitCode.CONFIG
    assert capsys.readouterr().err == "aigw-secrets: error: bad\\nname\\x1b[2J\n"


def _groq(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from testing import fakes
    from testing.repos import provider_settings, write_cluster

    monkeypatch.setenv("GROQ_API_KEY", fakes.groq_key())
    write_cluster(repo, provider_settings("groq"))
    assert main(["generate", "--no-input"]) == 0


def test_lock_that_is_a_directory(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _groq(repo, monkeypatch)
    (repo / ".git/aigw-secrets" / "lock").unlink()
    (repo / ".git/aigw-secrets" / "lock").mkdir()
    capsys.readouterr()
    for argv in (["generate", "--no-input"], ["rotate", "--data-key"]):
        assert main(argv) == ExitCode.CANT_WRITE
        err = capsys.readouterr().err
        assert "aigw-secrets/lock: is a directory, not a regular file" in err and err.count("\n") == 1


@pytest.mark.parametrize(
    "content",
    ["{not json", "[1, 2]", '{"state": "planned"}', '{"state": "planned", "files": [1]}', '{"state": "bogus"}'],
)
def test_malformed_journal(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], content: str
) -> None:
    _groq(repo, monkeypatch)
    (repo / ".git/aigw-secrets" / "data-key.json").write_text(content)
    capsys.readouterr()
    assert main(["rotate", "--data-key"]) == ExitCode.DATA
    err = capsys.readouterr().err
    assert "data-key.json: " in err and "move it away to start over" in err and err.count("\n") == 1


def test_gitignore_directory_during_init(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from testing.helpers import git

    git(tmp_path, "init", "-q")
    (tmp_path / ".gitignore").mkdir()
    code = main(["init", "--repo", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == ExitCode.CANT_WRITE and "internal error" not in err
    assert err.count("aigw-secrets: error:") == 1 and ".gitignore" in err
    # The key is ignored before it is created: with .gitignore unusable no key is written at all, so
    # nothing is lost and no private key lies in the work tree unignored.
    assert not (tmp_path / "age.key").exists()


def test_read_only_repository_and_full_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Disk full during `rotate --data-key`, then a read-only repository: one-line reasons, every file intact."""
    from testing import tmpfs
    from testing.helpers import sops_decrypt

    with tmpfs.repo_on_tmpfs(tmp_path, monkeypatch) as (disk, repo):
        _groq(repo, monkeypatch)
        secret = next(repo.rglob("groq.secret.sops.yaml"))
        before = secret.read_bytes()
        filler = tmpfs.fill(disk)
        capsys.readouterr()
        code = main(["rotate", "--data-key"])
        err = capsys.readouterr().err
        assert code == ExitCode.CANT_WRITE and "No space left on device" in err and "internal error" not in err
        assert secret.read_bytes() == before
        filler.unlink()
        tmpfs.remount_read_only(disk)
        for argv in (["rotate", "--data-key"], ["generate", "--no-input"]):
            code = main(argv)
            err = capsys.readouterr().err
            assert code == ExitCode.CANT_WRITE and "Read-only file system" in err and err.count("\n") == 1, (argv, err)
        assert sops_decrypt(secret, repo / "age.key").returncode == 0


def test_data_key_rotation_of_a_file_outside_the_repository(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _groq(repo, monkeypatch)
    secret = next(repo.rglob("groq.secret.sops.yaml"))
    outside = tmp_path / "outside.sops.yaml"
    outside.write_bytes(secret.read_bytes())
    (repo / "link.sops.yaml").symlink_to(outside)
    capsys.readouterr()
    for target in (str(outside), "link.sops.yaml"):
        assert main(["rotate", "--data-key", target]) == ExitCode.NO_INPUT
        err = capsys.readouterr().err
        assert "is outside the repository" in err and err.count("\n") == 1
    assert outside.read_bytes() == secret.read_bytes()
