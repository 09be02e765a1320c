"""The real sops as the judge of every change to a ``.sops.yaml`` that ``doctor`` suggests: the edit
is applied to a copy, which sops must load and use to encrypt a probe Secret; advice sops would
refuse is never given as an edit."""

from __future__ import annotations

import os
import re
from typing import NamedTuple

import yaml

from aigw_secrets.sops import agekeys
from aigw_secrets.sops import binary as sops_binary
from aigw_secrets.sops import config as sops_config

_PROBE = b"apiVersion: v1\nkind: Secret\nmetadata:\n  name: aigw-doctor-probe\nstringData:\n  probe: value\n"

# A path no creation rule of a real repository is written for: sops then only loads the config
# and compiles the path regexes (a catch-all rule may still match it, which is fine).
_NO_MATCH = "aigw-doctor-probe/nothing-matches-this.bin"

# Value-free fragments of sops's config errors, and how we say them.
_CONFIG_ERRORS = (
    ("Could not unmarshal config file", "sops cannot read it as its config"),
    ("can not compile regexp", "a path_regex is not a valid Go regular expression"),
    ("cannot use more than one of", "a rule has more than one selector"),
    ("key configuration", "a key list has the wrong type"),
    ("error loading config", "sops cannot load it"),
)


class Judge:
    """Asks sops (``binary.trial``) whether it accepts a copy of a ``.sops.yaml``."""

    def __init__(self) -> None:
        self.binary = sops_binary.find_binary()
        self.recipient = agekeys.generate_in_process().recipient  # throwaway: probes are never decrypted
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("SOPS_")}
        self.env.update(SOPS_DISABLE_VERSION_CHECK="1", GOMAXPROCS="1")
        self.original = ""  # the config being checked, as it is
        self._loads: dict[str, str | None] = {}

    def _sops(self, config_text: str, filename: str) -> tuple[int, str, str]:
        res = sops_binary.trial(config_text, filename, _PROBE, binary=self.binary, env=self.env)
        return res.returncode, res.stdout.decode("utf-8", "replace"), res.stderr.decode("utf-8", "replace")

    def loads(self, config_text: str) -> str | None:
        """None when sops loads the config (all of it: YAML, anchors, every path_regex up to a
        match); else why not."""
        if config_text not in self._loads:
            code, _out, err = self._sops(config_text, _NO_MATCH)
            ok = code == 0 or "no matching creation rules found" in err
            self._loads[config_text] = (
                None if ok else next((reason for fragment, reason in _CONFIG_ERRORS if fragment in err), None)
            )
        return self._loads[config_text]

    def rule(self, config_text: str, position: int) -> tuple[str | None, str]:
        """Whether sops accepts rule ``position`` of the config (its selectors and their regexes)
        when it encrypts a probe Secret; recipients are replaced by a throwaway age key, path_regex
        is dropped so that the probe matches. Returns (why not | None, sops's output)."""
        try:
            data = yaml.safe_load(config_text)
            rule = dict(data["creation_rules"][position])
        except (yaml.YAMLError, KeyError, IndexError, TypeError, ValueError):
            return "the rule cannot be read", ""
        for key in ("path_regex", *sops_config.KEY_SOURCES):
            rule.pop(key, None)
        rule["age"] = self.recipient
        probe = {
            "creation_rules": [rule],
            **({"stores": data["stores"]} if isinstance(data.get("stores"), dict) else {}),
        }
        code, out, err = self._sops(yaml.safe_dump(probe), "probe.yaml")
        if code == 0:
            return None, out
        return next((reason for fragment, reason in _CONFIG_ERRORS if fragment in err), f"sops exit {code}"), ""


class Fix(NamedTuple):
    advice: str
    text: str  # the whole .sops.yaml after the change
    rule: int | None = None  # the rule whose behaviour sops must accept
    keeps_metadata: bool = False  # the probe Secret's apiVersion must stay plain, its stringData encrypted


def verified(judge: Judge | None, fix: Fix) -> str:
    """The advice, when sops accepts the changed config; otherwise advice that sops cannot refuse."""
    if judge is None:
        return fix.advice
    why = judge.loads(fix.text)
    if why is not None and why == judge.loads(judge.original):
        why = None  # refused as the unchanged config is, for another finding's reason
    if why is None and fix.rule is not None:
        why, out = judge.rule(fix.text, fix.rule)
        if (
            why is None
            and fix.keeps_metadata
            and not (re.search(r"(?m)^apiVersion: v1$", out) and re.search(r"(?m)^\s+probe: ENC\[", out))
        ):
            why = "it would not keep apiVersion in clear"
    if why is None:
        return fix.advice + " (checked with sops)"
    return f"{fix.advice}, by hand: the edit this tool would make was refused by sops ({why})"
