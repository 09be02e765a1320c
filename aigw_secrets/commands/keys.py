"""``aigw-secrets keys``: age and PGP keys, and recipients in ``.sops.yaml``.

PGP goes through python-gnupg in a chosen GNUPGHOME (sops then uses the same gpg). ``.sops.yaml`` is
edited in place as text, so its comments and layout stay as they are.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from aigw_secrets import keys, output, sopsconfig
from aigw_secrets import sops as sops_mod
from aigw_secrets import yamlsplice as ys
from aigw_secrets.errors import ConfigError, DataError, ToolMissingError
from aigw_secrets.util import atomic_write


def generate_age(path: Path) -> int:
    """A new age identity in PATH (mode 0600, never overwritten); prints the recipient."""
    key = keys.generate()
    keys.write_key_file(path, key)
    output.result(key.recipient)
    output.status("created", path, "age key, mode 0600")
    return 0


def _gpg(gnupghome: Path | None) -> Any:
    try:
        import gnupg  # noqa: PLC0415 - heavy and optional on most paths
    except ImportError:
        raise ToolMissingError("python-gnupg is not installed (pip install python-gnupg)") from None
    home = gnupghome or (Path(os.environ["GNUPGHOME"]) if os.environ.get("GNUPGHOME") else None)
    if home is not None:
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        return gnupg.GPG(gnupghome=str(home) if home else None)
    except (OSError, ValueError, RuntimeError):
        raise ToolMissingError("gpg not found; install GnuPG (apt-get install gnupg)") from None


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
    for fpr in dict.fromkeys(result.fingerprints):
        output.result(fpr)
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
    cfg_path = sops_mod.find_config(root)
    if cfg_path is not None:
        cfg = sopsconfig.load(cfg_path)
        for rule in cfg.rules:
            for r in rule.recipients("age"):
                rows.append({"rule": rule.index + 1, "type": "age", "recipient": r, "private_key": held_age.get(r)})
            for f in rule.recipients("pgp"):
                info = pgp.get(f.replace(" ", "").upper(), {})
                rows.append({"rule": rule.index + 1, "type": "pgp", "recipient": f, "private_key": "gpg keyring" if info.get("secret") else None})
    for r, path in held_age.items():
        if not any(row["recipient"] == r for row in rows):
            rows.append({"rule": None, "type": "age", "recipient": r, "private_key": path})
    for fpr, info in pgp.items():
        if not any(row["recipient"].replace(" ", "").upper() == fpr for row in rows):
            rows.append({"rule": None, "type": "pgp", "recipient": fpr, "private_key": "gpg keyring" if info["secret"] else None, "uids": info["uids"]})
    if as_json:
        output.result(json.dumps(rows, indent=2))
    else:
        for row in rows:
            rule = f"rule {row['rule']}" if row["rule"] else "not in .sops.yaml"
            held = f"private key: {row['private_key']}" if row["private_key"] else "no private key here"
            output.result(f"{row['type']:4} {row['recipient']}  ({rule}; {held})")
    return 0


def _age_files(root: Path) -> list[Path]:
    found = [Path(os.environ["SOPS_AGE_KEY_FILE"])] if os.environ.get("SOPS_AGE_KEY_FILE") else []
    found.append(sops_mod.default_key_file(root))
    found += sorted(p for p in root.glob("*.agekey"))
    return [p for p in dict.fromkeys(found) if p.is_file()]


def _read(path: Path) -> list[keys.AgeKey]:
    try:
        return keys.read_key_file(path)
    except (DataError, OSError):
        return []


def add_recipient(root: Path, kind: str, recipient: str, rule_numbers: tuple[int, ...]) -> int:
    """Add an age recipient or PGP fingerprint to creation rules (all by default), keeping the layout.

    The files keep their old recipients until `aigw-secrets updatekeys` re-wraps their data keys.
    """
    root = root.resolve()
    if kind == "age" and not re.fullmatch(r"age1[02-9ac-hj-np-z]{58}", recipient):
        raise ConfigError(f"{recipient[:12]}...: not an age recipient (age1 + 58 characters)")
    if kind == "pgp":
        recipient = recipient.replace(" ", "").upper()
        if not re.fullmatch(r"[0-9A-F]{40}", recipient):
            raise ConfigError(f"{recipient}: not a 40-hex-digit PGP fingerprint")
    path = sops_mod.find_config(root)
    if path is None:
        raise ConfigError(f"{root}: no .sops.yaml; run `aigw-secrets init` first")
    text = path.read_text("utf-8")
    parsed = ys.parse(text, str(path))
    cfg = sopsconfig.load(path)
    chosen = [r for r in cfg.rules if not rule_numbers or r.index + 1 in rule_numbers]
    if not chosen:
        raise ConfigError(f"{path}: no creation rule numbered {', '.join(map(str, rule_numbers))}")
    reps = []
    for rule in chosen:
        if recipient in [r.replace(" ", "").upper() if kind == "pgp" else r for r in rule.recipients(kind)]:
            continue
        spans = [s for s in parsed.scalars if s.path[:3] == ("creation_rules", rule.index, kind)]
        if len(spans) == 1 and spans[0].path == ("creation_rules", rule.index, kind) and isinstance(spans[0].value, str):
            s = spans[0]
            joined = f"{s.value},{recipient}" if s.value else recipient
            reps.append(ys.Replacement(s.start, s.end, json.dumps(joined) if s.style == '"' else (f"'{joined}'" if s.style == "'" else joined)))
        elif spans and all(len(s.path) == 4 for s in spans) and not spans[-1].flow:
            last = spans[-1]
            line = ys._line_start(text, last.start)
            indent = text[line : last.start]
            end = ys._line_after(text, last.end)
            reps.append(ys.Replacement(end, end, f"{indent}{recipient}\n"))
        elif not spans:
            anchor = next(s for s in parsed.scalars if s.path[:2] == ("creation_rules", rule.index))
            line = ys._line_start(text, anchor.start)
            indent = " " * len(re.match(r"[ -]*", text[line:]).group(0))  # type: ignore[union-attr]
            end = ys._line_after(text, anchor.end)
            reps.append(ys.Replacement(end, end, f"{indent}{kind}: {recipient}\n"))
        else:
            raise ConfigError(f"{path}:{rule.line}: rule {rule.index + 1} lists {kind} recipients in a form this command does not edit; add it by hand")
    if not reps:
        output.status("unchanged", path, f"{recipient[:20]}... already listed")
        return 0
    new = ys.apply(text, reps)
    check = sopsconfig.load_text(new, path)
    for rule in chosen:
        if recipient not in [r.replace(" ", "").upper() if kind == "pgp" else r for r in check.rules[rule.index].recipients(kind)]:
            raise DataError(f"{path}: could not add the recipient to rule {rule.index + 1} safely; nothing written")
    atomic_write(path, new.encode("utf-8"))
    output.status("updated", path, f"added {kind} recipient to {len(reps)} rule(s); run `aigw-secrets updatekeys` next")
    return 0


def remove_recipient(root: Path, recipients: list[str]) -> int:
    """Remove age recipients from every creation rule of .sops.yaml, keeping the layout.

    Files keep them until `aigw-secrets updatekeys` re-wraps their data keys.
    """
    root = root.resolve()
    path = sops_mod.find_config(root)
    if path is None:
        raise ConfigError(f"{root}: no .sops.yaml")
    text = path.read_text("utf-8")
    parsed = ys.parse(text, str(path))
    reps = []
    for s in parsed.scalars:
        if len(s.path) >= 3 and s.path[0] == "creation_rules" and s.path[2] == "age" and isinstance(s.value, str):
            if len(s.path) == 3:  # "a,b,c"
                kept = [r.strip() for r in s.value.split(",") if r.strip() and r.strip() not in recipients]
                if len(kept) != len([r for r in s.value.split(",") if r.strip()]):
                    if not kept:
                        raise ConfigError(f"{path}: removing would leave creation rule {s.path[1] + 1} without an age recipient")
                    joined = ",".join(kept)
                    reps.append(ys.Replacement(s.start, s.end, json.dumps(joined) if s.style == '"' else (f"'{joined}'" if s.style == "'" else joined)))
            elif s.value.strip() in recipients:  # a list item: drop its line
                reps.append(ys.Replacement(ys._line_start(text, s.start), ys._line_after(text, s.end), ""))
    if not reps:
        return 0
    new = ys.apply(text, reps)
    check = sopsconfig.load_text(new, path)
    if any(r in rule.recipients("age") for rule in check.rules for r in recipients):
        raise DataError(f"{path}: could not remove the recipient safely; nothing written")
    atomic_write(path, new.encode("utf-8"))
    output.status("updated", path, f"removed {len(recipients)} age recipient(s)")
    return 0
