using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using TensorZero.Proxy.Tests.TestSupport;
using TensorZero.Proxy.Valkey;

namespace TensorZero.Proxy.Tests.Valkey;

/// <summary>
/// The model inference cache on a shared Valkey/Redis store (issue 20): an answer one replica got from the provider is
/// served by another replica without calling the provider; a store that is down only costs cache misses.
/// </summary>
public sealed class SharedCacheEndToEndTests
{
    private static string Config(string baseUrl, string gatewayLines = "") =>
        gatewayLines + TestConfigs.SingleProviderModel("up", "p", baseUrl) + TestConfigs.SingleVariantFunction("f", "up");

    private static StringContent Body(string question, bool stream = false, string cache = """{"enabled":"on"}""") => new(
        $$"""{"model":"tensorzero::function_name::f","stream":{{(stream ? "true" : "false")}},"messages":[{"role":"user","content":"{{question}}"}],"tensorzero::cache_options":{{cache}}}""",
        Encoding.UTF8, "application/json");

    private static Dictionary<string, string> Env(RedisTestServer redis) => new() { [ValkeyUrl.Variable] = redis.Url };

    [Fact]
    public async Task CacheOn_AnswerFromOneReplica_IsServedByAnotherWithoutCallingTheProvider()
    {
        await using var redis = await RedisTestServer.StartAsync();
        await using var fake = await FakeProvider.StartAsync(FakeResponses.Default("shared answer"));
        await using var first = await TestGateway.StartAsync(Config(fake.BaseUrl), Env(redis));
        await using var second = await TestGateway.StartAsync(Config(fake.BaseUrl), Env(redis));

        using var miss = await first.Client.PostAsync("/openai/v1/chat/completions", Body("same question"));
        miss.StatusCode.Should().Be(HttpStatusCode.OK);
        miss.Headers.Contains("x-tensorzero-cache").Should().BeFalse();
        await WaitForKeysAsync(redis, 1);
        using var hit = await second.Client.PostAsync("/openai/v1/chat/completions", Body("same question"));

        hit.StatusCode.Should().Be(HttpStatusCode.OK);
        hit.Headers.GetValues("x-tensorzero-cache").Should().Equal("hit");
        var json = await hit.Content.ReadFromJsonAsync<JsonElement>();
        json.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString().Should().Be("shared answer");
        json.GetProperty("usage").GetProperty("prompt_tokens").GetInt32().Should().Be(0, "a hit reports zero usage, as TensorZero");
        fake.Received.Should().HaveCount(1, "the second replica answered from the shared store");
    }

    [Fact]
    public async Task CacheOn_StreamFromOneReplica_IsReplayedByAnother()
    {
        await using var redis = await RedisTestServer.StartAsync();
        await using var fake = await FakeProvider.StartAsync(FakeResponses.Default("streamed shared answer"));
        await using var first = await TestGateway.StartAsync(Config(fake.BaseUrl), Env(redis));
        await using var second = await TestGateway.StartAsync(Config(fake.BaseUrl), Env(redis));

        var original = await ReadStreamTextAsync(await first.Client.PostAsync("/openai/v1/chat/completions", Body("stream me", stream: true)));
        await WaitForKeysAsync(redis, 1);
        using var hit = await second.Client.PostAsync("/openai/v1/chat/completions", Body("stream me", stream: true));

        hit.Headers.GetValues("x-tensorzero-cache").Should().Equal("hit");
        (await ReadStreamTextAsync(hit)).Should().Be(original).And.Be("streamed shared answer");
        fake.Received.Should().HaveCount(1);
    }

    [Fact]
    public async Task CacheOn_StoreDown_RequestsGoToTheProviderAndSucceed()
    {
        await using var redis = await RedisTestServer.StartAsync();
        await using var fake = await FakeProvider.StartAsync(FakeResponses.Default("no store"));
        await using var gateway = await TestGateway.StartAsync(Config(fake.BaseUrl), Env(redis));
        await redis.StopAsync();

        for (var i = 0; i < 2; i++)
        {
            using var response = await gateway.Client.PostAsync("/openai/v1/chat/completions", Body("q"));
            response.StatusCode.Should().Be(HttpStatusCode.OK, "the cache is a speed-up: a store that is down is a miss");
        }

        fake.Received.Should().HaveCount(2);
    }

    [Fact]
    public async Task GatewayCacheDisabled_NothingIsReadOrWritten()
    {
        await using var redis = await RedisTestServer.StartAsync();
        await using var fake = await FakeProvider.StartAsync(FakeResponses.Default("uncached"));
        await using var gateway = await TestGateway.StartAsync(Config(fake.BaseUrl, "[gateway.cache]\nenabled = false\n\n"), Env(redis));

        (await gateway.Client.PostAsync("/openai/v1/chat/completions", Body("q"))).Dispose();
        (await gateway.Client.PostAsync("/openai/v1/chat/completions", Body("q"))).Dispose();

        fake.Received.Should().HaveCount(2);
        (await redis.CommandAsync("DBSIZE")).Should().Be(":0");
    }

    [Fact]
    public async Task ValkeyTtl_EntryExpiresAfterTheConfiguredSeconds()
    {
        await using var redis = await RedisTestServer.StartAsync();
        await using var fake = await FakeProvider.StartAsync(FakeResponses.Default("ttl"));
        await using var gateway = await TestGateway.StartAsync(Config(fake.BaseUrl, "[gateway.cache.valkey]\nttl_s = 600\n\n"), Env(redis));

        (await gateway.Client.PostAsync("/openai/v1/chat/completions", Body("q", cache: """{"enabled":"write_only"}"""))).Dispose();
        await WaitForKeysAsync(redis, 1);
        var keyName = (await redis.ReplyAsync("RANDOMKEY"))!.Split("\r\n")[1];

        keyName.Should().StartWith("tensorzero_proxy_cache:");
        var ttl = int.Parse((await redis.CommandAsync("TTL " + keyName))![1..], System.Globalization.CultureInfo.InvariantCulture);
        ttl.Should().BeInRange(590, 600);
    }

    [Fact]
    public async Task BackendValkey_WithoutStore_FailsStartupNamingTheVariable()
    {
        var act = async () => await TestGateway.StartAsync(Config("http://127.0.0.1:9", "[gateway.cache]\nbackend = \"valkey\"\n\n"));

        (await act.Should().ThrowAsync<Exception>()).Which.ToString().Should().Contain(ValkeyUrl.Variable).And.Contain("gateway.cache.backend");
    }

    private static async Task WaitForKeysAsync(RedisTestServer redis, int count)
    {
        // Writes are sent without waiting (the client never waits for the cache): poll until the entry is there.
        var watch = Stopwatch.StartNew();
        while ((await redis.CommandAsync("DBSIZE")) != ":" + count)
        {
            watch.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(10), "the cache entry reaches the store");
            await Task.Delay(20);
        }
    }

    private static async Task<string> ReadStreamTextAsync(HttpResponseMessage response)
    {
        using (response)
        {
            response.StatusCode.Should().Be(HttpStatusCode.OK);
            var text = new StringBuilder();
            foreach (var line in (await response.Content.ReadAsStringAsync()).Split('\n'))
            {
                if (!line.StartsWith("data: {", StringComparison.Ordinal))
                {
                    continue;
                }
                using var chunk = JsonDocument.Parse(line["data: ".Length..]);
                if (chunk.RootElement.GetProperty("choices") is { ValueKind: JsonValueKind.Array } choices && choices.GetArrayLength() > 0
                    && choices[0].GetProperty("delta").TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.String)
                {
                    text.Append(content.GetString());
                }
            }
            return text.ToString();
        }
    }
}
