using System.Collections;
using System.Diagnostics.CodeAnalysis;

namespace TensorZero.Proxy.Configuration.Toml;

/// <summary>
/// A TOML table: string keys (compared ordinally) mapped to values, enumerated in document order.
/// Values are <see cref="TomlTable"/>, <see cref="TomlArray"/>, <see cref="string"/>, <see cref="long"/>,
/// <see cref="double"/>, <see cref="bool"/>, <see cref="DateTimeOffset"/> (offset date-time),
/// <see cref="TomlLocalDateTime"/>, <see cref="TomlLocalDate"/> or <see cref="TomlLocalTime"/>.
/// </summary>
/// <remarks>
/// Read-only to everything but <see cref="TomlParser"/>, which builds it, and <see cref="ConfigFiles"/>, which merges the
/// documents of a config glob into the first one. Each key remembers the line and column
/// where it was written (or, for a table created implicitly by a header or dotted key, where that key part was
/// written) so configuration code can point at the offending spot in its own error messages.
/// </remarks>
internal sealed class TomlTable : IReadOnlyDictionary<string, object>
{
    // Most configuration tables hold a handful of keys, where a linear scan beats hashing; the index is only
    // built once a table grows past IndexThreshold keys.
    private const int IndexThreshold = 8;

    private readonly List<Entry> _entries = [];
    private Dictionary<string, int>? _indexByKey;

    internal TomlTable(TomlTableKind kind) => Kind = kind;

    /// <summary>How the table came into being; the parser's redefinition rules depend on it.</summary>
    internal TomlTableKind Kind { get; set; }

    /// <inheritdoc />
    public int Count => _entries.Count;

    /// <inheritdoc />
    public object this[string key] =>
        IndexOf(key) is var index and >= 0
            ? _entries[index].Value
            : throw new KeyNotFoundException($"TOML table has no key '{key}'.");

    /// <inheritdoc />
    public IEnumerable<string> Keys => _entries.Select(static e => e.Key);

    /// <inheritdoc />
    public IEnumerable<object> Values => _entries.Select(static e => e.Value);

    /// <inheritdoc />
    public bool ContainsKey(string key) => IndexOf(key) >= 0;

    /// <inheritdoc />
    public bool TryGetValue(string key, [MaybeNullWhen(false)] out object value)
    {
        var index = IndexOf(key);
        if (index >= 0)
        {
            value = _entries[index].Value;
            return true;
        }

        value = null;
        return false;
    }

    /// <summary>
    /// Where <paramref name="key"/> was defined in the document: 1-based line and column (in code points).
    /// Returns false when the table has no such key.
    /// </summary>
    public bool TryGetPosition(string key, out int line, out int column)
    {
        var index = IndexOf(key);
        if (index >= 0)
        {
            (line, column) = (_entries[index].Line, _entries[index].Column);
            return true;
        }

        (line, column) = (0, 0);
        return false;
    }

    /// <inheritdoc />
    public IEnumerator<KeyValuePair<string, object>> GetEnumerator()
    {
        foreach (var entry in _entries)
        {
            yield return new KeyValuePair<string, object>(entry.Key, entry.Value);
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Adds a key the caller has checked is absent.</summary>
    internal void Add(string key, object value, int line, int column)
    {
        _entries.Add(new Entry(key, value, line, column));
        if (_indexByKey is not null)
        {
            _indexByKey.Add(key, _entries.Count - 1);
        }
        else if (_entries.Count > IndexThreshold)
        {
            _indexByKey = new Dictionary<string, int>(_entries.Count * 2, StringComparer.Ordinal);
            for (var i = 0; i < _entries.Count; i++)
            {
                _indexByKey.Add(_entries[i].Key, i);
            }
        }
    }

    /// <summary>Moves a key's recorded position, used when an implicitly created table is later defined.</summary>
    internal void UpdatePosition(string key, int line, int column)
    {
        var index = IndexOf(key);
        _entries[index] = _entries[index] with { Line = line, Column = column };
    }

    private int IndexOf(string key)
    {
        if (_indexByKey is not null)
        {
            return _indexByKey.TryGetValue(key, out var index) ? index : -1;
        }

        for (var i = 0; i < _entries.Count; i++)
        {
            if (string.Equals(_entries[i].Key, key, StringComparison.Ordinal))
            {
                return i;
            }
        }

        return -1;
    }

    private readonly record struct Entry(string Key, object Value, int Line, int Column);
}

/// <summary>How a <see cref="TomlTable"/> was created; decides whether a header or dotted key may extend it.</summary>
internal enum TomlTableKind
{
    /// <summary>The document root.</summary>
    Root,

    /// <summary>Created only as a parent of a header (<c>[a.b]</c> creates <c>a</c>); may still be defined once.</summary>
    Implicit,

    /// <summary>Defined by a <c>[header]</c> or as an element of an array of tables (<c>[[header]]</c>).</summary>
    Header,

    /// <summary>Defined by dotted keys (<c>a.b = 1</c> defines <c>a</c>); may be extended by more dotted keys.</summary>
    Dotted,

    /// <summary>An inline table (<c>{ ... }</c>); complete once closed.</summary>
    Inline,
}

/// <summary>
/// A TOML array: a static array (<c>[1, 2]</c>) or an array of tables built by <c>[[header]]</c> sections.
/// Elements are the same value types as in <see cref="TomlTable"/>.
/// </summary>
internal sealed class TomlArray : IReadOnlyList<object>
{
    private readonly List<Element> _elements = [];

    internal TomlArray(bool isArrayOfTables) => IsArrayOfTables = isArrayOfTables;

    /// <summary>True when built by <c>[[header]]</c> sections, the only kind of array that may be appended to.</summary>
    internal bool IsArrayOfTables { get; }

    /// <inheritdoc />
    public int Count => _elements.Count;

    /// <inheritdoc />
    public object this[int index] => _elements[index].Value;

    /// <summary>
    /// Where element <paramref name="index"/> was written: 1-based line and column (in code points) of the value,
    /// or of the key in its <c>[[header]]</c> for an array of tables. Returns false for an index out of range.
    /// </summary>
    public bool TryGetPosition(int index, out int line, out int column)
    {
        if ((uint)index < (uint)_elements.Count)
        {
            (line, column) = (_elements[index].Line, _elements[index].Column);
            return true;
        }

        (line, column) = (0, 0);
        return false;
    }

    /// <inheritdoc />
    public IEnumerator<object> GetEnumerator()
    {
        foreach (var element in _elements)
        {
            yield return element.Value;
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    internal void Add(object value, int line, int column) => _elements.Add(new Element(value, line, column));

    private readonly record struct Element(object Value, int Line, int Column);
}

/// <summary>A TOML local date-time (no offset); <see cref="DateTime.Kind"/> is <see cref="DateTimeKind.Unspecified"/>.</summary>
/// <remarks>Fractional seconds finer than 100 ns (one tick) are truncated, which TOML permits.</remarks>
internal readonly record struct TomlLocalDateTime(DateTime Value);

/// <summary>A TOML local date (no time, no offset).</summary>
internal readonly record struct TomlLocalDate(DateOnly Value);

/// <summary>A TOML local time (no date, no offset).</summary>
/// <remarks>Fractional seconds finer than 100 ns (one tick) are truncated, which TOML permits.</remarks>
internal readonly record struct TomlLocalTime(TimeOnly Value);
