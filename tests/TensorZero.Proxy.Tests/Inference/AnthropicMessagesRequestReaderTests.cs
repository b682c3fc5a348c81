using System.Text;
using TensorZero.Proxy.Functions;
using TensorZero.Proxy.Inference;

namespace TensorZero.Proxy.Tests.Inference;

public sealed class AnthropicMessagesRequestReaderTests
{
    private static TypedInferenceRequest Read(string body)
    {
        AnthropicMessagesRequestReader.TryRead(Encoding.UTF8.GetBytes(body), out var request, out var error).Should().BeTrue(error?.Message);
        return request!;
    }

    private static string Error(string body)
    {
        AnthropicMessagesRequestReader.TryRead(Encoding.UTF8.GetBytes(body), out _, out var error).Should().BeFalse();
        error!.Status.Should().Be(400);
        return error.Message;
    }

    [Theory]
    [InlineData("""{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}""", "user: text(hi)")]
    [InlineData("""{"model":"m","max_tokens":5,"system":"S","messages":[{"role":"user","content":"hi"}]}""", "system=S; user: text(hi)")]
    [InlineData("""{"model":"m","max_tokens":5,"system":[{"type":"text","text":"A","cache_control":{"type":"ephemeral"}},{"type":"text","text":"B"}],"messages":[{"role":"system","content":"C"},{"role":"user","content":"hi"}]}""",
        "system=A\nB\nC; user: text(hi)")]
    [InlineData("""{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"AAAA"}},{"type":"image","source":{"type":"url","url":"https://x/y.jpg"}}]}]}""",
        "user: text(a), image(image/png,AAAA), image(https://x/y.jpg,)")]
    [InlineData("""{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"q"},{"role":"assistant","content":[{"type":"thinking","thinking":"hmm","signature":"sig"},{"type":"text","text":"ok"},{"type":"tool_use","id":"t1","name":"f","input":{"a": 1}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":[{"type":"text","text":"r"},{"type":"text","text":"1"}]},{"type":"text","text":"next"}]}]}""",
        "user: text(q); assistant: thought(hmm,sig), text(ok), call(t1,f,{\"a\":1}); user: result(t1,f,r1), text(next)")]
    public void TryRead_Messages_BecomeTensorZerosInput(string body, string expected)
    {
        InputDescription.Of(Read(body).Input).Should().Be(expected);
    }

    [Fact]
    public void TryRead_Parameters_MapToTheTypedRequest()
    {
        var request = Read("""
            {"model":"tensorzero::function_name::f","max_tokens":300,"temperature":0.5,"top_p":0.9,"stop_sequences":["END"],"stream":true,
             "thinking":{"type":"enabled","budget_tokens":1024},"tool_choice":{"type":"any","disable_parallel_tool_use":true},
             "tools":[{"name":"get_temperature","description":"d","input_schema":{"type":"object"}}],
             "messages":[{"role":"user","content":"hi"}],"tensorzero::episode_id":"0196368f-19bd-7082-a677-1c0bf346ff25"}
            """);

        request.Endpoint.Should().Be(InferenceEndpoint.AnthropicMessages);
        request.FunctionName.Should().Be("f");
        request.Params.Should().BeEquivalentTo(new SamplingParams
        {
            MaxTokens = 300, Temperature = 0.5, TopP = 0.9, StopSequences = ["END"], ThinkingBudgetTokens = 1024,
        });
        request.Stream.Should().BeTrue();
        request.ToolChoice.Should().Be(ToolChoice.Required);
        request.ParallelToolCalls.Should().BeFalse();
        request.AdditionalTools.Select(t => (t.Name, t.Description, t.Parameters.GetRawText(), t.Strict)).Should().Equal(("get_temperature", "d", """{"type":"object"}""", false));
        request.GatewayFieldJson.Keys.Should().Equal("tensorzero::episode_id");
    }

    [Theory]
    [InlineData("""{"type":"auto"}""", "auto")]
    [InlineData("""{"type":"none"}""", "none")]
    [InlineData("""{"type":"tool","name":"f"}""", "f")]
    public void TryRead_ToolChoice_MapsToTensorZeros(string choice, string expected)
    {
        var request = Read($$$"""{"model":"m","max_tokens":5,"tool_choice":{{{choice}}},"messages":[{"role":"user","content":"hi"}]}""");

        (request.ToolChoice switch { ToolChoiceKind k => k.Kind, ToolChoiceSpecific s => s.Name, _ => null }).Should().Be(expected);
        request.ParallelToolCalls.Should().BeNull();
    }

    [Fact]
    public void TryRead_TopKAndMetadata_AreAcceptedAndListedForTheWarning()
    {
        Read("""{"model":"m","max_tokens":5,"top_k":3,"metadata":{"user_id":"u"},"messages":[{"role":"user","content":"hi"}]}""")
            .IgnoredFields.Should().Equal("top_k", "metadata");
    }

    [Theory]
    [InlineData("""{"model":"m","messages":[]}""", "max_tokens: Field required")]
    [InlineData("""{"model":"m","max_tokens":0,"messages":[]}""", "max_tokens: Input should be greater than or equal to 1")]
    [InlineData("""{"max_tokens":5,"messages":[]}""", "missing field `model`")]
    [InlineData("""{"model":"m","max_tokens":5}""", "missing field `messages`")]
    [InlineData("""{"model":"m","max_tokens":5,"temperature":1.5,"messages":[]}""", "temperature: Input should be less than or equal to 1 and greater than or equal to 0")]
    [InlineData("""{"model":"m","max_tokens":5,"messages":[],"container":"c"}""", "container: Extra inputs are not permitted")]
    [InlineData("""{"model":"m","max_tokens":5,"messages":[{"role":"tool","content":"x"}]}""", "messages[0].role: unknown variant `tool`, expected one of `user`, `assistant`, `system`")]
    [InlineData("""{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"tool_use","id":"t","name":"f","input":{}}]}]}""",
        "messages[0].content[0]: a 'tool_use' block is not allowed in a user message.")]
    [InlineData("""{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t9"}]}]}""",
        "messages[0].content[0]: tool_use_id 't9' does not match any tool_use block in an earlier assistant message.")]
    [InlineData("""{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"document","source":{}}]}]}""",
        "messages[0].content[0]: content block type 'document' is not supported by the gateway; it takes 'text', 'image', 'tool_use', 'tool_result' and 'thinking'.")]
    [InlineData("""{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/tiff","data":"AA"}}]}]}""",
        "messages[0].content[0].source.media_type: unknown variant `image/tiff`, expected one of `image/jpeg`, `image/png`, `image/gif`, `image/webp`")]
    [InlineData("""{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"file","file_id":"f"}}]}]}""",
        "messages[0].content[0].source.type: unknown variant `file`, expected `base64` or `url`")]
    [InlineData("""{"model":"m","max_tokens":5,"messages":[],"tools":[{"type":"bash_20250124","name":"bash"}]}""",
        "tools[0]: tool type 'bash_20250124' is not supported by the gateway; only client tools ({name, description, input_schema}) are.")]
    [InlineData("""{"model":"m","max_tokens":5,"messages":[],"tool_choice":{"type":"some"}}""",
        "tool_choice.type: unknown variant `some`, expected one of `auto`, `any`, `tool`, `none`")]
    public void TryRead_Invalid_IsA400WithAClearMessage(string body, string expected)
    {
        Error(body).Should().Be(expected);
    }
}
