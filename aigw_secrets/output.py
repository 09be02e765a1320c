"""The only code that writes messages for people. Results go to stdout, diagnostics to stderr.

One grammar for every command: ``-q/--quiet`` keeps only warnings and errors, ``-v/--verbose`` adds
detail, colour only on a terminal and never with ``--no-color`` or ``NO_COLOR`` (no-color.org), and
``--format json`` makes stdout one JSON document (diagnostics stay on stderr).
"""

from __future__ import annotations

import os
import sys

from aigw_secrets.lean import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover - for the type checker only
    from pathlib import Path
    from typing import Any


class _Settings:
    def __init__(self) -> None:
        self.quiet = False
        self.verbose = False
        self.color: bool | None = None  # None: decide from the terminal and NO_COLOR
        self.json = False  # --format json: status lines are also collected for the one JSON document
        self.files: list[dict[str, str]] = []


SETTINGS = _Settings()
_CODES = {"bold": "1", "red": "31", "green": "32", "yellow": "33", "dim": "2"}


def configure(*, quiet: bool = False, verbose: bool = False, color: bool | None = None) -> None:
    SETTINGS.quiet, SETTINGS.verbose, SETTINGS.color = quiet, verbose and not quiet, color
    begin("text")


def _colored(stream: Any) -> bool:
    if SETTINGS.color is not None:
        return SETTINGS.color
    return (
        "NO_COLOR" not in os.environ
        and os.environ.get("TERM") != "dumb"
        and bool(getattr(stream, "isatty", lambda: False)())
    )


def paint(text: str, style: str, stream: Any = None) -> str:
    """``text`` in a colour when ``stream`` (default stderr) is a terminal that wants colour."""
    return f"\033[{_CODES[style]}m{text}\033[0m" if _colored(stream or sys.stderr) else text


def info(message: str) -> None:
    if not SETTINGS.quiet:
        print(message, file=sys.stderr)


def detail(message: str) -> None:
    """Only with --verbose."""
    if SETTINGS.verbose:
        print(paint(message, "dim"), file=sys.stderr)


def warn(message: str) -> None:
    print(f"{paint('warning', 'yellow')}: {message}", file=sys.stderr)


def error(message: str, *, prog: str = "aigw-secrets") -> None:
    print(f"{prog}: {paint('error', 'red')}: {message}", file=sys.stderr)


_STATUS_STYLE = {
    "wrote": "green",
    "created": "green",
    "encrypted": "green",
    "rotated": "green",
    "updated": "green",
    "removed": "yellow",
}


def status(verb: str, path: Path | str, note: str = "") -> None:
    SETTINGS.files.append({"path": str(path), "action": verb, **({"note": note} if note else {})})
    if SETTINGS.quiet:
        return
    suffix = f"  ({note})" if note else ""
    label = f"{verb:>12}"
    style = _STATUS_STYLE.get(verb)
    print(f"{paint(label, style) if style else label}  {path}{suffix}", file=sys.stderr)


def summary(message: str) -> None:
    """The one line every successful command ends with."""
    if not SETTINGS.quiet:
        print(paint(message, "bold"), file=sys.stderr)


def hint(message: str) -> None:
    """The next step, where it is not obvious."""
    if not SETTINGS.quiet:
        print(f"{paint('next', 'dim')}: {message}", file=sys.stderr)


class Progress:
    """A one-line progress bar on a terminal; silent otherwise (cron, CI, pipes) and with --quiet."""

    def __init__(self, total: int, label: str, *, start: int = 0) -> None:
        self.total, self.label, self.done = total, label, start
        self.enabled = sys.stderr.isatty() and total > 1 and not SETTINGS.quiet

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


def json_result(data: Any) -> None:
    """The whole stdout of a command run with --format json."""
    import json

    result(json.dumps(data, indent=2, default=str))


def begin(fmt: str) -> None:
    """Start a command that reports in ``fmt`` (text or json): forget what an earlier one recorded."""
    SETTINGS.json, SETTINGS.files = fmt == "json", []


def finish(message: str, **fields: Any) -> None:
    """End a command that succeeded: the summary line, or with --format json the one document on
    stdout (every file and its action, counts, ``fields``, the summary)."""
    if not SETTINGS.json:
        summary(message)
        return
    counts: dict[str, int] = {}
    for f in SETTINGS.files:
        counts[f["action"]] = counts.get(f["action"], 0) + 1
    json_result({"files": SETTINGS.files, "counts": counts, **fields, "summary": message})
