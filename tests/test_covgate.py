"""testing/covgate.py, the coverage gate ./scripts/test runs: a module under its floor fails it."""

from __future__ import annotations

import json
from pathlib import Path

from testing import covgate


def _report(tmp_path: Path, percents: dict[str, float]) -> Path:
    path = tmp_path / "coverage.json"
    files = {m: {"summary": {"percent_covered": p}} for m, p in percents.items()}
    path.write_text(json.dumps({"files": files, "totals": {"percent_covered": 90.0}}))
    return path


def test_a_module_under_its_floor_fails(tmp_path: Path) -> None:
    report = _report(tmp_path, {"a.py": 80.0, "b.py": 95.5})
    floor = tmp_path / "floor.json"
    floor.write_text(json.dumps({"a.py": 80.0, "b.py": 95.6}))
    assert covgate.main([str(report), str(floor)]) == 1
    floor.write_text(json.dumps({"a.py": 80.0, "b.py": 95.5}))
    assert covgate.main([str(report), str(floor)]) == 0


def test_a_module_missing_from_the_report_fails(tmp_path: Path) -> None:
    assert covgate.below({"a.py": 90.0}, {"a.py": 50.0, "gone.py": 10.0}) == ["gone.py: not in the coverage report (floor 10.0%)"]


def test_write_rounds_down(tmp_path: Path) -> None:
    report = _report(tmp_path, {"a.py": 87.6543})
    floor = tmp_path / "floor.json"
    assert covgate.main([str(report), str(floor), "--write"]) == 0
    assert json.loads(floor.read_text()) == {"a.py": 87.6}
    assert covgate.main([str(report), str(floor)]) == 0
    assert covgate.main([str(report)]) == 2
