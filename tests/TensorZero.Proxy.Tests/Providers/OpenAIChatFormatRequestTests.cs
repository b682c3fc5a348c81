using System.Collections.Immutable;
using System.Text;
using System.Text.Json;
using TensorZero.Proxy.Functions;
using TensorZero.Proxy.Providers;

namespace TensorZero.Proxy.Tests.Providers;

public sealed class OpenAIChatFormatRequestTests
{
    private static readonly JsonElement Schema = Json("""{"type":"object","properties":{"answer":{"type":"string"}},"required":["answer"]}""");

    private static JsonElement Json(string json) => JsonDocument.Parse(json).RootElement.Clone();

    private static ModelMessage User(params ContentBlock[] content) => new(Role.User, [.. content]);

    private static ModelMessage Assistant(params ContentBlock[] content) => new(Role.Assistant, [.. content]);

    private static ModelRequest Hi(string? system = null) => new() { System = system, Messages = [User(new TextBlock("Hi"))] };

    private static string Write(ModelRequest request, string type = "openai", string model = "gpt-4o-mini", bool stream = false,
        string? targetModel = null, string? targetProvider = null) =>
        Encoding.UTF8.GetString(OpenAIChatFormat.WriteRequest(request, model, type, stream, targetModel, targetProvider));

    private static string Error(ModelRequest request, string type = "openai", string model = "gpt-4o-mini")
    {
        OpenAIChatFormat.TryWriteRequest(request, model, type, stream: false, out var body, out var error).Should().BeFalse();
        body.Should().BeEmpty();
        return error!;
    }

    private static JsonElement Body(ModelRequest request, string type, string model = "m", bool stream = false) =>
        JsonDocument.Parse(Write(request, type, model, stream)).RootElement;

    [Fact]
    public void WriteRequest_SystemAndText_IsTheMinimalBody()
    {
        Write(Hi("Be brief.")).Should().Be(
            """{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}],"model":"gpt-4o-mini","stream":false}""");
    }

    [Fact]
    public void WriteRequest_EveryParameter_InTensorZerosOrder()
    {
        var request = Hi() with
        {
            Params = new SamplingParams
            {
                Temperature = 0.7, MaxTokens = 100, Seed = 42, TopP = 0.9, PresencePenalty = 0.1, FrequencyPenalty = -0.5,
                StopSequences = ["END", "STOP"], ReasoningEffort = "low", ServiceTier = "flex", Verbosity = "high", ThinkingBudgetTokens = 1000,
            },
        };

        Write(request).Should().Be(
            """{"messages":[{"role":"user","content":"Hi"}],"model":"gpt-4o-mini","temperature":0.7,"max_completion_tokens":100,"seed":42,"top_p":0.9,"presence_penalty":0.1,"frequency_penalty":-0.5,"stream":false,"stop":["END","STOP"],"reasoning_effort":"low","service_tier":"flex","verbosity":"high"}""");
    }

    [Theory]
    [InlineData("openai", "max_completion_tokens", "seed")]
    [InlineData("azure", "max_completion_tokens", "seed")]
    [InlineData("groq", "max_completion_tokens", "seed")]
    [InlineData("openrouter", "max_completion_tokens", "seed")]
    [InlineData("vllm", "max_tokens", "seed")]
    [InlineData("together", "max_tokens", "seed")]
    [InlineData("deepseek", "max_tokens", "seed")]
    [InlineData("xai", "max_tokens", "seed")]
    [InlineData("hyperbolic", "max_tokens", "seed")]
    [InlineData("sglang", "max_tokens", "seed")]
    [InlineData("tgi", "max_tokens", "seed")]
    [InlineData("mistral", "max_tokens", "random_seed")]
    [InlineData("fireworks", "max_tokens", null)]
    public void WriteRequest_MaxTokensAndSeed_UseEachTypesFieldNames(string type, string maxTokensField, string? seedField)
    {
        var body = Body(Hi() with { Params = new SamplingParams { MaxTokens = 50, Seed = 7 } }, type);

        body.GetProperty(maxTokensField).GetInt64().Should().Be(50);
        var names = body.EnumerateObject().Select(p => p.Name).ToList();
        names.Should().NotContain(maxTokensField == "max_tokens" ? "max_completion_tokens" : "max_tokens");
        if (seedField is null)
        {
            names.Should().NotContain("seed").And.NotContain("random_seed");
        }
        else
        {
            body.GetProperty(seedField).GetInt64().Should().Be(7);
        }
    }

    [Theory]
    [InlineData("openai", "gpt-4o", "gpt-4o")]
    [InlineData("vllm", "meta/llama", "meta/llama")]
    [InlineData("tgi", "anything", "tgi")]
    [InlineData("azure", "my-deployment", null)]
    public void WriteRequest_Model_IsTheProviderModelExceptForAzureAndTgi(string type, string model, string? expected)
    {
        var body = Body(Hi(), type, model);

        if (expected is null)
        {
            body.TryGetProperty("model", out _).Should().BeFalse("Azure's deployment is in the URL");
        }
        else
        {
            body.GetProperty("model").GetString().Should().Be(expected);
        }
    }

    [Theory]
    [InlineData("openai", true)]
    [InlineData("azure", true)]
    [InlineData("vllm", true)]
    [InlineData("groq", true)]
    [InlineData("deepseek", true)]
    [InlineData("xai", true)]
    [InlineData("sglang", true)]
    [InlineData("tgi", true)]
    [InlineData("openrouter", true)]
    [InlineData("together", false)]
    [InlineData("mistral", false)]
    [InlineData("fireworks", false)]
    [InlineData("hyperbolic", false)]
    public void WriteRequest_Stream_AsksForUsageWhereTheTypeTakesStreamOptions(string type, bool streamOptions)
    {
        var body = Body(Hi(), type, stream: true);

        body.GetProperty("stream").GetBoolean().Should().BeTrue();
        if (streamOptions)
        {
            body.GetProperty("stream_options").GetRawText().Should().Be("""{"include_usage":true}""");
        }
        else
        {
            body.TryGetProperty("stream_options", out _).Should().BeFalse();
        }
        Body(Hi(), type, stream: false).TryGetProperty("stream_options", out _).Should().BeFalse();
    }

    [Theory]
    [InlineData("openai", """"reasoning_effort":"high","service_tier":"priority","verbosity":"low"""")]
    [InlineData("azure", """"reasoning_effort":"high","verbosity":"low"""")]
    [InlineData("groq", """"response_format":{"type":"text"},"reasoning_effort":"high"""")]
    [InlineData("xai", """"reasoning_effort":"high"""")]
    [InlineData("sglang", """"reasoning_effort":"high"""")]
    [InlineData("together", """"reasoning_effort":"high"""")]
    [InlineData("fireworks", """"reasoning_effort":"high"""")]
    [InlineData("hyperbolic", """"reasoning_effort":"high"""")]
    [InlineData("openrouter", """"reasoning":{"effort":"high","max_tokens":2048},"verbosity":"low"""")]
    [InlineData("vllm", "")]
    [InlineData("mistral", "")]
    [InlineData("deepseek", "")]
    [InlineData("tgi", "")]
    public void WriteRequest_ReasoningParameters_GoOnlyWhereAccepted(string type, string expectedTail)
    {
        var request = Hi() with { Params = new SamplingParams { ReasoningEffort = "high", ServiceTier = "priority", Verbosity = "low", ThinkingBudgetTokens = 2048 } };

        var body = Write(request, type, "m");

        // The tails are written without their first and last quote (raw string literals cannot start or end with one).
        body.Should().EndWith("\"stream\":false" + (expectedTail.Length == 0 ? "" : ",\"" + expectedTail + "\"") + "}");
    }

    [Theory]
    [InlineData("azure", "auto", true)]
    [InlineData("azure", "default", true)]
    [InlineData("azure", "flex", false)]
    [InlineData("groq", "flex", true)]
    [InlineData("groq", "auto", true)]
    [InlineData("groq", "priority", false)]
    [InlineData("openai", "default", true)]
    public void WriteRequest_ServiceTier_OnlyTheTiersEachTypeTakes(string type, string tier, bool sent)
    {
        var body = Body(Hi() with { Params = new SamplingParams { ServiceTier = tier } }, type);

        body.TryGetProperty("service_tier", out var value).Should().Be(sent);
        if (sent)
        {
            value.GetString().Should().Be(tier);
        }
    }

    [Fact]
    public void WriteRequest_UserFiles_ImageUrlDataUrlPdfAndAudio()
    {
        var request = new ModelRequest
        {
            Messages =
            [
                User(
                    new TextBlock("Describe"),
                    new FileBlock(new FileData { Url = "https://example.com/a.png", Detail = "low" }),
                    new FileBlock(new FileData { Base64Data = "iVBO", MimeType = "image/png", Detail = "high" }),
                    new FileBlock(new FileData { Base64Data = "JVBE", MimeType = "application/pdf", Filename = "paper.pdf" }),
                    new FileBlock(new FileData { Base64Data = "JVBF", MimeType = "application/pdf" }),
                    new FileBlock(new FileData { Base64Data = "UklG", MimeType = "audio/wav" })),
            ],
        };

        Write(request).Should().Be(
            """{"messages":[{"role":"user","content":[{"type":"text","text":"Describe"},{"type":"image_url","image_url":{"url":"https://example.com/a.png","detail":"low"}},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBO","detail":"high"}},{"type":"file","file":{"file_data":"data:application/pdf;base64,JVBE","filename":"paper.pdf"}},{"type":"file","file":{"file_data":"data:application/pdf;base64,JVBF","filename":"input.pdf"}},{"type":"input_audio","input_audio":{"data":"UklG","format":"wav"}}]}],"model":"gpt-4o-mini","stream":false}""");
    }

    [Theory]
    [InlineData("openai", true)]
    [InlineData("azure", true)]
    [InlineData("xai", true)]
    [InlineData("vllm", false)]
    [InlineData("together", false)]
    public void WriteRequest_ImageDetail_OnlyWhereTheTypeTakesIt(string type, bool sent)
    {
        var body = Body(new ModelRequest { Messages = [User(new FileBlock(new FileData { Url = "https://x/y.png", Detail = "low" }))] }, type);

        var imageUrl = body.GetProperty("messages")[0].GetProperty("content")[0].GetProperty("image_url");
        imageUrl.TryGetProperty("detail", out _).Should().Be(sent);
    }

    [Fact]
    public void WriteRequest_Groq_SendsEveryFileAsAnImageUrlWithoutDetail()
    {
        var request = new ModelRequest
        {
            Messages = [User(new FileBlock(new FileData { Base64Data = "JVBE", MimeType = "application/pdf", Detail = "low" }))],
        };

        Write(request, "groq", "llama").Should().Contain(
            """content":[{"type":"image_url","image_url":{"url":"data:application/pdf;base64,JVBE"}}]""");
    }

    [Fact]
    public void WriteRequest_ToolCallsAndResults_BecomeAssistantToolCallsAndToolMessagesBeforeTheUserText()
    {
        var request = new ModelRequest
        {
            Messages =
            [
                User(new TextBlock("Weather?")),
                Assistant(new TextBlock("Let me check."), new ToolCallBlock("call_1", "get_weather", """{"city":"Paris"}""")),
                User(new TextBlock("Also this:"), new ToolResultBlock("call_1", "get_weather", "22C")),
            ],
        };

        Write(request).Should().Be(
            """{"messages":[{"role":"user","content":"Weather?"},{"role":"assistant","content":"Let me check.","tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},{"role":"tool","content":"22C","tool_call_id":"call_1"},{"role":"user","content":"Also this:"}],"model":"gpt-4o-mini","stream":false}""");
    }

    [Fact]
    public void WriteRequest_AssistantWithOnlyAToolCall_HasNoContentField()
    {
        var request = new ModelRequest { Messages = [Assistant(new ToolCallBlock("c", "f", "{}"))] };

        Write(request).Should().StartWith(
            """{"messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]}]""");
    }

    [Theory]
    [InlineData("openai", "reasoning_content")]
    [InlineData("deepseek", "reasoning_content")]
    [InlineData("mistral", "reasoning_content")]
    [InlineData("fireworks", "reasoning_content")]
    [InlineData("vllm", "reasoning")]
    [InlineData("together", "reasoning")]
    [InlineData("groq", null)]
    [InlineData("openrouter", null)]
    public void WriteRequest_AssistantThoughts_AreSentBackInEachTypesReasoningField(string type, string? field)
    {
        var request = new ModelRequest
        {
            Messages = [Assistant(new ThoughtBlock("first"), new ThoughtBlock("second"), new TextBlock("Answer"))],
        };

        var message = Body(request, type).GetProperty("messages")[0];

        message.GetProperty("content").GetString().Should().Be("Answer");
        var names = message.EnumerateObject().Select(p => p.Name).ToList();
        if (field is null)
        {
            names.Should().Equal("role", "content");
        }
        else
        {
            names.Should().Equal("role", "content", field);
            message.GetProperty(field).GetString().Should().Be("first\n\nsecond");
        }
    }

    [Fact]
    public void WriteRequest_Thoughts_DroppedInUserMessagesAloneInAssistantMessagesOrForAnotherProviderType()
    {
        var request = new ModelRequest
        {
            Messages =
            [
                User(new ThoughtBlock("user thought"), new TextBlock("Q")),
                Assistant(new ThoughtBlock("only a thought")),
                Assistant(new ThoughtBlock("anthropic's") { ProviderType = "anthropic" }, new ThoughtBlock("mine") { ProviderType = "openai" }, new TextBlock("A")),
            ],
        };

        Write(request).Should().Be(
            """{"messages":[{"role":"user","content":"Q"},{"role":"assistant","content":"A","reasoning_content":"mine"}],"model":"gpt-4o-mini","stream":false}""");
    }

    [Theory]
    [InlineData("together", """{"role":"assistant","content":[{"type":"text","text":"<think>tagged</think>"},{"type":"text","text":"A"}],"reasoning":"field"}""")]
    [InlineData("fireworks", """{"role":"assistant","content":[{"type":"text","text":"<think>tagged</think>"},{"type":"text","text":"A"}],"reasoning_content":"field"}""")]
    [InlineData("openai", """{"role":"assistant","content":"A","reasoning_content":"tagged\n\nfield"}""")]
    public void WriteRequest_ThinkTagThoughts_GoBackAsTagsWhereTheTypeUsesThem(string type, string expected)
    {
        var request = new ModelRequest
        {
            Messages =
            [
                Assistant(
                    new ThoughtBlock("tagged") { ExtraData = Json("""{"reasoning_format":"think_tags"}""") },
                    new ThoughtBlock("field") { ExtraData = Json("""{"reasoning_format":"reasoning_field"}""") },
                    new TextBlock("A")),
            ],
        };

        Body(request, type).GetProperty("messages")[0].GetRawText().Should().Be(expected);
    }

    [Theory]
    [InlineData(null, null, true)]
    [InlineData("my-model", null, true)]
    [InlineData("my-model", "my-provider", true)]
    [InlineData(null, "my-provider", true)]
    [InlineData("other-model", null, false)]
    [InlineData("my-model", "other-provider", false)]
    [InlineData(null, "other-provider", false)]
    public void WriteRequest_UnknownBlock_IsSentOnlyToTheModelAndProviderItNames(string? blockModel, string? blockProvider, bool sent)
    {
        var unknown = new UnknownBlock(Json("""{"type":"x_custom","value":1}""")) { ModelName = blockModel, ProviderName = blockProvider };
        var request = new ModelRequest { Messages = [User(new TextBlock("Q"), unknown), Assistant(new TextBlock("A"), unknown)] };

        var body = Write(request, targetModel: "my-model", targetProvider: "my-provider");

        if (sent)
        {
            body.Should().StartWith(
                """{"messages":[{"role":"user","content":[{"type":"text","text":"Q"},{"type":"x_custom","value":1}]},{"role":"assistant","content":[{"type":"text","text":"A"},{"type":"x_custom","value":1}]}]""");
        }
        else
        {
            body.Should().StartWith("""{"messages":[{"role":"user","content":"Q"},{"role":"assistant","content":"A"}]""");
        }
    }

    [Fact]
    public void WriteRequest_UnknownBlockNamingAModel_IsLeftOutWhenNoTargetIsGiven()
    {
        var request = new ModelRequest { Messages = [User(new TextBlock("Q"), new UnknownBlock(Json("{}")) { ModelName = "m" })] };

        Write(request).Should().StartWith("""{"messages":[{"role":"user","content":"Q"}]""");
    }

    private static ToolConfig WeatherTools(ToolChoice choice, bool? parallel = null) => new(
        [
            new ToolDefinition("get_weather", "Gets the weather", Json("""{"type":"object","properties":{"city":{"type":"string"}}}"""), Strict: true),
            new ToolDefinition("get_time", "Gets the time", Json("""{"type":"object"}"""), Strict: false),
        ],
        choice,
        parallel);

    [Fact]
    public void WriteRequest_Tools_FunctionsWithStrictChoiceAndParallel()
    {
        var body = Write(Hi() with { Tools = WeatherTools(ToolChoice.Auto, parallel: true) });

        body.Should().Be(
            """{"messages":[{"role":"user","content":"Hi"}],"model":"gpt-4o-mini","stream":false,"tools":[{"type":"function","function":{"name":"get_weather","description":"Gets the weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}},"strict":true},{"type":"function","function":{"name":"get_time","description":"Gets the time","parameters":{"type":"object"}},"strict":false}],"tool_choice":"auto","parallel_tool_calls":true}""");
    }

    [Fact]
    public void WriteRequest_SpecificToolChoice_NamesTheFunction()
    {
        Body(Hi() with { Tools = WeatherTools(new ToolChoiceSpecific("get_time")) }, "openai").GetProperty("tool_choice").GetRawText()
            .Should().Be("""{"type":"function","function":{"name":"get_time"}}""");
    }

    [Fact]
    public void WriteRequest_NoTools_NoToolFields()
    {
        var body = Body(Hi() with { Tools = new ToolConfig([], ToolChoice.Required, true) }, "openai");

        body.EnumerateObject().Select(p => p.Name).Should().Equal("messages", "model", "stream");
    }

    [Theory]
    [InlineData("openai", "none", "\"none\"", true, true)]
    [InlineData("openai", "required", "\"required\"", true, true)]
    [InlineData("mistral", "required", "\"any\"", false, false)]
    [InlineData("mistral", "auto", "\"auto\"", false, false)]
    [InlineData("fireworks", "required", "\"required\"", false, false)]
    [InlineData("azure", "required", "\"required\"", true, false)]
    [InlineData("deepseek", "auto", "\"auto\"", true, false)]
    [InlineData("vllm", "auto", "\"auto\"", true, true)]
    [InlineData("together", "required", "\"auto\"", true, true)]
    [InlineData("together", "none", null, false, false)]
    public void WriteRequest_ToolQuirks_PerType(string type, string choice, string? expectedChoice, bool strictSent, bool parallelSent)
    {
        var body = Body(Hi() with { Tools = WeatherTools(new ToolChoiceKind(choice), parallel: false) }, type);

        if (expectedChoice is null)
        {
            body.TryGetProperty("tools", out _).Should().BeFalse("Together rejects tool_choice none, so TensorZero sends no tools");
            body.TryGetProperty("tool_choice", out _).Should().BeFalse();
            return;
        }
        body.GetProperty("tool_choice").GetRawText().Should().Be(expectedChoice);
        body.GetProperty("tools")[0].TryGetProperty("strict", out _).Should().Be(strictSent);
        body.TryGetProperty("parallel_tool_calls", out _).Should().Be(parallelSent);
    }

    [Theory]
    [InlineData("o1-preview", false)]
    [InlineData("gpt-4o", true)]
    public void WriteRequest_O1Models_NeverGetParallelToolCallsFalse(string model, bool sent)
    {
        Body(Hi() with { Tools = WeatherTools(ToolChoice.Auto, parallel: false) }, "openai", model)
            .TryGetProperty("parallel_tool_calls", out _).Should().Be(sent);
    }

    [Fact]
    public void WriteRequest_O1Mini_SystemPromptBecomesTheFirstUserMessage()
    {
        Write(Hi("Rules"), "openai", "o1-mini").Should().StartWith(
            """{"messages":[{"role":"user","content":"Rules"},{"role":"user","content":"Hi"}]""");
    }

    [Fact]
    public void WriteRequest_Hyperbolic_TakesNoTools()
    {
        Body(Hi() with { Tools = WeatherTools(ToolChoice.Auto) }, "hyperbolic").TryGetProperty("tools", out _).Should().BeFalse();
    }

    private static ModelRequest JsonRequest(JsonMode mode, JsonElement? schema, string? system = "Answer the question.") => new()
    {
        System = system,
        Messages = [User(new TextBlock("Capital of France?"))],
        Kind = FunctionKind.Json,
        JsonMode = mode,
        OutputSchema = schema,
    };

    [Fact]
    public void WriteRequest_JsonModeOn_AsksForAJsonObjectAndSaysJsonInTheSystemPrompt()
    {
        Write(JsonRequest(JsonMode.On, Schema)).Should().Be(
            """{"messages":[{"role":"system","content":"Respond using JSON.\n\nAnswer the question."},{"role":"user","content":"Capital of France?"}],"model":"gpt-4o-mini","stream":false,"response_format":{"type":"json_object"}}""");
    }

    [Theory]
    [InlineData("Answer in JSON.", "Capital of France?", "Answer in JSON.")]
    [InlineData("Answer.", "Capital of France, as json?", "Answer.")]
    [InlineData(null, "Capital of France, as json?", "Respond using JSON.")]
    [InlineData(null, "Capital of France?", "Respond using JSON.")]
    public void WriteRequest_JsonModeOn_InstructionOnlyWhenNothingMentionsJson(string? system, string user, string expectedSystem)
    {
        var request = JsonRequest(JsonMode.On, Schema, system) with { Messages = [User(new TextBlock(user))] };

        Body(request, "openai").GetProperty("messages")[0].GetProperty("content").GetString().Should().Be(expectedSystem);
    }

    [Fact]
    public void WriteRequest_XaiWithoutSystem_NoInstructionWhenAMessageMentionsJson()
    {
        var request = JsonRequest(JsonMode.On, Schema, system: null) with { Messages = [User(new TextBlock("as json please"))] };

        Body(request, "xai").GetProperty("messages").GetArrayLength().Should().Be(1);
    }

    [Fact]
    public void WriteRequest_JsonModeStrict_SendsTheSchemaAsStrictJsonSchema()
    {
        Write(JsonRequest(JsonMode.Strict, Schema)).Should().Be(
            """{"messages":[{"role":"system","content":"Answer the question."},{"role":"user","content":"Capital of France?"}],"model":"gpt-4o-mini","stream":false,"response_format":{"type":"json_schema","json_schema":{"name":"response","strict":true,"schema":{"type":"object","properties":{"answer":{"type":"string"}},"required":["answer"]}}}}""");
    }

    [Theory]
    [InlineData("Strict", true, "openai", "gpt-3.5-turbo", """{"type":"json_object"}""")]
    [InlineData("Strict", false, "openai", "gpt-4o", """{"type":"json_object"}""")]
    [InlineData("Off", true, "openai", "gpt-4o", null)]
    [InlineData("Off", true, "groq", "llama", """{"type":"text"}""")]
    [InlineData("Strict", true, "azure", "gpt-3.5", """{"type":"json_schema","json_schema":{"name":"response","strict":true,"schema":{"type":"object","properties":{"answer":{"type":"string"}},"required":["answer"]}}}""")]
    [InlineData("On", true, "together", "m", """{"type":"json_object","schema":{"type":"object","properties":{"answer":{"type":"string"}},"required":["answer"]}}""")]
    [InlineData("Strict", false, "fireworks", "m", """{"type":"json_object"}""")]
    [InlineData("Strict", true, "mistral", "m", """{"type":"json_object"}""")]
    [InlineData("Strict", true, "deepseek", "m", """{"type":"json_object"}""")]
    [InlineData("On", true, "sglang", "m", """{"type":"json_schema","json_schema":{"name":"response","strict":true,"schema":{"type":"object","properties":{"answer":{"type":"string"}},"required":["answer"]}}}""")]
    [InlineData("Strict", true, "tgi", "m", null)]
    [InlineData("On", true, "hyperbolic", "m", null)]
    [InlineData("On", true, "vllm", "m", null)]
    public void WriteRequest_ResponseFormat_PerTypeAndMode(string mode, bool withSchema, string type, string model, string? expected)
    {
        var body = Body(JsonRequest(Enum.Parse<JsonMode>(mode), withSchema ? Schema : null), type, model);

        if (expected is null)
        {
            body.TryGetProperty("response_format", out _).Should().BeFalse();
        }
        else
        {
            body.GetProperty("response_format").GetRawText().Should().Be(expected);
        }
    }

    [Theory]
    [InlineData("On", true, true)]
    [InlineData("Strict", true, true)]
    [InlineData("Strict", false, false)]
    [InlineData("Off", true, false)]
    public void WriteRequest_Vllm_UsesGuidedJsonWithTheSchema(string mode, bool withSchema, bool guided)
    {
        var body = Body(JsonRequest(Enum.Parse<JsonMode>(mode), withSchema ? Schema : null), "vllm");

        body.TryGetProperty("guided_json", out var schema).Should().Be(guided);
        if (guided)
        {
            schema.GetRawText().Should().Be(Schema.GetRawText());
        }
        body.GetProperty("messages")[0].GetProperty("content").GetString().Should().Be("Answer the question.", "vLLM gets no JSON instruction");
    }

    [Theory]
    [InlineData("tgi", "Respond using JSON.\n\nAnswer the question.")]
    [InlineData("together", "Answer the question.")]
    [InlineData("mistral", "Answer the question.")]
    [InlineData("fireworks", "Answer the question.")]
    [InlineData("deepseek", "Respond using JSON.\n\nAnswer the question.")]
    [InlineData("groq", "Respond using JSON.\n\nAnswer the question.")]
    public void WriteRequest_JsonInstruction_PerType(string type, string expectedSystem)
    {
        Body(JsonRequest(JsonMode.On, Schema), type).GetProperty("messages")[0].GetProperty("content").GetString().Should().Be(expectedSystem);
    }

    [Fact]
    public void WriteRequest_JsonModeTool_ForcesTheImplicitRespondTool()
    {
        var request = JsonRequest(JsonMode.Tool, Schema) with { Tools = WeatherTools(ToolChoice.Auto, parallel: true) };

        Write(request).Should().Be(
            """{"messages":[{"role":"system","content":"Answer the question."},{"role":"user","content":"Capital of France?"}],"model":"gpt-4o-mini","stream":false,"tools":[{"type":"function","function":{"name":"respond","description":"Respond to the user using the output schema provided.","parameters":{"type":"object","properties":{"answer":{"type":"string"}},"required":["answer"]}},"strict":false}],"tool_choice":{"type":"function","function":{"name":"respond"}}}""");
    }

    [Fact]
    public void WriteRequest_DeepSeekReasoner_SystemPromptAsFirstUserMessageMergedWithTheNext()
    {
        var request = new ModelRequest
        {
            System = "Rules",
            JsonMode = JsonMode.On,
            Messages = [User(new TextBlock("Q1")), User(new TextBlock("Q2")), Assistant(new TextBlock("A1")), Assistant(new TextBlock("A2"))],
        };

        Write(request, "deepseek", "deepseek-reasoner").Should().StartWith(
            """{"messages":[{"role":"user","content":[{"type":"text","text":"Rules"},{"type":"text","text":"Q1"},{"type":"text","text":"Q2"}]},{"role":"assistant","content":[{"type":"text","text":"A1"},{"type":"text","text":"A2"}]}],"model":"deepseek-reasoner",""");
    }

    [Fact]
    public void WriteRequest_DeepSeekChat_KeepsTheSystemPrompt()
    {
        Write(Hi("Rules"), "deepseek", "deepseek-chat").Should().StartWith(
            """{"messages":[{"role":"system","content":"Rules"},{"role":"user","content":"Hi"}]""");
    }

    [Fact]
    public void WriteRequest_NonAsciiAndQuotes_AreWrittenUnescapedButValid()
    {
        var body = Write(Hi("Réponds en français, l'ami \"cher\"."));

        body.Should().Contain("Réponds en français, l'ami \\\"cher\\\".");
        JsonDocument.Parse(body).RootElement.GetProperty("messages")[0].GetProperty("content").GetString()
            .Should().Be("Réponds en français, l'ami \"cher\".");
    }

    [Fact]
    public void WriteRequest_StreamParameterWins_OverTheRequestsFlag()
    {
        Body(Hi() with { Stream = false }, "openai", stream: true).GetProperty("stream").GetBoolean().Should().BeTrue();
    }

    private static readonly Dictionary<string, (ModelRequest Request, string Type, string Expected)> BadRequests = new()
    {
        ["tool call in a user message"] = (new ModelRequest { Messages = [User(new ToolCallBlock("c", "f", "{}"))] }, "openai", "Tool calls are not supported in user messages"),
        ["tool result in an assistant message"] = (new ModelRequest { Messages = [Assistant(new ToolResultBlock("c", "f", "r"))] }, "openai", "Tool results are not supported in assistant messages"),
        ["PDF by URL"] = (new ModelRequest { Messages = [User(new FileBlock(new FileData { Url = "https://x/a.pdf", MimeType = "application/pdf" }))] }, "openai", "only images are passed by URL"),
        ["data without a MIME type"] = (new ModelRequest { Messages = [User(new FileBlock(new FileData { Base64Data = "AAAA" }))] }, "openai", "needs a MIME type"),
        ["file with nothing"] = (new ModelRequest { Messages = [User(new FileBlock(new FileData()))] }, "openai", "neither a URL nor data"),
        ["unknown audio type"] = (new ModelRequest { Messages = [User(new FileBlock(new FileData { Base64Data = "AAAA", MimeType = "audio/x-unknown" }))] }, "openai", "Unsupported audio MIME type: audio/x-unknown"),
        ["file type without extension"] = (new ModelRequest { Messages = [User(new FileBlock(new FileData { Base64Data = "AAAA", MimeType = "application/x-nothing" }))] }, "openai", "Mime type application/x-nothing has no filetype suffix"),
        ["tool mode without schema"] = (JsonRequest(JsonMode.Tool, null), "openai", "JSON mode `tool` requires an output schema"),
        ["tool mode on hyperbolic"] = (JsonRequest(JsonMode.Tool, Schema), "hyperbolic", "does not support tools"),
        ["sglang json without schema"] = (JsonRequest(JsonMode.On, null), "sglang", "requires an output schema in JSON mode"),
        ["unknown reasoning format"] = (new ModelRequest { Messages = [Assistant(new ThoughtBlock("t") { ExtraData = Json("""{"reasoning_format":"weird"}""") }, new TextBlock("A"))] }, "together", "Unknown `reasoning_format` value in thought `extra_data`: `weird`"),
        ["provider type"] = (Hi(), "anthropic", "provider type 'anthropic' does not speak the OpenAI chat completions format"),
    };

    public static TheoryData<string> BadRequestNames => [.. BadRequests.Keys];

    [Theory]
    [MemberData(nameof(BadRequestNames))]
    public void TryWriteRequest_BadInput_FalseWithTheReason(string what)
    {
        var (request, type, expected) = BadRequests[what];

        Error(request, type).Should().Contain(expected, what);
    }

    [Fact]
    public void WriteRequest_BadInput_ThrowsArgumentExceptionWithTheReason()
    {
        var act = () => OpenAIChatFormat.WriteRequest(JsonRequest(JsonMode.Tool, null), "m", "openai", stream: false);

        act.Should().Throw<ArgumentException>().WithMessage("JSON mode `tool` requires an output schema*");
    }

    [Fact]
    public void ProviderTypes_AreTheOpenAICompatibleTypes()
    {
        OpenAIChatFormat.ProviderTypes.Should().BeEquivalentTo(
            "openai", "azure", "vllm", "together", "groq", "mistral", "deepseek", "fireworks", "openrouter", "xai", "hyperbolic", "sglang", "tgi");
        OpenAIChatFormat.Speaks("dummy").Should().BeFalse();
    }
}
