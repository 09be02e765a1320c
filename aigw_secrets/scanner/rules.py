"""The scanner's rule table: data, one row per kind of credential (CREDENTIAL-FORMATS.md shapes).

Line rules are regular expressions run over whole files; the structural rules (Kubernetes Secrets,
SOPS files, kustomize secretGenerator, .sops.yaml coverage) are implemented in ``scan.py`` and listed
here so that every rule has an id and a description in one place (SARIF reads them from here).
"""

from __future__ import annotations

import functools
import re
from typing import NamedTuple

from aigw_secrets import shapes


class Rule(NamedTuple):
    id: str
    description: str
    pattern: str | None = None  # None: a structural rule (see scan.py)
    group: int = 0  # the group that holds the secret (0, or a group that did not match: the whole match)
    triggers: tuple[str, ...] = ()  # lower-case literals, one of which every match contains


_B = r"(?<![A-Za-z0-9_\-])"  # not preceded by a key character
_E = r"(?![A-Za-z0-9_\-])"

LINE_RULES: tuple[Rule, ...] = (
    Rule(
        "openai-api-key",
        "OpenAI API key (project, service-account, admin or legacy user key)",
        _B + shapes.OPENAI_KEY + _E + "|" + _B + shapes.OPENAI_LEGACY_KEY + _E,
        triggers=("sk-",),
    ),
    Rule(
        "anthropic-api-key",
        "Anthropic API or admin key",
        _B + shapes.ANTHROPIC_KEY + _E,
        triggers=("sk-ant-",),
    ),
    Rule("groq-api-key", "Groq API key", _B + shapes.GROQ_KEY + _E, triggers=("gsk_",)),
    Rule(
        "aws-access-key-id",
        "AWS access key id (long-term AKIA or temporary ASIA)",
        rf"\b{shapes.AWS_KEY_ID}\b",
        triggers=("akia", "asia"),
    ),
    Rule(
        "aws-secret-access-key",
        "AWS secret access key (found by its name: aws_secret_access_key, AWS_SECRET_ACCESS_KEY, secret_key)",
        r"(?i:(?:aws_?)?secret_?(?:access_?)?key)[\"']?\s*[:=]\s*[\"']?(" + shapes.AWS_SECRET + ")(?![A-Za-z0-9/+=])",
        group=1,
        triggers=("secretkey", "secret_key", "secretaccess", "secret_access"),  # not "secret": in most manifests
    ),
    Rule(
        "azure-entra-client-secret",
        "Azure Entra ID (Azure AD) application client secret",
        r"(?<![A-Za-z0-9_~.\-])" + shapes.ENTRA_SECRET + r"(?![A-Za-z0-9_~.\-])",
        triggers=("q~",),
    ),
    Rule(
        "azure-openai-key",
        "Azure OpenAI / AI services key (84-character key, or a 32-hex key named as an Azure key)",
        rf"\b{shapes.AZURE_OPENAI_KEY}\b"
        r"|(?i:azure[_\-]?openai[_\-]?(?:api[_\-]?)?key|api-key)[\"']?\s*[:=]\s*[\"']?(" + shapes.AZURE_OPENAI_LEGACY_KEY + r")\b",
        group=1,
        triggers=("jqqj99", "api-key", "openai"),
    ),
    Rule(
        "gcp-service-account-key",
        "GCP service-account key (JSON with a private key)",
        r"\"private_key\"\s*:\s*\"(-----BEGIN (?:RSA )?PRIVATE KEY-----\\n[A-Za-z0-9+/=\\n]{64,})",
        group=1,
        triggers=("private_key",),
    ),
    Rule(
        "private-key",
        "PEM private key",
        r"-----BEGIN (?:[A-Z0-9]{2,12} )?PRIVATE KEY-----(?:\r?\n|\\n)[A-Za-z0-9+/=]{40,}",  # RSA, EC, DSA, OPENSSH, ENCRYPTED, ED25519 (Talos)
        triggers=("private key-----",),
    ),
    Rule(
        "pgp-private-key",
        "PGP private key block",
        r"-----BEGIN PGP PRIVATE KEY BLOCK-----(?:\r?\n[^\n]*){0,3}\r?\n[A-Za-z0-9+/=]{40,}",
        triggers=("pgp private key",),
    ),
    Rule(
        "age-secret-key",
        "age private key (AGE-SECRET-KEY-1...): it decrypts every SOPS secret of the repository",
        shapes.AGE_IDENTITY_ANY,
        triggers=("age-secret-key-",),
    ),
)

# The v1.2 providers whose keys are distinctive on their own (shapes.KEY_SHAPES, `distinctive`); the
# others (Mistral, DeepSeek, Together, DeepInfra, Cohere) are caught by name inside Secrets.
_DISTINCTIVE_RULES = {
    "gemini": ("gemini-api-key", "Google Gemini (AI Studio) / Google API key", ("aiza",)),
    "xai": ("xai-api-key", "xAI API key", ("xai-",)),
    "openrouter": ("openrouter-api-key", "OpenRouter API key", ("sk-or-v1-",)),
    "bedrock_api_key": ("bedrock-api-key", "Amazon Bedrock API key (long-term)", ("absk",)),
    "bedrock_api_key_short": ("bedrock-api-key", "Amazon Bedrock API key (short-term)", ("bedrock-api-key-",)),
}
_by_rule: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
for _provider, (_rule_id, _description, _triggers) in _DISTINCTIVE_RULES.items():
    _by_rule.setdefault(_rule_id, []).append((_B + shapes.KEY_SHAPES[_provider].pattern + r"(?![A-Za-z0-9_\-+/=])", _triggers))
LINE_RULES += tuple(
    Rule(rule_id, next(d for r, d, _t in _DISTINCTIVE_RULES.values() if r == rule_id), "|".join(p for p, _t in parts), triggers=tuple(t for _p, ts in parts for t in ts))
    for rule_id, parts in _by_rule.items()
)
LINE_RULES += (
    Rule(
        "mcp-inline-api-key",
        "MCPRoute backend API key written inline (securityPolicy.apiKey.inline): a plaintext key in the resource; use a secretRef",
        r"(?m)(?:^([ \t]*)apiKey:[ \t]*\r?\n\1[ \t]+inline:|apiKey:[ \t]*\{[ \t]*inline:)[ \t]*[\"']?(\$\{[^}\s]*\}|[^\s\"',}#]+)",
        group=2,
        triggers=("inline",),
    ),
)

STRUCTURAL_RULES: tuple[Rule, ...] = (
    Rule("k8s-secret-plaintext", "Kubernetes Secret with a data/stringData value that is not SOPS-encrypted"),
    Rule("kustomize-secret-literal", "kustomize secretGenerator literal with a real value"),
    Rule("externalsecret-template-literal", "ExternalSecret whose spec.target.template.data holds a literal credential instead of a {{ .property }} from the store"),
    Rule("sops-plaintext-value", "SOPS file with a plaintext value inside an encrypted section (hand-edited)"),
    Rule("sops-missing-mac", "SOPS metadata block without a MAC"),
    Rule("sops-rule-unencrypted", "secret material in plaintext in a file that must be encrypted (a .sops.yaml creation rule covers it, or it is named *.sops.*)"),
    Rule("sops-unselected-secret", "SOPS file with a secret left in plaintext because the creation rule's selector did not pick its key"),
    Rule("sops-missing-metadata", "ENC[...] values without SOPS metadata: the file cannot be decrypted (truncated or hand-copied)"),
)

LINE_RULE_IDS = frozenset(r.id for r in LINE_RULES)
RULES: dict[str, Rule] = {r.id: r for r in (*LINE_RULES, *STRUCTURAL_RULES)}

@functools.cache
def _compiled(rule: Rule) -> re.Pattern[str]:
    return re.compile(rule.pattern or "")


def matches(text: str) -> list[tuple[Rule, re.Match[str], str]]:
    """(rule, match, secret) for every line-rule match in ``text``.

    A rule's pattern runs (and is compiled) only for text containing one of its trigger literals:
    most files contain none, and a substring search costs a fraction of a regex pass.
    """
    lower = text.lower()
    out = []
    for rule in LINE_RULES:
        if any(t in lower for t in rule.triggers):
            for m in _compiled(rule).finditer(text):
                out.append((rule, m, (m.group(rule.group) if rule.group else None) or m.group(0)))
    return out
