"""Keeping the author's YAML formatting around sops (which re-emits every file in its own style).

sops's MAC covers values only, so an encrypted file may be laid out any way YAML allows. We let sops
do all the cryptography and then *splice*: the author's text stays byte for byte, each value sops
encrypted is replaced in place by its ``ENC[...]`` string, and sops's metadata block is inserted
after each document's content. Decryption splices the other way.

How the original style of an encrypted value is remembered (the plaintext is gone from the file):

* the quoting of the ``ENC[...]`` string says how to write the value back: plain ``ENC[...]`` →
  plain, ``'ENC[...]'`` → single-quoted, ``"ENC[...]"`` → double-quoted; inside a flow collection
  (where ``ENC[...]`` cannot be plain) ``"ENC[...]"`` means plain and ``"\\x45NC[...]"`` (the same
  string, first letter escaped) means double-quoted;
* a block scalar becomes ``|-`` or ``>-`` with the ``ENC[...]`` line at the original content
  indentation; chomping follows from the value's trailing newlines;
* when that is not enough to give back the exact text (folded lines, escapes, ``1.50``…), the
  original text is kept in an *encrypted* comment after the value, ``#ENC[...,type:comment]``,
  encrypted by sops with the file's data key like any comment in an encrypted section.

Every result is checked before it is used: the spliced file must decrypt with the real sops to the
same values, and decrypting it our way must give back the original bytes.
"""

from __future__ import annotations

import bisect
import collections
import json
import re
from collections.abc import Iterator
from typing import Any, NamedTuple

import yaml

from aigw_secrets import yamlload
from aigw_secrets.errors import DataError
from aigw_secrets.sops import goyaml

LAYOUT = "aigw-fmt:"
FLOW_LAYOUT = "aigw-fmt-flow:"
_ENC = re.compile(r"ENC\[AES256_GCM,data:[^\]]*\]")
_PROPS = re.compile(r"(?:[&!][^\s]*\s+)+")  # anchors and tags in front of a scalar
# Values are read as sops reads them (yaml.v3, see goyaml), on libyaml's parser when PyYAML has it.
LOADER: Any = goyaml.Loader
YAML11: Any = yamlload.safe_loader()  # how YAML 1.1 tools (kubectl...) read a text


def _loader(text: str) -> Any:
    """libyaml's loader, or the redefining one when the text defines an anchor twice."""
    anchors = re.findall(r"&([^\s,\[\]{}]+)", text) if "&" in text else []
    return goyaml.RedefiningLoader if len(anchors) != len(set(anchors)) else LOADER


def load_all(text: str) -> list[Any]:
    return list(yaml.load_all(text, Loader=_loader(text)))


MAX_DEPTH = 200  # deeper nesting is refused with one line, before any recursive code sees it


def check_depth(text: str, where: str) -> None:
    """Refuse YAML nested deeper than MAX_DEPTH (an iterative pass over the events; the recursive
    composers would otherwise fail with RecursionError)."""
    if text.count("[") + text.count("{") + text.count(":") + text.count("-") < MAX_DEPTH:
        return
    depth = 0
    try:
        for event in yaml.parse(text, Loader=LOADER):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    line = event.start_mark.line + 1 if event.start_mark else 0
                    raise DataError(f"{where}:{line}: nested more than {MAX_DEPTH} levels deep; refusing to read it")
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError as exc:
        if "nest" in str(exc) or "depth" in str(exc):  # libyaml's own limit
            raise DataError(f"{where}: nested more than {MAX_DEPTH} levels deep; refusing to read it") from None
        return  # the real parse reports it with its line


def _node_kids(node: yaml.Node) -> list[yaml.Node] | None:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return list(node.value) if isinstance(node, yaml.SequenceNode) else None


def check_aliases(text: str, where: str) -> None:
    """Refuse YAML whose aliases expand to more than ``yamlload.MAX_EXPANDED`` values: sops's decoder would
    walk every expanded path while the caller holds the lock. Nodes, not values: a tag PyYAML cannot
    construct still counts."""
    if "*" not in text:  # an alias needs one
        return
    check_depth(text, where)
    try:
        docs = [d for d in yaml.compose_all(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) if d]
    except yaml.YAMLError:
        return  # the real parse reports it with its line
    if yamlload.too_many(docs, _node_kids):
        raise DataError(
            f"{where}: its aliases expand to more than {yamlload.MAX_EXPANDED:,} values; refusing to read it "
            "(or hand it to sops)"
        )


# sops writes a comment that stands between sequence items, once encrypted, as an item of its own
# (`- ENC[...,type:comment]`); it reads the same comment back from a comment line too.
_SEQ_COMMENT = re.compile(r"(?m)^([ \t]*)- (ENC\[AES256_GCM,data:[^\]\n]*,type:comment\])[ \t]*$")


def comment_items_as_comments(sops_output: str) -> str:
    """sops's output with each encrypted comment that it wrote as a sequence item written as the
    comment line it is (sops decrypts both forms to the same file, under the same MAC): the
    documents then have the author's structure, and the comment stands where the author put it."""
    return _SEQ_COMMENT.sub(r"\1#\2", sops_output) if "type:comment]" in sops_output else sops_output


def is_enc(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("ENC[AES256_GCM,") and value.endswith("]")


class Scalar(NamedTuple):
    doc: int
    path: tuple[Any, ...]
    start: int  # the scalar's own text (after anchor/tag)
    end: int
    style: str  # "" plain, "'", '"', "|", ">"
    flow: bool  # inside a flow collection
    value: Any
    alias: bool  # the node is reached more than once (anchor + alias)


class Parsed(NamedTuple):
    text: str
    scalars: list[Scalar]  # value scalars, document order
    key_spans: list[tuple[int, int]]
    docs: list[Any]  # constructed documents
    content_end: list[int]  # per document: where its content ends (insertion point for sops)
    sops_spans: list[tuple[int, int] | None]  # per document: the `sops:` entry, if any
    flows: list[tuple[int, int]]  # outermost flow collections ([...], {...}), in order


def _flow_spans(root: Any) -> list[tuple[int, int]]:
    """(start, end) of each outermost flow collection under a node (each node once)."""
    out = []
    stack = [root]
    seen: set[int] = set()
    while stack:
        node = stack.pop()
        if id(node) in seen or isinstance(node, yaml.ScalarNode):
            continue
        seen.add(id(node))
        if node.flow_style:
            out.append((node.start_mark.index, node.end_mark.index))
            continue
        items = [x for kv in node.value for x in kv] if isinstance(node, yaml.MappingNode) else node.value
        stack.extend(reversed(items))
    return sorted(out)


def yaml_problem(exc: yaml.YAMLError, text: str) -> tuple[int, str]:
    """(line, reason) of a YAML error; a problem found at the end of the text is reported where
    the construct that was left open starts (e.g. an unclosed ``[``)."""
    mark = getattr(exc, "problem_mark", None)
    context = getattr(exc, "context_mark", None)
    problem = str(getattr(exc, "problem", None) or exc).splitlines()[0]
    if mark is None:
        return 0, problem
    at_end = not text[mark.index :].strip()
    if at_end and context is not None:
        what = getattr(exc, "context", None) or "a construct"
        return context.line + 1, f"{problem} before the end of the file ({what} started on this line)"
    line = min(mark.line + 1, text.count("\n") + 1)
    if context is not None and context.line + 1 != line and getattr(exc, "context", None):
        problem += f" ({exc.context} started on line {context.line + 1})"  # type: ignore[attr-defined] # checked by getattr
    return line, problem


def parse(text: str, where: str) -> Parsed:
    check_depth(text, where)
    loader = _loader(text)
    try:
        nodes = list(yaml.compose_all(text, Loader=loader))
        if "*" in text and yamlload.too_many([n for n in nodes if n is not None], _node_kids):
            raise yaml.YAMLError(f"its aliases expand to more than {yamlload.MAX_EXPANDED:,} values")
        builder = loader("")
        docs = [builder.construct_document(n) if n is not None else None for n in nodes]
    except yaml.YAMLError as exc:
        line, reason = yaml_problem(exc, text)
        raise DataError(f"{where}{f':{line}' if line else ''}: invalid YAML: {reason}") from None
    scalars: list[Scalar] = []
    keys: list[tuple[int, int]] = []
    ends: list[int] = []
    sops_spans: list[tuple[int, int] | None] = []
    tokens = collections.deque(alias_tokens(text, loader)) if "*" in text else collections.deque()
    for i, (node, doc) in enumerate(zip(nodes, docs, strict=True)):
        if node is None:
            raise DataError(f"{where}: document {i + 1} is empty; sops would turn it into a metadata-only document")
        seen: set[int] = set()
        counts: dict[int, int] = {}
        if "*" in text:  # an alias needs a '*'; without one no node is reached twice
            _count(node, counts)
        doc_scalars: list[Scalar] = []
        sops_span = None
        if isinstance(node, yaml.MappingNode) and isinstance(doc, dict):
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.value == "sops":
                    sops_span = (line_start(text, key_node.start_mark.index), _subtree_end(text, value_node))
        try:
            _walk(text, node, doc, (), False, i, doc_scalars, keys, counts, seen, tokens)
        except DataError as exc:
            raise DataError(f"{where}:{exc}") from None
        scalars += doc_scalars
        content = [s.end for s in doc_scalars if sops_span is None or not (sops_span[0] <= s.start < sops_span[1])]
        content += [
            e
            for s, e in keys
            if node.start_mark.index <= s <= node.end_mark.index
            and (sops_span is None or not (sops_span[0] <= s < sops_span[1]))
        ]
        ends.append(line_after(text, max(content, default=node.start_mark.index)))
        sops_spans.append(sops_span)
    flows = [span for n in nodes if n is not None for span in _flow_spans(n)] if "[" in text or "{" in text else []
    return Parsed(text, scalars, sorted(keys), docs, ends, sops_spans, flows)


def _count(node: yaml.Node, counts: dict[int, int]) -> None:
    counts[id(node)] = counts.get(id(node), 0) + 1
    if counts[id(node)] > 1:
        return
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            _count(k, counts)
            _count(v, counts)
    elif isinstance(node, yaml.SequenceNode):
        for v in node.value:
            _count(v, counts)


def _walk(
    text: str,
    node: yaml.Node,
    value: Any,
    path: tuple[Any, ...],
    flow: bool,
    doc: int,
    out: list[Scalar],
    keys: list[tuple[int, int]],
    counts: dict[int, int],
    seen: set[int],
    tokens: collections.deque[tuple[int, int]],
) -> None:
    alias = counts.get(id(node), 0) > 1
    if id(node) in seen:  # an alias (the same node again): its text is the `*name` token
        start, end = tokens.popleft() if tokens else (-1, -1)
        if isinstance(node, yaml.ScalarNode):
            out.append(Scalar(doc, path, start, end, "*", flow, value, True))
        return
    seen.add(id(node))
    if isinstance(node, yaml.ScalarNode):
        start = node.start_mark.index
        if text[start : start + 1] in ("&", "!"):
            raw = _PROPS.match(text, start)
            start = raw.end() if raw else start
            if raw and node.tag in goyaml.CONVERTING:
                start = _tag_start(text, raw.start(), raw.end())
        out.append(Scalar(doc, path, start, node.end_mark.index, node.style or "", flow, value, alias))
    elif isinstance(node, yaml.MappingNode):
        inner = flow or bool(node.flow_style)
        items = list(value.items()) if isinstance(value, dict) else []
        if len(items) != len(node.value) or any(k.tag == goyaml.MERGE for k, _v in node.value):
            raise DataError(f"{node.start_mark.line + 1}: merge keys (<<) or duplicate keys are not supported")
        for (key_node, value_node), (key, sub) in zip(node.value, items, strict=True):
            keys.append((key_node.start_mark.index, key_node.end_mark.index))
            _walk(text, value_node, sub, (*path, key), inner, doc, out, keys, counts, seen, tokens)
    elif isinstance(node, yaml.SequenceNode):
        inner = flow or bool(node.flow_style)
        for i, (item_node, item) in enumerate(zip(node.value, value or [], strict=True)):
            _walk(text, item_node, item, (*path, i), inner, doc, out, keys, counts, seen, tokens)


def _tag_start(text: str, start: int, end: int) -> int:
    """Where a scalar's text starts when its explicit tag converts the value (``!!int 017``,
    ``!!binary aGk=``): at the tag, which then belongs to the value (an ``ENC[...]`` string under
    such a tag is not a string to sops). Anchors written before the tag stay outside."""
    props = list(re.finditer(r"[&!][^\s]*", text[start:end]))
    tags = [m for m in props if m.group().startswith("!")]
    if not tags or any(m.group().startswith("&") and m.start() > tags[0].start() for m in props):
        return end  # a tag before the anchor: left where it is (sops then refuses the value)
    return start + tags[0].start()


def _at(mark: Any) -> int:
    return int(mark.index) if mark is not None else 0


def alias_tokens(text: str, loader: Any = LOADER) -> list[tuple[int, int]]:
    """(start, end) of every ``*name`` alias token, in document order."""
    return [
        (_at(e.start_mark), _at(e.end_mark)) for e in yaml.parse(text, Loader=loader) if isinstance(e, yaml.AliasEvent)
    ]


def alias_copies(text: str) -> list[tuple[int, tuple[int, int]]]:
    """Where an alias of a collection stands, and the text span of the collection it repeats (from
    its ``&anchor`` to the end of its last line): sops expands the alias, and with it every comment
    inside that span, which then appears a second time in its output."""
    if "*" not in text:
        return []
    defs: dict[str, tuple[int, int]] = {}
    stack: list[tuple[str | None, int, bool]] = []  # anchor, start, flow
    last: list[int] = []  # per open collection: where its last content ends
    out: list[tuple[int, tuple[int, int]]] = []
    for e in yaml.parse(text, Loader=_loader(text)):
        anchor = getattr(e, "anchor", None)
        if isinstance(e, yaml.CollectionStartEvent):
            stack.append((anchor, _at(e.start_mark), bool(e.flow_style)))
            last.append(_at(e.start_mark))
            continue
        if isinstance(e, yaml.CollectionEndEvent) and stack:
            anchor, start, flow = stack.pop()
            end = max(last.pop(), _at(e.end_mark)) if flow else last.pop()
            if anchor is not None:
                defs[anchor] = (start, line_after(text, end))
            if last:
                last[-1] = max(last[-1], end)
            continue
        if isinstance(e, yaml.AliasEvent) and anchor in defs:
            out.append((_at(e.start_mark), defs[str(anchor)]))
        elif isinstance(e, yaml.ScalarEvent) and anchor is not None:
            defs.pop(str(anchor), None)  # redefined as a scalar: its aliases repeat no comment
        if last and isinstance(e, (yaml.ScalarEvent, yaml.AliasEvent)):
            last[-1] = max(last[-1], _at(e.end_mark))
    return out


def _subtree_end(text: str, node: yaml.Node) -> int:
    """End of the last line that holds any part of ``node`` (not the trailing comments after it)."""
    end = node.start_mark.index
    stack = [node]
    visited: set[int] = set()  # a node an alias shares is looked at once (an alias bomb stays cheap)
    while stack:
        n = stack.pop()
        if id(n) in visited:
            continue
        visited.add(id(n))
        if isinstance(n, yaml.ScalarNode):
            end = max(end, n.end_mark.index)
        elif isinstance(n, yaml.MappingNode):
            for k, v in n.value:
                stack += [k, v]
        elif isinstance(n, yaml.SequenceNode):
            if n.flow_style:
                end = max(end, n.end_mark.index)
            stack += n.value
    return line_after(text, end)


def line_start(text: str, index: int) -> int:
    return text.rfind("\n", 0, index) + 1


def line_after(text: str, index: int) -> int:
    """``index`` if it is at a line start, else just after the end of its line."""
    if index > 0 and text[index - 1] == "\n":
        return index
    nl = text.find("\n", index)
    return len(text) if nl < 0 else nl + 1


def comments(text: str, spans: list[tuple[int, int]]) -> Iterator[tuple[int, int]]:
    """(start, end) of every comment: a ``#`` outside any scalar, at a line start or after blanks."""
    starts = [s for s, _ in spans]
    pos = 0
    for line in text.splitlines(keepends=True):
        for m in re.finditer("#", line):
            p = pos + m.start()
            if m.start() > 0 and line[m.start() - 1] not in " \t":
                continue
            i = bisect.bisect_right(starts, p) - 1
            if i >= 0 and spans[i][0] <= p < spans[i][1]:
                continue
            yield p, pos + len(line.rstrip("\r\n"))
            break
        pos += len(line)


# --- writing a value back in a given style -------------------------------------------------------


def render(value: Any, style: str, indent: int, *, parent: int | None = None, new: bool = False) -> str | None:
    """The text of ``value`` in ``style`` (block styles: header + lines); None if it cannot be.

    ``new``: a value the tool writes (not the author's text given back): a plain string must also
    mean that string to YAML 1.1 readers (kubectl reads a plain ``no`` as false)."""
    if style == "":
        text = value if isinstance(value, str) else goyaml.plain_text(value)
        return text if text is not None and _reparses(text, value, yaml11=new) else None
    if not isinstance(value, str):
        return None
    if style == "'":
        return "'" + value.replace("'", "''") + "'" if "\n" not in value else None
    if style == '"':
        return json.dumps(value, ensure_ascii=False)
    if style in "|>":
        if style == ">" and "\n" in value.rstrip("\n"):
            return None
        body = value.rstrip("\n")
        trailing = len(value) - len(body)
        chomp = "-" if trailing == 0 else ("" if trailing == 1 else "+")
        lines = body.split("\n")
        # YAML counts the indentation indicator from the parent's column (when given)
        indicator = str(indent - (parent or 0)) if lines[0].startswith(" ") else ""
        out = style + indicator + chomp + "\n"
        out += "".join((" " * indent + line if line else "") + "\n" for line in lines)
        out += "\n" * max(0, trailing - 1)
        return out
    return None


def _reparses(text: str, value: Any, *, yaml11: bool) -> bool:
    """``text`` as a plain scalar is ``value`` to sops (and, with ``yaml11``, a string also to YAML 1.1)."""
    if not text or text != text.strip() or "\n" in text:
        return False
    loaders = (LOADER, YAML11) if yaml11 and isinstance(value, str) else (LOADER,)
    try:
        return all(goyaml.same(yaml.load("k: " + text, Loader=loader), {"k": value}) for loader in loaders)  # noqa: S506 - both are SafeLoaders
    except yaml.YAMLError:
        return False


def indent_of_block(text: str, start: int, end: int) -> int:
    for line in text[start:end].split("\n")[1:]:
        if line.strip():
            return len(line) - len(line.lstrip(" "))
    return 2


def enc_text(enc: str, s: Scalar, indent: int, layout: str | None) -> str:
    """How an ``ENC[...]`` string stands in for the scalar ``s``."""
    tail = f" #{layout}" if layout else ""
    if s.style in "|>" and s.style:
        return f"{s.style}-{tail}\n{' ' * indent}{enc}\n"
    if s.flow:
        if s.style == "'":
            return f"'{enc}'"
        return f'"{enc}"' if s.style == "" else f'"\\x45{enc[1:]}"'
    quote = "" if s.style == "*" else s.style  # an alias stands in plain; its layout comment keeps `*name`
    return f"{quote}{enc}{quote}{tail}"


def _hint_of(text: str, s: Scalar) -> tuple[str, int]:
    """Read back, from how the ``ENC[...]`` stands in the file, the style of the original value."""
    raw = text[s.start : s.end]
    if s.style in ("|", ">"):
        return s.style, indent_of_block(text, s.start, s.end)
    if s.flow:
        if s.style == "'":
            return "'", 0
        return ('"', 0) if raw.startswith('"\\x45') else ("", 0)
    return s.style, 0


# --- the two directions -------------------------------------------------------------------------


class Replacement(NamedTuple):
    start: int
    end: int
    text: str


def apply(text: str, replacements: list[Replacement]) -> str:
    out = []
    pos = 0
    for r in sorted(replacements):
        if r.start < pos:
            raise DataError("internal: overlapping edits")  # pragma: no cover
        out.append(text[pos : r.start])
        out.append(r.text)
        pos = r.end
    out.append(text[pos:])
    return "".join(out)


def value_at(docs: list[Any], doc: int, path: tuple[Any, ...]) -> Any:
    node = docs[doc]
    for key in path:
        node = node[key]
    return node


def encrypted_scalars(plain: Parsed, enc_docs: list[Any], where: str) -> list[Scalar]:
    """The scalars of ``plain`` that sops encrypted (their value in ``enc_docs`` is ``ENC[...]``)."""
    if len(enc_docs) != len(plain.docs):
        raise DataError(f"{where}: sops returned {len(enc_docs)} documents for {len(plain.docs)}")
    out = []
    for s in plain.scalars:
        try:
            new = value_at(enc_docs, s.doc, s.path)
        except (KeyError, IndexError, TypeError):
            raise DataError(f"{where}: sops changed the document structure at {fmt_path(s.path)}") from None
        if is_enc(new) and not is_enc(s.value):
            if s.start < 0:  # pragma: no cover - every alias has its token
                raise DataError(f"{where}: {fmt_path(s.path)}: an alias whose place in the text is unknown")
            out.append(s)
    return out


def needs_layout(plain: Parsed, s: Scalar) -> bool:
    """True when style hints alone would not give back the author's exact text."""
    original = plain.text[s.start : s.end]
    if s.style in ("|", ">"):
        indent = indent_of_block(plain.text, s.start, s.end)
        rendered = render(s.value, s.style, indent)
        tail = block_tail(original)
        return rendered is None or rendered + tail != original
    # A plain string YAML 1.1 reads otherwise (``no``) keeps its text in a layout comment, so that a
    # plain ENC[...] without one (as plain sops writes them) decrypts to a quoted string. In a flow
    # collection, which has no room for a layout comment, the author's plain text is given back.
    return render(s.value, s.style, 0, new=not s.flow) != original


def block_tail(original: str) -> str:
    """Blank lines after a clip/strip block scalar belong to the layout, not to the value."""
    body = original.rstrip("\n")
    return original[len(body) + 1 :] if body != original else ""


def flow_of(plain: Parsed, s: Scalar) -> tuple[int, int] | None:
    """The outermost flow collection a scalar stands in."""
    i = bisect.bisect_right(plain.flows, (s.start, len(plain.text) + 1)) - 1
    return plain.flows[i] if s.flow and i >= 0 and plain.flows[i][0] <= s.start < plain.flows[i][1] else None


def flow_mark(plain: Parsed, span: tuple[int, int]) -> Replacement:
    """As ``layout_mark``, for a flow collection with a value whose text must be stored: a flow
    collection has no room for a comment after each value, so the comment after the collection
    stores the whole collection's text (``# aigw-fmt-flow:"[017, x]"``)."""
    stand = Scalar(0, (), span[0], span[1], "", False, None, False)
    return layout_mark(plain, stand, prefix=FLOW_LAYOUT)


def layout_mark(plain: Parsed, s: Scalar, *, prefix: str = LAYOUT) -> Replacement:
    """The edit that puts a plaintext ``# aigw-fmt:...`` comment (which sops will encrypt) after a
    value whose layout must be stored.

    An author's comment already on that line cannot stay a comment of its own (YAML would read
    both as one): a block header's comment is part of the stored original anyway, and an inline
    comment after a value is stored after the JSON and put back after the value.
    """
    original = plain.text[s.start : s.end]
    comment = f" # {prefix}{json.dumps(original, ensure_ascii=False)}"
    if s.style in ("|", ">"):
        eol = plain.text.index("\n", s.start)
        header = re.match(r"(?:[&!]\S*\s+)*[|>][-+0-9]*", plain.text[s.start : eol])  # past a tag (``!!binary |``)
        start = s.start + (header.end() if header else 1)
        return Replacement(start, eol, comment)
    eol = line_after(plain.text, s.end)
    eol -= plain.text[eol - 1 : eol] == "\n"
    tail = plain.text[s.end : eol]
    if "#" in tail:
        return Replacement(s.end, eol, comment + tail)
    return Replacement(s.end, s.end, comment)


def splice_encrypted(
    plain: Parsed,
    enc: Parsed,
    targets: list[Scalar],
    layouts: dict[int, tuple[str, int]],
    comments: list[Replacement],
    where: str,
) -> str:
    """The author's text with every target replaced by its ENC string (``layouts``: target index ->
    its encrypted layout comment and where the value's own text ends), the author's comments that
    sops encrypted replaced by sops's ``#ENC[...]`` (``comments``), and sops's blocks inserted."""
    sops_text = [enc.text[span[0] : span[1]] if span else None for span in enc.sops_spans]
    if any(t is None for t in sops_text):
        raise DataError(f"{where}: sops output has no metadata block")
    reps = list(comments)
    for i, s in enumerate(targets):
        new = value_at(enc.docs, s.doc, s.path)
        layout, end = layouts.get(i, (None, s.end))
        if s.style in ("|", ">"):
            indent = indent_of_block(plain.text, s.start, s.end)
            text = enc_text(new, s, indent, layout) + block_tail(plain.text[s.start : s.end])
        else:
            text = enc_text(new, s, 0, layout)
        reps.append(Replacement(s.start, max(end, s.end), text))
    for doc, point in enumerate(plain.content_end):
        block = sops_text[doc] or ""
        point = _past_indented_comments(plain.text, point)
        if point == len(plain.text) and not plain.text.endswith("\n"):
            block = "\n" + block.rstrip("\n")
        reps.append(Replacement(point, point, block))
    return apply(plain.text, reps)


def _past_indented_comments(text: str, point: int) -> int:
    """Past the indented comment lines (and blank lines between them) that follow a document's
    content: they belong to its last section (e.g. a commented-out value at the end of
    ``stringData``), so sops's block goes after them and sops reads them where they are."""
    end = pos = point
    for line in text[point:].splitlines(keepends=True):
        pos += len(line)
        if re.match(r"[ \t]+#", line):
            end = pos
        elif line.strip():
            break
    return end


def file_comments(enc: Parsed) -> list[tuple[int, int]]:
    """The comments of an encrypted file outside its sops blocks, in document order."""
    return [
        c for c in comments(enc.text, all_spans(enc)) if not any(sp and sp[0] <= c[0] < sp[1] for sp in enc.sops_spans)
    ]


def splice_decrypted(enc: Parsed, dec_text: str, where: str) -> str:
    """The encrypted file's text with ENC values and comments replaced by plaintext, sops blocks
    removed, taking the plaintext from sops's decrypted output ``dec_text``."""
    dec = parse(dec_text, where)
    texts = [dec.text[s:e] for s, e in comments(dec.text, all_spans(dec))]
    return splice_plain(enc, dec.docs, texts, where)


def _stored_layouts(
    enc: Parsed, enc_comments: list[tuple[int, int]], comment_texts: list[str], where: str
) -> tuple[dict[int, tuple[str, str, int, int]], list[Replacement], list[tuple[int, int]]]:
    """From the decrypted comments: the layouts stored for single values (by line start: original
    text, the author's inline comment after it, layout comment span), the replacements for stored
    flow collections and the author's encrypted comments, and the flow collections' spans."""
    layouts: dict[int, tuple[str, str, int, int]] = {}
    reps: list[Replacement] = []
    flows: list[tuple[int, int]] = []  # flow collections given back whole from their stored text
    for (cs, ce), dtext in zip(enc_comments, comment_texts, strict=True):
        if not enc.text.startswith("#ENC[", cs):
            continue
        body = dtext[1:].lstrip(" ")
        gap = cs - 1 if cs > 0 and enc.text[cs - 1] == " " else cs
        if body.startswith(FLOW_LAYOUT):  # the whole flow collection that ends before it on its line
            original, stop = json.JSONDecoder().raw_decode(body, len(FLOW_LAYOUT))
            line = line_start(enc.text, cs)
            span = next((f for f in reversed(enc.flows) if f[1] <= cs and line_start(enc.text, f[1]) == line), None)
            if span is None:
                raise DataError(f"{where}: a stored flow collection has no collection before it; was the file edited?")
            reps += [Replacement(span[0], span[1], original), Replacement(gap, ce, body[stop:])]
            flows.append(span)
        elif body.startswith(LAYOUT):
            original, stop = json.JSONDecoder().raw_decode(body, len(LAYOUT))
            layouts[line_start(enc.text, cs)] = (original, body[stop:], gap, ce)
        else:  # an author's comment that sops encrypted
            reps.append(Replacement(cs, ce, dtext))
    return layouts, reps, flows


def splice_plain(enc: Parsed, docs: list[Any], comment_texts: list[str], where: str) -> str:
    """As splice_decrypted, from decrypted documents and the text of every comment (in order)."""
    enc_comments = file_comments(enc) if comment_texts or "#ENC[" in enc.text else []
    if len(enc_comments) != len(comment_texts):
        raise DataError(f"{where}: sops returned {len(comment_texts)} comments for {len(enc_comments)}")
    layouts, reps, flows = _stored_layouts(enc, enc_comments, comment_texts, where)
    for s in enc.scalars:
        if s.start < 0 or s.style == "*" or not is_enc(s.value) or s.path[:1] == ("sops",):
            continue
        if any(a <= s.start < b for a, b in flows):
            continue
        block = s.style in ("|", ">")
        # A block stand-in is "|-\n<indent>ENC[...]\n" followed by the original's blank tail.
        end = enc.text.index("\n", enc.text.index("\n", s.start) + 1) + 1 if block else s.end
        layout = layouts.pop(line_start(enc.text, s.start), None)
        if layout is not None:
            original, after, gap, ce = layout
            if block:
                reps.append(Replacement(s.start, end, original[: len(original) - len(block_tail(original))]))
            else:
                reps += [Replacement(s.start, s.end, original), Replacement(gap, ce, after)]
            continue
        value = value_at(docs, s.doc, s.path)
        style, indent = _hint_of(enc.text, s)
        text = render(value, style, indent, new=not s.flow)
        if text is None:  # e.g. a file written by plain sops: a literal block, else double quotes
            text, end = _fallback(enc.text, s, value, end)
        reps.append(Replacement(s.start, end, text))
    for _original, _after, gap, ce in layouts.values():  # layout comments whose value was not found
        reps.append(Replacement(gap, ce, ""))
    for span in enc.sops_spans:
        if span:
            start, stop = span
            if stop == len(enc.text) and not enc.text.endswith("\n") and start > 0:
                start -= 1
            reps.append(Replacement(start, stop, ""))
    return apply(enc.text, reps)


def _fallback(text: str, s: Scalar, value: Any, end: int) -> tuple[str, int]:
    """How to write a decrypted value whose stand-in gives no usable style (files plain sops wrote
    hold every value as a plain ``ENC[...]``): a multi-line string as a literal block indented
    under its key, when that is exact and the value ends its line; else JSON (always valid YAML)."""
    line_end = line_after(text, s.end)
    if isinstance(value, str) and "\n" in value.rstrip("\n") and not s.flow and not text[s.end : line_end].strip():
        parent = _parent_column(text, s.start)
        block = render(value, "|", block_indent(text, s.start), parent=parent)
        probe = render(value, "|", 2, parent=0)
        if block is not None and probe is not None and _loads_as(f"k: {probe}", value):
            return block, line_end
    if not isinstance(value, str):  # a bool, number, null or time: its plain form
        return goyaml.plain_text(value) or json.dumps(value), end
    return json.dumps(value, ensure_ascii=False), end


def _loads_as(text: str, value: Any) -> bool:
    try:
        return goyaml.same(yaml.load(text, Loader=LOADER), {"k": value})  # noqa: S506 - LOADER is a SafeLoader
    except yaml.YAMLError:
        return False


def block_indent(text: str, pos: int) -> int:
    """The content indentation for a block scalar whose value starts at ``pos``: one indentation
    step (the file's own, 2 or 4 ...) deeper than the key or sequence item it belongs to."""
    line = text[line_start(text, pos) : pos]
    m = re.match(r" *(?:- +)*", line)
    return (m.end() if m else 0) + _indent_step(text)


def _parent_column(text: str, pos: int) -> int:
    """The column of the key (``key: value``) or dash (``- value``) that a value at ``pos`` belongs to."""
    line = text[line_start(text, pos) : pos]
    if not line.strip(" -"):  # a sequence item: the last dash
        return line.rstrip(" ").rfind("-")
    m = re.match(r" *(?:- +)*", line)
    return m.end() if m else 0


def _indent_step(text: str) -> int:
    steps = [len(m.group(1)) for m in re.finditer(r"(?m)^( +)[^ \n#-]", text[:20000])]
    return max(2, min(steps, default=2))


def all_spans(p: Parsed) -> list[tuple[int, int]]:
    """Scalar and key spans; a block scalar's starts on its first content line, so that a comment
    after its ``|``/``>`` header counts as a comment."""
    spans = [
        (p.text.find("\n", s.start, s.end) + 1 or s.start, s.end) if s.style in ("|", ">") else (s.start, s.end)
        for s in p.scalars
        if s.start >= 0
    ] + p.key_spans
    return sorted(spans)


def fmt_path(path: tuple[Any, ...]) -> str:
    return "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in path).lstrip(".") or "(root)"
