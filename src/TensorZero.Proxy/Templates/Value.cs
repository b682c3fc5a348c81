using System.Globalization;
using System.Text;
using System.Text.Json;

namespace TensorZero.Proxy.Templates;

/// <summary>
/// What a value is, in MiniJinja's order: values of different kinds sort by kind (undefined &lt; none &lt; bool &lt;
/// number &lt; string &lt; ... ), and error messages name kinds with <see cref="Values.KindName"/>.
/// </summary>
internal enum ValueKind : byte
{
    Undefined,
    None,
    Bool,
    Number,
    String,
    Bytes,
    Seq,
    Map,
    Iterable,
    Plain,
    Invalid,
}

/// <summary>How an object behaves: as a map (attributes/keys), a sequence, an iterable, or an opaque value.</summary>
internal enum ObjectRepr : byte
{
    Plain,
    Map,
    Seq,
    Iterable,
}

/// <summary>
/// A template value (MiniJinja's <c>Value</c>): undefined (a strict one from a failed lookup, or the silent one of
/// <c>a if b</c>), none, bool, integer (128-bit, as MiniJinja computes), float, string (normal or safe), or an object.
/// </summary>
internal readonly struct Value
{
    private enum Tag : byte
    {
        Undefined,
        SilentUndefined,
        None,
        Bool,
        Int,
        Float,
        String,
        SafeString,
        Object,
    }

    private readonly Int128 _number;
    private readonly object? _ref;
    private readonly Tag _tag;

    private Value(Tag tag, Int128 number = default, object? reference = null)
    {
        _tag = tag;
        _number = number;
        _ref = reference;
    }

    /// <summary>The undefined value a failed lookup yields (printing or iterating it fails under strict undefined).</summary>
    public static readonly Value Undefined;

    /// <summary>The undefined value of <c>x if cond</c> without <c>else</c>: never an error, even when strict.</summary>
    public static readonly Value SilentUndefined = new(Tag.SilentUndefined);

    public static readonly Value None = new(Tag.None);
    public static readonly Value True = new(Tag.Bool, 1);
    public static readonly Value False = new(Tag.Bool, 0);
    public static readonly Value EmptyString = new(Tag.String, reference: "");

    public static Value FromBool(bool value) => value ? True : False;

    public static Value FromInt(Int128 value) => new(Tag.Int, value);

    public static Value FromDouble(double value) => new(Tag.Float, BitConverter.DoubleToInt64Bits(value));

    public static Value FromString(string value) => new(Tag.String, reference: value);

    public static Value FromSafeString(string value) => new(Tag.SafeString, reference: value);

    public static Value FromObject(ObjectValue value) => new(Tag.Object, reference: value);

    public static Value FromList(List<Value> items) => FromObject(new SeqValue(items));

    public ValueKind Kind => _tag switch
    {
        Tag.Undefined or Tag.SilentUndefined => ValueKind.Undefined,
        Tag.None => ValueKind.None,
        Tag.Bool => ValueKind.Bool,
        Tag.Int or Tag.Float => ValueKind.Number,
        Tag.String or Tag.SafeString => ValueKind.String,
        _ => ((ObjectValue)_ref!).Repr switch
        {
            ObjectRepr.Map => ValueKind.Map,
            ObjectRepr.Seq => ValueKind.Seq,
            ObjectRepr.Iterable => ValueKind.Iterable,
            _ => ValueKind.Plain,
        },
    };

    public bool IsUndefined => _tag is Tag.Undefined or Tag.SilentUndefined;

    /// <summary>An undefined that strict mode rejects (not the silent one of a missing <c>else</c>).</summary>
    public bool IsStrictUndefined => _tag == Tag.Undefined;

    public bool IsNone => _tag == Tag.None;
    public bool IsBool => _tag == Tag.Bool;
    public bool IsInteger => _tag == Tag.Int;
    public bool IsFloat => _tag == Tag.Float;
    public bool IsNumber => _tag is Tag.Int or Tag.Float;
    public bool IsString => _tag is Tag.String or Tag.SafeString;
    public bool IsSafe => _tag == Tag.SafeString;
    public bool IsObject => _tag == Tag.Object;

    /// <summary>The bool of a bool value.</summary>
    public bool BoolValue => _number != 0;

    /// <summary>The integer of an integer value (or a bool's 0/1).</summary>
    public Int128 IntValue => _number;

    /// <summary>The double of a float value.</summary>
    public double FloatValue => BitConverter.Int64BitsToDouble((long)_number);

    /// <summary>The text of a string value, or null.</summary>
    public string? AsString => _tag is Tag.String or Tag.SafeString ? (string)_ref! : null;

    /// <summary>The object of an object value, or null.</summary>
    public ObjectValue? AsObject => _tag == Tag.Object ? (ObjectValue)_ref! : null;

    /// <summary>Jinja truthiness: empty strings, zero, none, undefined and empty containers are false.</summary>
    public bool IsTrue => _tag switch
    {
        Tag.Bool or Tag.Int => _number != 0,
        Tag.Float => FloatValue != 0.0,
        Tag.String or Tag.SafeString => ((string)_ref!).Length != 0,
        Tag.Object => ((ObjectValue)_ref!).IsTrue,
        _ => false,
    };

    /// <summary>An integer view of the value (bools, integers, integral floats), as MiniJinja's i128 conversion.</summary>
    public Int128? AsInt128() => _tag switch
    {
        Tag.Bool or Tag.Int => _number,
        Tag.Float when FloatValue is var f && !double.IsNaN(f) && (double)(long)f == f => (Int128)(long)f,
        _ => null,
    };

    /// <summary>The value as a 64-bit integer, when it is one (see <see cref="AsInt128"/>).</summary>
    public long? AsInt64() => AsInt128() is { } i && i >= long.MinValue && i <= long.MaxValue ? (long)i : null;

    /// <summary>The value as a non-negative index/count, when it is one.</summary>
    public int? AsIndex() => AsInt128() is { } i && i >= 0 && i <= int.MaxValue ? (int)i : null;

    /// <summary>A float view of a number or bool; <paramref name="lossy"/> allows integers that doubles cannot hold.</summary>
    public double? AsDouble(bool lossy = true)
    {
        switch (_tag)
        {
            case Tag.Bool:
                return (double)_number;
            case Tag.Int:
                var d = (double)_number;
                return lossy || (d >= -1.7014118346046923e38 && d < 1.7014118346046923e38 && (Int128)d == _number) ? d : null;
            case Tag.Float:
                return FloatValue;
            default:
                return null;
        }
    }

    /// <summary>The length MiniJinja reports: Unicode scalar values of a string, items of a sized object.</summary>
    public int? Length => _tag switch
    {
        Tag.String or Tag.SafeString => Values.CharCount((string)_ref!),
        Tag.Object => ((ObjectValue)_ref!).Length,
        _ => null,
    };

    /// <summary>The items a <c>for</c> loop sees (map keys, string characters), or null when not iterable.</summary>
    public IReadOnlyList<Value>? Iterate() => _tag switch
    {
        Tag.Undefined or Tag.SilentUndefined or Tag.None => Array.Empty<Value>(),
        Tag.String or Tag.SafeString => Values.Chars((string)_ref!),
        Tag.Object => ((ObjectValue)_ref!).Items,
        _ => null,
    };

    /// <summary>Looks up an attribute (<c>a.b</c>); null when there is none (including on non-objects).</summary>
    public Value? GetAttr(string name) => _tag == Tag.Object && ((ObjectValue)_ref!).TryGetAttr(name, out var v) ? v : null;

    /// <summary>Looks up an item (<c>a[k]</c>): map keys, sequence/string indexes (negative from the end).</summary>
    public Value? GetItem(Value key)
    {
        switch (_tag)
        {
            case Tag.Object:
            {
                var obj = (ObjectValue)_ref!;
                switch (obj.Repr)
                {
                    case ObjectRepr.Seq:
                    case ObjectRepr.Iterable:
                        if (obj.Repr == ObjectRepr.Iterable && obj.TryGetValue(key, out var direct))
                        {
                            return direct;
                        }
                        if (ResolveIndex(key, obj.Length) is { } index && obj.Items is { } items && index < items.Count)
                        {
                            return items[index];
                        }
                        return obj.Repr == ObjectRepr.Seq && obj.TryGetValue(key, out var byKey) ? byKey : null;
                    default:
                        return obj.TryGetValue(key, out var v) ? v : null;
                }
            }
            case Tag.String or Tag.SafeString:
            {
                var s = (string)_ref!;
                var chars = Values.Chars(s);
                return ResolveIndex(key, chars.Count) is { } index && index < chars.Count ? chars[index] : null;
            }
            default:
                return null;
        }
    }

    private static int? ResolveIndex(Value key, int? length)
    {
        if (key.AsInt64() is not { } i)
        {
            return null;
        }
        if (i < 0)
        {
            if (length is not { } len || -i > len)
            {
                return null;
            }
            return (int)(len + i);
        }
        return i <= int.MaxValue ? (int)i : null;
    }

    /// <summary>Renders the value as <c>{{ value }}</c> prints it (MiniJinja's <c>Display</c>).</summary>
    public override string ToString()
    {
        switch (_tag)
        {
            case Tag.Undefined or Tag.SilentUndefined:
                return "";
            case Tag.String or Tag.SafeString:
                return (string)_ref!;
            default:
                var sb = new StringBuilder();
                WriteTo(sb);
                return sb.ToString();
        }
    }

    /// <summary>Appends the printed form (see <see cref="ToString"/>).</summary>
    public void WriteTo(StringBuilder sb)
    {
        switch (_tag)
        {
            case Tag.Undefined or Tag.SilentUndefined:
                return;
            case Tag.None:
                sb.Append("none");
                return;
            case Tag.Bool:
                sb.Append(_number != 0 ? "true" : "false");
                return;
            case Tag.Int:
                sb.Append(_number.ToString(CultureInfo.InvariantCulture));
                return;
            case Tag.Float:
                NumberFormat.AppendDisplay(sb, FloatValue);
                return;
            case Tag.String or Tag.SafeString:
                sb.Append((string)_ref!);
                return;
            default:
                ((ObjectValue)_ref!).Render(sb);
                return;
        }
    }

    /// <summary>Appends the debug form used inside printed lists and maps (strings quoted, undefined named).</summary>
    public void WriteDebug(StringBuilder sb, int prettyIndent = -1)
    {
        switch (_tag)
        {
            case Tag.Undefined or Tag.SilentUndefined:
                sb.Append("undefined");
                return;
            case Tag.Float:
                NumberFormat.AppendDebug(sb, FloatValue);
                return;
            case Tag.String or Tag.SafeString:
                Values.AppendRustDebugString(sb, (string)_ref!);
                return;
            case Tag.Object:
                ((ObjectValue)_ref!).RenderDebug(sb, prettyIndent);
                return;
            default:
                WriteTo(sb);
                return;
        }
    }

    /// <summary>The debug form as a string.</summary>
    public string ToDebugString()
    {
        var sb = new StringBuilder();
        WriteDebug(sb);
        return sb.ToString();
    }

    /// <summary>Converts a JSON document into template values (objects become key-sorted maps, as in MiniJinja).</summary>
    public static Value FromJson(JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
            {
                var entries = new List<KeyValuePair<Value, Value>>();
                foreach (var property in element.EnumerateObject())
                {
                    entries.Add(new(FromString(property.Name), FromJson(property.Value)));
                }
                return FromObject(MapValue.Create(entries));
            }
            case JsonValueKind.Array:
            {
                var items = new List<Value>(element.GetArrayLength());
                foreach (var item in element.EnumerateArray())
                {
                    items.Add(FromJson(item));
                }
                return FromList(items);
            }
            case JsonValueKind.String:
                return FromString(element.GetString()!);
            case JsonValueKind.Number:
                return FromJsonNumber(element);
            case JsonValueKind.True:
                return True;
            case JsonValueKind.False:
                return False;
            default:
                return None;
        }
    }

    // serde_json (which TensorZero parses requests with) keeps a number without fraction or exponent as an integer
    // when it fits 64 bits, and makes everything else a double.
    private static Value FromJsonNumber(JsonElement element)
    {
        var raw = element.GetRawText();
        if (raw.AsSpan().IndexOfAny(".eE") < 0)
        {
            if (long.TryParse(raw, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l))
            {
                return FromInt(l);
            }
            if (ulong.TryParse(raw, NumberStyles.None, CultureInfo.InvariantCulture, out var u))
            {
                return FromInt(u);
            }
        }
        return FromDouble(double.Parse(raw, NumberStyles.Float, CultureInfo.InvariantCulture));
    }
}
