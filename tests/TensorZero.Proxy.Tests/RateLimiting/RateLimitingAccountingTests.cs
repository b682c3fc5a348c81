using System.Diagnostics;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using TensorZero.Proxy.Configuration;
using TensorZero.Proxy.Tests.TestSupport;
using TensorZero.Proxy.Valkey;

namespace TensorZero.Proxy.Tests.RateLimiting;

/// <summary>What a call is charged: cache hits nothing, tokens settled to the reported usage, embeddings too, and the live rules.</summary>
public sealed class RateLimitingAccountingTests
{
    private static Dictionary<string, string> Store(RedisTestServer redis) => new() { [ValkeyUrl.Variable] = redis.Url };

    private static async Task<HttpResponseMessage> PostAsync(TestGateway gateway, string json, string path = "/openai/v1/chat/completions") =>
        await gateway.Client.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));

    private static string Chat(string content, string extra = "") =>
        $$"""{"model":"tensorzero::model_name::dummy","messages":[{"role":"user","content":"{{content}}"}]{{extra}}}""";

    [Fact]
    public async Task CacheHit_IsNotCharged()
    {
        await using var redis = await RedisTestServer.StartAsync();
        await using var gateway = await TestGateway.StartAsync(
            TestConfigs.DummyProtocolModels + "\n[[rate_limiting.rules]]\nmodel_inferences_per_hour = 1\nalways = true\n", Store(redis));
        const string cache = ",\"tensorzero::cache_options\":{\"enabled\":\"on\"}";

        (await PostAsync(gateway, Chat("same", cache))).StatusCode.Should().Be(HttpStatusCode.OK);
        using var hit = await PostAsync(gateway, Chat("same", cache));
        using var other = await PostAsync(gateway, Chat("other", cache));

        hit.StatusCode.Should().Be(HttpStatusCode.OK, "a cache hit calls no provider, so it is not charged");
        hit.Headers.GetValues("x-tensorzero-cache").Should().Equal("hit");
        other.StatusCode.Should().Be(HttpStatusCode.TooManyRequests);
    }

    [Fact]
    public async Task Tokens_AfterTheCall_AreSettledToTheReportedUsage()
    {
        await using var redis = await RedisTestServer.StartAsync();
        await using var gateway = await TestGateway.StartAsync(
            TestConfigs.DummyProtocolModels + "\n[[rate_limiting.rules]]\ntokens_per_hour = 1000\nalways = true\n", Store(redis));
        var request = Chat("hi", ",\"max_tokens\":900");

        (await PostAsync(gateway, request)).StatusCode.Should().Be(HttpStatusCode.OK);

        // The estimate (900 + 1) is given back down to the dummy's reported usage, off the request's path: poll.
        var clock = Stopwatch.StartNew();
        HttpStatusCode second;
        while ((second = (await PostAsync(gateway, request)).StatusCode) != HttpStatusCode.OK && clock.Elapsed < TimeSpan.FromSeconds(10))
        {
            await Task.Delay(100);
        }
        second.Should().Be(HttpStatusCode.OK, "the unused part of the first estimate went back to the bucket");
    }

    [Fact]
    public async Task Embeddings_AreLimitedLikeChat()
    {
        await using var redis = await RedisTestServer.StartAsync();
        await using var upstream = await FakeProvider.StartAsync((context, _) =>
        {
            context.Response.ContentType = "application/json";
            return context.Response.WriteAsync("""{"data":[{"index":0,"embedding":[1]}],"usage":{"prompt_tokens":1}}""");
        });
        await using var gateway = await TestGateway.StartAsync($"""
            [embedding_models.e]
            routing = ["p"]
            [embedding_models.e.providers.p]
            type = "openai"
            model_name = "up"
            api_base = "{upstream.BaseUrl}/v1/"
            api_key_location = "none"

            [[rate_limiting.rules]]
            model_inferences_per_minute = 1
            always = true
            """, Store(redis));
        const string body = """{"model":"tensorzero::embedding_model_name::e","input":"x"}""";

        (await PostAsync(gateway, body, "/openai/v1/embeddings")).StatusCode.Should().Be(HttpStatusCode.OK);
        using var limited = await PostAsync(gateway, body, "/openai/v1/embeddings");

        limited.StatusCode.Should().Be(HttpStatusCode.TooManyRequests);
        limited.Headers.RetryAfter.Should().NotBeNull();
        upstream.Received.Should().HaveCount(1);
    }

    [Fact]
    public async Task Reload_RulesFollowTheLiveConfiguration()
    {
        await using var redis = await RedisTestServer.StartAsync();
        using var dir = new TempDirectory();
        const string limited = TestConfigs.DummyProtocolModels + "\n[[rate_limiting.rules]]\nmodel_inferences_per_hour = 1\nalways = true\n";
        var path = dir.Write("tensorzero.toml", limited);
        await using var gateway = await TestGateway.StartWithServicesAsync("", services =>
        {
            services.Configure<ConfigReloadOptions>(o =>
            {
                o.Debounce = TimeSpan.FromMilliseconds(50);
                o.MaxDelay = TimeSpan.FromMilliseconds(200);
            });
            services.PostConfigure<TensorZeroOptions>(o => o.EnvironmentVariables = name => name == ValkeyUrl.Variable ? redis.Url : null);
        }, "--config-file", path);
        (await PostAsync(gateway, Chat("a"))).StatusCode.Should().Be(HttpStatusCode.OK);
        (await PostAsync(gateway, Chat("b"))).StatusCode.Should().Be(HttpStatusCode.TooManyRequests);

        File.WriteAllText(path, limited.Replace("model_inferences_per_hour = 1", "model_inferences_per_minute = 5", StringComparison.Ordinal));
        var clock = Stopwatch.StartNew();
        HttpStatusCode status;
        while ((status = (await PostAsync(gateway, Chat("c"))).StatusCode) != HttpStatusCode.OK && clock.Elapsed < TimeSpan.FromSeconds(30))
        {
            await Task.Delay(100);
        }

        status.Should().Be(HttpStatusCode.OK, "the reloaded rule (another window, so another bucket, full) replaced the exhausted one");
    }

    [Fact]
    public async Task Reload_AddsRulesWithoutAStore_RequestsAre503NotSentUnlimited()
    {
        using var dir = new TempDirectory();
        var path = dir.Write("tensorzero.toml", TestConfigs.DummyProtocolModels);
        await using var gateway = await TestGateway.StartWithServicesAsync("", services =>
        {
            services.Configure<ConfigReloadOptions>(o =>
            {
                o.Debounce = TimeSpan.FromMilliseconds(50);
                o.MaxDelay = TimeSpan.FromMilliseconds(200);
            });
            services.PostConfigure<TensorZeroOptions>(o => o.EnvironmentVariables = _ => null);
        }, "--config-file", path);
        (await PostAsync(gateway, Chat("a"))).StatusCode.Should().Be(HttpStatusCode.OK, "no rules, no store needed");

        File.WriteAllText(path, TestConfigs.DummyProtocolModels + "\n[[rate_limiting.rules]]\nmodel_inferences_per_hour = 100\nalways = true\n");
        var clock = Stopwatch.StartNew();
        HttpResponseMessage response;
        while ((response = await PostAsync(gateway, Chat("b"))).StatusCode == HttpStatusCode.OK && clock.Elapsed < TimeSpan.FromSeconds(30))
        {
            await Task.Delay(100);
        }

        response.StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable, "rules without their store fail closed");
        (await response.Content.ReadAsStringAsync()).Should().Contain($"{ValkeyUrl.Variable} is not set");
    }
}
