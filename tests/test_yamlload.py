"""The parse-once loaders: the same answers as PyYAML's, a copy each time, errors every time."""

from __future__ import annotations

import pytest
import yaml

from aigw_secrets import yamlload


def test_same_answers_as_pyyaml_and_a_copy_each_time() -> None:
    text = "a: {b: [1, 2]}\nwhen: 2024-01-02\n"
    first = yamlload.safe_load(text)
    assert first == yaml.safe_load(text)
    first["a"]["b"].append(3)  # a caller changes what it got
    assert yamlload.safe_load(text) == yaml.safe_load(text)
    docs = yamlload.safe_load_all("x: 1\n---\n---\ny: [2]\n")
    assert docs == list(yaml.safe_load_all("x: 1\n---\n---\ny: [2]\n"))
    docs[2]["y"].clear()
    assert yamlload.safe_load_all("x: 1\n---\n---\ny: [2]\n")[2] == {"y": [2]}
    assert yamlload.safe_load("x: 1\n") != yamlload.safe_load_all("x: 1\n")  # one document, or the list


def test_an_error_raises_every_time_and_the_cache_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    for _ in range(2):
        with pytest.raises(yaml.YAMLError):
            yamlload.safe_load("a: [\n")
        with pytest.raises(yaml.YAMLError):
            yamlload.safe_load_all("ok: 1\n---\nb: {\n")  # the second document: nothing returned
    monkeypatch.setattr(yamlload, "_KEPT", 3)
    monkeypatch.setattr(yamlload, "_LONGEST", 20)
    for i in range(10):
        assert yamlload.safe_load(f"n: {i}\n") == {"n": i}
    assert yamlload.safe_load("long: " + "x" * 30) == {"long": "x" * 30}
    assert len(yamlload._cache) <= 3 and all(len(text) <= 20 for _every, text in yamlload._cache)


@pytest.mark.parametrize(
    ("text", "tag"),
    [
        ("a: !!int sk-not-a-number\n", "!!int"),
        ("a: !!float x\n", "!!float"),
        ("a: !!bool maybe\n", "!!bool"),
        ("a: !!timestamp 2020-99-99\n", "!!timestamp"),
        ("a: !!timestamp x\n", "!!timestamp"),
        ("- !!int\n", "!!int"),
    ],
)
def test_a_value_its_tag_does_not_fit_is_a_yaml_error_naming_the_line_not_the_value(text: str, tag: str) -> None:
    """PyYAML's own constructors raise ValueError, KeyError or IndexError here: every reader would
    report an internal error instead of the file's line."""
    for load in (yamlload.load, yamlload.load_all, yamlload.safe_load):
        with pytest.raises(yaml.YAMLError) as caught:
            load(text)
        assert f"a value tagged {tag} that is not one" in str(caught.value)
        assert "line 1" in str(caught.value) and "sk-not" not in str(caught.value)
