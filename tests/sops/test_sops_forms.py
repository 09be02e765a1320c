"""Files sops accepts that the engine refused: a comment between sequence items, anchors
and aliases on encrypted values, comments inside a collection an alias repeats. Each is encrypted,
decrypted by the real sops to the same values, read back byte for byte, and survives updatekeys
with a new recipient. Synthetic files in the shapes met in real repositories."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from aigw_secrets.cli import main
from aigw_secrets.errors import ExitCode
from aigw_secrets.sops import agekeys
from testing.helpers import sops_bin

WHOLE_FILE = "plain/"  # a rule without a selector: every value (and comment) is encrypted

FORMS = {
    # sops's own functional test has this shape (a comment between two items, no final newline)
    "comment-between-items": ("plain/list.yaml", "lorem:\n- foo\n#between-items\n- bar"),
    "indented-comment-between-items": (
        "kubernetes/list.yaml",
        (
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: l\nstringData:\n  hosts:\n    - a.example\n"
            "    # the second one\n    - b.example\n"
        ),
    ),
    "anchors-and-aliases": (
        "kubernetes/anchors.yaml",
        (
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\nstringData:\n  user: &user admin-user-name\n"
            "  login: *user\n  pw: &pw hunter2hunter2\n  pw2: *pw # the same\n"
        ),
    ),
    "alias-from-metadata": (
        "kubernetes/meta-alias.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: &name app-credentials\nstringData:\n  user: *name\n",
    ),
    "postgres-cluster": (
        "kubernetes/pg.yaml",
        "apiVersion: postgres-operator.crunchydata.com/v1beta1\nkind: PostgresCluster\nmetadata:\n  name: db\nspec:\n"
        "  instances:\n    - name: a\n      resources: &resources\n        # the resources every pod gets\n"
        "        requests:\n          cpu: 100m\n"
        "        limits:\n          memory: 1Gi  # a comment\n      affinity: &affinity\n        # spread\n"
        "        podAntiAffinity: {}\n"
        "  proxy:\n    pgBouncer:\n      resources: *resources\n      affinity: *affinity\n"
        "  backups:\n    pgbackrest:\n      repoHost:\n        resources: *resources\n      global:\n"
        "        # the key\n        repo1-s3-key-secret: hunter2hunter2\n",
    ),
}


@pytest.fixture
def rules(repo: Path) -> Path:
    r = agekeys.read_key_file(repo / "age.key")[0].recipient
    (repo / ".sops.yaml").write_text(
        f"creation_rules:\n  - path_regex: plain/.*\n    age: {r}\n  - path_regex: kubernetes/.*\n"
        f"    encrypted_regex: ^(data|stringData|.*-secret)$\n    age: {r}\n"
    )
    return repo


def _sops_decrypt(repo: Path, rel: str) -> object:
    res = subprocess.run([sops_bin(), "decrypt", rel], cwd=repo, capture_output=True, check=True)
    return list(yaml.safe_load_all(res.stdout))


@pytest.mark.parametrize("form", sorted(FORMS))
def test_form_is_kept(rules: Path, capsys: pytest.CaptureFixture[str], form: str) -> None:
    rel, text = FORMS[form]
    path = rules / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    assert main(["encrypt", rel]) == 0, capsys.readouterr().err
    encrypted = path.read_text()
    assert "hunter2" not in encrypted and "between-items" not in encrypted and "foo\n" not in encrypted
    assert _sops_decrypt(rules, rel) == list(yaml.safe_load_all(text))
    capsys.readouterr()
    assert main(["decrypt", rel]) == 0
    assert capsys.readouterr().out == text
    # updatekeys, unchanged recipients then a new one: still the same file underneath
    assert main(["updatekeys", rel]) == 0 and path.read_text() == encrypted
    cfg = rules / ".sops.yaml"
    cfg.write_text(cfg.read_text().replace("age: age1", f"age: {agekeys.generate_in_process().recipient},age1"))
    assert main(["updatekeys", rel]) == 0
    capsys.readouterr()
    assert main(["decrypt", rel]) == 0
    assert capsys.readouterr().out == text
    assert _sops_decrypt(rules, rel) == list(yaml.safe_load_all(text))


def test_encrypted_values_inside_a_repeated_collection_are_refused(
    rules: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """sops encrypts each copy under its own key path: an alias to encrypted values cannot stay an
    alias (README: forms that cannot be kept)."""
    rel = "kubernetes/repeat.yaml"
    text = (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: r\nstringData: &creds\n  pw: hunter2hunter2\ndata2:\n"
        "  copy: *creds\n"
    )
    (rules / "kubernetes").mkdir()
    (rules / rel).write_text(text.replace("data2", "stringData2"))
    cfg = rules / ".sops.yaml"
    cfg.write_text(cfg.read_text().replace(".*-secret", "stringData2"))
    assert main(["encrypt", rel]) == ExitCode.DATA
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and "an alias repeats cannot be kept" in err and "write the copies out" in err
    assert (rules / rel).read_text() == text.replace("data2", "stringData2")
