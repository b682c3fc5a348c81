using System.Text;
using System.Text.Json;
using Json.Schema;

namespace TensorZero.Proxy.Functions;

/// <summary>
/// A compiled JSON Schema (JsonSchema.Net): function input schemas, tool parameters and JSON output schemas. Each
/// schema gets its own registry, so two schemas with the same <c>$id</c> (two functions, a reload) never collide.
/// Thread-safe once built.
/// </summary>
internal sealed class SchemaValidator
{
    private static readonly EvaluationOptions Options = new() { OutputFormat = OutputFormat.List };

    private readonly JsonSchema _schema;

    private SchemaValidator(JsonSchema schema, JsonElement json)
    {
        _schema = schema;
        Json = json;
    }

    /// <summary>The schema as written.</summary>
    public JsonElement Json { get; }

    /// <summary>Compiles a schema; false with the reason when it is not a valid JSON Schema.</summary>
    public static bool TryCompile(JsonElement schema, out SchemaValidator? validator, out string? error)
    {
        validator = null;
        error = null;
        if (schema.ValueKind is not (JsonValueKind.Object or JsonValueKind.True or JsonValueKind.False))
        {
            error = "a JSON Schema must be an object or a boolean";
            return false;
        }
        try
        {
            var options = new BuildOptions { SchemaRegistry = new SchemaRegistry() };
            var built = JsonSchema.Build(schema, options, new Uri("https://schemas.tensorzero-proxy.invalid/" + Guid.NewGuid().ToString("N")));
            validator = new SchemaValidator(built, schema.Clone());
            return true;
        }
        catch (Exception ex) when (ex is JsonSchemaException or JsonException or ArgumentException or InvalidOperationException or FormatException)
        {
            error = "not a valid JSON Schema: " + ex.Message;
            return false;
        }
    }

    /// <summary>Compiles a schema known to be valid (tests, built-in schemas).</summary>
    public static SchemaValidator Compile(JsonElement schema) =>
        TryCompile(schema, out var validator, out var error) ? validator! : throw new ArgumentException(error, nameof(schema));

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, SchemaValidator?> s_cache = new(StringComparer.Ordinal);

    private const int MaxCached = 512;

    /// <summary>
    /// The compiled validator of a schema, kept by its JSON text: configured schemas (tools, output schemas) compile
    /// once; past the bound (many distinct dynamic schemas) they compile per call. Null when the schema is invalid.
    /// </summary>
    public static SchemaValidator? Cached(JsonElement schema)
    {
        var key = schema.GetRawText();
        if (s_cache.TryGetValue(key, out var cached))
        {
            return cached;
        }
        var validator = TryCompile(schema, out var compiled, out _) ? compiled : null;
        if (s_cache.Count < MaxCached)
        {
            s_cache.TryAdd(key, validator);
        }
        return validator;
    }

    /// <summary>Null when <paramref name="instance"/> is valid; otherwise every violation, one per line.</summary>
    public string? Validate(JsonElement instance)
    {
        EvaluationResults results;
        try
        {
            results = _schema.Evaluate(instance, Options);
        }
        catch (Exception ex) when (ex is JsonSchemaException or InvalidOperationException or FormatException)
        {
            // A schema that builds but cannot evaluate (an unresolvable $ref, ...) rejects rather than crashes.
            return "the schema could not be evaluated: " + ex.Message;
        }
        if (results.IsValid)
        {
            return null;
        }

        var text = new StringBuilder();
        foreach (var detail in (IEnumerable<EvaluationResults>?)results.Details ?? [])
        {
            if (detail.Errors is null)
            {
                continue;
            }
            foreach (var (keyword, message) in detail.Errors)
            {
                var location = detail.InstanceLocation.ToString();
                text.Append(text.Length == 0 ? "" : "; ")
                    .Append(location.Length == 0 ? "(root)" : location).Append(": ").Append(message).Append(" (").Append(keyword).Append(')');
            }
        }
        if (results.Errors is { } top)
        {
            foreach (var (keyword, message) in top)
            {
                text.Append(text.Length == 0 ? "" : "; ").Append("(root): ").Append(message).Append(" (").Append(keyword).Append(')');
            }
        }
        return text.Length == 0 ? "the value does not match the schema" : text.ToString();
    }
}
