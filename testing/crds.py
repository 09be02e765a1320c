"""Validate objects against the real CRDs in ../shared/crds, as an API server with strict field
validation would: schema defaults applied, unknown fields rejected, CEL rules evaluated (cel-python)
where it can evaluate them."""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any, NamedTuple

import yaml

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
CRD_DIR = SHARED / "crds"


class Report(NamedTuple):
    schema_errors: list[str]
    cel_failures: list[str]
    cel_evaluated: int
    cel_skipped: int


@functools.cache
def schemas() -> dict[tuple[str, str], dict[str, Any]]:
    out = {}
    for path in sorted(CRD_DIR.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            if version.get("served"):
                out[(f"{group}/{version['name']}", kind)] = version["schema"]["openAPIV3Schema"]
    return out


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


def _cel(schema: dict[str, Any], obj: Any, path: str, report: Report, counts: list[int]) -> None:
    import celpy

    for rule in schema.get("x-kubernetes-validations") or []:
        expr = rule["rule"]
        if "oldSelf" in expr:  # transition rules need an old object
            continue
        try:
            env = celpy.Environment()
            result = env.program(env.compile(expr)).evaluate({"self": celpy.json_to_cel(obj)})
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


def validate(obj: dict[str, Any]) -> Report:
    import jsonschema

    key = (obj["apiVersion"], obj["kind"])
    schema = schemas().get(key)
    if schema is None:
        return Report([f"no served CRD version for {key}"], [], 0, 0)
    data = _defaults(schema, copy.deepcopy(obj))
    validator = jsonschema.Draft7Validator(_strict(schema))
    errors = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(data)]
    report = Report(errors, [], 0, 0)
    counts = [0, 0]
    _cel(schema, data, "", report, counts)
    return report._replace(cel_evaluated=counts[0], cel_skipped=counts[1])
