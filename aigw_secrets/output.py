"""The only code that writes messages for people. Results go to stdout, diagnostics to stderr."""

from __future__ import annotations

import sys
from pathlib import Path


def info(message: str) -> None:
    print(message, file=sys.stderr)


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def error(message: str) -> None:
    print(f"aigw-secrets: error: {message}", file=sys.stderr)


def status(verb: str, path: Path | str, note: str = "") -> None:
    suffix = f"  ({note})" if note else ""
    print(f"{verb:>12}  {path}{suffix}", file=sys.stderr)


class Progress:
    """A one-line progress bar on a terminal; silent otherwise (cron, CI, pipes)."""

    def __init__(self, total: int, label: str, *, start: int = 0) -> None:
        self.total, self.label, self.done = total, label, start
        self.enabled = sys.stderr.isatty() and total > 1

    def advance(self, n: int = 1) -> None:
        self.done += n
        if self.enabled:
            width = 30
            filled = int(width * self.done / max(1, self.total))
            sys.stderr.write(f"\r{self.label} [{'#' * filled}{' ' * (width - filled)}] {self.done}/{self.total}")
            sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


def result(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stdout.flush()
