"""Generated objects as YAML text: 2-space indent, kubectl-style sequences, block scalars for
multiline values, no anchors, a header comment on top."""

from __future__ import annotations

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


def dump(objects: Iterable[Mapping[str, Any]], header: str = "", *, markers: bool = True) -> str:
    """YAML documents, 2-space indent, kubectl-style sequences, a header comment on top.

    ``markers=False`` (one document) leaves out the leading ``---``, which sops would drop anyway.
    """
    docs = [
        yaml.dump(dict(o), Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=4096, allow_unicode=True)
        for o in objects
    ]
    if not markers:
        return header + "".join(docs)
    return header + "---\n" + "---\n".join(docs)
