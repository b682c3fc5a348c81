using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using TensorZero.Proxy.RateLimiting;
using TensorZero.Proxy.Tests.TestSupport;
using TensorZero.Proxy.Valkey;

namespace TensorZero.Proxy.Tests.RateLimiting;

/// <summary>
/// The Lua scripts against a real redis-server. The scripts take the refill interval as an argument (the limits' are
/// whole seconds and more), so refills are tested with sub-second intervals and real, short waits; time itself is always
/// the server's <c>TIME</c>, as in production.
/// </summary>
public sealed class RateLimitStoreTests : IAsyncLifetime
{
    private const long Minute = 60_000_000;
    private RedisTestServer _redis = null!;
    private ValkeyStore _store = null!;

    public async Task InitializeAsync()
    {
        _redis = await RedisTestServer.StartAsync();
        _store = new ValkeyStore(_redis.Url, null, NullLogger.Instance);
    }

    public async Task DisposeAsync()
    {
        _store.Dispose();
        await _redis.DisposeAsync();
    }

    [Fact]
    public async Task Consume_NewBucket_StartsFullAndRefusesPastCapacity()
    {
        var bucket = new BucketRequest("a", 1, 3, 3, Minute);

        for (var i = 2; i >= 0; i--)
        {
            var admitted = await RateLimitStore.ConsumeAsync(_store.Database, [bucket]);
            admitted.Success.Should().BeTrue();
            admitted.Available.Should().Equal(i);
        }
        var refused = await RateLimitStore.ConsumeAsync(_store.Database, [bucket]);

        refused.Success.Should().BeFalse();
        refused.Available.Should().Equal(0);
        refused.RetryAfter.Should().NotBeNull();
        refused.RetryAfter!.Value.Should().BeGreaterThan(TimeSpan.FromSeconds(55)).And.BeLessThanOrEqualTo(TimeSpan.FromMinutes(1),
            "the bucket refills one whole minute after its first use");
    }

    [Fact]
    public async Task Consume_OneBucketShort_ChargesNoBucket()
    {
        var roomy = new BucketRequest("roomy", 1, 10, 10, Minute);
        var tight = new BucketRequest("tight", 1, 1, 1, Minute);
        (await RateLimitStore.ConsumeAsync(_store.Database, [roomy, tight])).Success.Should().BeTrue();

        var refused = await RateLimitStore.ConsumeAsync(_store.Database, [roomy, tight]);

        refused.Success.Should().BeFalse();
        refused.Available.Should().Equal(9, 0);
        (await Balance("roomy")).Should().Be(9, "all or nothing: the bucket that had room was not charged either");
    }

    [Fact]
    public async Task Consume_RequestLargerThanWhatIsLeft_IsRefusedWithWhatIsLeft()
    {
        var tokens = new BucketRequest("tokens", 70, 100, 100, Minute);
        (await RateLimitStore.ConsumeAsync(_store.Database, [tokens])).Success.Should().BeTrue();

        var refused = await RateLimitStore.ConsumeAsync(_store.Database, [tokens]);

        refused.Success.Should().BeFalse();
        refused.Available.Should().Equal(30);
    }

    [Fact]
    public async Task Consume_AfterWholeIntervals_RefillsAlignedToTheFirstUse()
    {
        const long interval = 400_000; // 0.4 s
        var bucket = new BucketRequest("refill", 1, 2, 1, interval);
        (await RateLimitStore.ConsumeAsync(_store.Database, [bucket])).Success.Should().BeTrue();
        var firstUse = await LastRefilled("refill");
        (await RateLimitStore.ConsumeAsync(_store.Database, [bucket])).Success.Should().BeTrue();
        var refused = await RateLimitStore.ConsumeAsync(_store.Database, [bucket]);
        refused.Success.Should().BeFalse();
        refused.RetryAfter!.Value.Should().BeLessThanOrEqualTo(TimeSpan.FromMicroseconds(interval));

        await Task.Delay(refused.RetryAfter.Value + TimeSpan.FromMilliseconds(50));
        var refilled = await RateLimitStore.ConsumeAsync(_store.Database, [bucket]);

        refilled.Success.Should().BeTrue("one whole interval gave one ticket back");
        refilled.Available.Should().Equal(0);
        var moved = await LastRefilled("refill") - firstUse;
        moved.Should().BePositive();
        (moved % interval).Should().Be(0, "the refill time moves by whole intervals, so refills stay aligned to the first use");
        (await RateLimitStore.ConsumeAsync(_store.Database, [bucket])).Success.Should().BeFalse();
    }

    [Fact]
    public async Task Consume_NoRefill_HasNoRetryAfter()
    {
        var once = new BucketRequest("once", 1, 1, 0, Minute);
        (await RateLimitStore.ConsumeAsync(_store.Database, [once])).Success.Should().BeTrue();

        var refused = await RateLimitStore.ConsumeAsync(_store.Database, [once]);

        refused.Success.Should().BeFalse();
        refused.RetryAfter.Should().BeNull("a bucket with refill_rate 0 never refills");
    }

    [Fact]
    public async Task Consume_SetsAnExpiryOfAtLeast48Hours()
    {
        await RateLimitStore.ConsumeAsync(_store.Database, [new BucketRequest("ttl", 1, 5, 5, Minute)]);

        var ttl = await _store.Database.KeyTimeToLiveAsync(RateLimitStore.KeyPrefix + "ttl");

        ttl.Should().NotBeNull();
        ttl!.Value.Should().BeGreaterThan(TimeSpan.FromHours(47));
    }

    [Fact]
    public async Task Adjust_GivesBackUpToCapacityAndTakesDownToZero()
    {
        var tokens = new BucketRequest("adjust", 60, 100, 100, Minute);
        (await RateLimitStore.ConsumeAsync(_store.Database, [tokens])).Available.Should().Equal(40);

        (await RateLimitStore.AdjustAsync(_store.Database, [tokens with { Amount = 30 }])).Should().Equal(70);
        (await RateLimitStore.AdjustAsync(_store.Database, [tokens with { Amount = 500 }])).Should().Equal([100], "never above capacity");
        (await RateLimitStore.AdjustAsync(_store.Database, [tokens with { Amount = -250 }])).Should().Equal([0], "an under-estimate takes what is left");
    }

    [Fact]
    public async Task Consume_AfterScriptFlush_LoadsTheScriptAgain()
    {
        var bucket = new BucketRequest("flush", 1, 5, 5, Minute);
        (await RateLimitStore.ConsumeAsync(_store.Database, [bucket])).Success.Should().BeTrue();

        (await _redis.CommandAsync("SCRIPT FLUSH")).Should().Be("+OK");
        var again = await RateLimitStore.ConsumeAsync(_store.Database, [bucket]);

        again.Success.Should().BeTrue("a store that lost its scripts (restart, flush) gets them again");
        again.Available.Should().Equal(3);
    }

    [Fact]
    public async Task Consume_ConcurrentCallers_NeverOverspend()
    {
        var bucket = new BucketRequest("race", 1, 50, 50, Minute);

        var results = await Task.WhenAll(Enumerable.Range(0, 120).Select(_ => RateLimitStore.ConsumeAsync(_store.Database, [bucket])));

        results.Count(r => r.Success).Should().Be(50);
    }

    private async Task<long> Balance(string key) => (long)await _store.Database.HashGetAsync(RateLimitStore.KeyPrefix + key, "balance");

    private async Task<long> LastRefilled(string key) => (long)await _store.Database.HashGetAsync(RateLimitStore.KeyPrefix + key, "last_refilled");
}
