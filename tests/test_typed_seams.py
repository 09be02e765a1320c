"""Typed seams: no public function of the rotation and scan paths takes or returns ``dict[str, Any]``
or an ``argparse.Namespace`` (read from the annotations, by AST), so mypy --strict checks what crosses
a module boundary there. What still does is listed below with the reason; the list only shrinks."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import aigw_secrets

PACKAGE = Path(aigw_secrets.__file__).resolve().parent
PATHS = ("rotation", "scanner", "commands/rotate.py")
UNTYPED = re.compile(r"\bdict\[str, Any\]|\bNamespace\b|\bDict\b")

# module:function -> why it still takes or returns an untyped value (none is left; a new entry says why)
REMAINING: dict[str, str] = {}


def _files() -> list[Path]:
    out: list[Path] = []
    for p in PATHS:
        path = PACKAGE / p
        out += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return out


def _public_functions(tree: ast.Module) -> list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    found: list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and not node.name.startswith("_"):
            found.append((node.name, node))
        elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and not item.name.startswith("_"):
                    found.append((f"{node.name}.{item.name}", item))
    return found


def _untyped(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    args = fn.args
    annotated = [
        a
        for a in (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg)
        if a is not None and a.annotation is not None
    ]
    problems = [
        f"{a.arg}: {ast.unparse(a.annotation)}"
        for a in annotated
        if a.annotation is not None and UNTYPED.search(ast.unparse(a.annotation))
    ]
    if fn.returns is not None and UNTYPED.search(ast.unparse(fn.returns)):
        problems.append(f"-> {ast.unparse(fn.returns)}")
    return problems


def _violations() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for path in _files():
        rel = path.relative_to(PACKAGE).as_posix()
        for name, fn in _public_functions(ast.parse(path.read_text("utf-8"), str(path))):
            problems = _untyped(fn)
            if problems:
                out[f"{rel}:{name}"] = problems
    return out


def test_no_untyped_value_crosses_a_rotation_or_scan_seam() -> None:
    new = {k: v for k, v in _violations().items() if k not in REMAINING}
    assert not new, (
        "public functions taking or returning dict[str, Any]/Namespace (type them: rotation/results.py, a "
        "dataclass, an Enum):\n"
    ) + "\n".join(f"  {k}: {', '.join(v)}" for k, v in sorted(new.items()))


def test_the_remaining_list_only_shrinks() -> None:
    """An entry typed since is removed from REMAINING, so the list says what is left."""
    stale = sorted(set(REMAINING) - set(_violations()))
    assert not stale, f"typed now; remove from REMAINING: {stale}"


def test_the_check_catches_an_untyped_seam() -> None:
    tree = ast.parse(
        "from typing import Any\nimport argparse\ndef f(x: dict[str, Any]) -> int: ...\n"
        "def g(ns: argparse.Namespace) -> None: ...\ndef h() -> 'dict[str, Any] | None': ...\n"
        "def _private(x: dict[str, Any]) -> None: ...\n"
    )
    assert [(name, bool(_untyped(fn))) for name, fn in _public_functions(tree)] == [
        ("f", True),
        ("g", True),
        ("h", True),
    ]
