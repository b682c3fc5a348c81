using System.Net;
using System.Text;
using TensorZero.Proxy.Tests.TestSupport;
using TensorZero.Proxy.Valkey;

namespace TensorZero.Proxy.Tests.RateLimiting;

/// <summary>
/// Issue 20's acceptance: three gateway processes share one Redis, and a limit holds across them as one limit.
/// </summary>
public sealed class RateLimitingReplicasTests
{
    [Fact]
    public async Task ThreeGateways_OneStore_AdmitExactlyTheLimitInTotal()
    {
        await using var redis = await RedisTestServer.StartAsync();
        using var dir = new TempDirectory();
        var config = dir.Write("tensorzero.toml", """
            [models.dummy]
            routing = ["dummy"]
            [models.dummy.providers.dummy]
            type = "dummy"
            model_name = "test"

            [[rate_limiting.rules]]
            model_inferences_per_minute = 100
            always = true
            """);
        var environment = new Dictionary<string, string> { [ValkeyUrl.Variable] = redis.Url };
        await using var gateways = await GatewayReplicas.StartAsync(3, environment, config, dir);
        const string body = """{"model":"tensorzero::model_name::dummy","messages":[{"role":"user","content":"hi"}]}""";

        // One request each first (their first inference is the slow, cold one): 3 of the 100.
        foreach (var gateway in gateways.All)
        {
            using var warm = await gateway.Client.PostAsync("/openai/v1/chat/completions", new StringContent(body, Encoding.UTF8, "application/json"));
            warm.StatusCode.Should().Be(HttpStatusCode.OK);
        }

        var answers = await Task.WhenAll(Enumerable.Range(0, 150).Select(async n =>
        {
            using var response = await gateways[n % 3].Client.PostAsync("/openai/v1/chat/completions",
                new StringContent(body, Encoding.UTF8, "application/json"));
            return (response.StatusCode, RetryAfter: response.Headers.RetryAfter?.Delta, Gateway: n % 3);
        }));

        answers.Count(a => a.StatusCode == HttpStatusCode.OK).Should().Be(97,
            $"statuses {string.Join(",", answers.GroupBy(a => a.StatusCode).Select(g => $"{g.Key}x{g.Count()}"))}; output: {string.Join("\n", gateways[0].Output.TakeLast(20))}; one limit of 100 per minute holds across the three replicas (3 went to the warm-up)");
        answers.Where(a => a.StatusCode != HttpStatusCode.OK).Should().HaveCount(53)
            .And.OnlyContain(a => a.StatusCode == HttpStatusCode.TooManyRequests && a.RetryAfter >= TimeSpan.FromSeconds(1) && a.RetryAfter <= TimeSpan.FromSeconds(60));
    }
}
