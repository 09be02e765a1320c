"""rotation.journal's state directory, lock and multi-file commit on the paths a normal run skips:
no git, a worktree's `.git` file, a planted file or symlink where the state directory goes, a lock
error that is not contention, and recovery of a commit a killed run left half-done."""

from __future__ import annotations

import errno
import json
import subprocess
from pathlib import Path

import pytest

from aigw_secrets.errors import AigwError, DataError, OutputError
from aigw_secrets.rotation import journal
from aigw_secrets.rotation.journal import COMMIT_JOURNAL, FILES, Journal, Step


def _git_init(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    return path


def test_without_git_the_state_is_an_ignored_dot_dir(tmp_path: Path) -> None:
    d = journal.state_dir(tmp_path)
    assert d == tmp_path.resolve() / ".aigw"
    assert (d / ".gitignore").read_bytes() == b"*\n"
    journal.refuse_committed_state(tmp_path)  # no git: nothing can have been committed


def test_a_worktree_git_file_leads_to_its_git_dir(tmp_path: Path) -> None:
    real = tmp_path / "gitdirs" / "wt"
    real.mkdir(parents=True)
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / ".git").write_text("gitdir: ../gitdirs/wt\n")
    assert journal.state_dir(tree).resolve() == real.resolve() / journal.GIT_STATE
    assert (real / journal.GIT_STATE).is_dir()
    assert not (tree / ".aigw").exists()


@pytest.mark.parametrize(
    "content", [b"gitdir: /nonexistent/elsewhere\n", b"not a gitdir line\n", b"\xff\xfe bad utf-8"]
)
def test_a_git_file_that_leads_nowhere_falls_back_to_the_dot_dir(tmp_path: Path, content: bytes) -> None:
    (tmp_path / ".git").write_bytes(content)
    assert journal.state_dir(tmp_path).name == ".aigw"


def test_a_file_or_symlink_where_the_state_goes_is_refused(tmp_path: Path) -> None:
    (tmp_path / ".aigw").write_text("planted")
    with pytest.raises(OutputError, match="is not a directory"):
        journal.state_dir(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    (other / "elsewhere").mkdir()
    (other / ".aigw").symlink_to(other / "elsewhere")
    with pytest.raises(OutputError, match="symlink"):
        journal.state_dir(other)


def test_a_state_dir_that_cannot_be_created_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: Path, *a: object, **k: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(Path, "mkdir", refuse)
    with pytest.raises(OutputError, match="cannot create the state directory \\(Permission denied\\)"):
        journal.state_dir(tmp_path)


def test_a_git_dir_git_cannot_read_is_not_taken_for_committed_state(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()  # a directory, but no repository git recognises
    journal.refuse_committed_state(tmp_path)


def test_a_lock_error_other_than_contention_propagates_and_releases(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _git_init(tmp_path / "r")

    def broken(fd: int, op: int) -> None:
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr("fcntl.flock", broken)
    with pytest.raises(OSError, match="I/O error"), journal.repo_lock(root):
        pytest.fail("the body must not run without the lock")


def _half_done(root: Path, state: str, files: dict[str, str], remove: list[str]) -> None:
    path = journal.state_dir(root) / f"{COMMIT_JOURNAL}.json"
    path.write_text(json.dumps({"state": state, "files": files, "remove": remove}))


def test_the_lock_finishes_a_commit_a_killed_run_left(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _git_init(tmp_path / "r")
    (root / "a.yaml").write_text("old\n")
    (root / ".aigw-1-x.tmp").write_text("new\n")
    (root / "gone.yaml").write_text("remove me\n")
    # b.yaml was renamed already and c.yaml removed already before the kill: both are skipped
    (root / "b.yaml").write_text("renamed before the kill\n")
    _half_done(root, "committing", {"a.yaml": ".aigw-1-x.tmp", "b.yaml": ".aigw-1-y.tmp"}, ["gone.yaml", "c.yaml"])
    with journal.repo_lock(root):
        pass
    assert (root / "a.yaml").read_text() == "new\n"
    assert (root / "b.yaml").read_text() == "renamed before the kill\n"
    assert not (root / "gone.yaml").exists() and not (root / ".aigw-1-x.tmp").exists()
    assert "interrupted generate was completed" in capsys.readouterr().err
    assert Journal(root, COMMIT_JOURNAL, FILES).state == ""  # complete: nothing active


def test_a_journal_path_leading_out_of_the_repository_is_refused(tmp_path: Path) -> None:
    root = _git_init(tmp_path / "r")
    (tmp_path / "outside").write_text("keep\n")
    _half_done(root, "committing", {"a.yaml": "../outside"}, [])
    with pytest.raises(DataError, match="a path leads out of the repository"):
        journal.recover_files(root, COMMIT_JOURNAL)
    assert (tmp_path / "outside").read_text() == "keep\n"


def test_a_step_outside_the_table_is_a_bug(tmp_path: Path) -> None:
    j = Journal(tmp_path, "x", FILES)
    with pytest.raises(AigwError, match="cannot go from new to complete"):
        j.step(Step.COMPLETE)
    assert not j.path.exists()


def test_a_commit_failing_after_staging_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _git_init(tmp_path / "r")
    (root / "a.yaml").write_text("old\n")

    def disk_full(step: str) -> None:  # every journal write after the first fails, the abort's too
        raise OutputError(f"journal: cannot write ({step})")

    monkeypatch.setattr(journal, "crash_point", disk_full)
    with pytest.raises(OutputError, match=r"cannot write \(staged\)"):
        journal.commit_files(root, COMMIT_JOURNAL, {root / "a.yaml": b"new\n"}, [])
    assert (root / "a.yaml").read_text() == "old\n"
    assert [p.name for p in root.iterdir() if p.name.endswith(".tmp")] == []


def test_the_age_rotation_record_is_read_typed(tmp_path: Path) -> None:
    """The age rotation reads its journal through AgeRecord: fields typed, absent ones empty, a field
    of the wrong type a one-line error naming the journal (never a crash in the middle of a phase)."""
    from aigw_secrets.rotation.agerotation import TRANSITIONS, AgeRecord, Phase

    j = Journal(_git_init(tmp_path / "repo"), "age-rotation", TRANSITIONS)
    assert AgeRecord.of(j) == AgeRecord()
    j.step(Phase.PLANNED, rotation_id="r-1234567890", old_recipients=["age1old"], old_key_file="/k/age.key")
    record = AgeRecord.of(j)
    assert (record.state, record.rotation_id, record.old_recipients, record.new_recipient) == (
        "planned",
        "r-1234567890",
        ("age1old",),
        "",
    )
    j.save(old_recipients="age1old")  # a string where a list belongs
    with pytest.raises(DataError, match=r"age-rotation.json: malformed journal \(old_recipients is missing or of"):
        AgeRecord.of(j)
