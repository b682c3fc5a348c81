using System.Buffers;
using System.Text;
using System.Text.Unicode;

namespace TensorZero.Proxy.Configuration.Toml;

/// <summary>
/// Strict TOML 1.0.0 parser (https://toml.io/en/v1.0.0). Every document that breaks a rule of the specification
/// is rejected with a <see cref="TomlParseException"/> naming the line and column.
/// </summary>
/// <remarks>
/// <para>Where the specification lets a parser choose, or a value cannot be held by the .NET type, this parser:</para>
/// <list type="bullet">
/// <item>truncates fractional seconds finer than 100 ns (one <see cref="TimeSpan"/> tick);</item>
/// <item>rejects second 60 (a leap second), which <see cref="DateTime"/> and <see cref="TimeOnly"/> cannot hold;</item>
/// <item>rejects year 0000, offsets beyond ±14:00, and offset date-times that fall outside
/// <see cref="DateTimeOffset"/>'s range once the offset is applied, for the same reason;</item>
/// <item>rejects float literals too large for a 64-bit double instead of turning them into infinity;</item>
/// <item>turns CRLF line breaks inside multi-line strings into LF, so a file's values do not depend on the
/// line endings its editor saved.</item>
/// </list>
/// </remarks>
internal static class TomlParser
{
    /// <summary>
    /// How deeply arrays and inline tables may nest inside each other; deeper documents are rejected so that
    /// hostile input cannot exhaust the stack of the recursive value reader.
    /// </summary>
    public const int MaxNestingDepth = 128;

    private static ReadOnlySpan<byte> Utf8Bom => [0xEF, 0xBB, 0xBF];

    /// <summary>Parses a UTF-8 document, which may start with a byte order mark.</summary>
    /// <exception cref="TomlParseException">The bytes are not UTF-8 or not valid TOML 1.0.</exception>
    public static TomlTable Parse(ReadOnlySpan<byte> utf8)
    {
        if (utf8.StartsWith(Utf8Bom))
        {
            utf8 = utf8[Utf8Bom.Length..];
        }

        if (!Utf8.IsValid(utf8))
        {
            throw InvalidUtf8(utf8);
        }

        return TomlDocumentReader.Read(Encoding.UTF8.GetString(utf8), start: 0);
    }

    /// <summary>Parses a document already decoded to text; a leading U+FEFF (byte order mark) is ignored.</summary>
    /// <exception cref="TomlParseException">The text holds an unpaired surrogate or is not valid TOML 1.0.</exception>
    public static TomlTable Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var start = text.Length > 0 && text[0] == '\uFEFF' ? 1 : 0;
        var unpaired = FindUnpairedSurrogate(text, start);
        if (unpaired >= 0)
        {
            throw TomlDocumentReader.ErrorAt(text, start, unpaired, "invalid Unicode: unpaired surrogate code unit");
        }

        return TomlDocumentReader.Read(text, start);
    }

    /// <summary>
    /// A string from anywhere but a UTF-8 decoder may hold a lone surrogate, which is no Unicode scalar value
    /// and so cannot be in a TOML document. Returns the index of the first one, or -1.
    /// </summary>
    private static int FindUnpairedSurrogate(string text, int start)
    {
        var i = start;
        while (true)
        {
            var found = text.AsSpan(i).IndexOfAnyInRange('\uD800', '\uDFFF');
            if (found < 0)
            {
                return -1;
            }

            i += found;
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i += 2;
                continue;
            }

            return i;
        }
    }

    /// <summary>Locates the first invalid sequence; only called once validation has failed, so speed is moot.</summary>
    private static TomlParseException InvalidUtf8(ReadOnlySpan<byte> utf8)
    {
        var offset = 0;
        while (offset < utf8.Length)
        {
            if (Rune.DecodeFromUtf8(utf8[offset..], out _, out var consumed) != OperationStatus.Done)
            {
                break;
            }

            offset += consumed;
        }

        // Everything before the offset is valid UTF-8, so counting lead bytes counts code points.
        var before = utf8[..offset];
        var line = before.Count((byte)'\n') + 1;
        var lineStart = before.LastIndexOf((byte)'\n') + 1;
        var column = 1;
        foreach (var b in before[lineStart..])
        {
            if ((b & 0xC0) != 0x80)
            {
                column++;
            }
        }

        var reason = offset < utf8.Length ? $"invalid UTF-8 byte 0x{utf8[offset]:X2}" : "invalid UTF-8";
        return new TomlParseException(line, column, reason);
    }
}
