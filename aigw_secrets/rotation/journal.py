"""Rotation state on disk: the repository lock and the journals, in the git directory
(``<repo>/.git/aigw-secrets/``), which no commit can deliver: a contributor can write anything in the
work tree, but the bot acts on its journals, so they live where ``git pull`` never writes.
A directory that is not a git work tree keeps them in ``<root>/.aigw/``. A repository that tracks
anything under ``.aigw/`` (where older versions kept this state) is refused: exit 79.

Journals never hold a credential: a credential rotation records where the new value comes from and
a fingerprint of it, and re-reads the source when it resumes. Every write is atomic.
"""

from __future__ import annotations

import enum
import errno
import fcntl
import functools
import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from aigw_secrets import output
from aigw_secrets.errors import AigwError, ConfigError, DataError, ExitCode, OutputError
from aigw_secrets.util import atomic_write, commit, discard, now, parse_stamp, require_regular, stage, stamp

__all__ = [
    "COMMIT_JOURNAL",
    "Journal",
    "Locked",
    "Step",
    "Transitions",
    "Untrusted",
    "commit_files",
    "now",
    "parse_stamp",
    "record",
    "records_dir",
    "recover_files",
    "refuse_committed_state",
    "repo_lock",
    "stamp",
    "state_dir",
]

STATE_DIR = ".aigw"  # where older versions kept the state, inside the work tree: refused when tracked
GIT_STATE = "aigw-secrets"  # under the git directory


def _git_dir(root: Path) -> Path | None:
    """The git directory of the work tree whose top is ``root`` (``.git``, or a worktree's ``gitdir:``)."""
    dot = root / ".git"
    if dot.is_dir() and not dot.is_symlink():
        return dot
    if dot.is_file() and not dot.is_symlink():
        try:
            line = dot.read_text("utf-8").strip()
        except (OSError, UnicodeDecodeError):
            return None
        if line.startswith("gitdir:"):
            target = Path(line.removeprefix("gitdir:").strip())
            target = target if target.is_absolute() else root / target
            return target if target.is_dir() else None
    return None


def state_dir(root: Path) -> Path:
    """Where the lock and the journals live: in the git directory (never delivered by a commit)."""
    root = root.resolve()
    gitdir = _git_dir(root)
    d = gitdir / GIT_STATE if gitdir is not None else root / STATE_DIR
    try:
        d.mkdir(mode=0o700, exist_ok=True)
    except FileExistsError:
        raise OutputError(f"{d}: is not a directory; aigw-secrets keeps its lock and journals there") from None
    except OSError as exc:
        raise OutputError(f"{d}: cannot create the state directory ({exc.strerror or exc})") from None
    if d.is_symlink() or not d.is_dir():
        raise OutputError(f"{d}: is not a directory (or is a symlink); aigw-secrets keeps its lock and journals there")
    if gitdir is None:
        ignore = d / ".gitignore"
        if not ignore.exists():
            atomic_write(ignore, b"*\n")  # never committed, whatever the repository's .gitignore says
    return d


RECORDS_ENV = "AIGW_SECRETS_STATE_DIR"


def records_dir(root: Path) -> Path:
    """Where the bot keeps its records of what it did at the providers: the ledger of minted keys, the
    mint journals and the pending (sops-encrypted) values. By default the state directory; with
    ``$AIGW_SECRETS_STATE_DIR`` (a directory outside the repository, e.g. a volume the CronJob mounts),
    a subdirectory of it per repository (named after its ``origin`` URL, else its path), so a fresh
    clone every run still recognises the keys earlier runs minted (GCP keys carry no name) and
    finishes a mint a killed run left pending. Set from outside the repository only: the environment."""
    base = os.environ.get(RECORDS_ENV, "").strip()
    if not base:
        return state_dir(root)
    root = root.resolve()
    d = Path(base).expanduser()
    if not d.is_absolute():
        raise ConfigError(f"{RECORDS_ENV}={base}: must be an absolute path")
    if d.resolve().is_relative_to(root):
        raise ConfigError(f"{RECORDS_ENV}={base}: is inside the repository; it must be outside what git can deliver")
    identity = _repository_identity(root)
    import hashlib

    sub = d / hashlib.sha256(identity.encode()).hexdigest()[:16]
    for directory in (d, sub):
        try:
            directory.mkdir(mode=0o700, exist_ok=True)
        except FileExistsError:
            raise OutputError(f"{directory}: is not a directory ({RECORDS_ENV})") from None
        except OSError as exc:
            raise OutputError(f"{directory}: cannot create the state directory ({exc.strerror or exc})") from None
        if directory.is_symlink() or not directory.is_dir():
            raise OutputError(f"{directory}: is not a directory (or is a symlink); {RECORDS_ENV} names the bot's state")
    marker = sub / "repository"
    if not marker.exists():
        atomic_write(marker, (identity + "\n").encode(), mode=0o600)
    return sub


@functools.lru_cache(maxsize=16)
def _repository_identity(root: Path) -> str:
    """The clone's ``origin`` (the same in every fresh clone the CronJob makes), else its path."""
    from aigw_secrets import git

    try:
        url = git.run(root, "config", "--get", "remote.origin.url").decode("utf-8", "replace").strip()
    except git.GitError:
        url = ""
    return url or str(root)


def record(root: Path, name: str, transitions: Transitions) -> Journal:
    """A journal of what the bot did at a provider (mint, revoke): in ``records_dir``."""
    return Journal(root, name, transitions, directory=records_dir(root))


class Untrusted(AigwError):
    code = ExitCode.UNTRUSTED


def refuse_committed_state(root: Path) -> None:
    """Exit 79 while anything under ``.aigw/`` is tracked or in HEAD: a commit delivered it, and an
    older aigw-secrets would have acted on it as its own state."""
    from aigw_secrets import git

    root = root.resolve()
    if _git_dir(root) is None:
        return
    try:
        tracked = git.run(root, "ls-files", "-z", "--cached", "--", STATE_DIR).split(b"\0")
        in_head = (
            git.run(root, "ls-tree", "-r", "-z", "--name-only", "HEAD", "--", STATE_DIR).split(b"\0")
            if git.succeeds(root, "rev-parse", "-q", "--verify", "HEAD")
            else []
        )
    except git.GitError:
        return
    found = sorted({n.decode("utf-8", "replace") for n in [*tracked, *in_head] if n})
    if found:
        raise Untrusted(
            f"{root}: {found[0]} is committed; {STATE_DIR}/ is working state no commit may carry: "
            f"remove it from git (git rm -r --cached {STATE_DIR}) and review the commit that added it"
        )


class Locked(AigwError):
    code = ExitCode.LOCKED


@contextmanager
def repo_lock(root: Path) -> Iterator[None]:
    """One writer per repository at a time (rotations, ``generate``); a second run fails at once (exit 75).
    A repository that carries committed working state is refused once the lock is held (exit 79)."""
    fds: list[int] = []
    try:
        paths = [state_dir(root) / "lock"]
        if os.environ.get(RECORDS_ENV, "").strip():  # runs from other clones share the records: one at a time
            paths.append(records_dir(root) / "lock")
        for path in paths:
            fds.append(_flock(root, path))
        refuse_committed_state(root)  # before anything is read from the state or written
        # A multi-file commit a killed run left half-done is settled first, by whoever holds the lock
        # next: otherwise a later recovery could rename an old staged file over this run's update.
        done = recover_files(root, COMMIT_JOURNAL)
        if done:
            output.info(f"an interrupted generate was {done} ({state_dir(root) / COMMIT_JOURNAL}.json)")
        yield
    finally:
        for fd in fds:
            os.close(fd)  # closing releases the flock, also when the process is killed


def _flock(root: Path, path: Path) -> int:
    require_regular(path)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    except OSError as exc:
        raise OutputError(f"{path}: cannot open the repository lock ({exc.strerror or exc})") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno in (errno.EAGAIN, errno.EACCES):
            raise Locked(
                f"{root}: another aigw-secrets run holds the repository lock ({path}); try again later"
            ) from None
        raise
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def crash_point(step: str) -> None:
    """Test hook: AIGW_SECRETS_CRASH_AT=<step> kills the process right after that step is journaled."""
    if os.environ.get("AIGW_SECRETS_CRASH_AT") == step:
        os._exit(137)


class Step(enum.StrEnum):
    """A journal's ``state``: the steps of credential, data-key, mint, revocation and multi-file
    journals (the age rotation has its own, ``agerotation.Phase``). A str on disk and in JSON."""

    PLANNED = "planned"
    OBTAINED = "obtained"
    VALIDATED = "validated"
    ENCRYPTED = "encrypted"
    STORED = "stored"  # external-secrets: the new value is in the secret store
    WRITTEN = "written"
    COMPLETE = "complete"
    ABORTED = "aborted"
    FAILED = "failed"
    MINTING = "minting"
    MINTED = "minted"
    WAITING = "waiting"
    DISABLED = "disabled"
    STAGED = "staged"
    COMMITTING = "committing"


# Each kind of journal has a table: state -> the steps that may follow it ("" = a new journal).
# A step outside the table is a bug, never something to write down.
Transitions = Mapping[str, tuple[enum.StrEnum, ...]]

CREDENTIAL: Transitions = {
    "": (Step.PLANNED,),
    Step.PLANNED: (Step.OBTAINED, Step.ABORTED),
    Step.OBTAINED: (Step.OBTAINED, Step.VALIDATED, Step.ABORTED),  # obtained again: the source changed since a crash
    Step.VALIDATED: (Step.OBTAINED, Step.ENCRYPTED, Step.COMPLETE, Step.ABORTED),
    Step.ENCRYPTED: (Step.OBTAINED, Step.ENCRYPTED, Step.WRITTEN, Step.COMPLETE),
    Step.WRITTEN: (Step.OBTAINED, Step.COMPLETE),
}
DATA_KEY: Transitions = {
    "": (Step.PLANNED,),
    Step.PLANNED: (Step.COMPLETE, Step.FAILED),
    Step.FAILED: (Step.COMPLETE, Step.FAILED),  # a resumed batch finishes the files that failed before
}
FINAL = (Step.COMPLETE, Step.ABORTED)


class Journal:
    """A JSON record of one operation; each step is written before it is taken."""

    def __init__(self, root: Path, name: str, transitions: Transitions, *, directory: Path | None = None) -> None:
        self.path = (directory or state_dir(root)) / f"{name}.json"
        self.transitions = transitions
        self.data: dict[str, Any] = {}
        if self.path.exists():
            self.data = self._read()

    def _read(self) -> dict[str, Any]:
        """The journal's content; a malformed one is a one-line error (resuming from a guess could
        redo or skip a step), never a crash."""
        try:
            data = json.loads(self.path.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise DataError(
                f"{self.path}: unreadable journal ({type(exc).__name__}); move it away to start over"
            ) from None
        known = {*self.transitions, *(s for nxt in self.transitions.values() for s in nxt)}
        if (
            not isinstance(data, dict)
            or not isinstance(data.get("state", ""), str)
            or data.get("state", "") not in known
        ):
            raise DataError(
                f"{self.path}: malformed journal (not an object with a known state); move it away to start over"
            )
        return data

    def field(self, name: str, kind: type, default: Any = None) -> Any:
        """A journal field of the expected type, or a one-line error naming the journal."""
        value = self.data.get(name, default)
        if not isinstance(value, kind) or (isinstance(value, list) and not all(isinstance(v, str) for v in value)):
            raise DataError(
                f"{self.path}: malformed journal ({name} is missing or of the wrong type); move it away to start over"
            )
        return value

    @property
    def active(self) -> bool:
        return bool(self.data) and self.data.get("state") not in FINAL

    @property
    def state(self) -> str:
        """The step an active journal is at ("" when none is active); compare with a ``Step``."""
        return str(self.data.get("state") or "") if self.active else ""

    def save(self, **changes: Any) -> None:
        self.data.update(changes)
        self.data["updated_at"] = stamp()
        atomic_write(self.path, (json.dumps(self.data, indent=2, sort_keys=True) + "\n").encode(), mode=0o600)

    def step(self, state: enum.StrEnum, **changes: Any) -> None:
        current = self.state
        if state not in self.transitions.get(current, ()) and state != Step.ABORTED:
            raise AigwError(f"internal: journal {self.path.name} cannot go from {current or 'new'} to {state}")
        history = list(self.data.get("history", []))
        history.append({"state": str(state), "at": stamp()})
        self.save(state=str(state), history=history, **changes)
        crash_point(state)


# --- all-or-nothing writes of several files (generate) ----------------------------------------------

COMMIT_JOURNAL = "generate"  # the one multi-file commit journal (generate's)
FILES: Transitions = {
    "": (Step.STAGED,),
    Step.STAGED: (Step.COMMITTING, Step.ABORTED),
    Step.COMMITTING: (Step.COMPLETE,),
}


def commit_files(root: Path, name: str, writes: Mapping[Path, bytes], removals: Sequence[Path]) -> None:
    """Replace every file in ``writes`` and remove every file in ``removals``, or change nothing.

    Every new content is first staged beside its target (fsynced ``.aigw-*.tmp``); a failure there,
    a full disk included, discards what was staged. Then the journal records "committing" and the
    renames and removals follow; they need no new space, and if the run dies among them the next
    run (``recover_files``) finishes them. A journal still at "staged" is rolled back instead.
    The caller holds ``repo_lock``, which settles an earlier run's commit before anything else.
    """
    from aigw_secrets.util import confined

    for path in [*writes, *removals]:
        confined(root, path)  # nothing outside the repository, nothing through a symlinked directory
    staged: dict[Path, Path] = {}
    journal = Journal(root, name, FILES)
    try:
        for path, data in writes.items():
            staged[path] = stage(path, data)
        journal.data = {}
        rel = _rel(root)
        journal.step(Step.STAGED, files={rel(p): rel(t) for p, t in staged.items()}, remove=[rel(p) for p in removals])
        journal.step(Step.COMMITTING)
    except BaseException:
        for tmp in staged.values():
            discard(tmp)
        if journal.active:
            try:
                journal.step(Step.ABORTED)
            except AigwError:
                pass  # still "staged" on disk: the next run rolls it back (nothing is left to undo)
        raise
    _finish(root, journal)


def recover_files(root: Path, name: str) -> str | None:
    """Complete or roll back what an interrupted ``commit_files`` left; returns what it did."""
    journal = Journal(root, name, FILES)
    if not journal.active:
        return None
    if journal.state == Step.COMMITTING:
        _finish(root, journal)
        return "completed"
    for tmp in journal.field("files", dict).values():
        discard(_under(root, tmp))
    journal.step(Step.ABORTED)
    return "rolled back"


def _finish(root: Path, journal: Journal) -> None:
    for target, tmp in journal.field("files", dict).items():
        staged = _under(root, tmp)
        if staged.exists():  # renamed already when a resumed run finds it gone
            commit(staged, _under(root, target))
    for target in journal.field("remove", list):
        path = _under(root, target)
        if require_regular(path) is not None:  # never unlinks a symlink or what it points to
            path.unlink()
    journal.step(Step.COMPLETE)


def _rel(root: Path) -> Callable[[Path], str]:
    return lambda p: str(p.relative_to(root))


def _under(root: Path, rel: object) -> Path:
    path = root / str(rel)
    if not isinstance(rel, str) or ".." in Path(rel).parts or Path(rel).is_absolute():
        raise DataError(
            f"{state_dir(root)}: malformed journal (a path leads out of the repository); move it away to start over"
        )
    return path
