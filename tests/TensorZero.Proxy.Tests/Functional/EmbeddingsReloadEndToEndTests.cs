using System.Diagnostics;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using TensorZero.Proxy.Configuration;
using TensorZero.Proxy.Tests.TestSupport;

namespace TensorZero.Proxy.Tests.Functional;

/// <summary>A reload of tensorzero.toml changes and adds embedding models on a running gateway, their YARP clusters included.</summary>
public sealed class EmbeddingsReloadEndToEndTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static string Embedding(string model, FakeProvider upstream) => $"""

        [embedding_models.{model}]
        routing = ["p"]
        [embedding_models.{model}.providers.p]
        type = "openai"
        model_name = "upstream-{model}"
        api_base = "{upstream.BaseUrl}/v1/"
        api_key_location = "none"

        """;

    private static Func<HttpContext, ReceivedRequest, Task> Answer(float value) => (context, _) =>
    {
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync($$$"""{"data":[{"index":0,"embedding":[{{{value}}}]}],"usage":{"prompt_tokens":1}}""");
    };

    private static async Task<(HttpStatusCode Status, string Body)> EmbedAsync(TestGateway gateway, string model)
    {
        using var response = await gateway.Client.PostAsync("/openai/v1/embeddings",
            new StringContent($$"""{"model":"tensorzero::embedding_model_name::{{model}}","input":"x"}""", Encoding.UTF8, "application/json"));
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Reload_ChangedAndAddedEmbeddingModels_AreServed()
    {
        await using var one = await FakeProvider.StartAsync(Answer(1));
        await using var two = await FakeProvider.StartAsync(Answer(2));
        var path = _dir.Write("tensorzero.toml", Embedding("e", one));
        await using var gateway = await TestGateway.StartWithServicesAsync("", services => services.Configure<ConfigReloadOptions>(o =>
        {
            o.Debounce = TimeSpan.FromMilliseconds(50);
            o.MaxDelay = TimeSpan.FromMilliseconds(200);
        }), "--config-file", path);
        (await EmbedAsync(gateway, "e")).Body.Should().Contain("\"embedding\":[1]");
        (await EmbedAsync(gateway, "f")).Status.Should().Be(HttpStatusCode.NotFound);

        File.WriteAllText(path, Embedding("e", two) + Embedding("f", one));
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(30) && (await EmbedAsync(gateway, "f")).Status != HttpStatusCode.OK)
        {
            await Task.Delay(10);
        }

        (await EmbedAsync(gateway, "f")).Body.Should().Contain("\"embedding\":[1]");
        (await EmbedAsync(gateway, "e")).Body.Should().Contain("\"embedding\":[2]", "model e now routes to the second provider's address");
        two.Received.Should().OnlyContain(r => r.Path == "/v1/embeddings");
    }
}
