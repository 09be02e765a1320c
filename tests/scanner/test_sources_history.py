"""Where the scanner's bytes come from, on the server side too: the index (one git diff), bare
repositories, history judged by each commit's own .sops.yaml, archives, and the parallel scans
giving exactly the serial findings."""

from __future__ import annotations

from pathlib import Path

import pytest

from aigw_secrets.entry import main
from testing import fakes
from testing.helpers import git


@pytest.fixture
def gitrepo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "r"
    root.mkdir()
    git(root, "init", "-q")
    git(root, "config", "user.email", "t@example.invalid")
    git(root, "config", "user.name", "t")
    monkeypatch.chdir(root)
    return root


def test_staged_reports_every_name_of_a_shared_blob(gitrepo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Two staged files with the same content are one blob: both names are reported."""
    body = f"GROQ_API_KEY={fakes.groq_key()}\n"
    (gitrepo / "a.env").write_text(body)
    (gitrepo / "b.env").write_text(body)
    git(gitrepo, "add", "-A")
    assert main(["scan", "--staged"]) == 1
    err = capsys.readouterr().err
    assert "a.env:1:14: groq-api-key" in err and "b.env:1:14: groq-api-key" in err


def _commit(root: Path, files: dict[str, str], message: str) -> str:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    git(root, "add", "-A")
    git(root, "commit", "-qm", message)
    return git(root, "rev-parse", "HEAD").strip()


def _secret(name: str) -> str:
    return f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\nstringData:\n  password: {fakes.rand(28)}\n"


def _rules(regex: str) -> str:
    return (
        f"creation_rules:\n  - path_regex: {regex}\n    encrypted_regex: ^(data|stringData)$\n    age: age1{'q' * 58}\n"
    )


def test_history_in_a_bare_repository(
    gitrepo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A mirror or a pre-receive hook has no work tree: history is read from the object store."""
    first = _commit(gitrepo, {"notes.md": f"temporary: {fakes.anthropic_key()}\n"}, "oops")
    _commit(gitrepo, {"notes.md": "gone\n"}, "remove it")
    bare = tmp_path / "mirror.git"
    git(tmp_path, "clone", "-q", "--mirror", str(gitrepo), str(bare))
    monkeypatch.chdir(bare)
    assert main(["scan", "--history"]) == 1
    err = capsys.readouterr().err
    assert "notes.md:1:12: anthropic-api-key" in err and f"first in commit {first[:12]}" in err
    monkeypatch.chdir(tmp_path)
    assert main(["scan", "--history", "--repo", str(bare)]) == 1
    assert "anthropic-api-key" in capsys.readouterr().err
    monkeypatch.chdir(bare / "hooks")  # where a server-side hook may run
    assert main(["scan", "--history", "HEAD~1..HEAD"]) == 0
    monkeypatch.chdir(bare)
    assert main(["scan", "--staged"]) == 2  # no index in a bare repository: a usage problem, not "clean"
    capsys.readouterr()


def test_history_judges_each_blob_by_the_sops_yaml_of_its_commit(
    gitrepo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """secrets/a.yaml was committed in plaintext while .sops.yaml covered secrets/: reported, though
    today's config no longer covers it; other/b.yaml was committed before any rule covered other/:
    not a coverage finding, though today's config covers it."""
    _commit(
        gitrepo,
        {".sops.yaml": _rules("secrets/.*\\.yaml"), "secrets/a.yaml": _secret("a"), "other/b.yaml": _secret("b")},
        "one",
    )
    _commit(gitrepo, {".sops.yaml": _rules("other/.*\\.yaml")}, "rules move")
    assert main(["scan", "--history", "--format", "json"]) == 1
    import json

    found = {(f["path"], f["rule"]) for f in json.loads(capsys.readouterr().out)["findings"]}
    assert ("secrets/a.yaml", "sops-rule-unencrypted") in found
    assert ("other/b.yaml", "sops-rule-unencrypted") not in found
    assert ("other/b.yaml", "k8s-secret-plaintext") in found  # still a plaintext Secret
    # the tree scan judges today's files by today's config, as before
    assert main(["scan", "--all", "--format", "json"]) == 1
    today = {(f["path"], f["rule"]) for f in json.loads(capsys.readouterr().out)["findings"]}
    assert ("other/b.yaml", "sops-rule-unencrypted") in today and (
        "secrets/a.yaml",
        "sops-rule-unencrypted",
    ) not in today


def test_history_without_any_sops_yaml_reports_no_coverage(gitrepo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _commit(gitrepo, {"secrets/a.yaml": _secret("a")}, "one")
    (gitrepo / ".sops.yaml").write_text(_rules("secrets/.*"))  # today's, uncommitted: not history's
    assert main(["scan", "--history", "--format", "json"]) == 1
    import json

    rules = {f["rule"] for f in json.loads(capsys.readouterr().out)["findings"]}
    assert rules == {"k8s-secret-plaintext"}


def _report(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    main(["scan", *argv, "--format", "json"])
    return capsys.readouterr().out


def test_parallel_scans_report_exactly_what_serial_scans_do(
    gitrepo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Tree and history scans shared out over forked workers give the serial report, byte for byte
    (same findings, same order, same skips), whatever the number of CPUs."""
    from aigw_secrets.scanner import history, hook, workers
    from testing.scancorpus import corpus

    (gitrepo / ".sops.yaml").write_text(_rules("kubernetes/.*\\.yaml"))
    for n, (name, text, _want) in enumerate(corpus() * 2):
        folder = "kubernetes" if n % 3 == 0 else f"d{n % 5}"
        (gitrepo / folder / f"{n:03d}-{name.replace('/', '-')}").parent.mkdir(exist_ok=True)
        (gitrepo / folder / f"{n:03d}-{name.replace('/', '-')}").write_text(text)
        if n % 10 == 9:
            _commit(gitrepo, {}, f"batch {n}")
    _commit(gitrepo, {"big.bin": "\0" * 10}, "last")
    serial = {argv: _report(list(argv), capsys) for argv in (("--all",), ("--history",), (str(gitrepo),))}
    assert '"rule"' in serial[("--all",)] and '"rule"' in serial[("--history",)]
    calls: list[int] = []
    fan_out = workers.fan_out

    def spy(work: object, chunks: list[list[object]], processes: int) -> object:
        calls.append(processes)
        return fan_out(work, chunks, processes)  # type: ignore[arg-type]

    monkeypatch.setattr(workers, "fan_out", spy)
    monkeypatch.setattr(workers, "cpus", lambda: 2)
    monkeypatch.setattr(hook, "PARALLEL_FROM", 1)
    monkeypatch.setattr(history, "PARALLEL_FROM", 1)
    for argv, want in serial.items():
        assert _report(list(argv), capsys) == want, argv
    assert calls == [2, 2, 2]


def test_chunks_cover_the_items_in_order() -> None:
    from aigw_secrets.scanner import workers

    for n in (0, 1, 2, 7, 8, 9, 100):
        for processes in (1, 2, 3):
            chunks = workers.chunked(list(range(n)), processes)
            assert [x for c in chunks for x in c] == list(range(n)) and all(chunks)
            assert len(chunks) <= max(1, processes * 4)


# --- archives --------------------------------------------------------------------------------------


def _zip(files: dict[str, bytes]) -> bytes:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _targz(files: dict[str, bytes]) -> bytes:
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_a_secret_inside_a_committed_zip_is_found(gitrepo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A support bundle (.zip) holding a Kubernetes Secret, a backup (.tar.gz) holding a key, a zip
    inside a tar.gz: all opened, in the tree scan, the hook and history."""
    inner = _zip({"kube-system/bootstrap.yaml": _secret("bootstrap-token-abcdef").encode()})
    (gitrepo / "support.zip").write_bytes(inner)
    (gitrepo / "backup.tgz").write_bytes(
        _targz({"etc/app.env": f"GROQ_API_KEY={fakes.groq_key()}\n".encode(), "nested/bundle.zip": inner})
    )
    git(gitrepo, "add", "-A")
    assert main(["scan", "--staged"]) == 1
    err = capsys.readouterr().err
    assert "support.zip!kube-system/bootstrap.yaml:6:" in err and "k8s-secret-plaintext" in err
    assert "backup.tgz!etc/app.env:1:14: groq-api-key" in err
    assert "backup.tgz!nested/bundle.zip!kube-system/bootstrap.yaml:6:" in err
    git(gitrepo, "commit", "-qm", "bundles")
    git(gitrepo, "rm", "-q", "support.zip", "backup.tgz")
    git(gitrepo, "commit", "-qm", "gone")
    assert main(["scan", "--all"]) == 0
    assert main(["scan", "--history"]) == 1
    assert "support.zip!kube-system/bootstrap.yaml:6:" in capsys.readouterr().err


def test_archives_are_opened_within_bounds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bomb, a flood of members, deep nesting and a corrupt archive: each reported as skipped
    with its reason, the scan goes on, nothing is read past the limits."""
    from aigw_secrets.scanner import archives

    monkeypatch.setattr(archives, "MAX_TOTAL", 64 * 1024)
    monkeypatch.setattr(archives, "MAX_MEMBERS", 5)
    key = f"GROQ_API_KEY={fakes.groq_key()}\n".encode()
    (tmp_path / "bomb.zip").write_bytes(_zip({"a.env": key, "zeros.txt": b"\0" * (1024 * 1024), "z.env": key}))
    (tmp_path / "flood.tar.gz").write_bytes(_targz({f"f{i}.env": key for i in range(9)}))
    deep = _zip({"k.env": key})
    for level in range(archives.MAX_DEPTH):
        deep = _zip({f"level{level}.zip": deep})
    (tmp_path / "deep.zip").write_bytes(deep)
    (tmp_path / "corrupt.zip").write_bytes(b"PK\x03\x04" + b"\xff" * 100)
    (tmp_path / "not-a-zip.zip").write_text(f"notes: {key.decode()}")  # a text file named .zip: scanned as text
    monkeypatch.chdir(tmp_path)
    assert main(["scan", "."]) == 1
    err = capsys.readouterr().err
    assert "bomb.zip!a.env:1:14: groq-api-key" in err and "bomb.zip: skipped: archive decompresses to more than" in err
    assert "bomb.zip!z.env" not in err  # past the limit: not read
    assert err.count("flood.tar.gz!") == 5 and "flood.tar.gz: skipped: archive has more than 5 files" in err
    assert "deep.zip!level2.zip!level1.zip!level0.zip: skipped: archive nested deeper than 3 levels" in err
    assert "corrupt.zip: skipped: unreadable archive" in err
    assert "not-a-zip.zip:1:21: groq-api-key" in err


def test_the_hook_reads_sops_yaml_once_per_version(gitrepo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Coverage from a cached reading of .sops.yaml (keyed by its bytes): the second hook run never
    loads the config reader, gives the same verdict, and a changed config is read again."""
    import subprocess
    import sys

    (gitrepo / ".sops.yaml").write_text(_rules("secrets/.*\\.yaml"))
    (gitrepo / "secrets").mkdir()
    (gitrepo / "secrets/a.yaml").write_text(_secret("a"))
    git(gitrepo, "add", "-A")
    code = (
        "import sys; from aigw_secrets.entry import main; rc = main(['scan', '--staged']); "
        "print('aigw_secrets.sops.config' in sys.modules, file=sys.stderr); raise SystemExit(rc)"
    )
    runs = [subprocess.run([sys.executable, "-c", code], cwd=gitrepo, capture_output=True, text=True) for _ in range(2)]
    assert [r.returncode for r in runs] == [1, 1]
    assert all("sops-rule-unencrypted" in r.stderr for r in runs)
    assert runs[0].stderr.strip().endswith("True") and runs[1].stderr.strip().endswith("False")
    (gitrepo / ".sops.yaml").write_text(_rules("elsewhere/.*"))
    assert main(["scan", "--staged"]) == 1
    assert "sops-rule-unencrypted" not in capsys.readouterr().err
    from aigw_secrets.scanner import hook

    for entry in Path(hook._cache_dir()).iterdir():
        entry.write_text("{not json")  # a damaged cache is read past, never trusted
    (gitrepo / ".sops.yaml").write_text(_rules("secrets/.*\\.yaml"))
    assert main(["scan", "--staged"]) == 1
    assert "sops-rule-unencrypted" in capsys.readouterr().err
    (gitrepo / ".sops.yaml").write_text("creation_rules: [")  # a broken config still stops the scan
    assert main(["scan", "--staged"]) == 2
    capsys.readouterr()
