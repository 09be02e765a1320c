"""The pre-commit path stays lean: what a hook run imports, and the staged blobs read from git's loose
objects without a cat-file process, giving exactly what git gives (packed, tampered, too large, linked
work trees)."""

from __future__ import annotations

import os
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from aigw_secrets import git as gitmod
from aigw_secrets import lean
from aigw_secrets.scanner import sources
from testing import fakes
from testing.helpers import git

# What judging a few staged text files never needs: each costs a pre-commit call milliseconds to import
# (typing ~4, pathlib ~4.5, subprocess ~5, hashlib ~3.5, yaml ~8; click and importlib.metadata tens).
HEAVY = (
    "typing",
    "pathlib",
    "subprocess",
    "threading",
    "hashlib",
    "json",
    "dataclasses",
    "inspect",
    "argparse",
    "click",
    "yaml",
    "ruamel",
    "re2",
    "importlib.metadata",
    "importlib.util",
    "contextlib",
    "datetime",
    "urllib",
    "ipaddress",
    "aigw_secrets.util",
    "aigw_secrets.scanner.report",
    "aigw_secrets.scanner.filters",
    "aigw_secrets.scanner.yamlread",
)


@pytest.fixture
def gitrepo(tmp_path: Path) -> Path:
    root = tmp_path / "r"
    root.mkdir()
    git(root, "init", "-q")
    git(root, "config", "user.email", "t@example.invalid")
    git(root, "config", "user.name", "t")
    return root


def _hook_modules(root: Path, *argv: str, cache: Path | None = None) -> tuple[int, set[str], str]:
    """A hook run in a fresh interpreter, as the console script starts it: exit code, every module
    it loaded, stderr."""
    code = (
        "import sys\n"
        "from aigw_secrets.entry import main\n"
        f"rc = main({['scan', *argv]!r})\n"
        "print(' '.join(sorted(sys.modules)))\n"
        "raise SystemExit(rc)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE")}
    if cache is not None:
        env["XDG_CACHE_HOME"] = str(cache)
    res = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, env=env)
    return res.returncode, set(res.stdout.splitlines()[-1].split()), res.stderr


def _heavy(loaded: set[str]) -> list[str]:
    return sorted(m for m in loaded if any(m == h or m.startswith(h + ".") for h in HEAVY))


def _manifests(root: Path) -> list[str]:
    names = []
    for i in range(10):  # what a commit of a GitOps repository stages: YAML, none of it a Secret
        name = f"apps/app{i}/helmrelease.yaml"
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(
            "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: app\nspec:\n"
            f"  values:\n    image: ghcr.io/example/app:{i}\n    env:\n      TZ: UTC\n      LOG_LEVEL: info\n"
        )
        names.append(name)
    return names


def test_the_hook_imports_only_what_judging_plain_manifests_needs(gitrepo: Path) -> None:
    names = _manifests(gitrepo)
    git(gitrepo, "add", "-A")
    rc, loaded, err = _hook_modules(gitrepo, "--staged")
    assert rc == 0, err
    assert "10 file(s) checked" in err
    assert _heavy(loaded) == []
    rc, loaded, err = _hook_modules(gitrepo, *names)  # pre-commit's own call: the file names
    assert rc == 0, err
    assert _heavy(loaded) == []


def test_in_a_sops_repository_the_second_run_reads_its_cached_rules_only(gitrepo: Path, tmp_path: Path) -> None:
    """With a .sops.yaml, coverage is asked for every manifest: from the cached rules (no YAML, no
    JSON) and, for the usual path_regex, with Python's re (no RE2)."""
    (gitrepo / ".sops.yaml").write_text(
        "creation_rules:\n  - path_regex: (apps|talos)/.*\\.sops\\.ya?ml$\n    encrypted_regex: ^(data|stringData)$\n"
        f"    age: age1{'q' * 58}\n"
    )
    _manifests(gitrepo)
    git(gitrepo, "add", "-A")
    first = _hook_modules(gitrepo, "--staged", cache=tmp_path / "cache")
    assert first[0] == 0 and "yaml" in first[1]  # the config read once
    rc, loaded, err = _hook_modules(gitrepo, "--staged", cache=tmp_path / "cache")
    assert rc == 0, err
    assert _heavy(loaded) == []
    assert "aigw_secrets.sops.regex" in loaded  # coverage was asked


def test_a_finding_still_loads_the_report_and_nothing_is_lost(gitrepo: Path) -> None:
    _manifests(gitrepo)
    (gitrepo / "apps/app0/.env").write_text(f"GROQ_API_KEY={fakes.groq_key()}\n")
    git(gitrepo, "add", "-A")
    rc, loaded, err = _hook_modules(gitrepo, "--staged")
    assert rc == 1 and "apps/app0/.env:1:14: groq-api-key" in err
    assert "aigw_secrets.scanner.report" in loaded


def _staged_by_git(root: Path) -> list[tuple[str, bytes | None, str]]:
    """What the index holds, read the old way: every blob through cat-file."""
    out = (
        gitmod.run(root, "diff", "--cached", "--raw", "-z", "--no-abbrev", "--no-renames", "--diff-filter=ACMR")
        .decode()
        .split("\0")
    )
    metas, names = out[0::2], out[1::2]
    shas = {name: meta.split(" ")[3] for meta, name in zip(metas, names, strict=False) if meta}
    blobs = {sha: (content, note) for sha, content, note in sources.read_blobs(root, list(set(shas.values())))}
    return sorted((name, *blobs[sha]) for name, sha in shas.items())


def _staged(root: Path) -> list[tuple[str, bytes | None, str]]:
    return sorted((i.path, i.data, i.note) for i in sources.staged(root))


def test_loose_packed_and_tampered_objects_read_as_git_reads_them(
    gitrepo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _manifests(gitrepo)
    (gitrepo / "big.txt").write_bytes(b"x" * (sources.MAX_BYTES + 1))
    git(gitrepo, "add", "-A")
    want = _staged_by_git(gitrepo)
    assert ("big.txt", None, "larger than 10 MB; not scanned") in want
    loose = gitmod.LooseObjects(gitrepo)
    assert loose.dir == str(gitrepo / ".git" / "objects")
    started: list[tuple[str, ...]] = []
    batch = gitmod.cat_file_batch

    def counted(root: Path, specs: list[str]) -> object:
        started.append(tuple(specs))
        return batch(root, specs)

    monkeypatch.setattr(gitmod, "cat_file_batch", counted)
    assert _staged(gitrepo) == want
    big = git(gitrepo, "rev-parse", ":big.txt").strip()
    assert started == [(big,)]  # only the blob over the limit went to git

    # a loose object whose bytes do not hash to its id is never believed: git is asked
    sha = git(gitrepo, "rev-parse", ":apps/app3/helmrelease.yaml").strip()
    path = gitrepo / ".git" / "objects" / sha[:2] / sha[2:]
    original = path.read_bytes()
    path.chmod(0o644)
    path.write_bytes(zlib.compress(b"blob 7\0forged!"))
    assert loose.read(sha, sources.MAX_BYTES) is None
    path.write_bytes(original)
    assert loose.read(sha, sources.MAX_BYTES) == (gitrepo / "apps/app3/helmrelease.yaml").read_bytes()

    git(gitrepo, "commit", "-qm", "x")
    git(gitrepo, "gc", "-q", "--prune=now")  # everything packed: nothing loose is left
    (gitrepo / "apps/app3/helmrelease.yaml").write_text("kind: ConfigMap\n")
    git(gitrepo, "rm", "-q", "--cached", "apps/app1/helmrelease.yaml")
    git(gitrepo, "update-index", "--add", "--cacheinfo", f"100644,{sha},apps/app1/again.yaml")  # a packed blob
    git(gitrepo, "add", "apps/app3/helmrelease.yaml")
    want = _staged_by_git(gitrepo)
    started.clear()
    assert _staged(gitrepo) == want
    assert started == [(sha,)]  # the packed one; the ConfigMap git add just wrote is read loose


def test_a_linked_work_tree_reads_the_shared_object_store(gitrepo: Path, tmp_path: Path) -> None:
    (gitrepo / "a.txt").write_text("a\n")
    git(gitrepo, "add", "-A")
    git(gitrepo, "commit", "-qm", "a")
    linked = tmp_path / "linked"
    git(gitrepo, "worktree", "add", "-q", str(linked))
    (linked / "b.env").write_text(f"GROQ_API_KEY={fakes.groq_key()}\n")
    git(linked, "add", "b.env")
    loose = gitmod.LooseObjects(linked)
    assert loose.dir is not None and Path(loose.dir).resolve() == (gitrepo / ".git" / "objects").resolve()
    sha = git(linked, "rev-parse", ":b.env").strip()
    assert loose.read(sha, 100) == (linked / "b.env").read_bytes()
    assert loose.read(sha, 10) is None  # over the limit: left to git
    assert _staged(linked) == _staged_by_git(linked)


def test_record_is_a_named_tuple() -> None:
    class Point(lean.Record):
        x: int
        y: int = 0
        label: str = "p"

        @property
        def norm(self) -> int:
            return abs(self.x) + abs(self.y)

    p = Point(3, -4)
    assert p == (3, -4, "p") and p.norm == 7 and p._replace(y=1).y == 1 and Point._fields == ("x", "y", "label")
    assert repr(p) == "Point(x=3, y=-4, label='p')"
    with pytest.raises(TypeError, match="non-default field"):

        class Bad(lean.Record):
            a: int = 0
            b: int


def test_lazy_pattern_compiles_on_first_use() -> None:
    import re

    lazy = lean.pattern(r"(?P<word>\w+)@", re.I)
    assert "search" not in vars(lazy)  # nothing compiled yet
    assert lazy.pattern == r"(?P<word>\w+)@"
    m = lazy.search("mail: USER@host")
    assert m is not None and m.group("word") == "USER"
    assert "search" in vars(lazy) and lazy.groupindex == {"word": 1} and lazy.flags & re.I
    assert lazy.sub("x@", "a@ b@") == "x@ x@"


def test_yaml_imported_with_lazy_regexes_reads_as_yaml_imported_as_usual(tmp_path: Path) -> None:
    """The scanner imports PyYAML with its regexes compiled on first use: every scalar resolves to the
    tag the usual import gives (bools, ints, floats, nulls, timestamps, merge keys, YAML 1.1 words)."""
    doc = tmp_path / "doc.yaml"
    doc.write_text(
        "a: yes\nb: No\nc: 0x1F\nd: 1_000\ne: 6.02e+23\nf: .inf\ng: ~\nh: null\ni: 2001-12-14t21:59:43.10-05:00\n"
        "j: 2002-12-14\nk: &x {m: 1}\nl: {<<: *x, n: on}\no: '123'\np: plain text\nq: 0b1010\nr: 190:20:30\n"
        "s: -.NaN\nt: =\nu: [1, 2.5, false, '', ]\n"
    )
    show = (
        "import sys\n"
        "{load}\n"
        "from aigw_secrets.scanner import yamlread\n"
        "c = yamlread.compose(open(sys.argv[1]).read())\n"
        "out = []\n"
        "for keys, node in yamlread.Walk(c.docs[0]):\n"
        "    out.append(f'{{\".\".join(keys)}}={{node.tag}}')\n"
        "print(c.problem, type(sys.modules['yaml'].reader.Reader.NON_PRINTABLE).__name__, *out)\n"
    )
    runs = [
        subprocess.run(
            [sys.executable, "-c", show.format(load=load), str(doc)], capture_output=True, text=True, check=True
        ).stdout.split()
        for load in ("pass", "import yaml")
    ]
    lazy, usual = runs
    assert lazy[1] == "_Lazy" and usual[1] == "Pattern"  # the lazy import really happened, and only there
    assert lazy[0] == usual[0] == "None"
    assert lazy[2:] == usual[2:] and len(lazy) > 20
    assert "a=tag:yaml.org,2002:bool" in lazy and "i=tag:yaml.org,2002:timestamp" in lazy


def test_import_compiling_lazily_falls_back_to_the_usual_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A module that uses a pattern as a string at import (here: re.match with it) is imported as usual."""
    import re

    (tmp_path / "strict_mod.py").write_text("import re\nP = re.compile('a+')\nOK = bool(re.match(P, 'aa'))\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    mod = lean.import_compiling_lazily("strict_mod")
    assert mod.OK is True and isinstance(mod.P, re.Pattern)
    assert re.compile is not lean.pattern
    sys.modules.pop("strict_mod", None)


def test_the_console_scripts_scan_ends_the_process_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``main()`` as the console script calls it (no argv): a finished scan ends the process with
    os._exit once its output is flushed, unless an atexit handler is waiting (coverage is one)."""
    import atexit

    from aigw_secrets import entry

    (tmp_path / "a.yaml").write_text("kind: ConfigMap\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["aigw-secrets", "scan", "a.yaml"])
    ended: list[int] = []
    monkeypatch.setattr(os, "_exit", ended.append)
    monkeypatch.setattr(atexit, "_ncallbacks", lambda: 0)
    assert entry.main() == 0 and ended == [0]
    assert entry.main(["scan", "a.yaml"]) == 0 and ended == [0]  # called from Python: never
    monkeypatch.setattr(atexit, "_ncallbacks", lambda: 1)
    assert entry.main() == 0 and ended == [0]

    class Broken:
        def write(self, text: str) -> int:
            return len(text)

        def flush(self) -> None:
            raise BrokenPipeError

    monkeypatch.setattr(atexit, "_ncallbacks", lambda: 0)
    monkeypatch.setattr(sys, "stdout", Broken())
    assert entry.main() == 0 and ended == [0]  # the usual exit deals with the broken pipe
    capsys.readouterr()


def test_the_rules_cache_reads_back_what_it_wrote_and_nothing_else(tmp_path: Path) -> None:
    from aigw_secrets.scanner import hook

    for regexes in ([], [None], ["a\nb", None, "é\\.x$", ""]):
        assert hook._cache_load(hook._cache_dump(regexes)) == regexes
    assert hook._cache_load(b"[1, 2]") is None
    assert hook._cache_load(hook._cache_dump(["x"]).rstrip(b"\n")) is None
    assert hook._cache_load(hook._cache_dump(["x"]) + b"?junk\n") is None
    with pytest.raises(ValueError):
        hook._cache_load(b"\xff")


def test_sops_config_names_the_config_and_an_unwritable_cache_costs_only_speed(
    gitrepo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from aigw_secrets.entry import main

    config = tmp_path / "elsewhere.yaml"
    config.write_text(f"creation_rules:\n  - path_regex: secrets/\n    age: age1{'q' * 58}\n")
    (gitrepo / "secrets").mkdir()
    (gitrepo / "secrets/a.env").write_text(f"PASSWORD={fakes.rand(24)}\n")
    git(gitrepo, "add", "-A")
    monkeypatch.chdir(gitrepo)
    blocked = tmp_path / "cache-is-a-file"
    blocked.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    monkeypatch.setenv("SOPS_CONFIG", str(config))
    assert main(["scan", "--staged"]) == 1
    assert "secrets/a.env:1:1: sops-rule-unencrypted" in capsys.readouterr().err  # (the path from the config's place)
    monkeypatch.setenv("SOPS_CONFIG", str(tmp_path / "absent.yaml"))  # named but absent: no rules
    assert main(["scan", "--staged"]) == 1
    assert "sops-rule-unencrypted" not in capsys.readouterr().err


def test_a_scan_request_is_an_immutable_value() -> None:
    from aigw_secrets.scanner.request import ScanRequest

    a, b = ScanRequest(["x"], staged=True), ScanRequest(("x",), staged=True)
    assert a == b and hash(a) == hash(b) and a != ScanRequest(["x"]) and a != "x"
    assert repr(a).startswith("ScanRequest(paths=('x',), staged=True")
    with pytest.raises(AttributeError, match="immutable"):
        a.staged = False  # type: ignore[misc]
    with pytest.raises(AttributeError, match="immutable"):
        del a.paths  # type: ignore[misc]
    with pytest.raises(ValueError, match="unknown format 'xml'"):
        ScanRequest(format="xml")
