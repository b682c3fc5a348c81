namespace TensorZero.Proxy.Transforms;

/// <summary>
/// What one provider needs done to every request sent to it: where it goes and how it authenticates.
/// Built once per provider when the configuration is loaded; immutable and shared by all requests.
/// </summary>
public sealed class ProviderRequestPolicy
{
    /// <summary>Creates a policy.</summary>
    /// <param name="requestUri">The absolute URI of the provider's chat completions endpoint, query included.</param>
    /// <param name="authHeaderName">The credential header (<c>Authorization</c>, <c>api-key</c>), or null for none.</param>
    /// <param name="authHeaderValue">The credential header's value; never logged.</param>
    public ProviderRequestPolicy(Uri requestUri, string? authHeaderName, string? authHeaderValue)
    {
        ArgumentNullException.ThrowIfNull(requestUri);
        if (!requestUri.IsAbsoluteUri)
        {
            throw new ArgumentException("The provider request URI must be absolute.", nameof(requestUri));
        }
        if ((authHeaderName is null) != (authHeaderValue is null))
        {
            throw new ArgumentException("An auth header needs both a name and a value.", nameof(authHeaderValue));
        }

        RequestUri = requestUri;
        AuthHeaderName = authHeaderName;
        AuthHeaderValue = authHeaderValue;
    }

    /// <summary>The absolute URI every attempt is sent to.</summary>
    public Uri RequestUri { get; }

    /// <summary>The credential header name, or null when the provider takes no credential.</summary>
    public string? AuthHeaderName { get; }

    /// <summary>The credential header value. A secret: never log it or put it in an error.</summary>
    public string? AuthHeaderValue { get; }
}
