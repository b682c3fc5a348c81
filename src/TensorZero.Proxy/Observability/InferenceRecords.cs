using System.Buffers;
using System.Diagnostics;
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

/// <summary>
/// Turns a completed inference into ClickHouse <c>JSONEachRow</c> lines (DESIGN.md §7): one <c>ChatInference</c>
/// row and one <c>ModelInference</c> row per attempt that was made (circuit-open skips are not attempts). Only
/// types ClickHouse 18.16 reads: UUIDs as strings, <c>DateTime('UTC')</c> as <c>YYYY-MM-DD hh:mm:ss</c>, Nested
/// columns as parallel arrays (<c>tags.key</c>, <c>tags.value</c>), nulls for absent Nullable values.
/// Used by the group commit's writer only (<see cref="ObservabilityWriter"/>, one batch at a time): it reuses its buffers.
/// </summary>
internal sealed class InferenceRecords
{
    /// <summary>Request fields that describe tools, stored in <c>tool_params</c>.</summary>
    private static readonly byte[][] ToolFields = ["tools"u8.ToArray(), "tool_choice"u8.ToArray(), "parallel_tool_calls"u8.ToArray(),
        "functions"u8.ToArray(), "function_call"u8.ToArray()];

    /// <summary>Request fields stored elsewhere or not at all: model, messages, stream and the tensorzero:: ones.</summary>
    private static readonly byte[] TensorZeroPrefix = Encoding.UTF8.GetBytes(InferenceRequest.TensorZeroPrefix);

    private readonly int _maxRawBytes;
    private readonly double _ticksPerSecond;
    private readonly ArrayBufferWriter<byte> _scratch = new(1024);
    private readonly List<Range> _tools = [];
    private readonly List<Range> _parameters = [];
    private readonly byte[] _timestampText = new byte[32];
    private long _timestampSecond = long.MinValue;
    private int _timestampLength;
    // The row being written: its output, and whether a column is written yet (the next one needs a comma).
    private IBufferWriter<byte> _row = null!;
    private bool _rowHasColumn;
    // UTF-16 values are transcoded here before they are escaped.
    private byte[] _utf8 = new byte[1024];

    public InferenceRecords(int maxRawBytes, TimeProvider time)
    {
        _maxRawBytes = maxRawBytes;
        _ticksPerSecond = time.TimestampFrequency;
    }

    /// <summary>
    /// Whether the last inference written by <see cref="Write(InferenceFeature, IBufferWriter{byte}, IBufferWriter{byte})"/>
    /// offered tools (its <c>tool_params</c> is not empty): the recent-inference index keeps this one bit, so a
    /// demonstration with tool calls for an inference that had no tools is refused without a query.
    /// </summary>
    public bool LastHadTools { get; private set; }

    /// <summary>Appends the inference's rows (each a line) to the two outputs; returns how many rows each got.</summary>
    public (int Chat, int Model) Write(InferenceFeature inference, IBufferWriter<byte> chat, IBufferWriter<byte> model)
    {
        var modelRows = WriteModelInferences(inference, model);
        WriteChatInference(inference, chat);
        return (1, modelRows);
    }

    /// <summary>
    /// A JSON function's inference: its <c>JsonInference</c> row as <paramref name="row"/> gives it (in place of a
    /// <c>ChatInference</c> row) and a <c>ModelInference</c> row per attempt of <paramref name="inference"/>. Returns
    /// how many <c>ModelInference</c> rows were written.
    /// </summary>
    public int WriteJsonInference(InferenceFeature inference, JsonInferenceRow row, IBufferWriter<byte> json, IBufferWriter<byte> model)
    {
        var modelRows = WriteModelInferences(inference, model);
        WriteJsonInference(row, json);
        return modelRows;
    }

    /// <summary>
    /// An embeddings inference: its <c>EmbeddingInference</c> row and a <c>ModelInference</c> row per attempt of
    /// <paramref name="inference"/>. Returns how many <c>ModelInference</c> rows were written.
    /// </summary>
    public int WriteEmbeddingInference(InferenceFeature inference, EmbeddingInferenceRow row, IBufferWriter<byte> embedding, IBufferWriter<byte> model)
    {
        var modelRows = WriteModelInferences(inference, model);
        Write(row, embedding);
        return modelRows;
    }

    /// <summary>Appends one row (a line) of the row's table to <paramref name="output"/>.</summary>
    public void Write(ObservabilityRow row, IBufferWriter<byte> output)
    {
        switch (row)
        {
            case JsonInferenceRow json:
                WriteJsonInference(json, output);
                break;
            case BooleanMetricFeedbackRow boolean:
                StartRow(output);
                Column("id"u8, boolean.Id);
                Column("target_id"u8, boolean.TargetId);
                Column("metric_name"u8, boolean.MetricName);
                Column("value"u8, boolean.Value ? 1 : 0);
                WriteNested("tags.key"u8, "tags.value"u8, boolean.Tags);
                WriteTimestamp(boolean.Timestamp);
                EndRow();
                break;
            case FloatMetricFeedbackRow number:
                StartRow(output);
                Column("id"u8, number.Id);
                Column("target_id"u8, number.TargetId);
                Column("metric_name"u8, number.MetricName);
                FloatColumn("value"u8, number.Value);
                WriteNested("tags.key"u8, "tags.value"u8, number.Tags);
                WriteTimestamp(number.Timestamp);
                EndRow();
                break;
            case CommentFeedbackRow comment:
                StartRow(output);
                Column("id"u8, comment.Id);
                Column("target_id"u8, comment.TargetId);
                Column("target_type"u8, comment.TargetType == FeedbackTargetType.Inference ? "inference" : "episode");
                Column("value"u8, comment.Value);
                WriteNested("tags.key"u8, "tags.value"u8, comment.Tags);
                WriteTimestamp(comment.Timestamp);
                EndRow();
                break;
            case DemonstrationFeedbackRow demonstration:
                StartRow(output);
                Column("id"u8, demonstration.Id);
                Column("inference_id"u8, demonstration.InferenceId);
                Column("value"u8, demonstration.Value);
                WriteNested("tags.key"u8, "tags.value"u8, demonstration.Tags);
                WriteTimestamp(demonstration.Timestamp);
                EndRow();
                break;
            case EmbeddingInferenceRow embedding:
                StartRow(output);
                Column("id"u8, embedding.Id);
                Column("embedding_model_name"u8, embedding.EmbeddingModelName);
                Column("model"u8, embedding.Model);
                Column("model_provider_name"u8, embedding.ModelProviderName);
                Column("input"u8, embedding.Input);
                Column("num_inputs"u8, embedding.InputCount);
                Column("dimensions"u8, embedding.Dimensions);
                Column("encoding_format"u8, embedding.EncodingFormat);
                Column("output_dimensions"u8, embedding.OutputDimensions);
                Column("input_tokens"u8, embedding.InputTokens);
                Column("processing_time_ms"u8, Milliseconds(embedding.ProcessingTime));
                Column("outcome"u8, embedding.Outcome);
                Column("attempt_count"u8, embedding.AttemptCount);
                WriteTimestamp(embedding.Timestamp);
                EndRow();
                break;
            default:
                throw new ArgumentException($"No row writer for {row.GetType().Name}.", nameof(row));
        }
    }

    private int WriteModelInferences(InferenceFeature inference, IBufferWriter<byte> model)
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
        return modelRows;
    }

    private void WriteJsonInference(JsonInferenceRow row, IBufferWriter<byte> output)
    {
        StartRow(output);
        Column("id"u8, row.Id);
        Column("episode_id"u8, row.EpisodeId);
        Column("function_name"u8, row.FunctionName);
        Column("variant_name"u8, row.VariantName);
        Column("model"u8, row.Model);
        Column("model_name"u8, row.ModelName);
        Column("model_provider_name"u8, row.ModelProviderName);
        Column("input"u8, row.Input);
        Column("output"u8, row.Output);
        Column("output_schema"u8, row.OutputSchema);
        Column("auxiliary_content"u8, row.AuxiliaryContent);
        Column("inference_params"u8, row.InferenceParams);
        WriteNested("tags.key"u8, "tags.value"u8, row.Tags);
        Column("extra_headers"u8, row.ExtraHeaders);
        Column("extra_body"u8, row.ExtraBody);
        Column("input_tokens"u8, row.InputTokens);
        Column("output_tokens"u8, row.OutputTokens);
        Column("finish_reason"u8, row.FinishReason);
        Column("processing_time_ms"u8, Milliseconds(row.ProcessingTime));
        Column("ttft_ms"u8, row.TimeToFirstToken is { } ttft ? Milliseconds(ttft) : null);
        Column("outcome"u8, row.Outcome);
        Column("attempt_count"u8, row.AttemptCount);
        Column("stream"u8, row.Stream ? 1 : 0);
        WriteTimestamp(row.Timestamp);
        EndRow();
    }

    private void WriteChatInference(InferenceFeature inference, IBufferWriter<byte> output)
    {
        var committed = inference.CommittedAttempt;
        var capture = committed?.Response;
        StartRow(output);
        Column("id"u8, inference.InferenceId);
        Column("episode_id"u8, inference.EpisodeId);
        Column("function_name"u8, inference.FunctionName);
        Column("variant_name"u8, inference.VariantName ?? "");
        Column("model"u8, inference.Request.Model);
        Column("model_name"u8, committed?.Model ?? "");
        Column("model_provider_name"u8, committed?.Provider ?? "");
        WriteRequestParts(inference.Request);
        WriteOutput(capture);
        WriteNested("tags.key"u8, "tags.value"u8, inference.Tags);
        Column("extra_headers"u8, inference.ExtraHeadersJson);
        Column("extra_body"u8, inference.ExtraBodyJson);
        Column("input_tokens"u8, capture?.InputTokens);
        Column("output_tokens"u8, capture?.OutputTokens);
        Column("finish_reason"u8, capture?.FinishReason);
        Column("processing_time_ms"u8, Milliseconds(inference.Duration));
        long? ttft = null;
        if (inference.Request.Stream && committed?.TimeToFirstToken is { } first)
        {
            var before = committed.StartedTimestamp == 0 ? TimeSpan.Zero : Elapsed(inference.StartedTimestamp, committed.StartedTimestamp);
            ttft = Milliseconds(before + first);
        }
        Column("ttft_ms"u8, ttft);
        Column("outcome"u8, Describe(inference.Outcome));
        Column("attempt_count"u8, inference.AttemptCount);
        Column("stream"u8, inference.Request.Stream ? 1 : 0);
        WriteTimestamp(inference.StartedAt);
        EndRow();
    }

    private void WriteModelInference(InferenceFeature inference, AttemptRecord attempt, int ordinal, IBufferWriter<byte> output)
    {
        var startedAt = attempt.StartedTimestamp == 0
            ? inference.StartedAt
            : inference.StartedAt + Elapsed(inference.StartedTimestamp, attempt.StartedTimestamp);
        var capture = attempt.Response;
        StartRow(output);
        Column("id"u8, UuidV7.Create(startedAt));
        Column("inference_id"u8, inference.InferenceId);
        Column("attempt"u8, ordinal);
        Column("model_name"u8, attempt.Model);
        Column("model_provider_name"u8, attempt.Provider);
        Column("variant_name"u8, attempt.Variant ?? "");
        var request = attempt.RawRequest ?? ReadOnlyMemory<byte>.Empty;
        WriteCapped("raw_request"u8, request.Span);
        Column("raw_request_bytes"u8, request.Length);
        WriteCapped("raw_response"u8, capture is null ? [] : capture.Raw);
        Column("raw_response_bytes"u8, capture?.RawLength ?? 0);
        Column("input_tokens"u8, capture?.InputTokens);
        Column("output_tokens"u8, capture?.OutputTokens);
        Column("finish_reason"u8, capture?.FinishReason);
        Column("response_time_ms"u8, Milliseconds(attempt.Elapsed));
        Column("ttft_ms"u8, inference.Request.Stream && attempt.TimeToFirstToken is { } t ? Milliseconds(t) : null);
        Column("outcome"u8, Describe(attempt.Outcome));
        Column("status_code"u8, attempt.StatusCode);
        Column("error"u8, attempt.Error);
        WriteNested("headers.key"u8, "headers.value"u8, attempt.AppliedHeaders);
        WriteTimestamp(startedAt);
        EndRow();
    }

    // A row is written straight to its output, without Utf8JsonWriter (whose per-value checks and encoder were most of
    // a row's cost): the column names are ASCII literals, numbers and UUIDs are formatted in place, and every string
    // goes through EscapeString, which escapes what JSON requires ('"', '\\', control characters).

    private void StartRow(IBufferWriter<byte> output)
    {
        _row = output;
        _rowHasColumn = false;
        output.Write("{"u8);
    }

    private void EndRow()
    {
        _row.Write("}\n"u8);
        _row = null!;
    }

    /// <summary>Writes <c>,"name":</c> (no comma before the first column).</summary>
    private void Name(ReadOnlySpan<byte> name)
    {
        var span = _row.GetSpan(name.Length + 4);
        var i = 0;
        if (_rowHasColumn)
        {
            span[i++] = (byte)',';
        }
        _rowHasColumn = true;
        span[i++] = (byte)'"';
        name.CopyTo(span[i..]);
        i += name.Length;
        span[i++] = (byte)'"';
        span[i++] = (byte)':';
        _row.Advance(i);
    }

    private void Column(ReadOnlySpan<byte> name, string? value)
    {
        Name(name);
        if (value is null)
        {
            _row.Write("null"u8);
        }
        else
        {
            WriteString(_row, value);
        }
    }

    private void Column(ReadOnlySpan<byte> name, long? value)
    {
        Name(name);
        if (value is not { } number)
        {
            _row.Write("null"u8);
            return;
        }
        var span = _row.GetSpan(20);
        number.TryFormat(span, out var length, default, CultureInfo.InvariantCulture);
        _row.Advance(length);
    }

    /// <summary>A finite number, shortest round-trip text (JSON has no NaN or infinities, so none arrive here).</summary>
    private void FloatColumn(ReadOnlySpan<byte> name, double value)
    {
        Name(name);
        var span = _row.GetSpan(32);
        value.TryFormat(span, out var length, "R", CultureInfo.InvariantCulture);
        _row.Advance(length);
    }

    private void Column(ReadOnlySpan<byte> name, Guid value)
    {
        Name(name);
        var span = _row.GetSpan(38);
        span[0] = (byte)'"';
        value.TryFormat(span[1..], out var length);
        span[length + 1] = (byte)'"';
        _row.Advance(length + 2);
    }

    /// <summary>A string as a JSON string literal: transcoded to UTF-8 (a lone surrogate becomes U+FFFD), then escaped.</summary>
    private void WriteString(IBufferWriter<byte> output, string value)
    {
        var max = Encoding.UTF8.GetMaxByteCount(value.Length);
        if (max > _utf8.Length && max <= 64 * 1024)
        {
            _utf8 = new byte[max];
        }
        // A rare longer value does not stay with the writer.
        var buffer = max <= _utf8.Length ? _utf8 : ArrayPool<byte>.Shared.Rent(max);
        EscapeString(buffer.AsSpan(0, Encoding.UTF8.GetBytes(value, buffer)), output);
        if (buffer != _utf8)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// <c>input</c> (the <c>messages</c> array as sent), <c>tool_params</c> (tools, tool_choice, ...) and
    /// <c>inference_params</c> (every other OpenAI field: temperature, max_tokens, response_format, ...), each as
    /// JSON text. The members are the ones the request's parse located for its template (every member but the
    /// <c>tensorzero::</c> ones); each is classified by its name and copied as its raw text (no DOM, no second pass of
    /// a JSON reader over the body).
    /// </summary>
    private void WriteRequestParts(InferenceRequest request)
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
        WriteText("input"u8, messages);
        LastHadTools = _tools.Count > 0;
        WriteObjectText("tool_params"u8, body, _tools);
        WriteObjectText("inference_params"u8, body, _parameters);
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
    private void WriteObjectText(ReadOnlySpan<byte> column, byte[] body, List<Range> members)
    {
        if (members.Count == 0)
        {
            Name(column);
            _row.Write("\"\""u8);
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
        WriteText(column, _scratch.WrittenSpan);
    }

    /// <summary><c>output</c>: TensorZero's content blocks, <c>[{"type":"text",...},{"type":"tool_call",...}]</c>, as JSON text.</summary>
    private void WriteOutput(ResponseCapture? capture)
    {
        _scratch.ResetWrittenCount();
        _scratch.Write("["u8);
        var first = true;
        if (capture?.Text is { } text)
        {
            _scratch.Write("{\"type\":\"text\",\"text\":"u8);
            WriteString(_scratch, text);
            _scratch.Write("}"u8);
            first = false;
        }
        foreach (var call in capture?.ToolCalls ?? [])
        {
            _scratch.Write(first ? "{\"type\":\"tool_call\",\"id\":"u8 : ",{\"type\":\"tool_call\",\"id\":"u8);
            first = false;
            if (call.Id is null)
            {
                _scratch.Write("null"u8);
            }
            else
            {
                WriteString(_scratch, call.Id);
            }
            _scratch.Write(",\"name\":"u8);
            WriteString(_scratch, call.Name);
            _scratch.Write(",\"arguments\":"u8);
            WriteString(_scratch, call.Arguments);
            _scratch.Write("}"u8);
        }
        _scratch.Write("]"u8);
        WriteText("output"u8, _scratch.WrittenSpan);
    }

    /// <summary>Bytes as a string column, at most the cap, cut on a UTF-8 boundary; invalid UTF-8 becomes U+FFFD.</summary>
    private void WriteCapped(ReadOnlySpan<byte> column, ReadOnlySpan<byte> bytes)
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
        // The raw bytes are the only text here that nothing validated before: the provider's answer as it came.
        if (!Utf8.IsValid(bytes))
        {
            Name(column);
            WriteString(_row, Encoding.UTF8.GetString(bytes));
            return;
        }
        WriteText(column, bytes);
    }

    /// <summary>
    /// A string column holding valid UTF-8 text, mostly JSON (request members, which <see cref="InferenceRequest.TryParse"/>
    /// validated, the output written here, and the raw bytes once <see cref="WriteCapped"/> checked them): as it is,
    /// with only what JSON requires escaped.
    /// </summary>
    private void WriteText(ReadOnlySpan<byte> column, ReadOnlySpan<byte> utf8)
    {
        Debug.Assert(Utf8.IsValid(utf8), "Text columns are validated where their bytes come in.");
        Name(column);
        EscapeString(utf8, _row);
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

    private void WriteNested(ReadOnlySpan<byte> keys, ReadOnlySpan<byte> values, IReadOnlyCollection<KeyValuePair<string, string>> pairs)
    {
        Name(keys);
        WriteArray(pairs, key: true);
        Name(values);
        WriteArray(pairs, key: false);
    }

    private void WriteArray(IReadOnlyCollection<KeyValuePair<string, string>> pairs, bool key)
    {
        _row.Write("["u8);
        var first = true;
        foreach (var pair in pairs)
        {
            if (!first)
            {
                _row.Write(","u8);
            }
            first = false;
            WriteString(_row, key ? pair.Key : pair.Value);
        }
        _row.Write("]"u8);
    }

    private TimeSpan Elapsed(long from, long to) => TimeSpan.FromSeconds(Math.Max(0, to - from) / _ticksPerSecond);

    private static long Milliseconds(TimeSpan span) => Math.Clamp((long)Math.Round(span.TotalMilliseconds), 0, uint.MaxValue);

    /// <summary>ClickHouse's basic DateTime text (the columns are <c>DateTime('UTC')</c>; values are UTC).</summary>
    private const string TimestampFormat = "yyyy-MM-dd HH:mm:ss";

    /// <summary>The timestamp column; the text of the last second is kept (rows of one second share it).</summary>
    private void WriteTimestamp(DateTimeOffset at)
    {
        var second = at.UtcTicks / TimeSpan.TicksPerSecond;
        if (second != _timestampSecond)
        {
            at.UtcDateTime.TryFormat(_timestampText, out _timestampLength, TimestampFormat, CultureInfo.InvariantCulture);
            _timestampSecond = second;
        }
        Name("timestamp"u8);
        var span = _row.GetSpan(_timestampLength + 2);
        span[0] = (byte)'"';
        _timestampText.AsSpan(0, _timestampLength).CopyTo(span[1..]);
        span[_timestampLength + 1] = (byte)'"';
        _row.Advance(_timestampLength + 2);
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
