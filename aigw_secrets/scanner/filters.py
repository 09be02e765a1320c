"""Named false-positive predicates (in the style of detect-secrets' filters): each says why a value
that sits where a secret could sit is *not* one. The scanner's finding policy (scan.py) is written
in terms of these names, so a reviewer can check each exclusion on its own.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Collection

from aigw_secrets import lean
from aigw_secrets.shapes import is_placeholder

# ${VAR}, ${VAR:=default}, {{ .Values.x }}, {{ secret "x" }}: anywhere in the value (Flux postBuild
# substitution, Helm, Go templates, external-secrets templates, cluster-template's #{ ... }#).
# opencode's `{env:NAME}`, searxng's `%%NAME%%`
_TEMPLATE = lean.pattern(
    r"\$\{[^}\n]*\}|\$__\w+\{[^}\n]*\}|\{\{.*?\}\}|#\{.*?\}#|<<\s*[\w.\-]+\s*>>|\{env:\w+\}|%%[A-Za-z_]\w*%%", re.S
)
# Secret-manager references: 1Password (op://), Vault (vault:…), vals (ref+…), argocd-vault-plugin
# (<path:…>), AWS/GCP/Azure secret ids, Bitwarden, SOPS-inside-helm-secrets.
_REFERENCE = lean.pattern(
    r"^(?:op://|vault:|ref\+[a-z0-9]+://|<path:[^>]+>|arn:aws:secretsmanager:|projects/[^/\s]+/secrets/|"
    r"https://[\w\-]+\.vault\.azure\.net/secrets/|bw://|secret://|akv://|awssm://|gcpsm://|sops://|"
    r"os\.environ/|env:(?=[A-Za-z_]\w*$))",  # LiteLLM's `os.environ/NAME`, `env:NAME` (syncflaer, heartbeats)
    re.I,
)
_CERT_BLOCK = lean.pattern(r"-----BEGIN ([A-Z0-9 ]+)-----")
_PUBLIC_BLOCKS = frozenset(
    {
        "CERTIFICATE",
        "X509 CRL",
        "PUBLIC KEY",
        "RSA PUBLIC KEY",
        "CERTIFICATE REQUEST",
        "NEW CERTIFICATE REQUEST",
        "TRUSTED CERTIFICATE",
        "PGP PUBLIC KEY BLOCK",
        "SSH2 PUBLIC KEY",
    }
)
_HOST = lean.pattern(
    r"^(?:[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?\.)+(?:svc|local|internal|lan|home|arpa|cluster\.local|[a-z]{2,12})\.?(?::\d{1,5})?\.?$",
    re.I,
)
_URL = lean.pattern(r"^(?:[a-z][a-z0-9]*:)?[a-z][a-z0-9+.\-]*://(?P<auth>[^/@\s]*@)?[^\s]*$", re.I)
_IP = lean.pattern(r"^\d{1,3}(?:\.\d{1,3}){3}(?:/\d{1,2}|:\d{1,5})?$|^[0-9a-f:]+:[0-9a-f:]*(?:/\d{1,3})?$", re.I)
_SIMPLE = lean.pattern(r"^(?:\d+(?:\.\d+)*[a-z]{0,3}|true|false|yes|no|on|off|null|none|enabled?|disabled?)$", re.I)
_EMAIL = lean.pattern(r"^[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+$")
_PATH = lean.pattern(r"^(?:/|\./|\.\./|~/)[\w.\-/<>{}]*$")
_CREDENTIAL_WORDS = frozenset(
    {
        "password",
        "passwd",
        "pass",
        "pwd",
        "passphrase",
        "token",
        "secret",
        "key",
        "apikey",
        "credential",
        "credentials",
        "auth",
        "pat",
        "jwt",
        "salt",
        "seed",
        "privatekey",
        "secretkey",
        "accesskey",
        "pin",
        "cookie",
        "dsn",
        "agekey",
    }
)
_NOT_CREDENTIAL_BEFORE = frozenset(
    {"public", "pub", "id", "name", "file", "path", "ref", "url", "level", "world", "map", "values", "handler", "tls"}
    # `topologyKey`, `labelKey`, `sortKey`, `routingKey`: the key of a label, a sort, a queue
    | {"topology", "label", "annotation", "sort", "partition", "routing", "primary", "foreign", "index", "lookup"}
    # detect-secrets' `hashed_secret` (a SHA-1 of the value), Technitium's `partialToken` (a prefix)
    | {"hashed", "hash", "partial"}
)
_WORDS_OF = lean.pattern(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


def is_template(value: str) -> bool:
    """A `${...}`, `{{ ... }}` (or cluster-template `#{ ... }#`) reference anywhere in the value:
    the secret is filled in later (Flux substitution, Helm, external-secrets), not stored here."""
    return bool(_TEMPLATE.search(value))


def is_reference(value: str) -> bool:
    """A pointer into a secret manager (`op://vault/item/field`, `vault:…`, `ref+…`, `<path:…>`)."""
    return bool(_REFERENCE.match(value.strip()))


def is_public_certificate(value: str) -> bool:
    """PEM text holding only public material (certificates, public keys), no private key."""
    blocks = _CERT_BLOCK.findall(value)
    return bool(blocks) and all(b in _PUBLIC_BLOCKS for b in blocks)


def is_obvious_non_secret(value: str) -> bool:
    """Numbers, ports, booleans, host names, IPs, URLs without a password, e-mail addresses, paths."""
    v = value.strip().strip("'\"")
    if _SIMPLE.match(v) or _IP.match(v) or _EMAIL.match(v) or _PATH.match(v) or _HOST.match(v):
        return True
    url = _URL.match(v)
    return bool(url and (not url.group("auth") or ":" not in url.group("auth")))


def is_non_secret(value: str) -> bool:
    """Any of the reasons above, or a placeholder (`changeme`, `<your-key>`, `sk-xxxx`)."""
    return (
        is_template(value)
        or is_reference(value)
        or is_public_certificate(value)
        or is_obvious_non_secret(value)
        or is_placeholder(value)
    )


@functools.lru_cache(maxsize=8192)  # pure; the same keys recur in every file and blob version
def key_says_credential(key: str) -> bool:
    """The key's last word names a credential: `password`, `DB_PASSWORD`, `apiKey`, `tls.key`,
    `secretboxEncryptionSecret`, `bootstraptoken`; not `secretName`, `SECRET_DOMAIN`, `publicKey`."""
    words = [w.lower() for w in _WORDS_OF.findall(key)]
    while words and words[-1].isdigit():  # password2, token_1
        words.pop()
    if not words:
        return False
    last = words[-1]
    if last in _CREDENTIAL_WORDS:
        return len(words) < 2 or words[-2] not in _NOT_CREDENTIAL_BEFORE
    return any(last.endswith(w) for w in ("password", "token", "secret", "passwd", "apikey", "privatekey"))


# A Kubernetes object or Helm value name (`authelia-secrets`, `db-app-1`), a dotted code path
# (`self.config.password`), an environment variable's name (`AWS_SECRET_ACCESS_KEY`): what a
# credential-named key holds when it names where the secret is, not the secret.
_RESOURCE_NAME = lean.pattern(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)+$")
# snake_case or Env__Style names (`restic_password`, `QBT_BitTorrent__Session__Port`), label keys and
# relative paths (`node-role.kubernetes.io/control-plane`, `.secrets/master.yaml`), command-line flags
_IDENTIFIER = lean.pattern(
    "|".join(
        (
            # restic_password, rb5009-user, app--admin--password, auth_oidc_code=
            r"^[a-z][a-z0-9]*(?:[-_]+[a-z0-9]+)+=*$",
            r"^[A-Za-z0-9]{1,10}(?:_+[A-Za-z0-9]{1,10}){2,}$",  # radarr_4k_RADARR_API_KEY
            r"^[a-z0-9]+(?:[-.][a-z0-9]+)*-[a-z0-9]+(?:[-.][a-z0-9]+)*$",  # ingress-nginx.wildcard-tls
            r"^[+-]?\d+$",  # a (signed) number: a world seed
            r"^[a-z]{4,}\d{0,2}$",  # threshold1
            r"^[A-Za-z]+(?:_+[A-Za-z]+)+$",  # QBT_BitTorrent__Session__Port
            # node-role.kubernetes.io/control-plane, external-dns.alpha.kubernetes.io/
            r"^[a-z0-9.\-_]*[a-z0-9](?:/[a-z0-9.\-_]*)+$",
            # label key: kubernetes.io/nodeName
            r"^(?:[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?\.)+[a-z]{2,}/[A-Za-z0-9][A-Za-z0-9_.\-]*$",
            # Terraform
            r"^(?:data|var|local|module|each|resource)\.[A-Za-z_][\w\-]*(?:\.[A-Za-z_][\w\-]*|\[[^\]\s]*\])*$",
            r"^--?[a-z]",  # --token-auth-file
            r"^[A-Za-z]+(?:-(?:[A-Za-z]+|\d+))+$",  # more-custom-CAs
            # base64EncodedCredentials (not pwgen's shape: syllables, a capital, a digit, lower case again)
            r"^[a-z]+\d*(?:[A-Z][a-z]+\d*){2,}$",
            r"^\{[A-Za-z_][A-Za-z0-9_]*\}$",  # {FRIGATE_MQTT_PASSWORD}
            r"^\.?[\w.\-]+\.(?:json|ya?ml|txt|pem|key|crt|conf|cfg|env|toml|ini|xml|properties)$",  # .credentials.json
        )
    )
)
_CODE_PATH = lean.pattern(
    r"^[A-Za-z_$][\w$]*(?:(?:\.|::|->)[A-Za-z_$][\w$]*)+(?:\(\))?$|^\.?[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$|^\.?[A-Z]+$|[()\[\]]"
)
# Public keys under a "key" name: an age recipient, an SSH public key
_PUBLIC_KEY = lean.pattern(r"^(?:age1(?:pq1)?[02-9ac-hj-np-z]{58,}|ssh-(?:ed25519|rsa|dss)\b|ecdsa-sha2-|sk-ssh-)")
# Values people type when a chart wants *something*: `password: password`, `admin`, `changeme`.
# A digest in PHC / crypt notation (`$argon2id$v=19$...`, `$pbkdf2-sha512$...`, `$6$...`): what a
# config holds *instead of* the secret (Authelia's hashed client secrets); htpasswd-style files of
# them are the password-hash rule's business.
_PASSWORD_DIGEST = lean.pattern(
    r"^\$(?:argon2(?:id|i|d)|pbkdf2(?:-sha\d+)?|scrypt|sha(?:256|512)-crypt|[156y]|2[aby])\$"
)
_DEFAULT_WORDS = frozenset(
    {
        "password",
        "passw0rd",
        "p@ssw0rd",
        "secret",
        "changeme",
        "change-me",
        "admin",
        "administrator",
        "token",
        "test",
        "testing",
        "default",
    }
    | {
        "pass",
        "root",
        "user",
        "username",
        "guest",
        "demo",
        "letmein",
        "none",
        "empty",
        "unset",
        "notset",
        "undefined",
        "dummy",
    }
)


def is_default_word(key: str, value: str) -> bool:
    """`password: password`, `token: token`, `MYSQL_PASSWORD: mysql`: the value is a word of its own key
    or a well-known default, a placeholder rather than a secret someone chose."""
    typed = value.strip().strip("'\"")
    v = typed.lower()
    words = {w.lower() for w in _WORDS_OF.findall(key)}
    if v in _DEFAULT_WORDS or v in words or v == key.lower():
        return True
    if typed.isalpha() and typed.islower() and _last_word(key) in _GENERATED_KINDS:
        return True  # `EMQX_LICENSE__KEY: evaluation`: a key or token is generated, never a dictionary word
    # `SECRET_MINIO_OAUTH_CLIENT_SECRET: minioclientsecret`: the key's own words run together
    return made_of_words(v, words) or is_stand_in_phrase(value, words)


# `PleaseGenerateA50CharKey`, `TempPassword123!`, `secretValue123`: an instruction or a stand-in typed
# as words; a marker word says so (a chosen passphrase of other words is judged as usual)
_STAND_IN_MARKERS = frozenset(
    {"please", "generate", "insert", "enter", "your", "my", "value", "another", "temp", "temporary", "sample"}
    | {"some", "fake", "dummy", "example", "change", "not", "insecure"}
)
_PHRASE_WORDS = (
    _STAND_IN_MARKERS
    | {"a", "an", "the", "is", "here", "char", "chars", "character", "characters", "long"}
    | {
        "random",
        "string",
        "key",
        "secret",
        "password",
        "pass",
        "token",
        "api",
        "new",
        "this",
        "with",
        "to",
        "of",
        "for",
        "me",
        "strong",
        "secure",
        "super",
        "test",
        "admin",
        "user",
        "default",
    }
)


def is_stand_in_phrase(value: str, key_words: Collection[str] = ()) -> bool:
    """Two or more words (camelCase or separated, digits and a trailing symbol allowed) all of the stand-in
    vocabulary or the key's own words, one of them a marker (`please`, `your`, `temp`, `value`, ...)."""
    core = re.sub(r"[^A-Za-z0-9]+$", "", value.strip().strip("'\""))
    parts = _WORDS_OF.findall(core)
    if not parts or "".join(parts) != re.sub(r"[-_ .]", "", core):
        return False
    letters = [p.lower() for p in parts if p.isalpha()]
    vocab = _PHRASE_WORDS | set(key_words)
    return len(letters) >= 2 and all(w in vocab for w in letters) and any(w in _STAND_IN_MARKERS for w in letters)


# credentials that are generated, never typed: a lower-case word under such a name is a mode or a stand-in
_GENERATED_KINDS = frozenset({"key", "token", "apikey", "accesskey", "secretkey"})


def _last_word(key: str) -> str:
    words = [w.lower() for w in _WORDS_OF.findall(key) if not w.isdigit()]
    return words[-1] if words else ""


def made_of_words(value: str, words: set[str]) -> bool:
    """A lower-case value (letters, `-`, `_`) that is two or more of ``words`` or the default words run together."""
    v = value.strip().strip("'\"")
    letters = re.sub(r"[-_:]", "", v)  # `username:password`
    return letters.isalpha() and letters.islower() and _segments(letters, words | _DEFAULT_WORDS)


def _segments(text: str, words: set[str]) -> bool:
    """Whether ``text`` is a concatenation of two or more of ``words``."""
    reach = {0: 0}  # end offset -> fewest words to reach it
    for i in range(len(text)):
        if i in reach:
            for w in words:
                if w and text.startswith(w, i):
                    reach[i + len(w)] = min(reach.get(i + len(w), 99), reach[i] + 1)
    return reach.get(len(text), 0) >= 2


def is_resource_name(value: str) -> bool:
    """`authelia-secrets`, `db-app-1`: a Kubernetes object's name, what `existingSecret` holds."""
    return bool(_RESOURCE_NAME.match(value.strip()))


_UUID = lean.pattern(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_REPEAT = lean.pattern(r"(.{3,8})\1\1")  # abc123abc123abc123 (bounded: no cubic backtracking on long values)
# `$HOME`, `$SECRET_DIR`, `$work_dir/…`: an expansion; `…gp$o^5e…` inside a generated password is not
_SHELL_VAR = lean.pattern(r"\$(?:[A-Z_][A-Z0-9_]+\b|[A-Za-z_][A-Za-z0-9_]*/)|^\$[A-Za-z_]")
# five ascending letters or digits in a row (abcde, 12345, bcdef): typed as a stand-in; random text has them ~never
_YAML_ALIAS = lean.pattern(r"^\*[A-Za-z_][\w.\-]*$")
_SEQUENCE = lean.pattern(
    "|".join(a[i : i + 5] for a in ("abcdefghijklmnopqrstuvwxyz", "0123456789") for i in range(len(a) - 4))
)


_CRYPT_DIGEST = lean.pattern(
    r"\$(?:2[abxy]?|[156]|argon2(?:id|i|d)|scrypt|pbkdf2[\w-]*)\$"
)  # bcrypt, md5/sha-crypt, PHC strings


def is_named_thing(value: str) -> bool:
    """The name of something rather than a secret: an identifier, a resource or label name, a path,
    a flag, a code expression (what a credential-named key holds when it says where the secret is)."""
    v = value.strip()
    if _UUID.match(v) or _CRYPT_DIGEST.match(v):
        # a UUID under a credential name is a token (Proxmox API token secrets, Consul ACLs); `$2a$10$…` a digest
        return False
    return bool(_IDENTIFIER.match(v) or _CODE_PATH.search(v))


@functools.lru_cache(maxsize=8192)  # pure; a history scan meets the same line in many blob versions
def looks_like_literal(value: str) -> bool:
    """A literal that could be a chosen secret: one word of 8 to 256 characters, not a template,
    reference, placeholder, name of a resource, code path or variable, with at least two kinds of
    characters one of which is a digit or a symbol, and some spread (entropy >= 3 bits per char)."""
    v = value.strip()
    v = v.removeprefix("$plaintext$")  # Authelia's plaintext client-secret notation: judge what follows
    if not 8 <= len(v) <= 256 or any(c.isspace() for c in v):
        return False
    # cheap tests first: most candidates are names, which fail here or on the patterns below
    lower, upper, digit = any(c.islower() for c in v), any(c.isupper() for c in v), any(c.isdigit() for c in v)
    symbol = any(not c.isalnum() for c in v)
    if not (digit or symbol) or lower + upper + digit + symbol < 2 or entropy(v) < 3.0:
        return False
    if (
        is_non_secret(v)
        or is_named_thing(v)
        or _PASSWORD_DIGEST.match(v)
        or _PUBLIC_KEY.match(v)
        or _decodes_to_placeholder(v)
    ):
        return False
    if _YAML_ALIAS.match(v):
        return False  # `INIT_POSTGRES_PASS: *dbPassword`: a YAML alias read by a line rule
    # `$HOME/.ssh/id`, `"$work_dir/ca-key.pem"`; `abcdefgh`, `12345bcdef`, `abc1abc1abc1`: expanded or typed, not chosen
    return not (_SHELL_VAR.search(v) or _SEQUENCE.search(v.lower()) or _REPEAT.search(v.lower()))


def _decodes_to_placeholder(value: str) -> bool:
    """Base64 of a placeholder (`LS0tIEVYQU1QTEUgS0VZIC0tLQ==` is `--- EXAMPLE KEY ---`)."""
    import base64
    import binascii

    if len(value) % 4 or not re.fullmatch(r"[A-Za-z0-9+/]+={0,2}", value):
        return False
    try:
        decoded = base64.b64decode(value, validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return False
    decoded = decoded.strip(" -\n")
    return decoded.isprintable() and (is_placeholder(decoded) or bool(re.fullmatch(r"[a-z_\-]+", decoded)))


def entropy(value: str) -> float:
    """Shannon entropy in bits per character."""
    counts: dict[str, int] = {}
    for ch in value:
        counts[ch] = counts.get(ch, 0) + 1
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values()) if n else 0.0


def is_token_like(value: str) -> bool:
    """A single word of at least 20 characters, mixed letters and digits, high entropy: the shape of a
    generated token or password whatever its key is called."""
    v = value.strip()
    if len(v) < 20 or len(v) > 4096 or any(c.isspace() for c in v):
        return False
    if not (re.search(r"[0-9]", v) and re.search(r"[A-Za-z]", v)):
        return False
    if _NAME_PATH.match(v):
        return False  # `Qwen/Qwen3-VL-30B-A3B-Instruct`, `ghcr.io/org/chart`, `s3:s3.host/bucket/app`: a path of names
    return entropy(v) >= 3.5


# `/` and `-` together (base64 has `/` but never `-`, base64url `-` but never `/`) and nothing but
# name characters: a path, a model or image reference, a repository spec
_NAME_PATH = lean.pattern(r"^(?=[^/]*/)(?=[^-]*-)[A-Za-z0-9._:/@\-]+$")
