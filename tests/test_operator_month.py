"""Issue 18: an operator's month, played in random order, in process, on one repository with two
providers, an MCP server and the MCP session seed. After every step the commands must agree:

- every managed Secret decrypts to the last value written (the model's), the seed to the last seed;
- no older credential comes back unasked (generate / rotate with a replaced value change nothing);
- ``scan`` is clean on what the tool wrote; ``doctor`` exits 0;
- ``status``, ``rotate --revoke`` and ``generate --check`` agree.

Time advances through ``AIGW_SECRETS_NOW``. Bounded for CI; ``-m slow`` plays longer months.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from aigw_secrets import output
from aigw_secrets.cli import main
from aigw_secrets.errors import ExitCode
from aigw_secrets.sops import files as sops_files
from aigw_secrets.sops.binary import Sops
from testing import fakes, standin
from testing.helpers import git
from testing.repos import provider_settings, write_cluster

OUT = Path("kubernetes/apps/ai-gateway/providers")
SEED = OUT / "mcp-session-encryption.secret.sops.yaml"
OTHER = Path("kubernetes/apps/other/app/secret.sops.yaml")
# managed credential Secrets: name -> (provider key, env var, Secret key, make a fresh value)
MANAGED: dict[str, tuple[str, str, str, Any]] = {
    "groq": ("groq", "GROQ_API_KEY", "apiKey", fakes.groq_key),
    "openai": ("openai", "OPENAI_API_KEY", "apiKey", fakes.openai_project_key),
    "mcp-kiwi": ("mcp_kiwi", "MCP_KIWI_API_KEY", "apiKey", lambda: "mcp-" + fakes.rand(32)),
}
EDITOR = """import os, sys
p = sys.argv[-1]
t = open(p).read()
assert os.environ["AIGW_OLD"] in t
open(p, "w").write(t.replace(os.environ["AIGW_OLD"], os.environ["AIGW_NEW"]))
"""
REMEMBERED = 4  # manifests: how many replaced values a Secret remembers


def run(*argv: str) -> tuple[int, str, str]:
    """``aigw-secrets ARGV`` in process: exit code, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        output.configure()
        code = main(list(argv))
    output.configure()
    return code, out.getvalue(), err.getvalue()


@contextlib.contextmanager
def environment() -> Iterator[None]:
    saved = dict(os.environ)
    cwd = Path.cwd()
    try:
        yield
    finally:
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(saved)


def play(provider: standin.Provider, scratch: Path, *, examples: int, steps: int) -> None:
    base_env = dict(os.environ)

    class OperatorMonth(RuleBasedStateMachine):
        @initialize()
        def repository(self) -> None:
            os.environ.clear()  # each month starts from the test's environment
            os.environ.update(base_env)
            self.repo = Path(tempfile.mkdtemp(prefix="month-", dir=scratch)) / "repo"
            self.repo.mkdir()
            git(self.repo, "init", "-q")
            os.chdir(self.repo)
            self.day = 0
            self._clock()
            assert run("init", "--repo", str(self.repo), "--key-file", str(self.repo / "age.key"))[0] == 0
            os.environ["SOPS_AGE_KEY_FILE"] = str(self.repo / "age.key")
            settings_ = {
                **provider_settings("groq"),
                "ai_gateway_groq_validation_url": f"{provider.url}/openai/v1/models",
                **provider_settings("openai"),
                "ai_gateway_openai_validation_url": f"{provider.url}/v1/models",
                "ai_gateway_mcp_backends": [f"kiwi={provider.url}/mcp"],
                "ai_gateway_mcp_session_seed": True,
            }
            write_cluster(self.repo, settings_)
            self.current = {name: make() for name, (_, _, _, make) in MANAGED.items()}
            self.replaced: dict[str, list[str]] = {name: [] for name in MANAGED}
            self._export(self.current)
            code, _, err = run("generate", "--no-input")
            assert code == 0, err
            self._unset()
            self.seed = self._plain(SEED)["stringData"]["seed"]
            (self.repo / OTHER).parent.mkdir(parents=True)
            (self.repo / OTHER).write_text(
                (
                    "apiVersion: v1\nkind: Secret\nmetadata:\n  name: other\n  namespace: other\ntype: Opaque\n"
                    "stringData:\n  token: "
                )
                + fakes.rand(40)
                + "\n"
            )
            assert run("encrypt", str(OTHER))[0] == 0
            (self.repo.parent / "editor.py").write_text(EDITOR)

        # --- helpers -------------------------------------------------------------------------------

        def _clock(self) -> None:
            os.environ["AIGW_SECRETS_NOW"] = _day(self.day)

        def _export(self, values: dict[str, str]) -> None:
            for name, value in values.items():
                os.environ[MANAGED[name][1]] = value

        def _unset(self) -> None:
            for _, var, _, _ in MANAGED.values():
                os.environ.pop(var, None)

        def _plain(self, rel: Path) -> dict[str, Any]:
            doc = yaml.safe_load(sops_files.decrypt(Sops(self.repo), (self.repo / rel).read_bytes(), str(rel)))
            assert isinstance(doc, dict)
            return doc

        def _write(self, name: str, value: str) -> None:
            self.replaced[name] = [self.current[name], *[v for v in self.replaced[name] if v != value]][:REMEMBERED]
            self.current[name] = value

        # --- the operator's moves ----------------------------------------------------------------

        @rule(days=st.integers(1, 40))
        def time_passes(self, days: int) -> None:
            self.day += days
            self._clock()

        @rule(
            name=st.sampled_from(sorted(MANAGED)),
            which=st.sampled_from(["fresh", "replaced", "current"]),
            force=st.booleans(),
        )
        def generate(self, name: str, which: str, force: bool) -> None:
            if which == "replaced" and not self.replaced[name]:
                which = "fresh"
            value = {
                "fresh": MANAGED[name][3](),
                "current": self.current[name],
                "replaced": self.replaced[name][0] if self.replaced[name] else "",
            }[which]
            self._export({name: value})
            try:
                code, _, err = run("generate", "--no-input", *(["--replace-rotated"] if force else []))
            finally:
                self._unset()
            if which == "replaced" and not force:
                assert code == ExitCode.SUPERSEDED, err  # the older credential does not come back unasked
                return
            assert code == 0, err
            if which != "current":
                self._write(name, value)

        @precondition(lambda self: any(getattr(self, "replaced", {}).values()))
        @rule(data=st.data())
        def an_old_key_still_exported(self, data: st.DataObject) -> None:
            """The operator's shell still exports a key a rotation replaced: generate changes nothing."""
            name = data.draw(st.sampled_from(sorted(n for n, v in self.replaced.items() if v)))
            self._export({name: data.draw(st.sampled_from(self.replaced[name]))})
            try:
                code, _, err = run("generate", "--no-input")
            finally:
                self._unset()
            assert code == ExitCode.SUPERSEDED, err

        @rule(name=st.sampled_from(sorted(MANAGED)), old=st.booleans())
        def rotate(self, name: str, old: bool) -> None:
            value = self.replaced[name][-1] if old and self.replaced[name] else MANAGED[name][3]()
            src = self.repo.parent / "new-credential"
            src.write_text(value)
            code, _, err = run("rotate", "--provider", MANAGED[name][0], "--source", f"file:{src}")
            src.unlink()
            if old and value in self.replaced[name]:
                assert code == ExitCode.SUPERSEDED, err
                return
            assert code == 0, err
            self._write(name, value)

        @rule(name=st.sampled_from(sorted(MANAGED)))
        def set_value(self, name: str) -> None:
            value = MANAGED[name][3]()
            os.environ["AIGW_NEXT"] = value
            code, _, err = run(
                "set",
                "--from-env",
                "AIGW_NEXT",
                str(OUT / f"{name}.secret.sops.yaml"),
                f"stringData.{MANAGED[name][2]}",
            )
            assert code == 0, err
            self._write(name, value)

        @rule(name=st.sampled_from(sorted(MANAGED)))
        def edit(self, name: str) -> None:
            value = MANAGED[name][3]()
            os.environ.update(
                {
                    "AIGW_OLD": self.current[name],
                    "AIGW_NEW": value,
                    "EDITOR": f"{sys.executable} {self.repo.parent / 'editor.py'}",
                }
            )
            code, _, err = run("edit", str(OUT / f"{name}.secret.sops.yaml"))
            assert code == 0, err
            self._write(name, value)

        @rule()
        def encrypt_another_file(self) -> None:
            rel = OTHER.with_name(f"extra-{self.day}.sops.yaml")
            if (self.repo / rel).exists():
                return
            (self.repo / rel).write_text(
                f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: extra-{self.day}\ntype: Opaque\n"
                f"stringData:\n  password: {fakes.rand(24)}\n"
            )
            code, _, err = run("encrypt", str(rel))
            assert code == 0, err

        @rule()
        def updatekeys(self) -> None:
            code, _, err = run("updatekeys", *[str(OUT / f"{n}.secret.sops.yaml") for n in MANAGED], str(SEED))
            assert code == 0, err

        @rule()
        def rotate_data_keys(self) -> None:
            code, _, err = run("rotate", "--data-key")
            assert code == 0, err

        @rule()
        def rotate_seed(self) -> None:
            code, _, err = run("rotate", "--provider", "mcp-session-seed")
            assert code == 0, err
            self.seed = self._plain(SEED)["stringData"]["seed"]

        @rule()
        def cron_without_credentials(self) -> None:
            """rotate --due with nothing exported: what is overdue needs an operator (11), nothing changes."""
            code, _, err = run("rotate", "--due")
            assert code in (0, ExitCode.MANUAL_ACTION), err

        @rule(name=st.sampled_from(sorted(MANAGED)))
        def cancel(self, name: str) -> None:
            code, _, err = run("rotate", "--cancel", MANAGED[name][0])
            assert code in (0, ExitCode.CONFIG), err  # CONFIG: nothing to cancel

        @rule(name=st.sampled_from(sorted(MANAGED)))
        def revoke_by_hand(self, name: str) -> None:
            code, out, err = run("--quiet", "rotate", "--revoke", MANAGED[name][0], "--format", "json")
            assert code == 0, err
            result = json.loads(out)
            if result["state"] == "revoke by hand" and result["safe_now"]:
                assert run("rotate", "--revoke", MANAGED[name][0], "--ref", result["ref"])[0] == 0

        # --- what must hold after every step -------------------------------------------------------

        @invariant()
        def secrets_hold_the_last_value_written(self) -> None:
            if not hasattr(self, "repo"):
                return
            for name, (_, _, key, _) in MANAGED.items():
                assert self._plain(OUT / f"{name}.secret.sops.yaml")["stringData"][key] == self.current[name], name
            assert self._plain(SEED)["stringData"]["seed"] == self.seed

        @invariant()
        def commands_agree(self) -> None:
            if not hasattr(self, "repo"):
                return
            files = sorted(str(p.relative_to(self.repo)) for p in (self.repo / "kubernetes").rglob("*.yaml"))
            code, out, err = run("--quiet", "scan", "--format", "json", *files)
            assert code == 0, out + err
            code, _, err = run("doctor")
            assert code == 0, err
            code, out, err = run("--quiet", "status", "--format", "json")
            assert code in (0, ExitCode.FINDINGS), err
            rows = {r["provider"]: r for r in json.loads(out)}
            assert {k for k, *_ in MANAGED.values()} | {"mcp-session-seed"} == set(rows)
            for key, *_ in MANAGED.values():
                row = rows[key]
                code, out, err = run("--quiet", "rotate", "--revoke", key, "--format", "json")
                assert code == 0, err
                result = json.loads(out)
                if row.get("revoke_by_hand"):
                    assert result["state"] == "revoke by hand" and result["ref"] == row["previous_credential"]
                    assert result["safe_now"] == row["safe_to_revoke_now"]
                else:
                    assert result["state"] == "nothing to revoke" and not row["safe_to_revoke_now"], (row, result)
            self._export(self.current)
            try:
                code, out, err = run("generate", "--no-input", "--check")
            finally:
                self._unset()
            assert code == 0, out + err

    OperatorMonth.TestCase.settings = settings(
        max_examples=examples,
        stateful_step_count=steps,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=False,  # a different month every run; a failing one is replayed from the example database
    )
    with environment():
        run_state_machine_as_test(OperatorMonth)


def _day(n: int) -> str:
    import datetime as dt

    return (dt.datetime(2030, 1, 1, tzinfo=dt.UTC) + dt.timedelta(days=n)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def provider(monkeypatch: pytest.MonkeyPatch) -> Iterator[standin.Provider]:
    monkeypatch.setenv("AIGW_SECRETS_VALIDATE_BACKOFF", "0.01")
    with standin.serve() as p:
        monkeypatch.setenv("AIGW_SECRETS_ALLOW_HOSTS", p.url.split("//", 1)[1])
        p.accept_prefix = ""
        original = p.identify

        def accept(handler: Any, body: bytes) -> str:
            who = original(handler, body)
            if who.startswith(("gsk_", "sk-", "mcp-")):
                p.status.setdefault(who, 200)
            return who

        p.identify = accept  # type: ignore[method-assign]  # every key the month makes is valid
        yield p


def test_an_operators_month(provider: standin.Provider, tmp_path: Path) -> None:
    play(provider, tmp_path, examples=1, steps=6)  # about 15 s on 2 idle cores


@pytest.mark.slow
def test_an_operators_long_month(provider: standin.Provider, tmp_path: Path) -> None:
    """Two longer months in CI; a soak sets AIGW_TEST_MONTHS (e.g. 25) for as many 30-step months."""
    months = int(os.environ.get("AIGW_TEST_MONTHS", "0"))
    play(provider, tmp_path, examples=months or 2, steps=30 if months else 12)
