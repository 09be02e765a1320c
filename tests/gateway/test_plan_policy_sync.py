"""plan.sync_policy_generation, after `set`/`edit` changed a Secret: the policy beside it gets the
new generation once, and a policy that is not ours, unreadable or already current is left as is."""

from __future__ import annotations

from pathlib import Path

import yaml

from aigw_secrets.gateway import marks, plan, routing

SECRET = yaml.safe_dump(
    {"kind": "Secret", "metadata": {"annotations": {f"{marks.ANNOTATION}/generation": "3"}}}
).encode()


def _policy(tmp_path: Path, body: str) -> Path:
    policy = tmp_path / "openai.yaml"
    policy.write_text(f"{marks.MARKER} from cluster.yaml\n{body}")
    return policy


def test_the_generation_is_carried_once(tmp_path: Path) -> None:
    policy = _policy(tmp_path, "kind: BackendSecurityPolicy\nmetadata:\n  name: openai\n")
    secret = tmp_path / "openai.secret.sops.yaml"
    assert plan.sync_policy_generation(secret, SECRET) == policy
    doc = yaml.safe_load(policy.read_text())
    assert doc["metadata"]["annotations"][routing.POLICY_ANNOTATION] == "3"
    assert policy.read_text().startswith(marks.MARKER)
    before = policy.read_bytes()
    assert plan.sync_policy_generation(secret, SECRET) is None  # already current: untouched
    assert policy.read_bytes() == before


def test_an_unreadable_policy_is_left_alone(tmp_path: Path) -> None:
    policy = _policy(tmp_path, "kind: [unclosed\n")
    before = policy.read_bytes()
    assert plan.sync_policy_generation(tmp_path / "openai.secret.sops.yaml", SECRET) is None
    assert policy.read_bytes() == before


def test_a_policy_not_ours_or_a_file_not_a_secret_is_left_alone(tmp_path: Path) -> None:
    policy = tmp_path / "openai.yaml"
    policy.write_text("kind: BackendSecurityPolicy\n")
    assert plan.sync_policy_generation(tmp_path / "openai.secret.sops.yaml", SECRET) is None
    assert plan.sync_policy_generation(tmp_path / "openai.txt", SECRET) is None
    assert policy.read_text() == "kind: BackendSecurityPolicy\n"
