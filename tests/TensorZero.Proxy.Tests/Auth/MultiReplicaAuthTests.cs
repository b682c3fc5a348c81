using System.Net;
using System.Net.Http.Headers;
using System.Text;
using TensorZero.Proxy.Tests.TestSupport;
using TensorZero.Proxy.Valkey;

namespace TensorZero.Proxy.Tests.Auth;

/// <summary>
/// Issue 20's acceptance for auth: three gateway processes and one redis-server on loopback. A key created with the
/// CLI works on every replica; after <c>--disable-api-key</c> every replica refuses it within <c>cache.ttl_ms</c>.
/// </summary>
public sealed class MultiReplicaAuthTests
{
    private const int TtlMs = 1000;

    /// <summary>Scheduling and one store round trip on a loaded 2-core machine, on top of the ttl.</summary>
    private static readonly TimeSpan Slack = TimeSpan.FromMilliseconds(750);

    [Fact]
    public async Task DisabledKey_ThreeReplicas_EachRefusesItWithinTheTtl()
    {
        using var dir = new TempDirectory();
        var config = dir.Write("tensorzero.toml", $"[gateway.auth]\nenabled = true\ncache = {{ ttl_ms = {TtlMs} }}\n\n" + TestConfigs.DummyProtocolModels);
        await using var redis = await RedisTestServer.StartAsync();
        var env = new Dictionary<string, string> { [ValkeyUrl.Variable] = redis.Url };
        await using var replicas = await GatewayReplicas.StartAsync(3, env, config, dir, "--Logging:LogLevel:Default=Warning");
        var (created, createdOut, _) = await GatewayProcess.RunToExitAsync(env, TimeSpan.FromSeconds(60), "--create-api-key");
        created.Should().Be(0);
        var key = createdOut.Single();

        // Every replica accepts it, and keeps accepting it right up to the revocation (each request also fills its cache).
        foreach (var replica in replicas.All)
        {
            (await ChatAsync(replica, key)).Should().Be(HttpStatusCode.OK);
        }
        foreach (var replica in replicas.All)
        {
            (await ChatAsync(replica, key)).Should().Be(HttpStatusCode.OK, "the key is accepted until it is disabled");
        }

        var (disabled, _, _) = await GatewayProcess.RunToExitAsync(env, TimeSpan.FromSeconds(60), "--disable-api-key", key[6..18]);
        disabled.Should().Be(0);
        // Measured from the moment the store took the revocation (its disabled_at, written by the command on this
        // machine's clock), not from when the command's process exited, which is later.
        using var valkey = new ValkeyStore(redis.Url, null, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        TensorZero.Proxy.Auth.TensorZeroApiKey.TryParse(key, out var parsed, out _);
        var revokedAt = (await new TensorZero.Proxy.Auth.ApiKeyStore(valkey.Database).FindAsync(parsed!))!.DisabledAt!.Value;

        // Poll every replica until each refuses; each refusal must come within ttl_ms (+ slack) of the revocation.
        var refusedAfter = new TimeSpan?[replicas.Count];
        while (refusedAfter.Any(t => t is null) && DateTimeOffset.UtcNow - revokedAt < TimeSpan.FromMilliseconds(TtlMs) + Slack + TimeSpan.FromSeconds(5))
        {
            for (var i = 0; i < replicas.Count; i++)
            {
                if (refusedAfter[i] is null && await ChatAsync(replicas[i], key) == HttpStatusCode.Unauthorized)
                {
                    refusedAfter[i] = DateTimeOffset.UtcNow - revokedAt;
                }
            }
            await Task.Delay(20);
        }

        refusedAfter.Should().AllSatisfy(t => t.Should().NotBeNull().And.BeLessThan(TimeSpan.FromMilliseconds(TtlMs) + Slack,
            "a disabled key stops on every replica within cache.ttl_ms"));
        // Once refused, refused for good on every replica.
        foreach (var replica in replicas.All)
        {
            (await ChatAsync(replica, key)).Should().Be(HttpStatusCode.Unauthorized);
        }
    }

    [Fact]
    public async Task NewKey_CacheOff_WorksOnEveryReplicaAtOnce_AndStopsAtOnce()
    {
        using var dir = new TempDirectory();
        var config = dir.Write("tensorzero.toml", "[gateway.auth]\nenabled = true\ncache = { enabled = false }\n\n" + TestConfigs.DummyProtocolModels);
        await using var redis = await RedisTestServer.StartAsync();
        var env = new Dictionary<string, string> { [ValkeyUrl.Variable] = redis.Url };
        await using var first = await GatewayProcess.StartAsync(env, "--config-file", config, $"--TensorZero:Observability:DataDir={dir.PathOf("a")}");
        await using var second = await GatewayProcess.StartAsync(env, "--config-file", config, $"--TensorZero:Observability:DataDir={dir.PathOf("b")}");
        var (_, createdOut, _) = await GatewayProcess.RunToExitAsync(env, TimeSpan.FromSeconds(60), "--create-api-key");
        var key = createdOut.Single();
        (await ChatAsync(first, key)).Should().Be(HttpStatusCode.OK);
        (await ChatAsync(second, key)).Should().Be(HttpStatusCode.OK);

        var (disabled, _, _) = await GatewayProcess.RunToExitAsync(env, TimeSpan.FromSeconds(60), "--disable-api-key", key[6..18]);

        disabled.Should().Be(0);
        (await ChatAsync(first, key)).Should().Be(HttpStatusCode.Unauthorized, "with the cache off every request asks the store");
        (await ChatAsync(second, key)).Should().Be(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task GatewayProcess_AuthOnWithoutValkeyUrl_ExitsWithOneLine()
    {
        using var dir = new TempDirectory();
        var config = dir.Write("tensorzero.toml", "[gateway.auth]\nenabled = true\n\n" + TestConfigs.DummyProtocolModels);

        var (code, stdout, stderr) = await GatewayProcess.RunToExitAsync(new Dictionary<string, string> { [ValkeyUrl.Variable] = "" }, TimeSpan.FromSeconds(60),
            "--config-file", config, "--urls", "http://127.0.0.1:0", $"--TensorZero:Observability:DataDir={dir.PathOf("data")}");

        code.Should().Be(1);
        stderr.Should().ContainSingle().Which.Should().Be(
            "gateway.auth.enabled needs a Valkey/Redis store shared by the gateway's replicas: set TENSORZERO_VALKEY_URL (e.g. redis://127.0.0.1:6379)");
        stdout.Should().NotContain(line => line.Contains("Exception", StringComparison.Ordinal));
    }

    private static async Task<HttpStatusCode> ChatAsync(GatewayProcess replica, string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/openai/v1/chat/completions")
        {
            Content = new StringContent("""{"model":"tensorzero::model_name::dummy","messages":[{"role":"user","content":"Hello"}]}""", Encoding.UTF8, "application/json"),
            Headers = { Authorization = new AuthenticationHeaderValue("Bearer", key) },
        };
        using var response = await replica.Client.SendAsync(request);
        return response.StatusCode;
    }
}
