"""The coverage gate: no module's coverage below its floor.

``python -m testing.covgate REPORT.json FLOOR.json`` reads coverage.py's JSON report (measured
with branch coverage) and the floors (module path -> {"branches": %, "total": %}, where "total"
is coverage.py's figure over statements and branches together), prints each figure below its
floor, and exits 1 if there is any. ``--write`` replaces FLOOR.json with the report's figures
rounded down to one decimal (after a change that raised coverage, to raise the floors with it).
The committed floors are the level the suite reached less at most one point (Hypothesis examples
and the random kill soak vary which branches run), and never above it.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

FIGURES = {"branches": "percent_branches_covered", "total": "percent_covered"}


def figures(report: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Module path -> {"branches": %, "total": %} from a coverage.py JSON report."""
    files: dict[str, Any] = report.get("files", {})
    return {
        path: {name: float(entry["summary"].get(key, 100.0)) for name, key in FIGURES.items()}
        for path, entry in sorted(files.items())
    }


def below(measured: dict[str, dict[str, float]], floor: dict[str, dict[str, float]]) -> list[str]:
    """One line per figure under its floor, or per module missing from the report while it has a floor."""
    out = []
    for module, least in sorted(floor.items()):
        got = measured.get(module)
        if got is None:
            out.append(f"{module}: not in the coverage report")
            continue
        for name, value in sorted(least.items()):
            if got.get(name, 0.0) + 1e-9 < value:
                out.append(f"{module}: {name} {got.get(name, 0.0):.2f}% < floor {value:.1f}%")
    return out


def main(argv: list[str]) -> int:
    args = [a for a in argv if a != "--write"]
    if len(args) != 2:
        print("usage: python -m testing.covgate REPORT.json FLOOR.json [--write]", file=sys.stderr)
        return 2
    report_path, floor_path = Path(args[0]), Path(args[1])
    report = json.loads(report_path.read_text())
    measured = figures(report)
    if "--write" in argv:
        rounded = {m: {k: math.floor(v * 10) / 10 for k, v in f.items()} for m, f in measured.items()}
        floor_path.write_text(json.dumps(rounded, indent=1, sort_keys=True) + "\n")
        print(f"covgate: wrote the floors of {len(measured)} modules to {floor_path}", file=sys.stderr)
        return 0
    floor = {str(m): {str(k): float(v) for k, v in f.items()} for m, f in json.loads(floor_path.read_text()).items()}
    failures = below(measured, floor)
    for line in failures:
        print(f"coverage below its floor: {line}", file=sys.stderr)
    totals = report.get("totals", {})
    print(
        f"covgate: {len(measured)} modules; branches {float(totals.get('percent_branches_covered', 0.0)):.2f}%, "
        f"statements and branches {float(totals.get('percent_covered', 0.0)):.2f}%; {len(failures)} below their floor",
        file=sys.stderr,
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
