"""The Secret that holds a provider's credential: its name, file and namespace, the document with its
rotation annotations and content hash, and the edits that turn one such Secret into another."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aigw_secrets import kube
from aigw_secrets.errors import ConfigError
from aigw_secrets.flux import FLUX_SUBSTITUTE, flux_substitution_hazard
from aigw_secrets.gateway.config import Config, ProviderConfig
from aigw_secrets.gateway.contenthash import carry_replaced, content_hash
from aigw_secrets.gateway.marks import ANNOTATION, HASH_ANNOTATION, REPLACED_ANNOTATION, metadata


def secret_name(pc: ProviderConfig) -> str:
    return f"{pc.name}-{pc.auth.secret_suffix}"


def secret_file(pc: ProviderConfig) -> str:
    """The file holding ``pc``'s credential: its ExternalSecret with the external-secrets backend."""
    if pc.backend == "external-secrets":
        return f"{pc.name}.externalsecret.yaml"
    return sops_secret_file(pc)


def sops_secret_file(pc: ProviderConfig) -> str:
    # `<name>.secret.sops.yaml` matches both cluster-template's `.*\.sops\.ya?ml` and the common
    # `.+\.secret(\.sops)?\.ya?ml` creation rules.
    return f"{pc.name}.secret.sops.yaml"


def secret_namespace(pc: ProviderConfig, cfg: Config) -> str:
    """Where ``pc``'s Secret lives: ``ai_gateway_secret_namespace`` for policy Secrets, else the policies'."""
    return (cfg.secret_namespace or cfg.namespace) if pc.auth.bsp_type else cfg.namespace


def rotation_annotations(
    generation: int,
    period_days: int,
    *,
    rotated_at: str,
    previous_ref: str | None = None,
    revoke_after: str | None = None,
) -> dict[str, str]:
    """The rotation state a Secret carries (plaintext, covered by the sops MAC); the one place it is built."""
    out = {
        f"{ANNOTATION}/generation": str(generation),
        f"{ANNOTATION}/rotated-at": rotated_at,
        f"{ANNOTATION}/rotation-period-days": str(period_days),
    }
    if previous_ref is not None:
        out[f"{ANNOTATION}/previous-credential-ref"] = previous_ref
    if revoke_after is not None:
        out[f"{ANNOTATION}/previous-revoke-after"] = revoke_after
    return out


def secret(
    pc: ProviderConfig,
    cfg: Config,
    value: str,
    *,
    salt: bytes | None = None,
    rotation: Mapping[str, str] | None = None,
    fingerprint: bool = True,
) -> dict[str, Any]:
    """The Secret; ``fingerprint=False`` leaves out the (deliberately slow) content hash, for
    comparisons that ignore it anyway."""
    key = pc.auth.secret_key
    if key is None:  # pragma: no cover - callers only build Secrets for modes that have one
        raise ValueError(f"auth {pc.auth.name} has no Secret")
    data = {key: value}
    return secret_doc(
        secret_name(pc),
        secret_namespace(pc, cfg),
        pc.key,
        data,
        {f"{ANNOTATION}/auth": pc.auth.name, **(rotation or {})},
        salt,
        fingerprint,
    )


def secret_doc(
    name: str,
    namespace: str,
    provider: str | None,
    data: dict[str, str],
    annotations: dict[str, str],
    salt: bytes | None,
    fingerprint: bool,
) -> dict[str, Any]:
    if any(flux_substitution_hazard(v) for v in data.values()):
        # Keeps the decrypted value exactly as given, whether or not the Flux Kustomization
        # substitutes: escaping as $${...} would be wrong wherever no substitution runs.
        annotations[FLUX_SUBSTITUTE] = "disabled"
    if fingerprint:
        annotations[HASH_ANNOTATION] = content_hash(data, salt)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata(name, namespace, provider, annotations),
        "type": "Opaque",
        "stringData": data,
    }


def generation(annotations: Mapping[str, Any], rel: str) -> int:
    """The generation a Secret's annotations record (1 when none does); a value that is not a whole
    number is a config error naming the file."""
    text = str(annotations.get(f"{ANNOTATION}/generation", "1")).strip()
    if not text.isdigit() or len(text) > 9:
        raise ConfigError(f"{rel}: annotation {ANNOTATION}/generation is not a whole number")
    return int(text)


def secret_changes(current: Any, new: Mapping[str, Any]) -> dict[tuple[str, ...], str | None] | None:
    """The edits (``sops/files.edit_text``) that turn the Secret ``current`` into ``new`` when only its
    values and annotations differ; None when anything else does (the Secret is written anew).
    Annotations of ours that ``new`` no longer has are removed; anyone else's are kept."""
    if not isinstance(current, dict) or not isinstance(current.get("stringData"), dict) or "data" in current:
        return None
    cur_meta, new_meta = dict(kube.mapping(current.get("metadata"))), dict(new.get("metadata") or {})
    cur_ann, new_ann = cur_meta.pop("annotations", None) or {}, new_meta.pop("annotations", None) or {}
    cur_data, new_data = current["stringData"], new.get("stringData") or {}
    same = all(current.get(k) == new.get(k) for k in ("apiVersion", "kind", "type")) and cur_meta == new_meta
    if not same or list(cur_data) != list(new_data) or not isinstance(cur_ann, dict):
        return None
    edits: dict[tuple[str, ...], str | None] = {("stringData", k): v for k, v in new_data.items() if cur_data[k] != v}
    edits.update({("metadata", "annotations", k): v for k, v in new_ann.items() if cur_ann.get(k) != v})
    ours = (f"{ANNOTATION}/", FLUX_SUBSTITUTE)
    edits.update(
        {("metadata", "annotations", k): None for k in cur_ann if k not in new_ann and str(k).startswith(ours)}
    )
    return edits


def bookkeeping(before: Any, after: Any, rotated_at: str) -> dict[tuple[str, ...], str]:
    """After a hand edit (``set``, ``edit``) of a Secret aigw-secrets manages: when its values
    changed, the rotation state that says so (a new content hash, the next generation, the time),
    so ``generate``, ``--check`` and ``status`` agree with the file. Nothing for any other file."""
    ann = kube.annotations_of(after)
    data = after.get("stringData") if isinstance(after, dict) else None
    if not isinstance(before, dict) or HASH_ANNOTATION not in ann or not isinstance(data, dict):
        return {}
    if before.get("stringData") == data or not all(isinstance(v, str) for v in data.values()):
        return {}
    generation = str(ann.get(f"{ANNOTATION}/generation", "0")).strip()
    at = ("metadata", "annotations")
    flux: dict[tuple[str, ...], str] = (
        {(*at, FLUX_SUBSTITUTE): "disabled"} if any(flux_substitution_hazard(v) for v in data.values()) else {}
    )
    replaced = carry_replaced(kube.annotations_of(before), data)
    return {
        **flux,
        **({(*at, REPLACED_ANNOTATION): replaced} if replaced else {}),
        (*at, HASH_ANNOTATION): content_hash(data),
        (*at, f"{ANNOTATION}/generation"): str(
            int(generation) + 1 if generation.isdigit() and len(generation) < 10 else 1
        ),
        (*at, f"{ANNOTATION}/rotated-at"): rotated_at,
    }
