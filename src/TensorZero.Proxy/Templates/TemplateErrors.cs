using System.Runtime.CompilerServices;
using System.Text;

namespace TensorZero.Proxy.Templates;

/// <summary>The kinds of template errors (MiniJinja's <c>ErrorKind</c>; its description starts every message).</summary>
internal enum ErrorKind : byte
{
    InvalidOperation,
    SyntaxError,
    TemplateNotFound,
    TooManyArguments,
    MissingArgument,
    UnknownFilter,
    UnknownTest,
    UnknownFunction,
    UnknownMethod,
    BadEscape,
    UndefinedError,
    BadSerialization,
    BadInclude,
    EvalBlock,
    CannotUnpack,
    UnknownBlock,
}

/// <summary>
/// An error while parsing or rendering, before it is reported: kind, detail, and the template and location once known.
/// Printed as MiniJinja prints its errors: <c>undefined value: ... (in name:line)</c>.
/// </summary>
internal sealed class TemplateError : Exception
{
    public TemplateError(ErrorKind kind, string? detail, TemplateError? cause = null)
        : base(detail, cause)
    {
        Kind = kind;
        Detail = detail;
    }

    public ErrorKind Kind { get; }
    public string? Detail { get; set; }
    public string? TemplateName { get; private set; }
    public Span? Span { get; private set; }

    /// <summary>Whether a location is attached (errors get the location of the innermost node that raised them).</summary>
    public bool HasLocation => TemplateName is not null;

    public void SetLocation(string templateName, Span span)
    {
        TemplateName = templateName;
        Span = span;
    }

    public TemplateError? Cause => InnerException as TemplateError;

    private TemplateError? _outermost;

    /// <summary>The error to report: the outermost context added by <see cref="Wrap"/>, or this error.</summary>
    public TemplateError Reported => _outermost ?? this;

    /// <summary>
    /// Adds an outer error that names the context (for example "error in include x"), keeping this one as its cause.
    /// The renderer adds context from exception filters instead of catching and rethrowing, so that a failure deep in
    /// a recursion unwinds once (a rethrow per level would consume stack for every level).
    /// </summary>
    public void Wrap(ErrorKind kind, string detail, string templateName, Span span)
    {
        var wrapper = new TemplateError(kind, detail, Reported);
        wrapper.SetLocation(templateName, span);
        _outermost = wrapper;
    }

    public static string Describe(ErrorKind kind) => kind switch
    {
        ErrorKind.InvalidOperation => "invalid operation",
        ErrorKind.SyntaxError => "syntax error",
        ErrorKind.TemplateNotFound => "template not found",
        ErrorKind.TooManyArguments => "too many arguments",
        ErrorKind.MissingArgument => "missing argument",
        ErrorKind.UnknownFilter => "unknown filter",
        ErrorKind.UnknownTest => "unknown test",
        ErrorKind.UnknownFunction => "unknown function",
        ErrorKind.UnknownMethod => "unknown method",
        ErrorKind.BadEscape => "bad string escape",
        ErrorKind.UndefinedError => "undefined value",
        ErrorKind.BadSerialization => "could not serialize to value",
        ErrorKind.BadInclude => "could not render include",
        ErrorKind.EvalBlock => "could not render block",
        ErrorKind.CannotUnpack => "cannot unpack",
        _ => "unknown block",
    };

    /// <summary>The error alone: <c>kind: detail (in name:line)</c>.</summary>
    public string Summary
    {
        get
        {
            var sb = new StringBuilder(Describe(Kind));
            if (Detail is not null)
            {
                sb.Append(": ").Append(Detail);
            }
            if (TemplateName is not null)
            {
                sb.Append(" (in ").Append(TemplateName).Append(':').Append(Span?.StartLine ?? 0).Append(')');
            }
            return sb.ToString();
        }
    }

    /// <summary>The error and its causes (an error inside an include names the include, then what failed in it).</summary>
    public string FullMessage
    {
        get
        {
            var sb = new StringBuilder(Summary);
            for (var cause = Cause; cause is not null; cause = cause.Cause)
            {
                sb.Append("\ncaused by: ").Append(cause.Summary);
            }
            return sb.ToString();
        }
    }

    public override string Message => Summary;
}

/// <summary>Templates failed to compile; <see cref="Errors"/> lists every error, each with its template and location.</summary>
internal class TemplateException : Exception
{
    public TemplateException(IReadOnlyList<string> errors)
        : base(errors.Count == 1 ? errors[0] : $"{errors.Count} template errors:\n" + string.Join('\n', errors))
    {
        Errors = errors;
    }

    public IReadOnlyList<string> Errors { get; }
}

/// <summary>Rendering failed: the message names the template and line (and, for includes, what failed inside).</summary>
internal sealed class TemplateRenderException : Exception
{
    internal TemplateRenderException(string templateName, TemplateError reported)
        : this(templateName, reported.Reported, 0)
    {
    }

    private TemplateRenderException(string templateName, TemplateError error, int _)
        : base($"Could not render template `{templateName}`: {error.FullMessage}", error)
    {
        TemplateName = templateName;
        Kind = error.Kind;
        ErrorTemplateName = error.TemplateName;
        Line = error.Span?.StartLine;
    }

    /// <summary>The template <c>Render</c> was called for.</summary>
    public string TemplateName { get; }

    /// <summary>What went wrong (for example <see cref="ErrorKind.UndefinedError"/>).</summary>
    public ErrorKind Kind { get; }

    /// <summary>The template the error happened in (an included one, possibly).</summary>
    public string? ErrorTemplateName { get; }

    /// <summary>The line of the error in <see cref="ErrorTemplateName"/>, when known.</summary>
    public int? Line { get; }
}

/// <summary>
/// Turns recursion that would exhaust the thread's stack into a template error. Templates, includes and macros are
/// bounded by the renderer's recursion limit and expressions by <see cref="Expr.MaxDepth"/>, but values can nest
/// arbitrarily deep (a namespace can wrap a list in a list a hundred thousand times), and printing, serialising and
/// comparing them recurse; a stack overflow would end the process.
/// </summary>
internal static class StackGuard
{
    public static void Ensure()
    {
        if (!RuntimeHelpers.TryEnsureSufficientExecutionStack())
        {
            throw new TemplateError(ErrorKind.InvalidOperation, "recursion limit exceeded");
        }
    }
}
