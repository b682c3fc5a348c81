using System.Net;
using System.Text;
using System.Text.Json;
using OpenAI.Chat;
using TensorZero.Proxy.Tests.TestSupport;

namespace TensorZero.Proxy.Tests.Functional;

/// <summary>
/// The gateway on a real loopback port, driven by the official OpenAI SDK, in front of scripted fake
/// providers that check what arrives upstream.
/// </summary>
public sealed class ChatCompletionsEndToEndTests
{
    private static readonly Dictionary<string, string> Keys = new()
    {
        ["FAKE_OPENAI_KEY"] = "sk-upstream-openai",
        ["FAKE_AZURE_KEY"] = "azure-upstream-key",
    };

    private static readonly Dictionary<string, string> ClientExtras = new()
    {
        ["Cookie"] = "session=client-cookie",
        ["X-Forwarded-For"] = "203.0.113.7",
        ["X-Custom-Client"] = "client-only",
    };

    private static async Task<(FakeProvider Fake, TestGateway Gateway)> StartAsync(Func<Microsoft.AspNetCore.Http.HttpContext, ReceivedRequest, Task>? script = null)
    {
        var fake = await FakeProvider.StartAsync(script);
        var gateway = await TestGateway.StartFromFileAsync("e2e-fake-providers.toml",
            new Dictionary<string, string> { ["fake-openai.test"] = fake.Authority, ["fake-azure.test"] = fake.Authority }, Keys);
        return (fake, gateway);
    }

    [Theory]
    [InlineData("/openai/v1")]
    [InlineData("/v1")]
    public async Task OpenAIProvider_NonStreaming_ForwardsRewrittenRequestAndReturnsCompletion(string basePath)
    {
        var (fake, gateway) = await StartAsync();
        await using var _ = fake;
        await using var __ = gateway;

        var client = OpenAIClients.Chat(gateway, "tensorzero::model_name::openai-model", ClientExtras, basePath);
        ChatCompletion completion = await client.CompleteChatAsync([new UserChatMessage("Hello there")]);

        completion.Content[0].Text.Should().Be("fake reply");
        var received = fake.Received.Should().ContainSingle().Subject;
        received.Path.Should().Be("/v1/chat/completions");
        received.Header("Authorization").Should().Be("Bearer sk-upstream-openai");
        received.Json.GetProperty("model").GetString().Should().Be("gpt-upstream-name");
        received.Json.GetProperty("messages")[0].GetProperty("content").GetString().Should().Be("Hello there");
        AssertNoClientLeak(received);
    }

    [Fact]
    public async Task OpenAIProvider_Streaming_PassesChunksThrough()
    {
        var (fake, gateway) = await StartAsync();
        await using var _ = fake;
        await using var __ = gateway;

        var client = OpenAIClients.Chat(gateway, "openai-model", ClientExtras);
        var text = new StringBuilder();
        await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage("Stream please")]))
        {
            foreach (var part in update.ContentUpdate)
            {
                text.Append(part.Text);
            }
        }

        text.ToString().Should().Be("fake reply");
        var received = fake.Received.Should().ContainSingle().Subject;
        received.Json.GetProperty("stream").GetBoolean().Should().BeTrue();
        received.Json.GetProperty("model").GetString().Should().Be("gpt-upstream-name");
        AssertNoClientLeak(received);
    }

    [Fact]
    public async Task AzureProvider_NonStreaming_UsesDeploymentPathApiVersionAndApiKeyHeader()
    {
        var (fake, gateway) = await StartAsync();
        await using var _ = fake;
        await using var __ = gateway;

        var client = OpenAIClients.Chat(gateway, "tensorzero::model_name::azure-model", ClientExtras);
        ChatCompletion completion = await client.CompleteChatAsync([new UserChatMessage("Hi Azure")]);

        completion.Content[0].Text.Should().Be("fake reply");
        var received = fake.Received.Should().ContainSingle().Subject;
        received.Path.Should().Be("/openai/deployments/my-deployment/chat/completions");
        received.Query.Should().Be("?api-version=2024-10-21");
        received.Header("api-key").Should().Be("azure-upstream-key");
        received.Header("Authorization").Should().BeNull();
        received.Json.GetProperty("model").GetString().Should().Be("my-deployment");
        AssertNoClientLeak(received);
    }

    [Fact]
    public async Task AzureProvider_Streaming_PassesChunksThrough()
    {
        var (fake, gateway) = await StartAsync();
        await using var _ = fake;
        await using var __ = gateway;

        var client = OpenAIClients.Chat(gateway, "azure-model", ClientExtras);
        var text = new StringBuilder();
        await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage("Stream from Azure")]))
        {
            foreach (var part in update.ContentUpdate)
            {
                text.Append(part.Text);
            }
        }

        text.ToString().Should().Be("fake reply");
        var received = fake.Received.Should().ContainSingle().Subject;
        received.Path.Should().Be("/openai/deployments/my-deployment/chat/completions");
        received.Header("api-key").Should().Be("azure-upstream-key");
        AssertNoClientLeak(received);
    }

    [Fact]
    public async Task Streaming_FirstChunkReachesClientBeforeProviderSendsTheRest()
    {
        // The provider holds its second chunk until the client has seen the first: if the gateway
        // buffered the stream, the client would never see the first chunk and the test would fail.
        var firstChunkSeen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var (fake, gateway) = await StartAsync((context, request) => FakeResponses.Stream(context, request, ["first", " second"],
            beforeChunk: i => i == 1 ? firstChunkSeen.Task.WaitAsync(TimeSpan.FromSeconds(30)) : Task.CompletedTask));
        await using var _ = fake;
        await using var __ = gateway;

        var client = OpenAIClients.Chat(gateway, "openai-model");
        var pieces = new List<string>();
        await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage("go")]))
        {
            foreach (var part in update.ContentUpdate)
            {
                pieces.Add(part.Text);
                if (part.Text == "first")
                {
                    firstChunkSeen.TrySetResult();
                }
            }
        }

        pieces.Should().Equal("first", " second");
    }

    [Fact]
    public async Task TensorZeroFields_AreStrippedBeforeForwarding()
    {
        var (fake, gateway) = await StartAsync();
        await using var _ = fake;
        await using var __ = gateway;

        var body = """{"model":"openai-model","tensorzero::tags":{"team":"a"},"messages":[{"role":"user","content":"x"}],"tensorzero::dryrun":false,"temperature":0.5}""";
        using var response = await gateway.Client.PostAsync("/v1/chat/completions", new StringContent(body, Encoding.UTF8, "application/json"));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        var received = fake.Received.Should().ContainSingle().Subject;
        Encoding.UTF8.GetString(received.Body).Should().NotContain("tensorzero::");
        received.Json.GetProperty("temperature").GetDouble().Should().Be(0.5);
        received.Json.GetProperty("model").GetString().Should().Be("gpt-upstream-name");
    }

    [Fact]
    public async Task FirstProviderUnreachable_FailsOverToNextProvider()
    {
        var (fake, gateway) = await StartAsync();
        await using var _ = fake;
        await using var __ = gateway;

        var body = """{"model":"failover-model","messages":[{"role":"user","content":"x"}]}""";
        using var response = await gateway.Client.PostAsync("/v1/chat/completions", new StringContent(body, Encoding.UTF8, "application/json"));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        response.Headers.GetValues("x-tensorzero-provider").Should().Equal("compatible");
        response.Headers.GetValues("x-tensorzero-attempts").Should().Equal("2");
        fake.Received.Should().ContainSingle().Which.Json.GetProperty("model").GetString().Should().Be("together-upstream");
    }

    [Fact]
    public async Task ProviderUnreachable_Returns500ListingTheAttempt()
    {
        var (fake, gateway) = await StartAsync();
        await using var _ = fake;
        await using var __ = gateway;

        var body = """{"model":"unreachable-model","messages":[{"role":"user","content":"x"}]}""";
        using var response = await gateway.Client.PostAsync("/v1/chat/completions", new StringContent(body, Encoding.UTF8, "application/json"));

        response.StatusCode.Should().Be(HttpStatusCode.InternalServerError);
        using var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var message = error.RootElement.GetProperty("error").GetProperty("message").GetString();
        message.Should().Contain("provider 'unreachable' of model 'unreachable-model': connect error");
        error.RootElement.GetProperty("error").GetProperty("type").GetString().Should().Be("server_error");
        message.Should().NotContain("   at ");
    }

    [Fact]
    public async Task ProviderRetryableStatus_IsHiddenFromClient()
    {
        var (fake, gateway) = await StartAsync((context, request) =>
        {
            context.Response.Headers["retry-after"] = "30";
            return FakeResponses.Status(context, 503, "{\"error\":{\"message\":\"upstream secret detail\"}}");
        });
        await using var _ = fake;
        await using var __ = gateway;

        var body = """{"model":"openai-model","messages":[{"role":"user","content":"x"}]}""";
        using var response = await gateway.Client.PostAsync("/v1/chat/completions", new StringContent(body, Encoding.UTF8, "application/json"));

        response.StatusCode.Should().Be(HttpStatusCode.InternalServerError);
        response.Headers.Contains("retry-after").Should().BeFalse();
        var text = await response.Content.ReadAsStringAsync();
        text.Should().Contain("status 503").And.NotContain("upstream secret detail");
    }

    [Fact]
    public async Task NonStreamingResponse_IsSentWhole_WithTheLengthOfTheRewrittenBody()
    {
        var (fake, gateway) = await StartAsync();
        await using var _ = fake;
        await using var __ = gateway;

        using var response = await gateway.Client.PostAsync("/v1/chat/completions",
            new StringContent("""{"model":"openai-model","messages":[]}""", Encoding.UTF8, "application/json"));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        response.Headers.TransferEncodingChunked.Should().NotBe(true);
        var bytes = await response.Content.ReadAsByteArrayAsync();
        response.Content.Headers.ContentLength.Should().Be(bytes.Length, "the length is the rewritten body's, not the provider's");
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/json");
        JsonDocument.Parse(bytes).RootElement.GetProperty("object").GetString().Should().Be("chat.completion");
        gateway.Inferences.ResponseStartedWhenObserved.Should().Equal([false],
            "the record is taken before the client gets a byte of a buffered response");
    }

    [Fact]
    public async Task ProviderClientError_IsReturnedAsTheRequestsOwnFault()
    {
        var (fake, gateway) = await StartAsync((context, request) => FakeResponses.Status(context, 400, "{\"error\":{\"message\":\"bad messages\"}}"));
        await using var _ = fake;
        await using var __ = gateway;

        var body = """{"model":"openai-model","messages":[]}""";
        using var response = await gateway.Client.PostAsync("/v1/chat/completions", new StringContent(body, Encoding.UTF8, "application/json"));

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        (await response.Content.ReadAsStringAsync()).Should().Contain("bad messages");
    }

    [Theory]
    [InlineData("model")]
    [InlineData("member name")]
    public async Task RequestWithInvalidUtf8_IsA400JsonError(string where)
    {
        var (fake, gateway) = await StartAsync();
        await using var _ = fake;
        await using var __ = gateway;
        byte[] body = where == "model"
            ? [.. "{\"model\":\"openai-model"u8, 0xFF, .. "\",\"messages\":[]}"u8]
            : [.. "{\"model\":\"openai-model\",\"messages\":[],\"x\\u0041"u8, 0xFF, .. "\":1}"u8];

        using var response = await gateway.Client.PostAsync("/v1/chat/completions",
            new ByteArrayContent(body) { Headers = { ContentType = new("application/json") } });

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetProperty("message").GetString()
            .Should().Contain("UTF-8");
        fake.Received.Should().BeEmpty();
    }

    [Fact]
    public async Task ProviderTextWithInvalidUtf8_ReachesTheClientAndTheRecord()
    {
        var (fake, gateway) = await StartAsync((context, request) =>
        {
            context.Response.ContentType = "application/json";
            byte[] json = [.. "{\"id\":\"x\",\"object\":\"chat.completion\",\"model\":\"m\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"a"u8,
                0xFF, .. "\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1}}"u8];
            return context.Response.Body.WriteAsync(json).AsTask();
        });
        await using var _ = fake;
        await using var __ = gateway;

        using var response = await gateway.Client.PostAsync("/v1/chat/completions",
            new StringContent("""{"model":"openai-model","messages":[]}""", Encoding.UTF8, "application/json"));
        var inference = await gateway.Inferences.NextAsync();

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        var capture = inference.CommittedAttempt!.Response!;
        capture.Complete();
        capture.Text.Should().Be("a\uFFFD");
        capture.InputTokens.Should().Be(3);
    }

    private static void AssertNoClientLeak(ReceivedRequest received)
    {
        received.Headers.Values.Should().NotContain(v => v.Contains(OpenAIClients.ClientApiKey, StringComparison.Ordinal));
        received.Header("Cookie").Should().BeNull();
        received.Header("X-Custom-Client").Should().BeNull();
        received.Headers.Keys.Should().NotContain(k => k.StartsWith("X-Forwarded", StringComparison.OrdinalIgnoreCase));
        received.Header("Forwarded").Should().BeNull();
        Encoding.UTF8.GetString(received.Body).Should().NotContain("tensorzero::");
    }
}
