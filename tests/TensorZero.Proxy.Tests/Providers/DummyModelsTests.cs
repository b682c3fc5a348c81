using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using TensorZero.Proxy.Functions;
using TensorZero.Proxy.Providers;
using TensorZero.Proxy.Tests.TestSupport;
using TensorZero.Proxy.Transforms;

namespace TensorZero.Proxy.Tests.Providers;

// Expected outputs are TensorZero's fixtures (crates/tensorzero-core/src/providers/dummy.rs, Apache-2.0) and the
// expectations of its openai-node client tests (clients/openai-node/tests/openai-compatibility.test.ts).
public sealed class DummyModelsTests
{
    private const string Megumin = "Megumin gleefully chanted her spell, unleashing a thunderous explosion that lit up the sky and left a massive crater in its wake.";

    private static readonly ModelRequest Hello = new() { Messages = [new ModelMessage(Role.User, [new TextBlock("Hello, world!")])] };

    private static JsonElement Json(string json) => JsonDocument.Parse(json).RootElement.Clone();

    private static string Describe(ContentBlock block) => block switch
    {
        TextBlock t => "text:" + t.Text,
        ToolCallBlock c => $"tool:{c.Id}:{c.RawName}:{c.RawArguments}",
        ThoughtBlock th => "thought:" + th.Text + (th.Signature is null ? "" : ":" + th.Signature),
        _ => block.ToString()!,
    };

    private static string Text(ProviderResponse response) => response.Output.Should().ContainSingle().Which.Should().BeOfType<TextBlock>().Which.Text;

    [Theory]
    [InlineData("test", "text:" + Megumin, 10, 1, "Stop")]
    [InlineData("some-unlisted-name", "text:" + Megumin, 10, 1, "Stop")]
    [InlineData("alternate", "text:Megumin chanted her spell, but instead of an explosion, a gentle rain began to fall.", 10, 1, "Stop")]
    [InlineData("null", "", 10, 0, "Stop")]
    [InlineData("empty", "text:", 10, 1, "Stop")]
    [InlineData("tool", """tool:0:get_temperature:{"location":"Brooklyn","units":"celsius"}""", 10, 1, "ToolCall")]
    [InlineData("good_tool", """tool:0:output_schema_tool:{"sentiment":"positive","confidence":0.95}""", 10, 1, "ToolCall")]
    [InlineData("bad_tool", """tool:0:get_temperature:{"location":"Brooklyn","units":"Celsius"}""", 10, 1, "ToolCall")]
    [InlineData("invalid_tool_arguments", "tool:0:get_temperature:Not valid 'JSON'", 10, 1, "ToolCall")]
    [InlineData("tool_split_name", "text:" + Megumin, 10, 1, "ToolCall")]
    [InlineData("reasoner", "thought:hmmm | text:" + Megumin, 10, 2, "Stop")]
    [InlineData("reasoner_with_signature", "thought:hmmm:my_signature | text:" + Megumin, 10, 2, "Stop")]
    [InlineData("json_reasoner", """thought:hmmm | text:{"answer":"Hello"}""", 10, 2, "Stop")]
    [InlineData("json", """text:{"answer":"Hello"}""", 10, 1, "Stop")]
    [InlineData("json_goodbye", """text:{"answer":"Goodbye"}""", 10, 1, "Stop")]
    [InlineData("json_cot", """text:{"thinking":"hmmm", "response": {"answer":"tokyo!"}}""", 10, 1, "Stop")]
    [InlineData("json_diff_schema", """text:{"response":"Hello"}""", 10, 1, "Stop")]
    [InlineData("json_beatles_1", """text:{"names":["John", "George"]}""", 10, 1, "Stop")]
    [InlineData("json_beatles_2", """text:{"names":["Paul", "Ringo"]}""", 10, 1, "Stop")]
    [InlineData("best_of_n_0", """text:{"thinking": "hmmm", "answer_choice": 0}""", 10, 1, "Stop")]
    [InlineData("best_of_n_1", """text:{"thinking": "hmmm", "answer_choice": 1}""", 10, 1, "Stop")]
    [InlineData("best_of_n_big", """text:{"thinking": "hmmm", "answer_choice": 100}""", 10, 1, "Stop")]
    [InlineData("flaky_best_of_n_judge", """text:{"thinking": "hmmm", "answer_choice": 0}""", 10, 1, "Stop")]
    [InlineData("llm_judge::true", """text:{"score": true}""", 10, 1, "Stop")]
    [InlineData("llm_judge::false", """text:{"score": false}""", 10, 1, "Stop")]
    [InlineData("llm_judge::zero", """text:{"score": 0}""", 10, 1, "Stop")]
    [InlineData("llm_judge::one", """text:{"score": 1}""", 10, 1, "Stop")]
    [InlineData("input_tokens_zero", "text:" + Megumin, 0, 1, "Stop")]
    [InlineData("output_tokens_zero", "text:" + Megumin, 10, 0, "Stop")]
    [InlineData("input_tokens_output_tokens_zero", "text:" + Megumin, 0, 0, "Stop")]
    [InlineData("input_five_output_six", "text:" + Megumin, 5, 6, "Stop")]
    public void Infer_FixedModels_TensorZerosOutputUsageAndFinishReason(string model, string output, long input, long outputTokens, string finish)
    {
        var response = new DummyModels().Infer(model, Hello, DummyContext.Default);

        string.Join(" | ", response.Output.Select(Describe)).Should().Be(output);
        response.Usage.Should().Be(new Usage(input, outputTokens));
        response.FinishReason.Should().Be(Enum.Parse<FinishReason>(finish));
    }

    [Theory]
    [InlineData("test", DummyModels.MeguminRawResponse)]
    [InlineData("tool", """{"location":"Brooklyn","units":"celsius","usage":{"prompt_tokens":10,"completion_tokens":10,"total_tokens":20}}""")]
    [InlineData("good_tool", """{"sentiment":"positive","confidence":0.95}""")]
    [InlineData("bad_tool", """{"location":"Brooklyn","units":"Celsius"}""")]
    [InlineData("json", """{"answer":"Hello","usage":{"prompt_tokens":10,"completion_tokens":10,"total_tokens":20}}""")]
    [InlineData("json_goodbye", """{"answer":"Goodbye"}""")]
    [InlineData("json_cot", """{"thinking":"hmmm", "response": {"answer":"tokyo!"}}""")]
    [InlineData("best_of_n_big", """{"thinking": "hmmm", "answer_choice": 100}""")]
    [InlineData("json_beatles_1", DummyModels.MeguminRawResponse)]
    public void Infer_RawResponse_TensorZerosFixture(string model, string raw)
    {
        new DummyModels().Infer(model, Hello, DummyContext.Default).RawResponse.Should().Be(raw);
    }

    [Fact]
    public void Infer_DefaultRawResponse_IsTheLegacyCompletionFixture()
    {
        var raw = JsonDocument.Parse(DummyModels.MeguminRawResponse).RootElement;

        raw.GetProperty("choices")[0].GetProperty("text").GetString().Should().Be(Megumin);
        DummyModels.MeguminRawResponse.Should().StartWith("{\n  \"id\": \"id\",\n  \"object\": \"text.completion\",");
    }

    [Fact]
    public void Infer_RandomAnswer_AFreshUuidV7EachCall()
    {
        var models = new DummyModels();

        var answers = Enumerable.Range(0, 2).Select(_ => JsonDocument.Parse(Text(models.Infer("random_answer", Hello, DummyContext.Default)))
            .RootElement.GetProperty("answer").GetString()).ToList();

        answers.Should().OnlyHaveUniqueItems();
        answers.Should().AllSatisfy(a => Guid.Parse(a!).Version.Should().Be(7));
    }

    [Fact]
    public void Infer_Echo_FirstTextOfTheLastUserMessage()
    {
        var request = new ModelRequest
        {
            Messages =
            [
                new ModelMessage(Role.User, [new TextBlock("first")]),
                new ModelMessage(Role.User, [new FileBlock(new FileData { Url = "https://x/y.png" }), new TextBlock("second"), new TextBlock("third")]),
                new ModelMessage(Role.Assistant, [new TextBlock("answer")]),
            ],
        };

        Text(new DummyModels().Infer("echo", request, DummyContext.Default)).Should().Be("second");
        Text(new DummyModels().Infer("echo", new ModelRequest(), DummyContext.Default)).Should().Be("");
    }

    [Fact]
    public void Infer_EchoRequestMessages_SystemAndMessagesAsTensorZeroSerialisesThem()
    {
        var request = new ModelRequest
        {
            System = "You are a helpful assistant",
            Messages =
            [
                new ModelMessage(Role.User, [new TextBlock("bar"), new FileBlock(new FileData { Base64Data = "JVBERi0xLjQK", MimeType = "application/pdf", Filename = "a.pdf" })]),
                new ModelMessage(Role.Assistant, [new ThoughtBlock("hmm") { Signature = "sig" }, new ToolCallBlock("c1", "get_weather", "{}")]),
                new ModelMessage(Role.User, [new ToolResultBlock("c1", "get_weather", "sunny"), new UnknownBlock(Json("""{"x":1}""")) { ModelName = "m" }]),
            ],
        };

        Text(new DummyModels().Infer("echo_request_messages", request, DummyContext.Default)).Should().Be(
            """{"system":"You are a helpful assistant","messages":[{"role":"user","content":[{"type":"text","text":"bar"},{"type":"file","Base64":{"source_url":null,"mime_type":"application/pdf","storage_path":{"kind":{"type":"disabled"},"path":"observability/files/a30de861921c6d19166893434cf738093466b576f1eeb606b7069384dd6224dc.pdf"},"filename":"a.pdf","data":"JVBERi0xLjQK"}}]},{"role":"assistant","content":[{"type":"thought","text":"hmm","signature":"sig"},{"type":"tool_call","id":"c1","name":"get_weather","arguments":"{}"}]},{"role":"user","content":[{"type":"tool_result","name":"get_weather","result":"sunny","id":"c1"},{"type":"unknown","data":{"x":1},"model_name":"m"}]}]}""");
    }

    [Fact]
    public void Infer_EchoRequestMessages_NoSystemIsNull()
    {
        Text(new DummyModels().Infer("echo_request_messages", Hello, DummyContext.Default))
            .Should().Be("""{"system":null,"messages":[{"role":"user","content":[{"type":"text","text":"Hello, world!"}]}]}""");
    }

    [Fact]
    public void Infer_ExtractImages_EveryFileAsALazyFile()
    {
        var request = new ModelRequest
        {
            Messages =
            [
                new ModelMessage(Role.User,
                [
                    new TextBlock("What is this?"),
                    new FileBlock(new FileData { Url = "https://example.com/ferris.png", MimeType = "image/png", Detail = "low" }),
                    new FileBlock(new FileData { Base64Data = "iVBORw0KGgo=", MimeType = "image/png", Detail = "high" }),
                ]),
            ],
        };
        var context = DummyContext.Default with { StorageKind = Json("""{"type":"filesystem","path":"/data"}""") };

        Text(new DummyModels().Infer("extract_images", request, context)).Should().Be(
            """[{"Url":{"file_url":{"url":"https://example.com/ferris.png","mime_type":"image/png","detail":"low","filename":null}}},{"Base64":{"source_url":null,"mime_type":"image/png","storage_path":{"kind":{"type":"filesystem","path":"/data"},"path":"observability/files/5ef05960614e098af20ed250a9c328b8e5a9a6cae9cc3f5695750cd6f4446c79.png"},"detail":"high","data":"iVBORw0KGgo="}}]""");
    }

    [Fact]
    public void Infer_RequirePdf_FilesWithTheirStoragePath()
    {
        var request = new ModelRequest
        {
            Messages =
            [
                new ModelMessage(Role.User,
                [
                    new TextBlock("Output exactly two words describing the image"),
                    new FileBlock(new FileData { Base64Data = "JVBERi0xLjQK", MimeType = "application/pdf", Filename = "test.pdf" }),
                ]),
            ],
        };

        var json = JsonDocument.Parse(Text(new DummyModels().Infer("require_pdf", request, DummyContext.Default))).RootElement;

        // What the openai-node test "should handle multi-block file_base64" checks, for this file's bytes.
        json[0].GetProperty("Base64").GetProperty("storage_path").GetRawText().Should().Be(
            """{"kind":{"type":"disabled"},"path":"observability/files/a30de861921c6d19166893434cf738093466b576f1eeb606b7069384dd6224dc.pdf"}""");
    }

    [Fact]
    public void Infer_RequirePdfWithoutAPdf_Fails()
    {
        var request = new ModelRequest { Messages = [new ModelMessage(Role.User, [new FileBlock(new FileData { Base64Data = "iVBO", MimeType = "image/png" })])] };

        var act = () => new DummyModels().Infer("require_pdf", request, DummyContext.Default);

        act.Should().Throw<DummyProviderException>().Which.Message.Should().Be("PDF must be provided for require_pdf model");
    }

    [Fact]
    public void Infer_EchoExtraInfo_ExtraHeaders_AsTheOpenAINodeTestExpects()
    {
        var context = DummyContext.Default with
        {
            InferenceExtraHeaders = Json("""[{"model_name":"dummy::echo_extra_info","provider_name":"dummy","name":"x-my-extra-header","value":"my-extra-header-value"}]"""),
        };

        Text(new DummyModels().Infer("echo_extra_info", Hello, context)).Should().Be(
            """{"extra_body":{"inference_extra_body":[]},"extra_headers":{"variant_extra_headers":null,"inference_extra_headers":[{"model_name":"dummy::echo_extra_info","provider_name":"dummy","name":"x-my-extra-header","value":"my-extra-header-value"}]}}""");
    }

    [Fact]
    public void Infer_EchoExtraInfo_ExtraBodyAndVariantConfig()
    {
        var context = DummyContext.Default with
        {
            InferenceExtraBody = Json("""[{"model_name":"dummy::echo_extra_info","provider_name":"dummy","pointer":"/thinking","value":{"type":"enabled","budget_tokens":1024}}]"""),
            VariantExtraBody = Json("""[{"pointer":"/a","value":1}]"""),
            VariantExtraHeaders = Json("""[{"name":"x-a","value":"b"}]"""),
        };

        Text(new DummyModels().Infer("echo_extra_info", Hello, context)).Should().Be(
            """{"extra_body":{"extra_body":[{"pointer":"/a","value":1}],"inference_extra_body":[{"model_name":"dummy::echo_extra_info","provider_name":"dummy","pointer":"/thinking","value":{"type":"enabled","budget_tokens":1024}}]},"extra_headers":{"variant_extra_headers":[{"name":"x-a","value":"b"}],"inference_extra_headers":[]}}""");
    }

    [Fact]
    public void Infer_EchoInjectedData_TheBodyAndHeadersTheOperationsLeave()
    {
        var context = DummyContext.Default with
        {
            BodyOperations =
            [
                new ExtraBodyEntry(ExtraEntryFilter.Always, "/thinking/budget_tokens", "1024"),
                new ExtraBodyEntry(ExtraEntryFilter.Always, "/temperature", "0.5"),
                new ExtraBodyEntry(ExtraEntryFilter.Always, "/temperature", null),
            ],
            HeaderOperations =
            [
                new ExtraHeaderEntry(ExtraEntryFilter.Always, "X-Gone", "1"),
                new ExtraHeaderEntry(ExtraEntryFilter.Always, "X-Second", "2"),
                new ExtraHeaderEntry(ExtraEntryFilter.Always, "X-Third", "3"),
                new ExtraHeaderEntry(ExtraEntryFilter.Always, "x-second", "4"),
                new ExtraHeaderEntry(ExtraEntryFilter.Always, "X-GONE", null),
            ],
        };

        // A header set again keeps its place; a deleted one's place goes to the last header (http's HeaderMap).
        Text(new DummyModels().Infer("echo_injected_data", Hello, context)).Should().Be(
            """{"injected_body":{"thinking":{"budget_tokens":1024}},"injected_headers":[["x-third","3"],["x-second","4"]]}""");
    }

    [Fact]
    public void Infer_EchoInjectedDataWithABadPointer_Fails()
    {
        var context = DummyContext.Default with { BodyOperations = [new ExtraBodyEntry(ExtraEntryFilter.Always, "/a/0", "1")] };

        var act = () => new DummyModels().Infer("echo_injected_data", Hello, context);

        act.Should().Throw<DummyProviderException>();
    }

    [Fact]
    public void Infer_MultipleTextBlocks_RequiresTwoTextBlocksInTheFirstMessage()
    {
        var two = new ModelRequest { Messages = [new ModelMessage(Role.User, [new TextBlock("a"), new TextBlock("b")])] };
        var models = new DummyModels();

        Text(models.Infer("multiple-text-blocks", two, DummyContext.Default)).Should().Be(Megumin);
        var act = () => models.Infer("multiple-text-blocks", Hello, DummyContext.Default);
        act.Should().Throw<DummyProviderException>().Which.Message.Should().Be("First message must have exactly two text blocks");
    }

    [Theory]
    [InlineData(null, null, null)]
    [InlineData("KEY", "good_key", null)]
    [InlineData("KEY", "bad_key", "Invalid API key for Dummy provider")]
    [InlineData("KEY", null, "Dynamic api key `KEY` is missing")]
    public void Infer_TestKey_OnlyAGivenKeyOtherThanGoodKeyFails(string? keyName, string? key, string? error)
    {
        var context = DummyContext.Default with { DynamicKeyName = keyName, ApiKey = key };

        var act = () => new DummyModels().Infer("test_key", Hello, context);

        if (error is null)
        {
            act.Should().NotThrow();
        }
        else
        {
            act.Should().Throw<DummyProviderException>().Which.Message.Should().Be(error);
        }
    }

    [Fact]
    public void Infer_MissingDynamicKey_FailsEveryModelAsApiKeyMissing()
    {
        var act = () => new DummyModels().Infer("test", Hello, DummyContext.Default with { DynamicKeyName = "DUMMY_KEY" });

        act.Should().Throw<DummyProviderException>().Which.Kind.Should().Be(DummyErrorKind.ApiKeyMissing);
    }

    [Theory]
    [InlineData("error", "Error sending request to Dummy provider for model 'error'.", null, "raw request", null)]
    [InlineData("error_timeout", "Error sending request to Dummy provider for model 'error_timeout'.", null, "raw request", null)]
    [InlineData("error_with_raw_response", "Error from Dummy provider with raw response", 500, "dummy error raw request", "dummy error raw response")]
    [InlineData("llm_judge::error", "Dummy error in inference", null, "raw request", null)]
    public void Infer_ErrorModels_FailWithTensorZerosMessage(string model, string message, int? status, string rawRequest, string? rawResponse)
    {
        var act = () => new DummyModels().Infer(model, Hello, DummyContext.Default);

        var error = act.Should().Throw<DummyProviderException>().Which;
        error.Message.Should().Be(message);
        error.StatusCode.Should().Be(status);
        error.Kind.Should().Be(DummyErrorKind.Provider);
        error.RawRequest.Should().Be(rawRequest);
        error.RawResponse.Should().Be(rawResponse);
    }

    [Fact]
    public void Infer_Flaky_FailsEverySecondCallPerModelName()
    {
        var models = new DummyModels();
        string? Outcome(string model)
        {
            try
            {
                models.Infer(model, Hello, DummyContext.Default);
                return null;
            }
            catch (DummyProviderException e)
            {
                return e.Message;
            }
        }

        Outcome("flaky_a").Should().BeNull();
        Outcome("flaky_b").Should().BeNull();
        Outcome("flaky_a").Should().Be("Flaky model 'flaky_a' failed on call number 2");
        Outcome("flaky_a").Should().BeNull();
        Outcome("flaky_b").Should().Be("Flaky model 'flaky_b' failed on call number 2");
        Outcome("flaky_a").Should().Be("Flaky model 'flaky_a' failed on call number 4");
        new DummyModels().Infer("flaky_a", Hello, DummyContext.Default).Output.Should().NotBeEmpty("each instance counts its own calls");
    }

    [Theory]
    [InlineData("flaky_with_raw_response", "Provider", "dummy flaky error raw response")]
    [InlineData("flaky_model", "Provider", null)]
    [InlineData("flaky_rate_limit", "RateLimitExceeded", null)]
    public void Infer_FlakyVariants_KindAndRawResponse(string model, string kind, string? rawResponse)
    {
        var models = new DummyModels();
        models.Infer(model, Hello, DummyContext.Default);

        var act = () => models.Infer(model, Hello, DummyContext.Default);

        var error = act.Should().Throw<DummyProviderException>().Which;
        error.Kind.Should().Be(Enum.Parse<DummyErrorKind>(kind));
        error.RawResponse.Should().Be(rawResponse);
    }

    [Fact]
    public async Task Infer_FlakyFromManyThreads_ExactlyHalfFail()
    {
        var models = new DummyModels();
        var failures = 0;

        await Task.WhenAll(Enumerable.Range(0, 200).Select(_ => Task.Run(() =>
        {
            try
            {
                models.Infer("flaky_parallel", Hello, DummyContext.Default);
            }
            catch (DummyProviderException)
            {
                Interlocked.Increment(ref failures);
            }
        })));

        failures.Should().Be(100);
    }

    [Theory]
    [InlineData("test", 1)]
    [InlineData("slow", 5001)]
    public async Task InferAsync_WaitsAsTensorZerosDummy(string model, int milliseconds)
    {
        var time = new WatchedFakeTimeProvider();

        var task = new DummyModels().InferAsync(model, Hello, DummyContext.Default, time, CancellationToken.None);
        await StreamDriver.RunAsync(task, time);

        (await task).Output.Should().NotBeEmpty();
        time.GetUtcNow().Should().Be(time.Start + TimeSpan.FromMilliseconds(milliseconds));
    }

    [Fact]
    public async Task InferAsync_CancelledWhileSlow_Cancels()
    {
        var time = new FakeTimeProvider();
        using var cts = new CancellationTokenSource();

        var task = new DummyModels().InferAsync("slow", Hello, DummyContext.Default, time, cts.Token);
        time.Advance(TimeSpan.FromSeconds(1));
        await cts.CancelAsync();

        await FluentActions.Awaiting(() => task).Should().ThrowAsync<OperationCanceledException>();
    }
}
