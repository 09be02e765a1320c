"""Revoking previous credentials, only once the cluster is proven to serve their successor.

What to revoke is decided from facts the bot establishes itself (``trust.py``), never from
what a commit carries: every key the provider shows as minted by this tool for this Secret (the name
its issuer set; GCP: the bot's own ledger) that the Secret does not hold, the Secret's value decrypted
and identified at the provider. So a rotation during a pending revocation queues the older key too,
and keys minted by interrupted runs are found again. Issuers whose keys carry no generation
(self-issued, Azure's two slots) take the target from the Secret's ``previous-issued-ref``, guarded the
same way. The local journal (``revoke-<provider>.json`` in the state directory) records progress only.
Gates, all of which must hold (ROTATION.md §3.3):

    grace       now >= the later of previous-revoke-after and the current key's creation at the
                provider + the grace period (a commit can delay a revocation, never hasten it)
    applied     the Flux Kustomization is Ready at a revision that carries the Secret file as it is
    in-cluster  the cluster's Secret holds the value the Secret file decrypts to (its data, or its
                salted content hash checked against that value)
    validates   that value authenticates at the provider

Without cluster access ``applied`` and ``in-cluster`` wait (never assumed) unless the operator says
``--assume-applied``. Right before each call ``trust.guard`` re-reads the provider: never the key the
Secret holds, never the only active key, never a key not minted by this tool for this Secret unless
the operator names it with ``--ref`` at a terminal. Soft revoke first where the provider has one,
delete after a further grace period.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from aigw_secrets import git, kube, output, yamlload
from aigw_secrets.errors import AigwError, ConfigError, ExitCode
from aigw_secrets.gateway import contenthash, marks, secretdoc, validate
from aigw_secrets.gateway.config import Config, ProviderConfig
from aigw_secrets.kube import Cluster, flux_applied
from aigw_secrets.rotation import pending, trust
from aigw_secrets.rotation.issuers.interface import Issuer
from aigw_secrets.rotation.journal import Journal, Step, Transitions, now, parse_stamp, record, stamp
from aigw_secrets.rotation.results import ByHand, Revocation, RevocationColumns, Revocations, RevocationTarget, Rollout

A = marks.ANNOTATION

# state -> the states that may follow ("" = new). "complete" is final (journal.FINAL).
REVOKE: Transitions = {
    "": (Step.WAITING,),
    Step.WAITING: (Step.WAITING,),
}  # one long-lived journal per provider: per-key progress in "keys", what was revoked in "completed"


class Waiting(AigwError):
    """A gate does not hold yet: nothing was revoked; a later run retries (exit 75)."""

    code = ExitCode.LOCKED


class Gate(NamedTuple):
    name: str
    ok: bool
    reason: str


class ClusterAccess:
    """The Kubernetes client, made on first use; no access is a reason to wait, not to fail."""

    def __init__(
        self, kubeconfig: Path | None = None, context: str | None = None, kustomization: str = "flux-system/flux-system"
    ) -> None:
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


def _annotations(root: Path, cfg: Config, pc: ProviderConfig) -> tuple[str, dict[str, str]]:
    rel = str((cfg.output_dir / secretdoc.secret_file(pc)).relative_to(root))
    try:
        doc = yamlload.safe_load((root / rel).read_text("utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        doc = None
    return rel, kube.annotations_of(doc)


def at_terminal() -> bool:
    """An operator at a terminal (never the cron job): only they may name a key this tool did not mint."""
    return sys.stdin.isatty() and sys.stderr.isatty()


def _own_pending(root: Path, pc: ProviderConfig) -> set[str]:
    """What the bot's own mint journal is about to land (never revoked under a resumed rotation)."""
    journal, _ = pending.journal_paths(root, pc)
    if journal.active and journal.data.get("state") == Step.MINTED:
        return {str(journal.data.get("ref"))}
    return set()


_GENERATION = re.compile(r"-g([0-9]{1,9})$")  # the suffix of Issuer.name_for


def _landed(root: Path, refs: set[str]) -> set[str]:
    """Those of ``refs`` that any commit of the history ever held, in any file, on any side of a merge (a
    key an interrupted mint made never landed; one a commit rolled back did). In a shallow clone the
    history cannot say: every one counts as landed (kept; revoked from a full clone)."""
    try:
        if git.run(root, "rev-parse", "--is-shallow-repository").strip() == b"true":
            return set(refs)
        return {
            r for r in refs if git.run(root, "log", "--all", "--full-history", "--format=%H", "-1", "-S", r).strip()
        }
    except AigwError:
        return set(refs)


def rolled_back(root: Path, pc: ProviderConfig, issuer: Issuer, facts: trust.Facts) -> set[str]:
    """Keys newer than every key of its own the Secret holds (a later generation in their name, or created
    after it at the provider) that the Secret once held in a commit: a commit rolled it back (a revert).
    The bot never revokes them: a commit can only delay a revocation, never choose its victim. (A newer
    key that never landed is an interrupted mint's: it is revoked as before. A held key the bot did not
    mint is refused by ``trust.guard``.)"""
    held = [k for k in facts.keys if k.ref in facts.current and trust.minted_here(root, pc, issuer, k)]
    if not held:
        return set()
    generations = [int(m.group(1)) for k in held if (m := _GENERATION.search(k.name))]
    created = [k.created for k in held if k.created is not None]
    newer = set()
    for k in facts.keys:
        m = _GENERATION.search(k.name)
        if k.ref not in facts.current and (
            (generations and m and int(m.group(1)) > max(generations))
            or (created and k.created is not None and k.created > max(created))
        ):
            newer.add(k.ref)
    return _landed(root, newer) if newer else set()


def candidates(
    root: Path, cfg: Config, pc: ProviderConfig, issuer: Issuer, facts: trust.Facts, ref: str | None
) -> list[str]:
    """What to revoke: ``ref`` (named by the operator), else every key the provider shows as minted by
    this tool for this Secret that the Secret does not hold; for issuers whose keys carry no
    generation (self-issued, Azure's slots), the previous key the Secret names, once per generation."""
    if ref:
        return [ref]
    if issuer.generations:
        newer = rolled_back(root, pc, issuer, facts)
        if newer:
            output.warn(
                f"{pc.key}: the Secret holds an older key than {', '.join(sorted(newer))}, which a commit held before "
                "(a commit rolled the Secret back, a revert?); the newer key is kept. Review that commit; "
                f"`aigw-secrets rotate --provider {pc.key}` writes a new key"
            )
        skip = facts.current | _own_pending(root, pc) | newer
        return [k.ref for k in facts.keys if k.ref not in skip and trust.minted_here(root, pc, issuer, k)]
    _rel, ann = _annotations(root, cfg, pc)
    prev = ann.get(pending.PREVIOUS_ISSUED)
    if not prev or prev in facts.current:
        return []
    journal = record(root, f"revoke-{pc.key}", REVOKE)
    done = journal.data.get("completed") or {}
    if isinstance(done, dict) and str(done.get(str(prev))) == str(ann.get(f"{A}/generation")):
        return []  # refs repeat (Azure key1/key2): done for this generation
    return [str(prev)]


def target(root: Path, cfg: Config, pc: ProviderConfig, ref: str | None = None) -> RevocationTarget | None:
    """The pending revocation as the Secret describes it (for ``status`` only, never for a decision)."""
    rel, ann = _annotations(root, cfg, pc)
    prev = ref or ann.get(pending.PREVIOUS_ISSUED)
    if not prev:
        return None
    return {"provider": pc.key, "file": rel, "ref": str(prev), "generation": _text(ann.get(f"{A}/generation"))}


def _text(value: object) -> str | None:
    """An annotation's value as text (None when absent)."""
    return None if value is None else str(value)


def gates(
    root: Path, cfg: Config, pc: ProviderConfig, facts: trust.Facts, access: ClusterAccess, *, assume_applied: bool
) -> list[Gate]:
    rel, ann = _annotations(root, cfg, pc)
    t = Rollout(
        content_hash=_text(ann.get(marks.HASH_ANNOTATION)),
        generation=_text(ann.get(f"{A}/generation")),
        stored_at=_text(ann.get(f"{A}/rotated-at")),  # when the value went to the store
    )
    out = [_grace(cfg, ann, facts)]
    if assume_applied:
        out.append(Gate("applied", True, "assumed (--assume-applied)"))
        out.append(Gate("in-cluster", True, "assumed (--assume-applied)"))
    else:
        out.extend(_cluster_gates(root, cfg, pc, t, rel, access, facts))
    out.append(_validates(pc, facts))
    return out


def _grace(cfg: Config, ann: dict[str, str], facts: trust.Facts) -> Gate:
    """The later of the Secret's revoke-after and the provider's creation time of the key the Secret
    holds plus the grace period: a commit can only delay a revocation, never bring it forward."""
    ends = []
    after = parse_stamp(ann.get(f"{A}/previous-revoke-after"))
    if after:
        ends.append(after)
    created = [k.created for k in facts.keys if k.ref in facts.current and k.created is not None]
    if created:
        ends.append(dt.datetime.fromtimestamp(max(created), dt.UTC) + dt.timedelta(hours=cfg.grace_hours))
    if not ends:
        return Gate("grace", False, "grace period end unknown (no revoke-after and no creation time at the provider)")
    end = max(ends)
    return Gate("grace", now() >= end, f"grace period ends {stamp(end)}")


def _cluster_gates(
    root: Path, cfg: Config, pc: ProviderConfig, t: Rollout, rel: str, access: ClusterAccess, facts: trust.Facts
) -> list[Gate]:
    namespace = secretdoc.secret_namespace(pc, cfg)
    try:
        cluster = access.get()
        ready, revision = flux_applied(cluster.kustomization(access.ks_ns, access.ks_name), "")
        live = cluster.read_secret(namespace, secretdoc.secret_name(pc))
    except AigwError as exc:
        reason = f"no cluster access ({exc}); re-run with cluster access or --assume-applied"
        return [Gate("applied", False, reason), Gate("in-cluster", False, reason)]
    ks = f"Kustomization {access.ks_ns}/{access.ks_name}"
    if pc.backend == "external-secrets":  # ESO's Ready + refreshTime, and the Secret it made
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
        applied = Gate(
            "applied",
            carried == t.content_hash,
            f"{ks} applied {revision}"
            + ("" if carried == t.content_hash else f", which does not carry generation {t.generation} of {rel} yet"),
        )
    fresh = _serves(live, pc, facts.value)
    where = f"{namespace}/{secretdoc.secret_name(pc)}"
    if pc.backend == "external-secrets":  # synced by ESO, and holding the value the store has at the pinned version
        return [
            applied,
            in_cluster
            if not in_cluster.ok or fresh
            else Gate("in-cluster", False, f"Secret {where} serves another credential than the store's"),
        ]
    return [
        applied,
        Gate(
            "in-cluster",
            fresh,
            f"Secret {where} "
            + ("serves the credential the Secret file holds" if fresh else "is missing or serves another credential"),
        ),
    ]


def _serves(live: dict[str, Any] | None, pc: ProviderConfig, value: str) -> bool:
    """Whether the cluster's Secret holds ``value`` (decrypted from the file): its data when readable,
    else its salted content hash checked against that value (never the file's annotation alone)."""
    import base64
    import binascii

    if not live:
        return False
    data = (live.get("data") or {}).get(pc.auth.secret_key)
    if data:
        try:
            return base64.b64decode(data).decode("utf-8") == value
        except (binascii.Error, ValueError):
            return False
    stored = kube.annotations_of(live).get(marks.HASH_ANNOTATION)
    return contenthash.hash_matches(stored, {str(pc.auth.secret_key): value})


def _hash_at(root: Path, sha: str, rel: str) -> str | None:
    """The content-hash annotation of ``rel`` at commit ``sha`` (None: not there, or not fetched)."""
    if not sha or not git.succeeds(root, "cat-file", "-e", f"{sha}:{rel}"):
        return None
    try:
        doc = yamlload.load(git.run(root, "show", f"{sha}:{rel}")) or {}
    except (AigwError, yaml.YAMLError):
        return None
    return kube.annotations_of(doc).get(marks.HASH_ANNOTATION)


def _validates(pc: ProviderConfig, facts: trust.Facts) -> Gate:
    try:
        outcome = validate.check(pc, facts.value)
    except AigwError as exc:
        return Gate("validates", False, str(exc))
    return Gate("validates", True, f"HTTP {outcome.status}")


# A key an operator supplied is revoked in the provider's console; its own record, kept
# apart from the issuer's revocation journal.
BY_HAND: Transitions = {"": (Step.WAITING,), Step.WAITING: (Step.COMPLETE,)}


def by_hand_target(root: Path, cfg: Config, pc: ProviderConfig) -> ByHand | None:
    """The previous credential an operator supplied (no issuer minted it, so only the operator can
    revoke it, in the provider's console), while no record says it was revoked; None = none."""
    rel, ann = _annotations(root, cfg, pc)
    prev = ann.get(f"{A}/previous-credential-ref")
    if not prev or ann.get(pending.PREVIOUS_ISSUED):
        return None  # nothing recorded, or a minted key: the issuer's revocation (``target``)
    journal = record(root, f"revoke-by-hand-{pc.key}", BY_HAND)
    if (
        journal.data.get("state") == Step.COMPLETE
        and journal.data.get("ref") == prev
        and str(journal.data.get("generation")) == str(ann.get(f"{A}/generation"))
    ):
        return None
    after = parse_stamp(ann.get(f"{A}/previous-revoke-after"))
    return {
        "provider": pc.key,
        "file": rel,
        "ref": str(prev),
        "revoke_after": stamp(after) if after else None,
        "safe_now": bool(after and now() >= after),
        "generation": ann.get(f"{A}/generation"),
    }


def _by_hand(
    root: Path, pc: ProviderConfig, t: ByHand, ref: str | None, now_fn: Callable[[], dt.datetime]
) -> Revocation:
    """Say which key to revoke in the console and when; ``--ref`` naming it records that it was."""
    where = f"the {pc.provider.title} console" if not pc.key.startswith("mcp_") else f"{pc.provider.title}'s admin"
    if pending.issuer_for(pc) is None:
        why = (
            f"{t['ref']} was supplied by an operator, not minted by aigw-secrets (no ai_gateway_{pc.key}_issuer), "
            f"so revoke it in {where}"
        )
    else:  # an issuer that can revoke, but never a key it did not create unless the operator names its id
        why = (
            f"{t['ref']} was supplied by an operator, not minted by aigw-secrets, so revoke it in {where} or name "
            f"its id: aigw-secrets rotate --revoke {pc.key} --ref KEY_ID"
        )
    if ref == t["ref"]:
        journal = record(root, f"revoke-by-hand-{pc.key}", BY_HAND)
        journal.data = {}
        journal.step(Step.WAITING, ref=t["ref"], generation=t["generation"], named=True, by_hand=True)
        journal.step(Step.COMPLETE, revoked_at=stamp(now_fn()), by_hand=True)
        output.status("recorded", t["ref"], f"{pc.provider.title}: revoked by hand; `status` no longer lists it")
        return _by_hand_result(t, "revoked by hand", why)
    when = (
        "now (the grace period is over)"
        if t["safe_now"]
        else f"after {t['revoke_after'] or '(unknown)'} (the grace period)"
    )
    return _by_hand_result(
        t, "revoke by hand", f"{why} {when}; then record it: aigw-secrets rotate --revoke {pc.key} --ref {t['ref']}"
    )


def _by_hand_result(t: ByHand, state: str, why: str) -> Revocation:
    return {
        "provider": t["provider"],
        "file": t["file"],
        "ref": t["ref"],
        "revoke_after": t["revoke_after"],
        "safe_now": t["safe_now"],
        "generation": t["generation"],
        "state": state,
        "why": why,
    }


def revoke(
    root: Path,
    cfg: Config,
    pc: ProviderConfig,
    access: ClusterAccess,
    *,
    ref: str | None = None,
    assume_applied: bool = False,
    now_fn: Callable[[], dt.datetime] = now,
) -> Revocation:
    """Advance the revocations of ``pc`` as far as the gates allow. Raises Waiting (75) while a gate
    is closed or a disabled key soaks. Every decision comes from ``trust``: the provider's records and
    the decrypted Secret, re-checked right before each call."""
    issuer = pending.issuer_for(pc)
    by_hand = by_hand_target(root, cfg, pc)
    if by_hand is not None and (issuer is None or not issuer.mints) and (ref is None or ref == by_hand["ref"]):
        return _by_hand(root, pc, by_hand, ref, now_fn)  # nothing to decide at a provider: advice, or a record
    if issuer is None:
        if ref:
            raise ConfigError(
                f"{pc.key}: no issuer configured (ai_gateway_{pc.key}_issuer); revoke {ref} at the provider yourself"
            )
        return {"provider": pc.key, "state": "nothing to revoke"}
    if pc.backend == "external-secrets":
        from aigw_secrets.rotation import externalsecret  # noqa: F401 - registers how the store's value is read
    if ref and not at_terminal():
        raise trust.Refused(
            f"{pc.key}: --ref names a key for an operator at a terminal; the rotation bot revokes only keys "
            "the provider shows as minted by aigw-secrets for this Secret"
        )
    facts = trust.establish(root, cfg, pc, issuer)
    if issuer.records:
        trust.require_current(pc, facts)
    todo = candidates(root, cfg, pc, issuer, facts, ref)
    if not todo:
        if by_hand is not None and ref is None:  # the operator's own previous key: theirs to revoke
            return _by_hand(root, pc, by_hand, ref, now_fn)
        return {"provider": pc.key, "state": "nothing to revoke"}
    journal = record(root, f"revoke-{pc.key}", REVOKE)
    if not journal.active:
        journal.data = {}
        journal.step(Step.WAITING)
    results = gates(root, cfg, pc, facts, access, assume_applied=assume_applied)
    journal.save(
        gates=[[g.name, g.ok, g.reason] for g in results], pending=todo
    )  # a list: the order is the checking order
    closed = [g for g in results if not g.ok]
    keys: dict[str, Any] = dict(journal.data.get("keys") or {})
    started = [r for r in todo if r in keys]
    if closed and not started:
        raise Waiting(
            f"{pc.key}: not revoking {', '.join(todo)} yet: " + "; ".join(f"{g.name}: {g.reason}" for g in closed)
        )
    revoked: list[str] = []
    soaking: list[str] = []
    for victim in todo:
        if closed and victim not in keys:
            continue  # only a revocation already under way (disabled, soaking) goes on while a gate is closed
        done = _advance(root, cfg, pc, issuer, journal, keys, victim, operator_named=bool(ref), now_fn=now_fn)
        (revoked if done else soaking).append(victim)
    completed = dict(journal.data.get("completed") or {})
    _rel, ann = _annotations(root, cfg, pc)
    completed.update({r: str(ann.get(f"{A}/generation")) for r in revoked})
    journal.save(
        keys=keys, completed=completed, revoked_at=stamp(now_fn()) if revoked else journal.data.get("revoked_at")
    )
    if soaking and not revoked:
        raise Waiting(f"{pc.key}: {', '.join(soaking)} disabled; deleted {cfg.grace_hours}h after that")
    return {
        "provider": pc.key,
        "state": "revoked",
        "ref": revoked[0] if revoked else None,
        "refs": revoked,
        "disabled": soaking,
    }


def _advance(
    root: Path,
    cfg: Config,
    pc: ProviderConfig,
    issuer: Issuer,
    journal: Journal,
    keys: dict[str, Any],
    victim: str,
    *,
    operator_named: bool,
    now_fn: Callable[[], dt.datetime],
) -> bool:
    """One key's revocation as far as it can go now: True when it is deleted (or gone already), False
    while it soaks disabled (a soft revoke waits ``grace_hours`` before the delete). ``keys`` records
    when each key was disabled."""
    key = trust.guard(root, cfg, pc, issuer, victim, operator_named=operator_named)  # re-checked at the provider now
    if key is None:  # gone already
        keys.pop(victim, None)
        return True
    if issuer.soft_revoke:
        since = parse_stamp((keys.get(victim) or {}).get("disabled_at"))
        if key.active or since is None:
            if key.active:
                issuer.disable(victim)
                output.status(
                    "disabled",
                    victim,
                    f"{pc.provider.title}: previous credential disabled; deleted after {cfg.grace_hours}h more",
                )
            keys[victim] = {"disabled_at": stamp(now_fn())}
            journal.save(keys=keys)
            return False
        if now_fn() < since + dt.timedelta(hours=cfg.grace_hours):
            return False
    issuer.delete(victim)
    keys.pop(victim, None)
    output.status("revoked", victim, f"{pc.provider.title}: previous credential deleted at the provider")
    return True


def status(root: Path, cfg: Config, pc: ProviderConfig) -> RevocationColumns:
    """For ``status``: every key the provider lists for the Secret's identity and what it is to this
    tool (current, pending revocation, not minted by aigw-secrets), and the gates as last checked."""
    issuer = pending.issuer_for(pc)
    journal = record(root, f"revoke-{pc.key}", REVOKE)
    if pc.backend == "external-secrets":
        from aigw_secrets.rotation import externalsecret  # noqa: F401 - registers how the store's value is read
    hand = by_hand_target(root, cfg, pc)
    by_hand: RevocationColumns = {"revoke_by_hand": hand["ref"]} if hand else {}
    if issuer is None or not issuer.records:
        t = target(root, cfg, pc)
        done = journal.data.get("completed") or {}
        if not t or (isinstance(done, dict) and str(done.get(str(t["ref"]))) == str(t["generation"])):
            return by_hand
        return {"pending_revocation": t["ref"], "revocation_state": "waiting", "gates": journal.data.get("gates") or []}
    try:
        facts = trust.establish(root, cfg, pc, issuer)
    except AigwError as exc:
        return {"provider_keys_error": str(exc), **by_hand}  # the operator's previous key is still theirs to revoke
    pend = _own_pending(root, pc)
    rolled = rolled_back(root, pc, issuer, facts) if issuer.generations else set()
    rows: list[dict[str, Any]] = []
    for k in facts.keys:
        if k.ref in facts.current:
            role = "current"
        elif k.ref in pend:
            role = "being rotated in"
        elif k.ref in rolled:
            role = "newer than the Secret's (a commit rolled it back): kept"
        elif trust.minted_here(root, pc, issuer, k) and issuer.generations:
            role = "pending revocation"
        else:
            role = "not minted by aigw-secrets"
        rows.append({"ref": k.ref, "name": k.name, "active": k.active, "role": role})
    waiting = [str(r["ref"]) for r in rows if r["role"] == "pending revocation"]
    out: RevocationColumns = {"provider_keys": rows, **by_hand}
    if waiting:
        out.update(
            {
                "pending_revocation": ", ".join(waiting),
                "revocation_state": "waiting",
                "gates": journal.data.get("gates") or [],
            }
        )
    if not facts.current:
        out["provider_keys_error"] = f"the credential in {facts.file} is none of these keys"
    return out


def revoke_due(
    root: Path, cfg: Config, access: ClusterAccess, *, assume_applied: bool = False, skip: set[str] | None = None
) -> Revocations:
    """Every pending revocation, as far as its gates allow (``rotate --due``); never raises Waiting."""
    from aigw_secrets.rotation.journal import repo_lock

    out: Revocations = {"revoked": [], "waiting": [], "revoke_errors": []}
    with repo_lock(root):
        for pc in cfg.providers:
            issuer = pending.issuer_for(pc) if pc.auth.secret_key else None
            if issuer is None or not issuer.mints or pc.key in (skip or set()):
                continue  # nothing minted here: an operator names what to revoke (--ref, at a terminal)
            if not issuer.records and target(root, cfg, pc) is None:
                continue
            try:
                result = revoke(root, cfg, pc, access, assume_applied=assume_applied)
                if result["state"] == "revoked" and result.get("refs"):
                    out["revoked"].append(result)
            except Waiting as exc:
                out["waiting"].append(
                    {"provider": pc.key, "reason": str(exc), "no_cluster_access": "no cluster access" in str(exc)}
                )
            except AigwError as exc:
                out["revoke_errors"].append({"provider": pc.key, "error": str(exc), "exit_code": int(exc.code)})
    return out
