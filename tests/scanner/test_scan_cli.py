"""`scan` reads like every other command (click's help and usage errors) while the hook's normal path
parses with argparse and never loads click."""

from __future__ import annotations

import argparse
import subprocess
import sys

import click
import pytest

from aigw_secrets.cli import cli
from aigw_secrets.entry import main
from aigw_secrets.scanner import hook

ARGVS = [
    [],
    ["a.yaml", "b.env"],
    ["--staged"],
    ["--all"],
    ["dir/", "x y.yaml"],
    ["--all", "--format", "json"],
    ["--history"],
    ["--history", "main~3..main", "--format", "sarif", "-o", "out.sarif"],
    ["--baseline", "b.json", "--update-baseline", "--repo", "/tmp"],
]


@pytest.mark.parametrize("argv", ARGVS, ids=lambda a: " ".join(a) or "no args")
def test_fast_parser_and_click_agree(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    fast = hook.parse(argv)
    seen: list[argparse.Namespace] = []
    monkeypatch.setattr(hook, "execute", lambda ns: seen.append(ns) or 0)
    assert cli.main(args=["scan", *argv], prog_name="aigw-secrets", standalone_mode=False) == 0
    (slow,) = seen
    assert {k: (str(v) if v is not None else None) for k, v in vars(fast).items()} == {
        k: (str(v) if v is not None else None) for k, v in vars(slow).items()
    }


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["a.yaml"],
        ["--staged"],
        ["--all"],
        ["--staged", "a.yaml"],
        ["--all", "--staged"],
        ["--", "-x.yaml"],
        ["--format", "json"],
    ],
)
def test_the_hooks_plain_parse_gives_argparses_namespace(argv: list[str]) -> None:
    """The hand parse of what hooks pass (no argparse parser built) gives argparse's answer, and
    leaves everything else to argparse."""
    plain = hook._plain(argv)
    if plain is None:
        assert argv and any(a.startswith("-") for a in argv)
        return
    assert vars(plain) == vars(hook._parser().parse_args(argv))


def test_help_and_usage_errors_are_clicks(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Usage: aigw-secrets scan [OPTIONS] [PATHS]...") and "--history [RANGE]" in out
    assert main(["scan", "--format", "xml"]) == 2
    assert "Invalid value for '--format'" in capsys.readouterr().err
    assert main(["scan", "--staged", "--all"]) == 2
    assert "at most one of --staged, --all, --history" in capsys.readouterr().err
    assert main(["scan", "--stag"]) == 2  # no abbreviations on either path


def test_hook_path_never_loads_click(tmp_path: object) -> None:
    code = (
        "import sys; from aigw_secrets.entry import main; rc = main(['scan', sys.argv[1]]); print('click' in "
        "sys.modules); raise SystemExit(rc)"
    )
    res = subprocess.run([sys.executable, "-c", code, __file__], capture_output=True, text=True)
    assert res.returncode == 0 and res.stdout.strip() == "False", res.stderr
    assert click  # imported here only for the parity test


def test_a_clean_scan_says_so_in_one_line(tmp_path: object, capsys: pytest.CaptureFixture[str]) -> None:
    """A clean scan printed nothing at all; now one line on stderr (and nothing with -q)."""
    assert main(["scan", __file__]) == 0
    err = capsys.readouterr().err
    assert err.strip() == "aigw-secrets scan: 1 file(s) checked, no plaintext credential found"
    assert main(["-q", "scan", __file__]) == 0
    assert capsys.readouterr().err == ""
