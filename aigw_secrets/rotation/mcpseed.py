"""Rotating the controller's MCP session-encryption seed with the chart's fallback procedure.

The chart derives the session key from `controller.mcp.sessionEncryption.seed` and, when set, also
accepts sessions sealed with `fallback.seed` (values.yaml of manifests/charts/ai-gateway-helm). So a
rotation writes a new random ``seed`` and moves the old one to ``fallbackSeed``, which the HelmRelease
feeds to ``fallback.seed`` (see ``mcp.mcp_values``): sessions opened before the rotation survive
it, and the seed before that is dropped. Needs the private key (the old seed must be read), never
writes a seed anywhere but the encrypted file, and is idempotent: the journal keeps only a fingerprint
of the old seed, so a run killed after the write completes instead of rotating twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import yaml

from aigw_secrets import kube, output, yamlload
from aigw_secrets.errors import ConfigError, NoInputError
from aigw_secrets.gateway import marks, mcp, secretdoc, yamltext
from aigw_secrets.gateway.config import Config
from aigw_secrets.rotation import vouched
from aigw_secrets.rotation.journal import DATA_KEY, Journal, Step, now, parse_stamp, repo_lock, stamp
from aigw_secrets.rotation.results import Rotated, StatusRow
from aigw_secrets.sops import binary as sops_binary
from aigw_secrets.sops import files as sops_files
from aigw_secrets.sops import recipients
from aigw_secrets.util import atomic_write

NAMES = ("mcp-session-seed", "mcp_session_seed", "mcp-seed")  # what --provider accepts
OWNER = "mcp-seed"  # what ``vouched`` records the seed under
A = marks.ANNOTATION


def _fp(value: str) -> str:
    return hashlib.sha256(("aigw-mcp-seed:" + value).encode()).hexdigest()


def seed_rel(root: Path, cfg: Config) -> str:
    return str((cfg.output_dir / mcp.MCP_SEED_FILE).relative_to(root))


def _paths(root: Path, cfg: Config) -> tuple[Path, str]:
    if cfg.mcp_seed is None:
        raise ConfigError(f"{cfg.path}: ai_gateway_mcp_session_seed is not enabled; there is no MCP seed to rotate")
    path = cfg.output_dir / mcp.MCP_SEED_FILE
    return path, str(path.relative_to(root))


def rotate_mcp_seed(root: Path, cfg: Config, *, accept_recipients: bool = False) -> Rotated:
    """``accept_recipients``: an operator at a terminal accepts recipients .sops.yaml adds; otherwise
    the new seed is encrypted only to the file's committed recipients and the operator's trust list."""
    path, rel = _paths(root, cfg)
    with repo_lock(root):
        if not path.is_file():
            raise NoInputError(f"{rel}: missing; run `aigw-secrets generate` first")
        sops = sops_binary.Sops(root)
        committed = recipients.committed(path, rel)
        baseline = None if accept_recipients else vouched.baseline(root, rel, committed, owner=OWNER)
        if baseline is not None:
            recipients.require(
                sops,
                [rel],
                baseline,
                committed=committed,
                keys={rel: [mcp.MCP_SEED_KEY, mcp.MCP_FALLBACK_KEY]},
                what="the new MCP session seed",
                secret=rel,
                fix=(
                    f"An operator: `aigw-secrets updatekeys {rel}`, or `aigw-secrets rotate --provider {NAMES[0]} "
                    "--accept-recipients` at a terminal"
                ),
            )
        current = yamlload.load(sops_files.decrypt(sops, path.read_bytes(), rel))  # NoKeyError: needs the key
        data = kube.mapping(kube.mapping(current).get("stringData"))
        seed = data.get(mcp.MCP_SEED_KEY)
        if not isinstance(seed, str) or not seed:
            raise ConfigError(f"{rel}: no {mcp.MCP_SEED_KEY!r} key; not an MCP seed Secret")
        journal = Journal(root, "rotate-mcp-seed", DATA_KEY)
        if journal.active and journal.data.get("old") == _fp(str(data.get(mcp.MCP_FALLBACK_KEY, ""))):
            output.info("resuming: the seed was already rotated before the interruption")
        else:
            journal.data = {}
            journal.step(Step.PLANNED, old=_fp(seed), file=rel)
            annotations = kube.annotations_of(current)
            generation = secretdoc.generation(annotations, rel) + 1
            rotation = secretdoc.rotation_annotations(
                generation, 90, rotated_at=stamp(), previous_ref="sha256:" + _fp(seed)[:12]
            )
            doc = mcp.mcp_seed_secret(cfg, mcp.new_mcp_seed(), seed, rotation=rotation)
            text = yamltext.dump([doc], marks.SECRET_HEADER, markers=False)
            new = sops_files.encrypt(sops, text.encode(), rel)
            sops_files.require_encrypted(new, rel, "MCP seed Secret")
            if baseline is not None:
                recipients.check_written(new, rel, baseline, what="MCP seed Secret")
            atomic_write(path, new)
            vouched.remember(root, rel, new, OWNER)
        journal.step(Step.COMPLETE, completed_at=stamp())
    output.status(
        "rotated", rel, "MCP session seed; the previous one is now the fallback seed (sessions survive this rotation)"
    )
    return {"provider": NAMES[0], "file": rel, "previous": None, "revoke_after": None, "warning": ""}


def seed_status(root: Path, cfg: Config) -> StatusRow | None:
    """The seed's row for `status` (age from the plaintext rotated-at annotation; no key needed)."""
    if cfg.mcp_seed is None:
        return None
    path, rel = _paths(root, cfg)
    row: StatusRow = {"provider": NAMES[0], "auth": "mcp-session-seed", "file": rel}
    try:
        doc = yamlload.load(path.read_text("utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return {**row, "state": "missing", "overdue": True}
    ann = kube.annotations_of(doc)
    sops_meta = doc.get("sops") if isinstance(doc, dict) else None
    modified = parse_stamp(sops_meta.get("lastmodified") if isinstance(sops_meta, dict) else None)
    rotated = parse_stamp(ann.get(f"{A}/rotated-at")) or modified
    t = now()
    age = (t - rotated).days if rotated else None
    dk_due = (
        modified + dt.timedelta(days=cfg.data_key_days) if modified else t
    )  # its SOPS data key rotates like every Secret's
    # No due date: a seed change ends sessions older than one rotation, so it is rotated on demand.
    return {
        **row,
        "state": "idle",
        "age_days": age,
        "rotated_at": stamp(rotated) if rotated else None,
        "next_due": "on demand",
        "overdue": False,
        "data_key_next_due": stamp(dk_due),
        "data_key_overdue": t >= dk_due,
    }
