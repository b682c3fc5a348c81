using System.Collections.Immutable;
using System.Globalization;
using System.Text.Json;
using TensorZero.Proxy.Configuration.Toml;
using TensorZero.Proxy.Transforms;

namespace TensorZero.Proxy.Configuration;

/// <summary>
/// Maps configuration-level <c>extra_headers = [{ name, value } | { name, delete = true }]</c> and
/// <c>extra_body = [{ pointer, value } | { pointer, delete = true }]</c> (providers and variants).
/// </summary>
internal static class ExtraConfigMapper
{
    /// <summary>
    /// <c>extra_headers</c> of a provider or variant. The configuration is trusted (as in TensorZero): credential
    /// headers and <c>Content-Length</c> may be set here, unlike in a request's <c>tensorzero::extra_headers</c>.
    /// </summary>
    public static ImmutableArray<ExtraHeaderEntry> Headers(TomlConfigReader reader, TomlTable table, string path, ExtraHeaderLimits limits)
    {
        if (!table.TryGetValue("extra_headers", out var value))
        {
            return [];
        }
        var keyPath = path + ".extra_headers";
        if (value is not TomlArray array)
        {
            reader.Error(table, "extra_headers", keyPath, "must be an array of { name, value } or { name, delete = true } tables");
            return [];
        }
        if (array.Count > limits.MaxEntries)
        {
            reader.Error(table, "extra_headers", keyPath, $"has {array.Count} entries; at most {limits.MaxEntries} are allowed");
        }

        var entries = ImmutableArray.CreateBuilder<ExtraHeaderEntry>(array.Count);
        for (var i = 0; i < array.Count; i++)
        {
            var entryPath = $"{keyPath}[{i}]";
            if (!TryEntry(reader, table, "extra_headers", array[i], entryPath, "name", out var entry, out var name, out var text))
            {
                continue;
            }
            if (text is null && entry.ContainsKey("value"))
            {
                reader.Error(table, "extra_headers", entryPath + ".value", "must be a string");
                continue;
            }
            if (ExtraHeaderRules.Check(name, text, limits, allowCredentialOverride: true, fromConfiguration: true) is { } problem)
            {
                reader.Error(table, "extra_headers", entryPath, problem);
                continue;
            }
            entries.Add(new ExtraHeaderEntry(ExtraEntryFilter.Always, name, text));
        }
        return entries.ToImmutable();
    }

    public static ImmutableArray<ExtraBodyEntry> Body(TomlConfigReader reader, TomlTable table, string path)
    {
        if (!table.TryGetValue("extra_body", out var value))
        {
            return [];
        }
        var keyPath = path + ".extra_body";
        if (value is not TomlArray array)
        {
            reader.Error(table, "extra_body", keyPath, "must be an array of { pointer, value } or { pointer, delete = true } tables");
            return [];
        }
        var entries = ImmutableArray.CreateBuilder<ExtraBodyEntry>(array.Count);
        for (var i = 0; i < array.Count; i++)
        {
            var entryPath = $"{keyPath}[{i}]";
            if (!TryEntry(reader, table, "extra_body", array[i], entryPath, "pointer", out var entry, out var pointer, out _))
            {
                continue;
            }
            if (JsonPointerPatch.CheckPointer(pointer) is { } problem)
            {
                reader.Error(table, "extra_body", entryPath + ".pointer", problem);
                continue;
            }
            string? json = null;
            if (entry.TryGetValue("value", out var raw))
            {
                json = ToJson(raw, out var why);
                if (json is null)
                {
                    reader.Error(table, "extra_body", entryPath + ".value", why!);
                    continue;
                }
            }
            entries.Add(new ExtraBodyEntry(ExtraEntryFilter.Always, pointer, json));
        }
        return entries.ToImmutable();
    }

    /// <summary>Reads the shared shape: a table with the key, and exactly one of <c>value</c> or <c>delete = true</c>.</summary>
    private static bool TryEntry(
        TomlConfigReader reader, TomlTable owner, string ownerKey, object raw, string entryPath, string keyName,
        out TomlTable entry, out string key, out string? textValue)
    {
        entry = null!;
        key = "";
        textValue = null;
        if (raw is not TomlTable table)
        {
            reader.Error(owner, ownerKey, entryPath, $"must be a table such as {{ {keyName} = \"...\", value = ... }}");
            return false;
        }
        entry = table;
        var problem = table.Keys.FirstOrDefault(k => k != keyName && k != "value" && k != "delete") is { } unknown
            ? $"unknown key '{unknown}' (expected {keyName}, and value or delete = true)"
            : table.TryGetValue(keyName, out var k) && k is string s ? null : $"needs a string '{keyName}'";
        if (problem is null)
        {
            key = (string)table[keyName];
            var hasValue = table.TryGetValue("value", out var v);
            var delete = table.TryGetValue("delete", out var d) ? d as bool? : null;
            if (table.ContainsKey("delete") && delete is not true)
            {
                problem = "'delete' must be true when present";
            }
            else if (hasValue == (delete is true))
            {
                problem = "needs exactly one of 'value' or 'delete = true'";
            }
            textValue = v as string;
        }
        if (problem is not null)
        {
            reader.Error(owner, ownerKey, entryPath, problem);
            return false;
        }
        return true;
    }

    /// <summary>A TOML value as JSON text: tables → objects, arrays, strings, numbers, booleans, dates as ISO strings.</summary>
    internal static string? ToJson(object value, out string? error)
    {
        error = null;
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            if (!Write(writer, value, out error))
            {
                return null;
            }
        }
        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }

    private static bool Write(Utf8JsonWriter writer, object value, out string? error)
    {
        error = null;
        switch (value)
        {
            case string s:
                writer.WriteStringValue(s);
                return true;
            case long l:
                writer.WriteNumberValue(l);
                return true;
            case double d when double.IsFinite(d):
                writer.WriteNumberValue(d);
                return true;
            case double:
                error = "nan and inf have no JSON form";
                return false;
            case bool b:
                writer.WriteBooleanValue(b);
                return true;
            case DateTimeOffset dto:
                writer.WriteStringValue(dto.ToString("O", CultureInfo.InvariantCulture));
                return true;
            case TomlLocalDateTime ldt:
                writer.WriteStringValue(ldt.Value.ToString("yyyy-MM-ddTHH:mm:ss.FFFFFFF", CultureInfo.InvariantCulture));
                return true;
            case TomlLocalDate ld:
                writer.WriteStringValue(ld.Value.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
                return true;
            case TomlLocalTime lt:
                writer.WriteStringValue(lt.Value.ToString("HH:mm:ss.FFFFFFF", CultureInfo.InvariantCulture));
                return true;
            case TomlArray array:
                writer.WriteStartArray();
                foreach (var item in array)
                {
                    if (!Write(writer, item, out error))
                    {
                        return false;
                    }
                }
                writer.WriteEndArray();
                return true;
            case TomlTable table:
                writer.WriteStartObject();
                foreach (var (k, v) in table)
                {
                    writer.WritePropertyName(k);
                    if (!Write(writer, v, out error))
                    {
                        return false;
                    }
                }
                writer.WriteEndObject();
                return true;
            default:
                error = "has no JSON form";
                return false;
        }
    }
}
