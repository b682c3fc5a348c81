using System.ClientModel;
using System.Text;
using System.Text.Json;
using OpenAI.Chat;
using TensorZero.Proxy.Tests.TestSupport;

namespace TensorZero.Proxy.Tests.Functional;

#pragma warning disable SCME0001 // JsonPatch (additional request properties) is experimental in the OpenAI SDK.

/// <summary>
/// TensorZero's function semantics (issue 17) through the official OpenAI SDK: templates and schemas, JSON
/// functions, tools. Schema and template files live in a <see cref="TempDirectory"/>, named by absolute path.
/// </summary>
public sealed class TensorZeroSemanticsEndToEndTests : IDisposable
{
    private readonly TempDirectory _files = new();

    public void Dispose() => _files.Dispose();

    private static ChatCompletionOptions Options(params (string Field, string Json)[] fields)
    {
        var options = new ChatCompletionOptions();
        foreach (var (field, json) in fields)
        {
            options.Patch.Set(Encoding.UTF8.GetBytes($"$['{field}']"), BinaryData.FromString(json));
        }
        return options;
    }

    /// <summary>A message whose <c>content</c> is replaced by TensorZero's custom blocks (the SDK has no type for them).</summary>
    private static T WithContent<T>(T message, string contentJson)
        where T : ChatMessage
    {
        message.Patch.Set("$.content"u8, BinaryData.FromString(contentJson));
        return message;
    }

    /// <summary>A model on TensorZero's dummy provider, answering with <paramref name="modelName"/>'s behaviour.</summary>
    internal static string DummyModel(string model, string modelName) => $"""

        [models.{model}]
        routing = ["dummy"]

        [models.{model}.providers.dummy]
        type = "dummy"
        model_name = "{modelName}"

        """;

    private string TemplatedFunctionToml(string model) => DummyModel("echo", "echo_request_messages") + $$"""

        [functions.greet]
        type = "chat"
        system_schema = "{{_files.Write("system_schema.json", """
            {"type":"object","properties":{"assistant_name":{"type":"string"}},"required":["assistant_name"],"additionalProperties":false}
            """)}}"
        user_schema = "{{_files.Write("user_schema.json", """
            {"type":"object","properties":{"city":{"type":"string"},"items":{"type":"array","items":{"type":"string"}}},"required":["city","items"]}
            """)}}"

        [functions.greet.variants.v]
        type = "chat_completion"
        model = "{{model}}"
        system_template = "{{_files.Write("system.minijinja", "You are {{ assistant_name }}.")}}"
        user_template = "{{_files.Write("user.minijinja", "Weather in {{ city | upper }}:{% for i in items %} [{{ i }}]{% endfor %}")}}"
        """;

    private static readonly string SystemArgs = """[{"type":"text","tensorzero::arguments":{"assistant_name":"Alfred"}}]""";
    private static readonly string UserArgs = """[{"type":"tensorzero::template","name":"user","arguments":{"city":"Paris","items":["rain","wind"]}}]""";

    [Fact]
    public async Task Templates_RenderSystemAndUserArguments_WithSchemas()
    {
        await using var gateway = await TestGateway.StartAsync(TemplatedFunctionToml("echo"));
        var client = OpenAIClients.Chat(gateway, "tensorzero::function_name::greet");

        ChatCompletion completion = await client.CompleteChatAsync(
            [WithContent(new SystemChatMessage("placeholder"), SystemArgs), WithContent(new UserChatMessage("placeholder"), UserArgs)]);

        using var echo = JsonDocument.Parse(completion.Content[0].Text);
        echo.RootElement.GetProperty("system").GetString().Should().Be("You are Alfred.");
        var messages = echo.RootElement.GetProperty("messages");
        messages.GetArrayLength().Should().Be(1);
        messages[0].GetProperty("role").GetString().Should().Be("user");
        messages[0].GetProperty("content")[0].GetProperty("text").GetString().Should().Be("Weather in PARIS: [rain] [wind]");
    }

    [Theory]
    [InlineData("""[{"type":"text","tensorzero::arguments":{"assistant_name":7}}]""", UserArgsConst)]
    [InlineData("""[{"type":"text","tensorzero::arguments":{"assistant_name":"Alfred"}}]""", """[{"type":"tensorzero::template","name":"user","arguments":{"city":"Paris"}}]""")]
    public async Task Templates_ArgumentsFailingTheSchema_Are400(string system, string user)
    {
        await using var gateway = await TestGateway.StartAsync(TemplatedFunctionToml("echo"));
        var client = OpenAIClients.Chat(gateway, "tensorzero::function_name::greet");

        var act = () => client.CompleteChatAsync([WithContent(new SystemChatMessage("x"), system), WithContent(new UserChatMessage("x"), user)]);

        var error = (await act.Should().ThrowAsync<ClientResultException>()).Which;
        error.Status.Should().Be(400);
        error.Message.Should().Contain("JSON Schema validation failed");
    }

    private const string UserArgsConst = """[{"type":"tensorzero::template","name":"user","arguments":{"city":"Paris","items":["rain","wind"]}}]""";

    [Fact]
    public async Task Templates_RenderedTextGoesUpstream_NeverTheRawArguments()
    {
        await using var fake = await FakeProvider.StartAsync();
        await using var gateway = await TestGateway.StartAsync(
            TestConfigs.SingleProviderModel("up", "p", fake.BaseUrl) + "\n" + TemplatedFunctionToml("up"));
        var client = OpenAIClients.Chat(gateway, "tensorzero::function_name::greet");

        ChatCompletion completion = await client.CompleteChatAsync(
            [WithContent(new SystemChatMessage("x"), SystemArgs), WithContent(new UserChatMessage("x"), UserArgs)]);

        completion.Content[0].Text.Should().Be("fake reply");
        var received = fake.Received.Should().ContainSingle().Subject;
        Encoding.UTF8.GetString(received.Body).Should().NotContain("tensorzero::arguments").And.NotContain("tensorzero::template").And.NotContain("Alfred\"");
        var messages = received.Json.GetProperty("messages");
        messages.GetArrayLength().Should().Be(2);
        messages[0].GetProperty("role").GetString().Should().Be("system");
        messages[0].GetProperty("content").GetString().Should().Be("You are Alfred.");
        messages[1].GetProperty("role").GetString().Should().Be("user");
        var userContent = messages[1].GetProperty("content");
        var userText = userContent.ValueKind == JsonValueKind.String ? userContent.GetString() : userContent[0].GetProperty("text").GetString();
        userText.Should().Be("Weather in PARIS: [rain] [wind]");
    }
}
