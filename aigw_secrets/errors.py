"""The exception tree, the one table of exit codes and the one error boundary.

Every user-facing failure is an ``AigwError`` whose message is a single line that names the file,
field or variable at fault. Messages never contain a secret value or anything sops printed on
stdout. ``guarded`` is the only place that turns them (and OS errors, and whatever else escapes) into
one line on stderr and an exit code; every entry point (the command line, the scan hook's fast path)
runs inside it. An unexpected exception is "internal error" (70) with its type and place, never a
traceback, because the scanner's and sops's data (plaintext) may sit in its message or locals.
"""

from __future__ import annotations

import enum
import os
import sys
from collections.abc import Callable


class ExitCode(enum.IntEnum):
    """Stable exit codes (documented in the README)."""

    OK = 0
    FINDINGS = 1  # scan found a plaintext credential; status: something is overdue
    USAGE = 2  # bad command line
    ROTATION_REJECTED = 10  # provider rejected the new credential; nothing changed
    MANUAL_ACTION = 11  # an operator has to act (no unattended credential source)
    SUPERSEDED = 12  # the credential offered is one a later rotation replaced; nothing changed
    DATA = 65  # malformed, tampered or already-encrypted file
    NO_INPUT = 66  # an input file does not exist
    CREDENTIAL = 67  # credential missing or of the wrong shape
    NO_KEY = 68  # no private key available that can decrypt the file
    UNAVAILABLE = 69  # provider or API unreachable / inconclusive
    INTERNAL = 70  # a bug in aigw-secrets
    TOOL_MISSING = 72  # sops / age / gpg binary not found
    CANT_WRITE = 73  # output cannot be written
    SOPS_FAILED = 74  # sops failed for another reason
    LOCKED = 75  # another run holds the repository lock
    PERMISSION = 77  # permission denied (provider admin API, Kubernetes RBAC)
    CONFIG = 78  # configuration error (cluster.yaml / cluster.toml / .sops.yaml)
    INTERRUPTED = 130


class AigwError(RuntimeError):
    """A failure the user can fix; ``str(err)`` is the one-line reason."""

    code: ExitCode = ExitCode.INTERNAL

    def __init__(self, message: str, *, code: ExitCode | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class ConfigError(AigwError):
    code = ExitCode.CONFIG


class CredentialError(AigwError):
    code = ExitCode.CREDENTIAL


class SupersededError(CredentialError):
    """The source holds a value the Secret held before and a later rotate/set/edit replaced."""

    code = ExitCode.SUPERSEDED


class DataError(AigwError):
    code = ExitCode.DATA


class NoInputError(AigwError):
    code = ExitCode.NO_INPUT


class NoKeyError(AigwError):
    code = ExitCode.NO_KEY


class ToolMissingError(AigwError):
    code = ExitCode.TOOL_MISSING


class OutputError(AigwError):
    code = ExitCode.CANT_WRITE


class SopsError(AigwError):
    code = ExitCode.SOPS_FAILED


class MissingExtra(ConfigError):
    """An optional client library (an extra: [aws], [gcp], [azure], ...) is not installed."""


def guarded(run: Callable[[], int], *, prog: str = "aigw-secrets", failure: ExitCode | None = None) -> int:
    """Run an entry point; map whatever it raises to one line on stderr (``prog: error: ...``) and an
    exit code. ``failure``, when given, is the code of every user-facing failure (an ``AigwError``,
    input nested too deeply): for a command whose other codes mean something to its caller (scan:
    1 is "findings" to pre-commit and CI, so whatever stops a scan is 2)."""
    try:
        return run()
    except AigwError as exc:
        _error(str(exc), prog)
        return int(failure if failure is not None else exc.code)
    except KeyboardInterrupt:
        _error("interrupted", prog)
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        return ExitCode.OK
    except RecursionError:
        _error("input nested too deeply to process", prog)
        return int(failure if failure is not None else ExitCode.DATA)
    except OverflowError:
        _error("a number in the input is too large", prog)
        return ExitCode.DATA
    except OSError as exc:
        message, code = os_error(exc)
        _error(message, prog)
        return code
    except MemoryError:
        _error("out of memory", prog)
        return ExitCode.INTERNAL
    except Exception as exc:  # noqa: BLE001 - the last resort; the message may hold a value, so it is never shown
        import traceback
        from pathlib import Path

        frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
        where = f" at {Path(frame.filename).name}:{frame.lineno}" if frame else ""
        _error(f"internal error {type(exc).__name__}{where}; this is a bug in aigw-secrets", prog)
        if os.environ.get("AIGW_SECRETS_DEBUG") == "1":
            traceback.print_exc(file=sys.stderr)
        return ExitCode.INTERNAL


def os_error(exc: OSError) -> tuple[str, int]:
    """One line and an exit code for an operating-system error nobody caught closer to its cause."""
    import errno

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


def _error(message: str, prog: str) -> None:
    # One line whatever the message holds: control characters (a newline in a path or a value
    # quoted by a message) are shown escaped.
    from aigw_secrets import output

    output.error("".join(c if c.isprintable() else repr(c)[1:-1] for c in message), prog=prog)
