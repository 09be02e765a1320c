"""Validate objects against the real CRDs in ../shared/crds, as an API server with strict field
validation would: schema defaults applied, unknown fields rejected, CEL rules evaluated (cel-python)
where it can evaluate them."""

from __future__ import annotations

import copy
import functools
import os
from pathlib import Path
from typing import Any, NamedTuple

import yaml

# ../shared beside the project; AIGW_SECRETS_SHARED points elsewhere (worktrees live deeper than main).
SHARED = Path(os.environ.get("AIGW_SECRETS_SHARED") or Path(__file__).resolve().parents[1].parent / "shared")
CRD_DIR = SHARED / "crds"


class Report(NamedTuple):
    schema_errors: list[str]
    cel_failures: list[str]
    cel_evaluated: int
    cel_skipped: int


@functools.cache
def schemas() -> dict[tuple[str, str], dict[str, Any]]:
    out = {}
    for path in sorted(
        [*CRD_DIR.glob("*.yaml"), *CRD_DIR.glob("external-secrets/*.yaml")]
    ):  # ESO v2.9.0 in its own folder
        crd = yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 - a safe loader (libyaml): the store CRDs are 700 kB each
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            if version.get("served"):
                out[(f"{group}/{version['name']}", kind)] = version["schema"]["openAPIV3Schema"]
    return out


# Agent Router v1.2 additions to the v1beta1 API, from the Go types in theagentrouter/agent-router
# (read with the `search` tools; the v1.1.0 CRDs in ../shared reject them):
# - api/v1beta1/shared_types.go @509c7eb4: VersionedAPISchema.name enum gains `AWSOpenAI`.
# - api/v1beta1/ai_service_backend.go @2738c62f: spec.headerValueFilters, MaxItems=16, listMapKey=name,
#   items {name (required), mode enum Denylist|Allowlist default Denylist, values (MaxItems=64)}, and the
#   spec rule
#   "!has(self.headerValueFilters) || self.schema.name == 'GCPAnthropic' || self.schema.name == 'AWSAnthropic'".
# - release-notes/v1.2.0.md "API Updates": AIGatewayRouteRule.excludeFromModelsEndpoint, optional boolean,
#   default false.
# Exactly these, nothing else: what we emit beyond them still fails like on a v1.1.0 server.
V12_SCHEMA_NAMES = ["AWSOpenAI"]
_HEADER_VALUE_FILTERS = {
    "type": "array",
    "maxItems": 16,
    "x-kubernetes-list-type": "map",
    "x-kubernetes-list-map-keys": ["name"],
    "items": {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 256},
            "mode": {"type": "string", "enum": ["Denylist", "Allowlist"], "default": "Denylist"},
            "values": {"type": "array", "maxItems": 64, "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
        },
    },
}
_HVF_RULE = {
    "rule": "!has(self.headerValueFilters) || self.schema.name == 'GCPAnthropic' || self.schema.name == 'AWSAnthropic'",
    "message": "headerValueFilters is only honored by GCPAnthropic and AWSAnthropic backends",
}


def _patch_v12(kind: str, schema: dict[str, Any]) -> dict[str, Any]:
    schema = copy.deepcopy(schema)
    spec = schema["properties"]["spec"]
    if kind == "AIServiceBackend":
        spec["properties"]["schema"]["properties"]["name"]["enum"] += V12_SCHEMA_NAMES
        spec["properties"]["headerValueFilters"] = copy.deepcopy(_HEADER_VALUE_FILTERS)
        spec.setdefault("x-kubernetes-validations", []).append(dict(_HVF_RULE))
    elif kind == "AIGatewayRoute":
        rule = spec["properties"]["rules"]["items"]
        rule["properties"]["excludeFromModelsEndpoint"] = {"type": "boolean", "default": False}
    return schema


@functools.cache
def schemas_v12() -> dict[tuple[str, str], dict[str, Any]]:
    """The served schemas with the v1.2 additions above patched into the v1beta1 AI Gateway kinds."""
    return {
        key: _patch_v12(key[1], schema) if key[0] == "aigateway.envoyproxy.io/v1beta1" else schema
        for key, schema in schemas().items()
    }


def _strict(schema: Any) -> Any:
    """Reject unknown fields: additionalProperties false wherever the schema lists properties."""
    if isinstance(schema, dict):
        schema = {k: _strict(v) for k, v in schema.items()}
        if (
            "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            schema["additionalProperties"] = False
        if schema.get("x-kubernetes-int-or-string"):
            schema.pop("type", None)
            schema["anyOf"] = [{"type": "integer"}, {"type": "string"}]
        return schema
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


def _defaults(schema: dict[str, Any], obj: Any) -> Any:
    if isinstance(obj, dict):
        for key, sub in (schema.get("properties") or {}).items():
            if key not in obj and "default" in sub:
                obj[key] = copy.deepcopy(sub["default"])
            if key in obj:
                obj[key] = _defaults(sub, obj[key])
    elif isinstance(obj, list) and isinstance(schema.get("items"), dict):
        return [_defaults(schema["items"], v) for v in obj]
    return obj


@functools.cache
def _program(expr: str) -> Any:
    """The compiled CEL rule (compiling is the slow part, and the CRDs have a few dozen rules), or
    None when cel-python cannot compile it."""
    import celpy

    try:
        env = celpy.Environment()
        return env.program(env.compile(expr))
    except Exception:  # noqa: BLE001 - cel-python lacks some Kubernetes CEL functions
        return None


def _cel(schema: dict[str, Any], obj: Any, path: str, report: Report, counts: list[int]) -> None:
    import celpy

    for rule in schema.get("x-kubernetes-validations") or []:
        expr = rule["rule"]
        if "oldSelf" in expr:  # transition rules need an old object
            continue
        program = _program(expr)
        try:
            if program is None:
                raise ValueError(expr)
            result = program.evaluate({"self": celpy.json_to_cel(obj)})  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001 - cel-python lacks some Kubernetes CEL functions
            counts[1] += 1
            continue
        if isinstance(result, Exception):
            counts[1] += 1
            continue
        counts[0] += 1
        if not bool(result):
            report.cel_failures.append(f"{path}: {rule.get('message', expr)}")
    if isinstance(obj, dict):
        for key, sub in (schema.get("properties") or {}).items():
            if key in obj:
                _cel(sub, obj[key], f"{path}.{key}", report, counts)
    elif isinstance(obj, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(obj):
            _cel(schema["items"], item, f"{path}[{i}]", report, counts)


@functools.cache
def _validator(version: str, key: tuple[str, str]) -> Any:
    import jsonschema

    return jsonschema.Draft7Validator(_strict((schemas_v12() if version == "v1.2" else schemas())[key]))


def validate(obj: dict[str, Any], version: str = "v1.1") -> Report:
    """``version="v1.2"`` validates against the v1.1.0 CRDs plus exactly the v1.2 additions (``_patch_v12``)."""
    key = (obj["apiVersion"], obj["kind"])
    schema = (schemas_v12() if version == "v1.2" else schemas()).get(key)
    if schema is None:
        return Report([f"no served CRD version for {key}"], [], 0, 0)
    data = _defaults(schema, copy.deepcopy(obj))
    validator = _validator(version, key)
    errors = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(data)]
    report = Report(errors, [], 0, 0)
    counts = [0, 0]
    _cel(schema, data, "", report, counts)
    return report._replace(cel_evaluated=counts[0], cel_skipped=counts[1])
