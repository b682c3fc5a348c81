using System.Text.Json;
using TensorZero.Proxy.Transforms;

namespace TensorZero.Proxy.Inference;

/// <summary>
/// A chat completions request as the gateway needs it, read in one <see cref="Utf8JsonReader"/> pass over
/// the body: <c>model</c>, <c>stream</c> and the <c>tensorzero::*</c> fields (kept as raw JSON). Every
/// other member is left as bytes in <see cref="Template"/>, which renders what goes upstream.
/// </summary>
internal sealed class InferenceRequest
{
    /// <summary>The prefix of gateway-only body fields; none of them is ever sent upstream.</summary>
    public const string TensorZeroPrefix = "tensorzero::";

    /// <summary>
    /// The <c>tensorzero::*</c> body fields the gateway accepts: every one TensorZero's OpenAI-compatible endpoint
    /// accepts. The passthrough path acts on the first six and ignores the others (<see cref="PassthroughIgnoredFields"/>).
    /// </summary>
    public static readonly string[] KnownTensorZeroFields =
    [
        "tensorzero::variant_name", "tensorzero::episode_id", "tensorzero::tags",
        "tensorzero::extra_headers", "tensorzero::extra_body", "tensorzero::dryrun",
        "tensorzero::namespace", "tensorzero::cache_options", "tensorzero::deny_unknown_fields",
        "tensorzero::credentials", "tensorzero::internal_dynamic_variant_config", "tensorzero::provider_tools",
        "tensorzero::params", "tensorzero::include_raw_usage", "tensorzero::include_original_response",
        "tensorzero::include_raw_response",
    ];

    /// <summary>The known <c>tensorzero::*</c> fields the passthrough path accepts without acting on them.</summary>
    public static readonly string[] PassthroughIgnoredFields = KnownTensorZeroFields[6..];

    private readonly HashSet<string> _fields;

    private InferenceRequest(
        byte[] body, string model, bool stream, RequestBodyTemplate template, Dictionary<string, JsonElement> tensorZeroFields, HashSet<string> fields,
        string[] ignoredFields)
    {
        _fields = fields;
        IgnoredFields = ignoredFields;
        Body = body;
        Model = model;
        Stream = stream;
        Template = template;
        TensorZeroFields = tensorZeroFields;
    }

    /// <summary>The body exactly as the client sent it.</summary>
    public byte[] Body { get; }

    /// <summary><c>model</c> exactly as the client sent it.</summary>
    public string Model { get; }

    /// <summary><c>stream</c>.</summary>
    public bool Stream { get; }

    /// <summary>The body without <c>tensorzero::*</c> fields, ready to render per provider.</summary>
    public RequestBodyTemplate Template { get; }

    /// <summary>The <c>tensorzero::*</c> fields by full name, as JSON.</summary>
    public IReadOnlyDictionary<string, JsonElement> TensorZeroFields { get; }

    /// <summary>
    /// The body's <c>tensorzero::*</c> fields that this path accepts and ignores (<see cref="PassthroughIgnoredFields"/>),
    /// in body order, for a warning to the client.
    /// </summary>
    public IReadOnlyList<string> IgnoredFields { get; }

    /// <summary>Whether the client's body has a top-level field of this name.</summary>
    public bool HasField(string name) => _fields.Contains(name);

    /// <summary>
    /// A request the typed path read from another endpoint's body (the native <c>/inference</c>): its target written as
    /// the OpenAI-compatible <c>model</c> would name it, for records and headers; never rendered for a provider.
    /// </summary>
    public static InferenceRequest ForTyped(byte[] body, string model, bool stream, IReadOnlyDictionary<string, JsonElement> gatewayFields) =>
        new(body, model, stream, new RequestBodyTemplate(body, [], -1), new Dictionary<string, JsonElement>(gatewayFields, StringComparer.Ordinal),
            [], []);

    /// <summary>Reads a body. On failure <paramref name="error"/> says what is wrong, for a 400.</summary>
    public static bool TryParse(byte[] body, out InferenceRequest? request, out string? error)
    {
        request = null;
        error = null;
        // JSON text is UTF-8 (RFC 8259); the reader checks structure, not the bytes inside strings, and reading such
        // a string would throw later, out of the request (a 500) or out of its record.
        if (!System.Text.Unicode.Utf8.IsValid(body))
        {
            error = "The request body is not valid UTF-8.";
            return false;
        }
        try
        {
            return TryParseCore(body, out request, out error);
        }
        catch (JsonException ex)
        {
            error = $"The request body is not valid JSON: {ex.Message}";
            return false;
        }
    }

    private static bool TryParseCore(byte[] body, out InferenceRequest? request, out string? error)
    {
        request = null;
        var reader = new Utf8JsonReader(body, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow, MaxDepth = 256 });
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            error = "The request body must be a JSON object.";
            return false;
        }

        var kept = new List<Range>(16);
        var modelIndex = -1;
        string? model = null;
        bool? stream = null;
        Dictionary<string, JsonElement>? tensorZero = null;
        List<string>? ignored = null;
        var seen = new HashSet<string>(StringComparer.Ordinal);

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var memberStart = (int)reader.TokenStartIndex;
            var name = reader.GetString()!;
            if (!seen.Add(name))
            {
                error = $"The request body has the field '{name}' more than once.";
                return false;
            }
            reader.Read();

            if (name.StartsWith(TensorZeroPrefix, StringComparison.Ordinal))
            {
                if (Array.IndexOf(KnownTensorZeroFields, name) < 0)
                {
                    error = $"Unknown field '{name}'. Supported gateway fields: {string.Join(", ", KnownTensorZeroFields)}.";
                    return false;
                }
                if (Array.IndexOf(PassthroughIgnoredFields, name) >= 0)
                {
                    (ignored ??= []).Add(name);
                }
                tensorZero ??= new Dictionary<string, JsonElement>(StringComparer.Ordinal);
                tensorZero[name] = JsonElement.ParseValue(ref reader);
                continue;
            }

            switch (name)
            {
                case "model":
                    if (reader.TokenType != JsonTokenType.String)
                    {
                        error = "'model' must be a string.";
                        return false;
                    }
                    model = reader.GetString();
                    modelIndex = kept.Count;
                    break;
                case "stream":
                    if (reader.TokenType is JsonTokenType.True or JsonTokenType.False)
                    {
                        stream = reader.GetBoolean();
                    }
                    else if (reader.TokenType != JsonTokenType.Null)
                    {
                        error = "'stream' must be a boolean.";
                        return false;
                    }
                    break;
                default:
                    reader.Skip();
                    break;
            }
            kept.Add(new Range(memberStart, (int)reader.BytesConsumed));
        }

        if (reader.TokenType != JsonTokenType.EndObject)
        {
            error = "The request body must be a JSON object.";
            return false;
        }
        // Trailing content after the object ("{...} x") is rejected by the reader on the next Read.
        if (reader.Read())
        {
            error = "The request body has content after the JSON object.";
            return false;
        }
        if (string.IsNullOrEmpty(model))
        {
            error = "Invalid request to OpenAI-compatible endpoint: missing field `model`: the request body must name a 'model'.";
            return false;
        }

        var template = new RequestBodyTemplate(body, [.. kept], modelIndex);
        request = new InferenceRequest(body, model, stream ?? false, template, tensorZero ?? [], seen, ignored?.ToArray() ?? []);
        error = null;
        return true;
    }
}
