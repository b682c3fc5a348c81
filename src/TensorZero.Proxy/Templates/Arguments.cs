namespace TensorZero.Proxy.Templates;

/// <summary>
/// Binds the arguments of a built-in filter, test or function the way MiniJinja converts them to Rust parameter
/// types: strings accept any value (printed) but not a strict undefined, integers accept integral numbers and bools,
/// optional parameters treat none/undefined as absent, and leftover arguments are an error.
/// </summary>
internal readonly ref struct Arguments
{
    private readonly Renderer _renderer;
    private readonly ReadOnlySpan<Value> _args;

    /// <summary>Binds <paramref name="args"/>; with <paramref name="acceptsKwargs"/> a trailing kwargs map is split off.</summary>
    public Arguments(Renderer renderer, ReadOnlySpan<Value> args, bool acceptsKwargs = true)
    {
        _renderer = renderer;
        if (acceptsKwargs && args.Length > 0 && args[^1].AsObject is KwargsValue kwargs)
        {
            Kwargs = kwargs;
            args = args[..^1];
        }
        _args = args;
    }

    public KwargsValue? Kwargs { get; }

    public int Count => _args.Length;

    public ReadOnlySpan<Value> Rest(int from) => from < _args.Length ? _args[from..] : ReadOnlySpan<Value>.Empty;

    /// <summary>Fails when more than <paramref name="count"/> positional arguments were passed.</summary>
    public void NoMore(int count)
    {
        if (_args.Length > count)
        {
            throw new TemplateError(ErrorKind.TooManyArguments, null);
        }
    }

    public Value Required(int index) => index < _args.Length ? _args[index] : throw new TemplateError(ErrorKind.MissingArgument, null);

    /// <summary>An optional argument: absent, none and undefined all give null.</summary>
    public Value? Optional(int index) => index < _args.Length && !_args[index].IsUndefined && !_args[index].IsNone ? _args[index] : null;

    /// <summary>A string parameter (Rust <c>Cow&lt;str&gt;</c>/<c>String</c>): any value, printed; strict undefined fails.</summary>
    public string String(int index)
    {
        var value = Required(index);
        _renderer.AssertNotUndefined(value);
        return AsText(value);
    }

    public string? OptionalString(int index) => Optional(index) is { } v ? AsText(v) : null;

    private static string AsText(Value value) => value.AsObject is KwargsValue
        ? throw new TemplateError(ErrorKind.InvalidOperation, "cannot convert kwargs to string")
        : value.AsString ?? value.ToString();

    /// <summary>A parameter that must already be a string (Rust <c>&amp;str</c>).</summary>
    public string StrictString(int index) => Required(index).AsString
        ?? throw new TemplateError(ErrorKind.InvalidOperation, "value is not a string");

    public string? OptionalStrictString(int index) => Optional(index) is { } v
        ? v.AsString ?? throw new TemplateError(ErrorKind.InvalidOperation, "value is not a string")
        : null;

    public long Int64(int index) => ToInt64(Required(index), "i64");

    public long? OptionalInt64(int index) => Optional(index) is { } v ? ToInt64(v, "i64") : null;

    public int Count32(int index) => ToCount(Required(index));

    public int? OptionalCount(int index) => Optional(index) is { } v ? ToCount(v) : null;

    public bool? OptionalBool(int index) => Optional(index) is { } v ? ToBool(v) : null;

    public static long ToInt64(Value value, string type) => value.AsInt64()
        ?? throw new TemplateError(ErrorKind.InvalidOperation, $"cannot convert {Values.KindName(value.Kind)} to {type}");

    public static int ToCount(Value value) => value.AsInt128() is { } i && i >= 0
        ? (int)Int128.Min(i, int.MaxValue)
        : throw new TemplateError(ErrorKind.InvalidOperation, $"cannot convert {Values.KindName(value.Kind)} to usize");

    public static bool ToBool(Value value) => value.IsBool
        ? value.BoolValue
        : throw new TemplateError(ErrorKind.InvalidOperation, $"cannot convert {Values.KindName(value.Kind)} to bool");

    // ----- keyword arguments -----------------------------------------------------------------------------------

    public Value? Kwarg(string name) => Kwargs is { } k && k.TryGetAttr(name, out var v) ? v : null;

    public Value? OptionalKwarg(string name) => Kwarg(name) is { } v && !v.IsUndefined && !v.IsNone ? v : null;

    public bool? KwargBool(string name) => OptionalKwarg(name) is { } v ? ToBool(v) : null;

    public string? KwargStrictString(string name) => OptionalKwarg(name) is { } v
        ? v.AsString ?? throw new TemplateError(ErrorKind.InvalidOperation, "value is not a string")
        : null;

    /// <summary>Fails on a keyword the filter does not know (MiniJinja's <c>assert_all_used</c>).</summary>
    public void OnlyKwargs(params string[] known)
    {
        if (Kwargs is null)
        {
            return;
        }
        foreach (var key in Kwargs.Items)
        {
            if (key.AsString is not { } name)
            {
                throw new TemplateError(ErrorKind.InvalidOperation, "non string keys passed to kwargs");
            }
            if (Array.IndexOf(known, name) < 0)
            {
                throw new TemplateError(ErrorKind.TooManyArguments, $"unknown keyword argument '{name}'");
            }
        }
    }
}
