namespace TensorZero.Proxy.Templates;

/// <summary>The tests (<c>x is name</c>) of MiniJinja's builtins, with its argument rules.</summary>
internal static class BuiltinTests
{
    private delegate bool Test(Renderer renderer, ReadOnlySpan<Value> args);

    private static readonly Dictionary<string, Test> Tests = new(StringComparer.Ordinal)
    {
        ["undefined"] = (r, a) => One(r, a).IsUndefined,
        ["defined"] = (r, a) => !One(r, a).IsUndefined,
        ["none"] = (r, a) => One(r, a).IsNone,
        ["safe"] = (r, a) => One(r, a).IsSafe,
        ["escaped"] = (r, a) => One(r, a).IsSafe,
        ["boolean"] = (r, a) => One(r, a).IsBool,
        ["odd"] = (r, a) => One(r, a).AsInt128() is { } i && i % 2 != 0,
        ["even"] = (r, a) => One(r, a).AsInt128() is { } i && i % 2 == 0,
        ["divisibleby"] = DivisibleBy,
        ["number"] = (r, a) => One(r, a).IsNumber,
        ["integer"] = (r, a) => One(r, a).IsInteger,
        ["int"] = (r, a) => One(r, a).IsInteger,
        ["float"] = (r, a) => One(r, a).IsFloat,
        ["string"] = (r, a) => One(r, a).IsString,
        ["sequence"] = (r, a) => One(r, a).Kind == ValueKind.Seq,
        ["iterable"] = (r, a) => One(r, a).Iterate() is not null,
        ["mapping"] = (r, a) => One(r, a).Kind == ValueKind.Map,
        ["startingwith"] = (r, a) => Two(r, a, out var s, out var p) && s.StartsWith(p, StringComparison.Ordinal),
        ["endingwith"] = (r, a) => Two(r, a, out var s, out var p) && s.EndsWith(p, StringComparison.Ordinal),
        ["lower"] = (r, a) => AllChars(r, a, char.IsLower),
        ["upper"] = (r, a) => AllChars(r, a, char.IsUpper),
        ["sameas"] = SameAs,
        ["eq"] = (r, a) => Compare(r, a, static (x, y) => Values.Equal(x, y)),
        ["equalto"] = (r, a) => Compare(r, a, static (x, y) => Values.Equal(x, y)),
        ["=="] = (r, a) => Compare(r, a, static (x, y) => Values.Equal(x, y)),
        ["ne"] = (r, a) => Compare(r, a, static (x, y) => !Values.Equal(x, y)),
        ["!="] = (r, a) => Compare(r, a, static (x, y) => !Values.Equal(x, y)),
        ["lt"] = (r, a) => Compare(r, a, static (x, y) => Values.Compare(x, y) < 0),
        ["lessthan"] = (r, a) => Compare(r, a, static (x, y) => Values.Compare(x, y) < 0),
        ["<"] = (r, a) => Compare(r, a, static (x, y) => Values.Compare(x, y) < 0),
        ["le"] = (r, a) => Compare(r, a, static (x, y) => Values.Compare(x, y) <= 0),
        ["<="] = (r, a) => Compare(r, a, static (x, y) => Values.Compare(x, y) <= 0),
        ["gt"] = (r, a) => Compare(r, a, static (x, y) => Values.Compare(x, y) > 0),
        ["greaterthan"] = (r, a) => Compare(r, a, static (x, y) => Values.Compare(x, y) > 0),
        [">"] = (r, a) => Compare(r, a, static (x, y) => Values.Compare(x, y) > 0),
        ["ge"] = (r, a) => Compare(r, a, static (x, y) => Values.Compare(x, y) >= 0),
        [">="] = (r, a) => Compare(r, a, static (x, y) => Values.Compare(x, y) >= 0),
        ["in"] = In,
        ["true"] = (r, a) => One(r, a) is { IsBool: true, BoolValue: true },
        ["false"] = (r, a) => One(r, a) is { IsBool: true, BoolValue: false },
        ["filter"] = (r, a) => Name(r, a) is var n && BuiltinFilters.Exists(n),
        ["test"] = (r, a) => Name(r, a) is var n && Exists(n),
    };

    public static bool Exists(string name) => Tests.ContainsKey(name);

    /// <summary>Runs a test; <paramref name="args"/> starts with the tested value.</summary>
    public static bool Perform(Renderer renderer, string name, ReadOnlySpan<Value> args) => Tests.TryGetValue(name, out var test)
        ? test(renderer, args)
        : throw new TemplateError(ErrorKind.UnknownTest, $"test {name} is unknown");

    private static Value One(Renderer r, ReadOnlySpan<Value> args)
    {
        var a = new Arguments(r, args, acceptsKwargs: false);
        var value = a.Required(0);
        a.NoMore(1);
        return value;
    }

    private static bool Two(Renderer r, ReadOnlySpan<Value> args, out string value, out string other)
    {
        var a = new Arguments(r, args, acceptsKwargs: false);
        value = a.String(0);
        other = a.String(1);
        a.NoMore(2);
        return true;
    }

    private static bool AllChars(Renderer r, ReadOnlySpan<Value> args, Func<string, int, bool> predicate)
    {
        var a = new Arguments(r, args, acceptsKwargs: false);
        var text = a.StrictString(0);
        a.NoMore(1);
        for (var i = 0; i < text.Length; i++)
        {
            if (!predicate(text, i))
            {
                return false;
            }
            if (char.IsHighSurrogate(text[i]))
            {
                i++;
            }
        }
        return true;
    }

    private static string Name(Renderer r, ReadOnlySpan<Value> args)
    {
        var a = new Arguments(r, args, acceptsKwargs: false);
        var name = a.StrictString(0);
        a.NoMore(1);
        return name;
    }

    private static bool Compare(Renderer r, ReadOnlySpan<Value> args, Func<Value, Value, bool> compare)
    {
        var a = new Arguments(r, args, acceptsKwargs: false);
        var value = a.Required(0);
        var other = a.Required(1);
        a.NoMore(2);
        return compare(value, other);
    }

    private static bool DivisibleBy(Renderer r, ReadOnlySpan<Value> args)
    {
        var a = new Arguments(r, args, acceptsKwargs: false);
        var value = a.Required(0);
        var other = a.Required(1);
        a.NoMore(2);
        if (value.IsInteger && other.IsInteger || value.AsInt128() is not null && other.AsInt128() is not null && !value.IsFloat && !other.IsFloat)
        {
            var divisor = other.AsInt128()!.Value;
            return divisor != 0 && value.AsInt128()!.Value % divisor == 0;
        }
        if ((value.IsFloat || other.IsFloat) && value.AsDouble(lossy: false) is { } x && other.AsDouble(lossy: false) is { } y)
        {
            return x % y == 0.0;
        }
        return false;
    }

    private static bool SameAs(Renderer r, ReadOnlySpan<Value> args)
    {
        var a = new Arguments(r, args, acceptsKwargs: false);
        var value = a.Required(0);
        var other = a.Required(1);
        a.NoMore(2);
        var x = value.AsObject;
        var y = other.AsObject;
        if (x is not null || y is not null)
        {
            return ReferenceEquals(x, y);
        }
        return value.Kind == other.Kind && value.IsInteger == other.IsInteger && Values.Equal(value, other);
    }

    private static bool In(Renderer r, ReadOnlySpan<Value> args)
    {
        var a = new Arguments(r, args, acceptsKwargs: false);
        var value = a.Required(0);
        var container = a.Required(1);
        a.NoMore(2);
        r.AssertNotUndefined(container);
        try
        {
            return Values.Contains(container, value);
        }
        catch (TemplateError)
        {
            return false;
        }
    }
}
