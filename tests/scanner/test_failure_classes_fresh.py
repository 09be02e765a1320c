"""Failure classes found by a second hand triage (`scan --history` against `gitleaks git` on eight
public GitOps repositories not used before): one small synthetic test per false family (G1-G12)
and per miss (M1-M3). Every value is generated here or is an obvious stand-in."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from aigw_secrets.entry import main
from aigw_secrets.scanner import filters
from aigw_secrets.scanner.scan import scan_file
from testing import fakes
from testing.helpers import git
from testing.scancorpus import _enc, _sops_block


def rules_of(name: str, text: str, **kw: bool) -> set[str]:
    return {f.rule for f in scan_file(name, text.encode(), **kw)[0]}


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


HELMRELEASE = "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: app\nspec:\n  values:\n"


# --- G1: a label key under a `...Key` name (topologyKey: kubernetes.io/nodeName) ------------------


@pytest.mark.parametrize("label", ["kubernetes.io/nodeName", "topology.kubernetes.io/zone", "example.com/someLabel"])
def test_g1_label_key_under_a_key_name_is_a_name(label: str) -> None:
    text = HELMRELEASE + f"    affinity:\n      podAntiAffinity:\n        - topologyKey: {label}\n"
    assert rules_of("apps/traefik/helm-release.yaml", text, must_encrypt=True) == set()
    assert filters.is_named_thing(label)


# --- G2: a YAML tag that says where the value comes from (!env_var, !secret, !include) -------------


@pytest.mark.parametrize("tag", ["!env_var", "!secret", "!ENV"])
def test_g2_tagged_reference_in_a_covered_config(tag: str) -> None:
    text = f"sonarr:\n  main:\n    base_url: http://sonarr:8989\n    api_key: {tag} SONARR__API_KEY\n"
    assert rules_of("apps/recyclarr/config/recyclarr.yml", text, must_encrypt=True) == set()


def test_g2_a_plain_literal_beside_is_still_found() -> None:
    text = f"sonarr:\n  main:\n    api_key: {fakes.rand(32, '0123456789abcdef')}\n"
    assert rules_of("apps/recyclarr/config/recyclarr.yml", text, must_encrypt=True) == {
        "sops-rule-unencrypted",
        "credential-literal",
    }


# --- G3 / G7: a stand-in phrase typed where a chart wants a value ---------------------------------


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("secret_key", "PleaseGenerateA50CharKey"),
        ("secretKey", "secretValue987"),
        ("anotherKey", "anotherSecret555"),
        ("password", "TempPassword123!"),
    ],
)
def test_g3_stand_in_phrases(key: str, value: str) -> None:
    assert filters.is_default_word(key, value)
    text = HELMRELEASE + f'    authentik:\n      {key}: "{value}"\n'
    assert rules_of("apps/authentik/helm-release.yaml", text) == set()
    secret = f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\nstringData:\n  {key}: {value}\n"
    assert rules_of("s.yaml", secret) == set()


def test_g3_chosen_passwords_stay_findings() -> None:
    for value in ("windowUpOnTheHill", fakes.rand(10), fakes.rand(24)):
        assert not filters.is_default_word("password", value), value


# --- G4 / G5 / G6 / G11 / G12: references, expressions, paths, URLs, hosts -------------------------


@pytest.mark.parametrize(
    "value",
    [
        "os.environ/ANTHROPIC_API_KEY",  # LiteLLM's environment reference
        "data.bitwarden-secrets_secret.cloudflare_apikey.value",  # a Terraform expression
        "var.proxmox_api-token",
        "/opt/data/profiles/<name>/.ssh/id_sandbox",  # a path with a stand-in segment
    ],
)
def test_g4_references_and_paths_under_credential_names(value: str) -> None:
    assert not filters.looks_like_literal(value)
    assert rules_of("values.yaml", f"credentials:\n  api_key: {value}\n") == set()


@pytest.mark.parametrize(
    "value",
    ["s3:http://minio.storage.svc.cluster.local:9000/volsync/app", "postgres-rw.db.svc.cluster.local.:5432"],
)
def test_g11_repository_urls_and_hosts_with_a_root_dot(value: str) -> None:
    assert filters.is_obvious_non_secret(value)
    text = (
        "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata:\n  name: x\nspec:\n  target:\n"
        f'    template:\n      data:\n        RESTIC_REPOSITORY: "{value}"\n        RESTIC_PASSWORD: "{{{{ .pw }}}}"\n'
    )
    assert rules_of("externalsecret.yaml", text) == set()


# --- G8: a covered plain config that names where the secret is kept --------------------------------


@pytest.mark.parametrize(
    ("key", "value"),
    [("sops_gcloud_key", "lab-cluster-age-key"), ("gcp_router_encrypted_password_key", "rt9-encrypted-password")],
)
def test_g8_secret_names_in_covered_plain_configs(key: str, value: str) -> None:
    text = f"vars:\n  {key}: {value}\n  other: thing\n"
    assert rules_of("bootstrap/flux/Taskfile.yaml", text, must_encrypt=True) == set()


def test_g8_a_hyphenated_password_is_still_one() -> None:
    text = "db_password: plain-fake-words\n"
    assert "sops-rule-unencrypted" in rules_of("netops/vars/main.yaml", text, must_encrypt=True)


# --- G9: a hand-edited sops file with its metadata in plaintext exposes nothing ---------------------


def test_g9_plaintext_metadata_in_an_encrypted_section_is_no_leak() -> None:
    block = _sops_block().replace("^(data|stringData)$", "((?i)(pass|key|ad|^stringData))")  # `ad` matches metadata
    text = (
        "apiVersion: v1\nkind: Secret\nmetadata:\n    name: immich\n    namespace: selfhosted\ntype: Opaque\n"
        f"stringData:\n    DB_PASSWORD: {_enc()}\n{block}"
    )
    assert rules_of("apps/immich/secret.sops.yaml", text) == set()
    hand = (
        "apiVersion: v1\nkind: Secret\nmetadata:\n    name: immich\nstringData:\n"
        f"    DB_PASSWORD: typed-in-later-x\n    B: {_enc()}\n{block}"
    )
    assert rules_of("apps/immich/secret.sops.yaml", hand) == {"sops-plaintext-value"}


# --- G10: a *.sops.* form with every value empty exposes nothing ------------------------------------


def test_g10_empty_sops_named_form() -> None:
    assert rules_of("plex/config.sops.ini", "[auth]\nserver_baseurl =\nserver_token   =\n") == set()
    assert rules_of("plex/config.sops.ini", "[auth]\nserver_token = abc\n") == {"sops-rule-unencrypted"}
    assert rules_of("keys/id.sops.key", fakes.rand(40) + "\n") == {"sops-rule-unencrypted"}


# --- M1: a credential as the only item of a flow sequence (Prometheus scrape `params`) --------------


def test_m1_api_key_in_a_flow_sequence() -> None:
    key = fakes.rand(32, "0123456789ABCDEF")
    text = (
        HELMRELEASE + f"    scrapeConfigs:\n      - job_name: octoprint\n        params:\n          apikey: [{key}]\n"
    )
    found, _ = scan_file("monitoring/helmrelease.yaml", text.encode())
    assert [(f.rule, f.line, f.secret) for f in found] == [("credential-literal", 10, key)]


# --- M2: a `$` inside a generated password is not a shell variable ---------------------------------


def test_m2_dollar_inside_a_generated_password() -> None:
    value = fakes.rand(10) + "*" + fakes.rand(4) + "$o^" + fakes.rand(8)
    assert filters.looks_like_literal(value)
    assert not filters.looks_like_literal("$HOME/.ssh/id_ed25519")
    assert not filters.looks_like_literal("$work_dir/ca-key.pem")


# --- M3: history names the commit of a blob made by a merge or kept only on a side branch -----------


def test_m3_history_names_commits_of_merge_and_side_branch_blobs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "r"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "t@example.invalid")
    git(root, "config", "user.name", "t")
    monkeypatch.chdir(root)
    token = fakes.rand(40)
    (root / "versions.tf").write_text(f'provider "x" {{\n  version = "1"\n  token = "{token}"\n}}\n')
    git(root, "add", "-A")
    git(root, "commit", "-qm", "token")
    git(root, "checkout", "-qb", "side")
    (root / "key.asc").write_text(fakes.pem_private_key())
    (root / "versions.tf").write_text(f'provider "x" {{\n  version = "2"\n  token = "{token}"\n}}\n')
    git(root, "add", "-A")
    git(root, "commit", "-qm", "side: bump, add key")
    git(root, "rm", "-q", "key.asc")
    git(root, "commit", "-qm", "side: drop key")
    git(root, "checkout", "-q", "main")
    (root / "versions.tf").write_text(f'# pinned\nprovider "x" {{\n  version = "1"\n  token = "{token}"\n}}\n')
    git(root, "commit", "-qam", "main: comment")
    git(root, "merge", "-q", "--no-edit", "side")  # versions.tf merged cleanly: a blob only the merge has
    assert main(["scan", "--history", "--format", "json"]) == 1
    findings = json.loads(capsys.readouterr().out)["findings"]
    assert findings and all(f["commit"] for f in findings), [(f["path"], f["commit"]) for f in findings]
    assert {f["path"] for f in findings} == {"versions.tf", "key.asc"}


# --- held-out repositories (triaged after the fixes above): H1-H10 ------------------------------------


def test_h1_detect_secrets_baseline_hashes_and_partial_tokens() -> None:
    digest = fakes.rand(40, "0123456789abcdef")
    text = (
        f'{{"results": {{"a.yaml": [{{"type": "Secret Keyword", "hashed_secret": "{digest}", "line_number": 3}}]}}}}\n'
    )
    assert rules_of(".secrets.baseline", text) == set()
    assert rules_of("docs/api.md", f'    "partialToken": "{fakes.rand(16, "0123456789abcdef")}",\n') == set()


def test_h2_rfc6749_example_tokens_in_docs() -> None:
    text = (
        '  "access_token": "2YotnFZFEjr1zCsicMWpAA",\n  "refresh_token": "tGzv3JOkF0XG5Qx2TlKWIA",\n'
        "refresh_token=tGzv3JOkF0XG5Qx2TlKWIA&\n"
    )
    assert rules_of("docs/oauth.md", text) == set()


def test_h4_kustomize_literal_judged_as_secret_data() -> None:
    gen = "secretGenerator:\n- name: s3\n  literals:\n  - AWS_REGION=garage\n  - AWS_SECRET_ACCESS_KEY={}\n"
    found, _ = scan_file("kustomization.yaml", gen.format(fakes.rand(8) + "-x1").encode())
    assert [(f.rule, f.line) for f in found] == [("kustomize-secret-literal", 5)]


@pytest.mark.parametrize("value", ["{env:DEEPSEEK_API_KEY}", "%%BRAVE_API_KEY%%", "env:CF_API_TOKEN", "*dbPassword"])
def test_h5_app_references_and_yaml_aliases(value: str) -> None:
    assert rules_of("config/settings.yml", f"engine:\n  api_key: {value}\n") == set()
    assert rules_of("opencode.jsonc", f'  "apiKey": "{value}"\n') == set()


def test_h7_words_joined_by_a_colon_in_a_comment() -> None:
    assert rules_of("mosquitto/secret.yaml", "# mosquitto_pwd: username:password\nkind: Secret\n") == set()


def test_h8_template_files_hold_stand_ins() -> None:
    text = (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: w\nstringData:\n  SYMFONY__ENV__SECRET: SUPERSECRET\n"
        "  secretKey: console123\n"
    )
    assert rules_of("apps/wallabag/secret.template", text) == set()
    assert rules_of(".tmpl/.sops.template", "creation_rules:\n  - encrypted_regex: ^(data|stringData)$\n") == set()


def test_h9_pronounceable_generated_passwords_are_literals() -> None:
    # pwgen's shape: lower-case syllables with capitals and digits inside, read before as a camelCase name
    low, up, dig = "abcdefghijkmnopqrstuvwxyz", "ABCDEFGHJKLMNPQRSTUVWXYZ", "0123456789"
    value = (
        "".join(fakes.rand(3, low) + fakes.rand(1, up) + fakes.rand(2, low) + fakes.rand(1, dig) for _ in range(4))
        + "oo"
    )
    text = (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: minio\nstringData:\n  values.yaml: |\n    users:\n"
        f"      - accessKey: k8up\n        secretKey: {value}\n"
    )
    found, _ = scan_file("apps/minio/secret.yaml", text.encode())
    assert [(f.rule, f.line) for f in found] == [("credential-literal", 9)]
    assert filters.is_named_thing("base64EncodedCredentials")


def test_h10_api_key_in_a_url_query() -> None:
    key = fakes.rand(32, "0123456789abcdef")
    text = f'{{"options": "https://indexer.example.org/api?t=user&username=me&apikey={key}"}}\n'
    found, _ = scan_file("dashboards/overview.json", text.encode())
    assert [(f.rule, f.secret) for f in found] == [("credential-literal", key)]
    assert rules_of("d.json", '{"u": "https://x.example.org/api?apikey=${API_KEY}&t=1"}\n') == set()


def test_h3_vendor_api_docs_sample_tokens() -> None:
    token = "932b2a3495852c15af01598f62563ae534460388b6a370bfbbb8bb6094b698e9"  # Technitium's published sample
    text = (
        f'{{\n  "username": "admin",\n  "token": "{token}"\n}}\n'
        f'curl "http://localhost:5380/api/user/session/get?token={token}"\n'
    )
    assert rules_of("docs/external/technitium/api-docs.md", text) == set()
    other = fakes.rand(64, "0123456789abcdef")
    assert rules_of("docs/notes.md", f'{{\n  "token": "{other}"\n}}\n') == {"credential-literal"}


# --- a second held-out round, triaged before any fix (R1-R3) ------------------------------------------


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("INFERENCE_TEXT_MODEL", "Org/Model3-VL-30B-A3B-Instruct"),  # a model id
        ("RESTIC_REPOSITORY", "s3:s3.us-west-002.example.com/bucket-volsync/app"),  # restic's s3:host/bucket
        ("url", "ghcr.io/example-org/some-operator/helm-charts"),  # an OCI chart reference
    ],
)
def test_r1_paths_of_names_are_not_tokens(key: str, value: str) -> None:
    assert not filters.is_token_like(value)
    text = (
        "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata:\n  name: x\nspec:\n  target:\n"
        f'    template:\n      data:\n        {key}: "{value}"\n        API_KEY: "{{{{ .k }}}}"\n'
    )
    assert rules_of("externalsecret.yaml", text) == set()
    secret = f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: r\nstringData:\n  {key}: {value}\n"
    assert rules_of("secret.yaml", secret) == set()


def test_r1_base64_with_a_slash_is_still_a_token() -> None:
    assert filters.is_token_like(fakes.rand(12) + "/" + fakes.rand(12) + "+" + fakes.rand(8))


def test_r2_a_dictionary_word_under_a_key_name_is_a_mode() -> None:
    assert filters.is_default_word("EMQX_LICENSE__KEY", "evaluation")
    assert not filters.is_default_word("DB_PASSWORD", "sunshine")  # a typed password may be a word
    # a random key that happens to hold no digit (one in three hundred for 32 characters) is not a word
    assert not filters.is_default_word("MISTRAL_API_KEY", "qWErtYuioPasDfgHjklZxcVbnMqwErTy")


def test_r3_not_a_secure_password_stand_in() -> None:
    value = b64("ThisIsNotASecurePassword")
    text = f'apiVersion: v1\nkind: Secret\nmetadata:\n  name: pg\ndata:\n  postgresql-password: "{value}"\n'
    assert rules_of("authentik-stack.yaml", text) == set()
