"""The store doors against real servers: AWS Secrets Manager in moto (server mode), a
real OpenBao dev server (KV v2), and the 1Password Connect stand-in. The same contract for each:
put makes a new version and keeps the old one, get by version, never write an entry we did not
create, credentials and endpoints from the environment only, no value in any log."""

from __future__ import annotations

import json
import logging
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aigw_secrets.errors import ConfigError, ExitCode
from aigw_secrets.stores import NotOurs, StoreRejected, StoreSettings, check_endpoint, env_secret, open_store
from testing import onepassword


def settings(provider: str, **kw: Any) -> StoreSettings:
    base = StoreSettings(provider, "store", "ClusterSecretStore", "ai-gateway/", "1h", "us-east-1", "secret", "")
    return base._replace(**kw)


@pytest.fixture
def aws(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    for name, value in {
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "store-admin",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    return open_store(settings("aws"))


@pytest.fixture
def vault(bao: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("VAULT_ADDR", bao.url)
    monkeypatch.setenv("VAULT_TOKEN", bao.token)
    return open_store(settings("vault"))


@pytest.fixture
def connect(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, onepassword.Connect]]:
    with onepassword.serve() as server:
        monkeypatch.setenv("OP_CONNECT_HOST", server.url)
        monkeypatch.setenv("OP_CONNECT_TOKEN", server.token)
        yield open_store(settings("onepassword", onepassword_vault=server.vault)), server


def unique_key() -> str:
    return f"ai-gateway/ns/test-{secrets.token_hex(4)}"


@pytest.mark.parametrize("kind", ["aws", "vault", "onepassword"])
def test_versions_and_marks(kind: str, request: pytest.FixtureRequest) -> None:
    store = request.getfixturevalue(kind if kind != "onepassword" else "connect")
    store = store[0] if isinstance(store, tuple) else store
    key = unique_key()
    assert store.ours(key) is None and store.get(key) is None
    v1 = store.put(key, {"apiKey": "first-value"})
    v2 = store.put(key, {"apiKey": "second-value"})
    assert v1 != v2 and store.ours(key) is True
    assert store.get(key) == {"apiKey": "second-value"}
    assert store.current_version(key) == v2
    if store.versioned:  # the previous version stays readable until revoked
        assert store.get(key, v1) == {"apiKey": "first-value"}
        assert store.version_ref(v1) in (f"uuid/{v1}", v1)


def test_aws_stages_and_someone_elses_secret(aws: Any) -> None:
    key = unique_key()
    v1 = aws.put(key, {"apiKey": "a"})
    v2 = aws.put(key, {"apiKey": "b"})
    stages = aws.stages(key)
    assert "AWSCURRENT" in stages[v2] and "AWSPREVIOUS" in stages[v1]
    aws.client().create_secret(Name="ai-gateway/ns/foreign", SecretString=json.dumps({"apiKey": "theirs"}))
    with pytest.raises(NotOurs) as exc:
        aws.put("ai-gateway/ns/foreign", {"apiKey": "ours"})
    assert exc.value.code == ExitCode.CONFIG and "theirs" not in str(exc.value)
    assert aws.get("ai-gateway/ns/foreign") == {"apiKey": "theirs"}


def test_aws_debug_logging_never_shows_a_value(aws: Any, caplog: pytest.LogCaptureFixture) -> None:
    """botocore logs request params and response bodies at DEBUG: held back while the store runs."""
    value = "sk-proj-" + secrets.token_urlsafe(30)
    logging.getLogger().setLevel(logging.DEBUG)
    for name in ("botocore", "boto3", "urllib3"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    with caplog.at_level(logging.DEBUG):
        key = unique_key()
        aws.put(key, {"apiKey": value})
        assert aws.get(key) == {"apiKey": value}
    assert value not in caplog.text
    assert logging.getLogger("botocore").level == logging.DEBUG  # restored afterwards


def test_aws_rejected_credential(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from aigw_secrets.stores.aws import AwsSecretsManager

    class Denied(AwsSecretsManager):
        def client(self) -> Any:
            import botocore.exceptions

            class C:
                def describe_secret(self, **_: Any) -> Any:
                    raise botocore.exceptions.ClientError(
                        {"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "DescribeSecret"
                    )

            return C()

    with pytest.raises(StoreRejected) as exc:
        Denied(settings("aws")).put("k", {"apiKey": "v"})
    assert exc.value.code == ExitCode.PERMISSION


def test_vault_refuses_an_entry_it_did_not_create(vault: Any, bao: Any) -> None:
    import hvac

    other = hvac.Client(url=bao.url, token=bao.token)
    other.secrets.kv.v2.create_or_update_secret(
        path="ai-gateway/ns/foreign", secret={"apiKey": "theirs"}, mount_point="secret"
    )
    with pytest.raises(NotOurs):
        vault.put("ai-gateway/ns/foreign", {"apiKey": "ours"})
    assert vault.get("ai-gateway/ns/foreign") == {"apiKey": "theirs"}


def test_vault_bad_token(bao: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAULT_ADDR", bao.url)
    monkeypatch.setenv("VAULT_TOKEN", "s." + secrets.token_hex(12))
    with pytest.raises(StoreRejected):
        open_store(settings("vault")).put(unique_key(), {"apiKey": "v"})


def test_vault_token_only_from_the_environment(bao: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAULT_ADDR", bao.url)
    monkeypatch.delenv("VAULT_TOKEN", raising=False)
    monkeypatch.delenv("BAO_TOKEN", raising=False)
    with pytest.raises(StoreRejected, match="VAULT_TOKEN"):
        open_store(settings("vault")).get("x")


def test_onepassword_refuses_an_untagged_item_and_a_bad_token(
    connect: tuple[Any, onepassword.Connect], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, server = connect
    server.items["x" * 26] = {
        "id": "x" * 26,
        "title": "ai-gateway/ns/foreign",
        "tags": [],
        "version": 1,
        "vault": {"id": server.vault},
        "fields": [{"id": "f", "label": "apiKey", "value": "theirs"}],
    }
    with pytest.raises(NotOurs):
        store.put("ai-gateway/ns/foreign", {"apiKey": "ours"})
    assert store.get("ai-gateway/ns/foreign") == {"apiKey": "theirs"}
    monkeypatch.setenv("OP_CONNECT_TOKEN", "wrong")
    with pytest.raises(StoreRejected):
        store.get("ai-gateway/ns/foreign")


@pytest.mark.parametrize(
    ("url", "allow", "ok"),
    [
        ("https://vault.example.com", False, True),
        ("http://127.0.0.1:8200", False, True),
        ("http://vault.vault.svc:8200", False, False),
        ("http://vault.vault.svc:8200", True, True),
        ("ftp://vault", True, False),
    ],
)
def test_endpoint_policy(url: str, allow: bool, ok: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if allow:
        monkeypatch.setenv("AIGW_SECRETS_STORE_ALLOW_HTTP", "1")
    if ok:
        assert check_endpoint(url, "$X") == url
    else:
        with pytest.raises(ConfigError, match="https"):
            check_endpoint(url, "$X")


def test_aws_endpoint_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://sm.example.com")
    with pytest.raises(ConfigError, match="AWS_ENDPOINT_URL"):
        open_store(settings("aws")).get("k")


def test_onepassword_keeps_fields_someone_added(connect: tuple[Any, onepassword.Connect]) -> None:
    from aigw_secrets.stores import holds

    store, server = connect
    key = unique_key()
    store.put(key, {"apiKey": "first"})
    (item,) = server.items.values()
    item["fields"].append({"id": "n", "label": "notes", "value": "rotated by the gateway bot", "type": "STRING"})
    store.put(key, {"apiKey": "second"})
    got = store.get(key)
    assert got == {"apiKey": "second", "notes": "rotated by the gateway bot"} and holds(got, {"apiKey": "second"})
    assert [f["label"] for f in server.items[item["id"]]["fields"]].count(
        "apiKey"
    ) == 1  # ESO wants one field per label


def test_store_credential_file_never_a_tracked_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / "token.txt").write_text("s.token-in-git\n")
    subprocess.run(["git", "add", "token.txt"], cwd=root, check=True)
    link = tmp_path / "vault-token"
    link.symlink_to(root / "token.txt")
    monkeypatch.delenv("VAULT_TOKEN", raising=False)
    monkeypatch.setenv("VAULT_TOKEN_FILE", str(link))
    with pytest.raises(ConfigError, match="a file tracked in git; keep the Vault store credential outside"):
        env_secret("VAULT_TOKEN", "Vault store")
    (tmp_path / "own-token").write_text("s.own\n")
    monkeypatch.setenv("VAULT_TOKEN_FILE", str(tmp_path / "own-token"))
    assert env_secret("VAULT_TOKEN", "Vault store") == "s.own"
    monkeypatch.delenv("VAULT_TOKEN_FILE")
    with pytest.raises(StoreRejected, match=r"Vault store: no credential: set \$VAULT_TOKEN \(or \$VAULT_TOKEN_FILE\)"):
        env_secret("VAULT_TOKEN", "Vault store")


def test_aws_store_keeps_one_deadline_over_slow_headers(monkeypatch: pytest.MonkeyPatch) -> None:
    """The store's boto3 requests go through aigw_secrets.http: a server that sends its headers one
    byte at a time is cut off at the deadline (botocore's own read timeout never trips on it)."""
    from aigw_secrets.stores import aws as aws_store
    from aigw_secrets.stores.base import StoreError
    from testing.slowhttp import SlowHeaders

    slow = SlowHeaders()
    try:
        for name, value in {
            "AWS_ENDPOINT_URL": slow.url,
            "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
            "AWS_SECRET_ACCESS_KEY": "store-admin",
        }.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setattr(aws_store, "DEADLINE", 0.2)
        with pytest.raises(StoreError):
            open_store(settings("aws")).get("ai-gateway/ns/slow")
    finally:
        slow.close()
    assert slow.completed == 0
