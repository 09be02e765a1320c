"""The scanner's rule table: data, one row per kind of credential (CREDENTIAL-FORMATS.md shapes).

Line rules are regular expressions run over whole files; the structural rules (Kubernetes Secrets,
SOPS files, kustomize secretGenerator, .sops.yaml coverage) are implemented in ``scan.py`` and listed
here so that every rule has an id and a description in one place (SARIF reads them from here).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator

from aigw_secrets import lean, shapes


class Rule(lean.Record):
    id: str
    description: str
    pattern: str | None = None  # None: a structural rule (see scan.py)
    group: int = 0  # the group that holds the secret (0, or a group that did not match: the whole match)
    triggers: tuple[
        str, ...
    ] = ()  # lower-case literals, one of which every match contains (none: the line anchor gates)
    key_group: int = 0  # a group holding the key the value is assigned to: its name must say credential
    key_before: bool = False  # the key is found on the match's line before it (`name: <match>`): it must say credential
    line_anchor: str = (
        ""  # run on the lower-cased text: the pattern then runs only on lines holding an anchor (a cheap pre-pass)
    )
    refine: tuple[
        tuple[str, str], ...
    ] = ()  # (rule id, shape): a secret of that shape is reported as that rule, unjudged
    literal: bool = False  # the secret must look like a chosen literal (filters.looks_like_literal)


_B = r"(?<![A-Za-z0-9_\-])"  # not preceded by a key character
_E = r"(?![A-Za-z0-9_\-])"

LINE_RULES: tuple[Rule, ...] = (
    Rule(
        "openai-api-key",
        "OpenAI API key (project, service-account, admin or legacy user key)",
        # the look-behind after the literal `sk-`: a pattern starting with a literal is searched for it first
        "sk-(?<![A-Za-z0-9_\\-]sk-)(?:"
        + shapes.OPENAI_KEY.removeprefix("sk-")
        + _E
        + "|"
        + shapes.OPENAI_LEGACY_KEY.removeprefix("sk-")
        + _E
        + ")",
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
        r"|(?i:azure[_\-]?openai[_\-]?(?:api[_\-]?)?key|api-key)[\"']?\s*[:=]\s*[\"']?("
        + shapes.AZURE_OPENAI_LEGACY_KEY
        + r")\b",
        group=1,
        triggers=("jqqj99", "api-key", "openai"),
    ),
    Rule(
        "azure-openai-key",
        "Azure OpenAI / AI services key (84-character key, or a 32-hex key named as an Azure key)",
        r"AzureOpenAI\((?:[^()]|\([^()]*\)){0,600}?\bapi_key\s*=\s*[\"'](" + shapes.AZURE_OPENAI_LEGACY_KEY + r")[\"']",
        group=1,
        triggers=("azureopenai(",),
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
        # any label (RSA, EC, DSA, OPENSSH, ENCRYPTED, ED25519 (Talos), MATRIX (Dendrite)), headers allowed
        r"-----BEGIN (?:[A-Z0-9]{2,16} ){0,3}PRIVATE KEY-----(?:(?:\r?\n|\\n)[A-Za-z][\w\-]*:[^\n\\]*){0,4}"
        r"(?:\r?\n|\\n){1,2}[A-Za-z0-9+/=]{40,}",
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
    _by_rule.setdefault(_rule_id, []).append(
        (_B + shapes.KEY_SHAPES[_provider].pattern + r"(?![A-Za-z0-9_\-+/=])", _triggers)
    )
LINE_RULES += tuple(
    Rule(
        rule_id,
        next(d for r, d, _t in _DISTINCTIVE_RULES.values() if r == rule_id),
        "|".join(p for p, _t in parts),
        triggers=tuple(t for _p, ts in parts for t in ts),
    )
    for rule_id, parts in _by_rule.items()
)
LINE_RULES += (
    Rule(
        "mcp-inline-api-key",
        (
            "MCPRoute backend API key written inline (securityPolicy.apiKey.inline): a plaintext key in the "
            "resource; use a secretRef"
        ),
        r"(?m)(?:^([ \t]*)apiKey:[ \t]*\r?\n\1[ \t]+inline:|apiKey:[ \t]*\{[ \t]*inline:)"
        r"[ \t]*[\"']?(\$\{[^}\s]*\}|[^\s\"',}#]+)",
        group=2,
        triggers=("inline",),
    ),
)

# Generic credentials: each needs a structural anchor (a distinctive prefix, a URL shape, or a
# credential-named key and a value of the credential's shape).
# the name just read ends in a credential word (fixed-width look-behinds: cheap after a greedy name)
_NAMED = (
    "(?:"
    + "|".join(
        f"(?<=(?i:{w}))"
        for w in (
            "pass",
            "passwd",
            "word",
            "phrase",
            "pwd",
            "secret",
            "token",
            "key",
            "jwt",
            "auth",
            "salt",
            "seed",
            "cookie",
            "dsn",
            "ential",
            "entials",
        )
    )
    + ")"
)
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_JWT = r"eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{16,}"
LINE_RULES += (
    Rule(
        "slack-webhook-url",
        "Slack incoming-webhook or workflow URL (anyone holding it posts to the channel)",
        r"https://hooks\.slack\.com/(?:services/T[A-Z0-9]{6,12}/B[A-Z0-9]{6,12}/[A-Za-z0-9]{20,32}|(?:workflows|triggers)/T[A-Z0-9]{6,12}/A?[A-Z0-9]{6,12}/\d{6,}/[A-Za-z0-9]{20,40})",
        # each webhook rule's own literal, searched only in text holding the gate "hook" (see _GATES):
        # a file that mentions a webhook no longer compiles and runs the three patterns
        triggers=("hooks.slack.com",),
    ),
    Rule(
        "discord-webhook-url",
        "Discord webhook URL (id and token)",
        r"https://(?:(?:ptb|canary)\.)?discord(?:app)?\.com/api/webhooks/\d{17,20}/[A-Za-z0-9_\-]{60,68}",
        triggers=("/api/webhooks/",),
    ),
    Rule(
        "teams-webhook-url",
        "Microsoft Teams incoming-webhook URL",
        r"https://(?:[A-Za-z0-9\-]+\.webhook\.office\.com/webhookb2|outlook\.office(?:365)?\.com/webhook)/"
        + _UUID
        + "@"
        + _UUID
        + r"/IncomingWebhook/[0-9a-fA-F]{32}/"
        + _UUID
        + r"(?:/[A-Za-z0-9_\-]{20,})?",
        triggers=(".com/webhook",),
    ),
    Rule(
        "vault-token",
        "HashiCorp Vault token (hvs./hvb./hvr.; a legacy s. token under a token name)",
        _B + r"hv[sbr]\.[A-Za-z0-9_\-]{24,}" + _E,
        triggers=("hvs.", "hvb.", "hvr."),
    ),
    Rule(
        "vault-unseal-key",
        "HashiCorp Vault unseal key (from `vault operator init` output)",
        r"Unseal Key \d+:\s*([A-Za-z0-9+/]{43,44}=?)(?![A-Za-z0-9+/=])"
        r"|\"unseal_keys_(?:b64|hex)\"\s*:\s*\[\s*\"([A-Za-z0-9+/=]{40,})\"",
        group=1,
        triggers=("unseal",),
    ),
    Rule(
        "github-token",
        "GitHub token (personal, fine-grained, OAuth, app or refresh token)",
        _B + r"(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59})" + _E,
        triggers=("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
    ),
    Rule(
        "gitlab-token",
        "GitLab personal, project or group access token",
        _B + r"glpat-[A-Za-z0-9_\-]{20,}" + _E,
        triggers=("glpat-",),
    ),
    Rule(
        "kube-bootstrap-token",
        "Kubernetes bootstrap token (kubeadm join, Talos machine/cluster token): joins a node to the cluster",
        # under a token name: refined from credential-literal below (one pass over `name: value` lines)
        r"--token[= ]+[\"']?([a-z0-9]{6}\.[a-z0-9]{16})(?![A-Za-z0-9_.\-])",
        group=1,
        triggers=("--token",),
    ),
    Rule(
        "wireguard-private-key",
        "WireGuard private key (32 bytes base64 under a PrivateKey name)",
        r"(?i:private[_\-]?key)[\"']?[ \t]*[:=][ \t]*[\"']?([A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=)(?![A-Za-z0-9+/=])",
        group=1,
        triggers=("private",),
    ),
    Rule(
        "jwt",
        "JSON Web Token under a credential name (a long-lived access token: Home Assistant, service accounts)",
        _B + _JWT + _E,
        triggers=("eyj",),
        key_before=True,
    ),
    Rule(
        "password-hash",
        "Password hash file line (htpasswd, mosquitto passwd, shadow): user:$6$... is crackable offline",
        r"(?m)^[ \t]*(?:-[ \t]+)?[\"']?[A-Za-z0-9_.@\-]{1,64}:(\$(?:[1567]|2[aby]|apr1|y|argon2id?)\$[^\s:\"']{20,})",
        group=1,
        triggers=(":$",),
    ),
    Rule(
        "credential-literal",
        (
            "A literal assigned to a credential-named key (password, token, secret, api key) outside a Secret: "
            "HelmRelease values, ConfigMaps, config files, comments"
        ),
        # any key (greedy: fast) whose last letters say credential, judged by name afterwards
        r"(?m)^[ \t]*(?:(?:#+|//)[ \t]*)?(?:-[ \t]+)?(?:export[ \t]+)?[\"']?([A-Za-z0-9_.\-]++"
        + _NAMED
        # the value may be the only item of a flow sequence (Prometheus scrape `params: {apikey: [KEY]}`)
        + r")[\"']?[ \t]*[:=][ \t]*(\[[ \t]*)?([\"']?)([^\s\"'`]{7,255}[^\s\"'`,;])\3"
        r"[ \t]*(?(2)\][ \t]*)[,;]?[ \t]*(?:[#;].*)?\r?$",
        group=4,
        key_group=1,
        literal=True,
        line_anchor=(
            r"(?:pass|pwd|secret|token|key|jwt|auth|salt|seed|cookie|dsn|ential)(?:word|wd|phrase|s)?[\"']?[ \t]*[:=]"
        ),
        refine=(("kube-bootstrap-token", r"[a-z0-9]{6}\.[a-z0-9]{16}"), ("vault-token", r"s\.[A-Za-z0-9]{24}")),
    ),
    Rule(
        "credential-literal",
        (
            "A literal assigned to a credential-named key (password, token, secret, api key) outside a Secret: "
            "HelmRelease values, ConfigMaps, config files, comments"
        ),
        # a URL's query parameter (`…/api?t=user&apikey=…`, a dashboard's link, a scrape target)
        r"[?&]([A-Za-z_]*(?:key|token|secret|password|passwd|pwd|auth))=([^&\s\"'#<>`]{12,256})(?=[&\s\"'#<>`]|$)",
        group=2,
        triggers=("key=", "token=", "secret=", "password=", "pwd=", "passwd=", "auth="),
        key_group=1,
        literal=True,
    ),
    Rule(
        "credential-literal",
        (
            "A literal assigned to a credential-named key (password, token, secret, api key) outside a Secret: "
            "HelmRelease values, ConfigMaps, config files, comments"
        ),
        r"--from-literal[= ][\"']?([A-Za-z0-9_.\-]+)=([^\s\"'\\]{8,256})",
        group=2,
        triggers=("--from-literal",),
        key_group=1,
        literal=True,
    ),
)

# Documentation examples, known as facts (each provider's published sample credentials): never a finding.
DOCUMENTATION_EXAMPLES = frozenset(
    {
        "AKIAIOSFODNN7EXAMPLE",  # AWS docs: access key id
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",  # AWS docs: secret access key
        "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",  # AWS docs: second secret access key
        "abcdef.0123456789abcdef",  # kubeadm docs: bootstrap token
        # Talos generated config: commented example aescbcEncryptionSecret
        "z01mye6j16bspJYtTB/5SFX8j7Ph4JXxM2Xuu4vsBPM=",
        "07401b.f395accd246ae52d",  # Kubernetes docs: bootstrap token
        "783bde.3f89s0fje9f38fhf",  # Kubernetes docs: kubeadm join token
        "1150bed3f45247b99f7db9696fffa17cbx9",  # Cloudflare cf-terraforming README: global API key
        "1a8d6820be3543c1b84989670e2e5e8f88212",  # learn-secure-gitops template bootstrap.env: "e.g." global API key
        "kpG6iyg3FS_du_8KRShdFuwfbwu3zMltbvmJV6cD",  # k8s-at-home cluster template README: Cloudflare token
        "2YotnFZFEjr1zCsicMWpAA",  # RFC 6749 examples: access token
        "tGzv3JOkF0XG5Qx2TlKWIA",  # RFC 6749 examples: refresh token
        "SplxlOBeZQQYbYS6WxSbIA",  # RFC 6749 examples: authorization code
        "932b2a3495852c15af01598f62563ae534460388b6a370bfbbb8bb6094b698e9",  # Technitium DNS API docs: session token
        "ddfaecb8e9325e77865ee7e100f89596a65d3eae0e6dddcb33172355b95a64af",  # Technitium DNS API docs: API token
        "dsKq41iLAbXE37GV",  # k8s-at-home cluster template README (older): Cloudflare token
        # jwt.io's sample token
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
    }
)

STRUCTURAL_RULES: tuple[Rule, ...] = (
    Rule("k8s-secret-plaintext", "Kubernetes Secret with a data/stringData value that is not SOPS-encrypted"),
    Rule("kustomize-secret-literal", "kustomize secretGenerator literal with a real value"),
    Rule(
        "externalsecret-template-literal",
        (
            "ExternalSecret whose spec.target.template.data holds a literal credential instead of a {{ .property "
            "}} from the store"
        ),
    ),
    Rule("sops-plaintext-value", "SOPS file with a plaintext value inside an encrypted section (hand-edited)"),
    Rule("sops-missing-mac", "SOPS metadata block without a MAC"),
    Rule(
        "sops-rule-unencrypted",
        (
            "secret material in plaintext in a file that must be encrypted (a .sops.yaml creation rule covers it, "
            "or it is named *.sops.*)"
        ),
    ),
    Rule(
        "sops-unselected-secret",
        "SOPS file with a secret left in plaintext because the creation rule's selector did not pick its key",
    ),
    Rule(
        "sops-missing-metadata",
        "ENC[...] values without SOPS metadata: the file cannot be decrypted (truncated or hand-copied)",
    ),
)

LINE_RULE_IDS = frozenset(r.id for r in LINE_RULES)
_TRIGGERS = tuple(sorted({t for r in LINE_RULES for t in r.triggers}))
_FIRST: dict[str, Rule] = {}
for _rule in LINE_RULES:
    _FIRST.setdefault(_rule.id, _rule)
RULES: dict[str, Rule] = {r.id: r for r in (*LINE_RULES, *STRUCTURAL_RULES)}


def _gated(triggers: tuple[str, ...], extra: tuple[str, ...]) -> tuple[tuple[str, str | None], ...]:
    """(literal, gate) in search order: a literal is searched for only when its gate (the longest
    shorter literal it contains) is present, since text without the gate cannot hold the literal."""
    order = sorted({*triggers, *extra}, key=lambda t: (len(t), t))
    return tuple((t, max((g for g in order if len(g) < len(t) and g in t), key=len, default=None)) for t in order)


# gates that are no trigger themselves: each only saves the searches for the triggers holding it
_GATES = _gated(_TRIGGERS, ("secret", "hv", "gh", "--", "hook"))


def present_triggers(lower: str) -> set[str]:
    """The trigger literals in the lower-cased ``lower`` (gates included)."""
    present: set[str] = set()
    for t, gate in _GATES:
        if (gate is None or gate in present) and t in lower:
            present.add(t)
    return present


@functools.cache
def _compiled(rule: Rule) -> re.Pattern[str]:
    return re.compile(rule.pattern or "")


# which line rules run on a text (by their place in LINE_RULES, the order findings come in): those
# with a trigger literal the text holds, and the anchored ones without triggers (they always run)
_UNTRIGGERED = tuple(i for i, r in enumerate(LINE_RULES) if r.line_anchor and not r.triggers)
_RULES_OF: dict[str, tuple[int, ...]] = {
    t: tuple(i for i, r in enumerate(LINE_RULES) if t in r.triggers) for t in _TRIGGERS
}


def matches(text: str) -> list[tuple[Rule, re.Match[str], str]]:
    """(rule, match, secret) for every line-rule match in ``text``.

    A rule's pattern runs (and is compiled) only for text containing one of its trigger literals:
    most files contain none, and a substring search costs a fraction of a regex pass.
    """
    lower = text.lower()
    present = present_triggers(lower)
    chosen: Iterable[int] = _UNTRIGGERED
    if present:
        chosen = sorted(set(_UNTRIGGERED).union(*(_RULES_OF.get(t, ()) for t in present)))
    out = []
    for rule in (LINE_RULES[i] for i in chosen):
        for m in _finditer(rule, text, lower):
            secret = next((g for g in m.groups()[max(rule.group - 1, 0) :] if g), None) if rule.group else None
            secret = secret or m.group(0)
            if secret in DOCUMENTATION_EXAMPLES or secret.rstrip("&") in DOCUMENTATION_EXAMPLES:
                continue
            refined = next((_FIRST[rid] for rid, shape in rule.refine if re.fullmatch(shape, secret)), None)
            if refined is not None:
                if _judged(rule._replace(literal=False), m, secret):
                    out.append((refined, m, secret))
            elif _judged(rule, m, secret):
                out.append((rule, m, secret))
    return out


# `key:` alone names a label, a toleration, a map entry far more often than a credential
_BARE_KEYS = frozenset({"key", "keys", "_key"})
_KEY_BEFORE = lean.pattern(r"([A-Za-z0-9_.\-]+)[\"']?[ \t]*[:=][ \t]*[\"']?(?:Bearer[ \t]+)?$")
_BEARER = lean.pattern(r"(?i:bearer)[ \t]+$")


def _finditer(rule: Rule, text: str, lower: str) -> Iterator[re.Match[str]]:
    pattern = _compiled(rule)
    if not rule.line_anchor or len(lower) != len(text):  # (lower-casing changed offsets: rare Unicode)
        yield from pattern.finditer(text)
        return
    for start, end in _anchored_lines(rule.line_anchor, text, lower):
        yield from pattern.finditer(text, start, end)


def _anchored_lines(anchor: str, text: str, lower: str) -> list[tuple[int, int]]:
    """(start, end) of each line of ``text`` on which the anchor pattern matches ``lower``, in order.

    An anchor `(?:w1|w2|...)tail` with literal words (and a tail that stays on its line) is found as
    str.find of each word, the tail matched after it: a C substring search instead of an alternation
    tried at every offset (the regex's cost dominated a history scan). Other anchors: finditer."""
    words, tail = _split_anchor(anchor)
    starts: Iterator[int]
    if tail is None:
        starts = (a.start() for a in _compiled_anchor(anchor).finditer(lower))
    else:
        hits: list[int] = []
        for w in words:
            n = len(w)
            i = lower.find(w)
            while i >= 0:
                if tail.match(lower, i + n):
                    hits.append(i)
                    i = lower.find("\n", i)  # the rest of this line is run anyway
                    if i < 0:
                        break
                i = lower.find(w, i + 1)
        starts = iter(sorted(hits))
    spans = []
    done = -1
    for a in starts:
        if a <= done:
            continue  # a second anchor on a line already run
        start = text.rfind("\n", 0, a) + 1
        end = text.find("\n", a)
        done = end = len(text) if end < 0 else end
        spans.append((start, end))
    return spans


@functools.cache
def _split_anchor(anchor: str) -> tuple[tuple[str, ...], re.Pattern[str] | None]:
    """``(?:w1|w2|...)tail`` with plain lower-case words and a tail that cannot cross a newline:
    (words, compiled tail); anything else: ((), None)."""
    m = re.fullmatch(r"\(\?:([a-z0-9|]+)\)(.*)", anchor, re.S)
    if m is None or "\\n" in m.group(2) or "." in m.group(2) or "\\s" in m.group(2) or "[^" in m.group(2):
        return (), None
    return tuple(m.group(1).split("|")), re.compile(m.group(2))


@functools.cache
def _compiled_anchor(source: str) -> re.Pattern[str]:
    return re.compile(source)


def _judged(rule: Rule, m: re.Match[str], secret: str) -> bool:
    """The key and literal conditions of a generic rule (filters imported only when one applies)."""
    if not (rule.key_group or rule.literal or rule.key_before):
        return True
    from aigw_secrets.scanner import filters

    key = m.group(rule.key_group) if rule.key_group else None
    if rule.key_before:
        before = m.string[m.string.rfind("\n", 0, m.start()) + 1 : m.start()]
        if _BEARER.search(before):
            return True
        named = _KEY_BEFORE.search(before)
        if named is None:
            return False
        key = named.group(1)
    if key is not None and (
        key.lower() in _BARE_KEYS or not filters.key_says_credential(key) or filters.is_default_word(key, secret)
    ):
        return False
    return not rule.literal or filters.looks_like_literal(secret)
