using System.ClientModel;
using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using OpenAI.Chat;
using TensorZero.Proxy.Auth;
using TensorZero.Proxy.Tests.TestSupport;
using TensorZero.Proxy.Valkey;

namespace TensorZero.Proxy.Tests.RateLimiting;

/// <summary>
/// <c>[rate_limiting]</c> through a real gateway, a scripted provider and a real redis-server: 429 with Retry-After and
/// TensorZero's message, nothing sent upstream when limited, no failover, 503 while the store is down and recovery after.
/// </summary>
public sealed class RateLimitingEndToEndTests
{
    private const string Model = "tensorzero::model_name::m";

    private static string Config(FakeProvider upstream, string rules) =>
        TestConfigs.SingleProviderModel("m", "p", upstream.BaseUrl) + "\n" + rules;

    private static Dictionary<string, string> Store(RedisTestServer redis) => new() { [ValkeyUrl.Variable] = redis.Url };

    private static async Task<(HttpStatusCode Status, string Body, HttpResponseMessage Response)> PostAsync(TestGateway gateway, string json, string path = "/openai/v1/chat/completions")
    {
        var response = await gateway.Client.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));
        return (response.StatusCode, await response.Content.ReadAsStringAsync(), response);
    }

    private static string Chat(string extra = "") => $$"""{"model":"{{Model}}","messages":[{"role":"user","content":"hello"}]{{extra}}}""";

    [Fact]
    public async Task ChatCompletions_OverTheLimit_Is429WithRetryAfterAndNothingSentUpstream()
    {
        await using var redis = await RedisTestServer.StartAsync();
        await using var upstream = await FakeProvider.StartAsync(FakeResponses.Default("hi"));
        await using var gateway = await TestGateway.StartAsync(
            Config(upstream, "[[rate_limiting.rules]]\nmodel_inferences_per_minute = 2\nalways = true\n"), Store(redis));
        // The SDK's own retries are off: it honours Retry-After and would wait for the refill.
        var client = new ChatClient(Model, new ApiKeyCredential(OpenAIClients.ClientApiKey), new OpenAI.OpenAIClientOptions
        {
            Endpoint = new Uri(gateway.BaseUrl + "/openai/v1"),
            RetryPolicy = new System.ClientModel.Primitives.ClientRetryPolicy(maxRetries: 0),
        });

        (await client.CompleteChatAsync("one")).Value.Content[0].Text.Should().Be("hi");
        (await client.CompleteChatAsync("two")).Value.Content[0].Text.Should().Be("hi");
        var third = async () => await client.CompleteChatAsync("three");

        (await third.Should().ThrowAsync<ClientResultException>()).Which.Status.Should().Be(429);
        var (status, body, response) = await PostAsync(gateway, Chat());
        status.Should().Be(HttpStatusCode.TooManyRequests);
        var retryAfter = int.Parse(response.Headers.GetValues("Retry-After").Single(), System.Globalization.CultureInfo.InvariantCulture);
        retryAfter.Should().BeInRange(1, 60);
        var error = JsonDocument.Parse(body).RootElement.GetProperty("error");
        error.GetProperty("type").GetString().Should().Be("rate_limit_exceeded");
        error.GetProperty("code").GetString().Should().Be("rate_limit_exceeded");
        error.GetProperty("message").GetString().Should().Be(
            "TensorZero rate limit exceeded for `model_inference` resource.\nScope: (all requests)\nRequested: 1\nAvailable: 0");
        upstream.Received.Should().HaveCount(2, "a limited request is never sent to the provider");
    }

    [Fact]
    public async Task Native_OverTheLimit_Is429InTheNativeShape()
    {
        await using var redis = await RedisTestServer.StartAsync();
        await using var gateway = await TestGateway.StartAsync(
            TestConfigs.DummyProtocolModels + "\n[[rate_limiting.rules]]\nmodel_inferences_per_hour = 1\nalways = true\n", Store(redis));
        const string request = """{"model_name":"dummy","input":{"messages":[{"role":"user","content":"hi"}]}}""";

        (await PostAsync(gateway, request, "/inference")).Status.Should().Be(HttpStatusCode.OK);
        var (status, body, response) = await PostAsync(gateway, request, "/inference");

        status.Should().Be(HttpStatusCode.TooManyRequests);
        response.Headers.RetryAfter.Should().NotBeNull();
        JsonDocument.Parse(body).RootElement.GetProperty("error").GetString().Should().StartWith("TensorZero rate limit exceeded for `model_inference` resource.");
    }

    [Fact]
    public async Task Function_LimitedVariant_DoesNotFailOverToTheNextVariant()
    {
        await using var redis = await RedisTestServer.StartAsync();
        await using var first = await FakeProvider.StartAsync(FakeResponses.Default("first"));
        await using var second = await FakeProvider.StartAsync(FakeResponses.Default("second"));
        var toml = TestConfigs.SingleProviderModel("a", "p", first.BaseUrl) + "\n" + TestConfigs.SingleProviderModel("b", "p", second.BaseUrl) + """

            [functions.f]
            type = "chat"
            [functions.f.variants.va]
            type = "chat_completion"
            model = "a"
            [functions.f.variants.vb]
            type = "chat_completion"
            model = "b"

            [[rate_limiting.rules]]
            model_inferences_per_minute = 1
            always = true
            """;
        await using var gateway = await TestGateway.StartAsync(toml, Store(redis));
        const string request = """{"model":"tensorzero::function_name::f","messages":[{"role":"user","content":"hi"}]}""";

        (await PostAsync(gateway, request)).Status.Should().Be(HttpStatusCode.OK);
        var (status, _, _) = await PostAsync(gateway, request);

        status.Should().Be(HttpStatusCode.TooManyRequests);
        (first.Received.Count + second.Received.Count).Should().Be(1, "a rate limit is not a provider failure: no other variant is tried");
    }

    [Fact]
    public async Task StoreDown_Is503FailClosed_AndRecoversAfterRestart()
    {
        await using var redis = await RedisTestServer.StartAsync();
        await using var upstream = await FakeProvider.StartAsync(FakeResponses.Default("hi"));
        await using var gateway = await TestGateway.StartAsync(
            Config(upstream, "[[rate_limiting.rules]]\nmodel_inferences_per_minute = 100\nalways = true\n"), Store(redis));
        (await PostAsync(gateway, Chat())).Status.Should().Be(HttpStatusCode.OK);

        await redis.StopAsync();
        var (status, body, _) = await PostAsync(gateway, Chat());

        status.Should().Be(HttpStatusCode.ServiceUnavailable);
        var error = JsonDocument.Parse(body).RootElement.GetProperty("error");
        error.GetProperty("message").GetString().Should().StartWith("The rate limiting store is unavailable, so the request was not sent");
        error.GetProperty("code").GetString().Should().Be("rate_limit_store_unavailable");
        upstream.Received.Should().HaveCount(1, "fail closed: nothing reaches the provider while limits cannot be checked");

        await redis.RestartAsync();
        var clock = Stopwatch.StartNew();
        HttpStatusCode last;
        while ((last = (await PostAsync(gateway, Chat())).Status) != HttpStatusCode.OK && clock.Elapsed < TimeSpan.FromSeconds(30))
        {
            await Task.Delay(200);
        }
        last.Should().Be(HttpStatusCode.OK, "the gateway reconnects to the store by itself");
    }

    [Fact]
    public async Task TokenLimit_WithoutMaxTokens_Is400_AndWithMaxTokensCountsTheEstimate()
    {
        await using var redis = await RedisTestServer.StartAsync();
        await using var upstream = await FakeProvider.StartAsync(FakeResponses.Default("hi"));
        await using var gateway = await TestGateway.StartAsync(
            Config(upstream, "[[rate_limiting.rules]]\ntokens_per_hour = 150\nalways = true\n"), Store(redis));

        var (status, body, _) = await PostAsync(gateway, Chat());
        status.Should().Be(HttpStatusCode.BadRequest);
        body.Should().Contain("Missing `max_tokens` for request subject to rate limiting rules.");

        (await PostAsync(gateway, Chat(",\"max_tokens\":100"))).Status.Should().Be(HttpStatusCode.OK);
        var (limited, limitedBody, _) = await PostAsync(gateway, Chat(",\"max_tokens\":100"));
        limited.Should().Be(HttpStatusCode.TooManyRequests, "the first call's estimate (100 plus half its input) left less than another");
        limitedBody.Should().Contain("`token` resource");
        upstream.Received.Should().HaveCount(1);
    }

    [Fact]
    public async Task TagEach_GivesEachValueItsOwnBucket()
    {
        await using var redis = await RedisTestServer.StartAsync();
        await using var upstream = await FakeProvider.StartAsync(FakeResponses.Default("hi"));
        await using var gateway = await TestGateway.StartAsync(Config(upstream, """
            [[rate_limiting.rules]]
            model_inferences_per_minute = 1
            priority = 1
            scope = [{ tag_key = "user", tag_value = "tensorzero::each" }]
            """), Store(redis));
        static string As(string user) => Chat($",\"tensorzero::tags\":{{\"user\":\"{user}\"}}");

        (await PostAsync(gateway, As("alice"))).Status.Should().Be(HttpStatusCode.OK);
        var (status, body, _) = await PostAsync(gateway, As("alice"));
        (await PostAsync(gateway, As("bob"))).Status.Should().Be(HttpStatusCode.OK);
        (await PostAsync(gateway, Chat())).Status.Should().Be(HttpStatusCode.OK, "a request without the tag matches no rule");

        status.Should().Be(HttpStatusCode.TooManyRequests);
        JsonDocument.Parse(body).RootElement.GetProperty("error").GetProperty("message").GetString()
            .Should().Contain("Scope: tag_key=\"user\", tag_value=\"tensorzero::each\" (matched: \"alice\")");
    }

    [Fact]
    public async Task ApiKeyEach_LimitsEachAuthenticatedKey()
    {
        await using var redis = await RedisTestServer.StartAsync();
        await using var upstream = await FakeProvider.StartAsync(FakeResponses.Default("hi"));
        var config = Config(upstream, """
            [[rate_limiting.rules]]
            model_inferences_per_minute = 1
            always = true
            scope = [{ api_key_public_id = "tensorzero::each" }]
            """);
        await using var gateway = await TestGateway.StartWithServicesAsync(config, services =>
        {
            services.AddSingleton<IStartupFilter>(new KeyFromHeader());
            services.PostConfigure<TensorZeroOptions>(o => o.EnvironmentVariables = name => name == ValkeyUrl.Variable ? redis.Url : null);
        });
        async Task<HttpStatusCode> As(string? key)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/openai/v1/chat/completions")
            {
                Content = new StringContent(Chat(), Encoding.UTF8, "application/json"),
            };
            if (key is not null)
            {
                request.Headers.Add(KeyFromHeader.Header, key);
            }
            using var response = await gateway.Client.SendAsync(request);
            return response.StatusCode;
        }

        (await As("aaaaaaaaaaaa")).Should().Be(HttpStatusCode.OK);
        (await As("aaaaaaaaaaaa")).Should().Be(HttpStatusCode.TooManyRequests);
        (await As("bbbbbbbbbbbb")).Should().Be(HttpStatusCode.OK);
        (await As(null)).Should().Be(HttpStatusCode.OK, "an unauthenticated request matches no API key scope");
    }

    /// <summary>Stands in for the auth middleware: sets the authenticated key from a test header.</summary>
    private sealed class KeyFromHeader : IStartupFilter
    {
        public const string Header = "x-test-api-key-public-id";

        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use((context, nextMiddleware) =>
            {
                if (context.Request.Headers.TryGetValue(Header, out var id))
                {
                    context.Features.Set(new AuthenticatedApiKey(id.ToString()));
                }
                return nextMiddleware(context);
            });
            next(app);
        };
    }
}
