using System.Buffers;
using System.Collections.Immutable;
using System.Globalization;
using System.Text;
using System.Text.Json;
using TensorZero.Proxy.Functions;

namespace TensorZero.Proxy.Providers;

/// <summary>
/// Google AI Studio's Gemini API (<c>models/{model}:generateContent</c>, <c>:streamGenerateContent?alt=sse</c>), as
/// TensorZero's <c>google_ai_studio_gemini</c> provider speaks it (crates/tensorzero-core/src/providers/
/// google_ai_studio_gemini.rs and the parts it shares with gcp_vertex_gemini): <c>contents</c> with roles
/// <c>user</c>/<c>model</c> and parts <c>text</c>, <c>inline_data</c>, <c>function_call</c>, <c>function_response</c>
/// (snake_case, as TensorZero sends them; the API reads both spellings), <c>systemInstruction</c>,
/// <c>generationConfig</c>, <c>tools[].functionDeclarations</c>, <c>toolConfig</c>. JSON schemas lose
/// <c>additionalProperties</c>, <c>$schema</c> and <c>ref</c>, which Gemini rejects.
/// </summary>
internal sealed class GeminiFormat : IProviderFormat
{
    private const string TypeName = "google_ai_studio_gemini";
    private const string NotAResponse = "the provider's 200 response is not a Gemini response: ";

    public static GeminiFormat Instance { get; } = new();

    private GeminiFormat()
    {
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
            error = "Google AI Studio Gemini requires at least one message";
            return false;
        }
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var writer = new Utf8JsonWriter(buffer, JsonOptions.Writer))
        {
            writer.WriteStartObject();
            writer.WriteStartArray("contents");
            foreach (var message in request.Messages)
            {
                if (!TryBuildParts(message.Content, targetModelName, targetProviderName, out var parts, out error))
                {
                    return false;
                }
                // A message with nothing Gemini can take (only another provider's thoughts) is left out, as TensorZero does.
                if (parts.Count == 0)
                {
                    continue;
                }
                writer.WriteStartObject();
                writer.WriteString("role", message.Role == Role.User ? "user" : "model");
                writer.WriteStartArray("parts");
                foreach (var part in parts)
                {
                    part(writer);
                }
                writer.WriteEndArray();
                writer.WriteEndObject();
            }
            writer.WriteEndArray();

            if (request.Tools is { Tools.Length: > 0 } tools)
            {
                writer.WriteStartArray("tools");
                writer.WriteStartObject();
                writer.WriteStartArray("functionDeclarations");
                foreach (var tool in tools.Tools)
                {
                    writer.WriteStartObject();
                    writer.WriteString("name", tool.Name);
                    writer.WriteString("description", tool.Description);
                    writer.WritePropertyName("parameters");
                    WriteSchema(writer, tool.Parameters);
                    writer.WriteEndObject();
                }
                writer.WriteEndArray();
                writer.WriteEndObject();
                writer.WriteEndArray();
                writer.WriteStartObject("toolConfig");
                writer.WriteStartObject("functionCallingConfig");
                switch (tools.Choice)
                {
                    case ToolChoiceSpecific specific:
                        writer.WriteString("mode", "any");
                        writer.WriteStartArray("allowedFunctionNames");
                        writer.WriteStringValue(specific.Name);
                        writer.WriteEndArray();
                        break;
                    case ToolChoiceKind { Kind: "required" }:
                        writer.WriteString("mode", "any");
                        break;
                    case ToolChoiceKind { Kind: "none" }:
                        writer.WriteString("mode", "none");
                        break;
                    default:
                        writer.WriteString("mode", "auto");
                        break;
                }
                writer.WriteEndObject();
                writer.WriteEndObject();
            }

            var p = request.Params;
            writer.WriteStartObject("generationConfig");
            if (p.StopSequences is { } stop)
            {
                writer.WriteStartArray("stopSequences");
                foreach (var sequence in stop)
                {
                    writer.WriteStringValue(sequence);
                }
                writer.WriteEndArray();
            }
            if (p.Temperature is { } temperature)
            {
                writer.WriteNumber("temperature", temperature);
            }
            if (p.ThinkingBudgetTokens is not null || p.ReasoningEffort is not null)
            {
                writer.WriteStartObject("thinkingConfig");
                if (p.ThinkingBudgetTokens is { } budget)
                {
                    writer.WriteNumber("thinkingBudget", budget);
                }
                if (p.ReasoningEffort is { } effort)
                {
                    writer.WriteString("thinkingLevel", effort);
                }
                writer.WriteEndObject();
            }
            if (p.TopP is { } topP)
            {
                writer.WriteNumber("topP", topP);
            }
            if (p.PresencePenalty is { } presence)
            {
                writer.WriteNumber("presencePenalty", presence);
            }
            if (p.FrequencyPenalty is { } frequency)
            {
                writer.WriteNumber("frequencyPenalty", frequency);
            }
            if (p.MaxTokens is { } maxTokens)
            {
                writer.WriteNumber("maxOutputTokens", maxTokens);
            }
            if (p.Seed is { } seed)
            {
                writer.WriteNumber("seed", seed);
            }
            if (request.JsonMode is JsonMode.On or JsonMode.Strict)
            {
                writer.WriteString("responseMimeType", "application/json");
                if (request.OutputSchema is { } schema)
                {
                    writer.WritePropertyName("responseSchema");
                    WriteSchema(writer, schema);
                }
            }
            writer.WriteEndObject();

            if (request.System is { } system)
            {
                // TensorZero sends the system instruction with the role "model".
                writer.WriteStartObject("systemInstruction");
                writer.WriteString("role", "model");
                writer.WriteStartArray("parts");
                writer.WriteStartObject();
                writer.WriteString("text", system);
                writer.WriteEndObject();
                writer.WriteEndArray();
                writer.WriteEndObject();
            }
            writer.WriteEndObject();
        }
        body = buffer.WrittenSpan.ToArray();
        return true;
    }

    /// <summary>The parts of one message, each a writer of one part object.</summary>
    private static bool TryBuildParts(
        ImmutableArray<ContentBlock> content, string? modelName, string? providerName, out List<Action<Utf8JsonWriter>> parts, out string? error)
    {
        parts = [];
        error = null;
        string? pendingSignature = null;
        foreach (var block in content)
        {
            if (block is ThoughtBlock thought)
            {
                if (thought.ProviderType is not (null or TypeName))
                {
                    continue;
                }
                if (pendingSignature is not null)
                {
                    error = $"Thought block with signature cannot be followed by another thought block in {TypeName}";
                    return false;
                }
                if (thought.Text is { } text)
                {
                    var signature = thought.Signature;
                    parts.Add(w =>
                    {
                        w.WriteStartObject();
                        w.WriteBoolean("thought", true);
                        if (signature is not null)
                        {
                            w.WriteString("thoughtSignature", signature);
                        }
                        w.WriteString("text", text);
                        w.WriteEndObject();
                    });
                }
                else if (thought.Signature is { } alone)
                {
                    // Gemini attaches signatures to the part they belong to: the one that follows.
                    pendingSignature = alone;
                }
                continue;
            }
            if (block is UnknownBlock unknown)
            {
                if (pendingSignature is not null)
                {
                    error = $"Thought block with signature cannot be followed by an unknown block in {TypeName}";
                    return false;
                }
                if ((unknown.ModelName is null || unknown.ModelName == modelName) && (unknown.ProviderName is null || unknown.ProviderName == providerName))
                {
                    var data = unknown.Data;
                    parts.Add(data.WriteTo);
                }
                continue;
            }
            if (!TryDataPart(block, out var writeData, out error))
            {
                return false;
            }
            var attached = pendingSignature;
            pendingSignature = null;
            parts.Add(w =>
            {
                w.WriteStartObject();
                if (attached is not null)
                {
                    w.WriteString("thoughtSignature", attached);
                }
                writeData!(w);
                w.WriteEndObject();
            });
        }
        if (pendingSignature is not null)
        {
            error = $"Thought block with signature must be followed by a content block in {TypeName}";
            return false;
        }
        return true;
    }

    /// <summary>The data member(s) of a part for a text, tool call, tool result or file block.</summary>
    private static bool TryDataPart(ContentBlock block, out Action<Utf8JsonWriter>? write, out string? error)
    {
        write = null;
        error = null;
        switch (block)
        {
            case TextBlock text:
                write = w => w.WriteString("text", text.Text);
                return true;
            case ToolCallBlock call:
                if (!ProviderJson.TryParseArguments(call.RawArguments, out var args, out error))
                {
                    return false;
                }
                var name = call.Name ?? call.RawName;
                write = w =>
                {
                    w.WriteStartObject("function_call");
                    w.WriteString("name", name);
                    w.WritePropertyName("args");
                    args.WriteTo(w);
                    w.WriteEndObject();
                };
                return true;
            case ToolResultBlock result:
                write = w =>
                {
                    w.WriteStartObject("function_response");
                    w.WriteString("name", result.Name);
                    w.WriteStartObject("response");
                    w.WriteString("name", result.Name);
                    w.WriteString("content", result.Result);
                    w.WriteEndObject();
                    w.WriteEndObject();
                };
                return true;
            case FileBlock { File: var file }:
                if (file.Base64Data is not { } data || file.MimeType is not { } mime)
                {
                    // TensorZero downloads the file first; this gateway never fetches URLs, and Gemini takes files inline.
                    error = "Google AI Studio Gemini takes files as inline data: send the file as base64 data with its MIME type (the gateway does not fetch URLs)";
                    return false;
                }
                write = w =>
                {
                    w.WriteStartObject("inline_data");
                    w.WriteString("mime_type", mime);
                    w.WriteString("data", data);
                    w.WriteEndObject();
                };
                return true;
            default:
                error = $"a '{block.GetType().Name}' cannot be sent to Gemini";
                return false;
        }
    }

    /// <summary>A JSON schema without the keywords Gemini rejects (TensorZero's <c>process_jsonschema_for_gcp_vertex_gemini</c>).</summary>
    internal static void WriteSchema(Utf8JsonWriter writer, JsonElement schema)
    {
        switch (schema.ValueKind)
        {
            case JsonValueKind.Object:
                writer.WriteStartObject();
                foreach (var property in schema.EnumerateObject())
                {
                    if (property.Name is "additionalProperties" or "$schema" or "ref")
                    {
                        continue;
                    }
                    writer.WritePropertyName(property.Name);
                    WriteSchema(writer, property.Value);
                }
                writer.WriteEndObject();
                break;
            case JsonValueKind.Array:
                writer.WriteStartArray();
                foreach (var item in schema.EnumerateArray())
                {
                    WriteSchema(writer, item);
                }
                writer.WriteEndArray();
                break;
            default:
                schema.WriteTo(writer);
                break;
        }
    }

    // -----------------------------------------------------------------------------------------------------------------
    // Reading.
    // -----------------------------------------------------------------------------------------------------------------

    /// <inheritdoc />
    public bool TryReadResponse(ReadOnlySpan<byte> body, ModelRequest request, ResponseContext context, out ProviderResponse? response, out string? error)
    {
        response = null;
        if (!ProviderJson.TryParseObject(body, NotAResponse, out var document, out error))
        {
            return false;
        }
        using (document)
        {
            var root = document!.RootElement;
            if (!TryFirstCandidate(root, NotAResponse, out var candidate, out error))
            {
                return false;
            }
            if (!root.TryGetProperty("usageMetadata", out var usageMetadata) || usageMetadata.ValueKind != JsonValueKind.Object)
            {
                error = NotAResponse + "it has no usage metadata";
                return false;
            }
            var output = ImmutableArray.CreateBuilder<ContentBlock>();
            foreach (var part in Parts(candidate))
            {
                if (part.ValueKind != JsonValueKind.Object)
                {
                    error = NotAResponse + "a part is not an object";
                    return false;
                }
                ReadPart(part, context, output);
            }
            var finish = candidate.TryGetProperty("finishReason", out var reason) ? FinishReasonOf(reason) : null;
            response = new ProviderResponse(output.ToImmutable(), ReadUsage(usageMetadata), finish, Encoding.UTF8.GetString(body))
            {
                RawUsage = usageMetadata.Clone(),
            };
            return true;
        }
    }

    private static void ReadPart(JsonElement part, ResponseContext context, ImmutableArray<ContentBlock>.Builder output)
    {
        var signature = ProviderJson.String(part, "thoughtSignature");
        if (part.TryGetProperty("thought", out var thought) && thought.ValueKind == JsonValueKind.True)
        {
            var text = ProviderJson.String(part, "text");
            if (text is not null || !HasData(part))
            {
                output.Add(new ThoughtBlock(text) { Signature = signature, ProviderType = TypeName });
            }
            else
            {
                output.Add(new UnknownBlock(part.Clone()) { ModelName = context.ModelName, ProviderName = context.ProviderName });
            }
            return;
        }
        if (signature is not null)
        {
            // A signature on an ordinary part: TensorZero's model has standalone thoughts, so it becomes one, just before.
            output.Add(new ThoughtBlock(null) { Signature = signature, ProviderType = TypeName });
        }
        if (ProviderJson.String(part, "text") is { } plain)
        {
            output.Add(new TextBlock(plain));
        }
        else if (FunctionCall(part) is { } call && ProviderJson.String(call, "name") is { } name)
        {
            // Gemini gives tool calls no id: TensorZero makes one.
            var args = call.TryGetProperty("args", out var a) ? Inference.ContentBlockReader.CompactJson(a) : "{}";
            output.Add(new ToolCallBlock(UuidV7.Create(context.Time.GetUtcNow()).ToString(), name, args));
        }
        else
        {
            output.Add(new UnknownBlock(part.Clone()) { ModelName = context.ModelName, ProviderName = context.ProviderName });
        }
    }

    private static bool HasData(JsonElement part)
    {
        foreach (var property in part.EnumerateObject())
        {
            if (property.Name is not ("thought" or "thoughtSignature"))
            {
                return true;
            }
        }
        return false;
    }

    internal static JsonElement? FunctionCall(JsonElement part) =>
        part.TryGetProperty("functionCall", out var call) && call.ValueKind == JsonValueKind.Object ? call
        : part.TryGetProperty("function_call", out call) && call.ValueKind == JsonValueKind.Object ? call
        : null;

    internal static bool TryFirstCandidate(JsonElement root, string prefix, out JsonElement candidate, out string? error)
    {
        candidate = default;
        error = null;
        if (!root.TryGetProperty("candidates", out var candidates) || candidates.ValueKind != JsonValueKind.Array || candidates.GetArrayLength() == 0)
        {
            error = prefix + (ProviderJson.ErrorMessage(root) is { } message ? $"it is an error ({message})" : "it has no candidates");
            return false;
        }
        candidate = candidates[0];
        if (candidate.ValueKind != JsonValueKind.Object)
        {
            error = prefix + "its first candidate is not an object";
            return false;
        }
        return true;
    }

    /// <summary>The parts of a candidate; none when Gemini gave no content (e.g. blocked by safety settings).</summary>
    internal static IEnumerable<JsonElement> Parts(JsonElement candidate) =>
        candidate.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.Object
        && content.TryGetProperty("parts", out var parts) && parts.ValueKind == JsonValueKind.Array
            ? parts.EnumerateArray()
            : [];

    /// <summary>TensorZero's mapping of Gemini's <c>finishReason</c> (RECITATION and MALFORMED_FUNCTION_CALL as tool calls, as it maps them).</summary>
    internal static FinishReason? FinishReasonOf(JsonElement reason) => reason.ValueKind != JsonValueKind.String ? null : reason.GetString() switch
    {
        "STOP" => FinishReason.Stop,
        "MAX_TOKENS" => FinishReason.Length,
        "SAFETY" or "BLOCKLIST" or "PROHIBITED_CONTENT" or "SPII" => FinishReason.ContentFilter,
        "RECITATION" or "MALFORMED_FUNCTION_CALL" => FinishReason.ToolCall,
        _ => FinishReason.Unknown,
    };

    /// <summary>Input: <c>promptTokenCount</c>; output: candidates plus thoughts (TensorZero's sum).</summary>
    internal static Usage ReadUsage(JsonElement usage)
    {
        var candidates = Count(usage, "candidatesTokenCount");
        var thoughts = Count(usage, "thoughtsTokenCount");
        long? output = candidates is null && thoughts is null ? null : (candidates ?? 0) + (thoughts ?? 0);
        return new Usage(Count(usage, "promptTokenCount"), output);
    }

    private static long? Count(JsonElement element, string property) =>
        element.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var count) ? count : null;

    /// <inheritdoc />
    public IProviderStreamReader CreateStreamReader(ModelRequest request, ResponseContext context) => new GeminiStreamReader(context);
}

/// <summary>
/// Reads Gemini's SSE stream (<c>alt=sse</c>): each event is a whole <c>GenerateContentResponse</c> with the next parts.
/// Text is block <c>"0"</c>; each thought or signature gets a fresh id; tool calls have no id, so consecutive calls of
/// one name continue one call and a new name starts the next (ids "0", "1", ...), as TensorZero numbers them. Gemini
/// repeats the running usage in every event: it counts only on the event with the finish reason.
/// </summary>
internal sealed class GeminiStreamReader(ResponseContext context) : IProviderStreamReader
{
    private const string NotAnEvent = "the provider's stream event is not a Gemini response: ";
    private string? _lastToolName;
    private long _lastToolIndex = -1;
    private long _lastThoughtId;
    private long _lastUnknownId;

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
            if (!GeminiFormat.TryFirstCandidate(root, NotAnEvent, out var candidate, out error))
            {
                return false;
            }
            var content = ImmutableArray.CreateBuilder<ChunkBlock>();
            foreach (var part in GeminiFormat.Parts(candidate))
            {
                if (part.ValueKind != JsonValueKind.Object)
                {
                    error = NotAnEvent + "a part is not an object";
                    return false;
                }
                if (!TryReadPart(part, content, out error))
                {
                    return false;
                }
            }
            var finish = candidate.TryGetProperty("finishReason", out var reason) ? GeminiFormat.FinishReasonOf(reason) : null;
            JsonElement? metadata = finish is not null && root.TryGetProperty("usageMetadata", out var m) && m.ValueKind == JsonValueKind.Object ? m.Clone() : null;
            chunk = new ProviderChunk(content.ToImmutable(), metadata is { } usage ? GeminiFormat.ReadUsage(usage) : null, finish, Encoding.UTF8.GetString(data))
            {
                RawUsage = metadata,
            };
            return true;
        }
    }

    private bool TryReadPart(JsonElement part, ImmutableArray<ChunkBlock>.Builder content, out string? error)
    {
        error = null;
        var signature = ProviderJson.String(part, "thoughtSignature");
        if (part.TryGetProperty("thought", out var thought) && thought.ValueKind == JsonValueKind.True)
        {
            var text = ProviderJson.String(part, "text");
            if (text is null && part.EnumerateObject().Any(p => p.Name is not ("thought" or "thoughtSignature")))
            {
                error = NotAnEvent + "a thought part must be text";
                return false;
            }
            content.Add(new ThoughtChunk(Next(ref _lastThoughtId), text) { Signature = signature, ProviderType = context.ProviderType });
            return true;
        }
        if (signature is not null)
        {
            content.Add(new ThoughtChunk(Next(ref _lastThoughtId), null) { Signature = signature, ProviderType = context.ProviderType });
        }
        if (ProviderJson.String(part, "text") is { } plain)
        {
            // Gemini sometimes sends empty text parts: TensorZero drops them.
            if (plain.Length > 0)
            {
                content.Add(new TextChunk("0", plain));
            }
        }
        else if (GeminiFormat.FunctionCall(part) is { } call && ProviderJson.String(call, "name") is { } name)
        {
            string? newName = null;
            if (_lastToolName != name)
            {
                _lastToolName = name;
                newName = name;
                _lastToolIndex++;
            }
            var args = call.TryGetProperty("args", out var a) ? Inference.ContentBlockReader.CompactJson(a) : "{}";
            content.Add(new ToolCallChunk(_lastToolIndex.ToString(CultureInfo.InvariantCulture), newName, args));
        }
        else
        {
            content.Add(new UnknownChunk(_lastUnknownId.ToString(CultureInfo.InvariantCulture), part.Clone()));
            _lastUnknownId++;
        }
        return true;
    }

    private static string Next(ref long id) => (++id).ToString(CultureInfo.InvariantCulture);
}
