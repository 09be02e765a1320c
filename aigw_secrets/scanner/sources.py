"""Where the scanner's bytes come from: files on disk, the git index, tracked files, git history.

All git calls are NUL-separated (file names with spaces or newlines are fine) and read blobs in bulk
through one ``git cat-file --batch`` process.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

MAX_BYTES = 10 * 1024 * 1024


class Item(NamedTuple):
    path: str  # as reported (relative to the repository root for git sources)
    data: bytes | None  # None: skipped, see note
    note: str = ""


def toplevel(start: Path) -> Path:
    from aigw_secrets import git

    return git.require_toplevel(start)


def from_paths(paths: Iterable[str]) -> Iterator[Item]:
    for name in paths:
        p = Path(name)
        if p.is_symlink():
            yield Item(name, None, "symlink (the target is scanned where it lives)")
            continue
        if p.is_dir():
            for sub in sorted(x for x in p.rglob("*") if x.is_file() and ".git" not in x.parts):
                yield from from_paths([str(sub)])
            continue
        if p.exists():  # a path deleted since it was named has nothing left to leak
            yield _read(p, name)


def _blobs(root: Path, shas: list[str]) -> Iterator[tuple[str, bytes | None, str]]:
    """(sha, content or None, note) for each blob, read through one cat-file process."""
    from aigw_secrets import git

    for sha, kind, content in git.cat_file_batch(root, shas):
        if content is None:
            yield sha, None, "missing"
        elif kind != "blob":
            yield sha, None, kind
        elif len(content) > MAX_BYTES:
            yield sha, None, f"larger than {MAX_BYTES // 1048576} MB; not scanned"
        else:
            yield sha, content, ""


def staged(root: Path) -> Iterator[Item]:
    """What the next commit would contain: added, copied, modified, renamed files, read from the index.

    Blobs are read by SHA (from ``ls-files -s -z``), never by path: ``cat-file --batch`` takes one
    spec per line, and a file name may contain a newline.
    """
    from aigw_secrets import git

    out = git.run(root, "diff", "--cached", "--name-only", "-z", "--diff-filter=ACMR", "--no-renames")
    names = [n for n in out.decode("utf-8", "surrogateescape").split("\0") if n]
    entries = git.index_entries(root, names) if names else {}
    wanted = [(name, sha) for name, (mode, sha) in entries.items() if mode != "120000"]  # a symlink's blob is its target path
    by_sha = {sha: name for name, sha in wanted}
    for sha, content, note in _blobs(root, [sha for _name, sha in wanted]):
        yield Item(by_sha[sha], content, note)


def tracked(root: Path) -> Iterator[Item]:
    """Every tracked file as it is in the work tree (symlinks and submodules skipped)."""
    from aigw_secrets import git

    for name, (mode, _sha) in git.index_entries(root).items():
        if mode.startswith("100"):  # not 120000 symlink, 160000 submodule
            yield _read(root / name, name)


def _read(path: Path, name: str) -> Item:
    try:
        with open(path, "rb") as fh:
            if os.fstat(fh.fileno()).st_size > MAX_BYTES:
                return Item(name, None, f"larger than {MAX_BYTES // 1048576} MB; not scanned")
            return Item(name, fh.read())
    except FileNotFoundError:
        return Item(name, b"")  # deleted in the work tree: nothing left to leak
    except OSError as exc:
        return Item(name, None, f"unreadable ({exc.strerror})")


def history(root: Path, revisions: str | None) -> Iterator[Item]:
    """Every blob reachable in the range (default: all refs), once each, named by a path it had."""
    from aigw_secrets import git

    args = ["rev-list", "--objects", *(revisions.split() if revisions else ["--all"])]
    seen: dict[str, str] = {}
    for line in git.run(root, *args).decode("utf-8", "surrogateescape").splitlines():
        sha, _, name = line.partition(" ")
        if name and sha not in seen:
            seen[sha] = name
    checked = git.run(root, "cat-file", "--batch-check=%(objectname) %(objecttype)", stdin="\n".join(seen).encode()).decode()
    blobs = [line.split(" ")[0] for line in checked.splitlines() if line.endswith(" blob")]
    for sha, content, note in _blobs(root, blobs):
        yield Item(f"{seen[sha]} (blob {sha[:12]})", content, note)


def relative(path: str, root: Path) -> str:
    try:
        return str(Path(os.path.abspath(path)).relative_to(root))
    except ValueError:
        return path
