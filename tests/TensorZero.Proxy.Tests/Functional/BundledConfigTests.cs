using System.Net;
using System.Text;
using System.Text.Json;
using OpenAI.Chat;
using TensorZero.Proxy.Providers;
using TensorZero.Proxy.Tests.TestSupport;

namespace TensorZero.Proxy.Tests.Functional;

/// <summary>The bundled config/tensorzero.toml (dummy provider, offline) and the gateway's error shapes.</summary>
public sealed class BundledConfigTests
{
    private static Task<TestGateway> StartBundledAsync(params string[] args) => TestGateway.StartFromFileAsync("tensorzero.toml", extraArgs: args);

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    [Fact]
    public async Task Dummy_NonStreaming_ReturnsChatCompletionSayingItIsADummy()
    {
        await using var gateway = await StartBundledAsync();

        using var response = await gateway.Client.PostAsync("/openai/v1/chat/completions",
            Json("""{"model":"dummy","messages":[{"role":"user","content":"one two three"}]}"""));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var root = doc.RootElement;
        root.GetProperty("object").GetString().Should().Be("chat.completion");
        root.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()
            .Should().Be(DummyModels.MeguminText);
        root.GetProperty("usage").GetProperty("prompt_tokens").GetInt32().Should().Be(10);
    }

    [Fact]
    public async Task Dummy_Streaming_IsValidSseEndingInDone()
    {
        await using var gateway = await StartBundledAsync();

        using var response = await gateway.Client.PostAsync("/v1/chat/completions",
            Json("""{"model":"dummy","stream":true,"messages":[{"role":"user","content":"hi"}]}"""));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        response.Content.Headers.ContentType!.MediaType.Should().Be("text/event-stream");
        var events = (await response.Content.ReadAsStringAsync()).Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        events.Should().AllSatisfy(e => e.Should().StartWith("data: "));
        events[^1].Should().Be("data: [DONE]");
        var text = new StringBuilder();
        var sawUsage = false;
        foreach (var e in events[..^1])
        {
            using var chunk = JsonDocument.Parse(e["data: ".Length..]);
            chunk.RootElement.GetProperty("object").GetString().Should().Be("chat.completion.chunk");
            foreach (var choice in chunk.RootElement.GetProperty("choices").EnumerateArray())
            {
                if (choice.GetProperty("delta").TryGetProperty("content", out var content))
                {
                    text.Append(content.GetString());
                }
            }
            sawUsage |= chunk.RootElement.TryGetProperty("usage", out _);
        }
        text.ToString().Should().Be(DummyModels.WallyText);
        sawUsage.Should().BeTrue();
    }

    [Fact]
    public async Task Dummy_ThroughOpenAISdk_StreamsAndCompletes()
    {
        await using var gateway = await StartBundledAsync();
        var client = OpenAIClients.Chat(gateway, "dummy");

        ChatCompletion completion = await client.CompleteChatAsync([new UserChatMessage("Hello")]);
        var streamed = new StringBuilder();
        await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage("Hello")]))
        {
            foreach (var part in update.ContentUpdate)
            {
                streamed.Append(part.Text);
            }
        }

        completion.Content[0].Text.Should().Be(DummyModels.MeguminText);
        streamed.ToString().Should().Be(DummyModels.WallyText, "TensorZero's dummy streams another answer than it completes");
    }

    [Fact]
    public async Task DummyFailover_FirstProviderFails_ClientSeesOnlySecond()
    {
        await using var gateway = await StartBundledAsync();

        using var response = await gateway.Client.PostAsync("/v1/chat/completions",
            Json("""{"model":"tensorzero::model_name::dummy-failover","messages":[{"role":"user","content":"hi"}]}"""));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        response.Headers.GetValues("x-tensorzero-attempts").Should().Equal("2");
        response.Headers.GetValues("x-tensorzero-provider").Should().Equal("dummy");
    }

    [Fact]
    public async Task Shorthand_DummyType_IsCallable()
    {
        await using var gateway = await StartBundledAsync();

        using var response = await gateway.Client.PostAsync("/v1/chat/completions",
            Json("""{"model":"tensorzero::model_name::dummy::shorty","messages":[{"role":"user","content":"hi"}]}"""));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        doc.RootElement.GetProperty("model").GetString().Should().Be("tensorzero::model_name::dummy::shorty");
        doc.RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString().Should().Be(DummyModels.MeguminText);
    }

    [Theory]
    [InlineData("{not json", 400, "not valid JSON")]
    [InlineData("[1,2]", 400, "must be a JSON object")]
    [InlineData("""{"messages":[]}""", 400, "must name a 'model'")]
    [InlineData("""{"model":42}""", 400, "'model' must be a string")]
    [InlineData("""{"model":"dummy","stream":"yes"}""", 400, "'stream' must be a boolean")]
    [InlineData("""{"model":"dummy","model":"x"}""", 400, "more than once")]
    [InlineData("""{"model":"dummy","tensorzero::bogus":1}""", 400, "Unknown field 'tensorzero::bogus'")]
    [InlineData("""{"model":"nope","messages":[]}""", 404, "known models: 'dummy', 'dummy-failover'")]
    [InlineData("""{"model":"nope","messages":[]}""", 404, "`model` field must start with `tensorzero::function_name::` or `tensorzero::model_name::`")]
    [InlineData("""{"model":"tensorzero::model_name::nope","messages":[]}""", 404, "Unknown model: nope")]
    [InlineData("""{"model":"tensorzero::function_name::f","messages":[]}""", 404, "Unknown function: f")]
    [InlineData("""{"model":"tensorzero::function_name::","messages":[]}""", 400, "function_name (passed in model field after \"tensorzero::function_name::\") cannot be empty")]
    [InlineData("""{"model":"tensorzero::model_name::","messages":[]}""", 400, "model_name (passed in model field after \"tensorzero::model_name::\") cannot be empty")]
    [InlineData("""{"model":"tensorzero::model_name::azure::x","messages":[]}""", 400, "has no shorthand form")]
    public async Task BadRequests_GetOpenAIShapedErrors(string body, int status, string messagePart)
    {
        await using var gateway = await StartBundledAsync();

        using var response = await gateway.Client.PostAsync("/v1/chat/completions", Json(body));

        ((int)response.StatusCode).Should().Be(status);
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/json");
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var error = doc.RootElement.GetProperty("error");
        error.GetProperty("message").GetString().Should().Contain(messagePart);
        error.GetProperty("type").GetString().Should().NotBeNullOrEmpty();
    }

    [Fact]
    public async Task BodyOverLimit_Returns413()
    {
        await using var gateway = await StartBundledAsync("--TensorZero:MaxRequestBodyBytes=200");
        var big = "{\"model\":\"dummy\",\"messages\":[{\"role\":\"user\",\"content\":\"" + new string('a', 500) + "\"}]}";

        using var response = await gateway.Client.PostAsync("/v1/chat/completions", Json(big));

        response.StatusCode.Should().Be(HttpStatusCode.RequestEntityTooLarge);
        (await response.Content.ReadAsStringAsync()).Should().Contain("\"error\"").And.Contain("200 bytes");
    }

    [Fact]
    public async Task ShorthandWithoutCredential_IsAClearError()
    {
        await using var gateway = await StartBundledAsync();

        using var response = await gateway.Client.PostAsync("/v1/chat/completions",
            Json("""{"model":"tensorzero::model_name::openai::gpt-4o-mini","messages":[]}"""));

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        (await response.Content.ReadAsStringAsync()).Should().Contain("OPENAI_API_KEY");
    }

    [Theory]
    [InlineData("/v1/models")]
    [InlineData("/openai/v1/models")]
    public async Task Models_ListsEveryCallableName(string path)
    {
        await using var gateway = await StartBundledAsync();

        using var doc = JsonDocument.Parse(await gateway.Client.GetStringAsync(path));

        doc.RootElement.GetProperty("object").GetString().Should().Be("list");
        doc.RootElement.GetProperty("data").EnumerateArray().Select(m => m.GetProperty("id").GetString())
            .Should().Equal("tensorzero::model_name::dummy", "tensorzero::model_name::dummy-failover");
    }

    [Fact]
    public async Task StatusAndHealth_AnswerOk()
    {
        await using var gateway = await StartBundledAsync();

        (await gateway.Client.GetStringAsync("/status")).Should().Contain("\"status\":\"ok\"");
        (await gateway.Client.GetStringAsync("/health")).Should().Contain("\"gateway\":\"ok\"");
    }

    [Fact]
    public async Task BasePath_PrefixesEveryEndpoint()
    {
        var toml = File.ReadAllText(RepoPaths.Config("tensorzero.toml")).Replace("[gateway]", "[gateway]\nbase_path = \"/llm/\"", StringComparison.Ordinal);
        await using var gateway = await TestGateway.StartAsync(toml);

        using var prefixed = await gateway.Client.PostAsync("/llm/v1/chat/completions", Json("""{"model":"dummy","messages":[]}"""));
        using var bare = await gateway.Client.PostAsync("/v1/chat/completions", Json("""{"model":"dummy","messages":[]}"""));

        prefixed.StatusCode.Should().Be(HttpStatusCode.OK);
        bare.StatusCode.Should().Be(HttpStatusCode.NotFound);
        (await gateway.Client.GetStringAsync("/llm/status")).Should().Contain("ok");
    }
}
