using System.ClientModel;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenAI;
using OpenAI.Models;
using TensorZero.Proxy.Tests.TestSupport;
using Yarp.ReverseProxy.Configuration;

namespace TensorZero.Proxy.Tests.Functional;

/// <summary>
/// <c>GET /openai/v1/models/{id}</c> through the OpenAI .NET SDK, and the OpenAI-shaped JSON bodies of unknown routes (404)
/// and wrong methods (405): on every path of the runnable gateway, on the gateway's own paths only in a host's app.
/// </summary>
public sealed class RouteErrorsAndModelsEndToEndTests
{
    private const string Toml = """
        [models."team/small"]
        routing = ["dummy"]
        [models."team/small".providers.dummy]
        type = "dummy"
        model_name = "test"

        [functions.greet]
        type = "chat"
        [functions.greet.variants.v]
        type = "chat_completion"
        model = "team/small"

        [embedding_models.e]
        routing = ["p"]
        [embedding_models.e.providers.p]
        type = "openai"
        model_name = "text-embedding-3-small"
        api_key_location = "none"
        """;

    private static OpenAIModelClient Models(TestGateway gateway, string basePath = "/openai/v1") =>
        new(new ApiKeyCredential(OpenAIClients.ClientApiKey), new OpenAIClientOptions { Endpoint = new Uri(gateway.BaseUrl + basePath) });

    [Theory]
    [InlineData("tensorzero::model_name::team/small")]
    [InlineData("tensorzero::function_name::greet")]
    [InlineData("tensorzero::embedding_model_name::e")]
    [InlineData("greet")]
    [InlineData("tensorzero::model_name::dummy::echo")]
    [InlineData("tensorzero::model_name::openai::gpt-4o-mini")]
    [InlineData("tensorzero::embedding_model_name::openai::text-embedding-3-small")]
    public async Task GetModel_KnownId_ModelObjectAsTheListShowsIt(string id)
    {
        await using var gateway = await TestGateway.StartAsync(Toml, new Dictionary<string, string> { ["OPENAI_API_KEY"] = "sk-x" });

        var model = (await Models(gateway).GetModelAsync(id)).Value;

        model.Id.Should().Be(id);
        model.OwnedBy.Should().Be("tensorzero");
        model.CreatedAt.Should().Be(DateTimeOffset.UnixEpoch);
    }

    [Fact]
    public async Task ListModels_IncludesEmbeddingModels_AndEachIdIsFoundByGetModel()
    {
        await using var gateway = await TestGateway.StartAsync(Toml);

        var all = (await Models(gateway, "/v1").GetModelsAsync()).Value;

        all.Select(m => m.Id).Should().Equal(
            "tensorzero::function_name::greet", "tensorzero::model_name::team/small", "tensorzero::embedding_model_name::e");
        foreach (var listed in all)
        {
            (await Models(gateway, "/v1").GetModelAsync(listed.Id)).Value.Id.Should().Be(listed.Id);
        }
    }

    [Fact]
    public async Task GetModel_UnknownId_404InOpenAIsShape()
    {
        await using var gateway = await TestGateway.StartAsync(Toml);

        var shorthandWithoutKey = () => Models(gateway).GetModelAsync("tensorzero::model_name::openai::gpt-4o-mini");
        (await shorthandWithoutKey.Should().ThrowAsync<ClientResultException>()).Which.Status.Should().Be(404, "OPENAI_API_KEY is not set");
        var act = () => Models(gateway).GetModelAsync("tensorzero::model_name::nope/x");
        (await act.Should().ThrowAsync<ClientResultException>()).Which.Status.Should().Be(404);

        using var raw = await gateway.Client.GetAsync("/openai/v1/models/tensorzero::model_name::nope/x");
        raw.StatusCode.Should().Be(HttpStatusCode.NotFound);
        var error = JsonDocument.Parse(await raw.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
        error.GetProperty("type").GetString().Should().Be("invalid_request_error");
        error.GetProperty("param").GetString().Should().Be("model");
        error.GetProperty("code").GetString().Should().Be("model_not_found");
        error.GetProperty("message").GetString().Should().Contain("tensorzero::model_name::nope/x");
    }

    [Theory]
    [InlineData("GET", "/nope", 404, null)]
    [InlineData("POST", "/v1/nothing/here", 404, null)]
    [InlineData("GET", "/openai/v1/chat/completions", 405, "POST")]
    [InlineData("PUT", "/v1/chat/completions", 405, "POST")]
    [InlineData("GET", "/openai/v1/embeddings", 405, "POST")]
    [InlineData("GET", "/inference", 405, "POST")]
    [InlineData("DELETE", "/status", 405, "GET")]
    [InlineData("POST", "/openai/v1/models", 405, "GET")]
    public async Task Gateway_UnknownRouteOrWrongMethod_JsonError(string method, string path, int status, string? allow)
    {
        await using var gateway = await TestGateway.StartAsync(Toml);

        using var response = await gateway.Client.SendAsync(new HttpRequestMessage(new HttpMethod(method), path));

        await ShouldBeJsonError(response, status, allow);
    }

    [Fact]
    public async Task Gateway_PlainRoutesUpstream404_PassedOnAsIs()
    {
        await using var legacy = await FakeProvider.StartAsync((context, _) =>
        {
            context.Response.StatusCode = 404;
            return Task.CompletedTask;
        });
        await using var gateway = await TestGateway.StartAsync(Toml, null,
            "--ReverseProxy:Routes:legacy:ClusterId=legacy",
            "--ReverseProxy:Routes:legacy:Match:Path=/legacy/{**rest}",
            $"--ReverseProxy:Clusters:legacy:Destinations:d1:Address={legacy.BaseUrl}");

        using var response = await gateway.Client.GetAsync("/legacy/missing");

        response.StatusCode.Should().Be(HttpStatusCode.NotFound);
        (await response.Content.ReadAsByteArrayAsync()).Should().BeEmpty("the upstream's answer is not the gateway's to rewrite");
        legacy.Received.Should().ContainSingle();
    }

    [Theory]
    [InlineData("GET", "/openai/v1/nope", 404, null)]
    [InlineData("GET", "/openai/v1/chat/completions", 405, "POST")]
    [InlineData("GET", "/v1/chat/completions", 405, "POST")]
    [InlineData("GET", "/openai/v1/embeddings", 405, "POST")]
    [InlineData("GET", "/feedback", 405, "POST")]
    [InlineData("PUT", "/health", 405, "GET")]
    [InlineData("GET", "/llm/chat", 405, "POST")]
    public async Task HostApp_GatewaysOwnPaths_JsonError(string method, string path, int status, string? allow)
    {
        await using var host = await HostApp.StartAsync();

        using var response = await host.Client.SendAsync(new HttpRequestMessage(new HttpMethod(method), path));

        await ShouldBeJsonError(response, status, allow);
    }

    [Theory]
    [InlineData("GET", "/host/nope", 404)]
    [InlineData("GET", "/v1/nope", 404)]
    [InlineData("POST", "/host/items", 405)]
    public async Task HostApp_HostsOwnPaths_LeftAlone(string method, string path, int status)
    {
        await using var host = await HostApp.StartAsync();

        using var response = await host.Client.SendAsync(new HttpRequestMessage(new HttpMethod(method), path));

        ((int)response.StatusCode).Should().Be(status);
        (await response.Content.ReadAsByteArrayAsync()).Should().BeEmpty("the host's own 404/405 is not the gateway's to answer");
        using var own = await host.Client.GetAsync("/host/items");
        (await own.Content.ReadAsStringAsync()).Should().Be("host items");
    }

    private static async Task ShouldBeJsonError(HttpResponseMessage response, int status, string? allow)
    {
        ((int)response.StatusCode).Should().Be(status);
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/json");
        var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
        error.GetProperty("type").GetString().Should().Be("invalid_request_error");
        error.GetProperty("code").GetString().Should().Be(status == 404 ? "not_found" : "method_not_allowed");
        error.GetProperty("message").GetString().Should().NotBeNullOrEmpty();
        if (allow is not null)
        {
            response.Content.Headers.Allow.Should().Contain(allow);
        }
    }

    /// <summary>A host's app with its own endpoint and a TensorZero route of its own at <c>/llm/chat</c>, plus the plugin.</summary>
    private static class HostApp
    {
        public static Task<PluginHostApp> StartAsync()
        {
            var data = new TempDirectory();
            var config = data.Write("tensorzero.toml", Toml);
            return PluginHostApp.StartAsync(data, builder =>
            {
                builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
                {
                    ["TensorZero:ConfigFile"] = config,
                    ["TensorZero:Observability:DataDir"] = Path.Combine(data.Root, "data"),
                });
                RouteConfig llm = new()
                {
                    RouteId = "llm",
                    ClusterId = TensorZeroRoutes.ClusterId,
                    Match = new RouteMatch { Path = "/llm/chat", Methods = ["POST"] },
                    Metadata = new Dictionary<string, string> { [TensorZeroRoutes.MetadataKey] = TensorZeroRoutes.ChatCompletions },
                };
                builder.Services.AddReverseProxy().LoadFromMemory([llm], []).AddTensorZero();
            }, app =>
            {
                app.MapGet("/host/items", () => "host items");
                app.MapTensorZeroEndpoints();
                app.MapReverseProxy(pipeline => pipeline.UseTensorZero());
            });
        }
    }
}
