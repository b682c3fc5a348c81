using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using OpenAI.Chat;
using TensorZero.Proxy.Inference;
using TensorZero.Proxy.Tests.TestSupport;

namespace TensorZero.Proxy.Tests.Functional;

/// <summary>
/// The <c>anthropic</c> and <c>google_ai_studio_gemini</c> provider types behind the OpenAI-compatible endpoint, called by the
/// official OpenAI SDK: each fake upstream records the exact wire shape it got and answers in its provider's documented shape.
/// </summary>
public sealed class ProviderTypesEndToEndTests
{
    private const string AnthropicKey = "sk-ant-test-key";
    private const string GeminiKey = "gemini-test-key";
    private const string WeatherParameters = """{"type":"object","properties":{"city":{"type":"string"}},"required":["city"],"additionalProperties":false}""";

    private static readonly Dictionary<string, string> Keys = new() { ["TEST_ANTHROPIC_KEY"] = AnthropicKey, ["TEST_GEMINI_KEY"] = GeminiKey };

    private static string AnthropicProvider(string model, string provider, FakeProvider fake, string modelName = "claude-3-5-haiku-20241022") => $"""

        [models.{model}.providers.{provider}]
        type = "anthropic"
        model_name = "{modelName}"
        api_base = "{fake.BaseUrl}/v1/"
        api_key_location = "env::TEST_ANTHROPIC_KEY"

        """;

    private static string GeminiProvider(string model, string provider, FakeProvider fake) => $"""

        [models.{model}.providers.{provider}]
        type = "google_ai_studio_gemini"
        model_name = "gemini-2.0-flash"
        api_base = "{fake.BaseUrl}/v1beta/"
        api_key_location = "env::TEST_GEMINI_KEY"

        """;

    private static string Model(string model, params string[] routing) =>
        $"[models.{model}]\nrouting = [{string.Join(", ", routing.Select(r => $"\"{r}\""))}]\n";

    private static async Task<string> StreamTextAsync(ChatClient client, IEnumerable<ChatMessage> messages)
    {
        var text = new StringBuilder();
        await foreach (var update in client.CompleteChatStreamingAsync(messages))
        {
            foreach (var part in update.ContentUpdate)
            {
                text.Append(part.Text);
            }
        }
        return text.ToString();
    }

    // ------------------------------------------------------------------------------------------------------------------
    // Anthropic
    // ------------------------------------------------------------------------------------------------------------------

    [Fact]
    public async Task Anthropic_Chat_SendsTheMessagesApiShapeAndAnswersInOpenAIsShape()
    {
        await using var fake = await FakeProvider.StartAsync(FakeAnthropic.Text("Bonjour from Claude"));
        await using var gateway = await TestGateway.StartAsync(Model("claude", "anthropic") + AnthropicProvider("claude", "anthropic", fake), Keys);

        ChatCompletion completion = await OpenAIClients.Chat(gateway, "tensorzero::model_name::claude").CompleteChatAsync(
            [new SystemChatMessage("Be brief."), new UserChatMessage("Hello")], new ChatCompletionOptions { Temperature = 0.5f, MaxOutputTokenCount = 50 });

        completion.Content[0].Text.Should().Be("Bonjour from Claude");
        completion.FinishReason.Should().Be(ChatFinishReason.Stop);
        completion.Usage.InputTokenCount.Should().Be(11);
        completion.Usage.OutputTokenCount.Should().Be(7);
        var received = fake.Received.Should().ContainSingle().Subject;
        received.Method.Should().Be("POST");
        received.Path.Should().Be("/v1/messages");
        received.Header("x-api-key").Should().Be(AnthropicKey);
        received.Header("anthropic-version").Should().Be("2023-06-01");
        received.Header("content-type").Should().Be("application/json");
        received.Header("authorization").Should().BeNull("Anthropic takes its key in x-api-key; the client's key never leaves the gateway");
        Encoding.UTF8.GetString(received.Body).Should().Be(
            """{"model":"claude-3-5-haiku-20241022","messages":[{"role":"user","content":[{"type":"text","text":"Hello"}]}],"max_tokens":50,"stream":false,"system":[{"type":"text","text":"Be brief."}],"temperature":0.5}""");

        var inference = await gateway.Inferences.NextAsync();
        var attempt = inference.Attempts.Should().ContainSingle().Subject;
        attempt.Outcome.Should().Be(AttemptOutcome.Ok);
        attempt.RawRequest!.Value.ToArray().Should().Equal(received.Body);
        attempt.AppliedHeaders.Should().Contain(new KeyValuePair<string, string>("x-api-key", "[redacted]"))
            .And.Contain(new KeyValuePair<string, string>("anthropic-version", "2023-06-01"));
        inference.Typed!.Result!.ProviderType.Should().Be("anthropic");
        inference.Typed.Result.Usage.Should().Be(new TensorZero.Proxy.Functions.Usage(11, 7));
        inference.Typed.Result.RawResponse.Should().Contain("\"msg_fake\"");
    }

    [Fact]
    public async Task Anthropic_Streaming_NamedEventsBecomeOpenAIChunks()
    {
        await using var fake = await FakeProvider.StartAsync(FakeAnthropic.Text("one two three"));
        await using var gateway = await TestGateway.StartAsync(Model("claude", "anthropic") + AnthropicProvider("claude", "anthropic", fake), Keys);

        var text = await StreamTextAsync(OpenAIClients.Chat(gateway, "tensorzero::model_name::claude"), [new UserChatMessage("Count")]);

        text.Should().Be("one two three");
        var body = fake.Received.Should().ContainSingle().Subject.Json;
        body.GetProperty("stream").GetBoolean().Should().BeTrue();
        var inference = await gateway.Inferences.NextAsync();
        inference.Attempts.Should().ContainSingle().Which.Outcome.Should().Be(AttemptOutcome.Ok);
        inference.Typed!.Result!.Usage.Should().Be(new TensorZero.Proxy.Functions.Usage(11, 7), "input from message_start, output from message_delta");
        inference.Typed.Result.FinishReason.Should().Be(TensorZero.Proxy.Functions.FinishReason.Stop);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Anthropic_ToolCallRoundTrip_ToolUseOutToolResultBack(bool stream)
    {
        await using var fake = await FakeProvider.StartAsync(FakeAnthropic.ToolUse("toolu_01", "get_weather", """{"city":"Paris"}"""));
        await using var gateway = await TestGateway.StartAsync(Model("claude", "anthropic") + AnthropicProvider("claude", "anthropic", fake), Keys);
        var client = OpenAIClients.Chat(gateway, "tensorzero::model_name::claude");
        var options = new ChatCompletionOptions { Tools = { ChatTool.CreateFunctionTool("get_weather", "Weather of a city", BinaryData.FromString(WeatherParameters)) } };

        string id, name, arguments;
        if (!stream)
        {
            ChatCompletion completion = await client.CompleteChatAsync([new UserChatMessage("Weather in Paris?")], options);
            completion.FinishReason.Should().Be(ChatFinishReason.ToolCalls);
            var call = completion.ToolCalls.Should().ContainSingle().Subject;
            (id, name, arguments) = (call.Id, call.FunctionName, call.FunctionArguments.ToString());
        }
        else
        {
            var builder = new StringBuilder();
            (id, name) = ("", "");
            await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage("Weather in Paris?")], options))
            {
                foreach (var piece in update.ToolCallUpdates)
                {
                    // Later deltas carry no id and an empty name (TensorZero's chunks).
                    id = string.IsNullOrEmpty(piece.ToolCallId) ? id : piece.ToolCallId;
                    name = string.IsNullOrEmpty(piece.FunctionName) ? name : piece.FunctionName;
                    builder.Append(piece.FunctionArgumentsUpdate?.ToString());
                }
            }
            arguments = builder.ToString();
        }

        id.Should().Be("toolu_01");
        name.Should().Be("get_weather");
        JsonDocument.Parse(arguments).RootElement.GetProperty("city").GetString().Should().Be("Paris");
        var first = fake.Received[0].Json;
        first.GetProperty("tools").GetRawText().Should().Be(
            """[{"name":"get_weather","description":"Weather of a city","input_schema":""" + WeatherParameters + ""","strict":false}]""");
        first.GetProperty("tool_choice").GetRawText().Should().Be("""{"type":"auto","disable_parallel_tool_use":false}""");

        fake.Script = FakeAnthropic.Text("It is sunny.");
        ChatCompletion answer = await client.CompleteChatAsync(
            [
                new UserChatMessage("Weather in Paris?"),
                new AssistantChatMessage([ChatToolCall.CreateFunctionToolCall(id, name, BinaryData.FromString(arguments))]),
                new ToolChatMessage(id, "sunny, 24C"),
            ],
            options);

        answer.Content[0].Text.Should().Be("It is sunny.");
        fake.Received[1].Json.GetProperty("messages").GetRawText().Should().Be(
            """[{"role":"user","content":[{"type":"text","text":"Weather in Paris?"}]},{"role":"assistant","content":[{"type":"tool_use","id":"toolu_01","name":"get_weather","input":{"city":"Paris"}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_01","content":[{"type":"text","text":"\"sunny, 24C\""}]}]}]""",
            "TensorZero keeps a tool message's content as JSON text: a string arrives quoted");
    }

    [Fact]
    public async Task Anthropic_Image_Base64Source()
    {
        await using var fake = await FakeProvider.StartAsync(FakeAnthropic.Text("A red dot."));
        await using var gateway = await TestGateway.StartAsync(Model("claude", "anthropic") + AnthropicProvider("claude", "anthropic", fake), Keys);
        var png = new byte[] { 0x89, 0x50, 0x4E, 0x47, 1, 2, 3 };

        ChatCompletion completion = await OpenAIClients.Chat(gateway, "tensorzero::model_name::claude").CompleteChatAsync(
            [new UserChatMessage(ChatMessageContentPart.CreateTextPart("What is it?"), ChatMessageContentPart.CreateImagePart(BinaryData.FromBytes(png), "image/png"))]);

        completion.Content[0].Text.Should().Be("A red dot.");
        fake.Received.Should().ContainSingle().Subject.Json.GetProperty("messages")[0].GetProperty("content").GetRawText().Should().Be(
            """[{"type":"text","text":"What is it?"},{"type":"image","source":{"type":"base64","media_type":"image/png","data":""" + $"\"{Convert.ToBase64String(png)}\"" + "}}]");
    }

    [Theory]
    [InlineData(400, "invalid_request_error")]
    [InlineData(529, "overloaded_error")]
    public async Task Anthropic_ErrorStatus_FailsOverToOpenAI(int status, string type)
    {
        await using var anthropic = await FakeProvider.StartAsync(FakeAnthropic.Error(status, type, "nope"));
        await using var openai = await FakeProvider.StartAsync(FakeResponses.Default("openai answered"));
        var toml = Model("mixed", "anthropic", "openai") + AnthropicProvider("mixed", "anthropic", anthropic)
            + TestConfigs.OpenAIProvider("mixed", "openai", openai.BaseUrl);
        await using var gateway = await TestGateway.StartAsync(toml, Keys);

        ChatCompletion completion = await OpenAIClients.Chat(gateway, "tensorzero::model_name::mixed").CompleteChatAsync([new UserChatMessage("Hi")]);

        completion.Content[0].Text.Should().Be("openai answered");
        var inference = await gateway.Inferences.NextAsync();
        inference.Attempts.Select(a => a.Provider).Should().Equal("anthropic", "openai");
        inference.Attempts[0].Outcome.Should().Be(AttemptOutcome.Status);
        inference.Attempts[0].StatusCode.Should().Be(status);
        openai.Received.Should().ContainSingle().Which.Json.GetProperty("messages")[0].GetProperty("content").GetString().Should().Be("Hi");
    }

    [Fact]
    public async Task Anthropic_StreamErrorEventBeforeAnyContent_FailsOver()
    {
        // Anthropic reports overload inside a 200 stream: message_start, then an error event. Nothing reached the client yet.
        await using var anthropic = await FakeProvider.StartAsync(async (context, request) =>
        {
            context.Response.ContentType = "text/event-stream";
            await FakeAnthropic.Event(context, "message_start", new { type = "message_start", message = new { id = "m", usage = new { input_tokens = 3, output_tokens = 1 } } });
            await FakeAnthropic.Event(context, "error", new { type = "error", error = new { type = "overloaded_error", message = "Overloaded" } });
        });
        await using var openai = await FakeProvider.StartAsync(FakeResponses.Default("openai streamed"));
        var toml = Model("mixed", "anthropic", "openai") + AnthropicProvider("mixed", "anthropic", anthropic)
            + TestConfigs.OpenAIProvider("mixed", "openai", openai.BaseUrl);
        await using var gateway = await TestGateway.StartAsync(toml, Keys);

        var text = await StreamTextAsync(OpenAIClients.Chat(gateway, "tensorzero::model_name::mixed"), [new UserChatMessage("Hi")]);

        text.Should().Be("openai streamed");
        var inference = await gateway.Inferences.NextAsync();
        inference.Attempts.Select(a => a.Provider).Should().Equal("anthropic", "openai");
        inference.Attempts[0].Error.Should().Contain("Overloaded");
    }

    [Fact]
    public async Task Anthropic_OnlyProviderFails_OpenAIShapedErrorNamingTheAttempt()
    {
        await using var fake = await FakeProvider.StartAsync(FakeAnthropic.Error(401, "authentication_error", "invalid x-api-key"));
        await using var gateway = await TestGateway.StartAsync(Model("claude", "anthropic") + AnthropicProvider("claude", "anthropic", fake), Keys);

        var response = await gateway.Client.PostAsJsonAsync("/openai/v1/chat/completions",
            new { model = "tensorzero::model_name::claude", messages = new[] { new { role = "user", content = "Hi" } } });

        ((int)response.StatusCode).Should().BeGreaterThanOrEqualTo(500);
        var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
        error.GetProperty("message").GetString().Should().Contain("anthropic").And.Contain("401");
    }

    [Fact]
    public async Task Anthropic_DynamicCredential_SentAsXApiKey()
    {
        await using var fake = await FakeProvider.StartAsync(FakeAnthropic.Text("ok"));
        var toml = Model("claude", "anthropic") + AnthropicProvider("claude", "anthropic", fake)
            .Replace("env::TEST_ANTHROPIC_KEY", "dynamic::anthropic_key", StringComparison.Ordinal);
        await using var gateway = await TestGateway.StartAsync(toml);

        var response = await gateway.Client.PostAsJsonAsync("/openai/v1/chat/completions", new Dictionary<string, object>
        {
            ["model"] = "tensorzero::model_name::claude",
            ["messages"] = new[] { new { role = "user", content = "Hi" } },
            ["tensorzero::credentials"] = new Dictionary<string, string> { ["anthropic_key"] = "sk-ant-per-request" },
        });

        response.StatusCode.Should().Be(HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        var received = fake.Received.Should().ContainSingle().Subject;
        received.Header("x-api-key").Should().Be("sk-ant-per-request");
        received.Header("anthropic-version").Should().Be("2023-06-01");
    }

    [Fact]
    public async Task Anthropic_IncludeRawUsage_TheProvidersUsageObject()
    {
        await using var fake = await FakeProvider.StartAsync(FakeAnthropic.Text("ok"));
        await using var gateway = await TestGateway.StartAsync(Model("claude", "anthropic") + AnthropicProvider("claude", "anthropic", fake), Keys);

        var response = await gateway.Client.PostAsJsonAsync("/openai/v1/chat/completions", new Dictionary<string, object>
        {
            ["model"] = "tensorzero::model_name::claude",
            ["messages"] = new[] { new { role = "user", content = "Hi" } },
            ["tensorzero::include_raw_usage"] = true,
        });

        response.StatusCode.Should().Be(HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        var entry = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("tensorzero_raw_usage").EnumerateArray().Should().ContainSingle().Subject;
        entry.GetProperty("provider_type").GetString().Should().Be("anthropic");
        entry.GetProperty("data").GetRawText().Should().Be("""{"input_tokens":11,"output_tokens":7}""");
    }

    [Fact]
    public async Task Anthropic_FunctionVariant_TakesTheTypedPath()
    {
        await using var fake = await FakeProvider.StartAsync(FakeAnthropic.Text("from a variant"));
        var toml = Model("claude", "anthropic") + AnthropicProvider("claude", "anthropic", fake) + TestConfigs.SingleVariantFunction("chat", "claude");
        await using var gateway = await TestGateway.StartAsync(toml, Keys);

        ChatCompletion completion = await OpenAIClients.Chat(gateway, "tensorzero::function_name::chat").CompleteChatAsync([new UserChatMessage("Hi")]);

        completion.Content[0].Text.Should().Be("from a variant");
        fake.Received.Should().ContainSingle().Which.Path.Should().Be("/v1/messages");
    }

    [Fact]
    public async Task Anthropic_NativeInference_ContentBlocksAndUsage()
    {
        await using var fake = await FakeProvider.StartAsync(FakeAnthropic.Text("native answer"));
        await using var gateway = await TestGateway.StartAsync(Model("claude", "anthropic") + AnthropicProvider("claude", "anthropic", fake), Keys);

        using var response = await gateway.Client.PostAsync("/inference", new StringContent(
            """{"model_name":"claude","input":{"system":"Be brief.","messages":[{"role":"user","content":"Hi"}]}}""", Encoding.UTF8, "application/json"));

        response.StatusCode.Should().Be(HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        body.GetProperty("content")[0].GetProperty("text").GetString().Should().Be("native answer");
        body.GetProperty("usage").GetProperty("input_tokens").GetInt64().Should().Be(11);
        body.GetProperty("usage").GetProperty("output_tokens").GetInt64().Should().Be(7);
        fake.Received.Should().ContainSingle().Which.Json.GetProperty("system").GetRawText().Should().Be("""[{"type":"text","text":"Be brief."}]""");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Anthropic_JsonFunctionModeOn_PrefillsAndRestoresTheBrace(bool stream)
    {
        using var files = new TempDirectory();
        var schema = files.Write("schema.json", """{"type":"object","properties":{"answer":{"type":"string"}},"required":["answer"]}""");
        await using var fake = await FakeProvider.StartAsync(FakeAnthropic.Text("\"answer\": \"42\"}"));
        var toml = Model("claude", "anthropic") + AnthropicProvider("claude", "anthropic", fake) + $$"""

            [functions.extract]
            type = "json"
            output_schema = "{{schema}}"

            [functions.extract.variants.v]
            type = "chat_completion"
            model = "claude"
            json_mode = "on"
            """;
        await using var gateway = await TestGateway.StartAsync(toml, Keys);
        var client = OpenAIClients.Chat(gateway, "tensorzero::function_name::extract");

        var text = stream
            ? await StreamTextAsync(client, [new UserChatMessage("The answer?")])
            : (await client.CompleteChatAsync([new UserChatMessage("The answer?")])).Value.Content[0].Text;

        JsonDocument.Parse(text).RootElement.GetProperty("answer").GetString().Should().Be("42");
        var messages = fake.Received.Should().ContainSingle().Subject.Json.GetProperty("messages");
        messages[messages.GetArrayLength() - 1].GetRawText().Should().Be(
            """{"role":"assistant","content":[{"type":"text","text":"Here is the JSON requested:\n{"}]}""");
    }

    // ------------------------------------------------------------------------------------------------------------------
    // Google AI Studio Gemini
    // ------------------------------------------------------------------------------------------------------------------

    [Fact]
    public async Task Gemini_Chat_SendsGenerateContentAndAnswersInOpenAIsShape()
    {
        await using var fake = await FakeProvider.StartAsync(FakeGemini.Text("Hello from Gemini"));
        await using var gateway = await TestGateway.StartAsync(Model("gemini", "google") + GeminiProvider("gemini", "google", fake), Keys);

        ChatCompletion completion = await OpenAIClients.Chat(gateway, "tensorzero::model_name::gemini").CompleteChatAsync(
            [new SystemChatMessage("Be brief."), new UserChatMessage("Hello")], new ChatCompletionOptions { Temperature = 0.5f, MaxOutputTokenCount = 50 });

        completion.Content[0].Text.Should().Be("Hello from Gemini");
        completion.FinishReason.Should().Be(ChatFinishReason.Stop);
        completion.Usage.InputTokenCount.Should().Be(9);
        completion.Usage.OutputTokenCount.Should().Be(4);
        var received = fake.Received.Should().ContainSingle().Subject;
        received.Path.Should().Be("/v1beta/models/gemini-2.0-flash:generateContent");
        received.Query.Should().BeEmpty();
        received.Header("x-goog-api-key").Should().Be(GeminiKey);
        received.Header("authorization").Should().BeNull();
        Encoding.UTF8.GetString(received.Body).Should().Be(
            """{"contents":[{"role":"user","parts":[{"text":"Hello"}]}],"generationConfig":{"temperature":0.5,"maxOutputTokens":50},"systemInstruction":{"role":"model","parts":[{"text":"Be brief."}]}}""");
        var inference = await gateway.Inferences.NextAsync();
        inference.Typed!.Result!.ProviderType.Should().Be("google_ai_studio_gemini");
        inference.Attempts.Should().ContainSingle().Which.AppliedHeaders.Should().Contain(
            new KeyValuePair<string, string>("x-goog-api-key", "[redacted]"), "a credential is never stored");
    }

    [Fact]
    public async Task Gemini_Streaming_UsesTheStreamEndpoint()
    {
        await using var fake = await FakeProvider.StartAsync(FakeGemini.Text("alpha beta gamma"));
        await using var gateway = await TestGateway.StartAsync(Model("gemini", "google") + GeminiProvider("gemini", "google", fake), Keys);

        var text = await StreamTextAsync(OpenAIClients.Chat(gateway, "tensorzero::model_name::gemini"), [new UserChatMessage("Go")]);

        text.Should().Be("alpha beta gamma");
        var received = fake.Received.Should().ContainSingle().Subject;
        received.Path.Should().Be("/v1beta/models/gemini-2.0-flash:streamGenerateContent");
        received.Query.Should().Be("?alt=sse");
        received.Header("x-goog-api-key").Should().Be(GeminiKey);
        var inference = await gateway.Inferences.NextAsync();
        inference.Typed!.Result!.Usage.Should().Be(new TensorZero.Proxy.Functions.Usage(9, 4));
    }

    [Fact]
    public async Task Gemini_ToolCall_FunctionDeclarationsOutToolCallBack()
    {
        await using var fake = await FakeProvider.StartAsync(FakeGemini.FunctionCall("get_weather", """{"city":"Rome"}"""));
        await using var gateway = await TestGateway.StartAsync(Model("gemini", "google") + GeminiProvider("gemini", "google", fake), Keys);
        var options = new ChatCompletionOptions { Tools = { ChatTool.CreateFunctionTool("get_weather", "Weather of a city", BinaryData.FromString(WeatherParameters)) } };
        var client = OpenAIClients.Chat(gateway, "tensorzero::model_name::gemini");

        ChatCompletion completion = await client.CompleteChatAsync([new UserChatMessage("Weather in Rome?")], options);

        var call = completion.ToolCalls.Should().ContainSingle().Subject;
        call.FunctionName.Should().Be("get_weather");
        call.FunctionArguments.ToString().Should().Be("""{"city":"Rome"}""");
        var body = fake.Received[0].Json;
        body.GetProperty("tools").GetRawText().Should().Be(
            """[{"functionDeclarations":[{"name":"get_weather","description":"Weather of a city","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}]}]""");
        body.GetProperty("toolConfig").GetRawText().Should().Be("""{"functionCallingConfig":{"mode":"auto"}}""");

        fake.Script = FakeGemini.Text("Sunny in Rome.");
        ChatCompletion answer = await client.CompleteChatAsync(
            [new UserChatMessage("Weather in Rome?"), new AssistantChatMessage([ChatToolCall.CreateFunctionToolCall(call.Id, call.FunctionName, call.FunctionArguments)]), new ToolChatMessage(call.Id, "sunny")],
            options);

        answer.Content[0].Text.Should().Be("Sunny in Rome.");
        fake.Received[1].Json.GetProperty("contents").GetRawText().Should().Be(
            """[{"role":"user","parts":[{"text":"Weather in Rome?"}]},{"role":"model","parts":[{"function_call":{"name":"get_weather","args":{"city":"Rome"}}}]},{"role":"user","parts":[{"function_response":{"name":"get_weather","response":{"name":"get_weather","content":"\"sunny\""}}}]}]""");
    }

    [Fact]
    public async Task Gemini_JsonFunctionStrict_ResponseSchemaWithoutRejectedKeywords()
    {
        using var files = new TempDirectory();
        var schema = files.Write("schema.json", """{"type":"object","properties":{"answer":{"type":"string"}},"required":["answer"],"additionalProperties":false}""");
        await using var fake = await FakeProvider.StartAsync(FakeGemini.Text("""{"answer":"42"}"""));
        var toml = Model("gemini", "google") + GeminiProvider("gemini", "google", fake) + $$"""

            [functions.extract]
            type = "json"
            output_schema = "{{schema}}"

            [functions.extract.variants.v]
            type = "chat_completion"
            model = "gemini"
            json_mode = "strict"
            """;
        await using var gateway = await TestGateway.StartAsync(toml, Keys);

        ChatCompletion completion = await OpenAIClients.Chat(gateway, "tensorzero::function_name::extract").CompleteChatAsync([new UserChatMessage("The answer?")]);

        completion.Content[0].Text.Should().Be("""{"answer":"42"}""");
        fake.Received.Should().ContainSingle().Subject.Json.GetProperty("generationConfig").GetRawText().Should().Be(
            """{"responseMimeType":"application/json","responseSchema":{"type":"object","properties":{"answer":{"type":"string"}},"required":["answer"]}}""");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task OpenAI503_FailsOverToGemini(bool stream)
    {
        await using var openai = await FakeProvider.StartAsync((context, _) => FakeResponses.Status(context, 503));
        await using var gemini = await FakeProvider.StartAsync(FakeGemini.Text("gemini took over"));
        var toml = Model("mixed", "openai", "google") + TestConfigs.OpenAIProvider("mixed", "openai", openai.BaseUrl) + GeminiProvider("mixed", "google", gemini);
        await using var gateway = await TestGateway.StartAsync(toml, Keys);
        var client = OpenAIClients.Chat(gateway, "tensorzero::model_name::mixed");

        var text = stream
            ? await StreamTextAsync(client, [new UserChatMessage("Hi")])
            : (await client.CompleteChatAsync([new UserChatMessage("Hi")])).Value.Content[0].Text;

        text.Should().Be("gemini took over");
        openai.Received.Should().ContainSingle().Which.Json.GetProperty("messages")[0].GetProperty("content").GetString().Should().Be("Hi");
        gemini.Received.Should().ContainSingle().Which.Path.Should().EndWith(stream ? ":streamGenerateContent" : ":generateContent");
        var inference = await gateway.Inferences.NextAsync();
        inference.Attempts.Select(a => (a.Provider, a.Outcome)).Should().Equal(("openai", AttemptOutcome.Status), ("google", AttemptOutcome.Ok));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Anthropic500_FailsOverToGemini(bool stream)
    {
        await using var anthropic = await FakeProvider.StartAsync(FakeAnthropic.Error(500, "api_error", "boom"));
        await using var gemini = await FakeProvider.StartAsync(FakeGemini.Text("gemini again"));
        var toml = Model("mixed", "anthropic", "google") + AnthropicProvider("mixed", "anthropic", anthropic) + GeminiProvider("mixed", "google", gemini);
        await using var gateway = await TestGateway.StartAsync(toml, Keys);
        var client = OpenAIClients.Chat(gateway, "tensorzero::model_name::mixed");

        var text = stream
            ? await StreamTextAsync(client, [new UserChatMessage("Hi")])
            : (await client.CompleteChatAsync([new UserChatMessage("Hi")])).Value.Content[0].Text;

        text.Should().Be("gemini again");
        anthropic.Received.Should().ContainSingle();
        var inference = await gateway.Inferences.NextAsync();
        inference.Attempts.Select(a => a.Outcome).Should().Equal(AttemptOutcome.Status, AttemptOutcome.Ok);
    }

    [Fact]
    public async Task Gemini_ErrorStatus_FailsOverToAnthropic()
    {
        await using var gemini = await FakeProvider.StartAsync(FakeGemini.Error(400, "API key not valid"));
        await using var anthropic = await FakeProvider.StartAsync(FakeAnthropic.Text("claude here"));
        var toml = Model("mixed", "google", "anthropic") + GeminiProvider("mixed", "google", gemini) + AnthropicProvider("mixed", "anthropic", anthropic);
        await using var gateway = await TestGateway.StartAsync(toml, Keys);

        var text = await StreamTextAsync(OpenAIClients.Chat(gateway, "tensorzero::model_name::mixed"), [new UserChatMessage("Hi")]);

        text.Should().Be("claude here");
        gemini.Received.Should().ContainSingle();
    }
}
