using System.Buffers;
using System.Collections.Concurrent;
using System.Text.Json;

namespace TensorZero.Proxy.Transforms;

/// <summary>
/// A client's JSON request body, reduced to the top-level members that go upstream, from which each
/// attempt renders its body with the provider's model name spliced in. No DOM is built: kept members are
/// copied byte for byte, so every OpenAI field (tools, response_format, ...) passes through untouched.
/// </summary>
public sealed class RequestBodyTemplate
{
    private readonly ReadOnlyMemory<byte> _source;
    private readonly Range[] _keptMembers;
    private readonly int _modelMemberIndex;
    private readonly int _keptLength;

    /// <summary>Creates a template.</summary>
    /// <param name="source">The original body.</param>
    /// <param name="keptMembers">Byte ranges of whole top-level members (<c>"name": value</c>) to keep, in order.</param>
    /// <param name="modelMemberIndex">Index into <paramref name="keptMembers"/> of the <c>model</c> member, or -1.</param>
    public RequestBodyTemplate(ReadOnlyMemory<byte> source, Range[] keptMembers, int modelMemberIndex)
    {
        ArgumentNullException.ThrowIfNull(keptMembers);
        ArgumentOutOfRangeException.ThrowIfLessThan(modelMemberIndex, -1);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(modelMemberIndex, keptMembers.Length);
        _source = source;
        _keptMembers = keptMembers;
        _modelMemberIndex = modelMemberIndex;
        // The bytes every rendering copies from the source: the kept members but the client's model member.
        for (var i = 0; i < keptMembers.Length; i++)
        {
            _keptLength += i == modelMemberIndex ? 0 : keptMembers[i].GetOffsetAndLength(source.Length).Length;
        }
    }

    /// <summary>
    /// The byte ranges in the original body of the kept top-level members, in order, each from its name's opening
    /// quote to the end of its value.
    /// </summary>
    public ReadOnlySpan<Range> Members => _keptMembers;

    /// <summary>Renders the upstream body with <c>model</c> set to <paramref name="modelName"/> (added if absent).</summary>
    /// <param name="modelName">The provider's model name.</param>
    /// <param name="extraMembers">Whole encoded members (<c>"temperature":0.7</c>) appended as they are.</param>
    public byte[] Render(string modelName, ReadOnlySpan<byte[]> extraMembers = default)
    {
        ArgumentNullException.ThrowIfNull(modelName);
        var model = ModelMember(modelName);
        var source = _source.Span;

        // One array of the exact length: braces, the kept members, the model member (replaced or added), the extra
        // members, and the commas between them.
        var items = _keptMembers.Length + (_modelMemberIndex < 0 ? 1 : 0) + extraMembers.Length;
        var length = 2 + (items - 1) + _keptLength + model.Length;
        foreach (var member in extraMembers)
        {
            length += member.Length;
        }

        var body = new byte[length];
        var written = 0;
        var first = true;
        void Append(ReadOnlySpan<byte> bytes)
        {
            if (!first)
            {
                body[written++] = (byte)',';
            }
            first = false;
            bytes.CopyTo(body.AsSpan(written));
            written += bytes.Length;
        }
        body[written++] = (byte)'{';
        for (var i = 0; i < _keptMembers.Length; i++)
        {
            Append(i == _modelMemberIndex ? model : source[_keptMembers[i]]);
        }
        if (_modelMemberIndex < 0)
        {
            Append(model);
        }
        foreach (var member in extraMembers)
        {
            Append(member);
        }
        body[written] = (byte)'}';
        return body;
    }

    /// <summary>
    /// Encoded model members by name. The names are the providers' (from the configuration), so they are few; past
    /// the bound a name is encoded on each call instead of being kept.
    /// </summary>
    private static readonly ConcurrentDictionary<string, byte[]> s_modelMembers = new(StringComparer.Ordinal);

    private const int MaxKeptModelNames = 1024;

    private static int s_keptModelNames;

    /// <summary><c>"model":"name"</c>, the name escaped as <see cref="Utf8JsonWriter"/> escapes it by default.</summary>
    private static byte[] ModelMember(string modelName)
    {
        if (s_modelMembers.TryGetValue(modelName, out var member))
        {
            return member;
        }
        var buffer = new ArrayBufferWriter<byte>(modelName.Length + 16);
        buffer.Write("\"model\":"u8);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStringValue(modelName);
        }
        member = buffer.WrittenSpan.ToArray();
        // A counter rather than the dictionary's Count, which takes every lock of the dictionary.
        if (Volatile.Read(ref s_keptModelNames) < MaxKeptModelNames && s_modelMembers.TryAdd(modelName, member))
        {
            Interlocked.Increment(ref s_keptModelNames);
        }
        return member;
    }
}
