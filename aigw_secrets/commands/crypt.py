"""``encrypt``, ``decrypt``, ``edit``, ``set``, ``updatekeys``: sops, keeping the author's formatting."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from aigw_secrets import output, sopsconfig, sopsfile
from aigw_secrets import sops as sops_mod
from aigw_secrets.errors import AigwError, ConfigError, CredentialError, ExitCode, NoKeyError
from aigw_secrets.util import atomic_write


def _sops(root: Path) -> sops_mod.Sops:
    return sops_mod.Sops(root)


def _rel(root: Path, path: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        raise ConfigError(f"{path}: outside the repository {root}; pass --repo") from None


def _workers() -> int:
    # Each file costs two or three short sops processes; a few more threads than cores keeps the
    # cores busy while processes start.
    return max(2, 2 * (os.cpu_count() or 1))


def _each(paths: Sequence[Path], work: Callable[[Path], str]) -> int:
    """Run ``work`` on every file in parallel; report each result on one line; first failure's code."""
    code = 0

    def one(path: Path) -> tuple[Path, str | AigwError]:
        try:
            return path, work(path)
        except AigwError as exc:
            return path, exc

    with ThreadPoolExecutor(max_workers=_workers()) as pool:
        for path, res in pool.map(one, paths):
            if isinstance(res, AigwError):
                output.error(str(res))
                code = code or int(res.code)
            elif res:
                output.status(res, path)
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
    sops = _sops(root)
    paths = list(files) or _default_files(root, encrypted=False)

    def work(path: Path) -> str:
        rel = _rel(root, path)
        data = sopsfile.read(path)
        try:
            new = sopsfile.encrypt(sops, data, rel, verify=verify)
        except NoKeyError as exc:
            raise NoKeyError(f"{exc}; cannot verify the result, so {rel} was left as it is (--no-verify skips the check)") from None
        atomic_write(path, new)
        return "encrypted" if verify else "encrypted (not verified)"

    return _each(paths, work)


def decrypt(root: Path, file: Path) -> int:
    """Print the plaintext, in the author's formatting, to stdout."""
    root = root.resolve()
    data = sopsfile.decrypt(_sops(root), sopsfile.read(file), _rel(root, file))
    sys.stdout.buffer.write(data)
    sys.stdout.flush()
    return 0


def _reencrypt(root: Path, files: Sequence[Path], op: Callable[..., bytes], verb: str) -> int:
    root = root.resolve()
    sops = _sops(root)
    paths = list(files) or _default_files(root, encrypted=True)

    def work(path: Path) -> str:
        data = sopsfile.read(path)
        new = op(sops, data, _rel(root, path))
        if new == data:
            return "unchanged"
        atomic_write(path, new)
        return verb

    return _each(paths, work)


def updatekeys(root: Path, files: Sequence[Path]) -> int:
    """``sops updatekeys -y`` keeping formatting; default: every encrypted governed file."""
    return _reencrypt(root, files, sopsfile.updatekeys, "updated")


def rotate_data_key(root: Path, files: Sequence[Path]) -> int:
    """``sops rotate`` (a new data key, same recipients) keeping formatting."""
    return _reencrypt(root, files, sopsfile.rotate, "rotated")


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
    import click  # noqa: PLC0415

    return str(click.prompt(f"new value for {label}", hide_input=True, confirmation_prompt=True))


def set_value(root: Path, file: Path, keypath: str, value: str) -> int:
    """Change one encrypted value (``sops set``): the diff shows that value, ``mac`` and ``lastmodified``."""
    root = root.resolve()
    rel = _rel(root, file)
    data = sopsfile.read(file)
    new = sopsfile.set_value(_sops(root), data, rel, sopsfile.parse_keypath(keypath), value)
    if new != data:
        atomic_write(file, new)
    output.status("set" if new != data else "unchanged", file, keypath)
    return 0


def private_dir() -> Path:
    """A 0700 directory for plaintext, on tmpfs (/dev/shm) where there is one."""
    shm = Path("/dev/shm")
    base = str(shm) if shm.is_dir() and os.access(shm, os.W_OK | os.X_OK) else None
    return Path(tempfile.mkdtemp(prefix="aigw-edit-", dir=base))


def _wipe(directory: Path) -> None:
    for path in directory.glob("*"):
        try:
            with path.open("r+b") as fh:
                fh.write(b"\0" * path.stat().st_size)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError:
            pass
    shutil.rmtree(directory, ignore_errors=True)


def edit(root: Path, file: Path) -> int:
    """Open $VISUAL/$EDITOR on the plaintext in a private directory; re-encrypt keeping formatting.

    The plaintext file is removed whatever happens: editor failure, an error, or Ctrl-C.
    """
    root = root.resolve()
    rel = _rel(root, file)
    sops = _sops(root)
    data = sopsfile.read(file)
    plain = sopsfile.decrypt(sops, data, rel)
    directory = private_dir()
    try:
        scratch = directory / file.name
        fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(plain)
        editor = shlex.split(os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi")
        rc = subprocess.call([*editor, str(scratch)])  # noqa: S603 - the user's own editor
        if rc != 0:
            output.error(f"{rel}: editor exited with code {rc}; file left unchanged")
            return int(ExitCode.DATA)
        edited = scratch.read_bytes()
    finally:
        _wipe(directory)
    if edited == plain:
        output.status("unchanged", file, "no changes")
        return 0
    new = _minimal_reencrypt(sops, data, plain, edited, rel)
    atomic_write(file, new)
    output.status("encrypted", file, "edited")
    return 0


def _minimal_reencrypt(sops: sops_mod.Sops, data: bytes, plain: bytes, edited: bytes, rel: str) -> bytes:
    """Only changed values get new ciphertext when only values changed; otherwise a fresh encryption."""
    from aigw_secrets import yamlsplice as ys  # noqa: PLC0415

    before = ys.parse(sopsfile.Text(plain, rel).text, rel)
    after = ys.parse(sopsfile.Text(edited, rel).text, rel)
    same_shape = [s.path for s in before.scalars] == [s.path for s in after.scalars]
    enc = ys.parse(sopsfile.Text(data, rel).text, rel)
    encrypted = {s.path for s in enc.scalars if ys.is_enc(s.value) and s.path[:1] != ("sops",)}
    changed = [a for b, a in zip(before.scalars, after.scalars, strict=False) if b.value != a.value]
    if same_shape and changed and all(s.path in encrypted and isinstance(s.value, str) for s in changed):
        current = data
        for s in changed:
            current = sopsfile.set_value(sops, current, rel, s.path, s.value)
        if sopsfile.decrypt(sops, current, rel) == edited:
            return current
    return sopsfile.encrypt(sops, edited, rel)
