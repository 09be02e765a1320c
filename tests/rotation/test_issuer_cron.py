"""End to end: scripts/aigw-rotate-cron over two simulated periods against a bare git remote, the
Kubernetes API stand-in, moto (AWS IAM/STS), the OpenAI admin stand-in and a vLLM stand-in: every
managed credential is minted, lands, is applied, and its predecessor is revoked; no minted value is
ever in plaintext on disk (the whole temp dir and every git object are scanned)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from aigw_secrets.cli import main
from aigw_secrets.sops import files as sops_files
from aigw_secrets.sops.binary import Sops
from testing import adminapis, fakes, kubeapi, standin
from testing.helpers import at_a_terminal, bare_remote, git
from testing.repos import provider_settings, write_cluster

pytestmark = pytest.mark.usefixtures("operator_allows_loopback")

boto3 = pytest.importorskip("boto3")
pytest.importorskip("moto.server")

PROJECT = Path(__file__).resolve().parents[2]
OUT = Path("kubernetes/apps/ai-gateway/providers")
FILES = {"openai": "openai", "bedrock": "aws-bedrock", "vllm": "vllm"}
USER = "bedrock-gateway"


def values(repo: Path) -> dict[str, str]:
    out = {}
    for key, name in FILES.items():
        rel = OUT / f"{name}.secret.sops.yaml"
        doc = yaml.safe_load(sops_files.decrypt(Sops(repo), (repo / rel).read_bytes(), str(rel)))
        out[key] = str(next(iter(doc["stringData"].values())))
    return out


def flux_applies(cluster: kubeapi.FakeCluster, repo: Path, bare: Path) -> None:
    head = git(bare, "rev-parse", "HEAD").strip()
    git(repo, "fetch", "-q", "origin")
    cluster.flux_applies("flux-system", "flux-system", f"main@sha1:{head}")
    for name in FILES.values():
        meta = yaml.safe_load(git(repo, "show", f"{head}:{OUT}/{name}.secret.sops.yaml"))["metadata"]
        cluster.secrets[(meta["namespace"], meta["name"])] = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": meta,
            "data": {},
        }


def cron(repo: Path, env: dict[str, str], now: str) -> tuple[int, dict[str, Any], str]:
    res = subprocess.run(
        [str(PROJECT / "scripts/aigw-rotate-cron")],
        cwd=repo,
        env={**env, "AIGW_SECRETS_NOW": now},
        capture_output=True,
        text=True,
    )
    return res.returncode, json.loads(res.stdout), Path(env["AIGW_TEXTFILE"]).read_text() + res.stderr


@pytest.mark.slow
def test_two_periods(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, moto_url: str, aigw_warm: Path
) -> None:
    moto_port = int(moto_url.rsplit(":", 1)[1])  # the session's moto server, reset for this test
    openai = adminapis.OpenAI()
    with adminapis.serve(openai), standin.serve() as vllm, kubeapi.serve() as cluster:
        vllm.accept_prefix = "sk-aigw-"
        aws = {
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{moto_port}",
            "AWS_ACCESS_KEY_ID": fakes.aws_access_key_id(),
            "AWS_SECRET_ACCESS_KEY": "x",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        for k, v in aws.items():
            monkeypatch.setenv(k, v)
        iam = boto3.client("iam")
        iam.create_user(UserName=USER)
        k1 = iam.create_access_key(UserName=USER)["AccessKey"]
        _, openai_first = openai.add("operator-made")
        vllm_first = fakes.generic_key()
        vllm.status[vllm_first] = 200
        ini = tmp_path / "operator.ini"
        ini.write_text(
            f"[default]\naws_access_key_id = {k1['AccessKeyId']}\naws_secret_access_key = {k1['SecretAccessKey']}\n"
        )
        write_cluster(
            repo,
            {
                **provider_settings("openai"),
                "ai_gateway_openai_issuer": "openai-admin",
                "ai_gateway_openai_project_id": openai.project,
                "ai_gateway_openai_validation_url": f"{openai.url}/v1/models",
                **provider_settings("bedrock"),
                "ai_gateway_bedrock_issuer": "aws-iam",
                "ai_gateway_bedrock_iam_user": USER,
                "ai_gateway_bedrock_validation_url": f"http://127.0.0.1:{moto_port}/",
                **provider_settings("vllm", "api-key"),
                "ai_gateway_vllm_issuer": "self",
                "ai_gateway_vllm_server_secret": "vllm/vllm-api-key",
                "ai_gateway_vllm_validation_url": f"{vllm.url}/v1/models",
                "ai_gateway_rotation_grace_hours": 2,
            },
        )
        monkeypatch.setenv("OPENAI_API_KEY", openai_first)
        monkeypatch.setenv("VLLM_API_KEY", vllm_first)
        assert main(["generate", "--no-input", "--source", f"bedrock=file:{ini}"]) == 0  # the operator names the file
        ini.unlink()
        bare = bare_remote(repo, tmp_path)
        flux_applies(cluster, repo, bare)
        env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "VLLM_API_KEY")}
        env.update(
            OPENAI_ADMIN_KEY=openai.admin_key,
            AIGW_SECRETS_OPENAI_ADMIN_URL=f"{openai.url}/v1",
            KUBECONFIG=str(cluster.kubeconfig(tmp_path / "kubeconfig")),
            AIGW_PUSH="1",
            AIGW_TEXTFILE=str(tmp_path / "aigw.prom"),
            AIGW_SECRETS=str(Path(sys.executable).with_name("aigw-secrets")),
            AIGW_SECRETS_VALIDATE_BACKOFF="0.01",
        )
        minted: list[str] = []

        # period 1: generation 2 of everything (the operator's generation 1 is not ours to revoke)
        rc, s, metrics = cron(repo, env, "2027-06-01T00:00:00Z")
        # the later runs fork from a warm aigw-secrets (the same code, without a fresh interpreter's imports)
        env["AIGW_SECRETS"] = str(aigw_warm)
        assert rc == 0, s
        assert sorted(r["provider"] for r in s["rotated"]) == ["bedrock", "openai", "vllm"] and s["committed"]
        assert "aigw_secrets_credentials_minted 3" in metrics
        g2 = values(repo)
        minted += g2.values()
        assert git(
            bare, "show", f"HEAD:{OUT}/vllm-api-key.vllm.secret.sops.yaml"
        )  # the model server's Secret, same commit
        flux_applies(cluster, repo, bare)
        # AWS allows two keys: the operator retires the first key (not made by this tool) by naming it
        revoke = [env["AIGW_SECRETS"], "rotate", "--revoke", "bedrock", "--ref", k1["AccessKeyId"]]
        for now, code in (("2027-06-02T00:00:00Z", 75), ("2027-06-03T00:00:00Z", 0)):
            res = at_a_terminal(revoke, repo, {**env, "AIGW_SECRETS_NOW": now})  # an operator, not the cron job
            assert res.returncode == code, res.stderr

        # period 2: generation 3; generation 2 waits for the commit, then for nothing
        rc, s, metrics = cron(repo, env, "2027-10-01T00:00:00Z")
        assert rc == 0, s
        assert len(s["rotated"]) == 3 and "aigw_secrets_credentials_minted 3" in metrics
        g3 = values(repo)
        minted += g3.values()
        assert s["revoked"] == []  # not applied yet: nothing revoked in the run that wrote it
        rc, s, metrics = cron(repo, env, "2027-10-01T06:00:00Z")  # grace over, Flux not there yet
        assert rc == 0 and s["revoked"] == [] and len(s["waiting"]) == 3, s
        assert "aigw_secrets_revocations_waiting 3" in metrics
        flux_applies(cluster, repo, bare)
        rc, s, metrics = cron(repo, env, "2027-10-01T07:00:00Z")
        assert rc == 0, s
        assert sorted(r["provider"] for r in s["revoked"]) == ["openai", "vllm"], s  # AWS: disabled, soaking
        keys = {k["AccessKeyId"]: k["Status"] for k in iam.list_access_keys(UserName=USER)["AccessKeyMetadata"]}
        g2_aws = g2["bedrock"].split("aws_access_key_id = ")[1].split()[0]
        g3_aws = g3["bedrock"].split("aws_access_key_id = ")[1].split()[0]
        assert keys == {g2_aws: "Inactive", g3_aws: "Active"}
        rc, s, metrics = cron(repo, env, "2027-10-01T10:00:00Z")
        assert rc == 0 and [r["provider"] for r in s["revoked"]] == ["bedrock"], s
        keys = {k["AccessKeyId"]: k["Status"] for k in iam.list_access_keys(UserName=USER)["AccessKeyMetadata"]}
        assert keys == {g3_aws: "Active"}
        assert sorted(a["name"] for a in openai.accounts.values()) == ["aigw-openai-g3", "operator-made"]
        assert "aigw_secrets_credentials_revoked 1" in metrics

        # no minted value in plaintext anywhere: every file under the temp dir, every git object
        leaks = [
            str(p) for p in tmp_path.rglob("*") if p.is_file() and any(v.encode() in p.read_bytes() for v in minted)
        ]
        assert leaks == []
        for where in (repo, bare):
            objects = subprocess.run(
                ["git", "cat-file", "--batch-all-objects", "--batch"], cwd=where, capture_output=True, check=True
            ).stdout
            assert not any(v.encode() in objects for v in minted)
