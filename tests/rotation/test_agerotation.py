"""age key rotation and the cluster side, with the real kubernetes client against an API stand-in."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from aigw_secrets.cli import main
from aigw_secrets.errors import AigwError, ExitCode
from aigw_secrets.sops import agekeys
from aigw_secrets.sops import files as sops_files
from aigw_secrets.sops.binary import Sops
from testing import fakes, kubeapi
from testing.corpus import corpus
from testing.helpers import git, run_cli, run_killed
from testing.repos import provider_settings, write_cluster

FILES = ["basic-2-space", "literal-block", "multi-document", "flow-collections"]


@pytest.fixture
def cluster(repo: Path, tmp_path: Path) -> Iterator[tuple[kubeapi.FakeCluster, Path]]:
    with kubeapi.serve() as fake:
        old = (repo / "age.key").read_bytes()
        fake.secrets[("flux-system", "sops-age")] = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "sops-age", "namespace": "flux-system", "resourceVersion": "1"},
            "type": "Opaque",
            "data": {"age.agekey": base64.b64encode(old).decode()},
        }
        yield fake, fake.kubeconfig(tmp_path / "kubeconfig")


def managed_repo(repo: Path, *, bootstrap: bool = False) -> dict[Path, bytes]:
    texts = corpus()
    files = {}
    if bootstrap:  # cluster-template keeps the decryption Secret itself, encrypted, for bootstrapping
        boot = repo / "bootstrap/sops-age.sops.yaml"
        boot.parent.mkdir()
        identity = (repo / "age.key").read_text().strip().splitlines()[-1]
        boot.write_text(
            "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: sops-age\n  namespace: flux-system\n"
            f'stringData:\n  age.agekey: "{identity}"\n'
        )
    for name in FILES:
        path = repo / f"kubernetes/apps/{name}.sops.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(texts[name])
        files[path] = texts[name].encode()
    assert main(["encrypt"]) == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "initial")
    return files


def cluster_identities(fake: kubeapi.FakeCluster) -> str:
    data = fake.secrets[("flux-system", "sops-age")]["data"]
    return "\n".join(base64.b64decode(v).decode() for k, v in data.items() if k.endswith(".agekey"))


def decrypts_with(repo: Path, files: dict[Path, bytes], identities: str) -> bool:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOPS_AGE")}
    env["SOPS_AGE_KEY"] = identities
    env["HOME"] = str(repo / "no-home")
    sops = Sops(repo, env=env)
    try:
        return all(
            sops_files.decrypt(sops, p.read_bytes(), str(p.relative_to(repo))) == text for p, text in files.items()
        )
    except AigwError:
        return False


def operator_identities(repo: Path) -> str:
    return "\n".join(p.read_text() for p in [repo / "age.key", *repo.glob("age-*.agekey")] if p.is_file())


def invariant(repo: Path, files: dict[Path, bytes], fake: kubeapi.FakeCluster) -> None:
    """What keeps Flux working: the cluster's keys decrypt every file; so do the operator's."""
    assert decrypts_with(repo, files, cluster_identities(fake)), "the cluster could not decrypt a file"
    assert decrypts_with(repo, files, operator_identities(repo)), "the operator could not decrypt a file"


def bootstrap_recipients(repo: Path, boot: Path) -> set[str]:
    text = sops_files.decrypt(
        Sops(repo, env={**os.environ, "SOPS_AGE_KEY": operator_identities(repo)}),
        boot.read_bytes(),
        str(boot.relative_to(repo)),
    )
    held = yaml.safe_load(text)["stringData"]["age.agekey"]
    return {agekeys.recipient_of(m.group(0)) for m in agekeys.IDENTITY_RE.finditer(held)}


def rotate_age(
    repo: Path, kubeconfig: Path, *extra: str, crash: str | None = None, when: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`keys rotate-age` in this process; with ``crash``, in a child forked from it and killed after that phase."""
    env = {"AIGW_SECRETS_NOW": when} if when else {}
    argv = ["keys", "rotate-age", "--kubeconfig", str(kubeconfig), "--grace-hours", "1", *extra]
    if crash:
        return subprocess.CompletedProcess(argv, run_killed(repo, argv, crash, env), "", "")
    return run_cli(repo, argv, env)


def test_full_rotation_keeps_flux_working_after_every_phase(
    repo: Path, cluster: tuple[kubeapi.FakeCluster, Path]
) -> None:
    fake, kc = cluster
    files = managed_repo(repo, bootstrap=True)
    boot = repo / "bootstrap/sops-age.sops.yaml"
    old_identity = (repo / "age.key").read_text()
    old_recipient = agekeys.read_key_file(repo / "age.key")[0].recipient
    invariant(repo, files, fake)

    for phase in ("generated", "cluster-has-both", "recipient-added"):
        res = rotate_age(repo, kc, crash=phase)
        assert res.returncode == 137, res.stderr
        invariant(repo, files, fake)
    journal = json.loads((repo / ".git/aigw-secrets/age-rotation.json").read_text())
    new_recipient = journal["new_recipient"]
    assert new_recipient in (repo / ".sops.yaml").read_text() and old_recipient in (repo / ".sops.yaml").read_text()
    assert bootstrap_recipients(repo, boot) == {old_recipient, new_recipient}  # a new cluster gets both keys

    res = rotate_age(repo, kc)  # Flux has not applied the re-keyed commit: wait, change nothing
    assert res.returncode == ExitCode.LOCKED and "waiting for Flux" in res.stderr
    assert old_recipient in (repo / ".sops.yaml").read_text()
    invariant(repo, files, fake)

    fake.flux_applies("flux-system", "flux-system", f"main@sha1:{journal['commit_added']}")
    res = rotate_age(repo, kc, crash="old-removed")
    assert res.returncode == 137, res.stderr
    invariant(repo, files, fake)
    assert old_recipient not in (repo / ".sops.yaml").read_text()
    assert bootstrap_recipients(repo, boot) == {new_recipient}
    assert 'stringData:\n  age.agekey: "ENC[' in boot.read_text()  # formatting kept
    assert not decrypts_with(repo, files, old_identity)  # new data keys: the old key reads nothing new

    journal = json.loads((repo / ".git/aigw-secrets/age-rotation.json").read_text())
    res = rotate_age(repo, kc)
    assert res.returncode == ExitCode.LOCKED and "waiting for Flux" in res.stderr
    fake.flux_applies("flux-system", "flux-system", f"main@sha1:{journal['commit_removed']}")
    res = rotate_age(repo, kc)
    assert res.returncode == ExitCode.LOCKED and "grace period" in res.stderr
    invariant(repo, files, fake)

    res = rotate_age(repo, kc, when="2099-01-01T00:00:00Z")
    assert res.returncode == 0, res.stderr
    invariant(repo, files, fake)
    held = cluster_identities(fake)
    assert old_identity.strip().splitlines()[-1] not in held
    assert agekeys.read_key_file(repo / "age.key")[0].recipient == new_recipient  # SOPS_AGE_KEY_FILE keeps working
    assert list(
        (repo / ".git/aigw-secrets/retired").glob("age.key.retired-*")
    )  # kept, in the state directory no commit reaches
    assert not list(repo.glob("age.key.retired-*"))
    assert "age-" not in git(repo, "ls-files")  # no key file was committed
    untracked = git(repo, "ls-files", "--others", "--exclude-standard").split()
    assert not [
        f for f in untracked if "AGE-SECRET-KEY" in (repo / f).read_text(errors="replace")
    ]  # `git add -A` picks up no key
    assert git(repo, "status", "--porcelain", "--", ".gitignore") == ""  # the tool's .gitignore change is committed
    log = git(repo, "log", "--format=%s")
    assert "add age recipient" in log and "remove old age recipient" in log


def test_dry_run_prints_the_plan(repo: Path, cluster: tuple[kubeapi.FakeCluster, Path]) -> None:
    _fake, kc = cluster
    managed_repo(repo)
    res = rotate_age(repo, kc, "--dry-run")
    assert res.returncode == 0 and res.stdout.count("todo") == 5
    assert not list(repo.glob("age-*.agekey"))


def test_no_cluster_access_stops_before_phase_two(repo: Path, cluster: tuple[kubeapi.FakeCluster, Path]) -> None:
    fake, kc = cluster
    files = managed_repo(repo)
    before = {p: p.read_bytes() for p in files}
    sops_yaml = (repo / ".sops.yaml").read_text()
    fake.stop()
    res = rotate_age(repo, kc)
    assert res.returncode == ExitCode.UNAVAILABLE and "no cluster access" in res.stderr
    assert len([line for line in res.stderr.splitlines() if "error:" in line]) == 1
    assert json.loads((repo / ".git/aigw-secrets/age-rotation.json").read_text())["state"] == "generated"
    assert (repo / ".sops.yaml").read_text() == sops_yaml and all(p.read_bytes() == before[p] for p in files)


def test_phase_two_by_hand(repo: Path, cluster: tuple[kubeapi.FakeCluster, Path], tmp_path: Path) -> None:
    """Without cluster access: the exact kubectl commands, then --confirm-phase 2 goes on, checking what it can."""
    fake, kc = cluster
    files = managed_repo(repo)
    dead = tmp_path / "dead-kubeconfig"
    dead.write_text(kc.read_text().replace(fake.url, "https://127.0.0.1:9"))
    res = rotate_age(repo, dead)
    assert res.returncode == ExitCode.UNAVAILABLE
    journal = json.loads((repo / ".git/aigw-secrets/age-rotation.json").read_text())
    entry = f"aigw-{journal['rotation_id'][:8]}.agekey"
    assert (
        "kubectl -n flux-system patch secret sops-age --type merge --patch-file" in res.stdout and entry in res.stdout
    )
    assert "--confirm-phase 2" in res.stdout and "AGE-SECRET-KEY" not in res.stdout + res.stderr

    res = rotate_age(repo, kc, "--confirm-phase", "2")  # claimed, but the key is not there: refused
    assert res.returncode == ExitCode.DATA and "run the phase 2 commands first" in res.stderr
    new_key = (repo / journal["new_key_file"]).read_bytes()
    fake.secrets[("flux-system", "sops-age")]["data"][entry] = base64.b64encode(
        new_key
    ).decode()  # the operator's kubectl patch
    res = rotate_age(repo, kc, "--confirm-phase", "2")
    assert res.returncode == ExitCode.LOCKED and "waiting for Flux" in res.stderr  # phases 2 and 3 done
    assert json.loads((repo / ".git/aigw-secrets/age-rotation.json").read_text())["state"] == "recipient-added"
    invariant(repo, files, fake)


def test_api_lost_mid_rotation_keeps_the_old_recipient(repo: Path, cluster: tuple[kubeapi.FakeCluster, Path]) -> None:
    fake, kc = cluster
    files = managed_repo(repo)
    old_recipient = agekeys.read_key_file(repo / "age.key")[0].recipient
    assert rotate_age(repo, kc, crash="recipient-added").returncode == 137
    fake.stop()
    res = rotate_age(repo, kc)
    assert res.returncode == ExitCode.UNAVAILABLE
    assert old_recipient in (repo / ".sops.yaml").read_text()
    assert json.loads((repo / ".git/aigw-secrets/age-rotation.json").read_text())["state"] == "recipient-added"
    assert decrypts_with(repo, files, (repo / "age.key").read_text())


def test_forbidden_conflict_and_bad_context(repo: Path, cluster: tuple[kubeapi.FakeCluster, Path]) -> None:
    fake, kc = cluster
    managed_repo(repo)
    fake.forbidden.add(("update", "secrets"))
    res = rotate_age(repo, kc)
    assert res.returncode == ExitCode.PERMISSION and "may not update secrets in namespace flux-system" in res.stderr
    fake.forbidden.clear()
    fake.conflicts = 2  # someone else writes the Secret meanwhile: re-read and retry
    res = rotate_age(repo, kc, crash="cluster-has-both")
    assert res.returncode == 137, res.stderr
    res = rotate_age(repo, kc, "--context", "nope")
    assert res.returncode == ExitCode.CONFIG and "nope" in res.stderr
    assert len([line for line in res.stderr.splitlines() if "error:" in line]) == 1


def test_cluster_status_and_apply(
    repo: Path,
    cluster: tuple[kubeapi.FakeCluster, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake, kc = cluster
    monkeypatch.setenv("OPENAI_API_KEY", fakes.openai_project_key())
    write_cluster(repo, provider_settings("openai"))
    assert main(["generate", "--no-input"]) == 0
    capsys.readouterr()
    assert main(["cluster", "status", "--kubeconfig", str(kc), "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["secrets"][0]["in_cluster"] is False
    assert all(r["held"] for r in report["decryption"]["recipients"])

    assert main(["cluster", "apply", "--kubeconfig", str(kc)]) == 0
    live = fake.secrets[("ai-gateway", "openai-apikey")]
    assert base64.b64decode(live["data"]["apiKey"]).decode() == os.environ["OPENAI_API_KEY"]
    # server-side apply: a PATCH with the apply content type and our field manager, nothing else
    patches = [r for r in fake.requests if r.startswith("patch ")]
    assert patches and all("application/apply-patch+yaml" in r and "fieldManager=aigw-secrets" in r for r in patches)
    capsys.readouterr()
    assert main(["cluster", "status", "--kubeconfig", str(kc)]) == 0
    assert "ok" in capsys.readouterr().out

    monkeypatch.setenv("OPENAI_API_KEY", fakes.openai_project_key())  # a new generation in the repo
    assert main(["generate", "--no-input"]) == 0
    capsys.readouterr()
    assert main(["cluster", "status", "--kubeconfig", str(kc)]) == 1
    assert "stale generation" in capsys.readouterr().out
    del live["data"]["apiKey"]
    assert main(["cluster", "status", "--kubeconfig", str(kc)]) == 1
    out = capsys.readouterr().out
    assert "lacks key apiKey" in out
    assert yaml.safe_load((repo / ".sops.yaml").read_text())
    # a commit's Secret of another shape (metadata a string, stringData a number): one line, nothing applied
    (secret,) = repo.glob("kubernetes/**/openai.secret.sops.yaml")
    rel = str(secret.relative_to(repo))
    secret.write_bytes(Sops(repo).encrypt(b"apiVersion: v1\nkind: Secret\nmetadata: x\nstringData: 5\n", rel))
    fake.requests.clear()
    assert main(["cluster", "apply", "--kubeconfig", str(kc)]) == ExitCode.DATA
    assert f"{rel}: not a Secret with a name and namespace" in capsys.readouterr().err
    assert not [r for r in fake.requests if r.startswith("patch ")]
    secret.write_text(secret.read_text() + "---\nsecond: document\n")  # unreadable: one line, not a crash
    assert main(["cluster", "status", "--kubeconfig", str(kc)]) == 1
    assert "missing or unreadable in the repository" in capsys.readouterr().out


@pytest.mark.parametrize("where", ["hooks-dir", "hooks-path"])
def test_own_commits_never_run_repository_hooks(
    repo: Path, cluster: tuple[kubeapi.FakeCluster, Path], tmp_path: Path, where: str
) -> None:
    """The tool commits while it holds the private age keys: a hook (code a contributor can merge, installed by the
    operator, or a committed hooks directory the clone points core.hooksPath at) must not run."""
    _, kc = cluster
    managed_repo(repo)
    loot = tmp_path / "loot"
    hooks = repo / ".githooks" if where == "hooks-path" else repo / ".git" / "hooks"
    hooks.mkdir(exist_ok=True)
    for name in ("pre-commit", "commit-msg", "prepare-commit-msg", "post-commit"):
        hook = hooks / name
        hook.write_text(
            f'#!/bin/sh\nenv >> {loot}; cat "$SOPS_AGE_KEY_FILE" ./*.key ./*.agekey >> {loot} 2>/dev/null; true\n'
        )
        hook.chmod(0o755)
    if where == "hooks-path":
        git(repo, "config", "core.hooksPath", ".githooks")
    git(repo, "add", "-A")
    git(repo, "-c", "core.hooksPath=/dev/null", "commit", "--allow-empty", "-qm", "ci: hooks")
    head = git(repo, "rev-parse", "HEAD")
    res = rotate_age(repo, kc)  # commits the re-keyed files, then waits for Flux
    assert res.returncode == ExitCode.LOCKED and "waiting for Flux" in res.stderr
    assert git(repo, "rev-parse", "HEAD") != head
    assert not loot.exists()
