using System.Buffers;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using TensorZero.Proxy.Functions;

namespace TensorZero.Proxy.Inference;

/// <summary>
/// Writes a typed inference's result as an Anthropic Messages API message (<c>{"id": "msg_...", "type": "message",
/// "role": "assistant", "content": [text | tool_use | thinking], "model", "stop_reason", "stop_sequence", "usage"}</c>).
/// </summary>
internal static class AnthropicMessagesWriter
{
    /// <summary>The message's <c>id</c>: <c>msg_</c> and the inference id.</summary>
    public static string MessageId(Guid inferenceId) => "msg_" + inferenceId.ToString("N");

    /// <summary>Anthropic's stop reason for TensorZero's finish reason (a tool call in the content decides when there is none).</summary>
    public static string StopReason(FinishReason? reason, bool hasToolCall) => reason switch
    {
        FinishReason.Length => "max_tokens",
        FinishReason.StopSequence => "stop_sequence",
        FinishReason.ToolCall => "tool_use",
        FinishReason.ContentFilter => "refusal",
        _ => hasToolCall ? "tool_use" : "end_turn",
    };

    /// <summary>The non-streaming response body.</summary>
    public static byte[] Write(TypedInferenceResult result, string model)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(buffer, JsonOptions.Writer))
        {
            writer.WriteStartObject();
            writer.WriteString("id", MessageId(result.InferenceId));
            writer.WriteString("type", "message");
            writer.WriteString("role", "assistant");
            writer.WriteStartArray("content");
            var hasToolCall = false;
            if (result.Kind == FunctionKind.Json)
            {
                if (result.Json?.Raw is { } raw)
                {
                    WriteText(writer, raw);
                }
            }
            else
            {
                foreach (var block in result.Content)
                {
                    switch (block)
                    {
                        case TextBlock text:
                            WriteText(writer, text.Text);
                            break;
                        case ToolCallBlock call:
                            hasToolCall = true;
                            writer.WriteStartObject();
                            writer.WriteString("type", "tool_use");
                            writer.WriteString("id", call.Id);
                            writer.WriteString("name", call.RawName);
                            writer.WritePropertyName("input");
                            WriteInput(writer, call.RawArguments);
                            writer.WriteEndObject();
                            break;
                        case ThoughtBlock { Text: { } thinking } thought:
                            writer.WriteStartObject();
                            writer.WriteString("type", "thinking");
                            writer.WriteString("thinking", thinking);
                            writer.WriteString("signature", thought.Signature ?? "");
                            writer.WriteEndObject();
                            break;
                    }
                }
            }
            writer.WriteEndArray();
            writer.WriteString("model", model);
            writer.WriteString("stop_reason", StopReason(result.FinishReason, hasToolCall));
            writer.WriteNull("stop_sequence");
            WriteUsage(writer, result.Usage);
            writer.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    private static void WriteText(Utf8JsonWriter writer, string text)
    {
        writer.WriteStartObject();
        writer.WriteString("type", "text");
        writer.WriteString("text", text);
        writer.WriteEndObject();
    }

    /// <summary>
    /// A tool call's arguments as Anthropic's <c>input</c> object. Arguments that are not a JSON object (a model can
    /// produce anything) are kept whole as <c>{"_raw_arguments": "..."}</c>: nothing the model said is lost.
    /// </summary>
    internal static void WriteInput(Utf8JsonWriter writer, string arguments)
    {
        try
        {
            using var document = JsonDocument.Parse(arguments);
            if (document.RootElement.ValueKind == JsonValueKind.Object)
            {
                document.RootElement.WriteTo(writer);
                return;
            }
        }
        catch (JsonException)
        {
            // Not JSON: written below.
        }
        writer.WriteStartObject();
        writer.WriteString("_raw_arguments", arguments);
        writer.WriteEndObject();
    }

    /// <summary><c>{"input_tokens", "output_tokens"}</c>; a count the provider did not report is written as 0.</summary>
    internal static void WriteUsage(Utf8JsonWriter writer, Usage usage)
    {
        writer.WriteStartObject("usage");
        writer.WriteNumber("input_tokens", usage.InputTokens ?? 0);
        writer.WriteNumber("output_tokens", usage.OutputTokens ?? 0);
        writer.WriteEndObject();
    }
}

/// <summary>
/// Writes a typed inference's stream as Anthropic Messages events (<c>event: &lt;type&gt;</c> and <c>data: {...}</c>):
/// <c>message_start</c> and <c>ping</c>, then per content block <c>content_block_start</c>, its deltas
/// (<c>text_delta</c>, <c>input_json_delta</c>, <c>thinking_delta</c>) and <c>content_block_stop</c> (each block closed
/// before the next starts), then <c>message_delta</c> (stop reason and usage) and <c>message_stop</c>.
/// </summary>
internal sealed class AnthropicMessagesStreamWriter
{
    private readonly string _id;
    private readonly string _model;
    private readonly FunctionKind _kind;
    private readonly Utf8JsonWriter _writer = new(Stream.Null, JsonOptions.Writer);
    private readonly Dictionary<string, int> _toolIndexes = new(StringComparer.Ordinal);
    private bool _started;
    private int _blocks;
    private string? _openType;
    private string? _openId;
    private bool _sawToolCall;
    private StreamChunkFilter? _lazyFilter;

    public AnthropicMessagesStreamWriter(Guid inferenceId, string model, FunctionKind kind)
    {
        _id = AnthropicMessagesWriter.MessageId(inferenceId);
        _model = model;
        _kind = kind;
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
            Text("text", jsonRaw, output);
            return;
        }
        foreach (var block in chunk.Content)
        {
            switch (block)
            {
                case TextChunk text:
                    Text(text.Id, text.Text, output);
                    break;
                case ToolCallChunk call when ToolCallsAsText:
                    Text(call.Id, call.RawArguments, output);
                    break;
                case ToolCallChunk call:
                    ToolCall(call, output);
                    break;
                case ThoughtChunk { Text: { Length: > 0 } thinking } thought:
                    Open("thinking", thought.Id, output, w =>
                    {
                        w.WriteString("type", "thinking");
                        w.WriteString("thinking", "");
                        w.WriteString("signature", "");
                    });
                    Delta(output, w =>
                    {
                        w.WriteString("type", "thinking_delta");
                        w.WriteString("thinking", thinking);
                    });
                    break;
            }
        }
    }

    /// <summary>Closes the open block, then <c>message_delta</c> and <c>message_stop</c>.</summary>
    public void WriteDone(IBufferWriter<byte> output)
    {
        Start(output);
        CloseOpen(output);
        var usage = Filter.Usage;
        var writer = Begin(output, "message_delta");
        writer.WriteStartObject("delta");
        writer.WriteString("stop_reason", AnthropicMessagesWriter.StopReason(Filter.FinishReason, _sawToolCall));
        writer.WriteNull("stop_sequence");
        writer.WriteEndObject();
        writer.WriteStartObject("usage");
        // Anthropic reports input tokens at the start; an OpenAI-style provider reports them only at the end.
        writer.WriteNumber("input_tokens", usage.InputTokens ?? 0);
        writer.WriteNumber("output_tokens", usage.OutputTokens ?? 0);
        writer.WriteEndObject();
        End(output);
        Begin(output, "message_stop");
        End(output);
    }

    /// <summary>An <c>error</c> event (<c>{"type": "error", "error": {"type": "api_error", "message"}}</c>).</summary>
    public void WriteError(IBufferWriter<byte> output, string message)
    {
        Start(output);
        var writer = Begin(output, "error");
        writer.WriteStartObject("error");
        writer.WriteString("type", "api_error");
        writer.WriteString("message", message);
        writer.WriteEndObject();
        End(output);
    }

    private void Start(IBufferWriter<byte> output)
    {
        if (_started)
        {
            return;
        }
        _started = true;
        var writer = Begin(output, "message_start");
        writer.WriteStartObject("message");
        writer.WriteString("id", _id);
        writer.WriteString("type", "message");
        writer.WriteString("role", "assistant");
        writer.WriteStartArray("content");
        writer.WriteEndArray();
        writer.WriteString("model", _model);
        writer.WriteNull("stop_reason");
        writer.WriteNull("stop_sequence");
        AnthropicMessagesWriter.WriteUsage(writer, Usage.Zero);
        writer.WriteEndObject();
        End(output);
        Begin(output, "ping");
        End(output);
    }

    private void Text(string id, string? text, IBufferWriter<byte> output)
    {
        if (string.IsNullOrEmpty(text))
        {
            return;
        }
        // Consecutive text pieces form one block whatever their ids.
        if (_openType != "text")
        {
            Open("text", id, output, w =>
            {
                w.WriteString("type", "text");
                w.WriteString("text", "");
            });
        }
        Delta(output, w =>
        {
            w.WriteString("type", "text_delta");
            w.WriteString("text", text);
        });
    }

    private void ToolCall(ToolCallChunk call, IBufferWriter<byte> output)
    {
        _sawToolCall = true;
        if (!(_openType == "tool_use" && _openId == call.Id))
        {
            if (_toolIndexes.ContainsKey(call.Id))
            {
                // A piece of a call whose block was closed: Anthropic's stream cannot reopen a block.
                return;
            }
            Open("tool_use", call.Id, output, w =>
            {
                w.WriteString("type", "tool_use");
                w.WriteString("id", call.Id);
                w.WriteString("name", call.RawName ?? "");
                w.WriteStartObject("input");
                w.WriteEndObject();
            });
            _toolIndexes[call.Id] = _blocks - 1;
        }
        if (call.RawArguments.Length > 0)
        {
            Delta(output, w =>
            {
                w.WriteString("type", "input_json_delta");
                w.WriteString("partial_json", call.RawArguments);
            });
        }
    }

    private void Open(string type, string id, IBufferWriter<byte> output, Action<Utf8JsonWriter> writeBlock)
    {
        if (_openType == type && _openId == id)
        {
            return;
        }
        CloseOpen(output);
        _openType = type;
        _openId = id;
        var writer = Begin(output, "content_block_start");
        writer.WriteNumber("index", _blocks++);
        writer.WriteStartObject("content_block");
        writeBlock(writer);
        writer.WriteEndObject();
        End(output);
    }

    private void Delta(IBufferWriter<byte> output, Action<Utf8JsonWriter> writeDelta)
    {
        var writer = Begin(output, "content_block_delta");
        writer.WriteNumber("index", _blocks - 1);
        writer.WriteStartObject("delta");
        writeDelta(writer);
        writer.WriteEndObject();
        End(output);
    }

    private void CloseOpen(IBufferWriter<byte> output)
    {
        if (_openType is null)
        {
            return;
        }
        _openType = _openId = null;
        var writer = Begin(output, "content_block_stop");
        writer.WriteNumber("index", _blocks - 1);
        End(output);
    }

    private Utf8JsonWriter Begin(IBufferWriter<byte> output, string type)
    {
        output.Write("event: "u8);
        output.Write(Encoding.UTF8.GetBytes(type));
        output.Write("\n"u8);
        ResponseJson.StartEvent(output);
        _writer.Reset(output);
        _writer.WriteStartObject();
        _writer.WriteString("type", type);
        return _writer;
    }

    private void End(IBufferWriter<byte> output)
    {
        _writer.WriteEndObject();
        _writer.Flush();
        ResponseJson.EndEvent(output);
    }
}

/// <summary>
/// Writes errors of the Anthropic Messages ingress in Anthropic's shape,
/// <c>{"type": "error", "error": {"type", "message"}}</c>, with the error type Anthropic gives each status.
/// </summary>
internal static class AnthropicError
{
    /// <summary>Anthropic's error type for an HTTP status.</summary>
    public static string TypeFor(int status) => status switch
    {
        400 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        408 or 504 => "timeout_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        _ => status < 500 ? "invalid_request_error" : "api_error",
    };

    public static Task WriteAsync(HttpContext context, int statusCode, string message, Action<HttpContext>? setHeaders = null)
    {
        var response = context.Response;
        if (response.HasStarted)
        {
            // Too late for a status code: the caller ends a stream with an SSE error event instead.
            return Task.CompletedTask;
        }
        response.Clear();
        response.StatusCode = statusCode;
        response.ContentType = "application/json";
        setHeaders?.Invoke(context);
        return response.Body.WriteAsync(Serialize(statusCode, message), context.RequestAborted).AsTask();
    }

    public static byte[] Serialize(int statusCode, string message)
    {
        var buffer = new ArrayBufferWriter<byte>(96 + message.Length);
        using (var writer = new Utf8JsonWriter(buffer, JsonOptions.Writer))
        {
            writer.WriteStartObject();
            writer.WriteString("type", "error");
            writer.WriteStartObject("error");
            writer.WriteString("type", TypeFor(statusCode));
            writer.WriteString("message", message);
            writer.WriteEndObject();
            writer.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }
}
