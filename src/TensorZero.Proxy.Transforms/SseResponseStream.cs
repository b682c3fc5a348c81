using System.Buffers;
using System.Text;

namespace TensorZero.Proxy.Transforms;

/// <summary>
/// The client's view of a provider's SSE stream. It hands on whole events as soon as they are complete (an
/// event split across upstream reads waits only for its own remainder), lets the rewriter edit each
/// <c>data:</c> JSON payload, and enforces the post-commit deadline: when it fires, or the provider breaks
/// off, the stream ends with an SSE error event rather than a reset connection.
/// </summary>
public sealed class SseResponseStream : Stream
{
    private const int ReadSize = 16 * 1024;
    private readonly Stream _upstream;
    private readonly ProxyAttemptFeature _attempt;
    private readonly ArrayBufferWriter<byte> _output = new(ReadSize);
    private byte[] _input = ArrayPool<byte>.Shared.Rent(ReadSize * 2);
    private int _inputStart;
    private int _inputEnd;
    private int _outputPosition;
    private bool _sawDataEvent;
    private bool _upstreamEnded;
    private bool _finished;
    private CancellationTokenSource? _postCommitTimeout;

    /// <summary>Wraps <paramref name="upstream"/> for one attempt.</summary>
    public SseResponseStream(Stream upstream, ProxyAttemptFeature attempt)
    {
        ArgumentNullException.ThrowIfNull(upstream);
        ArgumentNullException.ThrowIfNull(attempt);
        _upstream = upstream;
        _attempt = attempt;
    }

    /// <summary>
    /// Reads until the first <c>data:</c> event is complete (true) or the stream ends without one (false).
    /// The caller's token carries the pre-commit deadline; the event is kept and handed on by the first read.
    /// </summary>
    public async ValueTask<bool> PeekFirstEventAsync(CancellationToken cancellationToken)
    {
        while (!_sawDataEvent && !_upstreamEnded && FirstEventError is null)
        {
            await FillAsync(cancellationToken);
        }
        if (_upstreamEnded && !_sawDataEvent && FirstEventError is null)
        {
            // A stream may be nothing but final events; the translator's are the client's first.
            CompleteTranslation();
        }
        return _sawDataEvent && FirstEventError is null;
    }

    /// <summary>
    /// Why the stream's first data event is not an event of the provider's protocol (HTML, garbage); the attempt fails
    /// over instead of committing. Null when the first event was valid (or has not come).
    /// </summary>
    public string? FirstEventError { get; private set; }

    /// <summary>Starts the post-commit deadline; called once, at commit.</summary>
    public void StartPostCommitDeadline(TimeSpan? remaining)
    {
        if (remaining is { } r)
        {
            _postCommitTimeout = new CancellationTokenSource(r > TimeSpan.Zero ? r : TimeSpan.Zero, _attempt.TimeProvider);
        }
    }

    /// <inheritdoc />
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            var pending = _output.WrittenCount - _outputPosition;
            if (pending > 0)
            {
                var n = Math.Min(pending, buffer.Length);
                _output.WrittenSpan.Slice(_outputPosition, n).CopyTo(buffer.Span);
                _outputPosition += n;
                if (_outputPosition == _output.WrittenCount)
                {
                    _output.ResetWrittenCount();
                    _outputPosition = 0;
                }
                return n;
            }
            if (_finished)
            {
                return 0;
            }
            if (_upstreamEnded)
            {
                FlushPartialEvent();
                CompleteTranslation();
                _finished = true;
                continue;
            }

            var deadline = _postCommitTimeout?.Token ?? CancellationToken.None;
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline);
            try
            {
                await FillAsync(linked.Token);
            }
            catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                EndWithError("The provider's stream exceeded the configured streaming.total_ms; the response is truncated.", "stream_timeout");
            }
            catch (Exception ex) when (ex is IOException or HttpRequestException && !cancellationToken.IsCancellationRequested)
            {
                EndWithError("The provider's stream broke off; the response is truncated.", "stream_interrupted");
            }
        }
    }

    private void EndWithError(string message, string code)
    {
        _attempt.Truncated = true;
        _finished = true;
        if (_attempt.EventTranslator is { } translator)
        {
            translator.WriteTruncation(_output, message, code);
        }
        else
        {
            IEventTranslator.WriteOpenAITruncation(_output, message, code);
        }
    }

    /// <summary>Reads once from upstream and moves every complete event to the output.</summary>
    private async ValueTask FillAsync(CancellationToken cancellationToken)
    {
        if (_inputStart > 0 && _inputStart == _inputEnd)
        {
            _inputStart = _inputEnd = 0;
        }
        if (_input.Length - _inputEnd < ReadSize)
        {
            // Keep unread bytes at the front; grow only when one event is larger than the buffer.
            var live = _inputEnd - _inputStart;
            var target = live + ReadSize > _input.Length ? ArrayPool<byte>.Shared.Rent(live + ReadSize * 2) : _input;
            Buffer.BlockCopy(_input, _inputStart, target, 0, live);
            if (!ReferenceEquals(target, _input))
            {
                ArrayPool<byte>.Shared.Return(_input);
                _input = target;
            }
            _inputStart = 0;
            _inputEnd = live;
        }

        var read = await _upstream.ReadAsync(_input.AsMemory(_inputEnd), cancellationToken);
        if (read == 0)
        {
            _upstreamEnded = true;
            return;
        }
        _inputEnd += read;
        ProcessCompleteEvents();
    }

    private void ProcessCompleteEvents()
    {
        while (true)
        {
            var span = _input.AsSpan(_inputStart, _inputEnd - _inputStart);
            var end = FindEventEnd(span);
            if (end < 0)
            {
                return;
            }
            HandleEvent(span[..end]);
            _inputStart += end;
        }
    }

    /// <summary>Length of the first complete event including its blank-line terminator, or -1.</summary>
    internal static int FindEventEnd(ReadOnlySpan<byte> span)
    {
        for (var i = 0; i < span.Length; i++)
        {
            var b = span[i];
            if (b != (byte)'\n' && b != (byte)'\r')
            {
                continue;
            }
            // A line ends at i; the event ends if the next line is empty.
            var next = b == (byte)'\r' && i + 1 < span.Length && span[i + 1] == (byte)'\n' ? i + 2 : i + 1;
            if (b == (byte)'\r' && i + 1 == span.Length)
            {
                return -1; // "\r" at the end: cannot tell "\r\n" from "\r" yet.
            }
            if (next < span.Length)
            {
                var c = span[next];
                if (c == (byte)'\n')
                {
                    return next + 1;
                }
                if (c == (byte)'\r')
                {
                    if (next + 1 < span.Length)
                    {
                        return span[next + 1] == (byte)'\n' ? next + 2 : next + 1;
                    }
                    return -1;
                }
            }
            i = next - 1;
        }
        return -1;
    }

    private void HandleEvent(ReadOnlySpan<byte> sseEvent)
    {
        if (_finished || FirstEventError is not null)
        {
            return;
        }
        _attempt.Tap?.OnEvent(sseEvent);
        var isData = sseEvent.StartsWith("data:"u8);
        if (_attempt.EventTranslator is { } translator)
        {
            // A translated stream may name its events (Anthropic's "event: message_start" before "data: {...}"): the
            // data line is found wherever it is. Events without one (comments, keep-alives) give the client nothing.
            if (DataLine(sseEvent) is { } dataLine)
            {
                TranslateEvent(translator, sseEvent[dataLine..]);
            }
            return;
        }
        if (isData && !_sawDataEvent)
        {
            // The first event must be a JSON object (or the end marker): a 200 of HTML or garbage is a failed attempt.
            var first = Payload(sseEvent);
            if (!first.SequenceEqual("[DONE]"u8) && !ResponseRewriter.IsJsonObject(first))
            {
                FirstEventError = "the provider's stream does not start with a JSON event";
                return;
            }
            _sawDataEvent = true;
            _attempt.FirstTokenAt ??= _attempt.TimeProvider.GetTimestamp();
        }

        var rewriter = _attempt.Rewriter;
        if (rewriter is not null && isData)
        {
            var payload = sseEvent["data:"u8.Length..];
            var lineEnd = payload.IndexOfAny((byte)'\r', (byte)'\n');
            var json = (lineEnd < 0 ? payload : payload[..lineEnd]).TrimStart((byte)' ');
            var rest = lineEnd < 0 ? [] : payload[lineEnd..];
            // Only single-line JSON payloads are rewritten; "[DONE]" and anything unusual pass as they are.
            if (json.Length > 0 && json[0] == (byte)'{' && rest.TrimStart("\r\n"u8).IsEmpty)
            {
                _output.Write("data: "u8);
                rewriter.RewriteEvent(json, _output);
                _output.Write(rest);
                return;
            }
        }
        _output.Write(sseEvent);
    }

    /// <summary>Where the first <c>data:</c> line of an event starts, or null when it has none.</summary>
    internal static int? DataLine(ReadOnlySpan<byte> sseEvent)
    {
        var offset = 0;
        while (offset < sseEvent.Length)
        {
            var line = sseEvent[offset..];
            if (line.StartsWith("data:"u8))
            {
                return offset;
            }
            var end = line.IndexOfAny((byte)'\r', (byte)'\n');
            if (end < 0)
            {
                return null;
            }
            offset += end + 1;
        }
        return null;
    }

    /// <summary>The payload of a <c>data:</c> event: after the field name and one optional space, to the line's end.</summary>
    private static ReadOnlySpan<byte> Payload(ReadOnlySpan<byte> sseEvent)
    {
        var payload = sseEvent["data:"u8.Length..];
        var lineEnd = payload.IndexOfAny((byte)'\r', (byte)'\n');
        return (lineEnd < 0 ? payload : payload[..lineEnd]).TrimStart((byte)' ');
    }

    private bool _translationCompleted;

    private void TranslateEvent(IEventTranslator translator, ReadOnlySpan<byte> sseEvent)
    {
        var payload = Payload(sseEvent);
        if (payload.SequenceEqual("[DONE]"u8))
        {
            CompleteTranslation();
            return;
        }
        var before = _output.WrittenCount;
        if (!translator.TryTranslate(payload, _output, out var error))
        {
            if (!_sawDataEvent)
            {
                FirstEventError = error ?? "the provider's stream event is not valid";
                return;
            }
            EndWithError("The provider's stream sent an invalid event; the response is truncated.", "stream_invalid");
            return;
        }
        if (!_sawDataEvent && _output.WrittenCount > before)
        {
            // The first event the client will see: this is the first token.
            _sawDataEvent = true;
            _attempt.FirstTokenAt ??= _attempt.TimeProvider.GetTimestamp();
        }
    }

    /// <summary>The translator's final events, once, when the provider's stream is done.</summary>
    private void CompleteTranslation()
    {
        if (_attempt.EventTranslator is not { } translator || _translationCompleted || _finished || FirstEventError is not null)
        {
            return;
        }
        _translationCompleted = true;
        var before = _output.WrittenCount;
        translator.Complete(_output);
        if (!_sawDataEvent && _output.WrittenCount > before)
        {
            _sawDataEvent = true;
            _attempt.FirstTokenAt ??= _attempt.TimeProvider.GetTimestamp();
        }
    }

    private void FlushPartialEvent()
    {
        if (_inputEnd > _inputStart)
        {
            HandleEvent(_input.AsSpan(_inputStart, _inputEnd - _inputStart));
            _inputStart = _inputEnd;
        }
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _upstream.Dispose();
            _postCommitTimeout?.Dispose();
            var input = Interlocked.Exchange(ref _input, []);
            if (input.Length > 0)
            {
                ArrayPool<byte>.Shared.Return(input);
            }
        }
        base.Dispose(disposing);
    }

    /// <inheritdoc />
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <summary>Synchronous reads are not supported: the stream is only ever copied asynchronously.</summary>
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("Read asynchronously.");

    /// <inheritdoc />
    public override bool CanRead => true;

    /// <inheritdoc />
    public override bool CanSeek => false;

    /// <inheritdoc />
    public override bool CanWrite => false;

    /// <inheritdoc />
    public override long Length => throw new NotSupportedException();

    /// <inheritdoc />
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    /// <inheritdoc />
    public override void Flush()
    {
    }

    /// <inheritdoc />
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    /// <inheritdoc />
    public override void SetLength(long value) => throw new NotSupportedException();

    /// <inheritdoc />
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
