"""Benchmark: one `aigw-secrets encrypt` over 200 Secret files vs a shell loop of `sops encrypt -i`
over copies of the same files, in the same run. Prints the ratio (target: at most 1.0).

aigw-secrets does more work per file (it also decrypts the result to verify it, and keeps the
author's formatting); it pays for that by running sops processes in parallel on the machine's cores.
The baseline calls the sops Go binary directly (not the slower Python launcher on PATH).

Usage: .venv/bin/python bench/encrypt_bench.py [--files 200] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aigw_secrets.sops.binary import find_binary
from testing.corpus import corpus


def setup(base: Path, files: int) -> tuple[Path, list[Path], list[Path]]:
    repo = base / "repo"
    repo.mkdir()
    subprocess.run([sys.executable, "-m", "aigw_secrets", "init", "--repo", str(repo)], check=True, capture_output=True)
    styles = [v for k, v in sorted(corpus().items()) if k != "crlf"]
    ours, theirs = repo / "kubernetes/ours", repo / "kubernetes/theirs"
    ours.mkdir(parents=True)
    theirs.mkdir(parents=True)
    a, b = [], []
    for i in range(files):
        text = styles[i % len(styles)]
        for d, lst in ((ours, a), (theirs, b)):
            p = d / f"s{i:04d}.sops.yaml"
            p.write_text(text)
            lst.append(p)
    return repo, a, b


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    sops = find_binary()
    ratios = []
    for r in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            repo, ours, theirs = setup(Path(tmp), args.files)
            originals = [p.read_bytes() for p in ours]
            env = {**os.environ, "SOPS_AGE_KEY_FILE": str(repo / "age.key")}
            t0 = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "aigw_secrets", "encrypt", *map(str, ours)],
                cwd=repo,
                env=env,
                check=True,
                capture_output=True,
            )
            t_ours = time.perf_counter() - t0
            loop = 'for f in "$@"; do "$SOPS" encrypt -i "$f" || exit 1; done'
            t0 = time.perf_counter()
            subprocess.run(["sh", "-c", loop, "sh", *map(str, theirs)], cwd=repo, env={**env, "SOPS": sops}, check=True)
            t_theirs = time.perf_counter() - t0
            ratios.append(t_ours / t_theirs)
            kept = all(
                subprocess.run(
                    [sys.executable, "-m", "aigw_secrets", "decrypt", str(p)], cwd=repo, env=env, capture_output=True
                ).stdout
                == originals[i]
                for i, p in list(enumerate(ours))[:: max(1, len(ours) // 5)]
            )
            if not kept:
                raise SystemExit("formatting was not kept")
            print(
                f"round {r + 1}: aigw-secrets encrypt {t_ours:.2f}s, sops encrypt -i loop {t_theirs:.2f}s, ratio {t_ours / t_theirs:.2f}"
            )
    print(
        f"files={args.files} cores={os.cpu_count()} median ratio aigw-secrets/sops-loop = {statistics.median(ratios):.2f} (target <= 1.0)"
    )


if __name__ == "__main__":
    main()
