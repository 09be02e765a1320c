"""The `aigw-secrets` console script.

`scan` is dispatched before click is imported, so the pre-commit hook starts fast; everything else
goes through ``cli.main``. Both run inside the one error boundary, ``errors.guarded``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["scan"]:
        from aigw_secrets.scanner import hook

        try:
            parsed = hook.parse(args[1:])
        except hook.UsageProblem:
            pass  # --help or a usage error: click gives both, in the words of every other command
        else:
            code = hook.execute(parsed)
            if argv is None:  # the process's own run (the console script), not a call from Python
                _exit_now(code)
            return code
    from aigw_secrets.cli import main as cli_main

    return cli_main(args)


def _exit_now(code: int) -> None:
    """End the process at once once a scan is done: tearing the interpreter down (every module's
    objects freed one by one) costs a pre-commit call ~3 ms, a tenth of its run. Only when nothing
    waits for the normal exit: output flushed, no ``atexit`` handler (coverage, a library's
    cleanup); otherwise this returns and the exit is the usual one."""
    import atexit

    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return  # the usual exit reports or ignores it, as always
    if atexit._ncallbacks() == 0:
        os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
