"""What `encrypt`/`edit` write, `updatekeys` accepts; batch reports count every file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aigw_secrets.cli import main
from aigw_secrets.errors import ExitCode
from aigw_secrets.sops import agekeys

FILE = Path("kubernetes/apps/x/secret.sops.yaml")
COMMENTED = (
    "apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\nstringData:\n  # the token for foo\n"
    "  token: hunter2hunter2\n  other: value-two  # inline note\n"
)


def _json(capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    doc = json.loads(capsys.readouterr().out)
    assert isinstance(doc, dict)
    return doc


def test_updatekeys_accepts_encrypted_comments(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Before: exit 65 "sops returned 1 encrypted comments for 2" with the recipients unchanged."""
    path = repo / FILE
    path.parent.mkdir(parents=True)
    path.write_text(COMMENTED)
    assert main(["encrypt", str(path)]) == 0
    before = path.read_bytes()
    assert before.count(b"type:comment]") == 2
    assert main(["updatekeys", str(path)]) == 0
    assert path.read_bytes() == before
    # with a new recipient, the comments stay where the author put them
    (repo / ".sops.yaml").write_text(
        (repo / ".sops.yaml")
        .read_text()
        .replace("    age: age1", f"    age: {agekeys.generate_in_process().recipient},age1")
    )
    assert main(["updatekeys", str(path)]) == 0
    after = path.read_text()
    assert after.count("type:comment]") == 2 and after.count("recipient:") == 2
    assert after.split("sops:")[0].splitlines()[:5] == before.decode().split("sops:")[0].splitlines()[:5]
    capsys.readouterr()
    assert main(["decrypt", str(path)]) == 0
    assert capsys.readouterr().out == COMMENTED


def test_batch_json_counts_failed_files_and_exit_codes_are_numbers(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = repo / FILE
    good.parent.mkdir(parents=True)
    good.write_text(COMMENTED)
    bad = good.with_name("plain.sops.yaml")
    bad.write_text("apiVersion: v1\nkind: Secret\nstringData:\n  a: hunter2hunter2\n")
    assert main(["encrypt", str(good)]) == 0
    capsys.readouterr()
    assert main(["updatekeys", "--format", "json", str(good), str(bad)]) == ExitCode.DATA
    doc = _json(capsys)
    assert doc["counts"] == {"unchanged": 1, "failed": 1}, doc
    assert [e["exit_code"] for e in doc["errors"]] == [int(ExitCode.DATA)]  # type: ignore[union-attr]  # parsed JSON


def test_encrypt_with_nothing_to_do_succeeds_with_json(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Before: exit 78 and no JSON. Under a catch-all rule a ConfigMap is nothing to do either."""
    recipient = agekeys.read_key_file(repo / "age.key")[0].recipient
    (repo / ".sops.yaml").write_text(
        "creation_rules:\n  - path_regex: kubernetes/.*\\.ya?ml\n    encrypted_regex: ^(data|stringData)$\n"
        f"    age: {recipient}\n"
    )
    cm = repo / "kubernetes/cm.yaml"
    cm.parent.mkdir(parents=True)
    cm.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  LOG_LEVEL: debug\n")
    capsys.readouterr()
    assert main(["encrypt", "--format", "json"]) == 0
    doc = _json(capsys)
    assert doc["summary"] == "nothing to do (0 files)" and doc["errors"] == [] and doc["counts"] == {}
    assert cm.read_text().endswith("LOG_LEVEL: debug\n")
    # a plaintext Secret under the same rule is what encrypt (and doctor, and scan) want encrypted
    secret = repo / "kubernetes/secret.yaml"
    secret.write_text("apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  password: hunter2hunter2\n")
    assert main(["encrypt", "--format", "json"]) == 0
    assert _json(capsys)["counts"] == {"encrypted": 1}
    assert main(["doctor"]) == 0
