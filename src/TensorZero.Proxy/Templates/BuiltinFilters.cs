using System.Globalization;
using System.Text;

namespace TensorZero.Proxy.Templates;

/// <summary>
/// The filters of MiniJinja's <c>builtins</c> and <c>json</c> features (the set TensorZero's environment has), with
/// MiniJinja's argument rules, defaults and error messages.
/// </summary>
internal static class BuiltinFilters
{
    private delegate Value Filter(Renderer renderer, ReadOnlySpan<Value> args);

    private static readonly Dictionary<string, Filter> Filters = new(StringComparer.Ordinal)
    {
        ["safe"] = Safe,
        ["escape"] = Escape,
        ["e"] = Escape,
        ["lower"] = (r, a) => Text(r, a, ToLowerRust),
        ["upper"] = (r, a) => Text(r, a, ToUpperRust),
        ["title"] = (r, a) => Text(r, a, Title),
        ["capitalize"] = (r, a) => Text(r, a, Capitalize),
        ["replace"] = Replace,
        ["length"] = Length,
        ["count"] = Length,
        ["dictsort"] = DictSort,
        ["items"] = Items,
        ["reverse"] = Reverse,
        ["trim"] = Trim,
        ["join"] = Join,
        ["split"] = Split,
        ["lines"] = Lines,
        ["default"] = Default,
        ["d"] = Default,
        ["round"] = Round,
        ["abs"] = Abs,
        ["int"] = Int,
        ["float"] = Float,
        ["attr"] = Attr,
        ["first"] = First,
        ["last"] = Last,
        ["min"] = (r, a) => MinMax(r, a, max: false),
        ["max"] = (r, a) => MinMax(r, a, max: true),
        ["sort"] = Sort,
        ["list"] = List,
        ["string"] = String,
        ["bool"] = Bool,
        ["batch"] = Batch,
        ["slice"] = SliceFilter,
        ["sum"] = Sum,
        ["indent"] = Indent,
        ["select"] = (r, a) => SelectOrReject(r, a, invert: false, byAttribute: false),
        ["reject"] = (r, a) => SelectOrReject(r, a, invert: true, byAttribute: false),
        ["selectattr"] = (r, a) => SelectOrReject(r, a, invert: false, byAttribute: true),
        ["rejectattr"] = (r, a) => SelectOrReject(r, a, invert: true, byAttribute: true),
        ["map"] = Map,
        ["groupby"] = GroupBy,
        ["unique"] = Unique,
        ["chain"] = Chain,
        ["zip"] = Zip,
        ["pprint"] = PPrint,
        ["format"] = Format,
        ["tojson"] = ToJson,
    };

    public static bool Exists(string name) => Filters.ContainsKey(name);

    /// <summary>Applies a filter; <paramref name="args"/> starts with the filtered value.</summary>
    public static Value Apply(Renderer renderer, string name, ReadOnlySpan<Value> args) => Filters.TryGetValue(name, out var filter)
        ? filter(renderer, args)
        : throw new TemplateError(ErrorKind.UnknownFilter, $"filter {name} is unknown");

    // ----- strings ------------------------------------------------------------------------------------------------

    private static Value Text(Renderer r, ReadOnlySpan<Value> args, Func<string, string> transform)
    {
        var a = new Arguments(r, args, acceptsKwargs: false);
        var text = a.String(0);
        a.NoMore(1);
        return Value.FromString(transform(text));
    }

    private static Value Safe(Renderer r, ReadOnlySpan<Value> args)
    {
        var a = new Arguments(r, args, acceptsKwargs: false);
        var text = a.String(0);
        a.NoMore(1);
        return Value.FromSafeString(text);
    }

    private static Value Escape(Renderer r, ReadOnlySpan<Value> args)
    {
        var a = new Arguments(r, args, acceptsKwargs: false);
        var value = a.Required(0);
        a.NoMore(1);
        if (value.IsSafe)
        {
            return value;
        }
        // The scope's escaping, else the template's, else HTML.
        var mode = r.AutoEscapeMode != AutoEscape.None ? r.AutoEscapeMode : r.CurrentTemplate.InitialAutoEscape;
        if (mode == AutoEscape.None)
        {
            mode = AutoEscape.Html;
        }
        var sb = new StringBuilder();
        Renderer.WriteEscaped(sb, mode, value);
        return Value.FromSafeString(sb.ToString());
    }

    /// <summary>Rust's <c>str::to_lowercase</c>: full case mapping, with the final-sigma rule.</summary>
    public static string ToLowerRust(string s)
    {
        var sb = new StringBuilder(s.Length);
        for (var i = 0; i < s.Length; i++)
        {
            var c = s[i];
            if (c == 'Σ')
            {
                sb.Append(IsFinalSigma(s, i) ? 'ς' : 'σ');
            }
            else if (c == 'İ')
            {
                sb.Append("i\u0307");
            }
            else if (char.IsHighSurrogate(c) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
            {
                sb.Append(s.Substring(i, 2).ToLowerInvariant());
                i++;
            }
            else
            {
                sb.Append(char.ToLowerInvariant(c));
            }
        }
        return sb.ToString();
    }

    // Σ becomes ς at the end of a word: after a letter and not before one.
    private static bool IsFinalSigma(string s, int at) =>
        at > 0 && char.IsLetter(s[at - 1]) && (at + 1 >= s.Length || !char.IsLetter(s[at + 1]));

    /// <summary>Rust's <c>str::to_uppercase</c>: full case mapping (ß → SS, ligatures split).</summary>
    public static string ToUpperRust(string s)
    {
        var sb = new StringBuilder(s.Length);
        foreach (var c in s)
        {
            AppendUpper(sb, c);
        }
        return sb.ToString();
    }

    private static void AppendUpper(StringBuilder sb, char c)
    {
        switch (c)
        {
            case 'ß': sb.Append("SS"); break;
            case 'ŉ': sb.Append("ʼN"); break;
            case 'ﬀ': sb.Append("FF"); break;
            case 'ﬁ': sb.Append("FI"); break;
            case 'ﬂ': sb.Append("FL"); break;
            case 'ﬃ': sb.Append("FFI"); break;
            case 'ﬄ': sb.Append("FFL"); break;
            case 'ﬅ' or 'ﬆ': sb.Append("ST"); break;
            default: sb.Append(char.ToUpperInvariant(c)); break;
        }
    }

    private static void AppendLowerChar(StringBuilder sb, char c)
    {
        if (c == 'İ')
        {
            sb.Append("i\u0307");
        }
        else
        {
            sb.Append(char.ToLowerInvariant(c));
        }
    }

    private static string Title(string s)
    {
        var sb = new StringBuilder(s.Length);
        var capitalize = true;
        foreach (var c in s)
        {
            if (IsAsciiPunctuation(c) || char.IsWhiteSpace(c))
            {
                // ASCII punctuation and whitespace start a new word.
                sb.Append(c);
                capitalize = true;
            }
            else if (capitalize)
            {
                AppendUpper(sb, c);
                capitalize = false;
            }
            else
            {
                AppendLowerChar(sb, c);
            }
        }
        return sb.ToString();
    }

    private static bool IsAsciiPunctuation(char c) => c is >= '!' and <= '/' or >= ':' and <= '@' or >= '[' and <= '`' or >= '{' and <= '~';

    private static string Capitalize(string s)
    {
        if (s.Length == 0)
        {
            return s;
        }
        var width = char.IsHighSurrogate(s[0]) && s.Length > 1 ? 2 : 1;
        var sb = new StringBuilder(s.Length);
        if (width == 1)
        {
            AppendUpper(sb, s[0]);
        }
        else
        {
            sb.Append(s[..2].ToUpperInvariant());
        }
        sb.Append(ToLowerRust(s[width..]));
        return sb.ToString();
    }

    private static Value Replace(Renderer r, ReadOnlySpan<Value> args)
    {
        var a = new Arguments(r, args, acceptsKwargs: false);
        var text = a.String(0);
        var from = a.String(1);
        var to = a.String(2);
        a.NoMore(3);
        if (from == to)
        {
            return Value.FromString(text);
        }
        if (from.Length == 0)
        {
            // Rust inserts the replacement before every character and at the end.
            var sb = new StringBuilder(to);
            foreach (var c in Values.Chars(text))
            {
                sb.Append(c.AsString).Append(to);
            }
            return Value.FromString(sb.ToString());
        }
        return Value.FromString(text.Replace(from, to, StringComparison.Ordinal));
    }

    private static Value Trim(Renderer r, ReadOnlySpan<Value> args)
    {
        var a = new Arguments(r, args, acceptsKwargs: false);
        var text = a.String(0);
        var chars = a.OptionalString(1);
        a.NoMore(2);
        return Value.FromString(chars is null ? text.Trim() : text.Trim(chars.ToCharArray()));
    }

    private static Value Join(Renderer r, ReadOnlySpan<Value> args)
    {
        var a = new Arguments(r, args, acceptsKwargs: false);
        var value = a.Required(0);
        var joiner = a.OptionalString(1) ?? "";
        a.NoMore(2);
        if (value.IsUndefined || value.IsNone)
        {
            return Value.EmptyString;
        }
        var items = value.Iterate() ?? throw new TemplateError(ErrorKind.InvalidOperation,
            $"cannot join value of type {Values.KindName(value.Kind)}");
        var sb = new StringBuilder();
        for (var i = 0; i < items.Count; i++)
        {
            if (i > 0)
            {
                sb.Append(joiner);
            }
            items[i].WriteTo(sb);
        }
        return Value.FromString(sb.ToString());
    }

    private static Value Split(Renderer r, ReadOnlySpan<Value> args)
    {
        var a = new Arguments(r, args, acceptsKwargs: false);
        var text = a.StrictString(0);
        var separator = a.OptionalStrictString(1);
        var maxSplits = a.OptionalInt64(2);
        a.NoMore(3);
        var limit = maxSplits is >= 0 ? (int)Math.Min(maxSplits.Value + 1, int.MaxValue) : int.MaxValue;
        var parts = new List<Value>();
        if (separator is null)
        {
            // Runs of whitespace separate; leading and trailing whitespace make no empty parts. With a limit, the
            // last part is the rest of the string from its first non-whitespace character.
            var i = 0;
            while (i < text.Length)
            {
                while (i < text.Length && char.IsWhiteSpace(text[i]))
                {
                    i++;
                }
                if (i >= text.Length)
                {
                    break;
                }
                if (parts.Count == limit - 1)
                {
                    parts.Add(Value.FromString(text[i..]));
                    break;
                }
                var start = i;
                while (i < text.Length && !char.IsWhiteSpace(text[i]))
                {
                    i++;
                }
                parts.Add(Value.FromString(text[start..i]));
            }
        }
        else if (separator.Length == 0)
        {
            // Rust splits an empty separator around every character, with empty ends.
            var pieces = new List<string> { "" };
            pieces.AddRange(Values.Chars(text).Select(c => c.AsString!));
            pieces.Add("");
            if (pieces.Count > limit)
            {
                var head = pieces.Take(limit - 1).ToList();
                head.Add(string.Concat(pieces.Skip(limit - 1)));
                pieces = head;
            }
            parts.AddRange(pieces.Select(Value.FromString));
        }
        else
        {
            parts.AddRange(text.Split(separator, limit, StringSplitOptions.None).Select(Value.FromString));
        }
        return Value.FromObject(new IterableValue(parts, knownLength: false));
    }

    private static Value Lines(Renderer r, ReadOnlySpan<Value> args)
    {
        var a = new Arguments(r, args, acceptsKwargs: false);
        var text = a.StrictString(0);
        a.NoMore(1);
        var lines = new List<Value>();
        var start = 0;
        while (start < text.Length)
        {
            var end = text.IndexOf('\n', start);
            var stop = end < 0 ? text.Length : end;
            var line = text[start..stop];
            if (end >= 0 && line.EndsWith('\r'))
            {
                line = line[..^1];
            }
            lines.Add(Value.FromString(line));
            start = end < 0 ? text.Length : end + 1;
        }
        return Value.FromList(lines);
    }

    private static Value Indent(Renderer r, ReadOnlySpan<Value> args)
    {
        var a = new Arguments(r, args);
        var text = a.String(0);
        var width = a.OptionalCount(1) ?? (a.OptionalKwarg("width") is { } w ? Arguments.ToCount(w) : 4);
        var first = a.OptionalBool(2) ?? a.KwargBool("first") ?? false;
        var blank = a.OptionalBool(3) ?? a.KwargBool("blank") ?? false;
        a.NoMore(4);
        a.OnlyKwargs("width", "first", "blank");

        static string StripTrailingNewline(string s)
        {
            if (s.EndsWith('\n'))
            {
                s = s[..^1];
            }
            if (s.EndsWith('\r'))
            {
                s = s[..^1];
            }
            return s;
        }

        text = StripTrailingNewline(text);
        var pad = new string(' ', width);
        var sb = new StringBuilder();
        var lines = text.Split('\n');
        var index = 0;
        if (!first)
        {
            sb.Append(lines[0]).Append('\n');
            index = 1;
        }
        for (; index < lines.Length; index++)
        {
            var line = lines[index];
            if (line.Length == 0)
            {
                if (blank)
                {
                    sb.Append(pad);
                }
            }
            else
            {
                sb.Append(pad).Append(line);
            }
            sb.Append('\n');
        }
        return Value.FromString(StripTrailingNewline(sb.ToString()));
    }

    private static Value Format(Renderer r, ReadOnlySpan<Value> args)
    {
        var a = new Arguments(r, args, acceptsKwargs: false);
        var format = a.StrictString(0);
        return Value.FromString(PrintfFormat.Format(format, a.Rest(1)));
    }

    // ----- values -------------------------------------------------------------------------------------------------

    private static Value Length(Renderer r, ReadOnlySpan<Value> args)
    {
        var a = new Arguments(r, args, acceptsKwargs: false);
        var value = a.Required(0);
        a.NoMore(1);
        return value.Length is { } n
            ? Value.FromInt(n)
            : throw new TemplateError(ErrorKind.InvalidOperation, $"cannot calculate length of value of type {Values.KindName(value.Kind)}");
    }

    private static Value Default(Renderer r, ReadOnlySpan<Value> args)
    {
        var a = new Arguments(r, args, acceptsKwargs: false);
        var value = a.Required(0);
        if (a.Count > 3)
        {
            throw new TemplateError(ErrorKind.TooManyArguments, null);
        }
        var other = a.Count > 1 ? args[1] : Value.EmptyString;
        var lax = a.Count > 2 && r.IsTrue(args[2]);
        return value.IsUndefined || (lax && !value.IsTrue) ? other : value;
    }

    private static Value Round(Renderer r, ReadOnlySpan<Value> args)
    {
        var a = new Arguments(r, args, acceptsKwargs: false);
        var value = a.Required(0);
        var precision = a.OptionalInt64(1);
        a.NoMore(2);
        if (value.IsInteger)
        {
            return value;
        }
        if (value.IsFloat)
        {
            var factor = Math.Pow(10, precision ?? 0);
            return Value.FromDouble(Math.Round(factor * value.FloatValue, MidpointRounding.AwayFromZero) / factor);
        }
        throw new TemplateError(ErrorKind.InvalidOperation, $"cannot round value ({Values.KindName(value.Kind)})");
    }

    private static Value Abs(Renderer r, ReadOnlySpan<Value> args)
    {
        var a = new Arguments(r, args, acceptsKwargs: false);
        var value = a.Required(0);
        a.NoMore(1);
        if (value.IsInteger)
        {
            return value.IntValue == Int128.MinValue
                ? throw new TemplateError(ErrorKind.InvalidOperation, "overflow on abs")
                : Value.FromInt(Int128.Abs(value.IntValue));
        }
        return value.IsFloat
            ? Value.FromDouble(Math.Abs(value.FloatValue))
            : throw new TemplateError(ErrorKind.InvalidOperation, "cannot get absolute value");
    }

    private static Value Int(Renderer r, ReadOnlySpan<Value> args)
    {
        var a = new Arguments(r, args, acceptsKwargs: false);
        var value = a.Required(0);
        a.NoMore(1);
        switch (value.Kind)
        {
            case ValueKind.Undefined or ValueKind.None:
                r.AssertNotUndefined(value);
                return Value.FromInt(0);
            case ValueKind.Bool:
                return Value.FromInt(value.BoolValue ? 1 : 0);
            case ValueKind.Number:
                return value.IsInteger ? value : Value.FromInt(Saturate(value.FloatValue));
            case ValueKind.String:
            {
                var s = value.AsString!;
                if (Int128.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var i))
                {
                    return Value.FromInt(i);
                }
                if (ParseRustFloat(s) is { } f)
                {
                    return Value.FromInt(Saturate(f));
                }
                throw new TemplateError(ErrorKind.InvalidOperation, "invalid float literal");
            }
            default:
                throw new TemplateError(ErrorKind.InvalidOperation, $"cannot convert {Values.KindName(value.Kind)} to integer");
        }
    }

    // `as i128` in Rust saturates and maps NaN to 0.
    private static Int128 Saturate(double f) => double.IsNaN(f) ? 0
        : f >= 1.7014118346046923e38 ? Int128.MaxValue
        : f <= -1.7014118346046923e38 ? Int128.MinValue
        : (Int128)Math.Truncate(f);

    // Rust's f64 parser: decimal and exponent forms, "inf"/"infinity"/"nan" (any case), an optional sign.
    private static double? ParseRustFloat(string s)
    {
        var body = s.StartsWith('+') || s.StartsWith('-') ? s[1..] : s;
        var negative = s.StartsWith('-');
        switch (body.ToLowerInvariant())
        {
            case "inf" or "infinity":
                return negative ? double.NegativeInfinity : double.PositiveInfinity;
            case "nan":
                return double.NaN;
        }
        if (body.Length == 0 || !(char.IsAsciiDigit(body[0]) || body[0] == '.') || body.Any(c => !(char.IsAsciiDigit(c) || c is '.' or 'e' or 'E' or '+' or '-')))
        {
            return null;
        }
        return double.TryParse(s, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent,
            CultureInfo.InvariantCulture, out var f) ? f : null;
    }

    private static Value Float(Renderer r, ReadOnlySpan<Value> args)
    {
        var a = new Arguments(r, args, acceptsKwargs: false);
        var value = a.Required(0);
        a.NoMore(1);
        switch (value.Kind)
        {
            case ValueKind.Undefined or ValueKind.None:
                r.AssertNotUndefined(value);
                return Value.FromDouble(0);
            case ValueKind.Bool:
                return Value.FromDouble(value.BoolValue ? 1 : 0);
            case ValueKind.String:
                return ParseRustFloat(value.AsString!) is { } f
                    ? Value.FromDouble(f)
                    : throw new TemplateError(ErrorKind.InvalidOperation, "invalid float literal");
            default:
                return value.AsDouble() is { } d
                    ? Value.FromDouble(d)
                    : throw new TemplateError(ErrorKind.InvalidOperation, $"cannot convert {Values.KindName(value.Kind)} to float");
        }
    }

    private static Value String(Renderer r, ReadOnlySpan<Value> args)
    {
        var a = new Arguments(r, args, acceptsKwargs: false);
        var value = a.Required(0);
        a.NoMore(1);
        r.AssertNotUndefined(value);
        return value.IsString ? value : Value.FromString(value.ToString());
    }

    private static Value Bool(Renderer r, ReadOnlySpan<Value> args)
    {
        var a = new Arguments(r, args, acceptsKwargs: false);
        var value = a.Required(0);
        a.NoMore(1);
        return Value.FromBool(r.IsTrue(value));
    }

    private static Value Attr(Renderer r, ReadOnlySpan<Value> args)
    {
        var a = new Arguments(r, args, acceptsKwargs: false);
        var value = a.Required(0);
        var key = a.Required(1);
        a.NoMore(2);
        if (value.IsUndefined)
        {
            throw new TemplateError(ErrorKind.UndefinedError, null);
        }
        return value.GetItem(key) ?? Value.Undefined;
    }

    private static Value ToJson(Renderer r, ReadOnlySpan<Value> args)
    {
        var a = new Arguments(r, args);
        var value = a.Required(0);
        var indentValue = a.Count > 1 ? args[1] : a.Kwarg("indent");
        a.NoMore(2);
        a.OnlyKwargs("indent");
        int? indent = null;
        if (indentValue is { } iv && !iv.IsUndefined && !iv.IsNone)
        {
            indent = iv.IsBool ? (iv.BoolValue ? 2 : null) : Arguments.ToCount(iv);
        }
        string json;
        try
        {
            json = Values.ToJson(value, indent);
        }
        catch (TemplateError error)
        {
            throw new TemplateError(ErrorKind.InvalidOperation, "cannot serialize to JSON", error);
        }
        // The result is safe to embed in HTML and in JSON: <, >, & and ' become unicode escapes.
        var sb = new StringBuilder(json.Length);
        foreach (var c in json)
        {
            switch (c)
            {
                case '<': sb.Append("\\u003c"); break;
                case '>': sb.Append("\\u003e"); break;
                case '&': sb.Append("\\u0026"); break;
                case '\'': sb.Append("\\u0027"); break;
                default: sb.Append(c); break;
            }
        }
        return Value.FromSafeString(sb.ToString());
    }

    private static Value PPrint(Renderer r, ReadOnlySpan<Value> args)
    {
        var a = new Arguments(r, args, acceptsKwargs: false);
        var value = a.Required(0);
        a.NoMore(1);
        var sb = new StringBuilder();
        value.WriteDebug(sb, 0);
        return Value.FromString(sb.ToString());
    }

    // ----- sequences ---------------------------------------------------------------------------------------------

    private static IReadOnlyList<Value> ToList(Renderer r, Value value)
    {
        try
        {
            return r.Iterate(value);
        }
        catch (TemplateError error)
        {
            throw new TemplateError(ErrorKind.InvalidOperation, "cannot convert value to list", error);
        }
    }

    private static Value Items(Renderer r, ReadOnlySpan<Value> args)
    {
        var a = new Arguments(r, args, acceptsKwargs: false);
        var value = a.Required(0);
        a.NoMore(1);
        if (value.AsObject is not { Repr: ObjectRepr.Map } map)
        {
            throw new TemplateError(ErrorKind.InvalidOperation, "cannot convert value into pairs");
        }
        var pairs = map.Pairs.Select(p => Value.FromList([p.Key, p.Value])).ToList();
        return Value.FromObject(new IterableValue(pairs));
    }

    private static Value DictSort(Renderer r, ReadOnlySpan<Value> args)
    {
        var a = new Arguments(r, args);
        var value = a.Required(0);
        a.NoMore(1);
        if (value.AsObject is not { Repr: ObjectRepr.Map } map)
        {
            throw new TemplateError(ErrorKind.InvalidOperation, "cannot convert value into pair list");
        }
        var byValue = a.KwargStrictString("by") == "value";
        var caseSensitive = a.KwargBool("case_sensitive") ?? false;
        var reverse = a.KwargBool("reverse") ?? false;
        var pairs = map.Pairs.ToList();
        var sorted = StableSort(pairs, (x, y) => CompareHelper(byValue ? x.Value : x.Key, byValue ? y.Value : y.Key, caseSensitive, reverse));
        a.OnlyKwargs("by", "case_sensitive", "reverse");
        return Value.FromList(sorted.Select(p => Value.FromList([p.Key, p.Value])).ToList());
    }

    /// <summary>MiniJinja's comparison for sorting: strings compare ASCII-case-insensitively unless asked not to.</summary>
    private static int CompareHelper(Value a, Value b, bool caseSensitive, bool reverse)
    {
        var c = !caseSensitive && a.AsString is { } x && b.AsString is { } y
            ? Values.CompareStrings(AsciiLower(x), AsciiLower(y))
            : Values.Compare(a, b);
        return reverse ? -c : c;
    }

    private static string AsciiLower(string s)
    {
        foreach (var c in s)
        {
            if (char.IsAsciiLetterUpper(c))
            {
                return string.Create(s.Length, s, static (span, src) =>
                {
                    for (var i = 0; i < src.Length; i++)
                    {
                        span[i] = char.IsAsciiLetterUpper(src[i]) ? (char)(src[i] + 32) : src[i];
                    }
                });
            }
        }
        return s;
    }

    private static List<T> StableSort<T>(IReadOnlyList<T> items, Comparison<T> compare)
    {
        var indexed = items.Select((item, index) => (item, index)).ToArray();
        Values.Sort(indexed, (x, y) =>
        {
            var c = compare(x.item, y.item);
            return c != 0 ? c : x.index.CompareTo(y.index);
        });
        return indexed.Select(p => p.item).ToList();
    }

    private static Value Reverse(Renderer r, ReadOnlySpan<Value> args)
    {
        var a = new Arguments(r, args, acceptsKwargs: false);
        var value = a.Required(0);
        a.NoMore(1);
        if (value.IsUndefined || value.IsNone)
        {
            return value;
        }
        if (value.AsString is { } s)
        {
            var chars = Values.Chars(s);
            var sb = new StringBuilder(s.Length);
            for (var i = chars.Count - 1; i >= 0; i--)
            {
                sb.Append(chars[i].AsString);
            }
            return Value.FromString(sb.ToString());
        }
        if (value.AsObject is { Items: { } items })
        {
            var reversed = items.Reverse().ToList();
            return Value.FromObject(new IterableValue(reversed));
        }
        throw new TemplateError(ErrorKind.InvalidOperation, $"cannot reverse values of type {Values.KindName(value.Kind)}");
    }

    private static Value First(Renderer r, ReadOnlySpan<Value> args)
    {
        var a = new Arguments(r, args, acceptsKwargs: false);
        var value = a.Required(0);
        a.NoMore(1);
        if (value.AsString is { } s)
        {
            return s.Length == 0 ? Value.Undefined : Values.Chars(s)[0];
        }
        if (value.AsObject is { Items: { } items })
        {
            return items.Count == 0 ? Value.Undefined : items[0];
        }
        throw new TemplateError(ErrorKind.InvalidOperation, "cannot get first item from value");
    }

    private static Value Last(Renderer r, ReadOnlySpan<Value> args)
    {
        var a = new Arguments(r, args, acceptsKwargs: false);
        var value = a.Required(0);
        a.NoMore(1);
        if (value.AsString is { } s)
        {
            return s.Length == 0 ? Value.Undefined : Values.Chars(s)[^1];
        }
        if (value.Kind is ValueKind.Seq or ValueKind.Iterable)
        {
            var items = value.AsObject!.Items!;
            return items.Count == 0 ? Value.Undefined : items[^1];
        }
        throw new TemplateError(ErrorKind.InvalidOperation, "cannot get last item from value");
    }

    private static Value MinMax(Renderer r, ReadOnlySpan<Value> args, bool max)
    {
        var a = new Arguments(r, args, acceptsKwargs: false);
        var items = ToList(r, a.Required(0));
        a.NoMore(1);
        if (items.Count == 0)
        {
            return Value.Undefined;
        }
        var best = items[0];
        foreach (var item in items.Skip(1))
        {
            var c = Values.Compare(item, best);
            // Rust's Iterator::max keeps the last of equal maxima, min the first of equal minima.
            if (max ? c >= 0 : c < 0)
            {
                best = item;
            }
        }
        return best;
    }

    private static Value Sort(Renderer r, ReadOnlySpan<Value> args)
    {
        var a = new Arguments(r, args);
        var items = ToList(r, a.Required(0));
        a.NoMore(1);
        var caseSensitive = a.KwargBool("case_sensitive") ?? false;
        var reverse = a.KwargBool("reverse") ?? false;
        List<Value> sorted;
        if (a.KwargStrictString("attribute") is { } attribute)
        {
            var keys = attribute.Split(',').Where(k => k.Length > 0).Select(k => k.Trim()).ToList();
            if (keys.Count > 1)
            {
                sorted = StableSort(items, (x, y) => CompareHelper(
                    Value.FromList(keys.Select(k => GetPathOrDefault(x, k, Value.Undefined)).ToList()),
                    Value.FromList(keys.Select(k => GetPathOrDefault(y, k, Value.Undefined)).ToList()),
                    caseSensitive, reverse));
            }
            else
            {
                var key = keys.Count == 1 ? keys[0] : attribute;
                sorted = StableSort(items, (x, y) => TryGetPath(x, key, out var vx) && TryGetPath(y, key, out var vy)
                    ? CompareHelper(vx, vy, caseSensitive, reverse)
                    : 0);
            }
        }
        else
        {
            sorted = StableSort(items, (x, y) => CompareHelper(x, y, caseSensitive, reverse));
        }
        a.OnlyKwargs("case_sensitive", "reverse", "attribute");
        return Value.FromList(sorted);
    }

    private static Value List(Renderer r, ReadOnlySpan<Value> args)
    {
        var a = new Arguments(r, args, acceptsKwargs: false);
        var items = ToList(r, a.Required(0));
        a.NoMore(1);
        return Value.FromList(items.ToList());
    }

    private static Value Batch(Renderer r, ReadOnlySpan<Value> args)
    {
        var a = new Arguments(r, args, acceptsKwargs: false);
        var value = a.Required(0);
        var count = a.Count32(1);
        var fill = a.Optional(2);
        a.NoMore(3);
        if (count == 0)
        {
            throw new TemplateError(ErrorKind.InvalidOperation, "count cannot be 0");
        }
        var result = new List<Value>();
        var current = new List<Value>();
        foreach (var item in r.Iterate(value))
        {
            if (current.Count == count)
            {
                result.Add(Value.FromList(current));
                current = new List<Value>();
            }
            current.Add(item);
        }
        if (current.Count > 0)
        {
            if (fill is { } filler)
            {
                while (current.Count < count)
                {
                    current.Add(filler);
                }
            }
            result.Add(Value.FromList(current));
        }
        return Value.FromList(result);
    }

    private static Value SliceFilter(Renderer r, ReadOnlySpan<Value> args)
    {
        var a = new Arguments(r, args, acceptsKwargs: false);
        var value = a.Required(0);
        var count = a.Count32(1);
        var fill = a.Optional(2);
        a.NoMore(3);
        if (count == 0)
        {
            throw new TemplateError(ErrorKind.InvalidOperation, "count cannot be 0");
        }
        var items = r.Iterate(value);
        var perSlice = items.Count / count;
        var withExtra = items.Count % count;
        var offset = 0;
        var result = new List<Value>();
        for (var slice = 0; slice < count; slice++)
        {
            var start = offset + slice * perSlice;
            if (slice < withExtra)
            {
                offset++;
            }
            var end = offset + (slice + 1) * perSlice;
            var part = items.Skip(start).Take(end - start).ToList();
            if (fill is { } filler && slice >= withExtra)
            {
                part.Add(filler);
            }
            result.Add(Value.FromList(part));
        }
        return Value.FromList(result);
    }

    private static Value Sum(Renderer r, ReadOnlySpan<Value> args)
    {
        var a = new Arguments(r, args, acceptsKwargs: false);
        var items = r.Iterate(a.Required(0));
        a.NoMore(1);
        var total = Value.FromInt(0);
        foreach (var item in items)
        {
            if (item.IsUndefined)
            {
                continue;
            }
            if (!item.IsNumber)
            {
                throw new TemplateError(ErrorKind.InvalidOperation, $"can only sum numbers, got {Values.KindName(item.Kind)}");
            }
            total = Values.Add(total, item);
        }
        return total;
    }

    /// <summary>Follows a dotted path (<c>a.b.0</c>): numeric parts index, others look up attributes.</summary>
    public static bool TryGetPath(Value value, string path, out Value result)
    {
        result = value;
        foreach (var part in path.Split('.'))
        {
            if (result.IsUndefined)
            {
                return false;
            }
            if (ulong.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var index))
            {
                result = result.GetItem(Value.FromInt(index)) ?? Value.Undefined;
            }
            else
            {
                result = result.GetAttr(part) ?? Value.Undefined;
            }
        }
        return true;
    }

    private static Value GetPath(Value value, string path) =>
        TryGetPath(value, path, out var result) ? result : throw new TemplateError(ErrorKind.UndefinedError, null);

    private static Value GetPathOrDefault(Value value, string path, Value fallback) =>
        TryGetPath(value, path, out var result) && !result.IsUndefined ? result : fallback;

    private static Value SelectOrReject(Renderer r, ReadOnlySpan<Value> args, bool invert, bool byAttribute)
    {
        // These filters take their remaining arguments as they come (a kwargs map is passed on to the test).
        var a = new Arguments(r, args, acceptsKwargs: false);
        var value = a.Required(0);
        var next = 1;
        string? attribute = null;
        if (byAttribute)
        {
            attribute = a.String(1);
            next = 2;
        }
        var testName = a.OptionalString(next);
        var testArgs = a.Rest(next + 1).ToArray();
        if (testName is not null && !BuiltinTests.Exists(testName))
        {
            throw new TemplateError(ErrorKind.UnknownTest, null);
        }
        var result = new List<Value>();
        foreach (var item in r.Iterate(value))
        {
            var tested = attribute is null ? item : GetPath(item, attribute);
            bool passed;
            if (testName is not null)
            {
                var callArgs = new Value[testArgs.Length + 1];
                callArgs[0] = tested;
                testArgs.CopyTo(callArgs, 1);
                passed = BuiltinTests.Perform(r, testName, callArgs);
            }
            else
            {
                passed = tested.IsTrue;
            }
            if (passed != invert)
            {
                result.Add(item);
            }
        }
        return Value.FromList(result);
    }

    private static Value Map(Renderer r, ReadOnlySpan<Value> args)
    {
        var a = new Arguments(r, args);
        var value = a.Required(0);
        var result = new List<Value>();
        if (a.Kwarg("attribute") is { } attr && !attr.IsUndefined && !attr.IsNone)
        {
            if (a.Count > 1)
            {
                throw new TemplateError(ErrorKind.TooManyArguments, null);
            }
            var hasDefault = a.Kwarg("default") is not null;
            var fallback = a.Kwarg("default") ?? Value.Undefined;
            foreach (var item in r.Iterate(value))
            {
                Value picked;
                try
                {
                    picked = attr.AsString is { } path
                        ? GetPath(item, path)
                        : item.IsUndefined ? throw new TemplateError(ErrorKind.UndefinedError, null) : item.GetItem(attr) ?? Value.Undefined;
                }
                catch (TemplateError) when (hasDefault && !fallback.IsUndefined)
                {
                    picked = fallback;
                }
                result.Add(picked.IsUndefined ? fallback : picked);
            }
            a.OnlyKwargs("attribute", "default");
            return Value.FromList(result);
        }
        if (a.Count < 2)
        {
            throw new TemplateError(ErrorKind.InvalidOperation, "filter name is required");
        }
        var filterName = args[1].AsString ?? throw new TemplateError(ErrorKind.InvalidOperation, "filter name must be a string");
        if (!Exists(filterName))
        {
            throw new TemplateError(ErrorKind.UnknownFilter, null);
        }
        // Extra positional arguments go to the filter; keyword arguments are not passed on (as in MiniJinja).
        var extra = a.Rest(2).ToArray();
        foreach (var item in r.Iterate(value))
        {
            var callArgs = new Value[extra.Length + 1];
            callArgs[0] = item;
            extra.CopyTo(callArgs, 1);
            result.Add(Apply(r, filterName, callArgs));
        }
        return Value.FromList(result);
    }

    private static Value GroupBy(Renderer r, ReadOnlySpan<Value> args)
    {
        var a = new Arguments(r, args);
        var value = a.Required(0);
        var attribute = a.OptionalStrictString(1) ?? a.Kwarg("attribute") switch
        {
            { } v => v.AsString ?? throw new TemplateError(ErrorKind.InvalidOperation, "value is not a string"),
            null => throw new TemplateError(ErrorKind.MissingArgument, "missing keyword argument 'attribute'"),
        };
        a.NoMore(2);
        var fallback = a.OptionalKwarg("default") ?? Value.Undefined;
        var caseSensitive = a.KwargBool("case_sensitive") ?? false;
        var items = value.Iterate() ?? throw new TemplateError(ErrorKind.InvalidOperation, $"{Values.KindName(value.Kind)} is not iterable");
        var sorted = StableSort(items, (x, y) => CompareHelper(GetPathOrDefault(x, attribute, fallback), GetPathOrDefault(y, attribute, fallback), caseSensitive, false));
        a.OnlyKwargs("default", "case_sensitive", "attribute");
        var groups = new List<Value>();
        Value? grouper = null;
        var list = new List<Value>();
        foreach (var item in sorted)
        {
            var key = GetPathOrDefault(item, attribute, fallback);
            if (grouper is { } last && CompareHelper(last, key, caseSensitive, false) != 0)
            {
                groups.Add(Value.FromObject(new GroupValue(last, list)));
                list = new List<Value>();
            }
            grouper = key;
            list.Add(item);
        }
        if (list.Count > 0)
        {
            groups.Add(Value.FromObject(new GroupValue(grouper!.Value, list)));
        }
        return Value.FromList(groups);
    }

    private static Value Unique(Renderer r, ReadOnlySpan<Value> args)
    {
        var a = new Arguments(r, args);
        var value = a.Required(0);
        a.NoMore(1);
        var attribute = a.KwargStrictString("attribute");
        var caseSensitive = a.KwargBool("case_sensitive") ?? false;
        a.OnlyKwargs("attribute", "case_sensitive");
        var result = new List<Value>();
        var seen = new SortedSet<Value>(Comparer<Value>.Create(Values.Compare));
        foreach (var item in r.Iterate(value))
        {
            var compared = attribute is null ? item : GetPathOrDefault(item, attribute, Value.Undefined);
            if (!caseSensitive && compared.AsString is { } s)
            {
                compared = Value.FromString(ToLowerRust(s));
            }
            if (seen.Add(compared))
            {
                result.Add(item);
            }
        }
        return Value.FromList(result);
    }

    private static Value Chain(Renderer r, ReadOnlySpan<Value> args)
    {
        var a = new Arguments(r, args, acceptsKwargs: false);
        a.Required(0);
        var all = args.ToArray();
        if (all.All(v => v.Kind == ValueKind.Map))
        {
            // Later maps win for keys they share.
            var entries = new List<KeyValuePair<Value, Value>>();
            foreach (var map in all)
            {
                foreach (var pair in map.AsObject!.Pairs)
                {
                    if (!pair.Value.IsUndefined)
                    {
                        entries.Add(pair);
                    }
                }
            }
            return Value.FromObject(MapValue.Create(entries));
        }
        var items = new List<Value>();
        var allSequences = all.All(v => v.Kind == ValueKind.Seq);
        foreach (var v in all)
        {
            items.AddRange(v.Iterate() ?? throw new TemplateError(ErrorKind.InvalidOperation, $"{Values.KindName(v.Kind)} is not iterable"));
        }
        return allSequences ? Value.FromList(items) : Value.FromObject(new IterableValue(items, knownLength: false));
    }

    private static Value Zip(Renderer r, ReadOnlySpan<Value> args)
    {
        var a = new Arguments(r, args, acceptsKwargs: false);
        a.Required(0);
        var lists = new List<IReadOnlyList<Value>>();
        var knownLength = true;
        foreach (var v in args)
        {
            lists.Add(v.Iterate() ?? throw new TemplateError(ErrorKind.InvalidOperation,
                $"zip filter argument must be iterable, got {Values.KindName(v.Kind)}"));
            knownLength &= v.Length is not null;
        }
        var count = lists.Min(l => l.Count);
        var tuples = new List<Value>(count);
        for (var i = 0; i < count; i++)
        {
            tuples.Add(Value.FromList(lists.Select(l => l[i]).ToList()));
        }
        return Value.FromObject(new IterableValue(tuples, knownLength));
    }
}
