"""The exception tree and the one table of exit codes.

Every user-facing failure is an ``AigwError`` whose message is a single line that names the file,
field or variable at fault. Messages never contain a secret value or anything sops printed on
stdout; ``entry.guarded`` is the only place that turns them (and OS errors) into exit codes.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """Stable exit codes (documented in the README)."""

    OK = 0
    FINDINGS = 1  # scan found a plaintext credential; status: something is overdue
    USAGE = 2  # bad command line
    ROTATION_REJECTED = 10  # provider rejected the new credential; nothing changed
    MANUAL_ACTION = 11  # an operator has to act (no unattended credential source)
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
