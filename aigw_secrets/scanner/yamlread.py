"""The scanner's YAML reader: composes documents to nodes (positions kept), never builds Python
objects, and never does unbounded work.

PyYAML's C composer first (fast; libyaml caps nesting at 1,000 levels). When it refuses a file,
ruamel.yaml (YAML 1.2, as sops's Go parser: e.g. an anchor name defined twice is valid) reads it
again; what neither can read is returned as a problem, never dropped silently. Documents that
composed before a broken one are kept. Nodes of both libraries are used through their common
surface: ``id`` ('scalar', 'sequence', 'mapping'), ``value``, ``tag``, ``start_mark.index``.

Aliases are not expanded: an alias is the same node object as its anchor, and ``walk`` visits every
collection node once, so a "billion laughs" document costs its size, not its expansion.
"""

from __future__ import annotations

from collections.abc import Iterator

from aigw_secrets.lean import TYPE_CHECKING, Record, import_compiling_lazily

if TYPE_CHECKING:  # pragma: no cover - for the type checker only
    from typing import Any, Protocol

    class Node(Protocol):
        """The surface of a PyYAML or ruamel.yaml node the scanner reads."""

        @property
        def id(self) -> str: ...  # 'scalar', 'sequence' or 'mapping'

        @property
        def tag(self) -> str | None: ...

        @property
        def value(self) -> Any: ...  # str, a list of nodes, or a list of (key, value) node pairs


MAX_DEPTH = 500
MAX_NODES = 500_000
NULL_TAG = "tag:yaml.org,2002:null"


class Composed(Record):
    docs: list[Any]
    problem: str | None  # why (part of) the file could not be read


def _why(exc: BaseException) -> str:
    # problem and line only: a YAML error's context snippet would quote the file (maybe a secret)
    if isinstance(exc, RecursionError):
        return "YAML nested too deeply"
    problem = getattr(exc, "problem", None) or getattr(exc, "context", None) or type(exc).__name__
    mark = getattr(exc, "problem_mark", None)
    return f"YAML not parseable ({problem}{f' at line {mark.line + 1}' if mark is not None else ''})"


def _pyyaml(text: str) -> tuple[list[Any], str | None]:
    if TYPE_CHECKING:  # pragma: no cover - for the type checker only
        import yaml
    else:  # its pure-Python reader's regexes are never used here (the C parser reads): a hook saves ~5 ms
        yaml = import_compiling_lazily("yaml")

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    docs: list[Any] = []
    try:
        for node in yaml.compose_all(text, Loader=loader):
            if node is not None:
                docs.append(node)
    except (yaml.YAMLError, RecursionError, ValueError) as exc:
        return docs, _why(exc)
    return docs, None


def _ruamel(text: str) -> tuple[list[Any], str | None]:
    import warnings

    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    docs: list[Any] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ReusedAnchorWarning quotes the file
            for node in YAML(typ="safe", pure=True).compose_all(text):
                if node is not None:
                    docs.append(node)
    except (YAMLError, RecursionError, ValueError) as exc:
        return docs, _why(exc)
    return docs, None


def compose(text: str) -> Composed:
    docs, problem = _pyyaml(text)
    if problem is None:
        return Composed(docs, None)
    more, problem2 = _ruamel(text)
    if problem2 is None or len(more) > len(docs):
        return Composed(more, problem2)
    return Composed(docs, problem)


def tag(node: Any) -> str:
    return str(node.tag) if node.tag is not None else ""


def is_null(node: Any) -> bool:
    return tag(node) == NULL_TAG


def mapping(node: object) -> dict[str, Node]:
    """A mapping node's scalar keys -> value nodes ({} for anything else)."""
    if getattr(node, "id", None) != "mapping":
        return {}
    pairs: list[tuple[Node, Node]] = getattr(node, "value", [])
    return {str(k.value): v for k, v in pairs if k.id == "scalar"}


def scalar(node: Any) -> str | None:
    return str(node.value) if getattr(node, "id", None) == "scalar" and not is_null(node) else None


class Walk:
    """Scalar leaves under ``root`` with their key path, each collection node visited once, at most
    MAX_DEPTH deep and MAX_NODES in all; ``truncated`` says whether a limit was hit."""

    def __init__(self, root: Any, *, skip_top: tuple[str, ...] = ()) -> None:
        self.root = root
        self.skip_top = skip_top
        self.truncated: str | None = None

    def __iter__(self) -> Iterator[tuple[tuple[str, ...], Any]]:
        seen: set[int] = set()
        stack: list[tuple[tuple[str, ...], Any, int]] = [((), self.root, 0)]
        count = 0
        while stack:
            keys, node, depth = stack.pop()
            count += 1
            if count > MAX_NODES:
                self.truncated = f"more than {MAX_NODES} YAML nodes: the rest was not checked"
                return
            if node.id == "scalar":
                yield keys, node
                continue
            if id(node) in seen:
                continue  # an alias of a node already walked
            seen.add(id(node))
            if depth >= MAX_DEPTH:
                self.truncated = f"nested deeper than {MAX_DEPTH} levels: deeper values were not checked"
                continue
            children = (
                [
                    ((*keys, str(k.value)), v, depth + 1)
                    for k, v in node.value
                    if not (not keys and str(k.value) in self.skip_top)
                ]
                if node.id == "mapping"
                else [(keys, v, depth + 1) for v in node.value]
            )
            stack.extend(reversed(children))
