"""What the scan hook's start-up path uses in place of heavier standard parts: a pre-commit hook pays
for every import and every regex compile on every commit, and most commits need few of them.

``Record`` is ``typing.NamedTuple`` without importing ``typing`` (~4 ms, a tenth of the hook): the
same class syntax (annotated fields, defaults, methods, properties), built with
``collections.namedtuple`` as typing builds it. Type checkers see ``typing.NamedTuple`` itself.

``pattern`` is ``re.compile`` done on first use: a module can declare the regexes it may need at
the top, as usual, and a run pays only for those it uses (a commit of three YAML files uses a few of
the scanner's hundred). After the first use, the compiled pattern's methods are attributes of the
object, so a search costs what it costs on the compiled pattern. Only methods and attributes are
served: pass ``.pattern`` (the source) where a function wants a string.

``import_compiling_lazily`` imports a library whose import compiles regexes it may never use (PyYAML
compiles a Unicode character class for its pure-Python reader, ~5 ms, that the C parser never uses):
during that import only, ``re.compile`` is ``pattern``.

``TYPE_CHECKING`` is ``typing.TYPE_CHECKING`` (False at run time) for modules on that path: type
checkers treat any ``if TYPE_CHECKING:`` block as checked-only, whatever the name is bound to.
"""

from __future__ import annotations

import collections
import re
import sys

TYPE_CHECKING = False

__all__ = ["TYPE_CHECKING", "Record", "import_compiling_lazily", "pattern"]

if TYPE_CHECKING:
    from types import ModuleType
    from typing import NamedTuple as Record
else:
    # what typing.NamedTuple refuses to take from a class body, and what it keeps from it
    _PROHIBITED = frozenset(
        {
            "__new__",
            "__init__",
            "__slots__",
            "__getnewargs__",
            "_fields",
            "_field_defaults",
            "_make",
            "_replace",
            "_asdict",
        }
    )
    _SPECIAL = frozenset({"__module__", "__name__", "__annotations__", "__qualname__"})

    class _RecordMeta(type):
        def __new__(mcls, name: str, bases: tuple[type, ...], ns: dict[str, object]) -> type:
            if not bases:  # Record itself
                return super().__new__(mcls, name, bases, ns)
            annotations = ns.get("__annotations__", {})
            fields = tuple(annotations)
            defaults = []
            for field in fields:
                if field in ns:
                    defaults.append(ns[field])
                elif defaults:
                    raise TypeError(f"{name}: non-default field {field!r} follows a default one")
            cls = collections.namedtuple(name, fields, defaults=defaults, module=ns.get("__module__"))
            cls.__annotations__ = dict(annotations)
            cls.__qualname__ = ns.get("__qualname__", name)
            for key, value in ns.items():
                if key in _PROHIBITED:
                    raise AttributeError(f"{name}: cannot overwrite NamedTuple attribute {key}")
                if key not in _SPECIAL and key not in fields:
                    setattr(cls, key, value)
            return cls

    class Record(metaclass=_RecordMeta):
        __slots__ = ()


# the compiled pattern's methods and attributes a _Lazy serves once compiled
_SERVED = ("search", "match", "fullmatch", "finditer", "findall", "sub", "subn", "split", "scanner")
_SERVED_ATTRS = ("flags", "groups", "groupindex")


class _Lazy:
    def __init__(self, source: str, flags: int) -> None:
        self.pattern = source
        self._flags = flags

    def __getattr__(self, name: str) -> object:
        # called only until the first compile: afterwards the names below are found on the instance
        if name.startswith("__") or name not in _SERVED + _SERVED_ATTRS:
            raise AttributeError(name)
        compiled = re.compile(self.pattern, self._flags)
        for served in _SERVED + _SERVED_ATTRS:
            self.__dict__[served] = getattr(compiled, served)
        return getattr(compiled, name)

    def __repr__(self) -> str:
        return f"lean.pattern({self.pattern!r})"


def pattern(source: str, flags: int = 0) -> re.Pattern[str]:
    """``re.compile(source, flags)``, compiled when first used."""
    return _Lazy(source, flags)  # type: ignore[return-value]  # serves Pattern's methods (see the module docstring)


def import_compiling_lazily(name: str) -> ModuleType:
    """``import name`` with ``re.compile`` made ``pattern`` while the module (and what it imports
    first) loads, so that its regexes compile when used. Only the first import, and only while no
    other thread runs (no other code sees the swapped ``re.compile``). The patterns serve methods
    only: a module that hands one to ``re.match``-style functions at import fails there, and is
    then imported again as usual."""
    if name in sys.modules:
        return sys.modules[name]
    threading = sys.modules.get("threading")
    if threading is not None and threading.active_count() > 1:
        __import__(name)
        return sys.modules[name]
    compile_ = re.compile
    before = set(sys.modules)
    re.compile = pattern  # type: ignore[assignment]
    try:
        __import__(name)
    except Exception:  # noqa: BLE001 - any failure: the usual import decides, with its own error
        for loaded in set(sys.modules) - before:
            del sys.modules[loaded]
        re.compile = compile_
        __import__(name)
    finally:
        re.compile = compile_
    return sys.modules[name]
