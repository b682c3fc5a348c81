using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using TensorZero.Proxy.Auth;
using TensorZero.Proxy.Tests.TestSupport;
using TensorZero.Proxy.Valkey;

namespace TensorZero.Proxy.Tests.Auth;

/// <summary>The gateway host's API key commands, run as the built gateway process against a real redis-server.</summary>
public sealed class ApiKeyCommandsTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task CreateThenDisable_BuiltGateway_KeyOnStdoutThenDisabledInTheStore()
    {
        await using var redis = await RedisTestServer.StartAsync();
        var env = Environment(redis.Url);

        var (created, key, createErrors) = await GatewayProcess.RunToExitAsync(env, Timeout, "--create-api-key");

        created.Should().Be(0, string.Join('\n', createErrors));
        key.Should().ContainSingle("only the key is printed, so a script can capture it").Which.Should().MatchRegex("^sk-t0-[A-Za-z0-9]{12}-[A-Za-z0-9]{48}$");
        using var valkey = new ValkeyStore(redis.Url, null, NullLogger.Instance);
        var store = new ApiKeyStore(valkey.Database);
        TensorZeroApiKey.TryParse(key[0], out var parsed, out _);
        (await store.FindAsync(parsed!))!.StatusAt(DateTimeOffset.UtcNow).Should().Be(ApiKeyStatus.Valid);

        var (disabled, output, _) = await GatewayProcess.RunToExitAsync(env, Timeout, "--disable-api-key", parsed!.PublicId);

        disabled.Should().Be(0);
        var info = await store.FindAsync(parsed);
        info!.StatusAt(DateTimeOffset.UtcNow).Should().Be(ApiKeyStatus.Disabled);
        output.Should().Equal($"Disabled API key {parsed.PublicId} at {ApiKeyStore.Display(info.DisabledAt!.Value)}");
    }

    [Fact]
    public async Task CreateWithExpiration_ListShowsIt_AndBadExpirationsAreRefused()
    {
        await using var redis = await RedisTestServer.StartAsync();
        var env = Environment(redis.Url);

        var (created, key, _) = await GatewayProcess.RunToExitAsync(env, Timeout,
            "--create-api-key", "--expiration", "2099-12-20 23:00:00.000000 UTC", "--description", "ci");
        var (past, _, pastErrors) = await GatewayProcess.RunToExitAsync(env, Timeout, "--create-api-key", "--expiration", "2020-01-01T00:00:00Z");
        var (listed, lines, _) = await GatewayProcess.RunToExitAsync(env, Timeout, "--list-api-keys");

        created.Should().Be(0);
        past.Should().Be(1);
        pastErrors.Should().Contain("Failed to create API key: Expiration datetime needs to be in the future");
        listed.Should().Be(0);
        var only = JsonDocument.Parse(lines.Should().ContainSingle("the refused key was never created").Which).RootElement;
        only.GetProperty("public_id").GetString().Should().Be(key[0][6..18]);
        only.GetProperty("status").GetString().Should().Be("valid");
        only.GetProperty("expires_at").GetDateTimeOffset().Should().Be(new DateTimeOffset(2099, 12, 20, 23, 0, 0, TimeSpan.Zero));
        only.GetProperty("description").GetString().Should().Be("ci");
        lines[0].Should().NotContain(key[0][19..], "a listing never shows a secret");
    }

    public static TheoryData<string[], string> Refused => new()
    {
        { ["--disable-api-key", "nosuchkey000"], "Failed to disable API key: no API key has the public id 'nosuchkey000'" },
        { ["--disable-api-key", "bad id"], "Failed to disable API key: 'bad id' is not a public id" },
        { ["--disable-api-key"], "--disable-api-key needs the key's public id" },
        { ["--create-api-key", "--expiration", "tomorrow"], "Failed to create API key: Invalid `expires_at` value: 'tomorrow'" },
        { ["--create-api-key", "--expiraton", "2099-01-01T00:00:00Z"], "unexpected argument '--expiraton'" },
        { ["--expiration", "2099-01-01T00:00:00Z"], "--expiration requires --create-api-key" },
        { ["--create-api-key", "--list-api-keys"], "--create-api-key and --list-api-keys cannot be used together" },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public async Task Run_Refused_ExitsOneWithTheReason(string[] args, string expected)
    {
        await using var redis = await RedisTestServer.StartAsync();
        var output = new StringWriter();
        var error = new StringWriter();

        var code = await ApiKeyCommands.RunAsync(args, output, error, name => name == ValkeyUrl.Variable ? redis.Url : null, TimeProvider.System);

        code.Should().Be(1);
        error.ToString().Should().StartWith(expected);
        output.ToString().Should().BeEmpty();
    }

    [Fact]
    public async Task Create_NoValkeyUrl_ExitsOneSayingWhichVariable()
    {
        var (code, stdout, stderr) = await GatewayProcess.RunToExitAsync(new Dictionary<string, string> { [ValkeyUrl.Variable] = "" }, Timeout, "--create-api-key");

        code.Should().Be(1);
        stdout.Should().BeEmpty();
        stderr.Should().ContainSingle().Which.Should().StartWith("Failed to create API key: TENSORZERO_VALKEY_URL environment variable not set");
    }

    [Fact]
    public async Task Disable_StoreUnreachable_ExitsOneQuickly()
    {
        var url = $"redis://:hunter2@127.0.0.1:{GatewayProcess.FreePort()}";
        var watch = System.Diagnostics.Stopwatch.StartNew();

        var (code, stdout, stderr) = await GatewayProcess.RunToExitAsync(Environment(url), Timeout, "--disable-api-key", "aaaaaaaaaaaa");

        code.Should().Be(1);
        stdout.Should().BeEmpty();
        string.Join('\n', stderr).Should().StartWith("Failed to disable API key: the API key store at redis://***@127.0.0.1:").And.NotContain("hunter2");
        watch.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(30));
    }

    [Theory]
    [InlineData("2026-12-20T23:00:00Z", "2026-12-20T23:00:00.0000000+00:00")]
    [InlineData("2026-12-20 23:00:00.000000 UTC", "2026-12-20T23:00:00.0000000+00:00")]
    [InlineData("2026-12-20 23:00:00.123456789 UTC", "2026-12-20T23:00:00.1234567+00:00")]
    [InlineData("2026-12-21T01:00:00+02:00", "2026-12-20T23:00:00.0000000+00:00")]
    [InlineData("2026-12-20t23:00:00z", "2026-12-20T23:00:00.0000000+00:00")]
    [InlineData("2026-12-20T23:00:00", null)]
    [InlineData("2026-12-20", null)]
    [InlineData("2026-13-20T23:00:00Z", null)]
    [InlineData("some complete nonsense", null)]
    public void ParseTime_NeedsAZone(string text, string? expected)
    {
        var parsed = ApiKeyCommands.ParseTime(text);

        (parsed?.ToString("O", System.Globalization.CultureInfo.InvariantCulture)).Should().Be(expected);
    }

    private static Dictionary<string, string> Environment(string url) => new() { [ValkeyUrl.Variable] = url };
}
