using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;
using TensorZero.Proxy.Auth;
using TensorZero.Proxy.Tests.TestSupport;
using TensorZero.Proxy.Valkey;

namespace TensorZero.Proxy.Tests.Auth;

/// <summary>The key layout in a real redis-server (DESIGN-NOTES "API keys in the shared store").</summary>
public sealed class ApiKeyStoreTests
{
    private static readonly DateTimeOffset Now = new DateTimeOffset(2026, 12, 6, 5, 0, 0, TimeSpan.Zero).AddTicks(1_234_567);

    [Fact]
    public async Task CreateAsync_StoresTheHashNeverTheSecret_AndFindAsyncReadsItBack()
    {
        await using var redis = await RedisTestServer.StartAsync();
        using var valkey = new ValkeyStore(redis.Url, null, NullLogger.Instance);
        var store = new ApiKeyStore(valkey.Database);

        var key = await store.CreateAsync(Now, Now.AddDays(30), "ci runner");

        TensorZeroApiKey.TryParse(key, out var parsed, out _).Should().BeTrue();
        var hash = await valkey.Database.HashGetAllAsync("tensorzero:auth:api_key:" + parsed!.PublicId);
        hash.ToDictionary(e => (string)e.Name!, e => (string)e.Value!).Should().BeEquivalentTo(new Dictionary<string, string>
        {
            ["hash"] = parsed.SecretHash,
            ["created_at"] = "2026-12-06T05:00:00.123456Z",
            ["expires_at"] = "2027-01-05T05:00:00.123456Z",
            ["description"] = "ci runner",
        });
        hash.Should().NotContain(e => e.Value.ToString().Contains(key.Split('-')[3], StringComparison.Ordinal));
        (await valkey.Database.SortedSetScoreAsync("tensorzero:auth:api_keys", parsed.PublicId)).Should().Be(ApiKeyStore.Truncate(Now).ToUnixTimeMilliseconds());

        var found = await store.FindAsync(parsed);
        found.Should().Be(new ApiKeyInfo(parsed.PublicId, ApiKeyStore.Truncate(Now), ApiKeyStore.Truncate(Now.AddDays(30)), null, "ci runner"));
        found!.StatusAt(Now).Should().Be(ApiKeyStatus.Valid);
        found.StatusAt(Now.AddDays(30)).Should().Be(ApiKeyStatus.Expired, "a key expires at its expires_at, not after it");
    }

    [Fact]
    public async Task FindAsync_KnownPublicIdWrongSecret_IsNotFound()
    {
        await using var redis = await RedisTestServer.StartAsync();
        using var valkey = new ValkeyStore(redis.Url, null, NullLogger.Instance);
        var store = new ApiKeyStore(valkey.Database);
        var key = await store.CreateAsync(Now, null, null);
        var forged = key[..19] + new string('x', 48);

        TensorZeroApiKey.TryParse(forged, out var parsed, out _).Should().BeTrue();
        (await store.FindAsync(parsed!)).Should().BeNull();
        TensorZeroApiKey.TryParse("sk-t0-nosuchkey000-" + new string('x', 48), out var unknown, out _);
        (await store.FindAsync(unknown!)).Should().BeNull();
    }

    [Fact]
    public async Task DisableAsync_SetsDisabledAtOnce_UnknownIdIsNull()
    {
        await using var redis = await RedisTestServer.StartAsync();
        using var valkey = new ValkeyStore(redis.Url, null, NullLogger.Instance);
        var store = new ApiKeyStore(valkey.Database);
        var key = await store.CreateAsync(Now, null, null);
        TensorZeroApiKey.TryParse(key, out var parsed, out _);

        (await store.DisableAsync(parsed!.PublicId, Now.AddMinutes(1))).Should().Be(ApiKeyStore.Truncate(Now.AddMinutes(1)));
        (await store.DisableAsync(parsed.PublicId, Now.AddMinutes(2))).Should().Be(ApiKeyStore.Truncate(Now.AddMinutes(1)), "disabling again keeps the first time");
        (await store.DisableAsync("nosuchkey000", Now)).Should().BeNull();
        (await valkey.Database.KeyExistsAsync("tensorzero:auth:api_key:nosuchkey000")).Should().BeFalse("disabling an unknown id creates nothing");

        var found = await store.FindAsync(parsed);
        found!.DisabledAt.Should().Be(ApiKeyStore.Truncate(Now.AddMinutes(1)));
        found.StatusAt(Now).Should().Be(ApiKeyStatus.Disabled);
    }

    [Fact]
    public async Task ListAsync_EveryKeyNewestFirst()
    {
        await using var redis = await RedisTestServer.StartAsync();
        using var valkey = new ValkeyStore(redis.Url, null, NullLogger.Instance);
        var store = new ApiKeyStore(valkey.Database);
        var first = await store.CreateAsync(Now, null, null);
        var second = await store.CreateAsync(Now.AddSeconds(1), null, "second");

        var keys = await store.ListAsync();

        keys.Select(k => k.PublicId).Should().Equal(second[6..18], first[6..18]);
        keys[0].Description.Should().Be("second");
    }

    [Fact]
    public async Task Operations_StoreDown_ThrowRedisExceptions()
    {
        await using var redis = await RedisTestServer.StartAsync();
        using var valkey = new ValkeyStore(redis.Url, null, NullLogger.Instance);
        var store = new ApiKeyStore(valkey.Database);
        await store.ListAsync();
        await redis.StopAsync();

        var act = () => store.CreateAsync(Now, null, null);

        await act.Should().ThrowAsync<RedisException>();
    }

    [Theory]
    [InlineData(0, "2026-12-06 05:00:00 UTC")]
    [InlineData(1_230_000, "2026-12-06 05:00:00.123 UTC")]
    [InlineData(1_234_560, "2026-12-06 05:00:00.123456 UTC")]
    [InlineData(1_234_567, "2026-12-06 05:00:00.123456 UTC")]
    public void Display_IsChronosFormat(long ticks, string expected) =>
        ApiKeyStore.Display(new DateTimeOffset(2026, 12, 6, 5, 0, 0, TimeSpan.Zero).AddTicks(ticks)).Should().Be(expected);
}
