using System.ClientModel;
using System.Net;
using System.Text;
using System.Text.Json;
using OpenAI.Chat;
using TensorZero.Proxy.Tests.TestSupport;

namespace TensorZero.Proxy.Tests.Functional;

#pragma warning disable SCME0001 // JsonPatch (additional request properties) is experimental in the OpenAI SDK.

/// <summary>
/// TensorZero's gateway semantics (issue 17) end to end: the native <c>POST /inference</c>, experimentation,
/// response naming, warnings, failover on the typed path and caching.
/// </summary>
public sealed class TensorZeroGatewayEndToEndTests : IDisposable
{
    private const string OutputSchema = """{"type":"object","properties":{"answer":{"type":"string"}},"required":["answer"]}""";

    private readonly TempDirectory _files = new();

    public void Dispose() => _files.Dispose();

    private static string Dummy(string model, string modelName) => TensorZeroSemanticsEndToEndTests.DummyModel(model, modelName);

    private static ChatCompletionOptions Options(params (string Field, string Json)[] fields)
    {
        var options = new ChatCompletionOptions();
        foreach (var (field, json) in fields)
        {
            options.Patch.Set(Encoding.UTF8.GetBytes($"$['{field}']"), BinaryData.FromString(json));
        }
        return options;
    }

    private static Task<HttpResponseMessage> PostAsync(TestGateway gateway, string path, string json) =>
        gateway.Client.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));

    private string NativeToml() => Dummy("echo", "echo_request_messages") + Dummy("jsony", "json") + $$"""

        [functions.chat_fn]
        type = "chat"
        system_schema = "{{_files.Write("system_schema.json", """{"type":"object","properties":{"assistant_name":{"type":"string"}},"required":["assistant_name"]}""")}}"

        [functions.chat_fn.variants.v]
        type = "chat_completion"
        model = "echo"
        system_template = "{{_files.Write("system.minijinja", "You are {{ assistant_name }}.")}}"

        [functions.json_fn]
        type = "json"
        output_schema = "{{_files.Write("output_schema.json", OutputSchema)}}"

        [functions.json_fn.variants.v]
        type = "chat_completion"
        model = "jsony"
        json_mode = "strict"
        """;

    [Fact]
    public async Task NativeInference_ChatFunction_AnswersWithContentBlocks()
    {
        await using var gateway = await TestGateway.StartAsync(NativeToml());

        using var response = await PostAsync(gateway, "/inference",
            """{"function_name":"chat_fn","input":{"system":{"assistant_name":"Alfred"},"messages":[{"role":"user","content":"Hi"}]}}""");

        response.StatusCode.Should().Be(HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        body.RootElement.GetProperty("variant_name").GetString().Should().Be("v");
        var content = body.RootElement.GetProperty("content");
        content[0].GetProperty("type").GetString().Should().Be("text");
        using var echo = JsonDocument.Parse(content[0].GetProperty("text").GetString()!);
        echo.RootElement.GetProperty("system").GetString().Should().Be("You are Alfred.");
        echo.RootElement.GetProperty("messages")[0].GetProperty("content")[0].GetProperty("text").GetString().Should().Be("Hi");
        Guid.Parse(body.RootElement.GetProperty("inference_id").GetString()!).Version.Should().Be(7);
    }

    [Fact]
    public async Task NativeInference_JsonFunction_AnswersRawAndParsed()
    {
        await using var gateway = await TestGateway.StartAsync(NativeToml());

        using var response = await PostAsync(gateway, "/inference",
            """{"function_name":"json_fn","input":{"messages":[{"role":"user","content":"Hi"}]}}""");

        response.StatusCode.Should().Be(HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var output = body.RootElement.GetProperty("output");
        output.GetProperty("raw").GetString().Should().Be("""{"answer":"Hello"}""");
        output.GetProperty("parsed").GetRawText().Should().Be("""{"answer":"Hello"}""");
    }

    [Fact]
    public async Task NativeInference_Streaming_SendsChunksEndingInDone()
    {
        await using var gateway = await TestGateway.StartAsync(NativeToml() + Dummy("plain", "good"));

        using var response = await PostAsync(gateway, "/inference",
            """{"model_name":"plain","stream":true,"input":{"messages":[{"role":"user","content":"Hi"}]}}""");

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        response.Content.Headers.ContentType!.MediaType.Should().Be("text/event-stream");
        var events = (await response.Content.ReadAsStringAsync()).Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        events[^1].Should().Be("data: [DONE]");
        var text = new StringBuilder();
        foreach (var e in events[..^1])
        {
            e.Should().StartWith("data: {");
            using var chunk = JsonDocument.Parse(e["data: ".Length..]);
            foreach (var block in chunk.RootElement.GetProperty("content").EnumerateArray())
            {
                text.Append(block.GetProperty("text").GetString());
            }
        }
        text.ToString().Should().Be(TensorZero.Proxy.Providers.DummyModels.WallyText);
    }

    [Fact]
    public async Task NativeInference_UnknownFunction_Is404WithError()
    {
        await using var gateway = await TestGateway.StartAsync(NativeToml());

        using var response = await PostAsync(gateway, "/inference", """{"function_name":"nope","input":{"messages":[{"role":"user","content":"Hi"}]}}""");

        response.StatusCode.Should().Be(HttpStatusCode.NotFound);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        body.RootElement.GetProperty("error").GetString().Should().Contain("nope");
    }

    private static string Variant(ClientResult<ChatCompletion> result) =>
        result.GetRawResponse().Headers.TryGetValue("x-tensorzero-variant", out var variant) ? variant! : "(no header)";

    [Fact]
    public async Task StaticExperimentation_SamplesOnlyCandidates_AndFallsBackToFallbackVariants()
    {
        const string Toml = """

            [functions.f]
            type = "chat"

            [functions.f.variants.a]
            type = "chat_completion"
            model = "ok"

            [functions.f.variants.b]
            type = "chat_completion"
            model = "ok"

            [functions.f.variants.c]
            type = "chat_completion"
            model = "ok"

            [functions.f.experimentation]
            type = "static"
            candidate_variants = ["a", "b"]
            fallback_variants = ["c"]

            [functions.g]
            type = "chat"

            [functions.g.variants.a]
            type = "chat_completion"
            model = "broken"

            [functions.g.variants.c]
            type = "chat_completion"
            model = "ok"

            [functions.g.experimentation]
            type = "static"
            candidate_variants = ["a"]
            fallback_variants = ["c"]
            """;
        await using var gateway = await TestGateway.StartAsync(Dummy("ok", "good") + Dummy("broken", "error") + Toml);

        var seen = new HashSet<string>();
        for (var i = 0; i < 20; i++)
        {
            seen.Add(Variant(await OpenAIClients.Chat(gateway, "tensorzero::function_name::f").CompleteChatAsync([new UserChatMessage("hi")])));
        }
        var fallback = await OpenAIClients.Chat(gateway, "tensorzero::function_name::g").CompleteChatAsync([new UserChatMessage("hi")]);

        seen.Should().BeSubsetOf(["a", "b"], "fallback_variants are tried only after the candidates failed");
        seen.Should().NotBeEmpty();
        Variant(fallback).Should().Be("c");
        fallback.Value.Content[0].Text.Should().Be(TensorZero.Proxy.Providers.DummyModels.MeguminText);
    }

    [Fact]
    public async Task LegacyWeights_AnUnweightedVariantIsTheFallback()
    {
        const string Toml = """

            [functions.f]
            type = "chat"

            [functions.f.variants.weighted]
            type = "chat_completion"
            model = "broken"
            weight = 1.0

            [functions.f.variants.unweighted]
            type = "chat_completion"
            model = "ok"
            """;
        await using var gateway = await TestGateway.StartAsync(Dummy("ok", "good") + Dummy("broken", "error") + Toml);

        for (var i = 0; i < 3; i++)
        {
            var result = await OpenAIClients.Chat(gateway, "tensorzero::function_name::f").CompleteChatAsync([new UserChatMessage("hi")]);
            var inference = await gateway.Inferences.NextAsync();

            Variant(result).Should().Be("unweighted");
            inference.Attempts.Select(a => a.Variant).Should().Equal("weighted", "unweighted");
        }
    }

    [Fact]
    public async Task AdaptiveExperimentation_Loads_AndServesACandidate()
    {
        const string Toml = """

            [metrics.liked]
            type = "boolean"
            optimize = "max"
            level = "inference"

            [functions.f]
            type = "chat"

            [functions.f.variants.a]
            type = "chat_completion"
            model = "ok"

            [functions.f.variants.b]
            type = "chat_completion"
            model = "ok"

            [functions.f.variants.outsider]
            type = "chat_completion"
            model = "ok"

            [functions.f.experimentation]
            type = "adaptive"
            metric = "liked"
            candidate_variants = ["a", "b"]
            """;
        await using var gateway = await TestGateway.StartAsync(Dummy("ok", "good") + Toml);

        var seen = new HashSet<string>();
        for (var i = 0; i < 10; i++)
        {
            var result = await OpenAIClients.Chat(gateway, "tensorzero::function_name::f").CompleteChatAsync([new UserChatMessage("hi")]);
            result.Value.Content[0].Text.Should().Be(TensorZero.Proxy.Providers.DummyModels.MeguminText);
            seen.Add(Variant(result));
        }

        seen.Should().NotBeEmpty().And.BeSubsetOf(["a", "b"]);
    }

    [Fact]
    public async Task ResponseModel_NamesTheFunctionAndVariant_OrTheModel()
    {
        await using var gateway = await TestGateway.StartAsync(Dummy("ok", "good") + TestConfigs.SingleVariantFunction("f", "ok"));

        ChatCompletion function = await OpenAIClients.Chat(gateway, "tensorzero::function_name::f").CompleteChatAsync([new UserChatMessage("hi")]);
        ChatCompletion model = await OpenAIClients.Chat(gateway, "tensorzero::model_name::ok").CompleteChatAsync([new UserChatMessage("hi")]);

        function.Model.Should().Be("tensorzero::function_name::f::variant_name::v");
        model.Model.Should().Be("tensorzero::model_name::ok");
    }

    [Fact]
    public async Task Streaming_ChunksWithoutUsage_CarryUsageNull()
    {
        await using var gateway = await TestGateway.StartAsync(Dummy("ok", "good") + TestConfigs.SingleVariantFunction("f", "ok"));

        using var response = await PostAsync(gateway, "/openai/v1/chat/completions",
            """{"model":"tensorzero::function_name::f","stream":true,"messages":[{"role":"user","content":"hi"}]}""");

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        var chunks = (await response.Content.ReadAsStringAsync()).Split("\n\n", StringSplitOptions.RemoveEmptyEntries)
            .Where(e => e.StartsWith("data: {", StringComparison.Ordinal))
            .Select(e => JsonDocument.Parse(e["data: ".Length..]).RootElement).ToList();
        chunks.Should().HaveCountGreaterThan(2);
        var contentChunks = chunks.Where(c => c.GetProperty("choices").EnumerateArray().Any(ch => ch.GetProperty("delta").TryGetProperty("content", out _))).ToList();
        contentChunks.Should().NotBeEmpty();
        contentChunks.Select(c => c.TryGetProperty("usage", out var u) ? u.GetRawText() : "(absent)").Should().OnlyContain(u => u == "null");
    }

    [Fact]
    public async Task AcceptedButUnimplementedField_Is200WithAWarningHeader()
    {
        await using var gateway = await TestGateway.StartAsync(Dummy("ok", "good") + TestConfigs.SingleVariantFunction("f", "ok"));

        var result = await OpenAIClients.Chat(gateway, "tensorzero::function_name::f").CompleteChatAsync([new UserChatMessage("hi")],
            Options(("tensorzero::provider_tools", "[]")));

        result.GetRawResponse().Status.Should().Be(200);
        result.GetRawResponse().Headers.TryGetValue("x-tensorzero-warning", out var warning).Should().BeTrue();
        warning.Should().Contain("tensorzero::provider_tools");
    }

    [Fact]
    public async Task UnknownTensorZeroField_Is400()
    {
        await using var gateway = await TestGateway.StartAsync(Dummy("ok", "good") + TestConfigs.SingleVariantFunction("f", "ok"));

        var act = () => OpenAIClients.Chat(gateway, "tensorzero::function_name::f").CompleteChatAsync([new UserChatMessage("hi")],
            Options(("tensorzero::bogus", "1")));

        var error = (await act.Should().ThrowAsync<ClientResultException>()).Which;
        error.Status.Should().Be(400);
        error.Message.Should().Contain("tensorzero::bogus");
    }

    [Fact]
    public async Task TypedPath_HtmlOkBody_FailsOverToTheNextProvider()
    {
        await using var bad = await FakeProvider.StartAsync(FailingResponses.For(FailureMode.OkHtml));
        await using var good = await FakeProvider.StartAsync(FakeResponses.Default("second provider answer"));
        var toml = "[models.m]\nrouting = [\"bad\", \"good\"]\n" + TestConfigs.OpenAIProvider("m", "bad", bad.BaseUrl) + TestConfigs.OpenAIProvider("m", "good", good.BaseUrl) + $$"""


            [functions.f]
            type = "chat"
            system_schema = "{{_files.Write("system_schema.json", """{"type":"object","properties":{"assistant_name":{"type":"string"}},"required":["assistant_name"]}""")}}"

            [functions.f.variants.v]
            type = "chat_completion"
            model = "m"
            system_template = "{{_files.Write("system.minijinja", "You are {{ assistant_name }}.")}}"
            """;
        await using var gateway = await TestGateway.StartAsync(toml);
        var system = new SystemChatMessage("x");
        system.Patch.Set("$.content"u8, BinaryData.FromString("""[{"type":"text","tensorzero::arguments":{"assistant_name":"Alfred"}}]"""));

        var result = await OpenAIClients.Chat(gateway, "tensorzero::function_name::f").CompleteChatAsync([system, new UserChatMessage("hi")]);

        result.Value.Content[0].Text.Should().Be("second provider answer");
        result.GetRawResponse().Headers.TryGetValue("x-bad-provider", out _).Should().BeFalse();
        bad.Received.Should().ContainSingle();
        good.Received.Should().ContainSingle().Which.Json.GetProperty("messages")[0].GetProperty("content").GetString().Should().Be("You are Alfred.");
    }

    [Fact]
    public async Task CacheOn_SecondIdenticalRequest_IsServedFromTheCache_WithZeroUsage()
    {
        await using var fake = await FakeProvider.StartAsync(FakeResponses.Default("cached answer"));
        await using var gateway = await TestGateway.StartAsync(TestConfigs.SingleProviderModel("up", "p", fake.BaseUrl) + TestConfigs.SingleVariantFunction("f", "up"));
        var client = OpenAIClients.Chat(gateway, "tensorzero::function_name::f");
        ChatCompletionOptions CacheOn() => Options(("tensorzero::cache_options", """{"enabled":"on"}"""));

        ChatCompletion first = await client.CompleteChatAsync([new UserChatMessage("same question")], CacheOn());
        await gateway.Inferences.NextAsync();
        ChatCompletion second = await client.CompleteChatAsync([new UserChatMessage("same question")], CacheOn());

        first.Content[0].Text.Should().Be("cached answer");
        first.Usage.InputTokenCount.Should().Be(5);
        second.Content[0].Text.Should().Be("cached answer");
        fake.Received.Should().HaveCount(1, "the second request is answered from the cache");
        second.Usage.InputTokenCount.Should().Be(0);
        second.Usage.OutputTokenCount.Should().Be(0);
    }
}
