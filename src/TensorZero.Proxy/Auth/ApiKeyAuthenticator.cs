using System.Collections.Concurrent;
using StackExchange.Redis;
using TensorZero.Proxy.Configuration;
using TensorZero.Proxy.Valkey;

namespace TensorZero.Proxy.Auth;

/// <summary>The answer for one request's key.</summary>
/// <param name="PublicId">The key's public id when it is valid; null otherwise.</param>
/// <param name="Error">Why it is refused (TensorZero's message, without the "TensorZero authentication error: " prefix); null when valid.</param>
internal readonly record struct ApiKeyVerdict(string? PublicId, string? Error)
{
    public static ApiKeyVerdict Valid(string publicId) => new(publicId, null);

    public static ApiKeyVerdict Refused(string error) => new(null, error);
}

/// <summary>
/// Checks a parsed key against the shared store, remembering each answer on this replica for <c>cache.ttl_ms</c>
/// (TensorZero's moka cache): a key disabled on the store stops on every replica within that time. What is remembered is
/// the store's record (or its absence), not the verdict, so an expiry that falls inside the window still counts at once.
/// The cache is bounded (<see cref="MaxEntries"/>): made-up keys cannot grow it without limit.
/// </summary>
internal sealed class ApiKeyAuthenticator
{
    /// <summary>The most answers one replica remembers; past it the stale ones go, then all of them.</summary>
    public const int MaxEntries = 10_000;

    private const string MissingMessage = "Error performing authentication: Provided API key does not exist in the store";

    private readonly ConcurrentDictionary<string, Entry> _cache = new(StringComparer.Ordinal);
    private readonly ValkeyStore _store;
    private readonly TimeProvider _time;

    public ApiKeyAuthenticator(ValkeyStore store, TimeProvider time)
    {
        _store = store;
        _time = time;
    }

    /// <summary>Answers remembered now (tests watch the bound).</summary>
    public int CachedCount => _cache.Count;

    /// <summary>
    /// The verdict for <paramref name="key"/> under <paramref name="settings"/> (read per request, so a reload's new
    /// ttl applies to what was remembered before it too).
    /// </summary>
    /// <exception cref="RedisException">The store could not be asked (down, or not configured): the caller answers 503.</exception>
    /// <exception cref="RedisTimeoutException">The store did not answer in time.</exception>
    public ValueTask<ApiKeyVerdict> VerifyAsync(TensorZeroApiKey key, AuthSettings settings)
    {
        if (settings.CacheEnabled && _cache.TryGetValue(key.CacheKey, out var entry) && _time.GetElapsedTime(entry.Timestamp) < settings.CacheTtl)
        {
            return new ValueTask<ApiKeyVerdict>(Verdict(entry.Info));
        }
        return new ValueTask<ApiKeyVerdict>(LookUpAsync(key, settings));
    }

    private async Task<ApiKeyVerdict> LookUpAsync(TensorZeroApiKey key, AuthSettings settings)
    {
        // Without a store (only after a reload: start-up requires it) this throws like a store that is down: 503.
        var info = await new ApiKeyStore(_store.Database).FindAsync(key);
        if (settings.CacheEnabled && settings.CacheTtl > TimeSpan.Zero)
        {
            if (_cache.Count >= MaxEntries)
            {
                Trim(settings.CacheTtl);
            }
            _cache[key.CacheKey] = new Entry(info, _time.GetTimestamp());
        }
        return Verdict(info);
    }

    private ApiKeyVerdict Verdict(ApiKeyInfo? info)
    {
        if (info is null)
        {
            return ApiKeyVerdict.Refused(MissingMessage);
        }
        return info.StatusAt(_time.GetUtcNow()) switch
        {
            ApiKeyStatus.Disabled => ApiKeyVerdict.Refused("Error performing authentication: API key was disabled at: " + ApiKeyStore.Display(info.DisabledAt!.Value)),
            ApiKeyStatus.Expired => ApiKeyVerdict.Refused("Error performing authentication: API key expired at: " + ApiKeyStore.Display(info.ExpiresAt!.Value)),
            _ => ApiKeyVerdict.Valid(info.PublicId),
        };
    }

    /// <summary>Drops stale answers; if that is not enough (a flood of distinct keys within one ttl), drops them all.</summary>
    private void Trim(TimeSpan ttl)
    {
        foreach (var (cacheKey, entry) in _cache)
        {
            if (_time.GetElapsedTime(entry.Timestamp) >= ttl)
            {
                _cache.TryRemove(cacheKey, out _);
            }
        }
        if (_cache.Count >= MaxEntries)
        {
            _cache.Clear();
        }
    }

    /// <summary>The store's record (null: no such key) and when it was read (<see cref="TimeProvider.GetTimestamp"/>).</summary>
    private sealed record Entry(ApiKeyInfo? Info, long Timestamp);
}
