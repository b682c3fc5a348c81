using TensorZero.Proxy.Configuration.Toml;

namespace TensorZero.Proxy.Configuration;

/// <summary>
/// Typed reads from a TOML tree that never throw: a wrong type or a missing required key becomes an
/// error with its key path (and line, where the parser knows it), and reading goes on.
/// </summary>
internal sealed class TomlConfigReader
{
    private readonly List<string> _errors = [];
    private readonly List<string> _warnings = [];

    public int ErrorCount => _errors.Count;

    public IReadOnlyList<string> Errors => _errors;

    /// <summary>Settings that are valid but probably not what was meant; logged at start-up.</summary>
    public IReadOnlyList<string> Warnings => _warnings;

    public void Warn(string path, string message) => _warnings.Add($"{path}: {message}");

    public void Error(TomlTable table, string key, string path, string message)
    {
        var where = table.TryGetPosition(key, out var line, out _) ? $" (line {line})" : "";
        _errors.Add($"{path}{where}: {message}");
    }

    public void Error(string path, string message) => _errors.Add($"{path}: {message}");

    public void ThrowIfErrors()
    {
        if (_errors.Count > 0)
        {
            throw new ConfigException(_errors.ToArray());
        }
    }

    /// <summary>Reports each key of <paramref name="table"/> that is neither allowed nor known-but-unsupported.</summary>
    public void CheckKeys(TomlTable table, string path, string[] allowed, string[] notSupported)
    {
        foreach (var key in table.Keys)
        {
            if (Array.IndexOf(allowed, key) >= 0)
            {
                continue;
            }
            var keyPath = Join(path, key);
            if (Array.IndexOf(notSupported, key) >= 0)
            {
                Error(table, key, keyPath, "is a TensorZero setting that TensorZero.Proxy does not support yet");
            }
            else
            {
                Error(table, key, keyPath, $"unknown key (expected one of: {string.Join(", ", allowed)})");
            }
        }
    }

    public string? String(TomlTable table, string path, string key, bool required = false) =>
        Get<string>(table, path, key, required, "a string");

    public bool? Bool(TomlTable table, string path, string key, bool required = false) =>
        Get<bool>(table, path, key, required, "a boolean") is bool b ? b : null;

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

    public TomlTable? Table(TomlTable table, string path, string key, bool required = false) =>
        Get<TomlTable>(table, path, key, required, "a table");

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

    private static string Join(string path, string key) => path.Length == 0 ? key : path + "." + key;

    private static string Describe(object value) => value switch
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
