"""Credential shapes, defined once: provider key shapes (CREDENTIAL-FORMATS.md) and placeholders.

The shapes are regex *source strings* (no compiling at import: the scan hook imports this module on
its start-up path). Input checks (gateway/credentials.py), age key handling (sops/agekeys.py) and the
scanner's rule table (scanner/rules.py) build their patterns from them.
"""

from __future__ import annotations

import re

# --- provider key shapes -----------------------------------------------------------------------
OPENAI_PREFIX = "sk-"
OPENAI_KEY = r"sk-(?:proj|svcacct|admin)-[A-Za-z0-9_\-]{40,}"  # project, service-account, admin keys
OPENAI_LEGACY_KEY = r"sk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}"  # T3BlbkFJ: base64 of "OpenAI"
ANTHROPIC_PREFIX = "sk-ant-"
ANTHROPIC_KEY = r"sk-ant-(?:api03|admin01)-[A-Za-z0-9_\-]{80,100}AA"
GROQ_PREFIX = "gsk_"
GROQ_KEY = r"gsk_[A-Za-z0-9]{52}"
AWS_KEY_ID = r"(?:AKIA|ASIA)[A-Z2-7]{16}"
AWS_SECRET = r"[A-Za-z0-9/+]{40}"  # noqa: S105 - a shape (regex), not a credential
ENTRA_SECRET = r"[A-Za-z0-9_~.]{3}\dQ~[A-Za-z0-9_~.\-]{31,34}"  # noqa: S105 - a shape (regex), not a credential
AZURE_OPENAI_KEY = r"[A-Za-z0-9]{52}JQQJ99[A-Za-z0-9]{3}ACOG[A-Za-z0-9]{19}"
AZURE_OPENAI_LEGACY_KEY = r"[a-f0-9]{32}"  # only meaningful next to an Azure key name

# --- age (Bech32, upper-case identities, lower-case recipients; PQ: the post-quantum hybrid) -----
_BECH32_UPPER = "[02-9AC-HJ-NP-Z]"
_BECH32_LOWER = "[02-9ac-hj-np-z]"
AGE_IDENTITY = rf"AGE-SECRET-KEY-1{_BECH32_UPPER}{{58}}"  # X25519
AGE_IDENTITY_ANY = rf"AGE-SECRET-KEY-(?:PQ-)?1{_BECH32_UPPER}{{58,}}"  # X25519 or post-quantum
AGE_RECIPIENT = rf"age1{_BECH32_LOWER}{{58}}"
AGE_RECIPIENT_ANY = rf"age1(?:pq1)?{_BECH32_LOWER}{{58,}}"

# --- placeholders --------------------------------------------------------------------------------
_TEMPLATE = re.compile(r"^(<[^>]*>|\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*|\{\{.*\}\}|#\{.*\}#|%\(.*\)s|\[.*\])$", re.S)
_WORDS = re.compile(
    r"change[-_ ]?me|replace[-_ ]?(me|with|this)|placeholder|your[-_ ]|<your|example|dummy|redacted|"
    r"not[-_ ]?a[-_ ]?real|fake[-_ ]?key|insert[-_ ]|todo|fixme|secret[-_]?here|key[-_]?here|xxxx|\*\*\*|\.\.\.",
    re.I,
)
_PREFIXES = ("sk-proj-", "sk-svcacct-", "sk-admin-", "sk-ant-api03-", "sk-ant-admin01-", ANTHROPIC_PREFIX, OPENAI_PREFIX, GROQ_PREFIX)
_ENV_NAME = re.compile(r"^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$")


def is_placeholder(value: str) -> bool:
    """Is this value a placeholder rather than a real credential? Shared by input checks and the scanner."""
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
