"""errors.guarded, the one error boundary: the command line and the scan hook's fast path both run
inside it; scan's policy (whatever stops a scan is 2, since 1 means findings) is a parameter of it."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from aigw_secrets import entry
from aigw_secrets.errors import ConfigError, ExitCode, NoKeyError, guarded
from aigw_secrets.scanner import hook


def _raising(exc: BaseException) -> argparse.Namespace:
    raise exc


@pytest.mark.parametrize(
    ("exc", "plain", "scan"),
    [
        (ConfigError("cluster.yaml: bad"), ExitCode.CONFIG, ExitCode.USAGE),
        (NoKeyError("x.sops.yaml: no key"), ExitCode.NO_KEY, ExitCode.USAGE),
        (RecursionError(), ExitCode.DATA, ExitCode.USAGE),
        (FileNotFoundError(2, "No such file or directory", "/r/x"), ExitCode.NO_INPUT, ExitCode.NO_INPUT),
        (KeyboardInterrupt(), ExitCode.INTERRUPTED, ExitCode.INTERRUPTED),
        (ValueError("a value that must never be shown"), ExitCode.INTERNAL, ExitCode.INTERNAL),
    ],
)
def test_one_boundary_two_policies(
    capsys: pytest.CaptureFixture[str], exc: BaseException, plain: int, scan: int
) -> None:
    def run() -> int:
        raise exc

    assert guarded(run) == plain
    first = capsys.readouterr().err
    assert guarded(run, prog="aigw-secrets scan", failure=ExitCode.USAGE) == scan
    second = capsys.readouterr().err
    assert first.count("\n") == second.count("\n") == 1
    assert first.startswith("aigw-secrets: error: ") and second.startswith("aigw-secrets scan: error: ")
    assert first.removeprefix("aigw-secrets: ") == second.removeprefix("aigw-secrets scan: ")
    assert "must never be shown" not in first + second


@pytest.mark.parametrize(
    ("exc", "code"), [(ConfigError("bad .sops.yaml"), ExitCode.USAGE), (ValueError("secret-ish"), ExitCode.INTERNAL)]
)
def test_the_scan_fast_path_runs_inside_the_boundary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], exc: Exception, code: int
) -> None:
    (tmp_path / "app.py").write_text("x = 1\n")
    monkeypatch.setattr(hook, "run", lambda args: _raising(exc))
    assert entry.main(["scan", str(tmp_path / "app.py")]) == code
    err = capsys.readouterr().err
    assert err.startswith("aigw-secrets scan: error: ") and err.count("\n") == 1 and "secret-ish" not in err
