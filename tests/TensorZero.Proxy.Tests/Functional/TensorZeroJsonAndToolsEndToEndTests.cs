using System.Text.Json;
using Microsoft.AspNetCore.Http;
using OpenAI.Chat;
using TensorZero.Proxy.Tests.TestSupport;

namespace TensorZero.Proxy.Tests.Functional;

/// <summary>JSON functions and tools (issue 17) against a real OpenAI-compatible upstream that records what it got.</summary>
public sealed class TensorZeroJsonAndToolsEndToEndTests : IDisposable
{
    private const string OutputSchema = """{"type":"object","properties":{"answer":{"type":"string"}},"required":["answer"],"additionalProperties":false}""";
    private const string ToolParameters = """{"type":"object","properties":{"location":{"type":"string"},"units":{"type":"string","enum":["celsius","fahrenheit"]}},"required":["location"],"additionalProperties":false}""";

    private readonly TempDirectory _files = new();

    public void Dispose() => _files.Dispose();

    /// <summary>A chat completion whose message is one tool call (what OpenAI answers when it calls a tool).</summary>
    private static Func<HttpContext, ReceivedRequest, Task> ToolCallAnswer(string name, string arguments) => (context, request) =>
    {
        var json = JsonSerializer.Serialize(new
        {
            id = "chatcmpl-fake",
            @object = "chat.completion",
            created = 1700000000,
            model = request.Json.GetProperty("model").GetString(),
            choices = new[]
            {
                new
                {
                    index = 0,
                    message = new { role = "assistant", content = (string?)null, tool_calls = new[] { new { id = "call_1", type = "function", function = new { name, arguments } } } },
                    finish_reason = "tool_calls",
                },
            },
            usage = new { prompt_tokens = 5, completion_tokens = 3, total_tokens = 8 },
        });
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(json);
    };

    private string JsonFunctionToml(FakeProvider fake, string jsonMode) => TestConfigs.SingleProviderModel("up", "p", fake.BaseUrl) + $$"""


        [functions.extract]
        type = "json"
        output_schema = "{{_files.Write("output_schema.json", OutputSchema)}}"

        [functions.extract.variants.v]
        type = "chat_completion"
        model = "up"
        json_mode = "{{jsonMode}}"
        """;

    [Fact]
    public async Task JsonModeStrict_SendsTheOutputSchemaAsStrictJsonSchema()
    {
        await using var fake = await FakeProvider.StartAsync(FakeResponses.Default("""{"answer":"42"}"""));
        await using var gateway = await TestGateway.StartAsync(JsonFunctionToml(fake, "strict"));

        ChatCompletion completion = await OpenAIClients.Chat(gateway, "tensorzero::function_name::extract").CompleteChatAsync([new UserChatMessage("the answer?")]);

        completion.Content[0].Text.Should().Be("""{"answer":"42"}""");
        var format = fake.Received.Should().ContainSingle().Subject.Json.GetProperty("response_format");
        format.GetProperty("type").GetString().Should().Be("json_schema");
        format.GetProperty("json_schema").GetProperty("strict").GetBoolean().Should().BeTrue();
        JsonElement.DeepEquals(format.GetProperty("json_schema").GetProperty("schema"), JsonDocument.Parse(OutputSchema).RootElement).Should().BeTrue(
            format.GetProperty("json_schema").GetProperty("schema").GetRawText());
    }

    [Fact]
    public async Task JsonModeOn_SendsJsonObject()
    {
        await using var fake = await FakeProvider.StartAsync(FakeResponses.Default("""{"answer":"42"}"""));
        await using var gateway = await TestGateway.StartAsync(JsonFunctionToml(fake, "on"));

        ChatCompletion completion = await OpenAIClients.Chat(gateway, "tensorzero::function_name::extract").CompleteChatAsync([new UserChatMessage("the answer in json?")]);

        completion.Content[0].Text.Should().Be("""{"answer":"42"}""");
        fake.Received.Should().ContainSingle().Subject.Json.GetProperty("response_format").GetRawText().Should().Be("""{"type":"json_object"}""");
    }

    [Fact]
    public async Task JsonModeTool_ForcesTheRespondTool_AndAnswersWithItsArguments()
    {
        await using var fake = await FakeProvider.StartAsync(ToolCallAnswer("respond", """{"answer":"42"}"""));
        await using var gateway = await TestGateway.StartAsync(JsonFunctionToml(fake, "tool"));

        ChatCompletion completion = await OpenAIClients.Chat(gateway, "tensorzero::function_name::extract").CompleteChatAsync([new UserChatMessage("the answer?")]);

        completion.Content[0].Text.Should().Be("""{"answer":"42"}""");
        completion.ToolCalls.Should().BeEmpty("the implicit tool's call is the JSON answer, not a tool call");
        var body = fake.Received.Should().ContainSingle().Subject.Json;
        var tool = body.GetProperty("tools").EnumerateArray().Should().ContainSingle().Subject;
        tool.GetProperty("function").GetProperty("name").GetString().Should().Be("respond");
        JsonElement.DeepEquals(tool.GetProperty("function").GetProperty("parameters"), JsonDocument.Parse(OutputSchema).RootElement).Should().BeTrue();
        body.GetProperty("tool_choice").GetProperty("function").GetProperty("name").GetString().Should().Be("respond");
        body.TryGetProperty("response_format", out _).Should().BeFalse();
    }

    [Fact]
    public async Task ModelTarget_SdkJsonSchemaResponseFormat_ReachesTheUpstream()
    {
        await using var fake = await FakeProvider.StartAsync(FakeResponses.Default("""{"answer":"42"}"""));
        await using var gateway = await TestGateway.StartAsync(TestConfigs.SingleProviderModel("up", "p", fake.BaseUrl));
        var options = new ChatCompletionOptions
        {
            ResponseFormat = ChatResponseFormat.CreateJsonSchemaFormat("answer", BinaryData.FromString(OutputSchema), jsonSchemaIsStrict: true),
        };

        ChatCompletion completion = await OpenAIClients.Chat(gateway, "tensorzero::model_name::up").CompleteChatAsync([new UserChatMessage("the answer?")], options);

        completion.Content[0].Text.Should().Be("""{"answer":"42"}""");
        var format = fake.Received.Should().ContainSingle().Subject.Json.GetProperty("response_format");
        format.GetProperty("type").GetString().Should().Be("json_schema");
        format.GetProperty("json_schema").GetProperty("name").GetString().Should().Be("answer");
        format.GetProperty("json_schema").GetProperty("strict").GetBoolean().Should().BeTrue();
        JsonElement.DeepEquals(format.GetProperty("json_schema").GetProperty("schema"), JsonDocument.Parse(OutputSchema).RootElement).Should().BeTrue();
    }

    private string ToolFunctionToml(string model) => $$"""

        [tools.get_temperature]
        description = "Get the current temperature in a given location"
        parameters = "{{_files.Write("get_temperature.json", ToolParameters)}}"
        strict = true

        [functions.weather]
        type = "chat"
        tools = ["get_temperature"]
        tool_choice = "required"
        parallel_tool_calls = false

        [functions.weather.variants.v]
        type = "chat_completion"
        model = "{{model}}"
        """;

    [Fact]
    public async Task FunctionTools_ReachTheUpstream_AndItsToolCallReachesTheSdk()
    {
        await using var fake = await FakeProvider.StartAsync(ToolCallAnswer("get_temperature", """{"location":"Tokyo","units":"celsius"}"""));
        await using var gateway = await TestGateway.StartAsync(TestConfigs.SingleProviderModel("up", "p", fake.BaseUrl) + ToolFunctionToml("up"));

        ChatCompletion completion = await OpenAIClients.Chat(gateway, "tensorzero::function_name::weather").CompleteChatAsync([new UserChatMessage("Weather in Tokyo?")]);

        var call = completion.ToolCalls.Should().ContainSingle().Subject;
        call.FunctionName.Should().Be("get_temperature");
        call.FunctionArguments.ToString().Should().Be("""{"location":"Tokyo","units":"celsius"}""");
        completion.FinishReason.Should().Be(ChatFinishReason.ToolCalls);
        var body = fake.Received.Should().ContainSingle().Subject.Json;
        var tool = body.GetProperty("tools").EnumerateArray().Should().ContainSingle().Subject;
        tool.GetProperty("type").GetString().Should().Be("function");
        tool.GetProperty("function").GetProperty("name").GetString().Should().Be("get_temperature");
        tool.GetProperty("function").GetProperty("description").GetString().Should().Be("Get the current temperature in a given location");
        tool.GetProperty("strict").GetBoolean().Should().BeTrue("TensorZero's OpenAI provider puts strict beside the function (OpenAITool::Function)");
        JsonElement.DeepEquals(tool.GetProperty("function").GetProperty("parameters"), JsonDocument.Parse(ToolParameters).RootElement).Should().BeTrue();
        body.GetProperty("tool_choice").GetString().Should().Be("required");
        body.GetProperty("parallel_tool_calls").GetBoolean().Should().BeFalse();
    }

    [Fact]
    public async Task DummyToolModel_AnswersWithAGetTemperatureToolCall()
    {
        await using var gateway = await TestGateway.StartAsync(TensorZeroSemanticsEndToEndTests.DummyModel("tooly", "tool") + ToolFunctionToml("tooly"));

        ChatCompletion completion = await OpenAIClients.Chat(gateway, "tensorzero::function_name::weather").CompleteChatAsync([new UserChatMessage("Weather?")]);

        var call = completion.ToolCalls.Should().ContainSingle().Subject;
        call.FunctionName.Should().Be("get_temperature");
        using var arguments = JsonDocument.Parse(call.FunctionArguments);
        arguments.RootElement.GetProperty("location").GetString().Should().Be("Brooklyn");
        arguments.RootElement.GetProperty("units").GetString().Should().Be("celsius");
    }
}
