using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using TensorZero.Proxy.Inference;

namespace TensorZero.Proxy.Observability;

/// <summary>The ClickHouse tables the gateway writes, each with its own queue folder of the same name.</summary>
internal enum RecordTable
{
    ChatInference,
    ModelInference,
}

/// <summary>
/// Turns a completed inference into ClickHouse <c>JSONEachRow</c> lines (DESIGN.md §7): one <c>ChatInference</c>
/// row and one <c>ModelInference</c> row per attempt that was made (circuit-open skips are not attempts). Only
/// types ClickHouse 18.16 reads: UUIDs as strings, <c>DateTime('UTC')</c> as <c>YYYY-MM-DD hh:mm:ss</c>, Nested
/// columns as parallel arrays (<c>tags.key</c>, <c>tags.value</c>), nulls for absent Nullable values.
/// Used by the single writer task only: it reuses its buffers.
/// </summary>
internal sealed class InferenceRecords
{
    /// <summary>Request fields that describe tools, stored in <c>tool_params</c>.</summary>
    private static readonly string[] ToolFields = ["tools", "tool_choice", "parallel_tool_calls", "functions", "function_call"];

    /// <summary>Request fields stored elsewhere or not at all (the rest is <c>inference_params</c>).</summary>
    private static readonly string[] NonParamFields = ["model", "messages", "stream"];

    private readonly int _maxRawBytes;
    private readonly double _ticksPerSecond;
    private readonly ArrayBufferWriter<byte> _scratch = new(1024);
    private Utf8JsonWriter? _writer;
    private Utf8JsonWriter? _scratchWriter;

    public InferenceRecords(int maxRawBytes, TimeProvider time)
    {
        _maxRawBytes = maxRawBytes;
        _ticksPerSecond = time.TimestampFrequency;
    }

    /// <summary>Appends the inference's rows (each a line) to the two outputs; returns how many rows each got.</summary>
    public (int Chat, int Model) Write(InferenceFeature inference, IBufferWriter<byte> chat, IBufferWriter<byte> model)
    {
        foreach (var attempt in inference.Attempts)
        {
            attempt.Response?.Complete();
        }

        var modelRows = 0;
        for (var i = 0; i < inference.Attempts.Count; i++)
        {
            var attempt = inference.Attempts[i];
            if (attempt.WasAttempted)
            {
                WriteModelInference(inference, attempt, modelRows + 1, model);
                modelRows++;
            }
        }
        WriteChatInference(inference, chat);
        return (1, modelRows);
    }

    private Utf8JsonWriter Start(IBufferWriter<byte> output)
    {
        if (_writer is null)
        {
            _writer = new Utf8JsonWriter(output, JsonOptions.Writer);
        }
        else
        {
            _writer.Reset(output);
        }
        _writer.WriteStartObject();
        return _writer;
    }

    private static void End(Utf8JsonWriter writer, IBufferWriter<byte> output)
    {
        writer.WriteEndObject();
        writer.Flush();
        output.Write("\n"u8);
    }

    private void WriteChatInference(InferenceFeature inference, IBufferWriter<byte> output)
    {
        var committed = inference.CommittedAttempt;
        var capture = committed?.Response;
        var w = Start(output);
        w.WriteString("id", inference.InferenceId);
        w.WriteString("episode_id", inference.EpisodeId);
        w.WriteString("function_name", inference.FunctionName);
        w.WriteString("variant_name", inference.VariantName ?? "");
        w.WriteString("model", inference.Request.Model);
        w.WriteString("model_name", committed?.Model ?? "");
        w.WriteString("model_provider_name", committed?.Provider ?? "");
        WriteRequestParts(w, inference.Request.Body);
        WriteOutput(w, capture);
        WriteNested(w, "tags", inference.Tags);
        WriteNullableString(w, "extra_headers", inference.ExtraHeadersJson);
        WriteNullableString(w, "extra_body", inference.ExtraBodyJson);
        WriteNullableNumber(w, "input_tokens", capture?.InputTokens);
        WriteNullableNumber(w, "output_tokens", capture?.OutputTokens);
        WriteNullableString(w, "finish_reason", capture?.FinishReason);
        w.WriteNumber("processing_time_ms", Milliseconds(inference.Duration));
        long? ttft = null;
        if (inference.Request.Stream && committed?.TimeToFirstToken is { } first)
        {
            var before = committed.StartedTimestamp == 0 ? TimeSpan.Zero : Elapsed(inference.StartedTimestamp, committed.StartedTimestamp);
            ttft = Milliseconds(before + first);
        }
        WriteNullableNumber(w, "ttft_ms", ttft);
        w.WriteString("outcome", Describe(inference.Outcome));
        w.WriteNumber("attempt_count", inference.AttemptCount);
        w.WriteNumber("stream", inference.Request.Stream ? 1 : 0);
        w.WriteString("timestamp", Timestamp(inference.StartedAt));
        End(w, output);
    }

    private void WriteModelInference(InferenceFeature inference, AttemptRecord attempt, int ordinal, IBufferWriter<byte> output)
    {
        var startedAt = attempt.StartedTimestamp == 0
            ? inference.StartedAt
            : inference.StartedAt + Elapsed(inference.StartedTimestamp, attempt.StartedTimestamp);
        var capture = attempt.Response;
        var w = Start(output);
        w.WriteString("id", Guid.CreateVersion7(startedAt));
        w.WriteString("inference_id", inference.InferenceId);
        w.WriteNumber("attempt", ordinal);
        w.WriteString("model_name", attempt.Model);
        w.WriteString("model_provider_name", attempt.Provider);
        w.WriteString("variant_name", attempt.Variant ?? "");
        var request = attempt.RawRequest ?? ReadOnlyMemory<byte>.Empty;
        WriteCapped(w, "raw_request", request.Span);
        w.WriteNumber("raw_request_bytes", request.Length);
        WriteCapped(w, "raw_response", capture is null ? [] : capture.Raw);
        w.WriteNumber("raw_response_bytes", capture?.RawLength ?? 0);
        WriteNullableNumber(w, "input_tokens", capture?.InputTokens);
        WriteNullableNumber(w, "output_tokens", capture?.OutputTokens);
        WriteNullableString(w, "finish_reason", capture?.FinishReason);
        w.WriteNumber("response_time_ms", Milliseconds(attempt.Elapsed));
        WriteNullableNumber(w, "ttft_ms", inference.Request.Stream && attempt.TimeToFirstToken is { } t ? Milliseconds(t) : null);
        w.WriteString("outcome", Describe(attempt.Outcome));
        WriteNullableNumber(w, "status_code", attempt.StatusCode);
        WriteNullableString(w, "error", attempt.Error);
        WriteNested(w, "headers", attempt.AppliedHeaders);
        w.WriteString("timestamp", Timestamp(startedAt));
        End(w, output);
    }

    /// <summary>
    /// <c>input</c> (the <c>messages</c> array as sent), <c>tool_params</c> (tools, tool_choice, ...) and
    /// <c>inference_params</c> (every other OpenAI field: temperature, max_tokens, response_format, ...), each as
    /// JSON text, copied from the body without building a DOM.
    /// </summary>
    private void WriteRequestParts(Utf8JsonWriter w, byte[] body)
    {
        ReadOnlySpan<byte> messages = "[]"u8;
        var tools = new List<(string Name, Range Value)>();
        var parameters = new List<(string Name, Range Value)>();
        var reader = new Utf8JsonReader(body);
        try
        {
            if (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
            {
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    var name = reader.GetString()!;
                    reader.Read();
                    var start = (int)reader.TokenStartIndex;
                    reader.Skip();
                    var value = new Range(start, (int)reader.BytesConsumed);
                    if (name == "messages")
                    {
                        messages = body.AsSpan(value);
                    }
                    else if (Array.IndexOf(ToolFields, name) >= 0)
                    {
                        tools.Add((name, value));
                    }
                    else if (Array.IndexOf(NonParamFields, name) < 0 && !name.StartsWith(InferenceRequest.TensorZeroPrefix, StringComparison.Ordinal))
                    {
                        parameters.Add((name, value));
                    }
                }
            }
        }
        catch (JsonException)
        {
            // The middleware parsed this body already; a failure here only leaves the columns empty.
        }
        w.WriteString("input", messages);
        WriteObjectText(w, "tool_params", body, tools);
        WriteObjectText(w, "inference_params", body, parameters);
    }

    /// <summary>Writes <paramref name="members"/> as the text of one JSON object (empty string when there are none).</summary>
    private void WriteObjectText(Utf8JsonWriter w, string column, byte[] body, List<(string Name, Range Value)> members)
    {
        if (members.Count == 0)
        {
            w.WriteString(column, "");
            return;
        }
        _scratch.ResetWrittenCount();
        var inner = Scratch();
        inner.WriteStartObject();
        foreach (var (name, value) in members)
        {
            inner.WritePropertyName(name);
            inner.WriteRawValue(body.AsSpan(value), skipInputValidation: true);
        }
        inner.WriteEndObject();
        inner.Flush();
        w.WriteString(column, _scratch.WrittenSpan);
    }

    /// <summary><c>output</c>: TensorZero's content blocks, <c>[{"type":"text",...},{"type":"tool_call",...}]</c>, as JSON text.</summary>
    private void WriteOutput(Utf8JsonWriter w, ResponseCapture? capture)
    {
        _scratch.ResetWrittenCount();
        var inner = Scratch();
        inner.WriteStartArray();
        if (capture?.Text is { } text)
        {
            inner.WriteStartObject();
            inner.WriteString("type", "text");
            inner.WriteString("text", text);
            inner.WriteEndObject();
        }
        foreach (var call in capture?.ToolCalls ?? [])
        {
            inner.WriteStartObject();
            inner.WriteString("type", "tool_call");
            if (call.Id is null)
            {
                inner.WriteNull("id");
            }
            else
            {
                inner.WriteString("id", call.Id);
            }
            inner.WriteString("name", call.Name);
            inner.WriteString("arguments", call.Arguments);
            inner.WriteEndObject();
        }
        inner.WriteEndArray();
        inner.Flush();
        w.WriteString("output", _scratch.WrittenSpan);
    }

    private Utf8JsonWriter Scratch()
    {
        if (_scratchWriter is null)
        {
            _scratchWriter = new Utf8JsonWriter(_scratch, JsonOptions.Writer);
        }
        else
        {
            _scratchWriter.Reset(_scratch);
        }
        return _scratchWriter;
    }

    /// <summary>Bytes as a string column, at most the cap, cut on a UTF-8 boundary; invalid UTF-8 becomes U+FFFD.</summary>
    private void WriteCapped(Utf8JsonWriter w, string column, ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length > _maxRawBytes)
        {
            var cut = _maxRawBytes;
            while (cut > 0 && (bytes[cut] & 0xC0) == 0x80)
            {
                cut--;
            }
            bytes = bytes[..cut];
        }
        if (Utf8.IsValid(bytes))
        {
            w.WriteString(column, bytes);
        }
        else
        {
            w.WriteString(column, Encoding.UTF8.GetString(bytes));
        }
    }

    private static void WriteNested(Utf8JsonWriter w, string column, IEnumerable<KeyValuePair<string, string>> pairs)
    {
        var list = pairs as IReadOnlyCollection<KeyValuePair<string, string>> ?? [.. pairs];
        w.WriteStartArray(column + ".key");
        foreach (var pair in list)
        {
            w.WriteStringValue(pair.Key);
        }
        w.WriteEndArray();
        w.WriteStartArray(column + ".value");
        foreach (var pair in list)
        {
            w.WriteStringValue(pair.Value);
        }
        w.WriteEndArray();
    }

    private static void WriteNullableString(Utf8JsonWriter w, string column, string? value)
    {
        if (value is null)
        {
            w.WriteNull(column);
        }
        else
        {
            w.WriteString(column, value);
        }
    }

    private static void WriteNullableNumber(Utf8JsonWriter w, string column, long? value)
    {
        if (value is { } v)
        {
            w.WriteNumber(column, v);
        }
        else
        {
            w.WriteNull(column);
        }
    }

    private TimeSpan Elapsed(long from, long to) => TimeSpan.FromSeconds(Math.Max(0, to - from) / _ticksPerSecond);

    private static long Milliseconds(TimeSpan span) => Math.Clamp((long)Math.Round(span.TotalMilliseconds), 0, uint.MaxValue);

    /// <summary>ClickHouse's basic DateTime text, in UTC (the columns are <c>DateTime('UTC')</c>).</summary>
    public static string Timestamp(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);

    public static string Describe(InferenceOutcome outcome) => outcome switch
    {
        InferenceOutcome.Ok => "ok",
        InferenceOutcome.Truncated => "truncated",
        InferenceOutcome.ClientAbort => "client_abort",
        _ => "error",
    };

    public static string Describe(AttemptOutcome outcome) => outcome switch
    {
        AttemptOutcome.Ok => "ok",
        AttemptOutcome.Status => "status",
        AttemptOutcome.ConnectError => "connect_error",
        AttemptOutcome.Timeout => "timeout",
        AttemptOutcome.NoFirstToken => "no_first_token",
        AttemptOutcome.ClientAbort => "client_abort",
        AttemptOutcome.Truncated => "truncated",
        AttemptOutcome.CircuitOpen => "circuit_open",
        _ => "error",
    };
}
