"""Checking a repository's ``.sops.yaml`` files (``aigw-secrets doctor``): what sops silently accepts
but should not.

sops ignores unknown keys (a typo such as ``encrypted_regexp`` makes it encrypt ``metadata`` too,
which breaks kustomize) and accepts rules that match nothing (how the private key is stored is
``setupcheck``'s; the files a config governs, ``filecheck``'s). Each finding says how to fix it.

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
from pathlib import Path

import yaml

from aigw_secrets.errors import AigwError
from aigw_secrets.sops import agekeys
from aigw_secrets.sops import config as sops_config
from aigw_secrets.sops import regex as sops_regex
from aigw_secrets.sops.configedit import ConfigText, anchor_holders, child
from aigw_secrets.sops.filecheck import Exposure, check_files, governed_files, template_exposure
from aigw_secrets.sops.findings import Finding, repo_where
from aigw_secrets.sops.judge import Fix, Judge, verified

K8S_SELECTOR = "encrypted_regex: ^(data|stringData)$"

_CONFIG_HINT = re.compile(r"(?i)host_vars|group_vars|ansible|talos|terraform|tfvars")

_KUBE_HINT = re.compile(r"(?i)kube|k8s|flux|manifests|clusters")


def _did_you_mean(word: str, options: tuple[str, ...]) -> str | None:
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.7)
    return close[0] if close else None


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
        out += [f._replace(where=repo_where(root, f.where)) for f in _check_one(root, path, judge, exposure)]
    return out


def _check_one(root: Path, path: Path, judge: Judge | None, exposure: Exposure) -> list[Finding]:
    try:
        cfg = sops_config.load(path)
        text = sops_config.read_text(path)
        tree = ConfigText(text)
        holders = anchor_holders(text)
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
        return [warning, *template_exposure(root, cfg, exposure)]
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
            advice = verified(judge, Fix(f"rename it to {close}", fixed)) if fixed else f"rename it to {close}"
            out.append(
                Finding("error", where, f"unknown top-level key {key} (did you mean {close}?); sops ignores it", advice)
            )
        else:
            fixed = tree.delete(tree.root if isinstance(tree.root, yaml.MappingNode) else None, str(key))
            advice = verified(judge, Fix("remove it", fixed)) if fixed else "remove it if nothing uses it"
            out.append(Finding("warning", where, f"unknown top-level key {key}; sops ignores it", advice))
    out += _check_stores(path, cfg, tree, judge)
    if not cfg.rules:
        out.append(Finding("error", str(path), "no creation_rules", "add a rule (see .sops.yaml.example)"))
    files = governed_files(root, cfg)
    for rule in cfg.rules:
        out += _check_rule(path, cfg, rule, tree, judge, [p for p, r in files if r is rule])
    out += check_files(root, cfg, files, judge, exposure)
    return out


# sops's storesConf (config/config.go): a store per format; indent where sops honours it.
STORE_KEYS: dict[str, tuple[str, ...]] = {
    "yaml": ("indent",),
    "json": ("indent",),
    "json_binary": ("indent",),
    "dotenv": (),
    "ini": (),
}


def _check_stores(path: Path, cfg: sops_config.SopsConfig, tree: ConfigText, judge: Judge | None) -> list[Finding]:
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
    node = child(tree.root, "stores")
    for store, options in stores.items():
        close = _did_you_mean(str(store), tuple(STORE_KEYS))
        if store not in STORE_KEYS:
            hint = f" (did you mean {close}?)" if close else ""
            fixed = tree.rename(node, str(store), close) if close else None
            advice = (
                verified(judge, Fix(f"rename it to {close}", fixed))
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
            fixed = tree.rename(child(node, str(store)), str(option), close) if close else None
            advice = verified(judge, Fix(f"rename it to {close}", fixed)) if fixed and close else "remove it"
            out.append(
                Finding(
                    "error",
                    where,
                    f"unknown option stores.{store}.{option}{hint}; sops ignores it, so files get its default layout",
                    advice,
                )
            )
    return out


def _check_rule(
    path: Path,
    cfg: sops_config.SopsConfig,
    rule: sops_config.Rule,
    tree: ConfigText,
    judge: Judge | None,
    files: list[Path],
) -> list[Finding]:
    where = f"{path}:{rule.line}"
    name = f"creation rule {rule.position + 1}"
    node = tree.rule_node(rule.position)
    out: list[Finding] = []
    selectors = [k for k in sops_config.SELECTORS if k in rule.data]
    for key in rule.data:
        if key not in sops_config.RULE_KEYS:
            out.append(_unknown_rule_key(where, name, str(key), rule, selectors, tree, judge))
    if not selectors:
        out += _selector_advice(where, name, rule, tree, node, judge, files)
    elif len(selectors) > 1:
        keep = "encrypted_regex" if "encrypted_regex" in selectors else selectors[0]
        trimmed: str | None = tree.text
        for extra in (s for s in selectors if s != keep):
            trimmed = (
                ConfigText(trimmed).delete(ConfigText(trimmed).rule_node(rule.position), extra) if trimmed else None
            )
        advice = f"keep only {keep}: delete {', '.join(s for s in selectors if s != keep)}"
        out.append(
            Finding(
                "error",
                where,
                f"{name}: more than one selector ({', '.join(selectors)}); sops refuses that",
                verified(judge, Fix(advice, trimmed, rule.position)) if trimmed else advice,
            )
        )
    out += _regex_findings(where, name, rule, selectors)
    if rule.data.get("mac_only_encrypted") is True and selectors:
        message = (
            f"{name}: mac_only_encrypted: the MAC covers only the encrypted values, so what the selector leaves "
            "in clear"
        )
        message += (
            " (metadata: namespace, annotations such as kustomize.toolkit.fluxcd.io/substitute) can be changed in "
            "a commit without sops noticing"
        )
        out.append(
            Finding(
                "warning",
                where,
                message,
                "review changes outside data/stringData in every pull request, or drop mac_only_encrypted",
            )
        )
    return out + _recipient_findings(where, name, rule)


def _unknown_rule_key(
    where: str,
    name: str,
    key: str,
    rule: sops_config.Rule,
    selectors: list[str],
    tree: ConfigText,
    judge: Judge | None,
) -> Finding:
    """A key sops does not know in a rule: renamed to the key it looks like, else deleted; a
    misspelt second selector is deleted (renaming would give two selectors, which sops refuses)."""
    node = tree.rule_node(rule.position)
    close = _did_you_mean(str(key), sops_config.RULE_KEYS)
    if close in sops_config.SELECTORS and selectors:
        # renaming would make two selectors, which sops refuses: the dead key has to go
        fixed = tree.delete(node, str(key))
        advice = (
            verified(
                judge,
                Fix(
                    f"delete it (this rule already has {selectors[0]}; renaming it would give two selectors, "
                    "which sops refuses)",
                    fixed,
                    rule.position,
                ),
            )
            if fixed
            else "delete it"
        )
        return Finding("error", where, f"{name}: unknown key {key} (did you mean {close}?); sops ignores it", advice)
    if close:
        fixed = tree.rename(node, str(key), close)
        why = (
            "a misspelt selector makes sops encrypt every value, metadata included"
            if close in sops_config.SELECTORS
            else "sops ignores it silently"
        )
        advice = (
            verified(judge, Fix(f"rename it to {close}", fixed, rule.position)) if fixed else f"rename it to {close}"
        )
        return Finding("error", where, f"{name}: unknown key {key} (did you mean {close}?); {why}", advice)
    fixed = tree.delete(node, str(key))
    advice = (
        verified(judge, Fix("remove it if nothing uses it", fixed, rule.position))
        if fixed
        else "remove it if nothing uses it"
    )
    return Finding("warning", where, f"{name}: unknown key {key}; sops ignores it", advice)


def _regex_findings(where: str, name: str, rule: sops_config.Rule, selectors: list[str]) -> list[Finding]:
    """path_regex and the selector regexes, as Go (RE2) compiles them."""
    out: list[Finding] = []
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
    return out


def _recipient_findings(where: str, name: str, rule: sops_config.Rule) -> list[Finding]:
    """A rule without recipients, an age recipient that is not one, a PGP one that is no fingerprint."""
    out: list[Finding] = []
    ages, pgps = rule.recipients("age"), rule.recipients("pgp")
    if not (ages or pgps or any(k in rule.data for k in sops_config.KEY_SOURCES[2:7])):
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
    tree: ConfigText,
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
        message = (
            f"{name}: no encrypted_regex, so sops encrypts apiVersion, kind and metadata of Kubernetes manifests "
            f"such as {manifests[0].name};"
        )
        message += (
            f" the rule also covers files that are not manifests, such as {others[0].name}, which a selector "
            "would leave in plaintext"
        )
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
        advice = verified(judge, Fix(advice, fixed, rule.position, keeps_metadata=True))
    if manifests:
        return [
            Finding(
                "error",
                where,
                f"{name}: no encrypted_regex, so sops encrypts apiVersion, kind and metadata of Kubernetes "
                f"manifests such as {manifests[0].name}, which Flux and kustomize cannot read",
                advice,
            )
        ]
    message = (
        f"{name}: no encrypted_regex; if this rule is for Kubernetes manifests, sops will encrypt their "
        "apiVersion, kind and metadata too"
    )
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
