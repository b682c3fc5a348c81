using System.Buffers;
using System.Text.Json;
using TensorZero.Proxy.Functions;

namespace TensorZero.Proxy.Inference;

/// <summary>
/// JSON pieces both typed endpoints' responses share, in TensorZero's shapes: finish reasons, raw usage and raw
/// response entries, usage objects, and the framing of a server-sent event.
/// </summary>
internal static class ResponseJson
{
    private static readonly byte[] DataPrefix = "data: "u8.ToArray();
    private static readonly byte[] EventEnd = "\n\n"u8.ToArray();
    private static readonly byte[] DoneEvent = "data: [DONE]\n\n"u8.ToArray();

    /// <summary>TensorZero's finish reasons (its own names, as in native responses and records).</summary>
    public static string Name(FinishReason reason) => reason switch
    {
        FinishReason.Stop => "stop",
        FinishReason.StopSequence => "stop_sequence",
        FinishReason.Length => "length",
        FinishReason.ToolCall => "tool_call",
        FinishReason.ContentFilter => "content_filter",
        _ => "unknown",
    };

    /// <summary>OpenAI's names: a stop sequence and an unknown reason are both <c>stop</c>, a tool call is <c>tool_calls</c>.</summary>
    public static string OpenAIName(FinishReason reason) => reason switch
    {
        FinishReason.Length => "length",
        FinishReason.ContentFilter => "content_filter",
        FinishReason.ToolCall => "tool_calls",
        _ => "stop",
    };

    /// <summary>
    /// <c>[{"model_inference_id", "provider_type", "api_type", "data"}]</c>: the provider's usage object, when there is one
    /// (TensorZero answers an empty array when it has none, e.g. for a cache hit).
    /// </summary>
    public static void WriteRawUsage(Utf8JsonWriter writer, string propertyName, JsonElement? rawUsage, Guid? modelInferenceId, string? providerType, string apiType)
    {
        writer.WriteStartArray(propertyName);
        if (rawUsage is { } data)
        {
            writer.WriteStartObject();
            writer.WriteString("model_inference_id", modelInferenceId ?? Guid.Empty);
            writer.WriteString("provider_type", providerType ?? "");
            writer.WriteString("api_type", apiType);
            writer.WritePropertyName("data");
            data.WriteTo(writer);
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
    }

    /// <summary><c>[{"model_inference_id"?, "provider_type", "api_type", "data"}]</c> with the provider's response text.</summary>
    public static void WriteRawResponse(Utf8JsonWriter writer, string propertyName, string? rawResponse, Guid? modelInferenceId, string? providerType, string apiType)
    {
        writer.WriteStartArray(propertyName);
        if (rawResponse is not null)
        {
            writer.WriteStartObject();
            if (modelInferenceId is { } id)
            {
                writer.WriteString("model_inference_id", id);
            }
            writer.WriteString("provider_type", providerType ?? "");
            writer.WriteString("api_type", apiType);
            writer.WriteString("data", rawResponse);
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
    }

    /// <summary>
    /// TensorZero's usage: <c>{"input_tokens", "output_tokens", "cost"}</c> (unknown counts and cost are null; a cache hit
    /// costs 0).
    /// </summary>
    public static void WriteNativeUsage(Utf8JsonWriter writer, Usage usage, bool cached = false)
    {
        writer.WriteStartObject("usage");
        WriteCount(writer, "input_tokens", usage.InputTokens);
        WriteCount(writer, "output_tokens", usage.OutputTokens);
        if (cached)
        {
            writer.WriteNumber("cost", 0);
        }
        else
        {
            writer.WriteNull("cost");
        }
        writer.WriteEndObject();
    }

    /// <summary>
    /// OpenAI's usage: <c>{"prompt_tokens", "completion_tokens", "total_tokens", "tensorzero_cost"}</c>; unknown counts are
    /// left out, the total only when both counts are known.
    /// </summary>
    public static void WriteOpenAIUsage(Utf8JsonWriter writer, Usage usage, bool cached = false)
    {
        writer.WriteStartObject("usage");
        if (usage.InputTokens is { } input)
        {
            writer.WriteNumber("prompt_tokens", input);
        }
        if (usage.OutputTokens is { } output)
        {
            writer.WriteNumber("completion_tokens", output);
        }
        if (usage is { InputTokens: { } i, OutputTokens: { } o })
        {
            writer.WriteNumber("total_tokens", i + o);
        }
        if (cached)
        {
            writer.WriteNumber("tensorzero_cost", 0);
        }
        else
        {
            writer.WriteNull("tensorzero_cost");
        }
        writer.WriteEndObject();
    }

    /// <summary>Starts an SSE event (<c>data: </c>); the JSON follows, then <see cref="EndEvent"/>.</summary>
    public static void StartEvent(IBufferWriter<byte> output) => output.Write(DataPrefix);

    public static void EndEvent(IBufferWriter<byte> output) => output.Write(EventEnd);

    /// <summary><c>data: [DONE]</c>, the last event of both endpoints' streams.</summary>
    public static void WriteDone(IBufferWriter<byte> output) => output.Write(DoneEvent);

    /// <summary>Seconds since the Unix epoch, as TensorZero's <c>created</c> (a u32).</summary>
    public static long UnixSeconds(TimeProvider? time) => (time ?? TimeProvider.System).GetUtcNow().ToUnixTimeSeconds();

    private static void WriteCount(Utf8JsonWriter writer, string name, long? count)
    {
        if (count is { } value)
        {
            writer.WriteNumber(name, value);
        }
        else
        {
            writer.WriteNull(name);
        }
    }
}

/// <summary>
/// TensorZero's rules for a stream's provider chunks, shared by both endpoints' stream writers: usage and finish reason
/// are taken off each chunk (sent once, in a final chunk), and a chunk left with nothing to say is not sent. A JSON
/// function's chunk says its raw text: the last text or tool-call piece of the chunk.
/// </summary>
internal sealed class StreamChunkFilter(FunctionKind kind, bool cached, bool includeRawChunk, bool includeRawUsage)
{
    private long? _inputTokens;
    private long? _outputTokens;

    /// <summary>The usage so far: the field-wise largest count any chunk reported (providers report cumulative counts); zero for a cache hit.</summary>
    public Usage Usage => cached ? Usage.Zero : new Usage(_inputTokens, _outputTokens);

    /// <summary>The last finish reason a chunk gave.</summary>
    public FinishReason? FinishReason { get; private set; }

    /// <summary>Takes a chunk's usage and finish reason; true when what is left is worth sending.</summary>
    /// <param name="chunk">The provider's chunk.</param>
    /// <param name="jsonRaw">For a JSON function, the chunk's raw text (null when it has none).</param>
    /// <param name="rawChunk">The provider's chunk text, when asked for (never for a cache hit or an empty text).</param>
    /// <param name="rawUsage">The provider's usage object, when asked for.</param>
    public bool Take(ProviderChunk chunk, out string? jsonRaw, out string? rawChunk, out JsonElement? rawUsage)
    {
        if (chunk.Usage is { } usage)
        {
            _inputTokens = Max(_inputTokens, usage.InputTokens);
            _outputTokens = Max(_outputTokens, usage.OutputTokens);
        }
        if (chunk.FinishReason is { } reason)
        {
            FinishReason = reason;
        }
        rawChunk = includeRawChunk && !cached && chunk.RawChunk.Length > 0 ? chunk.RawChunk : null;
        rawUsage = includeRawUsage ? chunk.RawUsage : null;
        jsonRaw = null;
        if (kind == FunctionKind.Json)
        {
            foreach (var block in chunk.Content)
            {
                jsonRaw = block switch
                {
                    TextChunk text => text.Text,
                    ToolCallChunk call => call.RawArguments,
                    _ => jsonRaw,
                };
            }
        }
        var hasContent = kind == FunctionKind.Json ? !string.IsNullOrEmpty(jsonRaw) : !chunk.Content.IsEmpty;
        return hasContent || rawChunk is not null || rawUsage is not null;
    }

    private static long? Max(long? current, long? reported) => (current, reported) switch
    {
        ({ } a, { } b) => Math.Max(a, b),
        (null, var b) => b,
        (var a, null) => a,
    };
}
