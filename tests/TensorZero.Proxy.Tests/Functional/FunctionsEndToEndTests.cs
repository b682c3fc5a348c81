using TensorZero.Proxy.Providers;
using System.ClientModel;
using System.Net;
using System.Text;
using System.Text.Json;
using OpenAI.Chat;
using TensorZero.Proxy.Inference;
using TensorZero.Proxy.Tests.TestSupport;

namespace TensorZero.Proxy.Tests.Functional;

#pragma warning disable SCME0001 // JsonPatch (additional request properties) is experimental in the OpenAI SDK.

/// <summary>Functions, variants, pinning, tags and ids through the official OpenAI SDK (config/functions-example.toml).</summary>
public sealed class FunctionsEndToEndTests
{
    private static Task<TestGateway> StartAsync() => TestGateway.StartFromFileAsync("functions-example.toml");

    private static ChatCompletionOptions Options(params (string Field, string Json)[] fields)
    {
        var options = new ChatCompletionOptions();
        foreach (var (field, json) in fields)
        {
            options.Patch.Set(Encoding.UTF8.GetBytes($"$['{field}']"), BinaryData.FromString(json));
        }
        return options;
    }

    private static string Answered(ChatCompletion completion) => completion.Content[0].Text;

    [Fact]
    public async Task FunctionTarget_AnswersFromASampledVariant_WithTensorZeroIdsAndHeaders()
    {
        await using var gateway = await StartAsync();
        var client = OpenAIClients.Chat(gateway, "tensorzero::function_name::draft_email");

        ClientResult<ChatCompletion> result = await client.CompleteChatAsync([new UserChatMessage("Write to Bob")]);
        var inference = await gateway.Inferences.NextAsync();

        var raw = result.GetRawResponse();
        raw.Headers.TryGetValue("x-tensorzero-variant", out var variant).Should().BeTrue();
        variant.Should().BeOneOf("a", "b");
        result.Value.Model.Should().Be($"tensorzero::function_name::draft_email::variant_name::{variant}", "TensorZero names the variant that answered");
        inference.CommittedAttempt!.Model.Should().Be($"dummy-{variant}");
        result.Value.Id.Should().Be(inference.InferenceId.ToString());
        raw.Headers.TryGetValue("x-tensorzero-inference-id", out var inferenceId).Should().BeTrue();
        inferenceId.Should().Be(inference.InferenceId.ToString());
        inference.InferenceId.Version.Should().Be(7);
        using var body = JsonDocument.Parse(raw.Content);
        body.RootElement.GetProperty("episode_id").GetString().Should().Be(inference.EpisodeId.ToString());
        inference.FunctionName.Should().Be("draft_email");
        inference.Tags.Should().NotContainKey("tensorzero::variant_pinned");
    }

    [Fact]
    public async Task PlainFunctionName_CallsTheFunction()
    {
        await using var gateway = await StartAsync();

        ChatCompletion completion = await OpenAIClients.Chat(gateway, "flaky").CompleteChatAsync([new UserChatMessage("hi")]);
        var inference = await gateway.Inferences.NextAsync();

        Answered(completion).Should().Be(DummyModels.MeguminText);
        completion.Model.Should().Be("flaky", "a plain name is echoed as the client sent it");
        inference.FunctionName.Should().Be("flaky");
        inference.VariantName.Should().Be("backup");
        inference.CommittedAttempt!.Model.Should().Be("dummy-b");
    }

    [Fact]
    public async Task PinnedVariant_IsUsed_AndTaggedOnTheRequestState()
    {
        await using var gateway = await StartAsync();
        var client = OpenAIClients.Chat(gateway, "draft_email");

        ClientResult<ChatCompletion> result = await client.CompleteChatAsync([new UserChatMessage("hi")],
            Options(("tensorzero::variant_name", "\"canary\""), ("tensorzero::tags", """{"team":"mail"}""")));
        var inference = await gateway.Inferences.NextAsync();

        Answered(result.Value).Should().Be(DummyModels.MeguminText);
        result.Value.Model.Should().Be("draft_email");
        inference.CommittedAttempt!.Model.Should().Be("dummy::canary");
        inference.VariantName.Should().Be("canary");
        inference.Tags.Should().Contain("tensorzero::variant_pinned", "canary").And.Contain("team", "mail");
    }

    [Fact]
    public async Task EpisodeId_RoundTrips_AndKeepsTheVariant()
    {
        await using var gateway = await StartAsync();
        var client = OpenAIClients.Chat(gateway, "draft_email");
        var episode = Guid.CreateVersion7(DateTimeOffset.UtcNow.AddMinutes(-1));

        var variants = new HashSet<string>();
        for (var i = 0; i < 5; i++)
        {
            ClientResult<ChatCompletion> result = await client.CompleteChatAsync([new UserChatMessage("hi")],
                Options(("tensorzero::episode_id", $"\"{episode}\"")));
            using var body = JsonDocument.Parse(result.GetRawResponse().Content);
            body.RootElement.GetProperty("episode_id").GetString().Should().Be(episode.ToString());
            result.GetRawResponse().Headers.TryGetValue("x-tensorzero-episode-id", out var header).Should().BeTrue();
            header.Should().Be(episode.ToString());
            result.GetRawResponse().Headers.TryGetValue("x-tensorzero-variant", out var variant);
            variants.Add(variant!);
        }

        variants.Should().ContainSingle("one episode keeps its variant");
    }

    public static TheoryData<string, string, string> InvalidFields => new()
    {
        { "tensorzero::episode_id", $"\"{Guid.NewGuid()}\"", "must be a UUIDv7 (got a version 4 UUID)" },
        { "tensorzero::episode_id", $"\"{Guid.CreateVersion7(DateTimeOffset.UtcNow.AddDays(1))}\"", "is in the future" },
        { "tensorzero::episode_id", "\"not-a-uuid\"", "must be a UUID string" },
        { "tensorzero::tags", """{"tensorzero::mine":"x"}""", "uses the reserved prefix 'tensorzero::'" },
        { "tensorzero::tags", """{"k":1}""", "must have a string value" },
        { "tensorzero::variant_name", "\"nope\"", "Unknown variant 'nope' of function 'draft_email' (variants: 'a', 'b', 'canary')" },
        { "tensorzero::dryrun", "\"yes\"", "must be a boolean" },
    };

    [Theory]
    [MemberData(nameof(InvalidFields))]
    public async Task InvalidGatewayField_IsRejected(string field, string json, string message)
    {
        await using var gateway = await StartAsync();
        var client = OpenAIClients.Chat(gateway, "draft_email");

        var act = () => client.CompleteChatAsync([new UserChatMessage("hi")], Options((field, json)));

        var error = (await act.Should().ThrowAsync<ClientResultException>()).Which;
        error.Status.Should().Be(field == "tensorzero::variant_name" ? 404 : 400);
        error.Message.Should().Contain(message);
    }

    [Fact]
    public async Task PinningOnAModelTarget_Is400()
    {
        await using var gateway = await StartAsync();

        var act = () => OpenAIClients.Chat(gateway, "dummy-a").CompleteChatAsync([new UserChatMessage("hi")], Options(("tensorzero::variant_name", "\"a\"")));

        (await act.Should().ThrowAsync<ClientResultException>()).Which.Status.Should().Be(400);
    }

    [Fact]
    public async Task Streaming_EveryChunkCarriesTheSameIdAndEpisodeId()
    {
        await using var gateway = await StartAsync();
        var episode = Guid.CreateVersion7(DateTimeOffset.UtcNow.AddSeconds(-5));

        var ids = new HashSet<string>();
        var text = new StringBuilder();
        await foreach (var update in OpenAIClients.Chat(gateway, "draft_email")
            .CompleteChatStreamingAsync([new UserChatMessage("hi")], Options(("tensorzero::episode_id", $"\"{episode}\""))))
        {
            ids.Add(update.CompletionId);
            text.Append(string.Concat(update.ContentUpdate.Select(p => p.Text)));
        }
        var inference = await gateway.Inferences.NextAsync();

        ids.Should().Equal(inference.InferenceId.ToString());
        text.ToString().Should().Be(DummyModels.WallyText, "TensorZero's dummy streams its Wally answer");

        // The raw chunks: each carries the same id and episode_id, and echoes the requested model.
        using var response = await gateway.Client.PostAsync("/v1/chat/completions", new StringContent(
            $$"""{"model":"draft_email","stream":true,"tensorzero::episode_id":"{{episode}}","messages":[{"role":"user","content":"hi"}]}""",
            Encoding.UTF8, "application/json"));
        var chunks = (await response.Content.ReadAsStringAsync()).Split("\n\n", StringSplitOptions.RemoveEmptyEntries)
            .Where(e => e.StartsWith("data: {", StringComparison.Ordinal))
            .Select(e => JsonDocument.Parse(e["data: ".Length..]).RootElement).ToList();
        var second = await gateway.Inferences.NextAsync();
        chunks.Should().HaveCountGreaterThan(3).And.OnlyContain(c =>
            c.GetProperty("id").GetString() == second.InferenceId.ToString()
            && c.GetProperty("episode_id").GetString() == episode.ToString()
            && c.GetProperty("model").GetString() == "draft_email");
    }

    [Fact]
    public async Task FailingVariant_FallsBackToAnotherVariant()
    {
        await using var gateway = await StartAsync();

        ClientResult<ChatCompletion> result = await OpenAIClients.Chat(gateway, "tensorzero::function_name::flaky").CompleteChatAsync([new UserChatMessage("hi")]);
        var inference = await gateway.Inferences.NextAsync();

        Answered(result.Value).Should().Be(DummyModels.MeguminText);
        inference.CommittedAttempt!.Model.Should().Be("dummy-b");
        result.GetRawResponse().Headers.TryGetValue("x-tensorzero-variant", out var variant);
        variant.Should().Be("backup");
        inference.Attempts.Select(a => (a.Variant, a.Outcome)).Should().Equal(("broken", AttemptOutcome.Error), ("backup", AttemptOutcome.Ok));
    }

    [Fact]
    public async Task PinnedFailingVariant_ReturnsItsError_NoFallback()
    {
        await using var gateway = await StartAsync();

        var act = () => OpenAIClients.Chat(gateway, "flaky").CompleteChatAsync([new UserChatMessage("hi")], Options(("tensorzero::variant_name", "\"broken\"")));

        var error = (await act.Should().ThrowAsync<ClientResultException>()).Which;
        error.Status.Should().Be(500);
        error.Message.Should().Contain("Pinned variant 'broken' of function 'flaky' failed").And.NotContain("backup");
        var inference = await gateway.Inferences.NextAsync();
        inference.Attempts.Should().ContainSingle();
        inference.Tags.Should().Contain("tensorzero::variant_pinned", "broken");
    }

    [Fact]
    public async Task VariantDefaults_FillOnlyWhatTheRequestLeavesOut()
    {
        await using var fake = await FakeProvider.StartAsync();
        var toml = TestConfigs.SingleProviderModel("m", "p", fake.BaseUrl, modelName: "up") + TestConfigs.SingleVariantFunction("f", "m", """
            temperature = 0.3
            max_tokens = 50
            seed = 7
            stop_sequences = ["END"]
            """);
        await using var gateway = await TestGateway.StartAsync(toml);

        ChatCompletion _ = await OpenAIClients.Chat(gateway, "f").CompleteChatAsync([new UserChatMessage("hi")], new ChatCompletionOptions { Temperature = 0.9f });

        var sent = fake.Received.Should().ContainSingle().Subject.Json;
        sent.GetProperty("temperature").GetDouble().Should().BeApproximately(0.9, 1e-6, "the request's own value wins");
        sent.GetProperty("max_tokens").GetInt32().Should().Be(50);
        sent.GetProperty("seed").GetInt32().Should().Be(7);
        sent.GetProperty("stop").EnumerateArray().Select(s => s.GetString()).Should().Equal("END");
        sent.GetProperty("model").GetString().Should().Be("up");
    }

    [Fact]
    public async Task ModelsEndpoint_ListsFunctionsAndModels()
    {
        await using var gateway = await StartAsync();

        using var doc = JsonDocument.Parse(await gateway.Client.GetStringAsync("/v1/models"));

        doc.RootElement.GetProperty("data").EnumerateArray().Select(m => m.GetProperty("id").GetString()).Should().Equal(
            "tensorzero::function_name::draft_email", "tensorzero::function_name::flaky",
            "tensorzero::model_name::broken", "tensorzero::model_name::dummy-a", "tensorzero::model_name::dummy-b");
    }

    [Fact]
    public async Task ModelTarget_RecordsTheDefaultFunction()
    {
        await using var gateway = await StartAsync();

        using var response = await gateway.Client.PostAsync("/v1/chat/completions",
            new StringContent("""{"model":"dummy-a","messages":[]}""", Encoding.UTF8, "application/json"));
        var inference = await gateway.Inferences.NextAsync();

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        inference.FunctionName.Should().Be(InferenceFeature.DefaultFunctionName);
        response.Headers.GetValues("x-tensorzero-variant").Should().Equal("dummy-a");
    }
}
