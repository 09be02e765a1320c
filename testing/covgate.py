"""The coverage gate: every module's branch coverage at least its floor.

``python -m testing.covgate REPORT.json FLOOR.json`` reads coverage.py's JSON report (run with
branch coverage) and the floors (module path -> percent), prints the modules below their floor,
and exits 1 if there is any. ``--write`` replaces FLOOR.json with the report's figures rounded
down to one decimal (after a change that raised coverage, to raise the floor with it).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any


def percents(report: dict[str, Any]) -> dict[str, float]:
    """Module path -> coverage.py's percent (statements and branches together) for that file."""
    files: dict[str, Any] = report.get("files", {})
    return {path: float(entry["summary"]["percent_covered"]) for path, entry in sorted(files.items())}


def below(measured: dict[str, float], floor: dict[str, float]) -> list[str]:
    """One line per module under its floor, or missing from the report while it has a floor."""
    out = []
    for module, least in sorted(floor.items()):
        got = measured.get(module)
        if got is None:
            out.append(f"{module}: not in the coverage report (floor {least:.1f}%)")
        elif got + 1e-9 < least:
            out.append(f"{module}: {got:.2f}% < floor {least:.1f}%")
    return out


def main(argv: list[str]) -> int:
    args = [a for a in argv if a != "--write"]
    if len(args) != 2:
        print("usage: python -m testing.covgate REPORT.json FLOOR.json [--write]", file=sys.stderr)
        return 2
    report_path, floor_path = Path(args[0]), Path(args[1])
    report = json.loads(report_path.read_text())
    measured = percents(report)
    if "--write" in argv:
        floor_path.write_text(json.dumps({m: math.floor(p * 10) / 10 for m, p in measured.items()}, indent=1) + "\n")
        print(f"covgate: wrote {len(measured)} floors to {floor_path}", file=sys.stderr)
        return 0
    floor = {str(k): float(v) for k, v in json.loads(floor_path.read_text()).items()}
    failures = below(measured, floor)
    for line in failures:
        print(f"coverage below its floor: {line}", file=sys.stderr)
    total = float(report.get("totals", {}).get("percent_covered", 0.0))
    print(f"covgate: {len(measured)} modules, total {total:.2f}% (with branches), {len(failures)} below their floor", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
