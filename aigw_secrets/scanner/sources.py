"""Where the scanner's bytes come from: files on disk, the git index, tracked files, git history.

All git calls are NUL-separated (file names with spaces or newlines are fine) and read blobs in bulk
through one ``git cat-file --batch`` process.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator

from aigw_secrets.lean import TYPE_CHECKING, Record

if TYPE_CHECKING:  # pragma: no cover - for the type checker only
    from pathlib import Path

    StrPath = str | os.PathLike[str]

MAX_BYTES = 10 * 1024 * 1024


class Item(Record):
    path: str  # as reported (relative to the repository root for git sources; the real path in history)
    data: bytes | None  # None: skipped, see note
    note: str = ""
    blob: str = ""  # history: the blob id


def toplevel(start: Path) -> Path:
    from aigw_secrets import git

    return git.require_toplevel(start)


def work_tree(start: str) -> str | None:
    """The work tree that contains ``start``, as a string (the hook's paths are strings)."""
    from aigw_secrets import git

    return git.work_tree(start)


def git_dir(start: StrPath) -> Path | None:
    """The repository ``start`` is in when it has no work tree (a bare repository, or a git
    directory as in a server-side hook), else None."""
    from aigw_secrets import git
    from aigw_secrets.errors import AigwError

    try:
        out = (
            git.run(start, "rev-parse", "--is-bare-repository", "--absolute-git-dir")
            .decode("utf-8", "surrogateescape")
            .splitlines()
        )
    except AigwError:
        return None
    from pathlib import Path

    return Path(out[1]) if len(out) == 2 else None


def from_paths(paths: Iterable[str]) -> Iterator[Item]:
    """Named files, and the files under named directories (iteratively: any depth, symlinks not
    followed, ``.git`` left out)."""
    return read(plan_paths(paths))


Planned = Item | tuple[str, str]  # an Item already judged (a skip), or (name, path) still to read


def read(plan: Iterable[Planned]) -> Iterator[Item]:
    """The planned files, read (at most MAX_BYTES each)."""
    for entry in plan:
        yield entry if isinstance(entry, Item) else _read(entry[1], entry[0])


def plan_paths(paths: Iterable[str]) -> Iterator[Planned]:
    """What ``from_paths`` reads, named but not read (so that the reading can be shared out)."""
    for name in paths:
        p = _normal(name)
        if os.path.islink(p):
            yield Item(name, None, "symlink (the target is scanned where it lives)")
        elif os.path.isdir(p):
            yield from _walk(name)
        elif os.path.lexists(p):  # a path deleted since it was named has nothing left to leak
            yield name, p


def _normal(name: str) -> str:
    """``name`` as ``pathlib`` spells it: empty and ``.`` parts and a trailing slash dropped (so that
    ``link/`` is the symlink itself, as ``Path("link/")`` is), ``.`` for nothing."""
    parts = [part for part in name.split("/") if part not in ("", ".")]
    lead = "//" if name.startswith("//") and not name.startswith("///") else "/" if name.startswith("/") else ""
    return lead + "/".join(parts) if lead or parts else "."


def _walk(top: str) -> Iterator[Planned]:
    stack = [top]
    while stack:
        directory = stack.pop()
        try:
            with os.scandir(directory) as it:
                entries = sorted(it, key=lambda e: e.name, reverse=True)
        except OSError as exc:
            yield Item(directory, None, f"unreadable directory ({exc.strerror})")
            continue
        files = []
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                if entry.name != ".git":
                    stack.append(entry.path)
            elif entry.is_file(follow_symlinks=False):
                files.append(entry.path)
        for path in reversed(files):
            yield path, path


def read_blobs(root: StrPath, shas: list[str]) -> Iterator[tuple[str, bytes | None, str]]:
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


def staged(root: StrPath) -> Iterator[Item]:
    """What the next commit would contain: added, copied, modified, renamed files, read from the index.

    One ``git diff --cached --raw`` names each file with its index mode and blob id; blobs are read
    by id, never by path (``cat-file --batch`` takes one spec per line, and a file name may contain
    a newline).
    """
    from aigw_secrets import git

    out = git.run(
        root,
        "diff",
        "--cached",
        "--raw",
        "-z",
        "--no-abbrev",
        "--diff-filter=ACMR",
        "--no-renames",
        "--no-ext-diff",
        "--ignore-submodules=none",
    )
    fields = out.decode("utf-8", "surrogateescape").split("\0")
    wanted = []  # (name, blob) of regular files: a symlink's blob is its target path, a gitlink no blob
    for meta, name in zip(fields[0::2], fields[1::2], strict=False):
        parts = meta.split(" ")
        if len(parts) == 5 and parts[1].startswith("100"):
            wanted.append((name, parts[3]))
    by_sha: dict[str, list[str]] = {}
    for name, sha in wanted:
        by_sha.setdefault(sha, []).append(name)
    for sha, content, note in _index_blobs(root, list(by_sha)):
        for name in by_sha[sha]:
            yield Item(name, content, note)


def _index_blobs(root: StrPath, shas: list[str]) -> Iterator[tuple[str, bytes | None, str]]:
    """``read_blobs`` for what was just staged, in order: the loose objects ``git add`` wrote are read
    directly (checked against their ids), the rest (packed, larger than MAX_BYTES, ...) through
    one cat-file process, started only when there is such a blob."""
    from aigw_secrets import git

    loose = git.LooseObjects(root)
    rest = [sha for sha in shas if not loose.has(sha)]
    fetched = {sha: (content, note) for sha, content, note in read_blobs(root, rest)} if rest else {}
    for sha in shas:
        if sha in fetched:
            yield sha, *fetched[sha]
            continue
        content = loose.read(sha, MAX_BYTES)
        if content is None:
            yield from read_blobs(root, [sha])  # git says what it is (too large, damaged, ...)
        else:
            yield sha, content, ""


def tracked(root: Path) -> Iterator[Item]:
    """Every tracked file as it is in the work tree (symlinks and submodules skipped)."""
    return read(plan_tracked(root))


def plan_tracked(root: StrPath) -> list[Planned]:
    from aigw_secrets import git

    # not 120000 symlink, 160000 submodule
    base = os.fspath(root)
    return [
        (name, os.path.join(base, name))
        for name, (mode, _sha) in git.index_entries(root).items()
        if mode.startswith("100")
    ]


def _read(path: str, name: str) -> Item:
    """A regular file's bytes (at most MAX_BYTES); FIFOs, devices and sockets are never opened for
    reading (O_NONBLOCK: opening a FIFO does not wait for a writer)."""
    import stat

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        return Item(name, b"")  # deleted in the work tree: nothing left to leak
    except OSError as exc:
        return Item(name, None, f"unreadable ({exc.strerror})")
    with os.fdopen(fd, "rb") as fh:
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                return Item(name, None, "not a regular file")
            if st.st_size > MAX_BYTES:
                return Item(name, None, f"larger than {MAX_BYTES // 1048576} MB; not scanned")
            data = fh.read(MAX_BYTES + 1)
        except OSError as exc:
            return Item(name, None, f"unreadable ({exc.strerror})")
    if len(data) > MAX_BYTES:
        return Item(name, None, f"larger than {MAX_BYTES // 1048576} MB; not scanned")
    return Item(name, data)


def revision_args(revisions: str | None) -> list[str]:
    """git arguments for a ``--history`` range; never an option (``--output=…`` would make git
    write a file), and ``--end-of-options`` so git cannot read one either."""
    from aigw_secrets.errors import ConfigError

    words = revisions.split() if revisions else []
    for word in words:
        if word.startswith("-"):
            raise ConfigError(f"--history: {word!r} is not a revision range (ranges never start with '-')")
    return ["--end-of-options", *words] if words else ["--all"]


def history_blobs(root: Path, revisions: str | None) -> tuple[list[tuple[str, str]], list[str]]:
    """(blob, a real path it had) for every blob reachable in the range (default: all refs), once
    each; and the ids of objects missing from the store (partial clone, pruned)."""
    from aigw_secrets import git

    args = ["rev-list", "--objects", "--missing=print", *revision_args(revisions)]
    seen: dict[str, str] = {}
    missing: list[str] = []
    for line in git.run(root, *args).decode("utf-8", "surrogateescape").splitlines():
        if line.startswith("?"):
            missing.append(line[1:].strip())
            continue
        sha, _, name = line.partition(" ")
        if name and sha not in seen:
            seen[sha] = name
    checked = git.run(
        root, "cat-file", "--batch-check=%(objectname) %(objecttype)", stdin="\n".join(seen).encode()
    ).decode()
    return [
        (sha, seen[sha]) for sha in (line.split(" ")[0] for line in checked.splitlines() if line.endswith(" blob"))
    ], missing


def history(root: Path, blobs: list[tuple[str, str]]) -> Iterator[Item]:
    """The blobs' contents, named by their real paths (one cat-file process)."""
    paths = dict(blobs)
    for sha, content, note in read_blobs(root, [sha for sha, _path in blobs]):
        yield Item(paths[sha], content, note, sha)


def first_commits(root: Path, revisions: str | None, blobs: dict[str, str]) -> dict[str, str]:
    """blob -> the oldest commit (in the range) whose diff sets the blob's path to that blob
    (``git log`` limited to those paths: fast even on long histories)."""
    from aigw_secrets import git

    if not blobs:
        return {}
    paths = sorted({f":(literal){path}" for path in blobs.values()})
    out = git.run(
        root,
        "log",
        "--reverse",
        "--no-renames",
        "--full-history",  # a blob kept only on a side branch that a merge dropped: simplification hides it
        "-m",  # a blob only a merge made (a clean merge of two edits): only the merge's diff names it
        "--raw",
        "--no-abbrev",
        "--format=%x01%H",
        *revision_args(revisions),
        "--",
        *paths,
    )
    found: dict[str, str] = {}
    commit = ""
    for line in out.decode("utf-8", "surrogateescape").splitlines():
        if line.startswith("\x01"):
            commit = line[1:]
        elif line.startswith(":"):
            sha = line.split(" ", 4)[3]
            if sha in blobs and sha not in found:
                found[sha] = commit
                if len(found) == len(blobs):
                    break
    return found


def relative(path: str, root: str) -> str:
    """``path`` relative to ``root`` (an absolute path), when it is inside; else as it is."""
    absolute = os.path.abspath(path)
    if absolute == root:
        return "."
    prefix = root if root.endswith("/") else root + "/"
    return absolute[len(prefix) :] if absolute.startswith(prefix) else path
