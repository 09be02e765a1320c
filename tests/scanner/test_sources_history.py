"""Where the scanner's bytes come from, on the server side too: the index (one git diff), bare
repositories, history judged by each commit's own .sops.yaml, archives, and the parallel scans
giving exactly the serial findings."""

from __future__ import annotations

from pathlib import Path

import pytest

from aigw_secrets.entry import main
from testing import fakes
from testing.helpers import git


@pytest.fixture
def gitrepo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "r"
    root.mkdir()
    git(root, "init", "-q")
    git(root, "config", "user.email", "t@example.invalid")
    git(root, "config", "user.name", "t")
    monkeypatch.chdir(root)
    return root


def test_staged_reports_every_name_of_a_shared_blob(gitrepo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Two staged files with the same content are one blob: both names are reported."""
    body = f"GROQ_API_KEY={fakes.groq_key()}\n"
    (gitrepo / "a.env").write_text(body)
    (gitrepo / "b.env").write_text(body)
    git(gitrepo, "add", "-A")
    assert main(["scan", "--staged"]) == 1
    err = capsys.readouterr().err
    assert "a.env:1:14: groq-api-key" in err and "b.env:1:14: groq-api-key" in err
