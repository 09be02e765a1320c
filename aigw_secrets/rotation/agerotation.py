"""``aigw-secrets keys rotate-age``: rotate the age key without ever leaving Flux unable to decrypt.

The order (SOPS.md §5, ROTATION.md §5.4): the cluster learns the new key before any file needs it,
and forgets the old key only after every file Flux applies has stopped needing it:

1. ``generated``         a new age key (0600, git-ignored);
2. ``cluster-has-both``  the decryption Secret (default flux-system/sops-age) holds old and new keys;
3. ``recipient-added``   .sops.yaml lists the new recipient, every file is re-keyed (updatekeys), commit;
4. ``old-removed``       once Flux applied that commit: old recipient out, updatekeys, new data keys, commit;
5. ``retired``           once Flux applied that and the grace period passed: the old key leaves the
                         cluster Secret and is retired locally.

Each phase is journaled and first checks that the previous one really happened (on the cluster, in
the files); a run goes as far as it can and exits 75 while it waits for Flux or the grace period.
Without cluster access it stops before phase 2, never after phase 3.
"""

from __future__ import annotations

import base64
import datetime as dt
import enum
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import yaml

from aigw_secrets import git, kube, output, yamlload
from aigw_secrets.errors import AigwError, ConfigError, DataError
from aigw_secrets.kube import Cluster, Unreachable, flux_applied
from aigw_secrets.rotation.datakeys import rotate_data_keys
from aigw_secrets.rotation.journal import Journal, Locked, Transitions, now, parse_stamp, stamp, state_dir
from aigw_secrets.sops import agekeys
from aigw_secrets.sops import binary as sops_binary
from aigw_secrets.sops import config as sops_config
from aigw_secrets.sops import files as sops_files
from aigw_secrets.util import atomic_write


class Phase(enum.StrEnum):
    """Where an age rotation stands (the journal's ``state``)."""

    PLANNED = "planned"
    GENERATED = "generated"
    CLUSTER_HAS_BOTH = "cluster-has-both"
    RECIPIENT_ADDED = "recipient-added"
    OLD_REMOVED = "old-removed"
    RETIRED = "retired"
    COMPLETE = "complete"


# state -> the phase that comes next; each phase first checks that the previous one really happened.
NEXT: dict[Phase, Phase] = {
    Phase.PLANNED: Phase.GENERATED,
    Phase.GENERATED: Phase.CLUSTER_HAS_BOTH,
    Phase.CLUSTER_HAS_BOTH: Phase.RECIPIENT_ADDED,
    Phase.RECIPIENT_ADDED: Phase.OLD_REMOVED,
    Phase.OLD_REMOVED: Phase.RETIRED,
    Phase.RETIRED: Phase.COMPLETE,
}
TRANSITIONS: Transitions = {"": (Phase.PLANNED,), **{a: (b,) for a, b in NEXT.items()}}


class NoClusterAccess(AigwError):
    """The Kubernetes API cannot be used (no kubeconfig, no client, unreachable) where a phase needs it."""


class Waiting(Locked):
    """Not an error: the next phase waits for Flux or for the grace period (exit 75, run again later)."""


@dataclass(frozen=True)
class AgeRecord:
    """What the age rotation's journal holds, each field checked for its type as it is read (one not
    written yet reads as empty; a field of the wrong type is a one-line error naming the journal)."""

    state: str = ""
    rotation_id: str = ""
    old_recipients: tuple[str, ...] = ()
    old_key_file: str = ""
    new_key_file: str = ""
    new_recipient: str = ""
    confirmed_by_operator: bool = False
    commit_added: str = ""
    commit_removed: str = ""
    removed_at: str = ""

    @classmethod
    def of(cls, journal: Journal) -> AgeRecord:
        return cls(
            state=journal.field("state", str, ""),
            rotation_id=journal.field("rotation_id", str, ""),
            old_recipients=tuple(journal.field("old_recipients", list, [])),
            old_key_file=journal.field("old_key_file", str, ""),
            new_key_file=journal.field("new_key_file", str, ""),
            new_recipient=journal.field("new_recipient", str, ""),
            confirmed_by_operator=journal.field("confirmed_by_operator", bool, False),
            commit_added=journal.field("commit_added", str, ""),
            commit_removed=journal.field("commit_removed", str, ""),
            removed_at=journal.field("removed_at", str, ""),
        )


class AgeRotation:
    def __init__(
        self,
        root: Path,
        *,
        kubeconfig: Path | None,
        context: str | None,
        secret: str,
        kustomization: str,
        grace_hours: float,
        key_file: Path | None,
        confirmed_phase: int | None = None,
    ) -> None:
        self.root = root.resolve()
        self.confirmed_phase = confirmed_phase
        self.kubeconfig, self.context = kubeconfig, context
        self.secret_ns, _, self.secret_name = secret.partition("/")
        self.ks_ns, _, self.ks_name = kustomization.partition("/")
        if not self.secret_name or not self.ks_name:
            raise ConfigError("--secret and --kustomization take NAMESPACE/NAME")
        self.grace = dt.timedelta(hours=grace_hours)
        self.old_key_file = agekeys.key_file_for(self.root, key_file)
        self.journal = Journal(self.root, "age-rotation", TRANSITIONS)
        self._cluster: Cluster | None = None

    # --- helpers ---------------------------------------------------------------------------------

    @property
    def record(self) -> AgeRecord:
        return AgeRecord.of(self.journal)

    def cluster(self) -> Cluster:
        if self._cluster is None:
            try:
                self._cluster = Cluster(self.kubeconfig, self.context)
            except AigwError as exc:
                raise NoClusterAccess(f"{exc}; {self._instructions()}", code=exc.code) from None
        return self._cluster

    def _instructions(self) -> str:
        return (
            "no cluster access: stopped before the cluster learns the new key; see the commands above, or re-run "
            "with --kubeconfig/--context"
        )

    def phase2_commands(self) -> list[str]:
        """What phase 2 does, as kubectl commands an operator can run by hand (bash: the key never
        appears in a command line), then ``--confirm-phase 2``."""
        new = self.root / (self.record.new_key_file or "NEW.agekey")
        entry = f"aigw-{(self.record.rotation_id or 'xxxxxxxx')[:8]}.agekey"
        ns, name = self.secret_ns, self.secret_name
        return [
            (
                f"kubectl -n {ns} patch secret {name} --type merge --patch-file <(printf "
                f'\'{{"data":{{"{entry}":"%s"}}}}\' "$(base64 -w0 < {new})")'
            ),
            (
                f"kubectl -n {ns} get secret {name} -o go-template='{{{{range $k, $v := "
                f'.data}}}}{{{{$k}}}}{{{{"\\n"}}}}{{{{end}}}}\'   # lists {entry} next to the old entry'
            ),
            "aigw-secrets keys rotate-age --confirm-phase 2",
        ]

    def cluster_recipients(self) -> set[str]:
        data = self.cluster().secret_data(self.secret_ns, self.secret_name) or {}
        return agekeys.recipients_in(data)

    def managed(self) -> list[Path]:
        files = sops_config.managed(self.root)
        if not files:
            raise ConfigError(f"{self.root}: no encrypted file matches a creation rule; nothing to re-key")
        return files

    def bootstrap_files(self, files: list[Path]) -> list[tuple[Path, tuple[str, ...]]]:
        """Encrypted copies of the decryption Secret itself (cluster-template's
        bootstrap/sops-age.sops.yaml): (file, key path of each *.agekey entry)."""
        found = []
        for path in files:
            try:
                doc = yamlload.load(path.read_text("utf-8"))
            except (OSError, UnicodeDecodeError, yaml.YAMLError):
                continue
            meta = kube.mapping(kube.mapping(doc).get("metadata"))
            if (
                not isinstance(doc, dict)
                or doc.get("kind") != "Secret"
                or meta.get("name") != self.secret_name
                or meta.get("namespace", self.secret_ns) != self.secret_ns
            ):
                continue
            entries = [
                (section, key)
                for section in ("stringData", "data")
                for key in kube.mapping(doc.get(section))
                if str(key).endswith(".agekey")
            ]
            if entries:
                found.append((path, tuple(f"{s}.{k}" for s, k in entries)))
        return found

    def _update_bootstrap(self, files: list[Path], identities: str) -> list[Path]:
        """Bootstrapping a new cluster installs this file: it must carry the keys the files need now."""
        sops = sops_binary.Sops(self.root)
        changed = []
        for path, entries in self.bootstrap_files(files):
            rel = str(path.relative_to(self.root))
            data = path.read_bytes()
            for i, entry in enumerate(entries):  # every key in the first entry; others emptied
                section, key = entry.split(".", 1)
                value = identities if i == 0 else ""
                if section == "data":
                    value = base64.b64encode(value.encode()).decode()
                data = sops_files.set_value(sops, data, rel, (section, key), value)
            atomic_write(path, data)
            changed.append(path)
            output.status("updated", rel, "the bootstrap copy of the decryption Secret")
        return changed

    @contextmanager
    def operator_keys(self) -> Iterator[None]:
        """sops and the in-process reader see old and new identities inside this block only: the
        git commit that follows (and every hook it runs) must not inherit private agekeys."""
        texts = [self.old_key_file.read_text("utf-8") if self.old_key_file.is_file() else ""]
        new_file = self.root / self.record.new_key_file
        if self.record.new_key_file and new_file.is_file():
            texts.append(new_file.read_text("utf-8"))
        identities = [m.group(0) for t in texts for m in agekeys.IDENTITY_RE.finditer(t)]
        saved = os.environ.get("SOPS_AGE_KEY")
        os.environ["SOPS_AGE_KEY"] = "\n".join(identities)
        try:
            yield
        finally:
            if saved is None:
                os.environ.pop("SOPS_AGE_KEY", None)
            else:
                os.environ["SOPS_AGE_KEY"] = saved

    # --- the plan --------------------------------------------------------------------------------

    def plan(self) -> list[str]:
        order = list(NEXT)[1:]
        state = self.record.state if self.journal.active else None
        done = order.index(Phase(state)) + 1 if state in order else 0
        steps = [
            f"1. generate a new age key (0600, git-ignored) next to {self.old_key_file.name}",
            (
                f"2. add it to Secret {self.secret_ns}/{self.secret_name} (entry *.agekey) next to the old key; "
                "check both are there"
            ),
            "3. add the new recipient to .sops.yaml, `updatekeys` every managed file (formatting kept), commit",
            (
                f"4. when Kustomization {self.ks_ns}/{self.ks_name} is Ready with that commit applied: remove the "
                "old recipient, updatekeys, new data keys, commit"
            ),
            (
                f"5. when that commit is applied and {self.grace} have passed: drop the old key from the cluster "
                "Secret, retire the local old key"
            ),
        ]
        return [("done  " if i < done else "todo  ") + s for i, s in enumerate(steps)]

    def run(self) -> int:
        if not self.journal.active:
            old = agekeys.read_key_file(self.old_key_file)
            cfg_path = sops_config.find(self.root)
            listed = sops_config.load(cfg_path).age_recipients() if cfg_path else set()
            rotating = sorted(k.recipient for k in old if k.recipient in listed)
            if not rotating:
                raise ConfigError(
                    f"{self.old_key_file}: none of its recipients is listed in .sops.yaml; nothing to rotate"
                )
            self.journal.data = {}
            self.journal.step(
                Phase.PLANNED,
                rotation_id=str(uuid.uuid4()),
                old_recipients=rotating,
                old_key_file=str(self.old_key_file),
            )
        state = Phase(self.record.state)
        while state in NEXT:
            state = NEXT[state]
            self.STEPS[state](self)
        return 0

    # --- phases ----------------------------------------------------------------------------------

    def _generated(self) -> None:
        key = agekeys.generate()
        path = self.root / f"age-{now().strftime('%Y%m%dT%H%M%S')}-{self.record.rotation_id[:8]}.agekey"
        git.ignore(self.root, path, entry="*.agekey")  # ignored before the private key exists
        agekeys.write_key_file(path, key)
        self.journal.step(Phase.GENERATED, new_key_file=path.name, new_recipient=key.recipient)
        output.status("created", path, f"new age key {key.recipient}")

    def _check_new_key_file(self) -> str:
        path = self.root / self.record.new_key_file
        held = [k.recipient for k in agekeys.read_key_file(path)]
        if self.record.new_recipient not in held:
            raise DataError(f"{path}: does not hold the new identity the journal recorded")
        return path.read_text("utf-8")

    def _cluster_has_both(self) -> None:
        new_text = self._check_new_key_file()
        entry = f"aigw-{self.record.rotation_id[:8]}.agekey"
        if self.confirmed_phase == 2:
            self._confirm_phase2(entry)
            return
        try:
            self.cluster().update_secret_data(
                self.secret_ns, self.secret_name, lambda d: {**d, entry: new_text.encode()}
            )
        except Unreachable as exc:
            raise NoClusterAccess(f"{exc}; {self._instructions()}", code=exc.code) from None
        held = self.cluster_recipients()
        if self.record.new_recipient not in held:
            raise DataError(f"{self.secret_ns}/{self.secret_name}: the new key is not there after writing it")
        missing_old = [r for r in self.record.old_recipients if r not in held]
        if missing_old:
            output.warn(
                f"{self.secret_ns}/{self.secret_name} does not hold the old key ({missing_old[0][:16]}...): "
                "Flux cannot decrypt the current files today"
            )
        self.journal.step(Phase.CLUSTER_HAS_BOTH, cluster_entry=entry)
        output.status("updated", f"{self.secret_ns}/{self.secret_name}", "holds the old and the new key")

    def _confirm_phase2(self, entry: str) -> None:
        """The operator added the key by hand: check what can be checked without cluster access."""
        try:
            held = self.cluster_recipients()
        except AigwError:
            output.warn(
                f"cannot read {self.secret_ns}/{self.secret_name} to check it; going on with the operator's word"
            )
        else:
            if self.record.new_recipient not in held:
                raise DataError(
                    f"{self.secret_ns}/{self.secret_name}: the new key is not there; run the phase 2 commands first"
                )
        self.journal.step(Phase.CLUSTER_HAS_BOTH, cluster_entry=entry, confirmed_by_operator=True)
        output.status("confirmed", f"{self.secret_ns}/{self.secret_name}", "the operator added the new key")

    def _recipient_added(self) -> None:
        if self.record.confirmed_by_operator and self.confirmed_phase == 2:
            pass  # just confirmed by hand (and checked above when the cluster could be read)
        elif self.record.new_recipient not in self.cluster_recipients():  # phase 2 really happened
            raise DataError(
                f"{self.secret_ns}/{self.secret_name}: the new key is missing from the cluster; not re-keying the files"
            )
        cfg_path = sops_config.require(self.root)
        files = self.managed()
        self._check_recipients(files)  # before .sops.yaml or any file changes
        rules = tuple(
            r.position + 1
            for r in sops_config.load(cfg_path).rules
            if set(r.recipients("age")) & set(self.record.old_recipients)
        )
        if sops_config.add_recipient(self.root, "age", self.record.new_recipient, rules)[1]:
            output.status("updated", cfg_path, "added the new age recipient")
        old_text = Path(self.record.old_key_file).read_text("utf-8").strip()
        with self.operator_keys():
            self._update_bootstrap(files, old_text + "\n" + self._check_new_key_file().strip() + "\n")
            self._updatekeys(files)
        sha = git.commit(
            self.root,
            (
                f"aigw-secrets: add age recipient {self.record.new_recipient[:16]}... (rotation "
                f"{self.record.rotation_id[:8]})"
            ),
            [cfg_path, *files, *self._gitignore()],
        )
        self.journal.step(Phase.RECIPIENT_ADDED, commit_added=sha)

    def _wait_for_flux(self, commit: str) -> None:
        ok, why = flux_applied(self.cluster().kustomization(self.ks_ns, self.ks_name), commit)
        if not ok:
            raise Waiting(
                f"waiting for Flux: Kustomization {self.ks_ns}/{self.ks_name} {why}; push {commit[:12]} and run again"
            )

    def _old_removed(self) -> None:
        self._wait_for_flux(self.record.commit_added)
        if self.record.new_recipient not in self.cluster_recipients():
            raise DataError(
                f"{self.secret_ns}/{self.secret_name}: the new key is missing from the cluster; not removing "
                "the old recipient"
            )
        cfg_path = sops_config.require(self.root)
        files = self.managed()
        self._check_recipients(files)  # removing the old recipient only takes one away
        if sops_config.remove_recipients(self.root, list(self.record.old_recipients)):
            output.status("updated", cfg_path, "removed the old age recipient")
        with self.operator_keys():
            self._update_bootstrap(files, self._check_new_key_file().strip() + "\n")
            self._updatekeys(files)
            result = rotate_data_keys(self.root, files, locked=True)
        if result["data_key_errors"]:
            raise DataError(result["data_key_errors"][0]["error"])
        sha = git.commit(
            self.root,
            f"aigw-secrets: remove old age recipient, new data keys (rotation {self.record.rotation_id[:8]})",
            [cfg_path, *files],
        )
        self.journal.step(Phase.OLD_REMOVED, commit_removed=sha, removed_at=stamp())

    def _retired(self) -> None:
        self._wait_for_flux(self.record.commit_removed)
        until = (parse_stamp(self.record.removed_at) or now()) + self.grace
        if now() < until:
            raise Waiting(f"grace period: the old key stays in the cluster until {stamp(until)}; run again then")
        old = set(self.record.old_recipients)

        def drop_old(data: dict[str, bytes]) -> dict[str, bytes]:
            return {
                k: v for k, v in data.items() if not (k.endswith(".agekey") and agekeys.recipients_in({k: v}) <= old)
            }

        self.cluster().update_secret_data(self.secret_ns, self.secret_name, drop_old)
        held = self.cluster_recipients()
        if self.record.new_recipient not in held or held & old:
            raise DataError(f"{self.secret_ns}/{self.secret_name}: unexpected keys after retiring the old one")
        old_file = Path(self.record.old_key_file)
        new_file = self.root / self.record.new_key_file
        if new_file.exists():
            if old_file.exists():
                old_file.rename(self._retired_path(old_file))
            new_file.rename(old_file)  # SOPS_AGE_KEY_FILE keeps working, now with the new key
        self.journal.step(Phase.RETIRED)
        output.status("retired", old_file, "old age key removed from the cluster and retired locally")

    def _retired_path(self, old_file: Path) -> Path:
        """Where the old key goes: in the state directory (``.git/aigw-secrets/``, never committed), so a later
        `git add -A` cannot pick up the one key that decrypts the whole history."""
        name = f"{old_file.name}.retired-{now().strftime('%Y%m%dT%H%M%S')}"
        if not old_file.resolve().is_relative_to(self.root):
            return old_file.with_name(name)
        retired = state_dir(self.root) / "retired"
        retired.mkdir(mode=0o700, exist_ok=True)
        return retired / name

    def _gitignore(self) -> list[Path]:
        """.gitignore goes into the tool's commit when the tool changed it (it ignores the new key)."""
        path = self.root / ".gitignore"
        return (
            [path]
            if path.is_file() and not git.succeeds(self.root, "diff", "--quiet", "HEAD", "--", ".gitignore")
            else []
        )

    def _check_recipients(self, files: list[Path]) -> None:
        """``updatekeys`` wraps every file's data key (the bootstrap copy holds the age private keys) for
        whatever .sops.yaml lists: only recipients each file has as committed, the new age key, or the
        operator's trust list (a merged commit adding a recipient would otherwise get them all)."""
        from aigw_secrets.rotation import vouched
        from aigw_secrets.sops import recipients

        recipients.require_each(
            sops_binary.Sops(self.root),
            files,
            own={self.record.new_recipient},
            vouched=lambda rel, found: vouched.baseline(self.root, rel, found),
            fix="An operator reviews .sops.yaml, runs `aigw-secrets updatekeys` for recipients that belong, or "
            "lists them in "
            f"{recipients.ENV}, then runs `aigw-secrets keys rotate-age` again",
        )

    def _updatekeys(self, files: list[Path]) -> None:
        from aigw_secrets.rotation import vouched

        failed = [
            (path, res)
            for path, res in sops_files.rewrite_each(
                self.root, files, vouched.remembering(self.root, sops_files.updatekeys)
            )
            if isinstance(res, AigwError)
        ]
        for path, err in failed:
            output.error(f"{path}: {err}")
        if failed:
            raise DataError("updatekeys failed for some files (see above); fix them and run again")

    STEPS: ClassVar[dict[Phase, Callable[[AgeRotation], None]]] = {
        Phase.GENERATED: _generated,
        Phase.CLUSTER_HAS_BOTH: _cluster_has_both,
        Phase.RECIPIENT_ADDED: _recipient_added,
        Phase.OLD_REMOVED: _old_removed,
        Phase.RETIRED: _retired,
        Phase.COMPLETE: lambda self: self._complete(),
    }

    def _complete(self) -> None:
        self.journal.step(Phase.COMPLETE)
        output.info("age key rotation complete")
