using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using TensorZero.Proxy.Functions;
using TensorZero.Proxy.Inference;

namespace TensorZero.Proxy.Tests.Inference;

public sealed class NativeResponseWriterTests
{
    private static readonly Guid InferenceId = Guid.Parse("0196368f-19bd-7082-a677-1c0bf346ff24");
    private static readonly Guid EpisodeId = Guid.Parse("0196368f-19bd-7082-a677-1c0bf346ff25");
    private static readonly Guid ModelInferenceId = Guid.Parse("0196368f-19bd-7082-a677-1c0bf346ff26");

    private static JsonElement J(string json) => JsonDocument.Parse(json).RootElement.Clone();

    private static TypedInferenceResult Result(FunctionKind kind = FunctionKind.Chat) => new()
    {
        InferenceId = InferenceId,
        EpisodeId = EpisodeId,
        FunctionName = "weather_helper",
        VariantName = "variant",
        Kind = kind,
        Usage = new Usage(10, 1),
        FinishReason = FinishReason.ToolCall,
    };

    [Fact]
    public void Write_Chat_IsTensorZerosChatResponse()
    {
        var result = Result() with
        {
            Content =
            [
                new ThoughtBlock("hmm") { Signature = "sig", Summary = J("""[{"type":"summary_text","text":"s"}]""") },
                new TextBlock("Let me check."),
                new ToolCallBlock("1", "get_temperature", """{"location":"Brooklyn"}""") { Name = "get_temperature", ParsedArguments = J("""{"location":"Brooklyn"}""") },
                new ToolCallBlock("2", "nope", "{bad"),
                new UnknownBlock(J("""{"x":1}""")) { ModelName = "m" },
            ],
        };

        JsonAssert.Same(NativeResponseWriter.Write(result, false, false, false), $$$"""
            {"inference_id":"{{{InferenceId}}}","episode_id":"{{{EpisodeId}}}","variant_name":"variant",
             "content":[
               {"type":"thought","text":"hmm","signature":"sig","summary":[{"type":"summary_text","text":"s"}]},
               {"type":"text","text":"Let me check."},
               {"type":"tool_call","id":"1","raw_name":"get_temperature","raw_arguments":"{\"location\":\"Brooklyn\"}","name":"get_temperature","arguments":{"location":"Brooklyn"}},
               {"type":"tool_call","id":"2","raw_name":"nope","raw_arguments":"{bad","name":null,"arguments":null},
               {"type":"unknown","data":{"x":1},"model_name":"m"}],
             "usage":{"input_tokens":10,"output_tokens":1,"cost":null},
             "finish_reason":"tool_call"}
            """);
    }

    [Fact]
    public void Write_Json_HasOutputRawAndParsed()
    {
        var result = Result(FunctionKind.Json) with { Json = new JsonOutput("""{"answer":"Hello"}""", J("""{"answer":"Hello"}""")), FinishReason = null, Usage = Usage.Unknown };

        JsonAssert.Same(NativeResponseWriter.Write(result, false, false, false), $$$"""
            {"inference_id":"{{{InferenceId}}}","episode_id":"{{{EpisodeId}}}","variant_name":"variant",
             "output":{"raw":"{\"answer\":\"Hello\"}","parsed":{"answer":"Hello"}},
             "usage":{"input_tokens":null,"output_tokens":null,"cost":null}}
            """);
    }

    [Fact]
    public void Write_JsonThatDidNotParse_HasNullParsed()
    {
        var json = JsonNode.Parse(NativeResponseWriter.Write(Result(FunctionKind.Json) with { Json = new JsonOutput("Megumin", null) }, false, false, false))!;

        JsonAssert.Same(json["output"]!.ToJsonString(), """{"raw":"Megumin","parsed":null}""");
    }

    [Fact]
    public void Write_RawFieldsAsked_AreAdded()
    {
        var result = Result() with { RawResponse = "{}", RawUsage = J("""{"total_tokens":11}"""), ModelInferenceId = ModelInferenceId, ProviderType = "dummy" };

        var json = JsonNode.Parse(NativeResponseWriter.Write(result, true, true, true))!;

        JsonAssert.Same(json["raw_usage"]!.ToJsonString(),
            $$$"""[{"model_inference_id":"{{{ModelInferenceId}}}","provider_type":"dummy","api_type":"chat_completions","data":{"total_tokens":11}}]""");
        JsonAssert.Same(json["raw_response"]!.ToJsonString(),
            $$$"""[{"model_inference_id":"{{{ModelInferenceId}}}","provider_type":"dummy","api_type":"chat_completions","data":"{}"}]""");
        json["original_response"]!.GetValue<string>().Should().Be("{}");
    }

    [Theory]
    [InlineData(FinishReason.Stop, "stop")]
    [InlineData(FinishReason.StopSequence, "stop_sequence")]
    [InlineData(FinishReason.Length, "length")]
    [InlineData(FinishReason.ToolCall, "tool_call")]
    [InlineData(FinishReason.ContentFilter, "content_filter")]
    [InlineData(FinishReason.Unknown, "unknown")]
    internal void Write_FinishReason_IsTensorZerosName(FinishReason reason, string expected)
    {
        JsonNode.Parse(NativeResponseWriter.Write(Result() with { FinishReason = reason }, false, false, false))!["finish_reason"]!
            .GetValue<string>().Should().Be(expected);
    }

    // -----------------------------------------------------------------------------------------------------------------
    // Streaming
    // -----------------------------------------------------------------------------------------------------------------

    private static List<JsonNode> Run(NativeStreamWriter writer, params ProviderChunk[] chunks)
    {
        var output = new ArrayBufferWriter<byte>();
        foreach (var chunk in chunks)
        {
            writer.WriteChunk(chunk, output);
        }
        writer.WriteDone(output);
        var events = JsonAssert.Events(output);
        events[^1].Should().Be("[DONE]");
        return events[..^1].Select(e => JsonNode.Parse(e)!).ToList();
    }

    [Fact]
    public void Stream_Chat_ContentChunksThenUsageAndFinishReason()
    {
        var events = Run(new NativeStreamWriter(InferenceId, EpisodeId, "test", FunctionKind.Chat, false, false, false),
            new ProviderChunk([new TextChunk("0", "Wally,")], null, null, ""),
            new ProviderChunk([new ToolCallChunk("c", "t", "{\"a\""), new ThoughtChunk("th", "hmm") { Signature = "s" }, new UnknownChunk("u", J("{}"))], null, null, ""),
            new ProviderChunk([new ToolCallChunk("c", null, ":1}")], null, null, ""),
            new ProviderChunk([], new Usage(10, 16), FinishReason.Stop, "{\"last\":1}"));

        events.Should().HaveCount(4);
        JsonAssert.Same(events[0].ToJsonString(), $$$"""
            {"inference_id":"{{{InferenceId}}}","episode_id":"{{{EpisodeId}}}","variant_name":"test","content":[{"type":"text","id":"0","text":"Wally,"}]}
            """);
        JsonAssert.Same(events[1]["content"]!.ToJsonString(), """
            [{"type":"tool_call","id":"c","raw_name":"t","raw_arguments":"{\"a\""},
             {"type":"thought","id":"th","text":"hmm","signature":"s","summary_id":null,"summary_text":null},
             {"type":"unknown","id":"u","data":{}}]
            """);
        JsonAssert.Same(events[2]["content"]!.ToJsonString(), """[{"type":"tool_call","id":"c","raw_name":"","raw_arguments":":1}"}]""");
        JsonAssert.Same(events[3].ToJsonString(), $$$"""
            {"inference_id":"{{{InferenceId}}}","episode_id":"{{{EpisodeId}}}","variant_name":"test","content":[],
             "usage":{"input_tokens":10,"output_tokens":16,"cost":null},"finish_reason":"stop"}
            """);
    }

    [Fact]
    public void Stream_Json_RawChunksThenFinalChunk()
    {
        var events = Run(new NativeStreamWriter(InferenceId, EpisodeId, "test", FunctionKind.Json, false, false, false),
            new ProviderChunk([new TextChunk("0", "{\"answer\"")], null, null, ""),
            new ProviderChunk([new TextChunk("0", "")], null, null, ""),
            new ProviderChunk([new TextChunk("0", ":1}")], new Usage(2, 3), FinishReason.Stop, ""));

        events.Select(e => e["raw"]!.GetValue<string>()).Should().Equal("{\"answer\"", ":1}", "");
        events[1].AsObject().ContainsKey("usage").Should().BeFalse();
        JsonAssert.Same(events[2]["usage"]!.ToJsonString(), """{"input_tokens":2,"output_tokens":3,"cost":null}""");
    }

    [Fact]
    public void Stream_ToolCallsAsText_AndRawFields()
    {
        var writer = new NativeStreamWriter(InferenceId, EpisodeId, "test", FunctionKind.Chat, true, true, true)
        {
            ToolCallsAsText = true,
            ModelInferenceId = ModelInferenceId,
            ProviderType = "openai",
        };

        var events = Run(writer,
            new ProviderChunk([new ToolCallChunk("c", "respond", "{}")], null, null, "{\"raw\":1}"),
            new ProviderChunk([], new Usage(1, 1), FinishReason.Stop, "") { RawUsage = J("""{"total_tokens":2}""") });

        JsonAssert.Same(events[0].ToJsonString(), $$$"""
            {"inference_id":"{{{InferenceId}}}","episode_id":"{{{EpisodeId}}}","variant_name":"test",
             "content":[{"type":"text","id":"c","text":"{}"}],"original_chunk":"{\"raw\":1}","raw_chunk":"{\"raw\":1}"}
            """);
        JsonAssert.Same(events[1]["raw_usage"]!.ToJsonString(),
            $$$"""[{"model_inference_id":"{{{ModelInferenceId}}}","provider_type":"openai","api_type":"chat_completions","data":{"total_tokens":2}}]""");
        events.Should().HaveCount(3);
    }

    [Fact]
    public void Stream_Cached_HasZeroUsage()
    {
        var events = Run(new NativeStreamWriter(InferenceId, EpisodeId, "test", FunctionKind.Chat, false, false, false) { Cached = true },
            new ProviderChunk([new TextChunk("0", "a")], new Usage(10, 1), FinishReason.Stop, ""));

        JsonAssert.Same(events[^1]["usage"]!.ToJsonString(), """{"input_tokens":0,"output_tokens":0,"cost":0}""");
    }

    // -----------------------------------------------------------------------------------------------------------------
    // Errors
    // -----------------------------------------------------------------------------------------------------------------

    [Fact]
    public async Task NativeError_WriteAsync_WritesStatusAndErrorString()
    {
        var context = new DefaultHttpContext();
        context.Response.Body = new MemoryStream();

        await NativeError.WriteAsync(context, 404, "Unknown function: does_not_exist");

        context.Response.StatusCode.Should().Be(404);
        context.Response.ContentType.Should().Be("application/json");
        JsonAssert.Same(Encoding.UTF8.GetString(((MemoryStream)context.Response.Body).ToArray()), """{"error":"Unknown function: does_not_exist"}""");
    }

    [Theory]
    [InlineData(false, """{"error":"boom \"x\""}""")]
    [InlineData(true, """{"error":{"message":"boom \"x\""}}""")]
    public void NativeError_WriteStreamEvent_IsOneSseEvent(bool openAI, string expected)
    {
        var output = new ArrayBufferWriter<byte>();

        NativeError.WriteStreamEvent(output, "boom \"x\"", openAI);

        JsonAssert.Same(JsonAssert.Events(output).Should().ContainSingle().Subject, expected);
    }
}
