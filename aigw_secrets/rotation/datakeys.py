"""SOPS data-key rotation: ``sops rotate`` on every file, formatting kept, journaled per file so a
killed batch leaves every file decryptable and the next run finishes it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path

from aigw_secrets import output
from aigw_secrets.errors import AigwError, DataError, NoInputError
from aigw_secrets.rotation import vouched
from aigw_secrets.rotation.journal import DATA_KEY, Journal, Step, repo_lock
from aigw_secrets.rotation.results import DataKeys, Failure
from aigw_secrets.sops import binary as sops_binary
from aigw_secrets.sops import config as sops_config
from aigw_secrets.sops import files as sops_files
from aigw_secrets.sops import recipients
from aigw_secrets.util import atomic_write, parallel_map


def _managed_files(root: Path) -> list[Path]:
    files = sops_config.managed(root)
    if not files:
        raise NoInputError(f"{root}: no encrypted file matches a .sops.yaml creation rule; nothing to rotate")
    return files


def _inside(root: Path, path: Path) -> Path:
    """``path`` resolved, refused when it (or a symlink on the way) leads out of the repository."""
    resolved = path.resolve()
    if not resolved.is_relative_to(root):
        raise NoInputError(
            f"{path}: is outside the repository {root} (or a symlink out of it); only the repository's files "
            "are rotated"
        )
    return resolved


def rotate_data_keys(root: Path, files: Sequence[Path], *, locked: bool = False) -> DataKeys:
    """A new data key for each file (``sops rotate``), formatting kept; resumes an interrupted batch."""
    root = root.resolve()
    if not locked:
        with repo_lock(root):
            return rotate_data_keys(root, files, locked=True)
    sops = sops_binary.Sops(root)
    journal = Journal(root, "data-key", DATA_KEY)
    if journal.active and not files:
        todo = [_inside(root, root / f) for f in journal.field("files", list)]
        done = set(journal.field("done", list, []))
        output.info(f"resuming data-key rotation {journal.field('rotation_id', str)} ({len(done)}/{len(todo)} done)")
    else:
        todo = [_inside(root, p) for p in files] or _managed_files(root)
        done = set()
        rels = [str(p.relative_to(root)) for p in todo]
        journal.data = {}
        journal.step(Step.PLANNED, rotation_id=str(uuid.uuid4()), files=rels, done=[])
    vouched.observe_files(root, (str(p.relative_to(root)) for p in todo))
    remaining = [p for p in todo if str(p.relative_to(root)) not in done]
    progress = output.Progress(len(todo), "rotating data keys", start=len(todo) - len(remaining))
    errors: list[Failure] = []

    def one(path: Path) -> tuple[str, Failure | None]:
        rel = str(path.relative_to(root))
        try:
            data = sops_files.read(path)
            new = sops_files.rotate(sops, data, rel)
            # sops rotate keeps the file's own recipients (it never reads .sops.yaml): checked, not assumed
            # (the metadata is not under the MAC: a recipient a commit added is kept only if the bot saw it before)
            before = recipients.readable(data, rel)
            if before is None:  # fail closed: sops may read metadata this tool cannot; it would wrap for all
                raise DataError(f"{rel}: cannot read its sops metadata here; its data key is not rotated")
            baseline = vouched.baseline(root, rel, before)
            recipients.check_written(new, rel, baseline, what="file after its data key rotation")
            atomic_write(path, new)
            vouched.remember(root, rel, new)
            return rel, None
        except AigwError as exc:
            return rel, {"error": str(exc), "exit_code": int(exc.code)}

    for n, (rel, err) in enumerate(parallel_map(one, remaining), 1):
        if err:
            errors.append(err)
        else:
            done.add(rel)
        progress.advance()
        if n % 25 == 0:  # a crash re-rotates at most these few files: harmless
            journal.save(done=sorted(done))
    progress.close()
    journal.step(Step.COMPLETE if not errors else Step.FAILED, done=sorted(done), errors=len(errors))
    return {"data_keys_rotated": len(remaining) - len(errors), "data_key_errors": errors}
