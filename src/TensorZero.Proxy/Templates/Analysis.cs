namespace TensorZero.Proxy.Templates;

/// <summary>
/// Static analysis of a parsed template, as MiniJinja's <c>meta</c> module and TensorZero's <c>minijinja-utils</c>
/// do it: the variables a template reads without setting them, the names a macro captures from its defining scope,
/// and the templates it loads (<c>include</c>, <c>import</c>, <c>from</c>, <c>extends</c>).
/// </summary>
internal static class Analysis
{
    private sealed class Tracker(bool nested)
    {
        public readonly HashSet<string> Out = new(StringComparer.Ordinal);
        public readonly HashSet<string>? NestedOut = nested ? new(StringComparer.Ordinal) : null;
        private readonly List<HashSet<string>> _assigned = [new(StringComparer.Ordinal)];

        public bool IsAssigned(string name)
        {
            foreach (var scope in _assigned)
            {
                if (scope.Contains(name))
                {
                    return true;
                }
            }
            return false;
        }

        public void Assign(string name) => _assigned[^1].Add(name);
        public void Push() => _assigned.Add(new(StringComparer.Ordinal));
        public void Pop() => _assigned.RemoveAt(_assigned.Count - 1);
    }

    /// <summary>
    /// The variables a template reads before (or without) setting them. With <paramref name="nested"/>, attribute chains
    /// on such variables are reported whole (<c>user.name</c>), as MiniJinja's <c>undeclared_variables(true)</c>.
    /// </summary>
    public static HashSet<string> UndeclaredVariables(Stmt[] template, bool nested)
    {
        var tracker = new Tracker(nested);
        tracker.Assign("self");
        foreach (var stmt in template)
        {
            Walk(stmt, tracker);
        }
        return tracker.NestedOut ?? tracker.Out;
    }

    /// <summary>The names a macro body reads but does not set (captured when the macro is defined).</summary>
    public static HashSet<string> MacroClosure(MacroStmt macro)
    {
        var tracker = new Tracker(nested: false);
        VisitMacro(macro, tracker, declareCaller: false);
        return tracker.Out;
    }

    private static void VisitMacro(MacroStmt macro, Tracker tracker, bool declareCaller)
    {
        if (declareCaller)
        {
            tracker.Assign("caller");
        }
        foreach (var parameter in macro.Parameters)
        {
            tracker.Assign(parameter.Name);
        }
        foreach (var value in macro.Defaults)
        {
            Visit(value, tracker);
        }
        foreach (var stmt in macro.Body)
        {
            Walk(stmt, tracker);
        }
    }

    private static void Visit(Expr? expr, Tracker tracker)
    {
        switch (expr)
        {
            case null or ConstExpr:
                return;
            case VarExpr v:
                if (!tracker.IsAssigned(v.Name))
                {
                    tracker.Out.Add(v.Name);
                    if (tracker.NestedOut is null)
                    {
                        // Without nested tracking a name counts once; later reads need not be recorded again.
                        tracker.Assign(v.Name);
                    }
                    else
                    {
                        tracker.NestedOut.Add(v.Name);
                    }
                }
                return;
            case UnaryExpr u:
                Visit(u.Operand, tracker);
                return;
            case BinaryExpr b:
                Visit(b.Left, tracker);
                Visit(b.Right, tracker);
                return;
            case IfExpr i:
                Visit(i.Test, tracker);
                Visit(i.WhenTrue, tracker);
                Visit(i.WhenFalse, tracker);
                return;
            case FilterExpr f:
                Visit(f.Input, tracker);
                VisitArgs(f.Args, tracker);
                return;
            case TestExpr t:
                Visit(t.Input, tracker);
                VisitArgs(t.Args, tracker);
                return;
            case GetAttrExpr g:
                if (tracker.NestedOut is not null && NestedPath(g, tracker) is { } path)
                {
                    tracker.NestedOut.Add(path);
                    return;
                }
                Visit(g.Target, tracker);
                return;
            case GetItemExpr g:
                Visit(g.Target, tracker);
                Visit(g.Key, tracker);
                return;
            case SliceExpr s:
                // As MiniJinja: the sliced expression itself is not visited.
                Visit(s.Start, tracker);
                Visit(s.Stop, tracker);
                Visit(s.Step, tracker);
                return;
            case CallExpr c:
                Visit(c.Callee, tracker);
                VisitArgs(c.Args, tracker);
                return;
            case ListExpr l:
                foreach (var item in l.Items)
                {
                    Visit(item, tracker);
                }
                return;
            case MapExpr m:
                for (var i = 0; i < m.Keys.Length; i++)
                {
                    Visit(m.Keys[i], tracker);
                    Visit(m.Values[i], tracker);
                }
                return;
        }
    }

    // `a.b.c` where `a` is unassigned: the whole dotted path.
    private static string? NestedPath(GetAttrExpr expr, Tracker tracker)
    {
        var attrs = new List<string> { expr.Name };
        var current = expr.Target;
        while (true)
        {
            switch (current)
            {
                case VarExpr v:
                    if (tracker.IsAssigned(v.Name))
                    {
                        return null;
                    }
                    attrs.Reverse();
                    return v.Name + "." + string.Join('.', attrs);
                case GetAttrExpr g:
                    attrs.Add(g.Name);
                    current = g.Target;
                    continue;
                default:
                    return null;
            }
        }
    }

    private static void VisitArgs(CallArg[] args, Tracker tracker)
    {
        foreach (var arg in args)
        {
            Visit(arg.Value, tracker);
        }
    }

    private static void AssignTarget(Expr target, Tracker tracker)
    {
        switch (target)
        {
            case VarExpr v:
                tracker.Assign(v.Name);
                break;
            case ListExpr l:
                foreach (var item in l.Items)
                {
                    AssignTarget(item, tracker);
                }
                break;
        }
    }

    private static void WalkScoped(Stmt[] body, Tracker tracker)
    {
        tracker.Push();
        foreach (var stmt in body)
        {
            Walk(stmt, tracker);
        }
        tracker.Pop();
    }

    private static void Walk(Stmt stmt, Tracker tracker)
    {
        switch (stmt)
        {
            case EmitExprStmt e:
                Visit(e.Expr, tracker);
                break;
            case ForStmt f:
                tracker.Push();
                tracker.Assign("loop");
                Visit(f.Iterable, tracker);
                AssignTarget(f.Target, tracker);
                Visit(f.Filter, tracker);
                foreach (var s in f.Body)
                {
                    Walk(s, tracker);
                }
                tracker.Pop();
                WalkScoped(f.ElseBody, tracker);
                break;
            case IfStmt i:
                Visit(i.Condition, tracker);
                WalkScoped(i.WhenTrue, tracker);
                WalkScoped(i.WhenFalse, tracker);
                break;
            case WithStmt w:
                tracker.Push();
                foreach (var (target, value) in w.Assignments)
                {
                    AssignTarget(target, tracker);
                    Visit(value, tracker);
                }
                foreach (var s in w.Body)
                {
                    Walk(s, tracker);
                }
                tracker.Pop();
                break;
            case SetStmt s:
                AssignTarget(s.Target, tracker);
                Visit(s.Value, tracker);
                break;
            case AutoEscapeStmt a:
                WalkScoped(a.Body, tracker);
                break;
            case FilterBlockStmt f:
                WalkScoped(f.Body, tracker);
                break;
            case SetBlockStmt s:
                AssignTarget(s.Target, tracker);
                WalkScoped(s.Body, tracker);
                break;
            case BlockStmt b:
                tracker.Push();
                tracker.Assign("super");
                foreach (var s in b.Body)
                {
                    Walk(s, tracker);
                }
                tracker.Pop();
                break;
            case ImportStmt i:
                AssignTarget(i.Name, tracker);
                break;
            case FromImportStmt f:
                foreach (var (name, alias) in f.Names)
                {
                    AssignTarget(alias ?? name, tracker);
                }
                break;
            case MacroStmt m:
                tracker.Assign(m.Name);
                tracker.Push();
                VisitMacro(m, tracker, declareCaller: true);
                tracker.Pop();
                break;
            case CallBlockStmt c:
                Visit(c.Call.Callee, tracker);
                VisitArgs(c.Call.Args, tracker);
                tracker.Push();
                VisitMacro(c.Caller, tracker, declareCaller: true);
                tracker.Pop();
                break;
            case DoStmt d:
                Visit(d.Call.Callee, tracker);
                VisitArgs(d.Call.Args, tracker);
                break;
        }
    }

    // ----- template loads ---------------------------------------------------------------------------------------

    /// <summary>One place a template loads another.</summary>
    /// <param name="Names">The template names it can load, as far as they are known statically.</param>
    /// <param name="Dynamic">Why the names are not all known (a variable, a call...), or null when they are.</param>
    /// <param name="Span">Where the load is.</param>
    /// <param name="IgnoreMissing">An <c>include ... ignore missing</c>.</param>
    public readonly record struct Load(IReadOnlyList<string> Names, string? Dynamic, Span Span, bool IgnoreMissing);

    /// <summary>
    /// The loads of a template. Names are static when given as string constants, lists of them, or either branch of
    /// an if-expression (as TensorZero's analysis accepts them).
    /// </summary>
    public static List<Load> CollectLoads(Stmt[] template)
    {
        var loads = new List<Load>();
        CollectLoads(template, loads);
        return loads;
    }

    private static void CollectLoads(Stmt[] body, List<Load> loads)
    {
        foreach (var stmt in body)
        {
            switch (stmt)
            {
                case ForStmt f:
                    CollectLoads(f.Body, loads);
                    CollectLoads(f.ElseBody, loads);
                    break;
                case IfStmt i:
                    CollectLoads(i.WhenTrue, loads);
                    CollectLoads(i.WhenFalse, loads);
                    break;
                case WithStmt w:
                    CollectLoads(w.Body, loads);
                    break;
                case SetBlockStmt s:
                    CollectLoads(s.Body, loads);
                    break;
                case AutoEscapeStmt a:
                    CollectLoads(a.Body, loads);
                    break;
                case FilterBlockStmt f:
                    CollectLoads(f.Body, loads);
                    break;
                case BlockStmt b:
                    CollectLoads(b.Body, loads);
                    break;
                case MacroStmt m:
                    CollectLoads(m.Body, loads);
                    break;
                case CallBlockStmt c:
                    CollectLoads(c.Caller.Body, loads);
                    break;
                case ImportStmt i:
                    loads.Add(LoadOf(i.Template, i.Span, false));
                    break;
                case FromImportStmt f:
                    loads.Add(LoadOf(f.Template, f.Span, false));
                    break;
                case ExtendsStmt e:
                    loads.Add(LoadOf(e.Name, e.Span, false));
                    break;
                case IncludeStmt i:
                    loads.Add(LoadOf(i.Name, i.Span, i.IgnoreMissing));
                    break;
            }
        }
    }

    private static Load LoadOf(Expr expr, Span span, bool ignoreMissing)
    {
        var names = new List<string>();
        var dynamic = StaticNames(expr, names);
        return new Load(names, dynamic, span, ignoreMissing);
    }

    // Adds the statically known names; returns why the expression is (partly) dynamic, or null.
    private static string? StaticNames(Expr expr, List<string> names)
    {
        switch (expr)
        {
            case ConstExpr c:
                return ConstNames(c.Value, names) ? null : "non-string constant";
            case ListExpr l:
            {
                string? reason = null;
                foreach (var item in l.Items)
                {
                    reason ??= StaticNames(item, names);
                }
                return reason;
            }
            case IfExpr i:
            {
                var reason = StaticNames(i.WhenTrue, names);
                if (i.WhenFalse is not null)
                {
                    reason ??= StaticNames(i.WhenFalse, names);
                }
                return reason;
            }
            case VarExpr:
                return "variable";
            case CallExpr:
                return "call";
            default:
                return "expression";
        }
    }

    private static bool ConstNames(Value value, List<string> names)
    {
        if (value.AsString is { } s)
        {
            if (!names.Contains(s))
            {
                names.Add(s);
            }
            return true;
        }
        if (value.AsObject is { Items: { } items })
        {
            foreach (var item in items)
            {
                if (!ConstNames(item, names))
                {
                    return false;
                }
            }
            return true;
        }
        return false;
    }
}
