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
