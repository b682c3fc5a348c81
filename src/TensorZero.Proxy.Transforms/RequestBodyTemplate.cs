using System.Buffers;
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
    }

    /// <summary>Renders the upstream body with <c>model</c> set to <paramref name="modelName"/> (added if absent).</summary>
    /// <param name="modelName">The provider's model name.</param>
    /// <param name="extraMembers">Whole encoded members (<c>"temperature":0.7</c>) appended as they are.</param>
    public byte[] Render(string modelName, ReadOnlySpan<byte[]> extraMembers = default)
    {
        ArgumentNullException.ThrowIfNull(modelName);
        var buffer = new ArrayBufferWriter<byte>(_source.Length + modelName.Length + 16);
        var source = _source.Span;
        buffer.Write("{"u8);
        var first = true;
        for (var i = 0; i < _keptMembers.Length; i++)
        {
            if (!first)
            {
                buffer.Write(","u8);
            }
            first = false;
            if (i == _modelMemberIndex)
            {
                WriteModelMember(buffer, modelName);
            }
            else
            {
                buffer.Write(source[_keptMembers[i]]);
            }
        }
        if (_modelMemberIndex < 0)
        {
            if (!first)
            {
                buffer.Write(","u8);
            }
            first = false;
            WriteModelMember(buffer, modelName);
        }
        foreach (var member in extraMembers)
        {
            if (!first)
            {
                buffer.Write(","u8);
            }
            first = false;
            buffer.Write(member);
        }
        buffer.Write("}"u8);
        return buffer.WrittenSpan.ToArray();
    }

    private static void WriteModelMember(ArrayBufferWriter<byte> buffer, string modelName)
    {
        buffer.Write("\"model\":"u8);
        using var writer = new Utf8JsonWriter(buffer);
        writer.WriteStringValue(modelName);
        writer.Flush();
    }
}
