"""Issue 21 seams, as a Hypothesis state machine: any sequence of generate (new or same key),
rotate and migrate (both ways) leaves exactly one credential file of the configured backend whose
value (decrypted, or read from the store at the pinned version) is the last credential given, and
that `generate --check`, `scan` and `doctor` accept."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from aigw_secrets.cli import main
from testing import fakes
from testing.repos import init_repo, provider_settings, write_cluster

boto3 = pytest.importorskip("boto3")
pytest.importorskip("moto.server")
OUT = Path("kubernetes/apps/ai-gateway/providers")


def reset(url: str) -> None:
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"), timeout=10).close()


@pytest.mark.slow
def test_generate_rotate_migrate_agree(moto_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "store-admin",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    counter = itertools.count()
    sm = boto3.client("secretsmanager", region_name="us-east-1")

    class Seams(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            reset(moto_url)
            monkeypatch.delenv("SOPS_AGE_KEY_FILE", raising=False)  # init makes this repository's own key
            self.repo = init_repo(tmp_path / f"r{next(counter)}", monkeypatch)
            self.backend = "sops"
            write_cluster(
                self.repo, {**provider_settings("openai"), "ai_gateway_external_secrets_store": "aws-secrets-manager"}
            )
            self.key: str | None = None

        def run(self, *argv: str) -> int:
            return main(["--quiet", *argv])

        @rule()
        def generate_new_key(self) -> None:
            self.key = fakes.openai_project_key()
            monkeypatch.setenv("OPENAI_API_KEY", self.key)
            assert self.run("generate", "--no-input") == 0

        @precondition(lambda self: self.key is not None)
        @rule()
        def generate_again(self) -> None:
            before = {p.name: p.read_bytes() for p in (self.repo / OUT).iterdir()}
            assert self.run("generate", "--no-input") == 0
            assert {p.name: p.read_bytes() for p in (self.repo / OUT).iterdir()} == before

        @precondition(lambda self: self.key is not None)
        @rule()
        def rotate(self) -> None:
            self.key = fakes.openai_project_key()
            monkeypatch.setenv("OPENAI_API_KEY", self.key)
            assert self.run("rotate", "--provider", "openai", "--no-verify") == 0

        @precondition(lambda self: self.key is not None)
        @rule(to=st.sampled_from(["external-secrets", "sops"]))
        def migrate(self, to: str) -> None:
            assert self.run("migrate", "--to", to) == 0
            self.backend = to

        @invariant()
        def one_file_with_the_last_value(self) -> None:
            if self.key is None:
                return
            sops_file, es_file = (
                self.repo / OUT / "openai.secret.sops.yaml",
                self.repo / OUT / "openai.externalsecret.yaml",
            )
            if self.backend == "sops":
                from aigw_secrets.sops import files as sops_files
                from aigw_secrets.sops.binary import Sops

                assert not es_file.exists()
                plain = yaml.safe_load(
                    sops_files.decrypt(Sops(self.repo), sops_file.read_bytes(), str(OUT / sops_file.name))
                )
                assert plain["stringData"]["apiKey"] == self.key
            else:
                assert not sops_file.exists()
                ref = yaml.safe_load(es_file.read_text())["spec"]["data"][0]["remoteRef"]
                got = json.loads(
                    sm.get_secret_value(SecretId=ref["key"], VersionId=ref["version"].removeprefix("uuid/"))[
                        "SecretString"
                    ]
                )
                assert got == {"apiKey": self.key}
            assert self.run("generate", "--check", "--no-input") == 0
            assert self.run("scan", str(self.repo / OUT)) == 0

    run_state_machine_as_test(
        Seams,
        settings=settings(
            max_examples=3, stateful_step_count=5, deadline=None, suppress_health_check=list(HealthCheck)
        ),
    )
