"""The files a ``.sops.yaml`` governs, as ``doctor`` judges them: a plaintext file that would expose a
credential (by the scanner's verdict), a rule that matches none of the sops files, an encrypted
file no rule matches, a Secret value Flux's substitution would rewrite."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import yaml

from aigw_secrets import git, kube, yamlload
from aigw_secrets.errors import AigwError
from aigw_secrets.sops import config as sops_config
from aigw_secrets.sops import regex as sops_regex
from aigw_secrets.sops.configedit import ConfigText
from aigw_secrets.sops.findings import Finding, repo_path
from aigw_secrets.sops.judge import Fix, Judge, verified

# The finding policy's verdict on a plaintext file a rule covers (scanner.scan.exposure, injected by
# ``doctor``: the scanner sits above this layer): what it would expose, or None.
Exposure = Callable[[str, bytes], "str | None"]

MAX_READ = 10 * 1024 * 1024  # the scanner's limit too


def governed_files(root: Path, cfg: sops_config.SopsConfig) -> list[tuple[Path, sops_config.Rule]]:
    return sops_config.governed(
        root, cfg, all_formats=True, strict=False
    )  # an invalid path_regex: reported with its rule


def check_files(
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
            message = (
                f"creation rule {rule.position + 1} (path_regex {rule.path_regex}) matches none of the "
                f"{len(managed)} sops files under "
                f"{repo_path(root, cfg.path.parent) if cfg.path.parent != root.resolve() else 'the repository'}"
            )
            fixed = (
                ConfigText(sops_config.read_text(cfg.path)).delete_rule(rule.position) if len(cfg.rules) > 1 else None
            )
            advice = "fix its path_regex, or remove the rule if no file is meant to use it"
            out.append(
                Finding(
                    "warning",
                    f"{cfg.path}:{rule.line}",
                    message,
                    verified(judge, Fix(advice, fixed)) if fixed else advice,
                )
            )
    for path, rule in governed:
        if sops_config.is_encrypted(path):
            continue
        exposed = _exposure(root, path, exposure)
        if exposed is None:
            continue  # nothing secret in it: a rule says how to encrypt, not that every file it matches must be
        shown = repo_path(root, path)
        cmd = f"aigw-secrets encrypt {shown}" if sops_config.store_of(path) == "yaml" else f"sops encrypt -i {shown}"
        committed = _committed(root, shown)
        original = _encrypted_original(path)
        fix = f"run `{cmd}` before committing it"
        if committed:
            fix = f"run `{cmd}`, and rotate the values it exposes: the plaintext is in git history"
        if original is not None:  # a decrypted copy: the encrypted file is the one to keep
            kept = f"; {repo_path(root, original)} is the encrypted original" if original != path else ""
            fix = f"delete this decrypted copy (`git rm {shown}`{kept}) and add its name to .gitignore"
            if committed:
                fix += "; rotate every value it exposes: they are in git history, so compromised"
        elif not _selected(rule, exposed):
            regex = rule.data.get("encrypted_regex")
            if "Secret " in exposed:
                fix = (
                    f"widen the rule's encrypted_regex {regex} (e.g. ^(data|stringData)$), then `{cmd}`: as it "
                    "is, encrypting leaves these values plaintext"
                )
            else:
                fix = (
                    "move the value into a SOPS-encrypted Secret and reference it (valuesFrom, existingSecret): "
                    f"the rule's {regex} would leave it plaintext; rotate it if it was pushed"
                )
        out.append(
            Finding(
                "error",
                shown,
                (
                    f"matches creation rule {rule.position + 1} of {repo_path(root, cfg.path)} but is not "
                    f"encrypted ({exposed})"
                ),
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
                        repo_path(root, path),
                        (
                            f"encrypted, but no creation rule of {repo_path(root, cfg.path)} matches it: "
                            "`updatekeys` will fail on it"
                        ),
                        "extend a path_regex to cover it",
                    )
                )
    out += [f for path in managed if sops_config.is_encrypted(path) for f in _flux_substitution(root, path)]
    return out


def template_exposure(root: Path, cfg: sops_config.SopsConfig, exposure: Exposure) -> list[Finding]:
    """Files a template config governs are templates too, but a literal credential in one is committed
    here and now, whatever is rendered from it later: the same verdict ``scan`` gives."""
    out = []
    for path, _rule in governed_files(root, cfg):
        exposed = None if sops_config.is_encrypted(path) else _exposure(root, path, exposure)
        if exposed is not None:
            shown = repo_path(root, path)
            fix = "put a placeholder (${VAR}) in the template instead, and rotate the value if it was pushed"
            out.append(
                Finding(
                    "error",
                    shown,
                    f"a file of the template {repo_path(root, cfg.path)} holds a literal credential ({exposed})",
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
        docs = [d for d in yamlload.safe_load_all(text) if d is not None]
        plain, _key = reader.decrypt_docs(docs, os.environ)
    except (OSError, UnicodeDecodeError, yaml.YAMLError, reader.Unsupported, ValueError):
        return []
    out: list[Finding] = []
    for doc in plain:
        if not isinstance(doc, dict) or doc.get("kind") != "Secret":
            continue
        if kube.annotations_of(doc).get(FLUX_SUBSTITUTE) == "disabled":
            continue
        hazards = [
            f"stringData.{k}"
            for k, v in kube.mapping(doc.get("stringData")).items()
            if isinstance(v, str) and flux_substitution_hazard(v)
        ]
        if hazards:
            out.append(
                Finding(
                    "warning",
                    repo_path(root, path),
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
    return exposure(repo_path(root, path), data) if len(data) <= MAX_READ else None


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
