"""The generation a Secret's annotations record, as both rotations (SOPS and External Secrets) read it."""

from __future__ import annotations

import pytest

from aigw_secrets.errors import ConfigError
from aigw_secrets.gateway import secretdoc


def test_generation_defaults_to_one_and_refuses_what_is_not_a_whole_number() -> None:
    assert secretdoc.generation({}, "x.sops.yaml") == 1
    assert secretdoc.generation({"aigw-secrets.io/generation": " 7 "}, "x.sops.yaml") == 7
    for bad in ("-1", "1.5", "ten", "1" * 10):
        with pytest.raises(ConfigError, match=r"^x.sops.yaml: annotation aigw-secrets.io/generation is not a whole"):
            secretdoc.generation({"aigw-secrets.io/generation": bad}, "x.sops.yaml")
