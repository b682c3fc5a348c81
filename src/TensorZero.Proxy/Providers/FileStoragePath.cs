using System.Buffers.Binary;
using System.Numerics;
using System.Text;

namespace TensorZero.Proxy.Providers;

/// <summary>
/// Where TensorZero stores an input file: <c>observability/files/{hash}.{ext}</c>, content-addressed by the BLAKE3
/// hash of the file's base64 text (not of its bytes), with the extension of its MIME type when one is known
/// (crates/tensorzero-core/src/inference/types/storage.rs). The same file always gets the same path, whatever its
/// <c>detail</c>.
/// </summary>
internal static class FileStoragePath
{
    /// <summary>The object key of a file given as base64 data.</summary>
    public static string Of(string base64Data, string mimeType)
    {
        var hash = Convert.ToHexStringLower(Blake3.Hash(Encoding.UTF8.GetBytes(base64Data)));
        return MimeTypes.Extension(mimeType) is { } extension
            ? $"observability/files/{hash}.{extension}"
            : $"observability/files/{hash}";
    }
}

/// <summary>
/// BLAKE3 (hash mode, 32-byte output), written from the specification because the project takes no package for
/// it. It is used for file storage paths only, so it favours plainness over speed.
/// </summary>
internal static class Blake3
{
    private const int BlockLength = 64;
    private const int ChunkLength = 1024;
    private const uint ChunkStart = 1;
    private const uint ChunkEnd = 2;
    private const uint Parent = 4;
    private const uint Root = 8;

    private static readonly uint[] IV = [0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A, 0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19];

    private static readonly int[] Permutation = [2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8];

    /// <summary>The 32-byte BLAKE3 hash of <paramref name="input"/>.</summary>
    public static byte[] Hash(ReadOnlySpan<byte> input)
    {
        var chunkCount = Math.Max(1, (input.Length + ChunkLength - 1) / ChunkLength);
        var stack = new Stack<uint[]>();
        for (var chunk = 0; chunk < chunkCount - 1; chunk++)
        {
            var cv = ChunkOutput(input.Slice(chunk * ChunkLength, ChunkLength), (ulong)chunk).ChainingValue();
            // Merge completed subtrees: one merge per trailing zero bit of the number of chunks so far.
            for (var total = (ulong)chunk + 1; (total & 1) == 0; total >>= 1)
            {
                cv = ParentOutput(stack.Pop(), cv).ChainingValue();
            }
            stack.Push(cv);
        }
        var output = ChunkOutput(input[((chunkCount - 1) * ChunkLength)..], (ulong)(chunkCount - 1));
        while (stack.Count > 0)
        {
            output = ParentOutput(stack.Pop(), output.ChainingValue());
        }
        return output.RootHash();
    }

    private readonly record struct Output(uint[] InputCv, uint[] Block, ulong Counter, uint BlockLen, uint Flags)
    {
        public uint[] ChainingValue() => Compress(InputCv, Block, Counter, BlockLen, Flags)[..8];

        public byte[] RootHash()
        {
            var words = Compress(InputCv, Block, 0, BlockLen, Flags | Root);
            var hash = new byte[32];
            for (var i = 0; i < 8; i++)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(hash.AsSpan(i * 4), words[i]);
            }
            return hash;
        }
    }

    private static Output ChunkOutput(ReadOnlySpan<byte> chunk, ulong counter)
    {
        var cv = IV;
        var blocks = Math.Max(1, (chunk.Length + BlockLength - 1) / BlockLength);
        for (var b = 0; b < blocks - 1; b++)
        {
            cv = Compress(cv, Words(chunk.Slice(b * BlockLength, BlockLength)), counter, BlockLength, b == 0 ? ChunkStart : 0)[..8];
        }
        var last = chunk[((blocks - 1) * BlockLength)..];
        return new Output(cv, Words(last), counter, (uint)last.Length, (blocks == 1 ? ChunkStart : 0) | ChunkEnd);
    }

    private static Output ParentOutput(uint[] left, uint[] right) => new(IV, [.. left, .. right], 0, BlockLength, Parent);

    /// <summary>A block as 16 little-endian words, zero-padded.</summary>
    private static uint[] Words(ReadOnlySpan<byte> block)
    {
        Span<byte> padded = stackalloc byte[BlockLength];
        block.CopyTo(padded);
        var words = new uint[16];
        for (var i = 0; i < 16; i++)
        {
            words[i] = BinaryPrimitives.ReadUInt32LittleEndian(padded[(i * 4)..]);
        }
        return words;
    }

    private static uint[] Compress(uint[] cv, uint[] block, ulong counter, uint blockLen, uint flags)
    {
        uint[] state =
        [
            cv[0], cv[1], cv[2], cv[3], cv[4], cv[5], cv[6], cv[7],
            IV[0], IV[1], IV[2], IV[3], (uint)counter, (uint)(counter >> 32), blockLen, flags,
        ];
        var m = (uint[])block.Clone();
        for (var round = 0; round < 7; round++)
        {
            G(state, 0, 4, 8, 12, m[0], m[1]);
            G(state, 1, 5, 9, 13, m[2], m[3]);
            G(state, 2, 6, 10, 14, m[4], m[5]);
            G(state, 3, 7, 11, 15, m[6], m[7]);
            G(state, 0, 5, 10, 15, m[8], m[9]);
            G(state, 1, 6, 11, 12, m[10], m[11]);
            G(state, 2, 7, 8, 13, m[12], m[13]);
            G(state, 3, 4, 9, 14, m[14], m[15]);
            var permuted = new uint[16];
            for (var i = 0; i < 16; i++)
            {
                permuted[i] = m[Permutation[i]];
            }
            m = permuted;
        }
        for (var i = 0; i < 8; i++)
        {
            state[i] ^= state[i + 8];
            state[i + 8] ^= cv[i];
        }
        return state;
    }

    private static void G(uint[] s, int a, int b, int c, int d, uint mx, uint my)
    {
        s[a] = s[a] + s[b] + mx;
        s[d] = BitOperations.RotateRight(s[d] ^ s[a], 16);
        s[c] = s[c] + s[d];
        s[b] = BitOperations.RotateRight(s[b] ^ s[c], 12);
        s[a] = s[a] + s[b] + my;
        s[d] = BitOperations.RotateRight(s[d] ^ s[a], 8);
        s[c] = s[c] + s[d];
        s[b] = BitOperations.RotateRight(s[b] ^ s[c], 7);
    }
}
