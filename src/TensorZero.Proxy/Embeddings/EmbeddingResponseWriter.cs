using System.Buffers;
using System.Buffers.Binary;
using System.Text.Json;
using TensorZero.Proxy.Transforms;

namespace TensorZero.Proxy.Embeddings;

/// <summary>
/// Turns a provider's embeddings answer (OpenAI's shape: <c>data[].embedding</c> as numbers or base64, <c>usage</c>) into
/// the gateway's, as TensorZero writes it: <c>{"object":"list","data":[{"object":"embedding","index":i,"embedding":...}],
/// "model":"tensorzero::embedding_model_name::E","usage":{"prompt_tokens","total_tokens"}}</c>. Each vector is written in the
/// encoding the client asked for, whichever the provider used. A 200 that is not such an answer fails the attempt over.
/// </summary>
internal sealed class EmbeddingResponseWriter : IResponseRewriter
{
    private readonly string _model;
    private readonly EmbeddingEncoding _encoding;

    /// <param name="modelName">The embedding model's name; the response's <c>model</c> is it with TensorZero's prefix.</param>
    /// <param name="encoding">The encoding the client asked for.</param>
    public EmbeddingResponseWriter(string modelName, EmbeddingEncoding encoding)
    {
        _model = EmbeddingRequest.ModelPrefix + modelName;
        _encoding = encoding;
    }

    /// <summary>Input tokens the last answer reported, once <see cref="TryRewriteBody"/> read it.</summary>
    public int? InputTokens { get; private set; }

    /// <summary>Vectors in the last answer, and the length of the first.</summary>
    public (int Count, int Dimensions) Shape { get; private set; }

    /// <inheritdoc />
    public bool TryRewriteBody(ReadOnlySpan<byte> body, out byte[] rewritten)
    {
        rewritten = [];
        try
        {
            var reader = new Utf8JsonReader(body);
            using var document = JsonDocument.ParseValue(ref reader);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Array)
            {
                return false;
            }
            var items = new List<(int Index, JsonElement Embedding)>(data.GetArrayLength());
            var position = 0;
            foreach (var item in data.EnumerateArray())
            {
                if (item.ValueKind != JsonValueKind.Object || !item.TryGetProperty("embedding", out var embedding)
                    || embedding.ValueKind is not (JsonValueKind.Array or JsonValueKind.String))
                {
                    return false;
                }
                // Providers answer in input order and say so with `index`; sort by it where given.
                var index = item.TryGetProperty("index", out var i) && i.TryGetInt32(out var n) ? n : position;
                items.Add((index, embedding));
                position++;
            }
            items.Sort((a, b) => a.Index.CompareTo(b.Index));

            int? tokens = null;
            if (root.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object
                && usage.TryGetProperty("prompt_tokens", out var prompt) && prompt.TryGetInt32(out var count))
            {
                tokens = count;
            }
            InputTokens = tokens;

            var output = new ArrayBufferWriter<byte>(body.Length + 256);
            var dimensions = 0;
            using (var writer = new Utf8JsonWriter(output, JsonOptions.Writer))
            {
                writer.WriteStartObject();
                writer.WriteString("object", "list");
                writer.WriteStartArray("data");
                for (var k = 0; k < items.Count; k++)
                {
                    writer.WriteStartObject();
                    writer.WriteString("object", "embedding");
                    writer.WriteNumber("index", k);
                    writer.WritePropertyName("embedding");
                    var length = WriteVector(writer, items[k].Embedding);
                    if (length < 0)
                    {
                        return false;
                    }
                    if (k == 0)
                    {
                        dimensions = length;
                    }
                    writer.WriteEndObject();
                }
                writer.WriteEndArray();
                writer.WriteString("model", _model);
                // OpenAI's shape has numbers here (its SDKs read them as integers): 0 when the provider reported none.
                writer.WriteStartObject("usage");
                writer.WriteNumber("prompt_tokens", tokens ?? 0);
                writer.WriteNumber("total_tokens", tokens ?? 0);
                writer.WriteEndObject();
                writer.WriteEndObject();
            }
            Shape = (items.Count, dimensions);
            rewritten = output.WrittenSpan.ToArray();
            return true;
        }
        catch (Exception ex) when (ex is JsonException or FormatException or InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>Embeddings are never streamed; an event is passed on as it is.</summary>
    public void RewriteEvent(ReadOnlySpan<byte> json, IBufferWriter<byte> output) => output.Write(json);

    /// <summary>Writes one vector in the client's encoding; returns its length, or -1 when it is not a vector.</summary>
    private int WriteVector(Utf8JsonWriter writer, JsonElement embedding)
    {
        if (embedding.ValueKind == JsonValueKind.Array)
        {
            var length = embedding.GetArrayLength();
            if (_encoding == EmbeddingEncoding.Float)
            {
                foreach (var number in embedding.EnumerateArray())
                {
                    if (number.ValueKind != JsonValueKind.Number)
                    {
                        return -1;
                    }
                }
                // The provider's numbers as it wrote them: no float round trip.
                embedding.WriteTo(writer);
                return length;
            }
            var bytes = new byte[length * sizeof(float)];
            var offset = 0;
            foreach (var number in embedding.EnumerateArray())
            {
                if (number.ValueKind != JsonValueKind.Number)
                {
                    return -1;
                }
                BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(offset), number.GetSingle());
                offset += sizeof(float);
            }
            writer.WriteBase64StringValue(bytes);
            return length;
        }

        var decoded = embedding.GetBytesFromBase64();
        if (decoded.Length % sizeof(float) != 0)
        {
            return -1;
        }
        var count = decoded.Length / sizeof(float);
        if (_encoding == EmbeddingEncoding.Base64)
        {
            writer.WriteBase64StringValue(decoded);
            return count;
        }
        writer.WriteStartArray();
        for (var i = 0; i < count; i++)
        {
            writer.WriteNumberValue(BinaryPrimitives.ReadSingleLittleEndian(decoded.AsSpan(i * sizeof(float))));
        }
        writer.WriteEndArray();
        return count;
    }
}
