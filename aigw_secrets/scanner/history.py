"""``scan --history``: every blob reachable in a range, scanned with exactly the tree scan's checks
under the real path it had, split over the CPUs (forked workers, each with its own ``git cat-file``);
each finding names the blob and the first commit that brought it in.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from aigw_secrets.scanner import sources
from aigw_secrets.scanner.scan import Finding, Skipped, scan_file

PARALLEL_FROM = 2000  # blobs: below this a worker pool costs more than it saves
_STATE: list[tuple[Path, Callable[[str], bool]]] = []  # what forked workers inherit


def scan(root: Path, revisions: str | None, covered: Callable[[str], bool]) -> tuple[list[Finding], list[Skipped]]:
    blobs, missing = sources.history_blobs(root, revisions)
    skipped = [Skipped(f"(object {sha[:12]})", "missing from the object store; not scanned") for sha in missing]
    n = min(os.cpu_count() or 1, 4) if len(blobs) >= PARALLEL_FROM else 1
    if n > 1:
        findings, more = _parallel(root, covered, [blobs[i::n] for i in range(n)])
    else:
        findings, more = _scan_blobs(root, covered, blobs)
    skipped += more
    if findings:
        firsts = sources.first_commits(root, revisions, {f.blob: f.path for f in findings})
        findings = [f._replace(commit=firsts.get(f.blob, "")) for f in findings]
    return findings, skipped


def _scan_blobs(root: Path, covered: Callable[[str], bool], blobs: list[tuple[str, str]]) -> tuple[list[Finding], list[Skipped]]:
    findings: list[Finding] = []
    skipped: list[Skipped] = []
    for item in sources.history(root, blobs):
        if item.data is None:
            skipped.append(Skipped(item.path, item.note))
            continue
        path = item.path
        found, skip = scan_file(path, item.data, must_encrypt=lambda: covered(path))  # noqa: B023 - called before the loop moves on
        findings += (f._replace(blob=item.blob) for f in found)
        if skip:
            skipped.append(skip)
    return findings, skipped


def _worker(chunk: list[tuple[str, str]]) -> tuple[list[Finding], list[Skipped]]:
    root, covered = _STATE[0]
    return _scan_blobs(root, covered, chunk)


def _parallel(root: Path, covered: Callable[[str], bool], chunks: list[list[tuple[str, str]]]) -> tuple[list[Finding], list[Skipped]]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    covered("x.yaml")  # read .sops.yaml once, before forking
    _STATE[:] = [(root, covered)]
    findings: list[Finding] = []
    skipped: list[Skipped] = []
    try:
        with ProcessPoolExecutor(max_workers=len(chunks), mp_context=multiprocessing.get_context("fork")) as pool:
            for found, skip in pool.map(_worker, chunks):
                findings += found
                skipped += skip
    finally:
        _STATE.clear()
    return findings, skipped
