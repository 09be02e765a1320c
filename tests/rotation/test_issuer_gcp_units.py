"""The GCP IAM issuer's decisions on answers the stand-in never gives: a new key without usable
privateKeyData, a Secret value that is not a key file, a key gone before disable/delete, and an
admin credentials file that is unreadable, not a service-account key, or tracked in git."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from aigw_secrets.errors import ConfigError
from aigw_secrets.rotation.issuers import gcp_iam
from aigw_secrets.rotation.issuers.gcp_iam import GcpIam
from aigw_secrets.rotation.issuers.interface import IssuerError, Key, NotFound


class Iam(GcpIam):
    def __init__(self, answer: Any) -> None:
        super().__init__(
            SimpleNamespace(key="vertex", name="vertex", settings={"service_account": "bot@p.iam.gserviceaccount.com"})
        )
        self.answer = answer
        self.calls: list[tuple[str, str]] = []

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        self.calls.append((method, path))
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer


@pytest.mark.parametrize(
    "made",
    [
        {"name": "k"},
        {"name": "k", "privateKeyData": base64.b64encode(b"not json").decode()},
        {"name": "k", "privateKeyData": "%%%"},
    ],
)
def test_a_new_key_without_usable_key_data_is_an_issuer_error(made: dict[str, str]) -> None:
    with pytest.raises(IssuerError, match="without a usable privateKeyData"):
        Iam(made).mint("")


def test_a_value_that_is_not_a_key_file_identifies_nothing() -> None:
    keys = [Key("abc", "", True)]
    assert Iam({}).identify("not json", keys) == set()
    assert Iam({}).identify("[1, 2]", keys) == set()
    assert Iam({}).identify('{"private_key_id": "abc"}', keys) == {"abc"}


def test_a_key_gone_already_is_disabled_and_deleted() -> None:
    iam = Iam(NotFound("GCP IAM API: HTTP 404"))
    iam.disable("k1")
    iam.delete("k1")
    assert iam.calls == [("POST", "/k1:disable"), ("DELETE", "/k1")]


def test_admin_credentials_unreadable_or_not_a_service_account(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "admin.json"
    bad.write_text("{not json")
    monkeypatch.setenv("AIGW_SECRETS_GCP_ADMIN_CREDENTIALS", str(bad))
    with pytest.raises(ConfigError, match=r"cannot read .*admin.json \(JSONDecodeError\)"):
        gcp_iam._admin_credentials()
    bad.write_text('{"type": "authorized_user"}')
    with pytest.raises(ConfigError, match="is not a service-account key file"):
        gcp_iam._admin_credentials()


def test_admin_credentials_never_a_tracked_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / "admin.json").write_text('{"type": "service_account"}')
    subprocess.run(["git", "add", "admin.json"], cwd=root, check=True)
    link = tmp_path / "admin-link.json"
    link.symlink_to(root / "admin.json")
    for named in (root / "admin.json", link):
        monkeypatch.setenv("AIGW_SECRETS_GCP_ADMIN_CREDENTIALS", str(named))
        with pytest.raises(ConfigError, match="a file tracked in git; keep the admin key outside the repository"):
            gcp_iam._admin_credentials()
