using System.Collections.Immutable;
using System.Text.Json;

namespace TensorZero.Proxy.Functions;

// The typed model of TensorZero's inference semantics (functions, templates, schemas, tools, JSON output).
// The passthrough path (a plain model or chat function, OpenAI-compatible provider) never builds these: it splices
// bytes. The typed path builds them when a request needs TensorZero's semantics (DESIGN-NOTES "Two paths").
// Every JsonElement held here must come from JsonElement.Clone() or a document that lives as long as the record.

/// <summary>The role of a message after the system prompt.</summary>
internal enum Role
{
    User,
    Assistant,
}

/// <summary>A function's output kind: content blocks (<c>chat</c>) or one JSON document (<c>json</c>).</summary>
internal enum FunctionKind
{
    Chat,
    Json,
}

// ---------------------------------------------------------------------------------------------------------------------
// Input: what the client sent, before templates. TensorZero's `Input` (system + messages of content blocks).
// ---------------------------------------------------------------------------------------------------------------------

/// <summary>A request's input: an optional system part and the messages, in TensorZero's shape.</summary>
internal sealed record InferenceInput(InputSystem? System, ImmutableArray<InputMessage> Messages)
{
    public static InferenceInput Empty { get; } = new(null, []);
}

/// <summary>The system part of an input: plain text, or arguments for the variant's system template.</summary>
internal abstract record InputSystem;

/// <summary><c>"system": "text"</c>.</summary>
internal sealed record SystemText(string Text) : InputSystem;

/// <summary><c>"system": {...}</c>: arguments for the system template (validated against <c>system_schema</c>).</summary>
internal sealed record SystemArguments(JsonElement Arguments) : InputSystem;

/// <summary>One message of the input.</summary>
internal sealed record InputMessage(Role Role, ImmutableArray<InputContent> Content);

/// <summary>
/// One content block of an input message. <see cref="ContentBlock"/>s pass to the model as they are; the other kinds
/// (<see cref="ArgumentsInput"/>, <see cref="TemplateInput"/>, <see cref="RawTextInput"/>) become text blocks when
/// the variant's templates are applied.
/// </summary>
internal abstract record InputContent;

/// <summary>
/// Arguments for the role's template (<c>user_template</c> / <c>assistant_template</c>), validated against the role's
/// schema: TensorZero's <c>{"type": "text", "arguments": {...}}</c> and the OpenAI-compatible
/// <c>{"type": "text", "tensorzero::arguments": {...}}</c>.
/// </summary>
internal sealed record ArgumentsInput(JsonElement Arguments) : InputContent;

/// <summary>A named template of the variant with its arguments: <c>{"type": "template", "name", "arguments"}</c>.</summary>
internal sealed record TemplateInput(string Name, JsonElement Arguments) : InputContent;

/// <summary>Text that skips templates and schemas: <c>{"type": "raw_text", "value"}</c>.</summary>
internal sealed record RawTextInput(string Value) : InputContent;

// ---------------------------------------------------------------------------------------------------------------------
// Content blocks: what a model sees (after templates) and what it answers. Shared by input, request and output.
// ---------------------------------------------------------------------------------------------------------------------

/// <summary>A block of content as a model sees or produces it.</summary>
internal abstract record ContentBlock : InputContent;

/// <summary>Text.</summary>
internal sealed record TextBlock(string Text) : ContentBlock;

/// <summary>
/// A tool call. In output, <see cref="Name"/> and <see cref="ParsedArguments"/> are set only when the call names a
/// tool of the inference and its arguments parse as JSON and validate against that tool's parameters (TensorZero's
/// <c>raw_name</c>/<c>raw_arguments</c> versus <c>name</c>/<c>arguments</c>).
/// </summary>
/// <param name="Id">The call's id (the provider's, or one the gateway assigned).</param>
/// <param name="RawName">The tool name as the model produced it.</param>
/// <param name="RawArguments">The arguments as the model produced them (text, meant to be JSON).</param>
internal sealed record ToolCallBlock(string Id, string RawName, string RawArguments) : ContentBlock
{
    /// <summary>The validated tool name; null when the model named no known tool (output only).</summary>
    public string? Name { get; init; }

    /// <summary>The arguments, parsed and valid against the tool's parameters; null otherwise (output only).</summary>
    public JsonElement? ParsedArguments { get; init; }
}

/// <summary>A tool's result, sent back to the model: <c>{"type": "tool_result", "id", "name", "result"}</c>.</summary>
internal sealed record ToolResultBlock(string Id, string Name, string Result) : ContentBlock;

/// <summary>A file (image, PDF, ...): by URL or inline base64 data.</summary>
internal sealed record FileBlock(FileData File) : ContentBlock;

/// <summary>Model reasoning. <see cref="ProviderType"/> restricts the block to providers of that type.</summary>
internal sealed record ThoughtBlock(string? Text) : ContentBlock
{
    public string? Signature { get; init; }

    /// <summary>Summary blocks as JSON (<c>[{"type":"summary_text","text":...}]</c>), when the provider gave any.</summary>
    public JsonElement? Summary { get; init; }

    public string? ProviderType { get; init; }

    /// <summary>Provider-specific opaque data kept for multi-turn reasoning.</summary>
    public JsonElement? ExtraData { get; init; }
}

/// <summary>A provider-specific block passed along as it is, optionally only to one model/provider.</summary>
internal sealed record UnknownBlock(JsonElement Data) : ContentBlock
{
    public string? ModelName { get; init; }

    public string? ProviderName { get; init; }
}

/// <summary>
/// A file of an input. Exactly one of <see cref="Url"/> and <see cref="Base64Data"/> is set by clients; the gateway
/// never fetches a URL itself (it passes the URL to providers that accept one).
/// </summary>
internal sealed record FileData
{
    /// <summary>An http(s) URL of the file.</summary>
    public string? Url { get; init; }

    /// <summary>The file's bytes, base64-encoded (no <c>data:</c> prefix).</summary>
    public string? Base64Data { get; init; }

    /// <summary>The MIME type (<c>image/png</c>, <c>application/pdf</c>, ...); required with data, optional with a URL.</summary>
    public string? MimeType { get; init; }

    public string? Filename { get; init; }

    /// <summary>OpenAI's image <c>detail</c> (<c>low</c>, <c>high</c>, <c>auto</c>), passed on where providers take it.</summary>
    public string? Detail { get; init; }
}

// ---------------------------------------------------------------------------------------------------------------------
// The provider-neutral request a variant builds, and what a provider answers.
// ---------------------------------------------------------------------------------------------------------------------

/// <summary>A message of a model request (after templates): only <see cref="ContentBlock"/>s.</summary>
internal sealed record ModelMessage(Role Role, ImmutableArray<ContentBlock> Content);

/// <summary>How a model is asked for JSON (<c>json_mode</c>).</summary>
internal enum JsonMode
{
    /// <summary>No special request: the prompt alone asks for JSON.</summary>
    Off,

    /// <summary>The provider's JSON mode (<c>response_format: json_object</c>).</summary>
    On,

    /// <summary>The provider's structured output with the schema (<c>response_format: json_schema</c>, strict).</summary>
    Strict,

    /// <summary>An implicit tool whose parameters are the schema; its call's arguments are the output.</summary>
    Tool,
}

/// <summary>Sampling and generation parameters. Null means "not set" (the provider's default).</summary>
internal sealed record SamplingParams
{
    public static SamplingParams None { get; } = new();

    public double? Temperature { get; init; }

    public double? TopP { get; init; }

    public long? MaxTokens { get; init; }

    public double? PresencePenalty { get; init; }

    public double? FrequencyPenalty { get; init; }

    public long? Seed { get; init; }

    public ImmutableArray<string>? StopSequences { get; init; }

    public string? ReasoningEffort { get; init; }

    public string? ServiceTier { get; init; }

    public long? ThinkingBudgetTokens { get; init; }

    public string? Verbosity { get; init; }

    /// <summary>Each parameter of <paramref name="preferred"/> that is set wins over this one's.</summary>
    public SamplingParams OverriddenBy(SamplingParams preferred) => new()
    {
        Temperature = preferred.Temperature ?? Temperature,
        TopP = preferred.TopP ?? TopP,
        MaxTokens = preferred.MaxTokens ?? MaxTokens,
        PresencePenalty = preferred.PresencePenalty ?? PresencePenalty,
        FrequencyPenalty = preferred.FrequencyPenalty ?? FrequencyPenalty,
        Seed = preferred.Seed ?? Seed,
        StopSequences = preferred.StopSequences ?? StopSequences,
        ReasoningEffort = preferred.ReasoningEffort ?? ReasoningEffort,
        ServiceTier = preferred.ServiceTier ?? ServiceTier,
        ThinkingBudgetTokens = preferred.ThinkingBudgetTokens ?? ThinkingBudgetTokens,
        Verbosity = preferred.Verbosity ?? Verbosity,
    };
}

/// <summary>A tool the model may call (a function tool, with JSON Schema parameters).</summary>
/// <param name="Name">The name the model sees and calls.</param>
/// <param name="Description">What the tool does.</param>
/// <param name="Parameters">The JSON Schema of the arguments.</param>
/// <param name="Strict">Ask the provider for strict (schema-constrained) arguments where it supports it.</param>
internal sealed record ToolDefinition(string Name, string Description, JsonElement Parameters, bool Strict);

/// <summary><c>tool_choice</c>.</summary>
internal abstract record ToolChoice
{
    public static ToolChoice None { get; } = new ToolChoiceKind("none");

    public static ToolChoice Auto { get; } = new ToolChoiceKind("auto");

    public static ToolChoice Required { get; } = new ToolChoiceKind("required");
}

/// <summary><c>none</c>, <c>auto</c> or <c>required</c>.</summary>
internal sealed record ToolChoiceKind(string Kind) : ToolChoice;

/// <summary>The model must call this tool.</summary>
internal sealed record ToolChoiceSpecific(string Name) : ToolChoice;

/// <summary>The tools of one inference: the function's (filtered by <c>allowed_tools</c>) plus dynamic ones.</summary>
internal sealed record ToolConfig(ImmutableArray<ToolDefinition> Tools, ToolChoice Choice, bool? ParallelToolCalls);

/// <summary>
/// What a variant asks a model: the rendered system prompt and messages, parameters, tools and the JSON output wanted.
/// Providers translate it to their wire format; the dummy answers it in-process.
/// </summary>
internal sealed record ModelRequest
{
    public string? System { get; init; }

    public ImmutableArray<ModelMessage> Messages { get; init; } = [];

    public SamplingParams Params { get; init; } = SamplingParams.None;

    /// <summary>Tools offered to the model; null when none (then <c>tools</c> is not sent at all).</summary>
    public ToolConfig? Tools { get; init; }

    public FunctionKind Kind { get; init; } = FunctionKind.Chat;

    public JsonMode JsonMode { get; init; } = JsonMode.Off;

    /// <summary>The output schema of a JSON inference (function's or dynamic), when there is one.</summary>
    public JsonElement? OutputSchema { get; init; }

    public bool Stream { get; init; }
}

/// <summary>Token counts as the provider reported them (null when it did not).</summary>
internal sealed record Usage(long? InputTokens, long? OutputTokens)
{
    public static Usage Zero { get; } = new(0, 0);

    public static Usage Unknown { get; } = new(null, null);
}

/// <summary>Why the model stopped (TensorZero's set).</summary>
internal enum FinishReason
{
    Stop,
    StopSequence,
    Length,
    ToolCall,
    ContentFilter,
    Unknown,
}

/// <summary>A provider's complete (non-streaming) answer, parsed.</summary>
/// <param name="Output">The content blocks, in order.</param>
/// <param name="Usage">Token counts.</param>
/// <param name="FinishReason">Why it stopped, when the provider said.</param>
/// <param name="RawResponse">The provider's response body as text, for the record and <c>include_raw_response</c>.</param>
internal sealed record ProviderResponse(ImmutableArray<ContentBlock> Output, Usage Usage, FinishReason? FinishReason, string RawResponse)
{
    /// <summary>The provider's own usage object (Anthropic's <c>usage</c>, Gemini's <c>usageMetadata</c>), for <c>include_raw_usage</c>; null when not read.</summary>
    public JsonElement? RawUsage { get; init; }
}

/// <summary>One streamed piece of a provider's answer, parsed.</summary>
/// <param name="Content">The content pieces (blocks are joined across chunks by <see cref="ChunkBlock.Id"/>).</param>
/// <param name="Usage">Token counts, usually only on the last chunk.</param>
/// <param name="FinishReason">Why it stopped, usually only on the last chunk.</param>
/// <param name="RawChunk">The provider's chunk as text (the SSE <c>data:</c> payload).</param>
internal sealed record ProviderChunk(ImmutableArray<ChunkBlock> Content, Usage? Usage, FinishReason? FinishReason, string RawChunk)
{
    /// <summary>The provider's own usage object in this chunk (OpenAI's <c>usage</c>), for <c>include_raw_usage</c>.</summary>
    public JsonElement? RawUsage { get; init; }
}

/// <summary>A piece of a streamed content block; pieces with the same <see cref="Id"/> form one block.</summary>
internal abstract record ChunkBlock(string Id);

internal sealed record TextChunk(string Id, string Text) : ChunkBlock(Id);

/// <summary>A piece of a tool call: the name usually comes once, the arguments in pieces.</summary>
internal sealed record ToolCallChunk(string Id, string? RawName, string RawArguments) : ChunkBlock(Id);

internal sealed record ThoughtChunk(string Id, string? Text) : ChunkBlock(Id)
{
    public string? Signature { get; init; }

    public string? ProviderType { get; init; }
}

internal sealed record UnknownChunk(string Id, JsonElement Data) : ChunkBlock(Id);

// ---------------------------------------------------------------------------------------------------------------------
// What an inference returns to the client (after the function's output processing).
// ---------------------------------------------------------------------------------------------------------------------

/// <summary>The output of a JSON function: the model's text and, when it parsed and validated, the JSON.</summary>
internal sealed record JsonOutput(string? Raw, JsonElement? Parsed);

/// <summary>
/// The result of a completed (non-streaming) typed inference: chat content or JSON output, with what the
/// serializers of both endpoints (OpenAI-compatible and native) need.
/// </summary>
internal sealed record TypedInferenceResult
{
    public required Guid InferenceId { get; init; }

    public required Guid EpisodeId { get; init; }

    /// <summary>The function name; <c>tensorzero::default</c> for a model target.</summary>
    public required string FunctionName { get; init; }

    /// <summary>The variant name; the model name for a model target.</summary>
    public required string VariantName { get; init; }

    public required FunctionKind Kind { get; init; }

    /// <summary>Chat output blocks (chat functions and model targets).</summary>
    public ImmutableArray<ContentBlock> Content { get; init; } = [];

    /// <summary>JSON output (JSON functions).</summary>
    public JsonOutput? Json { get; init; }

    public Usage Usage { get; init; } = Usage.Unknown;

    public FinishReason? FinishReason { get; init; }

    /// <summary>The provider's raw response (for <c>include_raw_response</c> / <c>include_original_response</c>).</summary>
    public string? RawResponse { get; init; }

    /// <summary>The model and provider that answered.</summary>
    public string? ModelName { get; init; }

    public string? ProviderName { get; init; }

    /// <summary>The provider type that answered (<c>openai</c>, <c>dummy</c>, ...), for raw usage/response entries.</summary>
    public string? ProviderType { get; init; }

    /// <summary>The id of the model inference that answered, for raw usage/response entries.</summary>
    public Guid? ModelInferenceId { get; init; }

    /// <summary>The provider's own usage object (OpenAI's <c>usage</c>), for <c>include_raw_usage</c>; null when cached or absent.</summary>
    public JsonElement? RawUsage { get; init; }

    /// <summary>The provider API that answered, as TensorZero names it in raw entries: <c>chat_completions</c>, <c>responses</c>, ...</summary>
    public string ApiType { get; init; } = "chat_completions";
}
