"""One grammar for every command: quiet/verbose, colour only on a terminal, usage errors are exit 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from aigw_secrets import output
from aigw_secrets.cli import main
from aigw_secrets.errors import ExitCode

PROJECT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _reset_output() -> None:
    output.configure()


def test_quiet_keeps_only_problems(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["-q", "init", "--repo", str(repo)]) == 0
    assert capsys.readouterr().err == ""
    output.configure()
    assert main(["init", "--repo", str(repo)]) == 0
    assert "kept" in capsys.readouterr().err


def test_no_colour_in_pipes_or_with_no_color(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    res = subprocess.run([sys.executable, "-m", "aigw_secrets", "init"], cwd=repo, capture_output=True, text=True)
    assert res.returncode == 0 and "\033[" not in res.stderr
    assert output.paint("x", "red", stream=_Tty()) == "\033[31mx\033[0m"  # a terminal gets colour
    monkeypatch.setenv("NO_COLOR", "1")
    assert output.paint("x", "red", stream=_Tty()) == "x"
    monkeypatch.delenv("NO_COLOR")
    output.configure(color=False)  # --no-color
    assert output.paint("x", "red", stream=_Tty()) == "x"


def test_colour_on_a_real_terminal(tmp_path: Path) -> None:
    pexpect = pytest.importorskip("pexpect")
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "SOPS_AGE_KEY_FILE")}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    child = pexpect.spawn(
        sys.executable, ["-m", "aigw_secrets", "init"], cwd=str(tmp_path / "a"), env=env, encoding="utf-8", timeout=60
    )
    child.expect(pexpect.EOF)
    assert "\033[" in (child.before or "")
    child = pexpect.spawn(
        sys.executable,
        ["-m", "aigw_secrets", "--no-color", "init"],
        cwd=str(tmp_path / "b"),
        env=env,
        encoding="utf-8",
        timeout=60,
    )
    child.expect(pexpect.EOF)
    assert "\033[" not in (child.before or "")


def test_rotate_without_a_mode_is_a_usage_error(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rotate"]) == ExitCode.USAGE
    assert "choose one of --provider NAME, --data-key, --due, --revoke NAME or --cancel NAME" in capsys.readouterr().err


def test_one_format_option(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (
        ["status", "--help"],
        ["rotate", "--help"],
        ["cluster", "status", "--help"],
        ["keys", "list", "--help"],
    ):
        assert main(argv) == 0
        assert "[text|json]" in capsys.readouterr().out, argv


def test_demo_prints_no_colour_into_a_pipe() -> None:
    text = (PROJECT / "scripts" / "demo").read_text()
    assert '[ -t 1 ] && [ -z "${NO_COLOR:-}" ]' in text


class _Tty:
    def isatty(self) -> bool:
        return True
