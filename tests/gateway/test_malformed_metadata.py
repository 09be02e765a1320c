"""A committed manifest whose metadata, annotations or spec are not the mappings generate writes
(a contributor's hand, or an attacker's): every reader compares or reads it without crashing, and
none takes it for the object generate would write."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from aigw_secrets.cli import main
from aigw_secrets.errors import ExitCode
from aigw_secrets.gateway import externalsecrets, plan, routing, secretdoc
from testing import fakes
from testing.repos import provider_settings, write_cluster

SECRET = {
    "apiVersion": "v1",
    "kind": "Secret",
    "type": "Opaque",
    "metadata": {
        "name": "openai-apikey",
        "namespace": "ai-gateway",
        "annotations": {"aigw-secrets.io/generation": "1"},
    },
    "stringData": {"apiKey": "x"},
}
BAD_METADATA = ["a string", ["a", "list"], 3]
BAD_ANNOTATIONS = ["a string", ["aigw-secrets.io/generation"], 3]


def _with(doc: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**doc, **changes}


@pytest.mark.parametrize("meta", BAD_METADATA)
def test_a_secret_with_metadata_of_another_shape_is_never_kept_nor_edited(meta: Any) -> None:
    bad = _with(SECRET, metadata=meta)
    assert plan._same_shape(bad, SECRET) is False
    assert secretdoc.secret_changes(bad, SECRET) is None


@pytest.mark.parametrize("ann", BAD_ANNOTATIONS)
def test_a_secret_with_annotations_of_another_shape_is_never_kept_nor_edited(ann: Any) -> None:
    bad = _with(SECRET, metadata={**SECRET["metadata"], "annotations": ann})
    assert plan._same_shape(bad, SECRET) is False
    assert secretdoc.secret_changes(bad, SECRET) is None


def test_an_external_secret_of_other_shapes_has_none_generate_would_keep() -> None:
    good = {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": {"name": "openai", "annotations": {"aigw-secrets.io/generation": "2"}},
        "spec": {
            "target": {"template": {"data": {"apiKey": "{{ .apiKey }}"}}},
            "data": [{"secretKey": "apiKey", "remoteRef": {"key": "aigw/openai"}}],
        },
    }
    assert externalsecrets.shape(good) is not None
    for bad in (
        _with(good, metadata="x"),
        _with(good, metadata={"name": "openai", "annotations": ["x"]}),
        _with(good, spec="x"),
        _with(good, spec={"target": "x", "data": "x"}),
        _with(good, spec={"target": {"template": {"data": ["apiKey"]}}, "data": [{"remoteRef": "x"}, "y"]}),
    ):
        assert externalsecrets.shape(bad) != externalsecrets.shape(good)


@pytest.mark.parametrize("data", [5, "x", ["apiKey"], {1: "a", "apiKey": "b"}])
def test_a_secret_whose_data_is_not_a_mapping_of_names_is_never_kept(data: Any) -> None:
    assert plan._same_shape(_with(SECRET, stringData=data), SECRET) is False


@pytest.mark.parametrize(
    "spec",
    [
        "x",
        {"data": "x"},
        {"data": [{"remoteRef": "x"}]},
        {"data": [{"remoteRef": {"key": "k"}}], "target": "x"},
        {"data": [{"remoteRef": {"key": ["a"], "property": "apiKey", "version": "3"}}]},
        {"data": [{"remoteRef": {"key": "k", "property": "apiKey", "version": [1]}}]},
    ],
)
def test_an_external_secret_of_other_shapes_is_read_as_none_or_without_a_template(spec: Any) -> None:
    found = externalsecrets.read({"kind": externalsecrets.KIND, "spec": spec})
    assert found is None or found[3] == {}
    assert externalsecrets.read(
        {"kind": externalsecrets.KIND, "spec": {"data": [{"remoteRef": {"key": "k", "property": "p", "version": 3}}]}}
    ) == ("k", ["p"], "3", {})  # a version written as a number is its text


def test_routes_of_other_shapes_carry_no_creation_times() -> None:
    docs: list[Any] = [
        {"kind": "AIGatewayRoute", "spec": "x"},
        {"kind": "AIGatewayRoute", "spec": {"rules": "x"}},
        {"kind": "AIGatewayRoute", "spec": {"rules": ["x", {"matches": "x"}, {"matches": ["x", {"headers": "x"}]}]}},
        "a string",
    ]
    assert routing.models_created_at(docs) == {}


DOCTOR_FILES = {
    "policy-metadata.yaml": "apiVersion: aigateway.envoyproxy.io/v1beta1\nkind: BackendSecurityPolicy\nmetadata: x\n"
    "spec: {type: APIKey, apiKey: {secretRef: {name: s}}}\n",
    "es-spec.yaml": "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {name: a}\nspec: y\n",
    "es-template.yaml": "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {name: b, labels: x}\n"
    "spec: {target: {template: {data: [a]}}, secretStoreRef: x, data: x}\n",
    "es-target.yaml": "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: [x]\nspec: {target: x}\n",
    "mcproute.yaml": "apiVersion: aigateway.envoyproxy.io/v1alpha1\nkind: MCPRoute\nmetadata: {name: m}\n"
    "spec: {backendRefs: x}\n",
    "flux-ks.yaml": "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: x\n"
    "spec: {targetNamespace: other, path: ./kubernetes}\n",
}


def test_doctor_and_generate_check_read_manifests_of_other_shapes_without_an_internal_error(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_cluster(repo, provider_settings("openai"))
    for name, text in DOCTOR_FILES.items():
        (repo / "kubernetes" / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / "kubernetes" / name).write_text(text)
    for args in (["doctor"], ["generate", "--check"]):
        capsys.readouterr()
        assert main(args) != ExitCode.INTERNAL
        assert "internal error" not in capsys.readouterr().err


def test_doctor_and_status_agree_on_a_secret_that_does_not_parse(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", fakes.openai_project_key())
    write_cluster(repo, provider_settings("openai"))
    assert main(["generate", "--no-input"]) == 0
    (secret,) = repo.glob("kubernetes/**/openai.secret.sops.yaml")
    text = secret.read_text()
    line = text[: text.index("aigw-secrets.io/generation:")].count("\n") + 1
    secret.write_text(re.sub(r"aigw-secrets.io/generation: .*", "aigw-secrets.io/generation: !!int x", text))
    capsys.readouterr()
    assert main(["status"]) == 1
    assert "missing" in capsys.readouterr().out
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert f"{secret.relative_to(repo)}:{line}: invalid YAML: a value tagged !!int that is not one" in out
    assert "status counts openai's Secret as missing" in out
    secret.write_text(text + "---\nsecond: document\n")  # status reads one document: so does doctor
    assert main(["status"]) == 1
    assert "missing" in capsys.readouterr().out
    assert main(["doctor"]) == 1
    assert "expected a single document" in capsys.readouterr().out


def test_doctor_reads_a_secret_whose_string_data_is_a_list(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from aigw_secrets.sops.binary import Sops

    write_cluster(repo, provider_settings("openai"))
    (repo / "kubernetes").mkdir(exist_ok=True)
    rel = "kubernetes/other.secret.sops.yaml"
    plain = b"apiVersion: v1\nkind: Secret\nmetadata: {name: o}\nstringData:\n  - apiKey: ${X}\n"
    (repo / rel).write_bytes(Sops(repo).encrypt(plain, rel))
    capsys.readouterr()
    assert main(["doctor"]) != ExitCode.INTERNAL
    assert "internal error" not in capsys.readouterr().err
