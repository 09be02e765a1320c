"""Archives committed into a repository (a support bundle ``.zip``, a ``.tar.gz`` backup) are opened
and their files scanned like any other, under ``archive.zip!inner/path``.

Bounded, since an attacker who can merge a commit can also commit a bomb: at most MAX_DEPTH levels
of archives inside archives, MAX_MEMBERS files and MAX_TOTAL decompressed bytes per archive
(counted as they are decompressed, never trusting the sizes an archive declares), each member at
most scan.MAX_BYTES. Whatever is cut off is reported as skipped with the reason, never passed
silently. Only the standard library (zipfile, tarfile, gzip), imported when an archive is met.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator

from aigw_secrets.lean import TYPE_CHECKING
from aigw_secrets.scanner.scan import MAX_BYTES, Finding, Skipped, scan_file

if TYPE_CHECKING:  # pragma: no cover - for the type checker only
    from typing import IO, Any

MAX_DEPTH = 3  # an archive in an archive in an archive
MAX_MEMBERS = 10_000
MAX_TOTAL = 256 * 1024 * 1024
_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".jar")
SEP = "!"


def is_archive(name: str, data: bytes) -> bool:
    lower = name.lower()
    if lower.endswith((".zip", ".jar")):
        return data[:4] == b"PK\x03\x04" or data[:4] == b"PK\x05\x06"
    if lower.endswith((".tar.gz", ".tgz")):
        return data[:2] == b"\x1f\x8b"
    if lower.endswith(".tar"):
        return len(data) > 262 and data[257:262] == b"ustar"
    return False


def scan(
    path: str, data: bytes, *, must_encrypt: bool | Callable[[], bool] = False
) -> tuple[list[Finding], list[Skipped]]:
    """scan_file, and for an archive the scan of every file inside it."""
    if not is_archive(path, data):
        found, skip = scan_file(path, data, must_encrypt=must_encrypt)
        return found, [skip] if skip else []
    return _scan_archive(path, data, 1)


def _scan_archive(path: str, data: bytes, depth: int) -> tuple[list[Finding], list[Skipped]]:
    findings: list[Finding] = []
    skipped: list[Skipped] = []
    budget = _Budget()
    try:
        for inner, content, note in _members(path, data, budget):
            where = f"{path}{SEP}{inner}"
            if content is None:
                skipped.append(Skipped(where, note))
            elif is_archive(inner, content):
                if depth >= MAX_DEPTH:
                    skipped.append(Skipped(where, f"archive nested deeper than {MAX_DEPTH} levels; not opened"))
                    continue
                more, skips = _scan_archive(where, content, depth + 1)
                findings += more
                skipped += skips
            else:
                found, skip = scan_file(where, content)  # no .sops.yaml rule covers a file inside an archive
                findings += found
                skipped += [skip] if skip else []
    except _LimitReached as exc:
        skipped.append(Skipped(path, f"archive {exc}; the rest not scanned"))
    except Exception as exc:  # noqa: BLE001 - zipfile/tarfile/zlib raise many kinds on corrupt input; the archive is reported as skipped, never a crash
        skipped.append(Skipped(path, f"unreadable archive ({type(exc).__name__}); not scanned"))
    return findings, skipped


class _LimitReached(Exception):
    pass


class _Budget:
    def __init__(self) -> None:
        self.members = 0
        self.total = 0

    def member(self) -> None:
        self.members += 1
        if self.members > MAX_MEMBERS:
            raise _LimitReached(f"has more than {MAX_MEMBERS} files")

    def spend(self, n: int) -> None:
        self.total += n
        if self.total > MAX_TOTAL:
            raise _LimitReached(f"decompresses to more than {MAX_TOTAL // (1024 * 1024)} MB")


class _Counted(io.RawIOBase):
    """A reader that charges every decompressed byte to the budget."""

    def __init__(self, raw: IO[bytes], budget: _Budget) -> None:
        self.raw, self.budget = raw, budget

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.raw.read(len(buffer))
        self.budget.spend(len(data))
        buffer[: len(data)] = data
        return len(data)


def _bounded_read(stream: IO[bytes], budget: _Budget) -> bytes | None:
    """At most MAX_BYTES of a member (None when it is larger), each byte charged to the budget."""
    out = bytearray()
    while len(out) <= MAX_BYTES:
        piece = stream.read(min(1 << 20, MAX_BYTES + 1 - len(out)))
        if not piece:
            return bytes(out)
        budget.spend(len(piece))
        out += piece
    return None


def _members(path: str, data: bytes, budget: _Budget) -> Iterator[tuple[str, bytes | None, str]]:
    too_big = f"larger than {MAX_BYTES // (1024 * 1024)} MB; not scanned"
    if data[:2] == b"PK":
        import zipfile

        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            for info in zf.infolist():
                if info.is_dir():
                    continue
                budget.member()
                if info.flag_bits & 0x1:
                    yield info.filename, None, "encrypted archive member; not scanned"
                    continue
                with zf.open(info) as member:
                    content = _bounded_read(member, budget)
                yield info.filename, content, "" if content is not None else too_big
        return
    import tarfile

    raw: IO[bytes] = io.BytesIO(data)
    reads = budget
    if data[:2] == b"\x1f\x8b":
        import gzip

        raw = io.BufferedReader(_Counted(gzip.GzipFile(fileobj=io.BytesIO(data)), budget))  # type: ignore[arg-type]
        reads = _Budget()  # every byte is charged as it is decompressed already
    with tarfile.open(fileobj=raw, mode="r|") as tf:  # a stream: members in order, nothing seeks back
        for entry in tf:
            if not entry.isfile():
                continue
            budget.member()
            stream = tf.extractfile(entry)
            content = _bounded_read(stream, reads) if stream is not None else b""
            yield entry.name, content, "" if content is not None else too_big
