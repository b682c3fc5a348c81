using System.Buffers;
using System.Globalization;
using System.Text;

namespace TensorZero.Proxy.Configuration.Toml;

/// <summary>Scalar values: the four string forms, integers, floats and the four date/time forms.</summary>
internal sealed partial class TomlDocumentReader
{
    /// <summary>Tab is the only control character TOML allows in strings and comments.</summary>
    private static bool IsForbiddenControl(char c) => (c < 0x20 && c != '\t') || c == 0x7F;

    /// <summary>Control characters other than tab: forbidden in comments and strings, and ending every line.</summary>
    private const string Controls =
        "\u0000\u0001\u0002\u0003\u0004\u0005\u0006\u0007\u0008\u000A\u000B\u000C\u000D\u000E\u000F" +
        "\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019\u001A\u001B\u001C\u001D\u001E\u001F\u007F";

    // The characters where each scanner must stop and look; everything between them is copied in bulk.
    private static readonly SearchValues<char> CommentStops = SearchValues.Create(Controls);
    private static readonly SearchValues<char> BasicStringStops = SearchValues.Create(Controls + "\"\\");
    private static readonly SearchValues<char> LiteralStringStops = SearchValues.Create(Controls + "'");

    /// <summary>Advances to the next character in <paramref name="stops"/>, or to the end of the text.</summary>
    private void SkipUntil(SearchValues<char> stops)
    {
        var found = _text.AsSpan(_pos).IndexOfAny(stops);
        _pos = found < 0 ? _text.Length : _pos + found;
    }

    private bool StartsWithTriple(int index, char quote) =>
        index + 2 < _text.Length && _text[index] == quote && _text[index + 1] == quote && _text[index + 2] == quote;

    // ---- strings ----

    /// <summary>Reads <c>"..."</c>, starting at the opening quote.</summary>
    private string ReadBasicString()
    {
        var open = _pos;
        _pos++;
        var runStart = _pos;
        var escaped = false;
        while (true)
        {
            SkipUntil(BasicStringStops);
            if (_pos >= _text.Length || _text[_pos] is '\n' or '\r')
            {
                throw Error(open, "unterminated string: a basic string must close with '\"' on the same line");
            }

            var c = _text[_pos];
            if (c == '"')
            {
                break;
            }

            if (c == '\\')
            {
                if (!escaped)
                {
                    _buffer.Clear();
                    escaped = true;
                }

                _buffer.Append(_text, runStart, _pos - runStart);
                ReadEscape();
                runStart = _pos;
                continue;
            }

            // The scan stops only at quotes, backslashes and control characters other than tab.
            throw Error(_pos, $"control character U+{(int)c:X4} must be escaped in a string");
        }

        var result = escaped
            ? _buffer.Append(_text, runStart, _pos - runStart).ToString()
            : _text.Substring(runStart, _pos - runStart);
        _pos++;
        return result;
    }

    /// <summary>Reads <c>"""..."""</c>, starting at the opening quotes.</summary>
    private string ReadMultiLineBasicString()
    {
        var open = _pos;
        _pos += 3;
        TryReadNewline(); // a newline right after the opening delimiter is trimmed
        _buffer.Clear();
        var runStart = _pos;
        while (true)
        {
            SkipUntil(BasicStringStops);
            if (_pos >= _text.Length)
            {
                throw Error(open, "unterminated multi-line string: expected '\"\"\"'");
            }

            var c = _text[_pos];
            switch (c)
            {
                case '"':
                    if (TryCloseMultiLine('"', runStart))
                    {
                        return _buffer.ToString();
                    }

                    continue;
                case '\\':
                    _buffer.Append(_text, runStart, _pos - runStart);
                    if (!TrySkipLineEndingBackslash())
                    {
                        ReadEscape();
                    }

                    runStart = _pos;
                    continue;
                case '\n' or '\r':
                    AppendNewline(runStart);
                    runStart = _pos;
                    continue;
                default:
                    throw Error(_pos, $"control character U+{(int)c:X4} must be escaped in a string");
            }
        }
    }

    /// <summary>Reads <c>'...'</c>, starting at the opening quote.</summary>
    private string ReadLiteralString()
    {
        var open = _pos;
        _pos++;
        var begin = _pos;
        while (true)
        {
            SkipUntil(LiteralStringStops);
            if (_pos >= _text.Length || _text[_pos] is '\n' or '\r')
            {
                throw Error(open, "unterminated literal string: it must close with \"'\" on the same line");
            }

            var c = _text[_pos];
            if (c == '\'')
            {
                break;
            }

            throw Error(_pos, $"control character U+{(int)c:X4} is not allowed in a literal string");
        }

        var result = _text.Substring(begin, _pos - begin);
        _pos++;
        return result;
    }

    /// <summary>Reads <c>'''...'''</c>, starting at the opening quotes.</summary>
    private string ReadMultiLineLiteralString()
    {
        var open = _pos;
        _pos += 3;
        TryReadNewline(); // a newline right after the opening delimiter is trimmed
        _buffer.Clear();
        var runStart = _pos;
        while (true)
        {
            SkipUntil(LiteralStringStops);
            if (_pos >= _text.Length)
            {
                throw Error(open, "unterminated multi-line literal string: expected \"'''\"");
            }

            var c = _text[_pos];
            switch (c)
            {
                case '\'':
                    if (TryCloseMultiLine('\'', runStart))
                    {
                        return _buffer.ToString();
                    }

                    continue;
                case '\n' or '\r':
                    AppendNewline(runStart);
                    runStart = _pos;
                    continue;
                default:
                    throw Error(_pos, $"control character U+{(int)c:X4} is not allowed in a literal string");
            }
        }
    }

    /// <summary>
    /// At a run of quotes inside a multi-line string: fewer than three are content; three to five close the
    /// string, the one or two extra being its last characters. A sixth is left for the caller to reject.
    /// </summary>
    private bool TryCloseMultiLine(char quote, int runStart)
    {
        var count = 0;
        while (_pos + count < _text.Length && _text[_pos + count] == quote && count < 5)
        {
            count++;
        }

        if (count < 3)
        {
            _pos += count;
            return false;
        }

        _buffer.Append(_text, runStart, _pos - runStart);
        _buffer.Append(quote, count - 3);
        _pos += count;
        return true;
    }

    /// <summary>Flushes the pending run and appends the newline at the position as LF (CRLF is normalised).</summary>
    private void AppendNewline(int runStart)
    {
        _buffer.Append(_text, runStart, _pos - runStart);
        TryReadNewline();
        _buffer.Append('\n');
    }

    /// <summary>
    /// A backslash that ends a line (optionally followed by spaces or tabs) in a multi-line basic string trims
    /// itself and all whitespace and newlines after it.
    /// </summary>
    private bool TrySkipLineEndingBackslash()
    {
        var i = _pos + 1;
        while (i < _text.Length && _text[i] is ' ' or '\t')
        {
            i++;
        }

        if (i >= _text.Length || _text[i] is not ('\n' or '\r'))
        {
            return false;
        }

        _pos = i;
        while (true)
        {
            SkipWhitespace();
            if (!TryReadNewline())
            {
                return true;
            }
        }
    }

    /// <summary>Reads an escape sequence starting at the backslash and appends its character to the buffer.</summary>
    private void ReadEscape()
    {
        var at = _pos;
        _pos++;
        if (_pos >= _text.Length)
        {
            throw Error(at, "unterminated string: it ends in the middle of an escape sequence");
        }

        var c = _text[_pos];
        _pos++;
        switch (c)
        {
            case 'b': _buffer.Append('\b'); break;
            case 't': _buffer.Append('\t'); break;
            case 'n': _buffer.Append('\n'); break;
            case 'f': _buffer.Append('\f'); break;
            case 'r': _buffer.Append('\r'); break;
            case '"': _buffer.Append('"'); break;
            case '\\': _buffer.Append('\\'); break;
            case 'u': AppendUnicodeEscape(at, 4); break;
            case 'U': AppendUnicodeEscape(at, 8); break;
            default:
                throw Error(at, c is '\n' or '\r' || IsForbiddenControl(c)
                    ? "invalid escape sequence: '\\' must be followed by an escape character"
                    : $"invalid escape sequence '\\{(char.IsHighSurrogate(c) ? _text.Substring(_pos - 1, 2) : c)}'");
        }
    }

    private void AppendUnicodeEscape(int at, int digits)
    {
        var letter = digits == 4 ? 'u' : 'U';
        var value = 0;
        for (var i = 0; i < digits; i++)
        {
            var digit = _pos < _text.Length ? HexValue(_text[_pos]) : -1;
            if (digit < 0)
            {
                throw Error(at, $"invalid escape sequence: '\\{letter}' must be followed by exactly {digits} hexadecimal digits");
            }

            value = (value << 4) | digit;
            _pos++;
        }

        // Eight hex digits can exceed int's range (\UFFFFFFFF wraps negative), so test as unsigned.
        if (!Rune.IsValid((uint)value))
        {
            throw Error(at,
                $"invalid escape sequence '\\{letter}{_text.AsSpan(at + 2, digits)}': not a Unicode scalar value");
        }

        var rune = new Rune(value);
        Span<char> chars = stackalloc char[2];
        _buffer.Append(chars[..rune.EncodeToUtf16(chars)]);
    }

    private static int HexValue(char c) => c switch
    {
        >= '0' and <= '9' => c - '0',
        >= 'a' and <= 'f' => c - 'a' + 10,
        >= 'A' and <= 'F' => c - 'A' + 10,
        _ => -1,
    };

    // ---- numbers and date-times ----

    private static bool IsTokenChar(char c) => char.IsAsciiLetterOrDigit(c) || c is '_' or '+' or '-' or '.' or ':';

    private int ScanToken(int index)
    {
        while (index < _text.Length && IsTokenChar(_text[index]))
        {
            index++;
        }

        return index;
    }

    /// <summary>
    /// Reads an integer, float or date/time. The literal is first delimited (letters, digits and <c>_+-.:</c>),
    /// then validated as a whole, so a malformed literal is reported as one problem.
    /// </summary>
    private object ReadNumberOrDateTime()
    {
        var start = _pos;
        var end = ScanToken(start);

        // A date and time may be separated by a space: "1979-05-27 07:32:00Z" is one value.
        if (end - start == 10 && _text[start + 4] == '-' && _text[start + 7] == '-'
            && end + 1 < _text.Length && _text[end] == ' ' && char.IsAsciiDigit(_text[end + 1]))
        {
            end = ScanToken(end + 1);
        }

        _pos = end;
        var token = _text.AsSpan(start, end - start);

        // Date/time literals start with digits directly followed by '-' (a date) or ':' (a time).
        var digits = 0;
        while (digits < token.Length && char.IsAsciiDigit(token[digits]))
        {
            digits++;
        }

        if (digits > 0 && digits < token.Length && token[digits] is '-' or ':')
        {
            return ReadDateTime(token, start, isTimeOnly: token[digits] == ':');
        }

        return ReadNumber(token, start);
    }

    private object ReadNumber(ReadOnlySpan<char> token, int start)
    {
        var signLength = token.Length > 0 && token[0] is '+' or '-' ? 1 : 0;
        var negative = signLength == 1 && token[0] == '-';
        var body = token[signLength..];
        if (body.SequenceEqual("inf"))
        {
            return negative ? double.NegativeInfinity : double.PositiveInfinity;
        }

        if (body.SequenceEqual("nan"))
        {
            return double.NaN;
        }

        if (body.Length == 0 || !char.IsAsciiDigit(body[0]))
        {
            throw Error(start, $"invalid value '{token}'");
        }

        if (body.Length >= 2 && body[0] == '0' && body[1] is 'x' or 'o' or 'b')
        {
            if (signLength == 1)
            {
                throw Error(start, "a sign is not allowed on hexadecimal, octal or binary integers");
            }

            var radix = body[1] switch { 'x' => 16, 'o' => 8, _ => 2 };
            return ReadRadixInteger(body[2..], radix, start + 2);
        }

        // Decimal integer or float: int-part [ '.' digits ] [ ('e' | 'E') [sign] digits ].
        var bodyStart = start + signLength;
        var i = 0;
        var intDigits = ScanDigitRun(body, ref i, bodyStart, "number");
        if (intDigits > 1 && body[0] == '0')
        {
            throw Error(bodyStart, "leading zeros are not allowed in numbers");
        }

        var isFloat = false;
        if (i < body.Length && body[i] == '.')
        {
            i++;
            ScanDigitRun(body, ref i, bodyStart, "fraction after '.'");
            isFloat = true;
        }

        if (i < body.Length && body[i] is 'e' or 'E')
        {
            i++;
            if (i < body.Length && body[i] is '+' or '-')
            {
                i++;
            }

            ScanDigitRun(body, ref i, bodyStart, "exponent");
            isFloat = true;
        }

        if (i < body.Length)
        {
            throw Error(bodyStart + i, $"invalid character {Describe(bodyStart + i)} in number");
        }

        // Underscores are only separators; strip them before handing the digits to the BCL.
        Span<char> stackBuffer = stackalloc char[128];
        var digitsOnly = token.Length <= stackBuffer.Length ? stackBuffer : new char[token.Length];
        var length = 0;
        foreach (var c in token)
        {
            if (c != '_')
            {
                digitsOnly[length++] = c;
            }
        }

        var literal = digitsOnly[..length];
        if (!isFloat)
        {
            if (!long.TryParse(literal, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var integer))
            {
                throw Error(start, "integer does not fit in 64 bits");
            }

            return integer;
        }

        var number = double.Parse(literal, NumberStyles.Float, CultureInfo.InvariantCulture);
        if (double.IsInfinity(number))
        {
            throw Error(start, "float is too large for a 64-bit floating-point number");
        }

        return number;
    }

    /// <summary>
    /// Scans <c>DIGIT *( ["_"] DIGIT )</c> at <paramref name="i"/>: at least one digit, each underscore between
    /// two digits. Returns the number of digits.
    /// </summary>
    private int ScanDigitRun(ReadOnlySpan<char> body, ref int i, int bodyStart, string what)
    {
        var digits = 0;
        while (i < body.Length)
        {
            var c = body[i];
            if (char.IsAsciiDigit(c))
            {
                digits++;
                i++;
                continue;
            }

            if (c != '_')
            {
                break;
            }

            if (digits == 0 || i + 1 >= body.Length || !char.IsAsciiDigit(body[i + 1]))
            {
                throw Error(bodyStart + i, "an underscore in a number must be between two digits");
            }

            i++;
        }

        if (digits == 0)
        {
            throw Error(bodyStart + i, $"expected digits in {what}, found {Describe(bodyStart + i)}");
        }

        return digits;
    }

    private long ReadRadixInteger(ReadOnlySpan<char> digits, int radix, int digitsStart)
    {
        var name = radix switch { 16 => "hexadecimal", 8 => "octal", _ => "binary" };
        if (digits.Length == 0)
        {
            throw Error(digitsStart, $"expected {name} digits");
        }

        ulong value = 0;
        var previousWasDigit = false;
        for (var i = 0; i < digits.Length; i++)
        {
            var c = digits[i];
            if (c == '_')
            {
                if (!previousWasDigit || i + 1 >= digits.Length)
                {
                    throw Error(digitsStart + i, "an underscore in a number must be between two digits");
                }

                previousWasDigit = false;
                continue;
            }

            var digit = HexValue(c);
            if (digit < 0 || digit >= radix)
            {
                throw Error(digitsStart + i, $"invalid {name} digit {Describe(digitsStart + i)}");
            }

            if (value > ((ulong)long.MaxValue - (ulong)digit) / (ulong)radix)
            {
                throw Error(digitsStart - 2, "integer does not fit in 64 bits");
            }

            value = (value * (ulong)radix) + (ulong)digit;
            previousWasDigit = true;
        }

        return (long)value;
    }

    /// <summary>Reads a local date, local time, local date-time or offset date-time (RFC 3339 profile).</summary>
    private object ReadDateTime(ReadOnlySpan<char> token, int start, bool isTimeOnly)
    {
        var i = 0;
        if (isTimeOnly)
        {
            var timeOnly = ReadTime(token, ref i, start);
            if (i < token.Length)
            {
                throw Error(start + i, token[i] is 'Z' or 'z' or '+' or '-'
                    ? "a local time cannot have an offset; add a date to make it an offset date-time"
                    : $"unexpected {Describe(start + i)} after the time");
            }

            return new TomlLocalTime(timeOnly);
        }

        var date = ReadDate(token, ref i, start);
        if (i == token.Length)
        {
            return new TomlLocalDate(date);
        }

        if (token[i] is not ('T' or 't' or ' '))
        {
            throw Error(start + i, $"expected 'T' or a space between date and time, found {Describe(start + i)}");
        }

        i++;
        var time = ReadTime(token, ref i, start);
        var local = date.ToDateTime(time, DateTimeKind.Unspecified);
        if (i == token.Length)
        {
            return new TomlLocalDateTime(local);
        }

        TimeSpan offset;
        if (token[i] is 'Z' or 'z')
        {
            offset = TimeSpan.Zero;
            i++;
        }
        else if (token[i] is '+' or '-')
        {
            var negative = token[i] == '-';
            var offsetStart = i;
            i++;
            var hours = ReadTwoDigits(token, ref i, start, "offset hour");
            ExpectChar(token, ref i, start, ':', "between offset hour and minute");
            var minutes = ReadTwoDigits(token, ref i, start, "offset minute");
            if (hours > 23 || minutes > 59)
            {
                throw Error(start + offsetStart, "offset must be between -23:59 and +23:59");
            }

            offset = new TimeSpan(hours, minutes, 0);
            if (offset > TimeSpan.FromHours(14))
            {
                // DateTimeOffset cannot hold offsets beyond ±14:00 (no real time zone uses one).
                throw Error(start + offsetStart, "offsets beyond ±14:00 are not supported");
            }

            offset = negative ? -offset : offset;
        }
        else
        {
            throw Error(start + i, $"unexpected {Describe(start + i)} after the time");
        }

        if (i < token.Length)
        {
            throw Error(start + i, $"unexpected {Describe(start + i)} after the date-time");
        }

        var utcTicks = local.Ticks - offset.Ticks;
        if (utcTicks < DateTime.MinValue.Ticks || utcTicks > DateTime.MaxValue.Ticks)
        {
            throw Error(start, "offset date-time is out of the supported range (years 0001-9999 in UTC)");
        }

        return new DateTimeOffset(local, offset);
    }

    private DateOnly ReadDate(ReadOnlySpan<char> token, ref int i, int start)
    {
        var yearStart = i;
        var year = 0;
        while (i < token.Length && char.IsAsciiDigit(token[i]))
        {
            year = (year * 10) + (token[i] - '0');
            i++;
            if (i - yearStart > 4)
            {
                throw Error(start + yearStart, "year must have exactly four digits");
            }
        }

        if (i - yearStart != 4)
        {
            throw Error(start + yearStart, "year must have exactly four digits");
        }

        ExpectChar(token, ref i, start, '-', "between year and month");
        var month = ReadTwoDigits(token, ref i, start, "month");
        ExpectChar(token, ref i, start, '-', "between month and day");
        var day = ReadTwoDigits(token, ref i, start, "day");

        if (year == 0)
        {
            throw Error(start + yearStart, "year 0000 is not supported");
        }

        if (month is < 1 or > 12)
        {
            throw Error(start + i - 5, $"month {month:D2} is out of range (01-12)");
        }

        var daysInMonth = DateTime.DaysInMonth(year, month);
        if (day < 1 || day > daysInMonth)
        {
            throw Error(start + i - 2, $"day {day:D2} is out of range for {year:D4}-{month:D2} (01-{daysInMonth})");
        }

        return new DateOnly(year, month, day);
    }

    private TimeOnly ReadTime(ReadOnlySpan<char> token, ref int i, int start)
    {
        var timeStart = i;
        var hour = ReadTwoDigits(token, ref i, start, "hour");
        ExpectChar(token, ref i, start, ':', "between hour and minute");
        var minute = ReadTwoDigits(token, ref i, start, "minute");
        if (i >= token.Length || token[i] != ':')
        {
            throw Error(start + i, "seconds are required in a TOML 1.0 time (HH:MM:SS)");
        }

        i++;
        var second = ReadTwoDigits(token, ref i, start, "second");
        if (hour > 23)
        {
            throw Error(start + timeStart, $"hour {hour:D2} is out of range (00-23)");
        }

        if (minute > 59)
        {
            throw Error(start + timeStart + 3, $"minute {minute:D2} is out of range (00-59)");
        }

        if (second == 60)
        {
            throw Error(start + timeStart + 6, "leap second 60 is not supported (.NET times cannot represent it)");
        }

        if (second > 59)
        {
            throw Error(start + timeStart + 6, $"second {second:D2} is out of range (00-59)");
        }

        long fractionTicks = 0;
        if (i < token.Length && token[i] == '.')
        {
            i++;
            var fractionStart = i;
            var scale = TimeSpan.TicksPerSecond;
            while (i < token.Length && char.IsAsciiDigit(token[i]))
            {
                // Digits past the seventh (finer than one 100 ns tick) are truncated.
                scale /= 10;
                fractionTicks += (token[i] - '0') * scale;
                i++;
            }

            if (i == fractionStart)
            {
                throw Error(start + i, "expected digits after the decimal point in seconds");
            }
        }

        return new TimeOnly(hour, minute, second).Add(TimeSpan.FromTicks(fractionTicks));
    }

    private int ReadTwoDigits(ReadOnlySpan<char> token, ref int i, int start, string what)
    {
        if (i + 1 >= token.Length || !char.IsAsciiDigit(token[i]) || !char.IsAsciiDigit(token[i + 1])
            || (i + 2 < token.Length && char.IsAsciiDigit(token[i + 2])))
        {
            throw Error(start + i, $"{what} must have exactly two digits");
        }

        var value = ((token[i] - '0') * 10) + (token[i + 1] - '0');
        i += 2;
        return value;
    }

    private void ExpectChar(ReadOnlySpan<char> token, ref int i, int start, char expected, string where)
    {
        if (i >= token.Length || token[i] != expected)
        {
            throw Error(start + i, $"expected '{expected}' {where}, found {Describe(start + i)}");
        }

        i++;
    }
}
