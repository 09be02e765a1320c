"""Detection classes from the history triage of public home-ops repositories: one small
synthetic test per miss class and per false-positive class. Every value is generated here."""

from __future__ import annotations

import base64
import json
import secrets
import string

import pytest

from aigw_secrets.scanner.scan import scan_file
from testing import fakes
from testing.scancorpus import _enc, _sops_block

HEX = "0123456789abcdef"
LOWER_ALNUM = string.ascii_lowercase + string.digits


def found_of(name: str, text: str, **kw: bool) -> list[tuple[int, str]]:
    return [(f.line, f.rule) for f in scan_file(name, text.encode(), **kw)[0]]


def rules_of(name: str, text: str, **kw: bool) -> set[str]:
    return {f.rule for f in scan_file(name, text.encode(), **kw)[0]}


def b64(text: str | bytes) -> str:
    return base64.b64encode(text.encode() if isinstance(text, str) else text).decode()


def password() -> str:
    return fakes.rand(6) + "-" + fakes.rand(6, string.digits) + "!" + fakes.rand(5)


def jwt() -> str:
    def part(obj: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    header, claims = part({"alg": "HS256", "typ": "JWT"}), part({"iss": fakes.rand(32, HEX), "iat": 1700000000})
    return f"{header}.{claims}.{fakes.rand(43, fakes.URLSAFE)}"


# --- credential-named literals outside kind: Secret ------------------------------------------------


def test_helmrelease_values_literal_password() -> None:
    text = (
        "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nspec:\n  values:\n    auth:\n"
        f"      adminPassword: {password()}\n      existingSecret: grafana-admin-secret\n"
    )
    assert found_of("kubernetes/apps/grafana/helmrelease.yaml", text) == [(6, "credential-literal")]
    (finding,) = scan_file("helmrelease.yaml", text.encode())[0]
    assert finding.column == len("      adminPassword: ") + 1  # the value's place, not the line's start


def test_configmap_externalsecret_clusterissuer_and_commented_lines() -> None:
    cm = f"kind: ConfigMap\ndata:\n  config.yml: |\n    server:\n      client_secret: {fakes.rand(40, HEX)}\n"
    assert found_of("cm.yaml", cm) == [(5, "credential-literal")]
    es = (
        "kind: ExternalSecret\nspec:\n  target:\n    template:\n      data:\n"
        f"        API_TOKEN: {fakes.rand(32)}\n        URL: '{{{{ .url }}}}'\n"
    )
    assert found_of("es.yaml", es) == [
        (6, "externalsecret-template-literal")
    ]  # the structural rule, more precise, wins
    stand_in = (
        "kind: ExternalSecret\nspec:\n  target:\n    template:\n      data:\n"
        "        CLIENT_SECRET: $plaintext$this_is_a_secret\n"
    )
    assert found_of("es.yaml", stand_in) == []
    issuer = (
        "kind: ClusterIssuer\nspec:\n  acme:\n    solvers:\n      - dns01:\n          cloudflare:\n"
        f"            # apiKey: {fakes.rand(37, HEX)}\n"
    )
    assert found_of("issuer.yaml", issuer) == [(7, "credential-literal")]


@pytest.mark.parametrize(
    "line",
    [
        "password: password",
        "password: changeme123",
        "PASSWORD: ${DB_PASSWORD}",
        "token: '{{ .Values.token }}'",
        "apiKey: <your-api-key>",
        "secret: REDACTED",
        "client_secret: example-client-secret-1",
        "existingSecret: authelia-secrets-2",
        "passwordSecretName: db-app-1",
        "key: cni-chaining-mode",
        "tokenPath: /var/run/secrets/kubernetes.io/serviceaccount/token",
        "secretKey: AWS_SECRET_ACCESS_KEY",
        "password: self.config.password",
        "api_key = os.environ['API_KEY']",
        "token: true",
        "password: hunter2",
        "passwordFile: /run/secrets/password",
        "secret: my-secret-name-1",
        "- key: node-role.kubernetes.io/control-plane",
        "topologyKey: kubernetes.io/hostname",
        "agent-not-ready-taint-key: node.cilium.io/agent-not-ready",
        "- secretKey: restic_password",
        "valuesKey: github_app_private_key",
        "- secretKey: QBT_BitTorrent__Session__Port",
        "client_secret: $__file{/etc/secrets/oauth/client_secret}",
        "MASTER_KEY=.secrets/master-sealed-secret.yaml",
        '"key": "--token-auth-file",',
        "ClientSecret: cluster.Client_Secret,",
        "RefreshToken:      refreshToken,",
        "#     key: LS0tIEVYQU1QTEUgS0VZIC0tLQ==",
        'key    = "pod_namespace"',
        "password: '{FRIGATE_MQTT_PASSWORD}'",
        'levelSeed: "walker20231022"',
        "- secretKey: .credentials.json",
        'CLIENT_SECRET: "$plaintext$this_is_a_secret"',
        "- secretKey: home--manictime-init-admin--password",
        "export BOOTSTRAP_CLOUDFLARE_TOKEN=kpG6iyg3FS_du_8KRShdFuwfbwu3zMltbvmJV6cD",
        '"set-cookie": "auth_oidc_code="',
        'SSH_KEY="$HOME/.ssh/id_ed25519"',
        "- secretKey: radarr_4k_RADARR_API_KEY",
        "tlsSecret: ingress-nginx.wildcard-example-tls",
        'SEED: "-6044158275318307650"',
        '"handlerKey": "threshold1"',
        "# - VAULT_TOKEN=a.12345bcdefghijklm",
        'api_key: "ABC123abc123ABC123abc123ABC12"',
        "valuesKey: s3Secretkey",
        "annotationKey: external-dns.alpha.kubernetes.io/",
        'API_KEY: ".API_KEY"',
        "age_key: age1k3sunyva3kc3jusxs3j93nyueqjgzcgg6s6qghn8aeqpuy7l35wss8gxvg",
        (
            "client_secret: "
            "'$argon2id$v=19$m=65536,t=3,p=4$ghwUPb4pg8xFt6HRoR+Wcg$Aob+gT6YMASp+pRZKbLwm/CTcd2dgMh+lOsMEPzBBnw'"
        ),
        "# basicAuth: base64EncodedCredentials",
        "# - secret: more-custom-CAs",
        'clientsecret: "dmlrdW5qYWNsaWVudHNlY3JldAo="',
    ],
)
def test_placeholders_templates_references_stay_quiet(line: str) -> None:
    assert found_of("values.yaml", f"config:\n  {line}\n") == []


def test_ini_toml_env_secret_key() -> None:
    toml = f'[app]\nname = "x"\nsecret_key = "{fakes.rand(50, string.ascii_letters + string.digits + "!@#%^&*")}"\n'
    assert found_of("config/app.toml", toml) == [(3, "credential-literal")]
    ini = f"[server]\nSECRET_KEY={fakes.rand(48)}\n"
    assert found_of("settings.ini", ini) == [(2, "credential-literal")]


def test_kubectl_from_literal_in_readme() -> None:
    text = (
        f"Create it:\n\n    kubectl create secret generic db --from-literal=password={password()} "
        "--from-literal=user=admin\n"
    )
    assert found_of("README.md", text) == [(3, "credential-literal")]
    assert found_of("README.md", "kubectl create secret generic db --from-literal=password=$DB_PASSWORD\n") == []


def test_literals_in_source_code_and_vendored_trees_stay_quiet() -> None:
    doc = f'EXAMPLES = """\n- datadog_monitor:\n    api_key: "{fakes.rand(32, HEX)}"\n"""\n'
    assert found_of("plugins/modules/datadog_monitor.py", doc) == []
    assert found_of("collections/ansible_collections/x/tests/vars.yml", f"api_key: {fakes.rand(32, HEX)}\n") == []
    assert found_of("kubernetes/apps/x/values.yaml", f"api_key: {fakes.rand(32, HEX)}\n") == [(1, "credential-literal")]
    assert found_of("app.py", f"token = 'ghp_{fakes.rand(36)}'\n") == [
        (1, "github-token")
    ]  # distinctive shapes still count


def test_covered_values_file_with_label_keys_exposes_nothing() -> None:
    text = (
        'cni:\n  repair:\n    brokenPodLabelKey: "cni.istio.io/uninitialized"\n'
        "    labelPodKey: node-role.kubernetes.io/control-plane\n"
    )
    assert found_of("k8s/istio-cni/values.yaml", text, must_encrypt=True) == []
    assert found_of("k8s/app/values.yaml", f"app:\n  apiKey: {fakes.rand(32)}\n", must_encrypt=True) == [
        (1, "sops-rule-unencrypted"),
        (2, "credential-literal"),
    ]


def test_sealed_secret_ciphertext_is_no_exposure() -> None:
    text = (
        "apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata:\n  name: x\nspec:\n  encryptedData:\n"
        f"    api-token: Ag{fakes.rand(300)}\n"
    )
    assert found_of("k8s/external-dns/secret.encrypted.yaml", text, must_encrypt=True) == []


def test_unselected_sops_leaf_under_an_api_key_parent() -> None:
    crt = "$2a$10$" + fakes.rand(53, string.ascii_letters + string.digits + "./")
    text = f"minecraftServer:\n  autoCurseForge:\n    apiKey:\n      key: {crt}\n  rcon:\n    password: {_enc()}\n"
    block = _sops_block().replace("^(data|stringData)$", "^(password)$")
    assert found_of("values.enc.age.yaml", text + block) == [(4, "sops-unselected-secret")]
    flat = f"minecraftServer:\n  autoCurseForge:\n    key: {crt}\n  rcon:\n    password: {_enc()}\n"
    assert found_of("values.enc.yaml", flat + block) == [(3, "sops-unselected-secret")]
    selector = f"spec:\n  selector:\n    key: app.kubernetes.io/name\n  password: {_enc()}\n"
    assert found_of("values.enc.yaml", selector + block) == []


def test_unselected_sops_leaf_keeps_short_chosen_passwords() -> None:
    uuid = "-".join(fakes.rand(n, HEX) for n in (8, 4, 4, 4, 12))
    text = (
        f"pve_password: Sul4Sul4\ns3_access_key: {fakes.rand(17, string.ascii_uppercase + string.digits)}7Q2\n"
        f"minio_access_key: cnpg-barman\nprovisionerSecret: csi-cephfs-secret\ntoken: {_enc()}\n"
        f"pve_api_token_secret: {uuid}\n"
    )
    block = _sops_block().replace("^(data|stringData)$", "^(token)$")
    assert found_of("terraform/secrets.sops.yaml", text + block) == [
        (1, "sops-unselected-secret"),
        (2, "sops-unselected-secret"),
        (6, "sops-unselected-secret"),
    ]


# --- distinctive shapes --------------------------------------------------------------------------


def test_jwt_in_credential_named_key() -> None:
    text = f"homeassistant:\n  token: {jwt()}\n"
    assert found_of("values.yaml", text) == [(2, "jwt")]
    env = f"HASS_TOKEN={jwt()}\n"
    assert found_of("app/.env", env) == [(1, "jwt")]
    # a JWT under a name that says nothing stays quiet (ID-token samples, public anon keys)
    assert found_of("values.yaml", f"sample: {jwt()}\n") == []


def test_wireguard_private_key() -> None:
    key = b64(secrets.token_bytes(32))
    text = (
        f"[Interface]\nPrivateKey = {key}\nAddress = 10.0.0.2/32\n\n[Peer]\n"
        f"PublicKey = {b64(secrets.token_bytes(32))}\n"
    )
    assert found_of("wg0.conf", text) == [(2, "wireguard-private-key")]
    yaml = f"kind: HelmRelease\nspec:\n  values:\n    env:\n      WIREGUARD_PRIVATE_KEY: {key}\n"
    assert found_of("helmrelease.yaml", yaml) == [(5, "wireguard-private-key")]


def test_webhook_urls() -> None:
    upper_digits = string.ascii_uppercase + string.digits
    slack = "https://hooks.slack.com/services/" + "/".join(
        (f"T{fakes.rand(8, upper_digits)}", f"B{fakes.rand(10, upper_digits)}", fakes.rand(24))
    )
    discord = f"https://discord.com/api/webhooks/{fakes.rand(18, string.digits)}/{fakes.rand(68, fakes.URLSAFE)}"
    uuid = "-".join(fakes.rand(n, HEX) for n in (8, 4, 4, 4, 12))
    teams = f"https://acme.webhook.office.com/webhookb2/{uuid}@{uuid}/IncomingWebhook/{fakes.rand(32, HEX)}/{uuid}"
    text = f"alertmanager:\n  slack_api_url: {slack}\n  url: '{discord}'\n  teams: {teams}\n"
    assert found_of("values.yaml", text) == [
        (2, "slack-webhook-url"),
        (3, "discord-webhook-url"),
        (4, "teams-webhook-url"),
    ]
    # the same URL base64-encoded in a Secret's data
    secret = f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: am\ndata:\n  url: {b64(slack)}\n"
    assert found_of("secret.yaml", secret) == [(6, "slack-webhook-url")]
    assert (
        found_of("values.yaml", "url: https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX\n")
        == []
    )


def test_vault_tokens() -> None:
    text = f"Unseal Key 1: {b64(secrets.token_bytes(33))}\nInitial Root Token: hvs.{fakes.rand(24)}\n"
    assert found_of("vault-init.txt", text) == [(1, "vault-unseal-key"), (2, "vault-token")]
    legacy = f"export VAULT_TOKEN=s.{fakes.rand(24)}\n"
    assert found_of("notes.sh", legacy) == [(1, "vault-token")]
    assert found_of("notes.sh", f"image: s.{fakes.rand(24)}\n") == []  # legacy s. only under a token name


def test_github_gitlab_tokens_also_in_comments() -> None:
    text = (
        f"# token: ghp_{fakes.rand(36)}\nGITHUB_TOKEN=github_pat_{fakes.rand(22)}_{fakes.rand(59)}\n"
        f"gitlab: glpat-{fakes.rand(20, fakes.URLSAFE)}\n"
    )
    assert found_of("flux/notes.yaml", text) == [(1, "github-token"), (2, "github-token"), (3, "gitlab-token")]
    assert found_of("x.yaml", "token: ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n") == []


def test_kubeadm_bootstrap_token() -> None:
    tok = f"{fakes.rand(6, LOWER_ALNUM)}.{fakes.rand(16, LOWER_ALNUM)}"
    assert found_of("talos/controlplane.yaml", f"cluster:\n  token: {tok}\n") == [(2, "kube-bootstrap-token")]
    assert found_of(
        "join.sh",
        f"kubeadm join 10.0.0.1:6443 --token {tok} --discovery-token-ca-cert-hash sha256:{fakes.rand(64, HEX)}\n",
    ) == [(1, "kube-bootstrap-token")]
    assert found_of("x.yaml", "token: abcdef.0123456789abcdef\n") == []  # the kubeadm docs example


def test_pem_any_private_key_label() -> None:
    matrix = (
        f"-----BEGIN MATRIX PRIVATE KEY-----\nKey-ID: ed25519:{fakes.rand(6)}\n\n{b64(secrets.token_bytes(32))}\n"
        "-----END MATRIX PRIVATE KEY-----\n"
    )
    assert found_of("matrix_key.pem", matrix) == [(1, "private-key")]
    secret = f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: dendrite\ndata:\n  matrix_key.pem: {b64(matrix)}\n"
    assert found_of("secret.yaml", secret) == [(6, "private-key")]


def test_aws_documentation_example_is_a_known_fact() -> None:
    text = (
        "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"
    )
    assert found_of("docs/aws.md", text) == []
    real = fakes.aws_credentials_file()
    assert found_of("aws.ini", real) == [(2, "aws-access-key-id"), (3, "aws-secret-access-key")]


def test_azure_openai_32_hex_passed_to_client() -> None:
    code = (
        'client = AzureOpenAI(\n    azure_endpoint="https://x.openai.azure.com",\n'
        f'    api_key="{fakes.rand(32, HEX)}",\n    api_version="2024-02-01",\n)\n'
    )
    assert found_of("app.py", code) == [(3, "azure-openai-key")]


def test_htpasswd_style_hash_file() -> None:
    crypt = (
        "$6$"
        + fakes.rand(16, string.ascii_letters + string.digits + "./")
        + "$"
        + fakes.rand(86, string.ascii_letters + string.digits + "./")
    )
    secret = (
        f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: mosquitto\nstringData:\n  passwd: |\n    mqtt:{crypt}\n"
        f"    ha:{crypt}\n"
    )
    assert found_of("mosquitto-secret.yaml", secret) == [(7, "password-hash"), (8, "password-hash")]


# --- Kubernetes Secrets: every value judged, wherever the document sits -------------------------


def test_multiline_stringdata_judged_line_by_line() -> None:
    text = (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\nstringData:\n  config.yaml: |\n    database:\n"
        f"      host: db.svc\n      password: {password()}\n"
    )
    assert found_of("secret.yaml", text) == [(9, "credential-literal")]


def test_non_base64_data_is_judged_as_written() -> None:
    text = f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\ndata:\n  PASSWORD: {password()}\n"
    assert found_of("secret.yaml", text) == [(6, "k8s-secret-plaintext")]


def test_secret_manifest_in_a_file_of_any_name() -> None:
    key = fakes.pem_private_key()
    text = (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: sealed-secrets-key\ntype: kubernetes.io/tls\ndata:\n"
        f"  tls.key: {b64(key)}\n"
    )
    assert found_of("master.key", text) == [(7, "private-key")]
    plain = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\nstringData:\n  token: " + fakes.rand(40) + "\n"
    assert found_of("secret", plain) == [(6, "k8s-secret-plaintext")]


def test_kubeconfig_without_extension() -> None:
    text = (
        "apiVersion: v1\nkind: Config\nclusters: []\nusers:\n- name: admin\n  user:\n    username: admin\n"
        f"    password: {fakes.rand(32)}\n"
    )
    assert found_of("kubeconfig", text) == [(8, "credential-literal")]


@pytest.mark.parametrize("name", ["secret.enc.yaml", "values.enc.age.yaml"])
def test_enc_names_are_sops_files(name: str) -> None:
    text = f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\nstringData:\n  token: {fakes.rand(40)}\n"
    assert "sops-rule-unencrypted" in rules_of(name, text)


@pytest.mark.parametrize(
    "value", ["password", '"password"', "Password", "kodi", "kodi-mysql-password", "kodidbpassword"]
)
def test_default_words_and_the_apps_own_name_in_a_secret(value: str) -> None:
    text = (
        f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  MYSQL_PASSWORD: {value}\n"
        "  PGADMIN_DEFAULT_PASSWORD: password\n"
    )
    assert found_of("kubernetes/apps/media/kodidb/secret.yaml", text) == []
    chosen = (
        f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  MYSQL_PASSWORD: kodi{fakes.rand(8)}\n"
    )
    assert found_of("kubernetes/apps/media/kodidb/secret.yaml", chosen) == [(6, "k8s-secret-plaintext")]


# --- SOPS false positives ------------------------------------------------------------------------


def test_sops_configmapkeyref_key_and_placeholder_password_stay_quiet() -> None:
    block = _sops_block().replace(
        "    encrypted_regex: ^(data|stringData)$\n", "    encrypted_regex: ^(data|stringData|token)$\n"
    )
    text = (
        "spec:\n  env:\n    - valueFrom:\n        configMapKeyRef:\n          name: cilium-config\n"
        "          key: cni-chaining-mode\n"
    )
    text += (
        "  affinity:\n    topologyKey: kubernetes.io/hostname\n  rcon:\n    password: password\n"
        f"  token: {_enc()}\n{block}"
    )
    assert found_of("app.enc.yaml", text) == []


def test_old_sops_metadata_without_selectors_is_not_a_plaintext_value_everywhere() -> None:
    # sops < 3.x files carry no selector and `unencrypted_suffix: _unencrypted`; their values are all ENC
    block = _sops_block().replace(
        "    encrypted_regex: ^(data|stringData)$\n", "    unencrypted_suffix: _unencrypted\n"
    )
    text = f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\ntype: Opaque\nstringData:\n  token: {_enc()}\n{block}"
    assert found_of("secret.sops.yaml", text) == []


def test_enc_values_in_commented_blocks_stay_quiet() -> None:
    # a values file that kept an old encrypted value in a comment: no sops metadata is missing
    text = f"config:\n  replicas: 2\n  # token: {_enc()}\n"
    assert found_of("helmrelease.yaml", text) == []
    assert found_of("helmrelease.yaml", text.replace("# token", "token")) == [(3, "sops-missing-metadata")]


def test_a_crypt_digest_is_never_a_dotted_name() -> None:
    """A bcrypt value under `key:` read as a code path (`x.Yz`) when its random part held '.' then a letter."""
    from aigw_secrets.scanner import filters

    digest = (
        "$2a$10$" + fakes.rand(20, string.ascii_letters) + ".Kq" + fakes.rand(30, string.ascii_letters + string.digits)
    )
    assert not filters.is_named_thing(digest)
    text = f"minecraftServer:\n  autoCurseForge:\n    key: {digest}\n  rcon:\n    password: {_enc()}\n"
    assert found_of("values.enc.yaml", text + _sops_block().replace("^(data|stringData)$", "^(password)$")) == [
        (3, "sops-unselected-secret")
    ]
