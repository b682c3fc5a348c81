using System.Buffers;

namespace TensorZero.Proxy.Transforms;

/// <summary>Reads a whole HTTP body into one array: the client's request, or a provider's buffered response.</summary>
public static class BodyReader
{
    /// <summary>
    /// Reads the body, at most <paramref name="limit"/> bytes; null when it is larger. With a declared length the
    /// body goes straight into an array of that size; otherwise through a pooled chunk. The array outlives the
    /// request (records keep it), so it is never pooled itself.
    /// </summary>
    /// <exception cref="EndOfStreamException">The body ended before its declared length.</exception>
    public static async Task<byte[]?> ReadAsync(Stream stream, long? declaredLength, long limit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (declaredLength is { } length)
        {
            if (length > limit)
            {
                return null;
            }
            var exact = new byte[length];
            await stream.ReadExactlyAsync(exact, cancellationToken);
            return exact;
        }

        using var buffer = new MemoryStream();
        var chunk = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            while (true)
            {
                var read = await stream.ReadAsync(chunk, cancellationToken);
                if (read == 0)
                {
                    return buffer.ToArray();
                }
                if (buffer.Length + read > limit)
                {
                    return null;
                }
                buffer.Write(chunk, 0, read);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }
    }
}
