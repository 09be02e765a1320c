"""``aigw-secrets keys``: age and PGP keys, recipients in ``.sops.yaml``, and age key rotation.

PGP goes through python-gnupg in a chosen GNUPGHOME (sops then uses the same gpg). ``.sops.yaml`` is
edited in place as text, so its comments and layout stay as they are.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from aigw_secrets import git, output
from aigw_secrets.errors import ConfigError, DataError, ExitCode, ToolMissingError
from aigw_secrets.rotation.agerotation import AgeRotation, NoClusterAccess, Phase, Waiting
from aigw_secrets.rotation.journal import repo_lock
from aigw_secrets.sops import agekeys
from aigw_secrets.sops import config as sops_config
from aigw_secrets.sops.pgp import gpg as _gpg


def generate_age(path: Path) -> int:
    """A new age identity in PATH (mode 0600, never overwritten); prints the recipient."""
    key = agekeys.generate()
    parent = path.resolve().parent
    while not parent.exists():  # the directory is created with the key: look from where it will hang
        parent = parent.parent
    root = git.toplevel(parent)
    if root is not None:
        git.ignore(root, path)  # ignored before the private key exists
    agekeys.write_key_file(path, key)
    output.result(key.recipient)
    output.status("created", path, "age key, mode 0600")
    output.summary(f"age key created; its recipient is {key.recipient}")
    return 0


def generate_pgp(name: str, email: str, gnupghome: Path | None, expire: str) -> int:
    """A new PGP key without passphrase, for sops (CI and the cluster cannot type one)."""
    gpg = _gpg(gnupghome)
    params = gpg.gen_key_input(
        key_type="RSA",
        key_length=4096,
        name_real=name,
        name_email=email,
        expire_date=expire,
        no_protection=True,
    )
    key = gpg.gen_key(params)
    if not key.fingerprint:
        raise DataError(f"gpg could not generate a key for {email} ({key.status or 'no status'})")
    output.result(str(key.fingerprint))
    output.status("created", f"PGP key {key.fingerprint}", email)
    output.summary(f"PGP key {key.fingerprint} created")
    return 0


def import_pgp(path: Path, gnupghome: Path | None) -> int:
    gpg = _gpg(gnupghome)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    result = gpg.import_keys(data)
    if not result.fingerprints:
        raise DataError(f"{path}: no PGP key imported")
    found = list(dict.fromkeys(result.fingerprints))
    for fpr in found:
        output.result(fpr)
    output.summary(f"{len(found)} PGP key(s) imported")
    return 0


def list_keys(root: Path, gnupghome: Path | None, as_json: bool) -> int:
    """Recipients in .sops.yaml, and whether a private key for each is available here."""
    root = root.resolve()
    held_age = {k.recipient: str(path) for path in _age_files(root) for k in _read(path)}
    pgp: dict[str, dict[str, Any]] = {}
    try:
        gpg = _gpg(gnupghome)
        secret = {k["fingerprint"] for k in gpg.list_keys(secret=True)}
        for k in gpg.list_keys():
            pgp[k["fingerprint"]] = {"uids": k["uids"], "secret": k["fingerprint"] in secret}
    except ToolMissingError:
        pass
    rows = []
    cfg_path = sops_config.find(root)
    if cfg_path is not None:
        cfg = sops_config.load(cfg_path)
        for rule in cfg.rules:
            for r in rule.recipients("age"):
                rows.append({"rule": rule.position + 1, "type": "age", "recipient": r, "private_key": held_age.get(r)})
            for f in rule.recipients("pgp"):
                info = pgp.get(f.replace(" ", "").upper(), {})
                rows.append(
                    {
                        "rule": rule.position + 1,
                        "type": "pgp",
                        "recipient": f,
                        "private_key": "gpg keyring" if info.get("secret") else None,
                    }
                )
    for r, path in held_age.items():
        if not any(row["recipient"] == r for row in rows):
            rows.append({"rule": None, "type": "age", "recipient": r, "private_key": path})
    for fpr, info in pgp.items():
        if not any(str(row["recipient"]).replace(" ", "").upper() == fpr for row in rows):
            rows.append(
                {
                    "rule": None,
                    "type": "pgp",
                    "recipient": fpr,
                    "private_key": "gpg keyring" if info["secret"] else None,
                    "uids": info["uids"],
                }
            )
    if as_json:
        output.result(json.dumps(rows, indent=2))
    else:
        for row in rows:
            where = f"rule {row['rule']}" if row["rule"] else "not in .sops.yaml"
            held = f"private key: {row['private_key']}" if row["private_key"] else "no private key here"
            output.result(f"{row['type']:4} {row['recipient']}  ({where}; {held})")
        output.summary(f"{len(rows)} recipient(s), {sum(bool(r['private_key']) for r in rows)} with a private key here")
    return 0


def _age_files(root: Path) -> list[Path]:
    found = [Path(os.environ["SOPS_AGE_KEY_FILE"])] if os.environ.get("SOPS_AGE_KEY_FILE") else []
    found.append(agekeys.default_key_file(root))
    found += sorted(p for p in root.glob("*.agekey"))
    return [p for p in dict.fromkeys(found) if p.is_file()]


def _read(path: Path) -> list[agekeys.AgeKey]:
    try:
        return agekeys.read_key_file(path)
    except (DataError, OSError):
        return []


def add_recipient(
    root: Path, kind: str, recipient: str, rule_numbers: tuple[int, ...], *, then_updatekeys: bool = False
) -> int:
    """Add a recipient to creation rules, keeping the layout; the files keep their old recipients
    until `aigw-secrets updatekeys` re-wraps their data keys (``then_updatekeys``: the caller runs it next)."""
    path, changed = sops_config.add_recipient(root.resolve(), kind, recipient, rule_numbers)
    if not changed:
        output.status("unchanged", path, f"{recipient[:20]}... already listed")
        output.summary(f"{kind} recipient already listed in {path.name}")
    else:
        output.status("updated", path, f"added {kind} recipient to {changed} rule(s)")
        output.summary(f"added the {kind} recipient to {changed} creation rule(s)")
        if not then_updatekeys:
            output.hint(
                "the encrypted files still open only for the old recipients: run `aigw-secrets updatekeys` "
                "(or add-recipient with --updatekeys next time)"
            )
    return 0


def rotate_age(
    root: Path,
    *,
    kubeconfig: Path | None,
    context: str | None,
    secret: str,
    kustomization: str,
    grace_hours: float,
    key_file: Path | None,
    dry_run: bool,
    confirm_phase: int | None = None,
) -> int:
    """Rotate the age key in the order that never leaves Flux unable to decrypt (resumable)."""
    rotation = AgeRotation(
        root,
        kubeconfig=kubeconfig,
        context=context,
        secret=secret,
        kustomization=kustomization,
        grace_hours=grace_hours,
        key_file=key_file,
        confirmed_phase=confirm_phase,
    )
    if dry_run:
        output.result("\n".join(rotation.plan()))
        return 0
    with repo_lock(rotation.root):
        try:
            return rotation.run()
        except Waiting as exc:
            output.info(str(exc))
            output.hint("run `aigw-secrets keys rotate-age` again once that has happened (it resumes where it stopped)")
            return int(ExitCode.LOCKED)
        except NoClusterAccess:
            if rotation.journal.state == Phase.GENERATED:  # phase 2 is next: say exactly how to do it by hand
                output.info("phase 2 by hand (bash), then continue:")
                output.result("\n".join(rotation.phase2_commands()))
            raise
