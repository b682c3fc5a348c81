// The SDK marks its Responses client as an evaluation API (OPENAI001); these tests use it as clients do.
#pragma warning disable OPENAI001

using System.ClientModel;
using System.Net;
using System.Text;
using System.Text.Json;
using FluentAssertions;
using OpenAI;
using OpenAI.Responses;
using TensorZero.Proxy.Functions;
using TensorZero.Proxy.Tests.TestSupport;
using Xunit;

namespace TensorZero.Proxy.Tests.Functional;

/// <summary>
/// <c>POST /openai/v1/responses</c> driven by the official OpenAI .NET SDK (its <see cref="ResponsesClient"/>) against the
/// gateway, on the in-process dummy provider and on a fake OpenAI upstream.
/// </summary>
public sealed class ResponsesEndToEndTests
{
    private const string Toml = TestConfigs.DummyProtocolModels;

    private static ResponsesClient Client(TestGateway gateway) => new(new ApiKeyCredential(OpenAIClients.ClientApiKey),
        new ResponsesClientOptions { Endpoint = new Uri(gateway.BaseUrl + "/openai/v1"), NetworkTimeout = TimeSpan.FromSeconds(60) });

    [Fact]
    public async Task CreateResponse_ModelTarget_AnswersTheResponseObject()
    {
        await using var gateway = await TestGateway.StartAsync(Toml);

        var result = await Client(gateway).CreateResponseAsync("tensorzero::model_name::dummy", "Hello", previousResponseId: null);

        var response = result.Value;
        response.GetOutputText().Should().Be(TensorZero.Proxy.Providers.DummyModels.MeguminText);
        response.Status.Should().Be(ResponseStatus.Completed);
        response.Model.Should().Be("tensorzero::model_name::dummy");
        response.Usage.InputTokenCount.Should().Be(10);
        response.Usage.OutputTokenCount.Should().Be(1);
        response.Usage.TotalTokenCount.Should().Be(11);
        var inference = await gateway.Inferences.NextAsync();
        response.Id.Should().Be("resp_" + inference.InferenceIdText);
        inference.Typed!.Result!.Content.Should().ContainSingle().Which.Should().Be(new TextBlock(TensorZero.Proxy.Providers.DummyModels.MeguminText));
        result.GetRawResponse().Headers.TryGetValue("x-tensorzero-inference-id", out var header).Should().BeTrue();
        header.Should().Be(inference.InferenceIdText);
    }

    [Fact]
    public async Task CreateResponse_FunctionTargetWithInstructions_RunsTheVariantAndEchoesThem()
    {
        await using var gateway = await TestGateway.StartAsync(Toml);
        var options = new CreateResponseOptions("tensorzero::function_name::basic", [ResponseItem.CreateUserMessageItem("Hi")])
        {
            Instructions = "Be brief.",
            MaxOutputTokenCount = 50,
            Temperature = 0.5f,
        };

        var response = (await Client(gateway).CreateResponseAsync(options)).Value;

        response.Model.Should().Be("tensorzero::function_name::basic::variant_name::v1");
        response.GetOutputText().Should().Be(TensorZero.Proxy.Providers.DummyModels.MeguminText);
        response.MaxOutputTokenCount.Should().Be(50);
        response.Temperature.Should().Be(0.5f);
        var inference = await gateway.Inferences.NextAsync();
        inference.FunctionName.Should().Be("basic");
        inference.Typed!.ModelRequest.System.Should().Be("Be brief.");
        inference.Typed.ModelRequest.Params.MaxTokens.Should().Be(50);
    }

    [Fact]
    public async Task CreateResponseStreaming_Text_DeltasAddUpToTheCompletedResponse()
    {
        await using var gateway = await TestGateway.StartAsync(Toml);

        var deltas = new StringBuilder();
        var kinds = new List<string>();
        ResponseResult? completed = null;
        var sequence = new List<int>();
        await foreach (var update in await Client(gateway).CreateResponseStreamingAsync("dummy", "Hello", previousResponseId: null))
        {
            kinds.Add(update.GetType().Name);
            sequence.Add(update.SequenceNumber);
            switch (update)
            {
                case StreamingResponseOutputTextDeltaUpdate delta:
                    deltas.Append(delta.Delta);
                    break;
                case StreamingResponseCompletedUpdate done:
                    completed = done.Response;
                    break;
            }
        }

        deltas.ToString().Should().Be(TensorZero.Proxy.Providers.DummyModels.WallyText);
        completed.Should().NotBeNull();
        completed!.GetOutputText().Should().Be(TensorZero.Proxy.Providers.DummyModels.WallyText);
        completed.Status.Should().Be(ResponseStatus.Completed);
        sequence.Should().Equal(Enumerable.Range(0, sequence.Count));
        kinds.Take(4).Should().Equal("StreamingResponseCreatedUpdate", "StreamingResponseInProgressUpdate",
            "StreamingResponseOutputItemAddedUpdate", "StreamingResponseContentPartAddedUpdate");
        kinds.TakeLast(4).Should().Equal("StreamingResponseOutputTextDoneUpdate", "StreamingResponseContentPartDoneUpdate",
            "StreamingResponseOutputItemDoneUpdate", "StreamingResponseCompletedUpdate");
        var inference = await gateway.Inferences.NextAsync();
        inference.Typed!.Result!.Content.Should().ContainSingle().Which.Should().Be(new TextBlock(TensorZero.Proxy.Providers.DummyModels.WallyText));
    }

    [Fact]
    public async Task CreateResponse_ToolCall_ReturnsAFunctionCallItem_AndTheOutputGoesBackAsAToolResult()
    {
        await using var gateway = await TestGateway.StartAsync(Toml);
        var tool = ResponseTool.CreateFunctionTool("get_temperature",
            BinaryData.FromString("""{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}"""),
            strictModeEnabled: false, functionDescription: "Current temperature");
        var options = new CreateResponseOptions("tool", [ResponseItem.CreateUserMessageItem("Weather in Brooklyn?")]) { Tools = { tool } };

        var response = (await Client(gateway).CreateResponseAsync(options)).Value;

        var call = response.OutputItems.Should().ContainSingle().Which.Should().BeOfType<FunctionCallResponseItem>().Subject;
        call.FunctionName.Should().Be("get_temperature");
        call.FunctionArguments.ToString().Should().Be("""{"location":"Brooklyn","units":"celsius"}""");
        (await gateway.Inferences.NextAsync()).Typed!.ModelRequest.Tools!.Tools.Should().ContainSingle(t => t.Name == "get_temperature");

        // The caller runs the tool and sends the whole conversation back (the gateway keeps no state).
        var followUp = new CreateResponseOptions("echo",
        [
            ResponseItem.CreateUserMessageItem("Weather in Brooklyn?"),
            call,
            ResponseItem.CreateFunctionCallOutputItem(call.CallId, "21 degrees"),
        ]) { Tools = { tool } };
        var second = (await Client(gateway).CreateResponseAsync(followUp)).Value;

        using var echoed = JsonDocument.Parse(second.GetOutputText());
        var messages = echoed.RootElement.GetProperty("messages");
        messages.GetArrayLength().Should().Be(3);
        messages[1].GetProperty("role").GetString().Should().Be("assistant");
        messages[1].GetProperty("content")[0].GetProperty("type").GetString().Should().Be("tool_call");
        messages[2].GetProperty("role").GetString().Should().Be("user");
        var result = messages[2].GetProperty("content")[0];
        result.GetProperty("type").GetString().Should().Be("tool_result");
        result.GetProperty("result").GetString().Should().Be("21 degrees");
        result.GetProperty("name").GetString().Should().Be("get_temperature");
    }

    [Fact]
    public async Task CreateResponseStreaming_ToolCall_StreamsArgumentsAndCompletesWithTheCall()
    {
        await using var gateway = await TestGateway.StartAsync(Toml);
        var tool = ResponseTool.CreateFunctionTool("get_temperature", BinaryData.FromString("""{"type":"object"}"""), strictModeEnabled: false);
        var options = new CreateResponseOptions("tool", [ResponseItem.CreateUserMessageItem("Weather?")]) { Tools = { tool }, StreamingEnabled = true };

        var arguments = new StringBuilder();
        string? doneArguments = null;
        ResponseResult? completed = null;
        await foreach (var update in await Client(gateway).CreateResponseStreamingAsync(options))
        {
            switch (update)
            {
                case StreamingResponseFunctionCallArgumentsDeltaUpdate delta:
                    arguments.Append(delta.Delta.ToString());
                    break;
                case StreamingResponseFunctionCallArgumentsDoneUpdate done:
                    doneArguments = done.FunctionArguments.ToString();
                    break;
                case StreamingResponseCompletedUpdate finished:
                    completed = finished.Response;
                    break;
            }
        }

        arguments.ToString().Should().Be("""{"location":"Brooklyn","units":"celsius"}""");
        doneArguments.Should().Be(arguments.ToString());
        var call = completed!.OutputItems.Should().ContainSingle().Which.Should().BeOfType<FunctionCallResponseItem>().Subject;
        call.FunctionName.Should().Be("get_temperature");
        call.FunctionArguments.ToString().Should().Be(arguments.ToString());
    }

    [Fact]
    public async Task CreateResponse_OpenAIUpstream_SendsAChatCompletionAndAnswersItsText()
    {
        await using var fake = await FakeProvider.StartAsync(FakeResponses.Default("from upstream"));
        await using var gateway = await TestGateway.StartAsync(TestConfigs.SingleProviderModel("up", "p", fake.BaseUrl));
        var options = new CreateResponseOptions("up", [ResponseItem.CreateUserMessageItem("Hi")]) { Instructions = "System words." };

        var response = (await Client(gateway).CreateResponseAsync(options)).Value;

        response.GetOutputText().Should().Be("from upstream");
        var sent = fake.Received.Should().ContainSingle().Subject.Json;
        sent.GetProperty("messages")[0].GetProperty("role").GetString().Should().Be("system");
        sent.GetProperty("messages")[0].GetProperty("content").GetString().Should().Be("System words.");
        sent.GetProperty("messages")[1].GetProperty("role").GetString().Should().Be("user");
    }

    [Fact]
    public async Task CreateResponseStreaming_OpenAIUpstream_TranslatesItsChunks()
    {
        await using var fake = await FakeProvider.StartAsync(FakeResponses.Default("one two three"));
        await using var gateway = await TestGateway.StartAsync(TestConfigs.SingleProviderModel("up", "p", fake.BaseUrl));

        var deltas = new List<string>();
        ResponseResult? completed = null;
        await foreach (var update in await Client(gateway).CreateResponseStreamingAsync("up", "Hi", previousResponseId: null))
        {
            if (update is StreamingResponseOutputTextDeltaUpdate delta)
            {
                deltas.Add(delta.Delta);
            }
            else if (update is StreamingResponseCompletedUpdate done)
            {
                completed = done.Response;
            }
        }

        deltas.Should().Equal("one", " two", " three");
        completed!.GetOutputText().Should().Be("one two three");
        fake.Received.Should().ContainSingle().Which.Json.GetProperty("stream").GetBoolean().Should().BeTrue();
    }

    [Theory]
    [InlineData("""{"model":"dummy","input":"x","previous_response_id":"resp_1"}""", "previous_response_id")]
    [InlineData("""{"model":"dummy","input":[{"type":"reasoning","summary":[]}]}""", "input item type 'reasoning' is not supported")]
    [InlineData("""{"model":"dummy","input":"x","tools":[{"type":"web_search"}]}""", "tool type 'web_search' is not supported")]
    [InlineData("""{"model":"dummy","input":"x","frobnicate":1}""", "'frobnicate'")]
    [InlineData("""{"model":"dummy"}""", "missing field `input`")]
    public async Task Post_UnsupportedRequest_IsAnOpenAIShaped400(string body, string messagePart)
    {
        await using var gateway = await TestGateway.StartAsync(Toml);

        var response = await gateway.Client.PostAsync("/openai/v1/responses", new StringContent(body, Encoding.UTF8, "application/json"));

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        json.RootElement.GetProperty("error").GetProperty("type").GetString().Should().Be("invalid_request_error");
        json.RootElement.GetProperty("error").GetProperty("message").GetString().Should().Contain(messagePart);
    }

    [Fact]
    public async Task CreateResponse_AllProvidersFail_SdkSeesTheGatewayError()
    {
        await using var gateway = await TestGateway.StartAsync(Toml);

        var act = () => Client(gateway).CreateResponseAsync("broken", "Hello", previousResponseId: null);

        var error = (await act.Should().ThrowAsync<ClientResultException>()).Which;
        error.Status.Should().Be(500);
        error.Message.Should().Contain("All providers of model 'broken' failed");
    }

    [Fact]
    public async Task Post_StreamCutShortAfterTheCommit_EndsWithResponseFailed()
    {
        await using var fake = await FakeProvider.StartAsync(BrokenStream);
        await using var gateway = await TestGateway.StartAsync(TestConfigs.SingleProviderModel("up", "p", fake.BaseUrl));

        var response = await gateway.Client.PostAsync("/openai/v1/responses",
            new StringContent("""{"model":"up","input":"hi","stream":true}""", Encoding.UTF8, "application/json"));
        var text = await response.Content.ReadAsStringAsync();

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        var events = text.TrimEnd('\n').Split("\n\n");
        events.Select(e => e.Split('\n')[0]).Should().Equal("event: response.created", "event: response.in_progress",
            "event: response.output_item.added", "event: response.content_part.added", "event: response.output_text.delta",
            "event: response.output_text.done", "event: response.content_part.done", "event: response.output_item.done", "event: response.failed");
        using var failed = JsonDocument.Parse(events[^1].Split('\n')[1]["data: ".Length..]);
        failed.RootElement.GetProperty("response").GetProperty("status").GetString().Should().Be("failed");
        failed.RootElement.GetProperty("response").GetProperty("error").GetProperty("message").GetString()
            .Should().Be("The provider's stream sent an invalid event; the response is truncated.");
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

        var response = await gateway.Client.PostAsync("/openai/v1/responses",
            new StringContent("""{"model":"up","input":"hi","tensorzero::tags":{"team":"a"}}""", Encoding.UTF8, "application/json"));

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
