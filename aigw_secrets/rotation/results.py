"""The values the rotation engines hand to ``commands/rotate.py`` (and the cron job reads as JSON):
what a rotation did, what a revocation did, a ``status`` row.

TypedDicts: at run time they are the very dicts ``--format json`` prints, so the output is what it
was; mypy checks every key written and read across the module boundary.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NotRequired, TypedDict


class Rotated(TypedDict):
    """One credential (or the MCP seed) rotated."""

    provider: str
    file: str
    files: NotRequired[list[str]]  # every file the rotation changed (companions included)
    issuer: NotRequired[str]  # "operator" when no issuer minted it
    previous: str | None  # the previous credential's identity, never its value
    revoke_after: str | None
    store_version: NotRequired[str | None]  # external-secrets: the pinned store version
    warning: str


class NeedsOperator(TypedDict):
    provider: str
    reason: str
    untrusted_recipients: NotRequired[bool]  # .sops.yaml would add recipients nobody vouched for


class Failure(TypedDict):
    """A rotation or revocation that failed; ``exit_code`` is the run's exit code when it is the first."""

    provider: NotRequired[str]
    error: str
    exit_code: int


class DataKeys(TypedDict):
    data_keys_rotated: int
    data_key_errors: list[Failure]


class Revocation(TypedDict, total=False):
    """What ``rotate --revoke`` did for one provider (``state`` always set)."""

    provider: str
    state: str  # "revoked", "nothing to revoke", "revoked by hand", "revoke by hand"
    ref: str | None
    refs: list[str]
    disabled: list[str]
    why: str
    file: str
    revoke_after: str | None
    safe_now: bool
    generation: str | None


class ByHand(TypedDict):
    """A previous credential an operator supplied: only the operator can revoke it."""

    provider: str
    file: str
    ref: str
    revoke_after: str | None
    safe_now: bool
    generation: str | None


class RevocationTarget(TypedDict):
    """The pending revocation as the Secret file describes it (for ``status`` only, never for a decision)."""

    provider: str
    file: str
    ref: str
    generation: str | None


@dataclass(frozen=True)
class Rollout:
    """What the Secret file says about the generation the cluster gates wait for: its content hash,
    its generation number and (external-secrets) when its value went to the store."""

    content_hash: str | None
    generation: str | None
    stored_at: str | None


class RevocationWaiting(TypedDict):
    provider: str
    reason: str
    no_cluster_access: bool


class Revocations(TypedDict):
    revoked: list[Revocation]
    waiting: list[RevocationWaiting]
    revoke_errors: list[Failure]


class Summary(TypedDict):
    """``rotate``'s result (``--format json``); ``--due`` adds the revocations."""

    rotated: list[Rotated]
    needs_operator: list[NeedsOperator]
    errors: list[Failure]
    data_keys_rotated: int
    revoked: NotRequired[list[Revocation]]
    waiting: NotRequired[list[RevocationWaiting]]
    revoke_errors: NotRequired[list[Failure]]


class MintState(TypedDict):
    mint_state: str | None  # the mint journal's step while one is active
    pending: bool  # a minted credential is held (sops-encrypted) until the rotation writes it


class RevocationColumns(TypedDict, total=False):
    """The revocation part of a ``status`` row (``revoke.status``)."""

    pending_revocation: str
    revocation_state: str
    gates: list[list[object]]  # [name, ok, reason], in checking order
    revoke_by_hand: str
    provider_keys: list[dict[str, object]]
    provider_keys_error: str


class StatusRow(RevocationColumns, total=False):
    """One line of ``status`` (``--format json`` prints the list of them)."""

    provider: str
    auth: str
    file: str
    backend: str
    state: str
    error: str
    generation: int
    rotated_at: str | None
    age_days: int | None
    next_due: str
    data_key_next_due: str | None
    previous_credential: str | None
    previous_revoke_after: str | None
    safe_to_revoke_now: bool
    previous_revoked: bool
    overdue: bool
    data_key_overdue: bool
    needs_operator: str
    remote_key: str | None
    store_version: str | None
    sync: str
