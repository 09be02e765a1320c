"""Property: a file the real ``sops encrypt`` wrote (not aigw-secrets: every value a plain
``ENC[...]``, sops's own indentation) decrypts with aigw-secrets to valid YAML equal, as data, to
``sops decrypt``: multi-line values at any depth come back as blocks under their key."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aigw_secrets.cli import main
from aigw_secrets.sops import files as sops_files
from aigw_secrets.sops.binary import Sops
from testing.helpers import sops_bin

REL = "kubernetes/prop/plain.sops.yaml"

names = st.from_regex(r"[a-z][a-z0-9_.-]{0,8}", fullmatch=True)
line = st.from_regex(r"[a-zA-Z0-9=\[\]{}:,. /+-]{0,20}", fullmatch=True)
multiline = st.lists(line, min_size=2, max_size=4).map("\n".join) | st.lists(line, min_size=1, max_size=3).map(
    lambda ls: "\n".join(ls) + "\n"
)
leaf = multiline | line | st.integers(-5, 5) | st.booleans()


def tree(depth: int) -> st.SearchStrategy[Any]:
    if depth == 0:
        return leaf
    inner = tree(depth - 1)
    return leaf | st.dictionaries(names, inner, min_size=1, max_size=3) | st.lists(inner, min_size=1, max_size=2)


documents = st.dictionaries(names, tree(3), min_size=1, max_size=3).map(
    lambda d: {"apiVersion": "v1", "kind": "Secret", "stringData": d}
)


def plain_sops_encrypt(repo: Path, text: str, indent: int) -> bytes:
    """``sops encrypt`` exactly as a user runs it (stdin, the repository's .sops.yaml)."""
    (repo / ".sops.yaml").write_text(
        (repo / ".sops.yaml")
        .read_text()
        .replace("indent: 2", f"indent: {indent}")
        .replace("indent: 4", f"indent: {indent}")
    )
    res = subprocess.run(
        [sops_bin(), "encrypt", "--filename-override", REL],
        input=text.encode(),
        capture_output=True,
        cwd=repo,
        check=True,
    )
    return res.stdout


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(doc=documents, indent=st.sampled_from([2, 4]))
def test_decrypt_of_plain_sops_files_equals_sops_decrypt(repo: Path, doc: dict[str, Any], indent: int) -> None:
    enc = plain_sops_encrypt(repo, yaml.safe_dump(doc, sort_keys=False, default_style=None), indent)
    sops = Sops(repo)
    ours = sops_files.decrypt(sops, enc, REL).decode()
    # sops's own YAML output for such values is not always readable by PyYAML (`- |4-` after a
    # blank line): compare with its JSON output
    res = subprocess.run(
        [sops_bin(), "decrypt", "--input-type", "yaml", "--output-type", "json", "--filename-override", REL],
        input=enc,
        capture_output=True,
        cwd=repo,
        check=True,
        env=sops.env,
    )
    assert yaml.safe_load(ours) == json.loads(res.stdout) == doc


def test_set_and_decrypt_on_a_plain_sops_file_with_block_values(repo: Path) -> None:
    """bedrock's `credentials: |` and vertex's `service_account.json: |`, written by plain sops."""
    doc = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "p"},
        "stringData": {
            "credentials": "[default]\naws_access_key_id = AKIAFAKE\n",
            "service_account.json": '{\n  "type": "service_account"\n}\n',
        },
    }
    path = repo / REL
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(plain_sops_encrypt(repo, yaml.safe_dump(doc, sort_keys=False), 4))
    assert yaml.safe_load(sops_files.decrypt(Sops(repo), path.read_bytes(), REL)) == doc
    path.parent.joinpath("v.txt").write_text("[default]\naws_access_key_id = AKIANEW\n")
    assert main(["set", "--from-file", str(path.parent / "v.txt"), str(path), "stringData.credentials"]) == 0
    doc["stringData"]["credentials"] = "[default]\naws_access_key_id = AKIANEW"
    assert yaml.safe_load(sops_files.decrypt(Sops(repo), path.read_bytes(), REL)) == doc
    assert yaml.safe_load(Sops(repo).decrypt(path.read_bytes(), REL)) == doc
