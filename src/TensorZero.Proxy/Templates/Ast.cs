namespace TensorZero.Proxy.Templates;

// The parsed form of a template: the renderer walks this tree (it is built once per template, at compile time).
// Node shapes follow MiniJinja's AST so that its semantics (scoping, constant folding, undeclared variables) carry
// over one to one.

/// <summary>
/// An expression node. Its <see cref="Depth"/> is bounded at construction: chains like <c>a ~ b ~ c ...</c> or
/// <c>x|f|f|f...</c> parse in loops into left-nested trees that every later pass (analysis, rendering) walks
/// recursively, so an unbounded chain would overflow the stack instead of failing with an error.
/// </summary>
internal abstract class Expr
{
    /// <summary>The deepest expression tree accepted (MiniJinja bounds nesting too, at 150 parser levels).</summary>
    public const int MaxDepth = 500;

    protected Expr(Span span, int childDepth = 0)
    {
        Span = span;
        Depth = childDepth + 1;
        if (Depth > MaxDepth)
        {
            var error = new TemplateError(ErrorKind.SyntaxError, $"expression nests too deeply (more than {MaxDepth} levels of operators, filters, attributes or calls)");
            error.SetLocation("", span);
            throw error;
        }
    }

    public Span Span { get; }

    /// <summary>1 for a leaf, else 1 + the depth of the deepest child.</summary>
    public int Depth { get; }

    protected static int DepthOf(Expr? a, Expr? b = null, Expr? c = null, Expr? d = null) =>
        Math.Max(Math.Max(a?.Depth ?? 0, b?.Depth ?? 0), Math.Max(c?.Depth ?? 0, d?.Depth ?? 0));

    protected static int DepthOf(Expr[] items)
    {
        var depth = 0;
        foreach (var item in items)
        {
            depth = Math.Max(depth, item.Depth);
        }
        return depth;
    }

    protected static int DepthOf(CallArg[] args)
    {
        var depth = 0;
        foreach (var arg in args)
        {
            depth = Math.Max(depth, arg.Value.Depth);
        }
        return depth;
    }
}

/// <summary>A variable lookup.</summary>
internal sealed class VarExpr(Span span, string name) : Expr(span)
{
    public string Name { get; } = name;
}

/// <summary>A literal, or a subtree folded to a constant at parse time.</summary>
internal sealed class ConstExpr(Span span, Value value) : Expr(span)
{
    public Value Value { get; } = value;
}

/// <summary><c>a[start:stop:step]</c>.</summary>
internal sealed class SliceExpr(Span span, Expr target, Expr? start, Expr? stop, Expr? step) : Expr(span, DepthOf(target, start, stop, step))
{
    public Expr Target { get; } = target;
    public Expr? Start { get; } = start;
    public Expr? Stop { get; } = stop;
    public Expr? Step { get; } = step;
}

/// <summary>Unary operators.</summary>
internal enum UnaryOp : byte
{
    Not,
    Neg,
}

/// <summary><c>not x</c>, <c>-x</c>.</summary>
internal sealed class UnaryExpr(Span span, UnaryOp op, Expr operand) : Expr(span, operand.Depth)
{
    public UnaryOp Op { get; } = op;
    public Expr Operand { get; } = operand;
}

/// <summary>Binary operators.</summary>
internal enum BinaryOp : byte
{
    Eq,
    Ne,
    Lt,
    Lte,
    Gt,
    Gte,
    ScAnd,
    ScOr,
    Add,
    Sub,
    Mul,
    Div,
    FloorDiv,
    Rem,
    Pow,
    Concat,
    In,
}

/// <summary><c>a op b</c>.</summary>
internal sealed class BinaryExpr(Span span, BinaryOp op, Expr left, Expr right) : Expr(span, DepthOf(left, right))
{
    public BinaryOp Op { get; } = op;
    public Expr Left { get; } = left;
    public Expr Right { get; } = right;
}

/// <summary><c>a if test else b</c>; without <c>else</c> the false branch is a silent undefined.</summary>
internal sealed class IfExpr(Span span, Expr test, Expr whenTrue, Expr? whenFalse) : Expr(span, DepthOf(test, whenTrue, whenFalse))
{
    public Expr Test { get; } = test;
    public Expr WhenTrue { get; } = whenTrue;
    public Expr? WhenFalse { get; } = whenFalse;
}

/// <summary><c>value|name(args)</c>; in a <c>{% filter %}</c> block or a block <c>set</c> the input is the body.</summary>
internal sealed class FilterExpr(Span span, string name, Expr? input, CallArg[] args) : Expr(span, Math.Max(input?.Depth ?? 0, DepthOf(args)))
{
    public string Name { get; } = name;
    public Expr? Input { get; } = input;
    public CallArg[] Args { get; } = args;
}

/// <summary><c>value is name(args)</c>.</summary>
internal sealed class TestExpr(Span span, string name, Expr input, CallArg[] args) : Expr(span, Math.Max(input.Depth, DepthOf(args)))
{
    public string Name { get; } = name;
    public Expr Input { get; } = input;
    public CallArg[] Args { get; } = args;
}

/// <summary><c>value.name</c>.</summary>
internal sealed class GetAttrExpr(Span span, Expr target, string name) : Expr(span, target.Depth)
{
    public Expr Target { get; } = target;
    public string Name { get; } = name;
}

/// <summary><c>value[key]</c>.</summary>
internal sealed class GetItemExpr(Span span, Expr target, Expr key) : Expr(span, DepthOf(target, key))
{
    public Expr Target { get; } = target;
    public Expr Key { get; } = key;
}

/// <summary><c>callee(args)</c>: a function, a method (<c>a.b(...)</c>) or a block (<c>self.name()</c>).</summary>
internal sealed class CallExpr(Span span, Expr callee, CallArg[] args) : Expr(span, Math.Max(callee.Depth, DepthOf(args)))
{
    public Expr Callee { get; } = callee;
    public CallArg[] Args { get; } = args;
}

/// <summary><c>[a, b]</c> or a tuple <c>(a, b)</c> (MiniJinja has no separate tuple type).</summary>
internal sealed class ListExpr(Span span, Expr[] items) : Expr(span, DepthOf(items))
{
    public Expr[] Items { get; } = items;
}

/// <summary><c>{k: v}</c>.</summary>
internal sealed class MapExpr(Span span, Expr[] keys, Expr[] values) : Expr(span, Math.Max(DepthOf(keys), DepthOf(values)))
{
    public Expr[] Keys { get; } = keys;
    public Expr[] Values { get; } = values;
}

/// <summary>The kinds of call arguments.</summary>
internal enum CallArgKind : byte
{
    Positional,
    Keyword,
    PositionalSplat,
    KeywordSplat,
}

/// <summary>One argument of a call, filter or test.</summary>
internal readonly record struct CallArg(CallArgKind Kind, Expr Value, string? Name = null);

// ----- statements ------------------------------------------------------------------------------------------------------

/// <summary>A statement node.</summary>
internal abstract class Stmt(Span span)
{
    public Span Span { get; } = span;
}

/// <summary>Template text outside tags.</summary>
internal sealed class EmitRawStmt(Span span, string text) : Stmt(span)
{
    public string Text { get; } = text;
}

/// <summary><c>{{ expr }}</c>.</summary>
internal sealed class EmitExprStmt(Span span, Expr expr) : Stmt(span)
{
    public Expr Expr { get; } = expr;
}

/// <summary><c>{% for target in iter if filter recursive %}body{% else %}otherwise{% endfor %}</c>.</summary>
internal sealed class ForStmt(Span span, Expr target, Expr iterable, Expr? filter, bool recursive, Stmt[] body, Stmt[] elseBody) : Stmt(span)
{
    public Expr Target { get; } = target;
    public Expr Iterable { get; } = iterable;
    public Expr? Filter { get; } = filter;
    public bool Recursive { get; } = recursive;
    public Stmt[] Body { get; } = body;
    public Stmt[] ElseBody { get; } = elseBody;
}

/// <summary><c>{% if %}</c>; <c>elif</c> is a nested if in the false branch.</summary>
internal sealed class IfStmt(Span span, Expr condition, Stmt[] whenTrue, Stmt[] whenFalse) : Stmt(span)
{
    public Expr Condition { get; } = condition;
    public Stmt[] WhenTrue { get; } = whenTrue;
    public Stmt[] WhenFalse { get; } = whenFalse;
}

/// <summary><c>{% with a = 1, b = 2 %}body{% endwith %}</c>.</summary>
internal sealed class WithStmt(Span span, (Expr Target, Expr Value)[] assignments, Stmt[] body) : Stmt(span)
{
    public (Expr Target, Expr Value)[] Assignments { get; } = assignments;
    public Stmt[] Body { get; } = body;
}

/// <summary><c>{% set target = expr %}</c>.</summary>
internal sealed class SetStmt(Span span, Expr target, Expr value) : Stmt(span)
{
    public Expr Target { get; } = target;
    public Expr Value { get; } = value;
}

/// <summary><c>{% set target | filter %}body{% endset %}</c>.</summary>
internal sealed class SetBlockStmt(Span span, Expr target, Expr? filter, Stmt[] body) : Stmt(span)
{
    public Expr Target { get; } = target;
    public Expr? Filter { get; } = filter;
    public Stmt[] Body { get; } = body;
}

/// <summary><c>{% autoescape expr %}body{% endautoescape %}</c>.</summary>
internal sealed class AutoEscapeStmt(Span span, Expr enabled, Stmt[] body) : Stmt(span)
{
    public Expr Enabled { get; } = enabled;
    public Stmt[] Body { get; } = body;
}

/// <summary><c>{% filter a|b %}body{% endfilter %}</c>.</summary>
internal sealed class FilterBlockStmt(Span span, Expr filter, Stmt[] body) : Stmt(span)
{
    public Expr Filter { get; } = filter;
    public Stmt[] Body { get; } = body;
}

/// <summary><c>{% block name %}body{% endblock %}</c>.</summary>
internal sealed class BlockStmt(Span span, string name, Stmt[] body) : Stmt(span)
{
    public string Name { get; } = name;
    public Stmt[] Body { get; } = body;
}

/// <summary><c>{% extends expr %}</c>.</summary>
internal sealed class ExtendsStmt(Span span, Expr name) : Stmt(span)
{
    public Expr Name { get; } = name;
}

/// <summary><c>{% include expr ignore missing %}</c>.</summary>
internal sealed class IncludeStmt(Span span, Expr name, bool ignoreMissing) : Stmt(span)
{
    public Expr Name { get; } = name;
    public bool IgnoreMissing { get; } = ignoreMissing;
}

/// <summary><c>{% import expr as name %}</c>.</summary>
internal sealed class ImportStmt(Span span, Expr template, Expr name) : Stmt(span)
{
    public Expr Template { get; } = template;
    public Expr Name { get; } = name;
}

/// <summary><c>{% from expr import a as b, c %}</c>.</summary>
internal sealed class FromImportStmt(Span span, Expr template, (VarExpr Name, VarExpr? Alias)[] names) : Stmt(span)
{
    public Expr Template { get; } = template;
    public (VarExpr Name, VarExpr? Alias)[] Names { get; } = names;
}

/// <summary>A macro declaration; a call block's body is a macro named <c>caller</c>.</summary>
internal sealed class MacroStmt(Span span, string name, VarExpr[] parameters, Expr[] defaults, Stmt[] body) : Stmt(span)
{
    public string Name { get; } = name;
    public VarExpr[] Parameters { get; } = parameters;

    /// <summary>Defaults of the last <c>Defaults.Length</c> parameters.</summary>
    public Expr[] Defaults { get; } = defaults;

    public Stmt[] Body { get; } = body;

    /// <summary>Names the body reads but does not set: captured from the defining scope (set by the parser).</summary>
    public string[] Closure { get; set; } = [];

    /// <summary>Whether the body refers to <c>caller</c> (then a call block may pass one).</summary>
    public bool UsesCaller { get; set; }
}

/// <summary><c>{% call(args) macro(...) %}body{% endcall %}</c>.</summary>
internal sealed class CallBlockStmt(Span span, CallExpr call, MacroStmt caller) : Stmt(span)
{
    public CallExpr Call { get; } = call;
    public MacroStmt Caller { get; } = caller;
}

/// <summary><c>{% do call() %}</c>.</summary>
internal sealed class DoStmt(Span span, CallExpr call) : Stmt(span)
{
    public CallExpr Call { get; } = call;
}

/// <summary><c>{% continue %}</c>.</summary>
internal sealed class ContinueStmt(Span span) : Stmt(span);

/// <summary><c>{% break %}</c>.</summary>
internal sealed class BreakStmt(Span span) : Stmt(span);
