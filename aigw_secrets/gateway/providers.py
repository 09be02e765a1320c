"""The provider table: one row per LLM provider. Adding a provider is adding a row.

Everything here follows the Envoy AI Gateway v1.1 API (``aigateway.envoyproxy.io/v1beta1``), not the
older blog posts this project started from: credentials attach through
``BackendSecurityPolicy.spec.targetRefs`` (``backendSecurityPolicyRef`` is gone since v0.4.0), the
upstream host lives in an Envoy Gateway ``Backend`` (``AIServiceBackend`` has no ``host``), Azure API
keys are supported (``AzureAPIKey``), and GCP reads the Secret key ``service_account.json``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import NamedTuple


class Setting(NamedTuple):
    """One ``ai_gateway_<provider>_<name>`` key."""

    kind: str  # bool | str | int | list
    default: object = None
    help: str = ""
    bounds: tuple[int, int] | None = None  # int: the accepted range (inclusive)


DNS_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
AWS_REGION = r"[a-z]{2}(-[a-z0-9]+)+-\d"  # us-east-1, eu-west-3, us-gov-west-1: never "s3" or a dotted name


class Validation(NamedTuple):
    """How ``rotate`` checks a new credential before it lands: the cheapest authenticated call the
    provider documents (``gateway/validate.py`` builds and sends it; the credential only ever goes
    to this URL's host, unless the operator allows another from outside the repository).

    ``url``: None = ``<prefix or /v1>/models`` on the upstream origin (the OpenAI convention); a path
    (``/v1beta/openai/models``) = on the upstream origin; a whole URL (``https://bedrock.{region}...``)
    = that URL. ``{setting}`` placeholders are filled from the provider's settings: in the host a value
    must match its shape in ``shapes`` (default: one lowercase DNS label), so a repository cannot move
    the host; in the path and query it is percent-encoded."""

    url: str | None = None
    header: str = "Authorization"  # the header that carries the credential
    scheme: str = "Bearer "  # what precedes the credential in that header
    headers: tuple[tuple[str, str], ...] = ()  # other headers the call needs
    # "" = the credential goes in ``header``; otherwise a library signs or exchanges it:
    # "sigv4-sts" (botocore, STS GetCallerIdentity), "gcp-jwt" (google-auth, a signed JWT for the
    # key file's token_uri), "entra" (msal, client credentials)
    signer: str = ""
    shapes: tuple[tuple[str, str], ...] = ()  # placeholder -> the regular expression its value must match


class AuthMode(NamedTuple):
    name: str  # value of ai_gateway_<provider>_auth
    bsp_type: str | None  # BackendSecurityPolicy spec.type; None = no policy at all
    secret_key: str | None  # the Secret key the controller reads; None = keyless
    credential: str | None  # credential kind, see credentials.py: api-key | aws | gcp-sa | client-secret
    env: tuple[str, ...] = ()  # the provider SDK's conventional environment variables
    secret_suffix: str = ""  # Secret name = <name>-<suffix>
    required: tuple[str, ...] = ()  # settings this mode needs
    help: str = ""
    validation: Validation | None = None  # how rotate checks a new credential (None: keyless, or not checked)


class BackendSpec(NamedTuple):
    """One AIServiceBackend of a provider (Bedrock has two: AWSBedrock and AWSAnthropic)."""

    suffix: str  # AIServiceBackend name = <name><suffix>
    schema: str  # spec.schema.name
    version: str | None = None  # spec.schema.version (AzureOpenAI api-version, GCPAnthropic, AWSAnthropic)
    models_setting: str = "models"


class Provider(NamedTuple):
    key: str  # config key fragment: ai_gateway_<key>_enabled
    name: str  # default resource name
    title: str  # human name; also modelsOwnedBy
    backends: tuple[BackendSpec, ...]
    auth_modes: tuple[AuthMode, ...]
    default_auth: str
    host: str | None  # default upstream host; may use {setting} placeholders
    prefix: str | None = None  # OpenAI/Anthropic schema path prefix (unset = v1)
    default_models: tuple[str, ...] = ()
    settings: Mapping[str, Setting] = MappingProxyType({})  # provider-specific settings beyond COMMON_SETTINGS
    required: tuple[str, ...] = ()  # settings that must be set
    key_prefixes: tuple[str, ...] = ()  # expected API-key prefixes (input shape check)
    min_version: str = "v1.1"  # oldest ai_gateway_version that has every value this row emits

    def auth(self, name: str) -> AuthMode:
        for mode in self.auth_modes:
            if mode.name == name:
                return mode
        raise KeyError(name)


COMMON_SETTINGS: dict[str, Setting] = {
    "enabled": Setting("bool", False, "generate manifests for this provider"),
    "models": Setting("list", None, "model names routed to it (x-ai-eg-model values); list or comma string"),
    "name": Setting("str", None, "base name of the generated resources"),
    "auth": Setting("str", None, "authentication mode"),
    "credential_source": Setting(
        "str", None, "where the credential comes from: env:VAR, file:PATH, cmd:COMMAND, stdin, prompt"
    ),
    "host": Setting("str", None, "upstream host name or IP"),
    "port": Setting("int", 443, "upstream port", (1, 65535)),
    "tls": Setting("bool", True, "upstream speaks TLS (adds a BackendTLSPolicy)"),
    "prefix": Setting("str", None, "API path prefix for OpenAI/Anthropic schemas (default /v1)"),
    "rotation_period_days": Setting("int", 90, "rotate the credential after this many days", (1, 3650)),
    "validation_url": Setting("str", None, "URL used to check a new credential (private endpoints, tests)"),
    # --- issuers (rotation/issuers/): who mints new credentials; the admin credential never lives here
    "secret_backend": Setting(
        "str", None, "sops or external-secrets for this provider (default: ai_gateway_secret_backend)"
    ),
    "issuer": Setting(
        "str",
        None,
        "who makes new credentials: operator (default), self, openai-admin, aws-iam, gcp-iam, entra-graph, "
        "azure-arm, anthropic-admin",
    ),
}


_BEARER = Validation()  # GET <prefix or /v1>/models on the upstream, Authorization: Bearer <key>


def _api_key(env: str, bsp_type: str = "APIKey", help: str = "API key", validation: Validation = _BEARER) -> AuthMode:
    return AuthMode("api-key", bsp_type, "apiKey", "api-key", (env,), "apikey", help=help, validation=validation)


_GCP_MODES = (
    AuthMode(
        "service-account",
        "GCPCredentials",
        "service_account.json",
        "gcp-sa",
        ("GOOGLE_APPLICATION_CREDENTIALS",),
        "service-account",
        help="service-account key JSON (GOOGLE_APPLICATION_CREDENTIALS is its path)",
        validation=Validation("https://oauth2.googleapis.com/token", signer="gcp-jwt"),
    ),
    AuthMode("adc", "GCPCredentials", None, None, help="keyless: Application Default Credentials in the data plane"),
    AuthMode("workload-identity", "GCPCredentials", None, None, help="keyless: GKE Workload Identity (through ADC)"),
)

_AWS_MODES = (
    AuthMode(
        "static",
        "AWSCredentials",
        "credentials",
        "aws",
        ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"),
        "credentials",
        help="access key in a credentials file with a [default] profile",
        validation=Validation(
            "https://sts.{region}.amazonaws.com/", signer="sigv4-sts", shapes=(("region", AWS_REGION),)
        ),
    ),
    AuthMode("irsa", "AWSCredentials", None, None, help="keyless: IAM Roles for Service Accounts"),
    AuthMode("pod-identity", "AWSCredentials", None, None, help="keyless: EKS Pod Identity"),
)

_GCP_SETTINGS = {
    "project": Setting("str", None, "GCP project id"),
    "service_account": Setting("str", None, "service-account e-mail whose keys the gcp-iam issuer manages"),
    "region": Setting("str", None, "GCP region"),
}

PROVIDERS: dict[str, Provider] = {
    p.key: p
    for p in (
        Provider(
            key="openai",
            name="openai",
            title="OpenAI",
            backends=(BackendSpec("", "OpenAI"),),
            auth_modes=(_api_key("OPENAI_API_KEY"),),
            default_auth="api-key",
            host="api.openai.com",
            default_models=("gpt-4o-mini",),
            settings={
                "project_id": Setting(
                    "str", None, "OpenAI project whose service accounts the openai-admin issuer manages"
                )
            },
            key_prefixes=("sk-",),
        ),
        Provider(
            key="azure",
            name="azure-openai",
            title="Azure OpenAI",
            backends=(BackendSpec("", "AzureOpenAI", "{api_version}"),),
            auth_modes=(
                _api_key(
                    "AZURE_OPENAI_API_KEY",
                    "AzureAPIKey",
                    "Azure OpenAI resource key (api-key header)",
                    Validation("/openai/models?api-version={api_version}", header="api-key", scheme=""),
                ),
                AuthMode(
                    "entra",
                    "AzureCredentials",
                    "client-secret",
                    "client-secret",
                    ("AZURE_CLIENT_SECRET",),
                    "client-secret",
                    required=("tenant_id", "client_id"),
                    help="Entra ID app registration with a client secret",
                    validation=Validation(
                        "https://login.microsoftonline.com/{tenant_id}/oauth2/v2.0/token", signer="entra"
                    ),
                ),
            ),
            default_auth="api-key",
            host="{resource}.openai.azure.com",
            default_models=("gpt-4o",),
            settings={
                "resource": Setting("str", None, "Azure OpenAI resource name (<resource>.openai.azure.com)"),
                "api_version": Setting("str", "2025-01-01-preview", "Azure OpenAI api-version"),
                "tenant_id": Setting("str", None, "Entra tenant id (auth: entra)"),
                "client_id": Setting("str", None, "Entra application (client) id (auth: entra)"),
                "resource_id": Setting(
                    "str", None, "ARM id of the Azure OpenAI account whose key1/key2 the azure-arm issuer regenerates"
                ),
                "application_object_id": Setting(
                    "str", None, "Entra application object id whose client secrets the entra-graph issuer manages"
                ),
            },
            required=("resource",),
        ),
        Provider(
            key="bedrock",
            name="aws-bedrock",
            title="AWS Bedrock",
            backends=(
                BackendSpec("", "AWSBedrock"),
                BackendSpec("-anthropic", "AWSAnthropic", "bedrock-2023-05-31", "anthropic_models"),
            ),
            auth_modes=_AWS_MODES,
            default_auth="static",
            host="bedrock-runtime.{region}.amazonaws.com",
            default_models=("us.amazon.nova-micro-v1:0",),
            settings={
                "region": Setting("str", "us-east-1", "AWS region"),
                "anthropic_models": Setting("list", [], "Anthropic models served through the Messages API"),
                "iam_user": Setting("str", None, "IAM user whose access keys the aws-iam issuer manages"),
            },
        ),
        Provider(
            key="vertex",
            name="gcp-vertex",
            title="GCP Vertex AI",
            backends=(BackendSpec("", "GCPVertexAI"),),
            auth_modes=_GCP_MODES,
            default_auth="service-account",
            host="{region}-aiplatform.googleapis.com",
            default_models=("gemini-2.5-flash",),
            settings={**_GCP_SETTINGS, "region": Setting("str", "us-central1", "GCP region")},
            required=("project",),
        ),
        Provider(
            key="gcp_anthropic",
            name="gcp-anthropic",
            title="Anthropic on Vertex AI",
            backends=(BackendSpec("", "GCPAnthropic", "vertex-2023-10-16"),),
            auth_modes=_GCP_MODES,
            default_auth="service-account",
            host="{region}-aiplatform.googleapis.com",
            default_models=("claude-sonnet-4-5@20250929",),
            settings={**_GCP_SETTINGS, "region": Setting("str", "us-east5", "GCP region")},
            required=("project",),
        ),
        Provider(
            key="anthropic",
            name="anthropic",
            title="Anthropic",
            backends=(BackendSpec("", "Anthropic"),),
            auth_modes=(
                _api_key(
                    "ANTHROPIC_API_KEY",
                    "AnthropicAPIKey",
                    validation=Validation(
                        "https://api.anthropic.com/v1/models",
                        header="x-api-key",
                        scheme="",
                        headers=(("anthropic-version", "2023-06-01"),),
                    ),
                ),
            ),
            default_auth="api-key",
            host="api.anthropic.com",
            default_models=("claude-sonnet-4-5",),
            key_prefixes=("sk-ant-",),
        ),
        Provider(
            key="groq",
            name="groq",
            title="Groq",
            backends=(BackendSpec("", "OpenAI"),),
            auth_modes=(_api_key("GROQ_API_KEY"),),
            default_auth="api-key",
            host="api.groq.com",
            prefix="/openai/v1",
            default_models=("llama-3.3-70b-versatile",),
            key_prefixes=("gsk_",),
        ),
        # --- Providers people route to. Paths per the Agent Router supported-providers page
        # (AIGW-API.md §7); base URLs, key formats and validation calls from each provider's docs.
        Provider(
            # https://ai.google.dev/gemini-api/docs/openai: base_url
            # https://generativelanguage.googleapis.com/v1beta/openai/, `client.models.list()` works
            # there with the AI Studio key as Bearer. Key: "AIza" + 35 [0-9A-Za-z_-] (Google API key).
            key="gemini",
            name="gemini",
            title="Gemini API",
            backends=(BackendSpec("", "OpenAI"),),
            auth_modes=(
                _api_key(
                    "GEMINI_API_KEY", help="Gemini API (AI Studio) key", validation=Validation("/v1beta/openai/models")
                ),
            ),
            default_auth="api-key",
            host="generativelanguage.googleapis.com",
            prefix="/v1beta/openai",
            default_models=("gemini-2.5-flash-lite",),
            key_prefixes=("AIza",),
        ),
        Provider(
            # https://docs.mistral.ai/api/#tag/models: GET https://api.mistral.ai/v1/models, Bearer.
            # Keys are 32 alphanumerics without a prefix.
            key="mistral",
            name="mistral",
            title="Mistral",
            backends=(BackendSpec("", "OpenAI"),),
            auth_modes=(_api_key("MISTRAL_API_KEY"),),
            default_auth="api-key",
            host="api.mistral.ai",
            default_models=("mistral-small-latest",),
        ),
        Provider(
            # https://docs.x.ai/docs/api-reference: base https://api.x.ai/v1, GET /v1/models, Bearer.
            # Keys: "xai-" + 80 alphanumerics (gitleaks xai-api-key rule).
            key="xai",
            name="xai",
            title="xAI",
            backends=(BackendSpec("", "OpenAI"),),
            auth_modes=(_api_key("XAI_API_KEY"),),
            default_auth="api-key",
            host="api.x.ai",
            default_models=("grok-3-mini",),
            key_prefixes=("xai-",),
        ),
        Provider(
            # https://openrouter.ai/docs/api-reference/authentication: base https://openrouter.ai/api/v1,
            # keys "sk-or-v1-" + 64 hex. GET /api/v1/models answers without a key, so the check is
            # GET /api/v1/key ("get current API key", https://openrouter.ai/docs/api-reference/get-current-key).
            key="openrouter",
            name="openrouter",
            title="OpenRouter",
            backends=(BackendSpec("", "OpenAI"),),
            auth_modes=(_api_key("OPENROUTER_API_KEY", validation=Validation("/api/v1/key")),),
            default_auth="api-key",
            host="openrouter.ai",
            prefix="/api/v1",
            default_models=("openai/gpt-4o-mini",),
            key_prefixes=("sk-or-v1-",),
        ),
        Provider(
            # https://api-docs.deepseek.com/api/list-models: GET https://api.deepseek.com/models, Bearer;
            # https://api.deepseek.com/v1 is kept as an OpenAI-compatible base (so the default prefix works).
            # Keys: "sk-" + 32 lowercase hex.
            key="deepseek",
            name="deepseek",
            title="DeepSeek",
            backends=(BackendSpec("", "OpenAI"),),
            auth_modes=(_api_key("DEEPSEEK_API_KEY", validation=Validation("/models")),),
            default_auth="api-key",
            host="api.deepseek.com",
            default_models=("deepseek-chat",),
            key_prefixes=("sk-",),
        ),
        Provider(
            # https://docs.together.ai/docs/openai-api-compatibility: base https://api.together.xyz/v1,
            # GET /v1/models, Bearer. Key format undocumented (64 hex, newer keys "tgp_v1_"): no prefix check.
            key="together",
            name="together",
            title="Together AI",
            backends=(BackendSpec("", "OpenAI"),),
            auth_modes=(_api_key("TOGETHER_API_KEY"),),
            default_auth="api-key",
            host="api.together.xyz",
            default_models=("meta-llama/Llama-3.3-70B-Instruct-Turbo",),
        ),
        Provider(
            # https://deepinfra.com/docs/advanced/openai_api: api_base https://api.deepinfra.com/v1/openai,
            # GET /v1/openai/models, Bearer. Keys have no documented prefix.
            key="deepinfra",
            name="deepinfra",
            title="DeepInfra",
            backends=(BackendSpec("", "OpenAI"),),
            auth_modes=(_api_key("DEEPINFRA_API_KEY"),),
            default_auth="api-key",
            host="api.deepinfra.com",
            prefix="/v1/openai",
            default_models=("meta-llama/Llama-3.3-70B-Instruct",),
        ),
        Provider(
            # Native Cohere schema (v2 chat API, https://docs.cohere.com/v2). Check:
            # GET https://api.cohere.com/v1/models (https://docs.cohere.com/reference/list-models), Bearer.
            # Keys: 40 alphanumerics, no prefix; the SDK reads CO_API_KEY.
            key="cohere",
            name="cohere",
            title="Cohere",
            backends=(BackendSpec("", "Cohere", "v2"),),
            auth_modes=(_api_key("CO_API_KEY", validation=Validation("/v1/models")),),
            default_auth="api-key",
            host="api.cohere.com",
            default_models=("command-a-03-2025",),
        ),
        Provider(
            # Cohere's OpenAI compatibility API (https://docs.cohere.com/docs/compatibility-api):
            # base https://api.cohere.ai/compatibility/v1 (api.cohere.com serves the same API); the key
            # check is the native list-models call.
            key="cohere_openai",
            name="cohere-openai",
            title="Cohere (OpenAI compatibility)",
            backends=(BackendSpec("", "OpenAI"),),
            auth_modes=(_api_key("CO_API_KEY", validation=Validation("/v1/models")),),
            default_auth="api-key",
            host="api.cohere.com",
            prefix="/compatibility/v1",
            default_models=("command-r7b-12-2024",),
        ),
        Provider(
            # Amazon Bedrock API keys (https://docs.aws.amazon.com/bedrock/latest/userguide/api-keys-use.html):
            # `Authorization: Bearer <key>`, env AWS_BEARER_TOKEN_BEDROCK; Bedrock Runtime's
            # OpenAI-compatible endpoint is https://bedrock-runtime.<region>.amazonaws.com/openai/v1.
            # Long-term keys start "ABSK" (base64 of "BedrockAPIKey-"), short-term ones "bedrock-api-key-".
            # Check: ListFoundationModels (GET https://bedrock.<region>.amazonaws.com/foundation-models),
            # a Bedrock action the keys' AmazonBedrockLimitedAccess policy allows (API keys work for
            # "Amazon Bedrock and Amazon Bedrock Runtime actions"): the key goes to that control-plane
            # host, not to the bedrock-runtime upstream.
            key="bedrock_api_key",
            name="bedrock-api-key",
            title="AWS Bedrock (API key)",
            backends=(BackendSpec("", "OpenAI"),),
            auth_modes=(
                _api_key(
                    "AWS_BEARER_TOKEN_BEDROCK",
                    help="Amazon Bedrock API key",
                    validation=Validation(
                        "https://bedrock.{region}.amazonaws.com/foundation-models", shapes=(("region", AWS_REGION),)
                    ),
                ),
            ),
            default_auth="api-key",
            host="bedrock-runtime.{region}.amazonaws.com",
            prefix="/openai/v1",
            default_models=("openai.gpt-oss-20b-1:0",),
            settings={"region": Setting("str", "us-east-1", "AWS region")},
            key_prefixes=("ABSK", "bedrock-api-key-"),
        ),
        Provider(
            # v1.2 `AWSOpenAI` schema: Bedrock Runtime's OpenAI-compatible /openai/v1 (the controller's
            # default prefix), signed with SigV4 through an AWSCredentials policy (release notes v1.2.0).
            key="bedrock_openai",
            name="aws-bedrock-openai",
            title="AWS Bedrock (OpenAI-compatible, SigV4)",
            backends=(BackendSpec("", "AWSOpenAI"),),
            auth_modes=_AWS_MODES,
            default_auth="static",
            host="bedrock-runtime.{region}.amazonaws.com",
            default_models=("openai.gpt-oss-120b-1:0",),
            settings={"region": Setting("str", "us-east-1", "AWS region")},
            min_version="v1.2",
        ),
        Provider(
            key="vllm",
            name="vllm",
            title="vLLM",
            backends=(BackendSpec("", "OpenAI"),),
            auth_modes=(
                AuthMode("none", None, None, None, help="no authentication"),
                _api_key("VLLM_API_KEY", help="the server's --api-key"),
            ),
            default_auth="none",
            host=None,
            settings={
                "url": Setting("str", None, "server URL, e.g. http://vllm.vllm.svc.cluster.local:8000"),
                "server_secret": Setting(
                    "str", None, "issuer self: the model server's Secret NAMESPACE/NAME that gets the same key"
                ),
                "server_secret_key": Setting("str", "VLLM_API_KEY", "issuer self: the key in that Secret"),
            },
            required=("url", "models"),
        ),
        Provider(
            key="openai_compatible",
            name="openai-compatible",
            title="OpenAI-compatible",
            backends=(BackendSpec("", "OpenAI"),),
            auth_modes=(_api_key("OPENAI_COMPATIBLE_API_KEY"), AuthMode("none", None, None, None)),
            default_auth="api-key",
            host=None,
            required=("host", "models"),
        ),
    )
}

GLOBAL_SETTINGS: dict[str, Setting] = {
    "ai_gateway_namespace": Setting("str", "ai-gateway", "namespace of every generated object"),
    "ai_gateway_gateway_name": Setting("str", "envoy-ai-gateway", "the Gateway the route attaches to"),
    "ai_gateway_gateway_namespace": Setting("str", None, "namespace of that Gateway (default: ai_gateway_namespace)"),
    "ai_gateway_route_name": Setting("str", "ai-gateway", "AIGatewayRoute name (-2, -3… when split)"),
    "ai_gateway_output_dir": Setting(
        "str", "kubernetes/apps/ai-gateway/providers", "kustomize directory the manifests go to"
    ),
    "ai_gateway_data_key_rotation_days": Setting(
        "int", 30, "rotate each Secret's SOPS data key after this many days", (1, 3650)
    ),
    "ai_gateway_rotation_grace_hours": Setting(
        "int", 2, "hours after a rotation before the old credential is safe to revoke", (0, 8760)
    ),
    # --- Envoy AI Gateway v1.2 / Agent Router
    "ai_gateway_version": Setting("str", "v1.2", "AI Gateway (Agent Router) version the output targets: v1.2 or v1.1"),
    "ai_gateway_secret_namespace": Setting(
        "str", None, "namespace of the credential Secrets when not the policies' (adds a ReferenceGrant; v1.2)"
    ),
    "ai_gateway_mcp_session_seed": Setting(
        "bool", False, "generate the controller's MCP session-encryption seed Secret"
    ),
    "ai_gateway_mcp_release_name": Setting("str", "aieg", "Helm release name of the ai-gateway-helm controller chart"),
    "ai_gateway_mcp_release_namespace": Setting("str", "envoy-ai-gateway-system", "namespace of that Helm release"),
    "ai_gateway_mcp_fullname_override": Setting(
        "str", "ai-gateway-controller", "the chart's controller.fullnameOverride (its default; empty if you cleared it)"
    ),
    "ai_gateway_mcp_backends": Setting(
        "list", [], "MCP servers with an API key, each NAME=https://host[:port]/path (MCPRoute backendRefs)"
    ),
    "ai_gateway_mcp_route_name": Setting("str", "mcp", "MCPRoute name"),
    # --- External Secrets Operator backend: the value in a store, an ExternalSecret in git
    "ai_gateway_secret_backend": Setting(
        "str",
        "sops",
        "where credential values live: sops (encrypted in git) or external-secrets (a secret store read by ESO)",
    ),
    "ai_gateway_external_secrets_provider": Setting(
        "str",
        "aws",
        "the store aigw-secrets writes values to: aws (Secrets Manager), vault (Vault/OpenBao KV v2), "
        "onepassword (Connect)",
    ),
    "ai_gateway_external_secrets_store": Setting(
        "str", None, "name of the ClusterSecretStore / SecretStore the ExternalSecrets use"
    ),
    "ai_gateway_external_secrets_store_kind": Setting("str", "ClusterSecretStore", "ClusterSecretStore or SecretStore"),
    "ai_gateway_external_secrets_prefix": Setting(
        "str", "ai-gateway/", "remote keys are <prefix><namespace>/<secret name>"
    ),
    "ai_gateway_external_secrets_refresh_interval": Setting(
        "str", "1h", "ESO refreshInterval (Go duration, not 0: 0 syncs once and never picks up a rotation)"
    ),
    "ai_gateway_external_secrets_aws_region": Setting(
        "str", None, "AWS region of the Secrets Manager store (default $AWS_DEFAULT_REGION, else us-east-1)"
    ),
    "ai_gateway_external_secrets_vault_mount": Setting("str", "secret", "KV v2 mount of the Vault/OpenBao store"),
    "ai_gateway_external_secrets_onepassword_vault": Setting(
        "str", None, "1Password vault id the Connect store writes items to"
    ),
}


def setting_specs(provider: Provider) -> dict[str, Setting]:
    return {**COMMON_SETTINGS, **provider.settings}


def all_keys() -> dict[str, tuple[Provider | None, str, Setting]]:
    """Every valid ``ai_gateway_*`` key → (provider or None, setting name, spec)."""
    keys: dict[str, tuple[Provider | None, str, Setting]] = {k: (None, k, s) for k, s in GLOBAL_SETTINGS.items()}
    for provider in PROVIDERS.values():
        for name, spec in setting_specs(provider).items():
            keys[f"ai_gateway_{provider.key}_{name}"] = (provider, name, spec)
    return keys
