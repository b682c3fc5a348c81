using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using TensorZero.Proxy.Configuration;
using TensorZero.Proxy.Functions;
using TensorZero.Proxy.Inference;
using TensorZero.Proxy.Tests.TestSupport;
using TensorZero.Proxy.Valkey;

namespace TensorZero.Proxy.Tests.Valkey;

public sealed class ModelInferenceCacheStoreTests
{
    [Theory]
    [InlineData(false, null, null, "Memory")]
    [InlineData(true, null, null, "Valkey")]
    [InlineData(true, true, "Auto", "Valkey")]
    [InlineData(true, null, "Valkey", "Valkey")]
    [InlineData(true, null, "ClickHouse", "Memory")]
    [InlineData(false, true, "ClickHouse", "Memory")]
    [InlineData(true, false, null, "None")]
    [InlineData(false, false, "Valkey", "None")]
    public void StoreFor_SettingsAndStore_PickTensorZerosBackend(bool storeConfigured, bool? enabled, string? backend, string expected)
    {
        using var store = new ValkeyStore(storeConfigured ? "redis://127.0.0.1:1" : null, null, NullLogger.Instance);
        var cache = new ModelInferenceCache(TimeProvider.System, store, NullLogger<ModelInferenceCache>.Instance);

        cache.StoreFor(new CacheSettings(enabled, backend is null ? null : Enum.Parse<CacheBackend>(backend), null)).Should().Be(Enum.Parse<CacheStore>(expected));
    }

    [Fact]
    public void Require_ValkeyBackendWithoutStore_FailsStartup()
    {
        using var store = new ValkeyStore(null, null, NullLogger.Instance);
        var cache = new ModelInferenceCache(TimeProvider.System, store, NullLogger<ModelInferenceCache>.Instance);

        cache.Invoking(c => c.Require(new CacheSettings(null, CacheBackend.Valkey, null))).Should().Throw<TensorZeroStartupException>();
        cache.Invoking(c => c.Require(new CacheSettings(false, CacheBackend.Valkey, null))).Should().NotThrow("a disabled cache needs no store");
        cache.Invoking(c => c.Require(CacheSettings.Default)).Should().NotThrow();
    }

    [Fact]
    public async Task GetAsync_SharedStore_HonoursMaxAgeOnTheWritersClock()
    {
        await using var redis = await RedisTestServer.StartAsync();
        using var store = new ValkeyStore(redis.Url, null, NullLogger.Instance);
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-12-06T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var cache = new ModelInferenceCache(time, store, NullLogger<ModelInferenceCache>.Instance);
        var settings = CacheSettings.Default;

        cache.Set("k", new CachedModelOutput([new TextBlock("a")], FinishReason.Stop, "raw", default), settings);
        await WaitForAsync(async () => await cache.GetAsync("k", new CacheOptions(CacheMode.On, null), settings) is not null);
        time.Advance(TimeSpan.FromSeconds(10));

        (await cache.GetAsync("k", new CacheOptions(CacheMode.On, 10), settings)).Should().NotBeNull("10 s old is within max_age_s = 10");
        (await cache.GetAsync("k", new CacheOptions(CacheMode.On, 9), settings)).Should().BeNull("10 s old is past max_age_s = 9");
        (await cache.GetAsync("other", new CacheOptions(CacheMode.On, null), settings)).Should().BeNull();
        cache.Count.Should().Be(0, "nothing went to this replica's memory");
    }

    [Fact]
    public async Task GetAsync_EntryOfAnotherFormat_IsAMiss()
    {
        await using var redis = await RedisTestServer.StartAsync();
        using var store = new ValkeyStore(redis.Url, null, NullLogger.Instance);
        var cache = new ModelInferenceCache(TimeProvider.System, store, NullLogger<ModelInferenceCache>.Instance);
        await store.CacheDatabase.StringSetAsync(ModelInferenceCache.KeyPrefix + "k", """{"v":99}""");

        (await cache.GetAsync("k", new CacheOptions(CacheMode.On, null), CacheSettings.Default)).Should().BeNull();
    }

    private static async Task WaitForAsync(Func<Task<bool>> condition)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        while (!await condition())
        {
            watch.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(10));
            await Task.Delay(20);
        }
    }
}
