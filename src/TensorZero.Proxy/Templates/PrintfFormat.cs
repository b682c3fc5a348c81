using System.Globalization;
using System.Text;

namespace TensorZero.Proxy.Templates;

/// <summary>
/// The <c>format</c> filter: Python's printf-style <c>%</c> formatting as MiniJinja implements it
/// (<c>%s %d %i %o %x %X %e %E %f %F %g %G %c</c>, flags <c># 0 - space +</c>, width, precision, <c>%(key)s</c>).
/// </summary>
internal static class PrintfFormat
{
    private sealed record Spec(bool Left, bool Sign, bool Space, bool Alternate, bool Zero, int? Width, int? Precision, char Type, int Location);

    public static string Format(string format, ReadOnlySpan<Value> args)
    {
        var sb = new StringBuilder();
        var argIndex = 0;
        var i = 0;
        while (i < format.Length)
        {
            var c = format[i];
            if (c != '%')
            {
                sb.Append(c);
                i++;
                continue;
            }
            if (i + 1 < format.Length && format[i + 1] == '%')
            {
                sb.Append('%');
                i += 2;
                continue;
            }
            var location = i;
            i++;
            string? key = null;
            if (i < format.Length && format[i] == '(')
            {
                var close = format.IndexOf(')', i + 1);
                if (close < 0)
                {
                    throw Invalid($"incomplete format key at offset {i + 1}; missing closing ')'");
                }
                key = format[(i + 1)..close];
                i = close + 1;
            }
            var specLocation = i;
            bool left = false, sign = false, space = false, alternate = false, zero = false;
            for (; i < format.Length; i++)
            {
                switch (format[i])
                {
                    case '#': alternate = true; continue;
                    case '0': zero = true; continue;
                    case '-': left = true; continue;
                    case ' ': space = true; continue;
                    case '+': sign = true; continue;
                }
                break;
            }
            if (sign)
            {
                space = false;
            }
            if (left)
            {
                zero = false;
            }
            var width = Number(format, ref i);
            if (zero && width is null)
            {
                zero = false;
                width = 0;
            }
            int? precision = null;
            if (i < format.Length && format[i] == '.')
            {
                i++;
                precision = Number(format, ref i);
            }
            if (i < format.Length && format[i] is 'h' or 'l' or 'L')
            {
                i++;
            }
            if (i >= format.Length)
            {
                throw Invalid($"incomplete format spec at offset {i}; missing conversion type");
            }
            var type = format[i];
            if ("dioxXeEfFgGcs".IndexOf(type) < 0)
            {
                throw Invalid($"invalid conversion type '{type}' in format spec at offset {i}");
            }
            if (type == 'i')
            {
                type = 'd';
            }
            i++;

            Value arg;
            if (key is not null)
            {
                if (args.Length == 0)
                {
                    throw Invalid($"missing an argument for format spec at offset '{specLocation}'");
                }
                if (args[0].Kind != ValueKind.Map)
                {
                    throw Invalid("format argument must be a mapping");
                }
                arg = args[0].GetAttr(key) is { IsUndefined: false } found
                    ? found
                    : throw Invalid($"missing an argument for format spec at offset '{specLocation}'");
            }
            else if (argIndex < args.Length)
            {
                arg = args[argIndex++];
            }
            else
            {
                throw Invalid($"missing an argument for format spec at offset '{specLocation}'");
            }
            sb.Append(FormatValue(new Spec(left, sign, space, alternate, zero, width, precision, type, specLocation), arg));
        }
        return sb.ToString();
    }

    private static TemplateError Invalid(string message) => new(ErrorKind.InvalidOperation, message);

    private static int? Number(string s, ref int i)
    {
        var start = i;
        while (i < s.Length && char.IsAsciiDigit(s[i]))
        {
            i++;
        }
        return i == start ? null : int.Parse(s.AsSpan(start, i - start), CultureInfo.InvariantCulture);
    }

    private static string Describe(char type) => type switch
    {
        'o' => "octal format ('o')",
        'x' => "hex format ('x')",
        'X' => "hex format ('X')",
        'd' => "decimal format ('d')",
        'e' => "scientific notation ('e')",
        'E' => "scientific notation ('E')",
        'f' => "fixed-point notation ('f')",
        'F' => "fixed-point notation ('F')",
        'g' => "general format ('g')",
        'G' => "general format ('G')",
        'c' => "character format ('c')",
        _ => "string format ('s')",
    };

    private static string FormatValue(Spec spec, Value value)
    {
        if (value.IsBool)
        {
            return spec.Type == 's' ? Pad(spec, value.BoolValue ? "true" : "false", alignLeft: false) : FormatInteger(spec, value.BoolValue ? 1 : 0);
        }
        if (value.IsInteger)
        {
            return FormatInteger(spec, value.IntValue);
        }
        if (value.IsFloat)
        {
            return FormatFloat(spec, value.FloatValue);
        }
        return FormatString(spec, value.ToString());
    }

    private static string FormatString(Spec spec, string text)
    {
        switch (spec.Type)
        {
            case 's':
                if (spec.Precision is { } p && p < text.Length)
                {
                    text = text[..p];
                }
                return Pad(spec, text, alignLeft: false);
            case 'c':
            {
                var chars = Values.Chars(text);
                return chars.Count == 1
                    ? Pad(spec, text, alignLeft: false)
                    : throw Invalid($"{Describe('c')} requires integer or char");
            }
            default:
                throw Invalid($"invalid format spec at offset {spec.Location}; 'string' cannot be formatted in {Describe(spec.Type)}");
        }
    }

    private static string FormatInteger(Spec spec, Int128 value)
    {
        var negative = value < 0;
        var magnitude = negative ? (UInt128)(-(value + 1)) + 1 : (UInt128)value;
        var sign = negative ? "-" : spec.Sign ? "+" : spec.Space ? " " : "";
        string number;
        switch (spec.Type)
        {
            case 'o':
                number = ToRadix(magnitude, 8);
                break;
            case 'x':
                number = ToRadix(magnitude, 16);
                break;
            case 'X':
                number = ToRadix(magnitude, 16).ToUpperInvariant();
                break;
            case 'd':
                number = magnitude.ToString(CultureInfo.InvariantCulture);
                break;
            case 'c':
                if (negative || magnitude > 0x10FFFF || (magnitude >= 0xD800 && magnitude <= 0xDFFF))
                {
                    throw Invalid($"{Describe('c')} arg not in range(0x110000)");
                }
                return Pad(spec, char.ConvertFromUtf32((int)magnitude), alignLeft: false);
            case 's':
                sign = negative ? "-" : "";
                number = magnitude.ToString(CultureInfo.InvariantCulture);
                break;
            case 'e' or 'E':
            {
                var (mantissa, exponent) = MantissaAndExponent((double)magnitude, spec.Precision ?? 6);
                number = FixDecimalPoint(spec, mantissa) + spec.Type + ExponentText(exponent);
                break;
            }
            case 'f' or 'F':
            {
                var precision = spec.Precision ?? 6;
                number = FixDecimalPoint(spec, precision != 0 ? magnitude.ToString(CultureInfo.InvariantCulture) + "." + new string('0', precision) : magnitude.ToString(CultureInfo.InvariantCulture));
                break;
            }
            default:
                number = General(spec, (double)magnitude, isInteger: true, upper: spec.Type == 'G');
                break;
        }
        return Number(spec, number, sign);
    }

    private static string FormatFloat(Spec spec, double value)
    {
        var sign = double.IsNegative(value) ? "-" : spec.Sign && spec.Type != 's' ? "+" : spec.Space ? " " : "";
        var upper = spec.Type is 'E' or 'F' or 'G';
        if (double.IsNaN(value))
        {
            return Number(spec, upper ? "NAN" : "nan", "");
        }
        if (double.IsInfinity(value))
        {
            return Number(spec, upper ? "INF" : "inf", sign);
        }
        var abs = Math.Abs(value);
        switch (spec.Type)
        {
            case 's':
            {
                if (abs == 0)
                {
                    return Number(spec, "0", sign);
                }
                var number = General(spec, abs, isInteger: false, upper: false);
                if (number.IndexOfAny(['.', 'e', 'E']) < 0)
                {
                    number += ".0";
                }
                return Number(spec, number, sign);
            }
            case 'e' or 'E':
            {
                var (mantissa, exponent) = MantissaAndExponent(abs, spec.Precision ?? 6);
                return Number(spec, FixDecimalPoint(spec, mantissa) + spec.Type + ExponentText(exponent), sign);
            }
            case 'f' or 'F':
                return Number(spec, FixDecimalPoint(spec, abs.ToString("F" + (spec.Precision ?? 6), CultureInfo.InvariantCulture)), sign);
            case 'g' or 'G':
                return abs == 0 ? Number(spec, "0", sign) : Number(spec, General(spec, abs, isInteger: false, upper), sign);
            default:
                throw Invalid($"invalid format spec at offset {spec.Location}; 'float' cannot be formatted in {Describe(spec.Type)}");
        }
    }

    private static string ToRadix(UInt128 value, int radix)
    {
        if (value == 0)
        {
            return "0";
        }
        var sb = new StringBuilder();
        while (value > 0)
        {
            sb.Insert(0, "0123456789abcdef"[(int)(value % (uint)radix)]);
            value /= (uint)radix;
        }
        return sb.ToString();
    }

    private static (string Mantissa, int Exponent) MantissaAndExponent(double value, int precision)
    {
        var text = value.ToString("E" + precision, CultureInfo.InvariantCulture);
        var e = text.IndexOf('E');
        return (text[..e], int.Parse(text.AsSpan(e + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture));
    }

    private static string ExponentText(int exponent) =>
        (exponent < 0 ? "-" : "+") + Math.Abs(exponent).ToString("00", CultureInfo.InvariantCulture);

    // With precision 0 the decimal point is dropped unless '#' asks for it.
    private static string FixDecimalPoint(Spec spec, string number) =>
        spec.Precision == 0 && spec.Alternate ? number + "." : number;

    private static string RemoveInsignificant(Spec spec, string number) =>
        !spec.Alternate && number.Contains('.') ? number.TrimEnd('0').TrimEnd('.') : number;

    private static string General(Spec spec, double value, bool isInteger, bool upper)
    {
        var precision = spec.Precision is { } p ? Math.Max(p, 1) : 6;
        var (mantissa, exponent) = MantissaAndExponent(value, precision - 1);
        if (exponent >= -4 && exponent < precision)
        {
            var places = precision - 1 - exponent;
            var number = isInteger ? ((UInt128)value).ToString(CultureInfo.InvariantCulture) : value.ToString("F" + places, CultureInfo.InvariantCulture);
            return RemoveInsignificant(spec, number);
        }
        return RemoveInsignificant(spec, mantissa) + (upper ? 'E' : 'e') + ExponentText(exponent);
    }

    private static string Number(Spec spec, string number, string sign)
    {
        var radix = spec.Alternate ? spec.Type switch
        {
            'o' => "0o",
            'x' => "0x",
            'X' => "0X",
            _ => "",
        } : "";
        if (spec.Zero)
        {
            var width = sign.Length + radix.Length + number.Length;
            return width < spec.Width ? sign + radix + new string('0', spec.Width.Value - width) + number : sign + radix + number;
        }
        return Pad(spec, sign + radix + number, alignLeft: false);
    }

    private static string Pad(Spec spec, string text, bool alignLeft)
    {
        var length = Values.CharCount(text);
        if (spec.Width is not { } width || length >= width)
        {
            return text;
        }
        var fill = new string(' ', width - length);
        return spec.Left || alignLeft ? text + fill : fill + text;
    }
}
