"""Every Kubernetes manifest the project ships validates, strictly, against each Kubernetes minor
version still run by clusters (offline schemas from kubernetes-validate)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

PROJECT = Path(__file__).resolve().parents[1]
MANIFESTS = sorted((PROJECT / "scripts" / "k8s").glob("*.yaml"))
# Upstream supports the newest three minors; managed offerings (EKS, GKE, AKS extended support) still run 1.32+.
VERSIONS = ("1.32.0", "1.33.0", "1.34.0", "1.35.0", "1.36.0", "1.37.0")


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_manifest_validates(path: Path, version: str) -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    assert docs
    for doc in docs:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(
                f"{path.name} {doc['kind']}/{doc['metadata']['name']} on {version}: {exc.message} at "
                f"{'.'.join(map(str, exc.path))}"
            )


def test_manifests_exist() -> None:
    assert {p.name for p in MANIFESTS} >= {"cronjob.yaml", "rbac.yaml"}
