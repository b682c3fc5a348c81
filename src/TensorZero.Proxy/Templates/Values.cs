using System.Globalization;
using System.Text;

namespace TensorZero.Proxy.Templates;

/// <summary>
/// Operations on values with MiniJinja's semantics: ordering and equality, arithmetic (128-bit integers, floats, string
/// and list concatenation), containment, slicing, and the printed forms of strings and containers.
/// </summary>
internal static class Values
{
    /// <summary>The name of a kind in error messages (<c>"tried to use + operator on unsupported types string and number"</c>).</summary>
    public static string KindName(ValueKind kind) => kind switch
    {
        ValueKind.Undefined => "undefined",
        ValueKind.None => "none",
        ValueKind.Bool => "bool",
        ValueKind.Number => "number",
        ValueKind.String => "string",
        ValueKind.Bytes => "bytes",
        ValueKind.Seq => "sequence",
        ValueKind.Map => "map",
        ValueKind.Iterable => "iterator",
        ValueKind.Plain => "plain object",
        _ => "invalid value",
    };

    // ----- strings as sequences of Unicode scalar values ---------------------------------------------------------

    /// <summary>The number of Unicode scalar values (what MiniJinja calls characters).</summary>
    public static int CharCount(string s)
    {
        var count = s.Length;
        foreach (var c in s)
        {
            if (char.IsLowSurrogate(c))
            {
                count--;
            }
        }
        return count;
    }

    /// <summary>The characters of a string, each as a one-character string value.</summary>
    public static IReadOnlyList<Value> Chars(string s)
    {
        var list = new List<Value>(s.Length);
        for (var i = 0; i < s.Length; i++)
        {
            var width = char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]) ? 2 : 1;
            list.Add(Value.FromString(s.Substring(i, width)));
            i += width - 1;
        }
        return list;
    }

    /// <summary>Orders strings by code point (Rust's byte order of UTF-8), not by UTF-16 unit.</summary>
    public static int CompareStrings(string a, string b)
    {
        var n = Math.Min(a.Length, b.Length);
        for (var i = 0; i < n; i++)
        {
            var x = a[i];
            var y = b[i];
            if (x == y)
            {
                continue;
            }
            if (x >= 0xD800 && y >= 0xD800)
            {
                // Surrogates (supplementary code points) sort after the BMP characters U+E000..U+FFFF.
                x = (char)(x >= 0xE000 ? x - 0x800 : x + 0x2000);
                y = (char)(y >= 0xE000 ? y - 0x800 : y + 0x2000);
            }
            return x < y ? -1 : 1;
        }
        return a.Length.CompareTo(b.Length);
    }

    // ----- ordering and equality -------------------------------------------------------------------------------

    private enum Coerced : byte
    {
        Failed,
        Int,
        Float,
        Str,
    }

    private static Coerced Coerce(Value a, Value b, bool lossy, out Int128 ia, out Int128 ib, out double fa, out double fb)
    {
        ia = ib = default;
        fa = fb = 0;
        if (a.IsInteger && b.IsInteger)
        {
            ia = a.IntValue;
            ib = b.IntValue;
            return Coerced.Int;
        }
        if (a.IsString && b.IsString)
        {
            return Coerced.Str;
        }
        if (a.IsFloat || b.IsFloat)
        {
            if (a.AsDouble(lossy) is { } x && b.AsDouble(lossy) is { } y)
            {
                fa = x;
                fb = y;
                return Coerced.Float;
            }
            return Coerced.Failed;
        }
        if (a.AsInt128() is { } i && b.AsInt128() is { } j)
        {
            ia = i;
            ib = j;
            return Coerced.Int;
        }
        return Coerced.Failed;
    }

    /// <summary>
    /// <see cref="Array.Sort{T}(T[], Comparison{T})"/> that lets a template error from the comparison through:
    /// the runtime wraps an exception thrown by a comparer in an <see cref="InvalidOperationException"/>.
    /// </summary>
    public static void Sort<T>(T[] items, Comparison<T> compare)
    {
        try
        {
            Array.Sort(items, compare);
        }
        catch (InvalidOperationException e) when (e.InnerException is TemplateError error)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(error);
        }
    }

    /// <summary>MiniJinja's total order: by kind first, then by value (maps and lists lexicographically).</summary>
    public static int Compare(Value a, Value b)
    {
        StackGuard.Ensure();
        var ka = a.Kind;
        var kb = b.Kind;
        if (ka != kb)
        {
            return ka.CompareTo(kb);
        }
        switch (ka)
        {
            case ValueKind.Undefined or ValueKind.None:
                return 0;
            case ValueKind.String:
                return CompareStrings(a.AsString!, b.AsString!);
        }
        switch (Coerce(a, b, lossy: false, out var ia, out var ib, out var fa, out var fb))
        {
            case Coerced.Int:
                return ia.CompareTo(ib);
            case Coerced.Float:
                return TotalCompare(fa, fb);
        }
        if (ka == ValueKind.Number)
        {
            return TotalCompare(a.AsDouble()!.Value, b.AsDouble()!.Value);
        }
        var oa = a.AsObject;
        var ob = b.AsObject;
        if (oa is null || ob is null)
        {
            return 0;
        }
        if (ReferenceEquals(oa, ob))
        {
            return 0;
        }
        switch (oa.Repr, ob.Repr)
        {
            case (ObjectRepr.Map, ObjectRepr.Map):
            {
                using var x = oa.Pairs.GetEnumerator();
                using var y = ob.Pairs.GetEnumerator();
                while (true)
                {
                    var hasX = x.MoveNext();
                    var hasY = y.MoveNext();
                    if (!hasX || !hasY)
                    {
                        return hasX.CompareTo(hasY);
                    }
                    var c = Compare(x.Current.Key, y.Current.Key);
                    if (c == 0)
                    {
                        c = Compare(x.Current.Value, y.Current.Value);
                    }
                    if (c != 0)
                    {
                        return c;
                    }
                }
            }
            case (ObjectRepr.Seq or ObjectRepr.Iterable, ObjectRepr.Seq or ObjectRepr.Iterable):
            {
                var x = oa.Items!;
                var y = ob.Items!;
                var n = Math.Min(x.Count, y.Count);
                for (var i = 0; i < n; i++)
                {
                    var c = Compare(x[i], y[i]);
                    if (c != 0)
                    {
                        return c;
                    }
                }
                return x.Count.CompareTo(y.Count);
            }
            default:
                return CompareStrings(a.ToString(), b.ToString());
        }
    }

    private static int TotalCompare(double a, double b)
    {
        // f64::total_cmp: -NaN < -inf < ... < -0.0 < +0.0 < ... < inf < NaN.
        var x = BitConverter.DoubleToInt64Bits(a);
        var y = BitConverter.DoubleToInt64Bits(b);
        x ^= (long)((ulong)(x >> 63) >> 1);
        y ^= (long)((ulong)(y >> 63) >> 1);
        return x.CompareTo(y);
    }

    /// <summary>MiniJinja's <c>==</c>: numbers across int/float/bool, strings, maps and lists structurally.</summary>
    public static bool Equal(Value a, Value b)
    {
        StackGuard.Ensure();
        if (a.IsNone && b.IsNone || a.IsUndefined && b.IsUndefined)
        {
            return true;
        }
        if (a.IsString && b.IsString)
        {
            return string.Equals(a.AsString, b.AsString, StringComparison.Ordinal);
        }
        switch (Coerce(a, b, lossy: false, out var ia, out var ib, out var fa, out var fb))
        {
            case Coerced.Int:
                return ia == ib;
            case Coerced.Float:
                return fa == fb;
        }
        var oa = a.AsObject;
        var ob = b.AsObject;
        if (oa is null || ob is null)
        {
            return false;
        }
        if (ReferenceEquals(oa, ob))
        {
            return true;
        }
        switch (oa.Repr, ob.Repr)
        {
            case (ObjectRepr.Map, ObjectRepr.Map):
            {
                if (oa.Length is { } la && ob.Length is { } lb && la != lb)
                {
                    return false;
                }
                var count = 0;
                foreach (var (key, value) in oa.Pairs)
                {
                    count++;
                    if (!ob.TryGetValue(key, out var other) || !Equal(value, other))
                    {
                        return false;
                    }
                }
                return count == (ob.Items?.Count ?? 0);
            }
            case (ObjectRepr.Seq or ObjectRepr.Iterable, ObjectRepr.Seq or ObjectRepr.Iterable):
            {
                var x = oa.Items!;
                var y = ob.Items!;
                if (x.Count != y.Count)
                {
                    return false;
                }
                for (var i = 0; i < x.Count; i++)
                {
                    if (!Equal(x[i], y[i]))
                    {
                        return false;
                    }
                }
                return true;
            }
            case (ObjectRepr.Plain, ObjectRepr.Plain):
                return a.ToString() == b.ToString();
            default:
                return false;
        }
    }

    // ----- arithmetic ----------------------------------------------------------------------------------------------

    private static TemplateError ImpossibleOp(string op, Value a, Value b) => new(ErrorKind.InvalidOperation,
        $"tried to use {op} operator on unsupported types {KindName(a.Kind)} and {KindName(b.Kind)}");

    private static TemplateError FailedOp(string op, Value a, Value b) => new(ErrorKind.InvalidOperation,
        $"unable to calculate {a} {op} {b}");

    private static bool IsListLike(Value v) => v.Kind is ValueKind.Seq or ValueKind.Iterable;

    public static Value Add(Value a, Value b)
    {
        if (IsListLike(a) && IsListLike(b))
        {
            var x = a.AsObject!;
            var y = b.AsObject!;
            var items = new List<Value>(x.Items!.Count + y.Items!.Count);
            items.AddRange(x.Items);
            items.AddRange(y.Items);
            return Value.FromObject(new IterableValue(items, x.Length is not null && y.Length is not null));
        }
        switch (Coerce(a, b, lossy: true, out var ia, out var ib, out var fa, out var fb))
        {
            case Coerced.Int:
                return CheckedInt(ia, ib, static (x, y) => checked(x + y)) is { } sum ? Value.FromInt(sum) : throw FailedOp("+", a, b);
            case Coerced.Float:
                return Value.FromDouble(fa + fb);
            case Coerced.Str:
                return Value.FromString(a.AsString + b.AsString);
            default:
                throw ImpossibleOp("+", a, b);
        }
    }

    public static Value Sub(Value a, Value b) => Coerce(a, b, lossy: true, out var ia, out var ib, out var fa, out var fb) switch
    {
        Coerced.Int => CheckedInt(ia, ib, static (x, y) => checked(x - y)) is { } r ? Value.FromInt(r) : throw FailedOp("-", a, b),
        Coerced.Float => Value.FromDouble(fa - fb),
        _ => throw ImpossibleOp("-", a, b),
    };

    public static Value Rem(Value a, Value b) => Coerce(a, b, lossy: true, out var ia, out var ib, out var fa, out var fb) switch
    {
        Coerced.Int => RemEuclid(ia, ib) is { } r ? Value.FromInt(r) : throw FailedOp("%", a, b),
        Coerced.Float => Value.FromDouble(fa % fb),
        _ => throw ImpossibleOp("%", a, b),
    };

    public static Value Mul(Value a, Value b)
    {
        if (a.IsString || b.IsString)
        {
            var (s, n) = a.AsString is { } sa ? (sa, b) : (b.AsString!, a);
            var count = n.AsInt128() is { } c && c >= 0 && c <= int.MaxValue && n.Kind is ValueKind.Number or ValueKind.Bool
                ? (int)c
                : throw new TemplateError(ErrorKind.InvalidOperation, "strings can only be multiplied with integers");
            return Value.FromString(Repeat(s, count));
        }
        var seq = IsListLike(a) ? a : IsListLike(b) ? b : default;
        if (seq.IsObject)
        {
            var n = ReferenceEquals(seq.AsObject, a.AsObject) ? b : a;
            var count = n.AsInt128() is { } c && c >= 0 && c <= int.MaxValue && n.Kind is ValueKind.Number or ValueKind.Bool
                ? (int)c
                : throw new TemplateError(ErrorKind.InvalidOperation, "sequences and iterables can only be multiplied with integers");
            var obj = seq.AsObject!;
            if (obj.Length is null)
            {
                throw new TemplateError(ErrorKind.InvalidOperation, "cannot repeat unsized iterables");
            }
            var items = new List<Value>();
            for (var i = 0; i < count; i++)
            {
                items.AddRange(obj.Items!);
            }
            return Value.FromObject(new IterableValue(items));
        }
        return Coerce(a, b, lossy: true, out var ia, out var ib, out var fa, out var fb) switch
        {
            Coerced.Int => CheckedInt(ia, ib, static (x, y) => checked(x * y)) is { } r ? Value.FromInt(r) : throw FailedOp("*", a, b),
            Coerced.Float => Value.FromDouble(fa * fb),
            _ => throw ImpossibleOp("*", a, b),
        };
    }

    private static string Repeat(string s, int count)
    {
        if ((long)s.Length * count > 100_000_000)
        {
            throw new TemplateError(ErrorKind.InvalidOperation, "string repetition is too large");
        }
        var sb = new StringBuilder(s.Length * count);
        for (var i = 0; i < count; i++)
        {
            sb.Append(s);
        }
        return sb.ToString();
    }

    public static Value Div(Value a, Value b) =>
        a.AsDouble() is { } x && b.AsDouble() is { } y ? Value.FromDouble(x / y) : throw ImpossibleOp("/", a, b);

    public static Value FloorDiv(Value a, Value b)
    {
        switch (Coerce(a, b, lossy: true, out var ia, out var ib, out var fa, out var fb))
        {
            case Coerced.Int:
                if (ib == 0 || (ia == Int128.MinValue && ib == -1))
                {
                    throw FailedOp("//", a, b);
                }
                var q = ia / ib;
                if (ia % ib < 0)
                {
                    q = ib > 0 ? q - 1 : q + 1;
                }
                return Value.FromInt(q);
            case Coerced.Float:
            {
                var q2 = Math.Truncate(fa / fb);
                if (fa % fb < 0)
                {
                    q2 = fb > 0 ? q2 - 1 : q2 + 1;
                }
                return Value.FromDouble(q2);
            }
            default:
                throw ImpossibleOp("//", a, b);
        }
    }

    public static Value Pow(Value a, Value b)
    {
        switch (Coerce(a, b, lossy: true, out var ia, out var ib, out var fa, out var fb))
        {
            case Coerced.Int:
                if (ib >= 0 && ib <= uint.MaxValue)
                {
                    Int128 result = 1;
                    var exponent = (uint)ib;
                    var bas = ia;
                    try
                    {
                        // Square-and-multiply with overflow checks, as i128::checked_pow.
                        while (exponent > 0)
                        {
                            if ((exponent & 1) != 0)
                            {
                                result = checked(result * bas);
                            }
                            exponent >>= 1;
                            if (exponent > 0)
                            {
                                bas = checked(bas * bas);
                            }
                        }
                        return Value.FromInt(result);
                    }
                    catch (OverflowException)
                    {
                    }
                }
                throw FailedOp("**", a, b);
            case Coerced.Float:
                return Value.FromDouble(Math.Pow(fa, fb));
            default:
                throw ImpossibleOp("**", a, b);
        }
    }

    public static Value Neg(Value v)
    {
        if (v.IsFloat)
        {
            return Value.FromDouble(-v.FloatValue);
        }
        if (v.IsInteger)
        {
            return v.IntValue == Int128.MinValue
                ? throw new TemplateError(ErrorKind.InvalidOperation, "overflow")
                : Value.FromInt(-v.IntValue);
        }
        throw new TemplateError(ErrorKind.InvalidOperation, null);
    }

    private static Int128? CheckedInt(Int128 a, Int128 b, Func<Int128, Int128, Int128> op)
    {
        try
        {
            return op(a, b);
        }
        catch (OverflowException)
        {
            return null;
        }
    }

    private static Int128? RemEuclid(Int128 a, Int128 b)
    {
        if (b == 0 || (a == Int128.MinValue && b == -1))
        {
            return null;
        }
        var r = a % b;
        return r < 0 ? r + Int128.Abs(b) : r;
    }

    /// <summary><c>a ~ b</c>: both printed and joined.</summary>
    public static Value Concat(Value a, Value b) => Value.FromString(a.ToString() + b.ToString());

    /// <summary><c>value in container</c>.</summary>
    public static bool Contains(Value container, Value value)
    {
        if (container.IsUndefined)
        {
            return false;
        }
        if (container.AsString is { } s)
        {
            return s.Contains(value.AsString ?? value.ToString(), StringComparison.Ordinal);
        }
        if (container.AsObject is { } obj)
        {
            switch (obj.Repr)
            {
                case ObjectRepr.Map:
                    return obj.TryGetValue(value, out _);
                case ObjectRepr.Seq or ObjectRepr.Iterable:
                    foreach (var item in obj.Items!)
                    {
                        if (Equal(item, value))
                        {
                            return true;
                        }
                    }
                    return false;
                default:
                    return false;
            }
        }
        throw new TemplateError(ErrorKind.InvalidOperation, "cannot perform a containment check on this value");
    }

    // ----- slicing ------------------------------------------------------------------------------------------------

    /// <summary><c>value[start:stop:step]</c> with Python's rules (negative indexes from the end).</summary>
    public static Value Slice(Value value, Value start, Value stop, Value step)
    {
        long? startIndex = start.IsNone ? null : ToInt64(start);
        long? stopIndex = stop.IsNone ? null : ToInt64(stop);
        var stepSize = step.IsNone ? 1 : ToInt64(step);
        if (stepSize == 0)
        {
            throw new TemplateError(ErrorKind.InvalidOperation, "cannot slice by step size of 0");
        }

        if (value.AsString is { } s)
        {
            var chars = Chars(s);
            var picked = Pick(chars, startIndex, stopIndex, stepSize);
            var sb = new StringBuilder();
            foreach (var c in picked)
            {
                sb.Append(c.AsString);
            }
            return Value.FromString(sb.ToString());
        }
        if (value.IsUndefined || value.IsNone)
        {
            return Value.FromList([]);
        }
        if (value.AsObject is { Repr: ObjectRepr.Seq or ObjectRepr.Iterable } obj)
        {
            return Value.FromObject(new IterableValue(Pick(obj.Items!, startIndex, stopIndex, stepSize), stepSize < 0 || obj.Length is not null));
        }
        throw new TemplateError(ErrorKind.InvalidOperation, $"value of type {KindName(value.Kind)} cannot be sliced");
    }

    private static long ToInt64(Value v) => v.AsInt64() ?? throw new TemplateError(ErrorKind.InvalidOperation,
        $"cannot convert {KindName(v.Kind)} to i64");

    private static List<Value> Pick(IReadOnlyList<Value> items, long? start, long? stop, long step)
    {
        var result = new List<Value>();
        long end = items.Count;
        if (step > 0)
        {
            var from = start ?? 0;
            long to;
            if (from < 0 || stop is null or < 0)
            {
                from = from < 0 ? Math.Max(0, end + from) : from;
                to = stop switch
                {
                    null => end,
                    < 0 => Math.Max(0, end + stop.Value),
                    _ => stop.Value,
                };
            }
            else
            {
                to = stop.Value;
            }
            to = Math.Min(to, end);
            for (var i = from; i < to; i += step)
            {
                result.Add(items[(int)i]);
            }
            return result;
        }

        if (end == 0)
        {
            return result;
        }
        var by = -step;
        var first = start switch
        {
            null => end - 1,
            var s when s >= end => end - 1,
            >= 0 => start.Value,
            _ => Math.Max(end + start.Value, 0),
        };
        var last = stop switch
        {
            null => 0,
            < 0 => Math.Max(end + stop.Value, 0),
            _ => stop.Value,
        };
        // The stop is excluded, except that a stop of 0 (given or not) includes index 0, as MiniJinja walks it.
        var inclusiveLast = last == 0 ? 0 : last + 1;
        for (var i = first; i >= inclusiveLast && i >= 0; i -= by)
        {
            result.Add(items[(int)i]);
        }
        return result;
    }

    // ----- printed forms ------------------------------------------------------------------------------------------

    /// <summary>Appends a string as Rust's <c>Debug</c> prints it: quoted, with <c>\n</c>, <c>\"</c>, <c>\u{..}</c> escapes.</summary>
    public static void AppendRustDebugString(StringBuilder sb, string s)
    {
        sb.Append('"');
        for (var i = 0; i < s.Length; i++)
        {
            var c = s[i];
            switch (c)
            {
                case '\0': sb.Append("\\0"); continue;
                case '\t': sb.Append("\\t"); continue;
                case '\r': sb.Append("\\r"); continue;
                case '\n': sb.Append("\\n"); continue;
                case '\\': sb.Append("\\\\"); continue;
                case '"': sb.Append("\\\""); continue;
            }
            if (c >= 0x20 && c < 0x7F)
            {
                sb.Append(c);
                continue;
            }
            int codePoint = c;
            var width = 1;
            if (char.IsHighSurrogate(c) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
            {
                codePoint = char.ConvertToUtf32(c, s[i + 1]);
                width = 2;
            }
            if (IsRustPrintable(codePoint))
            {
                sb.Append(s, i, width);
            }
            else
            {
                sb.Append("\\u{").Append(codePoint.ToString("x", CultureInfo.InvariantCulture)).Append('}');
            }
            i += width - 1;
        }
        sb.Append('"');
    }

    private static bool IsRustPrintable(int codePoint)
    {
        if (codePoint is 0x200C or 0xFF9E or 0xFF9F)
        {
            // Grapheme extenders that are not marks: escaped like the marks below.
            return false;
        }
        var category = CharUnicodeInfo.GetUnicodeCategory(codePoint);
        return category switch
        {
            UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.Surrogate or UnicodeCategory.PrivateUse
                or UnicodeCategory.OtherNotAssigned or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator
                or UnicodeCategory.SpaceSeparator => false,
            // Rust escapes grapheme extenders (combining marks) in debug strings.
            UnicodeCategory.NonSpacingMark or UnicodeCategory.EnclosingMark => false,
            _ => true,
        };
    }

    /// <summary>Appends a map as Rust's debug map: <c>{"a": 1, "b": [2]}</c>, or the multi-line form when pretty.</summary>
    public static void AppendDebugMap(StringBuilder sb, IEnumerable<KeyValuePair<Value, Value>> pairs, int prettyIndent)
    {
        StackGuard.Ensure();
        sb.Append('{');
        var first = true;
        foreach (var (key, value) in pairs)
        {
            if (prettyIndent >= 0)
            {
                sb.Append('\n').Append(' ', (prettyIndent + 1) * 4);
                key.WriteDebug(sb, prettyIndent + 1);
                sb.Append(": ");
                value.WriteDebug(sb, prettyIndent + 1);
                sb.Append(',');
            }
            else
            {
                if (!first)
                {
                    sb.Append(", ");
                }
                key.WriteDebug(sb);
                sb.Append(": ");
                value.WriteDebug(sb);
            }
            first = false;
        }
        if (prettyIndent >= 0 && !first)
        {
            sb.Append('\n').Append(' ', prettyIndent * 4);
        }
        sb.Append('}');
    }

    /// <summary>Appends a list as Rust's debug list: <c>[1, "a"]</c>, or the multi-line form when pretty.</summary>
    public static void AppendDebugList(StringBuilder sb, IReadOnlyList<Value> items, int prettyIndent)
    {
        StackGuard.Ensure();
        sb.Append('[');
        for (var i = 0; i < items.Count; i++)
        {
            if (prettyIndent >= 0)
            {
                sb.Append('\n').Append(' ', (prettyIndent + 1) * 4);
                items[i].WriteDebug(sb, prettyIndent + 1);
                sb.Append(',');
            }
            else
            {
                if (i > 0)
                {
                    sb.Append(", ");
                }
                items[i].WriteDebug(sb);
            }
        }
        if (prettyIndent >= 0 && items.Count > 0)
        {
            sb.Append('\n').Append(' ', prettyIndent * 4);
        }
        sb.Append(']');
    }

    // ----- JSON (the tojson filter and JSON auto-escaping) ----------------------------------------------------------

    /// <summary>Serializes a value as serde_json does (compact, or pretty with <paramref name="indent"/> spaces).</summary>
    public static string ToJson(Value value, int? indent)
    {
        var sb = new StringBuilder();
        WriteJson(sb, value, indent, 0);
        return sb.ToString();
    }

    private static void WriteJson(StringBuilder sb, Value value, int? indent, int level)
    {
        StackGuard.Ensure();
        switch (value.Kind)
        {
            case ValueKind.Undefined or ValueKind.None:
                sb.Append("null");
                return;
            case ValueKind.Bool:
                sb.Append(value.BoolValue ? "true" : "false");
                return;
            case ValueKind.Number:
                if (value.IsInteger)
                {
                    sb.Append(value.IntValue.ToString(CultureInfo.InvariantCulture));
                }
                else if (double.IsFinite(value.FloatValue))
                {
                    NumberFormat.AppendJson(sb, value.FloatValue);
                }
                else
                {
                    sb.Append("null");
                }
                return;
            case ValueKind.String:
                AppendJsonString(sb, value.AsString!);
                return;
        }
        var obj = value.AsObject!;
        switch (obj.Repr)
        {
            case ObjectRepr.Seq or ObjectRepr.Iterable:
            {
                var items = obj.Items!;
                sb.Append('[');
                for (var i = 0; i < items.Count; i++)
                {
                    if (i > 0)
                    {
                        sb.Append(',');
                    }
                    NewLine(sb, indent, level + 1);
                    WriteJson(sb, items[i], indent, level + 1);
                }
                if (items.Count > 0)
                {
                    NewLine(sb, indent, level);
                }
                sb.Append(']');
                return;
            }
            case ObjectRepr.Map:
            {
                sb.Append('{');
                var any = false;
                foreach (var (key, item) in obj.Pairs)
                {
                    if (any)
                    {
                        sb.Append(',');
                    }
                    any = true;
                    NewLine(sb, indent, level + 1);
                    AppendJsonString(sb, JsonKey(key));
                    sb.Append(indent is null ? ":" : ": ");
                    WriteJson(sb, item, indent, level + 1);
                }
                if (any)
                {
                    NewLine(sb, indent, level);
                }
                sb.Append('}');
                return;
            }
            default:
                AppendJsonString(sb, value.ToString());
                return;
        }
    }

    private static string JsonKey(Value key)
    {
        switch (key.Kind)
        {
            case ValueKind.String:
                return key.AsString!;
            case ValueKind.Number when key.IsInteger:
                return key.IntValue.ToString(CultureInfo.InvariantCulture);
            case ValueKind.Number when double.IsFinite(key.FloatValue):
                var sb = new StringBuilder();
                NumberFormat.AppendJson(sb, key.FloatValue);
                return sb.ToString();
            case ValueKind.Bool:
                return key.BoolValue ? "true" : "false";
            default:
                throw new TemplateError(ErrorKind.InvalidOperation, "cannot serialize to JSON: key must be a string");
        }
    }

    private static void NewLine(StringBuilder sb, int? indent, int level)
    {
        if (indent is { } n)
        {
            sb.Append('\n').Append(' ', n * level);
        }
    }

    /// <summary>Appends a JSON string literal with serde_json's escapes (control characters only; UTF-8 as is).</summary>
    public static void AppendJsonString(StringBuilder sb, string s)
    {
        sb.Append('"');
        foreach (var c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                case < ' ': sb.Append("\\u00").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture)); break;
                default: sb.Append(c); break;
            }
        }
        sb.Append('"');
    }
}
