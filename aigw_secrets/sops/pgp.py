"""GnuPG through python-gnupg (imported only here, only when a PGP command runs)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from aigw_secrets.errors import ToolMissingError


def gpg(gnupghome: Path | None) -> Any:
    try:
        import gnupg
    except ImportError:
        raise ToolMissingError("python-gnupg is not installed: pip install 'aigw-secrets[pgp]'") from None
    home = gnupghome or (Path(os.environ["GNUPGHOME"]) if os.environ.get("GNUPGHOME") else None)
    if home is not None:
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        return gnupg.GPG(gnupghome=str(home) if home else None)
    except (OSError, ValueError, RuntimeError):
        raise ToolMissingError("gpg not found; install GnuPG (apt-get install gnupg)") from None
