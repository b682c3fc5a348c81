using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace TensorZero.Proxy.Transforms;

/// <summary>One <c>extra_body</c> entry: <c>{pointer, value}</c> sets, <c>{pointer, delete = true}</c> removes.</summary>
/// <param name="Filter">Which attempts it applies to.</param>
/// <param name="Pointer">An RFC 6901 JSON pointer into the request body.</param>
/// <param name="Value">The JSON value to set (raw JSON text), or null to delete.</param>
public sealed record ExtraBodyEntry(ExtraEntryFilter Filter, string Pointer, string? Value)
{
    /// <summary>Whether the entry removes what the pointer names.</summary>
    public bool Delete => Value is null;

    /// <inheritdoc />
    public override string ToString() => Delete ? $"{{pointer: '{Pointer}', delete: true}}" : $"{{pointer: '{Pointer}', value: {Value}}}";
}

/// <summary>
/// A request's <c>tensorzero::extra_body</c> as received and validated, not yet narrowed to an attempt
/// (the body counterpart of <see cref="UnfilteredInferenceExtraHeaders"/>).
/// </summary>
public sealed class UnfilteredInferenceExtraBody
{
    /// <summary>No entries.</summary>
    public static UnfilteredInferenceExtraBody Empty { get; } = new([]);

    /// <summary>Wraps validated entries, in request order.</summary>
    public UnfilteredInferenceExtraBody(IReadOnlyList<ExtraBodyEntry> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        Entries = entries;
    }

    /// <summary>The entries in request order.</summary>
    public IReadOnlyList<ExtraBodyEntry> Entries { get; }

    /// <summary>The entries that apply to one attempt.</summary>
    public FilteredInferenceExtraBody Filter(string? variant, string model, string provider)
    {
        if (Entries.Count == 0)
        {
            return FilteredInferenceExtraBody.Empty;
        }
        var matching = Entries.Where(e => e.Filter.Matches(variant, model, provider)).ToList();
        return matching.Count == 0 ? FilteredInferenceExtraBody.Empty : new FilteredInferenceExtraBody(matching);
    }
}

/// <summary>The request's extra body entries narrowed to one attempt.</summary>
public sealed class FilteredInferenceExtraBody
{
    /// <summary>No entries.</summary>
    public static FilteredInferenceExtraBody Empty { get; } = new([]);

    internal FilteredInferenceExtraBody(IReadOnlyList<ExtraBodyEntry> entries)
    {
        Entries = entries;
    }

    /// <summary>The entries that apply, in request order.</summary>
    public IReadOnlyList<ExtraBodyEntry> Entries { get; }

    /// <summary>Variant configuration, provider configuration, then these entries: later wins.</summary>
    public IReadOnlyList<ExtraBodyEntry> MergeAfter(IReadOnlyList<ExtraBodyEntry> variantConfig, IReadOnlyList<ExtraBodyEntry> providerConfig)
    {
        if (variantConfig.Count == 0 && providerConfig.Count == 0)
        {
            return Entries;
        }
        return [.. variantConfig, .. providerConfig, .. Entries];
    }
}

/// <summary>An extra body entry that cannot be applied to the request body.</summary>
public sealed class JsonPatchException : Exception
{
    /// <summary>Creates the exception.</summary>
    public JsonPatchException(string message)
        : base(message)
    {
    }
}

/// <summary>
/// Applies extra body entries with RFC 6901 pointers. Setting creates missing parent objects; an array
/// index must name an existing element (or <c>-</c>, the end, to append); a numeric token under a missing
/// parent indexes into a missing array and is an error, as is going through a value that is not a container.
/// Deleting what does not exist changes nothing.
/// </summary>
public static class JsonPointerPatch
{
    /// <summary>Whether <paramref name="pointer"/> is a syntactically valid RFC 6901 pointer naming something inside the body.</summary>
    public static string? CheckPointer(string pointer)
    {
        if (pointer.Length == 0 || pointer[0] != '/')
        {
            return $"pointer '{pointer}' must start with '/' (the whole body cannot be replaced)";
        }
        for (var i = 0; i < pointer.Length; i++)
        {
            if (pointer[i] == '~' && (i + 1 == pointer.Length || (pointer[i + 1] != '0' && pointer[i + 1] != '1')))
            {
                return $"pointer '{pointer}' has a '~' that is not '~0' or '~1'";
            }
        }
        return null;
    }

    /// <summary>Applies the entries in order to a JSON object body and returns the new body.</summary>
    /// <exception cref="JsonPatchException">An entry cannot be applied; the message names it.</exception>
    public static byte[] Apply(byte[] body, IReadOnlyList<ExtraBodyEntry> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        if (entries.Count == 0)
        {
            return body;
        }
        var root = JsonNode.Parse(body) as JsonObject ?? throw new JsonPatchException("the request body is not a JSON object");
        foreach (var entry in entries)
        {
            ApplyOne(root, entry);
        }
        return JsonSerializer.SerializeToUtf8Bytes(root);
    }

    private static void ApplyOne(JsonObject root, ExtraBodyEntry entry)
    {
        var tokens = Tokens(entry.Pointer);
        JsonNode parent = root;
        for (var i = 0; i < tokens.Length - 1; i++)
        {
            var token = tokens[i];
            JsonNode? child;
            switch (parent)
            {
                case JsonObject obj:
                    if (!obj.TryGetPropertyValue(token, out child) || child is null)
                    {
                        if (entry.Delete)
                        {
                            return;
                        }
                        // A missing parent is created as an object, unless the next token is an array index:
                        // "/tools/0" with no "tools" indexes into a missing array, which is an error.
                        if (IsIndexLike(tokens[i + 1]))
                        {
                            throw new JsonPatchException($"extra_body entry {entry}: '{Prefix(tokens, i + 1)}' does not exist, so '{tokens[i + 1]}' indexes into a missing array");
                        }
                        child = new JsonObject();
                        obj[token] = child;
                    }
                    break;
                case JsonArray array:
                    var index = Index(token, array.Count, entry, allowEnd: false);
                    if (index < 0)
                    {
                        if (entry.Delete)
                        {
                            return;
                        }
                        throw new JsonPatchException($"extra_body entry {entry}: index '{token}' is outside the array at '{Prefix(tokens, i)}'");
                    }
                    child = array[index] ?? throw new JsonPatchException($"extra_body entry {entry}: '{Prefix(tokens, i + 1)}' is null");
                    break;
                default:
                    if (entry.Delete)
                    {
                        return;
                    }
                    throw new JsonPatchException($"extra_body entry {entry}: '{Prefix(tokens, i)}' is neither an object nor an array");
            }
            parent = child;
        }

        var last = tokens[^1];
        switch (parent)
        {
            case JsonObject obj:
                if (entry.Delete)
                {
                    obj.Remove(last);
                }
                else
                {
                    obj[last] = JsonNode.Parse(entry.Value!);
                }
                break;
            case JsonArray array:
                var index = Index(last, array.Count, entry, allowEnd: !entry.Delete);
                if (index < 0)
                {
                    if (entry.Delete)
                    {
                        return;
                    }
                    throw new JsonPatchException($"extra_body entry {entry}: index '{last}' is outside the array at '{Prefix(tokens, tokens.Length - 1)}'");
                }
                if (entry.Delete)
                {
                    array.RemoveAt(index);
                }
                else if (index == array.Count)
                {
                    array.Add(JsonNode.Parse(entry.Value!));
                }
                else
                {
                    array[index] = JsonNode.Parse(entry.Value!);
                }
                break;
            default:
                if (!entry.Delete)
                {
                    throw new JsonPatchException($"extra_body entry {entry}: '{Prefix(tokens, tokens.Length - 1)}' is neither an object nor an array");
                }
                break;
        }
    }

    /// <summary>An array index token: digits without leading zeros, or '-' for the end. -1 when out of range.</summary>
    private static int Index(string token, int count, ExtraBodyEntry entry, bool allowEnd)
    {
        if (token == "-")
        {
            return allowEnd ? count : -1;
        }
        if (token.Length == 0 || (token.Length > 1 && token[0] == '0') || !token.All(char.IsAsciiDigit)
            || !int.TryParse(token, NumberStyles.None, CultureInfo.InvariantCulture, out var index))
        {
            throw new JsonPatchException($"extra_body entry {entry}: '{token}' is not an array index");
        }
        return index < count || (allowEnd && index == count) ? index : -1;
    }

    private static bool IsIndexLike(string token) => token == "-" || (token.Length > 0 && token.All(char.IsAsciiDigit));

    private static string[] Tokens(string pointer) =>
        [.. pointer[1..].Split('/').Select(t => t.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal))];

    private static string Prefix(string[] tokens, int count) => count == 0 ? "/" : "/" + string.Join('/', tokens.Take(count));
}
