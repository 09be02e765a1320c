"""Reading YAML scalars as sops does: Go's yaml.v3 (``go.yaml.in/yaml/v3``, decoding each scalar node
into ``interface{}``), not PyYAML's YAML 1.1.

The two disagree on many plain scalars, and the engine compares its reading of a file with what
sops wrote or decrypted, so it must read every value as sops does (yaml.v3 ``resolve.go``):

* booleans are ``true``/``True``/``TRUE`` and ``false``/``False``/``FALSE`` only (``yes``, ``no``,
  ``on``, ``off``, ``y``, ``n`` are strings); null is ``~``, ``null``, ``Null``, ``NULL`` or nothing;
* integers as Go's ``strconv.ParseInt(s, 0, 64)`` after removing every ``_``: ``0x1F``, ``0o17``,
  ``0b101`` and the YAML 1.1 octal ``017`` (15); ``08`` is not an integer but the float 8;
* floats: ``1.5``, ``1e3``, ``.5``, ``.inf``/``-.Inf``/``.NaN`` (three spellings each); no
  sexagesimal (``1:20`` is a string); a float that overflows is a string;
* timestamps (``2001-12-14``, ``2001-12-14T21:59:43.10-05:00``, ``2001-12-14 21:59:43``) are Go
  ``time.Time`` values; sops encrypts them as ``type:time`` and writes them back in RFC 3339
  (``2001-12-14T00:00:00Z``): ``GoTime`` holds that text;
* ``=`` and a plain ``<<`` value are strings; ``!!binary`` is the decoded bytes as a string (bytes
  when they are not UTF-8); an explicit ``!!int``/``!!float``/``!!bool``/``!!null``/``!!timestamp``
  converts its text as yaml.v3 does (``!!float 1`` is 1.0; ``!!int "17"`` is 17), and an unknown tag
  (``!vault x``) leaves the text a string.

NaN is one object (``NAN``) wherever it is read, so documents holding it compare equal (Python
compares container items by identity first).
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from typing import Any

import yaml

NAN = math.nan
STR = "tag:yaml.org,2002:str"
INT = "tag:yaml.org,2002:int"
FLOAT = "tag:yaml.org,2002:float"
BOOL = "tag:yaml.org,2002:bool"
NULL = "tag:yaml.org,2002:null"
TIMESTAMP = "tag:yaml.org,2002:timestamp"
BINARY = "tag:yaml.org,2002:binary"
MERGE = "tag:yaml.org,2002:merge"
# Tags whose value yaml.v3 converts (any other tag leaves the text a string).
RESOLVED = frozenset({STR, INT, FLOAT, BOOL, NULL, TIMESTAMP})
# Explicit tags under which an ``ENC[...]`` string is not a string to yaml.v3 (it fails to convert).
CONVERTING = frozenset({INT, FLOAT, BOOL, NULL, TIMESTAMP, BINARY})


class GoTime:
    """A timestamp as sops holds it (Go ``time.Time``), by its ``MarshalText`` form (RFC 3339 with
    nanoseconds, trailing zeros dropped, ``Z`` for UTC): what sops encrypts and puts in the MAC."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GoTime) and other.text == self.text

    def __hash__(self) -> int:
        return hash(("GoTime", self.text))

    def __repr__(self) -> str:
        return f"GoTime({self.text!r})"


_MAP: dict[str, tuple[str, Any]] = {}
for _words, _tag, _value in (
    (("true", "True", "TRUE"), BOOL, True),
    (("false", "False", "FALSE"), BOOL, False),
    (("", "~", "null", "Null", "NULL"), NULL, None),
    ((".nan", ".NaN", ".NAN"), FLOAT, NAN),
    ((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), FLOAT, math.inf),
    (("-.inf", "-.Inf", "-.INF"), FLOAT, -math.inf),
):
    for _w in _words:
        _MAP[_w] = (_tag, _value)

_YAML_STYLE_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
# strconv.ParseFloat of a text starting with '.': Go literal syntax, '_' only between digits
_DOT_FLOAT = re.compile(r"\.[0-9](_?[0-9])*([eE][-+]?[0-9](_?[0-9])*)?")
_DIGITS = {16: "0123456789abcdefABCDEF", 10: "0123456789", 8: "01234567", 2: "01"}
INT64 = (-(2**63), 2**63 - 1)
UINT64_MAX = 2**64 - 1


def _go_int(text: str) -> int | None:
    """``strconv.ParseInt(text, 0, 64)``, else ``ParseUint(text, 0, 64)`` (no sign); None if neither."""
    body = text[1:] if text[:1] in "+-" else text
    low = body[:2].lower()
    if low in ("0x", "0o", "0b"):
        base, digits = {"0x": 16, "0o": 8, "0b": 2}[low], body[2:]
    elif body.startswith("0") and len(body) > 1:
        base, digits = 8, body[1:]
    else:
        base, digits = 10, body
    if not digits or any(c not in _DIGITS[base] for c in digits):
        return None
    value = int(digits, base) * (-1 if text.startswith("-") else 1)
    if INT64[0] <= value <= INT64[1]:
        return value
    if not text.startswith(("+", "-")) and value <= UINT64_MAX:
        return value  # Go uint64: sops refuses to encrypt it ("unknown type"), and says so
    return None


def _go_float(text: str) -> float | None:
    """``strconv.ParseFloat(text, 64)`` of a syntactically valid decimal: None when it overflows."""
    value = float(text.replace("_", ""))
    return None if math.isinf(value) else value


_TS = re.compile(
    r"(?P<y>[0-9]{4})-(?P<mo>[0-9]{1,2})-(?P<d>[0-9]{1,2})"
    r"(?:(?P<sep>[Tt ])(?P<h>[0-9]{1,2}):(?P<mi>[0-9]{1,2}):(?P<s>[0-9]{1,2})"
    r"(?:[.,](?P<frac>[0-9]+))?(?P<tz>Z|[-+][0-9]{2}:[0-9]{2})?)?"
)


def _days_in(year: int, month: int) -> int:
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def parse_timestamp(text: str) -> GoTime | None:
    """yaml.v3 ``parseTimestamp``: Go ``time.Parse`` with the layouts ``2006-1-2T15:4:5.999999999Z07:00``
    (also lower-case ``t``), ``2006-1-2 15:4:5.999999999`` (no zone: UTC) and ``2006-1-2``."""
    m = _TS.fullmatch(text)
    if m is None:
        return None
    if m["sep"] is not None and (m["sep"] == " ") == (m["tz"] is not None):
        return None  # a zone goes with T/t only, and T/t needs one
    year, month, day = int(m["y"]), int(m["mo"]), int(m["d"])
    if not 1 <= month <= 12 or not 1 <= day <= _days_in(year, month):
        return None
    hour, minute, second = (int(m[k]) if m[k] is not None else 0 for k in ("h", "mi", "s"))
    if hour > 23 or minute > 59 or second > 59:
        return None
    out = f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}"
    frac = (m["frac"] or "")[:9].rstrip("0")
    if frac:
        out += "." + frac
    tz = m["tz"]
    if tz is None or tz == "Z" or tz[1:] == "00:00":
        return GoTime(out + "Z")
    if int(tz[1:3]) > 24 or int(tz[4:6]) > 60:
        return None
    return GoTime(out + tz)


def resolve(text: str, tag: str = "") -> tuple[str, Any]:
    """yaml.v3 ``resolve(tag, in)`` for a scalar: (the tag it resolves to, its value). ``tag`` is ""
    for a plain scalar without a tag, else one of RESOLVED. Raises ValueError where yaml.v3 fails
    (``!!int abc``; sops then reads the value as null)."""
    rtag, value = _resolve(text, tag)
    if tag in ("", rtag, STR):
        return rtag, value
    if tag == FLOAT and rtag == INT and isinstance(value, int):
        return FLOAT, float(value)
    raise ValueError(f"cannot decode {rtag.rsplit(':', 1)[-1]} as {tag.rsplit(':', 1)[-1]}")


def _hint(first: str) -> str:
    """yaml.v3's resolve table: what the first character says the scalar may be."""
    if not first:
        return "N"  # the empty scalar: null
    if first in "+-":
        return "S"
    if first in "0123456789":
        return "D"
    if first in "yYnNtTfFoO~":
        return "M"
    return "." if first == "." else ""


def _resolve(text: str, tag: str) -> tuple[str, Any]:
    hint = _hint(text[:1])
    if not hint or tag == STR:
        return STR, text
    if text in _MAP:
        return _MAP[text]
    if hint == "." and _DOT_FLOAT.fullmatch(text):
        value = _go_float(text)
        if value is not None:
            return FLOAT, value
    elif hint in "DS":
        if tag in ("", TIMESTAMP):
            stamp = parse_timestamp(text)
            if stamp is not None:
                return TIMESTAMP, stamp
        plain = text.replace("_", "")
        number = _go_int(plain)
        if number is not None:
            return INT, number
        if _YAML_STYLE_FLOAT.fullmatch(plain):
            value = _go_float(plain)
            if value is not None:
                return FLOAT, value
    return STR, text


def binary(text: str) -> str | bytes:
    """``!!binary``: Go's ``base64.StdEncoding.DecodeString`` (line breaks ignored), as a string when
    the bytes are UTF-8 (sops holds a Go string either way)."""
    try:
        data = base64.b64decode(text.replace("\n", "").replace("\r", ""), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("!!binary value contains invalid base64 data") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data


def scalar_value(tag: str, text: str) -> Any:
    """The value of a scalar node with this (resolved or explicit) tag, as yaml.v3 decodes it."""
    if tag == BINARY:
        return binary(text)
    if tag == MERGE:
        return text
    if tag not in RESOLVED:
        return text  # an unknown tag: yaml.v3 leaves the text as it is
    return resolve(text, tag)[1]


class _GoMixin:
    """PyYAML's resolver and constructors replaced by yaml.v3's rules (mixed into a PyYAML loader)."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is yaml.ScalarNode and implicit[0]:
            if value == "<<":
                return MERGE  # yaml.v3 tags a plain << as a merge key; as a value it is the string "<<"
            return _resolve(value, "")[0]
        return super().resolve(kind, value, implicit)  # type: ignore[misc] # the PyYAML base class has it

    def flatten_mapping(self, node: Any) -> None:
        """sops does not merge: a ``<<`` key stays a key (the engine refuses it: see splice)."""

    def construct_go_scalar(self, node: Any) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            return self.construct_go_other(node)
        try:
            return scalar_value(node.tag, node.value)
        except ValueError as exc:
            raise yaml.constructor.ConstructorError(None, None, str(exc), node.start_mark) from None

    def construct_go_other(self, node: Any) -> Any:
        """A collection with a tag of its own (``!custom {a: 1}``): yaml.v3 decodes it as if untagged."""
        if isinstance(node, yaml.MappingNode):
            return self.construct_yaml_map_untagged(node)
        if isinstance(node, yaml.SequenceNode):
            return self.construct_sequence(node, deep=True)  # type: ignore[attr-defined] # PyYAML BaseConstructor
        return self.construct_go_scalar(node)

    def construct_yaml_map_untagged(self, node: Any) -> Any:
        return self.construct_mapping(node, deep=True)  # type: ignore[attr-defined] # PyYAML BaseConstructor


def _register(cls: Any) -> Any:
    cls.yaml_constructors = dict(cls.yaml_constructors)
    for tag in (*RESOLVED, BINARY, MERGE):
        cls.yaml_constructors[tag] = _GoMixin.construct_go_scalar
    cls.yaml_constructors[None] = _GoMixin.construct_go_other
    return cls


_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when PyYAML was built with it


@_register
class Loader(_GoMixin, _Base):  # type: ignore[misc] # PyYAML has no annotations
    """yaml.v3's reading on libyaml's parser (marks are character indices either way)."""


@_register
class RedefiningLoader(_GoMixin, yaml.SafeLoader):
    """As ``Loader``, and an anchor may be defined again, as YAML 1.2, go-yaml and so sops allow (an
    alias refers to the latest definition); PyYAML alone refuses it."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()  # type: ignore[no-untyped-call] # PyYAML has no annotations here
        anchor = getattr(event, "anchor", None)
        if anchor is not None and not isinstance(event, yaml.AliasEvent):
            self.anchors.pop(anchor, None)
        return super().compose_node(parent, index)


def plain_text(value: Any) -> str | None:
    """A plain scalar that yaml.v3 reads as ``value`` (a non-string one: bool, null, number, time,
    non-UTF-8 bytes), or None."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        return repr(value)
    if isinstance(value, GoTime):
        return value.text
    if isinstance(value, bytes):
        return "!!binary " + base64.b64encode(value).decode("ascii")
    return None


def same(a: Any, b: Any) -> bool:
    """Equal as sops sees values: NaN equals NaN, a bool is not the number 1, an int equals the same
    float (sops writes the float 1000.0 as ``1000``, which reads back as an int; the MAC is the same)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return bool(a == b)
