using System.Collections.Frozen;
using System.Text.Json;

namespace TensorZero.Proxy.Templates;

/// <summary>
/// A source template: <see cref="Name"/> is how it is referenced (by the variant config and by
/// <c>{% include %}</c>); <see cref="Path"/> is the file it came from, for error messages.
/// </summary>
internal sealed record TemplateSource(string Name, string Text, string? Path = null);

/// <summary>
/// Engine settings. <see cref="TensorZero"/> is how TensorZero configures MiniJinja (<c>Environment::new()</c> plus
/// strict undefined): no trim_blocks/lstrip_blocks, trailing newline dropped, auto-escape by file extension.
/// </summary>
internal sealed record TemplateOptions
{
    public static TemplateOptions TensorZero { get; } = new();

    /// <summary>Undefined values fail when printed, iterated, compared or tested for truth (MiniJinja's Strict).</summary>
    public bool StrictUndefined { get; init; } = true;

    public WhitespaceOptions Whitespace { get; init; }

    /// <summary>
    /// How a template that is not in the set fails at render time. TensorZero's loader fails with an error that even
    /// <c>ignore missing</c> does not ignore; plain MiniJinja reports "template not found", which it does ignore.
    /// </summary>
    public bool MissingTemplatesAsNotFound { get; init; }
}

/// <summary>One parsed template, ready to render any number of times (concurrently).</summary>
internal sealed class CompiledTemplate
{
    private readonly string _text;

    public CompiledTemplate(TemplateSource source, Stmt[] body)
    {
        Name = source.Name;
        Path = source.Path;
        _text = source.Text;
        Body = body;
        var blocks = new Dictionary<string, BlockStmt>(StringComparer.Ordinal);
        CollectBlocks(body, blocks);
        Blocks = blocks.ToFrozenDictionary(StringComparer.Ordinal);
        InitialAutoEscape = AutoEscapeFor(source.Name);
        SizeHint = Math.Clamp(source.Text.Length * 2, 64, 1 << 16);
        UndeclaredTopLevel = Analysis.UndeclaredVariables(body, nested: false).ToFrozenSet(StringComparer.Ordinal);
        UndeclaredNested = Analysis.UndeclaredVariables(body, nested: true).ToFrozenSet(StringComparer.Ordinal);
    }

    public string Name { get; }
    public string? Path { get; }
    public Stmt[] Body { get; }
    public FrozenDictionary<string, BlockStmt> Blocks { get; }
    public AutoEscape InitialAutoEscape { get; }

    /// <summary>The initial capacity of the output buffer.</summary>
    public int SizeHint { get; }

    public FrozenSet<string> UndeclaredTopLevel { get; }
    public FrozenSet<string> UndeclaredNested { get; }

    /// <summary>The source text of a span (for error messages).</summary>
    public string SourceText(Span span)
    {
        var start = Math.Clamp(span.StartOffset, 0, _text.Length);
        var end = Math.Clamp(span.EndOffset, start, _text.Length);
        return _text[start..end];
    }

    // MiniJinja's default auto-escape callback: by extension, ignoring a final .j2/.jinja/.jinja2.
    private static AutoEscape AutoEscapeFor(string name)
    {
        foreach (var ignored in (ReadOnlySpan<string>)[".j2", ".jinja2", ".jinja"])
        {
            if (name.EndsWith(ignored, StringComparison.Ordinal))
            {
                name = name[..^ignored.Length];
                break;
            }
        }
        var dot = name.LastIndexOf('.');
        return (dot < 0 ? name : name[(dot + 1)..]) switch
        {
            "html" or "htm" or "xml" => AutoEscape.Html,
            "json" or "json5" or "js" or "yaml" or "yml" => AutoEscape.Json,
            _ => AutoEscape.None,
        };
    }

    private static void CollectBlocks(Stmt[] body, Dictionary<string, BlockStmt> blocks)
    {
        foreach (var stmt in body)
        {
            switch (stmt)
            {
                case BlockStmt b:
                    blocks[b.Name] = b;
                    CollectBlocks(b.Body, blocks);
                    break;
                case ForStmt f:
                    CollectBlocks(f.Body, blocks);
                    CollectBlocks(f.ElseBody, blocks);
                    break;
                case IfStmt i:
                    CollectBlocks(i.WhenTrue, blocks);
                    CollectBlocks(i.WhenFalse, blocks);
                    break;
                case WithStmt w:
                    CollectBlocks(w.Body, blocks);
                    break;
                case SetBlockStmt s:
                    CollectBlocks(s.Body, blocks);
                    break;
                case AutoEscapeStmt a:
                    CollectBlocks(a.Body, blocks);
                    break;
                case FilterBlockStmt f:
                    CollectBlocks(f.Body, blocks);
                    break;
            }
        }
    }
}

/// <summary>
/// A compiled set of MiniJinja templates, rendered with TensorZero's settings (strict undefined, MiniJinja's default
/// whitespace handling and filters). Compile once at config load; rendering is thread-safe.
/// </summary>
internal sealed class TemplateSet
{
    private readonly FrozenDictionary<string, CompiledTemplate> _templates;
    private readonly bool _hasResolver;

    private TemplateSet(FrozenDictionary<string, CompiledTemplate> templates, bool hasResolver, TemplateOptions options, IReadOnlyList<string> warnings)
    {
        _templates = templates;
        _hasResolver = hasResolver;
        Options = options;
        Warnings = warnings;
    }

    public TemplateOptions Options { get; }

    /// <summary>
    /// Templates referenced by name (include, import, extends) that neither the set nor the resolver had. As in
    /// TensorZero, this is not a load error: rendering a template fails when it reaches such a reference.
    /// </summary>
    public IReadOnlyList<string> Warnings { get; }

    /// <summary>
    /// Parses every template and every template they load by a literal name (through <paramref name="includeResolver"/>,
    /// which returns the text for a name, or null when not found or not allowed). Throws a <see cref="TemplateException"/>
    /// listing every template that does not parse, with its location, and (when a resolver is given) every load whose
    /// name is computed at run time, which TensorZero also rejects when template_filesystem_access is on.
    /// </summary>
    public static TemplateSet Compile(IReadOnlyList<TemplateSource> templates, Func<string, string?>? includeResolver = null) =>
        Compile(templates, includeResolver, TemplateOptions.TensorZero);

    /// <summary>Compiles with explicit engine settings (MiniJinja conformance tests use its lenient defaults).</summary>
    internal static TemplateSet Compile(IReadOnlyList<TemplateSource> templates, Func<string, string?>? includeResolver, TemplateOptions options)
    {
        var errors = new List<string>();
        var warnings = new List<string>();
        var compiled = new Dictionary<string, CompiledTemplate>(StringComparer.Ordinal);
        var pending = new Queue<CompiledTemplate>();
        var attempted = new HashSet<string>(StringComparer.Ordinal);

        void Add(TemplateSource source)
        {
            try
            {
                var template = new CompiledTemplate(source, Parser.Parse(source.Text, options.Whitespace));
                compiled[source.Name] = template;
                pending.Enqueue(template);
            }
            catch (TemplateError error)
            {
                errors.Add(Describe(source.Name, source.Path, error));
            }
        }

        foreach (var source in templates)
        {
            if (!attempted.Add(source.Name))
            {
                errors.Add($"template '{source.Name}' is defined more than once");
                continue;
            }
            Add(source);
        }

        while (pending.TryDequeue(out var template))
        {
            foreach (var load in Analysis.CollectLoads(template.Body))
            {
                if (load.Dynamic is { } reason && includeResolver is not null)
                {
                    errors.Add(Where(template.Name, template.Path, load.Span)
                        + $": the template to load is not a string literal ({reason}: `{template.SourceText(load.Span)}`); "
                        + "with template file access, TensorZero requires every include, import and extends to name its template literally");
                }
                foreach (var name in load.Names)
                {
                    if (!attempted.Add(name))
                    {
                        continue;
                    }
                    string? text;
                    try
                    {
                        text = includeResolver?.Invoke(name);
                    }
                    catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                    {
                        errors.Add(Where(template.Name, template.Path, load.Span) + $": could not read template '{name}': {e.Message}");
                        continue;
                    }
                    if (text is null)
                    {
                        warnings.Add(Where(template.Name, template.Path, load.Span) + $": template '{name}' was not found");
                        continue;
                    }
                    Add(new TemplateSource(name, text));
                }
            }
        }

        if (errors.Count > 0)
        {
            throw new TemplateException(errors);
        }
        return new TemplateSet(compiled.ToFrozenDictionary(StringComparer.Ordinal), includeResolver is not null, options, warnings);
    }

    private static string Where(string name, string? path, Span span) =>
        $"template '{name}'{(path is null || path == name ? "" : $" ({path})")}, line {span.StartLine}, column {span.StartColumn + 1}";

    private static string Describe(string name, string? path, TemplateError error) =>
        $"{Where(name, path, error.Span ?? default)}: {TemplateError.Describe(error.Kind)}: {error.Detail}";

    /// <summary>The names of all templates in the set (configured and loaded ones).</summary>
    public IEnumerable<string> Names => _templates.Keys;

    public bool Contains(string name) => _templates.ContainsKey(name);

    /// <summary>
    /// The top-level variables a template reads without setting them (MiniJinja's <c>undeclared_variables(false)</c>).
    /// </summary>
    public IReadOnlySet<string> UndeclaredVariables(string name) => UndeclaredVariables(name, nested: false);

    /// <summary>
    /// With <paramref name="nested"/>, attribute paths on undeclared variables are reported whole (<c>user.name</c>): this is
    /// <c>undeclared_variables(true)</c>, what TensorZero's check of templates without a schema uses.
    /// </summary>
    public IReadOnlySet<string> UndeclaredVariables(string name, bool nested)
    {
        var template = Find(name) ?? throw new KeyNotFoundException($"template '{name}' is not in the set");
        return nested ? template.UndeclaredNested : template.UndeclaredTopLevel;
    }

    /// <summary>
    /// Renders a template with a JSON context (an object's members are the variables; null or any other value defines
    /// none). Throws <see cref="TemplateRenderException"/> when rendering fails.
    /// </summary>
    public string Render(string name, JsonElement? context) =>
        Render(name, context is { } c ? Value.FromJson(c) : Value.Undefined);

    internal string Render(string name, Value context)
    {
        if (Find(name) is not { } template)
        {
            throw new TemplateRenderException(name, new TemplateError(ErrorKind.TemplateNotFound, $"template \"{name}\" does not exist"));
        }
        try
        {
            return new Renderer(this, template).Render(context);
        }
        catch (TemplateError error)
        {
            throw new TemplateRenderException(name, error);
        }
    }

    internal CompiledTemplate? Find(string name) => _templates.GetValueOrDefault(name);

    /// <summary>The error for a reference to a template the set does not have (see <see cref="TemplateOptions.MissingTemplatesAsNotFound"/>).</summary>
    internal TemplateError MissingTemplateError(string name)
    {
        if (Options.MissingTemplatesAsNotFound)
        {
            return new TemplateError(ErrorKind.TemplateNotFound, $"template \"{name}\" does not exist");
        }
        return new TemplateError(ErrorKind.InvalidOperation, _hasResolver
            ? $"Could not load template '{name}': the file was missing."
            : $"Could not load template '{name}' - if this a dynamic template included from the filesystem, please set `gateway.template_filesystem_access.enabled` to `true`");
    }
}
