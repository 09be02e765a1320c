"""Reading ``.sops.yaml`` the way sops does, and finding the files it governs."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from aigw_secrets import yamlload
from aigw_secrets.errors import AigwError, ConfigError, DataError

NO_CONFIG_HINT = "run `aigw-secrets init`, or copy .sops.yaml.example"

TOP_KEYS = ("creation_rules", "destination_rules", "stores")
# Where a rule's data keys come from (the recipients and how many must agree).
KEY_SOURCES = (
    "age",
    "pgp",
    "kms",
    "gcp_kms",
    "azure_keyvault",
    "hc_vault_transit_uri",
    "hckms",
    "key_groups",
    "shamir_threshold",
)
RULE_KEYS = (
    "path_regex",
    *KEY_SOURCES,
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
        from aigw_secrets.sops import regex as sops_regex

        try:
            return sops_regex.search(regex, rel)
        except sops_regex.GoRegexError:
            return False  # sops refuses the whole config; `doctor` says why

    def recipients(self, kind: str) -> list[str]:
        found: list[str] = []
        for source in [self.data, *_groups(self.data.get("key_groups"))]:
            value = source.get(kind)
            if isinstance(value, str):
                found += [v.strip() for v in value.split(",") if v.strip()]
            elif isinstance(value, list):
                found += [str(v).strip() for v in value]
        return found


def _groups(groups: Any) -> list[dict[str, Any]]:
    """Every key group of a rule, nested ``merge`` groups (sops >= 3.10) included."""
    found: list[dict[str, Any]] = []
    for group in groups if isinstance(groups, list) else []:
        if isinstance(group, dict):
            found += [group, *_groups(group.get("merge"))]
    return found


class SopsConfig(NamedTuple):
    path: Path
    raw: dict[str, Any]
    rules: list[Rule]
    lines: dict[str, int]

    def rule_for(self, rel: str, *, strict: bool = False) -> Rule | None:
        """The first rule whose path_regex matches ``rel`` (relative to this file's directory), as
        sops picks it. A path_regex sops cannot compile before the match stops sops: ``strict``
        makes that a ConfigError naming the rule, otherwise such a rule just matches nothing."""
        from aigw_secrets.sops import regex as sops_regex

        for rule in self.rules:
            regex = rule.path_regex
            why = sops_regex.problem(regex) if regex and strict else None
            if why:
                raise ConfigError(
                    f"{self.path}:{rule.line}: creation rule {rule.position + 1}: path_regex is not a valid "
                    f"Go regular expression ({why}); sops refuses the config"
                )
            if rule.matches(rel):
                return rule
        return None

    @property
    def directory(self) -> Path:
        return self.path.parent.resolve()

    def rel(self, path: Path) -> str:
        """``path`` as sops matches it against path_regex: relative to this file's directory, or
        absolute when it lies elsewhere."""
        resolved = path.resolve()
        try:
            return str(resolved.relative_to(self.directory))
        except ValueError:
            return str(resolved)

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


CONFIG_NAME = ".sops.yaml"


def nearest(path: Path) -> Path | None:
    """The ``.sops.yaml`` that governs ``path``: ``$SOPS_CONFIG``, else the nearest one in its
    directory or above (what sops uses when run from the file's directory; a nested config wins
    over the repository's)."""
    explicit = os.environ.get("SOPS_CONFIG")
    if explicit:
        return Path(explicit) if Path(explicit).is_file() else None
    start = path if path.is_dir() else path.parent
    return find(start.resolve())


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
    from aigw_secrets.sops import splice

    try:
        splice.check_depth(text, str(path))
        fast = yamlload.safe_loader()  # libyaml's parser where the wheel has it
        raw = yaml.load(text, Loader=fast) or {}  # noqa: S506 - a safe loader
        node = yaml.compose(text, Loader=fast)
    except AigwError as exc:
        raise ConfigError(str(exc)) from None
    except yaml.YAMLError as exc:
        line, reason = splice.yaml_problem(exc, text)
        raise ConfigError(f"{path}{f':{line}' if line else ''}: invalid YAML: {reason}") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply; refusing to read it") from None
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


YAML_SUFFIXES = (".yaml", ".yml")


def store_of(path: Path | str) -> str:
    """The sops store a file name picks (sops decides by extension): yaml, json, dotenv, ini, binary."""
    name = str(path).lower()
    if name.endswith(YAML_SUFFIXES):
        return "yaml"
    return {".json": "json", ".env": "dotenv", ".ini": "ini"}.get(Path(name).suffix, "binary")


def repo_files(root: Path, *patterns: str) -> list[Path]:
    """Files of the repository: tracked and untracked-but-not-ignored in git, else all."""
    from aigw_secrets import git

    try:
        files = [root / p for p in git.ls_files(root, *patterns, others=True)]
    except git.GitError:
        files = [
            p for p in root.rglob("*") if ".git" not in p.parts and (not patterns or p.suffix in (".yaml", ".yml"))
        ]
    return sorted(p for p in files if p.is_file() and not p.is_symlink())


def yaml_files(root: Path) -> list[Path]:
    """YAML files of the repository: tracked and untracked-but-not-ignored in git, else all."""
    return repo_files(root, "*.yaml", "*.yml")


def is_encrypted(path: Path) -> bool:
    """The file carries sops metadata with a MAC (what ``sops filestatus`` checks), in its format:
    a top-level ``sops`` block (YAML; JSON, also for binary files), ``sops_mac=`` (dotenv) or a
    ``[sops]`` section (INI)."""
    try:
        with path.open("rb") as fh:
            text = fh.read(4 << 20).decode("utf-8", "replace")
    except OSError:
        return False
    store = store_of(path)
    if store == "yaml":
        return bool(re.search(r"(?m)^sops:\s*$", text)) and bool(re.search(r"(?m)^\s+mac: ", text))
    if store == "dotenv":
        return bool(re.search(r"(?m)^sops_mac=", text))
    if store == "ini":
        return bool(re.search(r"(?m)^\[sops\]", text)) and bool(re.search(r"(?m)^mac\s*=", text))
    return bool(re.search(r'"sops"\s*:\s*\{', text)) and '"mac"' in text


def governed(
    root: Path, cfg: SopsConfig | None = None, *, all_formats: bool = False, strict: bool = True
) -> list[tuple[Path, Rule]]:
    """Files that a creation rule with a path_regex matches, each judged by its nearest
    ``.sops.yaml`` (only ``cfg``'s files when given). YAML only unless ``all_formats``: the
    formatting-preserving engine edits YAML; sops governs JSON, dotenv, INI and binary files too.
    Not ``strict``: a file whose rule lookup fails (an invalid path_regex before its rule) is left out."""
    out = []
    configs: dict[Path, SopsConfig] = {}
    near: dict[Path, Path | None] = {}
    files = repo_files(root) if all_formats else yaml_files(root)
    for path in files:
        if path.name == CONFIG_NAME:
            continue
        if path.parent not in near:
            near[path.parent] = nearest(path)
        found = near[path.parent]
        if found is None:
            continue
        if cfg is not None and found.resolve() != cfg.path.resolve():
            continue
        if found not in configs:
            configs[found] = cfg or load(found)
        here = configs[found]
        try:
            rule = here.rule_for(here.rel(path), strict=True)
        except ConfigError:
            if strict:
                raise
            continue  # not strict: sops fails on this file, the caller reports the rule
        if rule is not None and rule.path_regex:
            out.append((path, rule))
    return out


def managed(root: Path, *, encrypted: bool = True) -> list[Path]:
    """The governed YAML files that are (or, with ``encrypted=False``, are not yet) sops-encrypted."""
    load(require(root))  # a broken root config is reported even when no file is governed
    return [p for p, _rule in governed(root) if is_encrypted(p) == encrypted]


# --- editing .sops.yaml in place (its comments and layout stay) -------------------------------------


def add_recipient(root: Path, kind: str, recipient: str, rule_numbers: tuple[int, ...] = ()) -> tuple[Path, int]:
    """Add an age recipient or PGP fingerprint to creation rules (all by default), keeping the layout.

    Returns the ``.sops.yaml`` and how many rules changed (0: already listed). The files keep their
    old recipients until ``updatekeys`` re-wraps their data keys.
    """
    import json

    from aigw_secrets.sops import splice
    from aigw_secrets.util import atomic_write

    # X25519 (age1 + 58 characters) or hybrid post-quantum (age1pq1..., sops >= 3.12)
    if kind == "age" and not re.fullmatch(r"age1[02-9ac-hj-np-z]{58}|age1pq1[02-9ac-hj-np-z]{100,}", recipient):
        raise ConfigError(f"{recipient[:12]}...: not an age recipient (age1 + 58 characters, or age1pq1...)")
    if kind == "pgp":
        recipient = recipient.replace(" ", "").upper()
        if not re.fullmatch(r"[0-9A-F]{40}", recipient):
            raise ConfigError(f"{recipient}: not a 40-hex-digit PGP fingerprint")
    path = require(root)
    text = read_text(path)
    parsed = splice.parse(text, str(path))
    cfg = load(path)
    chosen = [r for r in cfg.rules if not rule_numbers or r.position + 1 in rule_numbers]
    if not chosen:
        raise ConfigError(f"{path}: no creation rule numbered {', '.join(map(str, rule_numbers))}")
    reps = []
    for rule in chosen:
        if recipient in [r.replace(" ", "").upper() if kind == "pgp" else r for r in rule.recipients(kind)]:
            continue
        spans = [s for s in parsed.scalars if s.path[:3] == ("creation_rules", rule.position, kind)]
        if (
            len(spans) == 1
            and spans[0].path == ("creation_rules", rule.position, kind)
            and isinstance(spans[0].value, str)
        ):
            s = spans[0]
            joined = f"{s.value},{recipient}" if s.value else recipient
            reps.append(
                splice.Replacement(
                    s.start,
                    s.end,
                    json.dumps(joined) if s.style == '"' else (f"'{joined}'" if s.style == "'" else joined),
                )
            )
        elif spans and all(len(s.path) == 4 for s in spans) and not spans[-1].flow:
            last = spans[-1]
            line = splice.line_start(text, last.start)
            indent = text[line : last.start]
            end = splice.line_after(text, last.end)
            reps.append(splice.Replacement(end, end, f"{indent}{recipient}\n"))
        elif not spans:
            anchor = next(s for s in parsed.scalars if s.path[:2] == ("creation_rules", rule.position))
            line = splice.line_start(text, anchor.start)
            indent = " " * (len(text[line:]) - len(text[line:].lstrip(" -")))
            end = splice.line_after(text, anchor.end)
            reps.append(splice.Replacement(end, end, f"{indent}{kind}: {recipient}\n"))
        else:
            raise ConfigError(
                f"{path}:{rule.line}: rule {rule.position + 1} lists {kind} recipients in a form this command "
                "does not edit; add it by hand"
            )
    if not reps:
        return path, 0
    new = splice.apply(text, reps)
    check = load_text(new, path)
    for rule in chosen:
        if recipient not in [
            r.replace(" ", "").upper() if kind == "pgp" else r for r in check.rules[rule.position].recipients(kind)
        ]:
            raise DataError(f"{path}: could not add the recipient to rule {rule.position + 1} safely; nothing written")
    atomic_write(path, new.encode("utf-8"))
    return path, len(reps)


def remove_recipients(root: Path, recipients: list[str]) -> int:
    """Remove age recipients from every creation rule of .sops.yaml, keeping the layout.

    Files keep them until `aigw-secrets updatekeys` re-wraps their data keys.
    """
    import json

    from aigw_secrets.sops import splice
    from aigw_secrets.util import atomic_write

    path = require(root)
    text = read_text(path)
    parsed = splice.parse(text, str(path))
    reps = []
    for s in parsed.scalars:
        if len(s.path) >= 3 and s.path[0] == "creation_rules" and s.path[2] == "age" and isinstance(s.value, str):
            if len(s.path) == 3:  # "a,b,c"
                kept = [r.strip() for r in s.value.split(",") if r.strip() and r.strip() not in recipients]
                if len(kept) != len([r for r in s.value.split(",") if r.strip()]):
                    if not kept:
                        raise ConfigError(
                            f"{path}: removing would leave creation rule {s.path[1] + 1} without an age recipient"
                        )
                    joined = ",".join(kept)
                    reps.append(
                        splice.Replacement(
                            s.start,
                            s.end,
                            json.dumps(joined) if s.style == '"' else (f"'{joined}'" if s.style == "'" else joined),
                        )
                    )
            elif s.value.strip() in recipients:  # a list item: drop its line
                reps.append(splice.Replacement(splice.line_start(text, s.start), splice.line_after(text, s.end), ""))
    if not reps:
        return 0
    new = splice.apply(text, reps)
    check = load_text(new, path)
    if any(r in rule.recipients("age") for rule in check.rules for r in recipients):
        raise DataError(f"{path}: could not remove the recipient safely; nothing written")
    atomic_write(path, new.encode("utf-8"))
    return len(reps)
