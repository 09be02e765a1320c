"""Formatting-preserving sops operations on whole files (see yamlsplice for the method).

Every function returns new file content and writes nothing; each result has been checked to decrypt
with the real sops to the expected values and, our way, to the expected text. Callers write it with
``util.atomic_write``.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from aigw_secrets import yamlload
from aigw_secrets.errors import AigwError, ConfigError, DataError, NoInputError
from aigw_secrets.sops import config as sops_config
from aigw_secrets.sops import goyaml, reader, splice
from aigw_secrets.sops.binary import Sops
from aigw_secrets.util import atomic_write, parallel_map


class Text:
    """File bytes as LF text, remembering CRLF line endings so they can be restored."""

    def __init__(self, data: bytes, where: str) -> None:
        if b"\x00" in data:
            raise DataError(f"{where}: binary content (NUL bytes); not a YAML file")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DataError(f"{where}: not UTF-8 text (byte {exc.start})") from None
        if text.startswith("\ufeff"):
            raise DataError(f"{where}: starts with a byte-order mark; save it as UTF-8 without BOM")
        self.crlf = "\r\n" in text
        text = text.replace("\r\n", "\n")
        if "\r" in text:
            raise DataError(f"{where}: mixed or old-Mac (CR) line endings")
        if re.search(r"(?m)^%", text):
            raise DataError(f"{where}: YAML directives (%YAML, %TAG) are not supported by sops")
        self.text = text

    def encode(self, text: str) -> bytes:
        return (text.replace("\n", "\r\n") if self.crlf else text).encode("utf-8")


def read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise NoInputError(f"{path}: file does not exist") from None
    except IsADirectoryError:
        raise NoInputError(f"{path}: is a directory") from None


def _enc_comments(p: splice.Parsed) -> list[tuple[int, int]]:
    return [c for c in splice.comments(p.text, splice.all_spans(p)) if p.text.startswith("#ENC[", c[0])]


class NothingToEncrypt(DataError):
    """No value of the file matches the creation rule's selector (sops would write a MAC only)."""


def encrypt(sops: Sops, data: bytes, rel: str, *, verify: bool = True) -> bytes:
    """Encrypt a plaintext YAML file, keeping its formatting. ``rel`` picks the .sops.yaml rule.

    Comments inside encrypted sections are encrypted as sops encrypts them (``#ENC[...]``), in
    place; ``decrypt`` gives them back.
    """
    src = Text(data, rel)
    plain = splice.parse(src.text, rel)
    for i, doc in enumerate(plain.docs):
        if isinstance(doc, dict) and "sops" in doc:
            raise DataError(f"{rel}: already encrypted (document {i + 1} has a sops block)")
        if not isinstance(doc, dict):
            raise DataError(f"{rel}: document {i + 1} is not a mapping; sops cannot encrypt it")
    _check_sops_types(plain.docs, rel)
    predicted = _predict(sops, plain, rel)
    guess = [s for s in predicted if splice.needs_layout(plain, s)] if predicted is not None else []
    marks = _marks(plain, guess)
    enc = splice.parse(
        splice.comment_items_as_comments(sops.encrypt(splice.apply(src.text, marks).encode(), rel).decode()), rel
    )
    targets = splice.encrypted_scalars(plain, enc.docs, rel)
    if not targets:
        raise NothingToEncrypt(f"{rel}: no value to encrypt (no key matches the creation rule's encrypted_regex)")
    copies = splice.alias_copies(plain.text)
    repeated = next((s for s in targets for _at, (a, b) in copies if a <= s.start < b), None)
    if repeated is not None:
        raise DataError(
            f"{rel}: {splice.fmt_path(repeated.path)}: an encrypted value inside a collection that an alias "
            "repeats cannot be kept (sops encrypts each copy under its own path); write the copies out"
        )
    need = [s for s in targets if splice.needs_layout(plain, s)]
    if _marks(plain, need) != marks:
        # The prediction was wrong (an unusual .sops.yaml): encrypt again with the right comments.
        marks = _marks(plain, need)
        enc = splice.parse(
            splice.comment_items_as_comments(sops.encrypt(splice.apply(src.text, marks).encode(), rel).decode()), rel
        )
    found, comments = _match_comments(plain, marks, enc, rel)
    index = {s.path: i for i, s in enumerate(targets)}
    single = [s for s in need if not s.flow]  # their marks come first, then one per flow collection
    layouts = {index[s.path]: (c, m.end) for s, c, m in zip(single, found, marks, strict=False)}
    flows = [
        splice.Replacement(m.start, m.end, f" #{c}")
        for c, m in zip(found[len(single) :], marks[len(single) :], strict=True)
    ]
    result = splice.splice_encrypted(plain, enc, targets, layouts, comments + flows, rel)
    if verify:
        check(sops, result, src.text, plain.docs, rel)
    return src.encode(result)


def _check_sops_types(docs: list[Any], rel: str) -> None:
    """Refuse, naming the place, what sops cannot encrypt: a mapping key that is not a string (sops
    reads ``1:``, ``true:``, ``~:`` and ``2001-12-14:`` as a number, bool, null or time) and an
    integer Go holds only as uint64 (2**63 to 2**64-1)."""
    stack: list[tuple[tuple[Any, ...], Any]] = [((), d) for d in reversed(docs)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, dict):
            for key, value in reversed(list(node.items())):
                if not isinstance(key, str | bytes):
                    raise DataError(
                        f"{rel}: {splice.fmt_path(path)}: a key that sops reads as {_kind(key)}, not a "
                        "string; sops accepts string keys only: quote it"
                    )
                stack.append(((*path, key), value))
        elif isinstance(node, list):
            stack += [((*path, i), v) for i, v in reversed(list(enumerate(node)))]
        elif isinstance(node, int) and not isinstance(node, bool) and node > goyaml.INT64[1]:
            raise DataError(
                f"{rel}: {splice.fmt_path(path)}: an integer above 2**63-1, which sops cannot encrypt or keep; quote it"
            )


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, goyaml.GoTime):
        return "a timestamp"
    return {bool: "a boolean", int: "an integer", float: "a number"}.get(type(value), "a non-string value")


def _marks(plain: splice.Parsed, need: list[splice.Scalar]) -> list[splice.Replacement]:
    """Edits that put a ``# aigw-fmt:`` comment after each value whose layout must be stored (block
    context), then a ``# aigw-fmt-flow:`` one after each flow collection holding such a value."""
    flows = dict.fromkeys(span for s in need if s.flow and (span := splice.flow_of(plain, s)) is not None)
    return [splice.layout_mark(plain, s) for s in need if not s.flow] + [splice.flow_mark(plain, f) for f in flows]


def _match_comments(
    plain: splice.Parsed, marks: list[splice.Replacement], enc: splice.Parsed, rel: str
) -> tuple[list[str], list[splice.Replacement]]:
    """Pair the comments of the marked plaintext with sops's output, in order (sops keeps every
    comment, in order, and moves inline ones onto their own line).

    Returns the encrypted layout comments (one per mark) and the edits that replace each author's
    comment sops encrypted by sops's ``#ENC[...]``. A layout comment must come back encrypted, an
    author's comment either encrypted or as it was; anything else is refused.
    """
    authors = [
        c
        for c in splice.comments(plain.text, splice.all_spans(plain))
        if not any(m.start <= c[0] < m.end for m in marks)
    ]
    order = _with_alias_copies(
        sorted([(c[0], 1, i) for i, c in enumerate(authors)] + [(m.start, 0, i) for i, m in enumerate(marks)]),
        plain.text,
        rel,
    )
    out = splice.file_comments(enc)
    if len(out) != len(order):
        raise DataError(
            f"{rel}: sops returned {len(out)} comments for {len(order)}; a comment in an unusual place "
            "(inside a flow collection, or under an alias?) cannot be kept: move or remove it"
        )
    layouts: list[str] = [""] * len(marks)
    edits: list[splice.Replacement] = []
    for (pos, is_author, i), (cs, ce) in zip(order, out, strict=True):
        text = enc.text[cs:ce]
        encrypted = text.startswith("#ENC[")
        if is_author == 2:  # sops's copy of a comment inside a collection an alias repeats: ours stays once
            if encrypted or text.rstrip() != plain.text[authors[i][0] : authors[i][1]].rstrip():
                raise DataError(
                    f"{rel}:{_line(plain.text, pos)}: a comment inside a collection that an alias repeats "
                    "came back changed; move or remove it"
                )
            continue
        if not is_author:
            if not encrypted:  # the comment after a flow collection that mixes encrypted and clear values
                raise DataError(
                    f"{rel}:{_line(plain.text, pos)}: this flow collection mixes encrypted and clear values, "
                    "and an encrypted one "
                    "sops writes in another form (017 as 15) would keep its text in a comment sops leaves in "
                    "clear; use block style"
                )
            layouts[i] = text[1:]
            continue
        a_start, a_end = authors[i]
        if encrypted:
            edits.append(splice.Replacement(a_start, a_end, text))
        elif text.rstrip() != plain.text[a_start:a_end].rstrip():
            raise DataError(
                f"{rel}:{_line(plain.text, a_start)}: sops reordered the comments around this line; move or remove it"
            )
    return layouts, edits


MAX_COMMENTS = 100_000


def _with_alias_copies(order: list[tuple[int, int, int]], text: str, rel: str) -> list[tuple[int, int, int]]:
    """The comments in the order sops writes them: an alias of a collection is expanded, and every
    comment inside that collection comes again where the alias stands (kind 2: a copy)."""
    copies = splice.alias_copies(text)
    if not copies:
        return order
    out: list[tuple[int, int, int]] = []

    def walk(start: int, end: int, copy: bool) -> None:
        entries = [(o[0], 0, n) for n, o in enumerate(order) if start <= o[0] < end]
        entries += [(at, 1, n) for n, (at, _span) in enumerate(copies) if start <= at < end]
        for _pos, kind, n in sorted(entries):
            if kind == 1:
                walk(*copies[n][1], True)
                continue
            pos, what, i = order[n]
            if copy and what == 0:
                raise DataError(
                    f"{rel}:{_line(text, pos)}: a value inside a collection that an alias repeats cannot be "
                    "kept encrypted; write the copies out"
                )
            out.append((pos, 2 if copy else what, i))
            if len(out) > MAX_COMMENTS:
                raise DataError(
                    f"{rel}: aliases repeat comments more than {MAX_COMMENTS} times; refusing to expand them"
                )

    walk(0, len(text) + 1, False)
    return out


def _line(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _predict(sops: Sops, plain: splice.Parsed, rel: str) -> list[splice.Scalar] | None:
    """The scalars sops will encrypt, from the matching rule's encrypted_regex (sops matches it
    against every key on the path); None when the rule uses another selector."""
    cfg_path = sops.config_for(rel)
    if cfg_path is None:
        return None
    cfg = sops.cached(f"rules:{cfg_path}", lambda: sops_config.load(cfg_path))
    rule = cfg.rule_for(cfg.rel(sops.root / rel), strict=True)
    if rule is None or any(k in rule.data for k in sops_config.SELECTORS if k != "encrypted_regex"):
        return None
    regex = rule.data.get("encrypted_regex")
    if not isinstance(regex, str):
        return None
    from aigw_secrets.sops import regex as sops_regex

    try:
        pattern = sops_regex.compile_go(regex)
    except sops_regex.GoRegexError:
        return None
    return [s for s in plain.scalars if s.start >= 0 and any(isinstance(k, str) and pattern.search(k) for k in s.path)]


def plain_in_secret(data: bytes) -> list[str]:
    """The ``data``/``stringData`` keys of the Secrets in sops output ``data`` that are not ``ENC[...]``:
    what a creation rule's selectors (``encrypted_regex``, ``unencrypted_*``) left in the clear."""
    try:
        docs = yamlload.load_all(data)
    except yaml.YAMLError:
        return ["(unreadable output)"]
    found: list[str] = []
    for doc in docs:
        if not isinstance(doc, dict):
            continue
        for field in ("stringData", "data"):
            values = doc.get(field)
            if isinstance(values, dict):
                found += [
                    f"{field}.{k}" for k, v in values.items() if not (isinstance(v, str) and v.startswith("ENC["))
                ]
            elif values is not None:
                found.append(field)
    return found


def require_encrypted(data: bytes, rel: str, what: str = "Secret") -> None:
    """Refuse to write a Secret whose value sops left in the clear (``plain_in_secret``)."""
    plain = plain_in_secret(data)
    if plain:
        raise DataError(
            f"{rel}: sops left the {what}'s {', '.join(plain)} unencrypted (the creation rule's encrypted_regex "
            "or unencrypted_* selectors in .sops.yaml do not pick it); nothing written"
        )


def decrypt(sops: Sops, data: bytes, rel: str) -> bytes:
    """The plaintext of an encrypted file, in the author's formatting. Never print it by accident."""
    src = Text(data, rel)
    enc = splice.parse(src.text, rel)
    if not any(enc.sops_spans):
        raise DataError(f"{rel}: not sops-encrypted (no sops block)")
    try:
        return src.encode(_fast_plain(sops, enc, rel)[1])
    except reader.Unsupported:
        pass  # sops decides, and gives the authoritative error if there is one
    dec = sops.decrypt(src.text.encode(), rel).decode("utf-8")
    return src.encode(splice.splice_decrypted(enc, dec, rel))


def _fast_plain(sops: Sops, enc: splice.Parsed, rel: str) -> tuple[list[Any], str]:
    """Decrypt in process (see sopscrypto); raises Unsupported when sops has to do it."""
    docs, key = reader.decrypt_docs(enc.docs, sops.env)
    parents = list(dict.fromkeys([(), *(s.path[:i] for s in enc.scalars for i in range(len(s.path)))]))
    texts: list[str] = []
    for cs, ce in splice.file_comments(enc) if "#ENC[" in enc.text else []:
        raw = enc.text[cs:ce]
        if raw.startswith("#ENC["):
            line = splice.line_start(enc.text, cs)
            near = [
                sc.path[:-1] for sc in enc.scalars if sc.start >= 0 and splice.line_start(enc.text, sc.start) == line
            ]
            raw = "#" + reader.decrypt_comment(raw[1:], near + parents, key)
        texts.append(raw)
    return docs, splice.splice_plain(enc, docs, texts, rel)


def check(sops: Sops, result: str, expected: str, expected_docs: list[Any], rel: str) -> None:
    """The new content decrypts to the expected values (MAC intact), and our way to the expected text.

    Checked in process when it can be (sopscrypto); otherwise, or on any doubt, by the real sops.
    """
    try:
        docs, back = _fast_plain(sops, splice.parse(result, rel), rel)
        if goyaml.same(docs, expected_docs) and back == expected:
            return
    except reader.Unsupported:
        pass
    dec = sops.decrypt(result.encode(), rel).decode("utf-8")
    if not goyaml.same(splice.load_all(dec), expected_docs):
        raise DataError(
            f"{rel}: sops would change some values (dates, numbers or tags in encrypted sections?); nothing written"
        )
    back = splice.splice_decrypted(splice.parse(result, rel), dec, rel)
    if back != expected:
        raise DataError(f"{rel}: formatting could not be kept exactly; nothing written")


def reapply(current: str, canonical: str, rel: str, *, parsed: splice.Parsed | None = None) -> str:
    """After a sops operation: new ENC values, comments and sops blocks into the current layout."""
    cur = parsed or splice.parse(current, rel)
    new = _canonical(canonical, rel)
    reps: list[splice.Replacement] = []
    for s in cur.scalars:
        if s.start < 0 or s.style == "*" or not splice.is_enc(s.value) or s.path[:1] == ("sops",):
            continue
        value = splice.value_at(new.docs, s.doc, s.path)
        if not splice.is_enc(value):
            raise DataError(f"{rel}: {splice.fmt_path(s.path)} is no longer encrypted after the sops operation")
        span = current[s.start : s.end]
        skip = span.index("\n") + 1 if s.style in ("|", ">") else 0  # past a block header and its comment
        m = re.compile(r"(?:ENC|\\x45NC)\[AES256_GCM,[^\]]*\]").search(span, skip)
        if m is None:  # pragma: no cover - parse() found an ENC value here
            raise DataError(f"{rel}: {splice.fmt_path(s.path)}: cannot find its ENC string")
        text = value if m.group(0).startswith("ENC") else "\\x45" + value[1:]
        reps.append(splice.Replacement(s.start + m.start(), s.start + m.end(), text))
    old_c = _enc_comments(cur) if "#ENC[" in current else []
    if len(old_c) != len(new.comments):
        raise DataError(f"{rel}: sops returned {len(new.comments)} encrypted comments for {len(old_c)}")
    reps += [splice.Replacement(o[0], o[1], n) for o, n in zip(old_c, new.comments, strict=True)]
    if len(cur.sops_spans) != len(new.sops_blocks):
        raise DataError(
            f"{rel}: sops returned {len(new.sops_blocks)} metadata blocks for {len(cur.sops_spans)} documents"
        )
    for old, block in zip(cur.sops_spans, new.sops_blocks, strict=True):
        if old is None:
            raise DataError(f"{rel}: a document has no sops block")
        if old[1] == len(current) and not current.endswith("\n"):
            block = block.rstrip("\n")
        reps.append(splice.Replacement(old[0], old[1], block))
    return splice.apply(current, reps)


class _Canonical(NamedTuple):
    docs: list[Any]
    comments: list[str]  # encrypted comments, in order
    sops_blocks: list[str]  # the text of each document's sops block


_SOPS_BLOCK = re.compile(r"(?ms)^sops:\n.*?(?=^---\n|\Z)")
_ENC_COMMENT = re.compile(r"(?m)^[ \t]*(#ENC\[AES256_GCM,[^\]\n]*type:comment\])[ \t]*$")


def _canonical(text: str, rel: str) -> _Canonical:
    """What reapply needs from sops's own output, whose layout is fixed: `sops:` at column 0 at the
    end of each document, comments on lines of their own. Cheaper than a positional parse."""
    try:
        docs = splice.load_all(text)
    except Exception as exc:  # noqa: BLE001 - yaml errors of either loader
        raise DataError(f"{rel}: sops returned YAML that does not parse ({type(exc).__name__})") from None
    return _Canonical(docs, _ENC_COMMENT.findall(text), _SOPS_BLOCK.findall(text))


def run_on_copy(
    sops: Sops,
    data: bytes,
    args: list[str],
    rel: str,
    *,
    after: list[str] | None = None,
    stdin: bytes | None = None,
    with_rule: bool = False,
) -> str:
    """Run a sops subcommand that edits a file in place on a scratch copy (ciphertext only).

    ``with_rule``: sops picks the creation rule from the file's path, which a scratch copy does not
    have, so sops gets a config holding just the rule that matches the real path.
    """
    from aigw_secrets.sops.scratch import make_dir

    sops.check_vaults(rel, data=data, rule=with_rule)
    scratch = sops.cached("scratch", make_dir)
    fd, name = tempfile.mkstemp(suffix=".yaml", dir=scratch)  # one private directory per run
    copy = Path(name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        argv = [*args, str(copy), *(after or [])]
        if with_rule:
            argv = ["--config", str(_rule_config(sops, rel, scratch, copy.stem)), *argv]
        sops.in_place(argv, action=args[0], rel=rel, stdin=stdin)
        return splice.comment_items_as_comments(Text(copy.read_bytes(), rel).text)
    finally:
        for leftover in (copy, scratch / f"{copy.stem}.sops.yaml"):
            try:
                leftover.unlink()
            except FileNotFoundError:
                pass


def _rule_config(sops: Sops, rel: str, tmp: Path, stem: str) -> Path:
    found = sops.config_for(rel) or sops_config.require(sops.root, f"{rel}: updatekeys takes the recipients from it")
    cfg = sops_config.load(found)
    rule = cfg.rule_for(cfg.rel(sops.root / rel), strict=True)
    if rule is None:
        raise ConfigError(f"{rel}: no creation rule in {found} matches this file")
    data = {k: v for k, v in rule.data.items() if k != "path_regex"}
    out = tmp / f"{stem}.sops.yaml"
    out.write_text(
        yaml.safe_dump({"creation_rules": [data], **({"stores": cfg.raw["stores"]} if "stores" in cfg.raw else {})})
    )
    return out


def _reencrypt(sops: Sops, data: bytes, rel: str, args: list[str], *, with_rule: bool = False) -> bytes:
    """updatekeys / rotate: same plaintext, new sops block (and, for rotate, new ciphertext)."""
    src = Text(data, rel)
    before = splice.parse(src.text, rel)
    if not any(before.sops_spans):
        raise DataError(f"{rel}: not sops-encrypted (no sops block)")
    try:
        expected_docs, expected = _fast_plain(sops, before, rel)
    except reader.Unsupported:
        expected = decrypt(sops, data, rel).decode("utf-8").replace("\r\n", "\n")
        expected_docs = splice.load_all(expected)
    canonical = run_on_copy(sops, data, args, rel, with_rule=with_rule)
    if canonical == src.text:
        return data  # sops left it as it was (updatekeys with the same recipients): nothing to re-apply
    result = reapply(src.text, canonical, rel, parsed=before)
    check(sops, result, expected, expected_docs, rel)
    return src.encode(result)


def updatekeys(sops: Sops, data: bytes, rel: str) -> bytes:
    """Re-wrap the data key for the recipients .sops.yaml lists now (``sops updatekeys -y``)."""
    return _reencrypt(sops, data, rel, ["updatekeys", "-y"], with_rule=True)


def rotate(sops: Sops, data: bytes, rel: str, *, add_age: str | None = None, rm_age: str | None = None) -> bytes:
    """A new data key (``sops rotate -i``); optionally add or remove an age recipient."""
    args = ["rotate", "-i"]
    if add_age:
        args += ["--add-age", add_age]
    if rm_age:
        args += ["--rm-age", rm_age]
    return _reencrypt(sops, data, rel, args)


def parse_keypath(text: str) -> tuple[Any, ...]:
    """``stringData.apiKey``, ``data.list[0]`` or sops's own ``["stringData"]["apiKey"]``."""
    if text.startswith("["):
        parts = re.findall(r'\[(?:"((?:[^"\\]|\\.)*)"|(\d+))\]', text)
        if "".join(f'["{a}"]' if not b else f"[{b}]" for a, b in parts) != text:
            raise DataError(f'{text}: not a sops path like ["stringData"]["apiKey"]')
        return tuple(json.loads(f'"{a}"') if not b else int(b) for a, b in parts)
    out: list[Any] = []
    for part in text.split("."):
        m = re.fullmatch(r"([^\[\]]+)((?:\[\d+\])*)", part)
        if not m:
            raise DataError(f"{text}: not a key path like stringData.apiKey")
        out.append(m.group(1))
        out += [int(i) for i in re.findall(r"\[(\d+)\]", m.group(2))]
    return tuple(out)


def set_value(sops: Sops, data: bytes, rel: str, keypath: tuple[Any, ...], value: str) -> bytes:
    """Change one encrypted value with ``sops set``, under a new data key: the file's own may be one a commit's
    author chose (encrypted to themselves, their stanza then dropped from the metadata the MAC does not
    cover), and ``sops set`` keeps it. So the data key is rotated first (``sops rotate``: a new random key,
    wrapped for the recipients listed); then only that value, ``mac`` and ``lastmodified`` change."""
    data = rotate(sops, data, rel)
    src = Text(data, rel)
    cur = splice.parse(src.text, rel)
    target = next((s for s in cur.scalars if s.path == keypath and s.start >= 0), None)
    if target is None or not splice.is_enc(target.value):
        what = "is not an encrypted value" if target else "does not exist"
        raise DataError(f"{rel}: {splice.fmt_path(keypath)} {what}; set changes existing encrypted values only")
    before = decrypt(sops, data, rel).decode("utf-8").replace("\r\n", "\n")
    plain_before = splice.parse(before, rel)
    old = next(s for s in plain_before.scalars if s.path == keypath)
    rep, style, indent = _restyle(before, old, value, rel)
    expected = splice.apply(before, [rep])
    span = splice.flow_of(cur, target)
    if span is not None and src.text.startswith(" #ENC[", span[1]):
        # the collection's text is stored whole in the comment after it: encrypt the new text anew
        return encrypt(sops, src.encode(expected), rel)

    sops_path = "".join(f"[{k}]" if isinstance(k, int) else f"[{json.dumps(k)}]" for k in keypath)
    canonical = run_on_copy(
        sops, data, ["set", "--value-stdin"], rel, after=[sops_path], stdin=json.dumps(value).encode()
    )
    # Re-emit the target's stand-in in the new style, without a layout comment, then take sops's ENC
    # strings, comments and metadata.
    stand_in = splice.Scalar(target.doc, target.path, target.start, target.end, style, target.flow, value, False)
    old_end = target.end
    if target.style in ("|", ">"):
        old_end = src.text.index("\n", src.text.index("\n", target.start) + 1) + 1
    elif style in ("|", ">"):  # a block now stands where a one-line value was: it takes the line end
        old_end = splice.line_after(src.text, target.end)
    reps = [
        splice.Replacement(
            target.start,
            old_end,
            splice.enc_text(target.value, stand_in, indent or splice.block_indent(src.text, target.start), None),
        )
    ]
    # The old value's layout comment (if any) described the old text: drop it here and in sops's
    # output. A block scalar's comment sits on its header line, inside the replaced stand-in.
    line = splice.line_start(src.text, target.start)
    dropped = [i for i, (cs, _ce) in enumerate(_enc_comments(cur)) if splice.line_start(src.text, cs) == line]
    if dropped and target.style not in ("|", ">"):
        cs, ce = _enc_comments(cur)[dropped[0]]
        reps.append(splice.Replacement(cs - 1 if src.text[cs - 1] == " " else cs, ce, ""))
    staged = splice.apply(src.text, reps)
    result = reapply(staged, _drop_comments(canonical, dropped), rel)
    check(sops, result, expected, splice.load_all(expected), rel)
    return src.encode(result)


def _restyle(text: str, old: splice.Scalar, value: str, rel: str) -> tuple[splice.Replacement, str, int]:
    """The edit that writes ``value`` where ``old`` stands, with its style and indentation.

    The new value keeps the old style when that style can hold it exactly; otherwise double quotes
    (or a literal block for multi-line text), which can hold anything."""
    style = old.style
    indent = splice.indent_of_block(text, old.start, old.end) if style in ("|", ">") else 0
    rendered = splice.render(value, style, indent, new=True)
    if rendered is None:
        style = "|" if "\n" in value and not old.flow else '"'
        indent = indent or splice.block_indent(text, old.start)
        rendered = splice.render(value, style, indent, new=True)
    if rendered is None:  # pragma: no cover - double quotes and literal blocks hold any string
        raise DataError(f"{rel}: {splice.fmt_path(old.path)}: cannot write this value")
    tail = splice.block_tail(text[old.start : old.end]) if old.style in ("|", ">") else ""
    return splice.Replacement(old.start, old.end, rendered + tail), style, indent


Changes = Mapping[tuple[Any, ...], "str | None"]


def edit_text(text: str, rel: str, changes: Changes) -> str:
    """Plaintext YAML with some string values of the first document changed, added (a new last entry
    of an existing block mapping) or removed (None), everything else exactly as it was."""
    p = splice.parse(text, rel)
    here = {s.path: s for s in p.scalars if s.doc == 0 and s.start >= 0}
    reps: list[splice.Replacement] = []
    added: dict[tuple[Any, ...], list[tuple[str, str]]] = {}
    for path, value in changes.items():
        old = here.get(path)
        if old is not None and old.flow:
            raise DataError(f"{rel}: {splice.fmt_path(path)} is inside a flow collection; use block style")
        if old is not None and value is not None:
            if old.value != value:
                reps.append(_restyle(text, old, value, rel)[0])
        elif old is not None:  # the whole `key: value` line(s)
            reps.append(splice.Replacement(splice.line_start(text, old.start), splice.line_after(text, old.end), ""))
        elif value is not None:
            key = path[-1]
            added.setdefault(path[:-1], []).append(
                (
                    splice.render(key, "", 0, new=True) or json.dumps(key),
                    splice.render(value, "", 0, new=True) or json.dumps(value, ensure_ascii=False),
                )
            )
    for parent, entries in added.items():
        siblings = [s for s in here.values() if s.path[:-1] == parent and len(s.path) == len(parent) + 1]
        if not siblings or any(s.style in ("|", ">") for s in siblings):
            raise DataError(f"{rel}: {splice.fmt_path(parent)}: no block mapping to add {entries[0][0]} to")
        first, last = min(siblings, key=lambda s: s.start), max(siblings, key=lambda s: s.end)
        line = text[splice.line_start(text, first.start) : first.start]
        column = len(line) - len(line.lstrip(" "))
        at = splice.line_after(text, last.end)
        reps.append(splice.Replacement(at, at, "".join(f"{' ' * column}{k}: {v}\n" for k, v in entries)))
    return splice.apply(text, reps) if reps else text


def update(sops: Sops, data: bytes, rel: str, changes: Callable[[Any], Changes | None]) -> bytes | None:
    """Change values, encrypted or plaintext-but-MAC-covered (annotations), in one sops operation.

    ``changes`` gets the decrypted first document and returns the edits (see ``edit_text``), or None
    when the file cannot be changed in place (the caller renders it anew; also the answer for a
    file that is not encrypted). The decrypted text is
    edited in its own layout and encrypted with the formatting-preserving ``encrypt``, so the diff
    shows the changed values, their ciphertext and the sops block, nothing else. Returns ``data``
    when nothing changes.
    """
    src = Text(data, rel)
    if not any(splice.parse(src.text, rel).sops_spans):
        return None  # not encrypted: nothing to keep
    before = Text(decrypt(sops, data, rel), rel).text
    docs = splice.load_all(before)
    edits = changes(docs[0] if docs else None)
    if edits is None:
        return None
    after = edit_text(before, rel, edits)
    if after == before:
        return data
    return encrypt(sops, src.encode(after), rel)


def _drop_comments(canonical: str, indices: list[int]) -> str:
    """Remove the encrypted comments with these indices (document order) from sops's output."""
    if not indices:
        return canonical
    cuts = [m.span() for i, m in enumerate(_ENC_COMMENT.finditer(canonical)) if i in indices]
    return splice.apply(canonical, [splice.Replacement(s, splice.line_after(canonical, e), "") for s, e in cuts])


def relative(root: Path, path: Path) -> str:
    """``path`` relative to the repository root (sops picks the creation rule from it)."""
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        raise ConfigError(f"{path}: outside the repository {root}; pass --repo") from None


def target(root: Path, path: Path) -> str:
    """``relative`` for a file about to be rewritten: a regular file inside the repository, not a
    symbolic link (rewriting would replace the link, or write outside the repository)."""
    import stat

    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        raise NoInputError(f"{path}: file does not exist") from None
    except OSError as exc:
        raise NoInputError(f"{path}: cannot read ({exc.strerror})") from None
    if stat.S_ISLNK(mode):
        raise DataError(
            f"{path}: is a symbolic link; name the file it points to (aigw-secrets rewrites regular files only)"
        )
    if not stat.S_ISREG(mode):
        raise DataError(f"{path}: not a regular file")
    return relative(root, path)


def rewrite_each(
    root: Path, paths: Sequence[Path], op: Callable[[Sops, bytes, str], bytes]
) -> list[tuple[Path, str | AigwError]]:
    """Apply a whole-file sops operation (updatekeys, rotate) to every file in parallel and write the
    files that changed; per file: "unchanged", "changed" or the error."""
    sops = Sops(root)

    def one(path: Path) -> tuple[Path, str | AigwError]:
        try:
            rel = target(root, path)
            data = read(path)
            new = op(sops, data, rel)
            if new == data:
                return path, "unchanged"
            atomic_write(path, new)
            return path, "changed"
        except AigwError as exc:
            return path, exc

    return list(parallel_map(one, paths))


def minimal_reencrypt(sops: Sops, data: bytes, plain: bytes, edited: bytes, rel: str) -> bytes:
    """Only changed values get new ciphertext when only values changed; otherwise a fresh encryption."""
    before = splice.parse(Text(plain, rel).text, rel)
    after = splice.parse(Text(edited, rel).text, rel)
    same_shape = [s.path for s in before.scalars] == [s.path for s in after.scalars]
    enc = splice.parse(Text(data, rel).text, rel)
    encrypted = {s.path for s in enc.scalars if splice.is_enc(s.value) and s.path[:1] != ("sops",)}
    changed = [a for b, a in zip(before.scalars, after.scalars, strict=False) if b.value != a.value]
    if same_shape and changed and all(s.path in encrypted and isinstance(s.value, str) for s in changed):
        current = data
        for s in changed:
            current = set_value(sops, current, rel, s.path, s.value)
        if decrypt(sops, current, rel) == edited:
            return current
    return encrypt(sops, edited, rel)
