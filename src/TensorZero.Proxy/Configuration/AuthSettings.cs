namespace TensorZero.Proxy.Configuration;

/// <summary>
/// <c>[gateway.auth]</c>: TensorZero API keys (<c>sk-t0-…</c>) required on every gateway endpoint but <c>/status</c> and
/// <c>/health</c>, checked against the store the replicas share (<c>TENSORZERO_VALKEY_URL</c>), with each replica
/// remembering a key's answer for <see cref="CacheTtl"/>. Read per request, so a reload turns auth on or off and
/// changes the cache's lifetime at once.
/// </summary>
/// <param name="Enabled"><c>enabled</c> (TensorZero's default: false).</param>
/// <param name="CacheEnabled"><c>cache.enabled</c> (default true): false checks the store on every request.</param>
/// <param name="CacheTtl"><c>cache.ttl_ms</c> (default 1000 ms): how long a replica may go on answering from what it learnt.</param>
internal sealed record AuthSettings(bool Enabled, bool CacheEnabled, TimeSpan CacheTtl)
{
    /// <summary>TensorZero's <c>auth.cache.ttl_ms</c> default.</summary>
    public static TimeSpan DefaultCacheTtl { get; } = TimeSpan.FromMilliseconds(1000);

    /// <summary>The largest <c>cache.ttl_ms</c> accepted (one day): a revoked key must stop within it.</summary>
    public const long MaxCacheTtlMs = 86_400_000;

    /// <summary>No <c>[gateway.auth]</c>: auth off.</summary>
    public static AuthSettings Disabled { get; } = new(false, true, DefaultCacheTtl);
}
