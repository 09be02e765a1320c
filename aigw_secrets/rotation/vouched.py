"""The recipients the bot vouches for, per encrypted file, kept where no commit can write.

A file's ``sops`` metadata is not covered by its MAC: anyone can add a recipient to a committed
Secret without being able to decrypt it (an age stanza wrapping a key of their own), or replace the
whole Secret with one encrypted to themselves. Re-encrypting such a file (``sops rotate`` wraps the new
data key for every recipient listed; a new value is encrypted to what ``.sops.yaml`` gives) would hand
the credential to them. So the recipients of a file as committed count only as far as the bot has
seen them before: the baseline is the committed set *intersected* with the set recorded here when the
bot first saw the file, or last wrote it (``records_dir``: ``$AIGW_SECRETS_STATE_DIR`` or the git
directory). Only the bot's very first sight is trusted as it is (as ssh trusts a host key on first
use); a file it meets later keeps only recipients it saw on every file it recorded. The operator's trust list
(``AIGW_SECRETS_TRUSTED_RECIPIENTS``) closes that window and admits recipients added since.

A path is not an identity: a commit can move where a provider's Secret lives (the output directory, the
Secret's name) onto another file the bot recorded, one legitimately shared with more people (a dev
team's Secret). So each secret the bot writes (an *owner*: a provider's credential, the MCP seed) is
recorded too, with the file it was bound to and the recipients it had there; its baseline is the file's
baseline intersected with the owner's. An owner first met after the first unattended run keeps only
recipients the bot saw on every recorded file.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from aigw_secrets.rotation.journal import records_dir
from aigw_secrets.sops import recipients
from aigw_secrets.sops.binary import Sops
from aigw_secrets.util import atomic_write

FILE = "recipients.json"
OWNERS = "@owners"  # {owner: {"file": rel, "recipients": [...]}}; "@seeded": every owner was recorded once
_SEEDED = "@seeded"
_LOCK = threading.Lock()


def _path(root: Path) -> Path:
    return records_dir(root) / FILE


def _raw(root: Path) -> dict[str, object]:
    try:
        data = json.loads(_path(root).read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _load(root: Path) -> dict[str, list[str]]:
    return {str(k): [str(r) for r in v] for k, v in _raw(root).items() if isinstance(v, list)}


Owner = tuple[str, set[str]]  # the file it is bound to, its recipients there


def _owners(root: Path) -> tuple[dict[str, Owner], bool]:
    """The owners recorded, and whether the first unattended run recorded them all."""
    raw = _raw(root).get(OWNERS)
    found: dict[str, Owner] = {}
    seeded = False
    if isinstance(raw, dict):
        seeded = raw.get(_SEEDED) is True
        for name, entry in raw.items():
            if not isinstance(entry, dict):
                continue
            bound, listed = entry.get("file"), entry.get("recipients")
            if isinstance(bound, str) and isinstance(listed, list):
                found[str(name)] = (bound, {str(r) for r in listed})
    return found, seeded


def _seeded(root: Path) -> dict[str, list[str]]:
    """The records; on the bot's very first sight of the repository, every file ``.sops.yaml`` governs
    as it is now (so a file first rewritten later, e.g. by data-key rotation, is not a later sight)."""
    data = _load(root)
    if data:
        return data
    from aigw_secrets.errors import AigwError
    from aigw_secrets.sops import config as sops_config

    try:
        paths = sops_config.managed(root)
    except AigwError:
        return data  # no .sops.yaml (or a broken one, which the command itself reports)
    for path in paths:
        rel = str(path.relative_to(root))
        try:
            found = recipients.readable(path.read_bytes(), rel)
        except OSError:
            continue
        if found:
            data[rel] = sorted(found)
    return data


def _save(
    root: Path, data: dict[str, list[str]], owners: dict[str, Owner] | None = None, *, seeded: bool | None = None
) -> None:
    """Writes the file records; the owners' too when given (otherwise they are kept as they are)."""
    if owners is None or seeded is None:
        kept, was = _owners(root)
        owners = kept if owners is None else owners
        seeded = was if seeded is None else seeded
    table: dict[str, object] = {name: {"file": f, "recipients": sorted(r)} for name, (f, r) in owners.items()}
    if seeded:
        table[_SEEDED] = True
    out: dict[str, object] = dict(data)
    if table:
        out[OWNERS] = table
    atomic_write(_path(root), (json.dumps(out, indent=1, sort_keys=True) + "\n").encode(), mode=0o600)


def recorded(root: Path, rel: str) -> set[str] | None:
    """What the bot recorded for ``rel`` (None: never seen)."""
    known = _load(root).get(rel)
    return None if known is None else set(known)


def baseline(root: Path, rel: str, committed: set[str], *, remember: bool = True, owner: str | None = None) -> set[str]:
    """The recipients ``rel`` may keep when the bot re-encrypts it: those of the file as committed that
    the bot saw before. A file seen for the first time is recorded as it is (``remember``). ``owner``:
    the secret being written (``provider:openai``); what it may keep is also limited to what it had
    where the bot last wrote it, so a commit that points it at another file gains nothing."""
    with _LOCK:
        before = _load(root)
        data = dict(before) if before else _seeded(root)
        known = data.get(rel)
        if known is None:
            seen = _first_sight(data, committed)
            if seen:
                data[rel] = sorted(seen)
            known = sorted(seen)
        result = committed & set(known)
        owners, seeded = _owners(root)
        new_owner = owner is not None and owner not in owners
        if owner is not None:
            if new_owner:  # before the first unattended run: as the file is; afterwards: as a new file
                owners[owner] = (rel, result if not seeded else _first_sight(data, committed))
            result &= owners[owner][1]
        if remember and (data != before or new_owner):
            _save(root, data, owners if new_owner else None)
        return result


def _first_sight(data: dict[str, list[str]], committed: set[str]) -> set[str]:
    """A file the bot has not seen: trusted as it is only while the bot has seen nothing at all (its
    very first run). Afterwards a new file (a provider added, the output directory moved, a Secret
    renamed by a commit) keeps only recipients the bot saw on every file it recorded."""
    if not data:
        return set(committed)
    common = set.intersection(*(set(found) for found in data.values()))
    return committed & common


def observe(root: Path, files: Iterable[tuple[str, set[str] | None]]) -> None:
    """Record the files the bot has not seen yet, as they are now (done at the start of every
    unattended run, so the window a first sight leaves is the one before the bot's very first run)."""
    with _LOCK:
        before = _load(root)
        data = dict(before) if before else _seeded(root)
        for rel, found in files:
            seen = _first_sight(data, found) if found and rel not in data else None
            if seen:
                data[rel] = sorted(seen)
        if data != before:
            _save(root, data)


def observe_files(root: Path, rels: Iterable[str], owners: Iterable[tuple[str, str]] = ()) -> None:
    """``observe`` for files of the repository, read as they are now (unreadable ones are skipped).
    ``owners`` (owner, file): on the first unattended run that names them, every owner not recorded yet
    is bound to its file as the bot recorded it; after that run an owner met later is a new one."""
    seen: list[tuple[str, set[str] | None]] = []
    for rel in dict.fromkeys(rels):
        try:
            seen.append((rel, recipients.readable((root / rel).read_bytes(), rel)))
        except OSError:
            continue
    observe(root, seen)
    pairs = list(owners)
    if not pairs:
        return
    with _LOCK:
        table, seeded = _owners(root)
        if seeded:
            return
        data = _load(root)
        for name, rel in pairs:
            if name not in table and rel in data:
                table[name] = (rel, set(data[rel]))
        _save(root, data, table, seeded=True)


def remember(root: Path, rel: str, written: bytes, owner: str | None = None) -> None:
    """After the bot (or an operator through it) wrote ``rel``: its recipients are now vouched for, for
    the file and for every owner bound to it; ``owner``: the secret written, now bound to ``rel``."""
    found = recipients.readable(written, rel)
    if found is None:
        return
    with _LOCK:
        data = _seeded(root)
        data[rel] = sorted(found)
        owners, seeded = _owners(root)
        for name, (bound, _) in list(owners.items()):
            if bound == rel:
                owners[name] = (rel, set(found))
        if owner is not None:
            owners[owner] = (rel, set(found))
        _save(root, data, owners, seeded=seeded)


def remembering(root: Path, op: Callable[[Sops, bytes, str], bytes]) -> Callable[[Sops, bytes, str], bytes]:
    """A whole-file sops operation (``updatekeys``) that records the recipients it gives each file:
    the re-keying an operator ran (or ``keys rotate-age`` checked) is vouched for."""

    def run(sops: Sops, data: bytes, rel: str) -> bytes:
        new = op(sops, data, rel)
        remember(root, rel, new)
        return new

    return run


def added_since(root: Path, rel: str, committed: set[str]) -> set[str]:
    """Recipients the committed file has that the bot never vouched for (for ``doctor``)."""
    known = recorded(root, rel)
    return set() if known is None else committed - known
