using System.Globalization;
using System.Text;

namespace TensorZero.Proxy.Templates;

/// <summary>
/// Prints doubles the three ways the reference implementation does, all from the shortest round-trip digits:
/// Rust's <c>Display</c> (what <c>{{ 1.5 }}</c> prints; positional, MiniJinja adds <c>.0</c> to integral values),
/// Rust's <c>Debug</c> (inside printed lists and maps; exponent outside 1e-4..1e16) and ryu's (serde_json, for
/// <c>tojson</c>; exponent outside 1e-5..1e16).
/// </summary>
internal static class NumberFormat
{
    // The shortest digits that round-trip, without leading zeros, and the position of the decimal point:
    // value = 0.DIGITS × 10^point (so "point" digits are before the decimal point).
    private static (string Digits, int Point, bool Negative) Decompose(double value)
    {
        var r = value.ToString("R", CultureInfo.InvariantCulture);
        var negative = r.StartsWith('-');
        if (negative)
        {
            r = r[1..];
        }
        var exponent = 0;
        var e = r.IndexOfAny(['E', 'e']);
        if (e >= 0)
        {
            exponent = int.Parse(r.AsSpan(e + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
            r = r[..e];
        }
        var dot = r.IndexOf('.');
        var intPart = dot >= 0 ? r[..dot] : r;
        var fracPart = dot >= 0 ? r[(dot + 1)..] : "";
        var digits = intPart + fracPart;
        var point = intPart.Length + exponent;
        var lead = 0;
        while (lead < digits.Length - 1 && digits[lead] == '0')
        {
            lead++;
        }
        digits = digits[lead..];
        point -= lead;
        digits = digits.TrimEnd('0');
        if (digits.Length == 0)
        {
            digits = "0";
            point = 1;
        }
        return (digits, point, negative);
    }

    private static void AppendPositional(StringBuilder sb, string digits, int point, bool forceFraction)
    {
        if (point <= 0)
        {
            sb.Append("0.").Append('0', -point).Append(digits);
        }
        else if (point >= digits.Length)
        {
            sb.Append(digits).Append('0', point - digits.Length);
            if (forceFraction)
            {
                sb.Append(".0");
            }
        }
        else
        {
            sb.Append(digits, 0, point).Append('.').Append(digits, point, digits.Length - point);
        }
    }

    private static void AppendExponential(StringBuilder sb, string digits, int point)
    {
        sb.Append(digits[0]);
        if (digits.Length > 1)
        {
            sb.Append('.').Append(digits, 1, digits.Length - 1);
        }
        sb.Append('e').Append((point - 1).ToString(CultureInfo.InvariantCulture));
    }

    /// <summary>What <c>{{ x }}</c> prints for a float: <c>1.0</c>, <c>0.1</c>, <c>100000000000000000000.0</c>, <c>NaN</c>, <c>inf</c>.</summary>
    public static void AppendDisplay(StringBuilder sb, double value)
    {
        if (double.IsNaN(value))
        {
            sb.Append("NaN");
            return;
        }
        if (double.IsInfinity(value))
        {
            sb.Append(value < 0 ? "-inf" : "inf");
            return;
        }
        var (digits, point, negative) = Decompose(value);
        if (negative)
        {
            sb.Append('-');
        }
        AppendPositional(sb, digits, point, forceFraction: true);
    }

    /// <summary>Rust's <c>{:?}</c> of an f64: <c>1.0</c>, <c>1e16</c>, <c>1.5e-5</c>.</summary>
    public static void AppendDebug(StringBuilder sb, double value)
    {
        if (double.IsNaN(value))
        {
            sb.Append("NaN");
            return;
        }
        if (double.IsInfinity(value))
        {
            sb.Append(value < 0 ? "-inf" : "inf");
            return;
        }
        var (digits, point, negative) = Decompose(value);
        if (negative)
        {
            sb.Append('-');
        }
        var abs = Math.Abs(value);
        if (abs == 0 || (abs >= 1e-4 && abs < 1e16))
        {
            AppendPositional(sb, digits, point, forceFraction: true);
        }
        else
        {
            AppendExponential(sb, digits, point);
        }
    }

    /// <summary>serde_json's (ryu's) form of a finite f64: <c>1.0</c>, <c>0.00001</c>, <c>1e-6</c>, <c>1e16</c>.</summary>
    public static void AppendJson(StringBuilder sb, double value)
    {
        var (digits, point, negative) = Decompose(value);
        if (negative)
        {
            sb.Append('-');
        }
        if (digits == "0")
        {
            sb.Append("0.0");
            return;
        }
        if (point is > -5 and <= 16)
        {
            AppendPositional(sb, digits, point, forceFraction: true);
        }
        else
        {
            AppendExponential(sb, digits, point);
        }
    }
}
