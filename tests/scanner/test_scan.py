"""The scanner: labelled corpus (100% recall, no false positives), output, baseline, robustness, git."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aigw_secrets.entry import main
from aigw_secrets.scanner import rules
from aigw_secrets.scanner.rules import RULES
from aigw_secrets.scanner.scan import Finding, scan_file
from testing import fakes
from testing.helpers import git
from testing.scancorpus import corpus, negatives, positives

CORPUS = corpus()


@pytest.mark.parametrize(("name", "text", "want"), CORPUS, ids=[c[0] for c in CORPUS])
def test_labelled_corpus(name: str, text: str, want: set[str]) -> None:
    found, skipped = scan_file(name, text.encode())
    assert skipped is None
    assert {f.rule for f in found} == want


def test_every_rule_has_a_positive_case() -> None:
    covered = set().union(*(want for _n, _t, want in positives()))
    assert set(RULES) - covered == set()


def test_recall_and_precision_over_many_random_keys() -> None:
    tp = fp = fn = 0
    for _ in range(10):
        for name, text, want in corpus():
            got = {f.rule for f in scan_file(name, text.encode())[0]}
            tp += len(got & want)
            fp += len(got - want)
            fn += len(want - got)
    assert (fp, fn) == (0, 0) and tp > 0


def _write(root: Path, cases: list[tuple[str, str, set[str]]]) -> None:
    for name, text, _want in cases:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_output_shows_previews_never_values(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = positives()
    _write(tmp_path, cases)
    for fmt in ("text", "json", "sarif"):
        assert main(["scan", "--format", fmt, str(tmp_path)]) == 1
        out = capsys.readouterr()
        everything = out.out + out.err
        for f in (f for n, t, _w in cases for f in scan_file(n, t.encode())[0] if f.secret):
            assert f.secret not in everything, (fmt, f.rule)
    text_out = everything  # sarif of the last loop; check text separately
    assert "2.1.0" in text_out


def test_text_report_names_rule_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key = fakes.groq_key()
    (tmp_path / "a.py").write_text(f"x = 1\nGROQ = '{key}'\n")
    assert main(["scan", str(tmp_path / "a.py")]) == 1
    err = capsys.readouterr().err
    assert f"{tmp_path / 'a.py'}:2:9: groq-api-key" in err
    assert f"[{key[:4]}… (56 chars)]" in err


def test_sarif_structure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "k.env").write_text(f"OPENAI_API_KEY={fakes.openai_project_key()}\n")
    assert main(["scan", "--format", "sarif", str(tmp_path / "k.env")]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["version"] == "2.1.0" and doc["$schema"].endswith("sarif-2.1.0.json")
    run = doc["runs"][0]
    assert run["tool"]["driver"]["name"] == "aigw-secrets"
    ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    (result,) = run["results"]
    assert ids[result["ruleIndex"]] == result["ruleId"] == "openai-api-key"
    region = result["locations"][0]["physicalLocation"]["region"]
    assert region == {"startLine": 1, "startColumn": 16}
    assert len(result["partialFingerprints"]["aigwSecretHash/v1"]) == 64


def test_baseline_stores_hashes_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key = fakes.anthropic_key()
    target = tmp_path / "old.py"
    target.write_text(f"K = '{key}'\n")
    baseline = tmp_path / "baseline.json"
    assert main(["scan", "--baseline", str(baseline), "--update-baseline", str(target)]) == 0
    assert key not in baseline.read_text() and key[:12] not in baseline.read_text()
    assert main(["scan", "--baseline", str(baseline), str(target)]) == 0
    target.write_text(f"K = '{key}'\nN = '{fakes.groq_key()}'\n")
    assert main(["scan", "--baseline", str(baseline), str(target)]) == 1
    assert "groq-api-key" in capsys.readouterr().err


# --- robustness -------------------------------------------------------------------------------


def test_binary_big_invalid_utf8_malformed_yaml_symlink(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key = fakes.groq_key()
    (tmp_path / "image.png").write_bytes(b"\x89PNG\0\0" + key.encode())
    (tmp_path / "big.log").write_bytes(b"x" * (10 * 1024 * 1024 + 1))
    (tmp_path / "latin1.txt").write_bytes(b"caf\xe9 " + key.encode() + b"\n")
    (tmp_path / "broken.yaml").write_text(f"kind: Secret\nstringData: [unclosed\n  k: {key}\n")
    (tmp_path / "link.py").symlink_to(tmp_path / "latin1.txt")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    assert main(["scan", *(str(p) for p in sorted(tmp_path.iterdir()))]) == 1
    err = capsys.readouterr().err
    assert "latin1.txt:1:6: groq-api-key" in err
    assert "broken.yaml:3" in err
    assert "big.log: skipped: larger than 10 MB" in err
    assert "link.py: skipped: symlink" in err


def _at(text: str, line: int, column: int) -> str:
    return text.split("\n")[line - 1][column - 1 :]


def _never_shown(found: list[Finding]) -> None:
    from aigw_secrets.scanner import report

    if not found:
        return  # nothing to leak (most fuzz inputs): rendering the three reports would check nothing
    rendered = report.text(found, []) + report.as_json(found, []) + report.sarif(found)
    for f in found:
        assert len(f.secret) < 8 or f.secret not in rendered, f.rule


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=400) | st.text(max_size=400).map(str.encode))
def test_fuzz_reports_never_hold_values_and_point_at_them(data: bytes) -> None:
    text = data.decode("utf-8", "replace")
    for name in ("x.yaml", "x.env", "x.json", "x.py"):
        found, _skipped = scan_file(name, data)
        _never_shown(found)
        for f in found:
            if f.rule in rules.RULES and rules.RULES[f.rule].pattern and not f.note:
                assert _at(text, f.line, f.column).startswith(f.secret)


YAML_SHAPES = [
    "kind: Secret",
    "sops:",
    "stringData:",
    "data:",
    "  a: b",
    "  - x",
    "---",
    "secretGenerator:",
    "  literals: [A=b]",
    "mac: x",
    "  k: ENC[AES256_GCM,data:x]",
]
YAML_SHAPES += [": :", "[", "{a: [b", "  password: &p pw-value", "  token: *p", "  ENC[AES256_GCM,"]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(YAML_SHAPES),
        max_size=12,
    ),
    st.integers(min_value=0, max_value=12),
)
def test_fuzz_yaml_shapes_still_find_a_planted_key(lines: list[str], where: int) -> None:
    key = fakes.groq_key()
    planted = [*lines[:where], f"GROQ_API_KEY: {key}", *lines[where:]]
    text = "\n".join(planted)
    found, _skipped = scan_file("fuzz.yaml", text.encode())
    _never_shown(found)
    hits = [f for f in found if f.rule == "groq-api-key"]
    assert hits, planted
    line = min(where, len(lines)) + 1
    assert any(f.line == line and _at(text, f.line, f.column).startswith(key) for f in hits)


# --- git modes ------------------------------------------------------------------------------------


@pytest.fixture
def gitrepo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "r"
    root.mkdir()
    git(root, "init", "-q")
    monkeypatch.chdir(root)
    return root


def test_staged_scans_the_index_not_the_work_tree(gitrepo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key = fakes.openai_project_key()
    (gitrepo / "a.py").write_text(f"K = '{key}'\n")
    git(gitrepo, "add", "a.py")
    (gitrepo / "a.py").write_text("K = os.environ['K']\n")  # clean work tree, dirty index
    assert main(["scan", "--staged"]) == 1
    git(gitrepo, "add", "a.py")
    (gitrepo / "a.py").write_text(f"K = '{key}'\n")  # dirty work tree, clean index
    assert main(["scan", "--staged"]) == 0
    capsys.readouterr()


def test_staged_odd_names_renames_and_deletions(gitrepo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (gitrepo / "gone.txt").write_text("hello\n")
    (gitrepo / "old name.txt").write_text("hello again\n")
    git(gitrepo, "add", "-A")
    git(gitrepo, "commit", "-qm", "base")
    git(gitrepo, "rm", "-q", "gone.txt")
    git(gitrepo, "mv", "old name.txt", "new name.txt")
    odd = gitrepo / "line\nbreak and spaces.env"
    odd.write_text(f"GROQ_API_KEY={fakes.groq_key()}\n")
    (gitrepo / "ünïcode.py").write_text("x = 1\n")
    os.symlink("new name.txt", gitrepo / "link")
    git(gitrepo, "add", "-A")
    assert main(["scan", "--staged"]) == 1
    err = capsys.readouterr().err
    assert "line\nbreak and spaces.env:1:14: groq-api-key" in err


def test_all_and_sops_rule_coverage(gitrepo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (gitrepo / ".sops.yaml").write_text(
        (
            "creation_rules:\n  - path_regex: kubernetes/.*\\.sops\\.yaml\n"
            "    encrypted_regex: ^(data|stringData)$\n    age: age1"
        )
        + "q" * 58
        + "\n"
    )
    (gitrepo / "kubernetes").mkdir()
    (gitrepo / "kubernetes/app.sops.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  motd: hello-from-the-config\n"
    )
    (gitrepo / "kubernetes/meta-only.sops.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: long-enough-name\n  annotations:\n"
        "    example.com/auth: service-account\n"
    )
    (gitrepo / "kubernetes/other.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: y\n")
    git(gitrepo, "add", "-A")
    assert main(["scan", "--all"]) == 1
    err = capsys.readouterr().err
    assert "kubernetes/app.sops.yaml:1:1: sops-rule-unencrypted" in err and "other.yaml" not in err
    assert "meta-only" not in err  # an object's metadata exposes nothing (policy.secret_place)


def test_history_finds_a_key_committed_then_deleted(gitrepo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key = fakes.anthropic_key()
    (gitrepo / "notes.md").write_text(f"temporary: {key}\n")
    git(gitrepo, "add", "-A")
    git(gitrepo, "commit", "-qm", "oops")
    (gitrepo / "notes.md").unlink()
    git(gitrepo, "add", "-A")
    git(gitrepo, "commit", "-qm", "remove it")
    assert main(["scan", "--all"]) == 0
    assert main(["scan", "--history"]) == 1
    err = capsys.readouterr().err
    first = git(gitrepo, "rev-list", "--max-parents=0", "HEAD").strip()
    assert "notes.md:1:12: anthropic-api-key" in err and f"first in commit {first[:12]}" in err
    assert main(["scan", "--history", "HEAD~1..HEAD"]) == 0


def test_install_hook_chains_and_blocks(gitrepo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hooks = gitrepo / ".git/hooks"
    hooks.mkdir(exist_ok=True)
    (hooks / "pre-commit").write_text(f"#!/bin/sh\necho ran-existing >> {gitrepo}/../chained.log\n")
    (hooks / "pre-commit").chmod(0o755)
    env = {**os.environ, "AIGW_SECRETS": str(Path(sys.executable).with_name("aigw-secrets"))}
    res = subprocess.run(
        [sys.executable, "-m", "aigw_secrets", "install-hook"], cwd=gitrepo, env=env, capture_output=True, text=True
    )
    assert res.returncode == 0, res.stderr
    assert (
        subprocess.run(
            [sys.executable, "-m", "aigw_secrets", "install-hook"], cwd=gitrepo, env=env, capture_output=True
        ).returncode
        == 0
    )
    assert (hooks / "pre-commit.aigw-chained").exists()
    (gitrepo / "k.env").write_text(f"GROQ_API_KEY={fakes.groq_key()}\n")
    git(gitrepo, "add", "-A")
    commit = subprocess.run(["git", "commit", "-qm", "key"], cwd=gitrepo, env=env, capture_output=True, text=True)
    assert commit.returncode != 0 and "groq-api-key" in commit.stderr
    assert "ran-existing" in (gitrepo.parent / "chained.log").read_text()
    (gitrepo / "k.env").write_text("GROQ_API_KEY=\n")
    git(gitrepo, "add", "-A")
    assert subprocess.run(["git", "commit", "-qm", "clean"], cwd=gitrepo, env=env, capture_output=True).returncode == 0


def test_usage_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["scan", "--staged"]) == 2
    assert main(["scan", "--format", "xml"]) == 2
    (tmp_path / "b.json").write_text("{not json")
    assert main(["scan", "--baseline", str(tmp_path / "b.json"), str(tmp_path)]) == 2
    capsys.readouterr()


def test_negatives_are_clean_through_the_cli(tmp_path: Path) -> None:
    _write(tmp_path, negatives())
    assert main(["scan", str(tmp_path)]) == 0
