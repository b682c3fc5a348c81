using Microsoft.Extensions.Logging;
using StackExchange.Redis;
using TensorZero.Proxy.Configuration;

namespace TensorZero.Proxy.Valkey;

/// <summary>
/// The Valkey/Redis store the replicas of a gateway share: API keys, rate-limit buckets and the model inference cache
/// live there, so a limit or a revoked key holds across every replica (DESIGN-NOTES "Past one machine"). Its URL is
/// <c>TENSORZERO_VALKEY_URL</c> (and optionally <c>TENSORZERO_VALKEY_CACHE_URL</c> for the cache), read through the
/// gateway's environment lookup. The connection opens on first use and reconnects by itself; while the store is down
/// every command fails at once with a <see cref="RedisException"/>, which each feature turns into its own answer.
/// </summary>
internal sealed class ValkeyStore : IDisposable
{
    private readonly Lazy<ConnectionMultiplexer>? _primary;
    private readonly Lazy<ConnectionMultiplexer>? _cache;

    public ValkeyStore(GatewayConfigSource source, ILogger<ValkeyStore> logger)
        : this(source.Environment(ValkeyUrl.Variable), source.Environment(ValkeyUrl.CacheVariable), logger)
    {
    }

    /// <exception cref="TensorZeroStartupException">A URL is set but malformed.</exception>
    public ValkeyStore(string? url, string? cacheUrl, ILogger logger)
    {
        Url = string.IsNullOrWhiteSpace(url) ? null : url;
        CacheUrl = string.IsNullOrWhiteSpace(cacheUrl) ? Url : cacheUrl;
        _primary = Connection(Url, ValkeyUrl.Variable, logger);
        _cache = CacheUrl == Url ? _primary : Connection(CacheUrl, ValkeyUrl.CacheVariable, logger);
    }

    /// <summary>The primary store's URL (<c>TENSORZERO_VALKEY_URL</c>), null when not set.</summary>
    public string? Url { get; }

    /// <summary>The cache's store URL: <c>TENSORZERO_VALKEY_CACHE_URL</c>, else <see cref="Url"/>.</summary>
    public string? CacheUrl { get; }

    /// <summary>Whether <c>TENSORZERO_VALKEY_URL</c> is set.</summary>
    public bool IsConfigured => _primary is not null;

    /// <summary>Whether a store for the cache is set (its own or the primary).</summary>
    public bool IsCacheConfigured => _cache is not null;

    /// <summary>The primary store (keys, rate limits).</summary>
    /// <exception cref="RedisConnectionException">No store is configured (a reload turned a feature on; start-up checks
    /// <see cref="Require"/>): the same failure as a store that is down, so every feature fails the same way.</exception>
    public IDatabase Database => (_primary ?? throw NotConfigured()).Value.GetDatabase();

    /// <summary>The cache's store.</summary>
    public IDatabase CacheDatabase => (_cache ?? throw NotConfigured()).Value.GetDatabase();

    /// <summary>
    /// Fails start-up when <paramref name="feature"/> (a TOML key path such as <c>gateway.auth.enabled</c>) needs the
    /// shared store and none is set: running without it would drop the protection the operator configured.
    /// </summary>
    public void Require(string feature)
    {
        if (!IsConfigured)
        {
            throw new TensorZeroStartupException(
                $"{feature} needs a Valkey/Redis store shared by the gateway's replicas: set {ValkeyUrl.Variable} (e.g. redis://127.0.0.1:6379)");
        }
    }

    /// <summary>
    /// Opens the connections now (at most <c>ConnectTimeout</c>, 2 s, when the store is down: it is then retried in
    /// the background). Called at start-up when a feature uses the store.
    /// </summary>
    public void Connect()
    {
        _ = _primary?.Value;
        _ = _cache?.Value;
    }

    public void Dispose()
    {
        if (_primary is { IsValueCreated: true })
        {
            _primary.Value.Dispose();
        }
        if (_cache is { IsValueCreated: true } && !ReferenceEquals(_cache, _primary))
        {
            _cache.Value.Dispose();
        }
    }

    private static Lazy<ConnectionMultiplexer>? Connection(string? url, string variable, ILogger logger)
    {
        if (url is null)
        {
            return null;
        }
        ConfigurationOptions options;
        try
        {
            options = ValkeyUrl.Parse(url, variable);
        }
        catch (FormatException ex)
        {
            throw new TensorZeroStartupException(ex.Message, ex);
        }
        return new Lazy<ConnectionMultiplexer>(() =>
        {
            // AbortOnConnectFail is off: a store that is down at start-up is retried in the background, and commands
            // fail fast until it is back.
            var connection = ConnectionMultiplexer.Connect(options);
            Log.ValkeyConnecting(logger, ValkeyUrl.Redact(url), connection.IsConnected);
            return connection;
        }, LazyThreadSafetyMode.ExecutionAndPublication);
    }

    private static RedisConnectionException NotConfigured() =>
        new(ConnectionFailureType.UnableToConnect, CommandFlags.None, $"{ValkeyUrl.Variable} is not set", null, CommandStatus.Unknown);
}
