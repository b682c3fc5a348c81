using System.Buffers;
using System.Collections.Frozen;
using System.Text.Json;
using TensorZero.Proxy.Functions;

namespace TensorZero.Proxy.Providers;

/// <summary>
/// The OpenAI chat completions wire format, as TensorZero speaks it to every OpenAI-compatible provider type
/// (<c>openai</c>, <c>azure</c>, <c>vllm</c>, <c>together</c>, <c>groq</c>, <c>mistral</c>, <c>deepseek</c>,
/// <c>fireworks</c>, <c>openrouter</c>, <c>xai</c>, <c>hyperbolic</c>, <c>sglang</c>, <c>tgi</c>): the request body
/// a <see cref="ModelRequest"/> becomes (with each type's quirks: field names, JSON mode, tools, parameters it
/// accepts), and the reading of a completion (<see cref="TryReadResponse"/>) and of a stream
/// (<see cref="OpenAIChatStreamReader"/>). Pure functions: no I/O, no clock.
/// </summary>
internal static partial class OpenAIChatFormat
{
    /// <summary>The implicit tool of <c>json_mode = "tool"</c>: its call's arguments are the JSON output.</summary>
    public const string ImplicitToolName = "respond";

    /// <summary>The implicit tool's description, as TensorZero sends it.</summary>
    public const string ImplicitToolDescription = "Respond to the user using the output schema provided.";

    /// <summary>What TensorZero puts before the system prompt in <c>json_mode = "on"</c> when nothing mentions JSON
    /// (OpenAI rejects JSON mode unless the word appears in the messages).</summary>
    public const string JsonInstruction = "Respond using JSON.";

    /// <summary>The provider types this format is written for.</summary>
    public static IEnumerable<string> ProviderTypes => Dialects.Keys;

    /// <summary>Whether <paramref name="providerType"/> speaks this format.</summary>
    public static bool Speaks(string providerType) => Dialects.ContainsKey(providerType);

    /// <summary>
    /// Writes the request body for one attempt. Throws <see cref="ArgumentException"/> where
    /// <see cref="TryWriteRequest"/> would return false (the message says why).
    /// </summary>
    public static byte[] WriteRequest(
        ModelRequest request, string providerModelName, string providerType, bool stream,
        string? targetModelName = null, string? targetProviderName = null) =>
        TryWriteRequest(request, providerModelName, providerType, stream, out var body, out var error, targetModelName, targetProviderName)
            ? body
            : throw new ArgumentException(error, nameof(request));

    /// <summary>
    /// Writes the request body for one attempt: compact JSON, fields in TensorZero's order.
    /// </summary>
    /// <param name="request">What the variant asks.</param>
    /// <param name="providerModelName">The provider's <c>model_name</c> (ignored by <c>azure</c>, whose deployment is
    /// in the URL, and by <c>tgi</c>, which is sent the model <c>tgi</c>).</param>
    /// <param name="providerType">The provider type (<c>openai</c>, <c>vllm</c>, ...).</param>
    /// <param name="stream">Whether to ask for a stream (<c>stream_options.include_usage</c> where the type takes it).</param>
    /// <param name="body">The body; empty when false is returned.</param>
    /// <param name="error">Why the request cannot be written for this provider (a client error: bad input).</param>
    /// <param name="targetModelName">The model being attempted: an unknown block naming another model is left out.</param>
    /// <param name="targetProviderName">The provider being attempted: an unknown block naming another provider is left out.</param>
    public static bool TryWriteRequest(
        ModelRequest request, string providerModelName, string providerType, bool stream,
        out byte[] body, out string? error, string? targetModelName = null, string? targetProviderName = null)
    {
        ArgumentNullException.ThrowIfNull(request);
        body = [];
        if (!Dialects.TryGetValue(providerType, out var dialect))
        {
            error = $"provider type '{providerType}' does not speak the OpenAI chat completions format";
            return false;
        }
        var target = new Target(dialect, providerModelName, targetModelName, targetProviderName);
        if (!TryBuildMessages(request, target, out var messages, out error)
            || !TryPlanTools(request, dialect, providerModelName, out var tools, out error)
            || !TryPlanResponseFormat(request, dialect, providerModelName, out var format, out error))
        {
            return false;
        }

        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var writer = new Utf8JsonWriter(buffer, JsonOptions.Writer))
        {
            writer.WriteStartObject();
            writer.WriteStartArray("messages");
            foreach (var message in messages)
            {
                WriteMessage(writer, message, dialect);
            }
            writer.WriteEndArray();
            if (dialect.FixedModel is not null)
            {
                writer.WriteString("model", dialect.FixedModel);
            }
            else if (dialect.SendModel)
            {
                writer.WriteString("model", providerModelName);
            }
            WriteSampling(writer, request.Params, dialect);
            writer.WriteBoolean("stream", stream);
            if (stream && dialect.StreamOptions)
            {
                writer.WriteStartObject("stream_options");
                writer.WriteBoolean("include_usage", true);
                writer.WriteEndObject();
            }
            format.Write(writer);
            tools.Write(writer);
            if (request.Params.StopSequences is { } stop)
            {
                writer.WriteStartArray("stop");
                foreach (var sequence in stop)
                {
                    writer.WriteStringValue(sequence);
                }
                writer.WriteEndArray();
            }
            WriteReasoningParameters(writer, request.Params, dialect);
            writer.WriteEndObject();
        }
        body = buffer.WrittenSpan.ToArray();
        return true;
    }

    // -----------------------------------------------------------------------------------------------------------------
    // Provider types. Each one records where TensorZero's provider differs from OpenAI's own request
    // (crates/tensorzero-core/src/providers/<type>.rs).
    // -----------------------------------------------------------------------------------------------------------------

    private enum JsonInstructionStyle
    {
        /// <summary>The system prompt is sent as it is.</summary>
        None,

        /// <summary><c>json_mode = on</c>: "Respond using JSON." before a system prompt that, like every message,
        /// does not mention JSON; alone when there is no system prompt.</summary>
        OpenAI,

        /// <summary>As <see cref="OpenAI"/>, but without a system prompt the instruction is added only when no
        /// message text mentions JSON (xAI).</summary>
        XAI,
    }

    private enum ResponseFormatStyle
    {
        /// <summary>on: <c>json_object</c>; strict: <c>json_schema</c> (or <c>json_object</c> without a schema).</summary>
        OpenAI,

        /// <summary>As <see cref="OpenAI"/>, and a strict request to a model named "3.5" gets <c>json_object</c>.</summary>
        OpenAIWith35Fallback,

        /// <summary>As <see cref="OpenAI"/>, and off is sent explicitly as <c>{"type": "text"}</c> (Groq).</summary>
        OpenAIWithExplicitText,

        /// <summary>on and strict: <c>{"type": "json_object", "schema": ...}</c> (Together, Fireworks).</summary>
        JsonObjectWithSchema,

        /// <summary>on and strict: <c>json_object</c> (Mistral; DeepSeek has no strict mode).</summary>
        JsonObjectOnly,

        /// <summary>on and strict: <c>json_schema</c>; a schema is required (SGLang).</summary>
        JsonSchemaRequired,

        /// <summary>on and strict with a schema: vLLM's <c>guided_json</c>.</summary>
        GuidedJson,

        /// <summary>No JSON mode at all (TGI: only through <c>json_mode = "tool"</c>; Hyperbolic).</summary>
        None,
    }

    private enum ReasoningStyle
    {
        /// <summary>Assistant thoughts are sent back as <c>reasoning_content</c>.</summary>
        ReasoningContent,

        /// <summary>As <c>reasoning</c> (vLLM 0.8 renamed the field).</summary>
        Reasoning,

        /// <summary>As <c>reasoning</c>, or as <c>&lt;think&gt;</c> tags before the content when the thought came
        /// from tags (Together).</summary>
        ReasoningOrThinkTags,

        /// <summary>As <c>reasoning_content</c>, or as <c>&lt;think&gt;</c> tags (Fireworks).</summary>
        ReasoningContentOrThinkTags,

        /// <summary>Not sent (Groq without <c>reasoning_format</c>; OpenRouter, whose <c>reasoning_details</c> are
        /// not reproduced).</summary>
        Drop,
    }

    private sealed record Dialect(string Type)
    {
        public bool SendModel { get; init; } = true;

        public string? FixedModel { get; init; }

        public string MaxTokensField { get; init; } = "max_tokens";

        public string? SeedField { get; init; } = "seed";

        public bool StreamOptions { get; init; } = true;

        public JsonInstructionStyle JsonInstruction { get; init; } = JsonInstructionStyle.OpenAI;

        public ResponseFormatStyle ResponseFormat { get; init; } = ResponseFormatStyle.OpenAI;

        public bool Tools { get; init; } = true;

        public bool ToolStrict { get; init; } = true;

        public bool ParallelToolCalls { get; init; } = true;

        /// <summary>Mistral says <c>any</c> for <c>required</c>.</summary>
        public bool RequiredIsAny { get; init; }

        /// <summary>Together takes neither <c>none</c> (the tools are left out) nor <c>required</c> (sent as <c>auto</c>).</summary>
        public bool TogetherToolChoice { get; init; }

        public ReasoningStyle Reasoning { get; init; } = ReasoningStyle.ReasoningContent;

        public bool ReasoningEffort { get; init; }

        /// <summary>The <c>service_tier</c> values sent; null: the parameter is not sent.</summary>
        public FrozenSet<string>? ServiceTiers { get; init; }

        public bool Verbosity { get; init; }

        /// <summary>OpenRouter's <c>reasoning: {effort, max_tokens}</c>.</summary>
        public bool OpenRouterReasoning { get; init; }

        /// <summary>Whether an image's <c>detail</c> is passed on.</summary>
        public bool ImageDetail { get; init; }

        /// <summary>Groq takes every file as an <c>image_url</c> (no <c>file</c> or <c>input_audio</c> parts, no detail).</summary>
        public bool FilesAsImageUrl { get; init; }

        /// <summary>o1 models: no <c>parallel_tool_calls: false</c>; o1-mini: the system prompt as the first user message.</summary>
        public bool O1Quirks { get; init; }

        /// <summary>DeepSeek: a "reasoner" model gets the system prompt as the first user message, and consecutive
        /// messages of one role are merged.</summary>
        public bool DeepSeekQuirks { get; init; }
    }

    private static readonly FrozenSet<string> AllServiceTiers = FrozenSet.Create(StringComparer.Ordinal, "auto", "default", "flex", "priority");

    private static readonly FrozenDictionary<string, Dialect> Dialects = new Dialect[]
    {
        new("openai")
        {
            MaxTokensField = "max_completion_tokens", ResponseFormat = ResponseFormatStyle.OpenAIWith35Fallback,
            ReasoningEffort = true, ServiceTiers = AllServiceTiers, Verbosity = true, ImageDetail = true, O1Quirks = true,
        },
        new("azure")
        {
            SendModel = false, MaxTokensField = "max_completion_tokens", ParallelToolCalls = false, ReasoningEffort = true,
            ServiceTiers = FrozenSet.Create(StringComparer.Ordinal, "auto", "default"), Verbosity = true, ImageDetail = true,
        },
        new("vllm")
        {
            JsonInstruction = JsonInstructionStyle.None, ResponseFormat = ResponseFormatStyle.GuidedJson, Reasoning = ReasoningStyle.Reasoning,
        },
        new("together")
        {
            StreamOptions = false, JsonInstruction = JsonInstructionStyle.None, ResponseFormat = ResponseFormatStyle.JsonObjectWithSchema,
            TogetherToolChoice = true, Reasoning = ReasoningStyle.ReasoningOrThinkTags, ReasoningEffort = true,
        },
        new("groq")
        {
            MaxTokensField = "max_completion_tokens", ResponseFormat = ResponseFormatStyle.OpenAIWithExplicitText, Reasoning = ReasoningStyle.Drop,
            ReasoningEffort = true, ServiceTiers = FrozenSet.Create(StringComparer.Ordinal, "auto", "flex"), FilesAsImageUrl = true, O1Quirks = true,
        },
        new("mistral")
        {
            SeedField = "random_seed", StreamOptions = false, JsonInstruction = JsonInstructionStyle.None,
            ResponseFormat = ResponseFormatStyle.JsonObjectOnly, ToolStrict = false, ParallelToolCalls = false, RequiredIsAny = true,
        },
        new("deepseek")
        {
            ResponseFormat = ResponseFormatStyle.JsonObjectOnly, ParallelToolCalls = false, DeepSeekQuirks = true,
        },
        new("fireworks")
        {
            SeedField = null, StreamOptions = false, JsonInstruction = JsonInstructionStyle.None, ResponseFormat = ResponseFormatStyle.JsonObjectWithSchema,
            ToolStrict = false, ParallelToolCalls = false, Reasoning = ReasoningStyle.ReasoningContentOrThinkTags, ReasoningEffort = true,
        },
        new("openrouter")
        {
            MaxTokensField = "max_completion_tokens", ResponseFormat = ResponseFormatStyle.OpenAIWith35Fallback, Reasoning = ReasoningStyle.Drop,
            OpenRouterReasoning = true, Verbosity = true, O1Quirks = true,
        },
        new("xai")
        {
            JsonInstruction = JsonInstructionStyle.XAI, ReasoningEffort = true, ImageDetail = true,
        },
        new("hyperbolic")
        {
            StreamOptions = false, ResponseFormat = ResponseFormatStyle.None, Tools = false, ReasoningEffort = true,
        },
        new("sglang")
        {
            ResponseFormat = ResponseFormatStyle.JsonSchemaRequired, ReasoningEffort = true,
        },
        new("tgi")
        {
            // TGI ignores the model field; TensorZero sends its type name.
            FixedModel = "tgi", ResponseFormat = ResponseFormatStyle.None,
        },
    }.ToFrozenDictionary(d => d.Type, StringComparer.Ordinal);

    private readonly record struct Target(Dialect Dialect, string ProviderModelName, string? ModelName, string? ProviderName);
}
