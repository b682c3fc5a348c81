using System.Text;
using TensorZero.Proxy.Functions;
using TensorZero.Proxy.Providers;

namespace TensorZero.Proxy.Tests.Providers;

public sealed class OpenAIChatFormatResponseTests
{
    private static ProviderResponse Read(string body, string? providerType = null)
    {
        OpenAIChatFormat.TryReadResponse(Encoding.UTF8.GetBytes(body), out var response, out var error, providerType).Should().BeTrue(error);
        error.Should().BeNull();
        return response!;
    }

    private static string Fail(string body)
    {
        OpenAIChatFormat.TryReadResponse(Encoding.UTF8.GetBytes(body), out var response, out var error).Should().BeFalse();
        response.Should().BeNull();
        error.Should().StartWith("the provider's 200 response is not a chat completion: ");
        return error!;
    }

    [Fact]
    public void TryReadResponse_Text_ContentUsageFinishReasonAndRawBody()
    {
        const string body = """
            {"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-mini",
             "choices":[{"index":0,"message":{"role":"assistant","content":"Paris."},"finish_reason":"stop"}],
             "usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15}}
            """;

        var response = Read(body);

        response.Output.Should().Equal(new TextBlock("Paris."));
        response.Usage.Should().Be(new Usage(12, 3));
        response.FinishReason.Should().Be(FinishReason.Stop);
        response.RawResponse.Should().Be(body);
    }

    [Fact]
    public void TryReadResponse_ToolCalls_AfterTheText()
    {
        var response = Read("""
            {"choices":[{"index":0,"message":{"role":"assistant","content":"Checking.","tool_calls":[
              {"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},
              {"id":"call_2","type":"function","function":{"name":"get_time","arguments":""}}]},"finish_reason":"tool_calls"}],
             "usage":{"prompt_tokens":5,"completion_tokens":9}}
            """);

        response.Output.Should().Equal(
            new TextBlock("Checking."),
            new ToolCallBlock("call_1", "get_weather", """{"city":"Paris"}"""),
            new ToolCallBlock("call_2", "get_time", ""));
        response.FinishReason.Should().Be(FinishReason.ToolCall);
    }

    [Fact]
    public void TryReadResponse_NullContentWithToolCall_OnlyTheToolCall()
    {
        var response = Read("""{"choices":[{"message":{"content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},"finish_reason":"tool_calls"}]}""");

        response.Output.Should().Equal(new ToolCallBlock("c", "f", "{}"));
        response.Usage.Should().Be(Usage.Unknown);
    }

    [Fact]
    public void TryReadResponse_TgiArgumentsAsAnObject_KeptAsJsonText()
    {
        var response = Read("""{"choices":[{"message":{"tool_calls":[{"id":"0","type":"function","function":{"name":"respond","arguments":{"answer":"Paris"}}}]},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":2}}""");

        response.Output.Should().Equal(new ToolCallBlock("0", "respond", """{"answer":"Paris"}"""));
    }

    [Fact]
    public void TryReadResponse_CustomToolCall_NameAndInput()
    {
        Read("""{"choices":[{"message":{"tool_calls":[{"id":"c","type":"custom","custom":{"name":"grammar","input":"x+1"}}]},"finish_reason":"tool_calls"}]}""")
            .Output.Should().Equal(new ToolCallBlock("c", "grammar", "x+1"));
    }

    [Theory]
    [InlineData("""{"reasoning_content":"think","content":"A"}""", "think")]
    [InlineData("""{"reasoning":"new","reasoning_content":null,"content":"A"}""", "new")]
    [InlineData("""{"reasoning":"new","reasoning_content":"old","content":"A"}""", "new")]
    [InlineData("""{"reasoning":null,"reasoning_content":"old","content":"A"}""", "old")]
    public void TryReadResponse_Reasoning_IsAThoughtBeforeTheText(string message, string thought)
    {
        var response = Read($$"""{"choices":[{"message":{{message}},"finish_reason":"stop"}]}""", providerType: "vllm");

        response.Output.Should().Equal(new ThoughtBlock(thought) { ProviderType = "vllm" }, new TextBlock("A"));
    }

    [Fact]
    public void TryReadResponse_MistralContentChunks_ThinkingAndText()
    {
        var response = Read("""
            {"choices":[{"message":{"content":[{"type":"thinking","thinking":[{"type":"text","text":"hm"},{"type":"text","text":"m"}]},{"type":"text","text":"Paris"}]},"finish_reason":"stop"}],
             "usage":{"prompt_tokens":1,"completion_tokens":1}}
            """, providerType: "mistral");

        response.Output.Should().Equal(new ThoughtBlock("hmm") { ProviderType = "mistral" }, new TextBlock("Paris"));
    }

    [Theory]
    [InlineData("together")]
    [InlineData("fireworks")]
    public void TryReadResponse_ThinkTags_SplitIntoAThoughtForTogetherAndFireworks(string type)
    {
        var response = Read("""{"choices":[{"message":{"reasoning_content":"field","content":"Hello <think>hmm</think> world!"},"finish_reason":"stop"}]}""", type);

        response.Output.Should().HaveCount(3);
        response.Output[0].Should().BeOfType<ThoughtBlock>().Which.ExtraData!.Value.GetRawText().Should().Be("""{"reasoning_format":"reasoning_field"}""");
        var tagged = response.Output[1].Should().BeOfType<ThoughtBlock>().Which;
        tagged.Text.Should().Be("hmm");
        tagged.ProviderType.Should().Be(type);
        tagged.ExtraData!.Value.GetRawText().Should().Be("""{"reasoning_format":"think_tags"}""");
        response.Output[2].Should().Be(new TextBlock("Hello  world!"));
    }

    [Fact]
    public void TryReadResponse_OnlyThinking_NoEmptyText()
    {
        Read("""{"choices":[{"message":{"content":"<think>hmm</think>"},"finish_reason":"stop"}]}""", "together").Output
            .Should().ContainSingle().Which.Should().BeOfType<ThoughtBlock>();
    }

    [Fact]
    public void TryReadResponse_ThinkTagsOfOtherTypes_StayInTheText()
    {
        Read("""{"choices":[{"message":{"content":"<think>hmm</think>A"},"finish_reason":"stop"}]}""", "vllm").Output
            .Should().Equal(new TextBlock("<think>hmm</think>A"));
    }

    [Theory]
    [InlineData("<think>a</think><think>b</think>", "Multiple thinking blocks found")]
    [InlineData("<think>a", "Mismatched thinking tags")]
    [InlineData("a</think>", "Mismatched thinking tags")]
    [InlineData("</think>a<think>", "Mismatched thinking tags")]
    public void TryReadResponse_BadThinkTags_False(string content, string reason)
    {
        var body = $$"""{"choices":[{"message":{"content":"{{content}}"},"finish_reason":"stop"}]}""";

        OpenAIChatFormat.TryReadResponse(Encoding.UTF8.GetBytes(body), out _, out var error, "together").Should().BeFalse();
        error.Should().EndWith(reason);
    }

    [Theory]
    [InlineData("\"stop\"", "Stop")]
    [InlineData("\"eos\"", "Stop")]
    [InlineData("\"stop_sequence\"", "StopSequence")]
    [InlineData("\"length\"", "Length")]
    [InlineData("\"model_length\"", "Length")]
    [InlineData("\"tool_calls\"", "ToolCall")]
    [InlineData("\"function_call\"", "ToolCall")]
    [InlineData("\"content_filter\"", "ContentFilter")]
    [InlineData("\"something_new\"", "Unknown")]
    [InlineData("null", null)]
    [InlineData("\"\"", null)]
    public void TryReadResponse_FinishReason_TensorZerosMapping(string json, string? expected)
    {
        Read($$"""{"choices":[{"message":{"content":"x"},"finish_reason":{{json}}}]}""").FinishReason
            .Should().Be(expected is null ? null : Enum.Parse<FinishReason>(expected));
    }

    [Fact]
    public void TryReadResponse_UsageWithNulls_KeepsWhatIsKnown()
    {
        Read("""{"choices":[{"message":{"content":"x"},"finish_reason":"stop"}],"usage":{"prompt_tokens":4,"completion_tokens":null}}""")
            .Usage.Should().Be(new Usage(4, null));
    }

    [Theory]
    [InlineData("<html><body>502 Bad Gateway</body></html>", "it is not JSON (it starts with '<html><body>502 Bad Gateway</body></html>')")]
    [InlineData("", "it is not JSON (the body is empty)")]
    [InlineData("{\"choices\": [", "it is not JSON")]
    [InlineData("[1,2]", "it is a JSON array, not an object")]
    [InlineData("\"ok\"", "it is a JSON string, not an object")]
    [InlineData("{\"object\":\"list\",\"data\":[]}", "it has no 'choices' array")]
    [InlineData("{\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\"}}", "it is an error (overloaded)")]
    [InlineData("{\"choices\":[]}", "it has 0 choices, expected 1")]
    [InlineData("{\"choices\":[{\"message\":{\"content\":\"a\"}},{\"message\":{\"content\":\"b\"}}]}", "it has 2 choices, expected 1")]
    [InlineData("{\"choices\":[{\"text\":\"legacy completion\"}]}", "'choices[0].message' is not an object")]
    [InlineData("{\"choices\":[{\"message\":{\"content\":42}}]}", "'content' is a JSON number")]
    [InlineData("{\"choices\":[{\"message\":{\"tool_calls\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}]}}]}", "a tool call has no 'id'")]
    [InlineData("{\"choices\":[{\"message\":{\"tool_calls\":[{\"id\":\"c\",\"type\":\"function\"}]}}]}", "a tool call has no 'function.name'")]
    [InlineData("{\"choices\":[{\"message\":{\"tool_calls\":{}}}]}", "'tool_calls' is not an array")]
    public void TryReadResponse_NotACompletion_FalseWithAShortReason(string body, string reason)
    {
        Fail(body).Should().Contain(reason);
    }

    [Fact]
    public void TryReadResponse_LongHtml_PreviewIsCut()
    {
        var error = Fail("<!DOCTYPE html>\n<html>" + new string('x', 500));

        error.Should().Contain("<!DOCTYPE html> <html>").And.EndWith("...')");
        error.Length.Should().BeLessThan(200);
    }
}
