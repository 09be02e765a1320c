"""Issue 12: rotation, generate, set and edit change the value, the rotation annotations and the
sops block only, in the file's own style (whatever sops's emitter settings), and keep the
rotation bookkeeping in step with the credential in the file."""

from __future__ import annotations

import difflib
import json
import re
from pathlib import Path

import pytest
import yaml

from aigw_secrets.cli import main
from aigw_secrets.errors import ExitCode
from aigw_secrets.gateway import contenthash, marks
from aigw_secrets.sops import files as sops_files
from aigw_secrets.sops.binary import Sops
from testing import fakes, standin
from testing.repos import provider_settings, write_cluster
from testing.standin import setup_groq

OUT = Path("kubernetes/apps/ai-gateway/providers")
SECRET = OUT / "groq.secret.sops.yaml"


def without_indent_setting(repo: Path) -> None:
    """A .sops.yaml without ``stores.yaml.indent: 2``: sops writes 4-space indentation."""
    cfg = repo / ".sops.yaml"
    cfg.write_text(re.sub(r"(?ms)^stores:\n.*", "", cfg.read_text()))


def changed_lines(before: str, after: str) -> list[str]:
    body = [
        ln
        for ln in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
        if ln[:1] in "+-" and ln[:3] not in ("+++", "---")
    ]
    return [ln[1:] for ln in body]


def outside_sops(text: str) -> str:
    return text[: text.index("\nsops:")]


def plain(repo: Path) -> dict[str, object]:
    return yaml.safe_load(sops_files.decrypt(Sops(repo), (repo / SECRET).read_bytes(), str(SECRET)))


def test_rotation_under_4_space_sops_config_changes_value_annotations_and_sops_only(
    repo: Path, provider: standin.Provider, monkeypatch: pytest.MonkeyPatch
) -> None:
    without_indent_setting(repo)
    setup_groq(repo, provider, monkeypatch)
    path = repo / SECRET
    # The Secret as sops itself writes it under this .sops.yaml (4 spaces, double-quoted "1"), as
    # earlier versions of generate left it, plus a comment a reviewer added.
    sops = Sops(repo)
    raw = sops.encrypt(sops_files.decrypt(sops, path.read_bytes(), str(SECRET)), str(SECRET)).decode()
    assert "\n    name: " in raw and 'generation: "1"' in raw
    before = raw.replace("metadata:\n", "metadata:\n    # reviewed by ops: key owned by the platform team\n", 1)
    path.write_text(before)
    new = fakes.groq_key()
    provider.status[new] = 200
    monkeypatch.setenv("GROQ_API_KEY", new)
    assert main(["rotate", "--provider", "groq"]) == 0
    after = path.read_text()
    assert "\n    # reviewed by ops: key owned by the platform team\n" in after
    changed = changed_lines(outside_sops(before), outside_sops(after))
    assert changed
    for line in changed:
        assert re.match(r"^(    apiKey: ENC\[|        aigw-secrets\.io/)", line), line
    assert '        aigw-secrets.io/generation: "2"\n' in after  # quoting kept
    assert plain(repo)["stringData"] == {"apiKey": new}  # type: ignore[comparison-overlap]


def test_generate_keeps_a_reviewers_comment(
    repo: Path, provider: standin.Provider, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup_groq(repo, provider, monkeypatch)
    path = repo / SECRET
    edited = path.read_text().replace("metadata:\n", "metadata:\n  # reviewed: ok\n", 1)
    # a plaintext comment is not covered by the MAC: adding it by hand is legitimate
    path.write_text(edited)
    monkeypatch.setenv("GROQ_API_KEY", fakes.groq_key())
    assert main(["generate", "--no-input"]) == 0
    after = path.read_text()
    assert "  # reviewed: ok\n" in after
    for line in changed_lines(outside_sops(edited), outside_sops(after)):
        assert re.match(r"^\s*(apiKey: ENC\[|aigw-secrets\.io/)", line), line


def test_first_generate_has_one_layout_whatever_the_indent_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from testing.repos import init_repo

    layouts = []
    for name, strip in (("two", False), ("four", True)):
        root = init_repo(tmp_path / name, monkeypatch)
        if strip:
            without_indent_setting(root)
        write_cluster(root, provider_settings("groq"))
        monkeypatch.setenv("GROQ_API_KEY", fakes.groq_key())
        assert main(["generate", "--no-input", "--repo", str(root)]) == 0
        text = (root / SECRET).read_text()
        # the layout: every line with its values masked
        layouts.append(
            [
                re.sub(r"(ENC\[[^\]]*\]|scrypt[:$]\S+|\d{4}-\d\d-\d\dT\S+)", "X", ln)
                for ln in outside_sops(text).splitlines()
            ]
        )
    assert layouts[0] == layouts[1]
    assert any(ln.startswith("  name: ") for ln in layouts[0])  # the house style: 2 spaces


def status_row(capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    capsys.readouterr()
    main(["status", "--format", "json"])  # exit 1 while overdue
    data = json.loads(capsys.readouterr().out)
    rows = data if isinstance(data, list) else data.get("providers") or data.get("secrets") or []
    return next(r for r in rows if r.get("provider") == "groq")


@pytest.mark.parametrize("how", ["set", "edit"])
def test_set_and_edit_update_the_bookkeeping(
    repo: Path,
    provider: standin.Provider,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    how: str,
) -> None:
    old = setup_groq(repo, provider, monkeypatch)
    path = repo / SECRET
    # the Secret was written 30 days ago
    aged = re.sub(r"(rotated-at: )\S+", lambda m: m.group(1) + "'2026-01-01T00:00:00Z'", path.read_text())
    edits = {("metadata", "annotations", "aigw-secrets.io/rotated-at"): "2026-01-01T00:00:00Z"}
    path.write_bytes(sops_files.update(Sops(repo), path.read_bytes(), str(SECRET), lambda _doc: edits) or aged.encode())
    assert status_row(capsys)["rotated_at"] == "2026-01-01T00:00:00Z"
    new = fakes.groq_key()
    if how == "set":
        monkeypatch.setenv("NEWV", new)
        assert main(["set", "--from-env", "NEWV", str(path), "stringData.apiKey"]) == 0
    else:
        editor = tmp_path / "editor.sh"
        editor.write_text(f"#!/bin/sh\nsed -i 's/{old}/{new}/' \"$1\"\n")
        editor.chmod(0o755)
        monkeypatch.setenv("EDITOR", str(editor))
        monkeypatch.delenv("VISUAL", raising=False)
        assert main(["edit", str(path)]) == 0
    doc = plain(repo)
    ann = doc["metadata"]["annotations"]  # type: ignore[index]
    assert doc["stringData"] == {"apiKey": new}  # type: ignore[comparison-overlap]
    assert contenthash.hash_matches(ann[marks.HASH_ANNOTATION], {"apiKey": new})
    assert ann["aigw-secrets.io/generation"] == "2"
    assert ann["aigw-secrets.io/rotated-at"] != "2026-01-01T00:00:00Z"
    assert status_row(capsys)["age_days"] == 0
    # the environment still holds the old key: generate must not call that "unchanged", nor write it back
    assert main(["generate", "--no-input", "--check"]) == ExitCode.SUPERSEDED
    monkeypatch.setenv("GROQ_API_KEY", new)
    assert main(["generate", "--no-input", "--check"]) == 0


def test_data_key_rotation_keeps_the_files_style(
    repo: Path, provider: standin.Provider, monkeypatch: pytest.MonkeyPatch
) -> None:
    without_indent_setting(repo)
    setup_groq(repo, provider, monkeypatch)
    path = repo / SECRET
    sops = Sops(repo)
    raw = sops.encrypt(sops_files.decrypt(sops, path.read_bytes(), str(SECRET)), str(SECRET)).decode()
    before = raw.replace("metadata:\n", "metadata:\n    # reviewed\n", 1)
    path.write_text(before)
    assert main(["rotate", "--data-key", str(path)]) == 0
    after = path.read_text()
    assert after != before
    assert [
        ln for ln in changed_lines(outside_sops(before), outside_sops(after)) if not ln.startswith("    apiKey: ENC[")
    ] == []
