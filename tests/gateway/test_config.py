"""cluster.yaml / cluster.toml: defaults, types, required keys, did-you-mean, line numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from aigw_secrets.errors import ConfigError
from aigw_secrets.gateway import config
from testing.repos import provider_settings, write_cluster


def load_text(tmp_path: Path, text: str, name: str = "cluster.yaml") -> config.Config:
    (tmp_path / name).write_text(text)
    return config.load(tmp_path)


def error_of(tmp_path: Path, text: str, name: str = "cluster.yaml") -> str:
    with pytest.raises(ConfigError) as exc:
        load_text(tmp_path, text, name)
    message = str(exc.value)
    assert "\n" not in message
    return message


def test_toggle_alone_is_enough(tmp_path: Path) -> None:
    cfg = load_text(tmp_path, "unrelated_key: 1\nai_gateway_openai_enabled: true\n")
    (pc,) = cfg.providers
    assert (pc.name, pc.host, pc.port, pc.tls, pc.auth.name) == ("openai", "api.openai.com", 443, True, "api-key")
    assert pc.models == {"": ["gpt-4o-mini"]}
    assert cfg.namespace == "ai-gateway" and cfg.gateway_namespace == "ai-gateway"
    assert cfg.output_dir == tmp_path / "kubernetes/apps/ai-gateway/providers"


def test_unknown_key_did_you_mean(tmp_path: Path) -> None:
    msg = error_of(tmp_path, "a: 1\n\nai_gateway_opneai_enabled: true\n")
    assert msg.startswith(f"{tmp_path / 'cluster.yaml'}:3:")
    assert "did you mean ai_gateway_openai_enabled?" in msg


def test_missing_required_setting_names_the_key(tmp_path: Path) -> None:
    assert "ai_gateway_azure_resource is not set" in error_of(tmp_path, "ai_gateway_azure_enabled: true\n")
    msg = error_of(
        tmp_path, "ai_gateway_azure_enabled: true\nai_gateway_azure_resource: r\nai_gateway_azure_auth: entra\n"
    )
    assert "ai_gateway_azure_tenant_id is not set (needed for auth entra)" in msg
    assert "ai_gateway_vllm_url" in error_of(tmp_path, "ai_gateway_vllm_enabled: true\nai_gateway_vllm_models: [m]\n")
    assert "ai_gateway_vertex_project" in error_of(tmp_path, "ai_gateway_vertex_enabled: true\n")


def test_malformed_yaml_names_the_line(tmp_path: Path) -> None:
    msg = error_of(tmp_path, "ai_gateway_openai_enabled: true\nfoo: [unclosed\nbar: 2\n")
    assert "cluster.yaml:" in msg and "invalid YAML" in msg


def test_malformed_toml(tmp_path: Path) -> None:
    msg = error_of(tmp_path, "ai_gateway_openai_enabled = true\nbroken = \n", "cluster.toml")
    assert "invalid TOML" in msg and "line 2" in msg


def test_wrong_types(tmp_path: Path) -> None:
    assert "expected true or false" in error_of(tmp_path, "ai_gateway_openai_enabled: maybe\n")
    assert "expected a whole number" in error_of(
        tmp_path, "ai_gateway_openai_enabled: true\nai_gateway_openai_port: high\n"
    )
    assert "is not one of api-key, entra" in error_of(
        tmp_path, "ai_gateway_azure_enabled: true\nai_gateway_azure_resource: r\nai_gateway_azure_auth: msi\n"
    )
    assert "not a valid Kubernetes name" in error_of(tmp_path, "ai_gateway_namespace: Bad_NS\n")
    assert "must be an http:// or https:// URL" in error_of(
        tmp_path, "ai_gateway_vllm_enabled: true\nai_gateway_vllm_url: vllm:8000\nai_gateway_vllm_models: m\n"
    )


def test_duplicate_model_across_providers(tmp_path: Path) -> None:
    msg = error_of(
        tmp_path,
        "ai_gateway_openai_enabled: true\nai_gateway_groq_enabled: true\nai_gateway_groq_models: gpt-4o-mini\n",
    )
    assert "gpt-4o-mini" in msg and "ai_gateway_openai_models" in msg


@pytest.mark.parametrize("name", ["mcp-session-encryption", "routes", "kustomization", "mcp"])
def test_a_provider_is_never_named_like_a_file_of_the_whole_gateway(tmp_path: Path, name: str) -> None:
    """A provider's files are NAME.yaml and NAME.secret.sops.yaml: named like the MCP seed, the routes or the
    kustomization, one file would hold two things (and `rotate` would overwrite the seed with a credential)."""
    from aigw_secrets.gateway import mcp, plan

    msg = error_of(tmp_path, f"ai_gateway_openai_enabled: true\nai_gateway_openai_name: {name}\n")
    assert "cluster.yaml:2: ai_gateway_openai_name" in msg and repr(name) in msg
    fixed = (plan.ROUTES_FILE, plan.KUSTOMIZATION, mcp.MCP_ROUTE_FILE, mcp.MCP_SEED_FILE, mcp.MCP_VALUES_FILE)
    assert {f.split(".")[0] for f in fixed} == config._RESERVED


def test_output_dir_must_stay_inside(tmp_path: Path) -> None:
    assert "inside the repository" in error_of(tmp_path, "ai_gateway_output_dir: ../elsewhere\n")


def test_comma_lists_and_toml(tmp_path: Path) -> None:
    write_cluster(tmp_path, {**provider_settings("groq"), "ai_gateway_groq_models": "a, b,c"}, fmt="toml")
    (pc,) = config.load(tmp_path).providers
    assert pc.models == {"": ["a", "b", "c"]}


def test_both_config_files_is_ambiguous(tmp_path: Path) -> None:
    (tmp_path / "cluster.toml").write_text("")
    assert "both cluster.yaml and cluster.toml" in error_of(tmp_path, "")


def test_vllm_url_forms(tmp_path: Path) -> None:
    base = "ai_gateway_vllm_enabled: true\nai_gateway_vllm_models: m\nai_gateway_vllm_url: "
    (pc,) = load_text(tmp_path, base + "http://vllm.ns.svc:8000/v1\n").providers
    assert (pc.host, pc.port, pc.tls, pc.prefix) == ("vllm.ns.svc", 8000, False, None)
    (pc,) = load_text(tmp_path, base + "https://10.1.2.3\n").providers
    assert (pc.host, pc.port, pc.tls) == ("10.1.2.3", 443, True)


def test_a_settings_file_past_a_megabyte_is_not_read(tmp_path: Path) -> None:
    """A commit's 50 MB comment line would be read and parsed at every step of every run."""
    msg = error_of(tmp_path, "ai_gateway_openai_enabled: true\n# " + "x" * (config.MAX_BYTES + 1) + "\n")
    assert "more than a settings file holds" in msg and "cluster.yaml" in msg


def test_a_value_its_explicit_tag_does_not_fit_names_the_file_and_line(tmp_path: Path) -> None:
    texts = ("ai_gateway_openai_enabled: !!bool maybe\n", "x: !!int x\n", "- !!int\n", "t: !!timestamp 2020-99-99\n")
    for text in texts:
        msg = error_of(tmp_path, text)
        assert "cluster.yaml:1: invalid YAML: a value tagged !!" in msg


def test_cluster_yaml_is_read_as_libyaml_reads_it_tabs_after_a_colon_included(tmp_path: Path) -> None:
    """YAML 1.2 lets a tab separate a value from its key; libyaml (and Go's yaml.v3) read it, PyYAML's
    pure-Python parser does not. The depth check and the reader are the same parser: what it reads,
    the settings hold; a tab that indents is refused by both, with the line."""
    cfg = load_text(tmp_path, "ai_gateway_openai_enabled:\ttrue\n")
    assert [p.key for p in cfg.providers] == ["openai"]
    assert "cluster.yaml:2: invalid YAML" in error_of(tmp_path, "ai_gateway_openai_models:\n\t- gpt-4o\n")


def test_an_unclosed_ipv6_url_and_a_nul_in_the_output_dir_are_config_errors(tmp_path: Path) -> None:
    assert "is not a URL" in error_of(tmp_path, 'ai_gateway_mcp_backends: ["x=http://[::1"]\n')
    msg = error_of(tmp_path, 'ai_gateway_openai_enabled: true\nai_gateway_output_dir: "a\\0b"\n')
    assert "ai_gateway_output_dir must be a path inside the repository" in msg
