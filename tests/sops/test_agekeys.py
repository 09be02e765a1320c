"""age keys (age-keygen and in process) and `aigw-secrets init`."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import pytest

from aigw_secrets.cli import main
from aigw_secrets.errors import ExitCode
from aigw_secrets.sops import agekeys
from testing.helpers import needs_age_keygen


@needs_age_keygen
def test_in_process_key_matches_age_keygen() -> None:
    for _ in range(5):
        key = agekeys.generate_in_process()
        derived = subprocess.run(["age-keygen", "-y"], input=key.identity, capture_output=True, text=True, check=True)
        assert derived.stdout.strip() == key.recipient
        assert agekeys.IDENTITY_RE.fullmatch(key.identity) and agekeys.RECIPIENT_RE.fullmatch(key.recipient)


@needs_age_keygen
def test_age_keygen_key_parses() -> None:
    key = agekeys.generate()
    assert agekeys.recipient_of(key.identity) == key.recipient
    assert key.identity not in repr(key)


def test_bech32_rejects_corruption() -> None:
    key = agekeys.generate_in_process()
    broken = key.identity[:-1] + ("Q" if key.identity[-1] != "Q" else "P")
    with pytest.raises(Exception, match="age identity"):
        agekeys.recipient_of(broken)


def test_init_creates_private_key_and_sops_yaml(tmp_path: Path) -> None:
    assert main(["init", "--repo", str(tmp_path)]) == 0
    key_file = tmp_path / "age.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    recipient = agekeys.read_key_file(key_file)[0].recipient
    sops_yaml = (tmp_path / ".sops.yaml").read_text()
    assert recipient in sops_yaml and "encrypted_regex: ^(data|stringData)$" in sops_yaml
    assert "/age.key" in (tmp_path / ".gitignore").read_text().splitlines()

    # A second run overwrites nothing.
    before = (key_file.read_bytes(), sops_yaml)
    assert main(["init", "--repo", str(tmp_path)]) == 0
    assert (key_file.read_bytes(), (tmp_path / ".sops.yaml").read_text()) == before
    assert (tmp_path / ".gitignore").read_text().count("/age.key") == 1


def test_init_keeps_existing_sops_yaml(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / ".sops.yaml").write_text("creation_rules: []\n")
    assert main(["init", "--repo", str(tmp_path)]) == 0
    assert (tmp_path / ".sops.yaml").read_text() == "creation_rules: []\n"
    assert "does not list" in capsys.readouterr().err


def test_init_rule_for_custom_output_dir(tmp_path: Path) -> None:
    (tmp_path / "cluster.yaml").write_text("ai_gateway_output_dir: clusters/main/ai\n")
    assert main(["init", "--repo", str(tmp_path)]) == 0
    assert r"clusters/main/ai/.*\.sops\.ya?ml" in (tmp_path / ".sops.yaml").read_text()


def test_init_bad_key_file(tmp_path: Path) -> None:
    (tmp_path / "age.key").write_text("# nothing here\n")
    assert main(["init", "--repo", str(tmp_path)]) == ExitCode.DATA
