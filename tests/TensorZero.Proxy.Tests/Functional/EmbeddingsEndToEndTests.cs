using System.ClientModel;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenAI;
using OpenAI.Embeddings;
using TensorZero.Proxy.Inference;
using TensorZero.Proxy.Tests.TestSupport;

namespace TensorZero.Proxy.Tests.Functional;

/// <summary>
/// <c>POST /openai/v1/embeddings</c> driven by the official OpenAI .NET SDK (and raw HTTP where the wire matters) against
/// loopback providers that check what they receive and answer in the encoding asked for.
/// </summary>
public sealed class EmbeddingsEndToEndTests
{
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(30);

    /// <summary>The vector a fake answers for input <paramref name="i"/>: exactly representable floats.</summary>
    private static float[] Vector(int i, int dimensions = 3) => [.. Enumerable.Range(0, dimensions).Select(d => i + d * 0.25f)];

    /// <summary>
    /// An OpenAI embeddings answer for the request's inputs, in its <c>encoding_format</c>, listed in reverse order with
    /// their <c>index</c> (the gateway must put them back in input order).
    /// </summary>
    private static Task Embeddings(HttpContext context, ReceivedRequest request)
    {
        var json = request.Json;
        var input = json.GetProperty("input");
        var count = input.ValueKind == JsonValueKind.Array && input[0].ValueKind != JsonValueKind.Number ? input.GetArrayLength() : 1;
        var dimensions = json.TryGetProperty("dimensions", out var d) ? d.GetInt32() : 3;
        var base64 = json.TryGetProperty("encoding_format", out var f) && f.GetString() == "base64";
        var data = Enumerable.Range(0, count).Reverse().Select(i => new Dictionary<string, object>
        {
            ["object"] = "embedding",
            ["index"] = i,
            ["embedding"] = base64 ? Convert.ToBase64String(Vector(i, dimensions).SelectMany(BitConverter.GetBytes).ToArray()) : Vector(i, dimensions),
        });
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(JsonSerializer.Serialize(new
        {
            @object = "list",
            data,
            model = json.GetProperty("model").GetString(),
            usage = new { prompt_tokens = 7 * count, total_tokens = 7 * count },
        }));
    }

    private static string Model(string name, string routing, string providers, string modelLines = "") =>
        $"[embedding_models.{name}]\nrouting = [{routing}]\n{modelLines}\n{providers}";

    private static string OpenAIProvider(string model, string name, string apiBase, string extra = "") => $"""

        [embedding_models.{model}.providers.{name}]
        type = "openai"
        model_name = "{name}-upstream"
        api_base = "{apiBase}/v1/"
        api_key_location = "env::EMBED_KEY"
        {extra}
        """;

    private static readonly Dictionary<string, string> Environment = new() { ["EMBED_KEY"] = "sk-upstream-key" };

    private static EmbeddingClient Client(TestGateway gateway, string model) =>
        new(model, new ApiKeyCredential(OpenAIClients.ClientApiKey),
            new OpenAIClientOptions { Endpoint = new Uri(gateway.BaseUrl + "/openai/v1"), NetworkTimeout = TimeSpan.FromSeconds(60) });

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    [Fact]
    public async Task GenerateEmbedding_OpenAISdk_SendsTensorZerosBodyAndReturnsTheVector()
    {
        await using var provider = await FakeProvider.StartAsync(Embeddings);
        await using var gateway = await TestGateway.StartAsync(Model("small", "\"openai\"", OpenAIProvider("small", "openai", provider.BaseUrl)), Environment);

        var result = await Client(gateway, "tensorzero::embedding_model_name::small").GenerateEmbeddingAsync("hello world");

        result.Value.ToFloats().ToArray().Should().Equal(Vector(0));
        var sent = provider.Received.Should().ContainSingle().Subject;
        sent.Path.Should().Be("/v1/embeddings");
        sent.Header("Authorization").Should().Be("Bearer sk-upstream-key", "the provider's own key, never the client's");
        var body = sent.Json;
        body.EnumerateObject().Select(p => p.Name).Should().BeEquivalentTo(["model", "input", "encoding_format"]);
        body.GetProperty("model").GetString().Should().Be("openai-upstream");
        body.GetProperty("input").ValueKind.Should().BeOneOf(JsonValueKind.String, JsonValueKind.Array);
        var response = result.GetRawResponse();
        response.Headers.TryGetValue("x-tensorzero-provider", out var answered).Should().BeTrue();
        answered.Should().Be("openai");
        response.Headers.TryGetValue("x-tensorzero-inference-id", out var id).Should().BeTrue();
        Guid.Parse(id!).Version.Should().Be(7);
        var inference = await gateway.Inferences.NextAsync();
        inference.Embedding.Should().NotBeNull();
        inference.Outcome.Should().Be(InferenceOutcome.Ok);
    }

    [Fact]
    public async Task GenerateEmbeddings_BatchWithDimensions_VectorsInInputOrderWithUsage()
    {
        await using var provider = await FakeProvider.StartAsync(Embeddings);
        await using var gateway = await TestGateway.StartAsync(Model("small", "\"openai\"", OpenAIProvider("small", "openai", provider.BaseUrl)), Environment);

        var result = await Client(gateway, "small").GenerateEmbeddingsAsync(["a", "b", "c"], new EmbeddingGenerationOptions { Dimensions = 5 });

        result.Value.Select(e => e.Index).Should().Equal(0, 1, 2);
        result.Value.Select(e => e.ToFloats().ToArray()).Should().BeEquivalentTo(new[] { Vector(0, 5), Vector(1, 5), Vector(2, 5) }, o => o.WithStrictOrdering());
        result.Value.Usage.InputTokenCount.Should().Be(21);
        result.Value.Model.Should().Be("tensorzero::embedding_model_name::small");
        var body = provider.Received.Single().Json;
        body.GetProperty("dimensions").GetInt32().Should().Be(5);
        body.GetProperty("input").EnumerateArray().Select(e => e.GetString()).Should().Equal("a", "b", "c");
    }

    [Theory]
    [InlineData("float")]
    [InlineData("base64")]
    public async Task Embeddings_RawHttp_ResponseInOpenAIsShapeInTheAskedEncoding(string encoding)
    {
        await using var provider = await FakeProvider.StartAsync(Embeddings);
        await using var gateway = await TestGateway.StartAsync(Model("small", "\"openai\"", OpenAIProvider("small", "openai", provider.BaseUrl)), Environment);

        using var response = await gateway.Client.PostAsync("/openai/v1/embeddings",
            Json($$"""{"model":"tensorzero::embedding_model_name::small","input":["x","y"],"encoding_format":"{{encoding}}","user":"u1"}"""));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var root = json.RootElement;
        root.GetProperty("object").GetString().Should().Be("list");
        root.GetProperty("model").GetString().Should().Be("tensorzero::embedding_model_name::small");
        root.GetProperty("usage").GetProperty("prompt_tokens").GetInt32().Should().Be(14);
        root.GetProperty("usage").GetProperty("total_tokens").GetInt32().Should().Be(14);
        var data = root.GetProperty("data").EnumerateArray().ToList();
        data.Select(d => d.GetProperty("object").GetString()).Should().AllBe("embedding");
        data.Select(d => d.GetProperty("index").GetInt32()).Should().Equal(0, 1);
        var first = data[0].GetProperty("embedding");
        var floats = encoding == "float"
            ? first.EnumerateArray().Select(e => e.GetSingle()).ToArray()
            : [.. Enumerable.Range(0, 3).Select(i => BitConverter.ToSingle(first.GetBytesFromBase64(), i * 4))];
        floats.Should().Equal(Vector(0));
        provider.Received.Single().Json.TryGetProperty("user", out _).Should().BeFalse("TensorZero sends model, input, dimensions and encoding_format only");
    }

    [Fact]
    public async Task GenerateEmbedding_FirstProviderFails_FailsOverAndLogsAWarning()
    {
        await using var bad = await FakeProvider.StartAsync((context, _) => FakeResponses.Status(context, 503));
        await using var good = await FakeProvider.StartAsync(Embeddings);
        var logs = new CapturingLogger();
        var toml = Model("small", "\"bad\", \"good\"", OpenAIProvider("small", "bad", bad.BaseUrl) + OpenAIProvider("small", "good", good.BaseUrl))
            + "\n[gateway]\n";
        await using var gateway = await TestGateway.StartWithServicesAsync(toml.Replace("env::EMBED_KEY", "none", StringComparison.Ordinal),
            services => services.AddSingleton<ILoggerProvider>(logs));

        var result = await Client(gateway, "small").GenerateEmbeddingAsync("hi");

        result.Value.ToFloats().ToArray().Should().Equal(Vector(0));
        result.GetRawResponse().Headers.TryGetValue("x-tensorzero-attempts", out var attempts).Should().BeTrue();
        attempts.Should().Be("2");
        var inference = await gateway.Inferences.NextAsync();
        inference.Attempts.Select(a => (a.Provider, a.Outcome)).Should().Equal(("bad", AttemptOutcome.Status), ("good", AttemptOutcome.Ok));
        var warning = logs.Entries.Should().ContainSingle(e => e.Level == LogLevel.Warning && e.Message.Contains("'bad'")).Subject;
        warning.Message.Should().Contain("model 'small'").And.Contain("503").And.Contain("'good'");
    }

    [Fact]
    public async Task Embeddings_ProviderTimeoutMs_FailsOverAtItsDeadline()
    {
        await using var hang = await FakeProvider.StartAsync(async (context, _) => await Task.Delay(Timeout.Infinite, context.RequestAborted));
        await using var good = await FakeProvider.StartAsync(Embeddings);
        var time = new WatchedFakeTimeProvider();
        var toml = Model("small", "\"slow\", \"good\"",
            OpenAIProvider("small", "slow", hang.BaseUrl, "timeout_ms = 700") + OpenAIProvider("small", "good", good.BaseUrl));
        await using var gateway = await TestGateway.StartWithClockAsync(toml.Replace("env::EMBED_KEY", "none", StringComparison.Ordinal), time);

        var request = gateway.Client.PostAsync("/openai/v1/embeddings", Json("""{"model":"small","input":"hi"}"""));
        await hang.FirstRequestAsync();
        time.Advance(TimeSpan.FromMilliseconds(700));
        using var response = await request.WaitAsync(HangGuard);

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        time.OneShotsFired.Should().NotBeEmpty().And.OnlyContain(t => t == TimeSpan.FromMilliseconds(700));
        var inference = await gateway.Inferences.NextAsync();
        inference.Attempts.Select(a => (a.Provider, a.Outcome)).Should().Equal(("slow", AttemptOutcome.Timeout), ("good", AttemptOutcome.Ok));
    }

    [Fact]
    public async Task Embeddings_ModelTimeoutMs_Answers408()
    {
        await using var hang = await FakeProvider.StartAsync(async (context, _) => await Task.Delay(Timeout.Infinite, context.RequestAborted));
        var time = new WatchedFakeTimeProvider();
        var toml = Model("small", "\"slow\"", OpenAIProvider("small", "slow", hang.BaseUrl), "timeout_ms = 900");
        await using var gateway = await TestGateway.StartWithClockAsync(toml.Replace("env::EMBED_KEY", "none", StringComparison.Ordinal), time);

        var request = gateway.Client.PostAsync("/openai/v1/embeddings", Json("""{"model":"small","input":"hi"}"""));
        await hang.FirstRequestAsync();
        time.Advance(TimeSpan.FromMilliseconds(900));
        using var response = await request.WaitAsync(HangGuard);

        response.StatusCode.Should().Be(HttpStatusCode.RequestTimeout);
        var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
        error.GetProperty("message").GetString().Should().StartWith("Embedding model 'small' timed out");
    }

    [Fact]
    public async Task Embeddings_ProviderExtraHeadersAndBody_ReachTheWire()
    {
        await using var provider = await FakeProvider.StartAsync(Embeddings);
        var toml = Model("voyage", "\"voyage\"", OpenAIProvider("voyage", "voyage", provider.BaseUrl, """
            extra_headers = [{ name = "X-Team", value = "search" }]
            extra_body = [{ pointer = "/dimensions", delete = true }, { pointer = "/output_dimension", value = 4 }]
            """));
        await using var gateway = await TestGateway.StartAsync(toml, Environment);

        var result = await Client(gateway, "voyage").GenerateEmbeddingAsync("hi", new EmbeddingGenerationOptions { Dimensions = 4 });

        result.Value.ToFloats().Length.Should().Be(3, "the fake answers 3 dimensions when none are asked");
        var sent = provider.Received.Single();
        sent.Header("X-Team").Should().Be("search");
        sent.Json.TryGetProperty("dimensions", out _).Should().BeFalse();
        sent.Json.GetProperty("output_dimension").GetInt32().Should().Be(4);
    }

    [Fact]
    public async Task Embeddings_AzureProvider_DeploymentUrlApiVersionAndApiKey()
    {
        await using var provider = await FakeProvider.StartAsync(Embeddings);
        var toml = Model("az", "\"azure\"", $"""

            [embedding_models.az.providers.azure]
            type = "azure"
            deployment_id = "emb-deploy"
            endpoint = "{provider.BaseUrl}"
            api_key_location = "env::EMBED_KEY"
            """);
        await using var gateway = await TestGateway.StartAsync(toml, Environment);

        var result = await Client(gateway, "tensorzero::embedding_model_name::az").GenerateEmbeddingAsync("hi");

        result.Value.ToFloats().ToArray().Should().Equal(Vector(0));
        var sent = provider.Received.Single();
        sent.Path.Should().Be("/openai/deployments/emb-deploy/embeddings");
        sent.Query.Should().Be("?api-version=" + TensorZero.Proxy.Routing.GatewayRuntime.AzureApiVersion);
        sent.Header("api-key").Should().Be("sk-upstream-key");
        sent.Header("Authorization").Should().BeNull();
    }

    [Theory]
    [InlineData("""{"model":"tensorzero::embedding_model_name::nope","input":"x"}""", 404, "model_not_found")]
    [InlineData("""{"model":"nope","input":"x"}""", 404, "model_not_found")]
    [InlineData("""{"model":"small","input":[]}""", 400, "invalid_request")]
    [InlineData("""{"model":"small","input":[1,"a"]}""", 400, "invalid_request")]
    [InlineData("""{"model":"small","input":"x","encoding_format":"int8"}""", 400, "invalid_request")]
    [InlineData("""{"model":"small","input":"x","dimensions":0}""", 400, "invalid_request")]
    [InlineData("""{"model":"tensorzero::embedding_model_name::together::m","input":"x"}""", 400, "invalid_model")]
    [InlineData("""{"input":"x"}""", 400, "invalid_request")]
    public async Task Embeddings_BadRequest_OpenAIShapedErrorAndNothingSent(string body, int status, string code)
    {
        await using var provider = await FakeProvider.StartAsync(Embeddings);
        await using var gateway = await TestGateway.StartAsync(Model("small", "\"openai\"", OpenAIProvider("small", "openai", provider.BaseUrl)), Environment);

        using var response = await gateway.Client.PostAsync("/openai/v1/embeddings", Json(body));

        ((int)response.StatusCode).Should().Be(status);
        var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
        error.GetProperty("code").GetString().Should().Be(code);
        error.GetProperty("message").GetString().Should().NotBeNullOrEmpty();
        provider.Received.Should().BeEmpty();
    }

    [Fact]
    public async Task Embeddings_DynamicCredential_FromTheRequest_AndIgnoredFieldsNamedInAWarning()
    {
        await using var provider = await FakeProvider.StartAsync(Embeddings);
        var toml = Model("small", "\"openai\"", OpenAIProvider("small", "openai", provider.BaseUrl)).Replace("env::EMBED_KEY", "dynamic::emb_key", StringComparison.Ordinal);
        await using var gateway = await TestGateway.StartAsync(toml);

        using var response = await gateway.Client.PostAsync("/openai/v1/embeddings", Json("""
            {"model":"small","input":"x","tensorzero::credentials":{"emb_key":"sk-from-request"},"tensorzero::cache_options":{"enabled":"on"}}
            """));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        provider.Received.Single().Header("Authorization").Should().Be("Bearer sk-from-request");
        response.Headers.GetValues("x-tensorzero-warning").Single().Should().Contain("tensorzero::cache_options");
        response.Headers.GetValues("x-tensorzero-inference-id").Should().ContainSingle();
        response.Headers.GetValues("x-tensorzero-variant").Single().Should().Be("small");
        response.Headers.Contains("x-tensorzero-episode-id").Should().BeFalse("embeddings have no episode");
    }

    [Theory]
    [InlineData("text/html", "<html>captive portal</html>")]
    [InlineData("application/json", "{\"choices\":[]}")]
    [InlineData("application/json", "{\"data\":[{\"embedding\":[\"a\"]}]}")]
    public async Task Embeddings_200ThatIsNoEmbeddingsAnswer_FailsOver(string contentType, string body)
    {
        await using var odd = await FakeProvider.StartAsync((context, _) =>
        {
            context.Response.ContentType = contentType;
            return context.Response.WriteAsync(body);
        });
        await using var good = await FakeProvider.StartAsync(Embeddings);
        var toml = Model("small", "\"odd\", \"good\"", OpenAIProvider("small", "odd", odd.BaseUrl) + OpenAIProvider("small", "good", good.BaseUrl));
        await using var gateway = await TestGateway.StartAsync(toml, Environment);

        using var response = await gateway.Client.PostAsync("/openai/v1/embeddings", Json("""{"model":"small","input":"x"}"""));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        (await response.Content.ReadAsStringAsync()).Should().NotContain("captive").And.NotContain("choices");
        var inference = await gateway.Inferences.NextAsync();
        inference.Attempts.Select(a => (a.Provider, a.Outcome)).Should().Equal(("odd", AttemptOutcome.Error), ("good", AttemptOutcome.Ok));
    }

    [Fact]
    public async Task Embeddings_EveryProviderFails_500ListingEachAttempt()
    {
        await using var bad = await FakeProvider.StartAsync((context, _) => FakeResponses.Status(context, 502));
        await using var gateway = await TestGateway.StartAsync(Model("small", "\"a\"", OpenAIProvider("small", "a", bad.BaseUrl)), Environment);

        using var response = await gateway.Client.PostAsync("/openai/v1/embeddings", Json("""{"model":"small","input":"x"}"""));

        response.StatusCode.Should().Be(HttpStatusCode.InternalServerError);
        var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
        error.GetProperty("code").GetString().Should().Be("all_providers_failed");
        error.GetProperty("message").GetString().Should().Be(
            $"All providers of embedding model 'small' failed: provider 'a' of model 'small': status 502 after {ElapsedOf(error)} ms.");
        response.Headers.GetValues("x-tensorzero-attempts").Single().Should().Be("1");
    }

    /// <summary>The elapsed milliseconds an error message states for its one attempt.</summary>
    private static string ElapsedOf(JsonElement error) =>
        System.Text.RegularExpressions.Regex.Match(error.GetProperty("message").GetString()!, @"after (\d+) ms").Groups[1].Value;

    [Fact]
    public async Task Embeddings_TokenArrays_ForwardedAsSent()
    {
        await using var provider = await FakeProvider.StartAsync(Embeddings);
        await using var gateway = await TestGateway.StartAsync(Model("small", "\"openai\"", OpenAIProvider("small", "openai", provider.BaseUrl)), Environment);

        using var response = await gateway.Client.PostAsync("/v1/embeddings", Json("""{"model":"small","input":[[1,2],[3]]}"""));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        provider.Received.Single().Json.GetProperty("input").GetRawText().Should().Be("[[1,2],[3]]");
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("data").GetArrayLength().Should().Be(2);
    }

    [Fact]
    public async Task Embeddings_DummyProvider_FailsOverToTheNext()
    {
        await using var provider = await FakeProvider.StartAsync(Embeddings);
        var toml = Model("small", "\"dummy\", \"openai\"", """

            [embedding_models.small.providers.dummy]
            type = "dummy"
            model_name = "test-embeddings"
            """ + OpenAIProvider("small", "openai", provider.BaseUrl));
        await using var gateway = await TestGateway.StartAsync(toml, Environment);

        using var response = await gateway.Client.PostAsync("/openai/v1/embeddings", Json("""{"model":"small","input":"x"}"""));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        var inference = await gateway.Inferences.NextAsync();
        inference.Attempts.Select(a => (a.Provider, a.Outcome)).Should().Equal(("dummy", AttemptOutcome.Error), ("openai", AttemptOutcome.Ok));
    }
}
