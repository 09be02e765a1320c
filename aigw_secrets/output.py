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


def result(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stdout.flush()
