using System.Buffers;
using System.Text.Json;

namespace TensorZero.Proxy.Transforms;

/// <summary>
/// Rewrites a chat completion (body or chunk) as TensorZero does: <c>id</c> becomes the inference id,
/// <c>episode_id</c> is added after it and <c>model</c> echoes what the client asked for. Every other member
/// is copied byte for byte from one <see cref="Utf8JsonReader"/> pass: no DOM per chunk. A payload that is
/// not a JSON object (or not valid JSON) passes through unchanged.
/// </summary>
public sealed class ResponseRewriter : IResponseRewriter
{
    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_scratch;

    private readonly byte[] _idMember;
    private readonly byte[] _episodeMember;
    private readonly byte[] _modelMember;

    /// <summary>Creates a rewriter for one inference.</summary>
    /// <param name="inferenceId">The inference id: the response's <c>id</c>.</param>
    /// <param name="episodeId">The episode id, added as <c>episode_id</c>.</param>
    /// <param name="clientModel">
    /// The response's <c>model</c>: TensorZero's <c>tensorzero::function_name::F::variant_name::V</c> or
    /// <c>tensorzero::model_name::M</c>.
    /// </param>
    public ResponseRewriter(string inferenceId, string episodeId, string clientModel)
    {
        ArgumentNullException.ThrowIfNull(inferenceId);
        ArgumentNullException.ThrowIfNull(episodeId);
        ArgumentNullException.ThrowIfNull(clientModel);
        _idMember = Member("id", inferenceId);
        _episodeMember = Member("episode_id", episodeId);
        _modelMember = Member("model", clientModel);
    }

    /// <inheritdoc />
    public bool TryRewriteBody(ReadOnlySpan<byte> body, out byte[] rewritten)
    {
        // The thread's scratch buffer (nothing here awaits), then one array of the exact length.
        var output = t_scratch ??= new ArrayBufferWriter<byte>(4096);
        output.ResetWrittenCount();
        var valid = Rewrite(body, output, isEvent: false);
        rewritten = valid ? output.WrittenSpan.ToArray() : [];
        if (output.Capacity > 256 * 1024)
        {
            t_scratch = null; // a rare large body does not stay with the thread
        }
        return valid;
    }

    /// <inheritdoc />
    public void RewriteEvent(ReadOnlySpan<byte> json, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        Rewrite(json, output, isEvent: true);
    }

    /// <summary>Whether an SSE payload is a JSON object (the first event of a stream must be one).</summary>
    public static bool IsJsonObject(ReadOnlySpan<byte> json)
    {
        try
        {
            var reader = new Utf8JsonReader(json);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }
            reader.Skip();
            return !reader.Read();
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>
    /// Rewrites one object; a payload that is not a JSON object is copied unchanged and false is returned. Chunks
    /// without <c>usage</c> get <c>"usage": null</c>, as TensorZero's chunks have.
    /// </summary>
    private bool Rewrite(ReadOnlySpan<byte> json, IBufferWriter<byte> output, bool isEvent)
    {
        // Chat completions have about ten top-level members; more than 32 moves to the heap.
        Span<Range> members = stackalloc Range[32];
        Span<MemberKind> kinds = stackalloc MemberKind[32];
        var count = 0;
        try
        {
            var reader = new Utf8JsonReader(json);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                output.Write(json);
                return false;
            }
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var start = (int)reader.TokenStartIndex;
                var kind = reader.ValueTextEquals("id"u8) ? MemberKind.Id
                    : reader.ValueTextEquals("model"u8) ? MemberKind.Model
                    : reader.ValueTextEquals("episode_id"u8) ? MemberKind.EpisodeId
                    : reader.ValueTextEquals("usage"u8) ? MemberKind.Usage
                    : MemberKind.Other;
                reader.Read();
                reader.Skip();
                if (count == members.Length)
                {
                    var biggerMembers = new Range[count * 2];
                    var biggerKinds = new MemberKind[count * 2];
                    members.CopyTo(biggerMembers);
                    kinds.CopyTo(biggerKinds);
                    members = biggerMembers;
                    kinds = biggerKinds;
                }
                members[count] = new Range(start, (int)reader.BytesConsumed);
                kinds[count++] = kind;
            }
            if (reader.TokenType != JsonTokenType.EndObject || reader.Read())
            {
                output.Write(json);
                return false;
            }
        }
        catch (JsonException)
        {
            output.Write(json);
            return false;
        }

        output.Write("{"u8);
        output.Write(_idMember);
        output.Write(","u8);
        output.Write(_episodeMember);
        var hasUsage = false;
        for (var i = 0; i < count; i++)
        {
            switch (kinds[i])
            {
                case MemberKind.Id:
                case MemberKind.EpisodeId:
                    continue;
                case MemberKind.Model:
                    output.Write(","u8);
                    output.Write(_modelMember);
                    break;
                case MemberKind.Usage:
                    hasUsage = true;
                    output.Write(","u8);
                    output.Write(json[members[i]]);
                    break;
                default:
                    output.Write(","u8);
                    output.Write(json[members[i]]);
                    break;
            }
        }
        if (isEvent && !hasUsage)
        {
            output.Write(",\"usage\":null"u8);
        }
        output.Write("}"u8);
        return true;
    }

    /// <summary><c>"name":"value"</c> as UTF-8, the value JSON-escaped (relaxed: API clients, not HTML).</summary>
    private static byte[] Member(string name, string value)
    {
        // Ids (UUIDs) and most model names are printable ASCII without '"' or '\\', which the relaxed encoder would write
        // as they are: those are copied straight in, without an encoder call (one per member per request).
        var plain = IsPlainAscii(value);
        ReadOnlySpan<byte> encoded = plain
            ? default
            : JsonEncodedText.Encode(value, System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping).EncodedUtf8Bytes;
        var valueLength = plain ? value.Length : encoded.Length;
        var member = new byte[name.Length + 5 + valueLength];
        member[0] = (byte)'"';
        var length = 1 + System.Text.Encoding.UTF8.GetBytes(name, member.AsSpan(1));
        "\":\""u8.CopyTo(member.AsSpan(length));
        length += 3;
        length += plain ? System.Text.Encoding.ASCII.GetBytes(value, member.AsSpan(length)) : Copy(encoded, member.AsSpan(length));
        member[length++] = (byte)'"';
        return length == member.Length ? member : member[..length];

        static int Copy(ReadOnlySpan<byte> source, Span<byte> destination)
        {
            source.CopyTo(destination);
            return source.Length;
        }
    }

    private static bool IsPlainAscii(string value)
    {
        foreach (var c in value)
        {
            if (c is < ' ' or > '~' or '"' or '\\')
            {
                return false;
            }
        }
        return true;
    }

    private enum MemberKind : byte
    {
        Other,
        Id,
        Model,
        EpisodeId,
        Usage,
    }
}
