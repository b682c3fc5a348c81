using System.Globalization;
using StackExchange.Redis;

namespace TensorZero.Proxy.Auth;

/// <summary>What the store knows about one API key (never its secret): TensorZero's <c>KeyInfo</c>.</summary>
/// <param name="PublicId">The key's public id.</param>
/// <param name="CreatedAt">When it was created.</param>
/// <param name="ExpiresAt">When it stops working by itself (<c>--expiration</c>); null when never.</param>
/// <param name="DisabledAt">When it was disabled (<c>--disable-api-key</c>); null while it is not.</param>
/// <param name="Description">A note from whoever created it; null when none.</param>
internal sealed record ApiKeyInfo(string PublicId, DateTimeOffset CreatedAt, DateTimeOffset? ExpiresAt, DateTimeOffset? DisabledAt, string? Description)
{
    /// <summary>Whether the key authenticates a request at <paramref name="now"/>: disabled wins over expired, as in TensorZero.</summary>
    public ApiKeyStatus StatusAt(DateTimeOffset now) =>
        DisabledAt is not null ? ApiKeyStatus.Disabled
        : ExpiresAt is { } expires && expires <= now ? ApiKeyStatus.Expired
        : ApiKeyStatus.Valid;
}

/// <summary>Whether a key authenticates a request.</summary>
internal enum ApiKeyStatus
{
    Valid,
    Disabled,
    Expired,
}

/// <summary>
/// TensorZero's API keys in the Valkey/Redis store the replicas share (TensorZero keeps them in Postgres; this gateway
/// already needs the shared store for rate limits and the cache, so keys live beside them). Layout (DESIGN-NOTES
/// "API keys in the shared store"):
/// <list type="bullet">
/// <item><c>tensorzero:auth:api_key:{public id}</c>: a hash with <c>hash</c> (lowercase hex SHA-256 of the secret),
/// <c>created_at</c>, and when set <c>expires_at</c>, <c>disabled_at</c>, <c>description</c>; times are RFC 3339 UTC
/// with microseconds.</item>
/// <item><c>tensorzero:auth:api_keys</c>: a sorted set of every public id scored by creation time (Unix ms), for
/// listing without <c>SCAN</c>.</item>
/// </list>
/// Every call is one round trip; a store that is down throws <see cref="RedisException"/> or <see cref="RedisTimeoutException"/>.
/// </summary>
internal sealed class ApiKeyStore
{
    public const string KeyPrefix = "tensorzero:auth:api_key:";
    public const string IndexKey = "tensorzero:auth:api_keys";

    private const string TimeFormat = "yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'";
    private static readonly RedisValue[] Fields = ["hash", "created_at", "expires_at", "disabled_at", "description"];

    // Sets disabled_at only on a key that exists and only once (a second disable keeps the first time), and returns it:
    // atomic, so two operators disabling at once agree on the time.
    private const string DisableScript = """
        if redis.call('EXISTS', KEYS[1]) == 0 then return false end
        redis.call('HSETNX', KEYS[1], 'disabled_at', ARGV[1])
        return redis.call('HGET', KEYS[1], 'disabled_at')
        """;

    private readonly IDatabase _database;

    public ApiKeyStore(IDatabase database)
    {
        _database = database;
    }

    public static RedisKey KeyOf(string publicId) => KeyPrefix + publicId;

    /// <summary>Creates a key and returns it whole: the only time its secret exists outside the client that keeps it.</summary>
    public async Task<string> CreateAsync(DateTimeOffset now, DateTimeOffset? expiresAt, string? description)
    {
        now = Truncate(now);
        // A collision of 12 random alphanumerics is next to impossible; the condition makes it harmless anyway.
        for (var attempt = 0; ; attempt++)
        {
            var key = TensorZeroApiKey.Generate();
            TensorZeroApiKey.TryParse(key, out var parsed, out _);
            var fields = new List<HashEntry> { new("hash", parsed!.SecretHash), new("created_at", Format(now)) };
            if (expiresAt is { } expires)
            {
                fields.Add(new HashEntry("expires_at", Format(Truncate(expires))));
            }
            if (!string.IsNullOrEmpty(description))
            {
                fields.Add(new HashEntry("description", description));
            }
            var transaction = _database.CreateTransaction();
            transaction.AddCondition(Condition.KeyNotExists(KeyOf(parsed.PublicId)));
            _ = transaction.HashSetAsync(KeyOf(parsed.PublicId), [.. fields]);
            _ = transaction.SortedSetAddAsync(IndexKey, parsed.PublicId, now.ToUnixTimeMilliseconds());
            if (await transaction.ExecuteAsync())
            {
                return key;
            }
            if (attempt == 3)
            {
                throw new InvalidOperationException("Could not find an unused public id for a new API key.");
            }
        }
    }

    /// <summary>Disables the key; returns when it was disabled (the first time, if it already was), or null when no key has that public id.</summary>
    public async Task<DateTimeOffset?> DisableAsync(string publicId, DateTimeOffset now)
    {
        var result = await _database.ScriptEvaluateAsync(DisableScript, [KeyOf(publicId)], [Format(Truncate(now))]);
        return result.IsNull ? null : Parse((string?)result);
    }

    /// <summary>The key with <paramref name="key"/>'s public id if its secret matches, else null (TensorZero looks up by both).</summary>
    public async Task<ApiKeyInfo?> FindAsync(TensorZeroApiKey key)
    {
        var values = await _database.HashGetAsync(KeyOf(key.PublicId), Fields);
        if (values[0].IsNull || !key.Matches(values[0]!))
        {
            return null;
        }
        return Info(key.PublicId, values);
    }

    /// <summary>Every key, newest first.</summary>
    public async Task<IReadOnlyList<ApiKeyInfo>> ListAsync()
    {
        var ids = await _database.SortedSetRangeByRankAsync(IndexKey, order: Order.Descending);
        var reads = ids.Select(id => _database.HashGetAsync(KeyOf(id!), Fields)).ToArray();
        var keys = new List<ApiKeyInfo>(ids.Length);
        for (var i = 0; i < ids.Length; i++)
        {
            var values = await reads[i];
            if (!values[0].IsNull)
            {
                keys.Add(Info(ids[i]!, values));
            }
        }
        return keys;
    }

    /// <summary>
    /// A time as TensorZero prints it in its messages (chrono's <c>DateTime&lt;Utc&gt;</c>):
    /// <c>2025-10-21 14:45:38.123456 UTC</c>, with 0, 3 or 6 fractional digits.
    /// </summary>
    public static string Display(DateTimeOffset time)
    {
        var utc = time.UtcDateTime;
        var micros = (utc.Ticks / 10) % 1_000_000;
        var fraction = micros == 0 ? "" : micros % 1000 == 0 ? "." + (micros / 1000).ToString("D3", CultureInfo.InvariantCulture)
            : "." + micros.ToString("D6", CultureInfo.InvariantCulture);
        return utc.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) + fraction + " UTC";
    }

    /// <summary>Times are kept to the microsecond (as TensorZero's Postgres does), so what is stored is what is shown.</summary>
    public static DateTimeOffset Truncate(DateTimeOffset time) => new(time.UtcTicks - time.UtcTicks % 10, TimeSpan.Zero);

    private static ApiKeyInfo Info(string publicId, RedisValue[] values) =>
        new(publicId, Parse(values[1]) ?? DateTimeOffset.UnixEpoch, Parse(values[2]), Parse(values[3]), values[4].IsNull ? null : (string?)values[4]);

    private static string Format(DateTimeOffset time) => time.UtcDateTime.ToString(TimeFormat, CultureInfo.InvariantCulture);

    private static DateTimeOffset? Parse(RedisValue value) =>
        value.IsNull ? null
        : DateTimeOffset.TryParseExact((string?)value, TimeFormat, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var time)
            ? time
            // A hand-edited time the gateway cannot read: treat the moment as now-or-earlier (disabled, expired) rather than ignoring it.
            : DateTimeOffset.MinValue;
}
