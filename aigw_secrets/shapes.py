"""Credential shapes, defined once: provider key shapes (CREDENTIAL-FORMATS.md) and placeholders.

The shapes are regex *source strings* (no compiling at import: the scan hook imports this module on
its start-up path). Input checks (gateway/credentials.py), age key handling (sops/agekeys.py) and the
scanner's rule table (scanner/rules.py) build their patterns from them.
"""

from __future__ import annotations

import re

from aigw_secrets import lean

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
_TEMPLATE = lean.pattern(r"^(<[^>]*>|\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*|\{\{.*\}\}|#\{.*\}#|%\(.*\)s|\[.*\])$", re.S)
# A placeholder word counts when it touches the start, the end or a separator: "sk-your-key-here",
# "AKIA...EXAMPLE", "<changeme>". Inside a run of random characters ("...kTODo9...") it is chance, and a
# real key that happens to contain it must still be judged a key.
_WORDS = lean.pattern(
    r"(?:^|(?<=[^A-Za-z0-9]))(?:change[-_ ]?me|replace[-_ ]?(?:me|with|this)|placeholder|your[-_ ]|example|"
    r"dummy|redacted|"
    r"not[-_ ]?a[-_ ]?real|fake[-_ ]?key|insert[-_ ]|todo|fixme|secret[-_]?here|key[-_]?here|xxxx)"
    r"|(?:change[-_ ]?me|placeholder|example|dummy|redacted|todo|fixme|here|xxxx)(?=$|[^A-Za-z0-9])"
    r"|<your|\*\*\*|\.\.\.",
    re.I,
)
_PREFIXES = (
    "sk-proj-",
    "sk-svcacct-",
    "sk-admin-",
    "sk-ant-api03-",
    "sk-ant-admin01-",
    ANTHROPIC_PREFIX,
    OPENAI_PREFIX,
    GROQ_PREFIX,
)
_ENV_NAME = lean.pattern(r"^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$")


_DISTINCTIVE = lean.pattern(
    rf"(?:{OPENAI_KEY}|{OPENAI_LEGACY_KEY}|{ANTHROPIC_KEY}|{GROQ_KEY}|{AZURE_OPENAI_KEY}|{ENTRA_SECRET}|{AGE_IDENTITY_ANY})"
)
_FILLER = lean.pattern(r"(.)\1{7}")  # eight of a kind: "xxxxxxxx", "00000000": typed, not random


def is_placeholder(value: str) -> bool:
    """Is this value a placeholder rather than a real credential? Shared by input checks and the scanner."""
    v = value.strip().strip("'\"")
    if len(v) < 4:
        return True
    if _DISTINCTIVE.fullmatch(v) and not _FILLER.search(v):
        return False  # a whole provider key of the right shape: words inside it are chance ("...-TODo...")
    if v.startswith("-----BEGIN") and re.search(r"[A-Za-z0-9+/]{64}", v):
        return False  # a PEM body: words in its base64 ("/todo+") are chance
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
    return bool(_ENV_NAME.fullmatch(v) and re.search(r"KEY|SECRET|TOKEN|PASSWORD|CREDENTIAL", v))


# --- Key shapes of the issue-14 providers, as data for input checks and scanner rules (RE2-compatible
# patterns, no anchors). `distinctive`: the pattern alone identifies the credential (a scanner rule needs
# no context); otherwise only context (variable name, host) tells it from any random string.
class KeyShape(lean.Record):
    provider: str  # gateway/providers.py row key
    pattern: str
    distinctive: bool
    source: str  # where the format is documented


KEY_SHAPES: dict[str, KeyShape] = {
    s.provider: s
    for s in (
        KeyShape(
            "gemini",
            r"AIza[0-9A-Za-z_-]{35}",
            True,
            "Google API key format (Microsoft Purview 'Google API key' SIT; gitleaks gcp-api-key)",
        ),
        KeyShape(
            "xai",
            r"xai-[0-9A-Za-z]{80}",
            True,
            "gitleaks xai-api-key rule; https://docs.x.ai/docs/api-reference (Bearer)",
        ),
        KeyShape(
            "openrouter", r"sk-or-v1-[0-9a-f]{64}", True, "https://openrouter.ai/docs/api-reference/authentication"
        ),
        KeyShape(
            "bedrock_api_key",
            r"ABSK[A-Za-z0-9+/]{100,}={0,2}",
            True,
            "Amazon Bedrock long-term API key: 'ABSK' + base64('BedrockAPIKey-…')",
        ),
        KeyShape(
            "bedrock_api_key_short",
            r"bedrock-api-key-[A-Za-z0-9+/=]{100,}",
            True,
            "Amazon Bedrock short-term API key (a presigned URL, base64)",
        ),
        KeyShape(
            "deepseek",
            r"sk-[0-9a-f]{32}",
            False,
            "DeepSeek keys: 'sk-' + 32 hex (overlaps other sk- keys; needs context)",
        ),
        KeyShape("mistral", r"[0-9A-Za-z]{32}", False, "Mistral keys: 32 alphanumerics, no prefix"),
        KeyShape(
            "together",
            r"(tgp_v1_[0-9A-Za-z_-]{40,}|[0-9a-f]{64})",
            False,
            "Together AI keys: 64 hex (older) or 'tgp_v1_…'",
        ),
        KeyShape("deepinfra", r"[0-9A-Za-z]{32}", False, "DeepInfra tokens: no documented prefix"),
        KeyShape("cohere", r"[0-9A-Za-z]{40}", False, "Cohere keys: 40 alphanumerics, no prefix"),
    )
}
