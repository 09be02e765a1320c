"""One small synthetic test per failure class found on real GitOps repositories (F1-F12 of the
real-repo triage) and per scanner item of the hardening issue. Every value is generated here."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aigw_secrets.entry import main
from aigw_secrets.scanner import filters
from aigw_secrets.scanner.scan import scan_file
from testing import fakes
from testing.helpers import git
from testing.scancorpus import _enc, _sops_block, age_identity

AGE_RECIPIENT = "age1" + "q" * 58


def rules_of(name: str, text: str, **kw: bool) -> set[str]:
    return {f.rule for f in scan_file(name, text.encode(), **kw)[0]}


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.fixture
def gitrepo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "r"
    root.mkdir()
    git(root, "init", "-q")
    git(root, "config", "user.email", "t@example.invalid")
    git(root, "config", "user.name", "t")
    monkeypatch.chdir(root)
    return root


def commit_all(root: Path, message: str) -> str:
    git(root, "add", "-A")
    git(root, "commit", "-qm", message)
    return git(root, "rev-parse", "HEAD").strip()


# --- F1: a catch-all creation rule does not make every manifest a finding -----------------------


def test_f1_catch_all_rule_reports_only_secret_material() -> None:
    manifest = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [helmrelease.yaml]\n"
    assert rules_of("kubernetes/apps/web/kustomization.yaml", manifest, must_encrypt=True) == set()
    secret = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: hunter2-but-longer\n"
    found, _ = scan_file("kubernetes/apps/db/secret.yaml", secret.encode(), must_encrypt=True)
    unencrypted = [f for f in found if f.rule == "sops-rule-unencrypted"]
    assert unencrypted and "Secret db stringData.password" in unencrypted[0].note


# --- F2: templates, references, hosts, ports, public certificates --------------------------------


NON_SECRETS = [
    "https://auth.${SECRET_DOMAIN}/callback",
    "Bot ${TOKEN}",
    "ipv4.${VAR}",
    "{{ .Values.password }}",
    "op://homelab/app/password",
    "vault:secret/data/x#pw",
]
NON_SECRETS += ["5432", "true", "postgres-rw.database.svc.cluster.local", "https://example.com/path"]


@pytest.mark.parametrize("value", NON_SECRETS)
def test_f2_non_secret_values_under_credential_names(value: str) -> None:
    text = f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\nstringData:\n  PASSWORD: '{value}'\n"
    assert rules_of("s.yaml", text) == set()


def test_f2_public_certificate_next_to_private_key() -> None:
    cert = "-----BEGIN CERTIFICATE-----\n" + b64(fakes.rand(60)) + "\n-----END CERTIFICATE-----\n"
    text = (
        f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: tls\ndata:\n  tls.crt: {b64(cert)}\n"
        f"  ca.crt: {b64(cert)}\n  tls.key: {b64(fakes.pem_private_key())}\n"
    )
    found, _ = scan_file("tls.yaml", text.encode())
    assert [(f.line, f.rule) for f in found] == [(8, "private-key")]
    assert filters.is_public_certificate(cert) and not filters.is_public_certificate(fakes.pem_private_key())


def test_f2_credential_names_and_tokens_are_still_found() -> None:
    text = (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\nstringData:\n  DB_PASSWORD: hunter2-x\n"
        f"  SESSION: {fakes.rand(40)}\n  SECRET_DOMAIN: example.com\n"
    )
    found, _ = scan_file("s.yaml", text.encode())
    assert [(f.line, f.rule) for f in found] == [(6, "k8s-secret-plaintext"), (7, "k8s-secret-plaintext")]


# --- F3: history runs the same checks with the real path, names the commit and blob ---------------


def test_f3_history_finds_base64_age_key_in_a_deleted_secret(gitrepo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (gitrepo / "age.secret.yaml").write_text(
        f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: sops-age\ndata:\n  age.agekey: {b64(age_identity())}\n"
    )
    first = commit_all(gitrepo, "add")
    (gitrepo / "age.secret.yaml").unlink()
    commit_all(gitrepo, "remove")
    blob = git(gitrepo, "rev-parse", f"{first}:age.secret.yaml").strip()
    assert main(["scan", "--history", "--format", "json"]) == 1
    (finding,) = json.loads(capsys.readouterr().out)["findings"]
    assert (finding["path"], finding["rule"], finding["commit"], finding["blob"]) == (
        "age.secret.yaml",
        "age-secret-key",
        first,
        blob,
    )
    assert "rotate" in finding["advice"]


PARALLEL = (
    "from aigw_secrets.scanner import history, hook; history.PARALLEL_FROM = 1; raise "
    "SystemExit(hook.main(['--history', '--format', 'json']))"
)


def test_f3_history_in_parallel_workers_finds_the_same(gitrepo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for n in range(6):
        (gitrepo / f"f{n}.env").write_text(f"GROQ_API_KEY={fakes.groq_key()}\n" if n % 2 else "A=b\n")
    commit_all(gitrepo, "six files")
    assert main(["scan", "--history", "--format", "json"]) == 1
    serial = sorted((f["path"], f["commit"], f["blob"]) for f in json.loads(capsys.readouterr().out)["findings"])
    # forked workers in a child process: pytest's own process never forks
    res = subprocess.run([sys.executable, "-c", PARALLEL], cwd=gitrepo, capture_output=True, text=True, timeout=120)
    assert res.returncode == 1, res.stderr
    parallel = sorted((f["path"], f["commit"], f["blob"]) for f in json.loads(res.stdout)["findings"])
    assert serial == parallel and len(serial) == 3


def test_f3_history_reports_a_plaintext_sops_file(gitrepo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (gitrepo / "talos").mkdir()
    (gitrepo / "talos/talsecret.sops.yaml").write_text(f"cluster:\n  id: x\n  secret: {b64(fakes.rand(32))}\n")
    commit_all(gitrepo, "plaintext talsecret")
    assert main(["scan", "--history"]) == 1
    err = capsys.readouterr().err
    assert "talos/talsecret.sops.yaml:1:1: sops-rule-unencrypted" in err


# --- F4: a sops file whose selector left secrets in plaintext -----------------------------------


def test_f4_selector_left_secret_in_plaintext_even_with_mac() -> None:
    block = _sops_block().replace("^(data|stringData)$", "^(token|secretboxencryptionsecret)$")
    text = f"cluster:\n  token: {_enc()}\n  secretboxEncryptionSecret: {b64(fakes.rand(32))}\n{block}"
    (f,) = scan_file("talos/secrets.sops.yaml", text.encode())[0]
    assert f.rule == "sops-unselected-secret" and f.line == 3 and "case-sensitive" in f.note


def test_f4_talos_file_encrypted_with_a_kubernetes_selector() -> None:
    text = (
        f"cluster:\n  secret: {b64(fakes.rand(32))}\nsecrets:\n"
        f"  bootstraptoken: {fakes.rand(6).lower()}.{fakes.rand(16).lower()}\ncerts:\n  os:\n"
        f"    key: {b64(fakes.pem_private_key())}\n{_sops_block()}"
    )
    found = {(f.line, f.rule) for f in scan_file("talos/talsecret.sops.yaml", text.encode())[0]}
    assert found == {(2, "sops-unselected-secret"), (4, "kube-bootstrap-token"), (7, "private-key")}


def test_f4_re2_selector() -> None:
    block = _sops_block().replace("^(data|stringData)$", "^(?i)(data|stringdata)$")
    text = (
        f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\nstringData:\n  a: {_enc()}\n"
        f"  HANDEDIT: typed-later\n{block}"
    )
    assert rules_of("x.sops.yaml", text) == {"sops-plaintext-value"}


# --- F5 / F6: ENC without metadata; an unterminated ENC[ hides nothing ---------------------------


def test_f5_enc_values_without_sops_metadata() -> None:
    text = f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\nstringData:\n  PASSWORD: {_enc()}\n"
    assert rules_of("secret.sops.yaml", text) == {"sops-missing-metadata"}
    assert rules_of("app.env", f"PASSWORD={_enc()}\n") == {"sops-missing-metadata"}


def test_f6_unterminated_enc_prefix_hides_nothing() -> None:
    text = f"# values look like ENC[AES256_GCM, once encrypted\nOPENAI_API_KEY={fakes.openai_project_key()}\n"
    assert rules_of("app.env", text) == {"openai-api-key"}


# --- F8: YAML PyYAML refuses; never skip silently ----------------------------------------------


def test_f8_duplicate_anchor_is_read() -> None:
    text = (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\n  labels: {a: &v one, b: &v two}\nstringData:\n"
        "  DB_PASSWORD: Vq8-fake-Pw-71x\n"
    )
    found, skipped = scan_file("s.yaml", text.encode())
    assert {f.rule for f in found} == {"k8s-secret-plaintext"} and skipped is None


def test_f8_unparseable_yaml_is_a_skip_note_not_silence() -> None:
    text = "apiVersion: v1\nkind: Secret\nstringData:\n  a: [unclosed\n"
    _found, skipped = scan_file("s.yaml", text.encode())
    assert skipped is not None and "YAML not parseable" in skipped.reason and "unclosed" not in skipped.reason


# --- F9 / F11 / F12 --------------------------------------------------------------------------


def test_f9_base64_pem_in_kubeconfig_and_talos() -> None:
    kubeconfig = (
        "apiVersion: v1\nkind: Config\nusers:\n  - name: admin\n    user:\n"
        f"      client-key-data: {b64(fakes.pem_private_key())}\n"
    )
    assert rules_of("kubeconfig.yaml", kubeconfig) == {"private-key"}


def test_f9_talos_machine_config_ed25519_key_and_symlink_blob() -> None:
    ed = "-----BEGIN ED25519 PRIVATE KEY-----\n" + b64(fakes.rand(48)) + "\n-----END ED25519 PRIVATE KEY-----\n"
    config = f"version: v1alpha1\nmachine:\n  ca:\n    crt: {b64('-----BEGIN CERTIFICATE-----')}\n    key: {b64(ed)}\n"
    assert rules_of("k8s/talos/cluster-0/controlplane.yaml", config) == {"private-key"}
    assert rules_of("k8s/talos/cluster-0/worker.yaml", f"machine:\n  ca:\n    # key: {b64(b64(ed))}\n") == {
        "private-key"
    }
    # a symlink's blob (its target path) named *.sops.yaml holds nothing secret
    assert rules_of("a/secret.sops.yaml", "../../../main/secret.sops.yaml", must_encrypt=True) == set()


def test_f11_sops_yaml_itself_is_scanned_for_private_keys() -> None:
    text = f"# {age_identity()}\ncreation_rules:\n  - path_regex: x\n    age: {AGE_RECIPIENT}\n"
    assert rules_of(".sops.yaml", text) == {"age-secret-key"}


def test_f12_sops_json_and_env() -> None:
    assert rules_of("app.sops.json", json.dumps({"password": "plain-fake-pw-123"})) == {"sops-rule-unencrypted"}
    assert rules_of("app.sops.env", "PASSWORD=plain-fake-pw-123\n") == {"sops-rule-unencrypted"}
    env = f"API_KEY={_enc()}\nPASSWORD=typed-in-later\nsops_mac={_enc()}\nsops_version=3.11.0\n"
    assert rules_of("app.sops.env", env) == {"sops-plaintext-value"}


# --- hardening item 11: Secrets in every spelling ---------------------------------------------


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("tagged.yaml", "apiVersion: v1\nkind: !!str Secret\nmetadata: {name: a}\nstringData:\n  password: pw-{pw}\n"),
        (
            "flow.yaml",
            (
                '{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "a"}, "stringData": {"password": '
                '"pw-{pw}"}}\n'
            ),
        ),
        (
            "list.yaml",
            (
                "apiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: Secret\n"
                "    metadata: {name: a}\n    stringData:\n      password: pw-{pw}\n"
            ),
        ),
        ("quoted.yaml", 'apiVersion: v1\n"kind": "Secret"\nmetadata: {name: a}\nstringData:\n  password: pw-{pw}\n'),
        (
            "broken-after.yaml",
            "apiVersion: v1\nkind: Secret\nmetadata: {name: a}\nstringData:\n  password: pw-{pw}\n---\n{ broken: [\n",
        ),
        (
            "kubectl.json",
            (
                '{\n\t"apiVersion": "v1",\n\t"kind": "Secret",\n\t"metadata": {"name": "a"},\n'
                '\t"data": {"password": "{b64pw}"}\n}\n'
            ),
        ),
    ],
)
def test_item11_secret_spellings(name: str, text: str) -> None:
    pw = fakes.rand(12)
    body = text.replace("{pw}", pw).replace("{b64pw}", b64("pw-" + pw))
    assert "k8s-secret-plaintext" in rules_of(name, body)


# --- hardening item 10: bounded work -----------------------------------------------------------


def test_item10_alias_bomb_and_long_line_finish() -> None:
    bomb = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n' + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 9) + "]\n" for i in range(9)
    )
    bomb += f"sops:\n  mac: {_enc()}\n"
    started = time.process_time()
    scan_file("bomb.sops.yaml", bomb.encode())
    line = (
        "apiVersion: v1\nkind: Secret\nmetadata: {name: x}\nstringData: {"
        + ", ".join(f"k{i}: v{i}" for i in range(25000))
        + "}\n"
    )
    scan_file("wide.yaml", line.encode())
    assert time.process_time() - started < 60  # a generous bound: unbounded expansion never finishes


def test_item10_list_of_aliases_is_judged_once() -> None:
    secret = (
        "s: &s {kind: Secret, metadata: {name: a}, stringData: {"
        + ", ".join(f"password{i}: pw-{fakes.rand(10)}" for i in range(100))
        + "}}\n"
    )
    text = secret + "kind: List\nitems: [" + ", ".join(["*s"] * 50000) + "]\n"
    found, _ = scan_file("list.yaml", text.encode())
    assert len(found) == 100


def test_item10_deep_nesting_is_a_note() -> None:
    deep = "".join(" " * i + f"k{i}:\n" for i in range(3000)) + " " * 3000 + "v\n"
    found, skipped = scan_file("deep.yaml", ("kind: Secret\n" + deep).encode())
    assert found == [] and skipped is not None


# --- hardening item 14: one-line errors, exit 2, never a traceback or a hang -------------------


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aigw_secrets", "scan", *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


DEEP_TREE = """
import os, subprocess, sys
top, depth = sys.argv[1], int(sys.argv[2])
names = ["deep"] + ["d"] * depth  # deeper than PATH_MAX allows by name: built relative to each parent
fds = [os.open(top, os.O_RDONLY)]
for name in names:
    os.mkdir(name, dir_fd=fds[-1])
    fds.append(os.open(name, os.O_RDONLY, dir_fd=fds[-1]))
try:
    res = subprocess.run(
        [sys.executable, "-m", "aigw_secrets", "scan", *sys.argv[3:]], capture_output=True, text=True, timeout=120
    )
finally:  # pytest's own clean-up recurses and would fail on this depth
    os.close(fds.pop())
    for name in reversed(names):
        parent = fds.pop()
        os.rmdir(name, dir_fd=parent)
        os.close(parent)
print(res.returncode)
print(res.stdout + res.stderr)
"""


def test_item14_deep_directory_fifo_and_devices(tmp_path: Path) -> None:
    # in a child process: the 1,500 open directories never touch pytest's own process
    os.mkfifo(tmp_path / "pipe.env")
    args = [str(tmp_path), str(tmp_path / "pipe.env"), "/dev/zero"]
    res = subprocess.run(
        [sys.executable, "-c", DEEP_TREE, str(tmp_path), "1500", *args], capture_output=True, text=True, timeout=300
    )
    rc, _, out = res.stdout.partition("\n")
    assert res.returncode == 0 and rc == "0" and "Traceback" not in out, res.stdout + res.stderr
    assert "pipe.env: skipped: not a regular file" in out and "/dev/zero: skipped: not a regular file" in out


@pytest.mark.parametrize(
    "body",
    [
        '{"version": 1, "findings": [{"path": 1}]}',
        '{"version": 1, "findings": {"a": 1}}',
        '{"version": 1, "findings": [{}]}',
        "[]",
        '{"version": "1"}',
    ],
)
def test_item14_malformed_baseline(tmp_path: Path, body: str) -> None:
    (tmp_path / "b.json").write_text(body)
    (tmp_path / "a.txt").write_text("hello\n")
    res = run_cli("--baseline", str(tmp_path / "b.json"), str(tmp_path / "a.txt"), cwd=tmp_path)
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1 and "b.json" in res.stderr, res.stderr


def test_item14_output_to_a_directory_or_odd_name(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("hello\n")
    (tmp_path / "out").mkdir()
    res = run_cli("-o", str(tmp_path / "out"), str(tmp_path / "a.txt"), cwd=tmp_path)
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1, res.stderr
    odd = os.fsencode(tmp_path) + b"/r\xffport.json"
    res2 = subprocess.run(
        [sys.executable, "-m", "aigw_secrets", "scan", "--format", "json", "-o", odd, str(tmp_path / "a.txt")],
        capture_output=True,
        timeout=120,
    )
    assert res2.returncode == 0 and os.path.exists(odd), res2.stderr


def test_item14_deep_sops_yaml_and_option_ranges(gitrepo: Path) -> None:
    (gitrepo / "a.txt").write_text("hello\n")
    commit_all(gitrepo, "one")
    bad = run_cli(f"--history=--output={gitrepo / 'made-by-git'}", cwd=gitrepo)
    assert bad.returncode == 2 and "not a revision range" in bad.stderr and not (gitrepo / "made-by-git").exists()
    (gitrepo / ".sops.yaml").write_text("a: " + "[" * 10000 + "]" * 10000 + "\n")
    (gitrepo / "app.yaml").write_text(
        "kind: Secret\nstringData:\n  password: hunter2-but-longer\n"
    )  # its coverage needs the config
    git(gitrepo, "add", "app.yaml")
    res = run_cli("--all", cwd=gitrepo)
    assert res.returncode == 2 and "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1, (
        res.stderr
    )


# --- F10: a missing blob in history is a note -----------------------------------------------------


def test_f10_missing_blob_is_skipped(gitrepo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (gitrepo / "gone.txt").write_text("lost content\n")
    (gitrepo / "k.env").write_text(f"GROQ_API_KEY={fakes.groq_key()}\n")
    commit_all(gitrepo, "two files")
    sha = git(gitrepo, "rev-parse", "HEAD:gone.txt").strip()
    (gitrepo / ".git/objects" / sha[:2] / sha[2:]).unlink()
    assert main(["scan", "--history"]) == 1
    err = capsys.readouterr().err
    assert "k.env:1:14: groq-api-key" in err and "skipped: missing" in err


# --- baselines: the hooks read the default file; writing never replaces a symlink -----------------


def test_default_baseline_is_honoured_and_symlinks_are_not_replaced(
    gitrepo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (gitrepo / "k.env").write_text(f"GROQ_API_KEY={fakes.groq_key()}\n")
    git(gitrepo, "add", "-A")
    assert main(["scan", "--staged"]) == 1
    assert main(["scan", "--staged", "--update-baseline"]) == 0
    assert (gitrepo / ".aigw-baseline.json").is_file()
    assert main(["scan", "--staged"]) == 0
    (gitrepo / "target.json").write_text("{}")
    (gitrepo / "link.json").symlink_to("target.json")
    assert main(["scan", "--staged", "--baseline", "link.json", "--update-baseline"]) == 2
    assert (gitrepo / "link.json").is_symlink() and (gitrepo / "target.json").read_text() == "{}"
    capsys.readouterr()


def test_advice_fits_the_finding(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "keys.txt").write_text(age_identity() + "\n")
    assert main(["scan", str(tmp_path / "keys.txt")]) == 1
    err = capsys.readouterr().err
    assert "remove it and rotate the key" in err and "aigw-secrets encrypt" not in err
