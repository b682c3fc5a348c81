using System.Text;
using TensorZero.Proxy.Functions;
using TensorZero.Proxy.Inference;

namespace TensorZero.Proxy.Tests.Inference;

public sealed class OpenAIResponsesRequestReaderTests
{
    private static TypedInferenceRequest Read(string body)
    {
        OpenAIResponsesRequestReader.TryRead(Encoding.UTF8.GetBytes(body), out var request, out var error).Should().BeTrue(error?.Message);
        return request!;
    }

    private static string Error(string body)
    {
        OpenAIResponsesRequestReader.TryRead(Encoding.UTF8.GetBytes(body), out _, out var error).Should().BeFalse();
        error!.Status.Should().Be(400);
        return error.Message;
    }

    [Theory]
    [InlineData("""{"model":"m","input":"hi"}""", "user: text(hi)")]
    [InlineData("""{"model":"m","input":"hi","instructions":"Be kind."}""", "system=Be kind.; user: text(hi)")]
    [InlineData("""{"model":"m","instructions":"A","input":[{"role":"developer","content":"B"},{"role":"system","content":[{"type":"input_text","text":"C"}]},{"role":"user","content":"hi"}]}""",
        "system=A\nB\nC; user: text(hi)")]
    [InlineData("""{"model":"m","input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"a"},{"type":"input_image","image_url":"https://x/y.png","detail":"low"}]}]}""",
        "user: text(a), image(https://x/y.png,low)")]
    [InlineData("""{"model":"m","input":[{"role":"user","content":[{"type":"input_image","image_url":"data:image/png;base64,AAAA"}]}]}""",
        "user: image(image/png,AAAA)")]
    [InlineData("""{"model":"m","input":[{"role":"user","content":"q"},{"role":"assistant","content":[{"type":"output_text","text":"let me see","annotations":[]}]},{"type":"function_call","call_id":"c1","name":"f","arguments":"{}"},{"type":"function_call","call_id":"c2","name":"g","arguments":"{\"a\":1}"},{"type":"function_call_output","call_id":"c1","output":"r1"},{"type":"function_call_output","call_id":"c2","output":[{"type":"input_text","text":"r"},{"type":"input_text","text":"2"}]}]}""",
        "user: text(q); assistant: text(let me see), call(c1,f,{}), call(c2,g,{\"a\":1}); user: result(c1,f,r1), result(c2,g,r2)")]
    public void TryRead_Input_BecomesTensorZerosInput(string body, string expected)
    {
        InputDescription.Of(Read(body).Input).Should().Be(expected);
    }

    [Theory]
    [InlineData("tensorzero::function_name::f", "f", null, null)]
    [InlineData("tensorzero::model_name::openai::gpt-4o", null, "openai::gpt-4o", null)]
    [InlineData("gpt-4o", null, null, "gpt-4o")]
    public void TryRead_Model_NamesTheTargetAsChatCompletionsDoes(string model, string? function, string? modelName, string? plain)
    {
        var request = Read($$"""{"model":"{{model}}","input":"x"}""");

        (request.FunctionName, request.ModelName, request.PlainName, request.RequestedModel).Should().Be((function, modelName, plain, model));
        request.Endpoint.Should().Be(InferenceEndpoint.OpenAIResponses);
    }

    [Fact]
    public void TryRead_ParametersToolsAndFormat_MapToTheTypedRequest()
    {
        var request = Read("""
            {"model":"m","input":"x","max_output_tokens":100,"temperature":0.25,"top_p":0.5,"stream":true,"store":true,
             "parallel_tool_calls":false,"tool_choice":{"type":"function","name":"f"},
             "tools":[{"type":"function","name":"f","description":"d","parameters":{"type":"object"},"strict":true},{"type":"function","name":"g"}],
             "text":{"format":{"type":"json_schema","name":"s","schema":{"type":"object"},"strict":true}},
             "reasoning":{"effort":"low"},"metadata":{"k":"v"},
             "tensorzero::episode_id":"0196368f-19bd-7082-a677-1c0bf346ff25","tensorzero::tags":{"a":"b"},"tensorzero::variant_name":"v"}
            """);

        request.Params.Should().BeEquivalentTo(new SamplingParams { MaxTokens = 100, Temperature = 0.25, TopP = 0.5, ReasoningEffort = "low" });
        request.Stream.Should().BeTrue();
        request.ParallelToolCalls.Should().BeFalse();
        request.ToolChoice.Should().Be(new ToolChoiceSpecific("f"));
        request.AdditionalTools.Select(t => (t.Name, t.Description, t.Parameters.GetRawText(), t.Strict)).Should().Equal(
            ("f", "d", """{"type":"object"}""", true), ("g", "", """{"type":"object","properties":{}}""", false));
        request.JsonMode.Should().Be(JsonMode.Strict);
        request.OutputSchema!.Value.GetRawText().Should().Be("""{"type":"object"}""");
        request.GatewayFieldJson.Keys.Should().BeEquivalentTo("tensorzero::episode_id", "tensorzero::tags", "tensorzero::variant_name");
        request.ResponsesEcho!.Metadata!.Value.GetRawText().Should().Be("""{"k":"v"}""");
        request.ResponsesEcho.ParallelToolCalls.Should().BeFalse();
    }

    [Theory]
    [InlineData("""{"type":"text"}""", "Off", false)]
    [InlineData("""{"type":"json_object"}""", "On", true)]
    public void TryRead_TextFormat_SetsTheJsonMode(string format, string modeName, bool jsonObject)
    {
        var mode = Enum.Parse<JsonMode>(modeName);
        var request = Read($$$"""{"model":"m","input":"x","text":{"format":{{{format}}}}}""");

        request.JsonMode.Should().Be(mode);
        request.JsonObjectRequested.Should().Be(jsonObject);
    }

    [Fact]
    public void TryRead_IgnoredFields_AreListedForTheWarning()
    {
        Read("""{"model":"m","input":"x","truncation":"auto","include":[]}""").IgnoredFields.Should().Equal("truncation", "include");
    }

    [Theory]
    [InlineData("""{"model":"m","input":"x","previous_response_id":"resp_1"}""",
        "'previous_response_id' is not supported: the gateway keeps no conversation state. Send the whole conversation in 'input'.")]
    [InlineData("""{"model":"m","input":"x","conversation":"conv_1"}""",
        "'conversation' is not supported: the gateway keeps no conversation state. Send the whole conversation in 'input'.")]
    [InlineData("""{"model":"m","input":"x","background":true}""", "'background' is not supported: the gateway answers within the request.")]
    [InlineData("""{"model":"m","input":"x","foo":1,"bar":2}""", "Unknown or unsupported parameter(s): 'foo', 'bar'.")]
    [InlineData("""{"input":"x"}""", "missing field `model`")]
    [InlineData("""{"model":"m"}""", "missing field `input`")]
    [InlineData("""{"model":"","input":"x"}""", "'model' cannot be empty.")]
    [InlineData("""{"model":"m","input":7}""", "input: invalid type: integer `7`, expected a string or a sequence of input items")]
    [InlineData("""{"model":"m","input":[{"type":"item_reference","id":"x"}]}""",
        "input[0]: input item type 'item_reference' is not supported; the gateway takes 'message', 'function_call' and 'function_call_output' items.")]
    [InlineData("""{"model":"m","input":[{"role":"user","content":[{"type":"input_file","file_id":"f"}]}]}""",
        "input[0].content[0]: content part type 'input_file' is not supported; the gateway takes 'input_text', 'input_image' and 'output_text'.")]
    [InlineData("""{"model":"m","input":[{"role":"user","content":[{"type":"input_image","file_id":"f"}]}]}""",
        "input[0].content[0]: 'file_id' images are not supported (the gateway has no file store); send 'image_url'.")]
    [InlineData("""{"model":"m","input":[{"role":"tool","content":"x"}]}""",
        "input[0].role: unknown variant `tool`, expected one of `user`, `assistant`, `system`, `developer`")]
    [InlineData("""{"model":"m","input":[{"type":"function_call_output","call_id":"c9","output":"r"}]}""",
        "input[0]: no 'function_call' item with call_id 'c9' comes before this output (the gateway keeps no conversation state: send the call too).")]
    [InlineData("""{"model":"m","input":"x","tools":[{"type":"file_search","vector_store_ids":[]}]}""",
        "tools[0]: tool type 'file_search' is not supported by the gateway; only 'function' tools are (hosted tools run at OpenAI).")]
    [InlineData("""{"model":"m","input":"x","tool_choice":{"type":"web_search_preview"}}""",
        "tool_choice: type 'web_search_preview' is not supported by the gateway; use 'none', 'auto', 'required' or {\"type\": \"function\", \"name\": ...}.")]
    [InlineData("""{"model":"m","input":"x","text":{"format":{"type":"yaml"}}}""",
        "text.format: unknown variant `yaml`, expected one of `text`, `json_object`, `json_schema`")]
    [InlineData("""{"model":"tensorzero::model_name::m","input":"x","tensorzero::variant_name":"v"}""",
        "'tensorzero::variant_name' cannot be used with a model target ('tensorzero::model_name::...').")]
    public void TryRead_Unsupported_IsA400WithAClearMessage(string body, string expected)
    {
        Error(body).Should().Be(expected);
    }
}
