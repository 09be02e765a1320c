"""Seams: what `generate` writes, for every provider x auth mode and every v1.2 feature (MCP
backends, the MCP session seed, Secrets in another namespace with their ReferenceGrant), passes the
installed git hook, `scan --history` and `doctor`; the scanner's finding policy is the one `doctor`
uses (scanner/policy.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from aigw_secrets.cli import main
from aigw_secrets.gateway.providers import PROVIDERS
from aigw_secrets.scanner.scan import exposure, scan_file
from testing import fakes
from testing.helpers import git
from testing.repos import provider_settings, set_credentials, write_cluster

ROUNDS = max(len(p.auth_modes) for p in PROVIDERS.values())


def _round(n: int) -> dict[str, Any]:
    """Every provider, each on its n-th auth mode (cycling): ROUNDS rounds cover the whole matrix."""
    settings: dict[str, Any] = {"cluster_name": "test", "ai_gateway_secret_namespace": "ai-secrets"}
    for p in PROVIDERS.values():
        settings.update(provider_settings(p.key, p.auth_modes[n % len(p.auth_modes)].name))
    settings["ai_gateway_mcp_backends"] = ["github=https://api.githubcopilot.com/mcp"]
    settings["ai_gateway_mcp_session_seed"] = True
    return settings


def test_generated_files_pass_the_hook_history_and_doctor(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    set_credentials(monkeypatch, tmp_path)
    monkeypatch.setenv("MCP_GITHUB_API_KEY", "ghp_" + fakes.rand(36))
    assert main(["install-hook", "--repo", str(repo)]) == 0
    covered = {(p.key, m.name) for p in PROVIDERS.values() for m in p.auth_modes}
    seen: set[tuple[str, str]] = set()
    names: set[str] = set()
    for n in range(ROUNDS):
        set_credentials(
            monkeypatch, tmp_path
        )  # new ones each round: generate refuses to bring back a replaced credential
        settings = _round(n)
        seen |= {(p.key, settings[f"ai_gateway_{p.key}_auth"]) for p in PROVIDERS.values()}
        write_cluster(repo, settings)
        assert main(["generate", "--no-input"]) == 0, n
        git(repo, "add", "-A")
        capsys.readouterr()
        assert main(["scan", "--staged"]) == 0, capsys.readouterr().err
        git(repo, "commit", "-qm", f"round {n}")  # through the installed hook (a finding fails the commit)
        names |= {p.name for p in (repo / "kubernetes").rglob("*.yaml")}
    assert seen == covered
    assert {"mcp.yaml", "mcp-session-encryption.secret.sops.yaml", "gcp-vertex.secret.sops.yaml"} <= names
    assert "ReferenceGrant" in git(repo, "log", "-p")
    capsys.readouterr()
    assert main(["scan", "--history"]) == 0, capsys.readouterr().err
    assert main(["doctor"]) == 0, capsys.readouterr().out


# --- the policy in isolation: metadata never counts, config values do ----------------------------

_ENCRYPTED_SECRET = """\
apiVersion: v1
kind: Secret
metadata:
  name: gcp-vertex-service-account
  annotations:
    aigw-secrets.io/auth: service-account
    example.com/token: mcp-session-seed
  labels:
    credential-password: not-a-credential-label
stringData:
  service_account.json: ENC[AES256_GCM,data:AAAA,iv:AAAA,tag:AAAA,type:str]
sops:
  mac: ENC[AES256_GCM,data:AAAA,iv:AAAA,tag:AAAA,type:str]
  encrypted_regex: ^(data|stringData)$
  version: 3.10.2
"""


def test_annotations_and_labels_are_never_credentials() -> None:
    assert scan_file("x.secret.sops.yaml", _ENCRYPTED_SECRET.encode())[0] == []
    # a Secret's name in a sops-encrypted values file (ceph-csi's storageClass.provisionerSecret)
    values = (
        "storageClass:\n  provisionerSecret: csi-cephfs-secret\n  clientSecret: Xk2vQ9wLp4TzR8\n"
        + _ENCRYPTED_SECRET.split("stringData:\n", 1)[1]
    )
    assert [(f.rule, f.note.split(" ")[0]) for f in scan_file("values.sops.yaml", values.encode())[0]] == [
        ("sops-unselected-secret", "storageClass.clientSecret")
    ]


def test_a_credential_name_in_a_sops_config_file_still_counts() -> None:
    text = _ENCRYPTED_SECRET.replace("apiVersion: v1\nkind: Secret\n", "").replace(
        "stringData:", "db_password: hunter2hunter2\nstringData:"
    )
    rules = {f.rule for f in scan_file("talos.sops.yaml", text.encode())[0]}
    assert rules == {"sops-unselected-secret"}
    # a HelmRelease's values are config: a credential there still counts; its metadata does not
    helm = _ENCRYPTED_SECRET.replace("kind: Secret", "kind: HelmRelease").replace(
        "stringData:", "spec:\n  values:\n    adminPassword: hunter2hunter2\nstringData:"
    )
    found = scan_file("release.sops.yaml", helm.encode())[0]
    assert [(f.rule, f.note.split(" ")[0]) for f in found] == [("sops-unselected-secret", "spec.values.adminPassword")]


@pytest.mark.parametrize(
    ("name", "text", "exposed"),
    [
        ("cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  LOG_LEVEL: debug\n", False),
        (
            "hr.yaml",
            (
                "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: x\nspec:\n"
                "  values:\n    existingSecret: authelia-secrets\n"
            ),
            False,
        ),
        (
            "es.yaml",
            (
                "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata:\n  name: x\nspec:\n  data:\n"
                "    - secretKey: password\n      remoteRef: {key: db}\n"
            ),
            False,
        ),
        ("secret.yaml.j2", "apiVersion: v1\nkind: Secret\nstringData:\n  password: {{ vault_password }}\n", False),
        ("secret.sops.yaml.tmpl", "apiVersion: v1\nkind: Secret\nstringData:\n  password: hunter2hunter2\n", False),
        ("empty.yaml", "", False),
        (
            "affinity.yaml",
            (
                "apiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n    spec:\n      affinity:\n"
                "        - key: feature.node.kubernetes.io/usb-ff_10c4_ea60.present\n"
            ),
            False,
        ),
        (
            "tmpl/admin.sops.yaml",
            "apiVersion: v1\nkind: Secret\nstringData:\n  admin-user: admin\n  admin-password: ${ADMIN_PASSWORD}\n",
            False,
        ),
        (
            "grafana.yaml",
            (
                "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: x\nspec:\n"
                "  values:\n    secureJsonData:\n      token: "
            )
            + "wgXSk1pkhpbZXGEZvojQhwPH-l_bc1dipFksMbvVoePLzdZlKC"
            + "\n",
            True,
        ),
        (
            "flux.sops.yaml",
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\nstringData:\n  token: ${FLUX_TOKEN}\n",
            False,
        ),
        (
            "secret.yaml",
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\nstringData:\n  password: hunter2hunter2\n",
            True,
        ),
        (
            "app.sops.yaml",
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\nstringData:\n  a: hunter2hunter2\n",
            True,
        ),
        ("host_vars/web.yml", "ansible_become_password: hunter2hunter2\nansible_host: 10.0.0.1\n", True),
        ("host_vars/db.yml", "ansible_host: 10.0.0.2\nansible_user: admin\n", False),
        (
            "app/values.yaml",
            (
                "env:\n  - name: API_PASSWORD\n    valueFrom:\n      secretKeyRef:\n"
                "        name: api-credentials\n        key: API_PASSWORD_VALUE\n"
            ),
            False,
        ),
        ("snmp/generator.yml", "modules:\n  nas:\n    auth:\n      priv_password: otherPass\n", True),
        ("app.env", "DB_PASSWORD=hunter2hunter2\nPORT=80\n", True),
    ],
)
def test_exposure_is_scans_verdict(name: str, text: str, exposed: bool) -> None:
    """doctor's "matches a rule but is not encrypted" = scan's sops-rule-unencrypted (or a shape)."""
    verdict = exposure(name, text.encode())
    assert (verdict is not None) == exposed, verdict
    rules = {f.rule for f in scan_file(name, text.encode(), must_encrypt=True)[0]}
    assert ("sops-rule-unencrypted" in rules or bool(rules)) == exposed, rules


def test_mcp_inline_key_is_reported_on_its_value_line() -> None:
    key = fakes.generic_key()  # not a distinctive shape (a ghp_ token is reported as github-token on that line)
    text = (
        "apiVersion: aigateway.envoyproxy.io/v1beta1\nkind: MCPRoute\nspec:\n  backendRefs:\n    - name: github\n"
        f"      securityPolicy:\n        apiKey:\n          inline: {key}\n"
    )
    found = [f for f in scan_file("mcp.yaml", text.encode())[0] if f.rule == "mcp-inline-api-key"]
    assert [(f.line, f.column) for f in found] == [(8, 19)]


@pytest.mark.parametrize(
    ("keys", "value"),
    [
        (("mqtt", "password"), "{FRIGATE_MQTT_PASSWORD}"),  # the app's own {ENV} substitution (frigate)
        (("ldap", "password"), "password"),  # a default word
        (("panels", "targets", "key"), "Q-1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d-0"),  # Grafana's query id
        (("panels", "targets", "$$hashKey"), "object:123abc456"),  # Grafana/Angular's object id
    ],
)
def test_config_values_judged_by_value_not_only_by_name(keys: tuple[str, ...], value: str) -> None:
    """Found in a real repository's history: covered config files reported as 'would expose' for these."""
    from aigw_secrets.scanner import policy

    assert not policy.credential_by_name(keys, value, kube_kind=None)
    assert policy.credential_by_name(("db", "password"), "Xk4pq9Lm2vR7", kube_kind=None)
