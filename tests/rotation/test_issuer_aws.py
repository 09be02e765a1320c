"""Issuer ``aws-iam`` against moto in server mode (a real IAM/STS emulator) on 127.0.0.1: create,
validate with STS, write, gates, deactivate, delete; the 2-key limit; kill -9 at every step."""

from __future__ import annotations

import configparser
from pathlib import Path
from typing import Any

import pytest
import yaml

from aigw_secrets.cli import main
from aigw_secrets.errors import ExitCode
from aigw_secrets.sops import files as sops_files
from aigw_secrets.sops.binary import Sops
from testing import fakes, kubeapi
from testing.helpers import git, kill_then_resume
from testing.repos import provider_settings, write_cluster

pytestmark = pytest.mark.usefixtures("operator_allows_loopback")

boto3 = pytest.importorskip("boto3")

OUT = Path("kubernetes/apps/ai-gateway/providers")
SECRET = OUT / "aws-bedrock.secret.sops.yaml"
USER = "bedrock-gateway"


@pytest.fixture
def iam(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    for name, value in {
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_ACCESS_KEY_ID": fakes.aws_access_key_id(),
        "AWS_SECRET_ACCESS_KEY": "admin-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AIGW_SECRETS_VALIDATE_BACKOFF", "0.01")
    client = boto3.client("iam", region_name="us-east-1")
    client.create_user(UserName=USER)
    return client


def keys(iam: Any) -> dict[str, str]:
    return {k["AccessKeyId"]: k["Status"] for k in iam.list_access_keys(UserName=USER)["AccessKeyMetadata"]}


def secret_key_id(repo: Path) -> str:
    plain = yaml.safe_load(sops_files.decrypt(Sops(repo), (repo / SECRET).read_bytes(), str(SECRET)))
    parser = configparser.ConfigParser()
    parser.read_string(plain["stringData"]["credentials"])
    return parser["default"]["aws_access_key_id"]


def ann(repo: Path) -> dict[str, str]:
    return dict(yaml.safe_load((repo / SECRET).read_text())["metadata"]["annotations"])


def setup_bedrock(repo: Path, iam: Any, moto_url: str, tmp_path: Path) -> str:
    """The operator's first key (not made by this tool) in the Secret; returns its id."""
    k = iam.create_access_key(UserName=USER)["AccessKey"]
    ini = tmp_path / "operator.ini"
    ini.write_text(
        f"[default]\naws_access_key_id = {k['AccessKeyId']}\naws_secret_access_key = {k['SecretAccessKey']}\n"
    )
    settings = {
        **provider_settings("bedrock"),
        "ai_gateway_bedrock_validation_url": f"{moto_url}/",
        "ai_gateway_bedrock_issuer": "aws-iam",
        "ai_gateway_bedrock_iam_user": USER,
    }
    write_cluster(repo, settings)
    assert main(["generate", "--no-input", "--source", f"bedrock=file:{ini}"]) == 0  # the operator names the file
    ini.unlink()
    return str(k["AccessKeyId"])


@pytest.mark.usefixtures("at_terminal")
def test_full_cycle(
    repo: Path,
    iam: Any,
    moto_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    k1 = setup_bedrock(repo, iam, moto_url, tmp_path)
    assert main(["rotate", "--provider", "bedrock"]) == 0
    k2 = secret_key_id(repo)
    assert keys(iam) == {k1: "Active", k2: "Active"}
    a = ann(repo)
    assert a["aigw-secrets.io/issuer"] == "aws-iam" and a["aigw-secrets.io/credential-ref"] == k2
    assert "aigw-secrets.io/previous-issued-ref" not in a  # k1 is the operator's
    tags = {t["Key"]: t["Value"] for t in iam.list_user_tags(UserName=USER)["Tags"]}
    assert tags[k2] == "aigw-aws-bedrock-g2"
    # the new key authenticates as the user (STS through boto3, as the gateway would use it)
    plain = yaml.safe_load(sops_files.decrypt(Sops(repo), (repo / SECRET).read_bytes(), str(SECRET)))
    parser = configparser.ConfigParser()
    parser.read_string(plain["stringData"]["credentials"])
    sts = boto3.client(
        "sts",
        region_name="us-east-1",
        aws_access_key_id=k2,
        aws_secret_access_key=parser["default"]["aws_secret_access_key"],
    )
    assert sts.get_caller_identity()["Arn"].endswith(f":user/{USER}")

    # 2-key limit: k1 is active and not ours -> an operator has to act, nothing changes
    capsys.readouterr()
    assert main(["rotate", "--provider", "bedrock"]) == ExitCode.MANUAL_ACTION
    assert f"--ref {k1}" in capsys.readouterr().err
    assert keys(iam) == {k1: "Active", k2: "Active"} and secret_key_id(repo) == k2
    # the operator names it: gates (assumed applied) -> Inactive, then deleted after the soak
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "g2")
    monkeypatch.setenv("AIGW_SECRETS_NOW", "2099-01-01T00:00:00Z")
    assert main(["rotate", "--revoke", "bedrock", "--ref", k1, "--assume-applied"]) == ExitCode.LOCKED
    assert keys(iam) == {k1: "Inactive", k2: "Active"}
    monkeypatch.setenv("AIGW_SECRETS_NOW", "2099-01-02T00:00:00Z")
    assert main(["rotate", "--revoke", "bedrock", "--ref", k1, "--assume-applied"]) == 0
    assert keys(iam) == {k2: "Active"}

    # generation 3 through the cluster gates: exactly the previous key goes, nothing else
    monkeypatch.delenv("AIGW_SECRETS_NOW")
    assert main(["rotate", "--provider", "bedrock"]) == 0
    k3 = secret_key_id(repo)
    assert ann(repo)["aigw-secrets.io/previous-issued-ref"] == k2
    git(repo, "commit", "-qam", "g3")
    head = git(repo, "rev-parse", "HEAD").strip()
    with kubeapi.serve() as cluster:
        monkeypatch.setenv("KUBECONFIG", str(cluster.kubeconfig(tmp_path / "kubeconfig")))
        monkeypatch.setenv("AIGW_SECRETS_NOW", "2099-02-01T00:00:00Z")
        cluster.flux_applies("flux-system", "flux-system", f"main@sha1:{head}", ready=False)
        assert main(["rotate", "--revoke", "bedrock"]) == ExitCode.LOCKED  # not applied
        cluster.flux_applies("flux-system", "flux-system", f"main@sha1:{head}")
        meta = yaml.safe_load((repo / SECRET).read_text())["metadata"]
        old_meta = {**meta, "annotations": {**meta["annotations"], "aigw-secrets.io/content-hash": "scrypt:old:old"}}
        cluster.secrets[("ai-gateway", meta["name"])] = {"metadata": old_meta, "data": {}}
        assert main(["rotate", "--revoke", "bedrock"]) == ExitCode.LOCKED  # applied, old generation in the cluster
        assert keys(iam) == {k2: "Active", k3: "Active"}
        cluster.secrets[("ai-gateway", meta["name"])] = {"metadata": meta, "data": {}}
        assert main(["rotate", "--revoke", "bedrock"]) == ExitCode.LOCKED  # all gates: disabled, soak starts
        assert keys(iam) == {k2: "Inactive", k3: "Active"}
        monkeypatch.setenv("AIGW_SECRETS_NOW", "2099-02-02T00:00:00Z")
        assert main(["rotate", "--revoke", "bedrock"]) == 0
    assert keys(iam) == {k3: "Active"}
    assert secret_key_id(repo) == k3


def test_two_key_limit_deletes_our_inactive_key(
    repo: Path, iam: Any, moto_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    k1 = setup_bedrock(repo, iam, moto_url, tmp_path)
    iam.delete_access_key(UserName=USER, AccessKeyId=k1)  # a user with only the key in the Secret... gone
    assert main(["rotate", "--provider", "bedrock"]) == 0
    k2 = secret_key_id(repo)
    assert main(["rotate", "--provider", "bedrock"]) == 0
    k3 = secret_key_id(repo)
    iam.update_access_key(UserName=USER, AccessKeyId=k2, Status="Inactive")  # disabled by a revocation, not yet deleted
    assert main(["rotate", "--provider", "bedrock"]) == 0  # room made: our inactive k2 deleted
    k4 = secret_key_id(repo)
    assert keys(iam) == {k3: "Active", k4: "Active"}
    # a key we did not create is never deleted to make room, even inactive, without --force
    iam.delete_access_key(UserName=USER, AccessKeyId=k3)
    foreign = iam.create_access_key(UserName=USER)["AccessKey"]["AccessKeyId"]
    iam.update_access_key(UserName=USER, AccessKeyId=foreign, Status="Inactive")
    assert main(["rotate", "--provider", "bedrock"]) == ExitCode.MANUAL_ACTION
    assert foreign in keys(iam)


# The steps the AWS issuer adds to the engine's (minting, aws-created, minted); the engine's generic steps
# (planned, obtained, validated, encrypted, written) run once, with the cheapest issuer (test_issuer_self.py).
@pytest.mark.parametrize("step", ["minting", "aws-created", "minted"])
def test_kill_at_every_step(repo: Path, iam: Any, moto_url: str, tmp_path: Path, step: str) -> None:
    k1 = setup_bedrock(repo, iam, moto_url, tmp_path)
    res = kill_then_resume(repo, ["rotate", "--provider", "bedrock"], step)
    assert res.returncode == 0, res.stderr
    new = secret_key_id(repo)
    assert keys(iam) == {k1: "Active", new: "Active"}  # no orphan left behind, none lost
    if step == "aws-created":
        assert "revoking orphan" in res.stderr
    assert not (repo / ".git/aigw-secrets/pending-bedrock.sops.yaml").exists()


# --- attacks a contributor can commit, against moto --------------------------------------


def test_forged_secret_with_another_users_key(
    repo: Path, iam: Any, moto_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Class 3 (AWS): a Secret encrypted to the public recipient only, holding another IAM user's
    key (it authenticates at STS), whose annotations name the live key as the previous one. Neither
    ``--revoke --assume-applied`` nor the cron run disables or deletes anything."""
    import os

    k1 = setup_bedrock(repo, iam, moto_url, tmp_path)
    assert main(["rotate", "--provider", "bedrock"]) == 0
    live = secret_key_id(repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "g2")
    iam.create_user(UserName="someone-else")
    other = iam.create_access_key(UserName="someone-else")["AccessKey"]
    doc = yaml.safe_load((repo / SECRET).read_text())
    meta = doc["metadata"]
    meta["annotations"].update(
        {
            "aigw-secrets.io/credential-ref": k1,
            "aigw-secrets.io/previous-issued-ref": live,
            "aigw-secrets.io/previous-revoke-after": "2020-01-01T00:00:00Z",
        }
    )
    ini = f"[default]\naws_access_key_id = {other['AccessKeyId']}\naws_secret_access_key = {other['SecretAccessKey']}\n"
    plain = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": meta,
        "type": "Opaque",
        "stringData": {"credentials": ini},
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOPS_AGE_KEY")}
    (repo / SECRET).write_bytes(
        Sops(repo, env={**env, "SOPS_AGE_KEY_FILE": "/nonexistent"}).encrypt(
            yaml.safe_dump(plain).encode(), str(SECRET)
        )
    )
    git(repo, "commit", "-qam", "tidy")
    monkeypatch.setenv("AIGW_SECRETS_NOW", "2099-01-01T00:00:00Z")
    assert main(["rotate", "--revoke", "bedrock", "--assume-applied"]) != 0
    assert main(["rotate", "--due", "--assume-applied"]) == ExitCode.CONFIG  # never for the cron job
    main(["rotate", "--due"])
    assert keys(iam) == {k1: "Active", live: "Active"}


def test_boto3_calls_have_one_deadline(
    repo: Path, iam: Any, moto_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Class 7 (AWS): an IAM endpoint that sends its headers a byte at a time: the call ends at the
    deadline (exit 69) and the repository lock is free again."""
    from testing.slowhttp import SlowHeaders

    setup_bedrock(repo, iam, moto_url, tmp_path)
    slow = SlowHeaders()
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL", slow.url)
        monkeypatch.setenv("AIGW_SECRETS_HTTP_DEADLINE", "0.2")
        code = main(["rotate", "--provider", "bedrock"])
    finally:
        slow.close()
    assert code == ExitCode.UNAVAILABLE
    assert slow.completed == 0
    from aigw_secrets.rotation.journal import repo_lock

    with repo_lock(repo):
        pass


def test_debug_logging_never_shows_a_minted_secret(
    repo: Path, iam: Any, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """botocore logs response bodies at DEBUG (CreateAccessKey's carries the new secret): held back
    while the issuer talks to IAM, as for the AWS store."""
    import logging

    from aigw_secrets.gateway import config
    from aigw_secrets.rotation.issuers.aws_iam import AwsIam

    write_cluster(repo, {**provider_settings("bedrock"), "ai_gateway_bedrock_iam_user": USER})
    (pc,) = config.load(repo).providers
    for name in ("", "botocore", "boto3", "urllib3"):
        monkeypatch.setattr(logging.getLogger(name), "level", logging.DEBUG)
    with caplog.at_level(logging.DEBUG):
        minted = AwsIam(pc).mint("aigw-aws-bedrock-g1")
    secret = configparser.ConfigParser()
    secret.read_string(minted.value)
    assert secret["default"]["aws_secret_access_key"] not in caplog.text
    assert logging.getLogger("botocore").level == logging.DEBUG  # restored afterwards
