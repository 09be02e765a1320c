"""A committed manifest whose metadata, annotations or spec are not the mappings generate writes
(a contributor's hand, or an attacker's): every reader compares or reads it without crashing, and
none takes it for the object generate would write."""

from __future__ import annotations

from typing import Any

import pytest

from aigw_secrets.gateway import externalsecrets, plan, secretdoc

SECRET = {
    "apiVersion": "v1",
    "kind": "Secret",
    "type": "Opaque",
    "metadata": {
        "name": "openai-apikey",
        "namespace": "ai-gateway",
        "annotations": {"aigw-secrets.io/generation": "1"},
    },
    "stringData": {"apiKey": "x"},
}
BAD_METADATA = ["a string", ["a", "list"], 3]
BAD_ANNOTATIONS = ["a string", ["aigw-secrets.io/generation"], 3]


def _with(doc: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**doc, **changes}


@pytest.mark.parametrize("meta", BAD_METADATA)
def test_a_secret_with_metadata_of_another_shape_is_never_kept_nor_edited(meta: Any) -> None:
    bad = _with(SECRET, metadata=meta)
    assert plan._same_shape(bad, SECRET) is False
    assert secretdoc.secret_changes(bad, SECRET) is None


@pytest.mark.parametrize("ann", BAD_ANNOTATIONS)
def test_a_secret_with_annotations_of_another_shape_is_never_kept_nor_edited(ann: Any) -> None:
    bad = _with(SECRET, metadata={**SECRET["metadata"], "annotations": ann})
    assert plan._same_shape(bad, SECRET) is False
    assert secretdoc.secret_changes(bad, SECRET) is None


def test_an_external_secret_of_other_shapes_has_none_generate_would_keep() -> None:
    good = {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": {"name": "openai", "annotations": {"aigw-secrets.io/generation": "2"}},
        "spec": {
            "target": {"template": {"data": {"apiKey": "{{ .apiKey }}"}}},
            "data": [{"secretKey": "apiKey", "remoteRef": {"key": "aigw/openai"}}],
        },
    }
    assert externalsecrets.shape(good) is not None
    for bad in (
        _with(good, metadata="x"),
        _with(good, metadata={"name": "openai", "annotations": ["x"]}),
        _with(good, spec="x"),
        _with(good, spec={"target": "x", "data": "x"}),
        _with(good, spec={"target": {"template": {"data": ["apiKey"]}}, "data": [{"remoteRef": "x"}, "y"]}),
    ):
        assert externalsecrets.shape(bad) != externalsecrets.shape(good)
