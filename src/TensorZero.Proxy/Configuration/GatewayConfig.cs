using System.Collections.Frozen;
using System.Collections.Immutable;
using TensorZero.Proxy.Transforms;

namespace TensorZero.Proxy.Configuration;

/// <summary>The whole of <c>tensorzero.toml</c>, validated. Immutable; a reload builds a new one.</summary>
internal sealed record GatewayConfig
{
    public required GatewaySettings Gateway { get; init; }

    /// <summary>Models by name.</summary>
    public required FrozenDictionary<string, ModelConfig> Models { get; init; }

    /// <summary>Functions by name.</summary>
    public FrozenDictionary<string, FunctionConfig> Functions { get; init; } = FrozenDictionary<string, FunctionConfig>.Empty;

    /// <summary>The file the configuration came from, for messages.</summary>
    public string? SourcePath { get; init; }

    /// <summary>Valid settings that are probably mistakes, with their key paths.</summary>
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
}

/// <summary><c>[gateway.observability]</c>.</summary>
internal sealed record ObservabilityConfig
{
    /// <summary><c>enabled</c>: null means "if a ClickHouse URL is configured" (TensorZero's default).</summary>
    public bool? Enabled { get; init; }

    /// <summary><c>async_writes</c>: accepted for compatibility; writes are always asynchronous here.</summary>
    public bool AsyncWrites { get; init; }
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
}

/// <summary><c>[models.M.providers.P]</c>.</summary>
internal sealed record ProviderConfig
{
    public required string Name { get; init; }

    public required ProviderType Type { get; init; }

    /// <summary><c>model_name</c>: the provider's own name of the model (not used by azure).</summary>
    public string? ModelName { get; init; }

    /// <summary><c>api_base</c>, normalised to end with '/'. Null for azure and dummy.</summary>
    public Uri? ApiBase { get; init; }

    /// <summary><c>api_key_location</c> (or the provider type's default).</summary>
    public required CredentialLocation ApiKeyLocation { get; init; }

    /// <summary>azure: <c>deployment_id</c>.</summary>
    public string? DeploymentId { get; init; }

    /// <summary>azure: <c>endpoint</c> (a URL, or <c>env::VAR</c>).</summary>
    public string? Endpoint { get; init; }

    /// <summary><c>timeouts</c> of one attempt.</summary>
    public TimeoutsConfig Timeouts { get; init; } = TimeoutsConfig.None;

    /// <summary><c>extra_headers</c> applied to every attempt at this provider.</summary>
    public ImmutableArray<ExtraHeaderEntry> ExtraHeaders { get; init; } = [];

    /// <summary><c>extra_body</c> applied to every attempt at this provider.</summary>
    public ImmutableArray<ExtraBodyEntry> ExtraBody { get; init; } = [];

    /// <summary><c>allow_credential_override</c>: extra headers may replace the credential header. Default false.</summary>
    public bool AllowCredentialOverride { get; init; }

    /// <summary><c>forward_client_headers</c>: glob patterns of client headers passed on (sidecar use).</summary>
    public ImmutableArray<string> ForwardClientHeaders { get; init; } = [];
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

/// <summary>Where a credential comes from: <c>env::VAR</c> or <c>none</c>.</summary>
internal readonly record struct CredentialLocation(CredentialSource Source, string? Name)
{
    public static CredentialLocation None => new(CredentialSource.None, null);

    public static CredentialLocation Env(string variable) => new(CredentialSource.Env, variable);

    public override string ToString() => Source == CredentialSource.Env ? $"env::{Name}" : "none";
}

/// <summary>The kinds of credential location.</summary>
internal enum CredentialSource
{
    None,
    Env,
}

/// <summary><c>[functions.F]</c> (type <c>chat</c>).</summary>
internal sealed record FunctionConfig
{
    public required string Name { get; init; }

    /// <summary><c>[functions.F.variants.V]</c> by name.</summary>
    public required FrozenDictionary<string, VariantConfig> Variants { get; init; }

    /// <summary>How variants are sampled: weighted candidates, then fallbacks in order.</summary>
    public required ExperimentationConfig Experimentation { get; init; }
}

/// <summary><c>[functions.F.variants.V]</c> (type <c>chat_completion</c>).</summary>
internal sealed record VariantConfig
{
    public required string Name { get; init; }

    /// <summary><c>model</c>: a model name of <c>[models]</c>, or a shorthand such as <c>openai::gpt-4o-mini</c>.</summary>
    public required string Model { get; init; }

    /// <summary><c>weight</c> (legacy sampling weight); null when not set.</summary>
    public double? Weight { get; init; }

    public TimeoutsConfig Timeouts { get; init; } = TimeoutsConfig.None;

    public RetryConfig Retries { get; init; } = RetryConfig.None;

    /// <summary><c>extra_headers</c> applied to every attempt of this variant (first, before the provider's).</summary>
    public ImmutableArray<ExtraHeaderEntry> ExtraHeaders { get; init; } = [];

    /// <summary><c>extra_body</c> applied to every attempt of this variant.</summary>
    public ImmutableArray<ExtraBodyEntry> ExtraBody { get; init; } = [];

    /// <summary>Request body fields the variant sets when the request does not (temperature, max_tokens, ...), as JSON.</summary>
    public ImmutableArray<KeyValuePair<string, string>> DefaultParameters { get; init; } = [];
}

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
