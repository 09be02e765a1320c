"""Issue 21 end to end: the external-secrets backend against moto's Secrets Manager (server mode)
and the Kubernetes API stand-in playing ESO's controller: generate, rotate an issuer-minted
credential through the store, revoke only once ESO has synced it; no value in the work tree, git
objects or temp files."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from aigw_secrets.cli import main
from aigw_secrets.errors import ExitCode
from testing import adminapis, crds, kubeapi
from testing.helpers import git
from testing.repos import provider_settings, write_cluster

pytestmark = pytest.mark.usefixtures("operator_allows_loopback")
boto3 = pytest.importorskip("boto3")
pytest.importorskip("moto.server")

OUT = Path("kubernetes/apps/ai-gateway/providers")
ES_FILE = OUT / "openai.externalsecret.yaml"
KEY = "ai-gateway/ai-gateway/openai-apikey"


@pytest.fixture
def sm(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    for name, value in {
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "store-admin",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    return boto3.client("secretsmanager", region_name="us-east-1")


def eso_settings(**extra: Any) -> dict[str, Any]:
    return {
        "ai_gateway_secret_backend": "external-secrets",
        "ai_gateway_external_secrets_store": "aws-secrets-manager",
        **extra,
    }


@pytest.fixture
def openai(repo: Path, sm: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[adminapis.OpenAI]:
    api = adminapis.OpenAI()
    with adminapis.serve(api):
        monkeypatch.setenv("AIGW_SECRETS_VALIDATE_BACKOFF", "0.01")
        monkeypatch.setenv("AIGW_SECRETS_OPENAI_ADMIN_URL", f"{api.url}/v1")
        monkeypatch.setenv("OPENAI_ADMIN_KEY", api.admin_key)
        _, first = api.add("operator-made")
        settings = {
            **provider_settings("openai"),
            **eso_settings(),
            "ai_gateway_openai_issuer": "openai-admin",
            "ai_gateway_openai_project_id": api.project,
            "ai_gateway_openai_validation_url": f"{api.url}/v1/models",
        }
        write_cluster(repo, settings)
        monkeypatch.setenv("OPENAI_API_KEY", first)
        assert main(["generate", "--no-input"]) == 0
        monkeypatch.delenv("OPENAI_API_KEY")
        yield api


def es_doc(repo: Path) -> dict[str, Any]:
    return dict(yaml.safe_load((repo / ES_FILE).read_text()))


def store_value(sm: Any, version: str | None = None) -> dict[str, str]:
    args = {"SecretId": KEY, **({"VersionId": version} if version else {})}
    return dict(json.loads(sm.get_secret_value(**args)["SecretString"]))


def reader(sm: Any) -> Any:
    def read(key: str, prop: str, version: str | None) -> str:
        args: dict[str, Any] = {"SecretId": key}
        if version:
            args["VersionId" if version.startswith("uuid/") else "VersionStage"] = version.removeprefix("uuid/")
        return str(json.loads(sm.get_secret_value(**args)["SecretString"])[prop])

    return read


def no_value_anywhere(repo: Path, values: list[str], tmp: Path) -> None:
    """Neither the work tree, nor any git object (loose or packed), nor the temp dir holds a value."""
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "state", "--allow-empty")
    objects = subprocess.run(
        ["git", "cat-file", "--batch-all-objects", "--batch"], cwd=repo, capture_output=True, check=True
    ).stdout
    assert len(objects) > 1000
    for v in values:
        assert v.encode() not in objects, "a credential value is in a git object"
        hits = subprocess.run(
            ["grep", "-rlF", "--", v, str(repo), os.environ["TMPDIR"], str(tmp)], capture_output=True, text=True
        ).stdout
        assert not hits, f"a credential value is in {hits}"


@pytest.mark.shared
def test_generate_writes_the_store_and_an_externalsecret(
    repo: Path, openai: adminapis.OpenAI, sm: Any, shared_crds: None, tmp_path: Path
) -> None:
    doc = es_doc(repo)
    first = next(a for a in openai.accounts.values() if a["name"] == "operator-made")["_key"]
    assert not (repo / OUT / "openai.secret.sops.yaml").exists()
    assert doc["spec"]["target"]["name"] == "openai-apikey"  # what the BackendSecurityPolicy reads
    (policy,) = [
        d
        for d in yaml.safe_load_all((repo / OUT / "openai.yaml").read_text())
        if d and d["kind"] == "BackendSecurityPolicy"
    ]
    assert policy["spec"]["apiKey"]["secretRef"]["name"] == doc["spec"]["target"]["name"]
    version = doc["metadata"]["annotations"]["aigw-secrets.io/store-version"]
    assert doc["spec"]["data"][0]["remoteRef"] == {"key": KEY, "property": "apiKey", "version": f"uuid/{version}"}
    assert store_value(sm, version) == {"apiKey": first}
    tags = {t["Key"]: t["Value"] for t in sm.describe_secret(SecretId=KEY)["Tags"]}
    assert tags["aigw-secrets.io/managed-by"] == "aigw-secrets"
    report = crds.validate(doc)
    assert not report.schema_errors and not report.cel_failures, report
    kustomization = yaml.safe_load((repo / OUT / "kustomization.yaml").read_text().split("---\n", 1)[-1])
    assert "openai.externalsecret.yaml" in kustomization["resources"]
    # ESO makes exactly the Secret the SOPS backend would have
    with kubeapi.serve() as cluster:
        cluster.store_reader = reader(sm)
        cluster.apply_external_secret(doc)
        live = cluster.secrets[("ai-gateway", "openai-apikey")]
        import base64

        assert base64.b64decode(live["data"]["apiKey"]).decode() == first
        assert (
            live["metadata"]["annotations"]["aigw-secrets.io/content-hash"]
            == doc["metadata"]["annotations"]["aigw-secrets.io/content-hash"]
        )
    # unchanged input: no new store version, no file change
    before = (repo / ES_FILE).read_bytes()
    versions = len(sm.list_secret_version_ids(SecretId=KEY)["Versions"])
    assert main(["generate", "--no-input"]) == 0
    assert (repo / ES_FILE).read_bytes() == before
    assert len(sm.list_secret_version_ids(SecretId=KEY)["Versions"]) == versions
    assert main(["scan", str(repo / OUT)]) == 0  # the seam: what generate writes, scan accepts
    no_value_anywhere(repo, [first], tmp_path)


def test_rotate_through_the_store_with_gated_revocation(
    repo: Path, openai: adminapis.OpenAI, sm: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = next(a for a in openai.accounts.values() if a["name"] == "operator-made")["_key"]
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "g1")
    v1 = es_doc(repo)["metadata"]["annotations"]["aigw-secrets.io/store-version"]
    assert main(["rotate", "--provider", "openai"]) == 0  # g2: minted by openai-admin, validated, stored
    assert main(["rotate", "--provider", "openai"]) == 0  # g3: g2 is the previous one, ours to revoke
    g2 = next(a for a in openai.accounts.values() if a["name"] == "aigw-openai-g2")
    g3 = next(a for a in openai.accounts.values() if a["name"] == "aigw-openai-g3")
    doc = es_doc(repo)
    ann = doc["metadata"]["annotations"]
    v3 = ann["aigw-secrets.io/store-version"]
    assert store_value(sm, v3) == {"apiKey": g3["_key"]} and store_value(sm) == {"apiKey": g3["_key"]}
    stages = {
        v["VersionId"]: v.get("VersionStages", [])
        for v in sm.list_secret_version_ids(SecretId=KEY, IncludeDeprecated=True)["Versions"]
    }
    assert "AWSCURRENT" in stages[v3] and any("AWSPREVIOUS" in s for s in stages.values())
    assert v1 in stages  # the first version is still there
    assert (
        ann["aigw-secrets.io/previous-issued-ref"] == g2["id"]
        and ann["force-sync"] == ann["aigw-secrets.io/rotated-at"]
    )
    assert doc["spec"]["data"][0]["remoteRef"]["version"] == f"uuid/{v3}"
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "g3")
    head = git(repo, "rev-parse", "HEAD").strip()
    monkeypatch.setenv("AIGW_SECRETS_NOW", "2099-01-01T00:00:00Z")  # past the grace period
    with kubeapi.serve() as cluster:
        kubeconfig = cluster.kubeconfig(tmp_path / "kubeconfig")
        monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
        cluster.store_reader = reader(sm)
        cluster.flux_applies("flux-system", "flux-system", f"main@sha1:{head}")
        # ESO has not synced the new ExternalSecret yet (Flux applied, ESO slow): no revocation
        cluster.eso_auto = False
        cluster.apply_external_secret(doc)
        assert main(["rotate", "--revoke", "openai"]) == ExitCode.LOCKED
        assert g2["id"] in openai.accounts
        # ESO synced, but a store error: Ready=False → still waiting
        cluster.store_reader = lambda *a: (_ for _ in ()).throw(KeyError("boom"))
        cluster.eso_sync("ai-gateway", "openai-apikey")
        assert main(["rotate", "--revoke", "openai"]) == ExitCode.LOCKED
        assert g2["id"] in openai.accounts
        # a sync from before the store write does not count
        cluster.store_reader = reader(sm)
        import datetime as dt

        cluster.now = lambda: dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
        cluster.eso_sync("ai-gateway", "openai-apikey")
        assert main(["rotate", "--revoke", "openai"]) == ExitCode.LOCKED
        assert g2["id"] in openai.accounts
        # ESO synced after the write; the Secret carries the new content hash: revoke exactly g2
        cluster.now = lambda: dt.datetime(2099, 1, 1, tzinfo=dt.UTC)
        cluster.eso_sync("ai-gateway", "openai-apikey")
        assert main(["rotate", "--revoke", "openai"]) == 0
    assert g2["id"] not in openai.accounts and g3["id"] in openai.accounts
    assert sorted(a["name"] for a in openai.accounts.values()) == ["aigw-openai-g3", "operator-made"]
    no_value_anywhere(repo, [first, g2["_key"], g3["_key"]], tmp_path)


def test_status_shows_store_version(repo: Path, openai: adminapis.OpenAI, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["status", "--format", "json"]) in (0, 1)
    (row,) = json.loads(capsys.readouterr().out)
    assert (
        row["backend"] == "external-secrets"
        and row["store_version"] == es_doc(repo)["metadata"]["annotations"]["aigw-secrets.io/store-version"]
    )
    assert row["remote_key"] == KEY and row["sync"] == "not checked"


def test_refuses_a_store_entry_it_did_not_create(
    repo: Path, sm: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from testing import fakes

    sm.create_secret(Name=KEY, SecretString=json.dumps({"apiKey": "someone-elses"}))
    write_cluster(repo, {**provider_settings("openai"), **eso_settings()})
    monkeypatch.setenv("OPENAI_API_KEY", fakes.openai_project_key())
    assert main(["generate", "--no-input"]) == ExitCode.CONFIG
    assert "not created by aigw-secrets" in capsys.readouterr().err
    assert store_value(sm) == {"apiKey": "someone-elses"}
    assert not (repo / ES_FILE).exists()


@pytest.mark.parametrize("interval", ["0", "0s", "0h0m", "soon"])
def test_refresh_interval_zero_is_refused(repo: Path, interval: str, capsys: pytest.CaptureFixture[str]) -> None:
    write_cluster(
        repo, {**provider_settings("openai"), **eso_settings(ai_gateway_external_secrets_refresh_interval=interval)}
    )
    assert main(["generate", "--no-input"]) == ExitCode.CONFIG
    assert "refresh_interval" in capsys.readouterr().err


def test_migrate_both_ways(
    repo: Path, sm: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """SOPS → store → SOPS: every managed value lands in the store and comes back identical; the
    bootstrap Secret stays SOPS and untouched; generate --check agrees with what migrate wrote; no
    value in the work tree, git objects or temp files."""
    import base64

    from aigw_secrets.sops import files as sops_files
    from aigw_secrets.sops.binary import Sops
    from testing import fakes
    from testing.repos import set_credentials

    values = set_credentials(monkeypatch, tmp_path)
    settings = {
        **provider_settings("openai"),
        **provider_settings("bedrock"),
        **provider_settings("vertex"),
        **provider_settings("azure", "entra"),
    }
    write_cluster(repo, {**settings, "ai_gateway_mcp_backends": ["search=https://mcp.example.com/mcp"]})
    mcp_key = fakes.generic_key()
    monkeypatch.setenv("MCP_SEARCH_API_KEY", mcp_key)
    assert main(["generate", "--no-input"]) == 0
    bootstrap = repo / "kubernetes/apps/external-secrets/store-token.secret.sops.yaml"
    bootstrap.parent.mkdir(parents=True)
    token = fakes.generic_key()
    bootstrap.write_bytes(
        sops_files.encrypt(
            Sops(repo),
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {"name": "store-token"},
                    "stringData": {"token": token},
                }
            ).encode(),
            str(bootstrap.relative_to(repo)),
        )
    )
    boot_bytes = bootstrap.read_bytes()
    secret_files = sorted(p.name for p in (repo / OUT).glob("*.secret.sops.yaml"))
    plain = {
        p: yaml.safe_load(sops_files.decrypt(Sops(repo), (repo / OUT / p).read_bytes(), str(OUT / p)))["stringData"]
        for p in secret_files
    }
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "sops")
    for name in [*values, "MCP_SEARCH_API_KEY"]:  # the migration needs no provider credential
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    (tmp_path / "sa.json").unlink()  # the test's own input file: gone, so any later copy is a leak
    # the store's own credential: a profile, so Bedrock's AWS_ACCESS_KEY_ID never mixes with it
    creds = tmp_path / "aws-credentials"
    creds.write_text("[store]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = store-admin\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
    monkeypatch.setenv("AIGW_SECRETS_STORE_AWS_PROFILE", "store")
    # store settings first; the backend key is what migrate flips
    (repo / "cluster.yaml").write_text(
        (repo / "cluster.yaml").read_text() + "ai_gateway_external_secrets_store: aws-secrets-manager\n"
    )
    assert main(["migrate", "--to", "external-secrets"]) == 0
    assert "ai_gateway_secret_backend: external-secrets" in (repo / "cluster.yaml").read_text()
    assert sorted(p.name for p in (repo / OUT).glob("*.secret.sops.yaml")) == []
    es_files = sorted(p.name for p in (repo / OUT).glob("*.externalsecret.yaml"))
    assert es_files == sorted(f.replace(".secret.sops.yaml", ".externalsecret.yaml") for f in secret_files)
    assert bootstrap.read_bytes() == boot_bytes
    kustomization = yaml.safe_load((repo / OUT / "kustomization.yaml").read_text().split("---\n", 1)[-1])
    assert set(es_files) <= set(kustomization["resources"])
    capsys.readouterr()
    assert main(["generate", "--check", "--no-input"]) == 0, capsys.readouterr()  # the seam: generate agrees
    # ESO (the stand-in) makes exactly the Secrets the SOPS files held
    with kubeapi.serve() as cluster:
        cluster.store_reader = reader(sm)
        for name in es_files:
            doc = yaml.safe_load((repo / OUT / name).read_text())
            cluster.apply_external_secret(doc)
            live = cluster.secrets[(doc["metadata"]["namespace"], doc["spec"]["target"]["name"])]
            made = {k: base64.b64decode(v).decode() for k, v in live["data"].items()}
            assert made == plain[name.replace(".externalsecret.yaml", ".secret.sops.yaml")]
            assert not crds.CRD_DIR.is_dir() or not crds.validate(doc).schema_errors
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "to external-secrets")
    # and back
    assert main(["migrate", "--to", "sops"]) == 0
    assert "ai_gateway_secret_backend: sops" in (repo / "cluster.yaml").read_text()
    assert sorted(p.name for p in (repo / OUT).glob("*.externalsecret.yaml")) == []
    for name, data in plain.items():
        back = yaml.safe_load(sops_files.decrypt(Sops(repo), (repo / OUT / name).read_bytes(), str(OUT / name)))
        assert back["stringData"] == data
    assert bootstrap.read_bytes() == boot_bytes
    capsys.readouterr()
    assert main(["generate", "--check", "--no-input"]) == 0, capsys.readouterr()
    secrets_ = [
        *(v for k, v in values.items() if k != "GCP_PRIVATE_KEY"),
        values["GCP_PRIVATE_KEY"].splitlines()[1],
        mcp_key,
        token,
    ]
    no_value_anywhere(repo, secrets_, tmp_path)


def test_migrate_needs_store_settings(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from testing import fakes

    write_cluster(repo, provider_settings("openai"))
    monkeypatch.setenv("OPENAI_API_KEY", fakes.openai_project_key())
    assert main(["generate", "--no-input"]) == 0
    before = (repo / "cluster.yaml").read_text()
    assert main(["migrate", "--to", "external-secrets"]) == ExitCode.CONFIG
    err = capsys.readouterr().err
    assert "cluster.yaml" in err and "ai_gateway_external_secrets_store" in err and "aigw-migrate-" not in err
    assert (repo / "cluster.yaml").read_text() == before
    assert (repo / OUT / "openai.secret.sops.yaml").exists()


def doctor_findings(capsys: pytest.CaptureFixture[str]) -> list[dict[str, str]]:
    capsys.readouterr()
    main(["doctor", "--format", "json"])
    return [f for f in json.loads(capsys.readouterr().out)["findings"] if "ExternalSecret" in f["where"]]


def test_doctor_checks_target_keys_and_store(
    repo: Path, openai: adminapis.OpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    assert doctor_findings(capsys) == []  # what generate wrote: the store is named in cluster.yaml
    path = repo / ES_FILE
    good = path.read_text()
    path.write_text(good.replace("      data:\n        apiKey:", "      data:\n        api-key:"))
    (finding,) = doctor_findings(capsys)
    assert (
        finding["level"] == "error"
        and "reads key apiKey" in finding["message"]
        and "BackendSecurityPolicy ai-gateway/openai" in finding["message"]
    )
    path.write_text(good.replace("name: aws-secrets-manager", "name: vault-backend"))
    (finding,) = doctor_findings(capsys)
    assert "ClusterSecretStore 'vault-backend'" in finding["message"]
    store = repo / "kubernetes/apps/external-secrets/store.yaml"
    store.parent.mkdir(parents=True)
    vault = {
        "server": "https://vault.example.com",
        "path": "secret",
        "version": "v2",
        "auth": {"tokenSecretRef": {"name": "t", "key": "token", "namespace": "external-secrets"}},
    }
    store.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "external-secrets.io/v1",
                "kind": "ClusterSecretStore",
                "metadata": {"name": "vault-backend"},
                "spec": {"provider": {"vault": vault}},
            }
        )
    )
    assert doctor_findings(capsys) == []
    path.write_text(good.replace("  target:\n    name: openai-apikey", "  target:\n    name: openai-key"))
    assert {f["level"] for f in doctor_findings(capsys)} == {"warning"}  # nobody reads openai-key


def test_killed_after_the_store_write_resumes_without_a_second_version(
    repo: Path, openai: adminapis.OpenAI, sm: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from testing.helpers import kill_then_resume

    def versions() -> int:
        return len(sm.list_secret_version_ids(SecretId=KEY, IncludeDeprecated=True)["Versions"])

    before = versions()
    res = kill_then_resume(repo, ["rotate", "--provider", "openai"], "stored")
    assert res.returncode == 0, res.stderr
    assert versions() == before + 1  # the resumed run reused the version the killed one wrote
    g2 = next(a for a in openai.accounts.values() if a["name"] == "aigw-openai-g2")
    assert store_value(sm, es_doc(repo)["metadata"]["annotations"]["aigw-secrets.io/store-version"]) == {
        "apiKey": g2["_key"]
    }
    assert sorted(a["name"] for a in openai.accounts.values()) == ["aigw-openai-g2", "operator-made"]  # no orphan
    capsys.readouterr()
    assert main(["rotate", "--cancel", "openai"]) == ExitCode.CONFIG  # nothing in progress any more
    assert main(["status"]) in (0, 1)
    assert f"store {KEY} version" in capsys.readouterr().out


def test_cron_rotates_through_the_store(
    repo: Path, openai: adminapis.OpenAI, sm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIGW_SECRETS_NOW", "2099-01-01T00:00:00Z")  # everything is due
    assert main(["rotate", "--due"]) == 0  # (--assume-applied is never the cron job's:)
    g2 = next(a for a in openai.accounts.values() if a["name"] == "aigw-openai-g2")
    assert store_value(sm) == {"apiKey": g2["_key"]}
    assert es_doc(repo)["metadata"]["annotations"]["aigw-secrets.io/generation"] == "2"


def test_migrate_back_copies_only_our_own_entry(
    repo: Path, openai: adminapis.OpenAI, sm: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """A merged commit that points the ExternalSecret at another store entry cannot make
    `migrate --to sops` copy that entry into git."""
    sm.create_secret(Name="prod/database", SecretString=json.dumps({"apiKey": "db-password-value"}))
    path = repo / ES_FILE
    path.write_text(
        path.read_text().replace(f"key: {KEY}", "key: prod/database").replace("version: uuid/", "version: AWSCURRENT #")
    )
    before = sorted(p.name for p in (repo / OUT).iterdir())
    assert main(["migrate", "--to", "sops"]) == ExitCode.DATA
    assert "not reading another entry" in capsys.readouterr().err
    assert sorted(p.name for p in (repo / OUT).iterdir()) == before


def test_bedrock_key_is_never_the_store_credential(
    repo: Path, sm: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """With Bedrock on the store, $AWS_ACCESS_KEY_ID is Bedrock's key: boto3's default chain would
    write the store with it. The store must have its own profile."""
    from testing import fakes

    write_cluster(repo, {**provider_settings("bedrock"), **eso_settings()})
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", fakes.aws_access_key_id())
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", fakes.aws_secret_access_key())
    assert main(["generate", "--no-input"]) == ExitCode.CONFIG
    assert "AIGW_SECRETS_STORE_AWS_PROFILE" in capsys.readouterr().err
    assert sm.list_secrets()["SecretList"] == []
