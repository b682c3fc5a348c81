namespace TensorZero.Proxy.Configuration.Toml;

/// <summary>
/// The document is not valid TOML 1.0. <see cref="Exception.Message"/> is <c>"{Line}:{Column}: {Reason}"</c>.
/// </summary>
internal sealed class TomlParseException : FormatException
{
    /// <summary>Creates the exception for a problem at the given 1-based line and column.</summary>
    public TomlParseException(int line, int column, string reason)
        : base($"{line}:{column}: {reason}")
    {
        Line = line;
        Column = column;
        Reason = reason;
    }

    /// <summary>1-based line of the problem.</summary>
    public int Line { get; }

    /// <summary>1-based column of the problem, counted in characters (Unicode code points) of that line.</summary>
    public int Column { get; }

    /// <summary>The problem in plain words, without the position.</summary>
    public string Reason { get; }
}
