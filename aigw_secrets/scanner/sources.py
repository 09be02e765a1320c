"""Where the scanner's bytes come from: files on disk, the git index, tracked files, git history.

All git calls are NUL-separated (file names with spaces or newlines are fine) and read blobs in bulk
through one ``git cat-file --batch`` process.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

from aigw_secrets.errors import ConfigError

MAX_BYTES = 10 * 1024 * 1024


class Item(NamedTuple):
    path: str  # as reported (relative to the repository root for git sources)
    data: bytes | None  # None: skipped, see note
    note: str = ""


def _git(root: Path, *args: str) -> bytes:
    import subprocess  # noqa: PLC0415 - not needed when pre-commit passes file names

    try:
        res = subprocess.run(["git", *args], cwd=root, capture_output=True, check=False)
    except FileNotFoundError:
        raise ConfigError("git not found") from None
    if res.returncode != 0:
        first = res.stderr.decode("utf-8", "replace").strip().splitlines()[:1]
        raise ConfigError(f"git {args[0]} failed: {first[0] if first else res.returncode}")
    return res.stdout


def toplevel(start: Path) -> Path:
    from aigw_secrets.locate import git_root  # noqa: PLC0415

    found = git_root(start)
    if found is None:
        raise ConfigError(f"{start}: not inside a git repository")
    return found


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


def _cat_file(root: Path, specs: list[str]) -> Iterator[tuple[str, bytes | None, str]]:
    """(spec, content or None, note) for each object spec, read through one cat-file process."""
    import subprocess  # noqa: PLC0415

    if not specs:
        return
    proc = subprocess.Popen(["git", "cat-file", "--batch"], cwd=root, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    import threading  # noqa: PLC0415

    def feed() -> None:
        assert proc.stdin is not None
        for spec in specs:
            proc.stdin.write(spec.encode("utf-8", "surrogateescape") + b"\n")
        proc.stdin.close()

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    for spec in specs:
        header = proc.stdout.readline().decode("utf-8", "replace").rstrip("\n")
        parts = header.split(" ")
        if len(parts) != 3 or parts[1] == "missing":
            yield spec, None, "missing"
            continue
        size = int(parts[2])
        content = proc.stdout.read(size)
        proc.stdout.read(1)  # the newline after each object
        if parts[1] != "blob":
            yield spec, None, parts[1]
        elif size > MAX_BYTES:
            yield spec, None, f"larger than {MAX_BYTES // 1048576} MB; not scanned"
        else:
            yield spec, content, ""
    writer.join()
    proc.wait()


def staged(root: Path) -> Iterator[Item]:
    """What the next commit would contain: added, copied, modified, renamed files, read from the index.

    Blobs are read by SHA (from ``ls-files -s -z``), never by path: ``cat-file --batch`` takes one
    spec per line, and a file name may contain a newline.
    """
    names = [n for n in _git(root, "diff", "--cached", "--name-only", "-z", "--diff-filter=ACMR", "--no-renames").decode("utf-8", "surrogateescape").split("\0") if n]
    entries = _index_entries(root, names)
    wanted = [(name, sha) for name, (mode, sha) in entries.items() if mode != "120000"]  # a symlink's blob is its target path
    by_sha = {sha: name for name, sha in wanted}
    for sha, content, note in _cat_file(root, [sha for _name, sha in wanted]):
        yield Item(by_sha[sha], content, note)


def _index_entries(root: Path, names: list[str]) -> dict[str, tuple[str, str]]:
    """name -> (mode, blob sha) for these index entries."""
    if not names:
        return {}
    out = _git(root, "ls-files", "-s", "-z", "--", *names).decode("utf-8", "surrogateescape")
    entries = {}
    for entry in out.split("\0"):
        if "\t" in entry:
            meta, name = entry.split("\t", 1)
            mode, sha, _stage = meta.split(" ")
            entries[name] = (mode, sha)
    return entries


def tracked(root: Path) -> Iterator[Item]:
    """Every tracked file as it is in the work tree (symlinks and submodules skipped)."""
    out = _git(root, "ls-files", "-s", "-z").decode("utf-8", "surrogateescape")
    for entry in out.split("\0"):
        if "\t" not in entry:
            continue
        meta, name = entry.split("\t", 1)
        if not meta.startswith("100"):  # 120000 symlink, 160000 submodule
            continue
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
    args = ["rev-list", "--objects", *(revisions.split() if revisions else ["--all"])]
    seen: dict[str, str] = {}
    for line in _git(root, *args).decode("utf-8", "surrogateescape").splitlines():
        sha, _, name = line.partition(" ")
        if name and sha not in seen:
            seen[sha] = name
    shas = list(seen)
    import subprocess  # noqa: PLC0415

    checked = subprocess.run(
        ["git", "cat-file", "--batch-check=%(objectname) %(objecttype)"],
        cwd=root,
        input="\n".join(shas).encode(),
        capture_output=True,
        check=False,
    ).stdout.decode()
    blobs = [line.split(" ")[0] for line in checked.splitlines() if line.endswith(" blob")]
    for sha, content, note in _cat_file(root, blobs):
        yield Item(f"{seen[sha]} (blob {sha[:12]})", content, note)


def relative(path: str, root: Path) -> str:
    try:
        return str(Path(os.path.abspath(path)).relative_to(root))
    except ValueError:
        return path
