using System.Text;
using TensorZero.Proxy.Functions;
using TensorZero.Proxy.Providers;

namespace TensorZero.Proxy.Tests.Providers;

public sealed class OpenAIChatStreamReaderTests
{
    private static ProviderChunk Read(OpenAIChatStreamReader reader, string data)
    {
        reader.TryReadEvent(Encoding.UTF8.GetBytes(data), out var chunk, out var error).Should().BeTrue(error);
        error.Should().BeNull();
        chunk.Should().NotBeNull();
        return chunk!;
    }

    private static string Fail(OpenAIChatStreamReader reader, string data)
    {
        reader.TryReadEvent(Encoding.UTF8.GetBytes(data), out var chunk, out var error).Should().BeFalse();
        chunk.Should().BeNull();
        return error!;
    }

    [Fact]
    public void TryReadEvent_TextDeltas_TextChunksOfBlockZero()
    {
        var reader = new OpenAIChatStreamReader();

        var first = Read(reader, """{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}""");
        var second = Read(reader, """{"id":"c","choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}""");

        first.Content.Should().Equal(new TextChunk("0", ""));
        first.Usage.Should().BeNull();
        first.FinishReason.Should().BeNull();
        second.Content.Should().Equal(new TextChunk("0", "Hel"));
        second.RawChunk.Should().Be("""{"id":"c","choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}""");
    }

    [Fact]
    public void TryReadEvent_RoleOnlyDelta_NoContent()
    {
        Read(new OpenAIChatStreamReader(), """{"choices":[{"index":0,"delta":{"role":"assistant"}}]}""").Content.Should().BeEmpty();
    }

    [Fact]
    public void TryReadEvent_ToolCallDeltas_LaterDeltasGetTheIdOfTheirIndex()
    {
        var reader = new OpenAIChatStreamReader();

        var chunks = new[]
        {
            """{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"get_weather","arguments":""}}]}}]}""",
            """{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}]}}]}""",
            """{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_b","type":"function","function":{"name":"get_time","arguments":"{}"}}]}}]}""",
            """{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"Paris\"}"}}]}}]}""",
            """{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}""",
        }.Select(data => Read(reader, data)).ToList();

        chunks.SelectMany(c => c.Content).Should().Equal(
            new ToolCallChunk("call_a", "get_weather", ""),
            new ToolCallChunk("call_a", null, "{\"city\":"),
            new ToolCallChunk("call_b", "get_time", "{}"),
            new ToolCallChunk("call_a", null, "\"Paris\"}"));
        chunks[^1].FinishReason.Should().Be(FinishReason.ToolCall);
    }

    [Fact]
    public void TryReadEvent_ToolCallDeltaWithoutIndex_UsesItsOwnId()
    {
        // Mistral sends the id and the whole call in every delta, without an index.
        Read(new OpenAIChatStreamReader(), """{"choices":[{"delta":{"tool_calls":[{"id":"m1","function":{"name":"f","arguments":"{}"}}]}}]}""")
            .Content.Should().Equal(new ToolCallChunk("m1", "f", "{}"));
    }

    [Fact]
    public void TryReadEvent_TgiToolCallObject_IsOneCall()
    {
        Read(new OpenAIChatStreamReader(), """{"choices":[{"delta":{"tool_calls":{"index":0,"id":"t","function":{"name":"respond","arguments":"{"}}}}]}""")
            .Content.Should().Equal(new ToolCallChunk("t", "respond", "{"));
    }

    [Fact]
    public void TryReadEvent_ToolCallIndexNeverGivenAnId_FalseAndTheReaderGoesOn()
    {
        var reader = new OpenAIChatStreamReader();

        Fail(reader, """{"choices":[{"delta":{"tool_calls":[{"index":3,"function":{"arguments":"x"}}]}}]}""")
            .Should().Contain("a tool call delta at index 3 has no id, and no earlier delta gave one");
        Fail(reader, """{"choices":[{"delta":{"tool_calls":[{"function":{"arguments":"x"}}]}}]}""")
            .Should().Contain("neither an id nor an index");
        Read(reader, """{"choices":[{"delta":{"content":"still fine"}}]}""").Content.Should().Equal(new TextChunk("0", "still fine"));
    }

    [Fact]
    public void TryReadEvent_UsageOnlyFinalChunk_UsageWithoutContent()
    {
        var chunk = Read(new OpenAIChatStreamReader(), """{"id":"c","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":16,"total_tokens":26}}""");

        chunk.Content.Should().BeEmpty();
        chunk.Usage.Should().Be(new Usage(10, 16));
        chunk.FinishReason.Should().BeNull();
    }

    [Fact]
    public void TryReadEvent_UsageWithoutChoicesField_StillAChunk()
    {
        Read(new OpenAIChatStreamReader(), """{"usage":{"prompt_tokens":1,"completion_tokens":2}}""").Usage.Should().Be(new Usage(1, 2));
    }

    [Fact]
    public void TryReadEvent_FinishReasonAndUsageTogether()
    {
        var chunk = Read(new OpenAIChatStreamReader(), """{"choices":[{"delta":{},"finish_reason":"length"}],"usage":{"prompt_tokens":3,"completion_tokens":4}}""");

        chunk.FinishReason.Should().Be(FinishReason.Length);
        chunk.Usage.Should().Be(new Usage(3, 4));
    }

    [Fact]
    public void TryReadEvent_EmptyFinishReason_IsNone()
    {
        Read(new OpenAIChatStreamReader(), """{"choices":[{"delta":{"content":"a"},"finish_reason":""}]}""").FinishReason.Should().BeNull();
    }

    [Theory]
    [InlineData("reasoning_content")]
    [InlineData("reasoning")]
    public void TryReadEvent_ReasoningDelta_ThoughtChunkOfBlockOne(string field)
    {
        Read(new OpenAIChatStreamReader("deepseek"), $$$"""{"choices":[{"delta":{"{{{field}}}":"hmm","content":null}}]}""")
            .Content.Should().Equal(new ThoughtChunk("1", "hmm") { ProviderType = "deepseek" });
    }

    [Fact]
    public void TryReadEvent_ThinkTags_TextInsideIsAThoughtAndTheTagDeltasAreDropped()
    {
        var reader = new OpenAIChatStreamReader("together");

        var content = new[] { "Hi", "<think>", "hmm", "\n", "</think>", "Paris" }
            .Select(text => Read(reader, $$$"""{"choices":[{"delta":{"content":{{{System.Text.Json.JsonSerializer.Serialize(text)}}}}}]}"""))
            .SelectMany(c => c.Content)
            .ToList();
        var reasoning = Read(reader, """{"choices":[{"delta":{"reasoning_content":"field"}}]}""").Content;

        content.Should().Equal(
            new TextChunk("0", "Hi"),
            new ThoughtChunk("1", "hmm") { ProviderType = "together" },
            new ThoughtChunk("1", "\n") { ProviderType = "together" },
            new TextChunk("2", "Paris"));
        reasoning.Should().Equal(new ThoughtChunk("3", "field") { ProviderType = "together" });
    }

    [Theory]
    [InlineData("</think>", "Found </think> while not thinking")]
    [InlineData("<think>|<think>", "Found <think> while already thinking")]
    [InlineData("<think>|</think>|<think>", "Found thinking tags after thinking finished")]
    public void TryReadEvent_BadThinkTags_False(string deltas, string reason)
    {
        var reader = new OpenAIChatStreamReader("fireworks");
        var parts = deltas.Split('|');
        foreach (var part in parts[..^1])
        {
            Read(reader, $$$"""{"choices":[{"delta":{"content":"{{{part}}}"}}]}""");
        }

        Fail(reader, $$$"""{"choices":[{"delta":{"content":"{{{parts[^1]}}}"}}]}""").Should().EndWith(reason);
    }

    [Fact]
    public void TryReadEvent_ThinkTagsOfOtherTypes_StayText()
    {
        Read(new OpenAIChatStreamReader("openai"), """{"choices":[{"delta":{"content":"<think>"}}]}""").Content.Should().Equal(new TextChunk("0", "<think>"));
    }

    [Theory]
    [InlineData("[DONE]")]
    [InlineData(" [DONE]\n")]
    public void TryReadEvent_Done_TrueWithoutAChunk(string data)
    {
        new OpenAIChatStreamReader().TryReadEvent(Encoding.UTF8.GetBytes(data), out var chunk, out var error).Should().BeTrue();
        chunk.Should().BeNull();
        error.Should().BeNull();
    }

    [Theory]
    [InlineData("{\"choices\":[{\"delta\":", "it is not JSON")]
    [InlineData("<html>oops</html>", "it is not JSON (it starts with '<html>oops</html>')")]
    [InlineData("[]", "it is not a JSON object")]
    [InlineData("{\"id\":\"x\"}", "it has neither 'choices' nor 'usage'")]
    [InlineData("{\"choices\":[{\"delta\":{}},{\"delta\":{}}]}", "it has 2 choices, expected 1")]
    public void TryReadEvent_NotAChunk_FalseWithAReason(string data, string reason)
    {
        Fail(new OpenAIChatStreamReader(), data).Should().StartWith("the provider's stream event is not a chat completion chunk: ").And.Contain(reason);
    }

    [Fact]
    public void TryReadEvent_ErrorObject_FalseWithTheProvidersMessage()
    {
        Fail(new OpenAIChatStreamReader(), """{"error":{"message":"Rate limit reached","type":"requests"}}""")
            .Should().Be("the provider sent an error in its stream: Rate limit reached");
    }
}
