"""``aigw-secrets init``: an age key (0600, git-ignored) and a ``.sops.yaml``; never overwrites either."""

from __future__ import annotations

import os
from pathlib import Path

from aigw_secrets import git, output
from aigw_secrets.errors import ConfigError
from aigw_secrets.sops import agekeys
from aigw_secrets.sops import config as sops_config
from aigw_secrets.util import atomic_write


def init(root: Path, *, key_file: Path | None = None, output_dir: str | None = None, fmt: str = "text") -> int:
    """Create what ``generate`` needs to encrypt; report what already exists."""
    root = root.resolve()
    output.begin(fmt)
    if not root.is_dir():
        raise ConfigError(f"{root}: not a directory")
    path = agekeys.key_file_for(root, key_file)
    if path.exists():
        recipient = agekeys.read_key_file(path)[0].recipient
        output.status("kept", path, f"existing age key, recipient {recipient}")
        mode = path.stat().st_mode & 0o077
        if mode:
            output.warn(f"{path}: readable by group/others; run `chmod 600 {path}`")
    else:
        git.ignore(root, path)  # ignored before the private key exists
        key = agekeys.generate()
        agekeys.write_key_file(path, key)
        recipient = key.recipient
        output.status("created", path, f"age key (mode 0600), recipient {recipient}")
    git.ignore(root, path)

    sops_yaml = root / ".sops.yaml"
    if sops_yaml.exists():
        text = sops_yaml.read_text("utf-8", "replace")
        note = "existing" if recipient in text else f"existing; it does not list {recipient}"
        output.status("kept", sops_yaml, note)
    else:
        atomic_write(sops_yaml, sops_config.initial_text(recipient, output_dir).encode(), mode=0o644)
        output.status("created", sops_yaml, "creation rules for *.sops.yaml")
    created = sum(f["action"] == "created" for f in output.SETTINGS.files)
    output.finish(
        f"ready to encrypt for {recipient}" + (f" ({created} file(s) created)" if created else " (nothing to create)"),
        recipient=recipient,
        key_file=str(path),
    )
    if "SOPS_AGE_KEY_FILE" not in os.environ:  # sops itself looks elsewhere (~/.config/sops/age/agekeys.txt)
        output.hint(
            f"export SOPS_AGE_KEY_FILE={path}  (so sops finds the key), then write cluster.yaml and run "
            "`aigw-secrets generate`"
        )
    else:
        output.hint("write cluster.yaml and run `aigw-secrets generate`")
    return 0
