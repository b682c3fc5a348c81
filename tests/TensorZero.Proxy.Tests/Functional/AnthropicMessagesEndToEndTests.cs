using System.Net;
using System.Text;
using System.Text.Json;
using Anthropic;
using Anthropic.Core;
using Anthropic.Exceptions;
using Anthropic.Models.Messages;
using FluentAssertions;
using TensorZero.Proxy.Providers;
using TensorZero.Proxy.Tests.TestSupport;
using Xunit;

namespace TensorZero.Proxy.Tests.Functional;

/// <summary>
/// <c>POST /v1/messages</c> driven by the official Anthropic .NET SDK with its base URL pointed at the gateway: Claude
/// clients reach configured models and functions, whatever their providers speak.
/// </summary>
public sealed class AnthropicMessagesEndToEndTests
{
    private const string Toml = TestConfigs.DummyProtocolModels;

    private static AnthropicClient Client(TestGateway gateway) => new(new ClientOptions
    {
        BaseUrl = gateway.BaseUrl,
        // Sent as x-api-key and ignored by the gateway (its own auth is a later issue).
        ApiKey = "sk-ant-client-key",
        MaxRetries = 0,
        Timeout = TimeSpan.FromSeconds(60),
    });

    private static MessageCreateParams Params(string model, params MessageParam[] messages) => new()
    {
        Model = model,
        MaxTokens = 256,
        Messages = messages,
    };

    private static Tool TemperatureTool() => new()
    {
        Name = "get_temperature",
        Description = "Current temperature",
        InputSchema = new InputSchema
        {
            Properties = new Dictionary<string, JsonElement> { ["location"] = JsonDocument.Parse("""{"type":"string"}""").RootElement },
            Required = ["location"],
        },
    };

    [Fact]
    public async Task Create_ModelTarget_AnswersAMessage()
    {
        await using var gateway = await TestGateway.StartAsync(Toml);

        var message = await Client(gateway).Messages.Create(Params("dummy", new UserMessageParam("Hello")));

        message.Content.Should().ContainSingle();
        message.Content[0].TryPickText(out var text).Should().BeTrue();
        text!.Text.Should().Be(DummyModels.MeguminText);
        message.StopReason!.Raw().Should().Be("end_turn");
        message.Model.Raw().Should().Be("dummy");
        message.Usage.InputTokens.Should().Be(10);
        message.Usage.OutputTokens.Should().Be(1);
        var inference = await gateway.Inferences.NextAsync();
        message.ID.Should().Be("msg_" + inference.InferenceId.ToString("N"));
        inference.Typed!.ModelRequest.Params.MaxTokens.Should().Be(256);
    }

    [Fact]
    public async Task Create_FunctionTargetWithSystemPrompt_ThePromptReachesTheModelAsItsSystem()
    {
        await using var gateway = await TestGateway.StartAsync(Toml);
        var parameters = Params("echo", new UserMessageParam("Hello")) with { System = "You are terse." };

        var message = await Client(gateway).Messages.Create(parameters);

        message.Content[0].TryPickText(out var text).Should().BeTrue();
        using var echoed = JsonDocument.Parse(text!.Text);
        echoed.RootElement.GetProperty("system").GetString().Should().Be("You are terse.");

        var viaFunction = await Client(gateway).Messages.Create(Params("tensorzero::function_name::basic", new UserMessageParam("Hi")) with
        {
            System = new List<TextBlockParam> { new("First."), new("Second.") },
        });
        viaFunction.Model.Raw().Should().Be("tensorzero::function_name::basic::variant_name::v1");
        (await gateway.Inferences.NextAsync()).Typed!.ModelRequest.System.Should().Be("You are terse.");
        var functionInference = await gateway.Inferences.NextAsync();
        functionInference.FunctionName.Should().Be("basic");
        functionInference.Typed!.ModelRequest.System.Should().Be("First.\nSecond.");
    }

    [Fact]
    public async Task CreateStreaming_Text_EventsAddUpToTheAnswer()
    {
        await using var gateway = await TestGateway.StartAsync(Toml);

        var text = new StringBuilder();
        var types = new List<string>();
        string? stopReason = null;
        long? outputTokens = null;
        await foreach (var streamEvent in Client(gateway).Messages.CreateStreaming(Params("dummy", new UserMessageParam("Hello"))))
        {
            types.Add(streamEvent.Type.Raw());
            if (streamEvent.TryPickContentBlockDelta(out var delta) && delta!.Delta.TryPickText(out var piece))
            {
                text.Append(piece!.Text);
            }
            if (streamEvent.TryPickDelta(out var messageDelta))
            {
                stopReason = messageDelta!.Delta.StopReason?.Raw();
                outputTokens = messageDelta.Usage.OutputTokens;
            }
        }

        text.ToString().Should().Be(DummyModels.WallyText);
        stopReason.Should().Be("end_turn");
        outputTokens.Should().BeGreaterThan(0);
        types.First().Should().Be("message_start");
        types.Skip(1).First().Should().Be("content_block_start");
        types.TakeLast(3).Should().Equal("content_block_stop", "message_delta", "message_stop");
        types.Where(t => t == "content_block_delta").Should().HaveCountGreaterThan(1);
        (await gateway.Inferences.NextAsync()).Typed!.Result!.Content.Should().ContainSingle()
            .Which.Should().Be(new Functions.TextBlock(DummyModels.WallyText));
    }

    [Fact]
    public async Task Create_ToolUse_RoundTripsTheResultToTheModel()
    {
        await using var gateway = await TestGateway.StartAsync(Toml);
        var first = Params("tool", new UserMessageParam("Weather in Brooklyn?")) with { Tools = [TemperatureTool()] };

        var message = await Client(gateway).Messages.Create(first);

        message.StopReason!.Raw().Should().Be("tool_use");
        message.Content.Should().ContainSingle();
        message.Content[0].TryPickToolUse(out var toolUse).Should().BeTrue();
        toolUse!.Name.Should().Be("get_temperature");
        toolUse.Input["location"].GetString().Should().Be("Brooklyn");
        (await gateway.Inferences.NextAsync()).Typed!.ModelRequest.Tools!.Tools.Should().ContainSingle(t => t.Name == "get_temperature");

        var followUp = Params("echo",
            new UserMessageParam("Weather in Brooklyn?"),
            new AssistantMessageParam(new List<ContentBlockParam> { new ToolUseBlockParam { ID = toolUse.ID, Name = toolUse.Name, Input = toolUse.Input } }),
            new UserMessageParam(new List<ContentBlockParam> { new ToolResultBlockParam(toolUse.ID) { Content = "21 degrees" } }))
            with { Tools = [TemperatureTool()] };
        var second = await Client(gateway).Messages.Create(followUp);

        second.Content[0].TryPickText(out var text).Should().BeTrue();
        using var echoed = JsonDocument.Parse(text!.Text);
        var messages = echoed.RootElement.GetProperty("messages");
        messages.GetArrayLength().Should().Be(3);
        messages[1].GetProperty("content")[0].GetProperty("type").GetString().Should().Be("tool_call");
        messages[1].GetProperty("content")[0].GetProperty("arguments").GetString().Should().Be("""{"location":"Brooklyn","units":"celsius"}""");
        var result = messages[2].GetProperty("content")[0];
        result.GetProperty("type").GetString().Should().Be("tool_result");
        result.GetProperty("name").GetString().Should().Be("get_temperature");
        result.GetProperty("result").GetString().Should().Be("21 degrees");
    }

    [Fact]
    public async Task CreateStreaming_ToolUse_StreamsInputJsonDeltas()
    {
        await using var gateway = await TestGateway.StartAsync(Toml);
        var parameters = Params("tool", new UserMessageParam("Weather?")) with { Tools = [TemperatureTool()] };

        var json = new StringBuilder();
        string? startedName = null;
        string? stopReason = null;
        await foreach (var streamEvent in Client(gateway).Messages.CreateStreaming(parameters))
        {
            if (streamEvent.TryPickContentBlockStart(out var start) && start!.ContentBlock.TryPickToolUse(out var block))
            {
                startedName = block!.Name;
            }
            if (streamEvent.TryPickContentBlockDelta(out var delta) && delta!.Delta.TryPickInputJson(out var piece))
            {
                json.Append(piece!.PartialJson);
            }
            if (streamEvent.TryPickDelta(out var messageDelta))
            {
                stopReason = messageDelta!.Delta.StopReason?.Raw();
            }
        }

        startedName.Should().Be("get_temperature");
        json.ToString().Should().Be("""{"location":"Brooklyn","units":"celsius"}""");
        stopReason.Should().Be("tool_use");
    }

    [Fact]
    public async Task Create_UnknownModel_IsAnAnthropicNotFoundError()
    {
        await using var gateway = await TestGateway.StartAsync(Toml);

        var act = () => Client(gateway).Messages.Create(Params("claude-nonexistent", new UserMessageParam("Hello")));

        var error = (await act.Should().ThrowAsync<AnthropicNotFoundException>()).Which;
        error.StatusCode.Should().Be(HttpStatusCode.NotFound);
        error.ResponseBody.Should().Contain("\"type\":\"not_found_error\"").And.Contain("Unknown model 'claude-nonexistent'");
    }

    [Fact]
    public async Task Create_AllProvidersFail_IsAnAnthropicApiError()
    {
        await using var gateway = await TestGateway.StartAsync(Toml);

        var act = () => Client(gateway).Messages.Create(Params("broken", new UserMessageParam("Hello")));

        var error = (await act.Should().ThrowAsync<Anthropic5xxException>()).Which;
        error.StatusCode.Should().Be(HttpStatusCode.InternalServerError);
        using var body = JsonDocument.Parse(error.ResponseBody);
        body.RootElement.GetProperty("type").GetString().Should().Be("error");
        body.RootElement.GetProperty("error").GetProperty("type").GetString().Should().Be("api_error");
        body.RootElement.GetProperty("error").GetProperty("message").GetString().Should().Contain("All providers of model 'broken' failed");
    }

    [Theory]
    [InlineData("""{"model":"dummy","messages":[{"role":"user","content":"hi"}]}""", "max_tokens: Field required")]
    [InlineData("""{"model":"dummy","max_tokens":10,"messages":[{"role":"user","content":[{"type":"document","source":{}}]}]}""", "content block type 'document' is not supported")]
    [InlineData("""{"model":"dummy","max_tokens":10,"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"web_search_20250305","name":"web_search"}]}""", "tool type 'web_search_20250305' is not supported")]
    [InlineData("""{"model":"dummy","max_tokens":10,"messages":[{"role":"user","content":"hi"}],"frobnicate":true}""", "frobnicate: Extra inputs are not permitted")]
    [InlineData("""{"model":"dummy","max_tokens":10,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"x"}]}]}""", "tool_use_id 't1' does not match")]
    [InlineData("""not json""", "Failed to parse the request body as JSON")]
    public async Task Post_BadRequest_IsAnAnthropicInvalidRequestError(string body, string messagePart)
    {
        await using var gateway = await TestGateway.StartAsync(Toml);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/messages") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("anthropic-version", "2023-06-01");
        request.Headers.Add("x-api-key", "ignored");

        var response = await gateway.Client.SendAsync(request);

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        json.RootElement.GetProperty("type").GetString().Should().Be("error");
        json.RootElement.GetProperty("error").GetProperty("type").GetString().Should().Be("invalid_request_error");
        json.RootElement.GetProperty("error").GetProperty("message").GetString().Should().Contain(messagePart);
    }

    [Fact]
    public async Task Post_BodyOverTheLimit_IsAnAnthropicRequestTooLargeError()
    {
        await using var gateway = await TestGateway.StartAsync(Toml, environment: null, "--TensorZero:MaxRequestBodyBytes=64");

        var response = await gateway.Client.PostAsync("/v1/messages", new StringContent(
            $$"""{"model":"dummy","max_tokens":10,"messages":[{"role":"user","content":"{{new string('x', 200)}}"}]}""", Encoding.UTF8, "application/json"));

        response.StatusCode.Should().Be(HttpStatusCode.RequestEntityTooLarge);
        (await response.Content.ReadAsStringAsync()).Should().Be(
            """{"type":"error","error":{"type":"request_too_large","message":"The request body is larger than the gateway's limit of 64 bytes."}}""");
    }

    [Fact]
    public async Task Post_TopK_IsAcceptedWithAWarning()
    {
        await using var gateway = await TestGateway.StartAsync(Toml);

        var response = await gateway.Client.PostAsync("/v1/messages", new StringContent(
            """{"model":"dummy","max_tokens":10,"top_k":5,"messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json"));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        response.Headers.GetValues("x-tensorzero-warning").Single().Should().Contain("top_k");
    }

    [Fact]
    public async Task Post_StreamCutShortAfterTheCommit_EndsWithAnErrorEvent()
    {
        await using var fake = await FakeProvider.StartAsync(BrokenStream);
        await using var gateway = await TestGateway.StartAsync(TestConfigs.SingleProviderModel("up", "p", fake.BaseUrl));

        var response = await gateway.Client.PostAsync("/v1/messages",
            new StringContent("""{"model":"up","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json"));
        var text = await response.Content.ReadAsStringAsync();

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        var events = text.TrimEnd('\n').Split("\n\n");
        events.Select(e => e.Split('\n')[0]).Should().Equal("event: message_start", "event: ping", "event: content_block_start",
            "event: content_block_delta", "event: error");
        events[^1].Split('\n')[1].Should().Be(
            "data: {\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"The provider's stream sent an invalid event; the response is truncated.\"}}");
    }

    /// <summary>An upstream whose stream sends one good chunk, then an event that is not JSON: the gateway must cut the stream short.</summary>
    private static Func<Microsoft.AspNetCore.Http.HttpContext, ReceivedRequest, Task> BrokenStream => async (context, _) =>
    {
        context.Response.ContentType = "text/event-stream";
        await FakeResponses.WriteEvent(context, FakeResponses.Chunk("m", "Hel", null));
        await Microsoft.AspNetCore.Http.HttpResponseWritingExtensions.WriteAsync(context.Response, "data: {not json\n\n");
    };

    [Fact]
    public async Task Post_UpstreamAnswer_IsRecordedAsForChatCompletions()
    {
        await using var fake = await FakeProvider.StartAsync(FakeResponses.Default("recorded words"));
        await using var gateway = await TestGateway.StartAsync(TestConfigs.SingleProviderModel("up", "p", fake.BaseUrl));

        var response = await gateway.Client.PostAsync("/v1/messages", new StringContent(
            """{"model":"up","max_tokens":10,"messages":[{"role":"user","content":"hi"}],"tensorzero::tags":{"team":"a"}}""", Encoding.UTF8, "application/json"));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        ShouldBeRecorded(gateway, response.Headers.GetValues("x-tensorzero-inference-id").Single(), "recorded words");
    }


    private static void ShouldBeRecorded(TestGateway gateway, string inferenceId, string text)
    {
        var row = Observability.ObservabilityFixtures.QueuedRows(gateway, TensorZero.Proxy.Observability.RecordTable.ChatInference).Should().ContainSingle().Subject;
        row.GetProperty("id").GetString().Should().Be(inferenceId);
        row.GetProperty("model").GetString().Should().Be("up");
        row.GetProperty("model_name").GetString().Should().Be("up");
        row.GetProperty("model_provider_name").GetString().Should().Be("p");
        row.GetProperty("input_tokens").GetInt32().Should().Be(5);
        row.GetProperty("output_tokens").GetInt32().Should().Be(3);
        row.GetProperty("output").GetString().Should().Contain(text);
        row.GetProperty("tags.key").EnumerateArray().Select(k => k.GetString()).Should().Contain("team");
        Observability.ObservabilityFixtures.QueuedRows(gateway, TensorZero.Proxy.Observability.RecordTable.ModelInference).Should().ContainSingle()
            .Which.GetProperty("inference_id").GetString().Should().Be(inferenceId);
    }
}
