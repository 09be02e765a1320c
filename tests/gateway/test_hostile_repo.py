"""The repository is untrusted input (README, "Threat model"): what a pull request can put in
cluster.yaml never runs a command, reads a local file, or sends a credential anywhere the operator
did not allow; keys typed in the wrong place are never echoed; no config hangs or crashes the tool."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
import yaml

from aigw_secrets.cli import main
from aigw_secrets.errors import ConfigError, ExitCode
from aigw_secrets.gateway import config as gateway_config
from aigw_secrets.gateway import operator, validate
from aigw_secrets.sops import files as sops_files
from aigw_secrets.sops.binary import Sops
from testing import fakes, standin
from testing.httpserve import send_json, start
from testing.repos import provider_settings, write_cluster

OUT = Path("kubernetes/apps/ai-gateway/providers")
SECRET = OUT / "groq.secret.sops.yaml"


class Recorder:
    """A server that records every request it gets (a thief, or a redirecting/dripping provider)."""

    def __init__(self, mode: str = "record", target: str = "") -> None:
        self.calls: list[str] = []
        self.mode, self.target = mode, target
        rec = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                rec.calls.append(self.headers.get("Authorization", ""))
                if rec.mode == "redirect":
                    self.send_response(302)
                    self.send_header("Location", rec.target)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif rec.mode == "drip":
                    self.send_response(200)
                    self.send_header("Content-Length", "1000")
                    self.end_headers()
                    for _ in range(200):  # one byte every 0.2 s: never a complete answer in time
                        try:
                            self.wfile.write(b" ")
                            self.wfile.flush()
                        except OSError:
                            return
                        time.sleep(0.2)
                else:
                    send_json(self, 200, {"object": "list", "data": []})

            do_POST = do_GET

            def log_message(self, *args: object) -> None:
                pass

        self.server, self.url = start(Handler)

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def thief() -> Iterator[Recorder]:
    rec = Recorder()
    yield rec
    rec.close()


@pytest.fixture
def provider(monkeypatch: pytest.MonkeyPatch, provider_standin: standin.Provider) -> Iterator[standin.Provider]:
    monkeypatch.setenv("AIGW_SECRETS_VALIDATE_BACKOFF", "0.01")
    p = provider_standin
    monkeypatch.setenv("AIGW_SECRETS_ALLOW_HOSTS", p.url.split("//", 1)[1])  # the operator's opt-in
    yield p


def value_in(repo: Path) -> str:
    doc = yaml.safe_load(sops_files.decrypt(Sops(repo), (repo / SECRET).read_bytes(), str(SECRET)))
    return str(doc["stringData"]["apiKey"])


def setup_groq(repo: Path, provider: standin.Provider, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    old = fakes.groq_key()
    provider.status[old] = 200
    settings: dict[str, object] = {
        **provider_settings("groq"),
        "ai_gateway_groq_validation_url": f"{provider.url}/openai/v1/models",
    }
    write_cluster(repo, settings)
    monkeypatch.setenv("GROQ_API_KEY", old)
    assert main(["generate", "--no-input"]) == 0
    return settings


# --- item 1: a hostile pull request ------------------------------------------------------------------


@pytest.mark.parametrize("attack", ["cmd", "file", "validation_url", "host"])
def test_hostile_cluster_yaml_in_a_pull_request_does_nothing_harmful(
    repo: Path,
    provider: standin.Provider,
    thief: Recorder,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    attack: str,
) -> None:
    settings = setup_groq(repo, provider, monkeypatch)
    old = value_in(repo)
    marker = tmp_path / "pwned"
    new = fakes.groq_key()
    provider.status[new] = 200
    monkeypatch.setenv("GROQ_API_KEY", new)
    # What the pull request changes:
    if attack == "cmd":
        settings["ai_gateway_groq_credential_source"] = f"cmd:sh -c 'touch {marker}; echo {fakes.groq_key()}'"
    elif attack == "file":  # the operator's private age key as "the credential", to be sent out
        settings["ai_gateway_groq_credential_source"] = f"file:{repo / 'age.key'}"
        settings["ai_gateway_groq_validation_url"] = f"{thief.url}/v1/models"
    elif attack == "validation_url":  # the next rotated key, to a port the operator never allowed
        settings["ai_gateway_groq_validation_url"] = f"{thief.url}/v1/models"
    else:
        del settings["ai_gateway_groq_validation_url"]
        settings.update(
            {
                "ai_gateway_groq_host": "127.0.0.1",
                "ai_gateway_groq_port": int(thief.url.rsplit(":", 1)[1]),
                "ai_gateway_groq_tls": False,
            }
        )
    write_cluster(repo, settings)

    main(["generate", "--check"])  # the README's CI step
    monkeypatch.setenv("AIGW_SECRETS_NOW", "2099-01-01T00:00:00Z")  # everything is due
    rc = main(["rotate", "--due"])  # the rotation bot after `git pull`

    assert rc != 0
    assert not marker.exists(), "a command from the repository ran"
    assert thief.calls == [], "a credential went to a host the operator did not allow"
    assert new not in provider.calls
    assert value_in(repo) == old  # (its data key may be rotated: that is harmless and due)
    journals = "".join(p.read_text() for p in (repo / ".git/aigw-secrets").glob("*.json"))
    assert new not in journals and "AGE-SECRET-KEY" not in journals


def test_operator_can_allow_commands_and_hosts_from_outside(
    repo: Path, provider: standin.Provider, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = setup_groq(repo, provider, monkeypatch)
    new = fakes.groq_key()
    provider.status[new] = 200
    settings["ai_gateway_groq_credential_source"] = f"cmd:printf {new}"
    write_cluster(repo, settings)
    monkeypatch.delenv("AIGW_SECRETS_ALLOW_HOSTS")
    config_dir = tmp_path / "xdg" / "aigw-secrets"
    config_dir.mkdir(parents=True)
    (config_dir / "operator.toml").write_text(
        f'allow_commands = true\nallow_hosts = ["{provider.url.split("//")[1]}"]\n'
    )
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert main(["rotate", "--provider", "groq"]) == 0
    assert new in provider.calls
    # the same file inside the repository grants nothing
    monkeypatch.setenv("AIGW_SECRETS_OPERATOR_CONFIG", str(repo / "operator.toml"))
    (repo / "operator.toml").write_text("allow_commands = true\n")
    with pytest.raises(ConfigError, match="outside the repository"):
        operator.load(repo)


def test_unattended_grants_come_from_the_operator_for_one_provider_each(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The exact commands (files) the bot may run (read), each for one provider: a table or a list of
    PROVIDER=VALUE in operator.toml, lines in the environment (which wins); anything else is a one-line error
    naming where it came from."""
    path = tmp_path / "operator.toml"
    monkeypatch.setenv("AIGW_SECRETS_OPERATOR_CONFIG", str(path))
    for name in ("COMMANDS", "FILES"):
        monkeypatch.delenv(f"AIGW_SECRETS_UNATTENDED_{name}", raising=False)
    path.write_text(
        'unattended_commands = {groq = "pass show groq", openai = ["op read x", "op read y"]}\n'
        'unattended_files = ["vllm=/keys/vllm", " "]\n'
    )
    policy = operator.load()
    assert policy.unattended_commands == {("groq", "pass show groq"), ("openai", "op read x"), ("openai", "op read y")}
    assert policy.unattended_files == {("vllm", "/keys/vllm")}
    monkeypatch.setenv("AIGW_SECRETS_UNATTENDED_COMMANDS", "vllm=vault kv get -field=k x\n\n")
    assert operator.load().unattended_commands == {("vllm", "vault kv get -field=k x")}
    monkeypatch.delenv("AIGW_SECRETS_UNATTENDED_COMMANDS")
    for bad in ("unattended_commands = 3", 'unattended_files = ["no-provider-here"]', "unattended_files = {a = 1}"):
        path.write_text(bad + "\n")
        with pytest.raises(ConfigError, match=r"operator\.toml: unattended_\w+: expected PROVIDER=VALUE"):
            operator.load()


def test_generate_check_never_runs_a_command(
    repo: Path, provider: standin.Provider, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = setup_groq(repo, provider, monkeypatch)
    marker = tmp_path / "ran"
    settings["ai_gateway_groq_credential_source"] = f"cmd:sh -c 'touch {marker}; echo {fakes.groq_key()}'"
    write_cluster(repo, settings)
    monkeypatch.setenv("AIGW_SECRETS_ALLOW_COMMANDS", "1")  # even when commands are allowed
    assert main(["generate", "--check"]) == 0
    assert not marker.exists()


def test_validation_host_policy() -> None:
    pc = _openai({"ai_gateway_openai_validation_url": "http://api.openai.com/v1/models"})
    strict = operator.Policy()
    with pytest.raises(ConfigError, match=r"documented host api\.openai\.com"):
        validate.allowed(pc, "http://api.openai.com/v1/models", strict)  # never downgraded to http
    with pytest.raises(ConfigError, match=r"AIGW_SECRETS_ALLOW_HOSTS=evil\.example:443"):
        validate.allowed(pc, "https://evil.example/v1/models", strict)
    validate.allowed(pc, "https://api.openai.com/v1/models", strict)
    validate.allowed(pc, "http://127.0.0.1:8080/v1/models", operator.Policy(allow_hosts=frozenset({"127.0.0.1:8080"})))
    with pytest.raises(ConfigError):
        validate.allowed(
            pc, "http://127.0.0.1:8081/v1/models", operator.Policy(allow_hosts=frozenset({"127.0.0.1:8080"}))
        )


def _openai(extra: dict[str, object]) -> gateway_config.ProviderConfig:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        write_cluster(Path(d), {**provider_settings("openai"), **extra})
        return gateway_config.load(Path(d)).providers[0]


# --- item 7: redirects and slow answers ----------------------------------------------------------------


def test_redirect_is_not_followed(
    repo: Path, provider: standin.Provider, thief: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = setup_groq(repo, provider, monkeypatch)
    redirector = Recorder("redirect", f"{thief.url}/v1/models")
    try:
        settings["ai_gateway_groq_validation_url"] = f"{redirector.url}/v1/models"
        write_cluster(repo, settings)
        monkeypatch.setenv("AIGW_SECRETS_ALLOW_HOSTS", f"{redirector.url.split('//')[1]},{thief.url.split('//')[1]}")
        monkeypatch.setenv("GROQ_API_KEY", fakes.groq_key())
        assert main(["rotate", "--provider", "groq"]) == ExitCode.UNAVAILABLE
        assert len(redirector.calls) == 1 and thief.calls == []  # asked once, never followed, never retried
    finally:
        redirector.close()


def test_dripping_server_is_bounded_by_the_deadline(
    repo: Path, provider: standin.Provider, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = setup_groq(repo, provider, monkeypatch)
    dripper = Recorder("drip")
    try:
        settings["ai_gateway_groq_validation_url"] = f"{dripper.url}/v1/models"
        write_cluster(repo, settings)
        monkeypatch.setenv("AIGW_SECRETS_ALLOW_HOSTS", dripper.url.split("//")[1])
        monkeypatch.setenv("AIGW_SECRETS_HTTP_DEADLINE", "1")
        monkeypatch.setenv("GROQ_API_KEY", fakes.groq_key())
        assert main(["rotate", "--provider", "groq"]) == ExitCode.UNAVAILABLE
        assert "within 1s" in capsys.readouterr().err
    finally:
        dripper.close()


# --- item 6: a key where a source spec belongs -----------------------------------------------------


def test_key_typed_as_a_source_is_never_echoed_nor_journaled(
    repo: Path, provider: standin.Provider, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = setup_groq(repo, provider, monkeypatch)
    key = fakes.groq_key()
    capsys.readouterr()
    for argv in (
        ["generate", "--no-input", "--source", f"groq={key}"],
        ["generate", "--no-input", "--source", key],
        ["rotate", "--provider", "groq", "--source", key],
        ["rotate", "--provider", "groq", "--source", f"env:{key}"],
        ["rotate", "--provider", "groq", "--source", f"file:{key}"],
    ):
        assert main(argv) != 0
        err = capsys.readouterr().err
        assert key not in err and key[4:20] not in err, argv
    write_cluster(repo, {**settings, "ai_gateway_groq_credential_source": key})
    assert main(["rotate", "--provider", "groq"]) == ExitCode.CONFIG
    err = capsys.readouterr().err
    assert "ai_gateway_groq_credential_source" in err and key not in err
    for path in (repo / ".git/aigw-secrets").iterdir():
        assert key not in path.read_text(errors="replace")


# --- items 8 and 10: duplicate keys, empty files, alias bombs, deep nesting -----------------------


def test_duplicate_key_is_refused(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "cluster.yaml").write_text("ai_gateway_groq_enabled: true\nother: 1\nai_gateway_groq_enabled: false\n")
    assert main(["generate", "--no-input"]) == ExitCode.CONFIG
    assert "cluster.yaml:3: duplicate key ai_gateway_groq_enabled (first at line 1)" in capsys.readouterr().err


@pytest.mark.parametrize("text", ["", "# only a comment\n", "cluster_name: home\n"])
def test_empty_config_prunes_nothing(
    repo: Path, provider: standin.Provider, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    setup_groq(repo, provider, monkeypatch)
    before = sorted(p.name for p in (repo / OUT).iterdir())
    (repo / "cluster.yaml").write_text(text)
    assert main(["generate", "--no-input"]) == ExitCode.CONFIG
    assert sorted(p.name for p in (repo / OUT).iterdir()) == before


def test_alias_bomb_and_deep_nesting_fail_fast(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bomb = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    bomb += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 12)]
    (repo / "cluster.yaml").write_text("\n".join(bomb) + "\nai_gateway_groq_enabled: true\n")
    assert main(["generate", "--no-input"]) == ExitCode.CONFIG
    err = capsys.readouterr().err
    assert "once aliases are expanded" in err and err.count("\n") == 1
    (repo / "cluster.yaml").write_text("x: " + "[" * 10_000 + "]" * 10_000 + "\n")
    assert main(["generate", "--no-input"]) == ExitCode.CONFIG
    err = capsys.readouterr().err
    assert "nested more than" in err and err.count("\n") == 1
    (repo / "cluster.yaml").unlink()
    (repo / "cluster.toml").write_text("x = " + "[" * 10_000 + "]" * 10_000 + "\n")
    assert main(["generate", "--no-input"]) == ExitCode.CONFIG


# --- item 16: periods, credential commands, control characters ---------------------------------------


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("ai_gateway_groq_rotation_period_days", 0),
        ("ai_gateway_groq_rotation_period_days", -5),
        ("ai_gateway_groq_rotation_period_days", 10**14),
        ("ai_gateway_data_key_rotation_days", 0),
        ("ai_gateway_rotation_grace_hours", -1),
        ("ai_gateway_rotation_grace_hours", 10**14),
    ],
)
def test_periods_out_of_range_are_refused(repo: Path, capsys: pytest.CaptureFixture[str], key: str, value: int) -> None:
    write_cluster(repo, {**provider_settings("groq"), key: value})
    assert main(["status"]) == ExitCode.CONFIG
    err = capsys.readouterr().err
    assert f"{key}: {value} is out of range" in err and err.count("\n") == 1


def test_missing_or_hanging_credential_command_names_the_provider(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AIGW_SECRETS_ALLOW_COMMANDS", "1")
    write_cluster(
        repo,
        {**provider_settings("groq"), "ai_gateway_groq_credential_source": "cmd:no-such-password-manager get groq"},
    )
    assert main(["generate", "--no-input"]) == ExitCode.CREDENTIAL
    err = capsys.readouterr().err
    assert "Groq (groq): credential command 'no-such-password-manager'" in err and "sops" not in err

    write_cluster(repo, {**provider_settings("groq"), "ai_gateway_groq_credential_source": "cmd:echo 'x"})
    assert main(["generate", "--no-input"]) == ExitCode.CONFIG
    assert "not valid shell quoting" in capsys.readouterr().err

    pidfile = tmp_path / "grandchild.pid"
    script = f"sleep 300 & echo $! > {pidfile}; wait"
    write_cluster(repo, {**provider_settings("groq"), "ai_gateway_groq_credential_source": f'cmd:sh -c "{script}"'})
    monkeypatch.setenv("AIGW_SECRETS_COMMAND_TIMEOUT", "1")
    assert main(["generate", "--no-input"]) == ExitCode.CREDENTIAL
    assert "Groq (groq): credential command 'sh'" in capsys.readouterr().err
    grandchild = int(pidfile.read_text())
    for _ in range(50):  # the kill is delivered; reaping by init may take a moment
        if not _alive(grandchild):
            break
        time.sleep(0.1)
    assert not _alive(grandchild), "the command's child outlived the timeout"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split()[2] == "Z")  # a zombie is dead; only its status waits


def test_control_character_gives_one_line(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_cluster(repo, {**provider_settings("groq"), "ai_gateway_groq_name": "gro\nq\x1b[31m"})
    assert main(["generate", "--no-input"]) == ExitCode.CONFIG
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "\x1b" not in err


def test_repository_cannot_pick_another_providers_variable(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", fakes.aws_secret_access_key())
    for variable in ("AWS_SECRET_ACCESS_KEY", "SOPS_AGE_KEY", "AIGW_SECRETS_ALLOW_HOSTS"):
        write_cluster(
            repo, {**provider_settings("vllm", "api-key"), "ai_gateway_vllm_credential_source": f"env:{variable}"}
        )
        assert main(["generate", "--no-input"]) == ExitCode.CONFIG
        assert "belongs to the tool or to another provider" in capsys.readouterr().err
