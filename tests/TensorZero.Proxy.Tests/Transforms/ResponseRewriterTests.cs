using System.Buffers;
using System.Text;
using System.Text.Json;
using TensorZero.Proxy.Transforms;

namespace TensorZero.Proxy.Tests.Transforms;

public sealed class ResponseRewriterTests
{
    private const string Inference = "0192f1a0-7b2c-7d4e-8f00-0123456789ab";
    private const string Episode = "0192f1a0-7b2c-7d4e-8f00-0123456789cd";
    private const string Model = "tensorzero::function_name::f::variant_name::v";

    private static readonly ResponseRewriter Rewriter = new(Inference, Episode, Model);

    private static JsonElement Event(string json)
    {
        var output = new ArrayBufferWriter<byte>();
        Rewriter.RewriteEvent(Encoding.UTF8.GetBytes(json), output);
        return JsonDocument.Parse(output.WrittenMemory).RootElement;
    }

    [Fact]
    public void TryRewriteBody_ChatCompletion_SetsIdsAndModelAndKeepsEveryOtherMember()
    {
        var body = """{"id":"chatcmpl-1","object":"chat.completion","model":"gpt-4o-mini-2024","choices":[{"index":0}],"usage":{"prompt_tokens":1},"x_vendor":[1,2]}""";

        Rewriter.TryRewriteBody(Encoding.UTF8.GetBytes(body), out var rewritten).Should().BeTrue();

        var json = JsonDocument.Parse(rewritten).RootElement;
        json.GetProperty("id").GetString().Should().Be(Inference);
        json.GetProperty("episode_id").GetString().Should().Be(Episode);
        json.GetProperty("model").GetString().Should().Be(Model);
        json.GetProperty("x_vendor").GetRawText().Should().Be("[1,2]");
        json.GetProperty("usage").GetProperty("prompt_tokens").GetInt32().Should().Be(1);
    }

    [Theory]
    [InlineData("plain-model_1.5:latest")]
    [InlineData("with \"quotes\"")]
    [InlineData("back\\slash")]
    [InlineData("tab\tand\nnewline")]
    [InlineData("naïve 模型 🚀")]
    [InlineData("")]
    public void TryRewriteBody_ClientModelNeedingEscapesOrNot_ComesBackAsSent(string model)
    {
        var rewriter = new ResponseRewriter(Inference, Episode, model);

        rewriter.TryRewriteBody("""{"id":"x","model":"m","choices":[]}"""u8, out var rewritten).Should().BeTrue();

        var json = JsonDocument.Parse(rewritten).RootElement;
        json.GetProperty("model").GetString().Should().Be(model);
        json.GetProperty("id").GetString().Should().Be(Inference);
    }

    [Theory]
    [InlineData("<html><body>502 Bad Gateway</body></html>")]
    [InlineData("")]
    [InlineData("[1,2]")]
    [InlineData("{\"id\":1")]
    [InlineData("{} trailing")]
    public void TryRewriteBody_NotAJsonObject_IsRejected(string body) =>
        Rewriter.TryRewriteBody(Encoding.UTF8.GetBytes(body), out _).Should().BeFalse();

    [Fact]
    public void RewriteEvent_ChunkWithoutUsage_GetsUsageNull()
    {
        var chunk = Event("""{"id":"c","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"content":"Hi"}}]}""");

        chunk.GetProperty("usage").ValueKind.Should().Be(JsonValueKind.Null);
        chunk.GetProperty("model").GetString().Should().Be(Model);
    }

    [Fact]
    public void RewriteEvent_ChunkWithUsage_KeepsIt()
    {
        var chunk = Event("""{"id":"c","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4}}""");

        chunk.GetProperty("usage").GetProperty("completion_tokens").GetInt32().Should().Be(4);
    }

    [Theory]
    [InlineData("{\"a\":1}", true)]
    [InlineData("  {\"a\":[1,{}]}", true)]
    [InlineData("<html>", false)]
    [InlineData("{\"a\":", false)]
    [InlineData("\"text\"", false)]
    [InlineData("{}{}", false)]
    public void IsJsonObject_TellsAnEventFromGarbage(string payload, bool expected) =>
        ResponseRewriter.IsJsonObject(Encoding.UTF8.GetBytes(payload)).Should().Be(expected);
}
