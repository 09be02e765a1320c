"""Benchmark: `aigw-secrets rotate --data-key` over 500 files vs a sequential shell loop of
`sops rotate -i` over copies of the same files, in the same run; prints the ratio (target <= 0.6).

aigw-secrets also verifies every result and keeps each file's formatting; it runs the sops
processes in parallel and checks the results in process.
Usage: .venv/bin/python bench/rotate_bench.py [--files 500] [--rounds 2]
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    styles = [v for k, v in sorted(corpus().items()) if k != "crlf"]
    ratios = []
    for r in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            repo = Path(tmp) / "repo"
            repo.mkdir()
            subprocess.run(
                [sys.executable, "-m", "aigw_secrets", "init", "--repo", str(repo)], check=True, capture_output=True
            )
            env = {**os.environ, "SOPS_AGE_KEY_FILE": str(repo / "age.key")}
            ours = repo / "kubernetes/ours"
            ours.mkdir(parents=True)
            for i in range(args.files):
                (ours / f"s{i:04d}.sops.yaml").write_text(styles[i % len(styles)])
            subprocess.run(
                [sys.executable, "-m", "aigw_secrets", "encrypt"], cwd=repo, env=env, check=True, capture_output=True
            )
            theirs = repo / "kubernetes/theirs"
            theirs.mkdir()
            for p in sorted(ours.iterdir()):
                (theirs / p.name).write_bytes(p.read_bytes())
            originals = {
                p.name: subprocess.run(
                    [sys.executable, "-m", "aigw_secrets", "decrypt", str(p)], cwd=repo, env=env, capture_output=True
                ).stdout
                for p in sorted(ours.iterdir())[:5]
            }

            t0 = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "aigw_secrets", "rotate", "--data-key", *map(str, sorted(ours.iterdir()))],
                cwd=repo,
                env=env,
                check=True,
                capture_output=True,
            )
            t_ours = time.perf_counter() - t0
            loop = 'for f in "$@"; do "$SOPS" rotate -i "$f" || exit 1; done'
            t0 = time.perf_counter()
            subprocess.run(
                ["sh", "-c", loop, "sh", *map(str, sorted(theirs.iterdir()))],
                cwd=repo,
                env={**env, "SOPS": find_binary()},
                check=True,
                capture_output=True,
            )
            t_theirs = time.perf_counter() - t0
            for name, text in originals.items():
                got = subprocess.run(
                    [sys.executable, "-m", "aigw_secrets", "decrypt", str(ours / name)],
                    cwd=repo,
                    env=env,
                    capture_output=True,
                ).stdout
                if got != text:
                    raise SystemExit(f"formatting not kept for {name}")
            ratios.append(t_ours / t_theirs)
            print(
                f"round {r + 1}: aigw-secrets rotate --data-key {t_ours:.2f}s, sops rotate -i loop {t_theirs:.2f}s, ratio {ratios[-1]:.2f}"
            )
    print(f"files={args.files} cores={os.cpu_count()} median ratio = {statistics.median(ratios):.2f} (target <= 0.6)")


if __name__ == "__main__":
    main()
