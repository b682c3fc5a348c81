namespace TensorZero.Proxy.Templates;

/// <summary>
/// Parses tokens into the AST with MiniJinja's grammar and precedence (ternary &lt; or &lt; and &lt; not &lt; comparisons
/// and <c>in</c> &lt; + - &lt; ~ &lt; * / // % &lt; ** &lt; unary minus, postfix, filters and tests). Constant
/// subexpressions are folded as MiniJinja folds them. The first syntax error ends parsing, as in MiniJinja.
/// </summary>
internal sealed class Parser
{
    private const int MaxRecursion = 150;
    private static readonly HashSet<string> ReservedNames = ["true", "True", "false", "False", "none", "None", "loop", "self"];

    private readonly List<Token> _tokens;
    private int _position;
    private int _depth;

    // Each elif nests an if in the previous one's else branch; MiniJinja does not count them towards its recursion
    // limit, so they get a limit of their own that keeps the nested ifs safe for every recursive pass.
    private const int MaxElifs = Expr.MaxDepth;
    private int _elifDepth;
    private bool _inLoop;
    private bool _inMacro;
    private readonly HashSet<string> _blocks = new(StringComparer.Ordinal);
    private Span _lastSpan;

    private Parser(List<Token> tokens)
    {
        _tokens = tokens;
    }

    /// <summary>Parses a template; throws a <see cref="TemplateError"/> (kind SyntaxError) with the location.</summary>
    public static Stmt[] Parse(string source, WhitespaceOptions whitespace)
    {
        var parser = new Parser(Lexer.Tokenize(source, whitespace));
        return parser.Subparse(static _ => false, null);
    }

    // ----- token stream ----------------------------------------------------------------------------------------

    private Token? Current
    {
        get
        {
            if (_position >= _tokens.Count)
            {
                return null;
            }
            var token = _tokens[_position];
            return token.Kind == TokenKind.Error ? throw Error(token.Text!, token.Span) : token;
        }
    }

    private Span CurrentSpan => Current?.Span ?? _lastSpan;

    private Token? Next()
    {
        var token = Current;
        if (token is { } t)
        {
            _position++;
            _lastSpan = t.Span;
        }
        return token;
    }

    private bool Matches(TokenKind kind) => Current is { } t && t.Kind == kind;

    private bool MatchesIdent(string name) => Current is { Kind: TokenKind.Ident } t && t.Text == name;

    private bool Skip(TokenKind kind)
    {
        if (Matches(kind))
        {
            Next();
            return true;
        }
        return false;
    }

    private bool SkipIdent(string name)
    {
        if (MatchesIdent(name))
        {
            Next();
            return true;
        }
        return false;
    }

    private Token Expect(TokenKind kind, string expected)
    {
        var token = Next();
        if (token is { } t && t.Kind == kind)
        {
            return t;
        }
        throw Unexpected(token, expected);
    }

    private void ExpectIdent(string name)
    {
        var token = Next();
        if (token is not { Kind: TokenKind.Ident } t || t.Text != name)
        {
            throw Unexpected(token, $"`{name}`");
        }
    }

    private string ExpectIdentifier(out Span span)
    {
        var token = Next();
        if (token is { Kind: TokenKind.Ident } t)
        {
            span = t.Span;
            return t.Text!;
        }
        throw Unexpected(token, "identifier");
    }

    private TemplateError Unexpected(Token? token, string expected) => token is { } t
        ? Error($"unexpected {t.Describe()}, expected {expected}", t.Span)
        : Error($"unexpected end of input, expected {expected}", _lastSpan);

    private static TemplateError Error(string message, Span span)
    {
        var error = new TemplateError(ErrorKind.SyntaxError, message);
        error.SetLocation("", span);
        return error;
    }

    private Span Expand(Span start) => start.WithEnd(_lastSpan);

    private void Enter()
    {
        if (++_depth > MaxRecursion)
        {
            throw Error("template exceeds maximum recursion limits", CurrentSpan);
        }
    }

    // ----- statements --------------------------------------------------------------------------------------------

    // Parses template content until a block tag whose keyword satisfies `isEnd` (left as the current token), or the
    // end of input. `opened` names the tag being closed, for the error when the input ends first.
    private Stmt[] Subparse(Func<string, bool> isEnd, (string Keyword, string Closers, Span At)? opened)
    {
        var result = new List<Stmt>();
        while (Next() is { } token)
        {
            switch (token.Kind)
            {
                case TokenKind.TemplateData:
                    result.Add(new EmitRawStmt(token.Span, token.Text!));
                    break;
                case TokenKind.VariableStart:
                {
                    var expr = ParseExpr();
                    result.Add(new EmitExprStmt(Expand(token.Span), expr));
                    Expect(TokenKind.VariableEnd, "end of variable block");
                    break;
                }
                case TokenKind.BlockStart:
                {
                    if (Current is not { } keyword)
                    {
                        throw Error("unexpected end of input, expected keyword", _lastSpan);
                    }
                    if (keyword.Kind == TokenKind.Ident && isEnd(keyword.Text!))
                    {
                        return result.ToArray();
                    }
                    result.Add(ParseStatement());
                    Expect(TokenKind.BlockEnd, "end of block");
                    break;
                }
                default:
                    throw Unexpected(token, "template data or a tag");
            }
        }
        if (opened is { } o)
        {
            throw Error($"unexpected end of input, expected {o.Closers} (the `{o.Keyword}` on line {o.At.StartLine} is not closed)", _lastSpan);
        }
        return result.ToArray();
    }

    private Stmt ParseStatement()
    {
        Enter();
        var token = Next()!.Value;
        if (token.Kind != TokenKind.Ident)
        {
            throw Error($"unknown {token.Describe()}, expected statement", token.Span);
        }
        var start = token.Span;
        Stmt stmt = token.Text switch
        {
            "for" => ParseFor(start),
            "if" => ParseIf(start),
            "with" => ParseWith(start),
            "set" => ParseSet(start),
            "autoescape" => ParseAutoEscape(start),
            "filter" => ParseFilterBlock(start),
            "block" => ParseBlock(start),
            "extends" => new ExtendsStmt(Expand(start), ParseExpr()),
            "include" => ParseInclude(start),
            "import" => ParseImport(start),
            "from" => ParseFromImport(start),
            "macro" => ParseMacro(start),
            "call" => ParseCallBlock(start),
            "continue" => _inLoop ? new ContinueStmt(start) : throw Error("'continue' must be placed inside a loop", start),
            "break" => _inLoop ? new BreakStmt(start) : throw Error("'break' must be placed inside a loop", start),
            "do" => ParseDo(start),
            var name => throw Error($"unknown statement {name}", start),
        };
        _depth--;
        return stmt;
    }

    private Expr ParseAssignName(bool dotted)
    {
        var name = ExpectIdentifier(out var span);
        if (ReservedNames.Contains(name))
        {
            throw Error($"cannot assign to reserved variable name {name}", span);
        }
        Expr result = new VarExpr(span, name);
        if (dotted)
        {
            while (Skip(TokenKind.Dot))
            {
                var attr = ExpectIdentifier(out var attrSpan);
                result = new GetAttrExpr(attrSpan, result, attr);
            }
        }
        return result;
    }

    private Expr ParseAssignment(bool dotted)
    {
        var start = CurrentSpan;
        var items = new List<Expr>();
        var isTuple = false;
        while (true)
        {
            if (items.Count > 0)
            {
                Expect(TokenKind.Comma, "`,`");
            }
            if (Matches(TokenKind.ParenClose) || Matches(TokenKind.VariableEnd) || Matches(TokenKind.BlockEnd) || MatchesIdent("in"))
            {
                break;
            }
            if (Skip(TokenKind.ParenOpen))
            {
                var inner = ParseAssignment(dotted);
                Expect(TokenKind.ParenClose, "`)`");
                items.Add(inner);
            }
            else
            {
                items.Add(ParseAssignName(dotted));
            }
            if (Matches(TokenKind.Comma))
            {
                isTuple = true;
            }
            else
            {
                break;
            }
        }
        if (!isTuple && items.Count == 1)
        {
            return items[0];
        }
        return new ListExpr(Expand(start), items.ToArray());
    }

    private ForStmt ParseFor(Span start)
    {
        var wasInLoop = _inLoop;
        _inLoop = true;
        var target = ParseAssignment(dotted: false);
        ExpectIdent("in");
        var iterable = ParseExprNoIf();
        var filter = SkipIdent("if") ? ParseExpr() : null;
        var recursive = SkipIdent("recursive");
        Expect(TokenKind.BlockEnd, "end of block");
        var opened = ("for", "`endfor`", start);
        var body = Subparse(static k => k is "endfor" or "else", opened);
        var elseBody = Array.Empty<Stmt>();
        if (SkipIdent("else"))
        {
            Expect(TokenKind.BlockEnd, "end of block");
            elseBody = Subparse(static k => k == "endfor", opened);
        }
        Next();
        _inLoop = wasInLoop;
        return new ForStmt(Expand(start), target, iterable, filter, recursive, body, elseBody);
    }

    private IfStmt ParseIf(Span start)
    {
        var condition = ParseExprNoIf();
        Expect(TokenKind.BlockEnd, "end of block");
        var opened = ("if", "`endif`", start);
        var whenTrue = Subparse(static k => k is "endif" or "else" or "elif", opened);
        var whenFalse = Array.Empty<Stmt>();
        var closer = Next();
        if (closer is { Kind: TokenKind.Ident, Text: "else" })
        {
            Expect(TokenKind.BlockEnd, "end of block");
            whenFalse = Subparse(static k => k == "endif", opened);
            Next();
        }
        else if (closer is { Kind: TokenKind.Ident, Text: "elif" } elif)
        {
            if (++_elifDepth > MaxElifs)
            {
                throw Error($"too many elif branches (more than {MaxElifs})", elif.Span);
            }
            whenFalse = [ParseIf(elif.Span)];
            _elifDepth--;
        }
        return new IfStmt(Expand(start), condition, whenTrue, whenFalse);
    }

    private WithStmt ParseWith(Span start)
    {
        var assignments = new List<(Expr, Expr)>();
        while (!Matches(TokenKind.BlockEnd))
        {
            if (assignments.Count > 0)
            {
                Expect(TokenKind.Comma, "comma");
            }
            Expr target;
            if (Skip(TokenKind.ParenOpen))
            {
                target = ParseAssignment(dotted: false);
                Expect(TokenKind.ParenClose, "`)`");
            }
            else
            {
                target = ParseAssignName(dotted: false);
            }
            Expect(TokenKind.Assign, "assignment operator");
            assignments.Add((target, ParseExpr()));
        }
        Expect(TokenKind.BlockEnd, "end of block");
        var body = Subparse(static k => k == "endwith", ("with", "`endwith`", start));
        Next();
        return new WithStmt(Expand(start), assignments.ToArray(), body);
    }

    private Stmt ParseSet(Span start)
    {
        var target = ParseAssignment(dotted: true);
        if (Matches(TokenKind.BlockEnd) || Matches(TokenKind.Pipe))
        {
            var filter = Skip(TokenKind.Pipe) ? ParseFilterChain() : null;
            Expect(TokenKind.BlockEnd, "end of block");
            var body = Subparse(static k => k == "endset", ("set", "`endset`", start));
            Next();
            return new SetBlockStmt(Expand(start), target, filter, body);
        }
        Expect(TokenKind.Assign, "assignment operator");
        var value = ParseExpr();
        if (Skip(TokenKind.Comma))
        {
            var tupleStart = CurrentSpan;
            var items = new List<Expr> { value };
            while (!Matches(TokenKind.BlockEnd))
            {
                items.Add(ParseExpr());
                if (!Skip(TokenKind.Comma))
                {
                    break;
                }
            }
            value = MakeList(Expand(tupleStart), items.ToArray());
        }
        return new SetStmt(Expand(start), target, value);
    }

    private BlockStmt ParseBlock(Span start)
    {
        if (_inMacro)
        {
            throw Error("block tags in macros are not allowed", start);
        }
        var wasInLoop = _inLoop;
        _inLoop = false;
        var name = ExpectIdentifier(out var nameSpan);
        if (!_blocks.Add(name))
        {
            throw Error($"block '{name}' defined twice", nameSpan);
        }
        Expect(TokenKind.BlockEnd, "end of block");
        var body = Subparse(static k => k == "endblock", ("block", "`endblock`", start));
        Next();
        if (Current is { Kind: TokenKind.Ident } trailing)
        {
            if (trailing.Text != name)
            {
                throw Error($"mismatching name on block. Got `{trailing.Text}`, expected `{name}`", trailing.Span);
            }
            Next();
        }
        _inLoop = wasInLoop;
        return new BlockStmt(Expand(start), name, body);
    }

    private AutoEscapeStmt ParseAutoEscape(Span start)
    {
        var enabled = ParseExpr();
        Expect(TokenKind.BlockEnd, "end of block");
        var body = Subparse(static k => k == "endautoescape", ("autoescape", "`endautoescape`", start));
        Next();
        return new AutoEscapeStmt(Expand(start), enabled, body);
    }

    private Expr ParseFilterChain()
    {
        Expr? filter = null;
        while (!Matches(TokenKind.BlockEnd))
        {
            if (filter is not null)
            {
                Expect(TokenKind.Pipe, "`|`");
            }
            var (name, span) = ParseFilterTestName();
            var args = Matches(TokenKind.ParenOpen) ? ParseArgs() : [];
            filter = new FilterExpr(Expand(span), name, filter, args);
        }
        return filter ?? throw Error("expected a filter", CurrentSpan);
    }

    private FilterBlockStmt ParseFilterBlock(Span start)
    {
        var filter = ParseFilterChain();
        Expect(TokenKind.BlockEnd, "end of block");
        var body = Subparse(static k => k == "endfilter", ("filter", "`endfilter`", start));
        Next();
        return new FilterBlockStmt(Expand(start), filter, body);
    }

    private IncludeStmt ParseInclude(Span start)
    {
        var name = ParseExpr();
        var skippedContext = SkipContextMarker();
        var ignoreMissing = false;
        if (SkipIdent("ignore"))
        {
            ExpectIdent("missing");
            if (!skippedContext)
            {
                SkipContextMarker();
            }
            ignoreMissing = true;
        }
        return new IncludeStmt(Expand(start), name, ignoreMissing);
    }

    private ImportStmt ParseImport(Span start)
    {
        var template = ParseExpr();
        ExpectIdent("as");
        var name = ParseExpr();
        if (name is not VarExpr)
        {
            throw Error("expected a name after `as`", name.Span);
        }
        SkipContextMarker();
        return new ImportStmt(Expand(start), template, name);
    }

    private FromImportStmt ParseFromImport(Span start)
    {
        var template = ParseExpr();
        var names = new List<(VarExpr, VarExpr?)>();
        ExpectIdent("import");
        while (true)
        {
            if (SkipContextMarker() || Matches(TokenKind.BlockEnd))
            {
                break;
            }
            if (names.Count > 0)
            {
                Expect(TokenKind.Comma, "`,`");
            }
            if (SkipContextMarker() || Matches(TokenKind.BlockEnd))
            {
                break;
            }
            var name = (VarExpr)ParseAssignName(dotted: false);
            var alias = SkipIdent("as") ? (VarExpr)ParseAssignName(dotted: false) : null;
            names.Add((name, alias));
        }
        return new FromImportStmt(Expand(start), template, names.ToArray());
    }

    // `with context` / `without context` mean nothing in MiniJinja; they are accepted for Jinja2 compatibility.
    private bool SkipContextMarker()
    {
        if (SkipIdent("with") || SkipIdent("without"))
        {
            ExpectIdent("context");
            return true;
        }
        return false;
    }

    private (VarExpr[] Args, Expr[] Defaults) ParseMacroParameters()
    {
        var args = new List<VarExpr>();
        var defaults = new List<Expr>();
        while (true)
        {
            if (Skip(TokenKind.ParenClose))
            {
                break;
            }
            if (args.Count > 0)
            {
                Expect(TokenKind.Comma, "`,`");
                if (Skip(TokenKind.ParenClose))
                {
                    break;
                }
            }
            args.Add((VarExpr)ParseAssignName(dotted: false));
            if (Skip(TokenKind.Assign))
            {
                defaults.Add(ParseExpr());
            }
            else if (defaults.Count > 0)
            {
                Expect(TokenKind.Assign, "`=`");
            }
        }
        return (args.ToArray(), defaults.ToArray());
    }

    private MacroStmt ParseMacroBody(Span start, string? name, VarExpr[] args, Expr[] defaults)
    {
        Expect(TokenKind.BlockEnd, "end of block");
        var wasInLoop = _inLoop;
        var wasInMacro = _inMacro;
        _inLoop = false;
        _inMacro = true;
        var body = name is not null
            ? Subparse(static k => k == "endmacro", ("macro", "`endmacro`", start))
            : Subparse(static k => k == "endcall", ("call", "`endcall`", start));
        _inMacro = wasInMacro;
        _inLoop = wasInLoop;
        Next();
        var macro = new MacroStmt(Expand(start), name ?? "caller", args, defaults, body);
        var closure = Analysis.MacroClosure(macro);
        macro.UsesCaller = closure.Remove("caller");
        macro.Closure = closure.ToArray();
        return macro;
    }

    private MacroStmt ParseMacro(Span start)
    {
        var name = ExpectIdentifier(out _);
        Expect(TokenKind.ParenOpen, "`(`");
        var (args, defaults) = ParseMacroParameters();
        return ParseMacroBody(start, name, args, defaults);
    }

    private CallBlockStmt ParseCallBlock(Span start)
    {
        var (args, defaults) = Skip(TokenKind.ParenOpen) ? ParseMacroParameters() : ([], []);
        var expr = ParseExpr();
        if (expr is not CallExpr call)
        {
            throw Error($"expected call expression in call block, got {Describe(expr)}", expr.Span);
        }
        var caller = ParseMacroBody(start, null, args, defaults);
        return new CallBlockStmt(Expand(start), call, caller);
    }

    private DoStmt ParseDo(Span start)
    {
        var expr = ParseExpr();
        return expr is CallExpr call
            ? new DoStmt(Expand(start), call)
            : throw Error($"expected call expression in call block, got {Describe(expr)}", expr.Span);
    }

    private static string Describe(Expr expr) => expr switch
    {
        VarExpr => "variable",
        ConstExpr => "constant",
        SliceExpr or GetItemExpr => "subscript",
        UnaryExpr or BinaryExpr => "operator",
        IfExpr => "if expression",
        FilterExpr => "filter expression",
        TestExpr => "test expression",
        GetAttrExpr => "attribute",
        CallExpr => "call",
        ListExpr => "list literal",
        _ => "map literal",
    };

    // ----- expressions -----------------------------------------------------------------------------------------

    private Expr ParseExpr()
    {
        Enter();
        var expr = ParseIfExpr();
        _depth--;
        return expr;
    }

    private Expr ParseExprNoIf() => ParseOr();

    private Expr ParseIfExpr()
    {
        var start = _lastSpan;
        var expr = ParseOr();
        while (SkipIdent("if"))
        {
            var test = ParseOr();
            var otherwise = SkipIdent("else") ? ParseIfExpr() : null;
            expr = new IfExpr(Expand(start), test, expr, otherwise);
            start = _lastSpan;
        }
        return expr;
    }

    private Expr ParseOr()
    {
        var start = CurrentSpan;
        var left = ParseAnd();
        while (SkipIdent("or"))
        {
            left = MakeBinary(Expand(start), BinaryOp.ScOr, left, ParseAnd());
        }
        return left;
    }

    private Expr ParseAnd()
    {
        var start = CurrentSpan;
        var left = ParseNot();
        while (SkipIdent("and"))
        {
            left = MakeBinary(Expand(start), BinaryOp.ScAnd, left, ParseNot());
        }
        return left;
    }

    private Expr ParseNot()
    {
        var start = CurrentSpan;
        if (SkipIdent("not"))
        {
            return MakeUnary(Expand(start), UnaryOp.Not, ParseNot());
        }
        return ParseCompare();
    }

    private Expr ParseCompare()
    {
        var start = _lastSpan;
        var expr = ParseMath1();
        while (true)
        {
            BinaryOp op;
            var negated = false;
            switch (Current)
            {
                case { Kind: TokenKind.Eq }: op = BinaryOp.Eq; break;
                case { Kind: TokenKind.Ne }: op = BinaryOp.Ne; break;
                case { Kind: TokenKind.Lt }: op = BinaryOp.Lt; break;
                case { Kind: TokenKind.Lte }: op = BinaryOp.Lte; break;
                case { Kind: TokenKind.Gt }: op = BinaryOp.Gt; break;
                case { Kind: TokenKind.Gte }: op = BinaryOp.Gte; break;
                case { Kind: TokenKind.Ident, Text: "in" }: op = BinaryOp.In; break;
                case { Kind: TokenKind.Ident, Text: "not" }:
                    Next();
                    ExpectIdent("in");
                    negated = true;
                    op = BinaryOp.In;
                    break;
                default:
                    return expr;
            }
            if (!negated)
            {
                Next();
            }
            expr = MakeBinary(Expand(start), op, expr, ParseMath1());
            if (negated)
            {
                expr = MakeUnary(Expand(start), UnaryOp.Not, expr);
            }
            start = _lastSpan;
        }
    }

    private Expr ParseMath1()
    {
        var start = CurrentSpan;
        var left = ParseConcat();
        while (true)
        {
            var op = Current switch
            {
                { Kind: TokenKind.Plus } => BinaryOp.Add,
                { Kind: TokenKind.Minus } => BinaryOp.Sub,
                _ => (BinaryOp?)null,
            };
            if (op is null)
            {
                return left;
            }
            Next();
            left = MakeBinary(Expand(start), op.Value, left, ParseConcat());
        }
    }

    private Expr ParseConcat()
    {
        var start = CurrentSpan;
        var left = ParseMath2();
        while (Skip(TokenKind.Tilde))
        {
            left = MakeBinary(Expand(start), BinaryOp.Concat, left, ParseMath2());
        }
        return left;
    }

    private Expr ParseMath2()
    {
        var start = CurrentSpan;
        var left = ParsePow();
        while (true)
        {
            var op = Current switch
            {
                { Kind: TokenKind.Mul } => BinaryOp.Mul,
                { Kind: TokenKind.Div } => BinaryOp.Div,
                { Kind: TokenKind.FloorDiv } => BinaryOp.FloorDiv,
                { Kind: TokenKind.Mod } => BinaryOp.Rem,
                _ => (BinaryOp?)null,
            };
            if (op is null)
            {
                return left;
            }
            Next();
            left = MakeBinary(Expand(start), op.Value, left, ParsePow());
        }
    }

    private Expr ParsePow()
    {
        var start = CurrentSpan;
        var left = ParseUnary();
        while (Skip(TokenKind.Pow))
        {
            left = MakeBinary(Expand(start), BinaryOp.Pow, left, ParseUnary());
        }
        return left;
    }

    private Expr ParseUnary()
    {
        var start = CurrentSpan;
        var expr = ParseUnaryOnly();
        expr = ParsePostfix(expr, start);
        return ParseFilterExpr(expr);
    }

    private Expr ParseUnaryOnly()
    {
        var start = CurrentSpan;
        if (Skip(TokenKind.Minus))
        {
            return MakeUnary(Expand(start), UnaryOp.Neg, ParseUnaryOnly());
        }
        return ParsePrimary();
    }

    private Expr ParsePostfix(Expr expr, Span start)
    {
        while (true)
        {
            var nextStart = CurrentSpan;
            switch (Current)
            {
                case { Kind: TokenKind.Dot }:
                {
                    Next();
                    var token = Next();
                    switch (token)
                    {
                        case { Kind: TokenKind.Ident } t:
                            expr = new GetAttrExpr(Expand(start), expr, t.Text!);
                            break;
                        case { Kind: TokenKind.Int } t:
                            expr = new GetItemExpr(Expand(start), expr, new ConstExpr(t.Span, Value.FromInt(t.Int)));
                            break;
                        default:
                            throw Unexpected(token, "identifier or integer");
                    }
                    break;
                }
                case { Kind: TokenKind.BracketOpen }:
                {
                    Next();
                    Expr? from = null, to = null, step = null;
                    var isSlice = false;
                    if (!Matches(TokenKind.Colon))
                    {
                        from = ParseExpr();
                    }
                    if (Skip(TokenKind.Colon))
                    {
                        isSlice = true;
                        if (!Matches(TokenKind.BracketClose) && !Matches(TokenKind.Colon))
                        {
                            to = ParseExpr();
                        }
                        if (Skip(TokenKind.Colon) && !Matches(TokenKind.BracketClose))
                        {
                            step = ParseExpr();
                        }
                    }
                    Expect(TokenKind.BracketClose, "`]`");
                    if (isSlice)
                    {
                        expr = new SliceExpr(Expand(start), expr, from, to, step);
                    }
                    else
                    {
                        expr = new GetItemExpr(Expand(start), expr, from ?? throw Error("empty subscript", _lastSpan));
                    }
                    break;
                }
                case { Kind: TokenKind.ParenOpen }:
                    expr = new CallExpr(Expand(start), expr, ParseArgs());
                    break;
                default:
                    return expr;
            }
            start = nextStart;
        }
    }

    private (string Name, Span Span) ParseFilterTestName()
    {
        var first = ExpectIdentifier(out var span);
        var name = first;
        while (Skip(TokenKind.Dot))
        {
            name += "." + ExpectIdentifier(out _);
            span = Expand(span);
        }
        return (name, span);
    }

    private Expr ParseFilterExpr(Expr expr)
    {
        while (true)
        {
            if (Skip(TokenKind.Pipe))
            {
                var (name, span) = ParseFilterTestName();
                var args = Matches(TokenKind.ParenOpen) ? ParseArgs() : [];
                expr = new FilterExpr(Expand(span), name, expr, args);
            }
            else if (SkipIdent("is"))
            {
                var negated = SkipIdent("not");
                var (name, span) = ParseFilterTestName();
                CallArg[] args;
                if (Matches(TokenKind.ParenOpen))
                {
                    args = ParseArgs();
                }
                else if (Current is { } t
                         && t.Kind is TokenKind.Ident or TokenKind.String or TokenKind.Int or TokenKind.Float or TokenKind.Plus
                             or TokenKind.Minus or TokenKind.BracketOpen or TokenKind.BraceOpen
                         && !(t.Kind == TokenKind.Ident && t.Text is "and" or "or" or "else" or "is"))
                {
                    // `x is divisibleby 3`: a test takes one bare argument.
                    var argStart = CurrentSpan;
                    var arg = ParsePostfix(ParseUnaryOnly(), argStart);
                    args = [new CallArg(CallArgKind.Positional, arg)];
                }
                else
                {
                    args = [];
                }
                expr = new TestExpr(Expand(span), name, expr, args);
                if (negated)
                {
                    expr = MakeUnary(Expand(span), UnaryOp.Not, expr);
                }
            }
            else
            {
                return expr;
            }
        }
    }

    private CallArg[] ParseArgs()
    {
        var args = new List<CallArg>();
        var hasKwargs = false;
        Expect(TokenKind.ParenOpen, "`(`");
        while (true)
        {
            if (Skip(TokenKind.ParenClose))
            {
                break;
            }
            if (args.Count > 0 || hasKwargs)
            {
                Expect(TokenKind.Comma, "`,`");
                if (Skip(TokenKind.ParenClose))
                {
                    break;
                }
            }
            if (Skip(TokenKind.Pow))
            {
                args.Add(new CallArg(CallArgKind.KeywordSplat, ParseExpr()));
                hasKwargs = true;
            }
            else if (Skip(TokenKind.Mul))
            {
                args.Add(new CallArg(CallArgKind.PositionalSplat, ParseExpr()));
            }
            else
            {
                var expr = ParseExpr();
                if (expr is VarExpr v && Skip(TokenKind.Assign))
                {
                    hasKwargs = true;
                    args.Add(new CallArg(CallArgKind.Keyword, ParseExprNoIf(), v.Name));
                }
                else if (hasKwargs)
                {
                    throw Error("non-keyword arg after keyword arg", expr.Span);
                }
                else
                {
                    args.Add(new CallArg(CallArgKind.Positional, expr));
                }
            }
            if (args.Count > 2000)
            {
                throw Error("Too many arguments in function call", _lastSpan);
            }
        }
        return args.ToArray();
    }

    private Expr ParsePrimary()
    {
        Enter();
        var token = Next();
        if (token is not { } t)
        {
            throw Unexpected(null, "expression");
        }
        Expr result;
        switch (t.Kind)
        {
            case TokenKind.Ident:
                result = t.Text switch
                {
                    "true" or "True" => new ConstExpr(t.Span, Value.True),
                    "false" or "False" => new ConstExpr(t.Span, Value.False),
                    "none" or "None" => new ConstExpr(t.Span, Value.None),
                    _ => new VarExpr(t.Span, t.Text!),
                };
                break;
            case TokenKind.String:
            {
                // Adjacent string literals concatenate, as in Python.
                var text = t.Text!;
                while (Matches(TokenKind.String))
                {
                    text += Next()!.Value.Text;
                }
                result = new ConstExpr(Expand(t.Span), Value.FromString(text));
                break;
            }
            case TokenKind.Int:
                result = new ConstExpr(t.Span, Value.FromInt(t.Int));
                break;
            case TokenKind.Float:
                result = new ConstExpr(t.Span, Value.FromDouble(t.Float));
                break;
            case TokenKind.ParenOpen:
                result = ParseTupleOrExpression(t.Span);
                break;
            case TokenKind.BracketOpen:
                result = ParseListLiteral(t.Span);
                break;
            case TokenKind.BraceOpen:
                result = ParseMapLiteral(t.Span);
                break;
            default:
                throw Error($"unexpected {t.Describe()}", t.Span);
        }
        _depth--;
        return result;
    }

    private Expr ParseListLiteral(Span start)
    {
        var items = new List<Expr>();
        while (true)
        {
            if (Skip(TokenKind.BracketClose))
            {
                break;
            }
            if (items.Count > 0)
            {
                Expect(TokenKind.Comma, "`,`");
                if (Skip(TokenKind.BracketClose))
                {
                    break;
                }
            }
            items.Add(ParseExpr());
        }
        return MakeList(Expand(start), items.ToArray());
    }

    private Expr ParseMapLiteral(Span start)
    {
        var keys = new List<Expr>();
        var values = new List<Expr>();
        while (true)
        {
            if (Skip(TokenKind.BraceClose))
            {
                break;
            }
            if (keys.Count > 0)
            {
                Expect(TokenKind.Comma, "`,`");
                if (Skip(TokenKind.BraceClose))
                {
                    break;
                }
            }
            keys.Add(ParseExpr());
            Expect(TokenKind.Colon, "`:`");
            values.Add(ParseExpr());
        }
        var span = Expand(start);
        if (keys.All(k => k is ConstExpr) && values.All(v => v is ConstExpr))
        {
            var entries = new List<KeyValuePair<Value, Value>>(keys.Count);
            for (var i = 0; i < keys.Count; i++)
            {
                entries.Add(new(((ConstExpr)keys[i]).Value, ((ConstExpr)values[i]).Value));
            }
            return new ConstExpr(span, Value.FromObject(MapValue.Create(entries)));
        }
        return new MapExpr(span, keys.ToArray(), values.ToArray());
    }

    private Expr ParseTupleOrExpression(Span start)
    {
        if (Skip(TokenKind.ParenClose))
        {
            return MakeList(Expand(start), []);
        }
        var expr = ParseExpr();
        if (Matches(TokenKind.Comma))
        {
            var items = new List<Expr> { expr };
            while (true)
            {
                if (Skip(TokenKind.ParenClose))
                {
                    break;
                }
                Expect(TokenKind.Comma, "`,`");
                if (Skip(TokenKind.ParenClose))
                {
                    break;
                }
                items.Add(ParseExpr());
            }
            return MakeList(Expand(start), items.ToArray());
        }
        Expect(TokenKind.ParenClose, "`)`");
        return expr;
    }

    // ----- constant folding (MiniJinja's `as_const`) ---------------------------------------------------------------

    private static Expr MakeList(Span span, Expr[] items)
    {
        if (items.All(i => i is ConstExpr))
        {
            return new ConstExpr(span, Value.FromList(items.Select(i => ((ConstExpr)i).Value).ToList()));
        }
        return new ListExpr(span, items);
    }

    private static Expr MakeUnary(Span span, UnaryOp op, Expr operand)
    {
        if (operand is ConstExpr c)
        {
            if (op == UnaryOp.Not)
            {
                return new ConstExpr(span, Value.FromBool(!c.Value.IsTrue));
            }
            if (c.Value.IsNumber && !(c.Value.IsInteger && c.Value.IntValue == Int128.MinValue))
            {
                return new ConstExpr(span, Values.Neg(c.Value));
            }
        }
        return new UnaryExpr(span, op, operand);
    }

    private static Expr MakeBinary(Span span, BinaryOp op, Expr left, Expr right)
    {
        if (left is ConstExpr l && right is ConstExpr r && Fold(op, l.Value, r.Value) is { } folded)
        {
            return new ConstExpr(span, folded);
        }
        return new BinaryExpr(span, op, left, right);
    }

    private static Value? Fold(BinaryOp op, Value a, Value b)
    {
        try
        {
            return op switch
            {
                BinaryOp.Add => Values.Add(a, b),
                BinaryOp.Sub => Values.Sub(a, b),
                BinaryOp.Mul => Values.Mul(a, b),
                BinaryOp.Div => Values.Div(a, b),
                BinaryOp.FloorDiv => Values.FloorDiv(a, b),
                BinaryOp.Rem => Values.Rem(a, b),
                BinaryOp.Pow => Values.Pow(a, b),
                BinaryOp.Concat => Values.Concat(a, b),
                BinaryOp.Eq => Value.FromBool(Values.Equal(a, b)),
                BinaryOp.Ne => Value.FromBool(!Values.Equal(a, b)),
                BinaryOp.Lt => Value.FromBool(Values.Compare(a, b) < 0),
                BinaryOp.Lte => Value.FromBool(Values.Compare(a, b) <= 0),
                BinaryOp.Gt => Value.FromBool(Values.Compare(a, b) > 0),
                BinaryOp.Gte => Value.FromBool(Values.Compare(a, b) >= 0),
                BinaryOp.In => Value.FromBool(Values.Contains(b, a)),
                // MiniJinja folds `and` to the right operand or false (not to the falsy operand, as at run time).
                BinaryOp.ScAnd => a.IsTrue && b.IsTrue ? b : Value.False,
                BinaryOp.ScOr => a.IsTrue ? a : b,
                _ => null,
            };
        }
        catch (TemplateError)
        {
            // Not foldable (for example 1/"a"): the error is reported when the expression is evaluated.
            return null;
        }
    }
}
