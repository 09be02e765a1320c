"""The layer contract (testing/layers.py, run by ./scripts/lint) holds for the package and fails on
an upward import, a lazy one included, on an import between independent siblings, on a module cycle,
on a module in no layer and on a use of another module's private name: each injected into a copy of
the package."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import aigw_secrets
from testing import layers

PACKAGE = Path(aigw_secrets.__file__).resolve().parent


def test_the_package_keeps_the_contract() -> None:
    assert layers.violations(PACKAGE) == []


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    dest = tmp_path / "aigw_secrets"
    shutil.copytree(PACKAGE, dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def _append(path: Path, text: str) -> None:
    path.write_text(path.read_text("utf-8") + text, "utf-8")


def test_an_upward_import_fails(copy: Path) -> None:
    _append(copy / "sops" / "files.py", "\nfrom aigw_secrets.gateway import routing  # noqa\n")
    problems = layers.violations(copy)  # (and whatever cycles the new import closes)
    assert any(
        p.startswith("aigw_secrets/sops/files.py:") and "imports aigw_secrets.gateway.routing: upward" in p
        for p in problems
    ), problems


def test_a_lazy_upward_import_fails(copy: Path) -> None:
    _append(copy / "shapes.py", "\n\ndef _late() -> None:\n    from aigw_secrets.rotation import journal  # noqa\n")
    problems = layers.violations(copy)
    assert any("aigw_secrets.shapes imports aigw_secrets.rotation.journal: upward" in p for p in problems), problems


def test_a_relative_upward_import_fails(copy: Path) -> None:
    _append(copy / "gateway" / "providers.py", "\nfrom ..commands import doctor  # noqa\n")
    problems = layers.violations(copy)
    assert any("aigw_secrets.gateway.providers imports aigw_secrets.commands.doctor: upward" in p for p in problems), (
        problems
    )


def test_independent_siblings_fail(copy: Path) -> None:
    _append(copy / "scanner" / "scan.py", "\nfrom aigw_secrets.gateway import providers  # noqa\n")
    problems = layers.violations(copy)
    assert any("scanner and gateway are independent" in p for p in problems), problems


def test_a_module_cycle_fails(copy: Path) -> None:
    _append(copy / "sops" / "regex.py", "\n\ndef _late() -> None:\n    from aigw_secrets.sops import config  # noqa\n")
    problems = layers.violations(copy)
    assert problems == [
        "module cycle: aigw_secrets.sops.config → aigw_secrets.sops.regex → aigw_secrets.sops.config"
    ], problems


def test_a_module_in_no_layer_fails(copy: Path) -> None:
    (copy / "newthing.py").write_text("X = 1\n")
    assert layers.violations(copy) == ["aigw_secrets.newthing: in no layer; add 'newthing' to testing/layers.py LAYERS"]


def test_the_command_exits_1_with_one_line_per_problem(copy: Path) -> None:
    _append(copy / "http.py", "\nfrom aigw_secrets import git  # noqa\n")
    root = Path(layers.__file__).resolve().parent.parent
    res = subprocess.run([sys.executable, "-m", "testing.layers", str(copy)], capture_output=True, text=True, cwd=root)
    assert res.returncode == 1
    assert (
        res.stderr.splitlines() == [line for line in res.stderr.splitlines() if line.startswith("layers: ")]
        and "http and git are independent" in res.stderr
    )


def test_a_private_cross_module_use_fails(copy: Path) -> None:
    _append(copy / "sops" / "files.py", "\n\ndef _late() -> int:\n    return splice._private_helper()  # noqa\n")
    _append(copy / "commands" / "doctor.py", "\nfrom aigw_secrets.sops.configcheck import _did_you_mean  # noqa\n")
    problems = layers.violations(copy)
    assert len(problems) == 2, problems
    assert any("aigw_secrets.sops.files uses splice._private_helper, private to that module" in p for p in problems)
    assert any("aigw_secrets.commands.doctor imports the private name _did_you_mean" in p for p in problems)
