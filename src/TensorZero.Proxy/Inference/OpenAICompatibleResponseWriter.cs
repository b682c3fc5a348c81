using System.Buffers;
using System.Text;
using System.Text.Json;
using TensorZero.Proxy.Functions;

namespace TensorZero.Proxy.Inference;

/// <summary>
/// Writes a typed inference's result as TensorZero's OpenAI-compatible chat completion
/// (<c>{"id", "episode_id", "choices": [{"index", "finish_reason", "message"}], "created", "model",
/// "system_fingerprint", "service_tier", "object", "usage", ...}</c>).
/// </summary>
internal static class OpenAICompatibleResponseWriter
{
    /// <summary>
    /// The response's <c>model</c>: <c>tensorzero::function_name::F::variant_name::V</c> for a function,
    /// <c>tensorzero::model_name::M</c> for a model target (<paramref name="function"/> null).
    /// </summary>
    public static string ModelField(string? function, string variantOrModel) => function is null
        ? OpenAICompatibleRequestReader.ModelPrefix + variantOrModel
        : $"{OpenAICompatibleRequestReader.FunctionPrefix}{function}::variant_name::{variantOrModel}";

    /// <summary>The response body.</summary>
    /// <param name="result">The inference's result.</param>
    /// <param name="modelField">The <c>model</c> to echo (<see cref="ModelField"/>).</param>
    /// <param name="includeRawResponse"><c>tensorzero::include_raw_response</c>: adds <c>tensorzero_raw_response</c>.</param>
    /// <param name="includeOriginalResponse">The deprecated <c>tensorzero::include_original_response</c>: adds <c>tensorzero_original_response</c>.</param>
    /// <param name="includeRawUsage"><c>tensorzero::include_raw_usage</c>: adds <c>tensorzero_raw_usage</c>.</param>
    /// <param name="time">The clock for <c>created</c>; the system clock when null.</param>
    public static byte[] Write(TypedInferenceResult result, string modelField, bool includeRawResponse, bool includeOriginalResponse, bool includeRawUsage,
        TimeProvider? time = null)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(buffer, JsonOptions.Writer))
        {
            writer.WriteStartObject();
            writer.WriteString("id", result.InferenceId);
            writer.WriteString("episode_id", result.EpisodeId);
            writer.WriteStartArray("choices");
            writer.WriteStartObject();
            writer.WriteNumber("index", 0);
            writer.WriteString("finish_reason", ResponseJson.OpenAIName(result.FinishReason ?? FinishReason.Stop));
            writer.WriteStartObject("message");
            writer.WriteString("role", "assistant");
            if (result.Kind == FunctionKind.Json)
            {
                // A JSON function answers its raw text as the message content.
                WriteNullableString(writer, "content", result.Json?.Raw);
            }
            else
            {
                WriteChatMessage(writer, result);
            }
            writer.WriteEndObject();
            writer.WriteEndObject();
            writer.WriteEndArray();
            writer.WriteNumber("created", ResponseJson.UnixSeconds(time));
            writer.WriteString("model", modelField);
            writer.WriteString("system_fingerprint", "");
            writer.WriteNull("service_tier");
            writer.WriteString("object", "chat.completion");
            ResponseJson.WriteOpenAIUsage(writer, result.Usage);
            if (includeRawUsage)
            {
                ResponseJson.WriteRawUsage(writer, "tensorzero_raw_usage", result.RawUsage, result.ModelInferenceId, result.ProviderType, result.ApiType);
            }
            if (includeOriginalResponse && result.RawResponse is not null)
            {
                writer.WriteString("tensorzero_original_response", result.RawResponse);
            }
            if (includeRawResponse)
            {
                ResponseJson.WriteRawResponse(writer, "tensorzero_raw_response", result.RawResponse, result.ModelInferenceId, result.ProviderType, result.ApiType);
            }
            writer.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>
    /// A chat message as OpenAI splits it: the texts joined (null without text), the tool calls, and the other blocks as
    /// <c>tensorzero_extra_content</c> with their position in the content (<c>insert_index</c>).
    /// </summary>
    private static void WriteChatMessage(Utf8JsonWriter writer, TypedInferenceResult result)
    {
        StringBuilder? text = null;
        var hasToolCalls = false;
        var hasExtra = false;
        foreach (var block in result.Content)
        {
            switch (block)
            {
                case TextBlock t:
                    (text ??= new StringBuilder()).Append(t.Text);
                    break;
                case ToolCallBlock:
                    hasToolCalls = true;
                    break;
                case ThoughtBlock or UnknownBlock:
                    hasExtra = true;
                    break;
            }
        }
        WriteNullableString(writer, "content", text?.ToString());
        if (hasToolCalls)
        {
            writer.WriteStartArray("tool_calls");
            foreach (var block in result.Content)
            {
                if (block is ToolCallBlock call)
                {
                    writer.WriteStartObject();
                    writer.WriteString("id", call.Id);
                    writer.WriteString("type", "function");
                    writer.WriteStartObject("function");
                    writer.WriteString("name", call.RawName);
                    writer.WriteString("arguments", call.RawArguments);
                    writer.WriteEndObject();
                    writer.WriteEndObject();
                }
            }
            writer.WriteEndArray();
        }
        if (hasExtra)
        {
            writer.WriteStartArray("tensorzero_extra_content");
            for (var i = 0; i < result.Content.Length; i++)
            {
                switch (result.Content[i])
                {
                    case ThoughtBlock thought:
                        writer.WriteStartObject();
                        writer.WriteString("type", "thought");
                        writer.WriteNumber("insert_index", i);
                        OutputJson.WriteThoughtFields(writer, thought);
                        writer.WriteEndObject();
                        break;
                    case UnknownBlock unknown:
                        writer.WriteStartObject();
                        writer.WriteString("type", "unknown");
                        writer.WriteNumber("insert_index", i);
                        OutputJson.WriteUnknownFields(writer, unknown);
                        writer.WriteEndObject();
                        break;
                }
            }
            writer.WriteEndArray();
        }
    }

    internal static void WriteNullableString(Utf8JsonWriter writer, string name, string? value)
    {
        if (value is null)
        {
            writer.WriteNull(name);
        }
        else
        {
            writer.WriteString(name, value);
        }
    }
}

/// <summary>
/// Writes a typed inference's stream as TensorZero's OpenAI-compatible chunks, one provider chunk at a time, with
/// TensorZero's stream rules: usage and finish reason are taken off the provider's chunks and sent once, in a final
/// chunk; a chunk left with nothing to say is not sent; the first chunk sent carries <c>"role": "assistant"</c>;
/// tool calls get an index per call id, with the id only on their first piece; thoughts and unknown blocks go in
/// <c>tensorzero_extra_content</c> with their position in the whole content; every chunk has <c>"usage": null</c> unless
/// usage was asked for (<c>stream_options.include_usage</c>), which only the final chunk then fills.
/// </summary>
internal sealed class OpenAICompatibleStreamWriter
{
    private readonly string _inferenceId;
    private readonly string _episodeId;
    private readonly string _modelField;
    private readonly FunctionKind _kind;
    private readonly bool _includeUsage;
    private readonly bool _includeRawUsage;
    private readonly bool _includeOriginalResponse;
    private readonly bool _includeRawResponse;
    private readonly long _created;

    // Positions of blocks in the whole content, as TensorZero's StreamingContentState tracks them.
    private readonly Dictionary<string, int> _toolIndexes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _extraIndexes = new(StringComparer.Ordinal);
    private readonly HashSet<string> _textIds = new(StringComparer.Ordinal);
    private int _blockCount;

    // Per chunk: each tool call piece's index and whether it is the call's first piece.
    private readonly Dictionary<ToolCallChunk, (int Index, bool First)> _toolPositions = new(ReferenceEqualityComparer.Instance);

    private readonly Utf8JsonWriter _writer = new(Stream.Null, JsonOptions.Writer);
    private bool _sentFirst;
    private StreamChunkFilter? _lazyFilter;

    /// <param name="inferenceId">The chunks' <c>id</c>.</param>
    /// <param name="episodeId">The chunks' <c>episode_id</c>.</param>
    /// <param name="modelField">The chunks' <c>model</c> (<see cref="OpenAICompatibleResponseWriter.ModelField"/>).</param>
    /// <param name="kind">Chat chunks carry content blocks; JSON chunks carry their raw text as <c>content</c>.</param>
    /// <param name="includeUsage">Usage in the final chunk (<c>stream_options.include_usage</c>, or raw usage asked for).</param>
    /// <param name="includeRawUsage"><c>tensorzero_raw_usage</c> on chunks that carry the provider's usage.</param>
    /// <param name="includeOriginalResponse"><c>tensorzero_original_chunk</c>: the provider's chunk text.</param>
    /// <param name="includeRawResponse"><c>tensorzero_raw_chunk</c>: the provider's chunk text.</param>
    /// <param name="created">The chunks' <c>created</c>, in Unix seconds.</param>
    public OpenAICompatibleStreamWriter(Guid inferenceId, Guid episodeId, string modelField, FunctionKind kind, bool includeUsage,
        bool includeRawUsage, bool includeOriginalResponse, bool includeRawResponse, long created)
    {
        _inferenceId = inferenceId.ToString();
        _episodeId = episodeId.ToString();
        _modelField = modelField;
        _kind = kind;
        _includeUsage = includeUsage;
        _includeRawUsage = includeRawUsage;
        _includeOriginalResponse = includeOriginalResponse;
        _includeRawResponse = includeRawResponse;
        _created = created;
    }

    /// <summary>
    /// A chat function called with <c>json_mode = "tool"</c>: tool call pieces are sent as text (the implicit tool's
    /// arguments are the answer).
    /// </summary>
    public bool ToolCallsAsText { get; init; }

    /// <summary>A cache hit: usage is zero and no provider chunk text is sent.</summary>
    public bool Cached { get; init; }

    // Made on first use: Cached is set after the constructor.
    private StreamChunkFilter Filter => _lazyFilter ??= new StreamChunkFilter(_kind, Cached, _includeOriginalResponse || _includeRawResponse, _includeRawUsage);

    /// <summary>For raw usage entries: the model inference that streams.</summary>
    public Guid? ModelInferenceId { get; init; }

    /// <summary>For raw usage entries: its provider type.</summary>
    public string? ProviderType { get; init; }

    /// <summary>For raw usage entries: its API (<c>chat_completions</c> by default).</summary>
    public string ApiType { get; init; } = "chat_completions";

    /// <summary>The usage so far: the field-wise largest count any chunk reported (providers report cumulative counts).</summary>
    public Usage Usage => Filter.Usage;

    /// <summary>The last finish reason a chunk gave.</summary>
    public FinishReason? FinishReason => Filter.FinishReason;

    /// <summary>Writes the SSE events (zero or one) for one provider chunk.</summary>
    public void WriteChunk(ProviderChunk chunk, IBufferWriter<byte> output)
    {
        if (!Filter.Take(chunk, out var jsonRaw, out var rawChunk, out var rawUsage))
        {
            return;
        }

        var writer = Start(output);
        writer.WriteStartObject("delta");
        WriteRole(writer);
        if (_kind == FunctionKind.Json)
        {
            writer.WriteString("content", jsonRaw ?? "");
        }
        else
        {
            WriteChatDelta(writer, chunk);
        }
        writer.WriteEndObject();
        Finish(writer, output, finishReason: null, usage: false, rawChunk, rawUsage);
    }

    /// <summary>Writes the final chunk (finish reason, and usage when asked for) and <c>data: [DONE]</c>.</summary>
    public void WriteDone(IBufferWriter<byte> output)
    {
        var writer = Start(output);
        writer.WriteStartObject("delta");
        WriteRole(writer);
        if (_kind == FunctionKind.Json)
        {
            writer.WriteString("content", "");
        }
        writer.WriteEndObject();
        Finish(writer, output, FinishReason, usage: _includeUsage, rawChunk: null, rawUsage: null);
        ResponseJson.WriteDone(output);
    }

    private Utf8JsonWriter Start(IBufferWriter<byte> output)
    {
        ResponseJson.StartEvent(output);
        _writer.Reset(output);
        _writer.WriteStartObject();
        _writer.WriteString("id", _inferenceId);
        _writer.WriteString("episode_id", _episodeId);
        _writer.WriteStartArray("choices");
        _writer.WriteStartObject();
        _writer.WriteNumber("index", 0);
        return _writer;
    }

    private void Finish(Utf8JsonWriter writer, IBufferWriter<byte> output, FinishReason? finishReason, bool usage, string? rawChunk, JsonElement? rawUsage)
    {
        // The choice's fields in TensorZero's order: index, finish_reason, logprobs, delta (written before this call).
        if (finishReason is { } reason)
        {
            writer.WriteString("finish_reason", ResponseJson.OpenAIName(reason));
        }
        else
        {
            writer.WriteNull("finish_reason");
        }
        writer.WriteNull("logprobs");
        writer.WriteEndObject();
        writer.WriteEndArray();
        writer.WriteNumber("created", _created);
        writer.WriteString("model", _modelField);
        writer.WriteString("system_fingerprint", "");
        writer.WriteNull("service_tier");
        writer.WriteString("object", "chat.completion.chunk");
        if (usage)
        {
            ResponseJson.WriteOpenAIUsage(writer, Usage, Cached);
        }
        else
        {
            // OpenAI's spec has `usage` as an object or null, never absent.
            writer.WriteNull("usage");
        }
        if (rawUsage is not null)
        {
            ResponseJson.WriteRawUsage(writer, "tensorzero_raw_usage", rawUsage, ModelInferenceId, ProviderType, ApiType);
        }
        if (rawChunk is not null && _includeOriginalResponse)
        {
            writer.WriteString("tensorzero_original_chunk", rawChunk);
        }
        if (rawChunk is not null && _includeRawResponse)
        {
            writer.WriteString("tensorzero_raw_chunk", rawChunk);
        }
        writer.WriteEndObject();
        writer.Flush();
        ResponseJson.EndEvent(output);
        _sentFirst = true;
    }

    private void WriteRole(Utf8JsonWriter writer)
    {
        if (!_sentFirst)
        {
            writer.WriteString("role", "assistant");
        }
    }

    private void WriteChatDelta(Utf8JsonWriter writer, ProviderChunk chunk)
    {
        // The delta's fields in TensorZero's order: role, content, tool_calls, tensorzero_extra_content.
        StringBuilder? text = null;
        var hasToolCalls = false;
        var hasExtra = false;
        foreach (var block in chunk.Content)
        {
            switch (block)
            {
                case TextChunk t:
                    CountText(t.Id);
                    (text ??= new StringBuilder()).Append(t.Text);
                    break;
                case ToolCallChunk call when ToolCallsAsText:
                    CountText(call.Id);
                    (text ??= new StringBuilder()).Append(call.RawArguments);
                    break;
                case ToolCallChunk:
                    hasToolCalls = true;
                    Position(block);
                    break;
                case ThoughtChunk or UnknownChunk:
                    hasExtra = true;
                    Position(block);
                    break;
            }
        }
        if (text is not null)
        {
            writer.WriteString("content", text.ToString());
        }
        if (hasToolCalls)
        {
            writer.WriteStartArray("tool_calls");
            foreach (var block in chunk.Content)
            {
                if (block is ToolCallChunk call)
                {
                    var (index, first) = _toolPositions[call];
                    writer.WriteStartObject();
                    if (first)
                    {
                        writer.WriteString("id", call.Id);
                    }
                    else
                    {
                        writer.WriteNull("id");
                    }
                    writer.WriteNumber("index", index);
                    writer.WriteString("type", "function");
                    writer.WriteStartObject("function");
                    writer.WriteString("name", call.RawName ?? "");
                    writer.WriteString("arguments", call.RawArguments);
                    writer.WriteEndObject();
                    writer.WriteEndObject();
                }
            }
            writer.WriteEndArray();
        }
        if (hasExtra)
        {
            writer.WriteStartArray("tensorzero_extra_content");
            foreach (var block in chunk.Content)
            {
                switch (block)
                {
                    case ThoughtChunk thought:
                        writer.WriteStartObject();
                        writer.WriteString("type", "thought");
                        writer.WriteNumber("insert_index", _extraIndexes[thought.Id]);
                        writer.WriteString("id", thought.Id);
                        OpenAICompatibleResponseWriter.WriteNullableString(writer, "text", thought.Text);
                        OpenAICompatibleResponseWriter.WriteNullableString(writer, "signature", thought.Signature);
                        writer.WriteNull("summary_id");
                        writer.WriteNull("summary_text");
                        if (thought.ProviderType is not null)
                        {
                            writer.WriteString("provider_type", thought.ProviderType);
                        }
                        writer.WriteEndObject();
                        break;
                    case UnknownChunk unknown:
                        writer.WriteStartObject();
                        writer.WriteString("type", "unknown");
                        writer.WriteNumber("insert_index", _extraIndexes[unknown.Id]);
                        writer.WriteString("id", unknown.Id);
                        writer.WritePropertyName("data");
                        unknown.Data.WriteTo(writer);
                        writer.WriteEndObject();
                        break;
                }
            }
            writer.WriteEndArray();
        }
        _toolPositions.Clear();
    }

    // Positions are assigned in the order blocks first appear, texts included (TensorZero's content_block_count).
    private void CountText(string id)
    {
        if (_textIds.Add(id))
        {
            _blockCount++;
        }
    }

    private void Position(ChunkBlock block)
    {
        switch (block)
        {
            case ToolCallChunk call:
                if (_toolIndexes.TryGetValue(call.Id, out var index))
                {
                    _toolPositions[call] = (index, false);
                }
                else
                {
                    index = _toolIndexes.Count;
                    _toolIndexes[call.Id] = index;
                    _blockCount++;
                    _toolPositions[call] = (index, true);
                }
                break;
            case ThoughtChunk or UnknownChunk:
                if (!_extraIndexes.ContainsKey(block.Id))
                {
                    _extraIndexes[block.Id] = _blockCount++;
                }
                break;
        }
    }
}
