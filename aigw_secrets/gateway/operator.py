"""What the operator allows: read only from outside the repository (see README, "Threat model").

``cluster.yaml`` is written by every contributor whose pull request is merged, so nothing in it may
run a command, pick a local file to read, or pick where a credential is sent. Those powers come only
from the person or bot running the tool, through its environment or an untracked file:

- ``AIGW_SECRETS_ALLOW_COMMANDS=1``: run ``cmd:`` credential sources named in the repository's config;
- ``AIGW_SECRETS_ALLOW_FILES=1``: read ``file:`` credential sources named in the repository's config;
- ``AIGW_SECRETS_ALLOW_HOSTS=host[:port],...``: hosts besides each provider's documented one that a
  credential may be sent to for validation (a private endpoint, a vLLM server, a test stand-in);
- ``AIGW_SECRETS_HTTP_DEADLINE=SECONDS``: the whole validation of one credential (default 20);
- ``AIGW_SECRETS_COMMAND_TIMEOUT=SECONDS``: a credential command (default 60).

- ``AIGW_SECRETS_UNATTENDED_COMMANDS`` / ``AIGW_SECRETS_UNATTENDED_FILES`` (``PROVIDER=VALUE`` per line):
  the exact repository-named commands and files the bot's own run (``rotate --due``) may run or read, each
  for one provider; ``allow_commands`` / ``allow_files`` alone do not reach it.

The same keys (``allow_commands``, ``allow_files``, ``allow_hosts``, ``http_deadline``,
``command_timeout``, ``unattended_commands``, ``unattended_files``) can live in ``$AIGW_SECRETS_OPERATOR_CONFIG`` or
``$XDG_CONFIG_HOME/aigw-secrets/operator.toml`` (default ``~/.config/...``); a file inside the
repository is refused. The environment wins over the file. Sources given on the command line
(``--source``) are the operator's own and need no permission.
"""

from __future__ import annotations

import math
import os
import tomllib
from pathlib import Path
from typing import Any, NamedTuple

from aigw_secrets.errors import ConfigError

ENV_PREFIX = "AIGW_SECRETS_"


class Policy(NamedTuple):
    allow_commands: bool = False
    allow_files: bool = False
    allow_hosts: frozenset[str] = frozenset()  # "host" (any port) or "host:port", lower case
    http_deadline: float = 20.0
    command_timeout: float = 60.0
    # the exact repository-named commands (files) the bot's own run (rotate --due) may run (read), each for
    # one provider: (provider key, command or path). A blanket allow_commands / allow_files is an operator's
    # grant at a terminal, never the bot's (any commit could run any program, read any file, with its powers)
    unattended_commands: frozenset[tuple[str, str]] = frozenset()
    unattended_files: frozenset[tuple[str, str]] = frozenset()
    origin: str = "defaults"  # where the policy came from, for messages

    def allows_host(self, host: str, port: int) -> bool:
        host = host.lower().strip("[]")
        return host in self.allow_hosts or f"{host}:{port}" in self.allow_hosts


def config_file() -> Path:
    explicit = os.environ.get(f"{ENV_PREFIX}OPERATOR_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "aigw-secrets" / "operator.toml"


def load(root: Path | None = None) -> Policy:
    """The operator's policy: defaults, then the untracked file, then the environment."""
    values: dict[str, Any] = {}
    path = config_file()
    origin = "defaults"
    if path.is_file():
        if root is not None and path.resolve().is_relative_to(root.resolve()):
            raise ConfigError(
                f"{path}: the operator config must live outside the repository (it grants what the repository may not)"
            )
        try:
            values = tomllib.loads(path.read_text("utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read the operator config ({type(exc).__name__})") from None
        origin = str(path)
        unknown = sorted(set(values) - set(Policy._fields) - {"origin"})
        if unknown:
            raise ConfigError(f"{path}: unknown key {unknown[0]} (known: {', '.join(Policy._fields[:-1])})")
    env = {name: os.environ.get(ENV_PREFIX + name.upper()) for name in Policy._fields[:-1]}
    where = {name: (f"{ENV_PREFIX}{name.upper()}" if env[name] is not None else f"{path}: {name}") for name in env}
    merged = {name: env[name] if env[name] is not None else values.get(name) for name in env}
    return Policy(
        allow_commands=_bool(merged["allow_commands"], where["allow_commands"]),
        allow_files=_bool(merged["allow_files"], where["allow_files"]),
        allow_hosts=_hosts(merged["allow_hosts"], where["allow_hosts"]),
        http_deadline=_seconds(merged["http_deadline"], where["http_deadline"], 20.0),
        command_timeout=_seconds(merged["command_timeout"], where["command_timeout"], 60.0),
        unattended_commands=_grants(merged["unattended_commands"], where["unattended_commands"]),
        unattended_files=_grants(merged["unattended_files"], where["unattended_files"]),
        origin=origin if all(v is None for v in env.values()) else "environment",
    )


def _bool(value: Any, where: str) -> bool:
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "0", "false", "no", ""):
        return value.strip().lower() in ("1", "true", "yes")
    raise ConfigError(f"{where}: expected true or false")


def _hosts(value: Any, where: str) -> frozenset[str]:
    if value is None:
        return frozenset()
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise ConfigError(f"{where}: expected host names (host or host:port), comma-separated or a list")
    return frozenset(i.strip().lower() for i in items if i.strip())


def _grants(value: Any, where: str) -> frozenset[tuple[str, str]]:
    """``PROVIDER=VALUE`` lines (the environment), a list of them, or a table ``{provider = "value"}`` (a list
    of values each) in operator.toml."""
    if value is None:
        return frozenset()
    pairs: list[tuple[str, Any]]
    if isinstance(value, dict):
        pairs = [(str(k), v) for k, vs in value.items() for v in (vs if isinstance(vs, list) else [vs])]
    elif isinstance(value, str):
        pairs = [_pair(line) for line in value.splitlines() if line.strip()]
    elif isinstance(value, list):
        pairs = [_pair(i) if isinstance(i, str) else ("", i) for i in value if not isinstance(i, str) or i.strip()]
    else:
        pairs = [("", value)]
    if any(not isinstance(v, str) or not k.strip() or not v.strip() for k, v in pairs):
        raise ConfigError(f"{where}: expected PROVIDER=VALUE lines, a list of them, or a table of provider = value")
    return frozenset((k.strip(), v.strip()) for k, v in pairs)


def _pair(text: str) -> tuple[str, Any]:
    provider, _, value = text.partition("=")  # the first "=": a command may hold more
    return provider, value


def _seconds(value: Any, where: str, default: float) -> float:
    if value is None:
        return default
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: expected a number of seconds") from None
    if not math.isfinite(seconds) or not 0 < seconds <= 3600:
        raise ConfigError(f"{where}: expected a number of seconds between 0 and 3600")
    return seconds
