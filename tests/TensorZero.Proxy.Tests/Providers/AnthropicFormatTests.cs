using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using TensorZero.Proxy.Functions;
using TensorZero.Proxy.Providers;

namespace TensorZero.Proxy.Tests.Providers;

// Expected bodies follow Anthropic's Messages API (docs.anthropic.com/en/api/messages) as TensorZero encodes it
// (crates/tensorzero-core/src/providers/anthropic.rs): field order is TensorZero's struct order.
public sealed class AnthropicFormatTests
{
    private static readonly JsonElement Schema = Json("""{"type":"object","properties":{"answer":{"type":"string"}},"required":["answer"]}""");
    private static readonly ResponseContext Context = new("anthropic", "m", "p", new FakeTimeProvider());

    private static JsonElement Json(string json) => JsonDocument.Parse(json).RootElement.Clone();

    private static ModelMessage User(params ContentBlock[] content) => new(Role.User, [.. content]);

    private static ModelMessage Assistant(params ContentBlock[] content) => new(Role.Assistant, [.. content]);

    private static ModelRequest Hi(string? system = null) => new() { System = system, Messages = [User(new TextBlock("Hi"))] };

    private static string Write(ModelRequest request, string model = "claude-3-5-haiku-20241022", bool stream = false)
    {
        AnthropicFormat.Instance.TryWriteRequest(request, model, "anthropic", stream, out var body, out var error, "m", "p").Should().BeTrue(error);
        return Encoding.UTF8.GetString(body);
    }

    private static string Error(ModelRequest request, string model = "claude-3-5-haiku-20241022")
    {
        AnthropicFormat.Instance.TryWriteRequest(request, model, "anthropic", false, out var body, out var error, "m", "p").Should().BeFalse();
        body.Should().BeEmpty();
        return error!;
    }

    [Fact]
    public void TryWriteRequest_SystemAndText_IsTheMinimalBody()
    {
        Write(Hi("Be brief.")).Should().Be(
            """{"model":"claude-3-5-haiku-20241022","messages":[{"role":"user","content":[{"type":"text","text":"Hi"}]}],"max_tokens":8192,"stream":false,"system":[{"type":"text","text":"Be brief."}]}""");
    }

    [Fact]
    public void TryWriteRequest_Parameters_AnthropicsSubsetInTensorZerosOrder()
    {
        var request = Hi() with
        {
            Params = new SamplingParams
            {
                Temperature = 0.7, MaxTokens = 100, Seed = 42, TopP = 0.9, PresencePenalty = 0.1, FrequencyPenalty = -0.5,
                StopSequences = ["END"], ServiceTier = "default", Verbosity = "high", ThinkingBudgetTokens = 1024,
            },
        };

        // No seed, penalties or verbosity: Anthropic has none (TensorZero warns and drops them).
        Write(request, stream: true).Should().Be(
            """{"model":"claude-3-5-haiku-20241022","messages":[{"role":"user","content":[{"type":"text","text":"Hi"}]}],"max_tokens":100,"stream":true,"temperature":0.7,"thinking":{"type":"enabled","budget_tokens":1024},"top_p":0.9,"service_tier":"standard_only","stop_sequences":["END"]}""");
    }

    [Theory]
    [InlineData("claude-3-haiku-20240307", 4096)]
    [InlineData("claude-3-5-sonnet-20241022", 8192)]
    [InlineData("claude-3-7-sonnet-latest", 64000)]
    [InlineData("claude-sonnet-4-5", 64000)]
    [InlineData("claude-haiku-4-5", 64000)]
    [InlineData("claude-opus-4-1", 32000)]
    [InlineData("claude-opus-4-20250514", 32000)]
    [InlineData("claude-opus-4-6", 128000)]
    public void TryWriteRequest_NoMaxTokens_TensorZerosDefaultForTheModel(string model, long expected)
    {
        JsonDocument.Parse(Write(Hi(), model)).RootElement.GetProperty("max_tokens").GetInt64().Should().Be(expected);
    }

    [Fact]
    public void TryWriteRequest_UnknownModelWithoutMaxTokens_Fails()
    {
        Error(Hi(), "claude-future").Should().Contain("doesn't know the output token limit for `claude-future`").And.Contain("max_tokens");
    }

    [Fact]
    public void TryWriteRequest_ReasoningEffort_AdaptiveThinkingAndEffort()
    {
        var body = Write(Hi() with { Params = new SamplingParams { ReasoningEffort = "high" } });

        body.Should().Be(
            """{"model":"claude-3-5-haiku-20241022","messages":[{"role":"user","content":[{"type":"text","text":"Hi"}]}],"max_tokens":8192,"stream":false,"output_config":{"effort":"high"},"thinking":{"type":"adaptive"}}""");
    }

    [Fact]
    public void TryWriteRequest_EffortAndBudget_Fails()
    {
        Error(Hi() with { Params = new SamplingParams { ReasoningEffort = "high", ThinkingBudgetTokens = 100 } })
            .Should().StartWith("Cannot specify both `reasoning_effort` and `thinking_budget_tokens`");
    }

    [Fact]
    public void TryWriteRequest_NoMessages_Fails()
    {
        Error(new ModelRequest { System = "s" }).Should().Be("Anthropic requires at least one message");
    }

    [Fact]
    public void TryWriteRequest_ToolRoundTrip_ToolUseAndToolResultBlocks()
    {
        var request = new ModelRequest
        {
            Messages =
            [
                User(new TextBlock("Weather?")),
                Assistant(new TextBlock("Checking."), new ToolCallBlock("toolu_1", "get_weather", """{"city":"Paris"}""")),
                User(new ToolResultBlock("toolu_1", "get_weather", "sunny")),
            ],
        };

        var messages = JsonDocument.Parse(Write(request)).RootElement.GetProperty("messages").GetRawText();

        messages.Should().Be(
            """[{"role":"user","content":[{"type":"text","text":"Weather?"}]},{"role":"assistant","content":[{"type":"text","text":"Checking."},{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris"}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":[{"type":"text","text":"sunny"}]}]}]""");
    }

    [Theory]
    [InlineData("not json", "Error parsing tool call arguments as JSON Value")]
    [InlineData("[1]", "Tool call arguments must be a JSON object")]
    public void TryWriteRequest_ToolCallArgumentsNotAnObject_Fails(string arguments, string expected)
    {
        var request = new ModelRequest { Messages = [User(new TextBlock("x")), Assistant(new ToolCallBlock("t", "f", arguments))] };

        Error(request).Should().StartWith(expected);
    }

    [Theory]
    [InlineData("auto", null, """{"type":"auto","disable_parallel_tool_use":false}""")]
    [InlineData("required", false, """{"type":"any","disable_parallel_tool_use":true}""")]
    [InlineData("specific", true, """{"type":"tool","name":"get_weather","disable_parallel_tool_use":false}""")]
    public void TryWriteRequest_Tools_ToolChoiceAndInputSchema(string choice, bool? parallel, string expectedChoice)
    {
        ToolChoice toolChoice = choice == "specific" ? new ToolChoiceSpecific("get_weather") : new ToolChoiceKind(choice);
        var request = Hi() with
        {
            Tools = new ToolConfig([new ToolDefinition("get_weather", "Weather of a city", Schema, Strict: true)], toolChoice, parallel),
        };

        var body = JsonDocument.Parse(Write(request)).RootElement;

        body.GetProperty("tool_choice").GetRawText().Should().Be(expectedChoice);
        body.GetProperty("tools").GetRawText().Should().Be(
            """[{"name":"get_weather","description":"Weather of a city","input_schema":""" + Schema.GetRawText() + ""","strict":true}]""");
    }

    [Fact]
    public void TryWriteRequest_ToolChoiceNone_LeavesToolsOut()
    {
        var request = Hi() with { Tools = new ToolConfig([new ToolDefinition("f", "d", Schema, false)], ToolChoice.None, null) };

        var body = JsonDocument.Parse(Write(request)).RootElement;

        body.TryGetProperty("tools", out _).Should().BeFalse();
        body.TryGetProperty("tool_choice", out _).Should().BeFalse();
    }

    [Fact]
    public void TryWriteRequest_ProviderTools_AfterFunctionToolsOrAloneWithoutToolChoice()
    {
        var format = new AnthropicFormat(Json("""[{"type":"web_search_20250305","name":"web_search","max_uses":5}]"""));
        var withTools = Hi() with { Tools = new ToolConfig([new ToolDefinition("f", "d", Schema, false)], ToolChoice.Auto, null) };

        format.TryWriteRequest(withTools, "claude-3-5-haiku-20241022", "anthropic", false, out var both, out _, null, null).Should().BeTrue();
        format.TryWriteRequest(Hi(), "claude-3-5-haiku-20241022", "anthropic", false, out var alone, out _, null, null).Should().BeTrue();
        format.TryWriteRequest(withTools with { Tools = withTools.Tools! with { Choice = ToolChoice.None } }, "claude-3-5-haiku-20241022", "anthropic", false,
            out var none, out _, null, null).Should().BeTrue();

        var bothJson = JsonDocument.Parse(both).RootElement;
        bothJson.GetProperty("tools").EnumerateArray().Select(t => t.GetProperty("name").GetString()).Should().Equal("f", "web_search");
        bothJson.GetProperty("tools")[1].GetRawText().Should().Be("""{"type":"web_search_20250305","name":"web_search","max_uses":5}""");
        bothJson.GetProperty("tool_choice").GetProperty("type").GetString().Should().Be("auto");
        var aloneJson = JsonDocument.Parse(alone).RootElement;
        aloneJson.GetProperty("tools").GetRawText().Should().Be("""[{"type":"web_search_20250305","name":"web_search","max_uses":5}]""");
        aloneJson.TryGetProperty("tool_choice", out _).Should().BeFalse();
        JsonDocument.Parse(none).RootElement.TryGetProperty("tools", out _).Should().BeFalse("tool_choice none sends no tools at all, as TensorZero does");
    }

    [Fact]
    public void TryWriteRequest_Images_Base64AndUrlSources_DocumentsForOtherTypes()
    {
        var request = new ModelRequest
        {
            Messages =
            [
                User(
                    new FileBlock(new FileData { Base64Data = "iVBORw0KGgo=", MimeType = "image/png" }),
                    new FileBlock(new FileData { Url = "https://example.com/cat.jpg" }),
                    new FileBlock(new FileData { Base64Data = "JVBERi0=", MimeType = "application/pdf" })),
            ],
        };

        JsonDocument.Parse(Write(request)).RootElement.GetProperty("messages")[0].GetProperty("content").GetRawText().Should().Be(
            """[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}},{"type":"image","source":{"type":"url","url":"https://example.com/cat.jpg"}},{"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBERi0="}}]""");
    }

    [Fact]
    public void TryWriteRequest_Thoughts_OnlyAnthropicsOrUnscopedOnesAreSentBack()
    {
        var request = new ModelRequest
        {
            Messages =
            [
                User(new TextBlock("q")),
                Assistant(
                    new ThoughtBlock("mine") { Signature = "sig", ProviderType = "anthropic" },
                    new ThoughtBlock(null) { Signature = "redacted", ProviderType = "anthropic" },
                    new ThoughtBlock("theirs") { ProviderType = "openai" },
                    new TextBlock("a")),
            ],
        };

        JsonDocument.Parse(Write(request)).RootElement.GetProperty("messages")[1].GetProperty("content").GetRawText().Should().Be(
            """[{"type":"thinking","thinking":"mine","signature":"sig"},{"type":"redacted_thinking","data":"redacted"},{"type":"text","text":"a"}]""");
    }

    [Fact]
    public void TryWriteRequest_JsonModeOnOfAJsonFunction_PrefillsTheAnswer()
    {
        var request = Hi() with { Kind = FunctionKind.Json, JsonMode = JsonMode.On, OutputSchema = Schema };

        var messages = JsonDocument.Parse(Write(request)).RootElement.GetProperty("messages");

        messages.GetArrayLength().Should().Be(2);
        messages[1].GetRawText().Should().Be("""{"role":"assistant","content":[{"type":"text","text":"Here is the JSON requested:\n{"}]}""");
    }

    [Fact]
    public void TryWriteRequest_JsonModeStrict_OutputConfigFormat()
    {
        var request = Hi() with { Kind = FunctionKind.Json, JsonMode = JsonMode.Strict, OutputSchema = Schema };

        JsonDocument.Parse(Write(request)).RootElement.GetProperty("output_config").GetRawText().Should().Be(
            """{"format":{"type":"json_schema","schema":""" + Schema.GetRawText() + "}}");
    }

    [Fact]
    public void TryReadResponse_TextToolUseThinking_BlocksUsageAndStopReason()
    {
        const string body = """
            {"id":"msg_1","type":"message","role":"assistant","model":"claude","content":[
              {"type":"thinking","thinking":"hmm","signature":"sig"},
              {"type":"text","text":"Let me check."},
              {"type":"tool_use","id":"toolu_1","name":"get_weather","input":{ "city": "Paris" }},
              {"type":"server_tool_use","id":"srv_1","name":"web_search","input":{}}],
             "stop_reason":"tool_use","stop_sequence":null,
             "usage":{"input_tokens":10,"cache_creation_input_tokens":2,"cache_read_input_tokens":3,"output_tokens":20}}
            """;

        AnthropicFormat.Instance.TryReadResponse(Encoding.UTF8.GetBytes(body), new ModelRequest(), Context, out var response, out var error).Should().BeTrue(error);

        response!.Output.Should().HaveCount(4);
        response.Output[0].Should().Be(new ThoughtBlock("hmm") { Signature = "sig", ProviderType = "anthropic" });
        response.Output[1].Should().Be(new TextBlock("Let me check."));
        response.Output[2].Should().Be(new ToolCallBlock("toolu_1", "get_weather", """{"city":"Paris"}"""));
        response.Output[3].Should().BeOfType<UnknownBlock>().Which.ModelName.Should().Be("m");
        response.Usage.Should().Be(new Usage(15, 20));
        response.RawUsage!.Value.GetRawText().Should().Be("""{"input_tokens":10,"cache_creation_input_tokens":2,"cache_read_input_tokens":3,"output_tokens":20}""");
        response.FinishReason.Should().Be(FinishReason.ToolCall);
        response.RawResponse.Should().Be(body);
    }

    [Theory]
    [InlineData("end_turn", "Stop")]
    [InlineData("max_tokens", "Length")]
    [InlineData("stop_sequence", "StopSequence")]
    [InlineData("tool_use", "ToolCall")]
    [InlineData("refusal", "Unknown")]
    public void TryReadResponse_StopReason_TensorZerosFinishReason(string stopReason, string expected)
    {
        var body = """{"content":[{"type":"text","text":"x"}],"stop_reason":""" + $"\"{stopReason}\"" + ""","usage":{"input_tokens":1,"output_tokens":1}}""";

        AnthropicFormat.Instance.TryReadResponse(Encoding.UTF8.GetBytes(body), new ModelRequest(), Context, out var response, out _).Should().BeTrue();

        response!.FinishReason.ToString().Should().Be(expected);
    }

    [Fact]
    public void TryReadResponse_JsonPrefill_RestoresTheOpeningBrace()
    {
        var request = Hi() with { Kind = FunctionKind.Json, JsonMode = JsonMode.On };
        const string body = """{"content":[{"type":"text","text":" \"answer\":\"4\"}\n"}],"stop_reason":"end_turn","usage":{"input_tokens":1,"output_tokens":1}}""";

        AnthropicFormat.Instance.TryReadResponse(Encoding.UTF8.GetBytes(body), request, Context, out var response, out _).Should().BeTrue();

        response!.Output.Should().Equal(new TextBlock("""{"answer":"4"}"""));
    }

    [Theory]
    [InlineData("<html>", "not JSON")]
    [InlineData("""{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}""", "it is an error (overloaded_error: Overloaded)")]
    [InlineData("""{"id":"x"}""", "it has no 'content' array")]
    [InlineData("""{"content":[{"type":"tool_use","id":"t"}]}""", "a 'tool_use' block lacks its fields")]
    public void TryReadResponse_NotAMessage_FailsWithTheReason(string body, string expected)
    {
        AnthropicFormat.Instance.TryReadResponse(Encoding.UTF8.GetBytes(body), new ModelRequest(), Context, out var response, out var error).Should().BeFalse();

        response.Should().BeNull();
        error.Should().StartWith("the provider's 200 response is not an Anthropic message").And.Contain(expected);
    }

    private static ProviderChunk? Read(IProviderStreamReader reader, string data)
    {
        reader.TryReadEvent(Encoding.UTF8.GetBytes(data), out var chunk, out var error).Should().BeTrue(error);
        return chunk;
    }

    [Fact]
    public void StreamReader_DocumentedToolUseStream_ChunksWithToolIdsUsageAndStopReason()
    {
        // The event payloads of Anthropic's streaming documentation (docs.anthropic.com/en/docs/build-with-claude/streaming).
        var reader = AnthropicFormat.Instance.CreateStreamReader(Hi(), Context);

        var start = Read(reader, """{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":472,"output_tokens":2}}}""");
        var textStart = Read(reader, """{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}""");
        Read(reader, """{"type": "ping"}""").Should().BeNull();
        var text = Read(reader, """{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Okay"}}""");
        Read(reader, """{"type":"content_block_stop","index":0}""").Should().BeNull();
        var toolStart = Read(reader, """{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_01T","name":"get_weather","input":{}}}""");
        var args1 = Read(reader, """{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"location\":"}}""");
        var args2 = Read(reader, """{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":" \"SF\"}"}}""");
        var delta = Read(reader, """{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":89}}""");
        Read(reader, """{"type":"message_stop"}""").Should().BeNull();

        start!.Content.Should().BeEmpty();
        start.Usage.Should().Be(new Usage(472, 2));
        textStart!.Content.Should().Equal(new TextChunk("0", ""));
        text!.Content.Should().Equal(new TextChunk("0", "Okay"));
        toolStart!.Content.Should().Equal(new ToolCallChunk("toolu_01T", "get_weather", ""));
        args1!.Content.Should().Equal(new ToolCallChunk("toolu_01T", null, "{\"location\":"));
        args2!.Content.Should().Equal(new ToolCallChunk("toolu_01T", null, " \"SF\"}"));
        delta!.Content.Should().BeEmpty();
        delta.Usage.Should().Be(new Usage(472, 89));
        delta.RawUsage!.Value.GetRawText().Should().Be("""{"output_tokens":89}""");
        start.RawUsage!.Value.GetRawText().Should().Be("""{"input_tokens":472,"output_tokens":2}""");
        delta.FinishReason.Should().Be(FinishReason.ToolCall);
    }

    [Fact]
    public void StreamReader_Thinking_ThoughtChunksWithSignature()
    {
        var reader = AnthropicFormat.Instance.CreateStreamReader(Hi(), Context);

        var start = Read(reader, """{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}""");
        var thinking = Read(reader, """{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Let me"}}""");
        var signature = Read(reader, """{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"EqQB"}}""");

        start!.Content.Should().Equal(new ThoughtChunk("0", "") { Signature = "", ProviderType = "anthropic" });
        thinking!.Content.Should().Equal(new ThoughtChunk("0", "Let me") { ProviderType = "anthropic" });
        signature!.Content.Should().Equal(new ThoughtChunk("0", null) { Signature = "EqQB", ProviderType = "anthropic" });
    }

    [Theory]
    [InlineData("""{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}""", "overloaded_error: Overloaded")]
    [InlineData("""{"type":"content_block_delta","index":3,"delta":{"type":"input_json_delta","partial_json":"{"}}""", "without its tool_use start")]
    [InlineData("not json", "not JSON")]
    [InlineData("""{"index":0}""", "no 'type'")]
    public void StreamReader_ErrorOrInvalidEvent_Fails(string data, string expected)
    {
        var reader = AnthropicFormat.Instance.CreateStreamReader(Hi(), Context);

        reader.TryReadEvent(Encoding.UTF8.GetBytes(data), out var chunk, out var error).Should().BeFalse();

        chunk.Should().BeNull();
        error.Should().Contain(expected);
    }

    [Fact]
    public void StreamReader_JsonPrefill_FirstChunkStartsWithTheBrace()
    {
        var reader = AnthropicFormat.Instance.CreateStreamReader(Hi() with { Kind = FunctionKind.Json, JsonMode = JsonMode.On }, Context);

        var first = Read(reader, """{"type":"message_start","message":{"usage":{"input_tokens":5,"output_tokens":1}}}""");
        var next = Read(reader, """{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"\"a\":1}"}}""");

        first!.Content.Should().Equal(new TextChunk("0", "{"));
        next!.Content.Should().Equal(new TextChunk("0", "\"a\":1}"));
    }
}
