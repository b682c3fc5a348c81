using System.Text;
using System.Text.Json;
using TensorZero.Proxy.Transforms;

namespace TensorZero.Proxy.Tests.Transforms;

public sealed class RequestBodyTemplateTests
{
    private static readonly byte[] Source = Encoding.UTF8.GetBytes("""{"model":"a","messages":[],"temperature":0.5}""");

    private static string Render(RequestBodyTemplate template, string model, params string[] extra) =>
        Encoding.UTF8.GetString(template.Render(model, extra.Select(Encoding.UTF8.GetBytes).ToArray()));

    [Fact]
    public void Render_WithoutAModelMember_AddsItAfterTheKeptOnes_ThenTheExtraMembers()
    {
        var template = new RequestBodyTemplate(Source, [new Range(13, 26), new Range(27, 44)], modelMemberIndex: -1);

        Render(template, "up", "\"n\":2", "\"x\":{}").Should().Be("""{"messages":[],"temperature":0.5,"model":"up","n":2,"x":{}}""");
    }

    [Fact]
    public void Render_NothingKept_IsTheModelAlone()
    {
        Render(new RequestBodyTemplate(Source, [], modelMemberIndex: -1), "up").Should().Be("""{"model":"up"}""");
    }

    [Fact]
    public void Render_AlternatingModelNames_EachGetsItsOwnName()
    {
        var template = new RequestBodyTemplate(Source, [new Range(1, 12), new Range(13, 26)], modelMemberIndex: 0);

        // Encoded model members are kept by name: no name may get another one's bytes.
        foreach (var name in new[] { "one", "two", "one", "t<h>r\"ee", "one" })
        {
            var body = Render(template, name, "\"n\":1");

            JsonDocument.Parse(body).RootElement.GetProperty("model").GetString().Should().Be(name);
            body.Should().EndWith("\",\"messages\":[],\"n\":1}");
        }
    }
}
