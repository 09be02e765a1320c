"""Generated objects are written by yamltext's own writer where it knows the object's scalars, by
PyYAML otherwise; either way the bytes are PyYAML's (files written by earlier versions stay
unchanged). The property: for any object, the own writer gives PyYAML's text or declines."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aigw_secrets.gateway import yamltext

# What manifests hold, and what PyYAML quotes, folds or writes another way: resolver look-alikes
# (timestamps, booleans, numbers, null, "="), indicators at the start, ": " and " #", trailing
# colons and spaces, quotes, line breaks, non-ASCII, an empty key, a key of 128 characters.
TOKENS = [
    "",
    "ai-gateway",
    "openai-apikey",
    "api.openai.com",
    "https://api.openai.com/v1",
    "Qwen/Qwen2.5-0.5B-Instruct",
    "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
    "aigw-secrets.io/content-hash",
    "scrypt$ln=4,r=1,p=1$f0fS+u3KPahG/TZ==$abc=",
    "AWS Bedrock (OpenAI-compatible, SigV4)",
    "2026-12-06T07:35:26Z",
    "2001-12-14",
    "12:30:45",
    "true",
    "yes",
    "Off",
    "null",
    "~",
    "=",
    "<<",
    "3",
    "012",
    "0x1F",
    "1_000",
    "1e3",
    ".5",
    ".inf",
    "-1",
    "+1",
    "- a",
    "-a",
    "a-",
    "a:",
    "a:b",
    "a: b",
    "a :b",
    "::",
    "a #b",
    "a#b",
    "#a",
    "@a",
    "a@b",
    ",a",
    "a,",
    "(a)",
    " a",
    "a ",
    "a  b",
    "a\tb",
    "a\nb",
    "a\n",
    "'a'",
    'a"b',
    "é",
    "[a]",
    "{a}",
    "*a",
    "&a",
    "!a",
    "%a",
    "?a",
    "|",
    ">",
    "...",
    "...x",
    "....",
    ".../v1",
    "..",
    "a...",
    "x" * 99,
    "x" * 128,
    "x " * 1200,
    "y" * 2100,
]
ALPHABET = "abXY09_./@+=:$,() -#'\"\n\té"
PLAIN = "abXY09_./@+=:$,() -"  # what the own writer may take (it still declines "a:", " a", "a: b", ...)
strings = st.one_of(
    st.sampled_from(TOKENS),
    st.text(ALPHABET, max_size=12),
    st.lists(st.sampled_from(TOKENS), min_size=2, max_size=3).map("".join),
)
plain_strings = st.one_of(
    st.sampled_from(TOKENS[1:30]),
    st.builds(
        lambda first, middle, last: first + middle + last,
        st.sampled_from(["a", "X", "0", "_", ".", "/", "..."]),
        st.text(PLAIN, max_size=10),
        st.sampled_from("bY9_./@+=$,()-"),
    ),
)


def _objects(text: st.SearchStrategy[str], scalar: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    values = st.recursive(
        st.one_of(text, scalar),
        lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(text, inner, max_size=4)),
        max_leaves=20,
    )
    return st.dictionaries(text, values, max_size=5)


anything = _objects(strings, st.one_of(st.integers(), st.booleans(), st.none(), st.floats(allow_nan=False)))
manifest_like = _objects(plain_strings, st.one_of(st.integers(), st.booleans(), st.none()))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(anything, manifest_like))
def test_the_own_writer_writes_what_pyyaml_writes_or_declines(obj: dict[str, Any]) -> None:
    mine = yamltext._simple(obj)
    assert mine is None or mine == yamltext._pyyaml(obj)


def test_a_manifest_of_names_urls_numbers_and_timestamps_is_written_by_the_own_writer() -> None:
    obj = {
        "apiVersion": "aigateway.envoyproxy.io/v1beta1",
        "kind": "AIServiceBackend",
        "metadata": {
            "name": "openai",
            "namespace": "ai-gateway",
            "annotations": {"aigw-secrets.io/generation": "3", "aigw-secrets.io/rotated-at": "2026-12-06T07:35:26Z"},
            "labels": {},
        },
        "spec": {
            "schema": {"name": "OpenAI", "prefix": "/v1"},
            "backendRef": {"name": "openai", "kind": "Backend", "group": "gateway.envoyproxy.io", "port": 443},
            "headers": [],
            "rules": [{"matches": [{"headers": [{"name": "x-ai-eg-model", "value": "gpt-4o-mini"}]}]}, [["a"], "b"]],
            "enabled": True,
            "owner": "AWS Bedrock (OpenAI-compatible, SigV4)",
            "none": None,
        },
    }
    assert yamltext._simple(obj) is not None
    assert yamltext.dump([obj]) == "---\n" + yamltext._pyyaml(obj)


def test_anything_else_goes_to_pyyaml() -> None:
    obj = {"kind": "Secret", "stringData": {"credentials": "[default]\naws_access_key_id = AKIA\n"}}
    assert yamltext._simple(obj) is None
    assert yamltext.dump([obj], markers=False) == yamltext._pyyaml(obj)
    assert "credentials: |" in yamltext.dump([obj], markers=False)


def test_a_name_starting_with_a_document_end_marker_is_quoted_as_pyyaml_quotes_it() -> None:
    obj = {"spec": {"model": "...x", "other": "..", "prefix": "a..."}}
    assert yamltext.dump([obj], markers=False) == "spec:\n  model: '...x'\n  other: ..\n  prefix: a...\n"
