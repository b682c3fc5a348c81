using System.Collections.Immutable;
using System.Text;
using System.Text.Json;
using TensorZero.Proxy.Functions;

namespace TensorZero.Proxy.Providers;

/// <summary>
/// Reads the SSE events of one streamed chat completion, one <c>data:</c> payload at a time. It keeps the state a
/// stream needs: OpenAI sends a tool call's id only in its first delta, later deltas name the call by
/// <c>index</c>, so the reader maps each index to its id. Not thread-safe: one reader per stream.
/// </summary>
/// <remarks>
/// Chunk ids follow TensorZero: text is block <c>"0"</c>, reasoning block <c>"1"</c>, a tool call the call's id.
/// </remarks>
internal sealed class OpenAIChatStreamReader : IProviderStreamReader
{
    /// <summary>The block id of streamed text.</summary>
    public const string TextChunkId = "0";

    /// <summary>The block id of streamed reasoning.</summary>
    public const string ThoughtChunkId = "1";

    private const string NotAChunk = "the provider's stream event is not a chat completion chunk: ";

    private readonly string? _providerType;
    private readonly bool _thinkTags;
    private readonly Dictionary<long, string> _toolCallIds = [];
    private ThinkState _thinkState;

    /// <summary>Creates a reader for one stream.</summary>
    /// <param name="providerType">The provider type, given to thought chunks; <c>together</c> and <c>fireworks</c>
    /// streams also have their <c>&lt;think&gt;</c> tags read (text inside them becomes thought chunks).</param>
    public OpenAIChatStreamReader(string? providerType = null)
    {
        _providerType = providerType;
        _thinkTags = OpenAIChatFormat.ParsesThinkTags(providerType);
    }

    /// <summary>Where a stream with <c>&lt;think&gt;</c> tags is; each part is its own block (TensorZero's ids 0, 1, 2).</summary>
    private enum ThinkState
    {
        BeforeThinking,
        Thinking,
        AfterThinking,
    }

    /// <summary>
    /// Reads one event's <c>data:</c> payload. <c>[DONE]</c> gives true with a null chunk (the stream's end). A chunk
    /// with only usage (OpenAI's last, with <c>stream_options.include_usage</c>) gives a chunk without content.
    /// False, with the error, for a payload that is not a chunk (invalid JSON, an error object, a tool call delta
    /// whose id was never given); the reader may be used on for later events.
    /// </summary>
    public bool TryReadEvent(ReadOnlySpan<byte> data, out ProviderChunk? chunk, out string? error)
    {
        chunk = null;
        error = null;
        var trimmed = Trim(data);
        if (trimmed.SequenceEqual("[DONE]"u8))
        {
            return true;
        }
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(trimmed.ToArray());
        }
        catch (JsonException)
        {
            error = NotAChunk + "it is not JSON (" + OpenAIChatFormat.Preview(trimmed) + ")";
            return false;
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                error = NotAChunk + "it is not a JSON object";
                return false;
            }
            if (OpenAIChatFormat.ErrorMessage(root) is { } message)
            {
                error = "the provider sent an error in its stream: " + message;
                return false;
            }
            var hasUsage = root.TryGetProperty("usage", out var usageElement) && usageElement.ValueKind == JsonValueKind.Object;
            var hasChoices = root.TryGetProperty("choices", out var choices) && choices.ValueKind == JsonValueKind.Array;
            if (!hasChoices && !hasUsage)
            {
                error = NotAChunk + "it has neither 'choices' nor 'usage'";
                return false;
            }
            var content = ImmutableArray.CreateBuilder<ChunkBlock>();
            FinishReason? finishReason = null;
            if (hasChoices && choices.GetArrayLength() > 0)
            {
                if (choices.GetArrayLength() > 1)
                {
                    error = NotAChunk + $"it has {choices.GetArrayLength()} choices, expected 1";
                    return false;
                }
                var choice = choices[0];
                if (choice.ValueKind != JsonValueKind.Object)
                {
                    error = NotAChunk + "'choices[0]' is not an object";
                    return false;
                }
                if (choice.TryGetProperty("finish_reason", out var reason))
                {
                    finishReason = OpenAIChatFormat.ParseFinishReason(reason);
                }
                if (choice.TryGetProperty("delta", out var delta) && delta.ValueKind == JsonValueKind.Object && !TryReadDelta(delta, content, out error))
                {
                    error = NotAChunk + error;
                    return false;
                }
            }
            var usage = hasUsage ? OpenAIChatFormat.ReadUsage(usageElement) : null;
            chunk = new ProviderChunk(content.ToImmutable(), usage, finishReason, Encoding.UTF8.GetString(trimmed));
            return true;
        }
    }

    private bool TryReadDelta(JsonElement delta, ImmutableArray<ChunkBlock>.Builder content, out string? error)
    {
        error = null;
        if (Reasoning(delta) is { } reasoning)
        {
            // With think tags about, the reasoning field is block 3, apart from the tags' block 1.
            content.Add(new ThoughtChunk(_thinkTags ? "3" : ThoughtChunkId, reasoning) { ProviderType = _providerType });
        }
        if (delta.TryGetProperty("content", out var text))
        {
            if (text.ValueKind == JsonValueKind.String && _thinkTags)
            {
                if (!TryReadThinkTagged(text.GetString()!, content, out error))
                {
                    return false;
                }
            }
            else if (text.ValueKind == JsonValueKind.String)
            {
                content.Add(new TextChunk(TextChunkId, text.GetString()!));
            }
            else if (text.ValueKind == JsonValueKind.Array)
            {
                // Mistral's reasoning models stream typed chunks, as in their complete answers.
                foreach (var part in text.EnumerateArray())
                {
                    var type = part.ValueKind == JsonValueKind.Object && part.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
                    if (type == "text" && part.TryGetProperty("text", out var partText) && partText.ValueKind == JsonValueKind.String)
                    {
                        content.Add(new TextChunk(TextChunkId, partText.GetString()!));
                    }
                    else if (type == "thinking" && part.TryGetProperty("thinking", out var thinking) && thinking.ValueKind == JsonValueKind.Array)
                    {
                        foreach (var piece in thinking.EnumerateArray())
                        {
                            if (piece.ValueKind == JsonValueKind.Object && piece.TryGetProperty("text", out var pieceText) && pieceText.ValueKind == JsonValueKind.String)
                            {
                                content.Add(new ThoughtChunk(ThoughtChunkId, pieceText.GetString()) { ProviderType = _providerType });
                            }
                        }
                    }
                }
            }
        }
        if (delta.TryGetProperty("tool_calls", out var toolCalls))
        {
            switch (toolCalls.ValueKind)
            {
                case JsonValueKind.Array:
                    foreach (var call in toolCalls.EnumerateArray())
                    {
                        if (!TryReadToolCallDelta(call, content, out error))
                        {
                            return false;
                        }
                    }
                    break;
                case JsonValueKind.Object:
                    // TGI streams one tool call as an object, not in an array.
                    return TryReadToolCallDelta(toolCalls, content, out error);
            }
        }
        return true;
    }

    /// <summary>
    /// A text delta of a stream that may think in tags. A delta holding a tag moves the state and is itself dropped
    /// (as TensorZero drops it); text inside the tags is a thought chunk (block 1), text before is block 0, after block 2.
    /// </summary>
    private bool TryReadThinkTagged(string text, ImmutableArray<ChunkBlock>.Builder content, out string? error)
    {
        error = null;
        if (text.Trim().Length > 0)
        {
            var open = text.Contains("<think>", StringComparison.Ordinal);
            var close = text.Contains("</think>", StringComparison.Ordinal);
            switch (_thinkState)
            {
                case ThinkState.BeforeThinking when open && !close:
                    _thinkState = ThinkState.Thinking;
                    return true;
                case ThinkState.BeforeThinking when close && !open:
                    error = "Found </think> while not thinking";
                    return false;
                case ThinkState.Thinking when close && !open:
                    _thinkState = ThinkState.AfterThinking;
                    return true;
                case ThinkState.Thinking when open && !close:
                    error = "Found <think> while already thinking";
                    return false;
                case ThinkState.AfterThinking when open || close:
                    error = "Found thinking tags after thinking finished";
                    return false;
            }
        }
        switch (_thinkState)
        {
            case ThinkState.Thinking:
                content.Add(new ThoughtChunk("1", text) { ProviderType = _providerType });
                break;
            case ThinkState.AfterThinking:
                content.Add(new TextChunk("2", text));
                break;
            default:
                content.Add(new TextChunk(TextChunkId, text));
                break;
        }
        return true;
    }

    private static string? Reasoning(JsonElement delta)
    {
        if (delta.TryGetProperty("reasoning", out var reasoning) && reasoning.ValueKind == JsonValueKind.String)
        {
            return reasoning.GetString();
        }
        return delta.TryGetProperty("reasoning_content", out var content) && content.ValueKind == JsonValueKind.String ? content.GetString() : null;
    }

    private bool TryReadToolCallDelta(JsonElement call, ImmutableArray<ChunkBlock>.Builder content, out string? error)
    {
        error = null;
        if (call.ValueKind != JsonValueKind.Object)
        {
            error = "a tool call delta is not an object";
            return false;
        }
        long? index = call.TryGetProperty("index", out var indexElement) && indexElement.ValueKind == JsonValueKind.Number && indexElement.TryGetInt64(out var i) ? i : null;
        string id;
        if (call.TryGetProperty("id", out var idElement) && idElement.ValueKind == JsonValueKind.String)
        {
            id = idElement.GetString()!;
            if (index is { } newIndex)
            {
                _toolCallIds[newIndex] = id;
            }
        }
        else if (index is { } knownIndex && _toolCallIds.TryGetValue(knownIndex, out var known))
        {
            id = known;
        }
        else
        {
            error = index is null
                ? "a tool call delta has neither an id nor an index"
                : $"a tool call delta at index {index} has no id, and no earlier delta gave one";
            return false;
        }
        string? name = null;
        var arguments = "";
        if (call.TryGetProperty("function", out var function) && function.ValueKind == JsonValueKind.Object)
        {
            if (function.TryGetProperty("name", out var nameElement) && nameElement.ValueKind == JsonValueKind.String)
            {
                name = nameElement.GetString();
            }
            if (function.TryGetProperty("arguments", out var argumentsElement))
            {
                arguments = argumentsElement.ValueKind switch
                {
                    JsonValueKind.String => argumentsElement.GetString()!,
                    JsonValueKind.Null => "",
                    _ => argumentsElement.GetRawText(),
                };
            }
        }
        content.Add(new ToolCallChunk(id, name, arguments));
        return true;
    }

    private static ReadOnlySpan<byte> Trim(ReadOnlySpan<byte> data)
    {
        var start = 0;
        var end = data.Length;
        while (start < end && IsSpace(data[start]))
        {
            start++;
        }
        while (end > start && IsSpace(data[end - 1]))
        {
            end--;
        }
        return data[start..end];
    }

    private static bool IsSpace(byte b) => b is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n';
}
