"""What one ``scan`` is asked to do: the value both parsers build (the hook's fast argparse parse and
click's ``scan`` command) and the scan runs on.

A hand-written frozen class rather than a dataclass: ``dataclasses`` imports ``inspect``, which would
cost the pre-commit hook tens of milliseconds of its start-up budget. ``vars()`` gives the fields
(tests compare the two parsers' requests with it).
"""

from __future__ import annotations

from collections.abc import Iterable

from aigw_secrets.lean import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover - for the type checker only
    from pathlib import Path
    from typing import Literal, NoReturn

    Format = Literal["text", "json", "sarif"]
FORMATS: tuple[Format, ...] = ("text", "json", "sarif")


class ScanRequest:
    """Immutable; ``paths`` empty means the repository's tracked files (or the current directory)."""

    paths: tuple[str, ...]
    staged: bool
    all: bool  # every tracked file
    history: str | None  # None: no history scan; "": every ref; else a revision range
    format: Format
    output: str | None
    baseline: str | None
    update_baseline: bool
    repo: Path | None

    def __init__(
        self,
        paths: Iterable[str] = (),
        *,
        staged: bool = False,
        all: bool = False,  # the option's name
        history: str | None = None,
        format: str = "text",  # the option's name
        output: str | None = None,
        baseline: str | None = None,
        update_baseline: bool = False,
        repo: Path | None = None,
    ) -> None:
        if format not in FORMATS:
            raise ValueError(f"scan: unknown format {format!r}")
        self.__dict__.update(
            paths=tuple(paths),
            staged=bool(staged),
            all=bool(all),
            history=history,
            format=format,
            output=output,
            baseline=baseline,
            update_baseline=bool(update_baseline),
            repo=repo,
        )

    @property
    def git_mode(self) -> bool:
        """Staged, all or history: what is scanned comes from git, so a repository is needed."""
        return self.staged or self.all or self.history is not None

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(f"ScanRequest is immutable (cannot set {name})")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"ScanRequest is immutable (cannot delete {name})")

    def __eq__(self, other: object) -> bool:
        return type(other) is ScanRequest and vars(self) == vars(other)

    def __hash__(self) -> int:
        return hash(tuple(vars(self).values()))

    def __repr__(self) -> str:
        return "ScanRequest(" + ", ".join(f"{k}={v!r}" for k, v in vars(self).items()) + ")"
