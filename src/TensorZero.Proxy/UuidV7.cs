using System.Buffers.Binary;

namespace TensorZero.Proxy;

/// <summary>
/// UUIDv7 ids (RFC 9562: 48-bit Unix milliseconds, version 7, variant 10, 74 random bits), the layout of
/// <see cref="Guid.CreateVersion7(DateTimeOffset)"/>. The random bits come from <see cref="Random.Shared"/> (a
/// per-thread generator seeded from the OS) instead of a read of the OS's secure random source per id: two ids
/// per inference are on the request path, and they are identifiers, not secrets.
/// </summary>
internal static class UuidV7
{
    public static Guid Create(DateTimeOffset at)
    {
        Span<byte> bytes = stackalloc byte[16];
        Random.Shared.NextBytes(bytes[6..]);
        var milliseconds = (ulong)at.ToUnixTimeMilliseconds();
        BinaryPrimitives.WriteUInt16BigEndian(bytes, (ushort)(milliseconds >> 32));
        BinaryPrimitives.WriteUInt32BigEndian(bytes[2..], (uint)milliseconds);
        bytes[6] = (byte)(0x70 | (bytes[6] & 0x0F));
        bytes[8] = (byte)(0x80 | (bytes[8] & 0x3F));
        return new Guid(bytes, bigEndian: true);
    }
}
