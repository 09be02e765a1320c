"""Placeholders vs real keys: a word inside random key material is chance, not a placeholder."""

from __future__ import annotations

import pytest

from aigw_secrets.scanner.scan import scan_file
from aigw_secrets.shapes import is_placeholder
from testing import fakes


@pytest.mark.parametrize(
    "value",
    [
        "changeme",
        "sk-your-key-here",
        "<your-api-key>",
        "AKIAIOSFODNN7EXAMPLE",
        "sk-proj-xxxxxxxx",
        "replace-with-your-key",
        "REDACTED",
        "token_TODO",
        "${OPENAI_API_KEY}",
        "v0",  # shorter than four characters: no credential
        " 'abc' ",
    ],
)
def test_placeholders(value: str) -> None:
    assert is_placeholder(value)


def test_words_inside_random_key_material_do_not_hide_a_key() -> None:
    """Found by the random corpus: a key whose random part held "-TODo" was taken for a placeholder."""
    key = fakes.anthropic_key()
    key = key[:20] + "-TODo" + key[25:]
    assert not is_placeholder(key)
    assert {f.rule for f in scan_file("a.env", f"ANTHROPIC_API_KEY={key}\n".encode())[0]} == {"anthropic-api-key"}
    assert is_placeholder("sk-ant-api03-" + "x" * 93 + "AA")  # full length, but typed filler


def test_private_key_body_with_a_word_is_still_a_key() -> None:
    sa = fakes.gcp_service_account()
    lines = sa["private_key"].split("\n")
    lines[3] = "todo" + lines[3][4:]
    sa["private_key"] = "\n".join(lines)
    import json

    found = {f.rule for f in scan_file("sa.json", json.dumps(sa, indent=2).encode())[0]}
    assert "gcp-service-account-key" in found


def test_words_inside_a_pem_body_are_chance() -> None:
    """1 run in 15 missed the service-account key: its base64 held '/todo+' after a line break."""
    from aigw_secrets.shapes import is_placeholder

    body = "\n".join(
        ["-----BEGIN PRIVATE KEY-----", "A" * 60 + "/x1/", "todo+" + "B" * 59, "-----END PRIVATE KEY-----"]
    )
    assert not is_placeholder(body)
