"""errors.guarded's rarer exits: a closed pipe is not a failure, memory exhaustion is one line, and
AIGW_SECRETS_DEBUG=1 adds the traceback an internal error otherwise hides."""

from __future__ import annotations

import pytest

from aigw_secrets.errors import ExitCode, guarded


def _raise(exc: BaseException) -> int:
    raise exc


def test_broken_pipe_is_a_quiet_success(capsys: pytest.CaptureFixture[str]) -> None:
    assert guarded(lambda: _raise(BrokenPipeError())) == ExitCode.OK
    assert capsys.readouterr().err == ""


def test_memory_error_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert guarded(lambda: _raise(MemoryError()), prog="x") == ExitCode.INTERNAL
    err = capsys.readouterr().err
    assert "out of memory" in err and err.count("\n") == 1


def test_debug_shows_the_traceback_but_default_does_not(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AIGW_SECRETS_DEBUG", raising=False)
    assert guarded(lambda: _raise(ValueError("sk-hidden"))) == ExitCode.INTERNAL
    quiet = capsys.readouterr().err
    assert "Traceback" not in quiet and "sk-hidden" not in quiet and "internal error ValueError" in quiet
    monkeypatch.setenv("AIGW_SECRETS_DEBUG", "1")
    assert guarded(lambda: _raise(ValueError("boom"))) == ExitCode.INTERNAL
    assert "Traceback" in capsys.readouterr().err
