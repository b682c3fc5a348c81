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
}
