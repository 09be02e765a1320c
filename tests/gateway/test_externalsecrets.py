"""ExternalSecret builders: for every auth mode that has a Secret, the object validates
against the ESO v2.9.0 CRDs, names exactly the Secret its policy reads, and renders exactly the key
and value the SOPS backend would have written."""

from __future__ import annotations

import pytest

from aigw_secrets.gateway import config as gateway_config
from aigw_secrets.gateway import contenthash, credentials, externalsecrets, mcp, secretdoc, yamltext
from aigw_secrets.stores import StoreSettings
from testing import crds, fakes
from testing.repos import AUTH_MATRIX, all_providers, write_cluster

STORE = StoreSettings("aws", "aws-secrets-manager", "ClusterSecretStore", "ai-gateway/", "1h", "", "secret", "")


def sample(kind: str | None) -> str:
    if kind == "aws":
        return credentials._aws_ini(fakes.aws_access_key_id(), fakes.aws_secret_access_key(), None, "t", "env")
    if kind == "gcp-sa":
        return fakes.gcp_service_account_json()
    if kind == "client-secret":
        return fakes.entra_client_secret()
    return fakes.generic_key()


def configs(tmp_path: object) -> list[gateway_config.ProviderConfig]:
    from pathlib import Path

    root = Path(str(tmp_path))
    out = []
    for key, auth in AUTH_MATRIX:
        settings = {
            **all_providers({key: auth}),
            "ai_gateway_secret_backend": "external-secrets",
            "ai_gateway_external_secrets_store": "aws-secrets-manager",
            "ai_gateway_mcp_backends": ["search=https://mcp.example.com/mcp"],
        }
        write_cluster(root, settings)
        cfg = gateway_config.load(root)
        out += [
            pc for pc in (*cfg.providers, *cfg.mcp_backends) if pc.key in (key, "mcp_search") and pc.auth.secret_key
        ]
    return out


@pytest.mark.shared
def test_every_auth_mode(tmp_path: object, shared_crds: None) -> None:
    from pathlib import Path

    root = Path(str(tmp_path))
    seen = set()
    pcs = configs(tmp_path)
    write_cluster(
        root,
        {
            "ai_gateway_secret_backend": "external-secrets",
            "ai_gateway_external_secrets_store": "s",
            "ai_gateway_openai_enabled": True,
        },
    )
    cfg = gateway_config.load(root)
    for pc in pcs:
        value = sample(pc.auth.credential)
        pin = "uuid/6ac306d1-37c4-45c7-b7e7-c3e5cb3cfbe8"
        doc, props = externalsecrets.for_provider(
            pc,
            cfg,
            STORE,
            value,
            version_ref=pin,
            content_hash=contenthash.content_hash({"k": "v"}),
            rotation={"aigw-secrets.io/generation": "1"},
            force_sync="2026-01-01T00:00:00Z",
        )
        if (pc.auth.credential, pc.auth.secret_key) not in seen:  # one CRD validation per shape (CEL is slow)
            report = crds.validate(doc)
            assert not report.schema_errors and not report.cel_failures, (pc.key, pc.auth.name, report)
        assert doc["spec"]["target"]["name"] == doc["metadata"]["name"] == secretdoc.secret_name(pc)
        sops_doc = secretdoc.secret(pc, cfg, value, fingerprint=False)
        assert externalsecrets.render(doc["spec"]["target"]["template"]["data"], props) == sops_doc["stringData"]
        for value_ in props.values():
            assert value_ not in yaml_text(doc)  # the ExternalSecret holds no value
        seen.add((pc.auth.credential, pc.auth.secret_key))
        if pc.auth.credential == "aws":
            assert sorted(props) == ["aws_access_key_id", "aws_secret_access_key"]
    assert {"aws", "gcp-sa", "client-secret"} <= {c for c, _ in seen}


def yaml_text(doc: dict[str, object]) -> str:
    return yamltext.dump([doc])


def test_aws_session_token_and_odd_values_round_trip() -> None:
    ini = credentials._aws_ini(fakes.aws_access_key_id(True), fakes.aws_secret_access_key(), "tok/en+==", "t", "env")
    props, template = externalsecrets.split_value("aws", "credentials", ini)
    assert sorted(props) == ["aws_access_key_id", "aws_secret_access_key", "aws_session_token"]
    assert externalsecrets.render(template, props) == {"credentials": ini}
    odd = "[default]\naws_access_key_id = {{ .x }}\n"  # not ours to split: one property, verbatim
    props, template = externalsecrets.split_value("aws", "credentials", odd)
    assert externalsecrets.render(template, props) == {"credentials": odd} and list(props) == ["credentials"]
    props, template = externalsecrets.split_value("apikey", "client-secret", "a{{ .b }}c")
    assert template == {"client-secret": "{{ .client_secret }}"} and externalsecrets.render(template, props) == {
        "client-secret": "a{{ .b }}c"
    }


@pytest.mark.shared
def test_unpinned_and_secretstore(shared_crds: None) -> None:
    store = STORE._replace(store_kind="SecretStore", refresh_interval="15m")
    doc = externalsecrets.external_secret(
        "x-apikey",
        "ai-gateway",
        "openai",
        store,
        "p/ai-gateway/x-apikey",
        ["apiKey"],
        {"apiKey": "{{ .apiKey }}"},
        version_ref=None,
        content_hash=None,
        annotations={},
        force_sync=None,
    )
    report = crds.validate(doc)
    assert not report.schema_errors, report
    assert "version" not in doc["spec"]["data"][0]["remoteRef"] and doc["spec"]["secretStoreRef"] == {
        "kind": "SecretStore",
        "name": "aws-secrets-manager",
    }


@pytest.mark.shared
def test_mcp_seed_builder(tmp_path: object, shared_crds: None) -> None:
    from pathlib import Path

    root = Path(str(tmp_path))
    write_cluster(root, {"ai_gateway_mcp_session_seed": True, "ai_gateway_openai_enabled": True})
    cfg = gateway_config.load(root)
    seed, old = mcp.new_mcp_seed(), mcp.new_mcp_seed()
    doc, props = externalsecrets.for_mcp_seed(cfg, STORE, seed, old, version_ref="3", rotation={})
    assert not crds.validate(doc).schema_errors
    assert doc["spec"]["target"]["name"] == "ai-gateway-controller-mcp-session-encryption"
    assert externalsecrets.render(doc["spec"]["target"]["template"]["data"], props) == {
        "seed": seed,
        "fallbackSeed": old,
    }


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            {"ai_gateway_secret_backend": "vault"},
            "ai_gateway_secret_backend: 'vault' is not one of sops, external-secrets",
        ),
        ({"ai_gateway_openai_secret_backend": "eso"}, "ai_gateway_openai_secret_backend"),
        ({"ai_gateway_secret_backend": "external-secrets"}, "ai_gateway_external_secrets_store"),
        (
            {
                "ai_gateway_secret_backend": "external-secrets",
                "ai_gateway_external_secrets_store": "s",
                "ai_gateway_external_secrets_provider": "gcp",
            },
            "ai_gateway_external_secrets_provider",
        ),
        (
            {
                "ai_gateway_secret_backend": "external-secrets",
                "ai_gateway_external_secrets_store": "s",
                "ai_gateway_external_secrets_store_kind": "Store",
            },
            "store_kind",
        ),
        (
            {
                "ai_gateway_secret_backend": "external-secrets",
                "ai_gateway_external_secrets_store": "s",
                "ai_gateway_external_secrets_prefix": "../x/",
            },
            "prefix",
        ),
        (
            {
                "ai_gateway_secret_backend": "external-secrets",
                "ai_gateway_external_secrets_store": "s",
                "ai_gateway_external_secrets_provider": "onepassword",
            },
            "onepassword_vault",
        ),
    ],
)
def test_config_errors_name_the_key(tmp_path: object, extra: dict[str, str], message: str) -> None:
    from pathlib import Path

    from aigw_secrets.errors import ConfigError

    root = Path(str(tmp_path))
    write_cluster(root, {"ai_gateway_openai_enabled": True, **extra})
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")) as exc:
        gateway_config.load(root)
    assert "cluster.yaml" in str(exc.value)


def test_per_provider_backend(tmp_path: object) -> None:
    from pathlib import Path

    root = Path(str(tmp_path))
    write_cluster(
        root,
        {
            "ai_gateway_openai_enabled": True,
            "ai_gateway_groq_enabled": True,
            "ai_gateway_groq_secret_backend": "external-secrets",
            "ai_gateway_external_secrets_store": "s",
        },
    )
    cfg = gateway_config.load(root)
    backends = {pc.key: pc.backend for pc in cfg.providers}
    assert backends == {"openai": "sops", "groq": "external-secrets"} and cfg.external_secrets is not None
    assert {pc.key: secretdoc.secret_file(pc) for pc in cfg.providers} == {
        "openai": "openai.secret.sops.yaml",
        "groq": "groq.externalsecret.yaml",
    }
    write_cluster(root, {"ai_gateway_openai_enabled": True})
    assert gateway_config.load(root).external_secrets is None  # nobody uses the store: its settings are not needed


def test_generated_manifests_spell_out_shared_values() -> None:
    """The ExternalSecret's labels and its template's are one object in the builder; the file repeats them
    (an `&id001` anchor in a generated manifest surprised the first user who read one)."""
    shared = {"app.kubernetes.io/managed-by": "aigw-secrets"}
    text = yamltext.dump([{"metadata": {"labels": shared}, "spec": {"template": {"metadata": {"labels": shared}}}}])
    assert "&" not in text and "*" not in text
    assert text.count("app.kubernetes.io/managed-by: aigw-secrets") == 2
