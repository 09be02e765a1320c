"""testing/covgate.py, the coverage gate ./scripts/test runs: a module under its floor fails it."""

from __future__ import annotations

import json
from pathlib import Path

from testing import covgate


def _report(tmp_path: Path, percents: dict[str, tuple[float, float]]) -> Path:
    path = tmp_path / "coverage.json"
    files = {m: {"summary": {"percent_branches_covered": b, "percent_covered": t}} for m, (b, t) in percents.items()}
    path.write_text(json.dumps({"files": files, "totals": {"percent_covered": 90.0, "percent_branches_covered": 80.0}}))
    return path


def test_a_module_under_its_floor_fails(tmp_path: Path) -> None:
    report = _report(tmp_path, {"a.py": (80.0, 85.0), "b.py": (95.5, 97.0)})
    floor = tmp_path / "floor.json"
    floor.write_text(json.dumps({"a.py": {"branches": 80.0, "total": 85.0}, "b.py": {"branches": 95.6, "total": 90.0}}))
    assert covgate.main([str(report), str(floor)]) == 1
    floor.write_text(json.dumps({"a.py": {"branches": 80.0, "total": 85.1}, "b.py": {"branches": 95.5, "total": 90.0}}))
    assert covgate.main([str(report), str(floor)]) == 1
    floor.write_text(json.dumps({"a.py": {"branches": 80.0, "total": 85.0}, "b.py": {"branches": 95.5, "total": 90.0}}))
    assert covgate.main([str(report), str(floor)]) == 0


def test_a_module_missing_from_the_report_fails() -> None:
    assert covgate.below({"a.py": {"branches": 90.0}}, {"a.py": {"branches": 50.0}, "gone.py": {"branches": 10.0}}) == [
        "gone.py: not in the coverage report"
    ]


def test_write_rounds_down(tmp_path: Path) -> None:
    report = _report(tmp_path, {"a.py": (87.6543, 90.99)})
    floor = tmp_path / "floor.json"
    assert covgate.main([str(report), str(floor), "--write"]) == 0
    assert json.loads(floor.read_text()) == {"a.py": {"branches": 87.6, "total": 90.9}}
    assert covgate.main([str(report), str(floor)]) == 0
    assert covgate.main([str(report)]) == 2
