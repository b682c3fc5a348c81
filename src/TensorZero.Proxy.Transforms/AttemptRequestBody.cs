using Microsoft.AspNetCore.Http.Features;

namespace TensorZero.Proxy.Transforms;

/// <summary>
/// One attempt's upstream body, put on the client's request in place of the client's body (which the inference
/// middleware has already read whole) by <see cref="ProxyAttemptFeature.Attach"/>. YARP's own request content
/// streams it from here: since YARP 2.3 a transform may no longer replace the outgoing <c>HttpContent</c>
/// (dotnet/yarp#2722), so the bytes travel through the request instead. A forward-only view of bytes the attempt
/// already holds, never a copy of them; one per attempt, so a new attempt always starts at its first byte and no
/// reader of an earlier attempt can ever see it.
/// </summary>
internal sealed class AttemptRequestBody(ReadOnlyMemory<byte> body) : Stream
{
    private int _position;

    /// <summary>
    /// Tells the forwarder that the request has a body, whatever the client's own request framing said: the forwarder
    /// decides whether to create its request content from this feature before any transform runs.
    /// </summary>
    public static IHttpRequestBodyDetectionFeature HasBody { get; } = new BodyDetection();

    /// <summary>The bytes not yet read.</summary>
    private ReadOnlyMemory<byte> Remaining => body[_position..];

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(Span<byte> buffer)
    {
        var take = Math.Min(buffer.Length, body.Length - _position);
        body.Span.Slice(_position, take).CopyTo(buffer);
        _position += take;
        return take;
    }

    public override int Read(byte[] buffer, int offset, int count)
    {
        ValidateBufferArguments(buffer, offset, count);
        return Read(buffer.AsSpan(offset, count));
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<int>(cancellationToken);
        }
        return new ValueTask<int>(Read(buffer.Span));
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        ValidateBufferArguments(buffer, offset, count);
        return ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    }

    public override int ReadByte()
    {
        if (_position >= body.Length)
        {
            return -1;
        }
        return body.Span[_position++];
    }

    /// <summary>Hands the rest on in one write, without a staging buffer.</summary>
    public override void CopyTo(Stream destination, int bufferSize)
    {
        ValidateCopyToArguments(destination, bufferSize);
        var rest = Remaining;
        _position = body.Length;
        destination.Write(rest.Span);
    }

    /// <summary>Hands the rest on in one write, without a staging buffer.</summary>
    public override async Task CopyToAsync(Stream destination, int bufferSize, CancellationToken cancellationToken)
    {
        ValidateCopyToArguments(destination, bufferSize);
        var rest = Remaining;
        _position = body.Length;
        await destination.WriteAsync(rest, cancellationToken);
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    private sealed class BodyDetection : IHttpRequestBodyDetectionFeature
    {
        public bool CanHaveBody => true;
    }
}
