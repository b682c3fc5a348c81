using System.Diagnostics;
using System.Net;
using System.Text;
using TensorZero.Proxy.Tests.TestSupport;
using TensorZero.Proxy.Valkey;

namespace TensorZero.Proxy.Tests.Valkey;

/// <summary>
/// Issue 20's acceptance for the cache: three gateway processes and one Redis on loopback; an answer one replica got
/// from the provider is a cache hit on the other two, which do not call the provider.
/// </summary>
public sealed class MultiReplicaCacheTests
{
    [Fact]
    public async Task ThreeGatewayProcesses_OneRedis_CacheHitsSkipTheProvider()
    {
        await using var redis = await RedisTestServer.StartAsync();
        await using var fake = await FakeProvider.StartAsync(FakeResponses.Default("answer from the provider"));
        using var folder = new TempDirectory();
        var config = Path.Combine(folder.Root, "tensorzero.toml");
        await File.WriteAllTextAsync(config,
            TestConfigs.SingleProviderModel("up", "p", fake.BaseUrl) + TestConfigs.SingleVariantFunction("f", "up"));
        var environment = new Dictionary<string, string> { [ValkeyUrl.Variable] = redis.Url };
        await using var replicas = await GatewayReplicas.StartAsync(3, environment, config, folder);
        using (var first = await PostAsync(replicas[0], "the same question"))
        {
            first.StatusCode.Should().Be(HttpStatusCode.OK);
            first.Headers.Contains("x-tensorzero-cache").Should().BeFalse();
        }
        var watch = Stopwatch.StartNew();
        while (await redis.CommandAsync("DBSIZE") != ":1")
        {
            watch.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(10), "the entry reaches the shared store");
            await Task.Delay(20);
        }
        foreach (var replica in replicas.All.Skip(1))
        {
            using var hit = await PostAsync(replica, "the same question");
            hit.StatusCode.Should().Be(HttpStatusCode.OK);
            hit.Headers.GetValues("x-tensorzero-cache").Should().Equal("hit");
            (await hit.Content.ReadAsStringAsync()).Should().Contain("answer from the provider");
        }
        using (var other = await PostAsync(replicas[2], "another question"))
        {
            other.Headers.Contains("x-tensorzero-cache").Should().BeFalse("a different request is a miss");
        }

        fake.Received.Should().HaveCount(2, "only the first question and the different one reached the provider");
    }

    private static Task<HttpResponseMessage> PostAsync(GatewayProcess replica, string question) =>
        replica.Client.PostAsync("/openai/v1/chat/completions", new StringContent(
            $$$"""{"model":"tensorzero::function_name::f","messages":[{"role":"user","content":"{{{question}}}"}],"tensorzero::cache_options":{"enabled":"on"}}""",
            Encoding.UTF8, "application/json"));
}
