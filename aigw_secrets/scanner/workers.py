"""Both cores for big scans: a list of chunks is worked on by forked processes, and the results
come back in the chunks' order (the output of a parallel scan is the serial scan's, line for line).

Fork, not spawn: the workers inherit the loaded rules, the .sops.yaml predicate and the work
function itself (closures cannot be pickled; only the chunk index crosses the pipe, and the
results come back pickled). Below a threshold a scan stays in one process, since starting workers
costs more than it saves; the pre-commit path never gets here.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

_JOB: list[Any] = []  # (work, chunks): set just before forking, read by the workers


def cpus() -> int:
    """The CPUs this process may run on (the affinity mask, as a container's cpuset limits it)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def chunked(items: Sequence[T], processes: int, per_process: int = 4) -> list[list[T]]:
    """Contiguous slices, a few per process (a slow slice then holds up nobody for long)."""
    n = max(1, min(len(items), processes * per_process))
    size, extra = divmod(len(items), n)
    out, start = [], 0
    for i in range(n):
        end = start + size + (1 if i < extra else 0)
        out.append(list(items[start:end]))
        start = end
    return [c for c in out if c]


def fan_out(work: Callable[[list[T]], R], chunks: list[list[T]], processes: int) -> list[R]:
    """``[work(c) for c in chunks]``, over ``processes`` forked workers when there is more than
    one of each (the same results, in the same order)."""
    if processes <= 1 or len(chunks) <= 1 or not hasattr(os, "fork"):
        return [work(c) for c in chunks]
    import multiprocessing

    _JOB[:] = [(work, chunks)]
    try:
        with multiprocessing.get_context("fork").Pool(min(processes, len(chunks))) as pool:
            return pool.map(_run, range(len(chunks)), chunksize=1)
    finally:
        _JOB.clear()


def _run(index: int) -> Any:
    work, chunks = _JOB[0]
    return work(chunks[index])
