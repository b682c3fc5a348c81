using System.Text;
using System.Text.Json;
using TensorZero.Proxy.Functions;
using TensorZero.Proxy.Inference;

namespace TensorZero.Proxy.Tests.Inference;

public sealed class NativeRequestReaderTests
{
    private static TypedInferenceRequest Read(string json)
    {
        NativeRequestReader.TryRead(Encoding.UTF8.GetBytes(json), out var request, out var error).Should().BeTrue(error?.Message);
        return request!;
    }

    private static RequestError Fail(string json)
    {
        NativeRequestReader.TryRead(Encoding.UTF8.GetBytes(json), out var request, out var error).Should().BeFalse();
        request.Should().BeNull();
        return error!;
    }

    private static ImmutableContent Content(string blocks) =>
        new(Read($$$"""{"function_name":"f","input":{"messages":[{"role":"user","content":{{{blocks}}}}]}}""").Input.Messages[0].Content);

    private sealed record ImmutableContent(System.Collections.Immutable.ImmutableArray<InputContent> Blocks);

    private static string Json(JsonElement element) => element.GetRawText();

    [Theory]
    [InlineData("""{"function_name":"basic_test","input":{}}""", "basic_test", null)]
    [InlineData("""{"model_name":"openai::gpt-4o-mini","input":{"messages":[]}}""", null, "openai::gpt-4o-mini")]
    public void TryRead_Target_IsFunctionOrModel(string json, string? function, string? model)
    {
        var request = Read(json);

        request.Endpoint.Should().Be(InferenceEndpoint.Native);
        request.FunctionName.Should().Be(function);
        request.ModelName.Should().Be(model);
        request.PlainName.Should().BeNull();
    }

    [Theory]
    [InlineData("""{"input":{}}""", "^Invalid inference target: Either `function_name` or `model_name` must be provided$")]
    [InlineData("""{"function_name":"f","model_name":"m","input":{}}""", "^Invalid inference target: Only one of `function_name` or `model_name` can be provided$")]
    [InlineData("""{"model_name":"m","variant_name":"v","input":{}}""", "`variant_name` cannot be provided when using `model_name`")]
    [InlineData("""{"function_name":"f"}""", "^missing field `input`$")]
    [InlineData("""{"function_name":"f","input":{},"temperature":0.5}""", "^unknown field `temperature`$")]
    [InlineData("""{"function_name":"f","input":{"system":"s","extra":1}}""", "^input: unknown field `extra`, expected `system` or `messages`$")]
    [InlineData("""{"function_name":"f","input":{"system":5}}""", "input.system: data did not match any variant of untagged enum System")]
    [InlineData("""{"function_name":"f","input":{"messages":[{"role":"system","content":"x"}]}}""", "input.messages\\[0\\].role: unknown variant `system`, expected `user` or `assistant`")]
    [InlineData("""{"function_name":"f","input":{"messages":[{"role":"user"}]}}""", "input.messages\\[0\\]: missing field `content`")]
    [InlineData("""{"function_name":"f","input":{"messages":[{"role":"user","content":"x","name":"n"}]}}""", "input.messages\\[0\\]: unknown field `name`")]
    [InlineData("""{"function_name":"f","input":{"messages":[{"role":"user","content":5}]}}""", "input.messages\\[0\\].content: invalid type: integer `5`")]
    [InlineData("""{"function_name":"f","input":{"messages":[{"role":"user","content":[{"type":"video"}]}]}}""", "input.messages\\[0\\].content\\[0\\]: unknown variant `video`, expected one of `text`, `template`")]
    [InlineData("""{"function_name":"f","input":{"messages":[{"role":"user","content":[{"text":"x"}]}]}}""", "input.messages\\[0\\].content\\[0\\]: missing field `type`")]
    [InlineData("""{"function_name":"f","input":{"messages":[{"role":"user","content":[{"type":"text"}]}]}}""", "Expected exactly one other key in text content, found 0 other keys")]
    [InlineData("""{"function_name":"f","input":{"messages":[{"role":"user","content":[{"type":"text","text":"a","arguments":{}}]}]}}""", "found 2 other keys")]
    [InlineData("""{"function_name":"f","input":{"messages":[{"role":"user","content":[{"type":"text","value":"a"}]}]}}""", "Unknown key `value` in text content")]
    [InlineData("""{"function_name":"f","input":{"messages":[{"role":"user","content":[{"type":"text","text":1}]}]}}""", "Error deserializing `text`: invalid type: integer `1`, expected a string")]
    [InlineData("""{"function_name":"f","input":{"messages":[{"role":"user","content":[{"type":"tool_result","id":"1","name":"t"}]}]}}""", "missing field `result`")]
    [InlineData("""{"function_name":"f","input":{"messages":[{"role":"user","content":[{"type":"tool_call","id":"1"}]}]}}""", "data did not match any variant of untagged enum ToolCallWrapper")]
    [InlineData("""{"function_name":"f","input":{"messages":[{"role":"user","content":[{"type":"raw_text","value":"x","text":"y"}]}]}}""", "unknown field `text`, expected `type` or `value`")]
    [InlineData("""{"function_name":"f","input":{"messages":[{"role":"user","content":[{"type":"file","mime_type":"image/png"}]}]}}""", "data did not match any variant of untagged enum FileTaggedOrUntagged")]
    [InlineData("""{"function_name":"f","input":{"messages":[{"role":"user","content":[{"type":"file","file_type":"base64","data":"AAAA"}]}]}}""", "No mime type provided and unable to infer from data")]
    [InlineData("""{"function_name":"f","input":{"messages":[{"role":"user","content":[{"type":"file","file_type":"base64","data":"data:image/png;base64,AAAA"}]}]}}""", "must not contain `data:` prefix")]
    [InlineData("""{"function_name":"f","input":{"messages":[{"role":"user","content":[{"type":"file","file_type":"url","url":"nope"}]}]}}""", "expected a URL")]
    [InlineData("""{"function_name":"f","input":{"messages":[{"role":"user","content":[{"type":"file","file_type":"ftp","url":"x"}]}]}}""", "unknown variant `ftp`")]
    [InlineData("""{"function_name":"f","input":{"messages":[{"role":"user","content":[{"type":"unknown"}]}]}}""", "missing field `data`")]
    [InlineData("""{"function_name":"f","input":{},"tool_choice":"any"}""", "tool_choice: unknown variant `any`")]
    [InlineData("""{"function_name":"f","input":{},"tool_choice":{"name":"t"}}""", "tool_choice: unknown field `name`, expected `specific`")]
    [InlineData("""{"function_name":"f","input":{},"additional_tools":[{"name":"t","parameters":{}}]}""", "additional_tools\\[0\\]: Failed to parse as `Tool` \\(tagged\\) or `FunctionTool` \\(untagged\\): missing field `description`")]
    [InlineData("""{"function_name":"f","input":{},"params":{"chat_completion":{"max_tokens":"many"}}}""", "params.chat_completion.max_tokens: invalid type: string \"many\", expected u32")]
    [InlineData("""{"function_name":"f","input":{},"params":null}""", "params: invalid type: null")]
    [InlineData("""{"function_name":"f","input":{},"namespace":""}""", "Namespace identifier cannot be empty")]
    [InlineData("""{"function_name":"f","input":{},"include_raw_usage":"yes"}""", "include_raw_usage: invalid type: string \"yes\", expected a boolean")]
    public void TryRead_BadBody_FailsWithTensorZerosMessage(string json, string pattern)
    {
        var error = Fail(json);

        error.Status.Should().Be(400);
        error.Message.Should().MatchRegex(pattern);
    }

    [Fact]
    public void Input_SystemAndMessages_AreRead()
    {
        var input = Read("""
            {"function_name":"f","input":{"system":{"assistant_name":"Alfred"},"messages":[
              {"role":"user","content":"Hello"},
              {"role":"assistant","content":{"legacy":"args"}},
              {"role":"user","content":[]}
            ]}}
            """).Input;

        Json(input.System.Should().BeOfType<SystemArguments>().Subject.Arguments).Should().Be("""{"assistant_name":"Alfred"}""");
        input.Messages.Should().HaveCount(3);
        input.Messages[0].Should().Be(input.Messages[0] with { Role = Role.User });
        input.Messages[0].Content.Should().Equal(new TextBlock("Hello"));
        input.Messages[1].Role.Should().Be(Role.Assistant);
        var legacy = input.Messages[1].Content.Should().ContainSingle().Subject.Should().BeOfType<TemplateInput>().Subject;
        legacy.Name.Should().Be("assistant");
        input.Messages[2].Content.Should().BeEmpty();
        Read("""{"function_name":"f","input":{"system":"Be brief."}}""").Input.System.Should().Be(new SystemText("Be brief."));
        Read("""{"function_name":"f","input":{"system":null}}""").Input.System.Should().BeNull();
    }

    [Fact]
    public void Input_ContentBlocks_AreReadAsTensorZeroReadsThem()
    {
        var blocks = Content("""
            [
              {"type":"text","text":"What is the weather?"},
              {"type":"text","arguments":{"location":"Tokyo"}},
              {"type":"template","name":"my_template","arguments":{"k":"v"}},
              {"type":"raw_text","value":"raw"},
              {"type":"tool_call","id":"0","name":"get_temperature","arguments":"{\"location\": \"Tokyo\"}"},
              {"type":"tool_call","id":"1","name":"get_temperature","arguments":{"location":"NYC"}},
              {"type":"tool_call","id":"2","raw_name":"raw_tool","raw_arguments":"{bad","name":null,"arguments":null},
              {"type":"tool_result","id":"0","name":"get_temperature","result":"70"},
              {"type":"thought","text":"hmm","signature":"sig"},
              {"type":"unknown","data":{"type":"daydreaming"},"model_name":"m","provider_name":"p"}
            ]
            """).Blocks;

        blocks[0].Should().Be(new TextBlock("What is the weather?"));
        blocks[1].Should().BeOfType<TemplateInput>().Which.Name.Should().Be("user");
        Json(((TemplateInput)blocks[1]).Arguments).Should().Be("""{"location":"Tokyo"}""");
        blocks[2].Should().BeOfType<TemplateInput>().Which.Name.Should().Be("my_template");
        blocks[3].Should().Be(new RawTextInput("raw"));
        blocks[4].Should().Be(new ToolCallBlock("0", "get_temperature", "{\"location\": \"Tokyo\"}"));
        blocks[5].Should().Be(new ToolCallBlock("1", "get_temperature", """{"location":"NYC"}"""));
        blocks[6].Should().Be(new ToolCallBlock("2", "raw_tool", "{bad"));
        blocks[7].Should().Be(new ToolResultBlock("0", "get_temperature", "70"));
        blocks[8].Should().BeOfType<ThoughtBlock>().Which.Signature.Should().Be("sig");
        var unknown = blocks[9].Should().BeOfType<UnknownBlock>().Subject;
        unknown.ModelName.Should().Be("m");
        unknown.ProviderName.Should().Be("p");
    }

    [Theory]
    [InlineData("""{"type":"file","file_type":"url","url":"https://example.com/a.png","mime_type":"image/png","detail":"high","filename":"a.png"}""",
        "https://example.com/a.png", null, "image/png", "high", "a.png")]
    [InlineData("""{"type":"file","url":"https://example.com/a.png"}""", "https://example.com/a.png", null, null, null, null)]
    [InlineData("""{"type":"image","url":"https://example.com/a.png"}""", "https://example.com/a.png", null, null, null, null)]
    [InlineData("""{"type":"file","file_type":"base64","data":"JVBERi0=","mime_type":"application/pdf"}""", null, "JVBERi0=", "application/pdf", null, null)]
    [InlineData("""{"type":"file","file_type":"base64","data":"iVBORw0KGgo="}""", null, "iVBORw0KGgo=", "image/png", null, null)]
    [InlineData("""{"type":"image","mime_type":"image/jpeg","data":"/9j/4AAQ"}""", null, "/9j/4AAQ", "image/jpeg", null, null)]
    [InlineData("""{"type":"file","file_type":"object_storage","data":"AAAA","mime_type":"text/plain","storage_path":{"kind":{"type":"disabled"},"path":"p"}}""", null, "AAAA", "text/plain", null, null)]
    public void Input_Files_TaggedAndLegacy(string block, string? url, string? data, string? mime, string? detail, string? filename)
    {
        Content($"[{block}]").Blocks[0].Should().BeOfType<FileBlock>().Which.File.Should().Be(
            new FileData { Url = url, Base64Data = data, MimeType = mime, Detail = detail, Filename = filename });
    }

    [Fact]
    public void Input_ObjectStoragePointer_IsRefusedWithAReason()
    {
        Fail("""{"function_name":"f","input":{"messages":[{"role":"user","content":[{"type":"file","file_type":"object_storage_pointer","mime_type":"image/png","storage_path":{}}]}]}}""")
            .Message.Should().Contain("object storage");
    }

    [Fact]
    public void Fields_AreReadIntoTheirMembers()
    {
        var request = Read("""
            {"function_name":"f","input":{},"stream":true,"episode_id":"0196368f-19bd-7082-a677-1c0bf346ff24","variant_name":"v",
             "tags":{"user_id":"123"},"dryrun":true,"extra_body":[{"pointer":"/a","value":1}],"extra_headers":[{"name":"h","value":"v"}],
             "params":{"chat_completion":{"temperature":0.7,"json_mode":"strict","max_tokens":100}},
             "allowed_tools":["a"],"additional_tools":[
               {"name":"t","description":"d","parameters":{"type":"object"}},
               {"type":"function","name":"u","description":"d2","parameters":{},"strict":true},
               {"type":"openai_custom","name":"code","format":{"type":"text"}}],
             "tool_choice":{"specific":"t"},"parallel_tool_calls":false,"output_schema":{"type":"object"},
             "cache_options":{"enabled":"read_only","max_age_s":60},"credentials":{"k":"v"},
             "include_original_response":true,"include_raw_response":true,"include_raw_usage":true,"namespace":"ns"}
            """);

        request.Stream.Should().BeTrue();
        request.GatewayFieldJson.Keys.Should().BeEquivalentTo("tensorzero::episode_id", "tensorzero::variant_name", "tensorzero::tags",
            "tensorzero::dryrun", "tensorzero::extra_body", "tensorzero::extra_headers");
        GatewayFields.TryRead(request.GatewayFieldJson, DateTimeOffset.UtcNow, out var fields, out var error).Should().BeTrue(error);
        fields.VariantName.Should().Be("v");
        fields.Tags.Should().Contain("user_id", "123");
        request.Params.Temperature.Should().Be(0.7);
        request.Params.MaxTokens.Should().Be(100);
        request.JsonMode.Should().Be(JsonMode.Strict);
        request.AllowedTools.Should().Equal("a");
        request.AdditionalTools.Select(t => (t.Name, t.Description, t.Strict)).Should().Equal(("t", "d", false), ("u", "d2", true));
        request.AdditionalCustomTools.Select(Json).Should().Equal("""{"name":"code","format":{"type":"text"}}""");
        request.ToolChoice.Should().Be(new ToolChoiceSpecific("t"));
        request.ParallelToolCalls.Should().BeFalse();
        Json(request.OutputSchema!.Value).Should().Be("""{"type":"object"}""");
        request.Cache.Should().Be(new CacheOptions(CacheMode.ReadOnly, 60));
        request.Credentials.Should().Contain("k", "v");
        request.IncludeOriginalResponse.Should().BeTrue();
        request.IncludeRawResponse.Should().BeTrue();
        request.IncludeRawUsage.Should().BeTrue();
        request.Namespace.Should().Be("ns");
        request.IgnoredFields.Should().BeEmpty();
        request.UnknownFields.Should().BeEmpty();
    }

    [Theory]
    [InlineData("\"none\"", "none")]
    [InlineData("\"auto\"", "auto")]
    [InlineData("\"required\"", "required")]
    public void ToolChoice_Strings(string choice, string kind)
    {
        Read($$"""{"function_name":"f","input":{},"tool_choice":{{choice}}}""").ToolChoice.Should().Be(new ToolChoiceKind(kind));
    }

    [Fact]
    public void Fields_AcceptedButNotActedOn_AreIgnoredFields()
    {
        Read("""
            {"function_name":"f","input":{},"internal":true,"include_aggregated_response":true,"provider_tools":[{"tool":{"type":"web_search"}}],
             "internal_dynamic_variant_config":{"type":"chat_completion"}}
            """).IgnoredFields.Should().Equal("internal", "provider_tools", "include_aggregated_response", "internal_dynamic_variant_config");
    }

    [Fact]
    public void Fields_NullOptions_AreNotSet()
    {
        var request = Read("""{"function_name":"f","model_name":null,"input":{},"episode_id":null,"variant_name":null,"dryrun":null,"stream":null,"tool_choice":null,"output_schema":null}""");

        request.GatewayFieldJson.Should().BeEmpty();
        request.Stream.Should().BeFalse();
        request.ToolChoice.Should().BeNull();
        request.OutputSchema.Should().BeNull();
    }
}

/// <summary>Odd bodies get a 400 from both typed readers, never an exception.</summary>
public sealed class TypedRequestReaderRobustnessTests
{
    [Theory]
    [InlineData("""{"model":"m","messages":[],"temperature":1e400}""")]
    [InlineData("""{"model":"m","messages":[],"temperature":-1e39}""")]
    [InlineData("""{"model":"m","messages":[],"seed":1e400}""")]
    [InlineData("""{"model":"m","messages":[],"max_tokens":99999999999999999999999}""")]
    [InlineData("""{"model":"m","messages":[{"role":"assistant","content":"x","tensorzero_extra_content":[{"type":"thought","insert_index":1e400}]}]}""")]
    [InlineData("""{"model":"m","messages":[{"role":"assistant","content":"x","tensorzero_extra_content":[{"type":"thought","insert_index":-1}]}]}""")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":[{"type":1}]}]}""")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":"https://x"}]}]}""")]
    [InlineData("""{"model":"m","messages":[],"tensorzero::params":{"chat_completion":{"thinking_budget_tokens":1e400}}}""")]
    [InlineData("""{"model":"m","messages":"hi"}""")]
    [InlineData("""{"model":"m","messages":[1]}""")]
    [InlineData("""{"model":"m","messages":[],"tools":{}}""")]
    [InlineData("""{"model":"m","messages":[],"stop":[1]}""")]
    [InlineData("null")]
    [InlineData("")]
    [InlineData("{\"model\":\"m\",\"messages\":[]} []")]
    public void OpenAICompatible_OddBody_IsA400(string json)
    {
        OpenAICompatibleRequestReader.TryRead(Encoding.UTF8.GetBytes(json), out _, out var error).Should().BeFalse();
        error!.Status.Should().Be(400);
    }

    [Theory]
    [InlineData("""{"function_name":"f","input":{},"params":{"chat_completion":{"temperature":1e400}}}""")]
    [InlineData("""{"function_name":"f","input":{"messages":[{"role":"user","content":[{"type":"file","file_type":"base64","data":"%%%"}]}]}}""")]
    [InlineData("""{"function_name":"f","input":{"messages":[{"role":"user","content":[5]}]}}""")]
    [InlineData("""{"function_name":"f","input":{"messages":[{"role":"user","content":[{"type":"thought","summary":[{"type":"other"}]}]}]}}""")]
    [InlineData("""{"function_name":"f","input":{"messages":[{"role":"user","content":[{"type":"unknown","data":1,"model_provider_name":"bad"}]}]}}""")]
    [InlineData("""{"function_name":"f","input":[]}""")]
    [InlineData("""{"function_name":1,"input":{}}""")]
    [InlineData("[]")]
    public void Native_OddBody_IsA400(string json)
    {
        NativeRequestReader.TryRead(Encoding.UTF8.GetBytes(json), out _, out var error).Should().BeFalse();
        error!.Status.Should().Be(400);
    }

    [Fact]
    public void BothReaders_InvalidUtf8_IsA400()
    {
        var body = new byte[] { (byte)'{', (byte)'"', 0xFF, (byte)'"', (byte)':', (byte)'1', (byte)'}' };

        OpenAICompatibleRequestReader.TryRead(body, out _, out var openAIError).Should().BeFalse();
        NativeRequestReader.TryRead(body, out _, out var nativeError).Should().BeFalse();
        openAIError!.Message.Should().Contain("UTF-8");
        nativeError!.Message.Should().Contain("UTF-8");
    }
}
