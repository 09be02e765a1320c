"""``yaml.safe_load`` and ``yaml.safe_load_all`` for text a run reads more than once.

One command reads the same manifest in several places (``generate`` plans a Secret and then reads
its policy's generation from it; ``doctor`` checks files that ``status`` reads again), and PyYAML's
safe loader is slow (pure Python without libyaml; the C parser is used when the wheel has it): parsing
costs more than copying what it returned. The same text is
parsed once per process; every call gets its own deep copy (a caller may change what it got). A
text that does not parse is not remembered: the next call raises the same error again. Only short
texts are kept, and only the last few.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from typing import Any

_KEPT = 256  # texts remembered
_LONGEST = 256 * 1024  # characters: a longer text is parsed every time
_cache: dict[tuple[bool, str], Any] = {}
_lock = threading.Lock()


def _load(text: str, every: bool) -> Any:
    key = (every, text)
    with _lock:
        found = _cache.get(key, _cache)
    if found is _cache:
        found = load_all(text) if every else load(text)
        if len(text) <= _LONGEST:
            with _lock:
                while len(_cache) >= _KEPT:
                    del _cache[next(iter(_cache))]  # the oldest
                _cache[key] = found
    return copy.deepcopy(found)


_SAFE: list[Any] = []


def safe_loader() -> Any:
    """PyYAML's safe loader on libyaml's parser when the wheel has it (the same constructor and resolver:
    the same values, parsed in C), else the pure-Python one; a value its explicit tag does not fit
    (``!!int x``, ``!!bool maybe``, ``!!timestamp x``, an empty ``!!int``) raises ``yaml.YAMLError``
    with its line, as any unreadable text does (PyYAML's own constructors raise ValueError, KeyError,
    IndexError or AttributeError there). Its problem names the tag, never the value (the pure-Python
    parser's marks also quote the line: callers print the problem and line, never ``str(exc)``)."""
    if not _SAFE:
        import yaml

        base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

        class Safe(base):  # type: ignore[misc] # a subclass of PyYAML's (untyped) loader
            def construct_object(self, node: Any, deep: bool = False) -> Any:
                try:
                    return super().construct_object(node, deep=deep)
                except (ValueError, KeyError, IndexError, TypeError, AttributeError, OverflowError):
                    tag = str(node.tag).replace("tag:yaml.org,2002:", "!!")
                    raise yaml.constructor.ConstructorError(
                        None, None, f"a value tagged {tag} that is not one", node.start_mark
                    ) from None

        _SAFE.append(Safe)
    return _SAFE[0]


MAX_EXPANDED = 1_000_000  # values a text may stand for with its aliases expanded (a "billion laughs": 10^9)


def too_many(roots: list[Any], kids: Callable[[Any], list[Any] | None]) -> bool:
    """Whether ``roots`` stand for more than MAX_EXPANDED values with what aliases share expanded, counted
    without expanding (each shared value once). ``kids``: a value's children, None for a leaf."""
    size: dict[int, int] = {}
    stack: list[tuple[Any, bool]] = [(r, False) for r in roots]
    while stack:
        node, ready = stack.pop()
        children = kids(node)
        if children is None or (id(node) in size and not ready):
            continue
        if not ready:
            size[id(node)] = 0  # on the way: a value that holds itself is counted once
            stack += [(node, True), *((k, False) for k in children)]
            continue
        size[id(node)] = 1 + sum(size.get(id(k), 1) for k in children)
        if size[id(node)] > MAX_EXPANDED:
            return True
    return False


def _children(value: Any) -> list[Any] | None:
    return [*value.keys(), *value.values()] if isinstance(value, dict) else value if isinstance(value, list) else None


def _bounded(text: str | bytes, docs: list[Any]) -> list[Any]:
    """``docs``, unless the aliases of ``text`` make them stand for more than MAX_EXPANDED values: whatever
    walks or writes them out expanded (a manifest re-dumped, a copy) would never finish. Raises
    ``yaml.YAMLError``, as for any text that cannot be read."""
    if (b"*" not in text) if isinstance(text, bytes) else ("*" not in text):  # no alias, nothing shared
        return docs
    if too_many(docs, _children):
        import yaml

        raise yaml.YAMLError(f"its aliases expand to more than {MAX_EXPANDED:,} values")
    return docs


def load(text: str | bytes) -> Any:
    """``yaml.safe_load(text)`` in C where possible, nothing kept (for a decrypted Secret, say)."""
    import yaml

    return _bounded(text, [yaml.load(text, Loader=safe_loader())])[0]  # noqa: S506 - a safe loader


def load_all(text: str | bytes) -> list[Any]:
    """``list(yaml.safe_load_all(text))`` in C where possible, nothing kept."""
    import yaml

    return _bounded(text, list(yaml.load_all(text, Loader=safe_loader())))


def safe_load(text: str) -> Any:
    """``yaml.safe_load(text)`` (raises ``yaml.YAMLError`` the same way)."""
    return _load(text, False)


def safe_load_all(text: str) -> list[Any]:
    """``list(yaml.safe_load_all(text))``: every document, read at once (an error in any of them raises
    before one is returned)."""
    result: list[Any] = _load(text, True)
    return result
