using System.Text;
using System.Text.Json;
using TensorZero.Proxy.Functions;
using TensorZero.Proxy.Inference;

namespace TensorZero.Proxy.Tests.Inference;

/// <summary>InputJson and OutputJson: the input and output as TensorZero stores them in its records.</summary>
public sealed class StoredJsonTests
{
    private static JsonElement J(string json) => JsonDocument.Parse(json).RootElement.Clone();

    [Fact]
    public void InputJson_EveryBlock_IsTensorZerosStoredShape()
    {
        var input = new InferenceInput(new SystemText("Be brief."),
        [
            new InputMessage(Role.User,
            [
                new TextBlock("Hi"),
                new TemplateInput("user", J("""{"country":"Japan"}""")),
                new ArgumentsInput(J("""{"k":1}""")),
                new RawTextInput("raw"),
                new ToolResultBlock("1", "get_temperature", "\"70\""),
                new FileBlock(new FileData { Base64Data = "JVBERi0=", MimeType = "application/pdf", Filename = "a.pdf" }),
                new FileBlock(new FileData { Url = "https://example.com/a.png", Detail = "low" }),
            ]),
            new InputMessage(Role.Assistant,
            [
                new ThoughtBlock("hmm") { Signature = "sig", ProviderType = "anthropic", ExtraData = J("""{"e":1}""") },
                new ToolCallBlock("1", "get_temperature", """{"location":"Tokyo"}"""),
                new UnknownBlock(J("""{"type":"x"}""")) { ModelName = "m", ProviderName = "p" },
                new ArgumentsInput(J("{}")),
            ]),
        ]);

        JsonAssert.Same(InputJson.Write(input), """
            {"system":"Be brief.","messages":[
              {"role":"user","content":[
                {"type":"text","text":"Hi"},
                {"type":"template","name":"user","arguments":{"country":"Japan"}},
                {"type":"template","name":"user","arguments":{"k":1}},
                {"type":"raw_text","value":"raw"},
                {"type":"tool_result","name":"get_temperature","result":"\"70\"","id":"1"},
                {"type":"file","source_url":null,"mime_type":"application/pdf","storage_path":null,"filename":"a.pdf"},
                {"type":"file","source_url":"https://example.com/a.png","mime_type":null,"storage_path":null,"detail":"low"}]},
              {"role":"assistant","content":[
                {"type":"thought","text":"hmm","signature":"sig","provider_type":"anthropic","extra_data":{"e":1}},
                {"type":"tool_call","id":"1","name":"get_temperature","arguments":"{\"location\":\"Tokyo\"}"},
                {"type":"unknown","data":{"type":"x"},"model_name":"m","provider_name":"p"},
                {"type":"template","name":"assistant","arguments":{}}]}]}
            """);
    }

    [Fact]
    public void InputJson_SystemArgumentsAndNoSystem()
    {
        JsonAssert.Same(InputJson.Write(new InferenceInput(new SystemArguments(J("""{"assistant_name":"Alfred"}""")), [])),
            """{"system":{"assistant_name":"Alfred"},"messages":[]}""");
        JsonAssert.Same(InputJson.Write(InferenceInput.Empty), """{"messages":[]}""");
    }

    [Fact]
    public void InputJson_StoragePath_ComesFromTheCaller()
    {
        var input = new InferenceInput(null, [new InputMessage(Role.User, [new FileBlock(new FileData { Base64Data = "AAAA", MimeType = "image/png" })])]);
        var path = J("""{"kind":{"type":"disabled"},"path":"observability/files/abc.png"}""");

        var json = InputJson.Write(input, file => file.Base64Data == "AAAA" ? path : null);

        JsonAssert.Same(json, """
            {"messages":[{"role":"user","content":[
              {"type":"file","source_url":null,"mime_type":"image/png","storage_path":{"kind":{"type":"disabled"},"path":"observability/files/abc.png"}}]}]}
            """);
    }

    [Fact]
    public void InputJson_OfAnOpenAIRequest_IsWhatTensorZeroStores()
    {
        OpenAICompatibleRequestReader.TryRead(Encoding.UTF8.GetBytes("""
            {"model":"tensorzero::function_name::weather_helper_parallel","messages":[
              {"role":"system","content":[{"type":"text","tensorzero::arguments":{"assistant_name":"Dr. Mehta"}}]},
              {"role":"user","content":[{"type":"text","text":"What is the weather like in Tokyo?"}]},
              {"role":"assistant","content":null,"tool_calls":[
                {"id":"call_1","type":"function","function":{"name":"get_temperature","arguments":"{\"location\":\"Tokyo\"}"}},
                {"id":"call_2","type":"function","function":{"name":"get_humidity","arguments":"{\"location\":\"Tokyo\"}"}}]},
              {"role":"tool","content":"70","tool_call_id":"call_1"},
              {"role":"tool","content":"30","tool_call_id":"call_2"}]}
            """), out var request, out var error).Should().BeTrue(error?.Message);

        JsonAssert.Same(InputJson.Write(request!.Input), """
            {"system":{"assistant_name":"Dr. Mehta"},"messages":[
              {"role":"user","content":[{"type":"text","text":"What is the weather like in Tokyo?"}]},
              {"role":"assistant","content":[
                {"type":"tool_call","id":"call_1","name":"get_temperature","arguments":"{\"location\":\"Tokyo\"}"},
                {"type":"tool_call","id":"call_2","name":"get_humidity","arguments":"{\"location\":\"Tokyo\"}"}]},
              {"role":"user","content":[
                {"type":"tool_result","name":"get_temperature","result":"\"70\"","id":"call_1"},
                {"type":"tool_result","name":"get_humidity","result":"\"30\"","id":"call_2"}]}]}
            """);
    }

    [Fact]
    public void OutputJson_Chat_IsTheContentBlockArray()
    {
        var content = new ContentBlock[]
        {
            new TextBlock("Hello"),
            new ToolCallBlock("1", "t", "{\"a\":1}") { Name = "t", ParsedArguments = J("""{"a":1}""") },
            new ThoughtBlock(null),
            new UnknownBlock(J("null")),
        };

        JsonAssert.Same(OutputJson.WriteChat([.. content]), """
            [{"type":"text","text":"Hello"},
             {"type":"tool_call","id":"1","raw_name":"t","raw_arguments":"{\"a\":1}","name":"t","arguments":{"a":1}},
             {"type":"thought","text":null},
             {"type":"unknown","data":null}]
            """);
        OutputJson.WriteChat([]).Should().Be("[]");
    }

    [Theory]
    [InlineData("{\"answer\":\"Hello\"}", true, """{"raw":"{\"answer\":\"Hello\"}","parsed":{"answer":"Hello"}}""")]
    [InlineData("not json", false, """{"raw":"not json","parsed":null}""")]
    [InlineData(null, false, """{"raw":null,"parsed":null}""")]
    public void OutputJson_Json_IsRawAndParsed(string? raw, bool parsed, string expected)
    {
        JsonAssert.Same(OutputJson.WriteJson(new JsonOutput(raw, parsed ? J(raw!) : null)), expected);
    }

    [Fact]
    public void OutputJson_NonOutputBlock_IsAProgrammingError()
    {
        var write = () => OutputJson.WriteChat([new ToolResultBlock("1", "t", "r")]);

        write.Should().Throw<ArgumentException>();
    }
}
