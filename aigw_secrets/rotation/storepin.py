"""Where each credential's store entry lives, pinned where no commit can write.

With the External Secrets backend the value goes to a store through the bot's own store credential
(``VAULT_ADDR``/``VAULT_TOKEN``, the AWS identity, the 1Password Connect token: the environment), but
*where* in that store comes from ``cluster.yaml``: the KV mount, the AWS region, the 1Password vault and
the key prefix. A commit changing them would have the next rotation write the new credential where the
commit's author can read it (a second mount of the same Vault, a vault their team shares). So the
location a credential was last written to is recorded (``records_dir``, beside the vouched recipients)
and a write elsewhere is refused (exit 11) until an operator, at a terminal, accepts the move for that
credential (``rotate --provider NAME --accept-recipients``). The first write is an operator's (``generate``,
``rotate``, ``migrate`` at a terminal); the bot never makes it (a commit switching a credential it mints to
the store would otherwise choose where the next one goes).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

from aigw_secrets import adminenv
from aigw_secrets.rotation.journal import records_dir
from aigw_secrets.sops.recipients import UntrustedRecipients
from aigw_secrets.stores.base import StoreSettings
from aigw_secrets.util import atomic_write

FILE = "store-locations.json"
_LOCK = threading.Lock()


def location(settings: StoreSettings, key: str) -> str:
    """The store entry a write goes to, as far as the repository decides it."""
    where = {
        "aws": f"region {settings.aws_region or '(default)'}",
        "vault": f"mount {settings.vault_mount}",
        "onepassword": f"vault {settings.onepassword_vault}",
    }.get(settings.provider, "")
    return f"{settings.provider} {where} entry {key}".replace("  ", " ")


def _load(root: Path) -> dict[str, str]:
    try:
        data = json.loads((records_dir(root) / FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def check(root: Path, provider: str, where: str, *, accept: bool = False, rel: str = "") -> None:
    """Refuse a write of ``provider``'s credential to ``where`` when it was last written elsewhere."""
    before = _load(root).get(provider)
    if before == where or accept:
        return
    if before is None:
        if not adminenv.is_unattended():
            return  # an operator's run: the first location is theirs to decide
        raise UntrustedRecipients(
            f"{rel or provider}: aigw-secrets never wrote the {provider} credential to a secret store, and "
            f"cluster.yaml now sends it to {where}: the bot does not take that from a commit (nothing minted or "
            f"written). An operator, once: `aigw-secrets rotate --provider {provider}` (or `generate`), which "
            "records the location"
        )
    raise UntrustedRecipients(
        f"{rel or provider}: cluster.yaml now sends the {provider} credential to {where}; aigw-secrets last wrote "
        f"it to {before}. A commit does not move where a credential goes: nothing minted or written. If the move "
        f"is yours, an operator: `aigw-secrets rotate --provider {provider} --accept-recipients`"
    )


def remember(root: Path, provider: str, where: str) -> None:
    """After ``provider``'s credential was written to ``where``: that is where it lives now."""
    with _LOCK:
        data = _load(root)
        if data.get(provider) == where:
            return
        data[provider] = where
        path = records_dir(root) / FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode())
