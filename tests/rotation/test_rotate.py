"""Rotation: staged and validated against a stand-in provider on 127.0.0.1, resumable after kills,
one run per repository, cron-ready."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from aigw_secrets.cli import main
from aigw_secrets.errors import ExitCode
from aigw_secrets.sops import files as sops_files
from aigw_secrets.sops.binary import Sops
from testing import fakes, standin
from testing.helpers import bare_remote, git, run_cli, run_killed, run_until
from testing.repos import provider_settings, write_cluster
from testing.standin import setup_groq

OUT = Path("kubernetes/apps/ai-gateway/providers")
PROJECT = Path(__file__).resolve().parents[2]


def value_in(repo: Path, name: str) -> str:
    rel = OUT / f"{name}.secret.sops.yaml"
    doc = yaml.safe_load(sops_files.decrypt(Sops(repo), (repo / rel).read_bytes(), str(rel)))
    return str(next(iter(doc["stringData"].values())))


def annotations(repo: Path, name: str) -> dict[str, str]:
    return yaml.safe_load((repo / OUT / f"{name}.secret.sops.yaml").read_text())["metadata"]["annotations"]


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (200, 0),
        (429, 0),
        (401, ExitCode.ROTATION_REJECTED),
        (403, ExitCode.ROTATION_REJECTED),
        (404, ExitCode.CONFIG),
        (500, ExitCode.UNAVAILABLE),
    ],
)
def test_provider_answers(
    repo: Path,
    provider: standin.Provider,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    status: int,
    code: int,
) -> None:
    old = setup_groq(repo, provider, monkeypatch)
    before = (repo / OUT / "groq.secret.sops.yaml").read_bytes()
    new = fakes.groq_key()
    provider.status[new] = status
    monkeypatch.setenv("GROQ_API_KEY", new)
    capsys.readouterr()
    assert main(["rotate", "--provider", "groq"]) == code
    err = capsys.readouterr().err
    assert new not in err and old not in err
    if code == 0:
        assert value_in(repo, "groq") == new
        ann = annotations(repo, "groq")
        assert ann["aigw-secrets.io/generation"] == "2"
        # what Groq's console shows of the old key (its last 4 characters), never a hash or more
        assert ann["aigw-secrets.io/previous-credential-ref"] == f"gsk_...{old[-4:]}"
        assert ("throttled" in err) == (status == 429)
    else:
        assert (repo / OUT / "groq.secret.sops.yaml").read_bytes() == before
    if status == 500:
        assert provider.calls.count(new) == 4  # bounded retries with backoff


def test_unreachable_endpoint(repo: Path, provider: standin.Provider, monkeypatch: pytest.MonkeyPatch) -> None:
    setup_groq(repo, provider, monkeypatch)
    write_cluster(repo, {**provider_settings("groq"), "ai_gateway_groq_validation_url": "http://127.0.0.1:9/v1/models"})
    monkeypatch.setenv("AIGW_SECRETS_ALLOW_HOSTS", "127.0.0.1:9")
    monkeypatch.setenv("GROQ_API_KEY", fakes.groq_key())
    assert main(["rotate", "--provider", "groq"]) == ExitCode.UNAVAILABLE


def test_no_verify_says_so(
    repo: Path, provider: standin.Provider, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    setup_groq(repo, provider, monkeypatch)
    new = fakes.groq_key()
    monkeypatch.setenv("GROQ_API_KEY", new)
    assert main(["rotate", "--provider", "groq", "--no-verify"]) == 0
    assert "NOT checked" in capsys.readouterr().err
    assert new not in provider.calls and value_in(repo, "groq") == new


CASES = {
    ("openai", "api-key"): (fakes.openai_project_key, lambda v: v),
    ("azure", "api-key"): (fakes.azure_openai_key, lambda v: v),
    ("azure", "entra"): (fakes.entra_client_secret, lambda v: v),
    ("anthropic", "api-key"): (fakes.anthropic_key, lambda v: v),
    ("vllm", "api-key"): (fakes.generic_key, lambda v: v),
    ("bedrock", "static"): (fakes.aws_credentials_file, lambda v: v.split("aws_access_key_id = ")[1].split("\n")[0]),
    ("vertex", "service-account"): (fakes.gcp_service_account_json, lambda v: json.loads(v)["client_email"]),
}


@pytest.mark.parametrize(("key", "auth"), sorted(CASES))
def test_every_provider_validates_its_own_way(
    repo: Path, provider: standin.Provider, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key: str, auth: str
) -> None:
    make, ident = CASES[(key, auth)]
    settings = {**provider_settings(key, auth), f"ai_gateway_{key}_validation_url": f"{provider.url}/check"}
    write_cluster(repo, settings)
    first, second = make(), make()
    for value in (first, second):
        provider.status[ident(value)] = 200
    src = tmp_path / "cred"
    src.write_text(first)
    assert main(["generate", "--no-input", "--source", f"{key}=file:{src}"]) == 0
    src.write_text(second)
    assert main(["rotate", "--provider", key, "--source", f"file:{src}"]) == 0
    assert provider.calls[-1] == ident(second)
    provider.status[ident(second)] = 401
    third = make()
    src.write_text(third)
    provider.status[ident(third)] = 401
    assert main(["rotate", "--provider", key, "--source", f"file:{src}"]) == ExitCode.ROTATION_REJECTED


def test_bad_input(repo: Path, provider: standin.Provider, monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["rotate", "--provider", "openai"]) == ExitCode.CONFIG  # no cluster.yaml yet
    setup_groq(repo, provider, monkeypatch)
    assert main(["rotate", "--provider", "nosuch"]) == ExitCode.CONFIG
    assert main(["rotate"]) == ExitCode.USAGE  # no mode: a usage error, like every other command line mistake
    (repo / OUT / "groq.secret.sops.yaml").unlink()
    assert main(["rotate", "--provider", "groq"]) == ExitCode.NO_INPUT


@pytest.mark.parametrize("step", ["planned", "obtained", "validated", "encrypted", "written"])
def test_resume_after_kill_at_each_step(
    repo: Path, provider: standin.Provider, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    setup_groq(repo, provider, monkeypatch)
    new = fakes.groq_key()
    provider.status[new] = 200
    argv = ["rotate", "--provider", "groq"]
    assert run_killed(repo, argv, step, {"GROQ_API_KEY": new}) == 137
    value_in(repo, "groq")  # still decrypts, old or new
    res = run_cli(repo, argv, {"GROQ_API_KEY": new})
    assert res.returncode == 0, res.stderr
    assert "resuming rotation" in res.stderr
    assert value_in(repo, "groq") == new
    assert annotations(repo, "groq")["aigw-secrets.io/generation"] == "2"


def _data_key_repo(repo: Path, n: int) -> dict[Path, bytes]:
    from testing.corpus import corpus

    styles = [v for k, v in sorted(corpus().items()) if k != "crlf"]
    files = []
    for i in range(n):
        p = repo / f"kubernetes/bulk/s{i:03d}.sops.yaml"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(styles[i % len(styles)])
        files.append(p)
    assert main(["encrypt"]) == 0
    return {p: sops_files.decrypt(Sops(repo), p.read_bytes(), str(p.relative_to(repo))) for p in files}


def _all_decrypt(repo: Path, plain: dict[Path, bytes], checked: dict[Path, bytes] | None = None) -> None:
    """Every file decrypts to its plaintext. With ``checked`` (file -> bytes already seen to decrypt
    right, kept up to date here), a file whose bytes are the same as then is not decrypted again:
    the same bytes under the same keys decrypt to the same text."""
    sops = Sops(repo)
    for p, text in plain.items():
        data = p.read_bytes()
        if checked is not None and checked.get(p) == data:
            continue
        assert sops_files.decrypt(sops, data, str(p.relative_to(repo))) == text, p
        if checked is not None:
            checked[p] = data


WARM = ("aigw_secrets.commands.rotate", "aigw_secrets.rotation.journal", "aigw_secrets.util")
KILL_POINTS = ("before-planned", "after-planned", "after-save", "staged", "renamed", "after-complete")


def _stop_at(point: str, k: int = 1) -> Callable[[Callable[[], None]], None]:
    """For ``run_until``: where a data-key rotation stops. ``before-planned``: the lock is held, nothing
    journaled; ``after-planned``: the batch is journaled, no file rotated yet; ``after-save``: the first
    periodic save of the done list; ``staged``: the k-th file's new content is in its temp file, not yet
    renamed; ``renamed``: the k-th file is replaced, the journal does not know it yet;
    ``after-complete``: the batch is journaled complete. The other worker threads run on meanwhile."""

    def arm(stop: Callable[[], None]) -> None:
        import threading

        from aigw_secrets import util
        from aigw_secrets.rotation.journal import Journal, Step

        step, save, commit = Journal.step, Journal.save, util.commit
        lock, count = threading.Lock(), [0]

        def stepped(self: Journal, state: Step, **changes: object) -> None:
            if point == "before-planned" and state == Step.PLANNED:
                stop()
            step(self, state, **changes)
            if (point, state) in (("after-planned", Step.PLANNED), ("after-complete", Step.COMPLETE)):
                stop()

        def saved(self: Journal, **changes: object) -> None:
            save(self, **changes)
            if point == "after-save" and "state" not in changes:  # the periodic save, not a step
                stop()

        def committed(tmp: Path, path: Path) -> None:
            mine = False
            if path.name.endswith(".sops.yaml"):
                with lock:
                    count[0] += 1
                    mine = count[0] == k
            if mine and point == "staged":
                stop()
            commit(tmp, path)
            if mine and point == "renamed":
                stop()

        Journal.step, Journal.save, util.commit = stepped, saved, committed  # type: ignore[method-assign]

    return arm


@pytest.mark.slow
def test_kill_loop_during_data_key_rotation(repo: Path) -> None:
    """kill -9 at every kind of point of a data-key rotation (fresh and resumed runs, at files a seeded
    random picks), twice over: after every kill every file decrypts to the same plaintext, and one
    more run completes the batch. Each kill waits for its point (an event), not for a time.
    AIGW_TEST_KILL_SOAK=N adds N kills at random times over 200 files (a soak; e.g. 50)."""
    soak = int(os.environ.get("AIGW_TEST_KILL_SOAK", "0"))
    n = 200 if soak else 40  # above 25: a periodic save of the done list happens
    plain = _data_key_repo(repo, n)
    before = {p: p.read_bytes() for p in plain}
    rng = random.Random(1234)
    journal_path = repo / ".git/aigw-secrets/data-key.json"

    def remaining() -> int:  # how many files a run does now (a resumed run trusts the journal's done list)
        if not journal_path.exists():
            return n
        journal = json.loads(journal_path.read_text())
        return n - len(journal["done"]) if journal["state"] == "planned" else n

    argv = ["rotate", "--data-key"]
    checked = {p: p.read_bytes() for p in plain}  # _data_key_repo decrypted them all
    for _ in range(2):
        for point in KILL_POINTS:
            k = rng.randint(1, remaining())
            child = run_until(repo, argv, _stop_at(point, k), warm=WARM)
            assert child.reached, (point, k)
            assert child.kill() == -signal.SIGKILL
            _all_decrypt(repo, plain, checked)  # after every kill: every file decrypts, to the same plaintext
    cmd = [sys.executable, "-m", "aigw_secrets", *argv]
    for _ in range(soak):  # random times: kills inside sops, inside a write, anywhere
        proc = subprocess.Popen(cmd, cwd=repo, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.05, 1.2))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        _all_decrypt(repo, plain)
    res = run_cli(repo, argv)
    assert res.returncode == 0, res.stderr
    _all_decrypt(repo, plain)
    journal = json.loads(journal_path.read_text())
    assert journal["state"] == "complete" and len(journal["done"]) == n
    assert all(p.read_bytes() != before[p] for p in plain)  # every data key was rotated


def test_concurrent_runs(repo: Path) -> None:
    plain = _data_key_repo(repo, 10)
    argv = ["rotate", "--data-key"]
    first = run_until(repo, argv, _stop_at("after-planned"), warm=WARM)  # holds the lock, its batch under way
    assert first.reached
    try:
        assert (repo / ".git/aigw-secrets/lock").read_text().strip() == str(first.pid)
        # refused, not queued: had it waited for the lock it would still be waiting (the first run is
        # stopped), so it runs in a thread with a deadline
        done: list[subprocess.CompletedProcess[str]] = []
        second = threading.Thread(target=lambda: done.append(run_cli(repo, argv)), daemon=True)
        second.start()
        second.join(120)
        assert done, "the second run waited for the lock instead of failing at once"
        assert done[0].returncode == ExitCode.LOCKED and "holds the repository lock" in done[0].stderr
    finally:
        code = first.release()
    assert code == 0
    _all_decrypt(repo, plain)


def test_status_and_due(
    repo: Path, provider: standin.Provider, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    old = setup_groq(repo, provider, monkeypatch)
    capsys.readouterr()
    assert main(["status", "--format", "json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["provider"] == "groq" and row["generation"] == 1 and not row["overdue"]

    monkeypatch.setenv("AIGW_SECRETS_NOW", "2099-01-01T00:00:00Z")  # far in the future: everything due
    assert main(["status"]) == 1
    assert "OVERDUE" in capsys.readouterr().out
    # due, but the environment still holds the current key: an operator must provide a new one
    assert main(["rotate", "--due", "--format", "json"]) == ExitCode.MANUAL_ACTION
    summary = json.loads(capsys.readouterr().out)
    assert summary["needs_operator"][0]["provider"] == "groq" and summary["data_keys_rotated"] == 1
    new = fakes.groq_key()
    provider.status[new] = 200
    monkeypatch.setenv("GROQ_API_KEY", new)
    assert main(["rotate", "--due", "--format", "json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["rotated"][0]["provider"] == "groq" and old not in json.dumps(summary)
    assert value_in(repo, "groq") == new


@pytest.mark.slow
def test_cron_script_end_to_end(
    repo: Path, provider: standin.Provider, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = setup_groq(repo, provider, monkeypatch)
    bare = bare_remote(repo, tmp_path)
    new = fakes.groq_key()
    provider.status[new] = 200
    prom = tmp_path / "aigw.prom"
    env = {
        **os.environ,
        "GROQ_API_KEY": new,
        "AIGW_SECRETS_NOW": "2099-01-01T00:00:00Z",
        "AIGW_PUSH": "1",
        "AIGW_TEXTFILE": str(prom),
        "AIGW_SECRETS": str(Path(sys.executable).with_name("aigw-secrets")),
    }
    res = subprocess.run([str(PROJECT / "scripts/aigw-rotate-cron")], cwd=repo, env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr + res.stdout
    summary = json.loads(res.stdout)
    assert summary["committed"] and summary["rotated"][0]["provider"] == "groq"
    assert new not in res.stdout + res.stderr and old not in res.stdout + res.stderr
    log = git(bare, "log", "-1", "--format=%s%n%b")
    assert "aigw-secrets: rotate due credentials" in log and "Rotation-Id:" in log
    metrics = prom.read_text()
    assert "aigw_secrets_last_exit_code 0" in metrics and "aigw_secrets_credentials_rotated 1" in metrics
    # a second run has nothing left to do and commits nothing
    env.pop("AIGW_SECRETS_NOW")
    res = subprocess.run([str(PROJECT / "scripts/aigw-rotate-cron")], cwd=repo, env=env, capture_output=True, text=True)
    assert res.returncode == 0 and json.loads(res.stdout)["committed"] is False


def test_missing_key_for_data_key_rotation(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    plain = _data_key_repo(repo, 3)
    before = {p: p.read_bytes() for p in plain}
    monkeypatch.delenv("SOPS_AGE_KEY_FILE")
    (repo / "age.key").rename(repo.parent / "moved.key")
    assert main(["rotate", "--data-key"]) == ExitCode.NO_KEY
    err = capsys.readouterr().err
    assert "no private key" in err and all(len(line) < 300 for line in err.splitlines())
    assert all(p.read_bytes() == before[p] for p in plain)


def test_progress_bar_on_a_terminal_only(repo: Path) -> None:
    pexpect = pytest.importorskip("pexpect")
    _data_key_repo(repo, 6)
    exe = str(Path(sys.executable).with_name("aigw-secrets"))
    child = pexpect.spawn(
        exe, ["rotate", "--data-key"], cwd=str(repo), env=dict(os.environ), encoding="utf-8", timeout=60
    )
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0 and "rotating data keys [" in (child.before or "")
    quiet = subprocess.run([exe, "rotate", "--data-key"], cwd=repo, capture_output=True, text=True)
    assert quiet.returncode == 0 and "rotating data keys [" not in quiet.stderr


def test_cronjob_manifest() -> None:
    docs = [d for d in yaml.safe_load_all((PROJECT / "scripts/k8s/cronjob.yaml").read_text()) if d]
    cron = next(d for d in docs if d["kind"] == "CronJob")
    sa = next(d for d in docs if d["kind"] == "ServiceAccount")
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    assert cron["spec"]["startingDeadlineSeconds"] > 0 and cron["spec"]["jobTemplate"]["spec"]["backoffLimit"] >= 1
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == sa["metadata"]["name"] and sa["automountServiceAccountToken"] is False
    assert not [
        d for d in docs if d["kind"] in ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")
    ]  # needs no API access
    # a fresh clone every run: the bot's records live on a volume that outlives the pod
    (container,) = pod["containers"]
    state = next(e["value"] for e in container["env"] if e["name"] == "AIGW_SECRETS_STATE_DIR")
    mount = next(m for m in container["volumeMounts"] if m["mountPath"] == state)
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    claim = next(d for d in docs if d["kind"] == "PersistentVolumeClaim")
    assert volume["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]


def test_previous_credential_ref_is_what_the_console_shows(tmp_path: Path) -> None:
    """Issue 10 item 12: never a hash a dictionary reverses; only what each provider's console shows."""
    from aigw_secrets.gateway import config as gateway_config
    from aigw_secrets.rotation.credential import fingerprint, identity

    def pc(key: str, auth: str | None = None) -> gateway_config.ProviderConfig:
        root = tmp_path / f"{key}-{auth}"
        root.mkdir()
        write_cluster(root, provider_settings(key, auth))
        return gateway_config.load(root).providers[0]

    openai, anthropic, groq = fakes.openai_project_key(), fakes.anthropic_key(), fakes.groq_key()
    assert identity(pc("openai"), openai) == f"sk-...{openai[-4:]}"
    assert identity(pc("anthropic"), anthropic) == f"sk-ant-...{anthropic[-4:]}"
    assert identity(pc("groq"), groq) == f"gsk_...{groq[-4:]}"
    key_id = fakes.aws_access_key_id()
    assert identity(pc("bedrock"), fakes.aws_credentials_file(key_id=key_id)) == key_id
    sa = fakes.gcp_service_account()
    assert identity(pc("vertex"), json.dumps(sa)) == f"gcp-key:{sa['private_key_id']}"
    secret = fakes.entra_client_secret()
    assert identity(pc("azure", "entra"), secret) == f"hint:{secret[:3]}"
    # the journal's record is salted scrypt: two runs never store the same string for one value
    assert fingerprint(groq) != fingerprint(groq) and fingerprint(groq).startswith("scrypt$")


def test_rotation_settles_a_half_done_generate_first(
    repo: Path, provider: standin.Provider, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 10 item 5: a generate killed mid-commit can never later rename its staged Secret over a rotation."""
    setup_groq(repo, provider, monkeypatch)
    monkeypatch.setenv("GROQ_API_KEY", fakes.groq_key())
    assert run_killed(repo, ["generate", "--no-input"], "committing") == 137
    rotated = fakes.groq_key()
    provider.status[rotated] = 200
    monkeypatch.setenv("GROQ_API_KEY", rotated)
    assert main(["rotate", "--provider", "groq"]) == 0
    monkeypatch.delenv("GROQ_API_KEY")  # no credential given: generate keeps the Secret
    assert main(["generate", "--no-input"]) == 0
    assert value_in(repo, "groq") == rotated
