using System.Text;
using System.Text.Json;
using TensorZero.Proxy.Inference;

namespace TensorZero.Proxy.Tests.Inference;

public sealed class InferenceRequestTests
{
    private static InferenceRequest Parse(string json)
    {
        InferenceRequest.TryParse(Encoding.UTF8.GetBytes(json), out var request, out var error).Should().BeTrue(error);
        return request!;
    }

    private static string Render(string json, string model) => Encoding.UTF8.GetString(Parse(json).Template.Render(model));

    [Theory]
    [InlineData("""{"model":"a","messages":[]}""", """{"model":"up","messages":[]}""")]
    [InlineData("""{ "messages" : [ {"role":"user"} ] , "model" : "a" }""", """{"messages" : [ {"role":"user"} ],"model":"up"}""")]
    [InlineData("""{"tensorzero::tags":{"a":"b"},"model":"a","x":1}""", """{"model":"up","x":1}""")]
    [InlineData("""{"model":"a","tensorzero::dryrun":true}""", """{"model":"up"}""")]
    [InlineData("""{"model":"a","tools":[{"type":"function","function":{"name":"f","parameters":{"model":"keep"}}}]}""",
        """{"model":"up","tools":[{"type":"function","function":{"name":"f","parameters":{"model":"keep"}}}]}""")]
    [InlineData("""{"model":"a","n":2,"response_format":{"type":"json_object"},"logprobs":true}""",
        """{"model":"up","n":2,"response_format":{"type":"json_object"},"logprobs":true}""")]
    public void Render_SplicesModelAndDropsGatewayFields(string input, string expected)
    {
        Render(input, "up").Should().Be(expected);
    }

    [Fact]
    public void Render_ModelNeedingEscapes_IsValidJson()
    {
        var rendered = Render("""{"model":"a"}""", "we\"ird/\u00e9");

        JsonDocument.Parse(rendered).RootElement.GetProperty("model").GetString().Should().Be("we\"ird/\u00e9");
    }

    [Fact]
    public void Parse_ReadsStreamModelAndGatewayFields()
    {
        var request = Parse("""{"model":"tensorzero::model_name::m","stream":true,"tensorzero::episode_id":"e","tensorzero::tags":{"k":"v"}}""");

        request.Model.Should().Be("tensorzero::model_name::m");
        request.Stream.Should().BeTrue();
        request.TensorZeroFields.Keys.Should().BeEquivalentTo("tensorzero::episode_id", "tensorzero::tags");
        request.TensorZeroFields["tensorzero::tags"].GetProperty("k").GetString().Should().Be("v");
    }

    [Theory]
    [InlineData("", "not valid JSON")]
    [InlineData("{\"model\":\"a\"", "not valid JSON")]
    [InlineData("{\"model\":\"a\"} {}", "not valid JSON")]
    [InlineData("\"str\"", "must be a JSON object")]
    [InlineData("{\"model\":null}", "'model' must be a string")]
    [InlineData("{\"model\":\"\"}", "must name a 'model'")]
    [InlineData("{\"stream\":1,\"model\":\"a\"}", "'stream' must be a boolean")]
    [InlineData("{\"model\":\"a\",\"tensorzero::x\":1}", "Unknown field 'tensorzero::x'")]
    [InlineData("{\"model\":\"a\",\"tensorzero::tags\":{},\"tensorzero::tags\":{}}", "more than once")]
    public void TryParse_BadBody_SaysWhy(string json, string expected)
    {
        InferenceRequest.TryParse(Encoding.UTF8.GetBytes(json), out _, out var error).Should().BeFalse();

        error.Should().Contain(expected);
    }

    [Fact]
    public void TryParse_DeeplyNestedBody_IsRejectedNotCrashing()
    {
        var json = "{\"model\":\"a\",\"x\":" + new string('[', 100_000) + new string(']', 100_000) + "}";

        InferenceRequest.TryParse(Encoding.UTF8.GetBytes(json), out _, out var error).Should().BeFalse();
        error.Should().Contain("not valid JSON");
    }

    [Fact]
    public void KnownTensorZeroFields_AreEveryFieldTheOpenAICompatibleEndpointAccepts()
    {
        InferenceRequest.KnownTensorZeroFields.Should().BeEquivalentTo(OpenAICompatibleRequestReader.TensorZeroFields);
    }

    [Theory]
    [InlineData("tensorzero::namespace", "\"ns\"")]
    [InlineData("tensorzero::cache_options", "{\"enabled\":\"on\"}")]
    [InlineData("tensorzero::deny_unknown_fields", "true")]
    [InlineData("tensorzero::credentials", "{\"k\":\"v\"}")]
    [InlineData("tensorzero::internal_dynamic_variant_config", "{}")]
    [InlineData("tensorzero::provider_tools", "[]")]
    [InlineData("tensorzero::params", "{\"chat_completion\":{}}")]
    [InlineData("tensorzero::include_raw_usage", "true")]
    [InlineData("tensorzero::include_original_response", "true")]
    [InlineData("tensorzero::include_raw_response", "true")]
    public void TryParse_FieldThePassthroughIgnores_IsAcceptedListedAndStripped(string field, string value)
    {
        var request = Parse($$"""{"model":"a","{{field}}":{{value}},"messages":[]}""");

        request.IgnoredFields.Should().Equal(field);
        Encoding.UTF8.GetString(request.Template.Render("up")).Should().Be("""{"model":"up","messages":[]}""");
    }

    [Fact]
    public void TryParse_FieldsThePassthroughActsOn_AreNotIgnored()
    {
        var request = Parse("""{"model":"a","tensorzero::tags":{},"tensorzero::dryrun":true,"tensorzero::variant_name":"v","tensorzero::include_raw_response":true,"tensorzero::params":{}}""");

        request.IgnoredFields.Should().Equal("tensorzero::include_raw_response", "tensorzero::params");
        InferenceRequest.PassthroughIgnoredFields.Should().NotContain(["tensorzero::tags", "tensorzero::dryrun", "tensorzero::variant_name",
            "tensorzero::episode_id", "tensorzero::extra_headers", "tensorzero::extra_body"]);
    }
}
