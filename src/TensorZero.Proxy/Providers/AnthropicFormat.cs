using System.Buffers;
using System.Collections.Immutable;
using System.Text;
using System.Text.Json;
using TensorZero.Proxy.Functions;

namespace TensorZero.Proxy.Providers;

/// <summary>
/// Anthropic's Messages API (<c>POST {api_base}messages</c>), as TensorZero's <c>anthropic</c> provider speaks it
/// (crates/tensorzero-core/src/providers/anthropic.rs): the system prompt as a top-level text block list, content blocks
/// for text, images and documents (base64 or URL), tool use and tool results, thinking; <c>max_tokens</c> from the
/// request or TensorZero's per-model default; JSON mode <c>on</c> by an assistant prefill, <c>strict</c> by
/// <c>output_config.format</c>. No seed, no penalties (Anthropic has none).
/// </summary>
internal sealed class AnthropicFormat : IProviderFormat
{
    /// <summary>The <c>anthropic-version</c> header TensorZero sends.</summary>
    public const string ApiVersion = "2023-06-01";

    /// <summary>The assistant message TensorZero appends in JSON mode <c>on</c>; the answer then continues after its "{".</summary>
    public const string JsonPrefill = "Here is the JSON requested:\n{";

    private const string TypeName = "anthropic";
    private const string NotAMessage = "the provider's 200 response is not an Anthropic message: ";

    private readonly JsonElement? _providerTools;

    /// <summary>The format of a provider without <c>provider_tools</c>.</summary>
    public static AnthropicFormat Instance { get; } = new(null);

    /// <summary>The format of a provider with <c>provider_tools</c> (a JSON array of Anthropic tool objects, sent as they are).</summary>
    public AnthropicFormat(JsonElement? providerTools)
    {
        _providerTools = providerTools is { ValueKind: JsonValueKind.Array } tools && tools.GetArrayLength() > 0 ? tools : null;
    }

    /// <summary>JSON mode <c>on</c> of a JSON function: TensorZero prefills the answer with "{" (and restores it when reading).</summary>
    internal static bool NeedsJsonPrefill(ModelRequest request) => request.JsonMode == JsonMode.On && request.Kind == FunctionKind.Json;

    /// <summary>
    /// TensorZero's default <c>max_tokens</c> (Anthropic requires one): the model's output limit, by model name prefix;
    /// null for a model it does not know (then the request must set <c>max_tokens</c>).
    /// </summary>
    internal static long? DefaultMaxTokens(string model)
    {
        if (model.StartsWith("claude-3-haiku", StringComparison.Ordinal) || model.StartsWith("claude-3-opus", StringComparison.Ordinal))
        {
            return 4_096;
        }
        if (model.StartsWith("claude-3-5-haiku", StringComparison.Ordinal) || model.StartsWith("claude-3-5-sonnet", StringComparison.Ordinal))
        {
            return 8_192;
        }
        if (model.StartsWith("claude-3-7-sonnet", StringComparison.Ordinal) || model.StartsWith("claude-sonnet-4-202", StringComparison.Ordinal)
            || model == "claude-sonnet-4-0" || model.StartsWith("claude-haiku-4-5", StringComparison.Ordinal)
            || model.StartsWith("claude-sonnet-4-5", StringComparison.Ordinal) || model.StartsWith("claude-sonnet-4-6", StringComparison.Ordinal)
            || model.StartsWith("claude-opus-4-5", StringComparison.Ordinal))
        {
            return 64_000;
        }
        if (model.StartsWith("claude-opus-4-202", StringComparison.Ordinal) || model == "claude-opus-4-0"
            || model.StartsWith("claude-opus-4-1-202", StringComparison.Ordinal) || model == "claude-opus-4-1")
        {
            return 32_000;
        }
        return model.StartsWith("claude-opus-4-6", StringComparison.Ordinal) ? 128_000 : null;
    }

    /// <inheritdoc />
    public bool TryWriteRequest(
        ModelRequest request, string providerModelName, string providerType, bool stream,
        out byte[] body, out string? error, string? targetModelName, string? targetProviderName)
    {
        body = [];
        error = null;
        if (request.Messages.IsEmpty)
        {
            error = "Anthropic requires at least one message";
            return false;
        }
        var p = request.Params;
        if (p.ReasoningEffort is not null && p.ThinkingBudgetTokens is not null)
        {
            error = "Cannot specify both `reasoning_effort` and `thinking_budget_tokens` for Anthropic. Use `reasoning_effort` for adaptive thinking or `thinking_budget_tokens` for manual thinking.";
            return false;
        }
        if ((p.MaxTokens ?? DefaultMaxTokens(providerModelName)) is not { } maxTokens)
        {
            error = $"The TensorZero Gateway doesn't know the output token limit for `{providerModelName}` and Anthropic requires you to provide a `max_tokens` value. Please set `max_tokens` in your configuration or inference request.";
            return false;
        }

        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var writer = new Utf8JsonWriter(buffer, JsonOptions.Writer))
        {
            writer.WriteStartObject();
            writer.WriteString("model", providerModelName);
            writer.WriteStartArray("messages");
            foreach (var message in request.Messages)
            {
                writer.WriteStartObject();
                writer.WriteString("role", message.Role == Role.User ? "user" : "assistant");
                writer.WriteStartArray("content");
                foreach (var block in message.Content)
                {
                    if (!TryWriteBlock(writer, block, targetModelName, targetProviderName, out error))
                    {
                        return false;
                    }
                }
                writer.WriteEndArray();
                writer.WriteEndObject();
            }
            if (NeedsJsonPrefill(request))
            {
                writer.WriteStartObject();
                writer.WriteString("role", "assistant");
                writer.WriteStartArray("content");
                WriteText(writer, JsonPrefill);
                writer.WriteEndArray();
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
            writer.WriteNumber("max_tokens", maxTokens);
            writer.WriteBoolean("stream", stream);

            var schema = request.JsonMode == JsonMode.Strict ? request.OutputSchema : null;
            if (schema is not null || p.ReasoningEffort is not null)
            {
                writer.WriteStartObject("output_config");
                if (schema is { } s)
                {
                    writer.WriteStartObject("format");
                    writer.WriteString("type", "json_schema");
                    writer.WritePropertyName("schema");
                    s.WriteTo(writer);
                    writer.WriteEndObject();
                }
                if (p.ReasoningEffort is { } effort)
                {
                    writer.WriteString("effort", effort);
                }
                writer.WriteEndObject();
            }
            if (request.System is { } system)
            {
                // The block form (not a plain string), so extra_body can add cache control, as TensorZero sends it.
                writer.WriteStartArray("system");
                WriteText(writer, system);
                writer.WriteEndArray();
            }
            if (p.Temperature is { } temperature)
            {
                writer.WriteNumber("temperature", temperature);
            }
            if (p.ReasoningEffort is not null)
            {
                writer.WriteStartObject("thinking");
                writer.WriteString("type", "adaptive");
                writer.WriteEndObject();
            }
            else if (p.ThinkingBudgetTokens is { } budget)
            {
                writer.WriteStartObject("thinking");
                writer.WriteString("type", "enabled");
                writer.WriteNumber("budget_tokens", budget);
                writer.WriteEndObject();
            }
            if (p.TopP is { } topP)
            {
                writer.WriteNumber("top_p", topP);
            }
            // TensorZero's mapping; "flex" has no Anthropic equivalent and is not sent.
            if (p.ServiceTier switch { "auto" or "priority" => "auto", "default" => "standard_only", _ => null } is { } tier)
            {
                writer.WriteString("service_tier", tier);
            }
            if (p.StopSequences is { } stop)
            {
                writer.WriteStartArray("stop_sequences");
                foreach (var sequence in stop)
                {
                    writer.WriteStringValue(sequence);
                }
                writer.WriteEndArray();
            }
            // Anthropic cannot be told "none": the tools are left out instead, the provider's own tools too (TensorZero's
            // workaround). Without a tool config only the provider tools are sent, and no tool_choice.
            if (request.Tools is null && _providerTools is { } onlyProviderTools)
            {
                writer.WritePropertyName("tools");
                onlyProviderTools.WriteTo(writer);
            }
            else if (request.Tools is { } tools && tools.Choice is not ToolChoiceKind { Kind: "none" } && (tools.Tools.Length > 0 || _providerTools is not null))
            {
                writer.WriteStartObject("tool_choice");
                switch (tools.Choice)
                {
                    case ToolChoiceSpecific specific:
                        writer.WriteString("type", "tool");
                        writer.WriteString("name", specific.Name);
                        break;
                    case ToolChoiceKind { Kind: "required" }:
                        writer.WriteString("type", "any");
                        break;
                    default:
                        writer.WriteString("type", "auto");
                        break;
                }
                writer.WriteBoolean("disable_parallel_tool_use", tools.ParallelToolCalls == false);
                writer.WriteEndObject();
                writer.WriteStartArray("tools");
                foreach (var tool in tools.Tools)
                {
                    writer.WriteStartObject();
                    writer.WriteString("name", tool.Name);
                    writer.WriteString("description", tool.Description);
                    writer.WritePropertyName("input_schema");
                    tool.Parameters.WriteTo(writer);
                    writer.WriteBoolean("strict", tool.Strict);
                    writer.WriteEndObject();
                }
                if (_providerTools is { } providerTools)
                {
                    foreach (var providerTool in providerTools.EnumerateArray())
                    {
                        providerTool.WriteTo(writer);
                    }
                }
                writer.WriteEndArray();
            }
            writer.WriteEndObject();
        }
        body = buffer.WrittenSpan.ToArray();
        return true;
    }

    private static void WriteText(Utf8JsonWriter writer, string text)
    {
        writer.WriteStartObject();
        writer.WriteString("type", "text");
        writer.WriteString("text", text);
        writer.WriteEndObject();
    }

    private static bool TryWriteBlock(Utf8JsonWriter writer, ContentBlock block, string? modelName, string? providerName, out string? error)
    {
        error = null;
        switch (block)
        {
            case TextBlock text:
                WriteText(writer, text.Text);
                break;
            case ToolCallBlock call:
                if (!ProviderJson.TryParseArguments(call.RawArguments, out var input, out error))
                {
                    return false;
                }
                writer.WriteStartObject();
                writer.WriteString("type", "tool_use");
                writer.WriteString("id", call.Id);
                writer.WriteString("name", call.Name ?? call.RawName);
                writer.WritePropertyName("input");
                input.WriteTo(writer);
                writer.WriteEndObject();
                break;
            case ToolResultBlock result:
                writer.WriteStartObject();
                writer.WriteString("type", "tool_result");
                writer.WriteString("tool_use_id", result.Id);
                writer.WriteStartArray("content");
                WriteText(writer, result.Result);
                writer.WriteEndArray();
                writer.WriteEndObject();
                break;
            case FileBlock { File: var file }:
                // The gateway never fetches a URL: Anthropic is given it (TensorZero does so when the type is known).
                var isImage = file.MimeType is null || file.MimeType.StartsWith("image/", StringComparison.OrdinalIgnoreCase);
                writer.WriteStartObject();
                writer.WriteString("type", isImage ? "image" : "document");
                writer.WriteStartObject("source");
                if (file.Base64Data is { } data)
                {
                    if (file.MimeType is not { } mime)
                    {
                        error = "a file sent to Anthropic as data needs a MIME type";
                        return false;
                    }
                    writer.WriteString("type", "base64");
                    writer.WriteString("media_type", mime);
                    writer.WriteString("data", data);
                }
                else
                {
                    writer.WriteString("type", "url");
                    writer.WriteString("url", file.Url);
                }
                writer.WriteEndObject();
                writer.WriteEndObject();
                break;
            case ThoughtBlock thought when thought.ProviderType is null or TypeName:
                if (thought.Text is { } thinking)
                {
                    writer.WriteStartObject();
                    writer.WriteString("type", "thinking");
                    writer.WriteString("thinking", thinking);
                    if (thought.Signature is { } signature)
                    {
                        writer.WriteString("signature", signature);
                    }
                    else
                    {
                        writer.WriteNull("signature");
                    }
                    writer.WriteEndObject();
                }
                else if (thought.Signature is { } redacted)
                {
                    writer.WriteStartObject();
                    writer.WriteString("type", "redacted_thinking");
                    writer.WriteString("data", redacted);
                    writer.WriteEndObject();
                }
                break;
            case ThoughtBlock:
                // Another provider's reasoning: meaningless to Anthropic (TensorZero leaves it out).
                break;
            case UnknownBlock unknown:
                if ((unknown.ModelName is null || unknown.ModelName == modelName) && (unknown.ProviderName is null || unknown.ProviderName == providerName))
                {
                    unknown.Data.WriteTo(writer);
                }
                break;
        }
        return true;
    }

    // -----------------------------------------------------------------------------------------------------------------
    // Reading.
    // -----------------------------------------------------------------------------------------------------------------

    /// <inheritdoc />
    public bool TryReadResponse(ReadOnlySpan<byte> body, ModelRequest request, ResponseContext context, out ProviderResponse? response, out string? error)
    {
        response = null;
        if (!ProviderJson.TryParseObject(body, NotAMessage, out var document, out error))
        {
            return false;
        }
        using (document)
        {
            var root = document!.RootElement;
            if (!root.TryGetProperty("content", out var content) || content.ValueKind != JsonValueKind.Array)
            {
                error = NotAMessage + (ProviderJson.ErrorMessage(root) is { } message ? $"it is an error ({message})" : "it has no 'content' array");
                return false;
            }
            var output = ImmutableArray.CreateBuilder<ContentBlock>();
            foreach (var block in content.EnumerateArray())
            {
                if (!TryReadBlock(block, context, out var read, out error))
                {
                    error = NotAMessage + error;
                    return false;
                }
                output.Add(read!);
            }
            if (NeedsJsonPrefill(request) && output.Count == 1 && output[0] is TextBlock text)
            {
                // The model continued after the prefill's "{": the JSON starts with it.
                output[0] = new TextBlock("{" + text.Text.Trim());
            }
            var finish = root.TryGetProperty("stop_reason", out var reason) ? StopReason(reason) : null;
            var hasUsage = root.TryGetProperty("usage", out var u) && u.ValueKind == JsonValueKind.Object;
            response = new ProviderResponse(output.ToImmutable(), hasUsage ? ReadUsage(u) : Usage.Unknown, finish, Encoding.UTF8.GetString(body))
            {
                RawUsage = hasUsage ? u.Clone() : null,
            };
            return true;
        }
    }

    private static bool TryReadBlock(JsonElement block, ResponseContext context, out ContentBlock? read, out string? error)
    {
        read = null;
        error = null;
        if (block.ValueKind != JsonValueKind.Object)
        {
            error = "a content block is not an object";
            return false;
        }
        switch (ProviderJson.String(block, "type"))
        {
            case "text" when ProviderJson.String(block, "text") is { } text:
                read = new TextBlock(text);
                return true;
            case "thinking" when ProviderJson.String(block, "thinking") is { } thinking:
                read = new ThoughtBlock(thinking) { Signature = ProviderJson.String(block, "signature"), ProviderType = TypeName };
                return true;
            case "redacted_thinking" when ProviderJson.String(block, "data") is { } data:
                read = new ThoughtBlock(null) { Signature = data, ProviderType = TypeName };
                return true;
            case "tool_use" when ProviderJson.String(block, "id") is { } id && ProviderJson.String(block, "name") is { } name && block.TryGetProperty("input", out var input):
                read = new ToolCallBlock(id, name, Inference.ContentBlockReader.CompactJson(input));
                return true;
            case "text" or "thinking" or "redacted_thinking" or "tool_use":
                error = $"a '{ProviderJson.String(block, "type")}' block lacks its fields";
                return false;
            default:
                // A block type this gateway does not model (server tool use, citations...): kept as it is, for this model and provider only.
                read = new UnknownBlock(block.Clone()) { ModelName = context.ModelName, ProviderName = context.ProviderName };
                return true;
        }
    }

    /// <summary>TensorZero's mapping of Anthropic's <c>stop_reason</c>.</summary>
    internal static FinishReason? StopReason(JsonElement reason) => reason.ValueKind != JsonValueKind.String ? null : reason.GetString() switch
    {
        "end_turn" => FinishReason.Stop,
        "max_tokens" => FinishReason.Length,
        "stop_sequence" => FinishReason.StopSequence,
        "tool_use" => FinishReason.ToolCall,
        _ => FinishReason.Unknown,
    };

    /// <summary>Anthropic counts cached input apart from <c>input_tokens</c>; TensorZero adds them back.</summary>
    internal static Usage ReadUsage(JsonElement usage)
    {
        if (usage.ValueKind != JsonValueKind.Object)
        {
            return Usage.Unknown;
        }
        var input = Count(usage, "input_tokens");
        var creation = Count(usage, "cache_creation_input_tokens");
        var read = Count(usage, "cache_read_input_tokens");
        long? total = input is null && creation is null && read is null ? null : (input ?? 0) + (creation ?? 0) + (read ?? 0);
        return new Usage(total, Count(usage, "output_tokens"));
    }

    private static long? Count(JsonElement element, string property) =>
        element.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var count) ? count : null;

    /// <inheritdoc />
    public IProviderStreamReader CreateStreamReader(ModelRequest request, ResponseContext context) => new AnthropicStreamReader(NeedsJsonPrefill(request), context);
}

/// <summary>
/// Reads Anthropic's stream events (the <c>data:</c> JSON carries its <c>type</c>): <c>message_start</c> (input usage),
/// <c>content_block_start</c> / <c>content_block_delta</c> (text, tool use and its <c>input_json_delta</c> pieces,
/// thinking and signatures), <c>message_delta</c> (stop reason, output usage), <c>error</c>. The ids of tool calls come
/// only in their block's start: the reader keeps them per block index. Text and thought chunks take their block index
/// as id (TensorZero's).
/// </summary>
internal sealed class AnthropicStreamReader(bool prefill, ResponseContext context) : IProviderStreamReader
{
    private const string NotAnEvent = "the provider's stream event is not an Anthropic event: ";
    private readonly Dictionary<long, string> _toolIds = [];
    private long? _inputTokens;
    private bool _first = true;

    /// <inheritdoc />
    public bool TryReadEvent(ReadOnlySpan<byte> data, out ProviderChunk? chunk, out string? error)
    {
        chunk = null;
        if (!ProviderJson.TryParseObject(data, NotAnEvent, out var document, out error))
        {
            return false;
        }
        using (document)
        {
            var root = document!.RootElement;
            var raw = Encoding.UTF8.GetString(data);
            var index = root.TryGetProperty("index", out var i) && i.TryGetInt64(out var n) ? n : 0;
            switch (ProviderJson.String(root, "type"))
            {
                case "message_start":
                    if (root.TryGetProperty("message", out var message) && message.TryGetProperty("usage", out var startUsage))
                    {
                        var usage = AnthropicFormat.ReadUsage(startUsage);
                        _inputTokens = usage.InputTokens;
                        chunk = new ProviderChunk([], usage, null, raw) { RawUsage = startUsage.Clone() };
                    }
                    break;
                case "content_block_start":
                    if (!root.TryGetProperty("content_block", out var block) || block.ValueKind != JsonValueKind.Object)
                    {
                        error = NotAnEvent + "'content_block_start' has no 'content_block'";
                        return false;
                    }
                    if (!TryReadStart(block, index, out var started, out error))
                    {
                        return false;
                    }
                    chunk = new ProviderChunk([started!], null, null, raw);
                    break;
                case "content_block_delta":
                    if (!root.TryGetProperty("delta", out var delta) || delta.ValueKind != JsonValueKind.Object)
                    {
                        error = NotAnEvent + "'content_block_delta' has no 'delta'";
                        return false;
                    }
                    if (!TryReadDelta(delta, index, out var piece, out error))
                    {
                        return false;
                    }
                    chunk = new ProviderChunk([piece!], null, null, raw);
                    break;
                case "message_delta":
                    var finish = root.TryGetProperty("delta", out var messageDelta) && messageDelta.TryGetProperty("stop_reason", out var reason)
                        ? AnthropicFormat.StopReason(reason)
                        : null;
                    Usage? final = null;
                    JsonElement? rawUsage = null;
                    if (root.TryGetProperty("usage", out var deltaUsage))
                    {
                        // Output counts are cumulative; the input was given at the start (newer API versions repeat it here).
                        var counted = AnthropicFormat.ReadUsage(deltaUsage);
                        final = new Usage(counted.InputTokens ?? _inputTokens, counted.OutputTokens);
                        rawUsage = deltaUsage.Clone();
                    }
                    chunk = new ProviderChunk([], final, finish, raw) { RawUsage = rawUsage };
                    break;
                case "error":
                    error = "the provider's stream reported an error: "
                        + (ProviderJson.ErrorMessage(root) ?? "(no message)");
                    return false;
                case null:
                    error = NotAnEvent + "it has no 'type'";
                    return false;
                default:
                    // content_block_stop, message_stop, ping, and event types Anthropic may add: nothing for the client.
                    break;
            }
        }
        if (prefill && _first && chunk is not null)
        {
            // JSON mode "on": the answer continues the prefill's "{", which the first chunk restores.
            _first = false;
            chunk = chunk.Content switch
            {
                [] => chunk with { Content = [new TextChunk("0", "{")] },
                [TextChunk text] => chunk with { Content = [new TextChunk("0", "{" + text.Text.TrimStart())] },
                _ => chunk,
            };
        }
        return true;
    }

    private bool TryReadStart(JsonElement block, long index, out ChunkBlock? chunk, out string? error)
    {
        chunk = null;
        error = null;
        var id = index.ToString(System.Globalization.CultureInfo.InvariantCulture);
        switch (ProviderJson.String(block, "type"))
        {
            case "text":
                chunk = new TextChunk(id, ProviderJson.String(block, "text") ?? "");
                return true;
            case "tool_use" when ProviderJson.String(block, "id") is { } toolId && ProviderJson.String(block, "name") is { } name:
                _toolIds[index] = toolId;
                // The start's input is always {}: the arguments come in input_json_delta pieces.
                chunk = new ToolCallChunk(toolId, name, "");
                return true;
            case "thinking":
                chunk = new ThoughtChunk(id, ProviderJson.String(block, "thinking")) { Signature = ProviderJson.String(block, "signature"), ProviderType = context.ProviderType };
                return true;
            case "redacted_thinking":
                chunk = new ThoughtChunk(id, null) { Signature = ProviderJson.String(block, "data"), ProviderType = context.ProviderType };
                return true;
            default:
                if (ProviderJson.String(block, "type") == "server_tool_use" && ProviderJson.String(block, "id") is { } serverToolId)
                {
                    _toolIds[index] = serverToolId;
                }
                chunk = new UnknownChunk(id, block.Clone());
                return true;
        }
    }

    private bool TryReadDelta(JsonElement delta, long index, out ChunkBlock? chunk, out string? error)
    {
        chunk = null;
        error = null;
        var id = index.ToString(System.Globalization.CultureInfo.InvariantCulture);
        switch (ProviderJson.String(delta, "type"))
        {
            case "text_delta":
                chunk = new TextChunk(id, ProviderJson.String(delta, "text") ?? "");
                return true;
            case "input_json_delta":
                if (!_toolIds.TryGetValue(index, out var toolId))
                {
                    error = NotAnEvent + $"an input_json_delta for block {index} came without its tool_use start";
                    return false;
                }
                chunk = new ToolCallChunk(toolId, null, ProviderJson.String(delta, "partial_json") ?? "");
                return true;
            case "thinking_delta":
                chunk = new ThoughtChunk(id, ProviderJson.String(delta, "thinking")) { ProviderType = context.ProviderType };
                return true;
            case "signature_delta":
                chunk = new ThoughtChunk(id, null) { Signature = ProviderJson.String(delta, "signature"), ProviderType = context.ProviderType };
                return true;
            default:
                chunk = new UnknownChunk(id, delta.Clone());
                return true;
        }
    }
}
