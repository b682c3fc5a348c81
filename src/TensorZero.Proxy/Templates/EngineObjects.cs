using System.Text;

namespace TensorZero.Proxy.Templates;

/// <summary>The state of a running <c>for</c> loop; <see cref="Object"/> is what the template sees as <c>loop</c>.</summary>
internal sealed class LoopState(IReadOnlyList<Value> items, bool knownLength, bool withLoopVariable, int depth, ForStmt? recursive)
{
    public LoopValue Object { get; } = new(items, knownLength, depth, recursive);
    public bool WithLoopVariable { get; } = withLoopVariable;

    /// <summary>The loop statement when it is <c>recursive</c> (then <c>loop(items)</c> runs it again).</summary>
    public ForStmt? Recursive => Object.Recursive;

    public bool MoveNext(out Value item) => Object.MoveNext(out item);

    /// <summary>
    /// MiniJinja's test for the <c>else</c> branch: the position is still 0 when the loop ended, which is also the
    /// case after a <c>break</c> in the first iteration.
    /// </summary>
    public bool DidNotIterate => Object.Index == 0;
}

/// <summary>The <c>loop</c> variable: <c>index</c>, <c>index0</c>, <c>first</c>, <c>last</c>, <c>length</c>, <c>cycle()</c>...</summary>
internal sealed class LoopValue(IReadOnlyList<Value> items, bool knownLength, int depth, ForStmt? recursive) : ObjectValue
{
    /// <summary>The loop statement when it is <c>recursive</c>: calling this object (even under another name) reruns it.</summary>
    public ForStmt? Recursive { get; } = recursive;

    private static readonly Value[] Names = new[] { "index0", "index", "length", "revindex", "revindex0", "first", "last", "depth", "depth0", "previtem", "nextitem" }
        .Select(Value.FromString).ToArray();

    private Value[]? _lastChanged;

    /// <summary>The position of the current item; -1 before the first <see cref="MoveNext"/>.</summary>
    public int Index { get; private set; } = -1;

    public int Depth { get; } = depth;

    public bool MoveNext(out Value item)
    {
        Index++;
        if (Index < items.Count)
        {
            item = items[Index];
            return true;
        }
        item = default;
        return false;
    }

    public override ObjectRepr Repr => ObjectRepr.Map;
    public override IReadOnlyList<Value> Items => Names;

    public override bool TryGetValue(Value key, out Value value)
    {
        if (key.AsString is { } name)
        {
            return TryGetAttr(name, out value);
        }
        value = default;
        return false;
    }

    public override bool TryGetAttr(string name, out Value value)
    {
        if (Index < 0)
        {
            value = Value.Undefined;
            return true;
        }
        int? length = knownLength ? items.Count : null;
        value = name switch
        {
            "index" => Value.FromInt(Index + 1),
            "index0" => Value.FromInt(Index),
            "length" => length is { } n ? Value.FromInt(n) : Value.Undefined,
            "revindex" => length is { } n ? Value.FromInt(Math.Max(0, n - Index)) : Value.Undefined,
            "revindex0" => length is { } n ? Value.FromInt(Math.Max(0, n - Index - 1)) : Value.Undefined,
            "first" => Value.FromBool(Index == 0),
            "last" => Value.FromBool(length is { } n && (n == 0 || Index == n - 1)),
            "depth" => Value.FromInt(Depth + 1),
            "depth0" => Value.FromInt(Depth),
            "previtem" => Index > 0 && Index - 1 < items.Count ? items[Index - 1] : Value.Undefined,
            "nextitem" => Index + 1 < items.Count ? items[Index + 1] : Value.Undefined,
            _ => default,
        };
        return name is "index" or "index0" or "length" or "revindex" or "revindex0" or "first" or "last" or "depth" or "depth0"
            or "previtem" or "nextitem";
    }

    public override Value Call(Renderer renderer, ReadOnlySpan<Value> args) =>
        throw new TemplateError(ErrorKind.InvalidOperation, "loop recursion cannot be called this way");

    public override Value CallMethod(Renderer renderer, string name, ReadOnlySpan<Value> args)
    {
        switch (name)
        {
            case "changed":
            {
                var current = args.ToArray();
                var changed = _lastChanged is null || !Values.Equal(Value.FromList([.. _lastChanged]), Value.FromList([.. current]));
                if (changed)
                {
                    _lastChanged = current;
                }
                return Value.FromBool(changed);
            }
            case "cycle":
                return args.Length == 0 ? Value.Undefined : args[Math.Max(Index, 0) % args.Length];
            default:
                throw new TemplateError(ErrorKind.UnknownMethod, null);
        }
    }

    public override void Render(StringBuilder sb) => RenderDebug(sb, -1);

    public override void RenderDebug(StringBuilder sb, int prettyIndent) =>
        sb.Append("<loop ").Append(Index < 0 ? "18446744073709551615" : Index.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .Append('/').Append(knownLength ? items.Count.ToString(System.Globalization.CultureInfo.InvariantCulture) : "?").Append('>');
}

/// <summary>A macro (or a call block's <c>caller</c>), with the variables it captured where it was defined.</summary>
internal sealed class MacroValue(MacroStmt stmt, CompiledTemplate template, Dictionary<string, Value>? closure) : ObjectValue
{
    private static readonly Value[] Names = [Value.FromString("name"), Value.FromString("arguments"), Value.FromString("caller")];

    public MacroStmt Stmt { get; } = stmt;
    public CompiledTemplate Template { get; } = template;
    public Dictionary<string, Value>? Closure { get; } = closure;

    public override ObjectRepr Repr => ObjectRepr.Map;
    public override IReadOnlyList<Value> Items => Names;

    public override bool TryGetValue(Value key, out Value value)
    {
        value = key.AsString switch
        {
            "name" => Value.FromString(Stmt.Name),
            "arguments" => Value.FromObject(new IterableValue(Stmt.Parameters.Select(p => Value.FromString(p.Name)).ToList())),
            "caller" => Value.FromBool(Stmt.UsesCaller),
            _ => default,
        };
        return key.AsString is "name" or "arguments" or "caller";
    }

    public override Value Call(Renderer renderer, ReadOnlySpan<Value> args) => renderer.CallMacro(this, args);

    public override void Render(StringBuilder sb) => RenderDebug(sb, -1);

    public override void RenderDebug(StringBuilder sb, int prettyIndent) => sb.Append("<macro ").Append(Stmt.Name).Append('>');
}

/// <summary>The global functions of MiniJinja's builtins: <c>range</c>, <c>dict</c>, <c>namespace</c>, <c>debug</c>.</summary>
internal static class Globals
{
    private static readonly Dictionary<string, Value> Functions = new(StringComparer.Ordinal)
    {
        ["range"] = Value.FromObject(new FunctionValue("range", Range)),
        ["dict"] = Value.FromObject(new FunctionValue("dict", Dict)),
        ["namespace"] = Value.FromObject(new FunctionValue("namespace", Namespace)),
        ["debug"] = Value.FromObject(new FunctionValue("debug", Debug)),
    };

    public static Value? Get(string name) => Functions.TryGetValue(name, out var f) ? f : null;

    private static Value Range(Renderer renderer, ReadOnlySpan<Value> args)
    {
        var a = new Arguments(renderer, args);
        var lower = a.Int64(0);
        var upper = a.OptionalInt64(1);
        var step = a.OptionalInt64(2);
        a.NoMore(3);
        var (start, end) = upper is { } u ? (lower, u) : (0L, lower);
        var items = new List<Value>();
        var by = step ?? 1;
        if (by == 0)
        {
            throw new TemplateError(ErrorKind.InvalidOperation, "cannot create range with step of 0");
        }
        var count = by > 0
            ? (end > start ? (end - start + by - 1) / by : 0)
            : (start > end ? (start - end + (-by) - 1) / (-by) : 0);
        if (count > 100000)
        {
            throw new TemplateError(ErrorKind.InvalidOperation, "range has too many elements");
        }
        for (long i = 0, v = start; i < count; i++, v += by)
        {
            items.Add(Value.FromInt(v));
        }
        return Value.FromObject(new IterableValue(items));
    }

    private static Value Dict(Renderer renderer, ReadOnlySpan<Value> args)
    {
        var a = new Arguments(renderer, args);
        var entries = new List<KeyValuePair<Value, Value>>();
        if (a.Optional(0) is { } source && !source.IsUndefined)
        {
            if (source.AsObject is not { Repr: ObjectRepr.Map } map)
            {
                throw new TemplateError(ErrorKind.InvalidOperation, null);
            }
            entries.AddRange(map.Pairs);
        }
        a.NoMore(1);
        if (a.Kwargs is { } kwargs)
        {
            entries.AddRange(kwargs.Pairs);
        }
        return Value.FromObject(MapValue.Create(entries));
    }

    private static Value Namespace(Renderer renderer, ReadOnlySpan<Value> args)
    {
        var ns = new NamespaceValue();
        // namespace(a=1) passes its kwargs as the one (map) argument.
        var defaults = args.Length > 0 ? args[0] : Value.Undefined;
        if (args.Length > 1)
        {
            throw new TemplateError(ErrorKind.TooManyArguments, null);
        }
        if (!defaults.IsUndefined && !defaults.IsNone)
        {
            if (defaults.AsObject is not { Repr: ObjectRepr.Map } map)
            {
                throw new TemplateError(ErrorKind.InvalidOperation,
                    $"expected object or keyword arguments, got {Values.KindName(defaults.Kind)}");
            }
            foreach (var (key, value) in map.Pairs)
            {
                if (key.AsString is { } name)
                {
                    ns.Set(name, value);
                }
            }
        }
        return Value.FromObject(ns);
    }

    private static Value Debug(Renderer renderer, ReadOnlySpan<Value> args)
    {
        var sb = new StringBuilder();
        if (args.Length == 1)
        {
            args[0].WriteDebug(sb, 0);
        }
        else
        {
            Values.AppendDebugList(sb, args.ToArray(), 0);
        }
        return Value.FromString(sb.ToString());
    }
}
