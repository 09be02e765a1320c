"""The finding policy ``scan`` and ``doctor`` share: where secrets live, and which plaintext files
must be encrypted.

Two questions, answered once:

* **Where does a value count as a secret by its name?** A key named like a credential (``password``,
  ``token``, ``...auth``) matters only where secrets are stored: the ``data``/``stringData`` of a
  Kubernetes Secret, the body of any other Kubernetes object (``spec``, HelmRelease values ...), and
  every value of a configuration file that is not a Kubernetes object (Talos, Ansible, Terraform,
  dotenv). Never in an object's ``metadata`` (annotations and labels are read by controllers and by
  people, and name things: ``aigw-secrets.io/auth: service-account`` says which kind of credential
  the Secret holds, it is not one), nor in ``apiVersion``/``kind``. Credential *shapes* (an
  ``sk-...`` key, a PEM private key, an age identity) count everywhere: the line rules see them
  wherever they are.

* **Which plaintext file must be encrypted?** One that carries secret material: a Secret with real
  data, a credential shape, a kustomize secretGenerator literal, or a ``*.sops.*``-named file with
  a value that is not a template, a reference or an obvious non-secret. A manifest that merely
  matches a creation rule's ``path_regex`` (a ConfigMap, a HelmRelease, an ExternalSecret, a
  ``*.j2`` template, an empty file under a catch-all ``.*\\.ya?ml`` rule) carries none: a rule says
  how to encrypt, not that every file it matches must be. ``scan.exposure`` gives that verdict for
  ``doctor`` and bulk ``encrypt``: it is ``scan``'s own, so ``doctor`` can never call a file
  unencrypted that ``scan`` lets through, or the reverse.
"""

from __future__ import annotations

from collections.abc import Collection

from aigw_secrets import lean

# Top-level keys of a Kubernetes object that hold no secret values, whatever they are called.
_OBJECT_FRAME = frozenset({"apiVersion", "kind", "metadata"})
SECRET_SECTIONS = ("data", "stringData")
# A mapping that points at a secret elsewhere (secretKeyRef, existingSecretRef, valueFrom, remoteRef):
# the values under it are names.
# A key whose last word is "secret" holding a Kubernetes resource name (lower-case words joined by "-"):
# the name of a Secret, not its content.
_SECRET_WORD = lean.pattern(r"(?:[Ss]ecret|_secret|-secret)$")
# ... except where the word before "secret" says the key holds the secret itself: an S3 secret key
# (`accessKeySecret`), an OAuth client secret, a signing secret. There a value such as
# `minio-password` is the password, as it is under `rootPassword` (the verdict on a value must not
# depend on which credential name holds it); only a key that names a Secret object lets it pass
# (`existingSecret`, `sshKeySecret: ssh-public-keys`, `deployKeySecret: code-server`).
_VALUE_SECRET = lean.pattern(
    r"(?i)(?:access[-_]?key|client|jwt|session|cookie|webhook|hmac|shared|api|app|signing|encryption|oauth|consumer)[-_]?secret$"
)
_RESOURCE_NAME = lean.pattern(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)+$")
_UUID = lean.pattern(
    r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
)  # Proxmox API token secrets (sulibot/home-ops)
_REFERENCE_KEY = lean.pattern(r"(?:Ref|_ref|ref|valueFrom|From)$")
# a name with a credential word as one of its parts: `k8s-gitops-age-key`, `rtr01-encrypted-password`
_NAMES_A_SECRET = lean.pattern(r"(?:^|[-_.])(?:key|password|passwd|secret|token|credentials?|creds|apikey)(?:$|[-_.])")


def is_object(top_keys: Collection[str]) -> bool:
    """A Kubernetes object: a document with apiVersion and kind at its top."""
    return "apiVersion" in top_keys and "kind" in top_keys


def secret_place(keys: tuple[str, ...], *, kube_kind: str | None) -> bool:
    """Whether a value at key path ``keys`` sits where secrets are stored (see the module
    docstring). ``kube_kind``: the document's ``kind`` when it is a Kubernetes object, else None."""
    if kube_kind is None:
        return True
    if not keys or keys[0] in _OBJECT_FRAME:
        return False
    if kube_kind == "Secret":
        return keys[0] in SECRET_SECTIONS
    return kube_kind != "SealedSecret"  # spec.encryptedData is ciphertext for the controller's key (xunholy/k8s-gitops)


_GRAFANA_QUERY = lean.pattern(r"Q-[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}-\d+")  # a dashboard panel's query id
_ENV_BRACES = lean.pattern(r"\{[A-Z][A-Z0-9_]*\}")  # frigate's, Home Assistant add-ons' own `{ENV_VAR}` substitution


def credential_by_name(keys: tuple[str, ...], value: str, *, kube_kind: str | None) -> bool:
    """A plaintext value whose key names a credential, in a place secrets live, that is not a
    template, reference or obvious non-secret."""
    from aigw_secrets.scanner import filters

    if not keys or len(value) < 8 or not filters.key_says_credential(keys[-1]):
        return False  # conditions of the last line, asked first: cheap (cached) and most leaves fail them
    if any(_REFERENCE_KEY.search(k) for k in keys[:-1]) or keys[-1].startswith("$$"):
        return (
            False  # `secretKeyRef: {key: MIKROTIK_PASSWORD}`, `valueFrom` name things; Grafana's `$$hashKey` is an id
        )
    if filters.is_template(value) or _ENV_BRACES.fullmatch(value.strip()) or filters.is_default_word(keys[-1], value):
        return False  # `{FRIGATE_MQTT_PASSWORD}` (the app's own substitution), `password: password`
    if keys[-1] == "key" and (
        _GRAFANA_QUERY.fullmatch(value) or not (filters.is_token_like(value) and not filters.is_named_thing(value))
    ):
        # a selector's `key:` names a label; `autoCurseForge: {key: $2a$10$…}` holds a token (xunholy/k8s-gitops)
        return False
    if (
        _SECRET_WORD.search(keys[-1])
        and not _VALUE_SECRET.search(keys[-1])
        and _RESOURCE_NAME.match(value)
        and not _UUID.match(value)  # a UUID is a token
    ):
        return False  # `provisionerSecret: csi-cephfs-secret`, `existingSecret: authelia-secrets` name a Secret
    if filters.is_named_thing(value) and (kube_kind is not None or "/" in value or _NAMES_A_SECRET.search(value)):
        return False  # `brokenPodLabelKey: cni.istio.io/uninitialized`, `valuesKey: github_app_id`: names (in a
        # plain config file only path-like ones and those naming a secret, `sops_gcloud_key: k8s-gitops-age-key`:
        # Ansible's `db_password: plain-fake` is a password)
    return (
        secret_place(keys, kube_kind=kube_kind)
        and filters.key_says_credential(keys[-1])
        and len(value) >= 8
        and not filters.is_non_secret(value)
    )
