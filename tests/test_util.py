"""The shared write plumbing: what a killed run leaves behind is cleaned up by the next one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from aigw_secrets.cli import main
from testing import fakes
from testing.repos import provider_settings, write_cluster

OUT = Path("kubernetes/apps/ai-gateway/providers")


def _killed(code: str) -> str:
    """Run ``code`` in a process that then dies without cleanup (like kill -9); its stdout."""
    res = subprocess.run(
        [sys.executable, "-c", f"import os, sys\nfrom pathlib import Path\n{code}\nsys.stdout.flush(); os._exit(9)"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 9, res.stderr
    return res.stdout.strip()


def test_temp_files_of_killed_writers_are_swept_by_the_next_generate(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GROQ_API_KEY", fakes.groq_key())
    write_cluster(repo, provider_settings("groq"))
    assert main(["generate", "--no-input"]) == 0
    staged = _killed(
        f"from aigw_secrets.util import stage\nprint(stage(Path({str(repo / OUT / 'groq.yaml')!r}), b'half-done'))"
    )
    assert Path(staged).exists()
    assert main(["generate", "--no-input"]) == 0
    assert not Path(staged).exists()
    assert not list((repo / OUT).glob(".aigw-*"))


def test_plaintext_scratch_of_a_killed_run_is_wiped_at_the_next_start(tmp_path: Path) -> None:
    from aigw_secrets.util import private_dir, wipe

    left = Path(
        _killed(
            "from aigw_secrets.util import private_dir\n"
            "d = private_dir(); (d / 'plain.yaml').write_text('secret'); print(d)"
        )
    )
    assert (left / "plain.yaml").exists()
    mine = private_dir()
    try:
        assert not left.exists()
        assert mine.exists()  # a live run's directory is never touched
    finally:
        wipe(mine)
