using System.Text;

namespace TensorZero.Proxy.Templates;

/// <summary>
/// A container or callable value (MiniJinja's <c>Object</c>): lists, maps, iterables and the engine's own objects
/// (loop, macro, namespace, function, module).
/// </summary>
internal abstract class ObjectValue
{
    public abstract ObjectRepr Repr { get; }

    /// <summary>Looks a key up (map keys, named fields of special objects).</summary>
    public virtual bool TryGetValue(Value key, out Value value)
    {
        value = default;
        return false;
    }

    /// <summary>Looks an attribute up; by default the same as a string key.</summary>
    public virtual bool TryGetAttr(string name, out Value value) => TryGetValue(Value.FromString(name), out value);

    /// <summary>What iteration yields (keys for maps), or null when the object cannot be iterated.</summary>
    public virtual IReadOnlyList<Value>? Items => Repr == ObjectRepr.Plain ? null : Array.Empty<Value>();

    /// <summary>The known length, or null (iterables of unknown length, plain objects).</summary>
    public virtual int? Length => Items?.Count;

    /// <summary>Objects are true unless their known length is 0.</summary>
    public virtual bool IsTrue => Length != 0;

    /// <summary>Calls the object (<c>obj(args)</c>); kwargs come as a trailing <see cref="KwargsValue"/>.</summary>
    public virtual Value Call(Renderer renderer, ReadOnlySpan<Value> args) =>
        throw new TemplateError(ErrorKind.InvalidOperation, "object is not callable");

    /// <summary>Calls a method (<c>obj.name(args)</c>): by default a callable stored under that key.</summary>
    public virtual Value CallMethod(Renderer renderer, string name, ReadOnlySpan<Value> args)
    {
        if (TryGetValue(Value.FromString(name), out var callable))
        {
            return callable.AsObject is { } obj
                ? obj.Call(renderer, args)
                : throw new TemplateError(ErrorKind.InvalidOperation, $"value of type {Values.KindName(callable.Kind)} is not callable");
        }
        throw new TemplateError(ErrorKind.UnknownMethod, null);
    }

    /// <summary>The key/value pairs of a map-like object, in iteration order.</summary>
    public virtual IEnumerable<KeyValuePair<Value, Value>> Pairs
    {
        get
        {
            foreach (var key in Items ?? Array.Empty<Value>())
            {
                yield return new(key, TryGetValue(key, out var v) ? v : Value.Undefined);
            }
        }
    }

    /// <summary>Appends the printed form: <c>{"k": v}</c> for maps, <c>[a, b]</c> for sized sequences.</summary>
    public virtual void Render(StringBuilder sb) => RenderDebug(sb, -1);

    /// <summary>Appends the debug form; <paramref name="prettyIndent"/> ≥ 0 selects the multi-line form of <c>pprint</c>.</summary>
    public virtual void RenderDebug(StringBuilder sb, int prettyIndent)
    {
        switch (Repr)
        {
            case ObjectRepr.Map:
                Values.AppendDebugMap(sb, Pairs, prettyIndent);
                break;
            case ObjectRepr.Seq or ObjectRepr.Iterable when Length is not null:
                Values.AppendDebugList(sb, Items!, prettyIndent);
                break;
            default:
                sb.Append(DebugName);
                break;
        }
    }

    /// <summary>The name printed for objects without a structural form.</summary>
    protected virtual string DebugName => Repr == ObjectRepr.Iterable ? "<iterator>" : "<object>";
}

/// <summary>A list (JSON arrays, list literals, filter results).</summary>
internal sealed class SeqValue(IReadOnlyList<Value> items) : ObjectValue
{
    public override ObjectRepr Repr => ObjectRepr.Seq;
    public override IReadOnlyList<Value> Items { get; } = items;
    public override int? Length => Items.Count;
}

/// <summary>
/// A lazily-produced sequence in MiniJinja (<c>range</c>, <c>items</c>, <c>reverse</c>, slices...). It prints like a
/// list when its length is known and as <c>&lt;iterator&gt;</c> otherwise; <c>is sequence</c> is false for it.
/// </summary>
internal sealed class IterableValue(IReadOnlyList<Value> items, bool knownLength = true) : ObjectValue
{
    public override ObjectRepr Repr => ObjectRepr.Iterable;
    public override IReadOnlyList<Value> Items { get; } = items;
    public override int? Length => knownLength ? Items.Count : null;
}

/// <summary>A map with keys kept sorted in MiniJinja's value order (as its default BTreeMap does).</summary>
internal class MapValue : ObjectValue
{
    private readonly Value[] _keys;
    private readonly Value[] _values;

    protected MapValue(Value[] keys, Value[] values)
    {
        _keys = keys;
        _values = values;
    }

    public static readonly MapValue Empty = new([], []);

    /// <summary>Builds a map; later duplicates of a key replace earlier ones.</summary>
    public static MapValue Create(List<KeyValuePair<Value, Value>> entries) => Create(entries, (k, v) => new MapValue(k, v));

    protected static T Create<T>(List<KeyValuePair<Value, Value>> entries, Func<Value[], Value[], T> make)
    {
        // A stable sort keeps duplicates in insertion order, so the last one of a run wins.
        var sorted = entries.Select((e, i) => (e, i)).ToArray();
        Values.Sort(sorted, (a, b) =>
        {
            var c = Values.Compare(a.e.Key, b.e.Key);
            return c != 0 ? c : a.i.CompareTo(b.i);
        });
        var keys = new List<Value>(sorted.Length);
        var values = new List<Value>(sorted.Length);
        foreach (var (entry, _) in sorted)
        {
            if (keys.Count > 0 && Values.Compare(keys[^1], entry.Key) == 0)
            {
                values[^1] = entry.Value;
                continue;
            }
            keys.Add(entry.Key);
            values.Add(entry.Value);
        }
        return make(keys.ToArray(), values.ToArray());
    }

    public override ObjectRepr Repr => ObjectRepr.Map;
    public override IReadOnlyList<Value> Items => _keys;
    public override int? Length => _keys.Length;

    public override bool TryGetValue(Value key, out Value value)
    {
        int lo = 0, hi = _keys.Length - 1;
        while (lo <= hi)
        {
            var mid = (lo + hi) >>> 1;
            var c = Values.Compare(_keys[mid], key);
            if (c == 0)
            {
                value = _values[mid];
                return true;
            }
            if (c < 0)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }
        value = default;
        return false;
    }

    public override bool TryGetAttr(string name, out Value value)
    {
        int lo = 0, hi = _keys.Length - 1;
        while (lo <= hi)
        {
            var mid = (lo + hi) >>> 1;
            var k = _keys[mid];
            // String keys sort after all non-string kinds and before containers.
            var c = k.AsString is { } s ? Values.CompareStrings(s, name) : k.Kind < ValueKind.String ? -1 : 1;
            if (c == 0)
            {
                value = _values[mid];
                return true;
            }
            if (c < 0)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }
        value = default;
        return false;
    }

    public override IEnumerable<KeyValuePair<Value, Value>> Pairs
    {
        get
        {
            for (var i = 0; i < _keys.Length; i++)
            {
                yield return new(_keys[i], _values[i]);
            }
        }
    }
}

/// <summary>Keyword arguments of a call (a map the callee recognises as kwargs, not as a positional argument).</summary>
internal sealed class KwargsValue : MapValue
{
    private KwargsValue(Value[] keys, Value[] values) : base(keys, values)
    {
    }

    public static KwargsValue CreateKwargs(List<KeyValuePair<Value, Value>> entries) =>
        Create(entries, (k, v) => new KwargsValue(k, v));
}

/// <summary>The object of <c>namespace()</c>: a map whose attributes <c>{% set ns.x = ... %}</c> may assign.</summary>
internal sealed class NamespaceValue : ObjectValue
{
    private readonly SortedDictionary<string, Value> _data = new(StringComparer.Ordinal);

    public override ObjectRepr Repr => ObjectRepr.Map;

    public void Set(string name, Value value) => _data[name] = value;

    public override bool TryGetValue(Value key, out Value value)
    {
        if (key.AsString is { } s)
        {
            return _data.TryGetValue(s, out value);
        }
        value = default;
        return false;
    }

    public override bool TryGetAttr(string name, out Value value) => _data.TryGetValue(name, out value);

    public override IReadOnlyList<Value> Items
    {
        get
        {
            var sorted = _data.Keys.Select(Value.FromString).ToArray();
            Values.Sort(sorted, Values.Compare);
            return sorted;
        }
    }
}

/// <summary>An <c>{% import %}</c>ed template: its top-level names, printed as the output it produced.</summary>
internal sealed class ModuleValue(MapValue exports, Value captured) : ObjectValue
{
    public override ObjectRepr Repr => ObjectRepr.Map;
    public override bool TryGetValue(Value key, out Value value) => exports.TryGetValue(key, out value);
    public override bool TryGetAttr(string name, out Value value) => exports.TryGetAttr(name, out value);
    public override IReadOnlyList<Value> Items => exports.Items;
    public override void Render(StringBuilder sb) => captured.WriteTo(sb);
    public override void RenderDebug(StringBuilder sb, int prettyIndent) => captured.WriteTo(sb);
}

/// <summary>One group of <c>groupby</c>: a pair <c>(grouper, list)</c> whose parts are also named attributes.</summary>
internal sealed class GroupValue(Value grouper, List<Value> list) : ObjectValue
{
    private readonly Value[] _items = [grouper, Value.FromObject(new IterableValue(list))];

    public override ObjectRepr Repr => ObjectRepr.Seq;
    public override IReadOnlyList<Value> Items => _items;

    public override bool TryGetValue(Value key, out Value value)
    {
        switch (key.AsString)
        {
            case "grouper":
                value = _items[0];
                return true;
            case "list":
                value = _items[1];
                return true;
            default:
                value = default;
                return false;
        }
    }
}

/// <summary>The body of a built-in function: the renderer, then the arguments (kwargs last, as a <see cref="KwargsValue"/>).</summary>
internal delegate Value NativeFunction(Renderer renderer, ReadOnlySpan<Value> args);

/// <summary>A built-in global function (<c>range</c>, <c>dict</c>, <c>namespace</c>, <c>debug</c>).</summary>
internal sealed class FunctionValue(string name, NativeFunction body) : ObjectValue
{
    public string Name { get; } = name;
    public override ObjectRepr Repr => ObjectRepr.Plain;
    public override Value Call(Renderer renderer, ReadOnlySpan<Value> args) => body(renderer, args);

    // MiniJinja's debug build prints a function as its Rust type name.
    protected override string DebugName => "minijinja::functions::builtins::" + Name;
}
