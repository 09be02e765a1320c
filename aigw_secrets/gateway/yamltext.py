"""Generated objects as YAML text: 2-space indent, kubectl-style sequences, block scalars for
multiline values, no anchors, a header comment on top.

PyYAML's emitter writes them. Most generated objects hold only names, hosts, URLs, numbers and
timestamps, which ``_simple`` writes itself, byte for byte as PyYAML would (a property test holds it
to that) and several times faster; an object with anything else (a space, a quote, a line break, a
long key, a float) goes to PyYAML whole."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import yaml


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True  # a manifest spells out every value: no &anchors for objects a builder shares


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value and not value.endswith((" ", "\t")) and " \n" not in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


# Scalars written plain by PyYAML in block context (or single-quoted when its resolver reads them as
# another type, e.g. a timestamp or "true"): no quote, comment, line break or tab, no leading
# indicator, no leading or trailing space or colon, no ": " and no leading "..." (checked apart), and
# short enough that no line of it is folded.
_PLAIN = re.compile(r"[A-Za-z0-9_./](?:[A-Za-z0-9_./@+=:$,() -]{0,2000}[A-Za-z0-9_./@+=$,()-])?")
_STR = "tag:yaml.org,2002:str"
_RESOLVER = yaml.resolver.Resolver()
_MAX_KEY = 100  # PyYAML writes a key of 128 characters or more as a complex key ("? ...")


class _NotSimple(Exception):
    pass


def _scalar(value: object) -> str:
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if type(value) is int:
        return str(value)
    if type(value) is not str:
        raise _NotSimple
    if value == "":
        return "''"
    if not _PLAIN.fullmatch(value) or ": " in value or value.startswith("..."):
        raise _NotSimple  # "..." opens a document-end marker: PyYAML quotes it
    if _RESOLVER.resolve(yaml.ScalarNode, value, (True, False)) != _STR:  # type: ignore[no-untyped-call]  # untyped library
        return f"'{value}'"
    return value


def _mapping(data: dict[Any, Any], indent: int, out: list[str], inline: bool = False) -> None:
    for i, (key, value) in enumerate(data.items()):
        if type(key) is not str or not key or len(key) >= _MAX_KEY:  # PyYAML writes "? ''" for an empty key
            raise _NotSimple
        lead = "" if inline and i == 0 else " " * indent
        head = f"{lead}{_scalar(key)}:"
        if type(value) is dict and value:
            out.append(head + "\n")
            _mapping(value, indent + 2, out)
        elif type(value) is list and value:
            out.append(head + "\n")
            _sequence(value, indent, out)  # kubectl style: "- " under the key, not indented
        else:
            out.append(f"{head} {_leaf(value)}\n")


def _sequence(items: list[Any], indent: int, out: list[str], inline: bool = False) -> None:
    for i, item in enumerate(items):
        lead = ("" if inline and i == 0 else " " * indent) + "- "
        if type(item) is dict and item:
            out.append(lead)
            _mapping(item, indent + 2, out, inline=True)
        elif type(item) is list and item:
            out.append(lead)
            _sequence(item, indent + 2, out, inline=True)
        else:
            out.append(f"{lead}{_leaf(item)}\n")


def _leaf(value: object) -> str:
    if type(value) is dict:
        return "{}"  # empty (a non-empty one is a block)
    if type(value) is list:
        return "[]"
    return _scalar(value)


def _simple(obj: Mapping[str, Any]) -> str | None:
    """``obj`` as PyYAML writes it here, or None when it holds anything this writer leaves to PyYAML."""
    out: list[str] = []
    try:
        if not obj:
            return "{}\n"
        _mapping(dict(obj), 0, out)
    except _NotSimple:
        return None
    return "".join(out)


def _pyyaml(obj: Mapping[str, Any]) -> str:
    return yaml.dump(
        dict(obj), Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=4096, allow_unicode=True
    )


def dump(objects: Iterable[Mapping[str, Any]], header: str = "", *, markers: bool = True) -> str:
    """YAML documents, 2-space indent, kubectl-style sequences, a header comment on top.

    ``markers=False`` (one document) leaves out the leading ``---``, which sops would drop anyway.
    """
    docs = [_simple(o) or _pyyaml(o) for o in objects]
    if not markers:
        return header + "".join(docs)
    return header + "---\n" + "---\n".join(docs)
