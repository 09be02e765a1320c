"""Issue 17: the rotation bot holds admin keys, so it acts only on what it verifies itself, never on
what a contributor commits. Each test is one attack class, run as a contributor who can only merge a
commit (the age *public* key is in .sops.yaml, so they can write a Secret sops decrypts), against
the OpenAI admin stand-in, the Kubernetes API stand-in for the gates, and the cron script. The
AWS (moto) variants are in test_issuer_aws.py."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from aigw_secrets.cli import main
from aigw_secrets.errors import AigwError, ExitCode
from aigw_secrets.sops import files as sops_files
from aigw_secrets.sops.binary import Sops
from testing import adminapis, fakes, isolation, kubeapi, standin
from testing.helpers import git
from testing.repos import init_repo, provider_settings, write_cluster
from testing.slowhttp import SlowHeaders

pytestmark = pytest.mark.usefixtures("operator_allows_loopback")

PROJECT = Path(__file__).resolve().parents[2]
OUT = Path("kubernetes/apps/ai-gateway/providers")
SECRET = OUT / "openai.secret.sops.yaml"
LATER = "2099-01-01T00:00:00Z"


@dataclass
class Bot:
    repo: Path
    api: adminapis.OpenAI
    cluster: kubeapi.FakeCluster
    operator_key: str  # the operator's own service account (never created by the tool)
    live: str  # the service account whose key the cluster serves (generation 2, minted by the tool)
    tmp: Path

    def alive(self) -> set[str]:
        return set(self.api.accounts)

    def value(self) -> str:
        plain = yaml.safe_load(sops_files.decrypt(Sops(self.repo), (self.repo / SECRET).read_bytes(), str(SECRET)))
        return str(plain["stringData"]["apiKey"])

    def applies(self) -> None:
        """Flux applies HEAD: the cluster serves what git holds (metadata and the decrypted data)."""
        import base64

        doc = yaml.safe_load((self.repo / SECRET).read_text())
        ann = doc["metadata"].get("annotations")
        if not isinstance(ann, dict) or not all(isinstance(v, str) for v in ann.values()):
            return  # the API server refuses annotations that are not strings: Flux's apply fails, nothing changes
        head = git(self.repo, "rev-parse", "HEAD").strip()
        self.cluster.flux_applies("flux-system", "flux-system", f"main@sha1:{head}")
        data = {"apiKey": base64.b64encode(self.value().encode()).decode()}
        self.cluster.secrets[(doc["metadata"]["namespace"], doc["metadata"]["name"])] = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": doc["metadata"],
            "data": data,
        }

    def commit(self, message: str, *paths: str) -> None:
        git(self.repo, "add", "-f", *(paths or ("-A",)))
        git(self.repo, "commit", "-qm", message)


@dataclass
class _Generation2:
    """The state every ``bot`` test starts from, made once per session (per xdist worker)."""

    repo: Path
    api: adminapis.OpenAI
    cluster: kubeapi.FakeCluster
    api_state: dict[str, Any]
    cluster_state: dict[str, Any]
    operator_key: str
    live: str


@pytest.fixture(scope="session")
def generation2(repo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Generation2]:
    """The operator generated with their own key, the bot rotated once (generation 2, minted at the
    OpenAI admin stand-in), committed, and Flux applied it: a repository and the two stand-ins'
    state, made once; ``bot`` gives each test a copy of the repository and the stand-ins as they were
    (running generate and rotate for each test cost a fifth of the suite)."""
    from aigw_secrets import output

    api = adminapis.OpenAI()
    with adminapis.serve(api), kubeapi.serve() as cluster:
        with pytest.MonkeyPatch.context() as mp:
            isolation.isolate(mp, tmp_path_factory.mktemp("bot-home"), tmp_path_factory.mktemp("bot-tmp"))
            isolation.cheap(mp)
            repo = init_repo(tmp_path_factory.mktemp("bot") / "repo", mp, repo_template)
            mp.setenv("AIGW_SECRETS_ALLOW_HOSTS", "127.0.0.1")
            for name, value in _admin_env(api, cluster, repo.parent).items():
                mp.setenv(name, value)
            operator_key, first = api.add("operator-made")
            write_cluster(
                repo,
                {
                    **provider_settings("openai"),
                    "ai_gateway_openai_issuer": "openai-admin",
                    "ai_gateway_openai_project_id": api.project,
                    "ai_gateway_openai_validation_url": f"{api.url}/v1/models",
                },
            )
            mp.setenv("OPENAI_API_KEY", first)
            assert main(["generate", "--no-input"]) == 0
            mp.delenv("OPENAI_API_KEY")
            assert main(["rotate", "--provider", "openai"]) == 0
            (live,) = (sid for sid, a in api.accounts.items() if a["name"] == "aigw-openai-g2")
            made = Bot(repo, api, cluster, operator_key, live, repo.parent)
            made.commit("generation 2")
            made.applies()
        output.configure()
        yield _Generation2(repo, api, cluster, api.state(), cluster.state(), operator_key, live)


def _admin_env(api: adminapis.OpenAI, cluster: kubeapi.FakeCluster, tmp: Path) -> dict[str, str]:
    """What the bot's environment holds: the admin key and URL, a kubeconfig for the cluster."""
    return {
        "AIGW_SECRETS_VALIDATE_BACKOFF": "0.01",
        "AIGW_SECRETS_OPENAI_ADMIN_URL": f"{api.url}/v1",
        "OPENAI_ADMIN_KEY": api.admin_key,
        "KUBECONFIG": str(cluster.kubeconfig(tmp / "kubeconfig")),
    }


@pytest.fixture
def bot(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, generation2: _Generation2) -> Bot:
    """Generation 2 (see ``generation2``) in this test's repository, with the stand-ins as they were."""
    g = generation2
    g.api.restore(g.api_state)
    g.cluster.restore(g.cluster_state)
    shutil.rmtree(repo)
    shutil.copytree(g.repo, repo, symlinks=True)
    monkeypatch.chdir(repo)  # the directory the working directory was is gone
    for name, value in _admin_env(g.api, g.cluster, tmp_path).items():
        monkeypatch.setenv(name, value)
    return Bot(repo, g.api, g.cluster, g.operator_key, g.live, tmp_path)


def attacker_secret(bot: Bot, value: str, **annotations: str) -> None:
    """What a contributor can commit: a Secret encrypted to the public recipients only, with the
    annotations they choose and a credential they know."""
    doc = yaml.safe_load((bot.repo / SECRET).read_text())
    meta = doc["metadata"]
    meta["annotations"] = {
        **meta["annotations"],
        **{f"aigw-secrets.io/{k.replace('_', '-')}": v for k, v in annotations.items()},
    }
    plain = {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "type": "Opaque", "stringData": {"apiKey": value}}
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOPS_AGE_KEY")}
    sops = Sops(
        bot.repo, env={**env, "SOPS_AGE_KEY_FILE": "/nonexistent"}
    )  # no private key: the public recipients suffice
    (bot.repo / SECRET).write_bytes(sops.encrypt(yaml.safe_dump(plain).encode(), str(SECRET)))
    bot.commit("innocent-looking change")


def remote(repo: Path, where: Path) -> Path:
    """A bare origin holding the repository's HEAD (everything is committed already)."""
    bare = where / "remote.git"
    git(where, "init", "-q", "--bare", str(bare))
    git(repo, "remote", "add", "origin", str(bare))
    git(repo, "push", "-q", "origin", "HEAD")
    return bare


ORDINARY_RULE = "path_regex: .*\\.sops\\.ya?ml$\n    # was: "


def state_file(repo: Path, name: str) -> Path:
    from aigw_secrets.rotation.journal import state_dir

    return state_dir(repo) / name


# --- 1 and 2: working state delivered by a commit --------------------------------------------------


@pytest.mark.parametrize("journal", ["minted-live", "minting-operator"])
def test_committed_journal_is_refused(
    bot: Bot, journal: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Classes 1 and 2: a force-added .aigw/mint-openai.json claiming the live key is a pending mint,
    or naming the operator's key as an orphan. The bot refuses to run at all (one line, exit 79)."""
    content = (
        {"state": "minted", "ref": bot.live}
        if journal == "minted-live"
        else {"state": "minting", "name": "operator-made", "before": []}
    )
    (bot.repo / ".aigw").mkdir(exist_ok=True)
    (bot.repo / ".aigw/mint-openai.json").write_text(json.dumps(content))
    bot.commit("add a file", ".aigw/mint-openai.json")
    monkeypatch.setenv("AIGW_SECRETS_NOW", LATER)
    capsys.readouterr()
    assert main(["rotate", "--due"]) == ExitCode.UNTRUSTED
    err = capsys.readouterr().err
    assert ".aigw/" in err and err.strip().count("\n") == 0
    assert {bot.live, bot.operator_key} <= bot.alive()


def test_own_journal_cannot_name_a_foreign_key(bot: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
    """Class 2, second layer: even the bot's own (untracked) journal cannot get a key deleted that
    the provider does not show as minted by this tool for this Secret, nor the key the Secret holds."""
    state_file(bot.repo, "mint-openai.json").write_text(
        json.dumps({"state": "minting", "name": "operator-made", "before": [], "history": []})
    )
    monkeypatch.setenv("AIGW_SECRETS_NOW", LATER)
    assert main(["rotate", "--provider", "openai"]) == 0
    assert {bot.live, bot.operator_key} <= bot.alive()
    state_file(bot.repo, "mint-openai.json").write_text(
        json.dumps({"state": "minted", "ref": bot.operator_key, "history": []})
    )
    main(["rotate", "--provider", "openai"])
    assert {bot.live, bot.operator_key} <= bot.alive()


def test_cron_never_commits_state(bot: Bot, tmp_path: Path) -> None:
    """Class 1: the cron script's commit holds the Secret and policy files it wrote, never the bot's
    working state, even when a run leaves some behind."""
    remote(bot.repo, tmp_path)
    res = cron(bot, {"AIGW_SECRETS_NOW": LATER})
    assert res.returncode == 0, res.stderr + res.stdout
    assert json.loads(res.stdout)["committed"]
    tracked = git(bot.repo, "ls-files").splitlines()
    assert not [f for f in tracked if f.startswith(".aigw/") or "mint-" in f or "pending-" in f]


# --- 3: a Secret written with the public key only, whose annotations point at the live key --------


def test_forged_secret_cannot_get_the_live_key_revoked(bot: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
    other = adminapis.OpenAI()  # another organisation: its key authenticates, at its own endpoint
    with adminapis.serve(other):
        _, foreign_value = other.add("attacker")
        write_cluster(
            bot.repo,
            {
                **provider_settings("openai"),
                "ai_gateway_openai_issuer": "openai-admin",
                "ai_gateway_openai_project_id": bot.api.project,
                "ai_gateway_openai_validation_url": f"{other.url}/v1/models",
            },
        )
        attacker_secret(
            bot,
            foreign_value,
            credential_ref=bot.operator_key,
            previous_issued_ref=bot.live,
            previous_revoke_after="2020-01-01T00:00:00Z",
            issuer="openai-admin",
        )
        monkeypatch.setenv("AIGW_SECRETS_NOW", LATER)
        code = main(["rotate", "--revoke", "openai", "--assume-applied"])
        assert code != 0
        assert {bot.live, bot.operator_key} <= bot.alive()
        bot.applies()  # even once Flux applied it: the cluster serves the attacker's value, not a key of ours
        main(["rotate", "--revoke", "openai"])
        main(["rotate", "--due"])
        assert {bot.live, bot.operator_key} <= bot.alive()


@pytest.mark.parametrize("steps", ["assume-applied", "applied-revoke", "applied-due", "due", "chain"])
def test_forged_secret_with_a_same_org_key_revokes_nothing(
    bot: Bot, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], steps: str
) -> None:
    """The Secret holds a key of the same organisation the bot did not mint (a contractor's), with annotations
    pointing at the live key: the bot's own records of what it minted win over the file."""
    contractor, contractor_value = bot.api.add("contractor")
    attacker_secret(
        bot,
        contractor_value,
        credential_ref=contractor,
        previous_issued_ref=bot.live,
        previous_revoke_after="2020-01-01T00:00:00Z",
        issuer="openai-admin",
    )
    monkeypatch.setenv("AIGW_SECRETS_NOW", LATER)
    if steps == "assume-applied":
        assert main(["rotate", "--revoke", "openai", "--assume-applied"]) != 0
        assert "did not mint" in capsys.readouterr().err
    elif steps == "chain":
        for _ in range(3):
            main(["rotate", "--due"])
            bot.applies()
            main(["rotate", "--revoke", "openai"])
    else:
        if steps.startswith("applied"):
            bot.applies()
        main(["rotate", "--due"] if steps.endswith("due") else ["rotate", "--revoke", "openai"])
    assert {bot.live, bot.operator_key, contractor} <= bot.alive()


@pytest.mark.parametrize(
    "annotations",
    [
        {"previous-issued-ref": ["LIVE"], "generation": ["1"], "previous-revoke-after": "2020-01-01T00:00:00"},
        {"previous-revoke-after": "2020-01-01 00:00:00", "generation": False, "issuer": None},
        "not a mapping",
    ],
    ids=["lists-and-a-zoneless-time", "false-null-and-a-space", "a-string"],
)
def test_a_secret_whose_annotations_are_malformed_is_no_internal_error_and_revokes_nothing(
    bot: Bot, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], annotations: object
) -> None:
    """A contributor commits the Secret with annotations of other shapes than text (lists naming the
    live key, a time without a zone, false, null, a string for the whole mapping): the bot reads them
    as Kubernetes would, never crashes on them, and revokes nothing it did not mint."""
    doc = yaml.safe_load((bot.repo / SECRET).read_text())
    if isinstance(annotations, dict):
        ann = {k: v for k, v in doc["metadata"]["annotations"].items() if not isinstance(v, str) or "ref" not in k}
        ann.update({f"aigw-secrets.io/{k}": [bot.live] if v == ["LIVE"] else v for k, v in annotations.items()})
        doc["metadata"]["annotations"] = ann
    else:
        doc["metadata"]["annotations"] = annotations
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOPS_AGE_KEY")}
    sops = Sops(bot.repo, env={**env, "SOPS_AGE_KEY_FILE": "/nonexistent"})
    doc.pop("sops", None)
    doc["stringData"] = {"apiKey": bot.api.add("contractor")[1]}
    doc.pop("data", None)
    (bot.repo / SECRET).write_bytes(sops.encrypt(yaml.safe_dump(doc).encode(), str(SECRET)))
    bot.commit("innocent-looking change")
    monkeypatch.setenv("AIGW_SECRETS_NOW", LATER)
    commands = (["rotate", "--revoke", "openai", "--assume-applied"], ["rotate", "--due"], ["status"])
    for args in (*commands, ["generate", "--check"], ["doctor"], ["cluster", "status"], ["scan"]):
        capsys.readouterr()
        assert main(args) != ExitCode.INTERNAL, capsys.readouterr().err
        assert "internal error" not in capsys.readouterr().err
        bot.applies()
    assert {bot.live, bot.operator_key} <= bot.alive()


@pytest.mark.parametrize(
    "change",
    [
        ("  version:", "  key_groups: true\n  version:"),
        ("  version:", "  key_groups: 5\n  version:"),
        ("    - recipient: ", "    - enc: x\n      recipient: {a: 1}\n    - recipient: "),
        ("  age:\n", "  age: 5\n  was_age:\n"),
        (
            "metadata:\n",
            "metadata:\n  x0: &a0 [x]\n"
            + "".join(f"  x{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 10)),
        ),
    ],
    ids=["key-groups-true", "key-groups-number", "recipient-a-mapping", "age-a-number", "alias-bomb"],
)
def test_a_sops_block_of_other_shapes_is_no_internal_error_and_revokes_nothing(
    bot: Bot, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], change: tuple[str, str]
) -> None:
    """The sops block is not under the MAC: a commit can change its shape without any key (or add an alias
    bomb to the metadata). Every command reads it without crashing or expanding it (sops refuses such a
    file too), and nothing is revoked."""
    text = (bot.repo / SECRET).read_text()
    assert change[0] in text
    (bot.repo / SECRET).write_text(text.replace(change[0], change[1], 1))
    bot.commit("innocent-looking change")
    monkeypatch.setenv("AIGW_SECRETS_NOW", LATER)
    commands = (["rotate", "--due"], ["rotate", "--revoke", "openai"], ["status"], ["doctor"], ["generate", "--check"])
    for args in commands:
        capsys.readouterr()
        assert main(args) != ExitCode.INTERNAL, (args, capsys.readouterr().err)
    assert {bot.live, bot.operator_key} <= bot.alive()


@pytest.mark.parametrize(
    "change",
    [
        ("metadata:\n  name: openai\n", "metadata:\n- name: openai\n"),
        ("\n---\napiVersion:", "\n---\n- a\n---\napiVersion:"),
    ],
    ids=["metadata-a-list", "a-list-document"],
)
def test_a_policy_of_other_shapes_never_stops_a_rotation_half_way(
    bot: Bot, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], change: tuple[str, str]
) -> None:
    """A commit reshapes the BackendSecurityPolicy file: the due rotation mints, writes the Secret and
    completes (the policy's generation mark is left to generate, whose --check shows the file), instead
    of an internal error after minting on every run."""
    policy = bot.repo / OUT / "openai.yaml"
    text = policy.read_text()
    assert change[0] in text
    policy.write_text(text.replace(change[0], change[1], 1))
    bot.commit("innocent-looking change")
    monkeypatch.setenv("AIGW_SECRETS_NOW", LATER)
    capsys.readouterr()
    assert main(["rotate", "--due"]) == 0, capsys.readouterr().err
    assert main(["rotate", "--due"]) == 0, capsys.readouterr().err
    assert main(["generate", "--check"]) == 1  # the policy differs from what generate writes: shown, not hidden
    assert {bot.live, bot.operator_key} <= bot.alive()


def test_status_never_calls_a_key_revoked_while_the_provider_cannot_be_asked(
    bot: Bot, capsys: pytest.CaptureFixture[str]
) -> None:
    """The admin API cannot be reached (a wrong project id a commit wrote, an outage): status says so and
    keeps the operator's previous key as theirs to revoke, never "revoked"."""
    capsys.readouterr()
    main(["status", "--format", "json"])
    (before,) = [r for r in json.loads(capsys.readouterr().out) if r["provider"] == "openai"]
    write_cluster(
        bot.repo,
        {
            **provider_settings("openai"),
            "ai_gateway_openai_issuer": "openai-admin",
            "ai_gateway_openai_project_id": "x",
        },
    )
    main(["status", "--format", "json"])
    (row,) = [r for r in json.loads(capsys.readouterr().out) if r["provider"] == "openai"]
    assert row.get("provider_keys_error")
    assert not row.get("previous_revoked")
    assert row.get("revoke_by_hand") == before.get("revoke_by_hand")


def test_operator_named_key_needs_a_terminal(bot: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
    """--ref names a key this tool did not mint: only an operator at a terminal may (never cron)."""
    monkeypatch.setenv("AIGW_SECRETS_NOW", LATER)
    assert main(["rotate", "--revoke", "openai", "--ref", bot.operator_key, "--assume-applied"]) == ExitCode.CONFIG
    assert bot.operator_key in bot.alive()
    assert (
        main(["rotate", "--revoke", "openai", "--ref", bot.live, "--assume-applied"]) != 0
    )  # the key the Secret holds
    assert bot.live in bot.alive()
    from aigw_secrets.rotation import revoke

    monkeypatch.setattr(revoke, "at_terminal", lambda: True)
    assert (
        main(["rotate", "--revoke", "openai", "--ref", bot.live, "--assume-applied"]) != 0
    )  # never, even at a terminal
    assert bot.live in bot.alive()
    assert main(["rotate", "--revoke", "openai", "--ref", bot.operator_key, "--assume-applied"]) == 0
    assert bot.operator_key not in bot.alive()
    assert bot.live in bot.alive()


# --- 4 and 8: the repository chooses what the bot reads; admin values reach children ---------------


def _vllm_generated(repo: Path, vllm: standin.Provider, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """A vLLM provider (a key shape nobody checks) generated with a first key the stand-in accepts; its settings."""
    first = fakes.generic_key()
    vllm.status[first] = 200
    settings = {**provider_settings("vllm", "api-key"), "ai_gateway_vllm_validation_url": f"{vllm.url}/v1/models"}
    write_cluster(repo, settings)
    monkeypatch.setenv("VLLM_API_KEY", first)
    assert main(["generate", "--no-input"]) == 0
    monkeypatch.delenv("VLLM_API_KEY")
    return settings


@pytest.mark.parametrize(
    "variable", ["OPENAI_ADMIN_KEY", "GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY", "AIGW_SECRETS_ENTRA_ADMIN_CLIENT_SECRET"]
)
def test_admin_variable_is_never_a_source(repo: Path, monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    with standin.serve() as vllm:
        admin = "sk-admin-" + fakes.rand(40)
        vllm.accept_prefix = "sk-"
        monkeypatch.setenv(variable, admin)
        settings = _vllm_generated(repo, vllm, monkeypatch)
        write_cluster(repo, {**settings, "ai_gateway_vllm_credential_source": f"env:{variable}"})
        monkeypatch.setenv("AIGW_SECRETS_NOW", LATER)
        assert main(["rotate", "--due"]) != 0
        assert admin not in vllm.calls
        assert admin.encode() not in sops_files.decrypt(
            Sops(repo), (repo / OUT / "vllm.secret.sops.yaml").read_bytes(), str(OUT / "vllm.secret.sops.yaml")
        )


@pytest.mark.parametrize("source", ["file", "cmd", "vault-token-file", "vault-token-home"])
def test_the_sops_key_is_never_a_credential(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    """With the operator's blanket grant for file: (or cmd:) sources, a commit names the age key file (or the
    store's token, which the bot writes credentials with) as a provider's credential, one whose shape is not
    checked: neither is ever sent to the validation host nor written into a Secret (11)."""
    with standin.serve() as vllm:
        vllm.accept_prefix = ""
        settings = _vllm_generated(repo, vllm, monkeypatch)
        key = repo / "age.key"
        secret = next(line for line in key.read_text().splitlines() if line.startswith("AGE-SECRET-KEY-"))
        named = f"file:{key}" if source == "file" else f"cmd:grep -h AGE-SECRET {key}"
        if source.startswith("vault-token"):
            secret = "hvs." + fakes.rand(24)
            token = tmp_path / ("home/.vault-token" if source == "vault-token-home" else "vault-token")
            token.parent.mkdir(exist_ok=True)
            token.write_text(secret + "\n")
            if source == "vault-token-home":
                monkeypatch.setenv("HOME", str(tmp_path / "home"))
                named = "file:~/.vault-token"
            else:
                monkeypatch.setenv("VAULT_TOKEN_FILE", str(token))
                named = f"file:{token}"
        monkeypatch.setenv("AIGW_SECRETS_ALLOW_FILES", "1")
        monkeypatch.setenv("AIGW_SECRETS_ALLOW_COMMANDS", "1")
        write_cluster(repo, {**settings, "ai_gateway_vllm_credential_source": named})
        monkeypatch.setenv("AIGW_SECRETS_NOW", LATER)
        code = main(["rotate", "--due"])
        assert not any(secret in call for call in vllm.calls)
        assert secret.encode() not in sops_files.decrypt(
            Sops(repo), (repo / OUT / "vllm.secret.sops.yaml").read_bytes(), str(OUT / "vllm.secret.sops.yaml")
        )
        assert code == ExitCode.MANUAL_ACTION


@pytest.mark.parametrize("explicit", [True, False])
def test_gcp_admin_adc_is_never_a_vertex_credential(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, explicit: bool
) -> None:
    """Unattended, with no AIGW_SECRETS_GCP_ADMIN_CREDENTIALS, Application Default Credentials
    (GOOGLE_APPLICATION_CREDENTIALS) are the bot's GCP admin identity, and also Vertex's default source."""
    with standin.serve() as gcp:
        first, admin = fakes.gcp_service_account("demo-project"), fakes.gcp_service_account("demo-project")
        first["client_email"], admin["client_email"] = (
            "first@demo-project.iam.gserviceaccount.com",
            "admin@demo-project.iam.gserviceaccount.com",
        )
        gcp.status[first["client_email"]] = gcp.status[admin["client_email"]] = 200
        (tmp_path / "first.json").write_text(json.dumps(first))
        (tmp_path / "admin.json").write_text(json.dumps(admin))
        settings = {
            **provider_settings("vertex", "service-account"),
            "ai_gateway_vertex_validation_url": f"{gcp.url}/token",
        }
        write_cluster(repo, settings)
        monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "first.json"))
        assert main(["generate", "--no-input"]) == 0
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", "vertex")
        monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "admin.json"))  # the bot's ADC
        if explicit:
            write_cluster(
                repo, {**settings, "ai_gateway_vertex_credential_source": "env:GOOGLE_APPLICATION_CREDENTIALS"}
            )
        monkeypatch.setenv("AIGW_SECRETS_NOW", LATER)
        assert main(["rotate", "--due"]) == ExitCode.MANUAL_ACTION
        secret = next((repo / OUT).glob("*.secret.sops.yaml"))
        assert admin["private_key_id"].encode() not in sops_files.decrypt(
            Sops(repo), secret.read_bytes(), str(secret.relative_to(repo))
        )
        assert not any(admin["client_email"] in call for call in gcp.calls)


def test_sops_never_gets_the_gcp_admin_adc(bot: Bot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same Application Default Credentials are what sops uses for a gcp_kms key (one a commit may
    name): in an unattended run without AIGW_SECRETS_GCP_ADMIN_CREDENTIALS, sops finds neither the file nor
    gcloud's copy of it. An operator's own run keeps them (sops may need them for the repository's keys)."""
    from aigw_secrets.sops.binary import find_binary

    (tmp_path / "admin.json").write_text(json.dumps(fakes.gcp_service_account("demo-project")))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "admin.json"))
    seen = tmp_path / "seen"
    wrapper = tmp_path / "sops"
    record = f'echo "$GOOGLE_APPLICATION_CREDENTIALS|$CLOUDSDK_CONFIG" >> {seen}'
    wrapper.write_text(f'#!/bin/sh\n{record}\nexec {find_binary()} "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("SOPS_BINARY", str(wrapper))
    monkeypatch.setenv("AIGW_SECRETS_NOW", LATER)
    assert main(["rotate", "--due"]) == 0
    assert set(seen.read_text().splitlines()) == {f"|{os.devnull}"}
    seen.unlink()
    main(["rotate", "--data-key"])  # an operator's run
    assert set(seen.read_text().splitlines()) == {f"{tmp_path / 'admin.json'}|"}


def test_env_source_limited_to_documented_variables(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Any other variable of the bot's environment is not the repository's to pick, unless the
    operator allows a prefix from outside the repository."""
    with standin.serve() as vllm:
        first, second = fakes.generic_key(), fakes.generic_key()
        vllm.status[first] = vllm.status[second] = 200
        settings = {**provider_settings("vllm", "api-key"), "ai_gateway_vllm_validation_url": f"{vllm.url}/v1/models"}
        write_cluster(repo, settings)
        monkeypatch.setenv("VLLM_API_KEY", first)
        assert main(["generate", "--no-input"]) == 0
        monkeypatch.setenv("SOME_DEPLOY_TOKEN", second)
        write_cluster(repo, {**settings, "ai_gateway_vllm_credential_source": "env:SOME_DEPLOY_TOKEN"})
        assert main(["rotate", "--provider", "vllm"]) == ExitCode.CONFIG
        assert second not in vllm.calls
        monkeypatch.setenv("AIGW_SECRETS_ALLOW_ENV_PREFIX", "SOME_")
        assert main(["rotate", "--provider", "vllm"]) == 0


def test_children_get_no_admin_credentials(bot: Bot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Class 8: sops, git and the hooks git runs never see an admin credential."""
    from aigw_secrets.sops.binary import find_binary

    seen = tmp_path / "seen"
    real = find_binary()
    wrapper = tmp_path / "sops"
    wrapper.write_text(f'#!/bin/sh\nenv >> {seen}\nexec {real} "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("SOPS_BINARY", str(wrapper))
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_" + fakes.rand(36))
    monkeypatch.setenv("AIGW_SECRETS_NOW", LATER)
    hook = bot.repo / ".git/hooks/pre-commit"
    hook.write_text(f"#!/bin/sh\nenv >> {seen}\n")
    hook.chmod(0o755)
    remote(bot.repo, tmp_path)
    res = cron(bot, {"AIGW_SECRETS_NOW": LATER})
    assert res.returncode == 0, res.stderr + res.stdout
    text = seen.read_text()
    assert "SOPS_AGE" in text or "sops" in text.lower() or text  # the wrapper and the hook ran
    assert bot.api.admin_key not in text and os.environ["GITHUB_TOKEN"] not in text
    assert not re.search(r"^(OPENAI_ADMIN_KEY|GITHUB_TOKEN)=", text, re.M)


# --- 5: names and paths from config ---------------------------------------------------------------


@pytest.mark.parametrize(
    "target", ["vllm/../../../../../../x", "vllm/Not_A_Name", "../etc/x", "vllm/a/b", "vllm/x\n", "vllm\n/x"]
)
def test_server_secret_must_be_a_kubernetes_name(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str
) -> None:
    with standin.serve() as vllm:
        vllm.accept_prefix = "sk-"
        first = fakes.generic_key()
        vllm.status[first] = 200
        settings = {
            **provider_settings("vllm", "api-key"),
            "ai_gateway_vllm_validation_url": f"{vllm.url}/v1/models",
            "ai_gateway_vllm_issuer": "self",
        }
        write_cluster(repo, settings)
        monkeypatch.setenv("VLLM_API_KEY", first)
        assert main(["generate", "--no-input"]) == 0
        monkeypatch.delenv("VLLM_API_KEY")
        (repo / ".sops.yaml").write_text((repo / ".sops.yaml").read_text().replace("path_regex: ", ORDINARY_RULE, 1))
        before = {p for p in tmp_path.rglob("*") if ".git" not in p.parts}
        write_cluster(repo, {**settings, "ai_gateway_vllm_server_secret": target})
        assert main(["rotate", "--provider", "vllm"]) == ExitCode.CONFIG
        after = {p for p in tmp_path.rglob("*") if ".git" not in p.parts}
        assert not [p for p in after - before if not p.is_relative_to(repo)]


def test_output_dir_symlink_escape_is_refused(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with standin.serve() as vllm:
        first, second = fakes.generic_key(), fakes.generic_key()
        vllm.status[first] = vllm.status[second] = 200
        settings = {**provider_settings("vllm", "api-key"), "ai_gateway_vllm_validation_url": f"{vllm.url}/v1/models"}
        write_cluster(repo, settings)
        monkeypatch.setenv("VLLM_API_KEY", first)
        assert main(["generate", "--no-input"]) == 0
        outside = tmp_path / "outside"
        outside.mkdir()
        providers = repo / OUT
        for p in providers.iterdir():
            (outside / p.name).write_bytes(p.read_bytes())
            p.unlink()
        providers.rmdir()
        providers.symlink_to(outside)  # committed as a symlink by a contributor
        (repo / ".sops.yaml").write_text((repo / ".sops.yaml").read_text().replace("path_regex: ", ORDINARY_RULE, 1))
        before = {p: p.read_bytes() for p in outside.iterdir()}
        monkeypatch.setenv("VLLM_API_KEY", second)
        assert main(["rotate", "--provider", "vllm"]) == ExitCode.CONFIG
        assert {p: p.read_bytes() for p in outside.iterdir()} == before


# --- 6: every minted key accounted for ------------------------------------------------------------


def test_every_minted_key_is_queued_for_revocation(
    bot: Bot, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Three rotations, then one revocation: every earlier generation goes, the operator's key (not
    minted by this tool) and the current one stay; status lists every key the provider has."""
    for _ in range(3):
        assert main(["rotate", "--provider", "openai"]) == 0
    bot.commit("g3..g5")
    bot.applies()
    current = next(sid for sid, a in bot.api.accounts.items() if a["name"] == "aigw-openai-g5")
    capsys.readouterr()
    assert main(["status", "--format", "json"]) in (0, 1)
    (row,) = [r for r in json.loads(capsys.readouterr().out) if r["provider"] == "openai"]
    listed = {k["ref"]: k["role"] for k in row["provider_keys"]}
    assert set(listed) == bot.alive()
    assert listed[current] == "current" and listed[bot.operator_key] == "not minted by aigw-secrets"
    assert {listed[sid] for sid in bot.alive() - {current, bot.operator_key}} == {"pending revocation"}
    monkeypatch.setenv("AIGW_SECRETS_NOW", "2099-01-01T00:00:00Z")
    assert main(["rotate", "--revoke", "openai"]) == 0
    assert bot.alive() == {current, bot.operator_key}


@pytest.mark.parametrize(
    ("command", "how"),
    [
        (["rotate", "--due"], "revert"),
        (["rotate", "--revoke", "openai"], "revert"),
        (["rotate", "--due"], "merge-ours"),
        (["rotate", "--due"], "shallow"),
    ],
)
def test_a_revert_of_the_rotation_never_gets_the_new_key_revoked(
    bot: Bot, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: list[str], how: str
) -> None:
    """An operator rotates early (generation 3, committed, applied); a contributor merges `git revert`
    (or a branch from before it merged with `-s ours` and fast-forwarded, which hides the rotation from a
    plain `git log -- FILE`): the Secret holds generation 2 again, which the bot minted and every gate agrees
    on. The bot keeps generation 3 (it landed once: a rollback, not an interrupted mint), says so, and
    deletes nothing; in a shallow clone, whose history cannot tell, it keeps it too."""
    assert main(["rotate", "--provider", "openai"]) == 0
    bot.commit("rotate early: g2 may have leaked")
    bot.applies()
    (g3,) = [sid for sid, a in bot.api.accounts.items() if a["name"] == "aigw-openai-g3"]
    if how == "merge-ours":
        main_branch = git(bot.repo, "rev-parse", "--abbrev-ref", "HEAD").strip()
        git(bot.repo, "checkout", "-q", "-b", "attacker", "HEAD~1")
        (bot.repo / "NOTES.md").write_text("docs\n")
        bot.commit("docs")
        git(bot.repo, "merge", "-q", "-s", "ours", "-m", "merge", main_branch)
        git(bot.repo, "checkout", "-q", main_branch)
        git(bot.repo, "merge", "-q", "--ff-only", "attacker")
        git(bot.repo, "branch", "-q", "-D", "attacker")
    else:
        git(bot.repo, "revert", "--no-edit", "HEAD")
    if how == "shallow":
        (bot.repo / ".git" / "shallow").write_text(git(bot.repo, "rev-parse", "HEAD"))
    bot.applies()
    assert bot.value() == bot.api.accounts[bot.live]["_key"]  # the cluster serves generation 2 again
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=10)  # past the grace period, before generation 2 is due
    monkeypatch.setenv("AIGW_SECRETS_NOW", later.strftime("%Y-%m-%dT%H:%M:%SZ"))
    capsys.readouterr()
    main(command)
    assert f"older key than {g3}, which a commit held before" in capsys.readouterr().err
    assert {g3, bot.live, bot.operator_key} <= bot.alive()
    main(["status", "--format", "json"])  # status says the same as revoke: kept, not pending revocation
    (row,) = [r for r in json.loads(capsys.readouterr().out) if r["provider"] == "openai"]
    assert {k["ref"]: k["role"] for k in row["provider_keys"]}[g3].startswith("newer than the Secret's")


def test_interrupted_mints_are_revoked_not_forgotten(bot: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs killed after the provider call and whose working state is lost (a fresh clone in a new
    pod): the keys they minted are found from the provider's records and revoked once the cluster
    serves the current one."""
    import shutil

    from aigw_secrets.rotation.journal import state_dir

    for _ in range(3):
        env = {**os.environ, "AIGW_SECRETS_CRASH_AT": "minted"}
        res = subprocess.run(
            [sys.executable, "-m", "aigw_secrets", "rotate", "--provider", "openai"],
            cwd=bot.repo,
            env=env,
            capture_output=True,
        )
        assert res.returncode == 137
        shutil.rmtree(state_dir(bot.repo))  # the pod's working state is gone
    assert len(bot.alive()) == 5
    monkeypatch.setenv("AIGW_SECRETS_NOW", LATER)
    assert main(["rotate", "--revoke", "openai"]) == 0
    assert bot.alive() == {bot.live, bot.operator_key}


# --- 9: smaller ones ------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["\r\nX-Injected: 1", "\x00", "A" * 70000])
def test_minted_value_with_control_characters_is_refused_and_revoked(
    bot: Bot, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], bad: str
) -> None:
    real = fakes.openai_service_account_key
    monkeypatch.setattr(fakes, "openai_service_account_key", lambda: real() + bad)
    before = (bot.repo / SECRET).read_bytes()
    capsys.readouterr()
    code = main(["rotate", "--provider", "openai"])
    assert code == ExitCode.UNAVAILABLE, capsys.readouterr().err
    assert "control characters" in capsys.readouterr().err or code
    assert bot.alive() == {bot.live, bot.operator_key}  # the new key revoked at once
    assert (bot.repo / SECRET).read_bytes() == before
    monkeypatch.setattr(fakes, "openai_service_account_key", real)
    assert main(["rotate", "--provider", "openai"]) == 0  # not wedged


def test_admin_key_file_through_symlink_to_tracked_file(
    bot: Bot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (bot.repo / "notes.txt").write_text(bot.api.admin_key + "\n")
    bot.commit("notes", "notes.txt")
    link = tmp_path / "admin-key"
    link.symlink_to(bot.repo / "notes.txt")
    monkeypatch.delenv("OPENAI_ADMIN_KEY")
    monkeypatch.setenv("OPENAI_ADMIN_KEY_FILE", str(link))
    seen = len(bot.api.requests)
    assert main(["rotate", "--provider", "openai"]) == ExitCode.CONFIG
    assert len(bot.api.requests) == seen


def cron(bot: Bot, extra: dict[str, str], script: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "AIGW_PUSH": "1",
        "AIGW_TEXTFILE": str(bot.tmp / "aigw.prom"),
        "AIGW_SECRETS": str(Path(sys.executable).with_name("aigw-secrets")),
        **extra,
    }
    return subprocess.run(
        [str(script or PROJECT / "scripts/aigw-rotate-cron")], cwd=bot.repo, env=env, capture_output=True, text=True
    )


_SAMPLE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? -?[0-9.eE+-]+$")


def valid_textfile(text: str) -> bool:
    return all(line.startswith("# ") or _SAMPLE.match(line) for line in text.splitlines()) and text.endswith("\n")


def metric(text: str, name: str) -> str | None:
    m = re.search(rf"^{name} (\S+)$", text, re.M)
    return m.group(1) if m else None


def test_failed_pull_keeps_last_success(bot: Bot, tmp_path: Path) -> None:
    bare = remote(bot.repo, tmp_path)
    res = cron(bot, {})
    assert res.returncode == 0, res.stderr
    prom = (bot.tmp / "aigw.prom").read_text()
    success = metric(prom, "aigw_secrets_last_success_timestamp_seconds")
    assert success
    git(bot.repo, "remote", "set-url", "origin", str(bare) + "-gone")
    res = cron(bot, {})
    assert res.returncode == ExitCode.LOCKED
    prom = (bot.tmp / "aigw.prom").read_text()
    assert valid_textfile(prom)
    assert metric(prom, "aigw_secrets_last_exit_code") == "75"
    assert metric(prom, "aigw_secrets_last_success_timestamp_seconds") == success


@pytest.mark.parametrize(
    ("printed", "rc"), [("Traceback (most recent call last): not json", 1), ('{"data_keys_rotated": NaN}', 0)]
)
def test_textfile_valid_whatever_the_tool_prints(bot: Bot, tmp_path: Path, printed: str, rc: int) -> None:
    fake = tmp_path / "fake-aigw"
    fake.write_text(f"#!/bin/sh\necho '{printed}'\nexit {rc}\n")
    fake.chmod(0o755)
    (bot.tmp / "aigw.prom").write_text("aigw_secrets_last_success_timestamp_seconds 1234\n")
    res = cron(bot, {"AIGW_SECRETS": str(fake)})
    assert res.returncode != 0
    prom = (bot.tmp / "aigw.prom").read_text()
    assert valid_textfile(prom), prom
    assert metric(prom, "aigw_secrets_last_success_timestamp_seconds") == "1234"
    assert metric(prom, "aigw_secrets_last_run_timestamp_seconds")  # written by this run
    json.loads(res.stdout, parse_constant=lambda c: pytest.fail(f"{c} in the summary"))  # it stays JSON


# --- 7: one deadline over the whole exchange ------------------------------------------------------


def test_http_deadline_covers_slow_headers() -> None:
    from aigw_secrets import http

    slow = SlowHeaders()
    try:
        res = http.request("GET", slow.url + "/v1/models", deadline=0.2)
    finally:
        slow.close()
    assert res.status == 0
    assert slow.completed == 0  # cut off at the deadline, not after the server finished its headers


def test_admin_call_with_slow_headers_releases_the_lock(bot: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
    slow = SlowHeaders()
    try:
        monkeypatch.setenv("AIGW_SECRETS_OPENAI_ADMIN_URL", f"{slow.url}/v1")
        monkeypatch.setenv("AIGW_SECRETS_HTTP_DEADLINE", "0.2")
        code = main(["rotate", "--provider", "openai"])
    finally:
        slow.close()
    assert code == ExitCode.UNAVAILABLE
    assert slow.completed == 0
    from aigw_secrets.rotation.journal import repo_lock

    with repo_lock(bot.repo):
        pass  # not held


# --- .sops.yaml adds a recipient: the next minted key must not open for it ---------------------------


@dataclass
class Stranger:
    """Someone whose age recipient a merged commit put into .sops.yaml."""

    identity: str
    recipient: str

    def reads(self, repo: Path, rel: Path | str) -> bool:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SOPS_AGE")}
        sops = Sops(repo, env={**env, "SOPS_AGE_KEY": self.identity, "HOME": str(repo / "no-home")})
        try:
            sops_files.decrypt(sops, (repo / rel).read_bytes(), str(rel))
        except Exception:  # noqa: BLE001 - any failure means it cannot read it
            return False
        return True


@pytest.fixture
def stranger() -> Stranger:
    from aigw_secrets.sops import agekeys

    key = agekeys.generate_in_process()
    return Stranger(key.identity, key.recipient)


def add_recipient_to_rule(repo: Path, recipient: str, where: str, rel: Path = SECRET) -> str:
    """What a contributor merges: ``recipient`` in the rule covering ``rel`` (the root config's rule, or a
    nested .sops.yaml beside the file, or a new first rule matching only that file). Returns the file."""
    root_cfg = repo / ".sops.yaml"
    text = root_cfg.read_text()
    ours = re.search(r"age1[0-9a-z]+", text)
    assert ours
    if where == "root":
        root_cfg.write_text(text.replace(ours.group(0), f"{ours.group(0)},{recipient}", 1))
        return ".sops.yaml"
    if where == "nested":
        nested = repo / rel.parent / ".sops.yaml"
        nested.write_text(
            "creation_rules:\n  - path_regex: .*\\.sops\\.ya?ml$\n    encrypted_regex: ^(data|stringData)$\n"
            f"    age: {ours.group(0)},{recipient}\n"
        )
        return str(nested.relative_to(repo))
    first = (
        f"creation_rules:\n  - path_regex: {re.escape(rel.name)}$\n    encrypted_regex: ^(data|stringData)$\n"
        f"    age: {ours.group(0)},{recipient}\n"
    )
    root_cfg.write_text(text.replace("creation_rules:\n", first, 1))
    return ".sops.yaml"


@pytest.mark.parametrize(("where", "fix"), [("root", "updatekeys"), ("nested", "trust-list"), ("root", "trust-list")])
def test_sops_yaml_recipient_stops_rotation_before_minting(
    bot: Bot,
    stranger: Stranger,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    where: str,
    fix: str,
) -> None:
    """A merged commit adds a recipient to the rule covering the Secret: rotate, rotate --due and status
    stop before anything is minted (11, one line naming the file and the recipient), nothing is written,
    and the run after an operator acted (updatekeys, or the trust list set outside the repository)
    proceeds. Data-key rotation never adds it either (sops rotate keeps the file's recipients)."""
    bot.commit("add a teammate", add_recipient_to_rule(bot.repo, stranger.recipient, where))
    before, alive, value = (bot.repo / SECRET).read_bytes(), bot.alive(), bot.value()
    capsys.readouterr()
    main(["doctor", "--format", "json"])  # says so before any run
    findings = json.loads(capsys.readouterr().out)["findings"]
    assert [f for f in findings if f["where"] == str(SECRET) and stranger.recipient in f["message"]]
    monkeypatch.setenv("AIGW_SECRETS_NOW", LATER)
    assert main(["rotate", "--provider", "openai"]) == ExitCode.MANUAL_ACTION
    err = capsys.readouterr().err.strip()
    assert str(SECRET) in err and stranger.recipient in err and err.count("\n") == 0
    assert bot.alive() == alive  # nothing minted at the provider
    assert (bot.repo / SECRET).read_bytes() == before and git(bot.repo, "status", "--porcelain") == ""
    assert main(["rotate", "--due", "--format", "json"]) == ExitCode.MANUAL_ACTION
    (item,) = json.loads(capsys.readouterr().out)["needs_operator"]
    assert item["untrusted_recipients"] and stranger.recipient in item["reason"]
    assert bot.alive() == alive and bot.value() == value  # its data key is new, its recipients are not
    assert not stranger.reads(bot.repo, SECRET)
    assert not list(state_file(bot.repo, "x").parent.glob("pending-*"))
    assert main(["status", "--format", "json"]) in (0, 1)
    (row,) = [r for r in json.loads(capsys.readouterr().out) if r["provider"] == "openai"]
    assert row["state"] == "needs operator" and stranger.recipient in row["needs_operator"]
    assert main(["rotate", "--data-key"]) == 0
    assert not stranger.reads(bot.repo, SECRET)

    if fix == "updatekeys":  # the operator re-wraps the Secret for the new recipient: now a committed one
        assert main(["updatekeys"]) == 0
        bot.commit("updatekeys")
    else:
        monkeypatch.setenv("AIGW_SECRETS_TRUSTED_RECIPIENTS", f" someone-else , {stranger.recipient} ")
    assert main(["rotate", "--due"]) == 0
    assert stranger.reads(bot.repo, SECRET) and bot.value() != value
    assert main(["status", "--format", "json"]) in (0, 1)
    (row,) = [r for r in json.loads(capsys.readouterr().out) if r["provider"] == "openai"]
    assert row["state"] != "needs operator"


def test_cron_pushes_no_key_for_a_recipient_nobody_vouched_for(bot: Bot, stranger: Stranger, tmp_path: Path) -> None:
    """The cron script end to end: the run after the commit exits 11, commits and pushes nothing, mints
    nothing, and its textfile counts one Secret waiting for an operator; with the recipient in the
    operator's trust list (the CronJob's environment), the next run rotates and pushes."""
    bot.commit("add a teammate", add_recipient_to_rule(bot.repo, stranger.recipient, "root"))
    bare = remote(bot.repo, tmp_path)
    alive, value = bot.alive(), bot.value()
    res = cron(bot, {"AIGW_SECRETS_NOW": LATER})
    assert res.returncode == ExitCode.MANUAL_ACTION, res.stderr
    summary = json.loads(res.stdout)
    assert stranger.recipient in summary["needs_operator"][0]["reason"] and summary["rotated"] == []
    assert bot.alive() == alive and bot.value() == value  # the data keys rotated and were pushed, nothing else
    assert git(bare, "rev-parse", "HEAD") == git(bot.repo, "rev-parse", "HEAD")
    assert not stranger.reads(bot.repo, SECRET)
    assert metric((bot.tmp / "aigw.prom").read_text(), "aigw_secrets_manual_action_required") == "1"
    res = cron(bot, {"AIGW_SECRETS_NOW": LATER, "AIGW_SECRETS_TRUSTED_RECIPIENTS": stranger.recipient})
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["committed"] and git(bare, "rev-parse", "HEAD") == git(bot.repo, "rev-parse", "HEAD")
    assert stranger.reads(bot.repo, SECRET) and bot.value() != value


def test_accept_recipients_is_an_operator_at_a_terminal(
    bot: Bot, stranger: Stranger, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot.commit("add a teammate", add_recipient_to_rule(bot.repo, stranger.recipient, "nested"))
    alive = bot.alive()
    assert main(["rotate", "--provider", "openai", "--accept-recipients"]) == ExitCode.CONFIG  # not a terminal
    assert main(["rotate", "--due", "--accept-recipients"]) == ExitCode.CONFIG
    assert bot.alive() == alive
    from aigw_secrets.rotation import revoke

    monkeypatch.setattr(revoke, "at_terminal", lambda: True)
    assert main(["rotate", "--due", "--accept-recipients"]) == ExitCode.CONFIG  # never for the cron's command
    assert main(["rotate", "--provider", "openai", "--accept-recipients"]) == 0
    assert stranger.reads(bot.repo, SECRET)


def test_model_server_secret_rule_adds_a_recipient(
    repo: Path, stranger: Stranger, provider_standin: standin.Provider, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issuer self writes the key into the model server's Secret too (a file of its own, which a rule
    matching only its name can cover): its recipients are the gateway Secret's as committed."""
    server = OUT / "vllm-api-key.vllm.secret.sops.yaml"
    provider_standin.accept_prefix = "sk-aigw-"
    first = fakes.generic_key()
    provider_standin.status[first] = 200
    settings = {
        **provider_settings("vllm", "api-key"),
        "ai_gateway_vllm_validation_url": f"{provider_standin.url}/v1/models",
        "ai_gateway_vllm_issuer": "self",
        "ai_gateway_vllm_server_secret": "vllm/vllm-api-key",
    }
    write_cluster(repo, settings)
    monkeypatch.setenv("VLLM_API_KEY", first)
    assert main(["generate", "--no-input"]) == 0
    monkeypatch.delenv("VLLM_API_KEY")
    add_recipient_to_rule(repo, stranger.recipient, "first", server)
    before = {p: p.read_bytes() for p in (repo / OUT).iterdir()}
    assert main(["rotate", "--provider", "vllm"]) == ExitCode.MANUAL_ACTION
    assert {p: p.read_bytes() for p in (repo / OUT).iterdir()} == before
    monkeypatch.setenv("AIGW_SECRETS_TRUSTED_RECIPIENTS", stranger.recipient)
    assert main(["rotate", "--provider", "vllm"]) == 0
    assert stranger.reads(repo, server) and not stranger.reads(repo, OUT / "vllm.secret.sops.yaml")


def test_mcp_seed_rotation_keeps_the_committed_recipients(
    repo: Path, stranger: Stranger, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aigw_secrets.gateway import mcp

    write_cluster(repo, {"ai_gateway_mcp_session_seed": True})
    assert main(["generate", "--no-input"]) == 0
    seed = OUT / mcp.MCP_SEED_FILE
    add_recipient_to_rule(repo, stranger.recipient, "nested", seed)
    before = (repo / seed).read_bytes()
    assert main(["rotate", "--provider", "mcp-session-seed"]) == ExitCode.MANUAL_ACTION
    assert (repo / seed).read_bytes() == before
    assert main(["updatekeys", str(repo / seed)]) == 0  # the operator's way
    assert main(["rotate", "--provider", "mcp-session-seed"]) == 0
    assert stranger.reads(repo, seed)


def test_age_rotation_never_rekeys_for_a_recipient_nobody_vouched_for(
    repo: Path, stranger: Stranger, tmp_path: Path
) -> None:
    """`keys rotate-age` re-wraps every file (and the bootstrap copy of the age private keys) for what
    .sops.yaml lists: a recipient a commit added there stops it before anything is re-keyed."""
    from tests.rotation.test_agerotation import managed_repo, rotate_age

    with kubeapi.serve() as fake:
        import base64

        fake.secrets[("flux-system", "sops-age")] = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "sops-age", "namespace": "flux-system", "resourceVersion": "1"},
            "type": "Opaque",
            "data": {"age.agekey": base64.b64encode((repo / "age.key").read_bytes()).decode()},
        }
        kc = fake.kubeconfig(tmp_path / "kubeconfig")
        managed_repo(repo, bootstrap=True)
        add_recipient_to_rule(repo, stranger.recipient, "root")
        git(repo, "commit", "-qam", "add a teammate")
        files = {p: p.read_bytes() for p in repo.rglob("*.sops.yaml") if ".git" not in p.parts}
        res = rotate_age(repo, kc)
        assert res.returncode == ExitCode.MANUAL_ACTION, res.stderr
        assert stranger.recipient in res.stderr
        assert {p: p.read_bytes() for p in files} == files
        assert not stranger.reads(repo, "bootstrap/sops-age.sops.yaml")


def test_recipients_of_every_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every kind of sops master key is a recipient, key groups and flat (dotenv, INI) metadata included;
    the trust list takes a PGP key by fingerprint or long key id."""
    from aigw_secrets.sops import recipients

    pq = "age1pq1" + "q" * 60
    meta = {
        "kms": [{"arn": "arn:aws:kms:eu-west-1:1:key/k", "role": "arn:aws:iam::1:role/r", "enc": "x"}],
        "gcp_kms": [{"resource_id": "projects/p/locations/l/keyRings/r/cryptoKeys/k", "enc": "x"}],
        "azure_kv": [{"vault_url": "https://v.vault.azure.net/", "name": "k", "version": "1", "enc": "x"}],
        "hc_vault": [{"vault_address": "https://vault:8200", "engine_path": "transit/", "key_name": "k", "enc": "x"}],
        "age": [{"recipient": pq, "enc": "x"}],
        "pgp": [{"fp": "85d77543b3d624b63cea9e6dbc17301b491b3f21", "enc": "x"}],
        "key_groups": [{"hckms": [{"key_id": "region:kid", "enc": "x"}]}],
        "lastmodified": "2024-01-01T00:00:00Z",
        "mac": "ENC[...]",
    }
    assert recipients.of_metadata(meta, "x.sops.yaml") == {
        "arn:aws:kms:eu-west-1:1:key/k",
        "projects/p/locations/l/keyRings/r/cryptoKeys/k",
        "https://v.vault.azure.net/keys/k/1",
        "https://vault:8200/v1/transit/keys/k",
        pq,
        "85D77543B3D624B63CEA9E6DBC17301B491B3F21",
        "hckms:key_id=region:kid",
    }
    dotenv = b"X=ENC[...]\nsops_age__list_0__map_recipient=age1abc\nsops_pgp__list_0__map_fp=ABCD\nsops_mac=ENC[...]\n"
    assert recipients.of_file(dotenv, "a.env") == {"age1abc", "ABCD"}
    ini = b"[s]\nk = ENC[...]\n\n[sops]\nage__list_0__map_recipient = age1abc\nmac = ENC[...]\n"
    assert recipients.of_file(ini, "a.ini") == {"age1abc"}
    new = recipients.of_metadata(meta, "x.sops.yaml")
    monkeypatch.setenv(recipients.ENV, "bc17301b491b3f21, https://v.vault.azure.net/keys/k/1/")
    assert recipients.untrusted(new, {pq, "arn:aws:kms:eu-west-1:1:key/k"}) == sorted(
        {
            "projects/p/locations/l/keyRings/r/cryptoKeys/k",
            "https://vault:8200/v1/transit/keys/k",
            "hckms:key_id=region:kid",
        }
    )
    assert recipients.untrusted(new - {"hckms:key_id=region:kid"}, new) == []  # fewer is fine
    # a short key id vouches for a fingerprint only in the operator's list, never from a committed file
    monkeypatch.delenv(recipients.ENV)
    long_fp = "0123456789ABCDEF0123456789ABCDEF" + "BC17301B"
    assert recipients.untrusted({long_fp}, {"89ABCDEFBC17301B"}) == [long_fp]
    monkeypatch.setenv(recipients.ENV, "89abcdefbc17301b")
    assert recipients.untrusted({long_fp}, set()) == []


# --- the Secret's own sops metadata: not under the MAC, so a commit can add a recipient there -----------


def stranger_stanza(stranger: Stranger, tmp_path: Path) -> dict[str, str]:
    """An age stanza wrapping a data key of the stranger's own: what anyone can write into a file's
    metadata without being able to decrypt it."""
    scratch = tmp_path / "stranger"
    scratch.mkdir()
    (scratch / ".sops.yaml").write_text(f"creation_rules:\n  - age: {stranger.recipient}\n")
    enc = yaml.safe_load(Sops(scratch).encrypt(b"a: b\n", "x.sops.yaml"))
    (stanza,) = enc["sops"]["age"]
    return dict(stanza)


def add_stanza(bot: Bot, stanza: dict[str, str]) -> None:
    doc = yaml.safe_load((bot.repo / SECRET).read_text())
    doc["sops"]["age"].append(stanza)
    (bot.repo / SECRET).write_text(yaml.safe_dump(doc, sort_keys=False))
    bot.commit("tidy the Secret")


def test_recipient_added_to_the_secrets_metadata_gets_no_key(
    bot: Bot, stranger: Stranger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A contributor appends their own age stanza to the committed Secret (no key needed; sops still
    decrypts it with the cluster's key). The bot's data-key rotation would wrap the new data key for
    every recipient listed, and a rotation written in place keeps the metadata: both refuse (exit 11,
    before anything is minted), doctor says so, and the stranger never reads the live key. The
    operator's `updatekeys` (the stanza is not in .sops.yaml: it is dropped) lets the next run proceed."""
    add_stanza(bot, stranger_stanza(stranger, tmp_path))
    before, alive, value = (bot.repo / SECRET).read_bytes(), bot.alive(), bot.value()
    capsys.readouterr()
    main(["doctor", "--format", "json"])
    (finding,) = [f for f in json.loads(capsys.readouterr().out)["findings"] if stranger.recipient in f["message"]]
    assert finding["where"] == str(SECRET) and "after aigw-secrets last wrote" in finding["message"]
    monkeypatch.setenv("AIGW_SECRETS_NOW", LATER)
    assert main(["rotate", "--data-key"]) != 0
    assert main(["rotate", "--due", "--format", "json"]) == ExitCode.MANUAL_ACTION
    summary = json.loads(capsys.readouterr().out)
    assert stranger.recipient in summary["needs_operator"][0]["reason"]
    assert bot.alive() == alive and (bot.repo / SECRET).read_bytes() == before and bot.value() == value
    assert not stranger.reads(bot.repo, SECRET)
    assert main(["updatekeys", str(SECRET)]) == 0  # an operator: the rule does not list it, so it goes
    bot.commit("updatekeys")
    assert main(["rotate", "--due"]) == 0
    assert bot.value() != value and not stranger.reads(bot.repo, SECRET)


def test_secret_replaced_for_a_new_recipient_and_rule_gets_no_key(
    bot: Bot, stranger: Stranger, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The whole Secret replaced by one encrypted to the cluster's key *and* the stranger's (a value
    they chose), the stranger added to .sops.yaml in the same commit: the recipients look committed,
    but the bot never saw the stranger there, so the rotation stops before minting; the trust list
    (outside the repository) is what admits a recipient."""
    add_recipient_to_rule(bot.repo, stranger.recipient, "root")
    attacker_secret(bot, "sk-" + "a" * 40)  # encrypted by the new rule: the cluster's key and the stranger's
    assert stranger.reads(bot.repo, SECRET)
    alive = bot.alive()
    monkeypatch.setenv("AIGW_SECRETS_NOW", LATER)
    capsys.readouterr()
    assert main(["rotate", "--provider", "openai"]) == ExitCode.MANUAL_ACTION
    err = capsys.readouterr().err
    assert stranger.recipient in err and "added after aigw-secrets last wrote it" in err
    assert main(["rotate", "--due"]) == ExitCode.MANUAL_ACTION
    assert bot.alive() == alive
    assert (
        yaml.safe_load(sops_files.decrypt(Sops(bot.repo), (bot.repo / SECRET).read_bytes(), str(SECRET)))["stringData"][
            "apiKey"
        ]
        == "sk-" + "a" * 40
    )


def test_first_sight_is_recorded_by_the_first_unattended_run(
    repo: Path, stranger: Stranger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bot records each Secret's recipients the first time it runs, rotation due or not: a stanza
    committed after that run is not trusted, and one the operator re-keys in (`updatekeys`) is."""
    from aigw_secrets.rotation import vouched

    monkeypatch.setenv("AIGW_SECRETS_STATE_DIR", str(tmp_path / "state"))
    write_cluster(repo, provider_settings("openai"))
    monkeypatch.setenv("OPENAI_API_KEY", fakes.openai_project_key())
    assert main(["generate", "--no-input"]) == 0
    assert vouched.recorded(repo, str(SECRET)) is None  # generate is not the bot
    assert main(["rotate", "--due"]) == 0  # nothing due
    first = vouched.recorded(repo, str(SECRET))
    assert first and stranger.recipient not in first
    add_recipient_to_rule(repo, stranger.recipient, "root")
    assert main(["updatekeys", str(SECRET)]) == 0
    assert stranger.recipient in (vouched.recorded(repo, str(SECRET)) or set())


def test_a_secret_the_bot_meets_later_keeps_only_recipients_it_saw(
    bot: Bot, stranger: Stranger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A commit moves the output directory to where it placed a Secret encrypted to the cluster's key and
    its own (and a rule to match): the bot has never seen that file, but it has seen others, so only
    recipients it saw there count; the rotation stops before minting."""
    import shutil

    moved = Path("kubernetes/apps/elsewhere")
    (bot.repo / moved).mkdir(parents=True)
    add_recipient_to_rule(bot.repo, stranger.recipient, "root")
    attacker_secret(bot, "sk-" + "b" * 40)  # at SECRET, encrypted for the cluster's key and the stranger's
    for f in (bot.repo / OUT).iterdir():
        shutil.copy(f, bot.repo / moved / f.name)
    text = (bot.repo / "cluster.yaml").read_text()
    (bot.repo / "cluster.yaml").write_text(text + f"ai_gateway_output_dir: {moved}\n")
    git(bot.repo, "rm", "-rq", str(OUT))
    bot.commit("move the gateway's manifests")
    alive = bot.alive()
    monkeypatch.setenv("AIGW_SECRETS_NOW", LATER)
    assert main(["rotate", "--due"]) == ExitCode.MANUAL_ACTION
    assert bot.alive() == alive
    assert stranger.reads(bot.repo, moved / SECRET.name)  # still only the value the stranger wrote
    assert (
        "sk-" + "b" * 40
        in sops_files.decrypt(
            Sops(bot.repo), (bot.repo / moved / SECRET.name).read_bytes(), str(moved / SECRET.name)
        ).decode()
    )


def test_first_run_sees_every_governed_file_as_it_is(repo: Path, stranger: Stranger) -> None:
    """The bot's very first record covers every file .sops.yaml governs, each with its own recipients
    (a bootstrap Secret encrypted also for a second key rotates its data key as before); a file that
    appears later keeps only recipients the bot saw on every file it recorded."""
    from aigw_secrets.rotation import vouched

    ours = re.search(r"age1[0-9a-z]+", (repo / ".sops.yaml").read_text())
    assert ours
    (repo / "bootstrap").mkdir()
    (repo / "bootstrap" / ".sops.yaml").write_text(
        f"creation_rules:\n  - path_regex: .*\\.sops\\.ya?ml$\n    age: {ours.group(0)},{stranger.recipient}\n"
    )
    boot = Path("bootstrap/talos.sops.yaml")
    (repo / boot).write_bytes(Sops(repo).encrypt(b"machine:\n  token: abc\n", str(boot)))
    plain = Path("kubernetes/apps/app.sops.yaml")
    (repo / plain.parent).mkdir(parents=True, exist_ok=True)
    (repo / plain).write_bytes(Sops(repo).encrypt(b"token: abc\n", str(plain)))
    assert main(["rotate", "--data-key"]) == 0
    assert stranger.recipient in (vouched.recorded(repo, str(boot)) or set())
    later = Path("bootstrap/later.sops.yaml")
    (repo / later).write_bytes(Sops(repo).encrypt(b"token: abc\n", str(later)))
    vouched.observe_files(repo, [str(later)])
    assert vouched.recorded(repo, str(later)) == {ours.group(0)}  # the stranger is not on every file
    assert vouched.baseline(repo, "never.sops.yaml", {stranger.recipient}) == set()


def test_unreadable_metadata_is_never_rekeyed(bot: Bot, stranger: Stranger, tmp_path: Path) -> None:
    """A stanza hidden behind a field this tool's YAML reader refuses (sops ignores it): data-key
    rotation fails closed instead of wrapping the new data key for whoever the metadata lists."""
    add_stanza(bot, stranger_stanza(stranger, tmp_path))
    text = (bot.repo / SECRET).read_text().replace("sops:\n", "sops:\n    x: !custom y\n", 1)
    (bot.repo / SECRET).write_text(text)
    bot.commit("tidy")
    assert main(["rotate", "--data-key", str(bot.repo / SECRET)]) != 0
    assert not stranger.reads(bot.repo, SECRET)


def test_a_secret_pointed_at_another_files_path_keeps_only_its_own_recipients(
    bot: Bot, stranger: Stranger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A path is not an identity. A dev team's Secret is legitimately shared with a second key (a nested
    rule, re-keyed by an operator, so the bot vouches for it there); a commit then points the gateway's
    output directory at it. The provider's credential keeps only the recipients it had where the bot
    last wrote it: the rotation stops before minting and the dev team's key never opens a minted one."""
    import shutil

    dev = Path("kubernetes/apps/dev")
    (bot.repo / dev).mkdir(parents=True)
    ours = re.search(r"age1[0-9a-z]+", (bot.repo / ".sops.yaml").read_text())
    assert ours
    (bot.repo / dev / ".sops.yaml").write_text(
        "creation_rules:\n  - path_regex: .*\\.sops\\.ya?ml$\n    encrypted_regex: ^(data|stringData)$\n"
        f"    age: {ours.group(0)},{stranger.recipient}\n"
    )
    for f in (bot.repo / OUT).iterdir():
        if f != bot.repo / SECRET:
            shutil.copy(f, bot.repo / dev / f.name)
    shared = dev / SECRET.name
    doc = yaml.safe_load((bot.repo / SECRET).read_text())
    plain = {"apiVersion": "v1", "kind": "Secret", "metadata": doc["metadata"], "stringData": {"apiKey": "dev"}}
    (bot.repo / shared).write_bytes(Sops(bot.repo).encrypt(yaml.safe_dump(plain).encode(), str(shared)))
    assert main(["updatekeys", str(shared)]) == 0  # the operator: the bot now vouches for both keys there
    bot.commit("a dev copy for the dev team")
    assert main(["rotate", "--due"]) == 0  # an unattended run: nothing due
    text = (bot.repo / "cluster.yaml").read_text()
    (bot.repo / "cluster.yaml").write_text(text + f"ai_gateway_output_dir: {dev}\n")
    bot.commit("serve the gateway from the dev manifests")
    alive = bot.alive()
    monkeypatch.setenv("AIGW_SECRETS_NOW", LATER)
    assert main(["rotate", "--due"]) == ExitCode.MANUAL_ACTION
    assert bot.alive() == alive  # nothing minted
    assert stranger.reads(bot.repo, shared)
    assert (
        yaml.safe_load(sops_files.decrypt(Sops(bot.repo), (bot.repo / shared).read_bytes(), str(shared)))["stringData"][
            "apiKey"
        ]
        == "dev"
    )


# --- what a commit may name that sops itself acts on: a Vault, a rule leaving the value in the clear ----


@dataclass
class AttackerVault:
    """A "Vault" a commit names (127.0.0.1): records every request it gets."""

    url: str
    seen: list[str]


@pytest.fixture
def attacker_vault() -> Iterator[AttackerVault]:
    from http.server import BaseHTTPRequestHandler

    from testing import httpserve

    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def setup(self) -> None:  # any connection counts (a Key Vault client speaks TLS first)
            seen.append("connected")
            super().setup()

        def do_any(self) -> None:
            seen.append(str(self.headers))
            httpserve.send_json(self, 500, {})

        do_GET = do_POST = do_PUT = do_any

        def log_message(self, *_: object) -> None:
            pass

    server, url = httpserve.start(Handler)
    yield AttackerVault(url, seen)
    server.shutdown()
    server.server_close()


VAULT_TOKEN = "hvs." + "t" * 24  # the bot's store token (a stand-in)


def _name_a_key_server(repo: Path, where: str, url: str) -> None:
    """Edit the creation rule or the Secret's metadata so it names a key server at ``url``, spelled as
    ``where`` says: plainly, in a key group, in a nested ``merge`` group, behind a YAML escape, or as an
    Azure Key Vault."""
    if where.startswith("rule"):
        text = (repo / ".sops.yaml").read_text()
        ours = re.search(r"\n(\s*)age: (age1[0-9a-z]+)", text)
        assert ours
        at, age, uri = ours.group(1), ours.group(2), f"{url}/v1/transit/keys/k"
        line = {
            "rule": f"{ours.group(0)}\n{at}hc_vault_transit_uri: {uri}",
            "rule-escaped": f'{ours.group(0)}\n{at}"hc\\x5fvault_transit_uri": {uri}',
            "rule-group": f"\n{at}key_groups:\n{at}  - age: [{age}]\n{at}    hc_vault: [{uri}]",
            "rule-merge": f"\n{at}key_groups:\n{at}  - merge:\n{at}      - age: [{age}]\n{at}      - hc_vault: [{uri}]",
            "rule-azure": f"{ours.group(0)}\n{at}azure_keyvault: {url}/keys/k/0123456789abcdef",
            # Go's decoder reads a !!binary key as its bytes: hc_vault_transit_uri
            "rule-binary": f"{ours.group(0)}\n{at}!!binary aGNfdmF1bHRfdHJhbnNpdF91cmk=: {uri}",
            "rule-bare": f"{ours.group(0)}\n{at}!!binary aGNfdmF1bHRfdHJhbnNpdF91cmk=: {uri}",
            # a last rule without path_regex: it matches doctor's probe too
            "rule-catch-all": f"{ours.group(0)}\n  - hc_vault_transit_uri: {uri}",
        }[where]
        text = text.replace(ours.group(0), line, 1)
        if where == "rule-bare":  # nothing in the text that names a Vault: no comment, no escape
            text = "\n".join(x for x in text.splitlines() if not x.lstrip().startswith("#")).replace("\\.", "[.]")
            assert "vault" not in text and "\\" not in text
        (repo / ".sops.yaml").write_text(text + "\n")
        return
    text = (repo / SECRET).read_text()
    head = re.search(r"(?m)^sops:\n(\s+)", text)
    assert head
    at = head.group(1)
    # without its age stanza the file can only be opened through the key server: sops would go there
    text = re.sub(rf"(?m)^{at}age:\n(?:{at}[ -].*\n)+", "", text, count=1)
    head = re.search(r"(?m)^sops:\n(\s+)", text)
    assert head and "recipient: age1" not in text
    if where == "metadata-azure":
        stanza = f"azure_kv:\n{at}  - vault_url: {url}\n{at}    name: k\n{at}    version: 0123456789abcdef\n"
    else:
        key = {"metadata-escaped": '"hc\\x5fvault"', "metadata-binary": "!!binary aGNfdmF1bHQ="}.get(where, "hc_vault")
        # a tag PyYAML cannot construct, and the address's name behind an escape
        address = {"metadata-tag": '"vault_addr\\x65ss"', "metadata-binary": "!!binary dmF1bHRfYWRkcmVzcw=="}.get(
            where, "vault_address"
        )
        stanza = "note: !unknown x\n" + at if where == "metadata-tag" else ""
        stanza += f"{key}:\n{at}  - {address}: {url}\n{at}    engine_path: transit\n{at}    key_name: k\n"
    stanza += f'{at}    created_at: "2024-01-01T00:00:00Z"\n{at}    enc: vault:v1:eA==\n{at}'
    (repo / SECRET).write_text(text[: head.end()] + stanza + text[head.end() :])


@pytest.mark.parametrize(
    "where",
    [
        "rule",
        "rule-group",
        "rule-merge",
        "rule-escaped",
        "rule-azure",
        "rule-binary",
        "rule-bare",
        "rule-catch-all",
        "metadata",
        "metadata-escaped",
        "metadata-azure",
        "metadata-binary",
        "metadata-tag",
    ],
)
def test_a_vault_a_commit_names_is_never_contacted(
    bot: Bot,
    attacker_vault: AttackerVault,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    where: str,
) -> None:
    """sops logs in to the Vault a creation rule or a file's metadata names with the VAULT_TOKEN in its
    environment (the bot's store token), and asks an Azure Key Vault for a challenge with its Azure
    identity. Named by a commit (in any key group, behind any escape), it is refused before sops runs:
    rotate, data-key rotation, status and doctor contact nothing, mint nothing, and say why (exit 11); a
    Vault the operator names (VAULT_ADDR) is not refused."""
    from aigw_secrets.sops import vaults

    monkeypatch.setenv("VAULT_TOKEN", VAULT_TOKEN)
    for name, value in {"TENANT": "1", "CLIENT": "2"}.items():
        monkeypatch.setenv(f"AZURE_{name}_ID", f"00000000-0000-0000-0000-00000000000{value}")
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "the-bots-azure-identity")
    azure = where.endswith("azure")
    url = attacker_vault.url.replace("http://", "https://") if azure else attacker_vault.url
    _name_a_key_server(bot.repo, where, url)
    bot.commit("add a Vault")
    alive = bot.alive()
    monkeypatch.setenv("AIGW_SECRETS_NOW", LATER)
    capsys.readouterr()
    code = main(["rotate", "--due"])
    said = capsys.readouterr()
    kind = vaults.AZURE if azure else vaults.VAULT
    if where.startswith("rule"):  # refused before sops runs
        assert code == ExitCode.MANUAL_ACTION and f"{kind} at {url}" in said.out + said.err
    elif where != "metadata-tag":  # refused already by the recipients the bot recorded
        assert code == ExitCode.MANUAL_ACTION and "metadata lists" in said.out + said.err, said.err
    else:  # a Secret the tool cannot read
        assert code == ExitCode.NO_INPUT and str(SECRET) in said.err
    for cmd in (["rotate", "--provider", "openai"], ["rotate", "--data-key"], ["status"], ["doctor"]):
        main(cmd)
    assert attacker_vault.seen == [] and bot.alive() == alive
    with pytest.raises(vaults.UntrustedVault, match=r"127\.0\.0\.1"):
        vaults.require({}, "x.sops.yaml", [(kind, f"{url}/v1/transit/keys/k")], "its creation rule")
    trust = {"VAULT_ADDR": url + "/"} if not azure else {vaults.TRUST_ENV: f"{url}/keys/k"}
    vaults.require(trust, "x.sops.yaml", [(kind, url)], "its rule")
    vaults.require({}, "x.sops.yaml", [(vaults.AZURE, "https://team.vault.azure.net/keys/k/1")], "its rule")


@pytest.mark.parametrize("opted_in", [False, True])
def test_sops_gets_the_vault_token_only_when_the_operators_keys_live_in_a_vault(
    bot: Bot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, opted_in: bool
) -> None:
    """The second layer: whatever a file names (and however it hides it from the check above), sops has no
    Vault token to send unless the operator says their sops keys live in a Vault (the store's token, or
    ~/.vault-token, never reaches it otherwise)."""
    from aigw_secrets.sops.binary import PLACEHOLDER_TOKEN, VAULT_TOKEN_ENV, find_binary

    monkeypatch.setenv("VAULT_TOKEN", VAULT_TOKEN)
    monkeypatch.setenv("BAO_TOKEN", VAULT_TOKEN)
    if opted_in:
        monkeypatch.setenv(VAULT_TOKEN_ENV, "1")
    seen = tmp_path / "seen"
    wrapper = tmp_path / "sops"
    wrapper.write_text(f'#!/bin/sh\necho "$VAULT_TOKEN|$BAO_TOKEN" >> {seen}\nexec {find_binary()} "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("SOPS_BINARY", str(wrapper))
    assert main(["rotate", "--data-key"]) == 0
    monkeypatch.setenv("AIGW_SECRETS_NOW", LATER)
    assert main(["rotate", "--due"]) == 0
    assert set(seen.read_text().splitlines()) == {
        f"{VAULT_TOKEN}|{VAULT_TOKEN}" if opted_in else f"{PLACEHOLDER_TOKEN}|"
    }


@pytest.mark.parametrize("what", ["minted", "seed"])
def test_a_rule_leaving_the_value_in_the_clear_stops_before_minting(
    bot: Bot, monkeypatch: pytest.MonkeyPatch, what: str
) -> None:
    """A commit narrows encrypted_regex so stringData stays in the clear: the rotation stops before
    anything is minted (exit 11, the rule named), and nothing is written in plaintext, for the minted
    credential and for the MCP seed."""
    if what == "seed":
        with (bot.repo / "cluster.yaml").open("a") as fh:
            fh.write("ai_gateway_mcp_session_seed: true\n")
        assert main(["generate", "--no-input"]) == 0
        bot.commit("seed")
        assert main(["rotate", "--due"]) == 0
    cfg = bot.repo / ".sops.yaml"
    cfg.write_text(cfg.read_text().replace("encrypted_regex: ^(data|stringData)$", "encrypted_regex: ^(type)$"))
    bot.commit("tidy the sops rule")
    alive, value = bot.alive(), bot.value()
    monkeypatch.setenv("AIGW_SECRETS_NOW", LATER)
    cmd = ["rotate", "--due"] if what == "minted" else ["rotate", "--provider", "mcp-session-seed"]
    assert main(cmd) == ExitCode.MANUAL_ACTION
    assert bot.alive() == alive and bot.value() == value  # (its data key may rotate: sops keeps its own selectors)
    secrets = list((bot.repo / OUT).glob("*.sops.yaml"))
    assert len(secrets) == 1 + (what == "seed")
    assert all(sops_files.plain_in_secret(p.read_bytes()) == [] for p in secrets)


# --- where a credential goes in the secret store is not the repository's to move ----------------------------


def test_a_commit_does_not_move_where_the_store_keeps_a_credential(
    repo: Path, bao: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """External Secrets with Vault: the token and address are the environment's, the KV mount and the prefix
    cluster.yaml's. A commit pointing the mount at a second KV mount (one its author reads) does not get the
    next credential written there: rotate and generate refuse (11), nothing minted or stored; the operator
    accepts the move for one credential at a terminal (--accept-recipients)."""
    import hvac

    from aigw_secrets.rotation import revoke

    monkeypatch.setenv("VAULT_ADDR", bao.url)
    monkeypatch.setenv("VAULT_TOKEN", bao.token)
    client = hvac.Client(url=bao.url, token=bao.token)
    mount = "team" + fakes.rand(6).lower()
    client.sys.enable_secrets_engine("kv", path=mount, options={"version": "2"})
    prefix = f"t{fakes.rand(8).lower()}/"
    key = f"{prefix}ai-gateway/groq-apikey"

    def at(where: str) -> dict[str, str]:
        try:
            got = client.secrets.kv.v2.read_secret_version(path=key, mount_point=where, raise_on_deleted_version=True)
        except hvac.exceptions.InvalidPath:
            return {}
        return dict(got["data"]["data"])

    with standin.serve() as provider:
        old, new, third = fakes.groq_key(), fakes.groq_key(), fakes.groq_key()
        provider.status.update({old: 200, new: 200, third: 200})
        settings = {
            **provider_settings("groq"),
            "ai_gateway_groq_validation_url": f"{provider.url}/openai/v1/models",
            "ai_gateway_secret_backend": "external-secrets",
            "ai_gateway_external_secrets_store": "my-store",
            "ai_gateway_external_secrets_provider": "vault",
            "ai_gateway_external_secrets_prefix": prefix,
        }
        write_cluster(repo, settings)
        monkeypatch.setenv("GROQ_API_KEY", old)
        assert main(["generate", "--no-input"]) == 0
        write_cluster(repo, {**settings, "ai_gateway_external_secrets_vault_mount": mount})  # the commit
        monkeypatch.setenv("GROQ_API_KEY", new)
        capsys.readouterr()
        assert main(["rotate", "--provider", "groq"]) == ExitCode.MANUAL_ACTION
        said = capsys.readouterr().err
        assert f"vault mount {mount} entry {key}" in said and f"mount secret entry {key}" in said
        assert main(["generate", "--no-input"]) == ExitCode.MANUAL_ACTION
        assert at(mount) == {} and new not in at("secret").values()
        monkeypatch.setattr(revoke, "at_terminal", lambda: True)
        monkeypatch.setenv("GROQ_API_KEY", third)
        assert main(["rotate", "--provider", "groq", "--accept-recipients"]) == 0
        assert third in at(mount).values()


# --- what a commit can make the bot walk while it holds the lock ------------------------------------------

BOMB = '# a vault\nbomb_a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]\n' + "".join(
    f"bomb_{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 10) + "]\n" for i in range(11)
)  # 10^12 leaves once the aliases are expanded, in a few hundred bytes: walking it expanded never ends


def test_an_alias_bomb_in_a_plain_manifest_never_holds_the_lock(bot: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same bomb under the metadata of the provider's plain manifest (the policy the bot re-writes after a
    rotation): no committed text the tool reads stands for more than a million values, so nothing written
    out expands it; the run ends and the live keys stay."""
    policy = bot.repo / OUT / "openai.yaml"
    text = policy.read_text()
    at = re.search(r"(?m)^metadata:\n(\s+)", text)
    assert at
    block = "".join(at.group(1) + line + "\n" for line in BOMB.splitlines())
    policy.write_text(text[: at.end()] + block.lstrip(" ") + at.group(1) + text[at.end() :])
    bot.commit("tidy")
    monkeypatch.setenv("AIGW_SECRETS_NOW", LATER)
    main(["rotate", "--due"])
    main(["status"])
    assert {bot.live, bot.operator_key} <= bot.alive()


@pytest.mark.parametrize("where", ["sops-yaml", "secret-metadata"])
def test_an_alias_bomb_a_commit_adds_never_holds_the_lock(
    bot: Bot, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    """A billion laughs in .sops.yaml or in a Secret's sops block (not under the MAC): every walk of the
    tool's visits a node an alias shares once, and sops (whose decoder expands them) is never handed a file
    whose aliases expand past a million values (65, naming the file). The run ends; nothing is revoked."""
    if where == "sops-yaml":
        text = (bot.repo / ".sops.yaml").read_text().removeprefix("---\n")
        (bot.repo / ".sops.yaml").write_text(BOMB + text)
    else:
        text = (bot.repo / SECRET).read_text()
        at = re.search(r"(?m)^sops:\n(\s+)", text)
        assert at
        block = "".join(at.group(1) + line + "\n" for line in BOMB.splitlines())
        (bot.repo / SECRET).write_text(text[: at.end()] + block.lstrip(" ") + at.group(1) + text[at.end() :])
    bot.commit("tidy")
    alive = bot.alive()
    capsys.readouterr()
    # sops reads the rule when it encrypts (a new credential), the metadata whenever it opens the file
    code = main(["rotate", "--provider", "openai"] if where == "sops-yaml" else ["rotate", "--data-key"])
    said = capsys.readouterr().err
    assert code == ExitCode.DATA, said
    assert "aliases expand to more than 1,000,000 values" in said
    assert (".sops.yaml" if where == "sops-yaml" else str(SECRET)) in said
    monkeypatch.setenv("AIGW_SECRETS_NOW", LATER)
    main(["rotate", "--due"])
    main(["doctor"])
    main(["status"])
    assert {bot.live, bot.operator_key} <= alive <= bot.alive()  # (--due may rotate: the Secret is rewritten)


def test_the_bot_never_makes_the_first_write_of_a_credential_to_a_store(tmp_path: Path) -> None:
    """A commit switching a credential the bot mints from SOPS to the store (naming a mount its author
    reads) finds no recorded location: in the bot's own run that is refused (11) before anything is minted;
    an operator's run records it, and a later move is refused to the bot and the operator alike."""
    from aigw_secrets import adminenv
    from aigw_secrets.rotation import storepin
    from aigw_secrets.sops.recipients import UntrustedRecipients
    from aigw_secrets.stores.base import StoreSettings

    git(tmp_path, "init", "-q")
    settings = StoreSettings("vault", "my-store", "ClusterSecretStore", "p/", "1h", "", "team", "")
    there = storepin.location(settings, "p/ai-gateway/openai-apikey")
    with adminenv.unattended(), pytest.raises(UntrustedRecipients, match="never wrote the openai credential"):
        storepin.check(tmp_path, "openai", there)
    storepin.check(tmp_path, "openai", there)  # an operator's run
    storepin.remember(tmp_path, "openai", there)
    with adminenv.unattended():
        storepin.check(tmp_path, "openai", there)
        with pytest.raises(UntrustedRecipients, match="last wrote it to vault mount team"):
            storepin.check(tmp_path, "openai", storepin.location(settings._replace(vault_mount="x"), "k"))


@pytest.mark.parametrize("granted", ["none", "this provider", "another provider"])
@pytest.mark.parametrize("kind", ["cmd", "file"])
def test_a_blanket_grant_never_reaches_the_bot(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str, granted: str
) -> None:
    """AIGW_SECRETS_ALLOW_COMMANDS=1 / ALLOW_FILES=1 let cluster.yaml's cmd: / file: sources be used in an
    operator's run. In the bot's own run a commit could name any program (one that reads the age key and
    encodes it past every check) or any file the bot can read (git's credential store, its Kubernetes token):
    only what the operator grants exactly, to that provider, is used (AIGW_SECRETS_UNATTENDED_COMMANDS /
    _FILES); another provider's grant (the command printing OpenAI's key) is not borrowed."""
    with standin.serve() as vllm:
        vllm.accept_prefix = ""
        second = fakes.generic_key()
        vllm.status[second] = 200
        settings = _vllm_generated(repo, vllm, monkeypatch)
        ran = tmp_path / "ran"
        (tmp_path / "keys").mkdir()
        (tmp_path / "keys" / "vllm").write_text(second + "\n")
        named = f"sh -c 'touch {ran}; echo {second}'" if kind == "cmd" else str(tmp_path / "keys" / "vllm")
        monkeypatch.setenv("AIGW_SECRETS_ALLOW_COMMANDS", "1")
        monkeypatch.setenv("AIGW_SECRETS_ALLOW_FILES", "1")
        if granted != "none":
            owner = "vllm" if granted == "this provider" else "openai"
            listed = named if kind == "cmd" else str(tmp_path / "keys" / ".." / "keys" / "vllm")
            monkeypatch.setenv(
                f"AIGW_SECRETS_UNATTENDED_{kind.upper().replace('CMD', 'COMMAND')}S", f"{owner}={listed}"
            )
        write_cluster(repo, {**settings, "ai_gateway_vllm_credential_source": f"{kind}:{named}"})
        monkeypatch.setenv("AIGW_SECRETS_NOW", LATER)
        code = main(["rotate", "--due"])
        used = granted == "this provider"
        assert ran.exists() == (used and kind == "cmd")
        assert (code == 0) if used else (code == ExitCode.MANUAL_ACTION and second not in vllm.calls)


# --- a data key a commit's author knows --------------------------------------------------------------------


def _data_key_known_to(repo: Path, stranger: Stranger, rel: str, plain: str) -> dict[str, str]:
    """What anyone can commit: a Secret encrypted to the repository's recipient and their own, their stanza
    then removed (the metadata is not under the MAC). Returns that stanza: it opens the data key."""
    scratch = repo.parent / "author"
    scratch.mkdir(exist_ok=True)
    ours = re.search(r"age1[0-9a-z]+", (repo / ".sops.yaml").read_text())
    assert ours
    (scratch / ".sops.yaml").write_text(
        (repo / ".sops.yaml").read_text().replace(ours.group(0), f"{ours.group(0)},{stranger.recipient}")
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOPS_AGE")}
    text = sops_files.encrypt(Sops(scratch, env={**env, "SOPS_AGE_KEY": stranger.identity}), plain.encode(), rel)
    doc = yaml.safe_load(text)
    mine = next(s for s in doc["sops"]["age"] if s["recipient"] == stranger.recipient)
    doc["sops"]["age"] = [s for s in doc["sops"]["age"] if s is not mine]
    (repo / rel).parent.mkdir(parents=True, exist_ok=True)
    (repo / rel).write_text(yaml.safe_dump(doc, sort_keys=False))
    return dict(mine)


@pytest.mark.parametrize("how", ["set", "edit"])
def test_a_value_is_never_written_under_a_data_key_a_commit_chose(
    bot: Bot, stranger: Stranger, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, how: str
) -> None:
    """`sops set` keeps a file's data key: an operator setting (or editing) a value in such a Secret (the
    store's token, the age key's bootstrap copy written by `keys rotate-age`) handed it to the author. The
    value is set under a new data key: the author's stanza opens nothing."""
    rel = "kubernetes/apps/external-secrets/vault-token.sops.yaml"
    plain = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: vault-token\nstringData:\n  token: placeholder\n"
    stanza = _data_key_known_to(bot.repo, stranger, rel, plain)
    bot.commit("the store's token Secret, its value to be set by an operator", rel)
    new = "hvs." + fakes.rand(40)
    if how == "set":
        monkeypatch.setenv("NEW_TOKEN", new)
        assert main(["set", "--from-env", "NEW_TOKEN", str(bot.repo / rel), "stringData.token"]) == 0
    else:
        monkeypatch.setenv("EDITOR", f"sed -i s/placeholder/{new}/")
        monkeypatch.delenv("VISUAL", raising=False)
        assert main(["edit", str(bot.repo / rel)]) == 0
    doc = yaml.safe_load((bot.repo / rel).read_text())
    assert new in sops_files.decrypt(Sops(bot.repo), (bot.repo / rel).read_bytes(), rel).decode()
    doc["sops"]["age"].append(stanza)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOPS_AGE")}
    author = Sops(bot.repo, env={**env, "SOPS_AGE_KEY": stranger.identity, "HOME": str(tmp_path)})
    with pytest.raises(AigwError):
        sops_files.decrypt(author, yaml.safe_dump(doc, sort_keys=False).encode(), rel)
