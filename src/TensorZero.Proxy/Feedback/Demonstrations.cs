using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Json.Schema;

namespace TensorZero.Proxy.Feedback;

/// <summary>
/// The tools a demonstration's tool calls are checked against: the function's configured tools and, when known, the
/// ones the inference's request offered. <see cref="Complete"/> is false when the inference offered tools the
/// gateway cannot see now (its record is not in ClickHouse, or there is no ClickHouse): a call naming an unseen tool
/// is then kept as given, not refused.
/// </summary>
/// <param name="Parameters">Tool name → the JSON Schema of its arguments.</param>
/// <param name="Complete">Whether <paramref name="Parameters"/> holds every tool the inference had.</param>
internal sealed record DemonstrationTools(IReadOnlyDictionary<string, JsonElement> Parameters, bool Complete)
{
    /// <summary>No tools at all: every tool call is refused.</summary>
    public static DemonstrationTools None { get; } = new(new Dictionary<string, JsonElement>(), Complete: true);

    /// <summary>
    /// Adds the tools of a recorded <c>tool_params</c> text: the OpenAI request members (<c>{"tools": [{"type":
    /// "function", "function": {"name", "parameters"}}]}</c>) or TensorZero's (<c>tools_available</c> of
    /// <c>{"name", "parameters"}</c>). Unreadable text adds nothing.
    /// </summary>
    public static void AddRecorded(string toolParams, Dictionary<string, JsonElement> into)
    {
        if (string.IsNullOrWhiteSpace(toolParams))
        {
            return;
        }
        try
        {
            using var document = JsonDocument.Parse(toolParams);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                return;
            }
            foreach (var list in (ReadOnlySpan<string>)["tools", "tools_available"])
            {
                if (!document.RootElement.TryGetProperty(list, out var tools) || tools.ValueKind != JsonValueKind.Array)
                {
                    continue;
                }
                foreach (var tool in tools.EnumerateArray())
                {
                    var definition = tool.ValueKind == JsonValueKind.Object && tool.TryGetProperty("function", out var function) ? function : tool;
                    if (definition.ValueKind == JsonValueKind.Object
                        && definition.TryGetProperty("name", out var name) && name.ValueKind == JsonValueKind.String)
                    {
                        into[name.GetString()!] = definition.TryGetProperty("parameters", out var parameters)
                            ? parameters.Clone()
                            : JsonDocument.Parse("{}").RootElement.Clone();
                    }
                }
            }
        }
        catch (JsonException)
        {
        }
    }
}

/// <summary>
/// Demonstrations (TensorZero's <c>validate_parse_demonstration</c>): the value is checked against what the
/// inference's function produces and turned into what is stored, as TensorZero stores it. A chat function takes a
/// string (one text block) or an array of <c>text</c> and <c>tool_call</c> blocks (stored as TensorZero's output
/// blocks: <c>{"type":"tool_call","id","raw_name","raw_arguments","name","arguments"}</c>); a JSON function takes a
/// JSON value valid against the inference's output schema (stored as <c>{"raw","parsed"}</c>).
/// </summary>
internal static class Demonstrations
{
    // Compiled schemas by the schema's document; a config's schema is one document for the config's lifetime, and a
    // recorded inference's schema text is one string for as long as the index remembers it.
    private static readonly ConditionalWeakTable<object, JsonSchema> Compiled = new();

    /// <summary>A chat function's demonstration; <paramref name="stored"/> is the JSON array of output blocks.</summary>
    public static FeedbackError? ParseChat(JsonElement value, DemonstrationTools tools, out string stored)
    {
        stored = "";
        var output = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(output, JsonOptions.Writer))
        {
            writer.WriteStartArray();
            if (value.ValueKind == JsonValueKind.String)
            {
                WriteText(writer, value.GetString()!);
            }
            else if (value.ValueKind == JsonValueKind.Array)
            {
                foreach (var block in value.EnumerateArray())
                {
                    if (WriteBlock(writer, block, tools) is { } error)
                    {
                        return error;
                    }
                }
            }
            else
            {
                return FeedbackError.Invalid("Demonstration must be a string or an array of content blocks");
            }
            writer.WriteEndArray();
        }
        stored = Encoding.UTF8.GetString(output.WrittenSpan);
        return null;
    }

    /// <summary>
    /// A JSON function's demonstration, valid against <paramref name="schema"/> (null: TensorZero's default <c>{}</c>,
    /// any JSON); <paramref name="stored"/> is <c>{"raw": "&lt;the value as compact JSON&gt;", "parsed": value}</c>.
    /// </summary>
    public static FeedbackError? ParseJson(JsonElement value, JsonSchema? schema, out string stored)
    {
        stored = "";
        if (schema is not null)
        {
            var results = schema.Evaluate(value, new EvaluationOptions { OutputFormat = OutputFormat.List });
            if (!results.IsValid)
            {
                return FeedbackError.Invalid($"Demonstration does not fit function output schema: {Describe(results)}");
            }
        }
        var raw = Compact(value);
        var output = new ArrayBufferWriter<byte>(raw.Length * 2 + 32);
        using (var writer = new Utf8JsonWriter(output, JsonOptions.Writer))
        {
            writer.WriteStartObject();
            writer.WriteString("raw", raw);
            writer.WritePropertyName("parsed");
            value.WriteTo(writer);
            writer.WriteEndObject();
        }
        stored = Encoding.UTF8.GetString(output.WrittenSpan);
        return null;
    }

    /// <summary>
    /// The compiled schema of <paramref name="schema"/>, kept with <paramref name="owner"/> (the object the schema
    /// belongs to: a config's schema file or a recorded schema's text). Null with an error when it is not a schema.
    /// </summary>
    public static JsonSchema? Compile(object owner, JsonElement schema, out string? error)
    {
        error = null;
        if (Compiled.TryGetValue(owner, out var known))
        {
            return known;
        }
        try
        {
            // A registry of its own: schemas with the same $id (every function's) must not collide in the global one.
            var compiled = JsonSchema.Build(schema, new BuildOptions { SchemaRegistry = new SchemaRegistry() });
            Compiled.AddOrUpdate(owner, compiled);
            return compiled;
        }
        catch (Exception ex) when (ex is JsonSchemaException or JsonException or ArgumentException or InvalidOperationException or RefResolutionException)
        {
            error = ex.Message;
            return null;
        }
    }

    private static FeedbackError? WriteBlock(Utf8JsonWriter writer, JsonElement block, DemonstrationTools tools)
    {
        if (block.ValueKind != JsonValueKind.Object)
        {
            return Invalid($"invalid type: {FeedbackRequest.Describe(block)}, expected internally tagged enum DemonstrationContentBlock");
        }
        if (!block.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
        {
            return Invalid("missing field `type`");
        }
        switch (type.GetString())
        {
            case "text":
                if (!block.TryGetProperty("text", out var text) || text.ValueKind != JsonValueKind.String)
                {
                    return Invalid(block.TryGetProperty("text", out var t) ? $"invalid type: {FeedbackRequest.Describe(t)}, expected a string" : "missing field `text`");
                }
                WriteText(writer, text.GetString()!);
                return null;
            case "tool_call":
                return WriteToolCall(writer, block, tools);
            default:
                return Invalid($"unknown variant `{type.GetString()}`, expected `text` or `tool_call`");
        }
    }

    private static FeedbackError? WriteToolCall(Utf8JsonWriter writer, JsonElement block, DemonstrationTools tools)
    {
        foreach (var field in (ReadOnlySpan<string>)["name", "arguments", "id"])
        {
            if (!block.TryGetProperty(field, out _))
            {
                return Invalid($"missing field `{field}`");
            }
        }
        var name = block.GetProperty("name");
        var id = block.GetProperty("id");
        if (name.ValueKind != JsonValueKind.String || id.ValueKind != JsonValueKind.String)
        {
            var bad = name.ValueKind != JsonValueKind.String ? name : id;
            return Invalid($"invalid type: {FeedbackRequest.Describe(bad)}, expected a string");
        }
        var arguments = block.GetProperty("arguments");
        var rawName = name.GetString()!;
        bool known = tools.Parameters.TryGetValue(rawName, out var parameters);
        if (!known && tools.Complete)
        {
            return FeedbackError.Invalid("Demonstration contains invalid tool name");
        }
        if (known)
        {
            var schema = Compile(parameters, parameters, out _);
            if (schema is null || !schema.Evaluate(arguments).IsValid)
            {
                return FeedbackError.Invalid("Demonstration contains invalid tool call arguments");
            }
        }
        writer.WriteStartObject();
        writer.WriteString("type", "tool_call");
        writer.WriteString("id", id.GetString());
        writer.WriteString("raw_name", rawName);
        writer.WriteString("raw_arguments", Compact(arguments));
        writer.WriteString("name", rawName);
        writer.WritePropertyName("arguments");
        arguments.WriteTo(writer);
        writer.WriteEndObject();
        return null;
    }

    private static void WriteText(Utf8JsonWriter writer, string text)
    {
        writer.WriteStartObject();
        writer.WriteString("type", "text");
        writer.WriteString("text", text);
        writer.WriteEndObject();
    }

    private static FeedbackError Invalid(string why) => FeedbackError.Invalid($"Invalid demonstration content block: {why}");

    /// <summary>The value as compact JSON text, members in their order (what TensorZero's serde_json writes).</summary>
    internal static string Compact(JsonElement value)
    {
        var output = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(output, JsonOptions.Writer))
        {
            value.WriteTo(writer);
        }
        return Encoding.UTF8.GetString(output.WrittenSpan);
    }

    /// <summary>The schema's complaints, e.g. <c>at '/age': Value should be at least 0</c>, joined.</summary>
    private static string Describe(EvaluationResults results)
    {
        var problems = new List<string>();
        foreach (var detail in results.Details is { Count: > 0 } details ? details : [results])
        {
            foreach (var (_, message) in detail.Errors ?? new Dictionary<string, string>())
            {
                problems.Add($"at '{detail.InstanceLocation}': {message}");
            }
        }
        return problems.Count == 0 ? "the value is not valid" : string.Join("; ", problems.Distinct());
    }
}
