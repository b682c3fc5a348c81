using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;
using TensorZero.Proxy.Configuration;
using TensorZero.Proxy.Functions;
using TensorZero.Proxy.Valkey;

namespace TensorZero.Proxy.Inference;

/// <summary>
/// A cached model answer: the model's output blocks as it gave them, before the function's output rules; for a streamed
/// answer also its chunks, replayed as they came.
/// </summary>
internal sealed record CachedModelOutput(ImmutableArray<ContentBlock> Output, FinishReason? FinishReason, string RawResponse, DateTimeOffset StoredAt)
{
    /// <summary>The provider's chunks of a streamed answer (empty for a completion).</summary>
    public ImmutableArray<ProviderChunk> Chunks { get; init; } = [];
}

/// <summary>Where the model inference cache lives for a configuration.</summary>
internal enum CacheStore
{
    /// <summary><c>[gateway.cache] enabled = false</c>: nothing is read or written.</summary>
    None,

    /// <summary>This replica's memory (no shared store configured).</summary>
    Memory,

    /// <summary>The Valkey/Redis store the replicas share (<c>TENSORZERO_VALKEY_CACHE_URL</c>, else <c>TENSORZERO_VALKEY_URL</c>).</summary>
    Valkey,
}

/// <summary>
/// TensorZero's model inference cache (<c>tensorzero::cache_options</c>), exact match per model provider request: the
/// key is a SHA-256 of the model, the provider and the request the provider is sent (a stream and a completion are
/// different requests, as in TensorZero; a streamed entry replays its chunks). A hit answers without calling the
/// provider, with zero usage, as TensorZero's does. With a Valkey/Redis store configured (and <c>[gateway.cache]</c>
/// not pointing elsewhere) the entries live there, shared by every replica, for <c>gateway.cache.valkey.ttl_s</c>
/// (24 hours by default); otherwise in this replica's memory, bounded, the oldest going first. The cache is a speed-up,
/// never a failure: a store that is down reads as a miss, and a write is sent without waiting for it.
/// </summary>
internal sealed class ModelInferenceCache
{
    /// <summary>Entries kept at most in memory; beyond it the oldest are dropped.</summary>
    public const int MaxEntries = 4096;

    /// <summary>Answers larger than this (raw response characters) are not kept: a cache is for the common small answer.</summary>
    public const int MaxRawResponseLength = 256 * 1024;

    /// <summary>The prefix of the cache's keys in the shared store (the format's version is in each entry).</summary>
    public const string KeyPrefix = "tensorzero_proxy_cache:";

    /// <summary>TensorZero's default lifetime of an entry in Valkey (<c>gateway.cache.valkey.ttl_s</c>).</summary>
    public static readonly TimeSpan DefaultValkeyTtl = TimeSpan.FromHours(24);

    private readonly ConcurrentDictionary<string, CachedModelOutput> _entries = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _order = new();
    private readonly TimeProvider _time;
    private readonly ValkeyStore _store;
    private readonly ILogger _logger;
    private readonly LogInterval _warnings;

    public ModelInferenceCache(TimeProvider time, ValkeyStore store, ILogger<ModelInferenceCache> logger)
    {
        _time = time;
        _store = store;
        _logger = logger;
        _warnings = new LogInterval(time, TimeSpan.FromSeconds(30));
    }

    /// <summary>Entries held in this replica's memory now.</summary>
    public int Count => _entries.Count;

    /// <summary>
    /// The cache key of one provider request. <paramref name="providerFingerprint"/> (<c>RuntimeProvider.Fingerprint</c>)
    /// ties an entry to the provider's configuration: after a reload that changes the provider (its endpoint, model
    /// name, extra body...), its old answers are not served for the new one; an unchanged provider keeps its entries.
    /// </summary>
    public static string Key(string modelName, string providerName, string providerFingerprint, ReadOnlySpan<byte> body)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes(modelName));
        hash.AppendData([0]);
        hash.AppendData(Encoding.UTF8.GetBytes(providerName));
        hash.AppendData([0]);
        hash.AppendData(Encoding.UTF8.GetBytes(providerFingerprint));
        hash.AppendData([0]);
        hash.AppendData(body);
        return Convert.ToHexString(hash.GetHashAndReset());
    }

    /// <summary>Whether the options read the cache (<c>on</c>, <c>read_only</c>).</summary>
    public static bool Reads(CacheOptions options) => options.Mode is CacheMode.On or CacheMode.ReadOnly;

    /// <summary>Whether the options write the cache (<c>on</c>, <c>write_only</c>).</summary>
    public static bool Writes(CacheOptions options) => options.Mode is CacheMode.On or CacheMode.WriteOnly;

    /// <summary>
    /// The store <paramref name="settings"/> select, as TensorZero: <c>enabled = false</c> none; <c>backend = "valkey"</c>
    /// the shared store (start-up requires it, <see cref="Require"/>); <c>auto</c> (or unset) the shared store when one is
    /// configured, else memory. <c>backend = "clickhouse"</c> keeps memory: this gateway does not cache in ClickHouse.
    /// </summary>
    public CacheStore StoreFor(CacheSettings settings) => settings switch
    {
        { Enabled: false } => CacheStore.None,
        { Backend: CacheBackend.ClickHouse } => CacheStore.Memory,
        _ when _store.IsCacheConfigured => CacheStore.Valkey,
        _ => CacheStore.Memory,
    };

    /// <summary>Fails start-up (or a reload) when <c>backend = "valkey"</c> is set and no store is.</summary>
    public void Require(CacheSettings settings)
    {
        if (settings is { Enabled: not false, Backend: CacheBackend.Valkey } && !_store.IsCacheConfigured)
        {
            _store.Require("gateway.cache.backend = \"valkey\"");
        }
    }

    /// <summary>An entry no older than <c>max_age_s</c> (any age when unset), or null.</summary>
    public ValueTask<CachedModelOutput?> GetAsync(string key, CacheOptions options, CacheSettings settings) => StoreFor(settings) switch
    {
        CacheStore.Memory => ValueTask.FromResult(_entries.TryGetValue(key, out var entry) && Fresh(entry, options) ? entry : null),
        CacheStore.Valkey => GetSharedAsync(key, options),
        _ => ValueTask.FromResult<CachedModelOutput?>(null),
    };

    /// <summary>Stores an answer (a later answer to the same request replaces it), without waiting for the store.</summary>
    public void Set(string key, CachedModelOutput entry, CacheSettings settings)
    {
        if (entry.RawResponse.Length > MaxRawResponseLength)
        {
            return;
        }
        entry = entry with { StoredAt = _time.GetUtcNow() };
        switch (StoreFor(settings))
        {
            case CacheStore.Memory:
                SetInMemory(key, entry);
                break;
            case CacheStore.Valkey:
                try
                {
                    // Fire and forget: the client's answer never waits for the cache.
                    _store.CacheDatabase.StringSet(KeyPrefix + key, CachedModelOutputJson.Serialize(entry), settings.ValkeyTtl ?? DefaultValkeyTtl,
                        When.Always, CommandFlags.FireAndForget);
                }
                catch (RedisException ex)
                {
                    Warn(ex);
                }
                catch (ArgumentException)
                {
                    // Not a model's output (CachedModelOutputJson.Serialize): nothing a later request could be served from.
                }
                break;
        }
    }

    private async ValueTask<CachedModelOutput?> GetSharedAsync(string key, CacheOptions options)
    {
        RedisValue value;
        try
        {
            value = await _store.CacheDatabase.StringGetAsync(KeyPrefix + key);
        }
        catch (RedisException ex)
        {
            Warn(ex);
            return null;
        }
        return value.HasValue && CachedModelOutputJson.TryDeserialize((ReadOnlyMemory<byte>)value, out var entry) && Fresh(entry!, options)
            ? entry
            : null;
    }

    private bool Fresh(CachedModelOutput entry, CacheOptions options) =>
        options.MaxAgeSeconds is not { } maxAge || _time.GetUtcNow() - entry.StoredAt <= TimeSpan.FromSeconds(maxAge);

    private void SetInMemory(string key, CachedModelOutput entry)
    {
        if (_entries.TryAdd(key, entry))
        {
            _order.Enqueue(key);
            while (_entries.Count > MaxEntries && _order.TryDequeue(out var oldest))
            {
                _entries.TryRemove(oldest, out _);
            }
        }
        else
        {
            _entries[key] = entry;
        }
    }

    /// <summary>One warning per interval while the store fails: the requests go on as misses.</summary>
    private void Warn(RedisException ex)
    {
        if (_warnings.TryEnter())
        {
            Log.CacheStoreFailed(_logger, ex.Message);
        }
    }
}
