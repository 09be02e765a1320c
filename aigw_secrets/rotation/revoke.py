"""Revoking the previous credential, only once the cluster is proven to serve its successor.

What is pending comes from git, not from local state: the Secret written by a minting rotation
records its issuer, its own ref and ``previous-issued-ref`` (the key it replaced, which this tool
created). The local journal (``.aigw/revoke-<provider>.json``) only records progress. Gates, all of
which must hold (ROTATION.md §3.3):

    grace       now >= previous-revoke-after
    applied     the commit that last wrote the Secret file is pushed to the working tree's HEAD and
                the Flux Kustomization is Ready at that revision
    in-cluster  the cluster's Secret carries the new content-hash annotation (the new generation)
    validates   the new credential still authenticates at the provider

Without cluster access ``applied`` and ``in-cluster`` wait (never assumed) unless the operator says
``--assume-applied``. Never the only active key; never a key this tool did not create unless the
operator names it (``--ref``). Soft revoke first where the provider has one, delete after a further
grace period.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from aigw_secrets import git, output
from aigw_secrets.errors import AigwError, ConfigError, ExitCode, NoKeyError
from aigw_secrets.gateway import manifests, validate
from aigw_secrets.gateway.config import Config, ProviderConfig
from aigw_secrets.kube import Cluster, flux_applied
from aigw_secrets.rotation import pending as pending_mod
from aigw_secrets.rotation.issuers.interface import Issuer
from aigw_secrets.rotation.journal import Journal, now, parse_stamp, stamp
from aigw_secrets.sops import binary as sops_mod
from aigw_secrets.sops import files as sopsfile

A = manifests.ANNOTATION

# state -> the states that may follow ("" = new). "complete" is final (journal.FINAL).
REVOKE: dict[str, tuple[str, ...]] = {
    "": ("waiting",),
    "waiting": ("waiting", "disabled", "complete"),
    "disabled": ("disabled", "complete"),
}


class Waiting(AigwError):
    """A gate does not hold yet: nothing was revoked; a later run retries (exit 75)."""

    code = ExitCode.LOCKED


class Gate(NamedTuple):
    name: str
    ok: bool
    reason: str


class ClusterAccess:
    """The Kubernetes client, made on first use; no access is a reason to wait, not to fail."""

    def __init__(self, kubeconfig: Path | None = None, context: str | None = None, kustomization: str = "flux-system/flux-system") -> None:
        # $KUBECONFIG read now, not when the kubernetes client was first imported in this process
        env = os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
        self.kubeconfig, self.context = kubeconfig or (Path(env) if env else None), context
        self.ks_ns, _, self.ks_name = kustomization.partition("/")
        if not self.ks_name:
            raise ConfigError("--kustomization takes NAMESPACE/NAME")
        self._cluster: Cluster | None = None

    def get(self) -> Cluster:
        if self._cluster is None:
            self._cluster = Cluster(self.kubeconfig, self.context)
        return self._cluster


def _doc(root: Path, cfg: Config, pc: ProviderConfig) -> tuple[str, dict[str, Any]]:
    rel = str((cfg.output_dir / manifests.secret_file(pc)).relative_to(root))
    try:
        doc = yaml.safe_load((root / rel).read_text("utf-8")) or {}
    except (OSError, yaml.YAMLError):
        doc = {}
    return rel, doc


def target(root: Path, cfg: Config, pc: ProviderConfig, ref: str | None = None) -> dict[str, Any] | None:
    """The previous credential waiting to be revoked (or ``ref``, named by the operator); None = none."""
    rel, doc = _doc(root, cfg, pc)
    ann = (doc.get("metadata") or {}).get("annotations") or {}
    prev = ref or ann.get(pending_mod.PREVIOUS_ISSUED)
    if not prev:
        return None
    journal = Journal(root, f"revoke-{pc.key}", REVOKE)
    generation = ann.get(f"{A}/generation")
    done = journal.data.get("state") == "complete" and journal.data.get("ref") == prev
    if done and str(journal.data.get("generation")) == str(generation):  # refs repeat (Azure key1/key2)
        return None
    return {
        "provider": pc.key,
        "file": rel,
        "ref": prev,
        "named": bool(ref),
        "new_ref": ann.get(pending_mod.REF_ANNOTATION),
        "generation": generation,
        "content_hash": ann.get(manifests.HASH_ANNOTATION),
        "revoke_after": ann.get(f"{A}/previous-revoke-after"),
        "stored_at": ann.get(f"{A}/rotated-at"),  # issue 21: when the value went to the store
        "state": journal.data.get("state") if journal.data.get("ref") == prev else "waiting",
    }


def gates(root: Path, cfg: Config, pc: ProviderConfig, t: dict[str, Any], access: ClusterAccess, *, assume_applied: bool, issuer: Issuer | None) -> list[Gate]:
    out: list[Gate] = []
    after = parse_stamp(t.get("revoke_after"))
    out.append(Gate("grace", bool(after and now() >= after), f"grace period ends {t.get('revoke_after') or '(unknown)'}"))
    rel = t["file"]
    if assume_applied:
        out.append(Gate("applied", True, "assumed (--assume-applied)"))
        out.append(Gate("in-cluster", True, "assumed (--assume-applied)"))
    else:
        out.extend(_cluster_gates(root, cfg, pc, t, rel, access))
    out.append(_validates(root, pc, rel, t, issuer, cfg))
    return out


def _cluster_gates(root: Path, cfg: Config, pc: ProviderConfig, t: dict[str, Any], rel: str, access: ClusterAccess) -> list[Gate]:
    try:
        cluster = access.get()
        ready, revision = flux_applied(cluster.kustomization(access.ks_ns, access.ks_name), "")
        live = cluster.read_secret(cfg.namespace, manifests.secret_name(pc))
    except AigwError as exc:
        reason = f"no cluster access ({exc}); re-run with cluster access or --assume-applied"
        return [Gate("applied", False, reason), Gate("in-cluster", False, reason)]
    ks = f"Kustomization {access.ks_ns}/{access.ks_name}"
    if pc.backend == "external-secrets":  # issue 21: ESO's Ready + refreshTime, and the Secret it made
        from aigw_secrets.rotation.externalsecret import in_cluster_gate

        try:
            synced, why = in_cluster_gate(cluster, cfg, pc, t)
        except AigwError as exc:
            synced, why = False, f"no cluster access ({exc})"
        in_cluster = Gate("in-cluster", synced, why)
    if not ready:
        applied = Gate("applied", False, f"{ks}: {revision}")
    else:
        # the applied revision must carry this generation (a later commit, e.g. new data keys, may too)
        sha = revision.rpartition(":")[2]
        carried = _hash_at(root, sha, rel)
        applied = Gate("applied", carried == t.get("content_hash"), f"{ks} applied {revision}" + ("" if carried == t.get("content_hash") else f", which does not carry generation {t.get('generation')} of {rel} yet"))
    if pc.backend == "external-secrets":
        return [applied, in_cluster]
    live_hash = (((live or {}).get("metadata") or {}).get("annotations") or {}).get(manifests.HASH_ANNOTATION)
    fresh = live is not None and live_hash == t.get("content_hash")
    where = f"{cfg.namespace}/{manifests.secret_name(pc)}"
    return [applied, Gate("in-cluster", fresh, f"Secret {where} " + ("carries generation " + str(t.get("generation")) if fresh else "is missing or on an older generation"))]


def _hash_at(root: Path, sha: str, rel: str) -> str | None:
    """The content-hash annotation of ``rel`` at commit ``sha`` (None: not there, or not fetched)."""
    if not sha or not git.succeeds(root, "cat-file", "-e", f"{sha}:{rel}"):
        return None
    try:
        doc = yaml.safe_load(git.run(root, "show", f"{sha}:{rel}")) or {}
    except (AigwError, yaml.YAMLError):
        return None
    return ((doc.get("metadata") or {}).get("annotations") or {}).get(manifests.HASH_ANNOTATION)


def _validates(root: Path, pc: ProviderConfig, rel: str, t: dict[str, Any], issuer: Issuer | None, cfg: Config | None = None) -> Gate:
    if cfg is not None and pc.backend == "external-secrets":  # issue 21: the value is in the store
        from aigw_secrets.rotation.externalsecret import current_value

        try:
            value = current_value(root, cfg, pc, rel)
        except AigwError as exc:
            return Gate("validates", False, f"cannot read the new credential from the store ({exc})")
        try:
            outcome = validate.check(pc, value)
        except AigwError as exc:
            return Gate("validates", False, str(exc))
        return Gate("validates", True, f"HTTP {outcome.status}")
    try:
        plain = yaml.safe_load(sopsfile.decrypt(sops_mod.Sops(root), (root / rel).read_bytes(), rel))
        value = str(plain["stringData"][pc.auth.secret_key])
    except NoKeyError:
        # a bot with only the public recipients: the provider's own record of the key must do
        if issuer is not None and t.get("new_ref"):
            found = [k for k in issuer.listed() if k.ref == t["new_ref"] and k.active]
            return Gate("validates", bool(found), "the new key is active at the provider" if found else "the new key is not active at the provider")
        return Gate("validates", False, "cannot decrypt the Secret here to check the new credential")
    except (AigwError, KeyError, TypeError, yaml.YAMLError) as exc:
        return Gate("validates", False, f"cannot read the new credential ({type(exc).__name__})")
    try:
        outcome = validate.check(pc, value)
    except AigwError as exc:
        return Gate("validates", False, str(exc))
    return Gate("validates", True, f"HTTP {outcome.status}")


def revoke(
    root: Path,
    cfg: Config,
    pc: ProviderConfig,
    access: ClusterAccess,
    *,
    ref: str | None = None,
    assume_applied: bool = False,
    now_fn: Callable[[], dt.datetime] = now,
) -> dict[str, Any]:
    """Advance one revocation as far as the gates allow. Raises Waiting (75) while a gate is closed."""
    issuer = pending_mod.issuer_for(pc)
    by_hand = by_hand_target(root, cfg, pc)
    if by_hand is not None and (ref is None or (issuer is None and ref == by_hand["ref"])):  # with an issuer, --ref revokes through it
        return _by_hand(root, pc, by_hand, ref, now_fn)
    t = target(root, cfg, pc, ref)
    if t is None:
        return {"provider": pc.key, "state": "nothing to revoke"}
    if issuer is None:
        raise ConfigError(f"{pc.key}: no issuer configured (ai_gateway_{pc.key}_issuer); revoke {t['ref']} at the provider yourself")
    journal = Journal(root, f"revoke-{pc.key}", REVOKE)
    if journal.data.get("ref") != t["ref"] or str(journal.data.get("generation")) != str(t["generation"]) or not journal.active:
        journal.data = {}
        journal.step("waiting", ref=t["ref"], new_ref=t["new_ref"], generation=t["generation"], named=t["named"])
    results = gates(root, cfg, pc, t, access, assume_applied=assume_applied, issuer=issuer)
    journal.save(gates=[[g.name, g.ok, g.reason] for g in results])  # a list: the order is the checking order
    closed = [g for g in results if not g.ok]
    if closed and journal.data["state"] == "waiting":
        raise Waiting(f"{pc.key}: not revoking {t['ref']} yet: " + "; ".join(f"{g.name}: {g.reason}" for g in closed))
    if t["ref"] == t.get("new_ref"):
        raise ConfigError(f"{pc.key}: {t['ref']} is the credential the Secret holds now; refusing to revoke it")
    _never_the_only_key(issuer, t)
    if journal.data["state"] == "waiting" and issuer.soft_revoke:
        issuer.disable(t["ref"])
        journal.step("disabled", disabled_at=stamp(now_fn()))
        output.status("disabled", t["ref"], f"{pc.provider.title}: previous credential disabled; deleted after {cfg.grace_hours}h more")
    if journal.data["state"] == "disabled":
        soak_end = (parse_stamp(journal.data.get("disabled_at")) or now_fn()) + dt.timedelta(hours=cfg.grace_hours)
        if now_fn() < soak_end:
            raise Waiting(f"{pc.key}: {t['ref']} is disabled; it is deleted after {stamp(soak_end)}")
    issuer.delete(t["ref"])
    journal.step("complete", revoked_at=stamp(now_fn()))
    output.status("revoked", t["ref"], f"{pc.provider.title}: previous credential deleted at the provider")
    return {"provider": pc.key, "state": "revoked", "ref": t["ref"]}


def by_hand_target(root: Path, cfg: Config, pc: ProviderConfig) -> dict[str, Any] | None:
    """The previous credential an operator supplied (no issuer minted it, so only the operator can
    revoke it, in the provider's console), while no record says it was revoked; None = none."""
    rel, doc = _doc(root, cfg, pc)
    ann = (doc.get("metadata") or {}).get("annotations") or {}
    prev = ann.get(f"{A}/previous-credential-ref")
    if not prev or ann.get(pending_mod.PREVIOUS_ISSUED):
        return None  # nothing recorded, or a minted key: the issuer's revocation (``target``)
    journal = Journal(root, f"revoke-{pc.key}", REVOKE)
    if journal.data.get("state") == "complete" and journal.data.get("ref") == prev and str(journal.data.get("generation")) == str(ann.get(f"{A}/generation")):
        return None
    after = parse_stamp(ann.get(f"{A}/previous-revoke-after"))
    return {"provider": pc.key, "file": rel, "ref": str(prev), "revoke_after": stamp(after) if after else None, "safe_now": bool(after and now() >= after), "generation": ann.get(f"{A}/generation")}


def _by_hand(root: Path, pc: ProviderConfig, t: dict[str, Any], ref: str | None, now_fn: Callable[[], dt.datetime]) -> dict[str, Any]:
    """Say which key to revoke in the console and when; ``--ref`` naming it records that it was."""
    where = f"the {pc.provider.title} console" if not pc.key.startswith("mcp_") else f"{pc.provider.title}'s admin"
    if pending_mod.issuer_for(pc) is None:
        why = f"{t['ref']} was supplied by an operator, not minted by aigw-secrets (no ai_gateway_{pc.key}_issuer), so revoke it in {where}"
    else:  # an issuer that can revoke, but never a key it did not create unless the operator names its id
        why = f"{t['ref']} was supplied by an operator, not minted by aigw-secrets, so revoke it in {where} or name its id: aigw-secrets rotate --revoke {pc.key} --ref KEY_ID"
    if ref == t["ref"]:
        journal = Journal(root, f"revoke-{pc.key}", REVOKE)
        journal.data = {}
        journal.step("waiting", ref=t["ref"], generation=t["generation"], named=True, by_hand=True)
        journal.step("complete", revoked_at=stamp(now_fn()), by_hand=True)
        output.status("recorded", t["ref"], f"{pc.provider.title}: revoked by hand; `status` no longer lists it")
        return {**t, "state": "revoked by hand", "why": why}
    when = "now (the grace period is over)" if t["safe_now"] else f"after {t['revoke_after'] or '(unknown)'} (the grace period)"
    return {**t, "state": "revoke by hand", "why": f"{why} {when}; then record it: aigw-secrets rotate --revoke {pc.key} --ref {t['ref']}"}


def _never_the_only_key(issuer: Issuer, t: dict[str, Any]) -> None:
    keys = issuer.listed()
    if not keys:
        return  # self-issued: nothing registered at a provider
    others = [k for k in keys if k.active and k.ref != t["ref"]]
    if not others:
        raise ConfigError(f"{t['provider']}: {t['ref']} is the only active key at the provider; refusing to revoke it")
    if t.get("new_ref") and not any(k.ref == t["new_ref"] for k in others):
        raise ConfigError(f"{t['provider']}: the new credential {t['new_ref']} is not active at the provider; refusing to revoke {t['ref']}")


def status(root: Path, cfg: Config, pc: ProviderConfig) -> dict[str, Any]:
    """For ``status``: the pending revocation and the gates as last checked (no cluster call)."""
    t = target(root, cfg, pc)
    if t is None:
        hand = by_hand_target(root, cfg, pc)
        return {"revoke_by_hand": hand["ref"]} if hand else {}
    journal = Journal(root, f"revoke-{pc.key}", REVOKE)
    last = journal.data.get("gates") if journal.data.get("ref") == t["ref"] else None
    return {"pending_revocation": t["ref"], "revocation_state": t["state"], "gates": last or []}


def revoke_due(root: Path, cfg: Config, access: ClusterAccess, *, assume_applied: bool = False) -> dict[str, Any]:
    """Every pending revocation, as far as its gates allow (``rotate --due``); never raises Waiting."""
    from aigw_secrets.rotation.journal import repo_lock

    out: dict[str, Any] = {"revoked": [], "waiting": [], "revoke_errors": []}
    with repo_lock(root):
        for pc in cfg.providers:
            if not pc.auth.secret_key or target(root, cfg, pc) is None:
                continue
            try:
                result = revoke(root, cfg, pc, access, assume_applied=assume_applied)
                if result["state"] == "revoked":
                    out["revoked"].append(result)
            except Waiting as exc:
                out["waiting"].append({"provider": pc.key, "reason": str(exc), "no_cluster_access": "no cluster access" in str(exc)})
            except AigwError as exc:
                out["revoke_errors"].append({"provider": pc.key, "error": str(exc), "exit_code": int(exc.code)})
    return out
