using System.Text;
using System.Text.Json;
using TensorZero.Proxy.Embeddings;

namespace TensorZero.Proxy.Tests.Embeddings;

public sealed class EmbeddingResponseWriterTests
{
    private static string Base64(params float[] values) => Convert.ToBase64String(values.SelectMany(BitConverter.GetBytes).ToArray());

    private static JsonElement Rewrite(string providerBody, EmbeddingEncoding encoding)
    {
        var writer = new EmbeddingResponseWriter("e", encoding);
        writer.TryRewriteBody(Encoding.UTF8.GetBytes(providerBody), out var rewritten).Should().BeTrue();
        return JsonDocument.Parse(rewritten).RootElement;
    }

    [Theory]
    [InlineData("[0.5,-1.25]", false, "[0.5,-1.25]")]
    [InlineData("[0.5,-1.25]", true, "\"AAAAPwAAoL8=\"")]
    [InlineData("\"AAAAPwAAoL8=\"", false, "[0.5,-1.25]")]
    [InlineData("\"AAAAPwAAoL8=\"", true, "\"AAAAPwAAoL8=\"")]
    public void TryRewriteBody_EitherEncodingIn_AskedEncodingOut(string embedding, bool askBase64, string expected)
    {
        Base64(0.5f, -1.25f).Should().Be("AAAAPwAAoL8=");

        var root = Rewrite($$$"""{"data":[{"object":"embedding","index":0,"embedding":{{{embedding}}}}],"usage":{"prompt_tokens":3}}""", askBase64 ? EmbeddingEncoding.Base64 : EmbeddingEncoding.Float);

        root.GetProperty("data")[0].GetProperty("embedding").GetRawText().Should().Be(expected);
    }

    [Fact]
    public void TryRewriteBody_TensorZerosShape_InIndexOrder_ProviderFieldsDropped()
    {
        var writer = new EmbeddingResponseWriter("my-model", EmbeddingEncoding.Float);

        writer.TryRewriteBody("""
            {"object":"list","id":"x","data":[{"index":1,"embedding":[2]},{"index":0,"embedding":[1]}],"model":"upstream","usage":{"prompt_tokens":5,"total_tokens":5}}
            """u8, out var rewritten).Should().BeTrue();

        Encoding.UTF8.GetString(rewritten).Should().Be(
            """{"object":"list","data":[{"object":"embedding","index":0,"embedding":[1]},{"object":"embedding","index":1,"embedding":[2]}],"model":"tensorzero::embedding_model_name::my-model","usage":{"prompt_tokens":5,"total_tokens":5}}""");
        writer.InputTokens.Should().Be(5);
        writer.Shape.Should().Be((2, 1));
    }

    [Fact]
    public void TryRewriteBody_NoUsage_ZeroTokens() =>
        Rewrite("""{"data":[{"embedding":[1]}]}""", EmbeddingEncoding.Float).GetProperty("usage").GetRawText()
            .Should().Be("""{"prompt_tokens":0,"total_tokens":0}""");

    [Theory]
    [InlineData("<html></html>")]
    [InlineData("[]")]
    [InlineData("{\"choices\":[]}")]
    [InlineData("{\"data\":{}}")]
    [InlineData("{\"data\":[{\"vector\":[1]}]}")]
    [InlineData("{\"data\":[{\"embedding\":[\"a\"]}]}")]
    [InlineData("{\"data\":[{\"embedding\":\"not base64!\"}]}")]
    [InlineData("{\"data\":[{\"embedding\":\"AAA=\"}]}")]
    public void TryRewriteBody_NotAnEmbeddingsAnswer_False(string body)
    {
        var writer = new EmbeddingResponseWriter("e", EmbeddingEncoding.Float);

        writer.TryRewriteBody(Encoding.UTF8.GetBytes(body), out _).Should().BeFalse();
    }

    [Theory]
    [InlineData("""{"model":"e","input":"a"}""", 1, "\"a\"")]
    [InlineData("""{"model":"e","input":["a","b"]}""", 2, "[\"a\",\"b\"]")]
    [InlineData("""{"model":"e","input":[1,2,3]}""", 1, "[1,2,3]")]
    [InlineData("""{"model":"e","input":[[1],[2,3]]}""", 2, "[[1],[2,3]]")]
    public void TryRead_InputShapes_Counted(string body, int count, string providerInput)
    {
        EmbeddingRequest.TryRead(Encoding.UTF8.GetBytes(body), out var request, out var error).Should().BeTrue(error);

        request!.InputCount.Should().Be(count);
        JsonDocument.Parse(request.ProviderBody()).RootElement.GetProperty("input").GetRawText().Should().Be(providerInput);
    }

    [Theory]
    [InlineData("""{"model":"tensorzero::embedding_model_name::e","input":"a","dimensions":8,"encoding_format":"base64","user":"u"}""",
        """{"model":"tensorzero::embedding_model_name::e","input":"a","dimensions":8,"encoding_format":"base64"}""")]
    [InlineData("""{"model":"e","input":"a","dimensions":null,"encoding_format":null}""", """{"model":"e","input":"a","encoding_format":"float"}""")]
    public void ProviderBody_TensorZerosFourFields(string body, string expected)
    {
        EmbeddingRequest.TryRead(Encoding.UTF8.GetBytes(body), out var request, out _).Should().BeTrue();

        Encoding.UTF8.GetString(request!.ProviderBody()).Should().Be(expected);
        request.ModelName.Should().Be("e");
    }

    [Theory]
    [InlineData("[]", "must be a JSON object")]
    [InlineData("""{"input":"a"}""", "'model'")]
    [InlineData("""{"model":"e"}""", "'input'")]
    [InlineData("""{"model":"e","input":[]}""", "Input cannot be empty")]
    [InlineData("""{"model":"e","input":[1,-2]}""", "'input' must be")]
    [InlineData("""{"model":"e","input":[[1],"a"]}""", "'input' must be")]
    [InlineData("""{"model":"e","input":{}}""", "'input' must be")]
    [InlineData("""{"model":"tensorzero::embedding_model_name::","input":"a"}""", "cannot be empty")]
    [InlineData("""{"model":"e","input":"a","dimensions":1.5}""", "'dimensions'")]
    [InlineData("""{"model":"e","input":"a","encoding_format":"int8"}""", "'encoding_format'")]
    [InlineData("""{"model":"e","input":"a","tensorzero::dryrun":"yes"}""", "'tensorzero::dryrun'")]
    [InlineData("""{"model":"e","input":"a","tensorzero::credentials":{"k":1}}""", "'tensorzero::credentials.k'")]
    public void TryRead_Invalid_SaysWhat(string body, string expected)
    {
        EmbeddingRequest.TryRead(Encoding.UTF8.GetBytes(body), out _, out var error).Should().BeFalse();

        error.Should().Contain(expected);
    }
}
