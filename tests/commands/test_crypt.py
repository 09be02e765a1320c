"""`edit` under signals, set vs rotate --data-key, leftovers of killed runs, bulk reports and the
one-line errors of the crypt commands. Real child processes and the real sops throughout."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aigw_secrets.cli import main
from aigw_secrets.errors import ExitCode
from aigw_secrets.sops import files as sops_files
from aigw_secrets.sops import scratch
from aigw_secrets.sops.binary import Sops
from testing.corpus import corpus
from testing.helpers import sops_bin

FILE = Path("kubernetes/apps/x/secret.sops.yaml")


def encrypted(repo: Path, text: str | None = None) -> Path:
    path = repo / FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text or corpus()["basic-2-space"])
    assert main(["encrypt", str(path)]) == 0
    return path


def cli(repo: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "aigw_secrets", *args],
        cwd=repo,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def wait_for(path: Path, proc: subprocess.Popen[bytes]) -> None:
    """Until ``path`` exists and is not empty (the child got there), or the child ended."""
    for _ in range(3000):
        if (path.exists() and path.stat().st_size) or proc.poll() is not None:
            return
        time.sleep(0.01)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGINT])
def test_edit_removes_the_plaintext_on_signals(repo: Path, tmp_path: Path, signum: int) -> None:
    path = encrypted(repo)
    before = path.read_bytes()
    mark = tmp_path / "editing"
    editor = tmp_path / "editor.sh"
    editor.write_text('#!/bin/sh\necho "$1" > "$MARK"\nexec sleep 60\n')
    editor.chmod(0o755)
    proc = cli(repo, "edit", str(path), env={"EDITOR": str(editor), "MARK": str(mark)})
    wait_for(mark, proc)
    plaintext = Path(mark.read_text().strip())
    assert plaintext.is_file()  # the editor has the decrypted copy open
    proc.send_signal(signum)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == ExitCode.INTERRUPTED, err
    assert not plaintext.exists() and not plaintext.parent.exists()
    assert path.read_bytes() == before
    assert b"Traceback" not in err and len(err.decode().strip().splitlines()) == 1


def test_set_during_rotate_data_key_is_never_lost(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """rotate --data-key reads, runs a (slow) sops, writes; a `set` in that window used to be
    silently reverted. Now it waits its turn: it fails with LOCKED and the file is the rotated one,
    or it runs after and its value is in the file."""
    path = encrypted(repo)
    started, go = tmp_path / "sops-started", tmp_path / "go"
    slow = tmp_path / "slow-sops"  # the real sops, held until the concurrent `set` has finished
    slow.write_text(
        f'#!/bin/sh\necho >> "{started}"\nn=0\n'
        f'while [ ! -e "{go}" ] && [ $n -lt 1200 ]; do sleep 0.05; n=$((n+1)); done\n'
        f'exec "{sops_bin()}" "$@"\n'
    )
    slow.chmod(0o755)
    rotate = cli(repo, "rotate", "--data-key", str(path), env={"SOPS_BINARY": str(slow)})
    wait_for(started, rotate)
    assert started.exists()
    new_value = "set-while-rotating-1234"
    setter = subprocess.run(
        [sys.executable, "-m", "aigw_secrets", "set", "--stdin", str(path), "stringData.apiKey"],
        input=new_value.encode(),
        cwd=repo,
        capture_output=True,
    )
    go.touch()
    rotate.communicate(timeout=120)
    assert rotate.returncode == 0
    value = sops_files.decrypt(Sops(repo), path.read_bytes(), str(FILE)).decode()
    if setter.returncode == 0:
        assert new_value in value
    else:
        assert setter.returncode == ExitCode.LOCKED, setter.stderr
        assert new_value not in value
    # afterwards the set goes through, on top of the rotated file
    monkeypatch.setenv("NEWV", new_value)
    assert main(["set", "--from-env", "NEWV", str(path), "stringData.apiKey"]) == 0
    assert new_value in sops_files.decrypt(Sops(repo), path.read_bytes(), str(FILE)).decode()


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_leftovers_of_dead_runs_are_removed(repo: Path, tmp_path: Path) -> None:
    scratch_root = tmp_path / "tmp"
    scratch_root.mkdir()
    dead, alive = dead_pid(), os.getpid()
    stale = [scratch_root / f"aigw-{dead}-abcd", scratch_root / f"aigw-edit-{dead}-abcd"]
    kept = [scratch_root / f"aigw-{alive}-abcd", scratch_root / "aigw-gpg-abcd1234", scratch_root / "unrelated"]
    for d in stale + kept:
        d.mkdir()
        (d / "copy.yaml").write_text("x")
    path = encrypted(repo)
    stale_tmp = path.parent / f".aigw-{dead}-x1y2.tmp"
    stale_tmp.write_text("partial")
    live_tmp = path.parent / f".aigw-{alive}-x1y2.tmp"
    live_tmp.write_text("being written")
    res = subprocess.run(
        [sys.executable, "-m", "aigw_secrets", "set", "--stdin", str(path), "stringData.apiKey"],
        input=b"v-123456",
        cwd=repo,
        capture_output=True,
        env={**os.environ, "TMPDIR": str(scratch_root)},
    )
    assert res.returncode == 0, res.stderr
    assert not any(p.exists() for p in [*stale, stale_tmp])
    assert all(p.exists() for p in [*kept, live_tmp])
    live_tmp.unlink()
    assert scratch.sweep([scratch_root]) == 0


def test_symlinks_and_files_outside_the_repository(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = encrypted(repo)
    link = path.parent / "link.sops.yaml"
    link.symlink_to(path.name)
    outside = tmp_path / "outside.sops.yaml"
    outside.write_bytes(path.read_bytes())
    capsys.readouterr()
    for args, codes in (
        (["updatekeys", str(link)], {ExitCode.DATA}),
        (["set", "--from-file", str(outside), str(link), "stringData.apiKey"], {ExitCode.DATA}),
        (["updatekeys", str(outside)], {ExitCode.CONFIG}),
    ):
        assert main(args) in codes, args
        err = capsys.readouterr().err.strip()
        assert err.count("error:") == 1 and "Traceback" not in err, err
    assert link.is_symlink()


def test_bulk_encrypt_reports_each_file_and_a_summary(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = repo / "kubernetes/apps/bulk"
    d.mkdir(parents=True)
    (d / "ok.sops.yaml").write_text(corpus()["basic-2-space"])
    (d / "commented.sops.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: c\nstringData:\n  # Postgres Init\n  PASS: fake-pw-1\n"
    )
    (d / "bad.sops.yaml").write_text("apiVersion: v1\nkind: Secret\nstringData:\n  a: [1, 2\n")
    (d / "cm.sops.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n")
    capsys.readouterr()
    assert main(["encrypt"]) == ExitCode.DATA
    err = capsys.readouterr().err
    assert "kubernetes/apps/bulk/bad.sops.yaml:4: invalid YAML" in err
    assert "skipped (nothing the creation rule would encrypt)" in err and "cm.sops.yaml" in err
    assert "2 encrypted, 1 skipped (nothing the creation rule would encrypt), 1 failed (4 files)" in err
    assert main(["encrypt", str(d / "cm.sops.yaml")]) == ExitCode.DATA  # named explicitly: an error


def test_no_key_reasons(repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    path = encrypted(repo)
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(repo / "missing.agekey"))
    (repo / "age.key").rename(repo.parent / "moved.key")
    capsys.readouterr()
    assert main(["decrypt", str(path)]) == ExitCode.NO_KEY
    assert f"SOPS_AGE_KEY_FILE={repo / 'missing.agekey'} does not exist" in capsys.readouterr().err


def test_missing_pgp_key_is_named(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fpr = "0123456789ABCDEF0123456789ABCDEF01234567"
    (repo / ".sops.yaml").write_text(
        "creation_rules:\n  - path_regex: .*\\.sops\\.yaml$\n    encrypted_regex: ^(data|stringData)$\n"
        f"    pgp: {fpr}\n"
    )
    monkeypatch.setenv("GNUPGHOME", str(tmp_path / "empty-gnupg"))
    path = repo / FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(corpus()["basic-2-space"])
    capsys.readouterr()
    assert main(["encrypt", str(path)]) == ExitCode.NO_KEY
    err = capsys.readouterr().err.strip()
    assert (
        f"{FILE}: sops encrypt failed: the PGP public key {fpr} is not in the gpg keyring" in err
        and len(err.splitlines()) == 1
    )
