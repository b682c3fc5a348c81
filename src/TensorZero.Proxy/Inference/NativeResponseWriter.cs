using System.Buffers;
using System.Text.Json;
using TensorZero.Proxy.Functions;

namespace TensorZero.Proxy.Inference;

/// <summary>
/// Writes a typed inference's result as TensorZero's native <c>POST /inference</c> response: chat
/// <c>{"inference_id", "episode_id", "variant_name", "content", "usage", "finish_reason"?}</c> or JSON
/// <c>{"inference_id", "episode_id", "variant_name", "output": {"raw", "parsed"}, "usage", "finish_reason"?}</c>, with
/// <c>raw_usage</c>, <c>original_response</c> and <c>raw_response</c> when asked for.
/// </summary>
internal static class NativeResponseWriter
{
    /// <summary>The response body.</summary>
    /// <param name="result">The inference's result.</param>
    /// <param name="includeRawResponse"><c>include_raw_response</c>: adds <c>raw_response</c>.</param>
    /// <param name="includeOriginalResponse">The deprecated <c>include_original_response</c>: adds <c>original_response</c>.</param>
    /// <param name="includeRawUsage"><c>include_raw_usage</c>: adds <c>raw_usage</c>.</param>
    public static byte[] Write(TypedInferenceResult result, bool includeRawResponse, bool includeOriginalResponse, bool includeRawUsage)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(buffer, JsonOptions.Writer))
        {
            writer.WriteStartObject();
            writer.WriteString("inference_id", result.InferenceId);
            writer.WriteString("episode_id", result.EpisodeId);
            writer.WriteString("variant_name", result.VariantName);
            if (result.Kind == FunctionKind.Json)
            {
                writer.WritePropertyName("output");
                OutputJson.WriteJsonOutput(writer, result.Json ?? new JsonOutput(null, null));
            }
            else
            {
                writer.WritePropertyName("content");
                OutputJson.WriteContent(writer, result.Content);
            }
            ResponseJson.WriteNativeUsage(writer, result.Usage);
            if (includeRawUsage)
            {
                ResponseJson.WriteRawUsage(writer, "raw_usage", result.RawUsage, result.ModelInferenceId, result.ProviderType, result.ApiType);
            }
            if (includeOriginalResponse && result.RawResponse is not null)
            {
                writer.WriteString("original_response", result.RawResponse);
            }
            if (includeRawResponse)
            {
                ResponseJson.WriteRawResponse(writer, "raw_response", result.RawResponse, result.ModelInferenceId, result.ProviderType, result.ApiType);
            }
            if (result.FinishReason is { } reason)
            {
                writer.WriteString("finish_reason", ResponseJson.Name(reason));
            }
            writer.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }
}

/// <summary>
/// Writes a typed inference's stream as TensorZero's native chunks, one provider chunk at a time: chat
/// <c>{"inference_id", "episode_id", "variant_name", "content": [{"type": "text", "id", "text"}, ...]}</c> or JSON
/// <c>{..., "raw": "..."}</c>, with TensorZero's stream rules (usage and finish reason only in a final chunk, chunks with
/// nothing to say dropped), then <c>data: [DONE]</c>.
/// </summary>
internal sealed class NativeStreamWriter
{
    private readonly string _inferenceId;
    private readonly string _episodeId;
    private readonly string _variantName;
    private readonly FunctionKind _kind;
    private readonly bool _includeRawUsage;
    private readonly bool _includeOriginalResponse;
    private readonly bool _includeRawResponse;
    private readonly Utf8JsonWriter _writer = new(Stream.Null, JsonOptions.Writer);
    private StreamChunkFilter? _lazyFilter;

    /// <param name="inferenceId">The chunks' <c>inference_id</c>.</param>
    /// <param name="episodeId">The chunks' <c>episode_id</c>.</param>
    /// <param name="variantName">The chunks' <c>variant_name</c> (the model name for a model target).</param>
    /// <param name="kind">Chat chunks carry content blocks; JSON chunks carry <c>raw</c> text.</param>
    /// <param name="includeRawUsage"><c>raw_usage</c> on chunks that carry the provider's usage.</param>
    /// <param name="includeOriginalResponse"><c>original_chunk</c>: the provider's chunk text.</param>
    /// <param name="includeRawResponse"><c>raw_chunk</c>: the provider's chunk text.</param>
    public NativeStreamWriter(Guid inferenceId, Guid episodeId, string variantName, FunctionKind kind, bool includeRawUsage,
        bool includeOriginalResponse, bool includeRawResponse)
    {
        _inferenceId = inferenceId.ToString();
        _episodeId = episodeId.ToString();
        _variantName = variantName;
        _kind = kind;
        _includeRawUsage = includeRawUsage;
        _includeOriginalResponse = includeOriginalResponse;
        _includeRawResponse = includeRawResponse;
    }

    /// <summary>A chat function called with <c>json_mode = "tool"</c>: tool call pieces are sent as text pieces.</summary>
    public bool ToolCallsAsText { get; init; }

    /// <summary>A cache hit: usage is zero and no provider chunk text is sent.</summary>
    public bool Cached { get; init; }

    /// <summary>For raw usage entries: the model inference that streams.</summary>
    public Guid? ModelInferenceId { get; init; }

    /// <summary>For raw usage entries: its provider type.</summary>
    public string? ProviderType { get; init; }

    /// <summary>For raw usage entries: its API (<c>chat_completions</c> by default).</summary>
    public string ApiType { get; init; } = "chat_completions";

    /// <summary>The usage so far (field-wise largest count reported).</summary>
    public Usage Usage => Filter.Usage;

    /// <summary>The last finish reason a chunk gave.</summary>
    public FinishReason? FinishReason => Filter.FinishReason;

    // Made on first use: Cached is set after the constructor.
    private StreamChunkFilter Filter => _lazyFilter ??= new StreamChunkFilter(_kind, Cached, _includeOriginalResponse || _includeRawResponse, _includeRawUsage);

    /// <summary>Writes the SSE events (zero or one) for one provider chunk.</summary>
    public void WriteChunk(ProviderChunk chunk, IBufferWriter<byte> output)
    {
        if (!Filter.Take(chunk, out var jsonRaw, out var rawChunk, out var rawUsage))
        {
            return;
        }
        var writer = Start(output);
        if (_kind == FunctionKind.Json)
        {
            writer.WriteString("raw", jsonRaw ?? "");
        }
        else
        {
            writer.WriteStartArray("content");
            foreach (var block in chunk.Content)
            {
                WriteBlock(writer, block);
            }
            writer.WriteEndArray();
        }
        if (rawUsage is not null)
        {
            ResponseJson.WriteRawUsage(writer, "raw_usage", rawUsage, ModelInferenceId, ProviderType, ApiType);
        }
        if (rawChunk is not null && _includeOriginalResponse)
        {
            writer.WriteString("original_chunk", rawChunk);
        }
        if (rawChunk is not null && _includeRawResponse)
        {
            writer.WriteString("raw_chunk", rawChunk);
        }
        Finish(writer, output);
    }

    /// <summary>Writes the final chunk (usage and finish reason) and <c>data: [DONE]</c>.</summary>
    public void WriteDone(IBufferWriter<byte> output)
    {
        var writer = Start(output);
        if (_kind == FunctionKind.Json)
        {
            writer.WriteString("raw", "");
        }
        else
        {
            writer.WriteStartArray("content");
            writer.WriteEndArray();
        }
        ResponseJson.WriteNativeUsage(writer, Usage, Cached);
        if (FinishReason is { } reason)
        {
            writer.WriteString("finish_reason", ResponseJson.Name(reason));
        }
        Finish(writer, output);
        ResponseJson.WriteDone(output);
    }

    private Utf8JsonWriter Start(IBufferWriter<byte> output)
    {
        ResponseJson.StartEvent(output);
        _writer.Reset(output);
        _writer.WriteStartObject();
        _writer.WriteString("inference_id", _inferenceId);
        _writer.WriteString("episode_id", _episodeId);
        _writer.WriteString("variant_name", _variantName);
        return _writer;
    }

    private static void Finish(Utf8JsonWriter writer, IBufferWriter<byte> output)
    {
        writer.WriteEndObject();
        writer.Flush();
        ResponseJson.EndEvent(output);
    }

    /// <summary>A content block piece as TensorZero serializes its <c>ContentBlockChunk</c>.</summary>
    private void WriteBlock(Utf8JsonWriter writer, ChunkBlock block)
    {
        writer.WriteStartObject();
        switch (block)
        {
            case TextChunk text:
                writer.WriteString("type", "text");
                writer.WriteString("id", text.Id);
                writer.WriteString("text", text.Text);
                break;
            case ToolCallChunk call when ToolCallsAsText:
                writer.WriteString("type", "text");
                writer.WriteString("id", call.Id);
                writer.WriteString("text", call.RawArguments);
                break;
            case ToolCallChunk call:
                writer.WriteString("type", "tool_call");
                writer.WriteString("id", call.Id);
                writer.WriteString("raw_name", call.RawName ?? "");
                writer.WriteString("raw_arguments", call.RawArguments);
                break;
            case ThoughtChunk thought:
                writer.WriteString("type", "thought");
                writer.WriteString("id", thought.Id);
                OpenAICompatibleResponseWriter.WriteNullableString(writer, "text", thought.Text);
                OpenAICompatibleResponseWriter.WriteNullableString(writer, "signature", thought.Signature);
                writer.WriteNull("summary_id");
                writer.WriteNull("summary_text");
                if (thought.ProviderType is not null)
                {
                    writer.WriteString("provider_type", thought.ProviderType);
                }
                break;
            case UnknownChunk unknown:
                writer.WriteString("type", "unknown");
                writer.WriteString("id", unknown.Id);
                writer.WritePropertyName("data");
                unknown.Data.WriteTo(writer);
                break;
        }
        writer.WriteEndObject();
    }
}
