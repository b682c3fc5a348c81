using System.Collections.Immutable;
using System.Text.Json;

namespace TensorZero.Proxy.Functions;

/// <summary>Which endpoint a typed request came from: it decides the response format.</summary>
internal enum InferenceEndpoint
{
    /// <summary><c>POST /openai/v1/chat/completions</c> (and <c>/v1/chat/completions</c>).</summary>
    OpenAICompatible,

    /// <summary>TensorZero's native <c>POST /inference</c>.</summary>
    Native,

    /// <summary>OpenAI's Responses API, <c>POST /openai/v1/responses</c> (this gateway's extension).</summary>
    OpenAIResponses,

    /// <summary>Anthropic's Messages API, <c>POST /v1/messages</c> (this gateway's extension).</summary>
    AnthropicMessages,
}

/// <summary><c>cache_options.enabled</c>.</summary>
internal enum CacheMode
{
    Off,
    On,
    ReadOnly,
    WriteOnly,
}

/// <summary><c>tensorzero::cache_options</c> / <c>cache_options</c>.</summary>
internal sealed record CacheOptions(CacheMode Mode, long? MaxAgeSeconds)
{
    public static CacheOptions Default { get; } = new(CacheMode.WriteOnly, null);
}

/// <summary>
/// A request in TensorZero's terms, read from either endpoint's body: the target, the input, the parameters and the
/// dynamic tool and output settings. Gateway fields shared with the passthrough path (episode id, variant pin, tags,
/// dry run, extra headers and body) stay in <see cref="GatewayFieldJson"/> under their <c>tensorzero::</c> names, so the
/// same validators read them whichever endpoint the request came from.
/// </summary>
internal sealed record TypedInferenceRequest
{
    public required InferenceEndpoint Endpoint { get; init; }

    /// <summary>The function called, or null for a model target.</summary>
    public string? FunctionName { get; init; }

    /// <summary>The model called (a configured model or a shorthand such as <c>dummy::echo</c>), or null for a function.</summary>
    public string? ModelName { get; init; }

    /// <summary>
    /// An OpenAI-compatible <c>model</c> without TensorZero's prefixes (DESIGN.md §2): a function named so, else a model
    /// named so; only the caller's configuration can tell which. Null when <see cref="FunctionName"/> or
    /// <see cref="ModelName"/> is set.
    /// </summary>
    public string? PlainName { get; init; }

    public required InferenceInput Input { get; init; }

    public bool Stream { get; init; }

    /// <summary>OpenAI's <c>stream_options.include_usage</c>: usage in a final chunk (OpenAI-compatible only).</summary>
    public bool IncludeUsageInStream { get; init; }

    /// <summary>Request-level chat-completion parameters (they win over the variant's).</summary>
    public SamplingParams Params { get; init; } = SamplingParams.None;

    /// <summary><c>params.chat_completion.json_mode</c>, when the request sets it.</summary>
    public JsonMode? JsonMode { get; init; }

    /// <summary>Tools added by the request (OpenAI <c>tools</c> / native <c>additional_tools</c>).</summary>
    public ImmutableArray<ToolDefinition> AdditionalTools { get; init; } = [];

    /// <summary>
    /// OpenAI custom tools added by the request (OpenAI <c>{"type": "custom", "custom": {...}}</c> / native
    /// <c>{"type": "openai_custom", ...}</c>), each as <c>{"name", "description"?, "format"?}</c>; only OpenAI models take them.
    /// </summary>
    public ImmutableArray<JsonElement> AdditionalCustomTools { get; init; } = [];

    /// <summary>
    /// Native <c>allowed_tools</c> (or an OpenAI <c>tool_choice</c> of type <c>allowed_tools</c>): restricts the tools;
    /// null = all of them.
    /// </summary>
    public ImmutableArray<string>? AllowedTools { get; init; }

    public ToolChoice? ToolChoice { get; init; }

    public bool? ParallelToolCalls { get; init; }

    /// <summary>A dynamic output schema (OpenAI <c>response_format</c> json_schema / native <c>output_schema</c>).</summary>
    public JsonElement? OutputSchema { get; init; }

    /// <summary>OpenAI <c>response_format: {"type": "json_object"}</c> without a schema.</summary>
    public bool JsonObjectRequested { get; init; }

    public bool IncludeRawResponse { get; init; }

    /// <summary>The deprecated <c>include_original_response</c>.</summary>
    public bool IncludeOriginalResponse { get; init; }

    public bool IncludeRawUsage { get; init; }

    public CacheOptions Cache { get; init; } = CacheOptions.Default;

    /// <summary><c>tensorzero::credentials</c> / <c>credentials</c>: dynamic provider credentials by name.</summary>
    public ImmutableDictionary<string, string> Credentials { get; init; } = ImmutableDictionary<string, string>.Empty;

    /// <summary>
    /// Gateway fields as JSON under their <c>tensorzero::</c> names (<c>tensorzero::episode_id</c>,
    /// <c>tensorzero::variant_name</c>, <c>tensorzero::tags</c>, <c>tensorzero::dryrun</c>,
    /// <c>tensorzero::extra_headers</c>, <c>tensorzero::extra_body</c>), for GatewayFields and ExtraParameters.
    /// </summary>
    public IReadOnlyDictionary<string, JsonElement> GatewayFieldJson { get; init; } = new Dictionary<string, JsonElement>();

    /// <summary>
    /// <c>tensorzero::namespace</c> / <c>namespace</c>: a non-empty name that TensorZero stores as the tag
    /// <c>tensorzero::namespace</c> and uses to pick a namespaced experimentation config.
    /// </summary>
    public string? Namespace { get; init; }

    /// <summary>Fields TensorZero accepts that this gateway does not act on (reported in a warning header, not a 400).</summary>
    public ImmutableArray<string> IgnoredFields { get; init; } = [];

    /// <summary>
    /// Top-level fields of an OpenAI-compatible body that neither OpenAI's chat completions nor TensorZero define:
    /// TensorZero ignores them with a warning (a 400 only under <c>tensorzero::deny_unknown_fields</c>).
    /// </summary>
    public ImmutableArray<string> UnknownFields { get; init; } = [];

    /// <summary>
    /// The request fields a Responses API answer repeats (<c>instructions</c>, <c>tools</c>, <c>metadata</c>, ...); null for
    /// the other endpoints.
    /// </summary>
    public Inference.ResponsesEcho? ResponsesEcho { get; init; }

    /// <summary>The <c>model</c> exactly as the client sent it (the Anthropic Messages ingress echoes it).</summary>
    public string? RequestedModel { get; init; }
}
