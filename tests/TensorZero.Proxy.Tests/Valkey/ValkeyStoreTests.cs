using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;
using TensorZero.Proxy.Tests.TestSupport;
using TensorZero.Proxy.Valkey;

namespace TensorZero.Proxy.Tests.Valkey;

public sealed class ValkeyStoreTests
{
    [Fact]
    public async Task Database_RealServer_RoundTripsAndSurvivesARestart()
    {
        await using var redis = await RedisTestServer.StartAsync();
        using var store = new ValkeyStore(redis.Url, null, NullLogger.Instance);

        await store.Database.StringSetAsync("k", "v");
        ((string?)await store.Database.StringGetAsync("k")).Should().Be("v");
        store.CacheDatabase.Multiplexer.Should().BeSameAs(store.Database.Multiplexer, "the cache shares the primary store unless its own URL is set");

        await redis.StopAsync();
        var watch = Stopwatch.StartNew();
        var down = async () => await store.Database.StringGetAsync("k");
        await down.Should().ThrowAsync<RedisException>();
        watch.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(5), "commands fail fast while the store is down, not after a backlog");

        await redis.RestartAsync();
        var back = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                await store.Database.StringSetAsync("k", "again");
                break;
            }
            catch (RedisException) when (back.Elapsed < TimeSpan.FromSeconds(20))
            {
                await Task.Delay(100);
            }
        }
        ((string?)await store.Database.StringGetAsync("k")).Should().Be("again", "the connection came back by itself");
    }

    [Fact]
    public void Require_NoUrl_FailsStartupNamingTheFeatureAndVariable()
    {
        using var store = new ValkeyStore(null, null, NullLogger.Instance);

        store.IsConfigured.Should().BeFalse();
        var act = () => store.Require("gateway.auth.enabled");

        act.Should().Throw<TensorZeroStartupException>().Which.Message.Should().Contain("gateway.auth.enabled").And.Contain(ValkeyUrl.Variable);
    }

    [Fact]
    public void Database_NoUrl_FailsLikeAStoreThatIsDown()
    {
        using var store = new ValkeyStore(null, null, NullLogger.Instance);

        // A feature turned on by a reload meets the same failure as a store that is down, and fails closed the same way.
        store.Invoking(s => s.Database).Should().Throw<RedisConnectionException>().WithMessage($"{ValkeyUrl.Variable} is not set");
        store.Invoking(s => s.CacheDatabase).Should().Throw<RedisConnectionException>();
    }

    [Fact]
    public void Constructor_MalformedUrl_IsAStartupError()
    {
        var act = () => new ValkeyStore("ftp://h", null, NullLogger.Instance);

        act.Should().Throw<TensorZeroStartupException>().Which.Message.Should().Contain(ValkeyUrl.Variable);
    }

    [Fact]
    public async Task CacheDatabase_OwnUrl_IsASeparateStore()
    {
        await using var primary = await RedisTestServer.StartAsync();
        await using var cache = await RedisTestServer.StartAsync();
        using var store = new ValkeyStore(primary.Url, cache.Url, NullLogger.Instance);

        await store.CacheDatabase.StringSetAsync("only-in-cache", "1");

        (await store.Database.KeyExistsAsync("only-in-cache")).Should().BeFalse();
        (await cache.CommandAsync("EXISTS only-in-cache")).Should().Be(":1");
    }
}
