using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using TensorZero.Proxy.Functions;
using TensorZero.Proxy.Providers;

namespace TensorZero.Proxy.Tests.Providers;

// Expected bodies follow Gemini's generateContent API (ai.google.dev/api/generate-content) as TensorZero encodes it
// (crates/tensorzero-core/src/providers/google_ai_studio_gemini.rs, gcp_vertex_gemini/mod.rs).
public sealed class GeminiFormatTests
{
    private static readonly JsonElement Schema = Json(
        """{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","properties":{"answer":{"type":"string"}},"required":["answer"],"additionalProperties":false}""");

    private const string CleanSchema = """{"type":"object","properties":{"answer":{"type":"string"}},"required":["answer"]}""";

    private static readonly ResponseContext Context = new("google_ai_studio_gemini", "m", "p", new FakeTimeProvider(DateTimeOffset.Parse("2025-01-01T00:00:00Z")));

    private static JsonElement Json(string json) => JsonDocument.Parse(json).RootElement.Clone();

    private static ModelMessage User(params ContentBlock[] content) => new(Role.User, [.. content]);

    private static ModelMessage Assistant(params ContentBlock[] content) => new(Role.Assistant, [.. content]);

    private static ModelRequest Hi(string? system = null) => new() { System = system, Messages = [User(new TextBlock("Hi"))] };

    private static string Write(ModelRequest request)
    {
        GeminiFormat.Instance.TryWriteRequest(request, "gemini-2.0-flash", "google_ai_studio_gemini", false, out var body, out var error, "m", "p")
            .Should().BeTrue(error);
        return Encoding.UTF8.GetString(body);
    }

    private static string Error(ModelRequest request)
    {
        GeminiFormat.Instance.TryWriteRequest(request, "gemini-2.0-flash", "google_ai_studio_gemini", false, out var body, out var error, "m", "p")
            .Should().BeFalse();
        body.Should().BeEmpty();
        return error!;
    }

    [Fact]
    public void TryWriteRequest_SystemAndText_ContentsGenerationConfigAndSystemInstruction()
    {
        Write(Hi("Be brief.")).Should().Be(
            """{"contents":[{"role":"user","parts":[{"text":"Hi"}]}],"generationConfig":{},"systemInstruction":{"role":"model","parts":[{"text":"Be brief."}]}}""");
    }

    [Fact]
    public void TryWriteRequest_EveryParameter_GenerationConfigInTensorZerosOrder()
    {
        var request = Hi() with
        {
            Params = new SamplingParams
            {
                Temperature = 0.7, MaxTokens = 100, Seed = 42, TopP = 0.9, PresencePenalty = 0.1, FrequencyPenalty = -0.5,
                StopSequences = ["END"], ThinkingBudgetTokens = 512, ServiceTier = "flex",
            },
        };

        JsonDocument.Parse(Write(request)).RootElement.GetProperty("generationConfig").GetRawText().Should().Be(
            """{"stopSequences":["END"],"temperature":0.7,"thinkingConfig":{"thinkingBudget":512},"topP":0.9,"presencePenalty":0.1,"frequencyPenalty":-0.5,"maxOutputTokens":100,"seed":42}""");
    }

    [Theory]
    [InlineData("On")]
    [InlineData("Strict")]
    public void TryWriteRequest_JsonOnOrStrict_ResponseMimeTypeAndCleanedSchema(string mode)
    {
        var request = Hi() with { Kind = FunctionKind.Json, JsonMode = Enum.Parse<JsonMode>(mode), OutputSchema = Schema };

        JsonDocument.Parse(Write(request)).RootElement.GetProperty("generationConfig").GetRawText().Should().Be(
            """{"responseMimeType":"application/json","responseSchema":""" + CleanSchema + "}");
    }

    [Fact]
    public void TryWriteRequest_ToolRoundTrip_FunctionCallAndFunctionResponseParts()
    {
        var request = new ModelRequest
        {
            Messages =
            [
                User(new TextBlock("Weather?")),
                Assistant(new ToolCallBlock("0", "get_weather", """{"city":"Paris"}""")),
                User(new ToolResultBlock("0", "get_weather", "sunny")),
            ],
        };

        JsonDocument.Parse(Write(request)).RootElement.GetProperty("contents").GetRawText().Should().Be(
            """[{"role":"user","parts":[{"text":"Weather?"}]},{"role":"model","parts":[{"function_call":{"name":"get_weather","args":{"city":"Paris"}}}]},{"role":"user","parts":[{"function_response":{"name":"get_weather","response":{"name":"get_weather","content":"sunny"}}}]}]""");
    }

    [Theory]
    [InlineData("auto", """{"functionCallingConfig":{"mode":"auto"}}""")]
    [InlineData("required", """{"functionCallingConfig":{"mode":"any"}}""")]
    [InlineData("none", """{"functionCallingConfig":{"mode":"none"}}""")]
    [InlineData("specific", """{"functionCallingConfig":{"mode":"any","allowedFunctionNames":["get_weather"]}}""")]
    public void TryWriteRequest_Tools_FunctionDeclarationsAndToolConfig(string choice, string expectedConfig)
    {
        ToolChoice toolChoice = choice == "specific" ? new ToolChoiceSpecific("get_weather") : new ToolChoiceKind(choice);
        var request = Hi() with { Tools = new ToolConfig([new ToolDefinition("get_weather", "Weather of a city", Schema, Strict: true)], toolChoice, null) };

        var body = JsonDocument.Parse(Write(request)).RootElement;

        body.GetProperty("tools").GetRawText().Should().Be(
            """[{"functionDeclarations":[{"name":"get_weather","description":"Weather of a city","parameters":""" + CleanSchema + "}]}]");
        body.GetProperty("toolConfig").GetRawText().Should().Be(expectedConfig);
    }

    [Fact]
    public void TryWriteRequest_InlineImage_InlineDataPart()
    {
        var request = new ModelRequest { Messages = [User(new TextBlock("What is it?"), new FileBlock(new FileData { Base64Data = "iVBORw0KGgo=", MimeType = "image/png" }))] };

        JsonDocument.Parse(Write(request)).RootElement.GetProperty("contents")[0].GetProperty("parts").GetRawText().Should().Be(
            """[{"text":"What is it?"},{"inline_data":{"mime_type":"image/png","data":"iVBORw0KGgo="}}]""");
    }

    [Fact]
    public void TryWriteRequest_ImageUrl_FailsBecauseTheGatewayDoesNotFetch()
    {
        Error(new ModelRequest { Messages = [User(new FileBlock(new FileData { Url = "https://example.com/cat.png", MimeType = "image/png" }))] })
            .Should().Contain("inline data");
    }

    [Fact]
    public void TryWriteRequest_Thoughts_TextWithThoughtFlagAndSignatureOnTheNextPart()
    {
        var request = new ModelRequest
        {
            Messages =
            [
                User(new TextBlock("q")),
                Assistant(
                    new ThoughtBlock("pondering") { Signature = "s1", ProviderType = "google_ai_studio_gemini" },
                    new ThoughtBlock(null) { Signature = "s2", ProviderType = "google_ai_studio_gemini" },
                    new ToolCallBlock("0", "f", "{}"),
                    new ThoughtBlock("other provider's") { ProviderType = "anthropic" }),
            ],
        };

        JsonDocument.Parse(Write(request)).RootElement.GetProperty("contents")[1].GetProperty("parts").GetRawText().Should().Be(
            """[{"thought":true,"thoughtSignature":"s1","text":"pondering"},{"thoughtSignature":"s2","function_call":{"name":"f","args":{}}}]""");
    }

    [Fact]
    public void TryWriteRequest_SignatureWithNothingAfter_Fails()
    {
        Error(new ModelRequest { Messages = [User(new TextBlock("q")), Assistant(new ThoughtBlock(null) { Signature = "s" })] })
            .Should().Contain("must be followed by a content block");
    }

    [Fact]
    public void TryWriteRequest_NoMessages_Fails()
    {
        Error(new ModelRequest { System = "s" }).Should().Be("Google AI Studio Gemini requires at least one message");
    }

    [Fact]
    public void TryReadResponse_TextFunctionCallThought_BlocksUsageAndFinishReason()
    {
        const string body = """
            {"candidates":[{"content":{"role":"model","parts":[
               {"text":"thinking...","thought":true},
               {"text":"Let me check."},
               {"functionCall":{"name":"get_weather","args":{"city":"Paris"}},"thoughtSignature":"sig"}]},
             "finishReason":"STOP","index":0}],
             "usageMetadata":{"promptTokenCount":10,"candidatesTokenCount":5,"thoughtsTokenCount":7,"totalTokenCount":22},
             "modelVersion":"gemini-2.0-flash"}
            """;

        GeminiFormat.Instance.TryReadResponse(Encoding.UTF8.GetBytes(body), new ModelRequest(), Context, out var response, out var error).Should().BeTrue(error);

        response!.Output.Should().HaveCount(4);
        response.Output[0].Should().Be(new ThoughtBlock("thinking...") { ProviderType = "google_ai_studio_gemini" });
        response.Output[1].Should().Be(new TextBlock("Let me check."));
        response.Output[2].Should().Be(new ThoughtBlock(null) { Signature = "sig", ProviderType = "google_ai_studio_gemini" });
        var call = response.Output[3].Should().BeOfType<ToolCallBlock>().Subject;
        call.RawName.Should().Be("get_weather");
        call.RawArguments.Should().Be("""{"city":"Paris"}""");
        Guid.Parse(call.Id).Version.Should().Be(7, "Gemini gives no id: the gateway makes a UUIDv7 as TensorZero does");
        response.Usage.Should().Be(new Usage(10, 12));
        response.RawUsage!.Value.GetProperty("thoughtsTokenCount").GetInt64().Should().Be(7);
        response.FinishReason.Should().Be(FinishReason.Stop);
    }

    [Theory]
    [InlineData("STOP", "Stop")]
    [InlineData("MAX_TOKENS", "Length")]
    [InlineData("SAFETY", "ContentFilter")]
    [InlineData("PROHIBITED_CONTENT", "ContentFilter")]
    [InlineData("MALFORMED_FUNCTION_CALL", "ToolCall")]
    [InlineData("OTHER", "Unknown")]
    public void TryReadResponse_FinishReason_TensorZerosMapping(string reason, string expected)
    {
        var body = """{"candidates":[{"content":{"parts":[{"text":"x"}]},"finishReason":""" + $"\"{reason}\"" + """}],"usageMetadata":{"promptTokenCount":1}}""";

        GeminiFormat.Instance.TryReadResponse(Encoding.UTF8.GetBytes(body), new ModelRequest(), Context, out var response, out _).Should().BeTrue();

        response!.FinishReason.ToString().Should().Be(expected);
    }

    [Theory]
    [InlineData("""{"candidates":[]}""", "it has no candidates")]
    [InlineData("""{"error":{"code":400,"message":"API key not valid","status":"INVALID_ARGUMENT"}}""", "it is an error (API key not valid)")]
    [InlineData("""{"candidates":[{"content":{"parts":[{"text":"x"}]}}]}""", "it has no usage metadata")]
    [InlineData("oops", "not JSON")]
    public void TryReadResponse_NotAResponse_FailsWithTheReason(string body, string expected)
    {
        GeminiFormat.Instance.TryReadResponse(Encoding.UTF8.GetBytes(body), new ModelRequest(), Context, out var response, out var error).Should().BeFalse();

        response.Should().BeNull();
        error.Should().StartWith("the provider's 200 response is not a Gemini response").And.Contain(expected);
    }

    private static ProviderChunk Read(IProviderStreamReader reader, string data)
    {
        reader.TryReadEvent(Encoding.UTF8.GetBytes(data), out var chunk, out var error).Should().BeTrue(error);
        return chunk!;
    }

    [Fact]
    public void StreamReader_TextThenToolCalls_ChunkIdsAndUsageOnlyAtTheEnd()
    {
        var reader = GeminiFormat.Instance.CreateStreamReader(Hi(), Context);

        var first = Read(reader, """{"candidates":[{"content":{"role":"model","parts":[{"text":"Hel"}]}}],"usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":1}}""");
        var empty = Read(reader, """{"candidates":[{"content":{"role":"model","parts":[{"text":""}]}}]}""");
        var calls = Read(reader, """{"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"name":"a","args":{"x":1}}},{"functionCall":{"name":"b","args":{}}}]}}]}""");
        var last = Read(reader, """{"candidates":[{"content":{"role":"model","parts":[{"text":"lo"}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":3}}""");

        first.Content.Should().Equal(new TextChunk("0", "Hel"));
        first.Usage.Should().BeNull("Gemini repeats the running usage: only the final event's counts");
        empty.Content.Should().BeEmpty();
        calls.Content.Should().Equal(new ToolCallChunk("0", "a", """{"x":1}"""), new ToolCallChunk("1", "b", "{}"));
        last.Content.Should().Equal(new TextChunk("0", "lo"));
        last.Usage.Should().Be(new Usage(4, 3));
        last.RawUsage!.Value.GetRawText().Should().Be("""{"promptTokenCount":4,"candidatesTokenCount":3}""");
        first.RawUsage.Should().BeNull();
        last.FinishReason.Should().Be(FinishReason.Stop);
    }

    [Fact]
    public void StreamReader_ThoughtParts_FreshIdsPerThought()
    {
        var reader = GeminiFormat.Instance.CreateStreamReader(Hi(), Context);

        var chunk = Read(reader, """{"candidates":[{"content":{"parts":[{"text":"a","thought":true},{"text":"b","thought":true,"thoughtSignature":"s"}]}}]}""");

        chunk.Content.Should().Equal(
            new ThoughtChunk("1", "a") { ProviderType = "google_ai_studio_gemini" },
            new ThoughtChunk("2", "b") { Signature = "s", ProviderType = "google_ai_studio_gemini" });
    }

    [Theory]
    [InlineData("""{"candidates":[]}""", "no candidates")]
    [InlineData("""{"error":{"code":500,"message":"Internal"}}""", "it is an error (Internal)")]
    [InlineData("<html>", "not JSON")]
    public void StreamReader_InvalidEvent_Fails(string data, string expected)
    {
        var reader = GeminiFormat.Instance.CreateStreamReader(Hi(), Context);

        reader.TryReadEvent(Encoding.UTF8.GetBytes(data), out var chunk, out var error).Should().BeFalse();

        chunk.Should().BeNull();
        error.Should().Contain(expected);
    }
}
