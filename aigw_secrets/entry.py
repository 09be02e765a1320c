"""The `aigw-secrets` console script. `scan` is dispatched before click is imported, so the
pre-commit hook starts fast; everything else goes through cli.main."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["scan"]:
        from aigw_secrets.scanner.hook import main as scan

        return scan(args[1:])
    from aigw_secrets.cli import main as cli_main

    return cli_main(args)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
