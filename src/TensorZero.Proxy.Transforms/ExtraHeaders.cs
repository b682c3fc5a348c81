using System.Text;

namespace TensorZero.Proxy.Transforms;

/// <summary>Which attempts a request-level extra entry applies to (TensorZero's entry shapes).</summary>
public enum ExtraEntryScope
{
    /// <summary>No qualifier: every attempt.</summary>
    Always,

    /// <summary><c>variant_name</c>: attempts of that variant.</summary>
    Variant,

    /// <summary><c>model_name</c> (+ optional <c>provider_name</c>): attempts at that model (and provider).</summary>
    ModelProvider,
}

/// <summary>The qualifier of one entry.</summary>
public readonly record struct ExtraEntryFilter(ExtraEntryScope Scope, string? VariantName = null, string? ModelName = null, string? ProviderName = null)
{
    /// <summary>The filter of configuration entries, which apply wherever they are configured.</summary>
    public static ExtraEntryFilter Always => default;

    /// <summary>Whether the entry applies to an attempt of <paramref name="variant"/> at <paramref name="model"/>/<paramref name="provider"/>.</summary>
    public bool Matches(string? variant, string model, string provider) => Scope switch
    {
        ExtraEntryScope.Always => true,
        ExtraEntryScope.Variant => variant is not null && string.Equals(VariantName, variant, StringComparison.Ordinal),
        _ => string.Equals(ModelName, model, StringComparison.Ordinal)
            && (ProviderName is null || string.Equals(ProviderName, provider, StringComparison.Ordinal)),
    };
}

/// <summary>One <c>extra_headers</c> entry: <c>{name, value}</c> sets, <c>{name, delete = true}</c> removes.</summary>
public sealed record ExtraHeaderEntry(ExtraEntryFilter Filter, string Name, string? Value)
{
    /// <summary>Whether the entry removes the header.</summary>
    public bool Delete => Value is null;

    /// <summary>The entry as shown in an error or a record: a credential's value is redacted.</summary>
    public override string ToString() => Delete ? $"{{name: '{Name}', delete: true}}" : $"{{name: '{Name}', value: '{CredentialHeaders.Display(Name, Value!)}'}}";
}

/// <summary>
/// A request's <c>tensorzero::extra_headers</c> as received and validated, not yet narrowed to an attempt
/// (TensorZero's <c>UnfilteredInferenceExtraHeaders</c>).
/// </summary>
public sealed class UnfilteredInferenceExtraHeaders
{
    /// <summary>No entries.</summary>
    public static UnfilteredInferenceExtraHeaders Empty { get; } = new([]);

    /// <summary>Wraps validated entries, in request order.</summary>
    public UnfilteredInferenceExtraHeaders(IReadOnlyList<ExtraHeaderEntry> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        Entries = entries;
    }

    /// <summary>The entries in request order.</summary>
    public IReadOnlyList<ExtraHeaderEntry> Entries { get; }

    /// <summary>The entries that apply to one attempt, in request order.</summary>
    public FilteredInferenceExtraHeaders Filter(string? variant, string model, string provider)
    {
        if (Entries.Count == 0)
        {
            return FilteredInferenceExtraHeaders.Empty;
        }
        var matching = new List<ExtraHeaderEntry>(Entries.Count);
        foreach (var entry in Entries)
        {
            if (entry.Filter.Matches(variant, model, provider))
            {
                matching.Add(entry);
            }
        }
        return matching.Count == 0 ? FilteredInferenceExtraHeaders.Empty : new FilteredInferenceExtraHeaders(matching);
    }
}

/// <summary>
/// The request's extra headers narrowed to one attempt (TensorZero's <c>FilteredInferenceExtraHeaders</c>):
/// what this attempt applies after the variant's and the provider's configured headers.
/// </summary>
public sealed class FilteredInferenceExtraHeaders
{
    /// <summary>No entries.</summary>
    public static FilteredInferenceExtraHeaders Empty { get; } = new([]);

    internal FilteredInferenceExtraHeaders(IReadOnlyList<ExtraHeaderEntry> entries)
    {
        Entries = entries;
    }

    /// <summary>The entries that apply, in request order.</summary>
    public IReadOnlyList<ExtraHeaderEntry> Entries { get; }

    /// <summary>
    /// The operations of one attempt, in the order they apply: variant configuration, provider
    /// configuration, then these request entries. Later wins; a delete removes what an earlier layer set.
    /// </summary>
    public IReadOnlyList<ExtraHeaderEntry> MergeAfter(IReadOnlyList<ExtraHeaderEntry> variantConfig, IReadOnlyList<ExtraHeaderEntry> providerConfig)
    {
        if (variantConfig.Count == 0 && providerConfig.Count == 0)
        {
            return Entries;
        }
        return [.. variantConfig, .. providerConfig, .. Entries];
    }
}

/// <summary>
/// The rules every extra header obeys (RFC 9110): the name is a token, the value has no control characters
/// (CR, LF and NUL above all: they would let a value smuggle another header), framing and hop-by-hop
/// headers can never be set, credential headers only where the provider allows it.
/// </summary>
public static class ExtraHeaderRules
{
    private static readonly string[] Forbidden =
        ["Host", "Content-Length", "Transfer-Encoding", "Connection", "Upgrade", "TE", "Trailer", "Keep-Alive"];

    /// <summary>Whether <paramref name="name"/> is an RFC 9110 token (<c>1*tchar</c>).</summary>
    public static bool IsToken(string name)
    {
        if (name.Length == 0)
        {
            return false;
        }
        foreach (var c in name)
        {
            var ok = c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9')
                || "!#$%&'*+-.^_`|~".Contains(c, StringComparison.Ordinal);
            if (!ok)
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>Whether the gateway never lets this header be set or deleted: framing, hop-by-hop, <c>Proxy-*</c>.</summary>
    public static bool IsForbidden(string name)
    {
        foreach (var forbidden in Forbidden)
        {
            if (string.Equals(forbidden, name, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }
        return name.StartsWith("Proxy-", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>
    /// Checks one entry; returns null when it is valid, else why not (without the value of a credential).
    /// </summary>
    /// <param name="name">The header name.</param>
    /// <param name="value">The value, or null for a delete.</param>
    /// <param name="limits">The gateway's bounds.</param>
    /// <param name="allowCredentialOverride">Whether credential headers may be set (the provider's <c>allow_credential_override</c>).</param>
    /// <param name="fromConfiguration">
    /// Whether the entry comes from <c>tensorzero.toml</c> rather than a request. The configuration is trusted, as in
    /// TensorZero: it may set credential headers and <c>Content-Length</c>; hop-by-hop headers and <c>Host</c> stay
    /// forbidden everywhere.
    /// </param>
    public static string? Check(string name, string? value, ExtraHeaderLimits limits, bool allowCredentialOverride, bool fromConfiguration = false)
    {
        ArgumentNullException.ThrowIfNull(limits);
        if (!IsToken(name))
        {
            return $"header name '{Sanitize(name)}' is not an RFC 9110 token";
        }
        if (Encoding.UTF8.GetByteCount(name) > limits.MaxNameBytes)
        {
            return $"header name '{name[..Math.Min(name.Length, 32)]}...' is longer than {limits.MaxNameBytes} bytes";
        }
        if (IsForbidden(name) && !(fromConfiguration && string.Equals(name, "Content-Length", StringComparison.OrdinalIgnoreCase)))
        {
            return $"header '{name}' is a framing or hop-by-hop header and can never be set or deleted";
        }
        if (CredentialHeaders.IsCredential(name) && !allowCredentialOverride && !fromConfiguration)
        {
            return $"header '{name}' carries credentials and may only be set where the provider sets allow_credential_override = true";
        }
        if (value is null)
        {
            return null;
        }
        if (Encoding.UTF8.GetByteCount(value) > limits.MaxValueBytes)
        {
            return $"the value of header '{name}' is longer than {limits.MaxValueBytes} bytes";
        }
        foreach (var c in value)
        {
            if (c is '\r' or '\n' or '\0' || (char.IsControl(c) && c != '\t'))
            {
                return $"the value of header '{name}' contains a control character (CR, LF, NUL or another)";
            }
        }
        return null;
    }

    private static string Sanitize(string name)
    {
        var builder = new StringBuilder(Math.Min(name.Length, 64));
        foreach (var c in name.Length > 64 ? name[..64] : name)
        {
            builder.Append(char.IsControl(c) ? '?' : c);
        }
        return builder.ToString();
    }
}

/// <summary>Bounds on extra headers (<c>[gateway.extra_headers]</c>): count, name and value sizes.</summary>
public sealed record ExtraHeaderLimits(int MaxEntries = 64, int MaxNameBytes = 256, int MaxValueBytes = 8 * 1024)
{
    /// <summary>The defaults: 64 entries, 256-byte names, 8 KiB values.</summary>
    public static ExtraHeaderLimits Default { get; } = new();
}

/// <summary>
/// A provider's <c>forward_client_headers</c>: case-insensitive glob patterns (<c>*</c> matches any run of
/// characters) naming client headers a sidecar passes on. Everything else the client sent stays out.
/// </summary>
public sealed class ClientHeaderPatterns
{
    private readonly string[] _patterns;

    /// <summary>Creates the matcher.</summary>
    public ClientHeaderPatterns(IEnumerable<string> patterns)
    {
        ArgumentNullException.ThrowIfNull(patterns);
        _patterns = [.. patterns];
    }

    /// <summary>No client header is forwarded.</summary>
    public static ClientHeaderPatterns None { get; } = new([]);

    /// <summary>Whether there is any pattern.</summary>
    public bool IsEmpty => _patterns.Length == 0;

    /// <summary>Whether a client header of this name is forwarded.</summary>
    public bool Matches(string name)
    {
        foreach (var pattern in _patterns)
        {
            if (Glob(pattern, name))
            {
                return true;
            }
        }
        return false;
    }

    private static bool Glob(ReadOnlySpan<char> pattern, ReadOnlySpan<char> text)
    {
        // Iterative glob with one backtrack point: linear enough for header names, no regex.
        int p = 0, t = 0, star = -1, mark = 0;
        while (t < text.Length)
        {
            if (p < pattern.Length && pattern[p] == '*')
            {
                star = p++;
                mark = t;
            }
            else if (p < pattern.Length && char.ToLowerInvariant(pattern[p]) == char.ToLowerInvariant(text[t]))
            {
                p++;
                t++;
            }
            else if (star >= 0)
            {
                p = star + 1;
                t = ++mark;
            }
            else
            {
                return false;
            }
        }
        while (p < pattern.Length && pattern[p] == '*')
        {
            p++;
        }
        return p == pattern.Length;
    }
}
