using System.Text;
using System.Text.Json;
using TensorZero.Proxy.Configuration.Toml;

namespace TensorZero.Proxy.Configuration;

/// <summary>
/// Typed reads from a TOML tree that never throw: a wrong type or a missing required key becomes an
/// error with its key path (and line, and file when the configuration has several), and reading goes on.
/// Files the configuration names (templates, schemas) are read relative to the file that names them.
/// </summary>
internal sealed class TomlConfigReader
{
    /// <summary>The warning for a TensorZero setting that is valid but changes nothing here.</summary>
    public const string CompatibilityNote = "accepted for compatibility; has no effect in TensorZero.Proxy";

    private readonly List<string> _errors = [];
    private readonly List<string> _warnings = [];

    public TomlConfigReader(ConfigSources? sources = null)
    {
        Sources = sources ?? ConfigSources.None;
    }

    /// <summary>Which file declared each key.</summary>
    public ConfigSources Sources { get; }

    public int ErrorCount => _errors.Count;

    public IReadOnlyList<string> Errors => _errors;

    /// <summary>Settings that are valid but probably not what was meant, or have no effect here; logged at start-up.</summary>
    public IReadOnlyList<string> Warnings => _warnings;

    public void Warn(string path, string message) => _warnings.Add($"{path}: {message}");

    public void Error(TomlTable table, string key, string path, string message) => _errors.Add($"{path}{Where(table, key)}: {message}");

    public void Error(string path, string message) => _errors.Add($"{path}: {message}");

    /// <summary>" (line N)", or " (line N of FILE)" when the configuration has several files; "" when unknown.</summary>
    public string Where(TomlTable table, string key)
    {
        if (!table.TryGetPosition(key, out var line, out _))
        {
            return "";
        }
        return Sources.HasSeveralFiles ? $" (line {line} of {Sources.Display(Sources.FileOf(table, key))})" : $" (line {line})";
    }

    public void ThrowIfErrors()
    {
        if (_errors.Count > 0)
        {
            throw new ConfigException(_errors.ToArray());
        }
    }

    /// <summary>Reports each key of <paramref name="table"/> that is not in <paramref name="allowed"/>.</summary>
    public void CheckKeys(TomlTable table, string path, IReadOnlyCollection<string> allowed)
    {
        foreach (var key in table.Keys)
        {
            if (!allowed.Contains(key))
            {
                Error(table, key, Join(path, key), $"unknown key (expected one of: {string.Join(", ", allowed)})");
            }
        }
    }

    /// <summary>
    /// A documented TensorZero key that changes nothing a client of this gateway can observe: when present it must
    /// have its documented type, and it is reported as a warning.
    /// </summary>
    public void Compat(TomlTable table, string path, string key, TomlKind kind)
    {
        if (!table.TryGetValue(key, out var value))
        {
            return;
        }
        if (!Is(value, kind))
        {
            Error(table, key, Join(path, key), $"must be {Describe(kind)} (got {Describe(value)})");
            return;
        }
        Warn(Join(path, key), CompatibilityNote);
    }

    public string? String(TomlTable table, string path, string key, bool required = false) =>
        Get<string>(table, path, key, required, "a string");

    /// <summary>A string that must not be empty.</summary>
    public string? NonEmptyString(TomlTable table, string path, string key, bool required = false)
    {
        var value = String(table, path, key, required);
        if (value is { Length: 0 })
        {
            Error(table, key, Join(path, key), "must not be empty");
            return null;
        }
        return value;
    }

    public bool? Bool(TomlTable table, string path, string key, bool required = false) =>
        Get<object>(table, path, key, required, "a boolean") switch
        {
            null => null,
            bool b => b,
            var other => WrongType(table, path, key, other, "a boolean"),
        };

    private bool? WrongType(TomlTable table, string path, string key, object value, string expected)
    {
        Error(table, key, Join(path, key), $"must be {expected} (got {Describe(value)})");
        return null;
    }

    public long? Integer(TomlTable table, string path, string key, bool required = false)
    {
        if (!table.TryGetValue(key, out var value))
        {
            if (required)
            {
                Error(path, $"missing required key '{key}'");
            }
            return null;
        }
        if (value is long l)
        {
            return l;
        }
        Error(table, key, Join(path, key), $"must be an integer (got {Describe(value)})");
        return null;
    }

    /// <summary>An integer in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public long? Integer(TomlTable table, string path, string key, long min, long max, bool required = false)
    {
        var value = Integer(table, path, key, required);
        if (value is not null && (value < min || value > max))
        {
            Error(table, key, Join(path, key), $"must be between {min} and {max} (got {value})");
            return null;
        }
        return value;
    }

    /// <summary>A finite number: an integer or a float.</summary>
    public double? Number(TomlTable table, string path, string key, bool required = false)
    {
        if (!table.TryGetValue(key, out var value))
        {
            if (required)
            {
                Error(path, $"missing required key '{key}'");
            }
            return null;
        }
        var number = value switch { long l => l, double d => d, _ => (double?)null };
        if (number is null)
        {
            Error(table, key, Join(path, key), $"must be a number (got {Describe(value)})");
            return null;
        }
        if (!double.IsFinite(number.Value))
        {
            Error(table, key, Join(path, key), "must be a finite number (not nan or inf)");
            return null;
        }
        return number;
    }

    public TomlTable? Table(TomlTable table, string path, string key, bool required = false) =>
        Get<TomlTable>(table, path, key, required, "a table");

    public TomlArray? Array(TomlTable table, string path, string key, bool required = false) =>
        Get<TomlArray>(table, path, key, required, "an array");

    public string[]? StringArray(TomlTable table, string path, string key, bool required = false)
    {
        var array = Get<TomlArray>(table, path, key, required, "an array of strings");
        if (array is null)
        {
            return null;
        }
        var result = new string[array.Count];
        for (var i = 0; i < array.Count; i++)
        {
            if (array[i] is not string s)
            {
                Error(table, key, $"{Join(path, key)}[{i}]", $"must be a string (got {Describe(array[i])})");
                return null;
            }
            result[i] = s;
        }
        return result;
    }

    /// <summary>
    /// A template file: <paramref name="key"/> holds a path, relative to the directory of the file that declares
    /// it. The file is read as UTF-8; a missing or unreadable file is an error naming the key and the file.
    /// </summary>
    public TemplateFile? Template(TomlTable table, string path, string key, bool required = false)
    {
        if (ReadFile(table, path, key, required) is not { } read)
        {
            return null;
        }
        var (file, bytes) = read;
        try
        {
            return new TemplateFile(file, new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes));
        }
        catch (DecoderFallbackException)
        {
            Error(table, key, Join(path, key), $"the template file '{file}' is not UTF-8 text");
            return null;
        }
    }

    /// <summary>
    /// A JSON Schema file: <paramref name="key"/> holds a path, relative to the directory of the file that declares
    /// it. The file must hold a JSON object or boolean; it is parsed, not compiled.
    /// </summary>
    public SchemaFile? Schema(TomlTable table, string path, string key, bool required = false)
    {
        if (ReadFile(table, path, key, required) is not { } read)
        {
            return null;
        }
        var (file, bytes) = read;
        try
        {
            using var document = JsonDocument.Parse(bytes);
            if (document.RootElement.ValueKind is not (JsonValueKind.Object or JsonValueKind.True or JsonValueKind.False))
            {
                Error(table, key, Join(path, key), $"the schema file '{file}' must hold a JSON object or boolean (got {document.RootElement.ValueKind.ToString().ToLowerInvariant()})");
                return null;
            }
            return new SchemaFile(file, document.RootElement.Clone());
        }
        catch (JsonException ex)
        {
            Error(table, key, Join(path, key), $"the schema file '{file}' is not JSON: {ex.Message}");
            return null;
        }
    }

    /// <summary>A directory path, relative to the directory of the file that declares it; it must exist.</summary>
    public string? Directory(TomlTable table, string path, string key)
    {
        if (String(table, path, key) is not { } written)
        {
            return null;
        }
        var resolved = Sources.Resolve(table, key, written);
        // Files below it are read later (template includes, at build): watched as a whole.
        Sources.Inputs?.AddDirectory(resolved);
        if (!System.IO.Directory.Exists(resolved))
        {
            Error(table, key, Join(path, key), $"'{written}' (resolved to '{resolved}') is not a directory");
            return null;
        }
        return resolved;
    }

    private (string File, byte[] Bytes)? ReadFile(TomlTable table, string path, string key, bool required)
    {
        if (String(table, path, key, required) is not { } written)
        {
            return null;
        }
        if (written.Length == 0)
        {
            Error(table, key, Join(path, key), "must be a file path (got an empty string)");
            return null;
        }
        var file = Sources.Resolve(table, key, written);
        if (System.IO.Directory.Exists(file))
        {
            Sources.Inputs?.AddMissingFile(file);
            Error(table, key, Join(path, key), $"'{file}' is a directory; a file path is expected");
            return null;
        }
        try
        {
            var bytes = File.ReadAllBytes(file);
            Sources.Inputs?.AddFile(file, bytes);
            return (file, bytes);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Sources.Inputs?.AddMissingFile(file);
            Error(table, key, Join(path, key), $"cannot read '{file}': {ex.Message}");
            return null;
        }
    }

    private T? Get<T>(TomlTable table, string path, string key, bool required, string expected)
    {
        if (!table.TryGetValue(key, out var value))
        {
            if (required)
            {
                Error(path.Length == 0 ? key : path, path.Length == 0 ? "missing required table" : $"missing required key '{key}'");
            }
            return default;
        }
        if (value is T typed)
        {
            return typed;
        }
        Error(table, key, Join(path, key), $"must be {expected} (got {Describe(value)})");
        return default;
    }

    public static string Join(string path, string key) => path.Length == 0 ? key : path + "." + key;

    public static bool Is(object value, TomlKind kind) => kind switch
    {
        TomlKind.String => value is string,
        TomlKind.Integer => value is long,
        TomlKind.Number => value is long or double,
        TomlKind.Boolean => value is bool,
        TomlKind.Table => value is TomlTable,
        TomlKind.Array => value is TomlArray,
        TomlKind.StringArray => value is TomlArray a && a.All(v => v is string),
        TomlKind.NumberArray => value is TomlArray a && a.All(v => v is long or double),
        TomlKind.TableArray => value is TomlArray a && a.All(v => v is TomlTable),
        _ => true,
    };

    public static string Describe(TomlKind kind) => kind switch
    {
        TomlKind.String => "a string",
        TomlKind.Integer => "an integer",
        TomlKind.Number => "a number",
        TomlKind.Boolean => "a boolean",
        TomlKind.Table => "a table",
        TomlKind.Array => "an array",
        TomlKind.StringArray => "an array of strings",
        TomlKind.NumberArray => "an array of numbers",
        TomlKind.TableArray => "an array of tables",
        _ => "a value",
    };

    public static string Describe(object value) => value switch
    {
        string => "a string",
        long => "an integer",
        double => "a float",
        bool => "a boolean",
        TomlTable => "a table",
        TomlArray => "an array",
        _ => "a date/time",
    };
}

/// <summary>The documented type of a key, for <see cref="TomlConfigReader.Compat"/>.</summary>
internal enum TomlKind
{
    Any,
    String,
    Integer,
    Number,
    Boolean,
    Table,
    Array,
    StringArray,
    NumberArray,
    TableArray,
}
