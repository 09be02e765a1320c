"""The `aigw-secrets` console script.

`scan` is dispatched before click is imported, so the pre-commit hook starts fast; everything else
goes through ``cli.main``. Both run inside the one error boundary, ``errors.guarded``.
"""

from __future__ import annotations

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
            return hook.execute(parsed)
    from aigw_secrets.cli import main as cli_main

    return cli_main(args)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
