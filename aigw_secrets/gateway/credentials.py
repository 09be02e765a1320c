"""Getting provider credentials in (never from argv) and checking their shape.

Sources, in order: an explicit source (``--source PROVIDER=SPEC`` or ``ai_gateway_<p>_credential_source``),
the provider SDK's conventional environment variable, and (on a TTY) a hidden prompt. A SPEC is
``env:VAR``, ``file:PATH``, ``cmd:COMMAND`` (run without a shell; for password managers), ``stdin``
or ``prompt``. A ``cmd:`` or ``file:`` named by the repository's config is used only when the operator
allows it (``gateway/operator.py``). Error messages name the flag or field, never the value given.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import shlex
import sys
from pathlib import Path
from typing import NamedTuple

from aigw_secrets import adminenv, shapes
from aigw_secrets.errors import ConfigError, CredentialError, ExitCode, ToolMissingError
from aigw_secrets.gateway import operator
from aigw_secrets.gateway.config import ProviderConfig
from aigw_secrets.shapes import is_placeholder
from aigw_secrets.util import run

AWS_KEY_ID = re.compile(f"^{shapes.AWS_KEY_ID}$")
AWS_SECRET = re.compile(f"^{shapes.AWS_SECRET}$")
SOURCE_KINDS = ("env", "file", "cmd", "stdin", "prompt")


class Credential(NamedTuple):
    value: str  # exactly what goes into the Secret key
    source: str  # where it came from, for messages (never the value)

    def __repr__(self) -> str:
        return f"Credential(source={self.source!r}, value=<{len(self.value)} chars>)"


class Source(NamedTuple):
    """A parsed source spec. ``where`` names the flag or field it came from: messages and journals
    use ``describe()``, which never repeats a command line or a path (a key is sometimes typed
    where a spec is expected, and a command line may carry one)."""

    kind: str
    arg: str
    where: str = ""
    from_repo: bool = False  # named in cluster.yaml/.toml, which every contributor can change

    @classmethod
    def parse(cls, spec: str, where: str, *, from_repo: bool = False) -> Source:
        kind, _, arg = spec.partition(":")
        kind = kind.strip()
        # typed on the command line: a usage error (2); from the repository's config: a config error (78)
        code = ExitCode.CONFIG if from_repo else ExitCode.USAGE
        if kind not in SOURCE_KINDS or (kind in ("env", "file", "cmd") and not arg.strip()):
            provider, eq, rest = kind.partition("=")
            if (
                eq and not from_repo and rest.strip() in SOURCE_KINDS and _ENV_VAR.fullmatch(provider.strip())
            ):  # generate's PROVIDER=SPEC given to rotate
                raise ConfigError(
                    f"{where}: rotate takes a bare SPEC (--source {rest.strip()}:...), not PROVIDER=SPEC; the "
                    "provider is --provider's",
                    code=code,
                )
            raise ConfigError(
                f"{where}: not a credential source (expected env:VAR, file:PATH, cmd:COMMAND, stdin or "
                "prompt; the value given is not shown)",
                code=code,
            )
        if kind == "env" and not _ENV_VAR.fullmatch(arg.strip()):
            raise ConfigError(
                f"{where}: env: must name an environment variable (letters, digits, _; the value given is not shown)",
                code=code,
            )
        return cls(kind, arg.strip(), where, from_repo)

    def describe(self) -> str:
        if self.kind == "env" and _SHOWN_ENV.fullmatch(self.arg):
            return f"env:{self.arg}"
        return f"{self.kind} ({self.where})" if self.where else self.kind


_ENV_VAR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_SHOWN_ENV = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")  # conventional names; a pasted key is rarely all upper case

# What a sops decryption key always holds, whatever file it came from.
_DECRYPTION_KEYS = ("AGE-SECRET-KEY-", "-----BEGIN PGP PRIVATE KEY BLOCK-----")


def _allowed(pc: ProviderConfig, src: Source, label: str, run_commands: bool, policy: operator.Policy) -> bool:
    """May this source be used? False: treat it as "no credential given" (``--check``)."""
    if src.kind == "cmd" and not run_commands:
        return False
    if not src.from_repo:
        return True  # the operator typed it on the command line
    if src.kind == "cmd" and not policy.allow_commands:
        raise CredentialError(
            f"{label}: {src.where} names a command, and commands from the repository's config are not run "
            "unless the operator allows it (AIGW_SECRETS_ALLOW_COMMANDS=1 or allow_commands in operator.toml)",
            code=ExitCode.CONFIG,
        )
    if src.kind in ("cmd", "file") and adminenv.is_unattended():
        if not _granted_unattended(pc, src, policy):
            what, name = ("a command", "COMMANDS") if src.kind == "cmd" else ("a file", "FILES")
            raise CredentialError(
                f"{label}: {src.where} names {what}, and in the bot's own run (rotate --due) the repository's "
                f"{src.kind}: sources are used only when the operator grants that exact one to this provider "
                f"(AIGW_SECRETS_UNATTENDED_{name}={pc.key}=..., or unattended_{name.lower()} in operator.toml): "
                "a blanket grant would let any commit run or read anything with the bot's credentials",
                code=ExitCode.MANUAL_ACTION,
            )
        return True
    if src.kind == "file" and not policy.allow_files:
        raise CredentialError(
            f"{label}: {src.where} names a file, and files named by the repository's config are not read "
            "unless the operator allows it (AIGW_SECRETS_ALLOW_FILES=1 or allow_files in operator.toml)",
            code=ExitCode.CONFIG,
        )
    if src.kind == "env" and (
        src.arg.upper().startswith(("AIGW_SECRETS_", "SOPS_"))
        or src.arg in _others_variables(pc)
        or adminenv.is_admin(src.arg, aws=True)
    ):
        # never the tool's own variables, another provider's credential, or an admin credential
        raise CredentialError(
            f"{label}: {src.where} names a variable that belongs to the tool or to another provider",
            code=ExitCode.CONFIG,
        )
    if src.kind == "env" and src.arg not in pc.auth.env and not _prefix_allowed(src.arg):
        # the repository does not choose which of the bot's variables is read
        raise CredentialError(
            f"{label}: {src.where} names a variable that is not one of {pc.provider.title}'s documented ones "
            f"({', '.join(pc.auth.env) or 'none'}); "
            "the operator can allow a prefix from outside the repository (AIGW_SECRETS_ALLOW_ENV_PREFIX)",
            code=ExitCode.CONFIG,
        )
    return True


def _granted_unattended(pc: ProviderConfig, src: Source, policy: operator.Policy) -> bool:
    """Whether the operator granted exactly this ``cmd:`` (``file:``) source to this provider for the bot."""
    if src.kind == "cmd":
        return (pc.key, src.arg.strip()) in policy.unattended_commands

    def resolved(path: str) -> Path:
        return Path(path).expanduser().resolve()

    try:
        named = resolved(src.arg.strip())
        return any(key == pc.key and resolved(path) == named for key, path in policy.unattended_files)
    except (OSError, RuntimeError, ValueError):
        return False


def _prefix_allowed(name: str) -> bool:
    prefixes = [
        p.strip() for p in os.environ.get("AIGW_SECRETS_ALLOW_ENV_PREFIX", "").split(",") if len(p.strip()) >= 2
    ]
    return any(name.startswith(p) for p in prefixes)


def _others_variables(pc: ProviderConfig) -> set[str]:
    from aigw_secrets.gateway.providers import PROVIDERS

    every = {v for p in PROVIDERS.values() for mode in p.auth_modes for v in mode.env}
    return every - set(pc.auth.env)


def _read_source(src: Source, label: str, *, stdin_text: str | None = None, timeout: float = 60.0) -> str | None:
    """The raw text of a source (None when an env variable is unset)."""
    if src.kind == "env":
        return os.environ.get(src.arg)
    if src.kind == "file":
        path = Path(src.arg).expanduser()
        try:
            if not path.is_file():  # a FIFO or a device would block or never end
                raise CredentialError(
                    f"{label}: the credential file named by {src.where} does not exist or is not a regular file"
                )
            with path.open("rb") as fh:
                return fh.read(_MAX_CREDENTIAL).decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CredentialError(
                f"{label}: cannot read the credential file named by {src.where} ({type(exc).__name__})"
            ) from None
    if src.kind == "cmd":
        try:
            argv = shlex.split(src.arg)
        except ValueError:
            raise CredentialError(
                f"{label}: {src.where}: the command line is not valid shell quoting (e.g. an unbalanced quote)",
                code=ExitCode.CONFIG,
            ) from None
        if not argv:
            raise CredentialError(f"{label}: {src.where}: the command is empty", code=ExitCode.CONFIG)
        name = Path(argv[0]).name
        try:
            res = run(argv, timeout=timeout, own_group=True)
        except ToolMissingError as exc:
            why = (
                "did not finish in time"
                if "did not finish" in str(exc)
                else "could not be run (not found or not executable)"
            )
            raise CredentialError(f"{label}: credential command {name!r} ({src.where}) {why}") from None
        if res.returncode != 0:
            # never repeat the command's output: it may be the secret or part of it
            raise CredentialError(
                f"{label}: credential command {name!r} ({src.where}) exited with code {res.returncode}"
            )
        try:
            return res.stdout.decode("utf-8")
        except UnicodeDecodeError:
            raise CredentialError(
                f"{label}: credential command {name!r} ({src.where}) printed non-UTF-8 output"
            ) from None
    if src.kind == "stdin":
        return stdin_text if stdin_text is not None else sys.stdin.read(_MAX_CREDENTIAL)
    return None  # prompt: handled by the caller


_MAX_CREDENTIAL = 1024 * 1024


def source_for(pc: ProviderConfig, explicit: str | None) -> Source | None:
    """The parsed source of ``pc``'s credential: ``--source`` first, then the config's credential_source."""
    if explicit:
        return Source.parse(explicit, f"--source {pc.key}")
    spec = pc.settings.get("credential_source")
    return Source.parse(spec, f"ai_gateway_{pc.key}_credential_source", from_repo=True) if spec else None


def obtain(
    pc: ProviderConfig,
    explicit: str | None,
    *,
    interactive: bool,
    stdin_text: str | None = None,
    run_commands: bool = True,
    policy: operator.Policy | None = None,
) -> Credential | None:
    """The credential for ``pc``, or None when no source has one (and prompting is not possible).

    ``run_commands=False`` (``generate --check``, CI) treats a ``cmd:`` source as "nothing given".
    Sources from the repository's config obey the operator's ``policy`` (module ``operator``).
    """
    auth = pc.auth
    if auth.credential is None:
        return None
    label = f"{pc.provider.title} ({pc.name})"
    src = source_for(pc, explicit)
    policy = policy if policy is not None else operator.load()
    if src is not None and not _allowed(pc, src, label, run_commands, policy):
        return None
    if src is None or src.kind == "env":
        cred = _from_environment(pc, src, label)
    elif src.kind == "prompt":
        cred = prompt(pc) if interactive else None
    else:
        raw = _read_source(src, label, stdin_text=stdin_text, timeout=policy.command_timeout)
        cred = check(pc, raw or "", src.describe())
    if cred is not None and any(mark in cred.value for mark in _DECRYPTION_KEYS):
        # the key that opens every Secret of the repository (an age identity, a PGP private key), read through
        # a file: or cmd: source a commit named: never sent to a validation host nor written anywhere
        raise CredentialError(
            f"{label}: the credential from {cred.source} holds a sops decryption key (an age identity or a PGP "
            "private key); refused, nothing sent, nothing written: review the commit that named this source",
            code=ExitCode.MANUAL_ACTION,
        )
    if cred is not None and adminenv.leaks(cred.value):
        # whatever the source, an admin credential never becomes a provider credential
        raise CredentialError(
            f"{label}: the credential from {cred.source} is an admin credential of this environment (the "
            "bot's own identity); "
            "refused, nothing sent, nothing written: an operator has to give this provider its own credential",
            code=ExitCode.MANUAL_ACTION,
        )
    return cred


def _from_environment(pc: ProviderConfig, src: Source | None, label: str) -> Credential | None:
    kind = pc.auth.credential
    if src is not None:  # env:VAR holds the whole credential in that variable
        value = os.environ.get(src.arg)
        return None if value is None else check(pc, value, src.describe())
    env = pc.auth.env
    if kind == "aws":
        key_id, secret, token = (os.environ.get(v) for v in env)
        if not key_id and not secret:
            return None
        if not key_id or not secret:
            missing = env[0] if not key_id else env[1]
            raise CredentialError(
                f"{label}: {missing} is not set (both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are needed)"
            )
        return Credential(
            _aws_ini(key_id.strip(), secret.strip(), token.strip() if token else None, label, "environment"),
            "environment",
        )
    if kind == "gcp-sa":
        path = os.environ.get(env[0])
        if not path:
            return None
        try:
            text = Path(path).expanduser().read_text("utf-8")
        except (OSError, UnicodeDecodeError):
            raise CredentialError(f"{label}: {env[0]} points to {path}, which cannot be read") from None
        return check(pc, text, f"{env[0]}={path}")
    value = os.environ.get(env[0])
    return None if value is None else check(pc, value, env[0])


def given_or_prompted(pc: ProviderConfig, cred: Credential | None, *, interactive: bool, rotating: bool) -> Credential:
    """``cred``, or one typed at the terminal; with no terminal, a one-line error that names where a
    credential can come from (``rotate`` takes a bare ``--source SPEC``, ``generate`` PROVIDER=SPEC)."""
    if cred is not None:
        return cred
    if not interactive:
        needed = " + ".join(pc.auth.env[:2]) or "a credential"
        spec = "file:PATH|cmd:COMMAND|stdin"
        hint = (
            f"no new credential; set {needed} or pass --source {spec}"
            if rotating
            else f"no credential; set {needed}, or pass --source {pc.key}={spec}"
        )
        raise CredentialError(f"{pc.provider.title} ({pc.name}): {hint}")
    return prompt(pc)


def prompt(pc: ProviderConfig) -> Credential:
    """Ask on the terminal, input hidden."""
    import click

    label = f"{pc.provider.title} ({pc.name})"
    kind = pc.auth.credential
    if kind == "aws":
        key_id = click.prompt(f"{label} AWS access key id", hide_input=True)
        secret = click.prompt(f"{label} AWS secret access key", hide_input=True)
        return Credential(_aws_ini(key_id.strip(), secret.strip(), None, label, "prompt"), "prompt")
    if kind == "gcp-sa":
        path = click.prompt(f"{label} path of the service-account key JSON")
        try:
            return check(pc, Path(path).expanduser().read_text("utf-8"), "prompt")
        except (OSError, UnicodeDecodeError):
            raise CredentialError(f"{label}: cannot read {path}") from None
    return check(pc, click.prompt(f"{label} {pc.auth.help or 'credential'}", hide_input=True), "prompt")


def check(pc: ProviderConfig, raw: str, source: str) -> Credential:
    """Validate the shape of ``raw`` for ``pc``'s auth mode and return the Secret value."""
    label = f"{pc.provider.title} ({pc.name})"
    kind = pc.auth.credential
    where = f"{label}: credential from {source}"
    if kind == "aws":
        return Credential(_aws_from_text(raw, where), source)
    if kind == "gcp-sa":
        return Credential(_gcp_from_text(raw, where), source)
    value = raw.strip()
    if not value:
        raise CredentialError(f"{where} is empty")
    if re.search(r"\s", value):
        raise CredentialError(f"{where} contains whitespace; expected a single token")
    if is_placeholder(value):
        raise CredentialError(f"{where} looks like a placeholder, not a real credential")
    if len(value) < 16:
        raise CredentialError(f"{where} is too short to be a credential ({len(value)} characters)")
    prefixes = pc.provider.key_prefixes if pc.auth.name == "api-key" else ()
    if prefixes and not value.startswith(prefixes):
        raise CredentialError(
            f"{where} does not look like a {pc.provider.title} key (expected it to start with {' or '.join(prefixes)})"
        )
    if pc.provider.key == "openai" and value.startswith(shapes.ANTHROPIC_PREFIX):
        raise CredentialError(f"{where} is an Anthropic key, not an OpenAI key")
    return Credential(value, source)


def _aws_ini(key_id: str, secret: str, token: str | None, label: str, source: str) -> str:
    where = f"{label}: AWS credentials from {source}"
    if is_placeholder(key_id) or is_placeholder(secret):
        raise CredentialError(f"{where} look like placeholders, not real credentials")
    if not AWS_KEY_ID.fullmatch(key_id):
        raise CredentialError(f"{where}: the access key id is not AKIA/ASIA followed by 16 characters A-Z2-7")
    if not AWS_SECRET.fullmatch(secret):
        raise CredentialError(f"{where}: the secret access key is not 40 characters of A-Za-z0-9/+")
    if key_id.startswith("ASIA") and not token:
        raise CredentialError(f"{where}: an ASIA (temporary) key id needs AWS_SESSION_TOKEN / aws_session_token")
    # The controller ignores credentialsFile.profile and reads [default] (AIGW-API §2.6).
    lines = ["[default]", f"aws_access_key_id = {key_id}", f"aws_secret_access_key = {secret}"]
    if token:
        lines.append(f"aws_session_token = {token}")
    return "\n".join(lines) + "\n"


def _aws_from_text(raw: str, where: str) -> str:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(raw)
    except configparser.Error:
        raise CredentialError(
            f"{where} is not an AWS credentials file ([default] with aws_access_key_id, aws_secret_access_key)"
        ) from None
    sections = parser.sections()
    section = "default" if "default" in sections else (sections[0] if len(sections) == 1 else None)
    if section is None:
        raise CredentialError(f"{where}: the credentials file needs a [default] profile")
    prof = parser[section]
    if "aws_access_key_id" not in prof or "aws_secret_access_key" not in prof:
        raise CredentialError(f"{where}: profile [{section}] lacks aws_access_key_id or aws_secret_access_key")
    return _aws_ini(
        prof["aws_access_key_id"].strip(),
        prof["aws_secret_access_key"].strip(),
        prof.get("aws_session_token"),
        where,
        "file",
    )


def _gcp_from_text(raw: str, where: str) -> str:
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, ValueError):
        raise CredentialError(f"{where} is not JSON (expected a service-account key file)") from None
    if not isinstance(data, dict) or data.get("type") != "service_account":
        raise CredentialError(f'{where}: JSON is not a service-account key ("type" must be "service_account")')
    for field in ("private_key", "client_email", "project_id"):
        if not isinstance(data.get(field), str) or not data[field]:
            raise CredentialError(f"{where}: service-account key lacks {field}")
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        load_pem_private_key(data["private_key"].encode("utf-8"), password=None)
    except (ValueError, TypeError):
        raise CredentialError(f"{where}: private_key is not a PEM private key that parses") from None
    # Canonical form: the same key always gives the same Secret (no churn from whitespace).
    return json.dumps(data, indent=2, sort_keys=False) + "\n"


def identity(pc: ProviderConfig, value: str) -> str:
    """Which credential this is, as the provider's console shows it and never more: the AWS access
    key id, the GCP private_key_id, the first 3 characters of an Azure client secret (the portal's
    "hint"), else the key's public prefix and its last 4 characters (OpenAI's and Anthropic's
    ``sk-...abcd``). Never a hash: an unsalted hash of a weak key falls to a dictionary."""
    kind = pc.auth.credential
    if kind == "aws":
        for line in value.splitlines():
            if line.startswith("aws_access_key_id"):
                return line.split("=", 1)[1].strip()
        return "unknown"
    if kind == "gcp-sa":
        try:
            key_id = json.loads(value).get("private_key_id")
        except (ValueError, AttributeError):
            key_id = None
        return f"gcp-key:{key_id}" if isinstance(key_id, str) and key_id.isalnum() else "unknown"
    value = value.strip()
    if len(value) < 16:
        return "unknown"
    if kind == "client-secret":
        return f"hint:{value[:3]}"
    prefix = max((p for p in pc.provider.key_prefixes if value.startswith(p)), key=len, default="")
    return f"{prefix}...{value[-4:]}"
