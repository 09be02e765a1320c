"""The only module that talks to Kubernetes (the ``kubernetes`` client, imported on first use).

Errors become one-line reasons with their exit codes: 403 names the verb and resource that is
missing from the RBAC, 409 (someone else changed the object) is re-read and retried, an unreachable
API server is ``UNAVAILABLE`` (69) and an unknown kubeconfig context a configuration error (78).
Secret values are never logged; the client's debug logging stays off.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aigw_secrets import yamlload
from aigw_secrets.errors import AigwError, ConfigError, ExitCode, ToolMissingError

FIELD_MANAGER = "aigw-secrets"


def mapping(value: object) -> dict[Any, Any]:
    """``value`` when it is a mapping, else an empty one: what a manifest read from a file (anyone's
    commit) holds where a mapping belongs may be anything."""
    return value if isinstance(value, dict) else {}


def mappings(value: object) -> list[dict[Any, Any]]:
    """The mappings of the list ``value`` (none when it is not a list)."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def annotations_of(doc: object) -> dict[str, str]:
    """``metadata.annotations`` of a manifest read from a file, as Kubernetes holds them: text. A
    number becomes its decimal text, true/false their YAML spelling, a timestamp its ISO form; a null, a
    list or a mapping (no annotation holds one) is left out; anything but a mapping there is none."""
    meta = doc.get("metadata") if isinstance(doc, dict) else None
    found = meta.get("annotations") if isinstance(meta, dict) else None
    if not isinstance(found, dict):
        return {}
    out: dict[str, str] = {}
    for key, value in found.items():
        if isinstance(value, bool):
            out[str(key)] = "true" if value else "false"
        elif isinstance(value, dt.date):
            out[str(key)] = value.isoformat()
        elif isinstance(value, str | int | float):
            out[str(key)] = str(value)
    return out


class Forbidden(AigwError):
    code = ExitCode.PERMISSION


class Unreachable(AigwError):
    code = ExitCode.UNAVAILABLE


class Cluster:
    def __init__(self, kubeconfig: Path | None = None, context: str | None = None) -> None:
        try:
            from kubernetes import client, config
            from kubernetes.config.config_exception import ConfigException
        except ImportError:
            raise ToolMissingError(
                "the kubernetes Python client is not installed: pip install 'aigw-secrets[cluster]'"
            ) from None
        cfg = client.Configuration()
        in_cluster = kubeconfig is None and context is None and _in_cluster()
        path = None if in_cluster else _check_kubeconfig(kubeconfig, context)
        try:
            if in_cluster:
                config.load_incluster_config(client_configuration=cfg)  # type: ignore[no-untyped-call]  # untyped library
            else:
                config.load_kube_config(config_file=str(path), context=context, client_configuration=cfg)  # type: ignore[no-untyped-call]  # untyped library
        except (ConfigException, OSError, ValueError, TypeError, KeyError):
            raise ConfigError(
                f"kubeconfig {path or '(in-cluster)'}: not a usable kubeconfig (cluster, user or context "
                "entry incomplete)"
            ) from None
        cfg.retries = 1
        self._api = client.ApiClient(cfg)
        self.core = client.CoreV1Api(self._api)
        self.custom = client.CustomObjectsApi(self._api)
        self.server = cfg.host

    def _call(self, verb: str, resource: str, namespace: str, fn: Callable[[], Any]) -> Any:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        try:
            return fn()
        except ApiException as exc:
            if exc.status == 403:
                raise Forbidden(
                    f"forbidden: the ServiceAccount/user may not {verb} {resource} in namespace {namespace} "
                    "(add that verb to its Role)"
                ) from None
            if exc.status == 404:
                return None
            if exc.status == 409:
                raise _Conflict() from None
            raise AigwError(
                f"Kubernetes API: {verb} {resource} in {namespace} failed with HTTP {exc.status}",
                code=ExitCode.UNAVAILABLE,
            ) from None
        except (HTTPError, OSError) as exc:
            raise Unreachable(f"Kubernetes API at {self.server} is unreachable ({type(exc).__name__})") from None

    # --- Secrets ---------------------------------------------------------------------------------

    def read_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        obj = self._call("get", "secrets", namespace, lambda: self.core.read_namespaced_secret(name, namespace))
        if obj is None:
            return None
        out: dict[str, Any] = self._api.sanitize_for_serialization(obj)  # type: ignore[no-untyped-call]  # untyped library
        return out

    def secret_data(self, namespace: str, name: str) -> dict[str, bytes] | None:
        obj = self.read_secret(namespace, name)
        if obj is None:
            return None
        return {k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()}

    def update_secret_data(
        self, namespace: str, name: str, change: Callable[[dict[str, bytes]], dict[str, bytes]]
    ) -> dict[str, bytes]:
        """Read, change the data, write back with the read resourceVersion; on 409 re-read and retry."""
        for _attempt in range(5):
            obj = self.read_secret(namespace, name)
            current = {k: base64.b64decode(v) for k, v in ((obj or {}).get("data") or {}).items()}
            new = change(dict(current))
            body = {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": name, "namespace": namespace},
                "type": (obj or {}).get("type", "Opaque"),
                "data": {k: base64.b64encode(v).decode() for k, v in new.items()},
            }
            try:
                if obj is not None:
                    body["metadata"] = {**(obj.get("metadata") or {}), "name": name, "namespace": namespace}
                self._write_secret(namespace, name, body, create=obj is None)
                return new
            except _Conflict:
                continue
        raise AigwError(
            f"secret {namespace}/{name} kept changing under us (409 five times); try again", code=ExitCode.LOCKED
        )

    def _write_secret(self, namespace: str, name: str, body: Any, *, create: bool) -> None:
        if create:
            self._call("create", "secrets", namespace, lambda: self.core.create_namespaced_secret(namespace, body))
        else:
            self._call(
                "update", "secrets", namespace, lambda: self.core.replace_namespaced_secret(name, namespace, body)
            )

    def apply_secret(self, body: dict[str, Any]) -> None:
        """Server-side apply (field manager aigw-secrets)."""
        ns, name = body["metadata"]["namespace"], body["metadata"]["name"]
        self._call(
            "patch",
            "secrets",
            ns,
            lambda: self.core.patch_namespaced_secret(
                name, ns, body, field_manager=FIELD_MANAGER, force=True, _content_type="application/apply-patch+yaml"
            ),
        )

    # --- External Secrets Operator ------------------------------------------------------

    def external_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self._call(
            "get",
            "externalsecrets.external-secrets.io",
            namespace,
            lambda: self.custom.get_namespaced_custom_object(
                "external-secrets.io", "v1", namespace, "externalsecrets", name
            ),
        )
        return found

    # --- Flux ------------------------------------------------------------------------------------

    def kustomization(self, namespace: str, name: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self._call(
            "get",
            "kustomizations.kustomize.toolkit.fluxcd.io",
            namespace,
            lambda: self.custom.get_namespaced_custom_object(
                "kustomize.toolkit.fluxcd.io", "v1", namespace, "kustomizations", name
            ),
        )
        return found


class _Conflict(Exception):
    pass


def _check_kubeconfig(kubeconfig: Path | None, context: str | None) -> Path:
    """The kubeconfig file, checked in our words before the client library reads it."""
    import os

    import yaml

    env = os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
    path = kubeconfig or (Path(env) if env else Path.home() / ".kube" / "config")
    where = "--kubeconfig" if kubeconfig else ("$KUBECONFIG" if env else "the default")
    try:
        data = yamlload.load(path.read_text("utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"no kubeconfig: {path} ({where}) does not exist; pass --kubeconfig, set KUBECONFIG, or run in a pod"
        ) from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        raise ConfigError(f"kubeconfig {path}: cannot be read as YAML") from None
    if not isinstance(data, dict):
        raise ConfigError(f"kubeconfig {path}: not a kubeconfig (no contexts)")
    names = [c.get("name") for c in data.get("contexts") or [] if isinstance(c, dict)]
    if context is not None and context not in names:
        raise ConfigError(
            f"kubeconfig {path}: no context named {context!r} (it has: {', '.join(map(str, names)) or 'none'})"
        )
    if context is None and not data.get("current-context"):
        raise ConfigError(
            f"kubeconfig {path}: no current-context; pass --context (it has: {', '.join(map(str, names)) or 'none'})"
        )
    return path


def _in_cluster() -> bool:
    import os

    return (
        bool(os.environ.get("KUBERNETES_SERVICE_HOST"))
        and Path("/var/run/secrets/kubernetes.io/serviceaccount/token").exists()
    )


def flux_applied(ks: dict[str, Any] | None, commit: str) -> tuple[bool, str]:
    """Whether a Flux Kustomization is Ready and has applied ``commit`` (its lastAppliedRevision)."""
    if ks is None:
        return False, "Kustomization not found"
    status = ks.get("status") or {}
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
    revision = str(status.get("lastAppliedRevision") or "")
    if not ready:
        return False, f"not Ready (last applied {revision or 'nothing'})"
    if commit not in revision:
        return False, f"Ready, but last applied {revision or 'nothing'}, not {commit[:12]}"
    return True, revision
