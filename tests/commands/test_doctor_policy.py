"""`doctor` on the shapes of real GitOps repositories (issue 18, triaged in research/doctor/TABLE.md):
catch-all creation rules over every manifest, template files, templated .sops.yaml, Ansible vars
under a manifest rule, store typos, mac_only_encrypted, age identities in files of any name. Each
case is a small synthetic file: no other project's file is copied here."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from aigw_secrets.cli import main
from aigw_secrets.sops import agekeys
from aigw_secrets.sops.configedit import ConfigText
from testing.helpers import git


def _doctor(capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["doctor"])
    return code, capsys.readouterr().out


def _recipient(repo: Path) -> str:
    return agekeys.read_key_file(repo / "age.key")[0].recipient


def _write(repo: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


CATCH_ALL = """\
creation_rules:
  - path_regex: cluster/.*\\.ya?ml
    encrypted_regex: "^(data|stringData)$"
    age: >-
      {r}
"""

HEALTHY = {
    "cluster/apps/cm.yaml": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  TIMEZONE: Europe/Paris\n"
        "  SECRET_DOMAIN: example.org\n"
    ),
    "cluster/apps/hr.yaml": (
        "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: app\nspec:\n  values:\n"
        "    persistence:\n      data:\n        existingClaim: app-data\n    auth:\n      existingSecret: app-secret\n"
        "    affinity:\n      - key: feature.node.kubernetes.io/usb-ff_10c4_ea60.present\n"
    ),
    "cluster/apps/es.yaml": (
        "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata:\n  name: db\nspec:\n  data:\n"
        "    - secretKey: password\n      remoteRef:\n        key: database/admin\n"
    ),
    "cluster/apps/ks.yaml": (
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - cm.yaml\n"
    ),
    "cluster/apps/empty.yaml": "",
    "cluster/apps/secret.yaml.j2": (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\nstringData:\n  password: {{ vault_password }}\n"
    ),
    "cluster/apps/secret.sops.yaml.tmpl": (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\nstringData:\n  token: ${TOKEN}\n"
    ),
}


def test_catch_all_rule_over_healthy_manifests_is_clean(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Before: an error per ConfigMap, HelmRelease, ExternalSecret, template and empty file (exit 1);
    scan was silent. Now doctor asks scan's policy, and both are quiet."""
    (repo / ".sops.yaml").write_text(CATCH_ALL.format(r=_recipient(repo)))
    _write(repo, HEALTHY)
    code, out = _doctor(capsys)
    assert code == 0, out
    assert "not encrypted" not in out
    assert main(["scan", "cluster"]) == 0


def test_catch_all_rule_still_finds_what_scan_finds(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / ".sops.yaml").write_text(CATCH_ALL.format(r=_recipient(repo)))
    _write(repo, HEALTHY)
    token = "wgXSk1pkhpbZXGEZvojQhwPH" + "l_bc1dipFksMbvVoePLzdZ"
    _write(
        repo,
        {
            "cluster/apps/secret.yaml": (
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\nstringData:\n  password: hunter2hunter2\n"
            ),
            "cluster/apps/influx.yaml": (
                "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: x\nspec:\n"
                f"  values:\n    adminUser:\n      token: {token}\n"
            ),
        },
    )
    code, out = _doctor(capsys)
    assert code == 1
    assert out.count("but is not encrypted") == 2, out
    assert (
        "cluster/apps/secret.yaml: matches creation rule 1 of .sops.yaml but is not encrypted (would expose "
        "Secret x stringData.password)"
    ) in out
    # a value in a HelmRelease: encrypting with ^(data|stringData)$ would not cover it
    assert "move the value into a SOPS-encrypted Secret" in out
    assert main(["scan", "cluster"]) == 1


@pytest.mark.parametrize(
    ("key", "value", "reported"),
    [
        # a hyphenated compound ending in a credential word reads as the name of one (`k8s-gitops-age-key`):
        # the same verdict under every credential name
        *(
            (k, "minio-password", False)
            for k in ("rootPassword", "adminPassword", "accessKeySecret", "clientSecret", "existingSecret")
        ),
        ("rootPassword", "Xq7-vR2m9kL4pZ8w", True),  # a generated password is reported wherever it sits
        ("accessKeySecret", "Xq7-vR2m9kL4pZ8w", True),
        ("sshKeySecret", "ssh-public-keys", False),
        # the well-known default words stay placeholders under every name
        *((k, v, False) for k in ("rootPassword", "accessKeySecret") for v in ("password", "changeme")),
    ],
)
def test_a_value_gets_one_verdict_whatever_credential_name_holds_it(
    repo: Path, capsys: pytest.CaptureFixture[str], key: str, value: str, reported: bool
) -> None:
    """Found on a public repo (research/doctor2 repro B): `minio-password` was an error under
    `rootPassword` and quiet under `accessKeySecret`, where it was the live S3 secret key ("a key
    ending in Secret holds a Secret's name"). Now scan and doctor report it under both, and stay
    quiet only where the key names a Secret object."""
    (repo / ".sops.yaml").write_text(CATCH_ALL.format(r=_recipient(repo)))
    _write(repo, {"cluster/apps/mlflow/values.yaml": f'mlflow:\n  auth:\n    {key}: "{value}"\n'})
    code, out = _doctor(capsys)
    assert (code == 1) is reported, out
    assert (f"would expose mlflow.auth.{key}" in out) is reported, out
    assert (main(["scan", "cluster"]) == 1) is reported


def test_templated_sops_config_is_one_warning(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(
        repo,
        {
            "tmpl/.sops.yaml": (
                "creation_rules:\n  - path_regex: cluster/.*\\.ya?ml\n    encrypted_regex: ^(data|stringData)$\n"
                "    age: >-\n      ${AGE_PUBLIC_KEY}\n"
            ),
            "tmpl/cluster/cluster-secrets.sops.yaml": (
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  DOMAIN: ${DOMAIN}\n"
            ),
        },
    )
    code, out = _doctor(capsys)
    assert code == 0, out
    assert "tmpl/.sops.yaml: a template" in out and "is not an age recipient" not in out


def test_a_literal_credential_in_a_templates_file_is_reported_as_scan_does(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """cluster-template's tmpl/: placeholders are quiet, but a literal password committed in a template
    file is in git now (scan reported it; doctor stopped at the template config and said nothing)."""
    _write(
        repo,
        {
            "tmpl/.sops.yaml": (
                "creation_rules:\n  - path_regex: cluster/.*\\.ya?ml\n    encrypted_regex: ^(data|stringData)$\n"
                "    age: ${AGE_PUBLIC_KEY}\n"
            ),
            "tmpl/cluster/cluster-secrets.sops.yaml": (
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  DOMAIN: ${DOMAIN}\n"
                "  MQTT_ADMIN_PASSWORD: Xk4pq9Lm2vR7\n"
            ),
        },
    )
    code, out = _doctor(capsys)
    assert code == 1, out
    assert (
        "tmpl/cluster/cluster-secrets.sops.yaml: a file of the template tmpl/.sops.yaml holds a literal credential"
        in out
    )
    assert "put a placeholder" in out


def test_unused_rule_advice_is_readable_and_keeps_the_next_rule(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    r = _recipient(repo)
    text = (
        f"---\ncreation_rules:\n  - path_regex: provision/.*\\.sops\\.ya?ml\n    age: >-\n      {r}\n"
        "  - path_regex: cluster/.*\\.sops\\.ya?ml\n    encrypted_regex: ^(data|stringData)$\n    age: >-\n"
        f"      {r}\n"
    )
    assert ConfigText(text).delete_rule(0) == (
        "---\ncreation_rules:\n  - path_regex: cluster/.*\\.sops\\.ya?ml\n"
        f"    encrypted_regex: ^(data|stringData)$\n    age: >-\n      {r}\n"
    )
    (repo / ".sops.yaml").write_text(text)
    _write(
        repo,
        {
            "cluster/a.sops.yaml": (
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\nstringData:\n  k: hunter2hunter2\n"
            )
        },
    )
    assert main(["encrypt", "cluster/a.sops.yaml"]) == 0
    code, out = _doctor(capsys)
    assert code == 0, out
    assert (
        "matches none of the 1 sops files under the repository\n"
        "    fix: fix its path_regex, or remove the rule if no file is meant to use it (checked with sops)"
    ) in out
    assert str(repo) not in out  # paths relative to the repository


def test_manifest_rule_over_ansible_vars_never_advises_a_selector(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A selector would leave host_vars values in plaintext: the advice is to split the rule."""
    (repo / ".sops.yaml").write_text(
        f"creation_rules:\n  - path_regex: .*\\.sops\\.ya?ml\n    age: {_recipient(repo)}\n"
    )
    _write(
        repo,
        {
            "kubernetes/app.sops.yaml": (
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\nstringData:\n  k: hunter2hunter2\n"
            ),
            "ansible/host_vars/web.sops.yml": "ansible_become_password: hunter2hunter2\n",
        },
    )
    for f in ("kubernetes/app.sops.yaml", "ansible/host_vars/web.sops.yml"):
        assert main(["encrypt", f]) == 0
    code, out = _doctor(capsys)
    assert code == 1
    assert "add  encrypted_regex" not in out
    assert "split it: a rule above it for the manifests' paths" in out and "web.sops.yml" in out


def test_store_option_typo_is_reported(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = (repo / ".sops.yaml").read_text()
    assert "stores:\n  yaml:\n    indent: 2\n" in text  # as init writes it
    (repo / ".sops.yaml").write_text(
        text.replace("stores:\n  yaml:\n    indent: 2\n", "stores:\n  yaml:\n    ident: 2\n  yml:\n    indent: 2\n")
    )
    code, out = _doctor(capsys)
    assert code == 1, out
    assert "unknown option stores.yaml.ident (did you mean indent?); sops ignores it" in out
    assert "fix: rename it to indent (checked with sops)" in out
    assert "unknown store stores.yml (did you mean yaml?)" in out


def test_mac_only_encrypted_is_explained(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / ".sops.yaml").write_text(
        "creation_rules:\n  - path_regex: kubernetes/.*\\.sops\\.ya?ml\n"
        "    encrypted_regex: ^(data|stringData)$\n    mac_only_encrypted: true\n"
        f"    age: {_recipient(repo)}\n"
    )
    code, out = _doctor(capsys)
    assert code == 0
    assert "mac_only_encrypted: the MAC covers only the encrypted values" in out and "annotations" in out


@pytest.mark.parametrize("pq", [False, True])
def test_age_identity_found_by_content(repo: Path, capsys: pytest.CaptureFixture[str], pq: bool) -> None:
    identity = agekeys.generate_in_process().identity
    if pq:  # the shape of a post-quantum identity (the file is only read, never used as a key)
        identity = "AGE-SECRET-KEY-PQ-1" + identity[len("AGE-SECRET-KEY-1") :] * 2
    (repo / "bootstrap").mkdir()
    key_file = repo / "bootstrap" / "flux-key.txt"
    key_file.write_text(f"# created: today\n{identity}\n")
    os.chmod(key_file, 0o600)
    git(repo, "add", "bootstrap/flux-key.txt")
    code, out = _doctor(capsys)
    assert code == 1
    assert "bootstrap/flux-key.txt: private key is tracked by git" in out
    assert identity not in out


def test_a_narrow_selector_gets_advice_that_encrypts(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A plaintext Secret under a rule whose encrypted_regex picks none of its keys: running
    `encrypt` would change nothing, so the fix is to widen the selector."""
    (repo / ".sops.yaml").write_text(
        "creation_rules:\n  - path_regex: kubernetes/.*[-_]secret\\.ya?ml$\n"
        f"    encrypted_regex: ^(adminKey|userKey)$\n    age: {_recipient(repo)}\n"
    )
    _write(
        repo,
        {
            "kubernetes/app/kopia-secret.yaml": (
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: k\nstringData:\n  password: hunter2hunter2\n"
            )
        },
    )
    code, out = _doctor(capsys)
    assert code == 1
    assert "fix: widen the rule's encrypted_regex ^(adminKey|userKey)$" in out


def test_no_selector_advice_for_a_rule_written_for_ansible_vars(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """No file yet, but the path says Kubernetes (k8s) and Ansible host_vars: whole-file is right."""
    (repo / ".sops.yaml").write_text(
        f"creation_rules:\n  - path_regex: k8s-ansible/inventory/host_vars/.*\\.ya?ml\n    age: {_recipient(repo)}\n"
    )
    code, out = _doctor(capsys)
    assert code == 0, out
    assert "encrypted_regex" not in out


SECRET = (
    "apiVersion: v1\nkind: Secret\nmetadata:\n  name: cluster-secrets\nstringData:\n  MQTT_PASSWORD: Xk4pq9Lm2vR7\n"
)


@pytest.mark.parametrize("committed", [False, True])
def test_a_decrypted_copy_is_to_delete_and_once_committed_to_rotate(
    repo: Path, capsys: pytest.CaptureFixture[str], committed: bool
) -> None:
    """A public repo had `.decrypted-cluster-secrets.sops.yaml` committed beside the encrypted
    original; doctor said "run encrypt before committing it". The copy is to be deleted, not
    encrypted, and once in a commit its values are compromised."""
    (repo / ".sops.yaml").write_text(CATCH_ALL.format(r=_recipient(repo)))
    _write(repo, {"cluster/base/cluster-secrets.sops.yaml": SECRET})
    assert main(["encrypt", "cluster/base/cluster-secrets.sops.yaml"]) == 0
    _write(repo, {"cluster/base/.decrypted-cluster-secrets.sops.yaml": SECRET})
    git(repo, "add", "-A")
    if committed:
        git(repo, "commit", "-qm", "oops")
    code, out = _doctor(capsys)
    assert code == 1, out
    assert (
        "cluster/base/.decrypted-cluster-secrets.sops.yaml: matches creation rule 1 of .sops.yaml but is not encrypted"
        " (would expose Secret cluster-secrets stringData.MQTT_PASSWORD)" in out
    )
    assert (
        "fix: delete this decrypted copy (`git rm cluster/base/.decrypted-cluster-secrets.sops.yaml`;"
        " cluster/base/cluster-secrets.sops.yaml is the encrypted original) and add its name to .gitignore" in out
    )
    assert ("rotate every value it exposes: they are in git history" in out) is committed
    assert "aigw-secrets encrypt cluster/base/.decrypted" not in out


def test_a_credential_shape_is_named_by_its_field_and_a_committed_one_is_to_rotate(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A token commented out inside a ConfigMap's `configuration.yaml` block (a public repo): doctor said
    "would expose credential-literal", the rule's name; now the object and field, and since the file is
    in a commit, rotate."""
    from testing import fakes

    (repo / ".sops.yaml").write_text(CATCH_ALL.format(r=_recipient(repo)))
    token = fakes.rand(86) + "=="
    _write(
        repo,
        {
            "cluster/apps/ha/config.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ha-config\ndata:\n"
            f"  configuration.yaml: |\n    influxdb:\n      host: influx\n      # token: {token}\n    other: 1\n"
        },
    )
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "config")
    code, out = _doctor(capsys)
    assert code == 1, out
    assert "(would expose ConfigMap ha-config data.configuration.yaml)" in out and "credential-literal" not in out
    assert "rotate the values it exposes: the plaintext is in git history" in out


def test_exposure_outside_yaml_names_the_line() -> None:
    from aigw_secrets.scanner import scan
    from testing import fakes

    key = "sk-proj-" + fakes.rand(48)
    said = scan.exposure("cluster/notes.txt", f"first line\nopenai = {key}\n".encode())
    assert said == "would expose the value on line 2"  # where, not which rule found it


def test_a_value_its_tag_does_not_fit_in_sops_yaml_is_one_error_with_its_line(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = repo / ".sops.yaml"
    lines = len(config.read_text().splitlines())
    config.write_text(config.read_text() + "x: !!int sk-not-a-number\n")
    code, out = _doctor(capsys)
    assert code == 1, out
    assert f".sops.yaml:{lines + 1}: invalid YAML: a value tagged !!int that is not one" in out
    assert "internal error" not in out and "sk-not" not in out
