using System.Text;
using System.Text.Json;
using TensorZero.Proxy.Functions;
using TensorZero.Proxy.Inference;

namespace TensorZero.Proxy.Tests.Inference;

public sealed class OpenAICompatibleRequestReaderTests
{
    private const string Hello = """[{"role":"user","content":"Hello"}]""";

    private static TypedInferenceRequest Read(string json)
    {
        OpenAICompatibleRequestReader.TryRead(Encoding.UTF8.GetBytes(json), out var request, out var error)
            .Should().BeTrue(error?.Message);
        return request!;
    }

    private static RequestError Fail(string json)
    {
        OpenAICompatibleRequestReader.TryRead(Encoding.UTF8.GetBytes(json), out var request, out var error).Should().BeFalse();
        request.Should().BeNull();
        return error!;
    }

    private static TypedInferenceRequest ReadMessages(string messages) =>
        Read($$"""{"model":"tensorzero::model_name::m","messages":{{messages}}}""");

    private static string Json(JsonElement element) => element.GetRawText();

    // -----------------------------------------------------------------------------------------------------------------
    // model
    // -----------------------------------------------------------------------------------------------------------------

    [Theory]
    [InlineData("tensorzero::function_name::basic_test", "basic_test", null, null)]
    [InlineData("tensorzero::model_name::openai::gpt-4o-mini", null, "openai::gpt-4o-mini", null)]
    [InlineData("tensorzero::model_name::dummy::echo", null, "dummy::echo", null)]
    [InlineData("chatgpt", null, null, "chatgpt")]
    [InlineData("gpt-4o", null, null, "gpt-4o")]
    [InlineData("tensorzero::other", null, null, "tensorzero::other")]
    public void TryRead_ModelForms_NameTheTarget(string model, string? function, string? modelName, string? plain)
    {
        var request = Read($$"""{"model":"{{model}}","messages":{{Hello}}}""");

        request.Endpoint.Should().Be(InferenceEndpoint.OpenAICompatible);
        request.FunctionName.Should().Be(function);
        request.ModelName.Should().Be(modelName);
        request.PlainName.Should().Be(plain);
    }

    [Fact]
    public void ModelFieldPrefixMessage_IsTensorZerosWording()
    {
        OpenAICompatibleRequestReader.ModelFieldPrefixMessage.Should().MatchRegex("`model` field must start with");
    }

    // The fragments TensorZero's openai-node tests look for (openai-compatibility.test.ts) and the other request errors.
    [Theory]
    [InlineData("""{"model":"tensorzero::function_name::","messages":[]}""", "function_name.*cannot be empty")]
    [InlineData("""{"model":"tensorzero::model_name::","messages":[]}""", "model_name \\(passed in model field after \"tensorzero::model_name::\"\\) cannot be empty")]
    [InlineData("""{"messages":[]}""", "^missing field `model`$")]
    [InlineData("""{"model":"m"}""", "^missing field `messages`$")]
    [InlineData("""{"model":1,"messages":[]}""", "^model: invalid type: integer `1`, expected a string$")]
    [InlineData("""{"model":"m","messages":[],"n":2}""", "TensorZero does not support `n` other than 1")]
    [InlineData("""{"model":"tensorzero::model_name::m","messages":[],"tensorzero::variant_name":"v"}""", "^Invalid inference target: `variant_name` cannot be provided when using `model_name`$")]
    [InlineData("""{"model":"m","messages":[],"temperature":"hot"}""", "^temperature: invalid type: string \"hot\", expected f32$")]
    [InlineData("""{"model":"m","messages":[],"max_tokens":-1}""", "^max_tokens: invalid value: integer `-1`, expected u32$")]
    [InlineData("""{"model":"m","messages":[],"seed":1.5}""", "^seed: invalid type: floating point `1.5`, expected u32$")]
    [InlineData("""{"model":"m","messages":[],"service_tier":"fast"}""", "service_tier: unknown variant `fast`, expected one of `auto`, `default`, `priority`, `flex`")]
    [InlineData("""{"model":"m","messages":[],"stream":"yes"}""", "^stream: invalid type: string \"yes\", expected a boolean$")]
    [InlineData("""{"model":"m","messages":[],"tensorzero::deny_unknown_fields":true,"zeta":1,"alpha":2}""",
        "`tensorzero::deny_unknown_fields` is set to true, but found unknown fields in the request: \\[alpha, zeta\\]")]
    [InlineData("""{"model":"m","messages":[],"stream":true,"stream_options":{"include_usage":false},"tensorzero::include_raw_usage":true}""",
        "`tensorzero::include_raw_usage` requires `stream_options.include_usage` to be true")]
    [InlineData("""{"model":"m","messages":[],"tensorzero::include_raw_response":null}""", "tensorzero::include_raw_response: invalid type: null, expected a boolean")]
    [InlineData("""{"model":"m","messages":[],"tensorzero::tags":null}""", "tensorzero::tags: invalid type: null, expected a map")]
    [InlineData("""{"model":"m","messages":[],"tensorzero::namespace":""}""", "Namespace identifier cannot be empty")]
    [InlineData("""{"model":"m","messages":[],"tensorzero::params":{}}""", "tensorzero::params: missing field `chat_completion`")]
    [InlineData("""{"model":"m","messages":[],"tensorzero::params":{"chat_completion":{"temprature":1}}}""", "tensorzero::params.chat_completion: unknown field `temprature`")]
    [InlineData("""{"model":"m","messages":[],"tensorzero::params":{"chat_completion":{"json_mode":"maybe"}}}""", "json_mode: unknown variant `maybe`")]
    [InlineData("""{"model":"m","messages":[],"tensorzero::cache_options":{"enabled":"sometimes"}}""", "tensorzero::cache_options.enabled: unknown variant `sometimes`")]
    [InlineData("""{"model":"m","messages":[],"tensorzero::credentials":{"k":1}}""", "tensorzero::credentials.k: invalid type: integer `1`, expected a string")]
    [InlineData("""{"model":"m","messages":[],"response_format":{"type":"xml"}}""", "response_format: unknown variant `xml`")]
    [InlineData("""{"model":"m","messages":[],"response_format":{"type":"json_schema","json_schema":{}}}""", "response_format.json_schema: missing field `name`")]
    [InlineData("""{"model":"m","messages":[],"tools":[{"type":"function","function":{"name":"f"}}]}""", "tools\\[0\\].function: missing field `parameters`")]
    [InlineData("""{"model":"m","messages":[],"tools":[{"type":"web"}]}""", "tools\\[0\\]: unknown variant `web`, expected `function` or `custom`")]
    [InlineData("""{"model":"m","messages":[],"tools":[{"type":"custom","custom":{"name":"c","extra":1}}]}""", "tools\\[0\\].custom: unknown field `extra`")]
    [InlineData("""{"model":"m","messages":[],"tool_choice":"sometimes"}""", "tool_choice: Invalid tool choice string: sometimes")]
    [InlineData("""{"model":"m","messages":[],"tool_choice":{"function":{"name":"f"}}}""", "Tool choice field must have a 'type' field if it is an object")]
    [InlineData("""{"model":"m","messages":[],"tool_choice":{"type":"magic"}}""", "Invalid tool choice type: magic")]
    [InlineData("""{"model":"m","messages":[],"tool_choice":{"type":"allowed_tools"}}""", "Missing 'allowed_tools' field in allowed_tools type")]
    [InlineData("""{"model":"m","messages":[],"tool_choice":1}""", "Tool choice must be a string or object")]
    [InlineData("""{"model":"m","messages":[{"role":"robot","content":"x"}]}""", "messages\\[0\\]: unknown variant `robot`")]
    [InlineData("""{"model":"m","messages":[{"content":"x"}]}""", "messages\\[0\\]: missing field `role`")]
    [InlineData("""{"model":"m","messages":[{"role":"user"}]}""", "messages\\[0\\]: missing field `content`")]
    [InlineData("""{"model":"m","messages":[{"role":"tool","content":"x"}]}""", "messages\\[0\\]: missing field `tool_call_id`")]
    [InlineData("""{"model":"m","messages":[{"role":"assistant","tool_calls":[{"id":"1","type":"function","function":{"name":"f"}}]}]}""",
        "messages\\[0\\].tool_calls\\[0\\].function: missing field `arguments`")]
    [InlineData("""{"model":"m","messages":[{"role":"assistant","content":"x","tensorzero_extra_content":[{"type":"dream"}]}]}""",
        "messages\\[0\\].tensorzero_extra_content\\[0\\]: unknown variant `dream`, expected `thought` or `unknown`")]
    [InlineData("""[]""", "invalid type: sequence, expected struct OpenAICompatibleParams")]
    [InlineData("""{"model":"m",""", "Failed to parse the request body as JSON")]
    public void TryRead_BadBody_FailsWithTensorZerosMessage(string json, string pattern)
    {
        var error = Fail(json);

        error.Status.Should().Be(400);
        error.Code.Should().Be("invalid_request");
        error.Message.Should().MatchRegex(pattern);
    }

    [Theory]
    [InlineData("""{"model":"tensorzero::function_name::","messages":[]}""")]
    [InlineData("""{"model":"m","messages":[],"n":3}""")]
    [InlineData("""{"model":"m","messages":[{"role":"system","content":[{"type":"image_url","image_url":{"url":"https://x/y.png"}}]}]}""")]
    public void TryRead_ConversionErrors_CarryTheEndpointPrefix(string json)
    {
        Fail(json).Message.Should().StartWith("Invalid request to OpenAI-compatible endpoint: ");
    }

    [Fact]
    public void TryRead_ShapeErrorsComeBeforeTheModelCheck()
    {
        // TensorZero deserializes the whole body before it looks at `model`.
        Fail("""{"model":"tensorzero::function_name::","messages":[{"role":"robot"}]}""").Message.Should().Contain("unknown variant `robot`");
    }

    [Fact]
    public void TryRead_ModelCheckComesBeforeTheContent()
    {
        Fail("""{"model":"tensorzero::function_name::","messages":[{"role":"user","content":5}]}""").Message.Should().Contain("cannot be empty");
    }

    [Fact]
    public void TryRead_NEqualToOne_IsAccepted()
    {
        Read("""{"model":"m","messages":[],"n":1}""").PlainName.Should().Be("m");
    }

    // -----------------------------------------------------------------------------------------------------------------
    // Messages
    // -----------------------------------------------------------------------------------------------------------------

    [Fact]
    public void Messages_SystemAndUserStrings_BecomeSystemTextAndUserText()
    {
        var input = ReadMessages("""[{"role":"system","content":"You are a helpful assistant"},{"role":"user","content":"Hello, world!"}]""").Input;

        input.System.Should().Be(new SystemText("You are a helpful assistant"));
        input.Messages.Should().ContainSingle();
        input.Messages[0].Role.Should().Be(Role.User);
        input.Messages[0].Content.Should().Equal(new TextBlock("Hello, world!"));
    }

    [Theory]
    [InlineData("""[{"role":"system","content":"A."},{"role":"system","content":"B."}]""", "A.\nB.")]
    [InlineData("""[{"role":"system","content":[{"type":"text","text":"A."},{"type":"text","text":"B."}]}]""", "A.\nB.")]
    [InlineData("""[{"role":"developer","content":"Dev."}]""", "Dev.")]
    [InlineData("""[{"role":"system","content":[{"type":"tensorzero::raw_text","value":"Raw system text"}]}]""", "Raw system text")]
    [InlineData("""[{"role":"assistant","content":"Hi"},{"role":"system","content":"Late."}]""", "Late.")]
    public void Messages_SystemTexts_JoinWithNewlines(string messages, string expected)
    {
        ReadMessages(messages).Input.System.Should().Be(new SystemText(expected));
    }

    [Theory]
    [InlineData("""[{"role":"system","content":[{"type":"text","tensorzero::arguments":{"assistant_name":"Alfred Pennyworth"}}]}]""", """{"assistant_name":"Alfred Pennyworth"}""")]
    [InlineData("""[{"role":"system","content":[{"type":"tensorzero::template","name":"system","arguments":{"assistant_name":"Jarvis"}}]}]""", """{"assistant_name":"Jarvis"}""")]
    [InlineData("""[{"role":"system","content":[{"assistant_name":"Legacy"}]}]""", """{"assistant_name":"Legacy"}""")]
    public void Messages_SystemTemplate_BecomesSystemArguments(string messages, string arguments)
    {
        var system = ReadMessages(messages).Input.System.Should().BeOfType<SystemArguments>().Subject;

        Json(system.Arguments).Should().Be(arguments);
    }

    [Theory]
    [InlineData("""[{"role":"system","content":[{"type":"text","text":"Hello"},{"type":"text","tensorzero::arguments":{"a":1}}]}]""", "System message cannot contain template with other content")]
    [InlineData("""[{"role":"system","content":"You are helpful."},{"role":"system","content":[{"type":"text","tensorzero::arguments":{"a":1}}]}]""", "System message cannot contain template with other content")]
    [InlineData("""[{"role":"system","content":[{"type":"text","tensorzero::arguments":{"a":1}}]},{"role":"system","content":"You are helpful."}]""", "Cannot add text after template system message")]
    [InlineData("""[{"role":"system","content":[{"type":"image_url","image_url":{"url":"https://example.com/image.jpg"}}]}]""", "System message must contain only text or template content blocks")]
    [InlineData("""[{"role":"user","content":{"country":"Japan"}}]""", "message content must either be a string or an array of length 1 containing structured TensorZero inputs")]
    [InlineData("""[{"role":"user","content":null}]""", "message content must either be a string or an array")]
    [InlineData("""[{"role":"user","content":[{"type":"text","my_custom_arg":123}]}]""", "Invalid content block: Either `text` or `tensorzero::arguments` must be set when using `\"type\": \"text\"`")]
    [InlineData("""[{"role":"user","content":[{"type":"text","text":1}]}]""", "Invalid content block: `text` must be a string when using `\"type\": \"text\"`")]
    [InlineData("""[{"role":"user","content":[{"type":"text","text":"a","tensorzero::arguments":{}}]}]""", "Invalid TensorZero content block: Only one of `text` or `tensorzero::arguments` can be set")]
    [InlineData("""[{"role":"user","content":[{"type":"text","tensorzero::arguments":"x"}]}]""", "Invalid TensorZero content block: `tensorzero::arguments` must be an object")]
    [InlineData("""[{"role":"user","content":[{"type":"video","url":"x"}]}]""", "Invalid content block: unknown variant `video`, expected one of `text`, `image_url`, `file`, `input_audio`, `tensorzero::raw_text`, `tensorzero::template`")]
    [InlineData("""[{"role":"user","content":[{"type":"tensorzero::raw_text","value":"x","extra":1}]}]""", "Invalid content block: unknown field `extra`, expected `type` or `value`")]
    [InlineData("""[{"role":"user","content":[{"type":"tensorzero::template","name":"t"}]}]""", "Invalid content block: missing field `arguments`")]
    [InlineData("""[{"role":"user","content":[{"tensorzero::arguments":{}}]}]""", "Invalid TensorZero content block: missing field `type`")]
    [InlineData("""[{"role":"user","content":["text"]}]""", "Content block `\"text\"` is not an object")]
    [InlineData("""[{"role":"user","content":[{"type":"image_url","image_url":{"url":"not a url"}}]}]""", "Invalid content block: .*expected a URL")]
    [InlineData("""[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://x/y.png","detail":"max"}}]}]""", "unknown variant `max`, expected one of `low`, `high`, `auto`")]
    [InlineData("""[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://x/y.png"},"extra":1}]}]""", "unknown field `extra`, expected `type` or `image_url`")]
    [InlineData("""[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png,AAAA"}}]}]""", "but got a value without the `;base64,` separator")]
    [InlineData("""[{"role":"user","content":[{"type":"file","file":{"file_data":"AAAA"}}]}]""", "but got a value without the `data:` prefix")]
    [InlineData("""[{"role":"user","content":[{"type":"file","file":{"file_data":"data:notamime;base64,AAAA"}}]}]""", "Unknown MIME type `notamime` in data URL")]
    [InlineData("""[{"role":"user","content":[{"type":"file","file":{"file_id":"f-1"}}]}]""", "Invalid content block: missing field `file_data`")]
    [InlineData("""[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"!!","format":"wav"}}]}]""", "Invalid base64 data in input_audio")]
    [InlineData("""[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"AAAAAAAA","format":"wav"}}]}]""", "Could not detect audio format from file content. Format field was: wav")]
    [InlineData("""[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"iVBORw0KGgo=","format":"wav"}}]}]""", "Expected audio file for input_audio, but detected image/png \\(type: image\\)")]
    [InlineData("""[{"role":"tool","tool_call_id":"nope","content":"70"}]""", "tool call id not found")]
    public void Messages_BadContent_FailsWithTensorZerosMessage(string messages, string pattern)
    {
        var error = Fail($$"""{"model":"tensorzero::function_name::f","messages":{{messages}}}""");

        error.Message.Should().StartWith(OpenAICompatibleRequestReader.ErrorPrefix);
        error.Message.Should().MatchRegex(pattern);
    }

    [Fact]
    public void Messages_ContentBlocks_ConvertAsTensorZeroDoes()
    {
        var input = ReadMessages("""
            [{"role":"user","content":[
                {"type":"text","text":"Describe"},
                {"type":"text","tensorzero::arguments":{"country":"Japan"}},
                {"type":"tensorzero::raw_text","value":"raw"},
                {"type":"tensorzero::template","name":"my_template","arguments":{"k":"v"}},
                {"country":"Legacy"},
                {"type":"image_url","image_url":{"url":"https://example.com/ferris.png","detail":"low","tensorzero::mime_type":"image/png"}},
                {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}},
                {"type":"file","file":{"file_data":"data:application/pdf;base64,JVBERi0=","filename":"test.pdf"}},
                {"type":"input_audio","input_audio":{"data":"UklGRgAAAABXQVZFZm10IA==","format":"wav"}},
                {"type":"text","text":"with extra keys","cache_control":{"type":"ephemeral"}}
            ]}]
            """).Input;

        var content = input.Messages.Should().ContainSingle().Subject.Content;
        content.Should().HaveCount(10);
        content[0].Should().Be(new TextBlock("Describe"));
        content[1].Should().BeOfType<TemplateInput>().Which.Name.Should().Be("user");
        Json(((TemplateInput)content[1]).Arguments).Should().Be("""{"country":"Japan"}""");
        content[2].Should().Be(new RawTextInput("raw"));
        content[3].Should().BeOfType<TemplateInput>().Which.Name.Should().Be("my_template");
        content[4].Should().BeOfType<TemplateInput>().Which.Name.Should().Be("user");
        content[5].Should().BeOfType<FileBlock>().Which.File.Should().Be(
            new FileData { Url = "https://example.com/ferris.png", Detail = "low", MimeType = "image/png" });
        content[6].Should().BeOfType<FileBlock>().Which.File.Should().Be(
            new FileData { Base64Data = "iVBORw0KGgo=", MimeType = "image/png" });
        content[7].Should().BeOfType<FileBlock>().Which.File.Should().Be(
            new FileData { Base64Data = "JVBERi0=", MimeType = "application/pdf", Filename = "test.pdf" });
        content[8].Should().BeOfType<FileBlock>().Which.File.Should().Be(
            new FileData { Base64Data = "UklGRgAAAABXQVZFZm10IA==", MimeType = "audio/x-wav" });
        content[9].Should().Be(new TextBlock("with extra keys"));
    }

    [Theory]
    [InlineData("//uQRAAA", "audio/mpeg")]
    [InlineData("SUQzAwAA", "audio/mpeg")]
    [InlineData("T2dnUwACAAAA", "audio/ogg")]
    [InlineData("ZkxhQwAAACI=", "audio/x-flac")]
    public void Messages_InputAudio_TakesTheDetectedMimeType(string data, string mime)
    {
        var content = ReadMessages($$$"""[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"{{{data}}}","format":"mp3"}}]}]""").Input.Messages[0].Content;

        content[0].Should().BeOfType<FileBlock>().Which.File.MimeType.Should().Be(mime);
    }

    [Fact]
    public void Messages_EmptyContentArray_IsAnEmptyMessage()
    {
        ReadMessages("""[{"role":"user","content":[]}]""").Input.Messages[0].Content.Should().BeEmpty();
    }

    [Fact]
    public void Messages_AssistantTextThenToolCalls_KeepThatOrder()
    {
        var content = ReadMessages("""
            [{"role":"assistant","content":"Hello, world!","tool_calls":[{"id":"1","type":"function","function":{"name":"test_tool","arguments":"{}"}}]}]
            """).Input.Messages[0].Content;

        content.Should().Equal(new TextBlock("Hello, world!"), new ToolCallBlock("1", "test_tool", "{}"));
    }

    [Fact]
    public void Messages_AssistantNullContent_HasOnlyToolCalls()
    {
        var message = ReadMessages("""
            [{"role":"assistant","content":null,"refusal":null,"tool_calls":[{"id":"1","type":"function","function":{"name":"t","arguments":"{\"a\":1}"}}]}]
            """).Input.Messages[0];

        message.Role.Should().Be(Role.Assistant);
        message.Content.Should().Equal(new ToolCallBlock("1", "t", "{\"a\":1}"));
    }

    [Fact]
    public void Messages_ToolResults_CoalesceIntoOneUserMessage_WithJsonTextResults()
    {
        var input = ReadMessages("""
            [
              {"role":"assistant","content":"Hello","tool_calls":[{"id":"1","type":"function","function":{"name":"test_tool","arguments":"{}"}}]},
              {"role":"assistant","content":null,"tool_calls":[{"id":"2","type":"function","function":{"name":"test_tool","arguments":"{}"}}]},
              {"role":"assistant","content":null,"tool_calls":[{"id":"3","type":"function","function":{"name":"other","arguments":"{}"}}]},
              {"role":"tool","content":"Tool result 1","tool_call_id":"1"},
              {"role":"tool","content":[{"type":"text","text":"70"}],"tool_call_id":"2"},
              {"role":"user","content":"First message"},
              {"role":"tool","tool_call_id":"3"}
            ]
            """).Input;

        input.Messages.Should().HaveCount(6);
        input.Messages[3].Role.Should().Be(Role.User);
        input.Messages[3].Content.Should().Equal(
            new ToolResultBlock("1", "test_tool", "\"Tool result 1\""),
            new ToolResultBlock("2", "test_tool", """[{"type":"text","text":"70"}]"""));
        input.Messages[4].Content.Should().Equal(new TextBlock("First message"));
        input.Messages[5].Content.Should().Equal(new ToolResultBlock("3", "other", "null"));
    }

    // TensorZero's insert_index rules (chat_completions.rs tests): indexed blocks in ascending index order, clamped to
    // the end; unindexed blocks prepended in their order.
    [Theory]
    [InlineData("\"Hello\"", """[{"type":"thought","text":"T"}]""", "T|text:Hello")]
    [InlineData("\"Hello\"", """[{"type":"thought","text":"A"},{"type":"unknown","data":{"id":"B"}}]""", "A|unknown|text:Hello")]
    [InlineData("\"Hello\"", """[{"type":"thought","insert_index":0,"text":"First at 0"},{"type":"unknown","insert_index":0,"data":{}}]""", "unknown|First at 0|text:Hello")]
    [InlineData("""[{"type":"text","text":"text0"},{"type":"text","text":"text4"},{"type":"text","text":"text5"}]""",
        """[{"type":"thought","insert_index":3,"text":"T3"},{"type":"thought","insert_index":1,"text":"T1"}]""", "text:text0|T1|text:text4|T3|text:text5")]
    [InlineData("\"Hello\"", """[{"type":"thought","insert_index":99,"text":"End"}]""", "text:Hello|End")]
    [InlineData("null", """[{"type":"thought","insert_index":5,"text":"Only"}]""", "Only")]
    [InlineData("\"Hello\"", """[{"type":"thought","insert_index":2,"text":"Last"},{"type":"thought","text":"First"}]""", "First|text:Hello|tool|Last")]
    public void Messages_ExtraContent_InsertsAtTheirIndex(string content, string extra, string expected)
    {
        var toolCalls = expected.Contains("tool", StringComparison.Ordinal) && !expected.Contains("unknown", StringComparison.Ordinal)
            ? ""","tool_calls":[{"id":"c","type":"function","function":{"name":"t","arguments":"{}"}}]"""
            : "";
        var blocks = ReadMessages($$"""[{"role":"assistant","content":{{content}}{{toolCalls}},"tensorzero_extra_content":{{extra}}}]""")
            .Input.Messages[0].Content;

        string.Join("|", blocks.Select(b => b switch
        {
            TextBlock t => "text:" + t.Text,
            ThoughtBlock th => th.Text,
            UnknownBlock => "unknown",
            ToolCallBlock => "tool",
            _ => "?",
        })).Should().Be(expected);
    }

    [Fact]
    public void Messages_ExtraContentFields_AreRead()
    {
        var blocks = ReadMessages("""
            [{"role":"assistant","content":"x","tensorzero_extra_content":[
              {"type":"thought","insert_index":0,"text":"hmm","signature":"sig","summary":[{"type":"summary_text","text":"s"}],"_internal_provider_type":"anthropic","extra_data":{"e":1},"id":"thought-0"},
              {"type":"unknown","insert_index":1,"data":{"custom":"data"},"model_name":"my_model","provider_name":"my_provider","id":"unknown-0"},
              {"type":"unknown","data":null,"model_provider_name":"tensorzero::model_name::m::provider_name::p"}
            ]}]
            """).Input.Messages[0].Content;

        var thought = blocks[1].Should().BeOfType<ThoughtBlock>().Subject;
        thought.Text.Should().Be("hmm");
        thought.Signature.Should().Be("sig");
        thought.ProviderType.Should().Be("anthropic");
        Json(thought.Summary!.Value).Should().Be("""[{"type":"summary_text","text":"s"}]""");
        Json(thought.ExtraData!.Value).Should().Be("""{"e":1}""");
        var unknown = blocks[2].Should().BeOfType<UnknownBlock>().Subject;
        Json(unknown.Data).Should().Be("""{"custom":"data"}""");
        unknown.ModelName.Should().Be("my_model");
        unknown.ProviderName.Should().Be("my_provider");
        var legacy = blocks[0].Should().BeOfType<UnknownBlock>().Subject;
        legacy.ModelName.Should().Be("m");
        legacy.ProviderName.Should().Be("p");
        legacy.Data.ValueKind.Should().Be(JsonValueKind.Null);
    }

    [Fact]
    public void Messages_Order_IsKeptAndSystemMovesToTheFront()
    {
        var input = ReadMessages("""[{"role":"assistant","content":"Assistant message"},{"role":"system","content":"System message"}]""").Input;

        input.System.Should().Be(new SystemText("System message"));
        input.Messages.Should().ContainSingle().Which.Content.Should().Equal(new TextBlock("Assistant message"));
    }

    // -----------------------------------------------------------------------------------------------------------------
    // Parameters, tools, response format
    // -----------------------------------------------------------------------------------------------------------------

    [Fact]
    public void Params_OpenAIFields_BecomeSamplingParams()
    {
        var request = Read("""
            {"model":"tensorzero::function_name::test_function","messages":[],"frequency_penalty":0.5,"max_tokens":100,"max_completion_tokens":50,
             "presence_penalty":0.25,"seed":23,"temperature":0.5,"top_p":0.75,"stop":["a","b"],"reasoning_effort":"low","service_tier":"flex","verbosity":"high"}
            """);

        request.Params.Should().BeEquivalentTo(new SamplingParams
        {
            FrequencyPenalty = 0.5, MaxTokens = 50, PresencePenalty = 0.25, Seed = 23, Temperature = 0.5, TopP = 0.75,
            StopSequences = ["a", "b"], ReasoningEffort = "low", ServiceTier = "flex", Verbosity = "high",
        });
    }

    [Theory]
    [InlineData("\"max_tokens\":100", 100L)]
    [InlineData("\"max_completion_tokens\":70", 70L)]
    [InlineData("\"max_tokens\":10,\"max_completion_tokens\":70", 10L)]
    [InlineData("\"max_tokens\":null", null)]
    public void Params_MaxTokens_TakesTheSmallerOfBoth(string fields, long? expected)
    {
        Read($$"""{"model":"m","messages":[],{{fields}}}""").Params.MaxTokens.Should().Be(expected);
    }

    [Fact]
    public void Params_StopAsString_IsOneStopSequence()
    {
        Read("""{"model":"m","messages":[],"stop":"END"}""").Params.StopSequences.Should().Equal("END");
    }

    [Fact]
    public void Params_TensorZeroParams_WinOverOpenAIFields()
    {
        var request = Read("""
            {"model":"m","messages":[],"temperature":0.1,"seed":1,"response_format":{"type":"json_object"},
             "tensorzero::params":{"chat_completion":{"temperature":0.9,"json_mode":"tool","thinking_budget_tokens":1024,"stop_sequences":["x"]}}}
            """);

        request.Params.Temperature.Should().Be(0.9);
        request.Params.Seed.Should().Be(1);
        request.Params.ThinkingBudgetTokens.Should().Be(1024);
        request.Params.StopSequences.Should().Equal("x");
        request.JsonMode.Should().Be(JsonMode.Tool);
        request.JsonObjectRequested.Should().BeTrue();
    }

    [Theory]
    [InlineData("""{"type":"text"}""", "Off", null, false)]
    [InlineData("""{"type":"json_object"}""", "On", null, true)]
    [InlineData("""{"type":"json_schema","json_schema":{"name":"n","strict":true,"schema":{"type":"object"}}}""", "Strict", """{"type":"object"}""", false)]
    [InlineData("""{"type":"json_schema","json_schema":{"name":"n"}}""", "Strict", null, false)]
    public void ResponseFormat_SetsJsonModeAndSchema(string format, string mode, string? schema, bool jsonObject)
    {
        var request = Read($$"""{"model":"m","messages":[],"response_format":{{format}}}""");

        request.JsonMode.Should().Be(Enum.Parse<JsonMode>(mode));
        (request.OutputSchema is { } s ? Json(s) : null).Should().Be(schema);
        request.JsonObjectRequested.Should().Be(jsonObject);
    }

    [Fact]
    public void Tools_FunctionAndCustomTools_AreRead()
    {
        var request = Read("""
            {"model":"m","messages":[],"parallel_tool_calls":true,"tools":[
              {"type":"function","function":{"name":"get_temperature","description":"Get it","parameters":{"type":"object"},"strict":true}},
              {"type":"function","function":{"name":"bare","parameters":{}}},
              {"type":"custom","custom":{"name":"code_generator","description":"Generates code","format":{"type":"text"}}},
              {"type":"custom","custom":{"name":"calculator","format":{"type":"grammar","grammar":{"syntax":"lark","definition":"start: x"}}}}
            ]}
            """);

        request.AdditionalTools.Should().HaveCount(2);
        request.AdditionalTools[0].Name.Should().Be("get_temperature");
        request.AdditionalTools[0].Description.Should().Be("Get it");
        request.AdditionalTools[0].Strict.Should().BeTrue();
        Json(request.AdditionalTools[0].Parameters).Should().Be("""{"type":"object"}""");
        request.AdditionalTools[1].Description.Should().Be("");
        request.AdditionalTools[1].Strict.Should().BeFalse();
        request.AdditionalCustomTools.Select(Json).Should().Equal(
            """{"name":"code_generator","description":"Generates code","format":{"type":"text"}}""",
            """{"name":"calculator","format":{"type":"grammar","grammar":{"syntax":"lark","definition":"start: x"}}}""");
        request.ParallelToolCalls.Should().BeTrue();
    }

    [Theory]
    [InlineData("\"none\"", "none", null)]
    [InlineData("\"auto\"", "auto", null)]
    [InlineData("\"required\"", "required", null)]
    [InlineData("""{"type":"function","function":{"name":"get_weather"}}""", "specific:get_weather", null)]
    [InlineData("""{"type":"allowed_tools","allowed_tools":{"mode":"required","tools":[{"type":"function","function":{"name":"a"}},{"type":"function","function":{"name":"b"}}]}}""", "required", "a,b")]
    [InlineData("""{"type":"allowed_tools","allowed_tools":{"mode":"auto","tools":[]}}""", "auto", "")]
    public void ToolChoice_Forms_MapAsTensorZeroDoes(string choice, string expected, string? allowed)
    {
        var request = Read($$"""{"model":"m","messages":[],"tool_choice":{{choice}}}""");

        (request.ToolChoice switch
        {
            ToolChoiceKind k => k.Kind,
            ToolChoiceSpecific s => "specific:" + s.Name,
            _ => "?",
        }).Should().Be(expected);
        (request.AllowedTools is { } a ? string.Join(",", a) : null).Should().Be(allowed);
    }

    // -----------------------------------------------------------------------------------------------------------------
    // tensorzero:: fields
    // -----------------------------------------------------------------------------------------------------------------

    [Fact]
    public void TensorZeroFields_GatewayFields_GoToGatewayFieldJsonUnderTheirNames()
    {
        var request = Read("""
            {"model":"m","messages":[],"tensorzero::variant_name":"v","tensorzero::episode_id":"0196368f-19bd-7082-a677-1c0bf346ff24",
             "tensorzero::tags":{"foo":"bar"},"tensorzero::dryrun":true,
             "tensorzero::extra_headers":[{"name":"x","value":"y"}],"tensorzero::extra_body":[{"pointer":"/a","value":1}]}
            """);

        request.GatewayFieldJson.Keys.Should().BeEquivalentTo(
            "tensorzero::variant_name", "tensorzero::episode_id", "tensorzero::tags", "tensorzero::dryrun",
            "tensorzero::extra_headers", "tensorzero::extra_body");
        request.GatewayFieldJson["tensorzero::tags"].GetProperty("foo").GetString().Should().Be("bar");
        GatewayFields.TryRead(request.GatewayFieldJson, DateTimeOffset.UtcNow, out var fields, out var error).Should().BeTrue(error);
        fields.VariantName.Should().Be("v");
        fields.DryRun.Should().BeTrue();
        fields.Tags.Should().Contain("foo", "bar");
    }

    [Fact]
    public void TensorZeroFields_NullOptions_AreNotSet()
    {
        var request = Read("""{"model":"m","messages":[],"tensorzero::variant_name":null,"tensorzero::episode_id":null,"tensorzero::dryrun":null,"tensorzero::params":null,"tensorzero::cache_options":null}""");

        request.GatewayFieldJson.Should().BeEmpty();
        request.Cache.Should().Be(CacheOptions.Default);
    }

    [Fact]
    public void TensorZeroFields_ImplementedOnes_GoToTheirMembers()
    {
        var request = Read("""
            {"model":"m","messages":[],"stream":true,
             "tensorzero::cache_options":{"enabled":"on","max_age_s":10},"tensorzero::credentials":{"key":"sk-1"},
             "tensorzero::include_raw_usage":true,"tensorzero::include_original_response":true,"tensorzero::include_raw_response":true,
             "tensorzero::namespace":"ns","tensorzero::deny_unknown_fields":false}
            """);

        request.Stream.Should().BeTrue();
        request.Cache.Should().Be(new CacheOptions(CacheMode.On, 10));
        request.Credentials.Should().Contain("key", "sk-1");
        request.IncludeRawUsage.Should().BeTrue();
        request.IncludeOriginalResponse.Should().BeTrue();
        request.IncludeRawResponse.Should().BeTrue();
        request.Namespace.Should().Be("ns");
        // Raw usage implies usage in the stream.
        request.IncludeUsageInStream.Should().BeTrue();
        request.IgnoredFields.Should().BeEmpty();
    }

    [Fact]
    public void TensorZeroFields_CacheOptionsWithoutEnabled_AreOff()
    {
        Read("""{"model":"m","messages":[],"tensorzero::cache_options":{"max_age_s":5}}""").Cache.Should().Be(new CacheOptions(CacheMode.Off, 5));
    }

    [Fact]
    public void TensorZeroFields_AcceptedButNotActedOn_AreIgnoredFields()
    {
        var request = Read("""
            {"model":"m","messages":[],"tensorzero::provider_tools":[{"tool":{"type":"web_search"}}],
             "tensorzero::internal_dynamic_variant_config":{"type":"chat_completion"}}
            """);

        request.IgnoredFields.Should().BeEquivalentTo("tensorzero::provider_tools", "tensorzero::internal_dynamic_variant_config");
    }

    [Fact]
    public void UnknownFields_AreListed_NotRefused()
    {
        var request = Read("""{"model":"m","messages":[],"logprobs":true,"user":"u","tensorzero::future":1}""");

        request.UnknownFields.Should().Equal("logprobs", "user", "tensorzero::future");
    }

    [Theory]
    [InlineData("", false, false)]
    [InlineData(",\"stream\":true", true, false)]
    [InlineData(",\"stream\":true,\"stream_options\":{\"include_usage\":true}", true, true)]
    [InlineData(",\"stream\":true,\"stream_options\":{}", true, false)]
    [InlineData(",\"stream\":null", false, false)]
    public void Stream_AndIncludeUsage_AreRead(string fields, bool stream, bool includeUsage)
    {
        var request = Read($$"""{"model":"m","messages":[]{{fields}}}""");

        request.Stream.Should().Be(stream);
        request.IncludeUsageInStream.Should().Be(includeUsage);
    }

    [Fact]
    public void TryRead_DuplicateMember_LastOneWins()
    {
        Read("""{"model":"first","messages":[],"model":"second"}""").PlainName.Should().Be("second");
    }

    [Fact]
    public void TryRead_JsonElements_OutliveTheBody()
    {
        var body = Encoding.UTF8.GetBytes("""{"model":"m","messages":[{"role":"user","content":[{"type":"text","tensorzero::arguments":{"k":"v"}}]}],"tensorzero::tags":{"a":"b"}}""");
        OpenAICompatibleRequestReader.TryRead(body, out var request, out _).Should().BeTrue();
        Array.Clear(body);

        Json(((TemplateInput)request!.Input.Messages[0].Content[0]).Arguments).Should().Be("""{"k":"v"}""");
        request.GatewayFieldJson["tensorzero::tags"].GetProperty("a").GetString().Should().Be("b");
    }
}
