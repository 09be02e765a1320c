"""Reading ``.sops.yaml`` the way sops does, and finding the files it governs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from aigw_secrets.errors import ConfigError

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
    index: int
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
        try:
            return re.search(regex, rel) is not None
        except re.error:
            return False

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
    import subprocess  # noqa: PLC0415

    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", "*.yaml", "*.yml"],
            cwd=root,
            capture_output=True,
            check=True,
        ).stdout
        files = [root / p for p in out.decode("utf-8", "replace").split("\0") if p]
    except (OSError, subprocess.CalledProcessError):
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
    from aigw_secrets.locate import find_sops_config  # noqa: PLC0415

    cfg_path = find_sops_config(root)
    if cfg_path is None:
        raise ConfigError(f"{root}: no .sops.yaml; run `aigw-secrets init` or copy .sops.yaml.example")
    return [p for p, _rule in governed(root, load(cfg_path)) if is_encrypted(p) == encrypted]
