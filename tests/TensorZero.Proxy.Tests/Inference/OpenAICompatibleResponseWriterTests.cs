using System.Buffers;
using System.Collections.Immutable;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Time.Testing;
using TensorZero.Proxy.Functions;
using TensorZero.Proxy.Inference;

namespace TensorZero.Proxy.Tests.Inference;

public sealed class OpenAICompatibleResponseWriterTests
{
    private static readonly Guid InferenceId = Guid.Parse("0196368f-19bd-7082-a677-1c0bf346ff24");
    private static readonly Guid EpisodeId = Guid.Parse("0196368f-19bd-7082-a677-1c0bf346ff25");
    private static readonly Guid ModelInferenceId = Guid.Parse("0196368f-19bd-7082-a677-1c0bf346ff26");
    private static readonly FakeTimeProvider Clock = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private const long Created = 1767225600;

    private static TypedInferenceResult Chat(params ContentBlock[] content) => new()
    {
        InferenceId = InferenceId,
        EpisodeId = EpisodeId,
        FunctionName = "basic_test",
        VariantName = "test",
        Kind = FunctionKind.Chat,
        Content = [.. content],
        Usage = new Usage(10, 1),
        FinishReason = FinishReason.Stop,
    };

    private static string Write(TypedInferenceResult result, bool raw = false, bool original = false, bool rawUsage = false) =>
        System.Text.Encoding.UTF8.GetString(OpenAICompatibleResponseWriter.Write(
            result, OpenAICompatibleResponseWriter.ModelField(result.FunctionName, result.VariantName), raw, original, rawUsage, Clock));

    private static JsonElement J(string json) => JsonDocument.Parse(json).RootElement.Clone();

    [Theory]
    [InlineData("basic_test", "test", "tensorzero::function_name::basic_test::variant_name::test")]
    [InlineData(null, "dummy::echo", "tensorzero::model_name::dummy::echo")]
    [InlineData(null, "openai::responses::gpt-5-codex", "tensorzero::model_name::openai::responses::gpt-5-codex")]
    public void ModelField_NamesFunctionAndVariant_OrModel(string? function, string name, string expected)
    {
        OpenAICompatibleResponseWriter.ModelField(function, name).Should().Be(expected);
    }

    [Fact]
    public void Write_ChatText_IsTensorZerosChatCompletion()
    {
        JsonAssert.Same(Write(Chat(new TextBlock("Hello"), new TextBlock(", world!"))), $$$"""
            {"id":"{{{InferenceId}}}","episode_id":"{{{EpisodeId}}}",
             "choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"Hello, world!"}}],
             "created":{{{Created}}},"model":"tensorzero::function_name::basic_test::variant_name::test",
             "system_fingerprint":"","service_tier":null,"object":"chat.completion",
             "usage":{"prompt_tokens":10,"completion_tokens":1,"total_tokens":11,"tensorzero_cost":null}}
            """);
    }

    [Fact]
    public void Write_ToolCall_HasNullContentAndToolCalls()
    {
        var result = Chat(new ToolCallBlock("call_1", "get_temperature", """{"location":"Brooklyn","units":"celsius"}""") { Name = "get_temperature" })
            with { FinishReason = FinishReason.ToolCall };

        var message = JsonNode.Parse(Write(result))!["choices"]![0]!;

        message["finish_reason"]!.GetValue<string>().Should().Be("tool_calls");
        JsonAssert.Same(message["message"]!.ToJsonString(), """
            {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function",
              "function":{"name":"get_temperature","arguments":"{\"location\":\"Brooklyn\",\"units\":\"celsius\"}"}}]}
            """);
    }

    [Fact]
    public void Write_ThoughtsAndUnknowns_AreExtraContentAtTheirIndex()
    {
        var result = Chat(
            new ThoughtBlock("Let me think") { Signature = "sig", ProviderType = "anthropic" },
            new TextBlock("Answer"),
            new ToolCallBlock("c", "t", "{}"),
            new UnknownBlock(J("""{"type":"daydreaming"}""")) { ModelName = "m", ProviderName = "p" },
            new ThoughtBlock(null));

        JsonAssert.Same(JsonNode.Parse(Write(result))!["choices"]![0]!["message"]!.ToJsonString(), """
            {"role":"assistant","content":"Answer",
             "tool_calls":[{"id":"c","type":"function","function":{"name":"t","arguments":"{}"}}],
             "tensorzero_extra_content":[
               {"type":"thought","insert_index":0,"text":"Let me think","signature":"sig","provider_type":"anthropic"},
               {"type":"unknown","insert_index":3,"data":{"type":"daydreaming"},"model_name":"m","provider_name":"p"},
               {"type":"thought","insert_index":4,"text":null}]}
            """);
    }

    [Fact]
    public void Write_NoContent_HasNullContentAndNoToolCalls()
    {
        JsonAssert.Same(JsonNode.Parse(Write(Chat()))!["choices"]![0]!["message"]!.ToJsonString(), """{"role":"assistant","content":null}""");
    }

    [Theory]
    [InlineData("{\"answer\":\"Hello\"}", "\"{\\\"answer\\\":\\\"Hello\\\"}\"")]
    [InlineData(null, "null")]
    public void Write_Json_ContentIsTheRawText(string? raw, string expectedContent)
    {
        var result = Chat() with { Kind = FunctionKind.Json, Json = new JsonOutput(raw, raw is null ? null : J(raw)) };

        JsonAssert.Same(JsonNode.Parse(Write(result))!["choices"]![0]!["message"]!.ToJsonString(), $$$"""{"role":"assistant","content":{{{expectedContent}}}}""");
    }

    [Theory]
    [InlineData(FinishReason.Stop, "stop")]
    [InlineData(FinishReason.StopSequence, "stop")]
    [InlineData(FinishReason.Length, "length")]
    [InlineData(FinishReason.ToolCall, "tool_calls")]
    [InlineData(FinishReason.ContentFilter, "content_filter")]
    [InlineData(FinishReason.Unknown, "stop")]
    [InlineData(null, "stop")]
    internal void Write_FinishReason_MapsToOpenAIs(FinishReason? reason, string expected)
    {
        JsonNode.Parse(Write(Chat() with { FinishReason = reason }))!["choices"]![0]!["finish_reason"]!.GetValue<string>().Should().Be(expected);
    }

    [Fact]
    public void Write_UnknownUsage_LeavesOutTheCounts()
    {
        JsonAssert.Same(JsonNode.Parse(Write(Chat() with { Usage = new Usage(5, null) }))!["usage"]!.ToJsonString(),
            """{"prompt_tokens":5,"tensorzero_cost":null}""");
    }

    [Fact]
    public void Write_RawFieldsAsked_AreAdded()
    {
        var result = Chat(new TextBlock("x")) with
        {
            RawResponse = """{"id":"chatcmpl-1"}""",
            RawUsage = J("""{"total_tokens":11}"""),
            ModelInferenceId = ModelInferenceId,
            ProviderType = "openai",
        };

        var json = JsonNode.Parse(Write(result, raw: true, original: true, rawUsage: true))!;

        JsonAssert.Same(json["tensorzero_raw_usage"]!.ToJsonString(),
            $$$"""[{"model_inference_id":"{{{ModelInferenceId}}}","provider_type":"openai","api_type":"chat_completions","data":{"total_tokens":11}}]""");
        JsonAssert.Same(json["tensorzero_raw_response"]!.ToJsonString(),
            $$$"""[{"model_inference_id":"{{{ModelInferenceId}}}","provider_type":"openai","api_type":"chat_completions","data":"{\"id\":\"chatcmpl-1\"}"}]""");
        json["tensorzero_original_response"]!.GetValue<string>().Should().Be("""{"id":"chatcmpl-1"}""");
    }

    [Fact]
    public void Write_RawFieldsNotAsked_AreAbsent_AndAskedWithoutData_AreEmpty()
    {
        var plain = JsonNode.Parse(Write(Chat() with { RawResponse = "r", RawUsage = J("{}") }))!.AsObject();
        plain.ContainsKey("tensorzero_raw_usage").Should().BeFalse();
        plain.ContainsKey("tensorzero_raw_response").Should().BeFalse();
        plain.ContainsKey("tensorzero_original_response").Should().BeFalse();

        var asked = JsonNode.Parse(Write(Chat(), raw: true, original: true, rawUsage: true))!.AsObject();
        asked["tensorzero_raw_usage"]!.AsArray().Should().BeEmpty();
        asked["tensorzero_raw_response"]!.AsArray().Should().BeEmpty();
        asked.ContainsKey("tensorzero_original_response").Should().BeFalse();
    }

    // -----------------------------------------------------------------------------------------------------------------
    // Streaming
    // -----------------------------------------------------------------------------------------------------------------

    private const string ChatModel = "tensorzero::function_name::basic_test::variant_name::test";

    private static OpenAICompatibleStreamWriter Stream(FunctionKind kind = FunctionKind.Chat, bool includeUsage = false, bool rawUsage = false,
        bool original = false, bool raw = false) =>
        new(InferenceId, EpisodeId, ChatModel, kind, includeUsage, rawUsage, original, raw, Created);

    private static List<JsonNode> Run(OpenAICompatibleStreamWriter writer, params ProviderChunk[] chunks)
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

    private static ProviderChunk Text(string id, string text, string raw = "") => new([new TextChunk(id, text)], null, null, raw);

    private static ProviderChunk End(Usage usage, FinishReason reason) => new([], usage, reason, "{\"final\":true}");

    [Fact]
    public void Stream_Text_ChunksThenFinalChunkWithFinishReason()
    {
        var events = Run(Stream(), Text("0", "Wally,"), Text("0", " the"), Text("0", " golden"), End(new Usage(10, 16), FinishReason.Stop));

        events.Should().HaveCount(4);
        JsonAssert.Same(events[0].ToJsonString(), $$$"""
            {"id":"{{{InferenceId}}}","episode_id":"{{{EpisodeId}}}",
             "choices":[{"index":0,"finish_reason":null,"logprobs":null,"delta":{"role":"assistant","content":"Wally,"}}],
             "created":{{{Created}}},"model":"{{{ChatModel}}}","system_fingerprint":"","service_tier":null,
             "object":"chat.completion.chunk","usage":null}
            """);
        JsonAssert.Same(events[1]["choices"]![0]!.ToJsonString(), """{"index":0,"finish_reason":null,"logprobs":null,"delta":{"content":" the"}}""");
        JsonAssert.Same(events[3].ToJsonString(), $$$"""
            {"id":"{{{InferenceId}}}","episode_id":"{{{EpisodeId}}}",
             "choices":[{"index":0,"finish_reason":"stop","logprobs":null,"delta":{}}],
             "created":{{{Created}}},"model":"{{{ChatModel}}}","system_fingerprint":"","service_tier":null,
             "object":"chat.completion.chunk","usage":null}
            """);
    }

    [Fact]
    public void Stream_IncludeUsage_FillsOnlyTheFinalChunk()
    {
        var writer = Stream(includeUsage: true);
        var events = Run(writer, Text("0", "a"), new ProviderChunk([new TextChunk("0", "b")], new Usage(10, 5), null, ""), End(new Usage(10, 16), FinishReason.Length));

        events[0]["usage"].Should().BeNull();
        events[1]["usage"].Should().BeNull();
        JsonAssert.Same(events[^1]["usage"]!.ToJsonString(), """{"prompt_tokens":10,"completion_tokens":16,"total_tokens":26,"tensorzero_cost":null}""");
        events[^1]["choices"]![0]!["finish_reason"]!.GetValue<string>().Should().Be("length");
        writer.Usage.Should().Be(new Usage(10, 16));
        writer.FinishReason.Should().Be(FinishReason.Length);
    }

    [Fact]
    public void Stream_NoChunks_SendsOnlyTheFinalChunkWithTheRole()
    {
        var events = Run(Stream(includeUsage: true));

        events.Should().ContainSingle();
        JsonAssert.Same(events[0]["choices"]![0]!.ToJsonString(), """{"index":0,"finish_reason":null,"logprobs":null,"delta":{"role":"assistant"}}""");
        JsonAssert.Same(events[0]["usage"]!.ToJsonString(), """{"tensorzero_cost":null}""");
    }

    [Fact]
    public void Stream_ToolCalls_IndexPerCall_IdAndNameOnTheFirstPiece()
    {
        var events = Run(Stream(),
            new ProviderChunk([new ToolCallChunk("call_a", "get_temperature", "{\"location\"")], null, null, ""),
            new ProviderChunk([new ToolCallChunk("call_a", null, ":\"Brooklyn\"}")], null, null, ""),
            new ProviderChunk([new ToolCallChunk("call_b", "get_humidity", "{}"), new ToolCallChunk("call_a", null, "")], null, null, ""),
            End(new Usage(10, 1), FinishReason.ToolCall));

        JsonAssert.Same(events[0]["choices"]![0]!["delta"]!.ToJsonString(), """
            {"role":"assistant","tool_calls":[{"id":"call_a","index":0,"type":"function","function":{"name":"get_temperature","arguments":"{\"location\""}}]}
            """);
        JsonAssert.Same(events[1]["choices"]![0]!["delta"]!.ToJsonString(), """
            {"tool_calls":[{"id":null,"index":0,"type":"function","function":{"name":"","arguments":":\"Brooklyn\"}"}}]}
            """);
        JsonAssert.Same(events[2]["choices"]![0]!["delta"]!.ToJsonString(), """
            {"tool_calls":[{"id":"call_b","index":1,"type":"function","function":{"name":"get_humidity","arguments":"{}"}},
                           {"id":null,"index":0,"type":"function","function":{"name":"","arguments":""}}]}
            """);
        JsonAssert.Same(events[3]["choices"]![0]!.ToJsonString(), """{"index":0,"finish_reason":"tool_calls","logprobs":null,"delta":{}}""");
    }

    [Fact]
    public void Stream_ToolCallsAsText_AreSentAsContent()
    {
        var writer = new OpenAICompatibleStreamWriter(InferenceId, EpisodeId, ChatModel, FunctionKind.Chat, false, false, false, false, Created)
        {
            ToolCallsAsText = true,
        };

        var events = Run(writer,
            new ProviderChunk([new ToolCallChunk("c", "respond", "{\"sentiment\"")], null, null, ""),
            new ProviderChunk([new ToolCallChunk("c", null, ":\"positive\"}")], null, null, ""));

        JsonAssert.Same(events[0]["choices"]![0]!["delta"]!.ToJsonString(), """{"role":"assistant","content":"{\"sentiment\""}""");
        JsonAssert.Same(events[1]["choices"]![0]!["delta"]!.ToJsonString(), """{"content":":\"positive\"}"}""");
    }

    [Fact]
    public void Stream_Json_ContentIsTheRawText_AndTheFinalChunkHasEmptyContent()
    {
        var events = Run(Stream(FunctionKind.Json),
            Text("0", "{\"answer\""),
            new ProviderChunk([new ThoughtChunk("t", "thinking")], null, null, ""),
            new ProviderChunk([new ToolCallChunk("c", "respond", ":\"Hello\"}")], null, null, ""),
            Text("0", ""),
            End(new Usage(10, 1), FinishReason.Stop));

        events.Should().HaveCount(3);
        JsonAssert.Same(events[0]["choices"]![0]!["delta"]!.ToJsonString(), """{"role":"assistant","content":"{\"answer\""}""");
        JsonAssert.Same(events[1]["choices"]![0]!["delta"]!.ToJsonString(), """{"content":":\"Hello\"}"}""");
        JsonAssert.Same(events[2]["choices"]![0]!["delta"]!.ToJsonString(), """{"content":""}""");
        events[2]["usage"].Should().BeNull();
    }

    [Fact]
    public void Stream_ThoughtsAndUnknowns_AreExtraContentWithTheirPosition()
    {
        var events = Run(Stream(),
            new ProviderChunk([new TextChunk("text_1", "Hello "), new ThoughtChunk("thought_1", "Thinking...") { Signature = "sig", ProviderType = "anthropic" }], null, null, ""),
            new ProviderChunk([new ThoughtChunk("thought_1", " more"), new UnknownChunk("u", J("""{"custom":"data"}""")), new TextChunk("text_1", "world!")], null, null, ""));

        JsonAssert.Same(events[0]["choices"]![0]!["delta"]!.ToJsonString(), """
            {"role":"assistant","content":"Hello ","tensorzero_extra_content":[
              {"type":"thought","insert_index":1,"id":"thought_1","text":"Thinking...","signature":"sig","summary_id":null,"summary_text":null,"provider_type":"anthropic"}]}
            """);
        JsonAssert.Same(events[1]["choices"]![0]!["delta"]!.ToJsonString(), """
            {"content":"world!","tensorzero_extra_content":[
              {"type":"thought","insert_index":1,"id":"thought_1","text":" more","signature":null,"summary_id":null,"summary_text":null},
              {"type":"unknown","insert_index":2,"id":"u","data":{"custom":"data"}}]}
            """);
    }

    [Fact]
    public void Stream_RawChunksAndRawUsage_AreSentWhenAsked()
    {
        var writer = new OpenAICompatibleStreamWriter(InferenceId, EpisodeId, ChatModel, FunctionKind.Chat, true, true, true, true, Created)
        {
            ModelInferenceId = ModelInferenceId,
            ProviderType = "openai",
        };

        var events = Run(writer,
            Text("0", "a", raw: "{\"c\":1}"),
            new ProviderChunk([], new Usage(3, 4), FinishReason.Stop, "{\"c\":2}") { RawUsage = J("""{"total_tokens":7}""") });

        events.Should().HaveCount(3);
        events[0]["tensorzero_raw_chunk"]!.GetValue<string>().Should().Be("{\"c\":1}");
        events[0]["tensorzero_original_chunk"]!.GetValue<string>().Should().Be("{\"c\":1}");
        // A chunk with nothing but its raw text and raw usage is still sent when they were asked for.
        events[1]["choices"]![0]!["finish_reason"].Should().BeNull();
        JsonAssert.Same(events[1]["tensorzero_raw_usage"]!.ToJsonString(),
            $$$"""[{"model_inference_id":"{{{ModelInferenceId}}}","provider_type":"openai","api_type":"chat_completions","data":{"total_tokens":7}}]""");
        events[1]["usage"].Should().BeNull();
        JsonAssert.Same(events[2]["usage"]!.ToJsonString(), """{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7,"tensorzero_cost":null}""");
        events[2].AsObject().ContainsKey("tensorzero_raw_chunk").Should().BeFalse();
    }

    [Fact]
    public void Stream_RawChunksNotAsked_EmptyChunksAreDropped()
    {
        var events = Run(Stream(), Text("0", "a", raw: "{\"c\":1}"), new ProviderChunk([], null, null, "{\"ping\":1}"));

        events.Should().HaveCount(2);
        events[0].AsObject().ContainsKey("tensorzero_raw_chunk").Should().BeFalse();
    }

    [Fact]
    public void Stream_Cached_ReportsZeroUsageAndNoRawChunks()
    {
        var writer = new OpenAICompatibleStreamWriter(InferenceId, EpisodeId, ChatModel, FunctionKind.Chat, true, false, false, true, Created) { Cached = true };

        var events = Run(writer, Text("0", "a", raw: "{\"c\":1}"), End(new Usage(10, 16), FinishReason.Stop));

        events[0].AsObject().ContainsKey("tensorzero_raw_chunk").Should().BeFalse();
        JsonAssert.Same(events[^1]["usage"]!.ToJsonString(), """{"prompt_tokens":0,"completion_tokens":0,"total_tokens":0,"tensorzero_cost":0}""");
    }
}
