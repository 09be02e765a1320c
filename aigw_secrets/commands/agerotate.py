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

import datetime as dt
import os
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from aigw_secrets import keys, output, sopsconfig, sopsfile
from aigw_secrets import sops as sops_mod
from aigw_secrets.cluster import Cluster, Unreachable, flux_applied
from aigw_secrets.commands import crypt
from aigw_secrets.commands import keys as keys_cmd
from aigw_secrets.commands.init import _ignore, key_path
from aigw_secrets.commands.rotate import rotate_data_keys
from aigw_secrets.errors import AigwError, ConfigError, DataError, ExitCode
from aigw_secrets.state import Journal, Locked, now, parse_stamp, repo_lock, stamp
from aigw_secrets.util import atomic_write

PHASES = ("generated", "cluster-has-both", "recipient-added", "old-removed", "retired")


class Waiting(Locked):
    """Not an error: the next phase waits for Flux or for the grace period (exit 75, run again later)."""


def recipients_in(data: dict[str, bytes]) -> set[str]:
    """The age recipients whose identities a decryption Secret holds (Flux reads entries *.agekey)."""
    found = set()
    for name, value in data.items():
        if name.endswith(".agekey"):
            for m in keys.IDENTITY_RE.finditer(value.decode("utf-8", "replace")):
                found.add(keys.recipient_of(m.group(0)))
    return found


def _git(root: Path, *args: str) -> str:
    res = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
    if res.returncode != 0:
        raise ConfigError(f"git {args[0]} failed in {root}: {res.stderr.strip().splitlines()[-1] if res.stderr.strip() else res.returncode}")
    return res.stdout.strip()


def _commit(root: Path, message: str, files: list[Path]) -> str:
    _git(root, "add", "--", *(str(f) for f in files))
    env_id = ["-c", f"user.name={os.environ.get('GIT_AUTHOR_NAME', 'aigw-secrets')}", "-c", f"user.email={os.environ.get('GIT_AUTHOR_EMAIL', 'aigw-secrets@localhost')}"]
    _git(root, *env_id, "commit", "--quiet", "--allow-empty", "-m", message)
    return _git(root, "rev-parse", "HEAD")


class AgeRotation:
    def __init__(self, root: Path, *, kubeconfig: Path | None, context: str | None, secret: str, kustomization: str, grace_hours: float, key_file: Path | None) -> None:
        self.root = root.resolve()
        self.kubeconfig, self.context = kubeconfig, context
        self.secret_ns, _, self.secret_name = secret.partition("/")
        self.ks_ns, _, self.ks_name = kustomization.partition("/")
        if not self.secret_name or not self.ks_name:
            raise ConfigError("--secret and --kustomization take NAMESPACE/NAME")
        self.grace = dt.timedelta(hours=grace_hours)
        self.old_key_file = key_path(self.root, key_file)
        self.journal = Journal(self.root, "age-rotation")
        self._cluster: Cluster | None = None

    # --- helpers ---------------------------------------------------------------------------------

    @property
    def j(self) -> dict[str, Any]:
        return self.journal.data

    def cluster(self) -> Cluster:
        if self._cluster is None:
            try:
                self._cluster = Cluster(self.kubeconfig, self.context)
            except AigwError as exc:
                raise type(exc)(f"{exc}; {self._instructions()}") from None
        return self._cluster

    def _instructions(self) -> str:
        new = self.j.get("new_key_file", "<new key file>")
        return (
            f"no cluster access: stopped before the cluster learns the new key. Add it yourself "
            f"(kubectl -n {self.secret_ns} patch secret {self.secret_name} with an entry NAME.agekey holding {new}) "
            f"or re-run with --kubeconfig/--context"
        )

    def cluster_recipients(self) -> set[str]:
        data = self.cluster().secret_data(self.secret_ns, self.secret_name) or {}
        return recipients_in(data)

    def managed(self) -> list[Path]:
        files = sopsconfig.managed(self.root)
        if not files:
            raise ConfigError(f"{self.root}: no encrypted file matches a creation rule; nothing to re-key")
        return files

    def bootstrap_files(self, files: list[Path]) -> list[tuple[Path, tuple[str, ...]]]:
        """Encrypted copies of the decryption Secret itself (cluster-template's
        bootstrap/sops-age.sops.yaml): (file, key path of each *.agekey entry)."""
        import yaml  # noqa: PLC0415

        found = []
        for path in files:
            try:
                doc = yaml.safe_load(path.read_text("utf-8"))
            except (OSError, UnicodeDecodeError, yaml.YAMLError):
                continue
            meta = (doc or {}).get("metadata") or {} if isinstance(doc, dict) else {}
            if not isinstance(doc, dict) or doc.get("kind") != "Secret" or meta.get("name") != self.secret_name or meta.get("namespace", self.secret_ns) != self.secret_ns:
                continue
            entries = [(section, key) for section in ("stringData", "data") for key in (doc.get(section) or {}) if str(key).endswith(".agekey")]
            if entries:
                found.append((path, tuple(f"{s}.{k}" for s, k in entries)))
        return found

    def _update_bootstrap(self, files: list[Path], identities: str) -> list[Path]:
        """Bootstrapping a new cluster installs this file: it must carry the keys the files need now."""
        import base64  # noqa: PLC0415

        sops = sops_mod.Sops(self.root)
        changed = []
        for path, entries in self.bootstrap_files(files):
            rel = str(path.relative_to(self.root))
            data = path.read_bytes()
            for i, entry in enumerate(entries):  # every key in the first entry; others emptied
                section, key = entry.split(".", 1)
                value = identities if i == 0 else ""
                if section == "data":
                    value = base64.b64encode(value.encode()).decode()
                data = sopsfile.set_value(sops, data, rel, (section, key), value)
            atomic_write(path, data)
            changed.append(path)
            output.status("updated", rel, "the bootstrap copy of the decryption Secret")
        return changed

    @contextmanager
    def operator_keys(self) -> Iterator[None]:
        """sops and the in-process reader see old and new identities inside this block only: the
        git commit that follows (and every hook it runs) must not inherit private keys."""
        texts = [self.old_key_file.read_text("utf-8") if self.old_key_file.is_file() else ""]
        new_file = self.root / self.j.get("new_key_file", "")
        if self.j.get("new_key_file") and new_file.is_file():
            texts.append(new_file.read_text("utf-8"))
        identities = [m.group(0) for t in texts for m in keys.IDENTITY_RE.finditer(t)]
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
        done = PHASES.index(self.j["state"]) + 1 if self.journal.active and self.j.get("state") in PHASES else 0
        steps = [
            f"1. generate a new age key (0600, git-ignored) next to {self.old_key_file.name}",
            f"2. add it to Secret {self.secret_ns}/{self.secret_name} (entry *.agekey) next to the old key; check both are there",
            "3. add the new recipient to .sops.yaml, `updatekeys` every managed file (formatting kept), commit",
            f"4. when Kustomization {self.ks_ns}/{self.ks_name} is Ready with that commit applied: remove the old recipient, updatekeys, new data keys, commit",
            f"5. when that commit is applied and {self.grace} have passed: drop the old key from the cluster Secret, retire the local old key",
        ]
        return [("done  " if i < done else "todo  ") + s for i, s in enumerate(steps)]

    def run(self) -> int:
        if not self.journal.active:
            old = keys.read_key_file(self.old_key_file)
            cfg_path = sops_mod.find_config(self.root)
            listed = sopsconfig.load(cfg_path).age_recipients() if cfg_path else set()
            rotating = sorted(k.recipient for k in old if k.recipient in listed)
            if not rotating:
                raise ConfigError(f"{self.old_key_file}: none of its recipients is listed in .sops.yaml; nothing to rotate")
            self.journal.data = {}
            self.journal.step("planned", rotation_id=str(uuid.uuid4()), old_recipients=rotating, old_key_file=str(self.old_key_file))
        for phase in PHASES[PHASES.index(self.j["state"]) + 1 if self.j["state"] in PHASES else 0 :]:
            getattr(self, "_" + phase.replace("-", "_"))()
        self.journal.step("complete")
        output.info("age key rotation complete")
        return 0

    # --- phases ----------------------------------------------------------------------------------

    def _generated(self) -> None:
        key = keys.generate()
        path = self.root / f"age-{now().strftime('%Y%m%dT%H%M%S')}-{self.j['rotation_id'][:8]}.agekey"
        keys.write_key_file(path, key)
        _ignore(self.root, path, entry="*.agekey")
        self.journal.step("generated", new_key_file=path.name, new_recipient=key.recipient)
        output.status("created", path, f"new age key {key.recipient}")

    def _check_new_key_file(self) -> str:
        path = self.root / self.j["new_key_file"]
        held = [k.recipient for k in keys.read_key_file(path)]
        if self.j["new_recipient"] not in held:
            raise DataError(f"{path}: does not hold the new identity the journal recorded")
        return path.read_text("utf-8")

    def _cluster_has_both(self) -> None:
        new_text = self._check_new_key_file()
        entry = f"aigw-{self.j['rotation_id'][:8]}.agekey"
        try:
            self.cluster().update_secret_data(self.secret_ns, self.secret_name, lambda d: {**d, entry: new_text.encode()})
        except Unreachable as exc:
            raise Unreachable(f"{exc}; {self._instructions()}") from None
        held = self.cluster_recipients()
        if self.j["new_recipient"] not in held:
            raise DataError(f"{self.secret_ns}/{self.secret_name}: the new key is not there after writing it")
        missing_old = [r for r in self.j["old_recipients"] if r not in held]
        if missing_old:
            output.warn(f"{self.secret_ns}/{self.secret_name} does not hold the old key ({missing_old[0][:16]}...): Flux cannot decrypt the current files today")
        self.journal.step("cluster-has-both", cluster_entry=entry)
        output.status("updated", f"{self.secret_ns}/{self.secret_name}", "holds the old and the new key")

    def _recipient_added(self) -> None:
        if self.j["new_recipient"] not in self.cluster_recipients():  # phase 2 really happened
            raise DataError(f"{self.secret_ns}/{self.secret_name}: the new key is missing from the cluster; not re-keying the files")
        cfg_path = sops_mod.find_config(self.root)
        assert cfg_path is not None
        rules = tuple(r.index + 1 for r in sopsconfig.load(cfg_path).rules if set(r.recipients("age")) & set(self.j["old_recipients"]))
        keys_cmd.add_recipient(self.root, "age", self.j["new_recipient"], rules)
        files = self.managed()
        old_text = Path(self.j["old_key_file"]).read_text("utf-8").strip()
        with self.operator_keys():
            self._update_bootstrap(files, old_text + "\n" + self._check_new_key_file().strip() + "\n")
            if crypt.updatekeys(self.root, files):
                raise DataError("updatekeys failed for some files (see above); fix them and run again")
        sha = _commit(self.root, f"aigw-secrets: add age recipient {self.j['new_recipient'][:16]}... (rotation {self.j['rotation_id'][:8]})", [cfg_path, *files])
        self.journal.step("recipient-added", commit_added=sha)

    def _wait_for_flux(self, commit: str) -> None:
        ok, why = flux_applied(self.cluster().kustomization(self.ks_ns, self.ks_name), commit)
        if not ok:
            raise Waiting(f"waiting for Flux: Kustomization {self.ks_ns}/{self.ks_name} {why}; push {commit[:12]} and run again")

    def _old_removed(self) -> None:
        self._wait_for_flux(self.j["commit_added"])
        if self.j["new_recipient"] not in self.cluster_recipients():
            raise DataError(f"{self.secret_ns}/{self.secret_name}: the new key is missing from the cluster; not removing the old recipient")
        cfg_path = sops_mod.find_config(self.root)
        assert cfg_path is not None
        keys_cmd.remove_recipient(self.root, list(self.j["old_recipients"]))
        files = self.managed()
        with self.operator_keys():
            self._update_bootstrap(files, self._check_new_key_file().strip() + "\n")
            if crypt.updatekeys(self.root, files):
                raise DataError("updatekeys failed for some files (see above); fix them and run again")
            result = rotate_data_keys(self.root, files, locked=True)
        if result["data_key_errors"]:
            raise DataError(result["data_key_errors"][0]["error"])
        sha = _commit(self.root, f"aigw-secrets: remove old age recipient, new data keys (rotation {self.j['rotation_id'][:8]})", [cfg_path, *files])
        self.journal.step("old-removed", commit_removed=sha, removed_at=stamp())

    def _retired(self) -> None:
        self._wait_for_flux(self.j["commit_removed"])
        until = (parse_stamp(self.j["removed_at"]) or now()) + self.grace
        if now() < until:
            raise Waiting(f"grace period: the old key stays in the cluster until {stamp(until)}; run again then")
        old = set(self.j["old_recipients"])

        def drop_old(data: dict[str, bytes]) -> dict[str, bytes]:
            return {k: v for k, v in data.items() if not (k.endswith(".agekey") and recipients_in({k: v}) <= old)}

        self.cluster().update_secret_data(self.secret_ns, self.secret_name, drop_old)
        held = self.cluster_recipients()
        if self.j["new_recipient"] not in held or held & old:
            raise DataError(f"{self.secret_ns}/{self.secret_name}: unexpected keys after retiring the old one")
        old_file = Path(self.j["old_key_file"])
        new_file = self.root / self.j["new_key_file"]
        if new_file.exists():
            if old_file.exists():
                old_file.rename(old_file.with_name(f"{old_file.name}.retired-{now().strftime('%Y%m%dT%H%M%S')}"))
            new_file.rename(old_file)  # SOPS_AGE_KEY_FILE keeps working, now with the new key
        self.journal.step("retired")
        output.status("retired", old_file, "old age key removed from the cluster and retired locally")


def rotate_age(root: Path, *, kubeconfig: Path | None, context: str | None, secret: str, kustomization: str, grace_hours: float, key_file: Path | None, dry_run: bool) -> int:
    rotation = AgeRotation(root, kubeconfig=kubeconfig, context=context, secret=secret, kustomization=kustomization, grace_hours=grace_hours, key_file=key_file)
    if dry_run:
        output.result("\n".join(rotation.plan()))
        return 0
    with repo_lock(rotation.root):
        try:
            return rotation.run()
        except Waiting as exc:
            output.info(str(exc))
            return int(ExitCode.LOCKED)
