"""Issue 12, "the operator's day": set refuses to guess its input, a refused edit keeps what was
typed, --format json on the commands that report, summaries and next-step hints, and a rotation
that needs an operator is shown as such and can be cancelled. Real sops throughout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from aigw_secrets import output
from aigw_secrets.cli import main
from aigw_secrets.errors import ExitCode
from aigw_secrets.sops import agekeys
from aigw_secrets.sops import files as sops_files
from aigw_secrets.sops.binary import Sops
from testing import fakes, standin
from testing.corpus import corpus
from testing.helpers import run_cli, run_killed
from testing.repos import provider_settings, write_cluster

FILE = Path("kubernetes/apps/x/secret.sops.yaml")
OUT = Path("kubernetes/apps/ai-gateway/providers")


@pytest.fixture(autouse=True)
def _reset_output() -> None:
    output.configure()


@pytest.fixture
def provider(monkeypatch: pytest.MonkeyPatch, provider_standin: standin.Provider) -> Iterator[standin.Provider]:
    monkeypatch.setenv("AIGW_SECRETS_VALIDATE_BACKOFF", "0.01")
    p = provider_standin
    monkeypatch.setenv("AIGW_SECRETS_ALLOW_HOSTS", p.url.split("//", 1)[1])
    yield p


def encrypted(repo: Path) -> Path:
    path = repo / FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(corpus()["basic-2-space"])
    assert main(["encrypt", str(path)]) == 0
    return path


def plaintext(repo: Path, path: Path) -> str:
    return sops_files.decrypt(Sops(repo), path.read_bytes(), str(path.relative_to(repo))).decode()


def run(
    repo: Path, *args: str, stdin: bytes = b"", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The command line in this process; a run killed at a step (AIGW_SECRETS_CRASH_AT) in a forked child."""
    crash = (env or {}).get("AIGW_SECRETS_CRASH_AT")
    if crash:
        rest = {k: v for k, v in (env or {}).items() if k != "AIGW_SECRETS_CRASH_AT"}
        return subprocess.CompletedProcess(list(args), run_killed(repo, list(args), crash, rest), "", "")
    return run_cli(repo, list(args), env, stdin)


# --- set ---------------------------------------------------------------------------------------


def test_set_without_stdin_flag_never_reads_piped_text(repo: Path) -> None:
    path = encrypted(repo)
    before = path.read_bytes()
    res = run(repo, "set", str(path), "stringData.apiKey", stdin=b"unrelated piped text\n")
    assert res.returncode == ExitCode.USAGE, res.stderr
    assert "--stdin" in res.stderr and "--from-env" in res.stderr and "--from-file" in res.stderr
    assert path.read_bytes() == before and "unrelated" not in plaintext(repo, path)


def test_set_with_an_empty_value_says_so(repo: Path) -> None:
    path = encrypted(repo)
    before = path.read_bytes()
    res = run(repo, "set", "--stdin", str(path), "stringData.apiKey", stdin=b"\n")
    assert res.returncode == ExitCode.CREDENTIAL
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "empty value" in lines[0] and "no longer encrypted" not in res.stderr
    assert path.read_bytes() == before


# --- edit --------------------------------------------------------------------------------------


def _editor(tmp_path: Path, *edits: str) -> Path:
    """A fake editor: the n-th time it runs it applies the sed expression edits[n] (the last one
    from then on) to the file it was given, and records that file's path."""
    script = tmp_path / "editor.sh"
    cases = "".join(f"  {i}) e='{e}' ;;\n" for i, e in enumerate(edits))
    script.write_text(
        f'#!/bin/sh\nn=$(cat "{tmp_path}/count" 2>/dev/null || echo 0)\necho $((n+1)) > "{tmp_path}/count"\n'
        f'echo "$1" > "{tmp_path}/edited-path"\ncase $n in\n{cases}  *) e=\'{edits[-1]}\' ;;\nesac\nsed -i "$e" "$1"\n'
    )
    script.chmod(0o755)
    return script


BROKEN = "s/apiKey: .*/apiKey: [new-value-typed/"  # a YAML typo: an unclosed flow sequence
FIXED = "s/apiKey: .*/apiKey: new-value-fixed-123/"


def test_refused_edit_without_a_terminal_says_what_happened(repo: Path, tmp_path: Path) -> None:
    path = encrypted(repo)
    before = path.read_bytes()
    res = run(repo, "edit", str(path), env={"EDITOR": str(_editor(tmp_path, BROKEN))})
    assert res.returncode != 0
    assert "your edit was not saved and its plaintext copy was removed" in res.stderr, res.stderr
    assert path.read_bytes() == before
    assert not Path((tmp_path / "edited-path").read_text().strip()).exists()


def test_refused_edit_on_a_terminal_reopens_the_editor_on_the_users_text(repo: Path, tmp_path: Path) -> None:
    pexpect = pytest.importorskip("pexpect")
    path = encrypted(repo)
    editor = _editor(tmp_path, BROKEN, FIXED)
    child = pexpect.spawn(
        sys.executable,
        ["-m", "aigw_secrets", "edit", str(path)],
        cwd=str(repo),
        env={**os.environ, "EDITOR": str(editor)},
        encoding="utf-8",
        timeout=120,
    )
    child.expect("Re-open the editor")
    assert (tmp_path / "count").read_text().strip() == "1"
    edited = Path((tmp_path / "edited-path").read_text().strip())
    assert "[new-value-typed" in edited.read_text()  # what was typed is still there, to fix
    child.sendline("y")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    assert (tmp_path / "count").read_text().strip() == "2"
    assert "new-value-fixed-123" in plaintext(repo, path)
    assert not edited.exists()


def test_declined_reopen_keeps_nothing(repo: Path, tmp_path: Path) -> None:
    pexpect = pytest.importorskip("pexpect")
    path = encrypted(repo)
    before = path.read_bytes()
    child = pexpect.spawn(
        sys.executable,
        ["-m", "aigw_secrets", "edit", str(path)],
        cwd=str(repo),
        env={**os.environ, "EDITOR": str(_editor(tmp_path, BROKEN))},
        encoding="utf-8",
        timeout=120,
    )
    child.expect("Re-open the editor")
    child.sendline("n")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus not in (0, None)
    assert "plaintext copy was removed" in (child.before or "")
    assert path.read_bytes() == before
    assert not Path((tmp_path / "edited-path").read_text().strip()).exists()


# --- --format json, summaries, hints -----------------------------------------------------------


def test_init_json_and_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("SOPS_AGE_KEY_FILE", raising=False)
    root = tmp_path / "fresh"
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    capsys.readouterr()
    assert main(["init", "--repo", str(root)]) == 0
    err = capsys.readouterr().err
    assert "next: export SOPS_AGE_KEY_FILE=" in err and "aigw-secrets generate" in err
    assert main(["init", "--repo", str(root), "--format", "json"]) == 0
    out, err = capsys.readouterr()
    doc = json.loads(out)
    assert {f["action"] for f in doc["files"]} == {"kept"} and doc["recipient"].startswith("age1")
    assert "kept" in err  # diagnostics stay on stderr


def test_generate_json_summary_and_hint(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_cluster(repo, provider_settings("groq"))
    monkeypatch.setenv("GROQ_API_KEY", fakes.groq_key())
    capsys.readouterr()
    assert main(["generate", "--no-input"]) == 0
    err = capsys.readouterr().err
    assert "file(s) changed" in err and "next:" in err and "commit" in err and "push" in err
    assert main(["generate", "--no-input", "--format", "json"]) == 0
    out, err = capsys.readouterr()
    doc = json.loads(out)
    assert doc["changed"] == 0 and doc["counts"] == {"unchanged": len(doc["files"])}
    assert any(f["path"].endswith("groq.secret.sops.yaml") for f in doc["files"])
    assert "next:" not in err  # nothing to commit
    assert main(["generate", "--check", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["check"] is True


def test_doctor_json(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / ".sops.yaml").write_text("creation_rules:\n  - path_regex: .*\n    age: not-a-recipient\n")
    capsys.readouterr()
    code = main(["doctor", "--format", "json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == (ExitCode.FINDINGS if doc["errors"] else 0)
    assert doc["findings"] and {"level", "where", "message", "fix"} <= set(doc["findings"][0])
    assert doc["errors"] + doc["warnings"] == len(doc["findings"])


def test_encrypt_and_updatekeys_json(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = repo / FILE
    path.parent.mkdir(parents=True)
    path.write_text(corpus()["basic-2-space"])
    capsys.readouterr()
    assert main(["encrypt", "--format", "json", str(path)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["files"] == [{"path": str(FILE), "action": "encrypted"}] and doc["errors"] == []
    assert main(["updatekeys", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [f["path"] for f in doc["files"]] == [str(FILE)] and doc["summary"]
    assert main(["encrypt", "--format", "json", str(path)]) == ExitCode.DATA  # already encrypted
    doc = json.loads(capsys.readouterr().out)
    assert doc["errors"][0]["path"] == str(FILE)


def test_add_recipient_offers_and_runs_updatekeys(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = encrypted(repo)
    first, second = agekeys.generate().recipient, agekeys.generate().recipient
    capsys.readouterr()
    assert main(["keys", "add-recipient", "--age", first]) == 0
    err = capsys.readouterr().err
    assert "next:" in err and "updatekeys" in err and "--updatekeys" in err
    assert first not in path.read_text()
    assert main(["keys", "add-recipient", "--age", second, "--updatekeys"]) == 0
    err = capsys.readouterr().err
    assert "next:" not in err
    recipients = {r["recipient"] for r in yaml.safe_load(path.read_text())["sops"]["age"]}
    assert {first, second} <= recipients


# --- rotate: an operator is needed; --cancel ----------------------------------------------------


def _groq(repo: Path, provider: standin.Provider, monkeypatch: pytest.MonkeyPatch) -> None:
    """A groq Secret generated from the environment; its rotations are validated by the stand-in."""
    write_cluster(
        repo, {**provider_settings("groq"), "ai_gateway_groq_validation_url": f"{provider.url}/openai/v1/models"}
    )
    monkeypatch.setenv("GROQ_API_KEY", fakes.groq_key())
    assert main(["generate", "--no-input"]) == 0


def test_due_rotation_needing_an_operator_is_shown_and_can_be_cancelled(
    repo: Path, provider: standin.Provider, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _groq(repo, provider, monkeypatch)
    monkeypatch.delenv("GROQ_API_KEY")
    monkeypatch.setenv("AIGW_SECRETS_NOW", "2099-01-01T00:00:00Z")
    capsys.readouterr()
    assert main(["rotate", "--due"]) == ExitCode.MANUAL_ACTION
    err = capsys.readouterr().err
    assert "rotate --cancel groq" in err
    assert main(["status", "--format", "json"]) == 1  # overdue
    (row,) = json.loads(capsys.readouterr().out)
    assert row["state"] == "needs operator" and "GROQ_API_KEY" in row["needs_operator"]
    assert main(["status"]) == 1
    out = capsys.readouterr().out
    assert "in progress" not in out and "needs operator: " in out

    assert main(["rotate", "--cancel", "groq"]) == 0
    assert "cancelled" in capsys.readouterr().err
    assert main(["status", "--format", "json"]) == 1
    assert json.loads(capsys.readouterr().out)[0]["state"] == "idle"
    assert main(["rotate", "--cancel", "groq"]) == ExitCode.CONFIG  # nothing left to cancel
    assert "nothing to cancel" in capsys.readouterr().err


def test_cancel_is_refused_once_the_secret_was_written(
    repo: Path, provider: standin.Provider, monkeypatch: pytest.MonkeyPatch
) -> None:
    _groq(repo, provider, monkeypatch)
    new = fakes.groq_key()
    provider.status[new] = 200
    crashed = run(repo, "rotate", "--provider", "groq", env={"GROQ_API_KEY": new, "AIGW_SECRETS_CRASH_AT": "written"})
    assert crashed.returncode == 137, crashed.stderr
    res = run(repo, "rotate", "--cancel", "groq")
    assert res.returncode == ExitCode.DATA
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot be cancelled" in lines[0] and "rotate --provider groq" in lines[0]
    assert run(repo, "rotate", "--provider", "groq", env={"GROQ_API_KEY": new}).returncode == 0  # finishing still works


def test_edit_while_another_run_holds_the_lock_can_be_saved_after_it(repo: Path, tmp_path: Path) -> None:
    from aigw_secrets.rotation.journal import repo_lock

    pexpect = pytest.importorskip("pexpect")
    path = encrypted(repo)
    child = pexpect.spawn(
        sys.executable,
        ["-m", "aigw_secrets", "edit", str(path)],
        cwd=str(repo),
        env={**os.environ, "EDITOR": str(_editor(tmp_path, FIXED))},
        encoding="utf-8",
        timeout=120,
    )
    with repo_lock(repo):  # e.g. a cron rotation
        child.expect("Re-open the editor")
    child.sendline("y")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    assert "new-value-fixed-123" in plaintext(repo, path)


def test_generate_check_counts_removals_like_generate(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """--check saw nothing to do (exit 0) while generate then deleted the files of a disabled provider."""

    monkeypatch.setenv("OPENAI_API_KEY", fakes.openai_project_key())
    monkeypatch.setenv("GROQ_API_KEY", fakes.groq_key())
    write_cluster(repo, {**provider_settings("openai"), **provider_settings("groq")})
    assert main(["generate", "--no-input"]) == 0
    write_cluster(repo, provider_settings("openai"))  # groq disabled: its two files go
    capsys.readouterr()
    assert main(["generate", "--check", "--no-input"]) == ExitCode.FINDINGS
    err = capsys.readouterr().err
    assert err.count("would remove") == 2 and "groq" in err
    assert main(["generate", "--no-input"]) == 0
    err = capsys.readouterr().err
    assert err.count("removed") == 2
    assert main(["generate", "--check", "--no-input"]) == 0
