using System.Collections.Immutable;
using System.Text.Json;

namespace TensorZero.Proxy.Embeddings;

/// <summary><c>encoding_format</c> of an embeddings request: how each vector is written in the response.</summary>
internal enum EmbeddingEncoding
{
    /// <summary>A JSON array of numbers (OpenAI's default).</summary>
    Float,

    /// <summary>The little-endian float32 bytes of the vector, base64-encoded (what OpenAI's SDKs ask for by default).</summary>
    Base64,
}

/// <summary>
/// An OpenAI-compatible embeddings request as TensorZero reads it (<c>OpenAICompatibleEmbeddingParams</c>): <c>model</c>,
/// <c>input</c> (a string, an array of strings, a token array or an array of token arrays), <c>dimensions</c>,
/// <c>encoding_format</c>, and the gateway fields <c>tensorzero::dryrun</c> and <c>tensorzero::credentials</c>. Other
/// OpenAI fields (<c>user</c>) are ignored, as TensorZero ignores them; <c>tensorzero::*</c> fields the gateway does not
/// act on are listed in <see cref="IgnoredFields"/> for a warning header.
/// </summary>
internal sealed record EmbeddingRequest
{
    /// <summary>The prefix that names an embedding model in <c>model</c> (TensorZero's; a plain name works too).</summary>
    public const string ModelPrefix = "tensorzero::embedding_model_name::";

    /// <summary><c>model</c> as the client sent it.</summary>
    public required string Model { get; init; }

    /// <summary>The embedding model's name: <see cref="Model"/> without <see cref="ModelPrefix"/>.</summary>
    public required string ModelName { get; init; }

    /// <summary><c>input</c> as the client sent it (JSON text), forwarded unchanged.</summary>
    public required string InputJson { get; init; }

    /// <summary>How many inputs (vectors asked for).</summary>
    public required int InputCount { get; init; }

    public int? Dimensions { get; init; }

    public EmbeddingEncoding Encoding { get; init; }

    public bool DryRun { get; init; }

    /// <summary><c>tensorzero::credentials</c>: dynamic API keys by name.</summary>
    public ImmutableDictionary<string, string> Credentials { get; init; } = ImmutableDictionary<string, string>.Empty;

    /// <summary>Accepted <c>tensorzero::*</c> fields the gateway does not act on, in body order.</summary>
    public ImmutableArray<string> IgnoredFields { get; init; } = [];

    /// <summary>
    /// The body sent to every provider: TensorZero's <c>{"model", "input", "dimensions"?, "encoding_format"}</c> with the
    /// client's <c>model</c>, which each attempt replaces with its provider's model name.
    /// </summary>
    public byte[] ProviderBody()
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, JsonOptions.Writer))
        {
            writer.WriteStartObject();
            writer.WriteString("model", Model);
            writer.WritePropertyName("input");
            writer.WriteRawValue(InputJson, skipInputValidation: true);
            if (Dimensions is { } dimensions)
            {
                writer.WriteNumber("dimensions", dimensions);
            }
            writer.WriteString("encoding_format", Encoding == EmbeddingEncoding.Base64 ? "base64" : "float");
            writer.WriteEndObject();
        }
        return stream.ToArray();
    }

    /// <summary>Reads a client's body; false with a message for a 400 otherwise.</summary>
    public static bool TryRead(byte[] body, out EmbeddingRequest? request, out string? error)
    {
        request = null;
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 64 });
        }
        catch (JsonException ex)
        {
            error = $"The request body is not valid JSON: {ex.Message}";
            return false;
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                error = "The request body must be a JSON object.";
                return false;
            }
            if (!root.TryGetProperty("model", out var model) || model.ValueKind != JsonValueKind.String)
            {
                error = "The request body must have a string field 'model' (e.g. \"tensorzero::embedding_model_name::my-embedding-model\").";
                return false;
            }
            if (!root.TryGetProperty("input", out var input))
            {
                error = "The request body must have a field 'input': a string, an array of strings, an array of token ids or an array of token id arrays.";
                return false;
            }
            if (!TryCountInputs(input, out var count, out error))
            {
                return false;
            }

            var modelText = model.GetString()!;
            var name = modelText.StartsWith(ModelPrefix, StringComparison.Ordinal) ? modelText[ModelPrefix.Length..] : modelText;
            if (name.Length == 0)
            {
                error = $"embedding_model_name (passed in model field after \"{ModelPrefix}\") cannot be empty";
                return false;
            }

            int? dimensions = null;
            if (root.TryGetProperty("dimensions", out var d) && d.ValueKind != JsonValueKind.Null)
            {
                if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt32(out var value) || value <= 0)
                {
                    error = "'dimensions' must be a positive integer.";
                    return false;
                }
                dimensions = value;
            }

            var encoding = EmbeddingEncoding.Float;
            if (root.TryGetProperty("encoding_format", out var format) && format.ValueKind != JsonValueKind.Null)
            {
                switch (format.ValueKind == JsonValueKind.String ? format.GetString() : null)
                {
                    case "float":
                        break;
                    case "base64":
                        encoding = EmbeddingEncoding.Base64;
                        break;
                    default:
                        error = "'encoding_format' must be \"float\" or \"base64\".";
                        return false;
                }
            }

            var dryRun = false;
            var credentials = ImmutableDictionary<string, string>.Empty;
            var ignored = ImmutableArray.CreateBuilder<string>();
            foreach (var member in root.EnumerateObject())
            {
                switch (member.Name)
                {
                    case "tensorzero::dryrun":
                        if (member.Value.ValueKind is not (JsonValueKind.True or JsonValueKind.False or JsonValueKind.Null))
                        {
                            error = "'tensorzero::dryrun' must be a boolean.";
                            return false;
                        }
                        dryRun = member.Value.ValueKind == JsonValueKind.True;
                        break;
                    case "tensorzero::credentials":
                        if (!TryReadCredentials(member.Value, out credentials, out error))
                        {
                            return false;
                        }
                        break;
                    default:
                        if (member.Name.StartsWith("tensorzero::", StringComparison.Ordinal))
                        {
                            ignored.Add(member.Name);
                        }
                        break;
                }
            }

            request = new EmbeddingRequest
            {
                Model = modelText,
                ModelName = name,
                InputJson = input.GetRawText(),
                InputCount = count,
                Dimensions = dimensions,
                Encoding = encoding,
                DryRun = dryRun,
                Credentials = credentials,
                IgnoredFields = ignored.ToImmutable(),
            };
            error = null;
            return true;
        }
    }

    /// <summary>Checks <c>input</c>'s shape (TensorZero's <c>EmbeddingInput</c>) and counts its inputs.</summary>
    private static bool TryCountInputs(JsonElement input, out int count, out string? error)
    {
        count = 0;
        error = null;
        const string Shape = "'input' must be a string, an array of strings, an array of token ids or an array of token id arrays";
        switch (input.ValueKind)
        {
            case JsonValueKind.String:
                count = 1;
                return true;
            case JsonValueKind.Array:
                var length = input.GetArrayLength();
                if (length == 0)
                {
                    error = "Input cannot be empty";
                    return false;
                }
                var first = input[0].ValueKind;
                if (first == JsonValueKind.Number)
                {
                    // One token array: one input.
                    if (input.EnumerateArray().All(IsTokenId))
                    {
                        count = 1;
                        return true;
                    }
                }
                else if (first == JsonValueKind.String)
                {
                    if (input.EnumerateArray().All(e => e.ValueKind == JsonValueKind.String))
                    {
                        count = length;
                        return true;
                    }
                }
                else if (first == JsonValueKind.Array)
                {
                    if (input.EnumerateArray().All(e => e.ValueKind == JsonValueKind.Array && e.EnumerateArray().All(IsTokenId)))
                    {
                        count = length;
                        return true;
                    }
                }
                error = Shape + " (all elements of one kind).";
                return false;
            default:
                error = Shape + ".";
                return false;
        }
    }

    private static bool IsTokenId(JsonElement element) => element.ValueKind == JsonValueKind.Number && element.TryGetUInt32(out _);

    private static bool TryReadCredentials(JsonElement value, out ImmutableDictionary<string, string> credentials, out string? error)
    {
        credentials = ImmutableDictionary<string, string>.Empty;
        error = null;
        if (value.ValueKind == JsonValueKind.Null)
        {
            return true;
        }
        if (value.ValueKind != JsonValueKind.Object)
        {
            error = "'tensorzero::credentials' must be an object of strings.";
            return false;
        }
        var builder = ImmutableDictionary.CreateBuilder<string, string>(StringComparer.Ordinal);
        foreach (var entry in value.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.String)
            {
                error = $"'tensorzero::credentials.{entry.Name}' must be a string.";
                return false;
            }
            builder[entry.Name] = entry.Value.GetString()!;
        }
        credentials = builder.ToImmutable();
        return true;
    }
}
