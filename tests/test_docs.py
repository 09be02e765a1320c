"""The README documents every configuration key and gives the two set-up-to-result commands."""

from __future__ import annotations

from pathlib import Path

from aigw_secrets.gateway.providers import COMMON_SETTINGS, PROVIDERS, all_keys

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_every_config_key_is_documented() -> None:
    missing = []
    for key, (provider, name, _spec) in all_keys().items():
        generic = provider is not None and name in COMMON_SETTINGS and f"`ai_gateway_<p>_{name}`" in README
        if key not in README and not generic:
            missing.append(key)
    assert missing == []
    for provider in PROVIDERS.values():
        assert f"`{provider.key}`" in README


def test_first_screen_has_the_two_commands() -> None:
    first_screen = README.split("---", 1)[0]
    commands = [line.split("#")[0].strip() for line in first_screen.splitlines() if line.startswith("./scripts/")]
    assert commands == ["./scripts/demo", "./scripts/test"]
    assert "./scripts/test" in (ROOT / ".ci/run").read_text()
