"""Benchmark: `aigw-secrets scan --all` vs detect-secrets on the same >= 5,000-file tree, in one run;
a typical pre-commit call on 10 files (wall time including interpreter start); recall and precision
of both on the labelled corpus this benchmark generates.

Targets: at least 10x faster than detect-secrets on the tree; the 10-file hook call under 150 ms.
Usage: .venv/bin/python bench/scan_bench.py [--files 5000]   (needs `pip install -e .[bench]`)
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
    "svc.py": "import os\n\n\ndef handler{i}(event):\n    key = os.environ['GROQ_API_KEY']\n    return {{'status': 200, 'id': '{uuid}'}}\n" * 3,
    "main.go": "package main\n\nimport \"fmt\"\n\nfunc main() {{\n\tfmt.Println(\"hello {i}\")\n}}\n" * 4,
    "README.md": "# Service {i}\n\nSet `OPENAI_API_KEY` in the `openai` Secret (see the docs). Hash: {sha}\n" * 5,
    "run.sh": "#!/bin/sh\nset -eu\nexport REGION=us-east-1\nexec app --port {i}\n",
    "main.tf": 'resource "aws_s3_bucket" "b{i}" {{\n  bucket = "bucket-{i}"\n  tags = {{ env = "prod" }}\n}}\n',
    "sops.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s{i}\nstringData:\n  apiKey: ENC[AES256_GCM,data:{b64},iv:{b64},tag:{b64},type:str]\nsops:\n  lastmodified: \"2026-01-01T00:00:00Z\"\n  mac: ENC[AES256_GCM,data:{b64},iv:{b64},tag:{b64},type:str]\n  encrypted_regex: ^(data|stringData)$\n  version: 3.11.0\n",
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
            text = FILLER[kind].format(i=i, uuid=f"{rng.getrandbits(128):032x}", sha=f"{rng.getrandbits(160):040x}", b64=fakes.rand(24))
        path = tree / f"d{i // 50:03d}" / f"{i:05d}-{name.replace('/', '-')}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    # a GitOps repository has a .sops.yaml: the hook then also checks creation-rule coverage
    (tree / ".sops.yaml").write_text("creation_rules:\n  - path_regex: d0[0-4]./.*\\.sops\\.yaml\n    encrypted_regex: ^(data|stringData)$\n    age: age1" + "q" * 58 + "\n")
    subprocess.run(["git", "init", "-q"], cwd=tree, check=True)
    subprocess.run(["git", "add", "-A"], cwd=tree, check=True)
    return tree, written


def timed(argv: list[str], cwd: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, cwd=cwd, capture_output=True, check=False)
    return time.perf_counter() - t0


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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=5000)
    args = ap.parse_args()
    ds = shutil.which("detect-secrets", path=str(BIN))
    if ds is None:
        raise SystemExit("detect-secrets is not installed: pip install -e .[bench]")
    ours = [str(BIN / "aigw-secrets"), "scan"]
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        tree, written = build(base, args.files)
        t_ours = timed([*ours, "--all"], tree)
        t_ds = timed([ds, "scan", "--all-files", "."], tree)
        print(f"tree of {args.files} files: aigw-secrets scan --all {t_ours:.2f}s, detect-secrets scan {t_ds:.2f}s, speed-up {t_ds / t_ours:.1f}x (target >= 10x)")

        ten = [str(p.relative_to(tree)) for p in written[1:11]]  # a mix, YAML Secrets and SOPS files included
        hook = [timed([*ours, *ten], tree) for _ in range(15)]
        py = [timed([sys.executable, "-c", "pass"], tree) for _ in range(15)]
        print(f"pre-commit call on 10 files: median {statistics.median(hook) * 1000:.0f} ms wall incl. interpreter start (target < 150 ms); bare `python -c pass` {statistics.median(py) * 1000:.0f} ms")

        d, truth = labelled(base)
        res = subprocess.run([*ours, "--all", "--format", "json"], cwd=d, capture_output=True, text=True)
        ours_flagged = {f["path"] for f in json.loads(res.stdout)["findings"]}
        res = subprocess.run([ds, "scan", "--all-files", "."], cwd=d, capture_output=True, text=True)
        ds_flagged = {name for name, hits in json.loads(res.stdout)["results"].items() if hits}
        for label, flagged in (("aigw-secrets", ours_flagged), ("detect-secrets", ds_flagged)):
            recall, precision = score(flagged, truth)
            print(f"labelled corpus ({sum(truth.values())} positive, {len(truth) - sum(truth.values())} negative files): {label:14} recall {recall:.0%} precision {precision:.0%}")
    print(f"cores={os.cpu_count()}")


if __name__ == "__main__":
    main()
