"""``aigw-secrets cluster status`` and ``cluster apply`` (for clusters without Flux)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import yaml

from aigw_secrets import kube, output, yamlload
from aigw_secrets.errors import DataError, ExitCode
from aigw_secrets.gateway import config as gateway_config
from aigw_secrets.gateway import marks, secretdoc
from aigw_secrets.kube import Cluster
from aigw_secrets.sops import agekeys
from aigw_secrets.sops import binary as sops_binary
from aigw_secrets.sops import config as sops_config
from aigw_secrets.sops import files as sops_files


def status(root: Path, *, kubeconfig: Path | None, context: str | None, secret: str, fmt: str) -> int:
    """Is the repository's state what the cluster runs? Exit 1 on any problem."""
    root = root.resolve()
    cfg = gateway_config.load(root)
    cluster = Cluster(kubeconfig, context)
    rows: list[dict[str, Any]] = []
    for pc in cfg.providers:
        if not pc.auth.secret_key:
            continue
        name = secretdoc.secret_name(pc)
        try:
            repo_doc = yamlload.load((cfg.output_dir / secretdoc.secret_file(pc)).read_text("utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            repo_doc = None  # missing or unreadable: status and doctor say which
        repo_ann = kube.annotations_of(repo_doc)
        live = cluster.read_secret(cfg.namespace, name)
        live_ann = kube.annotations_of(live)
        keys_live = set(((live or {}).get("data") or {}).keys())
        row = {
            "secret": f"{cfg.namespace}/{name}",
            "provider": pc.key,
            "in_cluster": live is not None,
            # the content hash annotation tells generations apart without reading any value
            "current_generation": live is not None
            and live_ann.get(marks.HASH_ANNOTATION) == repo_ann.get(marks.HASH_ANNOTATION),
            "policy_key_present": pc.auth.secret_key in keys_live,
            "policy_reads": pc.auth.secret_key,
            "in_repository": isinstance(repo_doc, dict),
        }
        row["ok"] = (
            row["in_repository"] and row["in_cluster"] and row["current_generation"] and row["policy_key_present"]
        )
        rows.append(row)
    ns, _, name = secret.partition("/")
    held = agekeys.recipients_in(cluster.secret_data(ns, name) or {})
    cfg_path = sops_config.find(root)
    wanted = sorted(sops_config.load(cfg_path).age_recipients()) if cfg_path else []
    recipients = [{"recipient": r, "held": r in held} for r in wanted]
    bad = any(not r["ok"] for r in rows) or any(not r["held"] for r in recipients)
    if fmt == "json":
        output.result(
            json.dumps({"secrets": rows, "decryption": {"secret": secret, "recipients": recipients}}, indent=2)
        )
    else:
        for r in rows:
            wrong = [] if r["in_repository"] else ["missing or unreadable in the repository"]
            wrong += ["missing"] if not r["in_cluster"] else []
            if r["in_cluster"] and not r["current_generation"]:
                wrong.append("stale generation")
            if r["in_cluster"] and not r["policy_key_present"]:
                wrong.append(f"lacks key {r['policy_reads']}: the controller drops the backend")
            output.result(f"{r['secret']:45} {r['provider']:18} {'; '.join(wrong) or 'ok'}")
        for rec in recipients:
            output.result(
                f"{secret:45} {str(rec['recipient'])[:20]}...  "
                f"{'held' if rec['held'] else 'MISSING: Flux cannot decrypt files for it'}"
            )
        output.summary(f"{len(rows)} Secret(s) compared, {'problems found' if bad else 'all match'}")
    return int(ExitCode.FINDINGS) if bad else 0


def apply(root: Path, *, kubeconfig: Path | None, context: str | None) -> int:
    """Decrypt each managed Secret in memory and server-side apply it."""
    root = root.resolve()
    cfg = gateway_config.load(root)
    cluster = Cluster(kubeconfig, context)
    sops = sops_binary.Sops(root)
    applied = 0
    for pc in cfg.providers:
        if not pc.auth.secret_key:
            continue
        path = cfg.output_dir / secretdoc.secret_file(pc)
        rel = str(path.relative_to(root))
        doc = kube.mapping(yamlload.load(sops_files.decrypt(sops, sops_files.read(path), rel)))
        meta = kube.mapping(doc.get("metadata"))
        if doc.get("kind") != "Secret" or not meta.get("name") or not meta.get("namespace"):
            raise DataError(f"{rel}: not a Secret with a name and namespace; nothing applied from it")
        data = {k: base64.b64encode(str(v).encode()).decode() for k, v in kube.mapping(doc.get("stringData")).items()}
        data.update(kube.mapping(doc.get("data")))
        body = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {k: meta[k] for k in ("name", "namespace", "labels", "annotations") if k in meta},
            "type": doc.get("type", "Opaque"),
            "data": data,
        }
        cluster.apply_secret(body)
        applied += 1
        output.status("applied", f"{meta['namespace']}/{meta['name']}", "server-side apply")
    output.summary(f"{applied} Secret(s) applied")
    return 0
