using System.Buffers;
using System.Text;
using System.Text.Json;
using TensorZero.Proxy.Functions;
using TensorZero.Proxy.Inference;

namespace TensorZero.Proxy.Tests.Inference;

public sealed class OpenAIResponsesWriterTests
{
    private static readonly Guid InferenceId = Guid.Parse("0196368f-19bd-7082-a677-1c0bf346ff24");
    private static readonly Guid EpisodeId = Guid.Parse("0196368f-19bd-7082-a677-1c0bf346ff25");
    private const string N = "0196368f19bd7082a6771c0bf346ff24";
    private const long Created = 1767225600;

    private static readonly ResponsesEcho NoEcho = new(null, null, null, null, true, null, null, null, null, null);

    /// <summary>The response object's fields after <c>output</c>, for a request that set none of them.</summary>
    private const string DefaultTail = """
        "parallel_tool_calls":true,"previous_response_id":null,"reasoning":{"effort":null,"summary":null},"store":false,
        "temperature":null,"text":{"format":{"type":"text"}},"tool_choice":"auto","tools":[],"top_p":null,"truncation":"disabled"
        """;

    private static TypedInferenceResult Result(FinishReason? reason, params ContentBlock[] content) => new()
    {
        InferenceId = InferenceId,
        EpisodeId = EpisodeId,
        FunctionName = "f",
        VariantName = "v",
        Kind = FunctionKind.Chat,
        Content = [.. content],
        Usage = new Usage(10, 3),
        FinishReason = reason,
    };

    private static string Head(string status, string? incomplete = null) => $$"""
        "id":"resp_{{InferenceId}}","object":"response","created_at":{{Created}},"status":"{{status}}","background":false,"error":null,
        "incomplete_details":{{(incomplete is null ? "null" : $$"""{"reason":"{{incomplete}}"}""")}},
        "instructions":null,"max_output_tokens":null,"max_tool_calls":null,"model":"m"
        """;

    private const string Usage = """
        "usage":{"input_tokens":10,"input_tokens_details":{"cached_tokens":0},"output_tokens":3,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":13}
        """;

    private static string Tail(string usage = Usage) => $$"""{{DefaultTail}},{{usage}},"user":null,"metadata":{},"episode_id":"{{EpisodeId}}" """;

    [Fact]
    public void Write_Text_IsOneCompletedMessage()
    {
        var body = OpenAIResponsesWriter.Write(Result(FinishReason.Stop, new TextBlock("Hello"), new TextBlock(", world")), "m", NoEcho, Created);

        JsonAssert.Same(body, $$$"""
            {{{{Head("completed")}}},
             "output":[{"id":"msg_{{{N}}}00","type":"message","status":"completed","role":"assistant",
                        "content":[{"type":"output_text","text":"Hello, world","annotations":[],"logprobs":[]}]}],
             {{{Tail()}}}}
            """);
    }

    [Fact]
    public void Write_TextThenToolCalls_IsAMessageAndOneItemPerCall()
    {
        var body = OpenAIResponsesWriter.Write(Result(FinishReason.ToolCall, new ThoughtBlock("hmm"), new TextBlock("Checking."),
            new ToolCallBlock("call_1", "get_temperature", """{"location":"Paris"}"""), new ToolCallBlock("call_2", "get_time", "{}")), "m", NoEcho, Created);

        JsonAssert.Same(body, $$$"""
            {{{{Head("completed")}}},
             "output":[
               {"id":"rs_{{{N}}}00","type":"reasoning","summary":[],"content":[{"type":"reasoning_text","text":"hmm"}]},
               {"id":"msg_{{{N}}}01","type":"message","status":"completed","role":"assistant",
                "content":[{"type":"output_text","text":"Checking.","annotations":[],"logprobs":[]}]},
               {"id":"fc_{{{N}}}02","type":"function_call","status":"completed","arguments":"{\"location\":\"Paris\"}","call_id":"call_1","name":"get_temperature"},
               {"id":"fc_{{{N}}}03","type":"function_call","status":"completed","arguments":"{}","call_id":"call_2","name":"get_time"}],
             {{{Tail()}}}}
            """);
    }

    [Theory]
    [InlineData("Length", "max_output_tokens")]
    [InlineData("ContentFilter", "content_filter")]
    public void Write_CutShort_IsIncompleteWithItsReason(string reason, string incomplete)
    {
        var body = OpenAIResponsesWriter.Write(Result(Enum.Parse<FinishReason>(reason), new TextBlock("Hel")), "m", NoEcho, Created);

        JsonAssert.Same(body, $$$"""
            {{{{Head("incomplete", incomplete)}}},
             "output":[{"id":"msg_{{{N}}}00","type":"message","status":"incomplete","role":"assistant",
                        "content":[{"type":"output_text","text":"Hel","annotations":[],"logprobs":[]}]}],
             {{{Tail()}}}}
            """);
    }

    [Fact]
    public void Write_JsonFunction_AnswersItsRawText_AndEchoesTheRequest()
    {
        var result = Result(FinishReason.Stop) with { Kind = FunctionKind.Json, Json = new JsonOutput("""{"a":1}""", null), Usage = Functions.Usage.Unknown };
        var echo = new ResponsesEcho("Be brief.", 64, 0.5, 0.9, false, JsonDocument.Parse("""[{"type":"function","name":"f"}]""").RootElement,
            JsonDocument.Parse("\"required\"").RootElement, JsonDocument.Parse("""{"format":{"type":"json_object"}}""").RootElement,
            JsonDocument.Parse("""{"k":"v"}""").RootElement, "u1");

        var body = OpenAIResponsesWriter.Write(result, "m", echo, Created);

        JsonAssert.Same(body, $$$"""
            {"id":"resp_{{{InferenceId}}}","object":"response","created_at":{{{Created}}},"status":"completed","background":false,"error":null,
             "incomplete_details":null,"instructions":"Be brief.","max_output_tokens":64,"max_tool_calls":null,"model":"m",
             "output":[{"id":"msg_{{{N}}}00","type":"message","status":"completed","role":"assistant",
                        "content":[{"type":"output_text","text":"{\"a\":1}","annotations":[],"logprobs":[]}]}],
             "parallel_tool_calls":false,"previous_response_id":null,"reasoning":{"effort":null,"summary":null},"store":false,
             "temperature":0.5,"text":{"format":{"type":"json_object"}},"tool_choice":"required","tools":[{"type":"function","name":"f"}],
             "top_p":0.9,"truncation":"disabled","usage":null,"user":"u1","metadata":{"k":"v"},"episode_id":"{{{EpisodeId}}}"}
            """);
    }

    private static ProviderChunk Chunk(params ChunkBlock[] blocks) => new([.. blocks], null, null, "raw");

    /// <summary>The events written: (event line, data JSON), checking the SSE framing.</summary>
    private static List<(string Type, JsonElement Data)> Events(ArrayBufferWriter<byte> output)
    {
        var text = Encoding.UTF8.GetString(output.WrittenSpan);
        text.Should().EndWith("\n\n");
        return text[..^2].Split("\n\n").Select(e =>
        {
            var lines = e.Split('\n');
            lines.Should().HaveCount(2);
            lines[0].Should().StartWith("event: ");
            lines[1].Should().StartWith("data: ");
            var data = JsonDocument.Parse(lines[1]["data: ".Length..]).RootElement;
            data.GetProperty("type").GetString().Should().Be(lines[0]["event: ".Length..]);
            return (lines[0]["event: ".Length..], data);
        }).ToList();
    }

    [Fact]
    public void StreamWriter_Text_WritesTheDocumentedEventSequence()
    {
        var writer = new OpenAIResponsesStreamWriter(InferenceId, EpisodeId, "m", FunctionKind.Chat, NoEcho, Created);
        var output = new ArrayBufferWriter<byte>();

        writer.WriteChunk(Chunk(new TextChunk("0", "Hel")), output);
        writer.WriteChunk(Chunk(new TextChunk("0", "lo")), output);
        writer.WriteChunk(new ProviderChunk([], new Usage(10, 3), FinishReason.Stop, "raw"), output);
        writer.WriteDone(output);

        var events = Events(output);
        events.Select(e => e.Type).Should().Equal("response.created", "response.in_progress", "response.output_item.added",
            "response.content_part.added", "response.output_text.delta", "response.output_text.delta", "response.output_text.done",
            "response.content_part.done", "response.output_item.done", "response.completed");
        events.Select(e => e.Data.GetProperty("sequence_number").GetInt32()).Should().Equal(Enumerable.Range(0, 10));
        JsonAssert.Same(events[0].Data.GetRawText(), $$$"""
            {"type":"response.created","sequence_number":0,"response":{{{{Head("in_progress")}}},"output":[],{{{Tail("\"usage\":null")}}}}}
            """);
        JsonAssert.Same(events[2].Data.GetRawText(), $$$"""
            {"type":"response.output_item.added","sequence_number":2,"output_index":0,
             "item":{"id":"msg_{{{N}}}00","type":"message","status":"in_progress","role":"assistant","content":[]}}
            """);
        JsonAssert.Same(events[3].Data.GetRawText(), $$$"""
            {"type":"response.content_part.added","sequence_number":3,"item_id":"msg_{{{N}}}00","output_index":0,"content_index":0,
             "part":{"type":"output_text","text":"","annotations":[],"logprobs":[]}}
            """);
        JsonAssert.Same(events[4].Data.GetRawText(), $$$"""
            {"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_{{{N}}}00","output_index":0,"content_index":0,"delta":"Hel","logprobs":[]}
            """);
        JsonAssert.Same(events[6].Data.GetRawText(), $$$"""
            {"type":"response.output_text.done","sequence_number":6,"item_id":"msg_{{{N}}}00","output_index":0,"content_index":0,"text":"Hello","logprobs":[]}
            """);
        JsonAssert.Same(events[9].Data.GetRawText(), $$$"""
            {"type":"response.completed","sequence_number":9,"response":{{{{Head("completed")}}},
             "output":[{"id":"msg_{{{N}}}00","type":"message","status":"completed","role":"assistant",
                        "content":[{"type":"output_text","text":"Hello","annotations":[],"logprobs":[]}]}],
             {{{Tail()}}}}}
            """);
    }

    [Fact]
    public void StreamWriter_TextThenToolCall_ClosesTheMessageBeforeTheCall()
    {
        var writer = new OpenAIResponsesStreamWriter(InferenceId, EpisodeId, "m", FunctionKind.Chat, NoEcho, Created);
        var output = new ArrayBufferWriter<byte>();

        writer.WriteChunk(Chunk(new TextChunk("0", "Let me check.")), output);
        writer.WriteChunk(Chunk(new ToolCallChunk("call_1", "get_temperature", "{\"loc")), output);
        writer.WriteChunk(Chunk(new ToolCallChunk("call_1", null, "\":\"Paris\"}")), output);
        writer.WriteChunk(new ProviderChunk([], new Usage(10, 3), FinishReason.ToolCall, "raw"), output);
        writer.WriteDone(output);

        var events = Events(output);
        events.Select(e => e.Type).Skip(2).Should().Equal("response.output_item.added", "response.content_part.added",
            "response.output_text.delta", "response.output_text.done", "response.content_part.done", "response.output_item.done",
            "response.output_item.added", "response.function_call_arguments.delta", "response.function_call_arguments.delta",
            "response.function_call_arguments.done", "response.output_item.done", "response.completed");
        JsonAssert.Same(events[8].Data.GetRawText(), $$$"""
            {"type":"response.output_item.added","sequence_number":8,"output_index":1,
             "item":{"id":"fc_{{{N}}}01","type":"function_call","status":"in_progress","arguments":"","call_id":"call_1","name":"get_temperature"}}
            """);
        JsonAssert.Same(events[9].Data.GetRawText(), $$$"""
            {"type":"response.function_call_arguments.delta","sequence_number":9,"item_id":"fc_{{{N}}}01","output_index":1,"delta":"{\"loc"}
            """);
        JsonAssert.Same(events[11].Data.GetRawText(), $$$"""
            {"type":"response.function_call_arguments.done","sequence_number":11,"item_id":"fc_{{{N}}}01","output_index":1,
             "name":"get_temperature","arguments":"{\"loc\":\"Paris\"}"}
            """);
        var completed = events[^1].Data.GetProperty("response").GetProperty("output");
        completed.GetArrayLength().Should().Be(2);
        completed[1].GetProperty("arguments").GetString().Should().Be("{\"loc\":\"Paris\"}");
    }

    [Fact]
    public void StreamWriter_LengthStop_EndsWithResponseIncomplete()
    {
        var writer = new OpenAIResponsesStreamWriter(InferenceId, EpisodeId, "m", FunctionKind.Chat, NoEcho, Created);
        var output = new ArrayBufferWriter<byte>();

        writer.WriteChunk(new ProviderChunk([new TextChunk("0", "Hel")], new Usage(10, 3), FinishReason.Length, "raw"), output);
        writer.WriteDone(output);

        var last = Events(output)[^1];
        last.Type.Should().Be("response.incomplete");
        last.Data.GetProperty("response").GetProperty("status").GetString().Should().Be("incomplete");
        last.Data.GetProperty("response").GetProperty("incomplete_details").GetProperty("reason").GetString().Should().Be("max_output_tokens");
        last.Data.GetProperty("response").GetProperty("output")[0].GetProperty("status").GetString().Should().Be("incomplete");
    }

    [Fact]
    public void StreamWriter_ErrorAndFailure_AreErrorAndResponseFailedEvents()
    {
        var writer = new OpenAIResponsesStreamWriter(InferenceId, EpisodeId, "m", FunctionKind.Chat, NoEcho, Created);
        var output = new ArrayBufferWriter<byte>();

        writer.WriteChunk(Chunk(new TextChunk("0", "Hel")), output);
        writer.WriteError(output, "a provider hiccup");
        writer.WriteFailed(output, "The provider's stream broke off; the response is truncated.");

        var events = Events(output);
        JsonAssert.Same(events[5].Data.GetRawText(), """
            {"type":"error","sequence_number":5,"code":"server_error","message":"a provider hiccup","param":null}
            """);
        events.Select(e => e.Type).Skip(6).Should().Equal("response.output_text.done", "response.content_part.done", "response.output_item.done", "response.failed");
        var failed = events[^1].Data.GetProperty("response");
        failed.GetProperty("status").GetString().Should().Be("failed");
        JsonAssert.Same(failed.GetProperty("error").GetRawText(),
            """{"code":"server_error","message":"The provider's stream broke off; the response is truncated."}""");
    }
}
