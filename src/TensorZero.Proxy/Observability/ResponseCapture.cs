using System.Buffers;
using System.Text;
using System.Text.Json;
using TensorZero.Proxy.Inference;
using TensorZero.Proxy.Transforms;

namespace TensorZero.Proxy.Observability;

/// <summary>
/// One attempt's response as the provider sent it, for the <c>ModelInference</c> row and (for the attempt that
/// reached the client) the <c>ChatInference</c> output. Streams are reassembled as their events pass
/// (<c>choices[0].delta.content</c>, <c>delta.tool_calls</c> by index, <c>finish_reason</c>, <c>usage</c>); a
/// buffered body is only kept by reference and parsed later, off the client's path, by <see cref="Complete"/>.
/// The raw bytes are kept up to a cap. Written by one response path, read after the inference completed.
/// </summary>
internal sealed class ResponseCapture : IResponseTap
{
    private readonly int _maxRawBytes;
    // The text: a body's one content string as it is; a stream's deltas joined once there is a second one.
    private string? _firstText;
    private StringBuilder? _text;
    private readonly List<ToolCallBuilder> _toolCalls = [];
    private ArrayBufferWriter<byte>? _raw;
    private ReadOnlyMemory<byte>? _body;
    private long _rawTotal;
    private bool _sawContent;
    private bool _completed;

    public ResponseCapture(int maxRawBytes)
    {
        _maxRawBytes = maxRawBytes;
    }

    /// <summary>Whether the response was an event stream.</summary>
    public bool IsStream { get; private set; }

    /// <summary>The assistant's text, or null when it produced none.</summary>
    public string? Text => _sawContent ? _text?.ToString() ?? _firstText : null;

    /// <summary>The assistant's tool calls, in index order.</summary>
    public IReadOnlyList<CapturedToolCall> ToolCalls => _toolCalls.Count == 0
        ? []
        : [.. _toolCalls.OrderBy(t => t.Index).Select(t => new CapturedToolCall(t.Id, t.Name.ToString(), t.Arguments.ToString()))];

    public string? FinishReason { get; private set; }

    public int? InputTokens { get; private set; }

    public int? OutputTokens { get; private set; }

    /// <summary>Total bytes the provider sent (before the cap).</summary>
    public long RawLength => _body?.Length ?? _rawTotal;

    /// <summary>The raw response, at most the cap.</summary>
    public ReadOnlySpan<byte> Raw => _body is { } body ? body.Span[..Math.Min(body.Length, _maxRawBytes)] : _raw is null ? [] : _raw.WrittenSpan;

    /// <inheritdoc />
    public void OnBody(ReadOnlyMemory<byte> body) => _body = body;

    /// <inheritdoc />
    public void OnBodyChunk(ReadOnlySpan<byte> chunk) => AppendRaw(chunk);

    /// <inheritdoc />
    public void OnEvent(ReadOnlySpan<byte> sseEvent)
    {
        IsStream = true;
        AppendRaw(sseEvent);
        var data = DataOf(sseEvent, out var rented);
        try
        {
            if (data.Length == 0 || data.Span[0] != (byte)'{')
            {
                return; // "[DONE]", comments, keep-alives.
            }
            ReadCompletion(data.Span, "delta"u8);
        }
        catch (JsonException)
        {
            // A malformed event is still in the raw response; it adds nothing to the output.
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    /// <summary>Parses a buffered body (once); call after the response has gone to the client.</summary>
    public void Complete()
    {
        if (_completed)
        {
            return;
        }
        _completed = true;
        if (_body is not { Length: > 0 } body)
        {
            return;
        }
        try
        {
            ReadCompletion(body.Span, "message"u8);
        }
        catch (JsonException)
        {
            // Not JSON: the raw response is all there is.
        }
    }

    /// <summary>
    /// A completion body (<paramref name="messageMember"/> <c>message</c>) or a stream chunk (<c>delta</c>) in one reader
    /// pass (no document): the first choice's message (content appended, tool call parts appended by index) and
    /// <c>finish_reason</c>, and <c>usage</c>. What it finds is kept only once the whole payload has read as JSON.
    /// </summary>
    private void ReadCompletion(ReadOnlySpan<byte> json, ReadOnlySpan<byte> messageMember)
    {
        var reader = new Utf8JsonReader(json);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            reader.Skip();
            return;
        }
        var found = new ParsedCompletion();
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("choices"u8))
            {
                if (EnterValue(ref reader, JsonTokenType.StartArray))
                {
                    while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                    {
                        ReadChoice(ref reader, messageMember, found);
                    }
                }
            }
            else if (reader.ValueTextEquals("usage"u8))
            {
                if (EnterValue(ref reader, JsonTokenType.StartObject))
                {
                    ReadUsage(ref reader, found);
                }
            }
            else
            {
                SkipValue(ref reader);
            }
        }
        // The rest of the body must be whitespace: a body that is not one JSON value adds nothing.
        if (reader.Read())
        {
            return;
        }

        foreach (var choice in found.FirstChoices)
        {
            if (choice.Content is { } content)
            {
                if (!_sawContent)
                {
                    _firstText = content;
                }
                else
                {
                    (_text ??= new StringBuilder(_firstText)).Append(content);
                }
                _sawContent = true;
            }
            var position = 0;
            foreach (var call in choice.ToolCalls)
            {
                // Without an index, a stream's parts belong to call 0 and a body's calls come in order.
                var index = call.Index ?? (IsStream ? 0 : position);
                position++;
                var builder = _toolCalls.Find(t => t.Index == index);
                if (builder is null)
                {
                    builder = new ToolCallBuilder(index);
                    _toolCalls.Add(builder);
                }
                builder.Id = call.Id ?? builder.Id;
                builder.Name.Append(call.Name);
                builder.Arguments.Append(call.Arguments);
            }
            FinishReason = choice.FinishReason ?? FinishReason;
        }
        InputTokens = found.InputTokens ?? InputTokens;
        OutputTokens = found.OutputTokens ?? OutputTokens;
    }

    /// <summary><c>usage</c>: the prompt and completion token counts.</summary>
    private static void ReadUsage(ref Utf8JsonReader reader, ParsedCompletion found)
    {
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("prompt_tokens"u8))
            {
                found.InputTokens = ReadInt32(ref reader) ?? found.InputTokens;
            }
            else if (reader.ValueTextEquals("completion_tokens"u8))
            {
                found.OutputTokens = ReadInt32(ref reader) ?? found.OutputTokens;
            }
            else
            {
                SkipValue(ref reader);
            }
        }
    }

    /// <summary>One element of <c>choices</c>, kept when it is the first choice (no <c>index</c>, or 0).</summary>
    private static void ReadChoice(ref Utf8JsonReader reader, ReadOnlySpan<byte> messageMember, ParsedCompletion found)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            reader.Skip();
            return;
        }
        var choice = new ParsedChoice();
        var first = true;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("index"u8))
            {
                first = ReadInt32(ref reader) == 0;
            }
            else if (reader.ValueTextEquals("finish_reason"u8))
            {
                choice.FinishReason = ReadString(ref reader);
            }
            else if (reader.ValueTextEquals(messageMember))
            {
                if (EnterValue(ref reader, JsonTokenType.StartObject))
                {
                    ReadMessage(ref reader, choice);
                }
            }
            else
            {
                SkipValue(ref reader);
            }
        }
        if (first)
        {
            found.FirstChoices.Add(choice);
        }
    }

    /// <summary>A choice's message or delta: its string <c>content</c> and its <c>tool_calls</c>.</summary>
    private static void ReadMessage(ref Utf8JsonReader reader, ParsedChoice choice)
    {
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("content"u8))
            {
                choice.Content = ReadString(ref reader) ?? choice.Content;
            }
            else if (reader.ValueTextEquals("tool_calls"u8))
            {
                if (EnterValue(ref reader, JsonTokenType.StartArray))
                {
                    ReadToolCalls(ref reader, choice);
                }
            }
            else
            {
                SkipValue(ref reader);
            }
        }
    }

    /// <summary>The elements of <c>tool_calls</c> that are objects.</summary>
    private static void ReadToolCalls(ref Utf8JsonReader reader, ParsedChoice choice)
    {
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                reader.Skip();
                continue;
            }
            choice.ToolCalls.Add(ReadToolCall(ref reader));
        }
    }

    private static ParsedToolCall ReadToolCall(ref Utf8JsonReader reader)
    {
        var call = new ParsedToolCall();
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("index"u8))
            {
                call.Index = ReadInt32(ref reader);
            }
            else if (reader.ValueTextEquals("id"u8))
            {
                call.Id = ReadString(ref reader);
            }
            else if (reader.ValueTextEquals("function"u8))
            {
                if (EnterValue(ref reader, JsonTokenType.StartObject))
                {
                    ReadFunction(ref reader, call);
                }
            }
            else
            {
                SkipValue(ref reader);
            }
        }
        return call;
    }

    /// <summary>A tool call's <c>function</c>: its name and arguments.</summary>
    private static void ReadFunction(ref Utf8JsonReader reader, ParsedToolCall call)
    {
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("name"u8))
            {
                call.Name = ReadString(ref reader);
            }
            else if (reader.ValueTextEquals("arguments"u8))
            {
                call.Arguments = ReadString(ref reader);
            }
            else
            {
                SkipValue(ref reader);
            }
        }
    }

    private void AppendRaw(ReadOnlySpan<byte> bytes)
    {
        _rawTotal += bytes.Length;
        var room = _maxRawBytes - (_raw?.WrittenCount ?? 0);
        if (room <= 0)
        {
            return;
        }
        _raw ??= new ArrayBufferWriter<byte>(Math.Min(_maxRawBytes, 4096));
        _raw.Write(bytes[..Math.Min(room, bytes.Length)]);
    }

    /// <summary>The payload of an event's <c>data:</c> lines (joined by '\n' when there are several), copied to <paramref name="rented"/>.</summary>
    private static ReadOnlyMemory<byte> DataOf(ReadOnlySpan<byte> sseEvent, out byte[]? rented)
    {
        rented = null;
        var length = 0;
        var rest = sseEvent;
        while (!rest.IsEmpty)
        {
            var end = rest.IndexOfAny((byte)'\r', (byte)'\n');
            var line = end < 0 ? rest : rest[..end];
            rest = end < 0 ? [] : rest[(end + 1)..];
            if (!line.StartsWith("data:"u8))
            {
                continue;
            }
            var payload = line[5..];
            if (!payload.IsEmpty && payload[0] == (byte)' ')
            {
                payload = payload[1..];
            }
            rented ??= ArrayPool<byte>.Shared.Rent(sseEvent.Length);
            if (length > 0)
            {
                rented[length++] = (byte)'\n';
            }
            payload.CopyTo(rented.AsSpan(length));
            length += payload.Length;
        }
        return rented is null ? ReadOnlyMemory<byte>.Empty : rented.AsMemory(0, length);
    }

    /// <summary>The value of the member whose name the reader is at, when it is a string (any other value is skipped).</summary>
    private static string? ReadString(ref Utf8JsonReader reader)
    {
        reader.Read();
        var value = reader.TokenType == JsonTokenType.String ? GetText(ref reader) : null;
        reader.Skip();
        return value;
    }

    /// <summary>
    /// A string token's text. A provider can send invalid UTF-8, on which <see cref="Utf8JsonReader.GetString"/>
    /// throws: such bytes become U+FFFD instead (escapes are ASCII, so they survive the lenient decoding).
    /// </summary>
    private static string GetText(ref Utf8JsonReader reader)
    {
        try
        {
            return reader.GetString()!;
        }
        catch (InvalidOperationException)
        {
            var lenient = Encoding.UTF8.GetString(reader.ValueSpan);
            return reader.ValueIsEscaped ? JsonSerializer.Deserialize<string>("\"" + lenient + "\"")! : lenient;
        }
    }

    /// <summary>The value of the member whose name the reader is at, when it is a 32-bit integer (any other value is skipped).</summary>
    private static int? ReadInt32(ref Utf8JsonReader reader)
    {
        reader.Read();
        int? value = reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out var number) ? number : null;
        reader.Skip();
        return value;
    }

    /// <summary>
    /// Reads the value of the member whose name the reader is at: true, at its first token, when it starts with
    /// <paramref name="start"/>; otherwise skips it. The caller matches the name first and reads the value only
    /// then: a name test on a value token would throw (<see cref="Utf8JsonReader.ValueTextEquals(ReadOnlySpan{byte})"/>).
    /// </summary>
    private static bool EnterValue(ref Utf8JsonReader reader, JsonTokenType start)
    {
        reader.Read();
        if (reader.TokenType == start)
        {
            return true;
        }
        reader.Skip();
        return false;
    }

    /// <summary>Skips the value of the member whose name the reader is at.</summary>
    private static void SkipValue(ref Utf8JsonReader reader)
    {
        reader.Read();
        reader.Skip();
    }

    /// <summary>What a body or chunk holds, kept aside until the whole of it has read as JSON.</summary>
    private sealed class ParsedCompletion
    {
        public readonly List<ParsedChoice> FirstChoices = [];
        public int? InputTokens;
        public int? OutputTokens;
    }

    private sealed class ParsedChoice
    {
        public readonly List<ParsedToolCall> ToolCalls = [];
        public string? Content;
        public string? FinishReason;
    }

    private sealed class ParsedToolCall
    {
        public int? Index;
        public string? Id;
        public string? Name;
        public string? Arguments;
    }

    private sealed class ToolCallBuilder(int index)
    {
        public int Index { get; } = index;

        public string? Id { get; set; }

        public StringBuilder Name { get; } = new();

        public StringBuilder Arguments { get; } = new();
    }
}

/// <summary>A tool call of the assistant's output.</summary>
internal sealed record CapturedToolCall(string? Id, string Name, string Arguments);

/// <summary>
/// Creates the per-attempt captures while observability records inferences (none for dry runs or when disabled),
/// so nothing is copied or parsed when nothing would be stored.
/// </summary>
internal sealed class ResponseCaptures
{
    private readonly int _maxRawBytes;

    public ResponseCaptures(ObservabilitySettings settings)
    {
        Enabled = settings.Mode != ObservabilityMode.Disabled;
        _maxRawBytes = settings.Options.MaxRawBytes;
    }

    public bool Enabled { get; }

    /// <summary>A capture for one attempt, or null when the inference will not be recorded.</summary>
    public ResponseCapture? For(InferenceFeature inference) =>
        Enabled && !inference.Fields.DryRun ? new ResponseCapture(_maxRawBytes) : null;
}
