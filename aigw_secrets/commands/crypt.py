"""``encrypt``, ``decrypt``, ``edit``, ``set``, ``updatekeys``: sops, keeping the author's formatting."""

from __future__ import annotations

import copy
import os
import shlex
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from aigw_secrets import output, yamlload
from aigw_secrets.errors import AigwError, ConfigError, CredentialError, DataError, ExitCode, NoKeyError
from aigw_secrets.rotation.journal import repo_lock
from aigw_secrets.sops import config as sops_config
from aigw_secrets.sops import files as sops_files
from aigw_secrets.sops import scratch
from aigw_secrets.sops.binary import Sops
from aigw_secrets.util import atomic_write, parallel_map, stamp, wipe


def _report(results: Sequence[tuple[Path, str | AigwError]], verbs: dict[str, str], root: Path) -> int:
    """One line per file (path relative to the repository), then a summary (with --format json:
    the one document on stdout); the first failure's exit code."""
    code = 0
    counts: dict[str, int] = {}
    errors: list[dict[str, str | int]] = []
    for path, res in results:
        shown = _shown(root, path)
        if isinstance(res, AigwError):
            message = str(res) if shown in str(res) else f"{shown}: {res}"
            output.error(message)
            errors.append({"path": shown, "error": message, "exit_code": int(res.code)})
            output.SETTINGS.files.append({"path": shown, "action": "failed"})  # counted like every other file
            code = code or int(res.code)
            counts["failed"] = counts.get("failed", 0) + 1
        elif res:
            verb = verbs.get(res, res)
            output.status(verb, shown)
            counts[verb] = counts.get(verb, 0) + 1
    failed = counts.pop("failed", 0)
    parts = [f"{n} {verb}" for verb, n in sorted(counts.items())] + ([f"{failed} failed"] if failed else [])
    message = ", ".join(parts or ["nothing to do"]) + f" ({len(results)} file{'s' if len(results) != 1 else ''})"
    if code and not output.SETTINGS.json:
        if len(results) > 1:  # the summary line is for success; a failed batch still gets its count
            output.info(message)
    else:
        output.finish(message, errors=errors)
    return code


def _shown(root: Path, path: Path) -> str:
    try:
        return str(path.resolve().relative_to(root))
    except ValueError:
        return str(path)


def _default_files(root: Path, *, encrypted: bool) -> list[Path]:
    """Every encrypted governed file (updatekeys); for encrypt, the plaintext governed files that
    must be encrypted by the policy scan and doctor share (named ``*.sops.*``, or carrying secret
    material): a catch-all rule over every manifest never has ConfigMaps encrypted. None is
    nothing to do, not an error."""
    files = sops_config.managed(root, encrypted=encrypted)
    if encrypted:
        return files
    from aigw_secrets.scanner.scan import exposure

    def wanted(path: Path) -> bool:
        try:
            return ".sops." in path.name or exposure(_shown(root, path), sops_files.read(path)) is not None
        except AigwError:
            return True  # unreadable: encrypt reports why, for this file

    return [p for p in files if wanted(p)]


def encrypt(root: Path, files: Sequence[Path], *, verify: bool = True, fmt: str = "text") -> int:
    """Encrypt files in place, keeping their formatting; default: every unencrypted governed file
    (those with nothing the rule would encrypt are skipped with a note)."""
    root = root.resolve()
    output.begin(fmt)
    bulk = not files
    with repo_lock(root):  # a concurrent rotation never sees, or reverts, a half-done batch
        sops = Sops(root)
        paths = list(files) or _default_files(root, encrypted=False)
        scratch.sweep_at_start(paths)

        def work(path: Path) -> tuple[Path, str | AigwError]:
            try:
                rel = sops_files.target(root, path)
                data = sops_files.read(path)
                try:
                    new = sops_files.encrypt(sops, data, rel, verify=verify)
                except NoKeyError as exc:
                    raise NoKeyError(
                        f"{exc}; cannot verify the result, so {rel} was left as it is (--no-verify skips the check)"
                    ) from None
                atomic_write(path, new)
                return path, "encrypted" if verify else "encrypted (not verified)"
            except sops_files.NothingToEncrypt as exc:
                return path, "skipped (nothing the creation rule would encrypt)" if bulk else exc
            except AigwError as exc:
                return path, exc

        return _report(list(parallel_map(work, paths)), {}, root)


def decrypt(root: Path, file: Path) -> int:
    """Print the plaintext, in the author's formatting, to stdout."""
    root = root.resolve()
    data = sops_files.decrypt(Sops(root), sops_files.read(file), sops_files.relative(root, file))
    sys.stdout.buffer.write(data)
    sys.stdout.flush()
    output.detail(
        f"decrypted {sops_files.relative(root, file)}"
    )  # stdout is the plaintext: no summary line unless asked for
    return 0


def _rewrite(root: Path, files: Sequence[Path], op: Callable[[Sops, bytes, str], bytes], verb: str) -> int:
    root = root.resolve()
    with repo_lock(root):
        paths = list(files) or _default_files(root, encrypted=True)
        scratch.sweep_at_start(paths)
        return _report(sops_files.rewrite_each(root, paths, op), {"changed": verb}, root)


def updatekeys(root: Path, files: Sequence[Path], *, fmt: str = "text") -> int:
    """``sops updatekeys -y`` keeping formatting; default: every encrypted governed file."""
    output.begin(fmt)
    from aigw_secrets.rotation import vouched

    # an operator re-keying a file vouches for its recipients (the rotation bot keeps them from then on)
    return _rewrite(root, files, vouched.remembering(root.resolve(), sops_files.updatekeys), "updated")


def read_value(*, from_stdin: bool, from_env: str | None, from_file: Path | None, label: str) -> str:
    """A new value from exactly one source; never from argv. A hidden prompt on a terminal by default."""
    chosen = [s for s in (from_stdin, from_env, from_file) if s]
    if len(chosen) > 1:
        raise ConfigError("give one of --stdin, --from-env, --from-file")
    if from_env:
        value = os.environ.get(from_env)
        if value is None:
            raise CredentialError(f"{from_env} is not set")
        return _nonempty(value, from_env)
    if from_file:
        try:
            return _nonempty(from_file.read_text("utf-8").rstrip("\n"), str(from_file))
        except (OSError, UnicodeDecodeError) as exc:
            raise CredentialError(f"{from_file}: cannot read ({type(exc).__name__})") from None
    import click

    if from_stdin:
        return _nonempty(sys.stdin.read().rstrip("\n"), "standard input")
    if not sys.stdin.isatty():  # piped text is never taken as a credential unless asked for
        raise click.UsageError(
            "no terminal to prompt on: give the value with --stdin, --from-env VAR or --from-file PATH"
        )
    return _nonempty(
        str(click.prompt(f"new value for {label}", hide_input=True, confirmation_prompt=True)), "the prompt"
    )


def _nonempty(value: str, where: str) -> str:
    if not value:
        raise CredentialError(f"empty value from {where}; nothing was changed")
    return value


def set_value(root: Path, file: Path, keypath: str, value: str) -> int:
    """Change one encrypted value (``sops set``): the diff shows that value, ``mac`` and ``lastmodified``."""
    root = root.resolve()
    rel = sops_files.target(root, file)
    with repo_lock(root):  # read, change and write as one step: a rotation cannot revert it
        scratch.sweep_at_start([file])
        data = sops_files.read(file)
        sops, path = Sops(root), sops_files.parse_keypath(keypath)
        new = _set_with_bookkeeping(sops, data, rel, path, value) or sops_files.set_value(sops, data, rel, path, value)
        if new != data:
            atomic_write(file, new)
            _policy_follows(file, new)
    output.status("set" if new != data else "unchanged", file, keypath)
    output.summary(f"{keypath} {'changed' if new != data else 'already held that value'} in {rel}")
    return 0


def _policy_follows(file: Path, new: bytes) -> None:
    """A managed Secret got a new generation: its BackendSecurityPolicy records it too (as rotate does)."""
    from aigw_secrets.gateway.plan import sync_policy_generation

    changed = sync_policy_generation(file, new)
    if changed is not None:
        output.status("updated", changed, "the policy records the Secret's new generation")


def _set_with_bookkeeping(sops: Sops, data: bytes, rel: str, path: tuple[Any, ...], value: str) -> bytes | None:
    """A Secret aigw-secrets manages: the value and its rotation state (content hash, generation,
    rotated-at) in one sops operation; None for any other file (plain ``sops set``)."""
    from aigw_secrets.gateway import marks, secretdoc  # yaml: kept off the CLI's start-up path

    if marks.HASH_ANNOTATION.encode() not in data:
        return None

    def edits(before: Any) -> dict[tuple[Any, ...], str | None] | None:
        after = copy.deepcopy(before)
        node = after
        try:
            for key in path[:-1]:
                node = node[key]
            if not isinstance(node[path[-1]], str):
                return None
            node[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            return None  # set_value names what is wrong
        extra = secretdoc.bookkeeping(before, after, stamp())
        return {path: value, **extra} if extra else None

    return sops_files.update(sops, data, rel, edits)


def _edited_with_bookkeeping(plain: bytes, edited: bytes, rel: str) -> bytes:
    """An edit that changed a managed Secret's values also records it (see ``secretdoc.bookkeeping``)."""
    import yaml

    from aigw_secrets.gateway import marks, secretdoc

    if marks.HASH_ANNOTATION.encode() not in plain:
        return edited
    text = sops_files.Text(edited, rel)
    try:
        before, after = (yamlload.load(t) for t in (plain, edited))
    except yaml.YAMLError:
        return edited  # the re-encryption reports it
    extra = secretdoc.bookkeeping(before, after, stamp())
    return text.encode(sops_files.edit_text(text.text, rel, extra)) if extra else edited


class _Interrupted(AigwError):
    code = ExitCode.INTERRUPTED


_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


class _Guard:
    """While the plaintext exists: SIGINT, SIGTERM, SIGHUP and SIGQUIT end the command through the
    cleanup (the directory is wiped) instead of killing the process where it stands. While
    ``armed`` is off (starting the editor, cleaning up) a signal is remembered and acted on after."""

    def __init__(self) -> None:
        self.armed = True
        self.pending = 0

    def handler(self, signum: int, _frame: object) -> None:
        if self.armed:
            self.armed = False
            raise self.error(signum)
        self.pending = self.pending or signum

    @staticmethod
    def error(signum: int) -> _Interrupted:
        return _Interrupted(
            f"interrupted by {signal.Signals(signum).name}; the plaintext copy was removed, the file is unchanged"
        )

    def run_editor(self, argv: list[str]) -> int:
        self.armed = False  # a signal while the editor starts must not lose track of it
        proc = subprocess.Popen(argv)
        try:
            self.armed = not self.pending
            if self.pending:
                raise self.error(self.pending)
            return proc.wait()
        except BaseException:
            self.armed = False
            proc.terminate()  # the editor must not write the plaintext back after we removed it
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            raise


@contextmanager
def _plaintext_guard(directory: Path) -> Iterator[_Guard]:
    guard = _Guard()
    previous = {s: signal.signal(s, guard.handler) for s in _SIGNALS}
    try:
        yield guard
    finally:
        guard.armed = False
        wipe(directory)
        for s, h in previous.items():
            signal.signal(s, h)
        if guard.pending:
            raise guard.error(guard.pending)


def edit(root: Path, file: Path) -> int:
    """Open $VISUAL/$EDITOR on the plaintext in a private directory; re-encrypt keeping formatting.

    The plaintext file is removed whatever happens: editor failure, an error, Ctrl-C, SIGTERM,
    SIGHUP or SIGQUIT (a ``kill -9`` leaves it for the next run to remove). The repository lock is
    taken only to write: if the file changed meanwhile (a data-key rotation), the edit is applied
    to the new version when its plaintext is the one that was edited, and refused otherwise.
    """
    root = root.resolve()
    rel = sops_files.target(root, file)
    sops = Sops(root)
    data = sops_files.read(file)
    plain = sops_files.decrypt(sops, data, rel)
    directory = scratch.plaintext_dir()
    with _plaintext_guard(directory) as guard:
        path = directory / file.name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(plain)
        editor = shlex.split(os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi")
        while True:  # until the edit is saved, unchanged, or given up
            rc = guard.run_editor([*editor, str(path)])
            if rc != 0:
                output.error(f"{rel}: editor exited with code {rc}; file left unchanged")
                return int(ExitCode.DATA)
            edited = path.read_bytes()
            if edited == plain:
                output.status("unchanged", file, "no changes")
                output.summary(f"{rel}: no changes")
                return 0
            guard.armed = False  # a signal while writing is acted on once the write is done (or failed)
            try:
                _save_edit(root, sops, file, rel, data, plain, edited)
                break
            except _Refused as exc:
                if not _reopen(rel, exc):
                    raise AigwError(
                        f"{exc}; your edit was not saved and its plaintext copy was removed", code=exc.code
                    ) from None
    output.status("encrypted", file, "edited")
    output.summary(f"{rel}: edit saved and encrypted")
    return 0


class _Refused(AigwError):
    """sops would not re-encrypt the edited text (a YAML typo, a bad value): the text can be fixed."""

    def __init__(self, message: str, cause: AigwError) -> None:
        super().__init__(message, code=cause.code)


class _Conflict(DataError):
    """The file's plaintext changed while it was being edited: reopening the editor cannot help."""


def _save_edit(root: Path, sops: Sops, file: Path, rel: str, data: bytes, plain: bytes, edited: bytes) -> None:
    try:
        with repo_lock(root):
            current = sops_files.read(file)
            if current != data:
                if sops_files.decrypt(sops, current, rel) != plain:
                    raise _Conflict(
                        f"{rel}: changed by another command while it was being edited; the edit was not saved "
                        "(edit it again)"
                    )
                data = current  # only keys or ciphertext changed (e.g. rotate --data-key): edit the new version
            new = sops_files.minimal_reencrypt(sops, data, plain, _edited_with_bookkeeping(plain, edited, rel), rel)
            atomic_write(file, new)
            _policy_follows(file, new)
    except _Conflict:
        raise
    except AigwError as exc:  # a YAML typo, a value sops refuses, the lock held by another run: fixable, retryable
        raise _Refused(str(exc) if rel in str(exc) else f"{rel}: {exc}", exc) from None


def _reopen(rel: str, refused: _Refused) -> bool:
    """On a terminal: say why and offer to reopen the editor on the user's own text (as sops does)."""
    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        return False
    import click

    output.error(str(refused))
    try:
        return bool(click.confirm("Re-open the editor on your text to fix it?", default=True, err=True))
    except click.exceptions.Abort:
        return False
