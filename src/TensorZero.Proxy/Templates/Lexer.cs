using System.Globalization;
using System.Text;

namespace TensorZero.Proxy.Templates;

/// <summary>A source location: 1-based lines, 0-based columns counted in Unicode scalar values, UTF-16 offsets.</summary>
internal readonly record struct Span(int StartLine, int StartColumn, int StartOffset, int EndLine, int EndColumn, int EndOffset)
{
    public Span WithEnd(Span end) => this with { EndLine = end.EndLine, EndColumn = end.EndColumn, EndOffset = end.EndOffset };
}

/// <summary>The kinds of tokens of the MiniJinja syntax.</summary>
internal enum TokenKind : byte
{
    TemplateData,
    VariableStart,
    VariableEnd,
    BlockStart,
    BlockEnd,
    Ident,
    String,
    Int,
    Float,
    Plus,
    Minus,
    Mul,
    Div,
    FloorDiv,
    Pow,
    Mod,
    Dot,
    Comma,
    Colon,
    Tilde,
    Assign,
    Pipe,
    Eq,
    Ne,
    Gt,
    Gte,
    Lt,
    Lte,
    BracketOpen,
    BracketClose,
    ParenOpen,
    ParenClose,
    BraceOpen,
    BraceClose,

    /// <summary>Not a token: the lexer failed here; <see cref="Token.Text"/> says why.</summary>
    Error,
}

/// <summary>One token: <see cref="Text"/> carries identifiers, string literals, template data and error messages.</summary>
internal readonly record struct Token(TokenKind Kind, Span Span, string? Text = null, Int128 Int = default, double Float = 0)
{
    /// <summary>How a token is named in "unexpected ..." messages (the wording MiniJinja uses).</summary>
    public string Describe() => Kind switch
    {
        TokenKind.TemplateData => "template-data",
        TokenKind.VariableStart => "start of variable block",
        TokenKind.VariableEnd => "end of variable block",
        TokenKind.BlockStart => "start of block",
        TokenKind.BlockEnd => "end of block",
        TokenKind.Ident => $"identifier `{Text}`",
        TokenKind.String => "string",
        TokenKind.Int => "integer",
        TokenKind.Float => "float",
        TokenKind.Plus => "`+`",
        TokenKind.Minus => "`-`",
        TokenKind.Mul => "`*`",
        TokenKind.Div => "`/`",
        TokenKind.FloorDiv => "`//`",
        TokenKind.Pow => "`**`",
        TokenKind.Mod => "`%`",
        TokenKind.Dot => "`.`",
        TokenKind.Comma => "`,`",
        TokenKind.Colon => "`:`",
        TokenKind.Tilde => "`~`",
        TokenKind.Assign => "`=`",
        TokenKind.Pipe => "`|`",
        TokenKind.Eq => "`==`",
        TokenKind.Ne => "`!=`",
        TokenKind.Gt => "`>`",
        TokenKind.Gte => "`>=`",
        TokenKind.Lt => "`<`",
        TokenKind.Lte => "`<=`",
        TokenKind.BracketOpen => "`[`",
        TokenKind.BracketClose => "`]`",
        TokenKind.ParenOpen => "`(`",
        TokenKind.ParenClose => "`)`",
        TokenKind.BraceOpen => "`{`",
        TokenKind.BraceClose => "`}`",
        _ => "invalid token",
    };
}

/// <summary>Whitespace settings of the environment. TensorZero uses MiniJinja's defaults: all off.</summary>
internal readonly record struct WhitespaceOptions(bool KeepTrailingNewline = false, bool LstripBlocks = false, bool TrimBlocks = false);

/// <summary>
/// Splits a template into tokens the way MiniJinja's lexer does (default delimiters <c>{{ }}</c>, <c>{% %}</c>,
/// <c>{# #}</c>; <c>-</c>/<c>+</c> whitespace control; <c>{% raw %}</c>). A lexing failure ends the list with an
/// <see cref="TokenKind.Error"/> token, so the parser reports errors in source order.
/// </summary>
internal sealed class Lexer
{
    private enum State : byte { Template, Variable, Block }

    private enum Marker : byte { Variable, Block, Comment }

    private enum Ws : byte { Default, Preserve, Remove }

    private readonly string _source;
    private readonly int _length;
    private readonly WhitespaceOptions _ws;
    private readonly List<Token> _tokens = new();
    private readonly Stack<State> _stack = new();
    private int _offset;
    private int _line = 1;
    private int _column;
    private bool _trimLeadingWhitespace;
    private int _parenBalance;

    private Lexer(string source, WhitespaceOptions ws)
    {
        _source = source;
        var length = source.Length;
        // MiniJinja drops one trailing newline (and then one carriage return) unless keep_trailing_newline is set.
        if (!ws.KeepTrailingNewline)
        {
            if (length > 0 && source[length - 1] == '\n')
            {
                length--;
            }
            if (length > 0 && source[length - 1] == '\r')
            {
                length--;
            }
        }
        _length = length;
        _ws = ws;
        _stack.Push(State.Template);
    }

    /// <summary>Tokenizes a whole template; the list ends early with an error token if lexing fails.</summary>
    public static List<Token> Tokenize(string source, WhitespaceOptions ws)
    {
        var lexer = new Lexer(source, ws);
        try
        {
            lexer.Run();
        }
        catch (LexError error)
        {
            lexer._tokens.Add(new Token(TokenKind.Error, error.Span, error.Message));
        }
        return lexer._tokens;
    }

    private sealed class LexError(string message, Span span) : Exception(message)
    {
        public Span Span { get; } = span;
    }

    private void Run()
    {
        while (_offset < _length)
        {
            switch (_stack.Peek())
            {
                case State.Template:
                    TokenizeRoot();
                    break;
                case State.Block:
                    TokenizeBlockOrVariable(State.Block);
                    break;
                default:
                    TokenizeBlockOrVariable(State.Variable);
                    break;
            }
        }
    }

    private (int Line, int Column, int Offset) Location => (_line, _column, _offset);

    private Span SpanFrom((int Line, int Column, int Offset) start) =>
        new(start.Line, start.Column, start.Offset, _line, _column, _offset);

    private void Advance(int count)
    {
        var end = _offset + count;
        for (var i = _offset; i < end; i++)
        {
            var c = _source[i];
            if (c == '\n')
            {
                _line++;
                _column = 0;
            }
            else if (!char.IsLowSurrogate(c))
            {
                // Columns count Unicode scalar values, as MiniJinja's do.
                _column++;
            }
        }
        _offset = end;
    }

    private LexError SyntaxError(string message)
    {
        var span = SpanFrom(Location);
        if (span.StartColumn == span.EndColumn)
        {
            span = span with { EndColumn = span.EndColumn + 1, EndOffset = span.EndOffset + 1 };
        }
        return new LexError(message, span);
    }

    private bool StartsWith(int at, string text) =>
        at + text.Length <= _length && string.CompareOrdinal(_source, at, text, 0, text.Length) == 0;

    private char CharAt(int at) => at < _length ? _source[at] : '\0';

    private static Ws WsFrom(char c) => c switch
    {
        '-' => Ws.Remove,
        '+' => Ws.Preserve,
        _ => Ws.Default,
    };

    private static bool IsNewline(char c) => c is '\r' or '\n';

    // ----- template data --------------------------------------------------------------------------------------------

    private void TokenizeRoot()
    {
        if (_trimLeadingWhitespace)
        {
            _trimLeadingWhitespace = false;
            var skip = _offset;
            while (skip < _length && char.IsWhiteSpace(_source[skip]))
            {
                skip++;
            }
            Advance(skip - _offset);
            if (_offset >= _length)
            {
                return;
            }
        }

        var start = Location;
        var found = FindStartMarker(_offset);
        if (found is not { } marker)
        {
            var rest = _source.Substring(_offset, _length - _offset);
            Advance(rest.Length);
            AddData(rest, SpanFrom(start));
            return;
        }

        var lead = _source.AsSpan(_offset, marker.At - _offset);
        int keep;
        switch (marker.Ws)
        {
            case Ws.Default when ShouldLstripBlock(marker.Kind, marker.At):
                keep = LstripBlock(lead).Length;
                break;
            case Ws.Remove:
                keep = lead.TrimEnd().Length;
                break;
            default:
                keep = lead.Length;
                break;
        }
        var data = lead[..keep].ToString();
        Advance(keep);
        var dataSpan = SpanFrom(start);
        Advance(lead.Length - keep);
        AddData(data, dataSpan);
        HandleStartMarker(marker.Kind, marker.Length);
    }

    private void AddData(string data, Span span)
    {
        if (data.Length > 0)
        {
            _tokens.Add(new Token(TokenKind.TemplateData, span, data));
        }
    }

    private (int At, Marker Kind, int Length, Ws Ws)? FindStartMarker(int from)
    {
        var at = from;
        while (true)
        {
            var index = _source.IndexOf('{', at, _length - at);
            if (index < 0)
            {
                return null;
            }
            Marker kind;
            switch (CharAt(index + 1))
            {
                case '{' when index + 1 < _length:
                    kind = Marker.Variable;
                    break;
                case '%' when index + 1 < _length:
                    kind = Marker.Block;
                    break;
                case '#' when index + 1 < _length:
                    kind = Marker.Comment;
                    break;
                default:
                    at = index + 1;
                    continue;
            }
            var ws = index + 2 < _length ? WsFrom(_source[index + 2]) : Ws.Default;
            return (index, kind, ws == Ws.Default ? 2 : 3, ws);
        }
    }

    private bool ShouldLstripBlock(Marker marker, int markerAt)
    {
        if (!_ws.LstripBlocks || marker == Marker.Variable)
        {
            return false;
        }
        for (var i = markerAt - 1; i >= 0; i--)
        {
            var c = _source[i];
            if (IsNewline(c))
            {
                return true;
            }
            if (!char.IsWhiteSpace(c))
            {
                return false;
            }
        }
        return true;
    }

    private static ReadOnlySpan<char> LstripBlock(ReadOnlySpan<char> text)
    {
        var end = text.Length;
        while (end > 0 && char.IsWhiteSpace(text[end - 1]) && !IsNewline(text[end - 1]))
        {
            end--;
        }
        return end == 0 || text[end - 1] == '\n' ? text[..end] : text;
    }

    private void HandleStartMarker(Marker marker, int skip)
    {
        switch (marker)
        {
            case Marker.Comment:
            {
                var end = _source.IndexOf("#}", _offset + skip, _length - _offset - skip, StringComparison.Ordinal);
                if (end < 0)
                {
                    Advance(_length - _offset);
                    throw SyntaxError("unexpected end of comment");
                }
                var ws = WsFrom(_source[Math.Max(end - 1, _offset + skip)]);
                Advance(end + 2 - _offset);
                HandleTailWhitespace(ws);
                break;
            }
            case Marker.Variable:
            {
                var start = Location;
                Advance(skip);
                _stack.Push(State.Variable);
                _tokens.Add(new Token(TokenKind.VariableStart, SpanFrom(start)));
                break;
            }
            default:
            {
                if (SkipBasicTag(_offset + skip, "raw", allowWsControl: false) is { } raw)
                {
                    Advance(raw.End - _offset);
                    HandleRawTag(raw.Ws);
                }
                else
                {
                    var start = Location;
                    Advance(skip);
                    _stack.Push(State.Block);
                    _tokens.Add(new Token(TokenKind.BlockStart, SpanFrom(start)));
                }
                break;
            }
        }
    }

    // Matches `[-+]? ws* name ws* [-+]? %}` at `at`; returns where the tag ends and its trailing whitespace control.
    private (int End, Ws Ws)? SkipBasicTag(int at, string name, bool allowWsControl)
    {
        var p = at;
        if (allowWsControl && CharAt(p) is '-' or '+' && p < _length)
        {
            p++;
        }
        while (p < _length && IsAsciiWhitespace(_source[p]))
        {
            p++;
        }
        if (!StartsWith(p, name))
        {
            return null;
        }
        p += name.Length;
        while (p < _length && IsAsciiWhitespace(_source[p]))
        {
            p++;
        }
        var ws = Ws.Default;
        if (p < _length && _source[p] is '-' or '+')
        {
            ws = WsFrom(_source[p]);
            p++;
        }
        return StartsWith(p, "%}") ? (p + 2, ws) : null;
    }

    private void HandleRawTag(Ws wsStart)
    {
        var start = Location;
        var searchFrom = _offset;
        while (true)
        {
            var block = _source.IndexOf("{%", searchFrom, _length - searchFrom, StringComparison.Ordinal);
            if (block < 0)
            {
                break;
            }
            var afterMarker = block + 2;
            if (SkipBasicTag(afterMarker, "endraw", allowWsControl: true) is { } endraw)
            {
                var ws = WsFrom(CharAt(afterMarker));
                var body = _source.AsSpan(_offset, block - _offset);
                Advance(block - _offset);
                var span = SpanFrom(start);
                Advance(endraw.End - _offset);
                if (wsStart == Ws.Default && _ws.TrimBlocks)
                {
                    if (body.Length > 0 && body[0] == '\r')
                    {
                        body = body[1..];
                    }
                    if (body.Length > 0 && body[0] == '\n')
                    {
                        body = body[1..];
                    }
                }
                else if (wsStart == Ws.Remove)
                {
                    body = body.TrimStart();
                }
                if (ws == Ws.Default && _ws.LstripBlocks)
                {
                    body = LstripBlock(body);
                }
                else if (ws == Ws.Remove)
                {
                    body = body.TrimEnd();
                }
                HandleTailWhitespace(endraw.Ws);
                AddData(body.ToString(), span);
                return;
            }
            searchFrom = afterMarker;
        }
        Advance(_length - _offset);
        throw SyntaxError("unexpected end of raw block");
    }

    private void HandleTailWhitespace(Ws ws)
    {
        switch (ws)
        {
            case Ws.Default:
                SkipNewlineIfTrimBlocks();
                break;
            case Ws.Remove:
                _trimLeadingWhitespace = true;
                break;
        }
    }

    private void SkipNewlineIfTrimBlocks()
    {
        if (!_ws.TrimBlocks)
        {
            return;
        }
        if (CharAt(_offset) == '\r' && _offset < _length)
        {
            Advance(1);
        }
        if (CharAt(_offset) == '\n' && _offset < _length)
        {
            Advance(1);
        }
    }

    // ----- inside {{ }} and {% %} ---------------------------------------------------------------------------------

    private static bool IsAsciiWhitespace(char c) => c is ' ' or '\t' or '\n' or '\r' or '\f';

    private void TokenizeBlockOrVariable(State sentinel)
    {
        // Whitespace inside tags is insignificant.
        var p = _offset;
        while (p < _length && IsAsciiWhitespace(_source[p]))
        {
            p++;
        }
        if (p > _offset)
        {
            Advance(p - _offset);
            return;
        }

        var start = Location;
        var c = _source[_offset];
        if (_parenBalance == 0)
        {
            var end = sentinel == State.Block ? "%}" : "}}";
            var endKind = sentinel == State.Block ? TokenKind.BlockEnd : TokenKind.VariableEnd;
            if (c is '-' or '+' && StartsWith(_offset + 1, end))
            {
                _stack.Pop();
                Advance(3);
                _tokens.Add(new Token(endKind, SpanFrom(start)));
                if (c == '-')
                {
                    _trimLeadingWhitespace = true;
                }
                return;
            }
            if (StartsWith(_offset, end))
            {
                _stack.Pop();
                Advance(2);
                _tokens.Add(new Token(endKind, SpanFrom(start)));
                if (sentinel == State.Block)
                {
                    SkipNewlineIfTrimBlocks();
                }
                return;
            }
        }

        var two = CharAt(_offset + 1);
        var twoCharKind = (c, two) switch
        {
            ('/', '/') => TokenKind.FloorDiv,
            ('*', '*') => TokenKind.Pow,
            ('=', '=') => TokenKind.Eq,
            ('!', '=') => TokenKind.Ne,
            ('>', '=') => TokenKind.Gte,
            ('<', '=') => TokenKind.Lte,
            _ => TokenKind.Error,
        };
        if (twoCharKind != TokenKind.Error && _offset + 1 < _length)
        {
            Advance(2);
            _tokens.Add(new Token(twoCharKind, SpanFrom(start)));
            return;
        }

        TokenKind kind;
        switch (c)
        {
            case '+': kind = TokenKind.Plus; break;
            case '-': kind = TokenKind.Minus; break;
            case '*': kind = TokenKind.Mul; break;
            case '/': kind = TokenKind.Div; break;
            case '%': kind = TokenKind.Mod; break;
            case '.': kind = TokenKind.Dot; break;
            case ',': kind = TokenKind.Comma; break;
            case ':': kind = TokenKind.Colon; break;
            case '~': kind = TokenKind.Tilde; break;
            case '|': kind = TokenKind.Pipe; break;
            case '=': kind = TokenKind.Assign; break;
            case '>': kind = TokenKind.Gt; break;
            case '<': kind = TokenKind.Lt; break;
            case '(': kind = TokenKind.ParenOpen; _parenBalance++; break;
            case ')': kind = TokenKind.ParenClose; _parenBalance--; break;
            case '[': kind = TokenKind.BracketOpen; _parenBalance++; break;
            case ']': kind = TokenKind.BracketClose; _parenBalance--; break;
            case '{': kind = TokenKind.BraceOpen; _parenBalance++; break;
            case '}': kind = TokenKind.BraceClose; _parenBalance--; break;
            case '\'' or '"':
                _tokens.Add(EatString(c));
                return;
            case >= '0' and <= '9':
                _tokens.Add(EatNumber());
                return;
            default:
                _tokens.Add(EatIdentifier());
                return;
        }
        Advance(1);
        _tokens.Add(new Token(kind, SpanFrom(start)));
    }

    private Token EatIdentifier()
    {
        // Identifiers are ASCII (MiniJinja without its `unicode` feature, as TensorZero builds it).
        var p = _offset;
        while (p < _length)
        {
            var c = _source[p];
            var ok = c == '_' || (p == _offset ? char.IsAsciiLetter(c) : char.IsAsciiLetterOrDigit(c));
            if (!ok)
            {
                break;
            }
            p++;
        }
        if (p == _offset)
        {
            throw SyntaxError("unexpected character");
        }
        var start = Location;
        var ident = _source.Substring(_offset, p - _offset);
        Advance(p - _offset);
        return new Token(TokenKind.Ident, SpanFrom(start), ident);
    }

    private Token EatString(char delimiter)
    {
        var start = Location;
        var p = _offset + 1;
        var escaped = false;
        var hasEscapes = false;
        while (p < _length)
        {
            var c = _source[p];
            if (escaped)
            {
                escaped = false;
            }
            else if (c == '\\')
            {
                escaped = true;
                hasEscapes = true;
            }
            else if (c == delimiter)
            {
                break;
            }
            p++;
        }
        if (escaped || p >= _length)
        {
            Advance(p - _offset);
            throw SyntaxError("unexpected end of string");
        }
        var raw = _source.Substring(_offset + 1, p - _offset - 1);
        Advance(p + 1 - _offset);
        var span = SpanFrom(start);
        if (!hasEscapes)
        {
            return new Token(TokenKind.String, span, raw);
        }
        return Unescape(raw) is { } text
            ? new Token(TokenKind.String, span, text)
            : throw new LexError("bad string escape", span);
    }

    // The escapes of MiniJinja string literals: JSON's, plus \xHH, octal \NNN, and unknown escapes kept verbatim.
    private static string? Unescape(string s)
    {
        var sb = new StringBuilder(s.Length);
        var pendingSurrogate = -1;
        for (var i = 0; i < s.Length; i++)
        {
            var c = s[i];
            if (c != '\\')
            {
                if (pendingSurrogate >= 0)
                {
                    return null;
                }
                sb.Append(c);
                continue;
            }
            if (++i >= s.Length)
            {
                return null;
            }
            var d = s[i];
            if (d != 'u' && pendingSurrogate >= 0)
            {
                return null;
            }
            switch (d)
            {
                case '"' or '\\' or '/' or '\'':
                    sb.Append(d);
                    break;
                case 'b': sb.Append('\b'); break;
                case 'f': sb.Append('\f'); break;
                case 'n': sb.Append('\n'); break;
                case 'r': sb.Append('\r'); break;
                case 't': sb.Append('\t'); break;
                case 'u':
                {
                    if (i + 4 >= s.Length)
                    {
                        return null;
                    }
                    if (!int.TryParse(s.AsSpan(i + 1, 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var unit))
                    {
                        return null;
                    }
                    i += 4;
                    if (pendingSurrogate >= 0)
                    {
                        if (!char.IsLowSurrogate((char)unit))
                        {
                            return null;
                        }
                        sb.Append((char)pendingSurrogate).Append((char)unit);
                        pendingSurrogate = -1;
                    }
                    else if (char.IsHighSurrogate((char)unit))
                    {
                        pendingSurrogate = unit;
                    }
                    else if (char.IsLowSurrogate((char)unit))
                    {
                        return null;
                    }
                    else
                    {
                        sb.Append((char)unit);
                    }
                    break;
                }
                case 'x':
                {
                    if (i + 2 >= s.Length || !byte.TryParse(s.AsSpan(i + 1, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var b))
                    {
                        return null;
                    }
                    i += 2;
                    sb.Append((char)b);
                    break;
                }
                case >= '0' and <= '7':
                {
                    var value = d - '0';
                    var digits = 1;
                    while (digits < 3 && i + 1 < s.Length && s[i + 1] is >= '0' and <= '7')
                    {
                        value = value * 8 + (s[++i] - '0');
                        digits++;
                    }
                    if (value > 255)
                    {
                        return null;
                    }
                    sb.Append((char)value);
                    break;
                }
                default:
                    sb.Append('\\').Append(d);
                    break;
            }
        }
        return pendingSurrogate >= 0 ? null : sb.ToString();
    }

    private enum NumberState : byte { RadixInteger, Integer, Fraction, Exponent, ExponentSign }

    private Token EatNumber()
    {
        var start = Location;
        var radix = 10;
        if (CharAt(_offset) == '0' && _offset + 1 < _length)
        {
            radix = CharAt(_offset + 1) switch
            {
                'b' or 'B' => 2,
                'o' or 'O' => 8,
                'x' or 'X' => 16,
                _ => 10,
            };
        }
        var state = NumberState.Integer;
        if (radix != 10)
        {
            Advance(2);
            state = NumberState.RadixInteger;
        }
        var p = _offset;
        while (p < _length && char.IsAsciiDigit(_source[p]))
        {
            p++;
        }
        var hasUnderscore = false;
        while (p < _length)
        {
            var c = _source[p];
            NumberState? next = (c, state) switch
            {
                ('.', NumberState.Integer) => NumberState.Fraction,
                ('E' or 'e', NumberState.Integer or NumberState.Fraction) => NumberState.Exponent,
                ('+' or '-', NumberState.Exponent) => NumberState.ExponentSign,
                (>= '0' and <= '9', NumberState.Exponent) => NumberState.ExponentSign,
                (>= '0' and <= '9', _) => state,
                (>= 'a' and <= 'f' or >= 'A' and <= 'F', NumberState.RadixInteger) when radix == 16 => state,
                ('_', _) => state,
                _ => null,
            };
            if (next is not { } n)
            {
                break;
            }
            hasUnderscore |= c == '_';
            state = n;
            p++;
        }
        var isFloat = state is not (NumberState.Integer or NumberState.RadixInteger);
        var text = _source.Substring(_offset, p - _offset);
        Advance(p - _offset);
        if (hasUnderscore)
        {
            if (text.EndsWith('_'))
            {
                throw SyntaxError("'_' may not occur at end of number");
            }
            text = text.Replace("_", "", StringComparison.Ordinal);
        }
        var span = SpanFrom(start);
        if (isFloat)
        {
            // Rust's f64 parser rejects what .NET would accept only in forms the state machine cannot produce
            // (spaces, signs in front, "Infinity"), except a dangling exponent ("1e"), which both reject.
            return double.TryParse(text, NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent, CultureInfo.InvariantCulture, out var f)
                ? new Token(TokenKind.Float, span, Float: f)
                : throw SyntaxError("invalid float");
        }
        if (ParseInteger(text, radix) is { } value)
        {
            return new Token(TokenKind.Int, span, Int: value);
        }
        throw SyntaxError("invalid integer (too large)");
    }

    private static Int128? ParseInteger(string digits, int radix)
    {
        if (digits.Length == 0)
        {
            return null;
        }
        Int128 value = 0;
        foreach (var c in digits)
        {
            var d = c switch
            {
                >= '0' and <= '9' => c - '0',
                >= 'a' and <= 'f' => c - 'a' + 10,
                >= 'A' and <= 'F' => c - 'A' + 10,
                _ => 99,
            };
            if (d >= radix)
            {
                return null;
            }
            try
            {
                value = checked(value * radix + d);
            }
            catch (OverflowException)
            {
                return null;
            }
        }
        return value;
    }
}
