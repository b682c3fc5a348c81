using System.ClientModel;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using OpenAI;
using OpenAI.Chat;
using TensorZero.Proxy.Auth;
using TensorZero.Proxy.Tests.TestSupport;
using TensorZero.Proxy.Valkey;

namespace TensorZero.Proxy.Tests.Auth;

/// <summary>
/// <c>[gateway.auth] enabled = true</c> on the real gateway (Kestrel on loopback) with a real redis-server as the shared
/// store, driven by the OpenAI .NET SDK and raw HTTP (TensorZero's crates/gateway/tests/auth.rs, adapted).
/// </summary>
public sealed class AuthEndToEndTests : IAsyncLifetime
{
    private const string Toml = "[gateway.auth]\nenabled = true\n[gateway.auth.cache]\nttl_ms = 1000\n\n" + TestConfigs.DummyProtocolModels;
    private const string Refused = "TensorZero authentication error: Error performing authentication: ";

    private readonly List<string?> _authenticatedAs = [];
    private RedisTestServer _redis = null!;
    private ValkeyStore _valkey = null!;
    private TestGateway _gateway = null!;

    public async Task InitializeAsync()
    {
        _redis = await RedisTestServer.StartAsync();
        _valkey = new ValkeyStore(_redis.Url, null, NullLogger.Instance);
        _gateway = await StartGatewayAsync(Toml, _redis.Url, _authenticatedAs);
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        _valkey.Dispose();
        await _redis.DisposeAsync();
    }

    [Fact]
    public async Task ChatCompletion_ValidKey_OpenAISdkGetsAnAnswer_AndTheRequestCarriesThePublicId()
    {
        var key = await CreateKeyAsync();

        var completion = await Chat(key).CompleteChatAsync([new UserChatMessage("Hello")]);

        completion.Value.Content[0].Text.Should().NotBeNullOrEmpty();
        lock (_authenticatedAs)
        {
            _authenticatedAs.Should().Contain(key[6..18], "the middleware sets AuthenticatedApiKey for rate limits to read");
        }
    }

    [Fact]
    public async Task ChatCompletion_UnknownKey_OpenAISdkSees401WithTensorZerosMessage()
    {
        var act = () => Chat("sk-t0-aaaaaaaaaaaa-" + new string('b', 48)).CompleteChatAsync([new UserChatMessage("Hello")]);

        var error = (await act.Should().ThrowAsync<ClientResultException>()).Which;
        error.Status.Should().Be(401);
        error.Message.Should().Contain(Refused + "Provided API key does not exist in the store");
    }

    public static TheoryData<string?, string> BadHeaders => new()
    {
        { null, "Error performing authentication: Authorization header is required" },
        { "Basic dXNlcjpwYXNz", "Error performing authentication: Authorization header must start with 'Bearer '" },
        { "bearer sk-t0-aaaaaaaaaaaa-" + new string('b', 48), "Error performing authentication: Authorization header must start with 'Bearer '" },
        { "Bearer not-a-key", "Invalid format for TensorZero API key: API key must be of the form `sk-t0-<public_id>-<long_key>`" },
        { "Bearer not-a-real-key", "Invalid format for TensorZero API key: API key must start with `sk-t0-`" },
        { "Bearer sk-t0-short-" + new string('b', 48), "Invalid format for TensorZero API key: Public ID must be 12 characters" },
        { "Bearer sk-t0-aaaaaaaaaaaa-" + new string('b', 48), "Error performing authentication: Provided API key does not exist in the store" },
    };

    [Theory]
    [MemberData(nameof(BadHeaders))]
    public async Task ChatCompletion_BadAuthorization_Is401InOpenAIsShape(string? authorization, string reason)
    {
        using var response = await PostChatAsync(authorization);

        await ShouldBe401Async(response, reason);
    }

    [Fact]
    public async Task ChatCompletion_DisabledKey_Is401NamingWhen()
    {
        var key = await CreateKeyAsync();
        var disabledAt = await new ApiKeyStore(_valkey.Database).DisableAsync(key[6..18], DateTimeOffset.UtcNow);

        using var response = await PostChatAsync("Bearer " + key);

        await ShouldBe401Async(response, "Error performing authentication: API key was disabled at: " + ApiKeyStore.Display(disabledAt!.Value));
    }

    [Fact]
    public async Task ChatCompletion_ExpiredKey_Is401NamingWhen()
    {
        var expiredAt = ApiKeyStore.Truncate(DateTimeOffset.UtcNow.AddMinutes(-1));
        var key = await new ApiKeyStore(_valkey.Database).CreateAsync(DateTimeOffset.UtcNow.AddDays(-1), expiredAt, null);

        using var response = await PostChatAsync("Bearer " + key);

        await ShouldBe401Async(response, "Error performing authentication: API key expired at: " + ApiKeyStore.Display(expiredAt));
    }

    [Theory]
    [InlineData("/status")]
    [InlineData("/health")]
    [InlineData("/STATUS")]
    [InlineData("/health/")]
    public async Task StatusAndHealth_NoKey_StayOpen(string path)
    {
        using var response = await _gateway.Client.GetAsync(path);

        response.StatusCode.Should().Be(HttpStatusCode.OK);
    }

    [Theory]
    [InlineData("GET", "/openai/v1/models")]
    [InlineData("GET", "/metrics")]
    [InlineData("GET", "/no/such/path")]
    [InlineData("POST", "/OPENAI/V1/CHAT/COMPLETIONS")]
    [InlineData("GET", "/statusx")]
    public async Task OtherPaths_NoKey_Are401(string method, string path)
    {
        using var response = await _gateway.Client.SendAsync(new HttpRequestMessage(new HttpMethod(method), path));

        await ShouldBe401Async(response, "Error performing authentication: Authorization header is required");
    }

    [Fact]
    public async Task ModelList_ValidKey_Is200()
    {
        var key = await CreateKeyAsync();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/openai/v1/models") { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", key) } };

        using var response = await _gateway.Client.SendAsync(request);

        response.StatusCode.Should().Be(HttpStatusCode.OK);
    }

    [Fact]
    public async Task NativeInference_NoKey_Is401InTensorZerosNativeShape()
    {
        using var response = await _gateway.Client.PostAsync("/inference", Json("""{"model_name":"dummy","input":{"messages":[{"role":"user","content":"Hi"}]}}"""));

        response.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        (await response.Content.ReadAsStringAsync()).Should().Be(
            """{"error":"TensorZero authentication error: Error performing authentication: Authorization header is required"}""");
    }

    [Fact]
    public async Task AnthropicMessages_KeyAsXApiKey_IsAccepted_AndNoKeyIsAnthropicShaped401()
    {
        var key = await CreateKeyAsync();
        const string body = """{"model":"tensorzero::model_name::dummy","max_tokens":64,"messages":[{"role":"user","content":"Hi"}]}""";
        using var accepted = new HttpRequestMessage(HttpMethod.Post, "/v1/messages") { Content = Json(body), Headers = { { "x-api-key", key } } };

        using var ok = await _gateway.Client.SendAsync(accepted);
        using var refused = await _gateway.Client.PostAsync("/v1/messages", Json(body));

        ok.StatusCode.Should().Be(HttpStatusCode.OK, await ok.Content.ReadAsStringAsync());
        refused.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        (await refused.Content.ReadAsStringAsync()).Should().Be(
            """{"type":"error","error":{"type":"authentication_error","message":"TensorZero authentication error: Error performing authentication: Authorization header is required"}}""");
    }

    [Fact]
    public async Task ChatCompletion_StoreDown_UnrememberedKeyIs503NeverLetThrough()
    {
        var key = await CreateKeyAsync();
        await _redis.StopAsync();

        using var response = await PostChatAsync("Bearer " + key);

        response.StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable);
        response.Headers.RetryAfter!.ToString().Should().Be("1");
        (await response.Content.ReadAsStringAsync()).Should().Be(
            """{"error":{"message":"TensorZero authentication error: the API key store is unavailable, so the key cannot be checked; try again shortly","type":"server_error","code":"auth_store_unavailable"}}""");
        lock (_authenticatedAs)
        {
            _authenticatedAs.Should().BeEmpty();
        }
    }

    [Fact]
    public async Task Startup_AuthEnabledWithoutValkeyUrl_FailsNamingTheKeyAndTheVariable()
    {
        var act = () => StartGatewayAsync(Toml, valkeyUrl: null, []);

        var startup = TensorZeroStartupException.Find((await act.Should().ThrowAsync<Exception>()).Which);
        startup.Should().NotBeNull("a missing store is a problem the operator must fix, printed without a stack trace");
        startup!.Message.Should().Be("gateway.auth.enabled needs a Valkey/Redis store shared by the gateway's replicas: set TENSORZERO_VALKEY_URL (e.g. redis://127.0.0.1:6379)");
    }

    [Fact]
    public async Task AuthOff_NoKeyNoStore_Serves()
    {
        await using var gateway = await StartGatewayAsync(TestConfigs.DummyProtocolModels, valkeyUrl: null, []);

        using var response = await gateway.Client.PostAsync("/openai/v1/chat/completions", Json(ChatBody));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Reload_TurnsAuthOnAndOff_WithoutARestart()
    {
        using var dir = new TempDirectory();
        var path = dir.Write("tensorzero.toml", TestConfigs.DummyProtocolModels);
        await using var gateway = await StartGatewayAsync(TestConfigs.DummyProtocolModels, _redis.Url, [], "--config-file", path);
        (await StatusOfChatAsync(gateway)).Should().Be(HttpStatusCode.OK);

        await File.WriteAllTextAsync(path, Toml);
        (await WaitForStatusAsync(gateway, HttpStatusCode.Unauthorized)).Should().BeTrue("a reload that turns auth on applies to the next requests");

        await File.WriteAllTextAsync(path, TestConfigs.DummyProtocolModels);
        (await WaitForStatusAsync(gateway, HttpStatusCode.OK)).Should().BeTrue("and one that turns it off too");
    }

    private const string ChatBody = """{"model":"tensorzero::model_name::dummy","messages":[{"role":"user","content":"Hello"}]}""";

    private static async Task<HttpStatusCode> StatusOfChatAsync(TestGateway gateway)
    {
        using var response = await gateway.Client.PostAsync("/openai/v1/chat/completions", Json(ChatBody));
        return response.StatusCode;
    }

    private static async Task<bool> WaitForStatusAsync(TestGateway gateway, HttpStatusCode expected)
    {
        for (var watch = System.Diagnostics.Stopwatch.StartNew(); watch.Elapsed < TimeSpan.FromSeconds(20); await Task.Delay(50))
        {
            if (await StatusOfChatAsync(gateway) == expected)
            {
                return true;
            }
        }
        return false;
    }

    private async Task<string> CreateKeyAsync() => await new ApiKeyStore(_valkey.Database).CreateAsync(DateTimeOffset.UtcNow, null, null);

    private ChatClient Chat(string key) => new("tensorzero::model_name::dummy", new ApiKeyCredential(key),
        new OpenAIClientOptions { Endpoint = new Uri(_gateway.BaseUrl + "/openai/v1"), NetworkTimeout = TimeSpan.FromSeconds(60), RetryPolicy = new System.ClientModel.Primitives.ClientRetryPolicy(0) });

    private async Task<HttpResponseMessage> PostChatAsync(string? authorization)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/openai/v1/chat/completions") { Content = Json(ChatBody) };
        if (authorization is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
        }
        return await _gateway.Client.SendAsync(request);
    }

    private static async Task ShouldBe401Async(HttpResponseMessage response, string reason)
    {
        response.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        response.Headers.WwwAuthenticate.ToString().Should().Be("Bearer");
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/json");
        (await response.Content.ReadAsStringAsync()).Should().Be(
            "{\"error\":{\"message\":\"TensorZero authentication error: " + reason + "\",\"type\":\"invalid_request_error\",\"code\":\"invalid_api_key\"}}");
    }

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    /// <summary>The gateway with the store's URL in its environment; records the public id each request was authenticated with.</summary>
    internal static Task<TestGateway> StartGatewayAsync(string toml, string? valkeyUrl, List<string?> authenticatedAs, params string[] extraArgs) =>
        TestGateway.StartWithServicesAsync(toml, services =>
        {
            services.Configure<TensorZeroOptions>(o => o.EnvironmentVariables = name => name == ValkeyUrl.Variable ? valkeyUrl : null);
            services.AddSingleton<IStartupFilter>(new RecordAuthenticatedKey(authenticatedAs));
        }, extraArgs);

    /// <summary>Registered after AddTensorZero(), so it runs inside the auth middleware and sees what it set.</summary>
    private sealed class RecordAuthenticatedKey(List<string?> seen) : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use((context, nextStep) =>
            {
                if (context.Features.Get<AuthenticatedApiKey>() is { } key)
                {
                    lock (seen)
                    {
                        seen.Add(key.PublicId);
                    }
                }
                return nextStep(context);
            });
            next(app);
        };
    }
}
