using System.Buffers;
using System.Text;
using System.Text.Json;
using TensorZero.Proxy.Functions;

namespace TensorZero.Proxy.Inference;

/// <summary>One output item of a Responses API answer, as it builds up.</summary>
internal sealed class ResponsesOutputItem
{
    public required string Type { get; init; }

    public required string Id { get; init; }

    /// <summary>The message's text, the function call's arguments, or the reasoning text.</summary>
    public StringBuilder Text { get; } = new();

    /// <summary>A function call's <c>call_id</c>.</summary>
    public string? CallId { get; init; }

    /// <summary>A function call's name.</summary>
    public StringBuilder Name { get; } = new();

    public string Status { get; set; } = "in_progress";
}

/// <summary>
/// Writes a typed inference's result as an OpenAI Responses API object (<c>{"id": "resp_...", "object": "response",
/// "status", "output": [message | function_call | reasoning items], "usage", ...}</c>), repeating the request fields the
/// response object echoes. TensorZero adds <c>episode_id</c>, as its chat completions do.
/// </summary>
internal static class OpenAIResponsesWriter
{
    public const string MessageType = "message";
    public const string FunctionCallType = "function_call";
    public const string ReasoningType = "reasoning";

    /// <summary>The response's <c>id</c>: <c>resp_</c> and the inference id.</summary>
    public static string ResponseId(Guid inferenceId) => "resp_" + inferenceId.ToString();

    /// <summary>An output item's id: its kind's prefix, the inference id and its position.</summary>
    public static string ItemId(string prefix, Guid inferenceId, int index) => $"{prefix}_{inferenceId:N}{index:D2}";

    /// <summary>The non-streaming response body.</summary>
    public static byte[] Write(TypedInferenceResult result, string model, ResponsesEcho echo, long createdAt)
    {
        var items = Items(result);
        var (status, incomplete) = Status(result.FinishReason);
        foreach (var item in items)
        {
            item.Status = item.Type == ReasoningType ? "completed" : status;
        }
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var writer = new Utf8JsonWriter(buffer, JsonOptions.Writer))
        {
            WriteResponse(writer, result.InferenceId, result.EpisodeId, createdAt, status, incomplete, error: null, model, echo, items, result.Usage);
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>The output items of a result: consecutive texts form one message, each tool call one function call item.</summary>
    public static List<ResponsesOutputItem> Items(TypedInferenceResult result)
    {
        var items = new List<ResponsesOutputItem>();
        ResponsesOutputItem? message = null;
        if (result.Kind == FunctionKind.Json)
        {
            if (result.Json?.Raw is { } raw)
            {
                items.Add(NewItem(MessageType, result.InferenceId, 0));
                items[0].Text.Append(raw);
            }
            return items;
        }
        foreach (var block in result.Content)
        {
            switch (block)
            {
                case TextBlock text:
                    if (message is null)
                    {
                        message = NewItem(MessageType, result.InferenceId, items.Count);
                        items.Add(message);
                    }
                    message.Text.Append(text.Text);
                    break;
                case ToolCallBlock call:
                    message = null;
                    var item = NewItem(FunctionCallType, result.InferenceId, items.Count, call.Id);
                    item.Name.Append(call.RawName);
                    item.Text.Append(call.RawArguments);
                    items.Add(item);
                    break;
                case ThoughtBlock thought:
                    message = null;
                    var reasoning = NewItem(ReasoningType, result.InferenceId, items.Count);
                    reasoning.Text.Append(thought.Text);
                    items.Add(reasoning);
                    break;
            }
        }
        return items;
    }

    public static ResponsesOutputItem NewItem(string type, Guid inferenceId, int index, string? callId = null) => new()
    {
        Type = type,
        Id = ItemId(type switch { MessageType => "msg", FunctionCallType => "fc", _ => "rs" }, inferenceId, index),
        CallId = callId,
    };

    /// <summary>The response status for a finish reason: a length or content-filter stop is <c>incomplete</c>, with its reason.</summary>
    public static (string Status, string? IncompleteReason) Status(FinishReason? reason) => reason switch
    {
        FinishReason.Length => ("incomplete", "max_output_tokens"),
        FinishReason.ContentFilter => ("incomplete", "content_filter"),
        _ => ("completed", null),
    };

    /// <summary>The response object.</summary>
    public static void WriteResponse(
        Utf8JsonWriter writer, Guid inferenceId, Guid episodeId, long createdAt, string status, string? incompleteReason, string? error,
        string model, ResponsesEcho echo, IReadOnlyList<ResponsesOutputItem> items, Usage? usage)
    {
        writer.WriteStartObject();
        writer.WriteString("id", ResponseId(inferenceId));
        writer.WriteString("object", "response");
        writer.WriteNumber("created_at", createdAt);
        writer.WriteString("status", status);
        writer.WriteBoolean("background", false);
        if (error is null)
        {
            writer.WriteNull("error");
        }
        else
        {
            writer.WriteStartObject("error");
            writer.WriteString("code", "server_error");
            writer.WriteString("message", error);
            writer.WriteEndObject();
        }
        if (incompleteReason is null)
        {
            writer.WriteNull("incomplete_details");
        }
        else
        {
            writer.WriteStartObject("incomplete_details");
            writer.WriteString("reason", incompleteReason);
            writer.WriteEndObject();
        }
        OpenAICompatibleResponseWriter.WriteNullableString(writer, "instructions", echo.Instructions);
        WriteNullableNumber(writer, "max_output_tokens", echo.MaxOutputTokens);
        writer.WriteNull("max_tool_calls");
        writer.WriteString("model", model);
        writer.WriteStartArray("output");
        foreach (var item in items)
        {
            WriteItem(writer, item);
        }
        writer.WriteEndArray();
        writer.WriteBoolean("parallel_tool_calls", echo.ParallelToolCalls);
        writer.WriteNull("previous_response_id");
        writer.WriteStartObject("reasoning");
        writer.WriteNull("effort");
        writer.WriteNull("summary");
        writer.WriteEndObject();
        // Nothing is kept for later retrieval, whatever the request's `store` said.
        writer.WriteBoolean("store", false);
        WriteNullableNumber(writer, "temperature", echo.Temperature);
        WriteEcho(writer, "text", echo.Text, """{"format":{"type":"text"}}""");
        WriteEcho(writer, "tool_choice", echo.ToolChoice, "\"auto\"");
        WriteEcho(writer, "tools", echo.Tools, "[]");
        WriteNullableNumber(writer, "top_p", echo.TopP);
        writer.WriteString("truncation", "disabled");
        if (usage is null || usage is { InputTokens: null, OutputTokens: null })
        {
            writer.WriteNull("usage");
        }
        else
        {
            WriteUsage(writer, usage);
        }
        OpenAICompatibleResponseWriter.WriteNullableString(writer, "user", echo.User);
        WriteEcho(writer, "metadata", echo.Metadata, "{}");
        writer.WriteString("episode_id", episodeId);
        writer.WriteEndObject();
    }

    /// <summary>An output item in its current state.</summary>
    public static void WriteItem(Utf8JsonWriter writer, ResponsesOutputItem item)
    {
        writer.WriteStartObject();
        writer.WriteString("id", item.Id);
        writer.WriteString("type", item.Type);
        switch (item.Type)
        {
            case MessageType:
                writer.WriteString("status", item.Status);
                writer.WriteString("role", "assistant");
                writer.WriteStartArray("content");
                if (item.Status != "in_progress")
                {
                    WriteTextPart(writer, item.Text.ToString());
                }
                writer.WriteEndArray();
                break;
            case FunctionCallType:
                writer.WriteString("status", item.Status);
                writer.WriteString("arguments", item.Status == "in_progress" ? "" : item.Text.ToString());
                writer.WriteString("call_id", item.CallId);
                writer.WriteString("name", item.Name.ToString());
                break;
            default:
                writer.WriteStartArray("summary");
                writer.WriteEndArray();
                if (item.Text.Length > 0)
                {
                    writer.WriteStartArray("content");
                    writer.WriteStartObject();
                    writer.WriteString("type", "reasoning_text");
                    writer.WriteString("text", item.Text.ToString());
                    writer.WriteEndObject();
                    writer.WriteEndArray();
                }
                break;
        }
        writer.WriteEndObject();
    }

    /// <summary><c>{"type": "output_text", "text", "annotations": [], "logprobs": []}</c>.</summary>
    public static void WriteTextPart(Utf8JsonWriter writer, string text)
    {
        writer.WriteStartObject();
        writer.WriteString("type", "output_text");
        writer.WriteString("text", text);
        writer.WriteStartArray("annotations");
        writer.WriteEndArray();
        writer.WriteStartArray("logprobs");
        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    /// <summary>The Responses API's usage; a count the provider did not report is written as 0.</summary>
    private static void WriteUsage(Utf8JsonWriter writer, Usage usage)
    {
        var input = usage.InputTokens ?? 0;
        var output = usage.OutputTokens ?? 0;
        writer.WriteStartObject("usage");
        writer.WriteNumber("input_tokens", input);
        writer.WriteStartObject("input_tokens_details");
        writer.WriteNumber("cached_tokens", 0);
        writer.WriteEndObject();
        writer.WriteNumber("output_tokens", output);
        writer.WriteStartObject("output_tokens_details");
        writer.WriteNumber("reasoning_tokens", 0);
        writer.WriteEndObject();
        writer.WriteNumber("total_tokens", input + output);
        writer.WriteEndObject();
    }

    private static void WriteNullableNumber(Utf8JsonWriter writer, string name, double? value)
    {
        if (value is { } v)
        {
            writer.WriteNumber(name, v);
        }
        else
        {
            writer.WriteNull(name);
        }
    }

    private static void WriteEcho(Utf8JsonWriter writer, string name, JsonElement? value, string fallback)
    {
        writer.WritePropertyName(name);
        if (value is { } v)
        {
            v.WriteTo(writer);
        }
        else
        {
            writer.WriteRawValue(fallback, skipInputValidation: true);
        }
    }
}

/// <summary>
/// Writes a typed inference's stream as Responses API events (<c>event: &lt;type&gt;</c> and <c>data: {...}</c>, each with
/// its <c>sequence_number</c>): <c>response.created</c> and <c>response.in_progress</c>, then per output item
/// <c>response.output_item.added</c>, its deltas (<c>response.content_part.added</c> and <c>response.output_text.delta</c>
/// for a message, <c>response.function_call_arguments.delta</c> for a call) and its closing events, each item closed
/// before the next opens; at the end <c>response.completed</c> (or <c>response.incomplete</c> after a length stop) with
/// the whole response. Reasoning pieces are not streamed.
/// </summary>
internal sealed class OpenAIResponsesStreamWriter
{
    private readonly Guid _inferenceId;
    private readonly Guid _episodeId;
    private readonly string _model;
    private readonly FunctionKind _kind;
    private readonly ResponsesEcho _echo;
    private readonly long _createdAt;
    private readonly List<ResponsesOutputItem> _items = [];
    private readonly Dictionary<string, ResponsesOutputItem> _calls = new(StringComparer.Ordinal);
    private readonly Utf8JsonWriter _writer = new(Stream.Null, JsonOptions.Writer);
    private ResponsesOutputItem? _open;
    private int _sequence;
    private bool _started;
    private StreamChunkFilter? _lazyFilter;

    public OpenAIResponsesStreamWriter(Guid inferenceId, Guid episodeId, string model, FunctionKind kind, ResponsesEcho echo, long createdAt)
    {
        _inferenceId = inferenceId;
        _episodeId = episodeId;
        _model = model;
        _kind = kind;
        _echo = echo;
        _createdAt = createdAt;
    }

    /// <summary>A chat function called with <c>json_mode = "tool"</c>: tool call pieces are the answer's text.</summary>
    public bool ToolCallsAsText { get; init; }

    /// <summary>A cache hit: usage is zero.</summary>
    public bool Cached { get; init; }

    private StreamChunkFilter Filter => _lazyFilter ??= new StreamChunkFilter(_kind, Cached, includeRawChunk: false, includeRawUsage: false);

    /// <summary>Writes the events for one provider chunk.</summary>
    public void WriteChunk(ProviderChunk chunk, IBufferWriter<byte> output)
    {
        Start(output);
        if (!Filter.Take(chunk, out var jsonRaw, out _, out _))
        {
            return;
        }
        if (_kind == FunctionKind.Json)
        {
            AppendText(jsonRaw, output);
            return;
        }
        foreach (var block in chunk.Content)
        {
            switch (block)
            {
                case TextChunk text:
                    AppendText(text.Text, output);
                    break;
                case ToolCallChunk call when ToolCallsAsText:
                    AppendText(call.RawArguments, output);
                    break;
                case ToolCallChunk call:
                    AppendCall(call, output);
                    break;
            }
        }
    }

    /// <summary>Closes the open item and writes <c>response.completed</c> (or <c>response.incomplete</c>).</summary>
    public void WriteDone(IBufferWriter<byte> output)
    {
        Start(output);
        var (status, incomplete) = OpenAIResponsesWriter.Status(Filter.FinishReason);
        Close(output, status);
        WriteResponseEvent(output, status == "completed" ? "response.completed" : "response.incomplete", status, incomplete, error: null);
    }

    /// <summary>An error in the middle of the stream: an <c>error</c> event (the stream may go on).</summary>
    public void WriteError(IBufferWriter<byte> output, string message)
    {
        Start(output);
        var writer = Begin(output, "error");
        writer.WriteString("code", "server_error");
        writer.WriteString("message", message);
        writer.WriteNull("param");
        End(output);
    }

    /// <summary>The stream ends on an error: the open item closes as incomplete, then <c>response.failed</c>.</summary>
    public void WriteFailed(IBufferWriter<byte> output, string message)
    {
        Start(output);
        Close(output, "incomplete");
        WriteResponseEvent(output, "response.failed", "failed", incompleteReason: null, message);
    }

    private void Start(IBufferWriter<byte> output)
    {
        if (_started)
        {
            return;
        }
        _started = true;
        WriteResponseEvent(output, "response.created", "in_progress", incompleteReason: null, error: null);
        WriteResponseEvent(output, "response.in_progress", "in_progress", incompleteReason: null, error: null);
    }

    private void AppendText(string? text, IBufferWriter<byte> output)
    {
        if (string.IsNullOrEmpty(text))
        {
            return;
        }
        if (_open is not { Type: OpenAIResponsesWriter.MessageType })
        {
            Close(output, "completed");
            _open = OpenAIResponsesWriter.NewItem(OpenAIResponsesWriter.MessageType, _inferenceId, _items.Count);
            _items.Add(_open);
            WriteItemEvent(output, "response.output_item.added", _open);
            var added = Begin(output, "response.content_part.added");
            WritePosition(added, _open);
            added.WriteNumber("content_index", 0);
            added.WritePropertyName("part");
            OpenAIResponsesWriter.WriteTextPart(added, "");
            End(output);
        }
        _open.Text.Append(text);
        var writer = Begin(output, "response.output_text.delta");
        WritePosition(writer, _open);
        writer.WriteNumber("content_index", 0);
        writer.WriteString("delta", text);
        writer.WriteStartArray("logprobs");
        writer.WriteEndArray();
        End(output);
    }

    private void AppendCall(ToolCallChunk call, IBufferWriter<byte> output)
    {
        if (!_calls.TryGetValue(call.Id, out var item))
        {
            Close(output, "completed");
            item = OpenAIResponsesWriter.NewItem(OpenAIResponsesWriter.FunctionCallType, _inferenceId, _items.Count, call.Id);
            item.Name.Append(call.RawName);
            _calls[call.Id] = item;
            _items.Add(item);
            _open = item;
            WriteItemEvent(output, "response.output_item.added", item);
        }
        else if (call.RawName is { Length: > 0 } namePiece)
        {
            // A name split over pieces (some providers): the done events carry the whole name.
            item.Name.Append(namePiece);
        }
        if (call.RawArguments.Length == 0)
        {
            return;
        }
        item.Text.Append(call.RawArguments);
        var writer = Begin(output, "response.function_call_arguments.delta");
        WritePosition(writer, item);
        writer.WriteString("delta", call.RawArguments);
        End(output);
    }

    /// <summary>Writes the closing events of the open item, if any.</summary>
    private void Close(IBufferWriter<byte> output, string status)
    {
        if (_open is not { } item)
        {
            return;
        }
        _open = null;
        item.Status = status;
        var text = item.Text.ToString();
        if (item.Type == OpenAIResponsesWriter.MessageType)
        {
            var done = Begin(output, "response.output_text.done");
            WritePosition(done, item);
            done.WriteNumber("content_index", 0);
            done.WriteString("text", text);
            done.WriteStartArray("logprobs");
            done.WriteEndArray();
            End(output);
            var partDone = Begin(output, "response.content_part.done");
            WritePosition(partDone, item);
            partDone.WriteNumber("content_index", 0);
            partDone.WritePropertyName("part");
            OpenAIResponsesWriter.WriteTextPart(partDone, text);
            End(output);
        }
        else
        {
            var done = Begin(output, "response.function_call_arguments.done");
            WritePosition(done, item);
            done.WriteString("name", item.Name.ToString());
            done.WriteString("arguments", text);
            End(output);
        }
        WriteItemEvent(output, "response.output_item.done", item);
    }

    private void WriteItemEvent(IBufferWriter<byte> output, string type, ResponsesOutputItem item)
    {
        var writer = Begin(output, type);
        writer.WriteNumber("output_index", _items.IndexOf(item));
        writer.WritePropertyName("item");
        OpenAIResponsesWriter.WriteItem(writer, item);
        End(output);
    }

    private void WriteResponseEvent(IBufferWriter<byte> output, string type, string status, string? incompleteReason, string? error)
    {
        var writer = Begin(output, type);
        writer.WritePropertyName("response");
        OpenAIResponsesWriter.WriteResponse(writer, _inferenceId, _episodeId, _createdAt, status, incompleteReason, error, _model, _echo, _items,
            status == "in_progress" ? null : Filter.Usage);
        End(output);
    }

    private void WritePosition(Utf8JsonWriter writer, ResponsesOutputItem item)
    {
        writer.WriteString("item_id", item.Id);
        writer.WriteNumber("output_index", _items.IndexOf(item));
    }

    /// <summary>Starts <c>event: type</c> and its data object with <c>type</c> and <c>sequence_number</c>.</summary>
    private Utf8JsonWriter Begin(IBufferWriter<byte> output, string type)
    {
        output.Write("event: "u8);
        output.Write(Encoding.UTF8.GetBytes(type));
        output.Write("\n"u8);
        ResponseJson.StartEvent(output);
        _writer.Reset(output);
        _writer.WriteStartObject();
        _writer.WriteString("type", type);
        _writer.WriteNumber("sequence_number", _sequence++);
        return _writer;
    }

    private void End(IBufferWriter<byte> output)
    {
        _writer.WriteEndObject();
        _writer.Flush();
        ResponseJson.EndEvent(output);
    }
}
