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
        "heavy = [m for m in ('kubernetes', 'gnupg', 'yaml', 'ruamel', 'cryptography', 'aigw_secrets.sops.binary', 'aigw_secrets.sops.files') if m in sys.modules]; "
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


def test_internal_errors_do_not_echo_the_message(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
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
        "print([m for m in ('kubernetes', 'gnupg', 'click', 'cryptography', 'aigw_secrets.sops.binary', 'aigw_secrets.sops.files') if m in sys.modules]); raise SystemExit(rc)"
    )
    res = subprocess.run([sys.executable, "-c", code, str(target)], capture_output=True, text=True)
    assert res.returncode == 0 and res.stdout.strip() == "[]", res.stdout + res.stderr
