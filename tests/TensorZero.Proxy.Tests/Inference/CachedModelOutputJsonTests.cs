using System.Collections.Immutable;
using System.Text;
using System.Text.Json;
using TensorZero.Proxy.Functions;
using TensorZero.Proxy.Inference;

namespace TensorZero.Proxy.Tests.Inference;

public sealed class CachedModelOutputJsonTests
{
    private static JsonElement Json(string text) => JsonDocument.Parse(text).RootElement.Clone();

    [Fact]
    public void Serialize_EveryBlockAndPieceKind_RoundTripsEveryField()
    {
        var entry = new CachedModelOutput(
            [
                new TextBlock("hello \"quoted\" ünïcode"),
                new ToolCallBlock("call_1", "get_weather", """{"city":"Paris"}""") { Name = "get_weather", ParsedArguments = Json("""{"city":"Paris"}""") },
                new ToolCallBlock("call_2", "unknown_tool", "not json"),
                new ThoughtBlock("thinking") { Signature = "sig", Summary = Json("""[{"type":"summary_text","text":"s"}]"""), ProviderType = "anthropic", ExtraData = Json("""{"x":1}""") },
                new ThoughtBlock(null),
                new UnknownBlock(Json("""{"type":"custom","v":[1,2]}""")) { ModelName = "m", ProviderName = "p" },
            ],
            FinishReason.ToolCall, """{"raw":"response"}""", DateTimeOffset.FromUnixTimeMilliseconds(1_765_000_000_123))
        {
            Chunks =
            [
                new ProviderChunk([new TextChunk("0", "hel"), new ToolCallChunk("1", "get_weather", "{\"ci")], null, null, "raw 1"),
                new ProviderChunk([new ToolCallChunk("1", null, "ty\":1}"), new ThoughtChunk("2", "t") { Signature = "s", ProviderType = "anthropic" },
                    new UnknownChunk("3", Json("""{"a":true}"""))], new Usage(3, 4), FinishReason.Stop, "raw 2"),
            ],
        };

        CachedModelOutputJson.TryDeserialize(CachedModelOutputJson.Serialize(entry), out var read).Should().BeTrue();

        read!.StoredAt.Should().Be(entry.StoredAt);
        read.FinishReason.Should().Be(FinishReason.ToolCall);
        read.RawResponse.Should().Be(entry.RawResponse);
        read.Output.Should().HaveCount(entry.Output.Length);
        read.Output[0].Should().Be(entry.Output[0]);
        var call = read.Output[1].Should().BeOfType<ToolCallBlock>().Subject;
        (call.Id, call.RawName, call.RawArguments, call.Name).Should().Be(("call_1", "get_weather", """{"city":"Paris"}""", "get_weather"));
        call.ParsedArguments!.Value.GetProperty("city").GetString().Should().Be("Paris");
        read.Output[2].Should().BeOfType<ToolCallBlock>().Which.ParsedArguments.Should().BeNull();
        var thought = read.Output[3].Should().BeOfType<ThoughtBlock>().Subject;
        (thought.Text, thought.Signature, thought.ProviderType).Should().Be(("thinking", "sig", "anthropic"));
        thought.Summary!.Value.GetRawText().Should().Be("""[{"type":"summary_text","text":"s"}]""");
        thought.ExtraData!.Value.GetRawText().Should().Be("""{"x":1}""");
        read.Output[4].Should().BeOfType<ThoughtBlock>().Which.Text.Should().BeNull();
        var unknown = read.Output[5].Should().BeOfType<UnknownBlock>().Subject;
        (unknown.Data.GetRawText(), unknown.ModelName, unknown.ProviderName).Should().Be(("""{"type":"custom","v":[1,2]}""", "m", "p"));

        read.Chunks.Should().HaveCount(2);
        read.Chunks[0].Content.Should().Equal(entry.Chunks[0].Content);
        read.Chunks[0].RawChunk.Should().Be("raw 1");
        read.Chunks[1].FinishReason.Should().Be(FinishReason.Stop);
        read.Chunks[1].Usage.Should().BeNull("a hit replays no usage");
        read.Chunks[1].Content[0].Should().Be(entry.Chunks[1].Content[0]);
        read.Chunks[1].Content[1].Should().Be(entry.Chunks[1].Content[1]);
        read.Chunks[1].Content[2].Should().BeOfType<UnknownChunk>().Which.Data.GetRawText().Should().Be("""{"a":true}""");
    }

    [Fact]
    public void Serialize_BlockAModelDoesNotProduce_Throws()
    {
        var entry = new CachedModelOutput([new ToolResultBlock("call_1", "f", "r")], null, "raw", DateTimeOffset.UnixEpoch);

        var act = () => CachedModelOutputJson.Serialize(entry);

        act.Should().Throw<ArgumentException>();
    }

    [Fact]
    public void Serialize_CompletionWithoutChunksOrFinishReason_ReadsBackEmpty()
    {
        var entry = new CachedModelOutput([new TextBlock("x")], null, "raw", DateTimeOffset.UnixEpoch);

        CachedModelOutputJson.TryDeserialize(CachedModelOutputJson.Serialize(entry), out var read).Should().BeTrue();

        read!.Chunks.Should().BeEmpty();
        read.FinishReason.Should().BeNull();
    }

    [Theory]
    [InlineData("""{"v":2,"stored_at_ms":0,"raw_response":"r","output":[]}""")]
    [InlineData("""{"stored_at_ms":0,"raw_response":"r","output":[]}""")]
    [InlineData("""{"v":1,"stored_at_ms":0,"raw_response":"r","output":[{"type":"hologram"}]}""")]
    [InlineData("""{"v":1,"stored_at_ms":0,"raw_response":"r","output":[{"type":"text"}]}""")]
    [InlineData("""{"v":1,"stored_at_ms":0,"raw_response":"r","finish_reason":"bored","output":[]}""")]
    [InlineData("""{"v":1,"output":[]}""")]
    [InlineData("""[1,2]""")]
    [InlineData("""not json""")]
    public void TryDeserialize_OtherVersionOrMalformed_IsAMiss(string json)
    {
        CachedModelOutputJson.TryDeserialize(Encoding.UTF8.GetBytes(json), out var read).Should().BeFalse();
        read.Should().BeNull();
    }
}
