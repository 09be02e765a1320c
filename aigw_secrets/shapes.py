"""Is this value a placeholder rather than a real credential? Shared by input checks and the scanner."""

from __future__ import annotations

import re

_TEMPLATE = re.compile(r"^(<[^>]*>|\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*|\{\{.*\}\}|#\{.*\}#|%\(.*\)s|\[.*\])$", re.S)
_WORDS = re.compile(
    r"change[-_ ]?me|replace[-_ ]?(me|with|this)|placeholder|your[-_ ]|<your|example|dummy|redacted|"
    r"not[-_ ]?a[-_ ]?real|fake[-_ ]?key|insert[-_ ]|todo|fixme|secret[-_]?here|key[-_]?here|xxxx|\*\*\*|\.\.\.",
    re.I,
)
_PREFIXES = ("sk-proj-", "sk-svcacct-", "sk-admin-", "sk-ant-api03-", "sk-ant-admin01-", "sk-ant-", "sk-", "gsk_")
_ENV_NAME = re.compile(r"^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$")


def is_placeholder(value: str) -> bool:
    v = value.strip().strip("'\"")
    if len(v) < 4:
        return True
    if _TEMPLATE.match(v) or _WORDS.search(v):
        return True
    if re.fullmatch(r"(.)\1+", v):
        return True
    for prefix in _PREFIXES:
        if v.startswith(prefix):
            rest = v[len(prefix) :]
            if not rest or re.fullmatch(r"[xX*0.\-_]+|(.)\1*", rest):
                return True
            break
    # The name of the variable instead of its value: OPENAI_API_KEY, AWS_SECRET_ACCESS_KEY
    return bool(_ENV_NAME.match(v) and re.search(r"KEY|SECRET|TOKEN|PASSWORD|CREDENTIAL", v))
