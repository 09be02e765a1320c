"""Reading the repository's ``cluster.yaml`` / ``cluster.toml`` (cluster-template's flat keys).

Only ``ai_gateway_*`` keys are ours; everything else in the file belongs to other templates and is
ignored. An unknown ``ai_gateway_*`` key is an error with a did-you-mean, so a typo never silently
disables a provider. Every error names the file, the line and the key.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
import tomllib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import yaml

from aigw_secrets import yamlload
from aigw_secrets.errors import ConfigError
from aigw_secrets.gateway.providers import (
    GLOBAL_SETTINGS,
    PROVIDERS,
    AuthMode,
    Provider,
    Setting,
    all_keys,
    setting_specs,
)
from aigw_secrets.sops.config import read_text
from aigw_secrets.stores import KINDS as STORE_KINDS
from aigw_secrets.stores import StoreSettings

CONFIG_NAMES = ("cluster.yaml", "cluster.toml")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_HOSTNAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\.?$")


class ProviderConfig(NamedTuple):
    provider: Provider
    settings: dict[str, Any]  # every setting, defaults filled in
    auth: AuthMode
    name: str
    host: str
    port: int
    tls: bool
    prefix: str | None
    models: dict[str, list[str]]  # BackendSpec.suffix -> models (only backends with models)
    backend: str = "sops"  # sops | external-secrets

    @property
    def key(self) -> str:
        return self.provider.key


class Config(NamedTuple):
    path: Path
    root: Path
    namespace: str
    gateway_name: str
    gateway_namespace: str
    route_name: str
    output_dir: Path
    providers: list[ProviderConfig]
    raw: dict[str, Any]
    data_key_days: int = 30
    grace_hours: int = 2
    # --- Agent Router v1.2
    version: str = "v1.2"  # ai_gateway_version
    secret_namespace: str = ""  # namespace of the policies' Secrets; "" = namespace
    mcp_seed: MCPSeed | None = None  # ai_gateway_mcp_session_seed
    mcp_backends: tuple[ProviderConfig, ...] = ()  # ai_gateway_mcp_backends, one pseudo-provider each
    mcp_route_name: str = "mcp"
    # --- External Secrets Operator backend
    external_secrets: StoreSettings | None = None  # ai_gateway_external_secrets_*, when any provider uses it


VERSIONS = ("v1.1", "v1.2")
# Policy types whose secretRef.namespace v1.1 ignored (it read the policy's own namespace): AIGW-API.md §2.6/§7.
V11_LOCAL_SECRET_TYPES = frozenset({"APIKey", "AzureAPIKey", "AnthropicAPIKey", "AWSCredentials"})
# .Chart.Name of manifests/charts/ai-gateway-helm: its template helpers are named after it; Chart.yaml itself
# was not readable here (the chart's default fullnameOverride, ai-gateway-controller, makes it moot).
HELM_CHART = "ai-gateway-helm"


class MCPSeed(NamedTuple):
    """Where the controller chart expects its MCP session-encryption seed Secret."""

    secret_name: str
    namespace: str


def controller_fullname(release: str, override: str) -> str:
    """The chart's ``ai-gateway-helm.controller.fullname`` (templates/_helpers.tpl, agent-router):
    fullnameOverride, else the release name when it contains the chart name, else <release>-<chart>;
    truncated to 63 characters without a trailing dash."""
    if override:
        return override[:63].rstrip("-")
    name = release if HELM_CHART in release else f"{release}-{HELM_CHART}"
    return name[:63].rstrip("-")


def find_config(root: Path) -> Path:
    found = [root / n for n in CONFIG_NAMES if (root / n).is_file()]
    if not found:
        raise ConfigError(
            f"{root}: no cluster.yaml or cluster.toml here; run in the repository root, or pass --repo / --config"
        )
    if len(found) > 1:
        raise ConfigError(f"{root}: both cluster.yaml and cluster.toml exist; pass --config to choose one")
    return found[0]


def output_dir_setting(root: Path) -> str | None:
    """``ai_gateway_output_dir`` if a config file sets it; None when there is none or it is malformed
    (``generate`` reports a malformed config; ``init`` does not need it)."""
    for name in CONFIG_NAMES:
        if (root / name).is_file():
            try:
                value = read_flat(root / name)[0].get("ai_gateway_output_dir")
            except ConfigError:
                return None
            return str(value) if value else None
    return None


def _where(path: Path, line: int | None) -> str:
    return f"{path}:{line}" if line else str(path)


MAX_DEPTH = 64  # cluster.yaml is flat; this is generous
MAX_NODES = 100_000  # after alias expansion: a "billion laughs" file stops here at once


def _refuse_tabled(path: Path, raw: dict[str, Any], lines: dict[str, int]) -> None:
    """An ``ai_gateway_*`` key inside a TOML table: appended to cluster-template's cluster.toml it
    lands in the last ``[table]`` above it and would be silently ignored."""

    def find(node: Any, trail: tuple[str, ...]) -> tuple[str, str] | None:
        items = node.items() if isinstance(node, dict) else ((None, v) for v in node) if isinstance(node, list) else ()
        for k, v in items:
            if trail and isinstance(k, str) and k.startswith("ai_gateway_"):
                return k, ".".join(trail)
            if isinstance(v, dict | list):
                found = find(v, (*trail, str(k)) if k is not None else trail)
                if found:
                    return found
        return None

    hit = find(raw, ())
    if hit:
        key, table = hit
        raise ConfigError(
            f"{_where(path, lines.get(key))}: {key} is inside the [{table}] table (TOML puts every key after "
            "a [table] header into that table); "
            "move the ai_gateway_* keys above the first [table] line"
        )


MAX_BYTES = 1024 * 1024


def read_flat(path: Path) -> tuple[dict[str, Any], dict[str, int]]:
    """The top-level mapping of the file and the line of each key.

    Bounded work on any input: nesting deeper than ``MAX_DEPTH`` or more than ``MAX_NODES`` nodes
    once aliases are expanded is refused in one line before anything is built, and a key given twice
    is refused (sops refuses it too; silently keeping the last one hides a mistake).
    """
    text = read_text(path)
    if len(text) > MAX_BYTES:  # a real one is a few kB: a commit's 50 MB line would be read at every step
        raise ConfigError(
            f"{path}: {len(text):,} characters, more than a settings file holds ({MAX_BYTES:,}); not read"
        )
    if path.suffix == ".toml":
        try:
            data: Any = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: invalid TOML: {exc}") from None
        except RecursionError:
            raise ConfigError(f"{path}: nested too deeply") from None
        lines: dict[str, int] = {}
        for number, line in enumerate(text.splitlines(), 1):
            m = re.match(r"\s*([A-Za-z0-9_\-]+)\s*=", line)
            if m and m.group(1) not in lines:
                lines[m.group(1)] = number
        return data, lines
    try:
        _check_shape(path, text)
        fast = yamlload.safe_loader()  # libyaml's parser where the wheel has it
        node = yaml.compose(text, Loader=fast)
        if node is not None:
            _check_size(path, node)
        data = yaml.load(text, Loader=fast)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{_where(path, mark.line + 1 if mark else None)}: invalid YAML: {problem}") from None
    if data is None:
        return {}, {}
    if not isinstance(data, dict) or not isinstance(node, yaml.MappingNode):
        raise ConfigError(f"{path}: the top level must be a mapping of keys to values")
    lines = {}
    for k, _ in node.value:
        if isinstance(k, yaml.ScalarNode):
            if k.value in lines:
                raise ConfigError(
                    f"{path}:{k.start_mark.line + 1}: duplicate key {k.value} (first at line {lines[k.value]})"
                )
            lines[k.value] = k.start_mark.line + 1
    return data, lines


def _check_shape(path: Path, text: str) -> None:
    """Depth limit from the event stream (the parser is iterative; the composer is not): libyaml's
    parser where the wheel has it; for a file it refuses, PyYAML's own, so the error is the one the
    pure-Python reader gives (the depth limit, when the file is nested too deeply before its error)."""
    fast = getattr(yaml, "CSafeLoader", None)
    if fast is not None:
        try:
            _check_depth(path, yaml.parse(text, Loader=fast))
            return
        except yaml.YAMLError:
            pass
    _check_depth(path, yaml.parse(text, Loader=yaml.SafeLoader))


def _check_depth(path: Path, events: Iterable[yaml.Event]) -> None:
    depth = 0
    for event in events:
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                line = event.start_mark.line + 1 if event.start_mark else None
                raise ConfigError(
                    f"{_where(path, line)}: nested more than {MAX_DEPTH} levels deep; refusing to read it"
                )
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _check_size(path: Path, root: yaml.Node) -> None:
    """Count nodes as if every alias were expanded, in time linear in the file (memoized per node)."""
    sizes: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        kids: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            kids = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            kids = [n for pair in node.value for n in pair]
        if not children_done and any(id(k) not in sizes for k in kids):
            stack.append((node, True))
            stack.extend((k, False) for k in kids if id(k) not in sizes)
            continue
        total = 1 + sum(sizes.get(id(k), 1) for k in kids)
        if total > MAX_NODES:
            raise ConfigError(
                f"{_where(path, node.start_mark.line + 1)}: more than {MAX_NODES} values once aliases are "
                "expanded; refusing to read it"
            )
        sizes[id(node)] = total


def _as_bool(value: Any, spec: Setting, at: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no"):
        return value.lower() in ("true", "yes")
    raise ConfigError(f"{at}: expected true or false, got {value!r}")


def _as_int(value: Any, spec: Setting, at: str) -> int:
    if isinstance(value, str) and value.strip().lstrip("-").isdigit() and len(value) < 20:
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ConfigError(f"{at}: expected a whole number, got {value!r}")
    low, high = spec.bounds or (-(2**31), 2**31)
    if not low <= value <= high:
        raise ConfigError(f"{at}: {value} is out of range (expected {low} to {high})")
    return value


def _as_list(value: Any, spec: Setting, at: str) -> list[str]:
    if isinstance(value, str):
        items = [v.strip() for v in value.split(",")]
    elif isinstance(value, list):
        items = [str(v).strip() if isinstance(v, str | int | float) else "" for v in value]
    else:
        raise ConfigError(f"{at}: expected a list or a comma-separated string")
    if any(not item for item in items):
        raise ConfigError(f"{at}: every entry must be a non-empty string")
    return items


def _as_str(value: Any, spec: Setting, at: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ConfigError(f"{at}: expected a string, got {value!r}")
    return str(value)


# A setting's kind -> how a value read from cluster.yaml/.toml becomes one (anything else: a string).
_COERCE: dict[str, Callable[[Any, Setting, str], Any]] = {
    "bool": _as_bool,
    "int": _as_int,
    "list": _as_list,
    "str": _as_str,
}


def _coerce(value: Any, spec: Setting, where: str, key: str) -> Any:
    if value is None:
        return spec.default
    return _COERCE.get(spec.kind, _COERCE["str"])(value, spec, f"{where}: {key}")


def load(root: Path, config_path: Path | None = None) -> Config:
    """Read, validate and resolve the configuration of the repository at ``root``."""
    path = config_path or find_config(root)
    raw, lines = read_flat(path)
    _refuse_tabled(path, raw, lines)
    valid = all_keys()

    def where(key: str) -> str:
        return _where(path, lines.get(key))

    _refuse_unknown(raw, valid, where)
    values = {k: _coerce(raw.get(k), spec, where(k), k) for k, spec in GLOBAL_SETTINGS.items()}
    namespace = values["ai_gateway_namespace"]
    for key in ("ai_gateway_namespace", "ai_gateway_gateway_namespace", "ai_gateway_route_name"):
        if values[key] is not None:
            _kubernetes_name(values[key], key, where)
    resolved = (_provider_config(p, raw, where) for p in PROVIDERS.values())
    providers = [pc for pc in resolved if pc is not None]
    version = _version(values, providers, where)
    secret_ns = _secret_namespace(values, providers, where)
    seed = _mcp_seed(values, where)
    mcp = tuple(_mcp_backend(entry, where("ai_gateway_mcp_backends")) for entry in values["ai_gateway_mcp_backends"])
    _check_unique([*providers, *mcp], where)
    default_backend = _backend(values["ai_gateway_secret_backend"], "ai_gateway_secret_backend", where)
    providers = [
        pc._replace(
            backend=_backend(
                pc.settings.get("secret_backend") or default_backend, f"ai_gateway_{pc.key}_secret_backend", where
            )
        )
        for pc in providers
    ]
    mcp = tuple(pc._replace(backend=default_backend) for pc in mcp)
    store = None
    if any(pc.backend == EXTERNAL_SECRETS and pc.auth.secret_key for pc in (*providers, *mcp)):
        store = _store_settings(values, where)
    output_dir = Path(values["ai_gateway_output_dir"])
    if output_dir.is_absolute() or ".." in output_dir.parts or "\0" in str(output_dir):
        raise ConfigError(
            f"{where('ai_gateway_output_dir')}: ai_gateway_output_dir must be a path inside the repository"
        )
    return Config(
        path=path,
        root=root,
        namespace=namespace,
        gateway_name=values["ai_gateway_gateway_name"],
        gateway_namespace=values["ai_gateway_gateway_namespace"] or namespace,
        route_name=values["ai_gateway_route_name"],
        output_dir=root / output_dir,
        providers=providers,
        raw=raw,
        data_key_days=values["ai_gateway_data_key_rotation_days"],
        grace_hours=values["ai_gateway_rotation_grace_hours"],
        version=version,
        secret_namespace=secret_ns,
        mcp_seed=seed,
        mcp_backends=mcp,
        mcp_route_name=values["ai_gateway_mcp_route_name"],
        external_secrets=store,
    )


def _refuse_unknown(raw: dict[str, Any], valid: Iterable[str], where: Callable[[str], str]) -> None:
    """An ``ai_gateway_*`` key no setting has: a typo, named with the closest key."""
    for key in raw:
        if isinstance(key, str) and key.startswith("ai_gateway_") and key not in valid:
            close = difflib.get_close_matches(key, list(valid), n=1, cutoff=0.75)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise ConfigError(f"{where(key)}: unknown key {key}{hint}")


def _kubernetes_name(value: Any, key: str, where: Callable[[str], str]) -> None:
    if not isinstance(value, str) or not _DNS_LABEL.fullmatch(value):
        raise ConfigError(f"{where(key)}: {key}: {value!r} is not a valid Kubernetes name")


def _version(values: dict[str, Any], providers: list[ProviderConfig], where: Callable[[str], str]) -> str:
    """``ai_gateway_version``, which every enabled provider must be new enough for."""
    version = str(values["ai_gateway_version"])
    if version not in VERSIONS:
        raise ConfigError(
            f"{where('ai_gateway_version')}: ai_gateway_version: {version!r} is not one of {', '.join(VERSIONS)}"
        )
    for pc in providers:
        if VERSIONS.index(version) < VERSIONS.index(pc.provider.min_version):
            key = f"ai_gateway_{pc.key}_enabled"
            raise ConfigError(
                f"{where(key)}: {key}: {pc.provider.title} needs ai_gateway_version {pc.provider.min_version} or later"
            )
    return version


def _secret_namespace(values: dict[str, Any], providers: list[ProviderConfig], where: Callable[[str], str]) -> str:
    """``ai_gateway_secret_namespace`` ("" when it is the policies' own); v1.1 ignores it for the
    API-key types, so it is refused there rather than silently not honoured."""
    secret_ns = str(values["ai_gateway_secret_namespace"] or "")
    if secret_ns:
        _kubernetes_name(secret_ns, "ai_gateway_secret_namespace", where)
    if secret_ns == values["ai_gateway_namespace"]:
        return ""
    if secret_ns and values["ai_gateway_version"] == "v1.1":
        ignored = sorted(
            {pc.auth.bsp_type for pc in providers if pc.auth.secret_key and pc.auth.bsp_type in V11_LOCAL_SECRET_TYPES}
        )
        if ignored:
            raise ConfigError(
                f"{where('ai_gateway_secret_namespace')}: ai_gateway_secret_namespace: v1.1 reads "
                f"{', '.join(t for t in ignored if t)} "
                "Secrets from the policy's namespace; set ai_gateway_version: v1.2 or drop the key"
            )
    return secret_ns


def _mcp_seed(values: dict[str, Any], where: Callable[[str], str]) -> MCPSeed | None:
    """The controller's MCP session seed Secret, named as the chart names it, when the seed is on."""
    if not values["ai_gateway_mcp_session_seed"]:
        return None
    release_ns = values["ai_gateway_mcp_release_namespace"]
    _kubernetes_name(release_ns, "ai_gateway_mcp_release_namespace", where)
    fullname = controller_fullname(
        values["ai_gateway_mcp_release_name"], values["ai_gateway_mcp_fullname_override"] or ""
    )
    return MCPSeed(f"{fullname}-mcp-session-encryption"[:63].rstrip("-"), release_ns)


EXTERNAL_SECRETS = "external-secrets"
BACKENDS = ("sops", EXTERNAL_SECRETS)
_DURATION = re.compile(r"^(?:[0-9]+(?:\.[0-9]+)?(?:ns|us|µs|ms|s|m|h))+$")


def _backend(value: str, key: str, where: Callable[[str], str]) -> str:
    if value not in BACKENDS:
        raise ConfigError(f"{where(key)}: {key}: {value!r} is not one of {', '.join(BACKENDS)}")
    return value


def _store_settings(values: dict[str, Any], where: Callable[[str], str]) -> StoreSettings:
    """``ai_gateway_external_secrets_*``: where the values go and what the ExternalSecrets name."""
    k = "ai_gateway_external_secrets_"
    provider = values[k + "provider"]
    if provider not in STORE_KINDS:
        raise ConfigError(f"{where(k + 'provider')}: {k}provider: {provider!r} is not one of {', '.join(STORE_KINDS)}")
    name = values[k + "store"]
    if not name or not _HOSTNAME.fullmatch(name) or len(name) > 253:
        raise ConfigError(
            f"{where(k + 'store')}: {k}store: the ClusterSecretStore/SecretStore the ExternalSecrets use must "
            f"be set to a Kubernetes name (got {name!r})"
        )
    kind = values[k + "store_kind"]
    if kind not in ("ClusterSecretStore", "SecretStore"):
        raise ConfigError(
            f"{where(k + 'store_kind')}: {k}store_kind: {kind!r} is not ClusterSecretStore or SecretStore"
        )
    interval = str(values[k + "refresh_interval"]).strip()
    if not _DURATION.fullmatch(interval) or not re.search(r"[1-9]", interval):
        raise ConfigError(
            f"{where(k + 'refresh_interval')}: {k}refresh_interval: {interval!r} must be a non-zero Go "
            "duration such as 1h or 15m (0 syncs once: a rotation would never reach the cluster)"
        )
    prefix = str(values[k + "prefix"] or "")
    if not re.fullmatch(r"[A-Za-z0-9/_+=.@-]*", prefix) or ".." in prefix or prefix.startswith("/"):
        raise ConfigError(
            f"{where(k + 'prefix')}: {k}prefix: {prefix!r} may hold letters, digits and / _ + = . @ - only, "
            "and not start with /"
        )
    if provider == "onepassword" and not values[k + "onepassword_vault"]:
        raise ConfigError(
            f"{where(k + 'provider')}: {k}onepassword_vault must name the 1Password vault (its id) for "
            "provider onepassword"
        )
    return StoreSettings(
        provider,
        name,
        kind,
        prefix,
        interval,
        values[k + "aws_region"] or "",
        values[k + "vault_mount"] or "secret",
        values[k + "onepassword_vault"] or "",
    )


def _mcp_backend(entry: str, where: str) -> ProviderConfig:
    """``NAME=https://host[:port]/path`` → a pseudo-provider: its Secret (key ``apiKey``, which
    MCPBackendAPIKey.secretRef reads) goes through the same sources, shape checks and encryption."""
    key = "ai_gateway_mcp_backends"
    name, sep, url = entry.partition("=")
    name = name.strip()
    if not sep or not _DNS_LABEL.fullmatch(name) or len(name) > 40:
        raise ConfigError(f"{where}: {key}: {entry!r} must be NAME=URL with NAME a lowercase DNS label")
    host, port, tls, _ = _parse_url(url.strip(), where, key)
    path = urlsplit(url.strip()).path.rstrip("/") or "/mcp"
    env = "MCP_" + name.upper().replace("-", "_") + "_API_KEY"
    auth = AuthMode("api-key", None, "apiKey", "api-key", (env,), "apikey", help="MCP server API key")
    provider = Provider(
        f"mcp_{name.replace('-', '_')}", f"mcp-{name}", f"MCP server {name}", (), (auth,), "api-key", host
    )
    settings: dict[str, Any] = {"rotation_period_days": 90, "credential_source": None, "url": url.strip(), "path": path}
    return ProviderConfig(provider, settings, auth, f"mcp-{name}", host.lower(), port, tls, path, {})


def _provider_config(p: Provider, raw: dict[str, Any], where: Callable[[str], str]) -> ProviderConfig | None:
    specs = setting_specs(p)

    def key(name: str) -> str:
        return f"ai_gateway_{p.key}_{name}"

    s = {name: _coerce(raw.get(key(name)), spec, where(key(name)), key(name)) for name, spec in specs.items()}
    if not s["enabled"]:
        return None
    # GCP Anthropic usually lives in the same project as Vertex: fall back to it.
    if p.key == "gcp_anthropic" and not s.get("project") and raw.get("ai_gateway_vertex_project"):
        s["project"] = str(raw["ai_gateway_vertex_project"])
    modes = [m.name for m in p.auth_modes]
    s["auth"] = s["auth"] or p.default_auth
    if s["auth"] not in modes:
        raise ConfigError(f"{where(key('auth'))}: {key('auth')}: {s['auth']!r} is not one of {', '.join(modes)}")
    auth = p.auth(s["auth"])
    _require(p, auth, s, raw, key, where)
    name = s["name"] or p.name
    if not _DNS_LABEL.fullmatch(name) or len(name) > 40:
        raise ConfigError(
            f"{where(key('name'))}: {key('name')}: {name!r} must be a lowercase DNS label of at most 40 characters"
        )
    _check_server_secret(s.get("server_secret"), key("server_secret"), where)
    host, port, tls, prefix = _endpoint(p, s, key, where)
    return ProviderConfig(p, s, auth, name, host, port, tls, prefix, _models(p, s, key, where))


def _require(
    p: Provider,
    auth: AuthMode,
    s: dict[str, Any],
    raw: dict[str, Any],
    key: Callable[[str], str],
    where: Callable[[str], str],
) -> None:
    """Every setting the provider and its auth mode need (a resource may be given as a host)."""
    for name in (*p.required, *auth.required):
        if name == "models" and raw.get(key("models")) is None:
            raise ConfigError(f"{where(key('enabled'))}: {p.title} is enabled but {key('models')} is not set")
        if name != "models" and not s.get(name) and not (name == "resource" and raw.get(key("host"))):
            why = f" (needed for auth {auth.name})" if name in auth.required else ""
            raise ConfigError(f"{where(key('enabled'))}: {p.title} is enabled but {key(name)} is not set{why}")


def _check_server_secret(target: Any, key: str, where: Callable[[str], str]) -> None:
    """``server_secret``: NAMESPACE/NAME, a Kubernetes name, never a path."""
    if not target:
        return
    ns, sep, secret = str(target).partition("/")
    if (
        not sep
        or not _DNS_LABEL.fullmatch(ns)
        or len(ns) > 63
        or not _DNS_SUBDOMAIN.fullmatch(secret)
        or len(secret) > 253
    ):
        raise ConfigError(
            f"{where(key)}: {key}: must be NAMESPACE/NAME, both valid Kubernetes names (the value given is not shown)"
        )


def _endpoint(
    p: Provider, s: dict[str, Any], key: Callable[[str], str], where: Callable[[str], str]
) -> tuple[str, int, bool, str | None]:
    """(host, port, tls, path prefix): vLLM's from its URL; others' host from the setting or the
    provider's host template."""
    host, port, tls, prefix = s["host"], s["port"], s["tls"], s["prefix"] or p.prefix
    if p.key == "vllm":
        host, port, tls, url_prefix = _parse_url(s["url"], where(key("url")), key("url"))
        prefix = s["prefix"] or url_prefix
    elif not host:
        host = (p.host or "").format(**{k: v for k, v in s.items() if isinstance(v, str)})
    host = host.lower()
    if not (is_ip(host) or _HOSTNAME.fullmatch(host)) or len(host) > 253:
        raise ConfigError(f"{where(key('host'))}: {key('host')}: {host!r} is not a valid host name or IP address")
    if not 0 < port < 65536:
        raise ConfigError(f"{where(key('port'))}: {key('port')}: {port} is not a valid port")
    return host, port, tls, prefix


def _models(
    p: Provider, s: dict[str, Any], key: Callable[[str], str], where: Callable[[str], str]
) -> dict[str, list[str]]:
    """Backend suffix -> its models (the provider's defaults for the main list when none is set)."""
    models: dict[str, list[str]] = {}
    for backend in p.backends:
        default = list(p.default_models) if backend.models_setting == "models" else []
        chosen = s.get(backend.models_setting)
        listed = chosen if chosen is not None else default
        if listed:
            models[backend.suffix] = listed
    if not models:
        raise ConfigError(f"{where(key('models'))}: {key('models')}: {p.title} needs at least one model")
    return models


def local_host(host: str) -> bool:
    """Loopback, a private or link-local address, or an in-cluster name (``svc``, ``cluster.local``,
    a single label): where a plain-http URL does not cross the internet."""
    host = host.lower().rstrip(".")
    if is_ip(host):
        ip = ipaddress.ip_address(host)
        return ip.is_loopback or ip.is_private or ip.is_link_local
    return (
        host == "localhost"
        or "." not in host
        or host.endswith((".svc", ".cluster.local", ".localhost", ".internal", ".local"))
    )


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _parse_url(url: str, where: str, key: str) -> tuple[str, int, bool, str | None]:
    try:
        parts = urlsplit(url)
    except ValueError:  # an unclosed [IPv6 literal, for one
        raise ConfigError(f"{where}: {key}: {url!r} is not a URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{where}: {key}: {url!r} must be an http:// or https:// URL with a host")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ConfigError(f"{where}: {key}: the URL must not carry credentials, a query or a fragment")
    tls = parts.scheme == "https"
    try:
        port = parts.port or (443 if tls else 80)
    except ValueError:
        raise ConfigError(f"{where}: {key}: {url!r} has an invalid port") from None
    path = parts.path.rstrip("/")
    prefix = path if path not in ("", "/v1") else None
    return parts.hostname, port, tls, prefix


# The stems of the files generate writes for the whole gateway: a provider named like one would share its
# file (``mcp-session-encryption`` would make a credential's Secret the MCP session seed's file).
_RESERVED = {"routes", "kustomization", "mcp", "mcp-session-encryption"}


def _check_unique(providers: list[ProviderConfig], where: Callable[[str], str]) -> None:
    names: dict[str, str] = {}
    for pc in providers:
        if pc.name in _RESERVED:
            key = f"ai_gateway_{pc.key}_name"
            raise ConfigError(
                f"{where(key)}: {key}: {pc.name!r} names a file aigw-secrets writes for the whole gateway "
                f"({', '.join(sorted(_RESERVED))} are taken); pick another name"
            )
    models: dict[str, str] = {}
    for pc in providers:
        key = f"ai_gateway_{pc.key}_name"
        if pc.name in names:
            raise ConfigError(f"{where(key)}: {key}: name {pc.name!r} is already used by {names[pc.name]}")
        names[pc.name] = pc.provider.title
        for suffix, listed in pc.models.items():
            setting = next(b.models_setting for b in pc.provider.backends if b.suffix == suffix)
            mkey = f"ai_gateway_{pc.key}_{setting}"
            for model in listed:
                if model in models:
                    raise ConfigError(
                        f"{where(mkey)}: {mkey}: model {model!r} is also routed by {models[model]}; "
                        "each x-ai-eg-model value can go to one provider"
                    )
                models[model] = mkey
