"""Kubeconfig problems are one line in our words, naming the file and what to do."""

from __future__ import annotations

from pathlib import Path

import pytest

from aigw_secrets.errors import ConfigError
from aigw_secrets.kube import Cluster

KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:9"}}]
users: [{name: u, user: {token: not-a-real-token}}]
contexts: [{name: dev, context: {cluster: c, user: u}}, {name: prod, context: {cluster: c, user: u}}]
"""


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"no kubeconfig: .*nope\.yaml \(--kubeconfig\) does not exist; pass --kubeconfig"
    ):
        Cluster(tmp_path / "nope.yaml")


def test_unknown_context_lists_the_contexts(tmp_path: Path) -> None:
    kc = tmp_path / "kc"
    kc.write_text(KUBECONFIG + "current-context: dev\n")
    with pytest.raises(ConfigError, match=r"no context named 'staging' \(it has: dev, prod\)"):
        Cluster(kc, "staging")
    assert Cluster(kc, "prod").server == "https://127.0.0.1:9"


def test_no_current_context(tmp_path: Path) -> None:
    kc = tmp_path / "kc"
    kc.write_text(KUBECONFIG)
    with pytest.raises(ConfigError, match=r"no current-context; pass --context \(it has: dev, prod\)"):
        Cluster(kc)


def test_not_yaml(tmp_path: Path) -> None:
    kc = tmp_path / "kc"
    kc.write_text("{[")
    with pytest.raises(ConfigError, match="cannot be read as YAML"):
        Cluster(kc)
