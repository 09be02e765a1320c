"""The `aigw-secrets` console script and the one error boundary of every entry point.

`scan` is dispatched before click is imported, so the pre-commit hook starts fast; everything else
goes through ``cli.main``. Whatever escapes either becomes one line and an exit code here: an
unexpected exception is "internal error" (70) with its type and place, never a traceback, because
the scanner's and sops's data (plaintext) may sit in an exception's message or locals.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence


def guarded(run: Callable[[], int]) -> int:
    """Run an entry point; map whatever it raises to one line on stderr and an exit code."""
    from aigw_secrets.errors import AigwError, ExitCode

    try:
        return run()
    except AigwError as exc:
        _error(str(exc))
        return int(exc.code)
    except KeyboardInterrupt:
        _error("interrupted")
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        return ExitCode.OK
    except RecursionError:
        _error("input nested too deeply to process")
        return ExitCode.DATA
    except OverflowError:
        _error("a number in the input is too large")
        return ExitCode.DATA
    except OSError as exc:
        message, code = os_error(exc)
        _error(message)
        return code
    except MemoryError:
        _error("out of memory")
        return ExitCode.INTERNAL
    except Exception as exc:  # noqa: BLE001 - the last resort; the message may hold a value, so it is never shown
        import traceback
        from pathlib import Path

        frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
        where = f" at {Path(frame.filename).name}:{frame.lineno}" if frame else ""
        _error(f"internal error {type(exc).__name__}{where}; this is a bug in aigw-secrets")
        if os.environ.get("AIGW_SECRETS_DEBUG") == "1":
            traceback.print_exc(file=sys.stderr)
        return ExitCode.INTERNAL


def os_error(exc: OSError) -> tuple[str, int]:
    """One line and an exit code for an operating-system error nobody caught closer to its cause."""
    import errno

    from aigw_secrets.errors import ExitCode

    codes = {
        errno.EACCES: ExitCode.PERMISSION,
        errno.EPERM: ExitCode.PERMISSION,
        errno.EROFS: ExitCode.CANT_WRITE,
        errno.ENOSPC: ExitCode.CANT_WRITE,
        errno.EDQUOT: ExitCode.CANT_WRITE,
        errno.EISDIR: ExitCode.CANT_WRITE,
        errno.ENOTDIR: ExitCode.CANT_WRITE,
        errno.EEXIST: ExitCode.CANT_WRITE,
        errno.ENOENT: ExitCode.NO_INPUT,
        errno.ELOOP: ExitCode.DATA,
    }
    where = f"{exc.filename}: " if exc.filename is not None else ""
    return f"{where}{exc.strerror or type(exc).__name__}", int(codes.get(exc.errno or 0, ExitCode.CANT_WRITE))


def _error(message: str) -> None:
    # One line whatever the message holds: control characters (a newline in a path or a value
    # quoted by a message) are shown escaped.
    from aigw_secrets import output

    output.error("".join(c if c.isprintable() else repr(c)[1:-1] for c in message))


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["scan"]:
        from aigw_secrets.scanner import hook

        try:
            parsed = hook.parse(args[1:])
        except hook.UsageProblem:
            pass  # --help or a usage error: click gives both, in the words of every other command
        else:
            return guarded(lambda: hook.execute(parsed))
    from aigw_secrets.cli import main as cli_main

    return guarded(lambda: cli_main(args))


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
