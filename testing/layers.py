"""The layer contract of the ``aigw_secrets`` package, checked by ``./scripts/lint``.

Each module belongs to one layer (by its first name under ``aigw_secrets``); a module may import only
from its own layer or the layers below it. Every import counts, including the lazy ones inside
functions (they keep ``--help`` and the scan hook fast, but they are real dependencies). Components
of an *independent* layer (``gateway`` and ``scanner``; ``git``, ``http`` and ``kube``) do not import
each other. No two modules may import each other, directly or through others (no module cycle).
No module uses another module's private names (``from m import _x``, ``m._x``): a door's inside is
its own.

Run: ``python -m testing.layers [PACKAGE_DIR]``; exit 1 with one line per violation.
"""

from __future__ import annotations

import ast
import functools
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import NamedTuple


class Layer(NamedTuple):
    components: tuple[str, ...]
    independent: bool = False  # its components do not import each other


# Top to bottom. "" is the package's own __init__ (its version).
LAYERS: tuple[Layer, ...] = (
    Layer(("entry", "__main__")),
    Layer(("cli",)),
    Layer(("commands",)),
    Layer(("rotation",)),
    Layer(("gateway", "scanner"), independent=True),
    Layer(("sops",)),
    Layer(("stores",)),  # the secret stores' doors (over http, boto3, hvac)
    Layer(("git", "http", "kube"), independent=True),
    Layer(("output", "errors", "shapes", "flux", "util", "adminenv", "lean", "yamlload", "")),
)

PACKAGE = "aigw_secrets"


class Import(NamedTuple):
    importer: str
    imported: str
    line: int


def modules(package_dir: Path) -> dict[str, Path]:
    """Module name → file, for every ``.py`` file of the package."""
    found: dict[str, Path] = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = [PACKAGE, *path.relative_to(package_dir).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


@functools.cache
def _parse(text: str) -> ast.Module:
    """A module's text parsed; the same text (a copy of the package, a second check in one process)
    is parsed once. The trees are only read, never changed."""
    return ast.parse(text)


def _parse_file(path: Path) -> ast.Module:
    text = path.read_text("utf-8")
    try:
        return _parse(text)
    except SyntaxError:
        return ast.parse(text, str(path))  # raises again, naming the file


_WALKED: dict[int, tuple[ast.Module, list[ast.AST]]] = {}


def _walk(tree: ast.Module) -> list[ast.AST]:
    """Every node of ``tree`` (``ast.walk``) as a list, kept per tree: the walks are most of a check's time."""
    hit = _WALKED.get(id(tree))
    if hit is None or hit[0] is not tree:
        hit = _WALKED[id(tree)] = (tree, list(ast.walk(tree)))  # holds the tree: its id stays its own
    return hit[1]


def _trees(package_dir: Path) -> dict[str, tuple[Path, ast.Module]]:
    """Every module parsed once, with its file."""
    return {mod: (path, _parse_file(path)) for mod, path in modules(package_dir).items()}


def _resolve(name: str, known: Mapping[str, object]) -> str | None:
    """The package module ``name`` refers to (itself, or the module that defines the attribute)."""
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def imports(package_dir: Path, trees: Mapping[str, tuple[Path, ast.Module]] | None = None) -> Iterator[Import]:
    """Every import of a package module by a package module, wherever it is written."""
    known = trees if trees is not None else _trees(package_dir)
    for mod, (path, tree) in known.items():
        is_pkg = path.name == "__init__.py"
        here = mod.split(".") if is_pkg else mod.split(".")[:-1]
        for node in _walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    prefix = here[: len(here) - (node.level - 1)]
                    base = ".".join([*prefix, *([base] if base else [])])
                names = [f"{base}.{a.name}" for a in node.names]
            else:
                continue
            for name in names:
                if name == PACKAGE or name.startswith(PACKAGE + "."):
                    target = _resolve(name, known)
                    if target is not None and target != mod:
                        yield Import(mod, target, node.lineno)


def private_uses(package_dir: Path, trees: Mapping[str, tuple[Path, ast.Module]] | None = None) -> Iterator[str]:
    """``from aigw_secrets.m import _x`` and ``m._x`` (``m`` bound by an import of a package module)."""
    known = trees if trees is not None else _trees(package_dir)
    for mod, (path, tree) in known.items():
        rel = path.relative_to(package_dir.parent).as_posix()
        bound: set[str] = set()
        for node in _walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith(PACKAGE)):
                for a in node.names:
                    if a.name.startswith("_") and not a.name.startswith("__"):
                        yield f"{rel}:{node.lineno}: {mod} imports the private name {a.name}"
                    elif _resolve(f"{node.module}.{a.name}", known) == f"{node.module}.{a.name}":
                        bound.add(a.asname or a.name)
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.startswith(PACKAGE) and a.asname:
                        bound.add(a.asname)
        for node in _walk(tree):
            private = isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
            if (
                private
                and isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in bound
            ):
                yield f"{rel}:{node.lineno}: {mod} uses {node.value.id}.{node.attr}, private to that module"


def component(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _layer_of() -> dict[str, tuple[int, Layer]]:
    return {c: (i, layer) for i, layer in enumerate(LAYERS) for c in layer.components}


def violations(package_dir: Path) -> list[str]:
    """One line per broken rule; empty when the package keeps the contract."""
    where = _layer_of()
    trees = _trees(package_dir)
    out: list[str] = []
    for mod in trees:
        if component(mod) not in where:
            out.append(f"{mod}: in no layer; add {component(mod)!r} to testing/layers.py LAYERS")
    graph: dict[str, set[str]] = {m: set() for m in trees}
    seen: set[Import] = set()
    for imp in imports(package_dir, trees):
        if imp in seen:
            continue
        seen.add(imp)
        graph[imp.importer].add(imp.imported)
        src, dst = component(imp.importer), component(imp.imported)
        if src not in where or dst not in where:
            continue
        (i, layer), (j, _) = where[src], where[dst]
        rel = trees[imp.importer][0].relative_to(package_dir.parent).as_posix()
        if j < i:
            out.append(
                f"{rel}:{imp.line}: {imp.importer} imports {imp.imported}: upward ({src or PACKAGE} is below "
                f"{dst or PACKAGE})"
            )
        elif i == j and src != dst and layer.independent:
            out.append(f"{rel}:{imp.line}: {imp.importer} imports {imp.imported}: {src} and {dst} are independent")
    for cycle in _cycles(graph):
        out.append("module cycle: " + " → ".join([*cycle, cycle[0]]))
    out += private_uses(package_dir, trees)
    return out


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                scc: list[str] = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    scc.append(top)
                    if top == node:
                        break
                if len(scc) > 1:
                    found.append(sorted(scc))
    return found


def main(argv: list[str]) -> int:
    package_dir = Path(argv[0]) if argv else Path(__file__).resolve().parent.parent / PACKAGE
    problems = violations(package_dir)
    for line in problems:
        print(f"layers: {line}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
