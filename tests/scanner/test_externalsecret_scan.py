"""Issue 21: an ExternalSecret is not a finding (its values live in the store), but a literal
credential written into ``spec.target.template.data`` is."""

from __future__ import annotations

import pytest

from aigw_secrets.gateway import contenthash, externalsecrets, yamltext
from aigw_secrets.scanner.scan import scan_file
from aigw_secrets.stores import StoreSettings
from testing import fakes

STORE = StoreSettings("aws", "aws-secrets-manager", "ClusterSecretStore", "ai-gateway/", "1h", "", "secret", "")


def doc(template: dict[str, str], props: list[str] | None = None) -> str:
    obj = externalsecrets.external_secret(
        "openai-apikey",
        "ai-gateway",
        "openai",
        STORE,
        "ai-gateway/ai-gateway/openai-apikey",
        props or ["apiKey"],
        template,
        version_ref="uuid/6ac306d1-37c4-45c7-b7e7-c3e5cb3cfbe8",
        content_hash=contenthash.content_hash({"apiKey": "x"}),
        annotations={},
        force_sync="2026-01-01T00:00:00Z",
    )
    return externalsecrets.HEADER + yamltext.dump([obj], markers=False)


def rules(text: str, name: str = "kubernetes/apps/ai-gateway/providers/openai.externalsecret.yaml") -> set[str]:
    return {f.rule for f in scan_file(name, text.encode())[0]}


def test_what_generate_writes_is_clean() -> None:
    ini = (
        "[default]\naws_access_key_id = {{ .aws_access_key_id }}\n"
        "aws_secret_access_key = {{ .aws_secret_access_key }}\n"
    )
    assert rules(doc({"apiKey": "{{ .apiKey }}"})) == set()
    assert rules(doc({"credentials": ini}, ["aws_access_key_id", "aws_secret_access_key"])) == set()
    assert rules(doc({"client-secret": "{{ .client_secret }}", "note": "Bearer {{ .apiKey }}"})) == set()


@pytest.mark.parametrize(
    ("template", "rule"),
    [
        ({"apiKey": fakes.openai_project_key()}, "openai-api-key"),
        ({"apiKey": fakes.mistral_key()}, "externalsecret-template-literal"),  # no shape: judged by its key
        ({"token": "{{ .user }}:" + fakes.rand(40)}, "externalsecret-template-literal"),  # beside a template
        (
            {
                "credentials": "[default]\naws_access_key_id = {{ .aws_access_key_id }}\naws_secret_access_key = "
                + fakes.aws_secret_access_key()
                + "\n"
            },
            "aws-secret-access-key",
        ),
    ],
)
def test_a_literal_in_the_template_is_a_finding(template: dict[str, str], rule: str) -> None:
    assert rule in rules(doc(template))


def test_allow_comment() -> None:
    text = doc({"apiKey": fakes.mistral_key()}).replace("apiKey: ", "apiKey: ", 1)
    lines = text.splitlines()
    i = next(
        n
        for n, line in enumerate(lines)
        if line.strip().startswith("apiKey:") and "{{" not in line and "property" not in line
    )
    lines[i] += "  # aigw-secrets: allow"
    assert "externalsecret-template-literal" not in rules("\n".join(lines) + "\n")
