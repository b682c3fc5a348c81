using System.Globalization;
using System.Text;
using System.Text.Json;

namespace TensorZero.Proxy.Inference;

/// <summary>Why a request body was refused: the HTTP status, the message for the client and a machine-readable code.</summary>
/// <param name="Status">The HTTP status (TensorZero answers 400 for every malformed body).</param>
/// <param name="Message">The message, worded as TensorZero words it where the clients' tests look for it.</param>
/// <param name="Code">A machine-readable code for the OpenAI-shaped error (<c>invalid_request</c>).</param>
internal sealed record RequestError(int Status, string Message, string Code)
{
    public const string InvalidRequest = "invalid_request";

    public static RequestError BadRequest(string message) => new(400, message, InvalidRequest);

    /// <summary>
    /// Parses a typed endpoint's body as TensorZero does (UTF-8, one JSON value, then <paramref name="read"/>); on
    /// failure <paramref name="error"/> is TensorZero's 400 and message.
    /// </summary>
    public static bool TryParseBody<T>(byte[] body, Func<JsonElement, T> read, out T? result, out RequestError? error)
        where T : class
    {
        result = null;
        error = null;
        if (!System.Text.Unicode.Utf8.IsValid(body))
        {
            error = BadRequest("Failed to parse the request body as JSON: the body is not valid UTF-8");
            return false;
        }
        JsonElement root;
        try
        {
            var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = 256 });
            root = JsonElement.ParseValue(ref reader);
            if (reader.Read())
            {
                error = BadRequest("Failed to parse the request body as JSON: trailing characters after the JSON value");
                return false;
            }
        }
        catch (JsonException ex)
        {
            error = BadRequest($"Failed to parse the request body as JSON: {ex.Message}");
            return false;
        }
        try
        {
            result = read(root);
            return true;
        }
        catch (RequestFormatException ex)
        {
            error = BadRequest(ex.Message);
            return false;
        }
    }
}

/// <summary>
/// Thrown inside the typed request readers when a body does not have TensorZero's shape; caught at their
/// <c>TryRead</c> boundary and turned into a <see cref="RequestError"/> (never escapes to the host).
/// </summary>
internal sealed class RequestFormatException(string message) : Exception(message);

/// <summary>
/// The members of one JSON object of a request body, with serde-like checks and messages (TensorZero's gateway reads
/// bodies with serde, so its clients see serde's wording: "missing field `model`", "invalid type: ..., expected ...").
/// A member given twice keeps its last value, as serde_json does.
/// </summary>
internal sealed class JsonMembers
{
    private readonly Dictionary<string, JsonElement> _members;

    private JsonMembers(JsonElement element, string path)
    {
        Element = element;
        Path = path;
        _members = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        Names = [];
        foreach (var member in element.EnumerateObject())
        {
            if (!_members.ContainsKey(member.Name))
            {
                Names.Add(member.Name);
            }
            _members[member.Name] = member.Value;
        }
    }

    /// <summary>The object itself.</summary>
    public JsonElement Element { get; }

    /// <summary>Where the object is in the body, as serde_path_to_error writes it (<c>messages[0].content</c>); empty at the root.</summary>
    public string Path { get; }

    /// <summary>The member names in body order, each once.</summary>
    public List<string> Names { get; }

    /// <summary>Reads an object; anything else is a type error naming <paramref name="expected"/>.</summary>
    public static JsonMembers Of(JsonElement element, string path, string expected = "a map")
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            throw Invalid(path, element, expected);
        }
        return new JsonMembers(element, path);
    }

    /// <summary>The path of a member of this object.</summary>
    public string PathOf(string name) => Join(Path, name);

    public static string Join(string path, string name) => path.Length == 0 ? name : $"{path}.{name}";

    public static string Index(string path, int index) => $"{path}[{index}]";

    public bool Has(string name) => _members.ContainsKey(name);

    /// <summary>The member as it is, null included; false when absent.</summary>
    public bool TryGetRaw(string name, out JsonElement value) => _members.TryGetValue(name, out value);

    /// <summary>An <c>Option&lt;T&gt;</c> member: absent and <c>null</c> are both "not set".</summary>
    public JsonElement? Optional(string name) =>
        _members.TryGetValue(name, out var value) && value.ValueKind != JsonValueKind.Null ? value : null;

    /// <summary>A required member; <c>null</c> is a type error, absence is "missing field".</summary>
    public JsonElement Required(string name, string expected)
    {
        if (!_members.TryGetValue(name, out var value))
        {
            throw Missing(name);
        }
        if (value.ValueKind == JsonValueKind.Null)
        {
            throw Invalid(PathOf(name), value, expected);
        }
        return value;
    }

    /// <summary>A <c>#[serde(default)]</c> member that is not an option: absence is the default, <c>null</c> a type error.</summary>
    public JsonElement? Defaulted(string name, string expected)
    {
        if (!_members.TryGetValue(name, out var value))
        {
            return null;
        }
        if (value.ValueKind == JsonValueKind.Null)
        {
            throw Invalid(PathOf(name), value, expected);
        }
        return value;
    }

    public string RequiredString(string name) => AsString(Required(name, "a string"), PathOf(name));

    public string? OptionalString(string name) => Optional(name) is { } value ? AsString(value, PathOf(name)) : null;

    public bool? OptionalBool(string name) => Optional(name) is { } value ? AsBool(value, PathOf(name)) : null;

    public bool DefaultedBool(string name) => Defaulted(name, "a boolean") is { } value && AsBool(value, PathOf(name));

    public double? OptionalFloat(string name) => Optional(name) is { } value ? AsFloat(value, PathOf(name)) : null;

    public uint? OptionalU32(string name) => Optional(name) is { } value ? AsU32(value, PathOf(name)) : null;

    public JsonElement RequiredObject(string name)
    {
        var value = Required(name, "a map");
        return value.ValueKind == JsonValueKind.Object ? value : throw Invalid(PathOf(name), value, "a map");
    }

    /// <summary>Refuses members not in <paramref name="allowed"/> (serde's <c>deny_unknown_fields</c>).</summary>
    public void DenyUnknown(params string[] allowed)
    {
        foreach (var name in Names)
        {
            if (Array.IndexOf(allowed, name) < 0)
            {
                throw new RequestFormatException(Prefix(Path, $"unknown field `{name}`, {Expected(allowed)}"));
            }
        }
    }

    public RequestFormatException Missing(string name) => new(Prefix(Path, $"missing field `{name}`"));

    public static string AsString(JsonElement value, string path) =>
        value.ValueKind == JsonValueKind.String ? value.GetString()! : throw Invalid(path, value, "a string");

    public static bool AsBool(JsonElement value, string path) =>
        value.ValueKind is JsonValueKind.True or JsonValueKind.False ? value.GetBoolean() : throw Invalid(path, value, "a boolean");

    /// <summary>An <c>f32</c>: any JSON number (serde accepts integers for floats).</summary>
    public static double AsFloat(JsonElement value, string path)
    {
        if (value.ValueKind != JsonValueKind.Number)
        {
            throw Invalid(path, value, "f32");
        }
        var number = value.GetDouble();
        return double.IsFinite((float)number) ? number : throw new RequestFormatException(Prefix(path, $"invalid value: {Describe(value)}, expected f32"));
    }

    public static uint AsU32(JsonElement value, string path)
    {
        if (value.ValueKind == JsonValueKind.Number && value.TryGetUInt32(out var result))
        {
            return result;
        }
        if (value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out _))
        {
            throw new RequestFormatException(Prefix(path, $"invalid value: {Describe(value)}, expected u32"));
        }
        throw Invalid(path, value, "u32");
    }

    public static int AsI32(JsonElement value, string path)
    {
        if (value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var result))
        {
            return result;
        }
        if (value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out _))
        {
            throw new RequestFormatException(Prefix(path, $"invalid value: {Describe(value)}, expected i32"));
        }
        throw Invalid(path, value, "i32");
    }

    /// <summary>serde's "invalid type" error.</summary>
    public static RequestFormatException Invalid(string path, JsonElement value, string expected) =>
        new(Prefix(path, $"invalid type: {Describe(value)}, expected {expected}"));

    /// <summary>serde's "unknown variant" error for a tag or an enum string.</summary>
    public static RequestFormatException UnknownVariant(string path, string variant, params string[] expected) =>
        new(Prefix(path, $"unknown variant `{variant}`, {Expected(expected)}"));

    /// <summary>A message at a path, as serde_path_to_error prints it (<c>path: message</c>; no prefix at the root).</summary>
    public static string Prefix(string path, string message) => path.Length == 0 ? message : $"{path}: {message}";

    /// <summary>serde's description of an unexpected value (<c>string "x"</c>, <c>integer `3`</c>, <c>map</c>...).</summary>
    public static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => $"string {Quote(value.GetString()!)}",
        JsonValueKind.Number when value.TryGetInt64(out var integer) => $"integer `{integer.ToString(CultureInfo.InvariantCulture)}`",
        JsonValueKind.Number when value.TryGetUInt64(out var unsigned) => $"integer `{unsigned.ToString(CultureInfo.InvariantCulture)}`",
        JsonValueKind.Number => $"floating point `{FormatFloat(value.GetDouble())}`",
        JsonValueKind.True => "boolean `true`",
        JsonValueKind.False => "boolean `false`",
        JsonValueKind.Null => "null",
        JsonValueKind.Array => "sequence",
        _ => "map",
    };

    /// <summary>serde's list of what was expected: <c>expected `a`</c>, <c>expected `a` or `b`</c>, <c>expected one of `a`, `b`, `c`</c>.</summary>
    public static string Expected(string[] names) => names.Length switch
    {
        0 => "there are no fields",
        1 => $"expected `{names[0]}`",
        2 => $"expected `{names[0]}` or `{names[1]}`",
        _ => "expected one of " + string.Join(", ", names.Select(n => $"`{n}`")),
    };

    private static string FormatFloat(double value)
    {
        var text = value.ToString("R", CultureInfo.InvariantCulture);
        return text.Contains('.', StringComparison.Ordinal) || text.Contains('E', StringComparison.Ordinal) ? text : text + ".0";
    }

    private static string Quote(string text)
    {
        var builder = new StringBuilder(text.Length + 2).Append('"');
        foreach (var c in text)
        {
            builder.Append(c switch
            {
                '"' => "\\\"",
                '\\' => "\\\\",
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                _ => c.ToString(),
            });
        }
        return builder.Append('"').ToString();
    }
}
