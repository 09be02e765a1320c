"""Reading ``.sops.yaml`` the way sops does, and finding the files it governs."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from aigw_secrets.errors import ConfigError, DataError

NO_CONFIG_HINT = "run `aigw-secrets init`, or copy .sops.yaml.example"

TOP_KEYS = ("creation_rules", "destination_rules", "stores")
RULE_KEYS = (
    "path_regex",
    "age",
    "pgp",
    "kms",
    "gcp_kms",
    "azure_keyvault",
    "hc_vault_transit_uri",
    "hckms",
    "key_groups",
    "shamir_threshold",
    "unencrypted_suffix",
    "encrypted_suffix",
    "unencrypted_regex",
    "encrypted_regex",
    "unencrypted_comment_regex",
    "encrypted_comment_regex",
    "mac_only_encrypted",
)
SELECTORS = RULE_KEYS[10:16]


class Rule(NamedTuple):
    position: int  # 0-based place in creation_rules
    line: int
    data: dict[str, Any]

    @property
    def path_regex(self) -> str | None:
        value = self.data.get("path_regex")
        return str(value) if value is not None else None

    def matches(self, rel: str) -> bool:
        # sops: an unanchored Go regexp against the path relative to the .sops.yaml directory; no
        # path_regex matches everything.
        regex = self.path_regex
        if not regex:
            return True
        from aigw_secrets.sops import regex as goregex

        try:
            return goregex.search(regex, rel)
        except goregex.GoRegexError:
            return False  # sops refuses the whole config; `doctor` says why

    def recipients(self, kind: str) -> list[str]:
        found: list[str] = []
        for source in [self.data, *(self.data.get("key_groups") or [])]:
            value = source.get(kind) if isinstance(source, dict) else None
            if isinstance(value, str):
                found += [v.strip() for v in value.split(",") if v.strip()]
            elif isinstance(value, list):
                found += [str(v).strip() for v in value]
        return found


class SopsConfig(NamedTuple):
    path: Path
    raw: dict[str, Any]
    rules: list[Rule]
    lines: dict[str, int]

    def rule_for(self, rel: str) -> Rule | None:
        return next((r for r in self.rules if r.matches(rel)), None)

    def age_recipients(self) -> set[str]:
        """Every age recipient any creation rule lists."""
        return {r for rule in self.rules for r in rule.recipients("age")}


# cluster-template's rule (onedr0p/cluster-template .sops.yaml.j2), minus mac_only_encrypted: we keep
# the MAC over metadata so that rotation annotations cannot be edited behind sops's back.
_INITIAL = """\
---
# Created by `aigw-secrets init`. sops reads it from the repository root.
# Only data/stringData are encrypted: Flux and kustomize need apiVersion, kind and metadata in clear.
creation_rules:
{rules}stores:
  yaml:
    indent: 2
"""
_RULE = """\
  - path_regex: {regex}
    encrypted_regex: ^(data|stringData)$
    age: {recipient}
"""
DEFAULT_REGEX = r"(bootstrap|kubernetes)/.*\.sops\.ya?ml"


def initial_text(recipient: str, output_dir: str | None) -> str:
    """The ``.sops.yaml`` ``init`` writes: cluster-template's rule, and one for the output directory
    when that lies outside ``bootstrap/`` and ``kubernetes/``."""
    rules = _RULE.format(regex=DEFAULT_REGEX, recipient=recipient)
    if output_dir and not re.match(r"(bootstrap|kubernetes)/", output_dir):
        regex = re.escape(output_dir.strip("/")) + r"/.*\.sops\.ya?ml"
        rules = _RULE.format(regex=regex, recipient=recipient) + rules
    return _INITIAL.format(rules=rules)


def find(root: Path) -> Path | None:
    """The ``.sops.yaml`` sops will use from ``root`` (``$SOPS_CONFIG``, else walking up from it).

    Light on purpose: the pre-commit hook calls it on its start-up path.
    """
    explicit = os.environ.get("SOPS_CONFIG")
    if explicit:
        return Path(explicit) if Path(explicit).is_file() else None
    for directory in (root, *root.parents):
        candidate = directory / ".sops.yaml"
        if candidate.is_file():
            return candidate
    return None


def require(root: Path, why: str = "") -> Path:
    """``find``, or the one error every command gives when there is no ``.sops.yaml``."""
    found = find(root)
    if found is None:
        raise ConfigError(f"{root}: no .sops.yaml{f' ({why})' if why else ''}; {NO_CONFIG_HINT}")
    return found


def read_text(path: Path) -> str:
    """A configuration file's text, or a ConfigError naming it."""
    try:
        return path.read_text("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file does not exist") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None


def load(path: Path) -> SopsConfig:
    return load_text(read_text(path), path)


def load_text(text: str, path: Path) -> SopsConfig:
    try:
        raw = yaml.safe_load(text) or {}
        node = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(f"{path}{f':{mark.line + 1}' if mark else ''}: invalid YAML") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    lines: dict[str, int] = {}
    rule_lines: list[int] = []
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            lines[str(k.value)] = k.start_mark.line + 1
            if k.value == "creation_rules" and isinstance(v, yaml.SequenceNode):
                rule_lines = [item.start_mark.line + 1 for item in v.value]
    rules_raw = raw.get("creation_rules") or []
    if not isinstance(rules_raw, list):
        raise ConfigError(f"{path}:{lines.get('creation_rules', 1)}: creation_rules must be a list")
    rules = [
        Rule(i, rule_lines[i] if i < len(rule_lines) else 0, r if isinstance(r, dict) else {})
        for i, r in enumerate(rules_raw)
    ]
    return SopsConfig(path, raw, rules, lines)


def yaml_files(root: Path) -> list[Path]:
    """YAML files of the repository: tracked and untracked-but-not-ignored in git, else all."""
    from aigw_secrets import git

    try:
        files = [root / p for p in git.ls_files(root, "*.yaml", "*.yml", others=True)]
    except git.GitError:
        files = [p for p in root.rglob("*") if p.suffix in (".yaml", ".yml") and ".git" not in p.parts]
    return sorted(p for p in files if p.is_file())


def is_encrypted(path: Path) -> bool:
    """A top-level ``sops:`` block with a ``mac`` (what ``sops filestatus`` checks)."""
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    return bool(re.search(r"(?m)^sops:\s*$", text)) and bool(re.search(r"(?m)^\s+mac: ", text))


def governed(root: Path, cfg: SopsConfig) -> list[tuple[Path, Rule]]:
    """Files that a creation rule with a path_regex matches (the files sops manages here)."""
    base = cfg.path.parent
    out = []
    for path in yaml_files(root):
        if path.name == ".sops.yaml":
            continue
        try:
            rel = str(path.resolve().relative_to(base.resolve()))
        except ValueError:
            continue
        rule = cfg.rule_for(rel)
        if rule is not None and rule.path_regex:
            out.append((path, rule))
    return out


def managed(root: Path, *, encrypted: bool = True) -> list[Path]:
    """The governed files that are (or, with ``encrypted=False``, are not yet) sops-encrypted."""
    return [p for p, _rule in governed(root, load(require(root))) if is_encrypted(p) == encrypted]


# --- editing .sops.yaml in place (its comments and layout stay) -------------------------------------


def add_recipient(root: Path, kind: str, recipient: str, rule_numbers: tuple[int, ...] = ()) -> tuple[Path, int]:
    """Add an age recipient or PGP fingerprint to creation rules (all by default), keeping the layout.

    Returns the ``.sops.yaml`` and how many rules changed (0: already listed). The files keep their
    old recipients until ``updatekeys`` re-wraps their data keys.
    """
    import json

    from aigw_secrets.sops import splice as ys
    from aigw_secrets.util import atomic_write

    if kind == "age" and not re.fullmatch(r"age1[02-9ac-hj-np-z]{58}", recipient):
        raise ConfigError(f"{recipient[:12]}...: not an age recipient (age1 + 58 characters)")
    if kind == "pgp":
        recipient = recipient.replace(" ", "").upper()
        if not re.fullmatch(r"[0-9A-F]{40}", recipient):
            raise ConfigError(f"{recipient}: not a 40-hex-digit PGP fingerprint")
    path = require(root)
    text = read_text(path)
    parsed = ys.parse(text, str(path))
    cfg = load(path)
    chosen = [r for r in cfg.rules if not rule_numbers or r.position + 1 in rule_numbers]
    if not chosen:
        raise ConfigError(f"{path}: no creation rule numbered {', '.join(map(str, rule_numbers))}")
    reps = []
    for rule in chosen:
        if recipient in [r.replace(" ", "").upper() if kind == "pgp" else r for r in rule.recipients(kind)]:
            continue
        spans = [s for s in parsed.scalars if s.path[:3] == ("creation_rules", rule.position, kind)]
        if len(spans) == 1 and spans[0].path == ("creation_rules", rule.position, kind) and isinstance(spans[0].value, str):
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
            anchor = next(s for s in parsed.scalars if s.path[:2] == ("creation_rules", rule.position))
            line = ys._line_start(text, anchor.start)
            indent = " " * len(re.match(r"[ -]*", text[line:]).group(0))  # type: ignore[union-attr]
            end = ys._line_after(text, anchor.end)
            reps.append(ys.Replacement(end, end, f"{indent}{kind}: {recipient}\n"))
        else:
            raise ConfigError(f"{path}:{rule.line}: rule {rule.position + 1} lists {kind} recipients in a form this command does not edit; add it by hand")
    if not reps:
        return path, 0
    new = ys.apply(text, reps)
    check = load_text(new, path)
    for rule in chosen:
        if recipient not in [r.replace(" ", "").upper() if kind == "pgp" else r for r in check.rules[rule.position].recipients(kind)]:
            raise DataError(f"{path}: could not add the recipient to rule {rule.position + 1} safely; nothing written")
    atomic_write(path, new.encode("utf-8"))
    return path, len(reps)


def remove_recipients(root: Path, recipients: list[str]) -> int:
    """Remove age recipients from every creation rule of .sops.yaml, keeping the layout.

    Files keep them until `aigw-secrets updatekeys` re-wraps their data keys.
    """
    import json

    from aigw_secrets.sops import splice as ys
    from aigw_secrets.util import atomic_write

    path = require(root)
    text = read_text(path)
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
    check = load_text(new, path)
    if any(r in rule.recipients("age") for rule in check.rules for r in recipients):
        raise DataError(f"{path}: could not remove the recipient safely; nothing written")
    atomic_write(path, new.encode("utf-8"))
    return len(reps)
