using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using TensorZero.Proxy.Configuration;

namespace TensorZero.Proxy.Routing;

/// <summary>
/// A hash of a provider's configuration that is equal for two loads exactly when every setting is equal. The config
/// records hold frozen dictionaries and immutable arrays, whose equality is by reference, so two loads of one file are
/// never <c>Equals</c>; the fingerprint compares what they say instead. Every property takes part (a setting added to
/// <see cref="ProviderConfig"/> later is included without a change here), with object members in ordinal order.
/// </summary>
internal static class ProviderFingerprint
{
    private static readonly JsonSerializerOptions Options = new() { WriteIndented = false };

    /// <summary>The fingerprint, as hex.</summary>
    public static string Of(ProviderConfig provider)
    {
        ArgumentNullException.ThrowIfNull(provider);
        var node = JsonSerializer.SerializeToNode(provider, Options);
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            WriteCanonical(writer, node);
        }
        return Convert.ToHexString(SHA256.HashData(buffer.GetBuffer().AsSpan(0, (int)buffer.Length)))[..32];
    }

    private static void WriteCanonical(Utf8JsonWriter writer, JsonNode? node)
    {
        switch (node)
        {
            case null:
                writer.WriteNullValue();
                break;
            case JsonObject obj:
                writer.WriteStartObject();
                foreach (var (name, value) in obj.OrderBy(p => p.Key, StringComparer.Ordinal))
                {
                    writer.WritePropertyName(name);
                    WriteCanonical(writer, value);
                }
                writer.WriteEndObject();
                break;
            case JsonArray array:
                writer.WriteStartArray();
                foreach (var item in array)
                {
                    WriteCanonical(writer, item);
                }
                writer.WriteEndArray();
                break;
            default:
                node.WriteTo(writer);
                break;
        }
    }
}
