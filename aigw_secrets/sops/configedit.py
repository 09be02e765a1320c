"""Text edits on a ``.sops.yaml`` that keep its layout and comments (rename, delete or add a key,
delete a rule), made on its YAML node tree; and which top-level keys hold anchors used elsewhere."""

from __future__ import annotations

import yaml


class ConfigText:
    """A ``.sops.yaml`` with its node tree, for making the suggested edits."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.root = yaml.compose(text)

    def rule_node(self, position: int) -> yaml.MappingNode | None:
        for k, v in self.root.value if isinstance(self.root, yaml.MappingNode) else []:
            if k.value == "creation_rules" and isinstance(v, yaml.SequenceNode) and position < len(v.value):
                node = v.value[position]
                return node if isinstance(node, yaml.MappingNode) else None
        return None

    def delete(self, mapping: yaml.MappingNode | None, key: str) -> str | None:
        """The text without ``key`` (and its value) in ``mapping``; None when that is not a plain edit."""
        if mapping is None:
            return None
        items = mapping.value
        for i, (k, v) in enumerate(items):
            if k.value != key:
                continue
            if i + 1 < len(items):  # up to the next key: `- key: v\n  next:` becomes `- next:`
                return self.text[: k.start_mark.index] + self.text[items[i + 1][0].start_mark.index :]
            start = self.text.rfind("\n", 0, k.start_mark.index) + 1
            if self.text[start : k.start_mark.index].strip() or i == 0:
                return None  # the only key of a `- key:` item
            end = _line_end(self.text, max(_node_end(v), k.end_mark.index))
            return self.text[:start] + self.text[end:]
        return None

    def delete_rule(self, position: int) -> str | None:
        """The text without creation rule ``position`` (its lines, from its dash)."""
        node = self.rule_node(position)
        if node is None or node.flow_style:
            return None
        start = self.text.rfind("\n", 0, node.start_mark.index) + 1
        if self.text[start : node.start_mark.index].strip() != "-":
            return None
        return self.text[:start] + self.text[_line_end(self.text, _node_end(node)) :]

    def rename(self, mapping: yaml.MappingNode | None, key: str, new: str) -> str | None:
        for k, _v in mapping.value if mapping is not None else []:
            if k.value == key and k.style is None:
                return self.text[: k.start_mark.index] + new + self.text[k.end_mark.index :]
        return None

    def add(self, mapping: yaml.MappingNode | None, line: str) -> str | None:
        """``line`` as a new key of ``mapping``, after its first entry."""
        if mapping is None or not mapping.value or mapping.flow_style:
            return None
        k, v = mapping.value[0]
        column = k.start_mark.column
        at = _line_end(self.text, max(_node_end(v), k.end_mark.index))
        sep = "" if self.text[:at].endswith("\n") else "\n"
        return str(self.text[:at] + sep + " " * column + line + "\n" + self.text[at:])


def _node_end(node: yaml.Node) -> int:
    end = node.end_mark.index
    stack = [node]
    while stack:
        n = stack.pop()
        end = max(end, n.end_mark.index)
        if isinstance(n, yaml.MappingNode):
            stack += [x for kv in n.value for x in kv]
        elif isinstance(n, yaml.SequenceNode):
            stack += n.value
    return end


def _line_end(text: str, index: int) -> int:
    start = text.rfind("\n", 0, index) + 1
    if index > 0 and not text[start:index].strip():
        return start  # a block scalar (`age: >-`) ends at the next line's indentation: that line is not its
    if index > 0 and text[index - 1] == "\n":
        return index
    nl = text.find("\n", index)
    return len(text) if nl < 0 else nl + 1


def child(node: yaml.Node | None, key: str) -> yaml.MappingNode | None:
    for k, v in node.value if isinstance(node, yaml.MappingNode) else []:
        if k.value == key and isinstance(v, yaml.MappingNode):
            return v
    return None


def anchor_holders(text: str) -> set[str]:
    """Top-level keys whose value defines anchors that are used elsewhere (``keys:`` with
    ``&age_key`` entries, a common way to list recipients once): sops ignores the key, but the
    aliases need it."""
    defined: dict[str, set[str]] = {}
    aliases: set[str] = set()
    depth, is_key, key = 0, True, ""
    for event in yaml.parse(text):
        if isinstance(event, yaml.AliasEvent):
            aliases.add(str(event.anchor))
        elif getattr(event, "anchor", None) and (depth >= 2 or (depth == 1 and not is_key)):
            defined.setdefault(key, set()).add(str(event.anchor))  # type: ignore[attr-defined] # checked by getattr
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            is_key = True if depth == 1 else is_key
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
            is_key = not is_key if depth == 1 else is_key
        elif depth == 1 and isinstance(event, (yaml.ScalarEvent, yaml.AliasEvent)):
            key = str(getattr(event, "value", "")) if is_key else key
            is_key = not is_key
    return {k for k, anchors in defined.items() if anchors & aliases}
