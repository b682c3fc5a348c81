using System.Buffers;
using System.Text;
using TensorZero.Proxy.Functions;
using TensorZero.Proxy.Inference;

namespace TensorZero.Proxy.Tests.Inference;

public sealed class AnthropicMessagesWriterTests
{
    private static readonly Guid InferenceId = Guid.Parse("0196368f-19bd-7082-a677-1c0bf346ff24");
    private const string Id = "msg_0196368f19bd7082a6771c0bf346ff24";

    private static TypedInferenceResult Result(FinishReason? reason, params ContentBlock[] content) => new()
    {
        InferenceId = InferenceId,
        EpisodeId = InferenceId,
        FunctionName = "f",
        VariantName = "v",
        Kind = FunctionKind.Chat,
        Content = [.. content],
        Usage = new Usage(10, 3),
        FinishReason = reason,
    };

    [Fact]
    public void Write_TextThoughtAndToolUse_IsAnAnthropicMessage()
    {
        var body = AnthropicMessagesWriter.Write(Result(FinishReason.ToolCall, new ThoughtBlock("hmm") { Signature = "sig" }, new TextBlock("Checking."),
            new ToolCallBlock("toolu_1", "get_temperature", """{"location":"Paris"}""")), "m");

        JsonAssert.Same(body, $$$"""
            {"id":"{{{Id}}}","type":"message","role":"assistant",
             "content":[{"type":"thinking","thinking":"hmm","signature":"sig"},{"type":"text","text":"Checking."},
                        {"type":"tool_use","id":"toolu_1","name":"get_temperature","input":{"location":"Paris"}}],
             "model":"m","stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":10,"output_tokens":3}}
            """);
    }

    [Theory]
    [InlineData("Stop", false, "end_turn")]
    [InlineData(null, false, "end_turn")]
    [InlineData(null, true, "tool_use")]
    [InlineData("Length", false, "max_tokens")]
    [InlineData("StopSequence", false, "stop_sequence")]
    [InlineData("ToolCall", false, "tool_use")]
    [InlineData("ContentFilter", false, "refusal")]
    [InlineData("Unknown", false, "end_turn")]
    public void StopReason_MapsTensorZerosFinishReason(string? reason, bool hasToolCall, string expected)
    {
        AnthropicMessagesWriter.StopReason(reason is null ? null : Enum.Parse<FinishReason>(reason), hasToolCall).Should().Be(expected);
    }

    [Theory]
    [InlineData("""{"a":[1,2]}""", """{"a":[1,2]}""")]
    [InlineData("""[1]""", """{"_raw_arguments":"[1]"}""")]
    [InlineData("""not json""", """{"_raw_arguments":"not json"}""")]
    public void Write_ToolArguments_AreAnObjectOrKeptRaw(string arguments, string input)
    {
        var body = AnthropicMessagesWriter.Write(Result(null, new ToolCallBlock("t", "f", arguments)) with { Usage = Usage.Unknown }, "m");

        JsonAssert.Same(body, $$$"""
            {"id":"{{{Id}}}","type":"message","role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":{{{input}}}}],
             "model":"m","stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":0,"output_tokens":0}}
            """);
    }

    [Fact]
    public void Write_JsonFunction_AnswersItsRawTextAsText()
    {
        var result = Result(FinishReason.Stop) with { Kind = FunctionKind.Json, Json = new JsonOutput("""{"a":1}""", null) };

        JsonAssert.Same(AnthropicMessagesWriter.Write(result, "m"), $$$"""
            {"id":"{{{Id}}}","type":"message","role":"assistant","content":[{"type":"text","text":"{\"a\":1}"}],
             "model":"m","stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":10,"output_tokens":3}}
            """);
    }

    [Theory]
    [InlineData(400, "invalid_request_error")]
    [InlineData(401, "authentication_error")]
    [InlineData(404, "not_found_error")]
    [InlineData(408, "timeout_error")]
    [InlineData(413, "request_too_large")]
    [InlineData(429, "rate_limit_error")]
    [InlineData(500, "api_error")]
    [InlineData(502, "api_error")]
    public void ErrorSerialize_IsAnthropicsShape(int status, string type)
    {
        JsonAssert.Same(AnthropicError.Serialize(status, "bad"), $$$"""{"type":"error","error":{"type":"{{{type}}}","message":"bad"}}""");
    }

    [Fact]
    public void StreamWriter_TextThenToolUse_WritesAnthropicsEvents()
    {
        var writer = new AnthropicMessagesStreamWriter(InferenceId, "m", FunctionKind.Chat);
        var output = new ArrayBufferWriter<byte>();

        writer.WriteChunk(new ProviderChunk([new TextChunk("0", "Hi")], null, null, "raw"), output);
        writer.WriteChunk(new ProviderChunk([new ToolCallChunk("t1", "f", "{\"a\"")], null, null, "raw"), output);
        writer.WriteChunk(new ProviderChunk([new ToolCallChunk("t1", null, ":1}")], new Usage(10, 4), FinishReason.ToolCall, "raw"), output);
        writer.WriteDone(output);

        Encoding.UTF8.GetString(output.WrittenSpan).Should().Be($$$$"""
            event: message_start
            data: {"type":"message_start","message":{"id":"{{{{Id}}}}","type":"message","role":"assistant","content":[],"model":"m","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":0,"output_tokens":0}}}

            event: ping
            data: {"type":"ping"}

            event: content_block_start
            data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

            event: content_block_delta
            data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}

            event: content_block_stop
            data: {"type":"content_block_stop","index":0}

            event: content_block_start
            data: {"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"t1","name":"f","input":{}}}

            event: content_block_delta
            data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"a\""}}

            event: content_block_delta
            data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":":1}"}}

            event: content_block_stop
            data: {"type":"content_block_stop","index":1}

            event: message_delta
            data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"input_tokens":10,"output_tokens":4}}

            event: message_stop
            data: {"type":"message_stop"}


            """.Replace("\r\n", "\n"));
    }

    [Fact]
    public void StreamWriter_ThinkingAndError_AreThinkingDeltasAndAnErrorEvent()
    {
        var writer = new AnthropicMessagesStreamWriter(InferenceId, "m", FunctionKind.Chat);
        var output = new ArrayBufferWriter<byte>();

        writer.WriteChunk(new ProviderChunk([new ThoughtChunk("th", "hmm")], null, null, "raw"), output);
        writer.WriteError(output, "provider hiccup");

        var text = Encoding.UTF8.GetString(output.WrittenSpan);
        text.Should().Contain("""
            event: content_block_start
            data: {"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}

            event: content_block_delta
            data: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"hmm"}}

            event: error
            data: {"type":"error","error":{"type":"api_error","message":"provider hiccup"}}


            """.Replace("\r\n", "\n"));
    }
}
