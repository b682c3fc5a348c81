namespace TensorZero.Proxy.Templates;

// Expression evaluation: the other half of the renderer.
internal sealed partial class Renderer
{
    /// <summary>Evaluates an expression; an error raised inside gets the location of the innermost node.</summary>
    public Value Eval(Expr expr)
    {
        // Expressions nest at most Expr.MaxDepth deep, but a macro or include called from the deepest one adds the
        // next level on top; the frame check alone leaves too little margin for a full expression below it.
        StackGuard.Ensure();
        try
        {
            return EvalCore(expr);
        }
        catch (TemplateError error) when (Locate(error, expr.Span))
        {
            throw;
        }
    }

    private Value EvalCore(Expr expr)
    {
        switch (expr)
        {
            case ConstExpr c:
                return c.Value;
            case VarExpr v:
                return Lookup(v.Name) ?? Value.Undefined;
            case GetAttrExpr g:
            {
                var target = Eval(g.Target);
                return target.GetAttr(g.Name) ?? (target.IsUndefined ? throw UndefinedAttribute(g) : Value.Undefined);
            }
            case GetItemExpr g:
            {
                var target = Eval(g.Target);
                var key = Eval(g.Key);
                return target.GetItem(key) ?? (target.IsUndefined ? throw UndefinedAttribute(g) : Value.Undefined);
            }
            case BinaryExpr b:
                return EvalBinary(b);
            case UnaryExpr u:
            {
                var operand = Eval(u.Operand);
                return u.Op == UnaryOp.Not ? Value.FromBool(!IsTrue(operand)) : Values.Neg(operand);
            }
            case IfExpr i:
                return IsTrue(Eval(i.Test))
                    ? Eval(i.WhenTrue)
                    : i.WhenFalse is null ? Value.SilentUndefined : Eval(i.WhenFalse);
            case FilterExpr f:
                return EvalFilter(f, Value.Undefined);
            case TestExpr t:
            {
                var input = Eval(t.Input);
                var args = EvalArgs(t.Args, input, null);
                return Value.FromBool(BuiltinTests.Perform(this, NormalizeName(t.Name), args));
            }
            case CallExpr c:
                return EvalCall(c, null);
            case SliceExpr s:
            {
                var target = Eval(s.Target);
                var start = s.Start is null ? Value.None : Eval(s.Start);
                var stop = s.Stop is null ? Value.None : Eval(s.Stop);
                var step = s.Step is null ? Value.None : Eval(s.Step);
                if (Strict && target.IsUndefined)
                {
                    throw UndefinedError();
                }
                return Values.Slice(target, start, stop, step);
            }
            case ListExpr l:
            {
                var items = new List<Value>(l.Items.Length);
                foreach (var item in l.Items)
                {
                    items.Add(Eval(item));
                }
                return Value.FromList(items);
            }
            case MapExpr m:
            {
                var entries = new List<KeyValuePair<Value, Value>>(m.Keys.Length);
                for (var i = 0; i < m.Keys.Length; i++)
                {
                    entries.Add(new(Eval(m.Keys[i]), Eval(m.Values[i])));
                }
                return Value.FromObject(MapValue.Create(entries));
            }
            default:
                throw new TemplateError(ErrorKind.InvalidOperation, "unsupported expression");
        }
    }

    // Reading an attribute or item of an undefined value fails even in lenient mode (MiniJinja's handle_undefined).
    private TemplateError UndefinedAttribute(Expr expr) =>
        new(ErrorKind.UndefinedError, $"`{_template.SourceText(expr.Span)}`: cannot look up an attribute or item of an undefined value");

    private static string NormalizeName(string name) => name.Contains(' ') ? name.Replace(" ", "", StringComparison.Ordinal) : name;

    private Value EvalBinary(BinaryExpr b)
    {
        switch (b.Op)
        {
            case BinaryOp.ScAnd:
            {
                var left = Eval(b.Left);
                return IsTrue(left) ? Eval(b.Right) : left;
            }
            case BinaryOp.ScOr:
            {
                var left = Eval(b.Left);
                return IsTrue(left) ? left : Eval(b.Right);
            }
        }
        var l = Eval(b.Left);
        var r = Eval(b.Right);
        switch (b.Op)
        {
            case BinaryOp.Eq or BinaryOp.Ne or BinaryOp.Lt or BinaryOp.Lte or BinaryOp.Gt or BinaryOp.Gte:
                AssertNotUndefined(l);
                AssertNotUndefined(r);
                return Value.FromBool(b.Op switch
                {
                    BinaryOp.Eq => Values.Equal(l, r),
                    BinaryOp.Ne => !Values.Equal(l, r),
                    BinaryOp.Lt => Values.Compare(l, r) < 0,
                    BinaryOp.Lte => Values.Compare(l, r) <= 0,
                    BinaryOp.Gt => Values.Compare(l, r) > 0,
                    _ => Values.Compare(l, r) >= 0,
                });
            case BinaryOp.In:
                AssertNotUndefined(r);
                AssertNotUndefined(l);
                return Value.FromBool(Values.Contains(r, l));
            case BinaryOp.Concat:
                AssertNotUndefined(r);
                AssertNotUndefined(l);
                return Values.Concat(l, r);
            case BinaryOp.Add:
                return Values.Add(l, r);
            case BinaryOp.Sub:
                return Values.Sub(l, r);
            case BinaryOp.Mul:
                return Values.Mul(l, r);
            case BinaryOp.Div:
                return Values.Div(l, r);
            case BinaryOp.FloorDiv:
                return Values.FloorDiv(l, r);
            case BinaryOp.Rem:
                return Values.Rem(l, r);
            default:
                return Values.Pow(l, r);
        }
    }

    /// <summary>Applies a filter (or a <c>{% filter %}</c> chain) to an input value.</summary>
    private Value EvalFilter(FilterExpr filter, Value input)
    {
        try
        {
            var value = filter.Input switch
            {
                null => input,
                FilterExpr inner when IsChainedBody(inner) => EvalFilter(inner, input),
                var other => Eval(other),
            };
            var args = EvalArgs(filter.Args, value, null);
            return BuiltinFilters.Apply(this, NormalizeName(filter.Name), args);
        }
        catch (TemplateError error) when (Locate(error, filter.Span))
        {
            throw;
        }
    }

    // In `{% filter a|b %}` and `{% set x | a|b %}` the innermost filter of the chain has no input: the body is it.
    private static bool IsChainedBody(FilterExpr filter) => filter.Input is null || filter.Input is FilterExpr f && IsChainedBody(f);

    /// <summary>
    /// Evaluates call arguments: positional ones (with <c>*splat</c>), then keyword ones (with <c>**splat</c> and a
    /// call block's <c>caller</c>) as one trailing <see cref="KwargsValue"/>, as MiniJinja passes them.
    /// </summary>
    private Value[] EvalArgs(CallArg[] args, Value? first, Value? caller)
    {
        var values = new List<Value>(args.Length + 1);
        if (first is { } f)
        {
            values.Add(f);
        }
        List<KeyValuePair<Value, Value>>? kwargs = caller is null ? null : new();
        foreach (var arg in args)
        {
            switch (arg.Kind)
            {
                case CallArgKind.Positional:
                    values.Add(Eval(arg.Value));
                    break;
                case CallArgKind.PositionalSplat:
                    values.AddRange(Eval(arg.Value).Iterate() ?? throw new TemplateError(ErrorKind.InvalidOperation,
                        "value is not iterable"));
                    break;
                case CallArgKind.Keyword:
                    (kwargs ??= new()).Add(new(Value.FromString(arg.Name!), Eval(arg.Value)));
                    break;
                case CallArgKind.KeywordSplat:
                {
                    kwargs ??= new();
                    var map = Eval(arg.Value);
                    AssertNotUndefined(map);
                    if (map.AsObject is not { Repr: ObjectRepr.Map } obj)
                    {
                        throw new TemplateError(ErrorKind.InvalidOperation,
                            $"attempted to apply keyword arguments from non map (got {Values.KindName(map.Kind)})");
                    }
                    kwargs.AddRange(obj.Pairs);
                    break;
                }
            }
        }
        if (caller is { } c)
        {
            kwargs!.Add(new(Value.FromString("caller"), c));
        }
        if (kwargs is not null)
        {
            values.Add(Value.FromObject(KwargsValue.CreateKwargs(kwargs)));
        }
        return values.ToArray();
    }

    /// <summary>Evaluates a call: a function or macro, a method, <c>super()</c>, <c>loop(...)</c> or <c>self.block()</c>.</summary>
    private Value EvalCall(CallExpr call, Value? caller)
    {
        try
        {
            switch (call.Callee)
            {
                case VarExpr v:
                {
                    var args = EvalArgs(call.Args, null, caller);
                    if (v.Name == "super")
                    {
                        return args.Length == 0
                            ? Super(capture: true, call.Span)
                            : throw new TemplateError(ErrorKind.InvalidOperation, "super() takes no arguments");
                    }
                    var function = Lookup(v.Name) ?? throw new TemplateError(ErrorKind.UnknownFunction, $"{v.Name} is unknown");
                    if (function.AsObject is LoopValue loop)
                    {
                        return RecurseLoop(loop, args, call.Span);
                    }
                    return CallValue(function, args);
                }
                case GetAttrExpr { Target: VarExpr { Name: "self" } } block:
                    BeginCapture(discard: false);
                    CallBlock(block.Name);
                    return EndCapture();
                case GetAttrExpr method:
                {
                    var target = Eval(method.Target);
                    var args = EvalArgs(call.Args, null, caller);
                    if (target.AsObject is { } obj)
                    {
                        try
                        {
                            return obj.CallMethod(this, method.Name, args);
                        }
                        catch (TemplateError error) when (NameMissingMethod(error, target, method.Name))
                        {
                            throw;
                        }
                    }
                    throw new TemplateError(ErrorKind.UnknownMethod, $"{Values.KindName(target.Kind)} has no method named {method.Name}");
                }
                default:
                {
                    var callee = Eval(call.Callee);
                    return CallValue(callee, EvalArgs(call.Args, null, caller));
                }
            }
        }
        catch (TemplateError error) when (Locate(error, call.Span))
        {
            throw;
        }
    }

    private static bool NameMissingMethod(TemplateError error, Value target, string method)
    {
        if (error.Kind == ErrorKind.UnknownMethod && error.Detail is null)
        {
            error.Detail = $"{Values.KindName(target.Kind)} has no method named {method}";
        }
        return false;
    }

    /// <summary>Calls a callable value (macro, function).</summary>
    public Value CallValue(Value callee, ReadOnlySpan<Value> args) => callee.AsObject is { } obj
        ? obj.Call(this, args)
        : throw new TemplateError(ErrorKind.InvalidOperation, $"value of type {Values.KindName(callee.Kind)} is not callable");
}
