using System.Buffers;
using System.Globalization;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
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
    private static readonly byte[][] ToolFields = ["tools"u8.ToArray(), "tool_choice"u8.ToArray(), "parallel_tool_calls"u8.ToArray(),
        "functions"u8.ToArray(), "function_call"u8.ToArray()];

    /// <summary>Request fields stored elsewhere or not at all: model, messages, stream and the tensorzero:: ones.</summary>
    private static readonly byte[] TensorZeroPrefix = Encoding.UTF8.GetBytes(InferenceRequest.TensorZeroPrefix);

    // Column names, encoded once.
    private static readonly JsonEncodedText Id = JsonEncodedText.Encode("id");
    private static readonly JsonEncodedText EpisodeId = JsonEncodedText.Encode("episode_id");
    private static readonly JsonEncodedText FunctionName = JsonEncodedText.Encode("function_name");
    private static readonly JsonEncodedText VariantName = JsonEncodedText.Encode("variant_name");
    private static readonly JsonEncodedText Model = JsonEncodedText.Encode("model");
    private static readonly JsonEncodedText ModelName = JsonEncodedText.Encode("model_name");
    private static readonly JsonEncodedText ModelProviderName = JsonEncodedText.Encode("model_provider_name");
    private static readonly JsonEncodedText Input = JsonEncodedText.Encode("input");
    private static readonly JsonEncodedText ToolParams = JsonEncodedText.Encode("tool_params");
    private static readonly JsonEncodedText InferenceParams = JsonEncodedText.Encode("inference_params");
    private static readonly JsonEncodedText Output = JsonEncodedText.Encode("output");
    private static readonly JsonEncodedText ExtraHeaders = JsonEncodedText.Encode("extra_headers");
    private static readonly JsonEncodedText ExtraBody = JsonEncodedText.Encode("extra_body");
    private static readonly JsonEncodedText InputTokens = JsonEncodedText.Encode("input_tokens");
    private static readonly JsonEncodedText OutputTokens = JsonEncodedText.Encode("output_tokens");
    private static readonly JsonEncodedText FinishReason = JsonEncodedText.Encode("finish_reason");
    private static readonly JsonEncodedText ProcessingTimeMs = JsonEncodedText.Encode("processing_time_ms");
    private static readonly JsonEncodedText TtftMs = JsonEncodedText.Encode("ttft_ms");
    private static readonly JsonEncodedText Outcome = JsonEncodedText.Encode("outcome");
    private static readonly JsonEncodedText AttemptCount = JsonEncodedText.Encode("attempt_count");
    private static readonly JsonEncodedText Stream = JsonEncodedText.Encode("stream");
    private static readonly JsonEncodedText Timestamp = JsonEncodedText.Encode("timestamp");
    private static readonly JsonEncodedText InferenceId = JsonEncodedText.Encode("inference_id");
    private static readonly JsonEncodedText Attempt = JsonEncodedText.Encode("attempt");
    private static readonly JsonEncodedText RawRequest = JsonEncodedText.Encode("raw_request");
    private static readonly JsonEncodedText RawRequestBytes = JsonEncodedText.Encode("raw_request_bytes");
    private static readonly JsonEncodedText RawResponse = JsonEncodedText.Encode("raw_response");
    private static readonly JsonEncodedText RawResponseBytes = JsonEncodedText.Encode("raw_response_bytes");
    private static readonly JsonEncodedText ResponseTimeMs = JsonEncodedText.Encode("response_time_ms");
    private static readonly JsonEncodedText StatusCode = JsonEncodedText.Encode("status_code");
    private static readonly JsonEncodedText Error = JsonEncodedText.Encode("error");
    private static readonly JsonEncodedText Type = JsonEncodedText.Encode("type");
    private static readonly JsonEncodedText Text = JsonEncodedText.Encode("text");
    private static readonly JsonEncodedText Name = JsonEncodedText.Encode("name");
    private static readonly JsonEncodedText Arguments = JsonEncodedText.Encode("arguments");
    private static readonly JsonEncodedText TagsKey = JsonEncodedText.Encode("tags.key");
    private static readonly JsonEncodedText TagsValue = JsonEncodedText.Encode("tags.value");
    private static readonly JsonEncodedText HeadersKey = JsonEncodedText.Encode("headers.key");
    private static readonly JsonEncodedText HeadersValue = JsonEncodedText.Encode("headers.value");

    private readonly int _maxRawBytes;
    private readonly double _ticksPerSecond;
    private readonly ArrayBufferWriter<byte> _scratch = new(1024);
    private readonly ArrayBufferWriter<byte> _escaped = new(4096);
    private readonly List<Range> _tools = [];
    private readonly List<Range> _parameters = [];
    private readonly byte[] _timestampText = new byte[32];
    private long _timestampSecond = long.MinValue;
    private int _timestampLength;
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
        w.WriteString(Id, inference.InferenceId);
        w.WriteString(EpisodeId, inference.EpisodeId);
        w.WriteString(FunctionName, inference.FunctionName);
        w.WriteString(VariantName, inference.VariantName ?? "");
        w.WriteString(Model, inference.Request.Model);
        w.WriteString(ModelName, committed?.Model ?? "");
        w.WriteString(ModelProviderName, committed?.Provider ?? "");
        WriteRequestParts(w, inference.Request);
        WriteOutput(w, capture);
        WriteNested(w, TagsKey, TagsValue, inference.Tags);
        WriteNullableString(w, ExtraHeaders, inference.ExtraHeadersJson);
        WriteNullableString(w, ExtraBody, inference.ExtraBodyJson);
        WriteNullableNumber(w, InputTokens, capture?.InputTokens);
        WriteNullableNumber(w, OutputTokens, capture?.OutputTokens);
        WriteNullableString(w, FinishReason, capture?.FinishReason);
        w.WriteNumber(ProcessingTimeMs, Milliseconds(inference.Duration));
        long? ttft = null;
        if (inference.Request.Stream && committed?.TimeToFirstToken is { } first)
        {
            var before = committed.StartedTimestamp == 0 ? TimeSpan.Zero : Elapsed(inference.StartedTimestamp, committed.StartedTimestamp);
            ttft = Milliseconds(before + first);
        }
        WriteNullableNumber(w, TtftMs, ttft);
        w.WriteString(Outcome, Describe(inference.Outcome));
        w.WriteNumber(AttemptCount, inference.AttemptCount);
        w.WriteNumber(Stream, inference.Request.Stream ? 1 : 0);
        WriteTimestamp(w, inference.StartedAt);
        End(w, output);
    }

    private void WriteModelInference(InferenceFeature inference, AttemptRecord attempt, int ordinal, IBufferWriter<byte> output)
    {
        var startedAt = attempt.StartedTimestamp == 0
            ? inference.StartedAt
            : inference.StartedAt + Elapsed(inference.StartedTimestamp, attempt.StartedTimestamp);
        var capture = attempt.Response;
        var w = Start(output);
        w.WriteString(Id, UuidV7.Create(startedAt));
        w.WriteString(InferenceId, inference.InferenceId);
        w.WriteNumber(Attempt, ordinal);
        w.WriteString(ModelName, attempt.Model);
        w.WriteString(ModelProviderName, attempt.Provider);
        w.WriteString(VariantName, attempt.Variant ?? "");
        var request = attempt.RawRequest ?? ReadOnlyMemory<byte>.Empty;
        WriteCapped(w, RawRequest, request.Span);
        w.WriteNumber(RawRequestBytes, request.Length);
        WriteCapped(w, RawResponse, capture is null ? [] : capture.Raw);
        w.WriteNumber(RawResponseBytes, capture?.RawLength ?? 0);
        WriteNullableNumber(w, InputTokens, capture?.InputTokens);
        WriteNullableNumber(w, OutputTokens, capture?.OutputTokens);
        WriteNullableString(w, FinishReason, capture?.FinishReason);
        w.WriteNumber(ResponseTimeMs, Milliseconds(attempt.Elapsed));
        WriteNullableNumber(w, TtftMs, inference.Request.Stream && attempt.TimeToFirstToken is { } t ? Milliseconds(t) : null);
        w.WriteString(Outcome, Describe(attempt.Outcome));
        WriteNullableNumber(w, StatusCode, attempt.StatusCode);
        WriteNullableString(w, Error, attempt.Error);
        WriteNested(w, HeadersKey, HeadersValue, attempt.AppliedHeaders);
        WriteTimestamp(w, startedAt);
        End(w, output);
    }

    /// <summary>
    /// <c>input</c> (the <c>messages</c> array as sent), <c>tool_params</c> (tools, tool_choice, ...) and
    /// <c>inference_params</c> (every other OpenAI field: temperature, max_tokens, response_format, ...), each as
    /// JSON text. The members are the ones the request's parse located for its template (every member but the
    /// <c>tensorzero::</c> ones); each is classified by its name and copied as its raw text (no DOM, no second pass of
    /// a JSON reader over the body).
    /// </summary>
    private void WriteRequestParts(Utf8JsonWriter w, InferenceRequest request)
    {
        ReadOnlySpan<byte> messages = "[]"u8;
        _tools.Clear();
        _parameters.Clear();
        var body = request.Body;
        foreach (var member in request.Template.Members)
        {
            var text = body.AsSpan(member);
            switch (Classify(text, out var valueStart))
            {
                case MemberKind.Messages:
                    messages = text[valueStart..];
                    break;
                case MemberKind.Tool:
                    _tools.Add(member);
                    break;
                case MemberKind.Parameter:
                    _parameters.Add(member);
                    break;
            }
        }
        WriteText(w, Input, messages);
        WriteObjectText(w, ToolParams, body, _tools);
        WriteObjectText(w, InferenceParams, body, _parameters);
    }

    private enum MemberKind
    {
        Skipped,
        Messages,
        Tool,
        Parameter,
    }

    /// <summary>
    /// Where a member (<c>"name" : value</c>, as the parse located it) goes, by its name, and where its value starts.
    /// A name with escapes is unescaped first.
    /// </summary>
    private static MemberKind Classify(ReadOnlySpan<byte> member, out int valueStart)
    {
        // The name's closing quote: the first quote not escaped by a backslash.
        var end = 1;
        var escaped = false;
        while (member[end] != (byte)'"')
        {
            if (member[end] == (byte)'\\')
            {
                escaped = true;
                end++;
            }
            end++;
        }
        valueStart = end + 1;
        while (member[valueStart] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n' or (byte)':')
        {
            valueStart++;
        }
        if (!escaped)
        {
            return Classify(member[1..end]);
        }
        var reader = new Utf8JsonReader(member[..(end + 1)]);
        reader.Read();
        return Classify(Encoding.UTF8.GetBytes(reader.GetString()!));
    }

    private static MemberKind Classify(ReadOnlySpan<byte> name)
    {
        if (name.SequenceEqual("messages"u8))
        {
            return MemberKind.Messages;
        }
        if (name.SequenceEqual("model"u8) || name.SequenceEqual("stream"u8) || name.StartsWith(TensorZeroPrefix))
        {
            return MemberKind.Skipped;
        }
        foreach (var tool in ToolFields)
        {
            if (name.SequenceEqual(tool))
            {
                return MemberKind.Tool;
            }
        }
        return MemberKind.Parameter;
    }

    /// <summary>Writes the raw <paramref name="members"/> as the text of one JSON object (empty string when there are none).</summary>
    private void WriteObjectText(Utf8JsonWriter w, JsonEncodedText column, byte[] body, List<Range> members)
    {
        if (members.Count == 0)
        {
            w.WriteString(column, ""u8);
            return;
        }
        _scratch.ResetWrittenCount();
        _scratch.Write("{"u8);
        for (var i = 0; i < members.Count; i++)
        {
            if (i > 0)
            {
                _scratch.Write(","u8);
            }
            _scratch.Write(body.AsSpan(members[i]));
        }
        _scratch.Write("}"u8);
        WriteText(w, column, _scratch.WrittenSpan);
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
            inner.WriteString(Type, "text");
            inner.WriteString(Text, text);
            inner.WriteEndObject();
        }
        foreach (var call in capture?.ToolCalls ?? [])
        {
            inner.WriteStartObject();
            inner.WriteString(Type, "tool_call");
            if (call.Id is null)
            {
                inner.WriteNull(Id);
            }
            else
            {
                inner.WriteString(Id, call.Id);
            }
            inner.WriteString(Name, call.Name);
            inner.WriteString(Arguments, call.Arguments);
            inner.WriteEndObject();
        }
        inner.WriteEndArray();
        inner.Flush();
        WriteText(w, Output, _scratch.WrittenSpan);
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
    private void WriteCapped(Utf8JsonWriter w, JsonEncodedText column, ReadOnlySpan<byte> bytes)
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
        WriteText(w, column, bytes);
    }

    /// <summary>
    /// A string column holding text that is mostly JSON (request members, the raw request and response): UTF-8 as it
    /// is, with only what JSON requires escaped ('"', '\\', control characters). <see cref="Utf8JsonWriter"/>'s
    /// encoder takes its slow path at the first quote, and JSON text has a quote every few bytes. Invalid UTF-8
    /// becomes U+FFFD.
    /// </summary>
    private void WriteText(Utf8JsonWriter w, JsonEncodedText column, ReadOnlySpan<byte> utf8)
    {
        if (!Utf8.IsValid(utf8))
        {
            w.WriteString(column, Encoding.UTF8.GetString(utf8));
            return;
        }
        _escaped.ResetWrittenCount();
        EscapeString(utf8, _escaped);
        w.WritePropertyName(column);
        w.WriteRawValue(_escaped.WrittenSpan, skipInputValidation: true);
    }

    /// <summary>
    /// Writes valid UTF-8 as a JSON string literal, quotes included. JSON text has a byte to escape every few bytes,
    /// so the scan is inlined: 16 bytes are compared at once, the block is stored whole and the output advances to
    /// the first byte to escape (a search call per short run cost more than the run).
    /// </summary>
    internal static void EscapeString(ReadOnlySpan<byte> utf8, IBufferWriter<byte> output)
    {
        const int Block = 16;
        // Room for one block stored whole, or one escape (at most 6 bytes), plus the closing quote.
        const int Room = Block + 7;
        ref var source = ref MemoryMarshal.GetReference(utf8);
        var length = utf8.Length;
        var destination = output.GetSpan(length + length / 8 + Room);
        var written = 0;
        destination[written++] = (byte)'"';
        var read = 0;
        while (read < length)
        {
            if (destination.Length - written < Room)
            {
                output.Advance(written);
                written = 0;
                var left = length - read;
                destination = output.GetSpan(left + left / 8 + Room);
            }
            int run;
            if (Vector128.IsHardwareAccelerated && length - read >= Block)
            {
                var block = Vector128.LoadUnsafe(ref source, (nuint)read);
                var escape = Vector128.LessThan(block, Vector128.Create((byte)0x20))
                    | Vector128.Equals(block, Vector128.Create((byte)'"'))
                    | Vector128.Equals(block, Vector128.Create((byte)'\\'));
                block.StoreUnsafe(ref MemoryMarshal.GetReference(destination), (nuint)written);
                var mask = escape.ExtractMostSignificantBits();
                if (mask == 0)
                {
                    written += Block;
                    read += Block;
                    continue;
                }
                run = BitOperations.TrailingZeroCount(mask);
            }
            else
            {
                run = 0;
                while (read + run < length && !MustEscapeByte(Unsafe.Add(ref source, read + run)) && run < Block)
                {
                    destination[written + run] = Unsafe.Add(ref source, read + run);
                    run++;
                }
                if (read + run == length || run == Block)
                {
                    written += run;
                    read += run;
                    continue;
                }
            }
            written += run;
            read += run;
            written += WriteEscape(utf8[read], destination[written..]);
            read++;
        }
        if (destination.Length - written < 1)
        {
            output.Advance(written);
            written = 0;
            destination = output.GetSpan(1);
        }
        destination[written++] = (byte)'"';
        output.Advance(written);
    }

    private static bool MustEscapeByte(byte b) => b < 0x20 || b == (byte)'"' || b == (byte)'\\';

    /// <summary>Writes the escape of one byte that JSON requires escaped; returns its length.</summary>
    private static int WriteEscape(byte b, Span<byte> destination)
    {
        destination[0] = (byte)'\\';
        switch (b)
        {
            case (byte)'"':
            case (byte)'\\':
                destination[1] = b;
                return 2;
            case (byte)'\n':
                destination[1] = (byte)'n';
                return 2;
            case (byte)'\r':
                destination[1] = (byte)'r';
                return 2;
            case (byte)'\t':
                destination[1] = (byte)'t';
                return 2;
            default:
                destination[1] = (byte)'u';
                destination[2] = (byte)'0';
                destination[3] = (byte)'0';
                destination[4] = HexDigit(b >> 4);
                destination[5] = HexDigit(b & 0xF);
                return 6;
        }
    }

    private static byte HexDigit(int value) => (byte)(value < 10 ? '0' + value : 'a' + value - 10);

    private static void WriteNested(Utf8JsonWriter w, JsonEncodedText keys, JsonEncodedText values, IReadOnlyCollection<KeyValuePair<string, string>> pairs)
    {
        w.WriteStartArray(keys);
        foreach (var pair in pairs)
        {
            w.WriteStringValue(pair.Key);
        }
        w.WriteEndArray();
        w.WriteStartArray(values);
        foreach (var pair in pairs)
        {
            w.WriteStringValue(pair.Value);
        }
        w.WriteEndArray();
    }

    private static void WriteNullableString(Utf8JsonWriter w, JsonEncodedText column, string? value)
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

    private static void WriteNullableNumber(Utf8JsonWriter w, JsonEncodedText column, long? value)
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

    /// <summary>ClickHouse's basic DateTime text (the columns are <c>DateTime('UTC')</c>; values are UTC).</summary>
    private const string TimestampFormat = "yyyy-MM-dd HH:mm:ss";

    /// <summary>The timestamp column; the text of the last second is kept (rows of one second share it).</summary>
    private void WriteTimestamp(Utf8JsonWriter w, DateTimeOffset at)
    {
        var second = at.UtcTicks / TimeSpan.TicksPerSecond;
        if (second != _timestampSecond)
        {
            at.UtcDateTime.TryFormat(_timestampText, out _timestampLength, TimestampFormat, CultureInfo.InvariantCulture);
            _timestampSecond = second;
        }
        w.WriteString(Timestamp, _timestampText.AsSpan(0, _timestampLength));
    }

    /// <summary>ClickHouse's basic DateTime text, in UTC (the columns are <c>DateTime('UTC')</c>).</summary>
    public static string FormatTimestamp(DateTimeOffset at) => at.UtcDateTime.ToString(TimestampFormat, CultureInfo.InvariantCulture);

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
