namespace TensorZero.Proxy.Transforms;

/// <summary>
/// What one provider needs done to every request sent to it: where it goes and how it authenticates.
/// Built once per provider when the configuration is loaded; immutable and shared by all requests.
/// </summary>
public sealed class ProviderRequestPolicy
{
    /// <summary>Creates a policy.</summary>
    /// <param name="requestUri">The absolute URI of the provider's inference endpoint (chat completions, Anthropic's messages,
    /// Gemini's generateContent), query included.</param>
    /// <param name="authHeaderName">The credential header (<c>Authorization</c>, <c>api-key</c>), or null for none.</param>
    /// <param name="authHeaderValue">The credential header's value; never logged.</param>
    /// <param name="forwardClientHeaders">Client headers a sidecar passes on (<c>forward_client_headers</c>).</param>
    /// <param name="allowCredentialOverride">Whether extra headers may set credential headers (<c>allow_credential_override</c>).</param>
    /// <param name="fixedHeaders">Headers the provider's protocol requires on every request (e.g. Anthropic's
    /// <c>anthropic-version</c>); not secrets. Extra headers apply after them and may replace them.</param>
    public ProviderRequestPolicy(
        Uri requestUri, string? authHeaderName, string? authHeaderValue, ClientHeaderPatterns? forwardClientHeaders = null, bool allowCredentialOverride = false,
        IReadOnlyList<KeyValuePair<string, string>>? fixedHeaders = null)
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
        ForwardClientHeaders = forwardClientHeaders ?? ClientHeaderPatterns.None;
        AllowCredentialOverride = allowCredentialOverride;
        FixedHeaders = fixedHeaders ?? [];
    }

    /// <summary>Headers sent on every request to this provider, before extra headers (protocol versions, not credentials).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> FixedHeaders { get; }

    /// <summary>Which client headers are passed on to this provider.</summary>
    public ClientHeaderPatterns ForwardClientHeaders { get; }

    /// <summary>Whether extra headers and forwarded client headers may replace this provider's credential headers.</summary>
    public bool AllowCredentialOverride { get; }

    /// <summary>The absolute URI every attempt is sent to.</summary>
    public Uri RequestUri { get; }

    /// <summary>The credential header name, or null when the provider takes no credential.</summary>
    public string? AuthHeaderName { get; }

    /// <summary>The credential header value. A secret: never log it or put it in an error.</summary>
    public string? AuthHeaderValue { get; }
}
