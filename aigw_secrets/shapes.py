"""Is this value a placeholder rather than a real credential? Shared by input checks and the scanner."""

from __future__ import annotations

import re
from typing import NamedTuple

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


# --- Key shapes of the issue-14 providers, as data for input checks and scanner rules (RE2-compatible
# patterns, no anchors). `distinctive`: the pattern alone identifies the credential (a scanner rule needs
# no context); otherwise only context (variable name, host) tells it from any random string.
class KeyShape(NamedTuple):
    provider: str  # gateway/providers.py row key
    pattern: str
    distinctive: bool
    source: str  # where the format is documented


KEY_SHAPES: dict[str, KeyShape] = {
    s.provider: s
    for s in (
        KeyShape("gemini", r"AIza[0-9A-Za-z_-]{35}", True, "Google API key format (Microsoft Purview 'Google API key' SIT; gitleaks gcp-api-key)"),
        KeyShape("xai", r"xai-[0-9A-Za-z]{80}", True, "gitleaks xai-api-key rule; https://docs.x.ai/docs/api-reference (Bearer)"),
        KeyShape("openrouter", r"sk-or-v1-[0-9a-f]{64}", True, "https://openrouter.ai/docs/api-reference/authentication"),
        KeyShape("bedrock_api_key", r"ABSK[A-Za-z0-9+/]{100,}={0,2}", True, "Amazon Bedrock long-term API key: 'ABSK' + base64('BedrockAPIKey-…')"),
        KeyShape("bedrock_api_key_short", r"bedrock-api-key-[A-Za-z0-9+/=]{100,}", True, "Amazon Bedrock short-term API key (a presigned URL, base64)"),
        KeyShape("deepseek", r"sk-[0-9a-f]{32}", False, "DeepSeek keys: 'sk-' + 32 hex (overlaps other sk- keys; needs context)"),
        KeyShape("mistral", r"[0-9A-Za-z]{32}", False, "Mistral keys: 32 alphanumerics, no prefix"),
        KeyShape("together", r"(tgp_v1_[0-9A-Za-z_-]{40,}|[0-9a-f]{64})", False, "Together AI keys: 64 hex (older) or 'tgp_v1_…'"),
        KeyShape("deepinfra", r"[0-9A-Za-z]{32}", False, "DeepInfra tokens: no documented prefix"),
        KeyShape("cohere", r"[0-9A-Za-z]{40}", False, "Cohere keys: 40 alphanumerics, no prefix"),
    )
}
