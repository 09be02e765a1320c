"""Getting provider credentials in (never from argv) and checking their shape.

Sources, in order: an explicit source (``--source PROVIDER=SPEC`` or ``ai_gateway_<p>_credential_source``),
the provider SDK's conventional environment variable, and (on a TTY) a hidden prompt. A SPEC is
``env:VAR``, ``file:PATH``, ``cmd:COMMAND`` (run without a shell; for password managers), ``stdin``
or ``prompt``. Error messages name the source, never the value.
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

from aigw_secrets import shapes
from aigw_secrets.errors import ConfigError, CredentialError
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
    kind: str
    arg: str

    @classmethod
    def parse(cls, spec: str, where: str) -> Source:
        kind, _, arg = spec.partition(":")
        kind = kind.strip()
        if kind not in SOURCE_KINDS or (kind in ("env", "file", "cmd") and not arg.strip()):
            raise ConfigError(f"{where}: credential source {spec!r} must be env:VAR, file:PATH, cmd:COMMAND, stdin or prompt")
        return cls(kind, arg.strip())

    def describe(self) -> str:
        return f"{self.kind}:{self.arg}" if self.arg else self.kind


def _read_source(src: Source, label: str, *, stdin_text: str | None = None) -> str | None:
    """The raw text of a source (None when an env variable is unset)."""
    if src.kind == "env":
        return os.environ.get(src.arg)
    if src.kind == "file":
        try:
            return Path(src.arg).expanduser().read_text("utf-8")
        except FileNotFoundError:
            raise CredentialError(f"{label}: credential file {src.arg} does not exist") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise CredentialError(f"{label}: cannot read credential file {src.arg} ({type(exc).__name__})") from None
    if src.kind == "cmd":
        argv = shlex.split(src.arg)
        res = run(argv, timeout=60)
        if res.returncode != 0:
            # never repeat the command's output: it may be the secret or part of it
            raise CredentialError(f"{label}: credential command {argv[0]!r} exited with code {res.returncode}")
        try:
            return res.stdout.decode("utf-8")
        except UnicodeDecodeError:
            raise CredentialError(f"{label}: credential command {argv[0]!r} printed non-UTF-8 output") from None
    if src.kind == "stdin":
        return stdin_text if stdin_text is not None else sys.stdin.read()
    return None  # prompt: handled by the caller


def obtain(
    pc: ProviderConfig,
    explicit: str | None,
    *,
    interactive: bool,
    stdin_text: str | None = None,
) -> Credential | None:
    """The credential for ``pc``, or None when no source has one (and prompting is not possible)."""
    auth = pc.auth
    if auth.credential is None:
        return None
    label = f"{pc.provider.title} ({pc.name})"
    spec = explicit or pc.settings.get("credential_source")
    where = f"ai_gateway_{pc.key}_credential_source" if not explicit else f"--source {pc.key}"
    src = Source.parse(spec, where) if spec else None
    if src is None or src.kind == "env":
        return _from_environment(pc, src, label)
    if src.kind == "prompt":
        return prompt(pc) if interactive else None
    raw = _read_source(src, label, stdin_text=stdin_text)
    return check(pc, raw or "", src.describe())


def _from_environment(pc: ProviderConfig, src: Source | None, label: str) -> Credential | None:
    kind = pc.auth.credential
    if src is not None:  # env:VAR holds the whole credential in that variable
        value = os.environ.get(src.arg)
        return None if value is None else check(pc, value, f"env:{src.arg}")
    env = pc.auth.env
    if kind == "aws":
        key_id, secret, token = (os.environ.get(v) for v in env)
        if not key_id and not secret:
            return None
        if not key_id or not secret:
            missing = env[0] if not key_id else env[1]
            raise CredentialError(f"{label}: {missing} is not set (both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are needed)")
        return Credential(_aws_ini(key_id.strip(), secret.strip(), token.strip() if token else None, label, "environment"), "environment")
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
        raise CredentialError(f"{where} does not look like a {pc.provider.title} key (expected it to start with {' or '.join(prefixes)})")
    if pc.provider.key == "openai" and value.startswith(shapes.ANTHROPIC_PREFIX):
        raise CredentialError(f"{where} is an Anthropic key, not an OpenAI key")
    return Credential(value, source)


def _aws_ini(key_id: str, secret: str, token: str | None, label: str, source: str) -> str:
    where = f"{label}: AWS credentials from {source}"
    if is_placeholder(key_id) or is_placeholder(secret):
        raise CredentialError(f"{where} look like placeholders, not real credentials")
    if not AWS_KEY_ID.match(key_id):
        raise CredentialError(f"{where}: the access key id is not AKIA/ASIA followed by 16 characters A-Z2-7")
    if not AWS_SECRET.match(secret):
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
        raise CredentialError(f"{where} is not an AWS credentials file ([default] with aws_access_key_id, aws_secret_access_key)") from None
    sections = parser.sections()
    section = "default" if "default" in sections else (sections[0] if len(sections) == 1 else None)
    if section is None:
        raise CredentialError(f"{where}: the credentials file needs a [default] profile")
    prof = parser[section]
    if "aws_access_key_id" not in prof or "aws_secret_access_key" not in prof:
        raise CredentialError(f"{where}: profile [{section}] lacks aws_access_key_id or aws_secret_access_key")
    return _aws_ini(prof["aws_access_key_id"].strip(), prof["aws_secret_access_key"].strip(), prof.get("aws_session_token"), where, "file")


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
