"""The rotation bot's admin credentials: which environment variables hold them, and keeping them out
of everything else.

The bot runs with organisation-level power in its environment (an OpenAI admin key, IAM rights, a
Graph application secret, a GCP key-admin file, a git token). None of it may become a credential
source named by the repository, end up in a Secret or a validation request, or reach a child process
(``sops``, ``git``, the hooks git runs, credential commands): children get ``scrubbed()``.
Standard library only: ``git.py`` (the hook's start-up path) uses it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from aigw_secrets import lean

if lean.TYPE_CHECKING:  # pragma: no cover - for the type checker only
    from pathlib import Path

# Named explicitly; anything with an ADMIN word (OPENAI_ADMIN_KEY, *_ADMIN_KEY_FILE,
# AIGW_SECRETS_ENTRA_ADMIN_CLIENT_SECRET, AIGW_SECRETS_GCP_ADMIN_CREDENTIALS, ...) counts too.
TOKENS = frozenset(
    {"GITHUB_TOKEN", "GH_TOKEN", "GH_ENTERPRISE_TOKEN", "GITLAB_TOKEN", "CI_JOB_TOKEN", "BITBUCKET_TOKEN", "GIT_TOKEN"}
)
# boto3's own credential chain: the bot's IAM rights when it rotates unattended or runs an aws-iam issuer.
AWS = frozenset({"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"})
# The secret stores' tokens (read by the stores' doors, and by Vault's CLI from ~/.vault-token).
STORE_TOKENS = ("VAULT_TOKEN", "BAO_TOKEN", "OP_CONNECT_TOKEN")
_ADMIN_WORD = lean.pattern(r"(^|_)ADMIN(_|$)")

_unattended = False


class unattended:  # a context manager by hand: contextlib is not imported on the hook's start-up path
    """The bot's own run (``rotate --due``): the AWS variables are its IAM rights, never a new key."""

    def __enter__(self) -> None:
        global _unattended
        self._before, _unattended = _unattended, True

    def __exit__(self, *exc: object) -> None:
        global _unattended
        _unattended = self._before


def is_unattended() -> bool:
    """Whether this is the bot's own run (``rotate --due``)."""
    return _unattended


def aws_is_admin() -> bool:
    return _unattended or bool(os.environ.get("AIGW_SECRETS_AWS_ADMIN_PROFILE"))


def is_admin(name: str, *, aws: bool | None = None) -> bool:
    upper = name.upper()
    if upper in TOKENS or _ADMIN_WORD.search(upper):
        return True
    if upper in AWS:
        return aws_is_admin() if aws is None else aws
    return False


def scrubbed(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: this process's) without any admin credential, for a child process. The AWS
    variables go too: a child (sops with KMS included) uses a profile or the pod's identity."""
    base = os.environ if env is None else env
    out = {k: v for k, v in base.items() if not is_admin(k, aws=True)}
    if _unattended and not base.get("AIGW_SECRETS_GCP_ADMIN_CREDENTIALS"):
        # The Application Default Credentials are the bot's GCP admin identity then (``_adc_files``): a
        # child (sops for a gcp_kms key a commit names) finds neither the file nor gcloud's copy of it.
        out.pop("GOOGLE_APPLICATION_CREDENTIALS", None)
        out["CLOUDSDK_CONFIG"] = os.devnull
    return out


def values(*, aws: bool | None = None) -> list[str]:
    """The admin credential values present (the variables, and the files their ``_FILE`` names)."""
    from pathlib import Path

    out: list[str] = []
    for name, value in os.environ.items():
        if not is_admin(name, aws=aws) or not value:
            continue
        if name.upper().endswith(("_FILE", "_CREDENTIALS")):
            out += _file_values(Path(value).expanduser())
        if len(value.strip()) >= 8:
            out.append(value.strip())
    if (_unattended if aws is None else aws) and not os.environ.get("AIGW_SECRETS_GCP_ADMIN_CREDENTIALS"):
        out += [v for path in _adc_files() for v in _file_values(path)]
    # the secret store's token (the bot writes credentials with it): never a provider's credential either
    out += [v.strip() for name in STORE_TOKENS if len(v := os.environ.get(name, "").strip()) >= 8]
    files = [os.environ.get(f"{name}_FILE", "") for name in STORE_TOKENS] + [str(Path("~/.vault-token").expanduser())]
    out += [v for f in files if f for v in _file_values(Path(f).expanduser())]
    return out


def _adc_files() -> list[Path]:
    """Where Application Default Credentials come from: the bot's GCP admin identity in an unattended run
    that names no ``AIGW_SECRETS_GCP_ADMIN_CREDENTIALS`` (the same variable is Vertex's documented source)."""
    from pathlib import Path

    out = [Path(v).expanduser() for v in [os.environ.get("GOOGLE_APPLICATION_CREDENTIALS", "")] if v]
    config = os.environ.get("CLOUDSDK_CONFIG") or str(Path("~/.config/gcloud").expanduser())
    out.append(Path(config) / "application_default_credentials.json")
    return out


def _file_text(path: Path) -> str:
    try:
        with path.open("rb") as fh:
            return fh.read(65536).decode("utf-8", "replace").strip()
    except OSError:
        return ""


def _file_values(path: Path) -> list[str]:
    """An admin file's text, and for a key file its key id and private key (a credential re-serialised
    as JSON no longer contains the file's text)."""
    import json

    text = _file_text(path)
    out = [text] if len(text) >= 8 else []
    try:
        doc = json.loads(text) if text.startswith("{") else None
    except ValueError:
        doc = None
    if isinstance(doc, dict):
        out += [
            v.strip()
            for k in ("private_key_id", "private_key", "client_secret", "refresh_token")
            if isinstance(v := doc.get(k), str) and len(v.strip()) >= 8
        ]
    return out


def leaks(value: str) -> bool:
    """Whether ``value`` is, or contains, one of the bot's admin credentials."""
    return any(v in value for v in values())
