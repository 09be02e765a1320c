"""`aigw-secrets generate` end to end, with the real sops and age."""

from __future__ import annotations

import contextlib
import json
import os
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from aigw_secrets.cli import main
from aigw_secrets.errors import ExitCode
from testing import fakes
from testing.helpers import git, sops_decrypt
from testing.repos import all_providers, provider_settings, set_credentials, write_cluster

OUT = Path("kubernetes/apps/ai-gateway/providers")
SECRET_KEYS = {
    "openai": "apiKey",
    "azure-openai": "apiKey",
    "aws-bedrock": "credentials",
    "gcp-vertex": "service_account.json",
    "gcp-anthropic": "service_account.json",
    "anthropic": "apiKey",
    "groq": "apiKey",
    "vllm": "apiKey",
    "openai-compatible": "apiKey",
}


def needles(secrets: dict[str, str]) -> list[str]:
    """Strings whose presence in a file would mean a leaked credential."""
    out = []
    for name, value in secrets.items():
        if name == "GCP_PRIVATE_KEY":
            out.append(value.splitlines()[5])  # a line of the PEM body: same in raw and JSON-escaped form
        else:
            out.append(value)
    return out


def files_containing(root: Path, strings: list[str]) -> list[str]:
    hits = []
    for path in root.rglob("*"):
        if path.is_file() and ".git" not in path.parts:
            data = path.read_bytes()
            hits += [f"{path}" for s in strings if s.encode() in data]
    return hits


def test_generate_every_provider(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    secrets = set_credentials(monkeypatch, inputs)
    scratch = tmp_path / "scratch-tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr(tempfile, "tempdir", None)
    write_cluster(repo, all_providers())

    assert main(["generate", "--no-input"]) == 0

    out = repo / OUT
    names = sorted(p.name for p in out.iterdir())
    assert "kustomization.yaml" in names and "routes.yaml" in names
    kust = yaml.safe_load((out / "kustomization.yaml").read_text().split("---\n", 1)[1])
    assert sorted(kust["resources"]) == sorted(n for n in names if n != "kustomization.yaml")

    # Each Secret: the exact key the controller reads, in the namespace of its policy, and the real
    # `sops decrypt` gives back the credential.
    for name, key in SECRET_KEYS.items():
        path = out / f"{name}.secret.sops.yaml"
        res = sops_decrypt(path, repo / "age.key")
        assert res.returncode == 0, f"{path}: sops exit {res.returncode}"
        doc = yaml.safe_load(res.stdout)
        assert list(doc["stringData"]) == [key]
        assert doc["metadata"]["namespace"] == "ai-gateway"
        policy = next(
            d
            for d in yaml.safe_load_all((out / f"{name}.yaml").read_text())
            if d and d["kind"] == "BackendSecurityPolicy"
        )
        assert policy["metadata"]["namespace"] == doc["metadata"]["namespace"]
        assert doc["metadata"]["name"] in json.dumps(policy["spec"])
    decrypted = {
        n: yaml.safe_load(sops_decrypt(out / f"{n}.secret.sops.yaml", repo / "age.key").stdout)["stringData"]
        for n in SECRET_KEYS
    }
    assert decrypted["openai"]["apiKey"] == secrets["OPENAI_API_KEY"]
    assert decrypted["groq"]["apiKey"] == secrets["GROQ_API_KEY"]
    assert secrets["AWS_SECRET_ACCESS_KEY"] in decrypted["aws-bedrock"]["credentials"]
    assert decrypted["aws-bedrock"]["credentials"].startswith("[default]\n")
    assert json.loads(decrypted["gcp-vertex"]["service_account.json"])["private_key"] == secrets["GCP_PRIVATE_KEY"]

    # No plaintext credential anywhere in the repository (outside the key file) or in the temp dir.
    assert files_containing(repo, needles(secrets)) == []
    assert files_containing(scratch, needles(secrets)) == []


def test_rerun_with_same_inputs_changes_nothing(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    set_credentials(monkeypatch, tmp_path)
    write_cluster(repo, all_providers())
    assert main(["generate", "--no-input"]) == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "first")
    assert main(["generate", "--no-input"]) == 0
    assert git(repo, "status", "--porcelain") == ""
    assert main(["generate", "--check"]) == 0

    # A new credential for one provider rewrites that provider's Secret, and its policy's
    # secret-generation annotation (the v1.1.0 reconcile bump, as rotation writes it), nothing else.
    monkeypatch.setenv("GROQ_API_KEY", fakes.groq_key())
    assert main(["generate", "--check"]) == 1
    assert git(repo, "status", "--porcelain") == ""
    assert main(["generate", "--no-input"]) == 0
    assert git(repo, "status", "--porcelain").split() == [
        "M",
        str(OUT / "groq.secret.sops.yaml"),
        "M",
        str(OUT / "groq.yaml"),
    ]
    assert "aigw-secrets.io/secret-generation: '2'" in (repo / OUT / "groq.yaml").read_text()


def test_existing_secret_kept_without_credential(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", fakes.openai_project_key())
    write_cluster(repo, provider_settings("openai"))
    assert main(["generate", "--no-input"]) == 0
    before = (repo / OUT / "openai.secret.sops.yaml").read_bytes()
    monkeypatch.delenv("OPENAI_API_KEY")
    write_cluster(repo, {**provider_settings("openai"), "ai_gateway_openai_models": ["gpt-4o", "o3"]})
    assert main(["generate", "--no-input"]) == 0
    assert (repo / OUT / "openai.secret.sops.yaml").read_bytes() == before
    assert "o3" in (repo / OUT / "routes.yaml").read_text()


def test_missing_credential_names_the_variable_and_writes_nothing(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_cluster(repo, {**provider_settings("openai"), **provider_settings("groq")})
    assert main(["generate", "--no-input"]) == ExitCode.CREDENTIAL
    err = capsys.readouterr().err
    assert "OPENAI_API_KEY" in err and len(err.strip().splitlines()) == 1
    assert not (repo / OUT).exists()


def test_bad_credential_shape_is_refused(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    value = fakes.anthropic_key()
    monkeypatch.setenv("OPENAI_API_KEY", value)
    write_cluster(repo, provider_settings("openai"))
    assert main(["generate", "--no-input"]) == ExitCode.CREDENTIAL
    err = capsys.readouterr().err
    assert "Anthropic key" in err and value not in err
    monkeypatch.setenv("OPENAI_API_KEY", "sk-xxxxxxxxxxxxxxxxxxxx")
    assert main(["generate", "--no-input"]) == ExitCode.CREDENTIAL
    assert "placeholder" in capsys.readouterr().err


def test_sources_file_cmd_stdin(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key_file = tmp_path / "openai.key"
    openai = fakes.openai_project_key()
    key_file.write_text(openai + "\n")
    groq = fakes.groq_key()
    creds = tmp_path / "aws"
    creds.write_text(fakes.aws_credentials_file().replace("[default]", "[prod]"))
    settings = {**provider_settings("openai"), **provider_settings("groq"), **provider_settings("bedrock")}
    settings["ai_gateway_groq_credential_source"] = f"cmd:printf {groq}"
    write_cluster(repo, settings)
    monkeypatch.setenv("AIGW_SECRETS_ALLOW_COMMANDS", "1")  # the operator's opt-in, from outside the repository
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO(creds.read_text()))
    rc = main(["generate", "--no-input", "--source", f"openai=file:{key_file}", "--source", "bedrock=stdin"])
    assert rc == 0
    out = repo / OUT
    got = lambda n: yaml.safe_load(sops_decrypt(out / f"{n}.secret.sops.yaml", repo / "age.key").stdout)["stringData"]  # noqa: E731
    assert got("openai")["apiKey"] == openai
    assert got("groq")["apiKey"] == groq
    assert got("aws-bedrock")["credentials"].startswith("[default]\naws_access_key_id = AKIA")


def test_failing_credential_command_does_not_echo_output(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIGW_SECRETS_ALLOW_COMMANDS", "1")
    settings = provider_settings("groq")
    settings["ai_gateway_groq_credential_source"] = "cmd:sh -c 'echo gsk_LEAKED_VALUE_0123456789; exit 3'"
    write_cluster(repo, settings)
    assert main(["generate", "--no-input"]) == ExitCode.CREDENTIAL
    err = capsys.readouterr().err
    assert "exited with code 3" in err and "LEAKED" not in err


def test_keyless_modes_make_no_secret(repo: Path) -> None:
    settings = {
        **provider_settings("bedrock", "irsa"),
        **provider_settings("vertex", "adc"),
        **provider_settings("vllm"),
    }
    write_cluster(repo, settings)
    assert main(["generate", "--no-input"]) == 0
    assert not list((repo / OUT).glob("*.sops.yaml"))
    bedrock = list(yaml.safe_load_all((repo / OUT / "aws-bedrock.yaml").read_text()))
    policy = next(d for d in bedrock if d and d["kind"] == "BackendSecurityPolicy")
    assert policy["spec"]["awsCredentials"] == {"region": "us-east-1"}
    vllm = [d["kind"] for d in yaml.safe_load_all((repo / OUT / "vllm.yaml").read_text()) if d]
    assert vllm == ["Backend", "AIServiceBackend"]  # plain http: no TLS policy, no auth


def test_disabling_a_provider_removes_its_files(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", fakes.openai_project_key())
    monkeypatch.setenv("GROQ_API_KEY", fakes.groq_key())
    write_cluster(repo, {**provider_settings("openai"), **provider_settings("groq")})
    assert main(["generate", "--no-input"]) == 0
    write_cluster(repo, provider_settings("openai"))
    assert main(["generate", "--no-input"]) == 0
    names = sorted(p.name for p in (repo / OUT).iterdir())
    assert names == ["kustomization.yaml", "openai.secret.sops.yaml", "openai.yaml", "routes.yaml"]


def test_foreign_file_is_never_overwritten(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", fakes.openai_project_key())
    write_cluster(repo, provider_settings("openai"))
    (repo / OUT).mkdir(parents=True)
    (repo / OUT / "kustomization.yaml").write_text("resources: [mine.yaml]\n")
    assert main(["generate", "--no-input"]) == ExitCode.CANT_WRITE
    assert "not generated by aigw-secrets" in capsys.readouterr().err
    assert sorted(p.name for p in (repo / OUT).iterdir()) == ["kustomization.yaml"]


def test_no_sops_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_API_KEY", fakes.openai_project_key())
    write_cluster(tmp_path, provider_settings("openai"))
    assert main(["generate", "--no-input"]) == ExitCode.CONFIG
    assert "aigw-secrets init" in capsys.readouterr().err


def test_sops_missing(repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", fakes.openai_project_key())
    monkeypatch.setenv("SOPS_BINARY", str(repo / "no-such-sops"))
    write_cluster(repo, provider_settings("openai"))
    assert main(["generate", "--no-input"]) == ExitCode.TOOL_MISSING
    assert "sops-binary" in capsys.readouterr().err
    assert not (repo / OUT).exists()


def test_no_matching_creation_rule(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", fakes.openai_project_key())
    write_cluster(repo, {**provider_settings("openai"), "ai_gateway_output_dir": "clusters/main/ai"})
    assert main(["generate", "--no-input"]) == ExitCode.CONFIG
    assert "no creation rule in .sops.yaml matches" in capsys.readouterr().err
    assert not (repo / "clusters").exists()


@contextlib.contextmanager
def _unwritable(directory: Path) -> Iterator[None]:
    """A directory nobody can write to, root included: the immutable attribute (ext4/xfs/btrfs), else mode 0500."""
    if subprocess.run(["chattr", "+i", str(directory)], capture_output=True).returncode == 0:
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(directory)], check=True)
        return
    if os.geteuid() == 0:
        pytest.skip("chattr +i not supported on this file system, and root ignores mode bits")
    directory.chmod(stat.S_IRUSR | stat.S_IXUSR)
    yield


def test_unwritable_output(repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", fakes.openai_project_key())
    write_cluster(repo, provider_settings("openai"))
    (repo / OUT).mkdir(parents=True)
    with _unwritable(repo / OUT):
        assert main(["generate", "--no-input"]) == ExitCode.CANT_WRITE
    assert "cannot write" in capsys.readouterr().err
    assert list((repo / OUT).iterdir()) == []


def test_output_path_is_a_file(repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Works as root too: the output directory cannot be created."""
    monkeypatch.setenv("OPENAI_API_KEY", fakes.openai_project_key())
    write_cluster(repo, provider_settings("openai"))
    (repo / "kubernetes").write_text("not a directory\n")
    assert main(["generate", "--no-input"]) == ExitCode.CANT_WRITE
    assert "a file is in the way" in capsys.readouterr().err


def test_route_split_above_15_models(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", fakes.openai_project_key())
    models = [f"model-{i}" for i in range(32)]
    write_cluster(repo, {**provider_settings("openai"), "ai_gateway_openai_models": models})
    assert main(["generate", "--no-input"]) == 0
    routes = [d for d in yaml.safe_load_all((repo / OUT / "routes.yaml").read_text()) if d]
    assert [r["metadata"]["name"] for r in routes] == ["ai-gateway", "ai-gateway-2", "ai-gateway-3"]
    assert [len(r["spec"]["rules"]) for r in routes] == [15, 15, 2]
    seen = [rule["matches"][0]["headers"][0]["value"] for r in routes for rule in r["spec"]["rules"]]
    assert seen == models


def test_toml_config(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", fakes.anthropic_key())
    write_cluster(repo, {**provider_settings("anthropic"), "ai_gateway_namespace": "llm"}, fmt="toml")
    assert main(["generate", "--no-input"]) == 0
    doc = next(yaml.safe_load_all((repo / OUT / "anthropic.yaml").read_text()))
    assert doc is None or doc.get("metadata", {}).get("namespace") in (None, "llm")
    docs = [d for d in yaml.safe_load_all((repo / OUT / "anthropic.yaml").read_text()) if d]
    assert {d["metadata"]["namespace"] for d in docs} == {"llm"}


def test_hidden_prompt_on_a_terminal(repo: Path) -> None:
    """No credential in the environment, on a TTY: a hidden prompt asks for it (no echo)."""
    import shutil
    import sys

    pexpect = pytest.importorskip("pexpect")
    write_cluster(repo, provider_settings("groq"))
    value = fakes.groq_key()
    exe = shutil.which("aigw-secrets", path=str(Path(sys.executable).parent)) or "aigw-secrets"
    child = pexpect.spawn(exe, ["generate"], cwd=str(repo), env=dict(os.environ), encoding="utf-8", timeout=30)
    child.expect("Groq \\(groq\\) API key: ")
    child.sendline(value)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    assert value not in (child.before or "")  # hidden: not echoed
    doc = yaml.safe_load(sops_decrypt(repo / OUT / "groq.secret.sops.yaml", repo / "age.key").stdout)
    assert doc["stringData"]["apiKey"] == value


def test_every_secret_auth_mode_round_trips_through_real_sops(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aigw_secrets.gateway.providers import PROVIDERS
    from testing.repos import AUTH_MATRIX

    secrets = set_credentials(monkeypatch, tmp_path)
    for key, auth in AUTH_MATRIX:
        mode = PROVIDERS[key].auth(auth)
        if not mode.secret_key:
            continue
        settings = provider_settings(key, auth)
        write_cluster(repo, settings)
        assert main(["generate", "--no-input"]) == 0, (key, auth)
        name = settings.get(f"ai_gateway_{key}_name") or PROVIDERS[key].name
        res = sops_decrypt(repo / OUT / f"{name}.secret.sops.yaml", repo / "age.key")
        assert res.returncode == 0, (key, auth)
        doc = yaml.safe_load(res.stdout)
        assert list(doc["stringData"]) == [mode.secret_key]
        assert doc["metadata"]["annotations"]["aigw-secrets.io/auth"] == auth
    assert files_containing(repo, needles(secrets)) == []


# --- hardening ---------------------------------------------------------------------------


def _three_providers(repo: Path, monkeypatch: pytest.MonkeyPatch) -> dict[Path, bytes]:
    monkeypatch.setenv("OPENAI_API_KEY", fakes.openai_project_key())
    monkeypatch.setenv("GROQ_API_KEY", fakes.groq_key())
    monkeypatch.setenv("ANTHROPIC_API_KEY", fakes.anthropic_key())
    write_cluster(repo, {**provider_settings("openai"), **provider_settings("groq"), **provider_settings("anthropic")})
    assert main(["generate", "--no-input"]) == 0
    return {p: p.read_bytes() for p in (repo / OUT).iterdir()}


def _new_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", fakes.openai_project_key())
    monkeypatch.setenv("GROQ_API_KEY", fakes.groq_key())
    monkeypatch.setenv("ANTHROPIC_API_KEY", fakes.anthropic_key())


def _snapshot(repo: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in (repo / OUT).iterdir()}


def test_generate_waits_for_nobody_and_loses_no_update(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Item 5: while another writer (a rotation) holds the repository lock, generate changes nothing."""
    import subprocess
    import sys

    before = _three_providers(repo, monkeypatch)
    _new_credentials(monkeypatch)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys,time; from pathlib import Path; from aigw_secrets.rotation.journal import repo_lock\n"
            "with repo_lock(Path(sys.argv[1])):\n print('locked', flush=True); time.sleep(60)",
            str(repo),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        assert main(["generate", "--no-input"]) == ExitCode.LOCKED
        assert "holds the repository lock" in capsys.readouterr().err
        assert _snapshot(repo) == before
    finally:
        holder.kill()
        holder.wait()
    assert main(["generate", "--no-input"]) == 0
    assert _snapshot(repo) != before


@pytest.mark.parametrize(("crash_at", "outcome"), [("staged", "rolled back"), ("committing", "completed")])
def test_generate_killed_mid_commit_is_finished_or_rolled_back(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], crash_at: str, outcome: str
) -> None:
    """Item 9: a rerun completes a commit that had begun, or rolls back one that had not."""
    from testing.helpers import run_killed

    before = _three_providers(repo, monkeypatch)
    _new_credentials(monkeypatch)
    assert run_killed(repo, ["generate", "--no-input"], crash_at) == 137
    if crash_at == "staged":
        assert _snapshot(repo) != before  # staged files sit beside the targets, targets unchanged
        assert {p: b for p, b in _snapshot(repo).items() if not p.name.startswith(".aigw-")} == before
    capsys.readouterr()
    assert main(["generate", "--no-input"]) == 0
    assert f"an interrupted generate was {outcome}" in capsys.readouterr().err
    assert not list((repo / OUT).glob(".aigw-*.tmp"))
    got = yaml.safe_load(sops_decrypt(repo / OUT / "groq.secret.sops.yaml", repo / "age.key").stdout)["stringData"][
        "apiKey"
    ]
    assert got == os.environ["GROQ_API_KEY"]


def test_full_disk_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Item 9: ENOSPC part-way through generate leaves every file as it was (exit 73)."""
    from testing.tmpfs import fill, repo_on_tmpfs

    with repo_on_tmpfs(tmp_path, monkeypatch) as (disk, repo):
        before = _three_providers(repo, monkeypatch)
        _new_credentials(monkeypatch)
        filler = fill(disk, leave_pages=1)  # room for one staged Secret, not three
        capsys.readouterr()
        assert main(["generate", "--no-input"]) == ExitCode.CANT_WRITE
        err = capsys.readouterr().err
        assert "No space left on device" in err and err.count("\n") == 1
        assert _snapshot(repo) == before  # no file replaced, no temp file left
        filler.unlink()
        assert main(["generate", "--no-input"]) == 0
        assert _snapshot(repo) != before


def test_output_dir_symlinked_out_of_the_repository_is_refused(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Item 15: nothing is written through a symlink, and pruning never deletes through one."""
    outside = tmp_path / "outside"
    outside.mkdir()
    monkeypatch.setenv("GROQ_API_KEY", fakes.groq_key())
    write_cluster(repo, provider_settings("groq"))
    (repo / OUT).parent.mkdir(parents=True)
    (repo / OUT).symlink_to(outside)
    assert main(["generate", "--no-input"]) == ExitCode.CANT_WRITE
    assert "leads out of the repository" in capsys.readouterr().err
    assert list(outside.iterdir()) == []

    (repo / OUT).unlink()
    assert main(["generate", "--no-input"]) == 0
    victim = outside / "victim.yaml"
    victim.write_text("# Generated by aigw-secrets (not really: someone else's file)\n")
    (repo / OUT / "old.yaml").symlink_to(victim)  # looks like a stale generated file
    (repo / OUT / "groq.yaml").unlink()
    (repo / OUT / "groq.yaml").symlink_to(outside / "groq.yaml")
    assert main(["generate", "--no-input"]) == ExitCode.CANT_WRITE
    assert "groq.yaml: is a symlink, not a regular file" in capsys.readouterr().err
    (repo / OUT / "groq.yaml").unlink()
    assert main(["generate", "--no-input"]) == 0
    assert victim.exists() and (repo / OUT / "old.yaml").is_symlink()
    assert not (outside / "groq.yaml").exists()


def test_atomic_write_never_replaces_a_symlink_device_or_pipe(tmp_path: Path) -> None:
    """Item 15: the one writer every command uses refuses anything but a regular file."""
    from aigw_secrets.errors import OutputError
    from aigw_secrets.util import atomic_write

    target = tmp_path / "target"
    target.write_text("keep\n")
    link = tmp_path / "link"
    link.symlink_to(target)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for path, kind in ((link, "symlink"), (fifo, "named pipe"), (Path("/dev/null"), "device"), (tmp_path, "directory")):
        with pytest.raises(OutputError, match=f"is a {kind}, not a regular file"):
            atomic_write(path, b"x")
    assert target.read_text() == "keep\n" and link.is_symlink() and stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_unreadable_secret_is_not_called_foreign(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Item 16: a file that cannot be read is reported as unreadable (works as root too: a directory)."""
    monkeypatch.setenv("GROQ_API_KEY", fakes.groq_key())
    write_cluster(repo, provider_settings("groq"))
    (repo / OUT / "groq.secret.sops.yaml").mkdir(parents=True)
    assert main(["generate", "--no-input"]) == ExitCode.CANT_WRITE
    err = capsys.readouterr().err
    assert "is a directory, not a regular file" in err and "not generated by aigw-secrets" not in err


def test_doctor_recipients_check_steps_aside_when_sops_cannot_encrypt_here(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", fakes.openai_project_key())
    write_cluster(repo, provider_settings("openai"))
    assert main(["generate", "--no-input"]) == 0
    (repo / ".sops.yaml").write_text("creation_rules:\n  - path_regex: nothing-matches-this$\n    age: age1x\n")
    capsys.readouterr()
    assert main(["doctor"]) in (0, 1)  # the .sops.yaml checks report the rule; the recipients check says nothing
    assert "next unattended rotation" not in capsys.readouterr().out
