using System.Buffers;
using System.Text;

namespace TensorZero.Proxy.Configuration.Toml;

/// <summary>
/// Single-pass, hand-written reader behind <see cref="TomlParser"/>: walks the decoded text once, building the
/// table tree as it goes. This part reads the document structure (keys, headers, arrays, inline tables) and
/// enforces the rules about which tables may be defined or extended; scalar values are read in
/// <c>TomlDocumentReader.Values.cs</c>.
/// </summary>
internal sealed partial class TomlDocumentReader
{
    private readonly string _text;
    private readonly int _start;
    private readonly StringBuilder _buffer = new();

    /// <summary>Parts of the key being read; reused because every key is fully resolved before its value is read.</summary>
    private readonly List<KeyPart> _keyParts = [];

    private int _pos;
    private int _line = 1;
    private int _lineStart;
    private int _depth;

    // Keys are recorded in document order, so the code-point column of the last one is a cheap starting point
    // for the next: a long line with many keys costs linear time, not quadratic.
    private int _columnCacheLineStart = -1;
    private int _columnCacheIndex;
    private int _columnCacheValue;

    private TomlDocumentReader(string text, int start)
    {
        _text = text;
        _start = start;
        _pos = start;
        _lineStart = start;
    }

    /// <summary>Parses <paramref name="text"/> from index <paramref name="start"/> (past any byte order mark).</summary>
    internal static TomlTable Read(string text, int start) => new TomlDocumentReader(text, start).ReadDocument();

    /// <summary>Builds the exception for a problem at <paramref name="index"/>, computing its line and column.</summary>
    internal static TomlParseException ErrorAt(string text, int start, int index, string reason)
    {
        // Errors happen once per parse, so rescanning from the start is cheaper than tracking columns everywhere.
        index = Math.Clamp(index, start, text.Length);
        var line = 1;
        var lineStart = start;
        for (var i = start; i < index; i++)
        {
            if (text[i] == '\n')
            {
                line++;
                lineStart = i + 1;
            }
        }

        return new TomlParseException(line, CodePointColumn(text, lineStart, index), reason);
    }

    private static int CodePointColumn(string text, int lineStart, int index)
    {
        var column = 1;
        for (var i = lineStart; i < index; i++)
        {
            // The second half of a surrogate pair belongs to the code point already counted.
            if (!char.IsLowSurrogate(text[i]) || i == lineStart || !char.IsHighSurrogate(text[i - 1]))
            {
                column++;
            }
        }

        return column;
    }

    private TomlParseException Error(int index, string reason) => ErrorAt(_text, _start, index, reason);

    private TomlTable ReadDocument()
    {
        var root = new TomlTable(TomlTableKind.Root);
        var current = root;
        while (true)
        {
            SkipWhitespace();
            if (_pos >= _text.Length)
            {
                return root;
            }

            switch (_text[_pos])
            {
                case '#' or '\n' or '\r':
                    ReadLineEnd("");
                    break;
                case '[':
                    current = ReadHeader(root);
                    ReadLineEnd("after the table header");
                    break;
                default:
                    ReadKeyValue(current);
                    ReadLineEnd("after the value");
                    break;
            }
        }
    }

    // ---- whitespace, comments, newlines ----

    private void SkipWhitespace()
    {
        while (_pos < _text.Length && _text[_pos] is ' ' or '\t')
        {
            _pos++;
        }
    }

    /// <summary>Consumes optional whitespace and comment, then a newline or the end of the document.</summary>
    private void ReadLineEnd(string context)
    {
        SkipWhitespace();
        if (_pos < _text.Length && _text[_pos] == '#')
        {
            SkipComment();
        }

        if (_pos >= _text.Length)
        {
            return;
        }

        if (!TryReadNewline())
        {
            var where = context.Length == 0 ? "" : " " + context;
            throw Error(_pos, $"expected a newline or comment{where}, found {Describe(_pos)}");
        }
    }

    /// <summary>Consumes LF or CRLF at the current position; a CR without LF is an error.</summary>
    private bool TryReadNewline()
    {
        if (_pos >= _text.Length)
        {
            return false;
        }

        var c = _text[_pos];
        if (c == '\r')
        {
            if (_pos + 1 >= _text.Length || _text[_pos + 1] != '\n')
            {
                throw Error(_pos, "carriage return (U+000D) must be followed by a line feed");
            }

            _pos++;
            c = '\n';
        }

        if (c != '\n')
        {
            return false;
        }

        _pos++;
        _line++;
        _lineStart = _pos;
        return true;
    }

    /// <summary>Skips from '#' to the end of the line (not consuming the newline).</summary>
    private void SkipComment()
    {
        _pos++;
        SkipUntil(CommentStops);
        if (_pos < _text.Length && _text[_pos] is not ('\n' or '\r'))
        {
            throw Error(_pos, $"control character U+{(int)_text[_pos]:X4} is not allowed in a comment");
        }
    }

    /// <summary>Inside arrays, values may be separated by any mix of whitespace, comments and newlines.</summary>
    private void SkipWhitespaceCommentsAndNewlines()
    {
        while (true)
        {
            SkipWhitespace();
            if (_pos >= _text.Length)
            {
                return;
            }

            if (_text[_pos] == '#')
            {
                SkipComment();
            }

            if (!TryReadNewline())
            {
                return;
            }
        }
    }

    // ---- keys ----

    private readonly record struct KeyPart(string Name, int Index, int Line, int Column);

    /// <summary>Reads a possibly dotted key into <see cref="_keyParts"/>, plus the whitespace after it.</summary>
    private List<KeyPart> ReadKey()
    {
        _keyParts.Clear();
        while (true)
        {
            SkipWhitespace();
            var index = _pos;
            var line = _line;
            var column = ColumnOnCurrentLine(index);
            var name = ReadSimpleKey();
            _keyParts.Add(new KeyPart(name, index, line, column));
            SkipWhitespace();
            if (_pos < _text.Length && _text[_pos] == '.')
            {
                _pos++;
                continue;
            }

            return _keyParts;
        }
    }

    private string ReadSimpleKey()
    {
        if (_pos >= _text.Length)
        {
            throw Error(_pos, "expected a key, found end of file");
        }

        var c = _text[_pos];
        if (IsBareKeyChar(c))
        {
            var begin = _pos;
            while (_pos < _text.Length && IsBareKeyChar(_text[_pos]))
            {
                _pos++;
            }

            return _text.Substring(begin, _pos - begin);
        }

        if (c is '"' or '\'')
        {
            if (StartsWithTriple(_pos, c))
            {
                throw Error(_pos, "a multi-line string cannot be used as a key");
            }

            return c == '"' ? ReadBasicString() : ReadLiteralString();
        }

        var reason = c switch
        {
            '=' => "missing key before '='",
            '.' => "expected a key before '.'",
            _ => $"expected a key, found {Describe(_pos)}",
        };
        throw Error(_pos, reason);
    }

    private static bool IsBareKeyChar(char c) => char.IsAsciiLetterOrDigit(c) || c is '_' or '-';

    private int ColumnOnCurrentLine(int index)
    {
        if (_columnCacheLineStart != _lineStart || index < _columnCacheIndex)
        {
            _columnCacheLineStart = _lineStart;
            _columnCacheIndex = _lineStart;
            _columnCacheValue = 1;
        }

        for (var i = _columnCacheIndex; i < index; i++)
        {
            if (!char.IsLowSurrogate(_text[i]))
            {
                _columnCacheValue++;
            }
        }

        _columnCacheIndex = index;
        return _columnCacheValue;
    }

    // ---- key/value pairs ----

    /// <summary>Reads <c>key = value</c> into <paramref name="target"/> (the current section or an inline table).</summary>
    private void ReadKeyValue(TomlTable target)
    {
        var parts = ReadKey();
        if (_pos >= _text.Length || _text[_pos] != '=')
        {
            throw Error(_pos, $"expected '=' after key '{FormatKey(parts, parts.Count)}', found {Describe(_pos)}");
        }

        _pos++;
        SkipWhitespace();

        var table = target;
        for (var i = 0; i < parts.Count - 1; i++)
        {
            table = DescendForDottedKey(table, parts, i);
        }

        var last = parts[^1];
        if (table.TryGetPosition(last.Name, out var line, out var column))
        {
            throw Error(last.Index, $"duplicate key '{FormatKey(parts, parts.Count)}' (first defined at {line}:{column})");
        }

        // The key parts are resolved; reading the value may reuse _keyParts for keys of nested inline tables.
        var value = ReadValue();
        table.Add(last.Name, value, last.Line, last.Column);
    }

    /// <summary>Follows (or creates) the table named by a non-final part of a dotted key.</summary>
    private TomlTable DescendForDottedKey(TomlTable table, List<KeyPart> parts, int i)
    {
        var part = parts[i];
        if (!table.TryGetValue(part.Name, out var existing))
        {
            var created = new TomlTable(TomlTableKind.Dotted);
            table.Add(part.Name, created, part.Line, part.Column);
            return created;
        }

        switch (existing)
        {
            case TomlTable { Kind: TomlTableKind.Dotted } dotted:
                return dotted;
            case TomlTable { Kind: TomlTableKind.Implicit } implied:
                // Only created as the parent of a header so far; the dotted key now defines it, so a later
                // [header] for it would be a redefinition.
                implied.Kind = TomlTableKind.Dotted;
                return implied;
        }

        // Error paths only from here: the position and key text are formatted when they are needed.
        table.TryGetPosition(part.Name, out var line, out var column);
        var path = FormatKey(parts, i + 1);
        throw Error(part.Index, existing switch
        {
            TomlTable { Kind: TomlTableKind.Inline } =>
                $"cannot add keys to inline table '{path}' (defined at {line}:{column}): an inline table is complete once closed",
            TomlTable =>
                $"cannot add keys to table '{path}' with dotted keys: it is defined by a [table] header at {line}:{column}",
            _ => $"cannot use '{path}' as a table: it is already {DescribeValue(existing)} (first defined at {line}:{column})",
        });
    }

    // ---- table headers ----

    /// <summary>Reads <c>[a.b]</c> or <c>[[a.b]]</c> and returns the table that the following keys go into.</summary>
    private TomlTable ReadHeader(TomlTable root)
    {
        var open = _pos;
        _pos++;
        var isArrayOfTables = _pos < _text.Length && _text[_pos] == '[';
        if (isArrayOfTables)
        {
            _pos++;
        }

        var parts = ReadKey();
        if (_pos >= _text.Length || _text[_pos] != ']')
        {
            throw Error(_pos, $"expected ']' to close the table header, found {Describe(_pos)}");
        }

        _pos++;
        if (isArrayOfTables)
        {
            if (_pos >= _text.Length || _text[_pos] != ']')
            {
                throw Error(_pos, $"expected ']]' to close the array-of-tables header, found {Describe(_pos)}");
            }

            _pos++;
        }

        var table = root;
        for (var i = 0; i < parts.Count - 1; i++)
        {
            table = DescendForHeader(table, parts, i);
        }

        return isArrayOfTables ? DefineArrayOfTablesElement(table, parts) : DefineTable(table, parts, open);
    }

    /// <summary>Follows (or implicitly creates) the table named by a non-final part of a header key.</summary>
    private TomlTable DescendForHeader(TomlTable table, List<KeyPart> parts, int i)
    {
        var part = parts[i];
        if (!table.TryGetValue(part.Name, out var existing))
        {
            var created = new TomlTable(TomlTableKind.Implicit);
            table.Add(part.Name, created, part.Line, part.Column);
            return created;
        }

        switch (existing)
        {
            case TomlTable { Kind: not TomlTableKind.Inline } sub:
                return sub;
            case TomlArray { IsArrayOfTables: true } array:
                // [a.b] after [[a]] refers to the most recently defined element of a.
                return (TomlTable)array[^1];
        }

        table.TryGetPosition(part.Name, out var line, out var column);
        var path = FormatKey(parts, i + 1);
        throw Error(part.Index, existing switch
        {
            TomlTable =>
                $"cannot add to inline table '{path}' (defined at {line}:{column}): an inline table is complete once closed",
            TomlArray =>
                $"cannot add to array '{path}' (defined at {line}:{column}) with a table header: only arrays of tables made with [[...]] can be extended",
            _ => $"cannot use '{path}' as a table: it is already {DescribeValue(existing)} (first defined at {line}:{column})",
        });
    }

    private TomlTable DefineTable(TomlTable parent, List<KeyPart> parts, int open)
    {
        var part = parts[^1];
        if (!parent.TryGetValue(part.Name, out var existing))
        {
            var created = new TomlTable(TomlTableKind.Header);
            parent.Add(part.Name, created, part.Line, part.Column);
            return created;
        }

        if (existing is TomlTable { Kind: TomlTableKind.Implicit } implied)
        {
            // A super-table may be defined after its sub-tables, once; remember where it was defined.
            implied.Kind = TomlTableKind.Header;
            parent.UpdatePosition(part.Name, part.Line, part.Column);
            return implied;
        }

        parent.TryGetPosition(part.Name, out var line, out var column);
        var path = FormatKey(parts, parts.Count);
        switch (existing)
        {
            case TomlTable { Kind: TomlTableKind.Dotted }:
                throw Error(open,
                    $"table '{path}' is already defined by dotted keys (first defined at {line}:{column}) and cannot be reopened with a [table] header");
            case TomlTable { Kind: TomlTableKind.Inline }:
                throw Error(open,
                    $"table '{path}' is already defined as an inline table (first defined at {line}:{column}) and cannot be reopened with a [table] header");
            case TomlTable:
                throw Error(open, $"table '{path}' is already defined (first defined at {line}:{column})");
            case TomlArray { IsArrayOfTables: true }:
                throw Error(open,
                    $"'{path}' is already an array of tables (first defined at {line}:{column}) and cannot be redefined as a table");
            default:
                throw Error(open,
                    $"duplicate key '{path}': it is already {DescribeValue(existing)} (first defined at {line}:{column})");
        }
    }

    private TomlTable DefineArrayOfTablesElement(TomlTable parent, List<KeyPart> parts)
    {
        var part = parts[^1];
        TomlArray array;
        if (!parent.TryGetValue(part.Name, out var existing))
        {
            array = new TomlArray(isArrayOfTables: true);
            parent.Add(part.Name, array, part.Line, part.Column);
        }
        else if (existing is TomlArray { IsArrayOfTables: true } tables)
        {
            array = tables;
        }
        else
        {
            parent.TryGetPosition(part.Name, out var line, out var column);
            var path = FormatKey(parts, parts.Count);
            var reason = existing switch
            {
                TomlArray => $"cannot append to static array '{path}' (defined at {line}:{column}) with [[...]]",
                TomlTable => $"table '{path}' is already defined (first defined at {line}:{column}) and cannot be redefined as an array of tables",
                _ => $"duplicate key '{path}': it is already {DescribeValue(existing)} (first defined at {line}:{column})",
            };
            throw Error(part.Index, reason);
        }

        var element = new TomlTable(TomlTableKind.Header);
        array.Add(element, part.Line, part.Column);
        return element;
    }

    // ---- values ----

    private object ReadValue()
    {
        if (_pos >= _text.Length)
        {
            throw Error(_pos, "expected a value, found end of file");
        }

        var c = _text[_pos];
        switch (c)
        {
            case '"':
                return StartsWithTriple(_pos, '"') ? ReadMultiLineBasicString() : ReadBasicString();
            case '\'':
                return StartsWithTriple(_pos, '\'') ? ReadMultiLineLiteralString() : ReadLiteralString();
            case '[':
                return ReadArray();
            case '{':
                return ReadInlineTable();
            case 't':
                return ReadKeyword("true", true);
            case 'f':
                return ReadKeyword("false", false);
            case '+' or '-' or 'i' or 'n':
                return ReadNumberOrDateTime();
            default:
                if (char.IsAsciiDigit(c))
                {
                    return ReadNumberOrDateTime();
                }

                throw Error(_pos, $"expected a value, found {Describe(_pos)}");
        }
    }

    private bool ReadKeyword(string word, bool value)
    {
        if (!_text.AsSpan(_pos).StartsWith(word, StringComparison.Ordinal))
        {
            var end = _pos;
            while (end < _text.Length && IsBareKeyChar(_text[end]))
            {
                end++;
            }

            throw Error(_pos, $"invalid value '{_text.AsSpan(_pos, end - _pos)}' (did you mean {word}?)");
        }

        _pos += word.Length;
        return value;
    }

    private void EnterNesting(int index)
    {
        if (++_depth > TomlParser.MaxNestingDepth)
        {
            throw Error(index,
                $"arrays and inline tables are nested too deeply (the limit is {TomlParser.MaxNestingDepth} levels)");
        }
    }

    private TomlArray ReadArray()
    {
        var open = _pos;
        EnterNesting(open);
        _pos++;
        var array = new TomlArray(isArrayOfTables: false);
        while (true)
        {
            SkipWhitespaceCommentsAndNewlines();
            if (_pos >= _text.Length)
            {
                throw UnterminatedArray(open);
            }

            if (_text[_pos] == ']')
            {
                _pos++;
                break;
            }

            var (line, column) = (_line, ColumnOnCurrentLine(_pos));
            array.Add(ReadValue(), line, column);
            SkipWhitespaceCommentsAndNewlines();
            if (_pos >= _text.Length)
            {
                throw UnterminatedArray(open);
            }

            var c = _text[_pos];
            _pos++;
            if (c == ']')
            {
                break;
            }

            if (c != ',')
            {
                throw Error(_pos - 1, $"expected ',' or ']' in array, found {Describe(_pos - 1)}");
            }
        }

        _depth--;
        return array;
    }

    private TomlParseException UnterminatedArray(int open)
    {
        var start = Error(open, "");
        return Error(_pos, $"unterminated array (opened at {start.Line}:{start.Column}), expected ']'");
    }

    private TomlTable ReadInlineTable()
    {
        var open = _pos;
        EnterNesting(open);
        _pos++;
        var table = new TomlTable(TomlTableKind.Inline);
        SkipWhitespace();
        if (_pos < _text.Length && _text[_pos] == '}')
        {
            _pos++;
            _depth--;
            return table;
        }

        while (true)
        {
            SkipWhitespace();
            CheckInsideInlineTable(open);
            if (_text[_pos] == '}')
            {
                throw Error(_pos, "trailing comma is not allowed in an inline table");
            }

            ReadKeyValue(table);
            SkipWhitespace();
            CheckInsideInlineTable(open);
            var c = _text[_pos];
            _pos++;
            if (c == '}')
            {
                break;
            }

            if (c != ',')
            {
                throw Error(_pos - 1, $"expected ',' or '}}' in inline table, found {Describe(_pos - 1)}");
            }
        }

        _depth--;
        return table;
    }

    /// <summary>TOML 1.0 inline tables are one line: no newlines, no comments.</summary>
    private void CheckInsideInlineTable(int open)
    {
        if (_pos >= _text.Length)
        {
            var start = Error(open, "");
            throw Error(_pos, $"unterminated inline table (opened at {start.Line}:{start.Column}), expected '}}'");
        }

        var c = _text[_pos];
        if (c is '\n' or '\r')
        {
            throw Error(_pos, "newlines are not allowed inside an inline table in TOML 1.0");
        }

        if (c == '#')
        {
            throw Error(_pos, "comments are not allowed inside an inline table");
        }
    }

    // ---- message helpers ----

    private string Describe(int index)
    {
        if (index >= _text.Length)
        {
            return "end of file";
        }

        var c = _text[index];
        if (c is '\n' or '\r')
        {
            return "end of line";
        }

        if (c < 0x20 || c == 0x7F)
        {
            return $"control character U+{(int)c:X4}";
        }

        if (char.IsHighSurrogate(c) && index + 1 < _text.Length)
        {
            return $"'{_text.Substring(index, 2)}'";
        }

        return c == '\'' ? "\"'\"" : $"'{c}'";
    }

    private static string DescribeValue(object value) => value switch
    {
        string => "a string",
        long => "an integer",
        double => "a float",
        bool => "a boolean",
        DateTimeOffset => "an offset date-time",
        TomlLocalDateTime => "a local date-time",
        TomlLocalDate => "a local date",
        TomlLocalTime => "a local time",
        TomlArray => "an array",
        _ => "a table",
    };

    /// <summary>The first <paramref name="count"/> key parts as they could be written back in TOML.</summary>
    private static string FormatKey(List<KeyPart> parts, int count)
    {
        var builder = new StringBuilder();
        for (var i = 0; i < count; i++)
        {
            if (i > 0)
            {
                builder.Append('.');
            }

            var name = parts[i].Name;
            if (name.Length > 0 && !name.AsSpan().ContainsAnyExcept(BareKeyChars))
            {
                builder.Append(name);
                continue;
            }

            builder.Append('"');
            foreach (var c in name)
            {
                _ = c switch
                {
                    '"' => builder.Append("\\\""),
                    '\\' => builder.Append("\\\\"),
                    < ' ' or '\u007F' => builder.Append($"\\u{(int)c:X4}"),
                    _ => builder.Append(c),
                };
            }

            builder.Append('"');
        }

        return builder.ToString();
    }

    private static readonly SearchValues<char> BareKeyChars = SearchValues.Create(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-");
}
