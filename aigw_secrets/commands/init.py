"""``aigw-secrets init``: an age key (0600, git-ignored) and a ``.sops.yaml``; never overwrites either."""

from __future__ import annotations

import os
import re
from pathlib import Path

from aigw_secrets import keys, output
from aigw_secrets import sops as sops_mod
from aigw_secrets.errors import ConfigError
from aigw_secrets.util import atomic_write

# cluster-template's rule (onedr0p/cluster-template .sops.yaml.j2), minus mac_only_encrypted: we keep
# the MAC over metadata so that rotation annotations cannot be edited behind sops's back.
SOPS_YAML = """\
---
# Created by `aigw-secrets init`. sops reads it from the repository root.
# Only data/stringData are encrypted: Flux and kustomize need apiVersion, kind and metadata in clear.
creation_rules:
{rules}stores:
  yaml:
    indent: 2
"""
RULE = """\
  - path_regex: {regex}
    encrypted_regex: ^(data|stringData)$
    age: {recipient}
"""
DEFAULT_REGEX = r"(bootstrap|kubernetes)/.*\.sops\.ya?ml"


def key_path(root: Path, key_file: Path | None) -> Path:
    if key_file:
        return key_file
    env = os.environ.get("SOPS_AGE_KEY_FILE")
    return Path(env) if env else sops_mod.default_key_file(root)


def init(root: Path, *, key_file: Path | None = None, output_dir: str | None = None) -> int:
    """Create what ``generate`` needs to encrypt; report what already exists."""
    root = root.resolve()
    if not root.is_dir():
        raise ConfigError(f"{root}: not a directory")
    path = key_path(root, key_file)
    if path.exists():
        recipient = keys.read_key_file(path)[0].recipient
        output.status("kept", path, f"existing age key, recipient {recipient}")
        mode = path.stat().st_mode & 0o077
        if mode:
            output.warn(f"{path}: readable by group/others; run `chmod 600 {path}`")
    else:
        key = keys.generate()
        keys.write_key_file(path, key)
        recipient = key.recipient
        output.status("created", path, f"age key (mode 0600), recipient {recipient}")
    _ignore(root, path)

    sops_yaml = root / ".sops.yaml"
    if sops_yaml.exists():
        text = sops_yaml.read_text("utf-8", "replace")
        note = "existing" if recipient in text else f"existing; it does not list {recipient}"
        output.status("kept", sops_yaml, note)
    else:
        rules = RULE.format(regex=DEFAULT_REGEX, recipient=recipient)
        if output_dir and not re.match(r"(bootstrap|kubernetes)/", output_dir):
            regex = re.escape(output_dir.strip("/")) + r"/.*\.sops\.ya?ml"
            rules = RULE.format(regex=regex, recipient=recipient) + rules
        atomic_write(sops_yaml, SOPS_YAML.format(rules=rules).encode(), mode=0o644)
        output.status("created", sops_yaml, "creation rules for *.sops.yaml")
    if path.resolve().parent == root and "SOPS_AGE_KEY_FILE" not in os.environ:
        output.info(f"sops finds the key through SOPS_AGE_KEY_FILE: export SOPS_AGE_KEY_FILE={path}")
    return 0


def _ignore(root: Path, key: Path, *, entry: str | None = None) -> None:
    """Add the key file (or ``entry``, a pattern) to .gitignore when it lives inside the repository."""
    try:
        rel = key.resolve().relative_to(root)
    except ValueError:
        return
    gitignore = root / ".gitignore"
    entry = entry or "/" + rel.as_posix()
    lines = gitignore.read_text("utf-8").splitlines() if gitignore.exists() else []
    if entry in lines or rel.as_posix() in lines:
        return
    body = "\n".join([*lines, "# age private key (aigw-secrets init): never commit it", entry]) + "\n"
    atomic_write(gitignore, body.encode())
    output.status("updated", gitignore, f"ignores {entry}")
