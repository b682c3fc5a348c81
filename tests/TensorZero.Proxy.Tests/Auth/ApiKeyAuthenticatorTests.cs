using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using TensorZero.Proxy.Auth;
using TensorZero.Proxy.Configuration;
using TensorZero.Proxy.Tests.TestSupport;
using TensorZero.Proxy.Valkey;

namespace TensorZero.Proxy.Tests.Auth;

/// <summary>The per-replica answer cache on a fake clock, against a real redis-server (TensorZero's auth cache tests).</summary>
public sealed class ApiKeyAuthenticatorTests : IAsyncLifetime
{
    private static readonly AuthSettings Cached = new(true, true, TimeSpan.FromMilliseconds(1000));
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 6, 5, 0, 0, TimeSpan.Zero));
    private RedisTestServer _redis = null!;
    private ValkeyStore _valkey = null!;
    private ApiKeyStore _store = null!;
    private ApiKeyAuthenticator _authenticator = null!;

    public async Task InitializeAsync()
    {
        _redis = await RedisTestServer.StartAsync();
        _valkey = new ValkeyStore(_redis.Url, null, NullLogger.Instance);
        _store = new ApiKeyStore(_valkey.Database);
        _authenticator = new ApiKeyAuthenticator(_valkey, _time);
    }

    public async Task DisposeAsync()
    {
        _valkey.Dispose();
        await _redis.DisposeAsync();
    }

    [Fact]
    public async Task VerifyAsync_DisabledKey_StillAcceptedUntilTheTtlThenRefused()
    {
        var key = await CreateAsync();
        (await _authenticator.VerifyAsync(key, Cached)).Should().Be(ApiKeyVerdict.Valid(key.PublicId));

        var disabledAt = await _store.DisableAsync(key.PublicId, _time.GetUtcNow());
        _time.Advance(TimeSpan.FromMilliseconds(999));
        (await _authenticator.VerifyAsync(key, Cached)).PublicId.Should().Be(key.PublicId, "this replica remembers the answer for ttl_ms");

        _time.Advance(TimeSpan.FromMilliseconds(1));
        (await _authenticator.VerifyAsync(key, Cached)).Should().Be(
            ApiKeyVerdict.Refused("Error performing authentication: API key was disabled at: " + ApiKeyStore.Display(disabledAt!.Value)));
    }

    [Fact]
    public async Task VerifyAsync_CacheDisabled_SeesTheDisableAtOnce()
    {
        var settings = Cached with { CacheEnabled = false };
        var key = await CreateAsync();
        (await _authenticator.VerifyAsync(key, settings)).PublicId.Should().Be(key.PublicId);

        await _store.DisableAsync(key.PublicId, _time.GetUtcNow());

        (await _authenticator.VerifyAsync(key, settings)).Error.Should().StartWith("Error performing authentication: API key was disabled at: ");
        _authenticator.CachedCount.Should().Be(0);
    }

    [Fact]
    public async Task VerifyAsync_ShorterTtlAfterAReload_AppliesToRememberedAnswers()
    {
        var key = await CreateAsync();
        await _authenticator.VerifyAsync(key, Cached with { CacheTtl = TimeSpan.FromMinutes(10) });
        await _store.DisableAsync(key.PublicId, _time.GetUtcNow());
        _time.Advance(TimeSpan.FromSeconds(2));

        (await _authenticator.VerifyAsync(key, Cached)).PublicId.Should().BeNull("the live ttl (1 s) decides, not the one in force when the answer was stored");
    }

    [Fact]
    public async Task VerifyAsync_KeyExpiringWhileRemembered_IsRefusedAtItsExpiry()
    {
        var key = await CreateAsync(expiresAt: _time.GetUtcNow().AddMilliseconds(500));
        (await _authenticator.VerifyAsync(key, Cached)).PublicId.Should().Be(key.PublicId);

        _time.Advance(TimeSpan.FromMilliseconds(500));

        (await _authenticator.VerifyAsync(key, Cached)).Error.Should().Be(
            "Error performing authentication: API key expired at: " + ApiKeyStore.Display(_time.GetUtcNow()));
    }

    [Fact]
    public async Task VerifyAsync_ForgedSecretOfACachedKey_IsMissingNotValid()
    {
        var key = await CreateAsync();
        await _authenticator.VerifyAsync(key, Cached);
        TensorZeroApiKey.TryParse($"sk-t0-{key.PublicId}-{new string('z', 48)}", out var forged, out _);

        (await _authenticator.VerifyAsync(forged!, Cached)).Should().Be(
            ApiKeyVerdict.Refused("Error performing authentication: Provided API key does not exist in the store"));
    }

    [Fact]
    public async Task VerifyAsync_ManyUnknownKeys_CacheStaysBounded()
    {
        for (var i = 0; i < ApiKeyAuthenticator.MaxEntries + 50; i++)
        {
            TensorZeroApiKey.TryParse(TensorZeroApiKey.Generate(), out var unknown, out _);
            (await _authenticator.VerifyAsync(unknown!, Cached)).PublicId.Should().BeNull();
        }

        _authenticator.CachedCount.Should().BeLessThanOrEqualTo(ApiKeyAuthenticator.MaxEntries);
    }

    [Fact]
    public async Task VerifyAsync_StoreDownForAnUnrememberedKey_Throws_ButARememberedOneStillAnswers()
    {
        var remembered = await CreateAsync();
        var other = await CreateAsync();
        await _authenticator.VerifyAsync(remembered, Cached);
        await _redis.StopAsync();

        (await _authenticator.VerifyAsync(remembered, Cached)).PublicId.Should().Be(remembered.PublicId);
        var act = async () => await _authenticator.VerifyAsync(other, Cached);
        await act.Should().ThrowAsync<StackExchange.Redis.RedisException>();
    }

    private async Task<TensorZeroApiKey> CreateAsync(DateTimeOffset? expiresAt = null)
    {
        TensorZeroApiKey.TryParse(await _store.CreateAsync(_time.GetUtcNow(), expiresAt, null), out var key, out _);
        return key!;
    }
}
