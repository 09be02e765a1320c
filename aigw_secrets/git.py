"""Every git call, with one error policy: a failing git command raises ``GitError`` naming the
subcommand and git's first line of stderr. Only the standard library is imported (the hook's
start-up path runs through here), and ``subprocess`` only when git is really run.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from aigw_secrets.errors import ConfigError


class GitError(ConfigError):
    """git is missing, or a git command failed."""


def toplevel(start: Path) -> Path | None:
    """The work tree that contains ``start`` (a ``.git`` directory or file), without running git."""
    start = start.resolve()
    for directory in (start, *start.parents):
        if (directory / ".git").exists():
            return directory
    return None


def require_toplevel(start: Path) -> Path:
    found = toplevel(start)
    if found is None:
        raise GitError(f"{start}: not inside a git repository")
    return found


def _env() -> dict[str, str]:
    # Never let git ask for anything (credentials, an editor) in a hook or a cron job.
    return {**os.environ, "GIT_TERMINAL_PROMPT": "0"}


def run(root: Path, *args: str, stdin: bytes | None = None) -> bytes:
    """``git ARGS`` in ``root``; stdout, or GitError with git's first stderr line."""
    import subprocess

    try:
        res = subprocess.run(["git", *args], cwd=root, input=stdin, capture_output=True, check=False, env=_env())
    except FileNotFoundError:
        raise GitError("git not found; install git") from None
    except OSError as exc:
        raise GitError(f"git {args[0]}: cannot run in {root} ({exc.strerror})") from None
    if res.returncode != 0:
        first = res.stderr.decode("utf-8", "replace").strip().splitlines()[:1]
        raise GitError(f"git {args[0]} failed in {root}: {first[0] if first else f'exit code {res.returncode}'}")
    return res.stdout


def succeeds(root: Path, *args: str) -> bool:
    """Whether ``git ARGS`` exits 0 (for yes/no questions such as check-ignore)."""
    try:
        run(root, *args)
    except GitError:
        return False
    return True


def ls_files(root: Path, *patterns: str, others: bool = False) -> list[str]:
    """Tracked files (and, with ``others``, untracked files that are not ignored), NUL-safe."""
    args = ["ls-files", "-z", "--cached"]
    if others:
        args += ["--others", "--exclude-standard"]
    out = run(root, *args, "--", *patterns)
    return [name for name in out.decode("utf-8", "surrogateescape").split("\0") if name]


def index_entries(root: Path, names: Sequence[str] = ()) -> dict[str, tuple[str, str]]:
    """name -> (mode, blob sha) for index entries (all of them when ``names`` is empty)."""
    out = run(root, "ls-files", "-s", "-z", "--", *names).decode("utf-8", "surrogateescape")
    entries = {}
    for entry in out.split("\0"):
        if "\t" in entry:
            meta, name = entry.split("\t", 1)
            mode, sha, _stage = meta.split(" ")
            entries[name] = (mode, sha)
    return entries


def cat_file_batch(root: Path, specs: Sequence[str]) -> Iterator[tuple[str, str, bytes | None]]:
    """(spec, object type or "missing", content) for each spec, read through one ``cat-file --batch``.

    ``--batch`` takes one spec per line: pass blob SHAs, never paths (a path may hold a newline).
    """
    import subprocess

    if not specs:
        return
    try:
        proc = subprocess.Popen(["git", "cat-file", "--batch"], cwd=root, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=_env())
    except FileNotFoundError:
        raise GitError("git not found; install git") from None
    stdin, stdout = proc.stdin, proc.stdout
    if stdin is None or stdout is None:  # pragma: no cover - both are PIPEs
        raise GitError("git cat-file: no pipes")

    def feed() -> None:
        try:
            for spec in specs:
                stdin.write(spec.encode("utf-8", "surrogateescape") + b"\n")
        finally:
            stdin.close()

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    try:
        for spec in specs:
            parts = stdout.readline().decode("utf-8", "replace").rstrip("\n").split(" ")
            if len(parts) != 3 or parts[1] == "missing":
                yield spec, "missing", None
                continue
            content = stdout.read(int(parts[2]))
            stdout.read(1)  # the newline after each object
            yield spec, parts[1], content
    finally:
        writer.join()
        stdout.close()
        proc.wait()


def commit(root: Path, message: str, files: Sequence[Path]) -> str:
    """Stage ``files`` and commit them (even when nothing changed); returns the new HEAD."""
    run(root, "add", "--", *(str(f) for f in files))
    who = [
        "-c", f"user.name={os.environ.get('GIT_AUTHOR_NAME', 'aigw-secrets')}",
        "-c", f"user.email={os.environ.get('GIT_AUTHOR_EMAIL', 'aigw-secrets@localhost')}",
    ]  # fmt: skip
    run(root, *who, "commit", "--quiet", "--allow-empty", "-m", message)
    return run(root, "rev-parse", "HEAD").decode().strip()


def is_tracked(root: Path, rel: str) -> bool:
    return succeeds(root, "ls-files", "--error-unmatch", "--", rel)


def is_ignored(root: Path, rel: str) -> bool:
    return succeeds(root, "check-ignore", "-q", "--no-index", "--", rel)


def hooks_dir(root: Path) -> Path:
    hooks = Path(run(root, "rev-parse", "--git-path", "hooks").decode().strip())
    return hooks if hooks.is_absolute() else root / hooks


def ignore(root: Path, key: Path, *, entry: str | None = None) -> None:
    """Add the key file (or ``entry``, a pattern) to .gitignore when it lives inside the repository
    and git does not ignore it already. Call it BEFORE the private key is written."""
    try:
        rel = key.resolve().relative_to(root.resolve())
    except ValueError:
        return
    gitignore = root / ".gitignore"
    entry = entry or "/" + rel.as_posix()
    lines = gitignore.read_text("utf-8").splitlines() if gitignore.exists() else []
    if entry in lines or rel.as_posix() in lines:
        return
    if entry.startswith("/") and (root / ".git").exists() and is_ignored(root, rel.as_posix()):
        return
    body = "\n".join([*lines, "# age private key (aigw-secrets): never commit it", entry]) + "\n"
    from aigw_secrets import output
    from aigw_secrets.util import atomic_write

    atomic_write(gitignore, body.encode())
    output.status("updated", gitignore, f"ignores {entry}")
