"""``encrypt``, ``decrypt``, ``edit``, ``set``, ``updatekeys``: sops, keeping the author's formatting."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from aigw_secrets import output
from aigw_secrets.errors import AigwError, ConfigError, CredentialError, ExitCode, NoKeyError
from aigw_secrets.sops import config as sopsconfig
from aigw_secrets.sops import files as sopsfile
from aigw_secrets.sops.binary import Sops
from aigw_secrets.util import atomic_write, parallel_map, private_dir, wipe


def _report(results: Sequence[tuple[Path, str | AigwError]], verbs: dict[str, str]) -> int:
    """One line per file; the first failure's exit code."""
    code = 0
    for path, res in results:
        if isinstance(res, AigwError):
            output.error(str(res))
            code = code or int(res.code)
        elif res:
            output.status(verbs.get(res, res), path)
    return code


def _default_files(root: Path, *, encrypted: bool) -> list[Path]:
    files = sopsconfig.managed(root, encrypted=encrypted)
    if not files:
        state = "encrypted" if encrypted else "unencrypted"
        raise ConfigError(f"{root}: no {state} file matches a .sops.yaml creation rule; name the files to work on")
    return files


def encrypt(root: Path, files: Sequence[Path], *, verify: bool = True) -> int:
    """Encrypt files in place, keeping their formatting; default: every unencrypted governed file."""
    root = root.resolve()
    sops = Sops(root)
    paths = list(files) or _default_files(root, encrypted=False)

    def work(path: Path) -> tuple[Path, str | AigwError]:
        try:
            rel = sopsfile.relative(root, path)
            data = sopsfile.read(path)
            try:
                new = sopsfile.encrypt(sops, data, rel, verify=verify)
            except NoKeyError as exc:
                raise NoKeyError(f"{exc}; cannot verify the result, so {rel} was left as it is (--no-verify skips the check)") from None
            atomic_write(path, new)
            return path, "encrypted" if verify else "encrypted (not verified)"
        except AigwError as exc:
            return path, exc

    return _report(list(parallel_map(work, paths)), {})


def decrypt(root: Path, file: Path) -> int:
    """Print the plaintext, in the author's formatting, to stdout."""
    root = root.resolve()
    data = sopsfile.decrypt(Sops(root), sopsfile.read(file), sopsfile.relative(root, file))
    sys.stdout.buffer.write(data)
    sys.stdout.flush()
    return 0


def _rewrite(root: Path, files: Sequence[Path], op: Callable[[Sops, bytes, str], bytes], verb: str) -> int:
    root = root.resolve()
    paths = list(files) or _default_files(root, encrypted=True)
    return _report(sopsfile.rewrite_each(root, paths, op), {"changed": verb})


def updatekeys(root: Path, files: Sequence[Path]) -> int:
    """``sops updatekeys -y`` keeping formatting; default: every encrypted governed file."""
    return _rewrite(root, files, sopsfile.updatekeys, "updated")


def read_value(*, from_stdin: bool, from_env: str | None, from_file: Path | None, label: str) -> str:
    """A new value from exactly one source; never from argv. A hidden prompt on a terminal by default."""
    chosen = [s for s in (from_stdin, from_env, from_file) if s]
    if len(chosen) > 1:
        raise ConfigError("give one of --stdin, --from-env, --from-file")
    if from_env:
        value = os.environ.get(from_env)
        if value is None:
            raise CredentialError(f"{from_env} is not set")
        return value
    if from_file:
        try:
            return from_file.read_text("utf-8").rstrip("\n")
        except (OSError, UnicodeDecodeError) as exc:
            raise CredentialError(f"{from_file}: cannot read ({type(exc).__name__})") from None
    if from_stdin or not sys.stdin.isatty():
        return sys.stdin.read().rstrip("\n")
    import click

    return str(click.prompt(f"new value for {label}", hide_input=True, confirmation_prompt=True))


def set_value(root: Path, file: Path, keypath: str, value: str) -> int:
    """Change one encrypted value (``sops set``): the diff shows that value, ``mac`` and ``lastmodified``."""
    root = root.resolve()
    rel = sopsfile.relative(root, file)
    data = sopsfile.read(file)
    new = sopsfile.set_value(Sops(root), data, rel, sopsfile.parse_keypath(keypath), value)
    if new != data:
        atomic_write(file, new)
    output.status("set" if new != data else "unchanged", file, keypath)
    return 0


def edit(root: Path, file: Path) -> int:
    """Open $VISUAL/$EDITOR on the plaintext in a private directory; re-encrypt keeping formatting.

    The plaintext file is removed whatever happens: editor failure, an error, or Ctrl-C.
    """
    root = root.resolve()
    rel = sopsfile.relative(root, file)
    sops = Sops(root)
    data = sopsfile.read(file)
    plain = sopsfile.decrypt(sops, data, rel)
    directory = private_dir()
    try:
        scratch = directory / file.name
        fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(plain)
        editor = shlex.split(os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi")
        rc = subprocess.call([*editor, str(scratch)])
        if rc != 0:
            output.error(f"{rel}: editor exited with code {rc}; file left unchanged")
            return int(ExitCode.DATA)
        edited = scratch.read_bytes()
    finally:
        wipe(directory)
    if edited == plain:
        output.status("unchanged", file, "no changes")
        return 0
    new = sopsfile.minimal_reencrypt(sops, data, plain, edited, rel)
    atomic_write(file, new)
    output.status("encrypted", file, "edited")
    return 0
