using System.Text;

namespace TensorZero.Proxy.Templates;

/// <summary>How printed values are escaped (MiniJinja's auto-escape; chosen by template name, see <see cref="CompiledTemplate"/>).</summary>
internal enum AutoEscape : byte
{
    None,
    Html,
    Json,
}

/// <summary>One variable scope: a template's top level, a loop body, a <c>with</c>, a block or a macro call.</summary>
internal sealed class Frame
{
    public Dictionary<string, Value>? Locals;

    /// <summary>The render context (only on a render's first frame).</summary>
    public Value Context;

    /// <summary>A macro's captured variables, seen by its body like a context.</summary>
    public Dictionary<string, Value>? CapturedContext;

    /// <summary>The loop this frame runs, if any.</summary>
    public LoopState? Loop;

    /// <summary>
    /// Variables captured by macros defined in this frame. Once it exists, later assignments in the frame also go to
    /// it, so a macro sees the latest value of a name set next to it (MiniJinja emulates Jinja2's closures this way).
    /// </summary>
    public Dictionary<string, Value>? Closure;
}

/// <summary>
/// Renders one template once: holds the output, the scopes and the inheritance state, and walks the AST. A renderer is
/// single-use and single-threaded; <see cref="TemplateSet.Render(string, System.Text.Json.JsonElement?)"/> creates one per call.
/// </summary>
internal sealed partial class Renderer
{
    private const int RecursionLimit = 500;
    private const int IncludeRecursionCost = 10;
    private const int MacroRecursionCost = 4;

    private readonly TemplateSet _set;
    private StringBuilder? _out;
    private readonly Stack<StringBuilder?> _captures = new();
    private List<Frame> _frames = new();
    private int _outerDepth;
    private CompiledTemplate _template;
    private Dictionary<string, BlockStack> _blocks;
    private string? _currentBlock;
    private CompiledTemplate? _pendingParent;
    private HashSet<string> _loadedTemplates = new(StringComparer.Ordinal);

    private enum Flow : byte
    {
        Normal,
        Break,
        Continue,
    }

    /// <summary>The blocks of one name across an inheritance chain, most derived first; <c>super()</c> walks down.</summary>
    private sealed class BlockStack
    {
        public readonly List<(BlockStmt Block, CompiledTemplate Template)> Layers = new();
        public int Depth;
    }

    public Renderer(TemplateSet set, CompiledTemplate template)
    {
        _set = set;
        _template = template;
        _blocks = PrepareBlocks(template);
        AutoEscapeMode = template.InitialAutoEscape;
    }

    /// <summary>Whether undefined values fail when printed, iterated, compared or tested (TensorZero: yes).</summary>
    public bool Strict => _set.Options.StrictUndefined;

    /// <summary>The escaping applied when printing in the current scope.</summary>
    public AutoEscape AutoEscapeMode { get; private set; }

    /// <summary>The template being executed (for the <c>escape</c> filter's default and error locations).</summary>
    public CompiledTemplate CurrentTemplate => _template;

    /// <summary>The template set (filters use it to call other filters and tests).</summary>
    public TemplateSet Set => _set;

    /// <summary>Renders the template with a root context value (a map of variables, or anything: then none are defined).</summary>
    public string Render(Value context)
    {
        var sb = new StringBuilder(_template.SizeHint);
        _out = sb;
        _frames.Add(new Frame { Context = context });
        _loadedTemplates.Add(_template.Name);
        RunTemplate(_template);
        return sb.ToString();
    }

    private static Dictionary<string, BlockStack> PrepareBlocks(CompiledTemplate template)
    {
        var blocks = new Dictionary<string, BlockStack>(StringComparer.Ordinal);
        foreach (var (name, block) in template.Blocks)
        {
            var stack = new BlockStack();
            stack.Layers.Add((block, template));
            blocks[name] = stack;
        }
        return blocks;
    }

    // ----- errors ---------------------------------------------------------------------------------------------------

    private TemplateError Located(TemplateError error, Span span)
    {
        if (!error.HasLocation)
        {
            error.SetLocation(_template.Name, span);
        }
        return error;
    }

    // For exception filters: gives the error the location of the node it passed through first, and never catches.
    private bool Locate(TemplateError error, Span span)
    {
        Located(error, span);
        return false;
    }

    // For exception filters: adds an outer context to the error (see TemplateError.Wrap), and never catches.
    private static bool Wrap(TemplateError error, ErrorKind kind, string detail, string templateName, Span span)
    {
        error.Wrap(kind, detail, templateName, span);
        return false;
    }

    private static TemplateError UndefinedError() => new(ErrorKind.UndefinedError, null);

    /// <summary>Truthiness, failing on an undefined value under strict undefined (as <c>{% if %}</c> does).</summary>
    public bool IsTrue(Value value) =>
        Strict && value.IsStrictUndefined ? throw UndefinedError() : value.IsTrue;

    /// <summary>Fails on an undefined value under strict undefined (operands of comparisons, string arguments...).</summary>
    public void AssertNotUndefined(Value value)
    {
        if (Strict && value.IsStrictUndefined)
        {
            throw UndefinedError();
        }
    }

    /// <summary>The items of a value for iteration, failing on undefined (when strict) and on non-iterables.</summary>
    public IReadOnlyList<Value> Iterate(Value value)
    {
        AssertNotUndefined(value);
        return value.Iterate() ?? throw new TemplateError(ErrorKind.InvalidOperation, $"{Values.KindName(value.Kind)} is not iterable");
    }

    // ----- output ---------------------------------------------------------------------------------------------------

    private void Write(string text) => _out?.Append(text);

    private void BeginCapture(bool discard)
    {
        _captures.Push(_out);
        _out = discard ? null : new StringBuilder();
    }

    private Value EndCapture()
    {
        var captured = _out;
        _out = _captures.Pop();
        if (captured is null)
        {
            return Value.Undefined;
        }
        var text = captured.ToString();
        return AutoEscapeMode != AutoEscape.None ? Value.FromSafeString(text) : Value.FromString(text);
    }

    private void Emit(Value value)
    {
        if (Strict && value.IsStrictUndefined)
        {
            throw UndefinedError();
        }
        if (_out is { } sb)
        {
            WriteEscaped(sb, AutoEscapeMode, value);
        }
    }

    /// <summary>Writes a value as printing does under the given escaping (safe strings are never escaped).</summary>
    public static void WriteEscaped(StringBuilder sb, AutoEscape mode, Value value)
    {
        if (value.IsSafe)
        {
            sb.Append(value.AsString);
            return;
        }
        switch (mode)
        {
            case AutoEscape.None:
                value.WriteTo(sb);
                return;
            case AutoEscape.Html:
                if (value.Kind is ValueKind.Undefined or ValueKind.None or ValueKind.Bool or ValueKind.Number)
                {
                    value.WriteTo(sb);
                }
                else
                {
                    AppendHtmlEscaped(sb, value.AsString ?? value.ToString());
                }
                return;
            default:
                try
                {
                    sb.Append(Values.ToJson(value, null));
                }
                catch (TemplateError error)
                {
                    throw new TemplateError(ErrorKind.BadSerialization, "unable to format to JSON", error);
                }
                return;
        }
    }

    /// <summary>HTML-escapes <c>&amp; &lt; &gt; " ' /</c> as MiniJinja does.</summary>
    public static void AppendHtmlEscaped(StringBuilder sb, string text)
    {
        foreach (var c in text)
        {
            switch (c)
            {
                case '<': sb.Append("&lt;"); break;
                case '>': sb.Append("&gt;"); break;
                case '&': sb.Append("&amp;"); break;
                case '"': sb.Append("&quot;"); break;
                case '\'': sb.Append("&#x27;"); break;
                case '/': sb.Append("&#x2f;"); break;
                default: sb.Append(c); break;
            }
        }
    }

    // ----- scopes ---------------------------------------------------------------------------------------------------

    private int Depth => _outerDepth + _frames.Count;

    private void CheckDepth()
    {
        if (Depth > RecursionLimit)
        {
            throw new TemplateError(ErrorKind.InvalidOperation, "recursion limit exceeded");
        }
        StackGuard.Ensure();
    }

    private void PushFrame(Frame frame)
    {
        CheckDepth();
        _frames.Add(frame);
    }

    private void PopFrame() => _frames.RemoveAt(_frames.Count - 1);

    private Frame Top => _frames[^1];

    /// <summary>Looks a name up through the scopes, then the render context, then the globals.</summary>
    public Value? Lookup(string name)
    {
        for (var i = _frames.Count - 1; i >= 0; i--)
        {
            var frame = _frames[i];
            if (frame.Locals is { } locals && locals.TryGetValue(name, out var local))
            {
                return local;
            }
            if (frame.Loop is { WithLoopVariable: true } loop && name == "loop")
            {
                return Value.FromObject(loop.Object);
            }
            if (frame.CapturedContext is { } captured && captured.TryGetValue(name, out var enclosed))
            {
                return enclosed;
            }
            if (frame.Context.GetAttr(name) is { } fromContext)
            {
                return fromContext;
            }
        }
        return Globals.Get(name);
    }

    private void Store(string name, Value value)
    {
        var top = Top;
        top.Closure?.Remove(name);
        top.Closure?.Add(name, value);
        (top.Locals ??= new Dictionary<string, Value>(StringComparer.Ordinal))[name] = value;
    }

    private LoopState? CurrentLoop
    {
        get
        {
            for (var i = _frames.Count - 1; i >= 0; i--)
            {
                if (_frames[i].Loop is { } loop)
                {
                    return loop;
                }
            }
            return null;
        }
    }

    // ----- templates, includes, inheritance ---------------------------------------------------------------------

    // Runs a template's body; after an `extends`, the parent runs next (with the child's blocks registered).
    private void RunTemplate(CompiledTemplate template)
    {
        var savedParent = _pendingParent;
        _pendingParent = null;
        var current = template;
        while (true)
        {
            _template = current;
            ExecBody(current.Body);
            if (_pendingParent is not { } parent)
            {
                break;
            }
            _pendingParent = null;
            EndCapture();
            current = parent;
        }
        _pendingParent = savedParent;
    }

    private CompiledTemplate GetTemplate(string name) => _set.Find(name) ?? throw _set.MissingTemplateError(name);

    private void Include(Value name, bool ignoreMissing, Span span)
    {
        var choices = name.AsObject is { Items: { } items } ? items : [name];
        var tried = new List<Value>();
        foreach (var choice in choices)
        {
            var templateName = choice.AsString ?? throw new TemplateError(ErrorKind.InvalidOperation, "template name was not a string");
            CompiledTemplate template;
            try
            {
                template = GetTemplate(templateName);
            }
            catch (TemplateError error) when (error.Kind == ErrorKind.TemplateNotFound)
            {
                tried.Add(choice);
                continue;
            }

            var savedEscape = AutoEscapeMode;
            var savedTemplate = _template;
            var savedBlocks = _blocks;
            var savedLoaded = _loadedTemplates;
            AutoEscapeMode = template.InitialAutoEscape;
            _blocks = PrepareBlocks(template);
            _loadedTemplates = new HashSet<string>(_loadedTemplates, StringComparer.Ordinal);
            _outerDepth += IncludeRecursionCost;
            // An included template shares the scope, but not the closure of macros defined by the includer.
            var top = Top;
            var savedClosure = top.Closure;
            top.Closure = null;
            try
            {
                CheckDepth();
                RunTemplate(template);
            }
            catch (TemplateError error) when (Wrap(error, ErrorKind.BadInclude, $"error in \"{template.Name}\"", savedTemplate.Name, span))
            {
                throw;
            }
            finally
            {
                top.Closure = savedClosure;
                _outerDepth -= IncludeRecursionCost;
                _loadedTemplates = savedLoaded;
                _blocks = savedBlocks;
                _template = savedTemplate;
                AutoEscapeMode = savedEscape;
            }
            return;
        }
        if (tried.Count > 0 && !ignoreMissing)
        {
            throw new TemplateError(ErrorKind.TemplateNotFound, tried.Count == 1
                ? $"tried to include non-existing template {tried[0].ToDebugString()}"
                : $"tried to include one of multiple templates, none of which existed {Value.FromList(tried).ToDebugString()}");
        }
    }

    private void Extends(Value name)
    {
        if (_pendingParent is not null)
        {
            throw new TemplateError(ErrorKind.InvalidOperation, "tried to extend a second time in a template");
        }
        var templateName = name.AsString ?? throw new TemplateError(ErrorKind.InvalidOperation, "template name was not a string");
        if (_loadedTemplates.Contains(templateName))
        {
            throw new TemplateError(ErrorKind.InvalidOperation,
                $"cycle in template inheritance. {name.ToDebugString()} was referenced more than once");
        }
        var parent = GetTemplate(templateName);
        _loadedTemplates.Add(parent.Name);
        foreach (var (blockName, block) in parent.Blocks)
        {
            if (!_blocks.TryGetValue(blockName, out var stack))
            {
                _blocks[blockName] = stack = new BlockStack();
            }
            stack.Layers.Add((block, parent));
        }
        _pendingParent = parent;
        BeginCapture(discard: true);
    }

    private void CallBlock(string name)
    {
        if (!_blocks.TryGetValue(name, out var stack))
        {
            throw new TemplateError(ErrorKind.UnknownBlock, $"block '{name}' not found");
        }
        var savedBlock = _currentBlock;
        _currentBlock = name;
        RunBlockLayer(stack.Layers[stack.Depth]);
        _currentBlock = savedBlock;
    }

    private void RunBlockLayer((BlockStmt Block, CompiledTemplate Template) layer)
    {
        var savedTemplate = _template;
        var savedParent = _pendingParent;
        _pendingParent = null;
        _template = layer.Template;
        PushFrame(new Frame());
        try
        {
            ExecBody(layer.Block.Body);
        }
        finally
        {
            PopFrame();
            _template = savedTemplate;
            _pendingParent = savedParent;
        }
    }

    private Value Super(bool capture, Span callSpan)
    {
        var name = _currentBlock ?? throw new TemplateError(ErrorKind.InvalidOperation, "cannot super outside of block");
        var stack = _blocks[name];
        if (stack.Depth + 1 >= stack.Layers.Count)
        {
            throw new TemplateError(ErrorKind.InvalidOperation, "no parent block exists");
        }
        stack.Depth++;
        if (capture)
        {
            BeginCapture(discard: false);
        }
        var callerTemplate = _template.Name;
        try
        {
            RunBlockLayer(stack.Layers[stack.Depth]);
        }
        catch (TemplateError error) when (Wrap(error, ErrorKind.EvalBlock, "error in super block", callerTemplate, callSpan))
        {
            throw;
        }
        finally
        {
            stack.Depth--;
        }
        return capture ? EndCapture() : Value.Undefined;
    }

    // ----- statements -------------------------------------------------------------------------------------------------

    private Flow ExecBody(Stmt[] body)
    {
        foreach (var stmt in body)
        {
            var flow = Exec(stmt);
            if (flow != Flow.Normal)
            {
                return flow;
            }
        }
        return Flow.Normal;
    }

    private Flow Exec(Stmt stmt)
    {
        try
        {
            return ExecCore(stmt);
        }
        catch (TemplateError error) when (Locate(error, stmt.Span))
        {
            throw;
        }
    }

    private Flow ExecCore(Stmt stmt)
    {
        switch (stmt)
        {
            case EmitRawStmt raw:
                Write(raw.Text);
                return Flow.Normal;
            case EmitExprStmt emit:
                ExecEmit(emit);
                return Flow.Normal;
            case IfStmt cond:
                return IsTrue(Eval(cond.Condition)) ? ExecBody(cond.WhenTrue) : ExecBody(cond.WhenFalse);
            case ForStmt loop:
                return ExecFor(loop);
            case SetStmt set:
                Assign(set.Target, Eval(set.Value));
                return Flow.Normal;
            case SetBlockStmt setBlock:
            {
                BeginCapture(discard: false);
                var flow = ExecBody(setBlock.Body);
                var captured = EndCapture();
                Assign(setBlock.Target, setBlock.Filter is null ? captured : EvalFilter((FilterExpr)setBlock.Filter, captured));
                return flow;
            }
            case WithStmt with:
                PushFrame(new Frame());
                try
                {
                    foreach (var (target, value) in with.Assignments)
                    {
                        Assign(target, Eval(value));
                    }
                    return ExecBody(with.Body);
                }
                finally
                {
                    PopFrame();
                }
            case AutoEscapeStmt autoEscape:
            {
                var saved = AutoEscapeMode;
                AutoEscapeMode = DeriveAutoEscape(Eval(autoEscape.Enabled), _template.InitialAutoEscape);
                try
                {
                    return ExecBody(autoEscape.Body);
                }
                finally
                {
                    AutoEscapeMode = saved;
                }
            }
            case FilterBlockStmt filterBlock:
            {
                BeginCapture(discard: false);
                var flow = ExecBody(filterBlock.Body);
                var captured = EndCapture();
                Emit(EvalFilter((FilterExpr)filterBlock.Filter, captured));
                return flow;
            }
            case BlockStmt block:
                if (_pendingParent is null && _out is not null)
                {
                    CallBlock(block.Name);
                }
                return Flow.Normal;
            case ExtendsStmt extends:
                Extends(Eval(extends.Name));
                return Flow.Normal;
            case IncludeStmt include:
                Include(Eval(include.Name), include.IgnoreMissing, include.Span);
                return Flow.Normal;
            case ImportStmt import:
                ExecImport(import);
                return Flow.Normal;
            case FromImportStmt fromImport:
                ExecFromImport(fromImport);
                return Flow.Normal;
            case MacroStmt macro:
                Store(macro.Name, DefineMacro(macro));
                return Flow.Normal;
            case CallBlockStmt callBlock:
                Emit(EvalCall(callBlock.Call, DefineMacro(callBlock.Caller)));
                return Flow.Normal;
            case DoStmt doStmt:
                EvalCall(doStmt.Call, null);
                return Flow.Normal;
            case ContinueStmt:
                return Flow.Continue;
            case BreakStmt:
                return Flow.Break;
            default:
                throw new TemplateError(ErrorKind.InvalidOperation, "unsupported statement");
        }
    }

    private void ExecEmit(EmitExprStmt emit)
    {
        // `{{ super() }}` and `{{ loop(x) }}` print straight through, as MiniJinja's fast paths do.
        if (emit.Expr is CallExpr { Callee: VarExpr { Name: "super" }, Args.Length: 0 })
        {
            try
            {
                Super(capture: false, emit.Expr.Span);
            }
            catch (TemplateError error) when (Locate(error, emit.Expr.Span))
            {
                throw;
            }
            return;
        }
        var value = Eval(emit.Expr);
        if (Strict && value.IsStrictUndefined)
        {
            throw Located(new TemplateError(ErrorKind.UndefinedError, $"`{_template.SourceText(emit.Expr.Span)}` is undefined"), emit.Expr.Span);
        }
        try
        {
            Emit(value);
        }
        catch (TemplateError error) when (Locate(error, emit.Expr.Span))
        {
            throw;
        }
    }

    private static AutoEscape DeriveAutoEscape(Value value, AutoEscape initial)
    {
        switch (value.AsString)
        {
            case "html":
                return AutoEscape.Html;
            case "json":
                return AutoEscape.Json;
            case "none":
                return AutoEscape.None;
            case not null:
                throw new TemplateError(ErrorKind.InvalidOperation, "invalid value to autoescape tag");
        }
        if (Values.Equal(value, Value.True))
        {
            return initial == AutoEscape.None ? AutoEscape.Html : initial;
        }
        return AutoEscape.None;
    }

    private void ExecImport(ImportStmt import)
    {
        BeginCapture(discard: false);
        PushFrame(new Frame());
        Include(Eval(import.Template), ignoreMissing: false, import.Span);
        var captured = EndCapture();
        var entries = new List<KeyValuePair<Value, Value>>();
        foreach (var (key, value) in Top.Locals ?? [])
        {
            entries.Add(new(Value.FromString(key), value));
        }
        PopFrame();
        Assign(import.Name, Value.FromObject(new ModuleValue(MapValue.Create(entries), captured)));
    }

    private void ExecFromImport(FromImportStmt fromImport)
    {
        BeginCapture(discard: true);
        PushFrame(new Frame());
        Include(Eval(fromImport.Template), ignoreMissing: false, fromImport.Span);
        var values = new Value[fromImport.Names.Length];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = Eval(fromImport.Names[i].Name);
        }
        PopFrame();
        for (var i = values.Length - 1; i >= 0; i--)
        {
            var (name, alias) = fromImport.Names[i];
            Assign(alias ?? name, values[i]);
        }
        EndCapture();
    }

    private void Assign(Expr target, Value value)
    {
        switch (target)
        {
            case VarExpr v:
                Store(v.Name, value);
                return;
            case ListExpr list:
            {
                var items = value.AsObject?.Items
                    ?? throw Located(new TemplateError(ErrorKind.CannotUnpack, "value is not iterable"), list.Span);
                if (items.Count != list.Items.Length)
                {
                    throw Located(new TemplateError(ErrorKind.CannotUnpack,
                        $"sequence of wrong length (expected {list.Items.Length}, got {items.Count})"), list.Span);
                }
                for (var i = 0; i < items.Count; i++)
                {
                    Assign(list.Items[i], items[i]);
                }
                return;
            }
            case GetAttrExpr attr:
            {
                var owner = Eval(attr.Target);
                if (owner.AsObject is NamespaceValue ns)
                {
                    ns.Set(attr.Name, value);
                    return;
                }
                throw Located(new TemplateError(ErrorKind.InvalidOperation,
                    $"can only assign to namespaces, not {Values.KindName(owner.Kind)}"), attr.Span);
            }
        }
    }

    // ----- loops ------------------------------------------------------------------------------------------------------

    private Flow ExecFor(ForStmt loop)
    {
        var iterable = Eval(loop.Iterable);
        if (loop.Filter is not null)
        {
            // `for x in xs if cond`: a first pass (without a `loop` variable) keeps the items that pass.
            var items = Iterate(iterable);
            var kept = new List<Value>();
            PushFrame(new Frame { Loop = new LoopState(items, knownLength: true, withLoopVariable: false, depth: 0, recursive: null) });
            try
            {
                foreach (var item in items)
                {
                    Assign(loop.Target, item);
                    if (IsTrue(Eval(loop.Filter)))
                    {
                        kept.Add(item);
                    }
                }
            }
            finally
            {
                PopFrame();
            }
            iterable = Value.FromList(kept);
        }
        return RunLoop(loop, iterable, recursionCall: null);
    }

    private Flow RunLoop(ForStmt loop, Value iterable, Span? recursionCall)
    {
        var recursion = recursionCall is not null;
        IReadOnlyList<Value> items;
        try
        {
            items = Iterate(iterable);
        }
        catch (TemplateError error) when (recursionCall is { } call && Locate(error, loop.Iterable.Span) is false
            && Wrap(error, ErrorKind.InvalidOperation, "cannot recurse because of non-iterable value", _template.Name, call))
        {
            throw;
        }
        var depth = CurrentLoop is { Recursive: not null } outer ? outer.Object.Depth + 1 : 0;
        var knownLength = iterable.AsObject is not { } obj || obj.Length is not null;
        var state = new LoopState(items, knownLength, withLoopVariable: true, depth, loop.Recursive ? loop : null);
        try
        {
            PushFrame(new Frame { Loop = state });
        }
        catch (TemplateError error) when (Locate(error, loop.Iterable.Span))
        {
            throw;
        }
        try
        {
            // The loop's frame lives across iterations: a `set` in one iteration is visible in the next.
            while (state.MoveNext(out var item))
            {
                Assign(loop.Target, item);
                if (ExecBody(loop.Body) == Flow.Break)
                {
                    break;
                }
            }
        }
        finally
        {
            PopFrame();
        }
        // As in MiniJinja, `else` runs when the loop never advanced past its first item (also after a break there),
        // and not for a recursive call.
        return !recursion && loop.ElseBody.Length > 0 && state.DidNotIterate ? ExecBody(loop.ElseBody) : Flow.Normal;
    }

    private Value RecurseLoop(LoopValue target, ReadOnlySpan<Value> args, Span callSpan)
    {
        if (target.Recursive is not { } loop)
        {
            throw new TemplateError(ErrorKind.InvalidOperation, "cannot recurse outside of recursive loop");
        }
        if (args.Length != 1)
        {
            throw new TemplateError(ErrorKind.InvalidOperation, "loop() takes one argument");
        }
        // No cleanup on failure: a failed render is abandoned, and a catch per level would cost stack (see Wrap).
        BeginCapture(discard: false);
        RunLoop(loop, args[0], callSpan);
        return EndCapture();
    }

    // ----- macros -----------------------------------------------------------------------------------------------------

    private Value DefineMacro(MacroStmt macro)
    {
        Dictionary<string, Value>? closure = null;
        if (macro.Closure.Length > 0)
        {
            var top = Top;
            closure = top.Closure ??= new Dictionary<string, Value>(StringComparer.Ordinal);
            foreach (var name in macro.Closure)
            {
                if (!closure.ContainsKey(name))
                {
                    closure[name] = Lookup(name) ?? Value.Undefined;
                }
            }
        }
        return Value.FromObject(new MacroValue(macro, _template, closure));
    }

    /// <summary>Runs a macro's body in a fresh scope chain (render context, captured variables, arguments).</summary>
    internal Value CallMacro(MacroValue macro, ReadOnlySpan<Value> args)
    {
        var stmt = macro.Stmt;
        var kwargs = args.Length > 0 && args[^1].AsObject is KwargsValue k ? k : null;
        if (kwargs is not null)
        {
            args = args[..^1];
        }
        if (args.Length > stmt.Parameters.Length)
        {
            throw new TemplateError(ErrorKind.TooManyArguments, null);
        }
        var used = new HashSet<string>(StringComparer.Ordinal);
        var values = new Value[stmt.Parameters.Length];
        for (var i = 0; i < values.Length; i++)
        {
            var name = stmt.Parameters[i].Name;
            Value kwarg = default;
            var hasKwarg = kwargs is not null && kwargs.TryGetAttr(name, out kwarg);
            if (i < args.Length && hasKwarg)
            {
                throw new TemplateError(ErrorKind.TooManyArguments, $"duplicate argument `{name}`");
            }
            if (i < args.Length)
            {
                values[i] = args[i];
            }
            else if (hasKwarg)
            {
                used.Add(name);
                values[i] = kwarg;
            }
        }
        Value? caller = null;
        if (stmt.UsesCaller)
        {
            used.Add("caller");
            caller = kwargs is not null && kwargs.TryGetAttr("caller", out var c) ? c : Value.Undefined;
        }
        if (kwargs is not null)
        {
            foreach (var key in kwargs.Items)
            {
                if (key.AsString is { } s && !used.Contains(s))
                {
                    throw new TemplateError(ErrorKind.TooManyArguments, $"unknown keyword argument `{s}`");
                }
            }
        }

        var savedFrames = _frames;
        var savedOuter = _outerDepth;
        var savedTemplate = _template;
        var savedBlocks = _blocks;
        var savedBlock = _currentBlock;
        var savedParent = _pendingParent;
        var savedOut = _out;
        var savedCaptures = _captures.Count;
        var output = new StringBuilder();
        if (Depth + MacroRecursionCost + 2 > RecursionLimit)
        {
            throw new TemplateError(ErrorKind.InvalidOperation, "recursion limit exceeded");
        }
        _outerDepth = Depth + MacroRecursionCost;
        _frames = [new Frame { Context = savedFrames[0].Context }];
        _template = macro.Template;
        _blocks = new Dictionary<string, BlockStack>(StringComparer.Ordinal);
        _currentBlock = null;
        _pendingParent = null;
        _out = output;
        try
        {
            PushFrame(new Frame { CapturedContext = macro.Closure });
            if (caller is { } callerValue)
            {
                Store("caller", callerValue);
            }
            // Parameters bind last to first; a default is evaluated (in the macro's scope) when its argument is missing.
            var firstDefault = stmt.Parameters.Length - stmt.Defaults.Length;
            for (var i = values.Length - 1; i >= 0; i--)
            {
                var value = values[i];
                if (i >= firstDefault && value.IsUndefined)
                {
                    value = Eval(stmt.Defaults[i - firstDefault]);
                }
                Store(stmt.Parameters[i].Name, value);
            }
            ExecBody(stmt.Body);
        }
        finally
        {
            while (_captures.Count > savedCaptures)
            {
                _captures.Pop();
            }
            _out = savedOut;
            _pendingParent = savedParent;
            _currentBlock = savedBlock;
            _blocks = savedBlocks;
            _template = savedTemplate;
            _frames = savedFrames;
            _outerDepth = savedOuter;
        }
        var text = output.ToString();
        return AutoEscapeMode != AutoEscape.None ? Value.FromSafeString(text) : Value.FromString(text);
    }
}
