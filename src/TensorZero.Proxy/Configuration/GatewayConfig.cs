using System.Collections.Frozen;
using System.Collections.Immutable;
using System.Text.Json;
using TensorZero.Proxy.Functions;
using TensorZero.Proxy.Transforms;

namespace TensorZero.Proxy.Configuration;

/// <summary>The whole of <c>tensorzero.toml</c> (one file or a glob of them), validated. Immutable; a reload builds a new one.</summary>
internal sealed record GatewayConfig
{
    public required GatewaySettings Gateway { get; init; }

    /// <summary>Models by name.</summary>
    public required FrozenDictionary<string, ModelConfig> Models { get; init; }

    /// <summary>Functions by name.</summary>
    public FrozenDictionary<string, FunctionConfig> Functions { get; init; } = FrozenDictionary<string, FunctionConfig>.Empty;

    /// <summary><c>[tools.T]</c> by key (the table name; the name the model sees is <see cref="ToolConfigEntry.Name"/>).</summary>
    public FrozenDictionary<string, ToolConfigEntry> Tools { get; init; } = FrozenDictionary<string, ToolConfigEntry>.Empty;

    /// <summary><c>[metrics.M]</c> by name.</summary>
    public FrozenDictionary<string, MetricConfig> Metrics { get; init; } = FrozenDictionary<string, MetricConfig>.Empty;

    /// <summary><c>[embedding_models.E]</c> by name, served by <c>/openai/v1/embeddings</c>.</summary>
    public FrozenDictionary<string, EmbeddingModelConfig> EmbeddingModels { get; init; } = FrozenDictionary<string, EmbeddingModelConfig>.Empty;

    /// <summary><c>[object_storage]</c>; <see cref="ObjectStorageKind.Disabled"/> when absent.</summary>
    public ObjectStorageConfig ObjectStorage { get; init; } = ObjectStorageConfig.Disabled;

    /// <summary><c>[rate_limiting]</c>; <see cref="RateLimiting.RateLimitingConfig.None"/> when absent.</summary>
    public RateLimiting.RateLimitingConfig RateLimiting { get; init; } = TensorZero.Proxy.RateLimiting.RateLimitingConfig.None;

    /// <summary>
    /// <c>[provider_types.T.defaults] api_key_location</c> (<c>credential_location</c> for the GCP types): the
    /// credential of every provider of that type that names none, shorthand models included. Types not listed
    /// use <see cref="ProviderTypeInfo.DefaultCredential"/>.
    /// </summary>
    public FrozenDictionary<ProviderType, CredentialLocation> ProviderTypeDefaults { get; init; } = FrozenDictionary<ProviderType, CredentialLocation>.Empty;

    /// <summary>The first (or only) file the configuration came from, for messages.</summary>
    public string? SourcePath { get; init; }

    /// <summary>Every file the configuration came from (a glob matches several), sorted; empty for parsed text.</summary>
    public ImmutableArray<string> SourcePaths { get; init; } = [];

    /// <summary>Every file and directory the load read, as read (what the reloader watches); empty for parsed text.</summary>
    public ConfigInputs Inputs { get; init; } = ConfigInputs.None;

    /// <summary>
    /// Valid settings that are probably mistakes, and accepted TensorZero settings that have no effect here, each
    /// with its key path.
    /// </summary>
    public ImmutableArray<string> Warnings { get; init; } = [];
}

/// <summary><c>[gateway]</c>.</summary>
internal sealed record GatewaySettings
{
    /// <summary><c>bind_address</c>, e.g. <c>127.0.0.1:3000</c>; null when not set.</summary>
    public string? BindAddress { get; init; }

    /// <summary><c>base_path</c>: a prefix for every endpoint, normalised to "" or "/x" (no trailing slash).</summary>
    public string BasePath { get; init; } = "";

    /// <summary><c>debug</c>: more detail in logs (never secrets).</summary>
    public bool Debug { get; init; }

    /// <summary><c>[gateway.observability]</c>.</summary>
    public ObservabilityConfig Observability { get; init; } = new();

    /// <summary><c>[gateway.extra_headers]</c>: bounds on extra header entries.</summary>
    public ExtraHeaderLimits ExtraHeaderLimits { get; init; } = ExtraHeaderLimits.Default;

    /// <summary>
    /// <c>template_filesystem_access.base_path</c>, absolute (resolved against the directory of the file that sets
    /// it): the directory templates may <c>{% include %}</c> from. Null means includes are disabled (TensorZero enables
    /// filesystem access if and only if <c>base_path</c> is set).
    /// </summary>
    public string? TemplateBaseDirectory { get; init; }

    /// <summary><c>[gateway.cache]</c>: where the model inference cache lives (ModelInferenceCache.StoreFor).</summary>
    public CacheSettings Cache { get; init; } = CacheSettings.Default;

    /// <summary><c>[gateway.auth]</c>: TensorZero API keys.</summary>
    public AuthSettings Auth { get; init; } = AuthSettings.Disabled;

    /// <summary>
    /// <c>global_outbound_http_timeout_ms</c>: the longest any request to a provider may take (TensorZero's default,
    /// 15 minutes). Every configured timeout must fit within it.
    /// </summary>
    public TimeSpan GlobalOutboundHttpTimeout { get; init; } = DefaultGlobalOutboundHttpTimeout;

    /// <summary>
    /// <c>unstable_disable_feedback_target_validation</c>: <c>POST /feedback</c> records metric and comment feedback
    /// without checking that its inference or episode exists (a demonstration still needs its inference).
    /// </summary>
    public bool DisableFeedbackTargetValidation { get; init; }

    /// <summary>TensorZero's default for <c>global_outbound_http_timeout_ms</c>.</summary>
    public static TimeSpan DefaultGlobalOutboundHttpTimeout { get; } = TimeSpan.FromMinutes(15);
}

/// <summary><c>[gateway.observability]</c>.</summary>
internal sealed record ObservabilityConfig
{
    /// <summary><c>enabled</c>: null means "if a ClickHouse URL is configured" (TensorZero's default).</summary>
    public bool? Enabled { get; init; }

    /// <summary><c>async_writes</c>: accepted for compatibility; writes are always asynchronous here.</summary>
    public bool AsyncWrites { get; init; }
}

/// <summary><c>[gateway.cache]</c>: TensorZero's model inference cache settings.</summary>
/// <param name="Enabled"><c>enabled</c>: true requires a cache, false disables it, null uses one if available.</param>
/// <param name="Backend"><c>backend</c>; null when not set (TensorZero's <c>auto</c>).</param>
/// <param name="ValkeyTtl"><c>valkey.ttl_s</c>; null when not set (TensorZero's default is 24 hours).</param>
internal sealed record CacheSettings(bool? Enabled, CacheBackend? Backend, TimeSpan? ValkeyTtl)
{
    public static CacheSettings Default { get; } = new(null, null, null);
}

/// <summary><c>gateway.cache.backend</c>.</summary>
internal enum CacheBackend
{
    Auto,
    ClickHouse,
    Valkey,
}

/// <summary><c>[models.M]</c>.</summary>
internal sealed record ModelConfig
{
    public required string Name { get; init; }

    /// <summary><c>routing</c>: provider names in the order they are tried.</summary>
    public required ImmutableArray<string> Routing { get; init; }

    /// <summary><c>[models.M.providers.P]</c> by name.</summary>
    public required FrozenDictionary<string, ProviderConfig> Providers { get; init; }

    /// <summary><c>timeouts</c> for the whole routing loop.</summary>
    public TimeoutsConfig Timeouts { get; init; } = TimeoutsConfig.None;

    /// <summary><c>namespace</c> (accepted; namespaces are not applied here).</summary>
    public string? Namespace { get; init; }
}

/// <summary><c>[models.M.providers.P]</c> (and <c>[embedding_models.E.providers.P]</c>).</summary>
internal sealed record ProviderConfig
{
    public required string Name { get; init; }

    public required ProviderType Type { get; init; }

    /// <summary>
    /// Whether the gateway can call this provider. False for provider types (and OpenAI's Responses API) it does not
    /// speak yet: such a provider loads, and attempts at it fail over to the next provider.
    /// </summary>
    public bool Implemented { get; init; } = true;

    /// <summary>
    /// The provider's own name of the model, sent as <c>model</c>: <c>model_name</c>, <c>model_id</c> (aws_bedrock,
    /// gcp types), <c>endpoint_id</c> (gcp_vertex_gemini without model_id), <c>"tgi"</c> for tgi without one (what
    /// TensorZero sends); null for azure (see <see cref="DeploymentId"/>).
    /// </summary>
    public string? ModelName { get; init; }

    /// <summary><c>api_base</c>, normalised to end with '/'. Null where the type has none.</summary>
    public Uri? ApiBase { get; init; }

    /// <summary><c>api_key_location</c> (<c>credential_location</c> for the GCP types), or the provider type's default.</summary>
    public required CredentialLocation ApiKeyLocation { get; init; }

    /// <summary>azure: <c>deployment_id</c>.</summary>
    public string? DeploymentId { get; init; }

    /// <summary>azure: <c>endpoint</c> (a URL, <c>env::VAR</c> or <c>dynamic::NAME</c>).</summary>
    public string? Endpoint { get; init; }

    /// <summary>openai: <c>api_type</c>.</summary>
    public OpenAIApiType ApiType { get; init; } = OpenAIApiType.ChatCompletions;

    /// <summary>
    /// Keys of the types the gateway does not implement (aws_*, gcp_*, ...) as written, for messages and for the
    /// lead's later implementation: region, endpoint_url, project_id, location, hosted_provider, ...
    /// </summary>
    public FrozenDictionary<string, string> TypeSettings { get; init; } = FrozenDictionary<string, string>.Empty;

    /// <summary><c>timeouts</c> of one attempt.</summary>
    public TimeoutsConfig Timeouts { get; init; } = TimeoutsConfig.None;

    /// <summary><c>extra_headers</c> applied to every attempt at this provider.</summary>
    public ImmutableArray<ExtraHeaderEntry> ExtraHeaders { get; init; } = [];

    /// <summary>
    /// <c>extra_body</c> applied to every attempt at this provider, after the entries that typed keys produce
    /// (groq <c>reasoning_format</c>, mistral <c>prompt_mode</c>).
    /// </summary>
    public ImmutableArray<ExtraBodyEntry> ExtraBody { get; init; } = [];

    /// <summary><c>allow_credential_override</c>: request-level extra headers may replace the credential header. Default false.</summary>
    public bool AllowCredentialOverride { get; init; }

    /// <summary><c>forward_client_headers</c>: glob patterns of client headers passed on (sidecar use).</summary>
    public ImmutableArray<string> ForwardClientHeaders { get; init; } = [];
}

/// <summary>openai <c>api_type</c>.</summary>
internal enum OpenAIApiType
{
    /// <summary><c>chat_completions</c> (the default).</summary>
    ChatCompletions,

    /// <summary><c>responses</c>: the Responses API (not implemented by the gateway yet).</summary>
    Responses,
}

/// <summary>
/// <c>timeouts = { non_streaming.total_ms, streaming.ttft_ms, streaming.total_ms }</c>, the same shape at
/// provider, model and variant level. A null member means "no limit at this level".
/// </summary>
internal sealed record TimeoutsConfig(TimeSpan? NonStreamingTotal, TimeSpan? StreamingTtft, TimeSpan? StreamingTotal)
{
    public static TimeoutsConfig None { get; } = new(null, null, null);

    public bool IsEmpty => NonStreamingTotal is null && StreamingTtft is null && StreamingTotal is null;
}

/// <summary>
/// Where a credential comes from: <c>env::VAR</c>, <c>none</c>, <c>dynamic::NAME</c> (given per request in
/// <c>tensorzero::credentials</c>), <c>path::FILE</c>, <c>path_from_env::VAR</c> (a file named by a variable),
/// <c>sdk</c> (the cloud SDK's own lookup; AWS and GCP types only), optionally with a <see cref="Fallback"/>
/// (<c>{ default = ..., fallback = ... }</c>) used when this location yields nothing.
/// </summary>
internal sealed record CredentialLocation(CredentialSource Source, string? Name)
{
    public static CredentialLocation None { get; } = new(CredentialSource.None, null);

    public static CredentialLocation Sdk { get; } = new(CredentialSource.Sdk, null);

    public static CredentialLocation Env(string variable) => new(CredentialSource.Env, variable);

    public static CredentialLocation Dynamic(string name) => new(CredentialSource.Dynamic, name);

    /// <summary>Where to look when this location yields nothing; never itself has a fallback.</summary>
    public CredentialLocation? Fallback { get; init; }

    public override string ToString()
    {
        var single = Source switch
        {
            CredentialSource.Env => $"env::{Name}",
            CredentialSource.Dynamic => $"dynamic::{Name}",
            CredentialSource.Path => $"path::{Name}",
            CredentialSource.PathFromEnv => $"path_from_env::{Name}",
            CredentialSource.Sdk => "sdk",
            _ => "none",
        };
        return Fallback is null ? single : $"{{ default = \"{single}\", fallback = \"{Fallback}\" }}";
    }
}

/// <summary>The kinds of credential location.</summary>
internal enum CredentialSource
{
    None,
    Env,
    Dynamic,
    Path,
    PathFromEnv,
    Sdk,
}

/// <summary><c>[functions.F]</c>.</summary>
internal sealed record FunctionConfig
{
    public required string Name { get; init; }

    /// <summary><c>type</c>: chat or json.</summary>
    public FunctionKind Kind { get; init; } = FunctionKind.Chat;

    public string? Description { get; init; }

    /// <summary><c>[functions.F.variants.V]</c> by name.</summary>
    public required FrozenDictionary<string, VariantConfig> Variants { get; init; }

    /// <summary>How variants are sampled: weighted candidates, then fallbacks in order.</summary>
    public required ExperimentationConfig Experimentation { get; init; }

    /// <summary><c>system_schema</c>, or <c>schemas.system.path</c>.</summary>
    public SchemaFile? SystemSchema { get; init; }

    /// <summary><c>user_schema</c>, or <c>schemas.user.path</c>.</summary>
    public SchemaFile? UserSchema { get; init; }

    /// <summary><c>assistant_schema</c>, or <c>schemas.assistant.path</c>.</summary>
    public SchemaFile? AssistantSchema { get; init; }

    /// <summary>
    /// Every named schema (<c>schemas.NAME.path</c>), plus <c>system</c>/<c>user</c>/<c>assistant</c> for the legacy
    /// <c>*_schema</c> keys: what a <c>{"type": "template", "name"}</c> input block is validated against.
    /// </summary>
    public FrozenDictionary<string, SchemaFile> Schemas { get; init; } = FrozenDictionary<string, SchemaFile>.Empty;

    /// <summary>
    /// json functions: <c>output_schema</c>. When absent, TensorZero's default <c>{}</c> (any JSON) with an empty
    /// <see cref="SchemaFile.Path"/>. Null for chat functions.
    /// </summary>
    public SchemaFile? OutputSchema { get; init; }

    /// <summary>chat functions: <c>tools</c>, keys of <see cref="GatewayConfig.Tools"/>.</summary>
    public ImmutableArray<string> Tools { get; init; } = [];

    /// <summary>chat functions: <c>tool_choice</c> (default <c>auto</c>).</summary>
    public ToolChoice ToolChoice { get; init; } = ToolChoice.Auto;

    /// <summary>chat functions: <c>parallel_tool_calls</c>; null when not set (the provider's default).</summary>
    public bool? ParallelToolCalls { get; init; }
}

/// <summary>A JSON Schema file named by the configuration, read and parsed (not compiled).</summary>
/// <param name="Path">The absolute path of the file; empty for a default schema that came from no file.</param>
/// <param name="Schema">The document: a JSON object or boolean (a cloned element, safe to keep).</param>
internal sealed record SchemaFile(string Path, JsonElement Schema);

/// <summary>A template file named by the configuration, read as UTF-8 (not parsed).</summary>
/// <param name="Path">The absolute path of the file.</param>
/// <param name="Text">Its contents.</param>
internal sealed record TemplateFile(string Path, string Text);

/// <summary><c>type</c> of a variant.</summary>
internal enum VariantType
{
    /// <summary><c>chat_completion</c>.</summary>
    ChatCompletion,

    /// <summary><c>experimental_best_of_n_sampling</c>.</summary>
    BestOfNSampling,

    /// <summary><c>experimental_mixture_of_n</c>.</summary>
    MixtureOfN,

    /// <summary><c>experimental_dynamic_in_context_learning</c>.</summary>
    DynamicInContextLearning,

    /// <summary><c>experimental_chain_of_thought</c> (deprecated by TensorZero).</summary>
    ChainOfThought,
}

/// <summary>
/// <c>[functions.F.variants.V]</c>. A chat_completion's keys; chain_of_thought has the same; best_of_n and mixture_of_n
/// keep theirs in <see cref="BestOfN"/> / <see cref="MixtureOfN"/> (and have no model); dynamic_in_context_learning has
/// a model, parameters and <see cref="Dicl"/>. Also the shape of a best-of-n evaluator and a mixture-of-n fuser.
/// </summary>
internal sealed record VariantConfig
{
    public required string Name { get; init; }

    public VariantType Type { get; init; } = VariantType.ChatCompletion;

    /// <summary>
    /// <c>model</c>: a model name of <c>[models]</c>, or a shorthand such as <c>openai::gpt-4o-mini</c>. Null for
    /// best_of_n and mixture_of_n (their evaluator/fuser names one).
    /// </summary>
    public string? Model { get; init; }

    /// <summary><c>weight</c> (legacy sampling weight); null when not set.</summary>
    public double? Weight { get; init; }

    public TimeoutsConfig Timeouts { get; init; } = TimeoutsConfig.None;

    public RetryConfig Retries { get; init; } = RetryConfig.None;

    /// <summary><c>extra_headers</c> applied to every attempt of this variant (first, before the provider's).</summary>
    public ImmutableArray<ExtraHeaderEntry> ExtraHeaders { get; init; } = [];

    /// <summary><c>extra_body</c> applied to every attempt of this variant.</summary>
    public ImmutableArray<ExtraBodyEntry> ExtraBody { get; init; } = [];

    /// <summary>Sampling parameters the variant sets (temperature, max_tokens, ...).</summary>
    public SamplingParams Params { get; init; } = SamplingParams.None;

    /// <summary>
    /// <see cref="Params"/> as the OpenAI chat completions body members the passthrough path sets when the request
    /// does not: field name → JSON (<c>stop_sequences</c> becomes <c>stop</c>; <c>thinking_budget_tokens</c> has no
    /// OpenAI member and is left out).
    /// </summary>
    public ImmutableArray<KeyValuePair<string, string>> DefaultParameters { get; init; } = [];

    public TemplateFile? SystemTemplate { get; init; }

    public TemplateFile? UserTemplate { get; init; }

    public TemplateFile? AssistantTemplate { get; init; }

    /// <summary><c>templates.NAME.path</c> by name.</summary>
    public FrozenDictionary<string, TemplateFile> Templates { get; init; } = FrozenDictionary<string, TemplateFile>.Empty;

    /// <summary><c>input_wrappers</c> (TensorZero's deprecated, undocumented per-role wrappers); null when absent.</summary>
    public InputWrappers? InputWrappers { get; init; }

    /// <summary><c>json_mode</c> (<c>implicit_tool</c> is read as <see cref="Functions.JsonMode.Tool"/>); null when not set.</summary>
    public JsonMode? JsonMode { get; init; }

    /// <summary><c>namespace</c> (accepted; namespaces are not applied here).</summary>
    public string? Namespace { get; init; }

    /// <summary>experimental_best_of_n_sampling: its keys.</summary>
    public BestOfNConfig? BestOfN { get; init; }

    /// <summary>experimental_mixture_of_n: its keys.</summary>
    public MixtureOfNConfig? MixtureOfN { get; init; }

    /// <summary>experimental_dynamic_in_context_learning: its own keys (model and parameters are on the variant).</summary>
    public DiclConfig? Dicl { get; init; }
}

/// <summary><c>input_wrappers = { system, user, assistant }</c>: a template per role that wraps plain text input.</summary>
internal sealed record InputWrappers(TemplateFile? System, TemplateFile? User, TemplateFile? Assistant);

/// <summary>experimental_best_of_n_sampling: candidates run, then the evaluator picks one.</summary>
/// <param name="Candidates"><c>candidates</c>: variant names of the same function (a name may repeat).</param>
/// <param name="Evaluator"><c>[...evaluator]</c>: a chat_completion's keys (its <see cref="VariantConfig.Name"/> is <c>V.evaluator</c>).</param>
internal sealed record BestOfNConfig(ImmutableArray<string> Candidates, VariantConfig Evaluator);

/// <summary>experimental_mixture_of_n: candidates run, then the fuser combines them.</summary>
/// <param name="Candidates"><c>candidates</c>: variant names of the same function (a name may repeat).</param>
/// <param name="Fuser"><c>[...fuser]</c>: a chat_completion's keys (its <see cref="VariantConfig.Name"/> is <c>V.fuser</c>).</param>
internal sealed record MixtureOfNConfig(ImmutableArray<string> Candidates, VariantConfig Fuser);

/// <summary>experimental_dynamic_in_context_learning's own keys.</summary>
/// <param name="EmbeddingModel"><c>embedding_model</c>: an embedding model of the configuration, or an <c>openai::</c>/<c>openrouter::</c> shorthand.</param>
/// <param name="K"><c>k</c>: how many examples are retrieved.</param>
/// <param name="MaxDistance"><c>max_distance</c>; null when not set.</param>
/// <param name="SystemInstructions"><c>system_instructions</c>; null for TensorZero's built-in instructions.</param>
internal sealed record DiclConfig(string EmbeddingModel, long K, double? MaxDistance, TemplateFile? SystemInstructions);

/// <summary><c>retries = { num_retries, max_delay_s }</c>.</summary>
internal sealed record RetryConfig(int NumRetries, double MaxDelaySeconds)
{
    public static RetryConfig None { get; } = new(0, 10);
}

/// <summary>
/// <c>[functions.F.experimentation]</c>, resolved: candidates with weights (weight 0 never sampled, only
/// pinned) and fallback variants tried in order once every candidate failed.
/// </summary>
internal sealed record ExperimentationConfig(ImmutableArray<KeyValuePair<string, double>> Candidates, ImmutableArray<string> Fallbacks);

/// <summary><c>[tools.T]</c>.</summary>
/// <param name="Key">The table name (what functions' <c>tools</c> lists name).</param>
/// <param name="Name"><c>name</c>: what the model sees and calls; the key when not set.</param>
/// <param name="Description"><c>description</c>.</param>
/// <param name="Parameters"><c>parameters</c>: the JSON Schema of the arguments.</param>
/// <param name="Strict"><c>strict</c> (default false).</param>
internal sealed record ToolConfigEntry(string Key, string Name, string Description, SchemaFile Parameters, bool Strict);

/// <summary><c>[metrics.M]</c>.</summary>
internal sealed record MetricConfig(string Name, MetricType Type, MetricOptimize Optimize, MetricLevel Level)
{
    public string? Description { get; init; }
}

/// <summary><c>metrics.M.type</c>.</summary>
internal enum MetricType
{
    Boolean,
    Float,
}

/// <summary><c>metrics.M.optimize</c>.</summary>
internal enum MetricOptimize
{
    Max,
    Min,
}

/// <summary><c>metrics.M.level</c>.</summary>
internal enum MetricLevel
{
    Inference,
    Episode,
}

/// <summary><c>[embedding_models.E]</c>: the models of the embeddings endpoint.</summary>
internal sealed record EmbeddingModelConfig
{
    public required string Name { get; init; }

    /// <summary><c>routing</c>: provider names in the order they are tried.</summary>
    public required ImmutableArray<string> Routing { get; init; }

    /// <summary>
    /// <c>[embedding_models.E.providers.P]</c> by name; a provider's <c>timeout_ms</c> is its
    /// <see cref="TimeoutsConfig.NonStreamingTotal"/>.
    /// </summary>
    public required FrozenDictionary<string, ProviderConfig> Providers { get; init; }

    /// <summary><c>timeout_ms</c> for the whole routing loop; null when not set.</summary>
    public TimeSpan? Timeout { get; init; }
}

/// <summary><c>[object_storage]</c>: where TensorZero stores input files.</summary>
/// <param name="Kind"><c>type</c>.</param>
/// <param name="Path">filesystem: <c>path</c> (as written; TensorZero does not resolve it against the config file).</param>
/// <param name="Bucket">s3_compatible: <c>bucket_name</c>.</param>
/// <param name="Region">s3_compatible: <c>region</c>.</param>
/// <param name="Endpoint">s3_compatible: <c>endpoint</c> (a URL or <c>env::VAR</c>).</param>
internal sealed record ObjectStorageConfig(ObjectStorageKind Kind, string? Path, string? Bucket, string? Region, string? Endpoint)
{
    public static ObjectStorageConfig Disabled { get; } = new(ObjectStorageKind.Disabled, null, null, null, null);

    /// <summary>s3_compatible: <c>allow_http</c>; null when not set.</summary>
    public bool? AllowHttp { get; init; }
}

/// <summary><c>object_storage.type</c>.</summary>
internal enum ObjectStorageKind
{
    Disabled,
    Filesystem,
    S3Compatible,
}
