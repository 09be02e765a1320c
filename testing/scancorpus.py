"""A labelled corpus for the scanner: (file name, content, rule ids it must report — empty for
negatives). Fresh random, well-formed fake keys every call; nothing here was ever a real key."""

from __future__ import annotations

import base64
import json

from testing import fakes
from testing.fakes import rand

_UPPER_DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_LOWER_DIGITS = "abcdefghijklmnopqrstuvwxyz0123456789"
_HEX = "0123456789abcdef"
_CERTIFICATE = "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----"  # a public certificate is no secret


def _uuid() -> str:
    return "-".join(rand(n, _HEX) for n in (8, 4, 4, 4, 12))


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _enc() -> str:
    return f"ENC[AES256_GCM,data:{_b64(rand(24))},iv:{_b64(rand(32))},tag:{_b64(rand(16))},type:str]"


def _sops_block(mac: bool = True) -> str:
    mac_line = f"    mac: {_enc()}\n" if mac else ""
    return (
        "sops:\n    age:\n        - recipient: age1" + rand(58, "qpzry9x8gf2tvdw0s3jn54khce6mua7l") + "\n"
        "          enc: |\n            -----BEGIN AGE ENCRYPTED FILE-----\n            " + _b64(rand(60)) + "\n"
        "            -----END AGE ENCRYPTED FILE-----\n"
        '    lastmodified: "2026-11-28T10:00:00Z"\n'
        + mac_line
        + "    encrypted_regex: ^(data|stringData)$\n    version: 3.11.0\n"
    )


def age_identity() -> str:
    from aigw_secrets.sops.agekeys import generate_in_process

    return generate_in_process().identity


def pgp_private_block() -> str:
    body = "\n".join(_b64(rand(48)) for _ in range(6))
    return f"-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n{body}\n=AbCd\n-----END PGP PRIVATE KEY BLOCK-----\n"


def positives() -> list[tuple[str, str, set[str]]]:
    sa = fakes.gcp_service_account_json()
    key_id, secret = fakes.aws_access_key_id(), fakes.aws_secret_access_key()
    return [
        ("app/config.py", f'OPENAI_API_KEY = "{fakes.openai_project_key()}"\n', {"openai-api-key"}),
        ("gemini.env", f"GEMINI_API_KEY={fakes.gemini_key()}\n", {"gemini-api-key"}),
        ("xai.py", f'XAI_API_KEY = "{fakes.xai_key()}"\n', {"xai-api-key"}),
        ("router.env", f"OPENROUTER_API_KEY={fakes.openrouter_key()}\n", {"openrouter-api-key"}),
        ("bedrock.env", f"AWS_BEARER_TOKEN_BEDROCK={fakes.bedrock_api_key()}\n", {"bedrock-api-key"}),
        (
            "mcp/route.yaml",
            "apiVersion: aigateway.envoyproxy.io/v1beta1\nkind: MCPRoute\nspec:\n  backendRefs:\n    - name: github\n"
            f"      securityPolicy:\n        apiKey:\n          inline: {fakes.generic_key()}\n",
            {"mcp-inline-api-key"},
        ),
        ("app/svc.py", f"client = OpenAI(api_key='{fakes.openai_service_account_key()}')\n", {"openai-api-key"}),
        ("admin.sh", f"export OPENAI_ADMIN_KEY={fakes.openai_admin_key()}\n", {"openai-api-key"}),
        ("legacy.txt", f"old key: {fakes.openai_legacy_key()}\n", {"openai-api-key"}),
        ("anthropic.env", f"ANTHROPIC_API_KEY={fakes.anthropic_key()}\n", {"anthropic-api-key"}),
        ("anthropic-admin.ini", f"[admin]\nkey = {fakes.anthropic_admin_key()}\n", {"anthropic-api-key"}),
        ("main.tf", f'variable "groq" {{\n  default = "{fakes.groq_key()}"\n}}\n', {"groq-api-key"}),
        (
            "credentials",
            f"[default]\naws_access_key_id = {key_id}\naws_secret_access_key = {secret}\n",
            {"aws-access-key-id", "aws-secret-access-key"},
        ),
        (
            ".env",
            (
                f"AWS_ACCESS_KEY_ID={fakes.aws_access_key_id(True)}\n"
                f"AWS_SECRET_ACCESS_KEY={fakes.aws_secret_access_key()}\n"
            ),
            {"aws-access-key-id", "aws-secret-access-key"},
        ),
        (
            "terraform.tfvars",
            f'access_key = "{fakes.aws_access_key_id()}"\nsecret_key = "{fakes.aws_secret_access_key()}"\n',
            {"aws-access-key-id", "aws-secret-access-key"},
        ),
        ("azure.json", json.dumps({"clientSecret": fakes.entra_client_secret()}), {"azure-entra-client-secret"}),
        (
            "azure.yaml",
            f"endpoint: https://x.openai.azure.com\napi_key: {fakes.azure_openai_key()}\n",
            {"azure-openai-key"},
        ),
        ("azure-legacy.env", f"AZURE_OPENAI_API_KEY={fakes.azure_legacy_key()}\n", {"azure-openai-key"}),
        ("sa.json", sa, {"gcp-service-account-key"}),
        (
            "notebook.ipynb",
            json.dumps({"cells": [{"cell_type": "code", "source": [f"key = '{fakes.groq_key()}'\n"]}]}),
            {"groq-api-key"},
        ),
        ("server.pem", fakes.pem_private_key(), {"private-key"}),
        ("ops.asc", pgp_private_block(), {"pgp-private-key"}),
        (
            "keys.txt",
            (
                f"# created: 2026-01-01\n# public key: age1{rand(58, 'qpzry9x8gf2tvdw0s3jn54khce6mua7l')}\n"
                f"{age_identity()}\n"
            ),
            {"age-secret-key"},
        ),
        (
            "bootstrap/sops-age.yaml",
            (
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: sops-age\n  namespace: flux-system\n"
                f"stringData:\n  age.agekey: {age_identity()}\n"
            ),
            {"age-secret-key"},
        ),
        (
            "secret.yaml",
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: hunter2-but-longer\n",
            {"k8s-secret-plaintext"},
        ),
        (
            "externalsecret.yaml",
            "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata:\n  name: db\nspec:\n"
            "  target:\n    template:\n      data:\n"
            f"        apiKey: {fakes.mistral_key()}\n",
            {"externalsecret-template-literal"},
        ),
        (
            "secret-data.yaml",
            f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ndata:\n  password: {_b64('s3cr3t-passw0rd')}\n",
            {"k8s-secret-plaintext"},
        ),
        (
            "secret-openai.yaml",
            (
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: o\ntype: Opaque\ndata:\n"
                f"  apiKey: {_b64(fakes.openai_project_key())}\n"
            ),
            {"openai-api-key"},
        ),
        (
            "multi.yaml",
            (
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: b\n---\napiVersion: v1\n"
                "kind: Secret\nmetadata:\n  name: s\nstringData:\n  token: plain-token-value-123\n"
            ),
            {"k8s-secret-plaintext"},
        ),
        (
            "kustomization.yaml",
            (
                "secretGenerator:\n  - name: app\n    literals:\n      - DB_PASSWORD=correct-horse-battery\n"
                "      - USER=changeme\n"
            ),
            {"kustomize-secret-literal"},
        ),
        (
            "handedited.sops.yaml",
            (
                f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\nstringData:\n  apiKey: {_enc()}\n"
                f"  added: plain-value-typed-later\n{_sops_block()}"
            ),
            {"sops-plaintext-value"},
        ),
        (
            "nomac.sops.yaml",
            (
                f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\nstringData:\n  apiKey: {_enc()}\n"
                f"{_sops_block(mac=False)}"
            ),
            {"sops-missing-mac"},
        ),
        ("blob.env", f"CONFIG_B64={_b64('GROQ_API_KEY=' + fakes.groq_key())}\n", {"groq-api-key"}),
        ("blob.json", json.dumps({"payload": _b64(f"anthropic={fakes.anthropic_key()}")}), {"anthropic-api-key"}),
        (
            "talos/talsecret.sops.yaml",
            (
                f"cluster:\n  token: {_enc()}\n  secretboxEncryptionSecret: {_b64(rand(32))}\n"
                f"{_sops_block().replace('^(data|stringData)$', '^(token|secretboxencryptionsecret)$')}"
            ),
            {"sops-unselected-secret"},
        ),
        (
            "truncated.sops.yaml",
            f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\nstringData:\n  PASSWORD: {_enc()}\n",
            {"sops-missing-metadata"},
        ),
        ("plain.sops.json", json.dumps({"password": "plain-fake-pw-" + rand(8)}), {"sops-rule-unencrypted"}),
        (
            "talos/controlplane.yaml",
            (
                f"machine:\n  ca:\n    crt: {_b64('-----BEGIN CERTIFICATE-----')}\n"
                f"    key: {_b64(fakes.pem_private_key())}\n"
            ),
            {"private-key"},
        ),
        (
            "alertmanager.yaml",
            "receivers:\n  - slack_configs:\n      - api_url: "
            f"https://hooks.slack.com/services/T{rand(9, _UPPER_DIGITS)}/B{rand(10, _UPPER_DIGITS)}/{rand(24)}\n",
            {"slack-webhook-url"},
        ),
        (
            "notify.env",
            f"DISCORD_URL=https://discord.com/api/webhooks/{rand(18, '0123456789')}/{rand(68, fakes.URLSAFE)}\n",
            {"discord-webhook-url"},
        ),
        (
            "teams.yaml",
            f"url: https://acme.webhook.office.com/webhookb2/{_uuid()}@{_uuid()}"
            f"/IncomingWebhook/{rand(32, _HEX)}/{_uuid()}\n",
            {"teams-webhook-url"},
        ),
        (
            "vault-init.txt",
            f"Unseal Key 1: {_b64(rand(33))}\nInitial Root Token: hvs.{rand(24)}\n",
            {"vault-unseal-key", "vault-token"},
        ),
        ("ci.yaml", f"# GITHUB_TOKEN: ghp_{rand(36)}\nGITLAB: glpat-{rand(20)}\n", {"github-token", "gitlab-token"}),
        (
            "join.sh",
            f"kubeadm join 10.0.0.1:6443 --token {rand(6, _LOWER_DIGITS)}.{rand(16, _LOWER_DIGITS)}\n",
            {"kube-bootstrap-token"},
        ),
        (
            "wg0.conf",
            f"[Interface]\nPrivateKey = {base64.b64encode(bytes(rand(32), 'ascii')).decode()}\n",
            {"wireguard-private-key"},
        ),
        (
            "hass.yaml",
            (
                "homeassistant:\n  token: "
                f"eyJ{rand(30, fakes.URLSAFE)}.eyJ{rand(60, fakes.URLSAFE)}.{rand(43, fakes.URLSAFE)}\n"
            ),
            {"jwt"},
        ),
        ("mosquitto/passwd", f"mqtt:$6${rand(16)}${rand(86)}\n", {"password-hash"}),
        (
            "helmrelease.yaml",
            f"kind: HelmRelease\nspec:\n  values:\n    adminPassword: {rand(12)}-{rand(4, '0123456789')}!\n",
            {"credential-literal"},
        ),
    ]


def negatives() -> list[tuple[str, str, set[str]]]:
    none: set[str] = set()
    return [
        (
            "encrypted.sops.yaml",
            (
                f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\nstringData:\n  apiKey: {_enc()}\n"
                f"  other: {_enc()}\n{_sops_block()}"
            ),
            none,
        ),
        (
            "placeholders.yaml",
            (
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\nstringData:\n"
                "  apiKey: <base64-encoded-api-key>\n  b: ${OPENAI_API_KEY}\n  c: changeme\n  d: sk-xxxx\n"
                "  e: ''\n  f:\n"
            ),
            none,
        ),
        (
            "placeholder-data.yaml",
            f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\ndata:\n  apiKey: {_b64('changeme')}\n  empty: ''\n",
            none,
        ),
        (
            "mcp-ref.yaml",
            (
                "kind: MCPRoute\nspec:\n  backendRefs:\n    - securityPolicy:\n        apiKey:\n"
                "          secretRef: {name: github-mcp}\n    - securityPolicy:\n        apiKey:\n"
                "          inline: ${GITHUB_TOKEN}\n"
            ),
            none,
        ),
        (
            "refs.yaml",
            (
                "env:\n  - name: OPENAI_API_KEY\n    valueFrom:\n      secretKeyRef: {name: openai, key: apiKey}\n"
                "spec:\n  apiKey:\n    secretRef: {name: openai-apikey, namespace: ai}\n"
            ),
            none,
        ),
        (
            "README.md",
            (
                "Set `apiKey` in the Secret. Keys look like `sk-proj-...` or `gsk_...`.\naws_secret_access_key =\n"
                "Use AKIAIOSFODNN7EXAMPLE as in the AWS docs.\n"
            ),
            none,
        ),
        (
            ".sops.yaml",
            (
                "creation_rules:\n  - path_regex: kubernetes/.*\n    encrypted_regex: ^(data|stringData)$\n"
                f"    age: age1{rand(58, 'qpzry9x8gf2tvdw0s3jn54khce6mua7l')}\n"
            ),
            none,
        ),
        ("recipients.txt", f"# public key: age1{rand(58, 'qpzry9x8gf2tvdw0s3jn54khce6mua7l')}\n", none),
        (
            "code.py",
            (
                'import os\nkey = os.environ["OPENAI_API_KEY"]\nsha = "da39a3ee5e6b4b0d3255bfef95601890afd80709"\n'
                'md5 = "d41d8cd98f00b204e9800998ecf8427e"\n'
            ),
            none,
        ),
        (
            "configmap.yaml",
            f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  blob: {_b64(rand(60))}\n",
            none,
        ),
        (
            "bsp.yaml",
            (
                "apiVersion: aigateway.envoyproxy.io/v1beta1\nkind: BackendSecurityPolicy\nspec:\n  type: APIKey\n"
                "  apiKey:\n    secretRef: {name: openai-apikey}\n"
            ),
            none,
        ),
        (
            "docs.env",
            "OPENAI_API_KEY=your-api-key-here\nGROQ_API_KEY=\nANTHROPIC_API_KEY=sk-ant-api03-xxxxxxxxxxxxxxxx\n",
            none,
        ),
        ("allowed.py", f'TEST_KEY = "{fakes.groq_key()}"  # aigw-secrets: allow\n', none),
        (
            "uuid.json",
            json.dumps({"id": "3fa85f64-5717-4562-b3fc-2c963f66afa6", "hash": rand(64, "0123456789abcdef")}),
            none,
        ),
        (
            "generator.yaml",
            "secretGenerator:\n  - name: app\n    envs: [secret.env]\n    literals:\n      - API_KEY=${API_KEY}\n",
            none,
        ),
        (
            "flux-secret.yaml",
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\nstringData:\n"
            "  URL: https://auth.${SECRET_DOMAIN}/callback\n  TOKEN: Bot ${TOKEN}\n"
            '  DB_HOST: postgres-rw.database.svc.cluster.local\n  DB_PORT: "5432"\n  DB_USER: appuser\n'
            '  ENABLED: "true"\n  OP_PASSWORD: op://homelab/app/password\n'
            "  config.yaml: |\n    password: '{{ .db_password }}'\n    url: http://x\n"
            f"data:\n  tls.crt: {_b64(_CERTIFICATE.format(_b64(rand(60))))}\n",
            none,
        ),
        (
            "kubernetes/apps/web/helmrelease.yaml",
            "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nspec:\n  values:\n    secretName: web-tls\n",
            none,
        ),
        (
            "kubernetes/apps/grafana/helmrelease.yaml",
            "kind: HelmRelease\nspec:\n  values:\n    adminPassword: password\n"
            "    existingSecret: grafana-admin\n    token: ${TOKEN}\n    apiKey: '{{ .Values.key }}'\n"
            "    env:\n      - valueFrom:\n          configMapKeyRef: {name: cfg, key: cni-chaining-mode}\n"
            "    slack: https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX\n"
            "    bootstrap: abcdef.0123456789abcdef\n",
            none,
        ),
        (
            "aws-docs.md",
            (
                "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"
                "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"
            ),
            none,
        ),
    ]


def corpus() -> list[tuple[str, str, set[str]]]:
    return positives() + negatives()
