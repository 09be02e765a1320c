"""What a Flux ``Kustomization`` in the repository does to the objects ``generate`` writes.

``spec.targetNamespace`` rewrites the namespace of every object the Kustomization applies (Flux
kustomize-controller), so under one the Secrets in ``ai_gateway_secret_namespace``, their
ReferenceGrant and the MCP session seed land in the wrong namespace. Read-only, bounded: YAML files
in the repository that mention ``targetNamespace``, at most a few thousand of them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from aigw_secrets import kube, yamlload
from aigw_secrets.gateway import secretdoc
from aigw_secrets.gateway.config import Config
from aigw_secrets.sops.findings import Finding

_SKIP = {".git", ".aigw", "node_modules", ".venv", ".github"}
_MAX_FILES = 5000
_MAX_BYTES = 256 * 1024


def _kustomizations(root: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    seen = 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP)
        for name in sorted(filenames):
            if not name.endswith((".yaml", ".yml")) or ".sops." in name:
                continue
            seen += 1
            if seen > _MAX_FILES:
                return
            path = Path(dirpath) / name
            try:
                if path.is_symlink() or path.stat().st_size > _MAX_BYTES:
                    continue
                text = path.read_text("utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            if "targetNamespace" not in text or "kustomize.toolkit.fluxcd.io" not in text:
                continue
            try:
                docs = yamlload.safe_load_all(text)
            except yaml.YAMLError:
                continue
            for doc in docs:
                if (
                    isinstance(doc, dict)
                    and doc.get("kind") == "Kustomization"
                    and str(doc.get("apiVersion", "")).startswith("kustomize.toolkit.fluxcd.io/")
                ):
                    yield path, doc


def target_namespace_moves(cfg: Config) -> list[str]:
    """One line per Flux Kustomization whose ``targetNamespace`` would move a generated object out of
    the namespace it must be in."""
    root = cfg.root
    out_rel = cfg.output_dir.relative_to(root)
    wanted: list[tuple[str, str]] = []  # (what, namespace it must be in)
    for pc in cfg.providers:
        if pc.auth.secret_key:
            wanted.append((f"Secret {secretdoc.secret_name(pc)}", secretdoc.secret_namespace(pc, cfg)))
            if secretdoc.secret_namespace(pc, cfg) != cfg.namespace:
                wanted.append((f"ReferenceGrant for {secretdoc.secret_name(pc)}", secretdoc.secret_namespace(pc, cfg)))
    if cfg.mcp_seed:
        wanted.append((f"MCP session seed Secret {cfg.mcp_seed.secret_name}", cfg.mcp_seed.namespace))
    wanted.append(("the policies, backends and routes", cfg.namespace))
    found: list[str] = []
    for path, doc in _kustomizations(root):
        spec: dict[str, Any] = doc["spec"] if isinstance(doc.get("spec"), dict) else {}
        target, ks_path = spec.get("targetNamespace"), spec.get("path")
        if not isinstance(target, str) or not target or not isinstance(ks_path, str):
            continue
        applied = Path(os.path.normpath(ks_path.strip().removeprefix("./") or "."))
        if applied != Path(".") and not (out_rel == applied or applied in out_rel.parents):
            continue
        moved = [f"{what} ({ns})" for what, ns in wanted if ns != target]
        if moved:
            name = kube.mapping(doc.get("metadata")).get("name", "?")
            found.append(
                f"{path.relative_to(root)}: Flux Kustomization {name} sets targetNamespace: {target}, which "
                f"moves {', '.join(moved)} into {target}; {FIX}"
            )
    return found


FIX = "drop targetNamespace there or make the namespaces agree (README: Flux targetNamespace)"


def doctor_findings(root: Path) -> list[Finding]:
    """``doctor``'s view of the same: a warning per Kustomization (nothing without a cluster.yaml)."""
    from aigw_secrets.errors import AigwError
    from aigw_secrets.gateway import config as gateway_config

    try:
        cfg = gateway_config.load(root)
    except AigwError:
        return []
    out = []
    for line in target_namespace_moves(cfg):
        where, _, message = line.partition(": ")
        out.append(Finding("warning", where, message.removesuffix(f"; {FIX}"), FIX))
    return out
