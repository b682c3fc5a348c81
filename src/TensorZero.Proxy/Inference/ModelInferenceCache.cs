using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Security.Cryptography;
using System.Text;
using TensorZero.Proxy.Functions;

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

/// <summary>
/// TensorZero's model inference cache (<c>tensorzero::cache_options</c>), exact match per model provider request: the
/// key is a SHA-256 of the model, the provider and the request the provider is sent (a stream and a completion are
/// different requests, as in TensorZero; a streamed entry replays its chunks). A hit answers without calling the provider, with zero
/// usage, as TensorZero's does. This replica's memory holds it, bounded: the oldest entries go first. Issue 20 moves it
/// to a store shared by replicas.
/// </summary>
internal sealed class ModelInferenceCache
{
    /// <summary>Entries kept at most; beyond it the oldest are dropped.</summary>
    public const int MaxEntries = 4096;

    /// <summary>Answers larger than this (raw response characters) are not kept: a cache is for the common small answer.</summary>
    public const int MaxRawResponseLength = 256 * 1024;

    private readonly ConcurrentDictionary<string, CachedModelOutput> _entries = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _order = new();
    private readonly TimeProvider _time;

    public ModelInferenceCache(TimeProvider time)
    {
        _time = time;
    }

    /// <summary>Entries held now.</summary>
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

    /// <summary>An entry no older than <c>max_age_s</c> (any age when unset).</summary>
    public bool TryGet(string key, CacheOptions options, out CachedModelOutput? entry)
    {
        if (!_entries.TryGetValue(key, out entry))
        {
            return false;
        }
        if (options.MaxAgeSeconds is { } maxAge && _time.GetUtcNow() - entry.StoredAt > TimeSpan.FromSeconds(maxAge))
        {
            entry = null;
            return false;
        }
        return true;
    }

    /// <summary>Stores an answer (a later answer to the same request replaces it).</summary>
    public void Set(string key, CachedModelOutput entry)
    {
        if (entry.RawResponse.Length > MaxRawResponseLength)
        {
            return;
        }
        entry = entry with { StoredAt = _time.GetUtcNow() };
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
}
