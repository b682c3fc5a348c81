using System.Net;
using System.Net.Http.Json;
using System.Security.Claims;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using TensorZero.Proxy.Tests.TestSupport;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Transforms;

namespace TensorZero.Proxy.Tests.Hosting;

/// <summary>
/// The plugin's public surface inside a YARP app of the host's own, built here with nothing internal: the host's
/// routes, transforms, authentication and authorization policies coexist with TensorZero's routes.
/// </summary>
public sealed class PluginSurfaceTests
{
    private const string ChatBody = """{"model":"dummy","messages":[{"role":"user","content":"Hi"}]}""";

    [Fact]
    public async Task HostRoute_MarkedWithMetadata_ServedByTensorZero_AndDefaultRoutesOff()
    {
        await using var host = await HostApp.StartAsync(
            options => options.AddDefaultRoutes = false,
            routes: [TensorZeroRoute("llm", "/llm/chat", TensorZeroRoutes.ChatCompletions)]);

        using var marked = await host.Client.PostAsync("/llm/chat", Json(ChatBody));
        using var defaultRoute = await host.Client.PostAsync("/openai/v1/chat/completions", Json(ChatBody));

        marked.StatusCode.Should().Be(HttpStatusCode.OK);
        (await marked.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()
            .Should().StartWith("Megumin gleefully chanted her spell");
        defaultRoute.StatusCode.Should().Be(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task HostRouteWithTransform_PassesThroughUseTensorZero_ToItsOwnCluster()
    {
        await using var upstream = await FakeProvider.StartAsync(FakeResponses.Default("legacy reply"));
        await using var host = await HostApp.StartAsync(
            configure: null,
            routes: [new RouteConfig { RouteId = "legacy", ClusterId = "legacy", Match = new RouteMatch { Path = "/legacy/{**rest}" } }],
            clusters: [new ClusterConfig { ClusterId = "legacy", Destinations = new Dictionary<string, DestinationConfig> { ["d"] = new() { Address = upstream.BaseUrl } } }]);

        using var response = await host.Client.PostAsync("/legacy/v1/chat/completions?x=1", Json("""{"model":"not-a-tensorzero-model","anything":true}"""));

        response.StatusCode.Should().Be(HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        var received = upstream.Received.Should().ContainSingle().Subject;
        received.Path.Should().Be("/v1/chat/completions", "the host's PathRemovePrefix transform ran");
        received.Header("x-host-transform").Should().Be("applied");
        received.Json.GetProperty("anything").GetBoolean().Should().BeTrue("a route that is not TensorZero's is forwarded untouched");
    }

    [Fact]
    public async Task ConfigureRoute_AuthorizationPolicy_GuardsTensorZeroRoutesOnly()
    {
        await using var host = await HostApp.StartAsync(options => options.ConfigureRoute = route => route with { AuthorizationPolicy = "llm-users" });

        using var anonymous = await host.Client.PostAsync("/openai/v1/chat/completions", Json(ChatBody));
        using var signedIn = await host.Client.SendAsync(WithKey(new HttpRequestMessage(HttpMethod.Post, "/openai/v1/chat/completions") { Content = Json(ChatBody) }));
        using var models = await host.Client.GetAsync("/openai/v1/models");

        anonymous.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        signedIn.StatusCode.Should().Be(HttpStatusCode.OK);
        models.StatusCode.Should().Be(HttpStatusCode.OK, "MapTensorZeroEndpoints' group got no policy here");
    }

    [Fact]
    public async Task MapTensorZeroEndpoints_GroupConventions_ApplyToEveryEndpoint()
    {
        await using var host = await HostApp.StartAsync(configure: null, requireAuthorizationOnEndpoints: true);

        using var anonymous = await host.Client.GetAsync("/openai/v1/models");
        using var signedIn = await host.Client.SendAsync(WithKey(new HttpRequestMessage(HttpMethod.Get, "/openai/v1/models")));
        using var feedback = await host.Client.PostAsync("/feedback", Json("{}"));

        anonymous.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        signedIn.StatusCode.Should().Be(HttpStatusCode.OK);
        (await signedIn.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("data").EnumerateArray().Select(m => m.GetProperty("id").GetString())
            .Should().Contain("tensorzero::model_name::dummy");
        feedback.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task RouteWithUnknownMetadataValue_GetsAnOpenAIShapedServerError()
    {
        await using var host = await HostApp.StartAsync(configure: null, routes: [TensorZeroRoute("odd", "/odd", "embeddings-v9")]);

        using var response = await host.Client.PostAsync("/odd", Json(ChatBody));

        response.StatusCode.Should().Be(HttpStatusCode.InternalServerError);
        var error = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error");
        error.GetProperty("message").GetString().Should().Contain("'odd'").And.Contain("embeddings-v9");
    }

    [Fact]
    public async Task Options_BoundFromConfigurationSection_ThenTheDelegate()
    {
        await using var host = await HostApp.StartAsync(
            options => options.MaxResponseBodyBytes = 12345,
            settings: new Dictionary<string, string?> { ["TensorZero:MaxRequestBodyBytes"] = "16", ["TensorZero:MaxResponseBodyBytes"] = "1" });

        using var tooLarge = await host.Client.PostAsync("/openai/v1/chat/completions", Json(ChatBody));

        tooLarge.StatusCode.Should().Be(HttpStatusCode.RequestEntityTooLarge);
        var options = host.App.Services.GetRequiredService<IOptions<TensorZeroOptions>>().Value;
        options.MaxRequestBodyBytes.Should().Be(16);
        options.MaxResponseBodyBytes.Should().Be(12345, "the delegate runs after the section is bound");
        host.App.Services.GetRequiredService<TensorZeroGateway>().Config.Models.Should().Contain(["dummy", "dummy-failover"]);
    }

    [Theory]
    [InlineData(null, true)]
    [InlineData(false, false)]
    public async Task ReloadOnChange_SetInCode_ReachesTheReloader(bool? inCode, bool expected)
    {
        await using var host = await HostApp.StartAsync(options =>
        {
            if (inCode is { } value)
            {
                options.ReloadOnChange = value;
            }
        });

        host.App.Services.GetRequiredService<IOptions<TensorZero.Proxy.Configuration.ConfigReloadOptions>>().Value.ReloadOnChange.Should().Be(expected);
    }

    private static RouteConfig TensorZeroRoute(string id, string path, string kind) => new()
    {
        RouteId = id,
        ClusterId = TensorZeroRoutes.ClusterId,
        Match = new RouteMatch { Path = path, Methods = ["POST"] },
        Metadata = new Dictionary<string, string> { [TensorZeroRoutes.MetadataKey] = kind },
    };

    private static StringContent Json(string body) => new(body, System.Text.Encoding.UTF8, "application/json");

    private static HttpRequestMessage WithKey(HttpRequestMessage request)
    {
        request.Headers.Add("x-api-key", HeaderKeyHandler.Key);
        return request;
    }

    /// <summary>A host's own YARP app: its routes and a header transform, an API-key scheme, a policy, then TensorZero.</summary>
    private static class HostApp
    {
        public static Task<PluginHostApp> StartAsync(
            Action<TensorZeroOptions>? configure, IReadOnlyList<RouteConfig>? routes = null, IReadOnlyList<ClusterConfig>? clusters = null,
            bool requireAuthorizationOnEndpoints = false, IReadOnlyDictionary<string, string?>? settings = null)
        {
            var data = new TempDirectory();
            return PluginHostApp.StartAsync(data, builder =>
            {
                builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
                {
                    ["TensorZero:ConfigFile"] = RepoPaths.Config("tensorzero.toml"),
                    ["TensorZero:Observability:DataDir"] = data.Root,
                });
                if (settings is not null)
                {
                    builder.Configuration.AddInMemoryCollection(settings);
                }
                builder.Services.AddAuthentication(HeaderKeyHandler.SchemeName).AddScheme<AuthenticationSchemeOptions, HeaderKeyHandler>(HeaderKeyHandler.SchemeName, null);
                builder.Services.AddAuthorizationBuilder().AddPolicy("llm-users", policy => policy.RequireAuthenticatedUser());
                builder.Services.AddReverseProxy()
                    .LoadFromMemory(routes ?? [], clusters ?? [])
                    .AddTransforms(context =>
                    {
                        if (context.Route.RouteId == "legacy")
                        {
                            context.AddPathRemovePrefix("/legacy");
                            context.AddRequestHeader("x-host-transform", "applied");
                        }
                    })
                    .AddTensorZero(configure);
            }, app =>
            {
                app.UseAuthentication();
                app.UseAuthorization();
                var endpoints = app.MapTensorZeroEndpoints();
                if (requireAuthorizationOnEndpoints)
                {
                    endpoints.RequireAuthorization("llm-users");
                }
                app.MapReverseProxy(pipeline =>
                {
                    pipeline.UseTensorZero();
                    pipeline.UseLoadBalancing();
                });
            });
        }
    }

    /// <summary>The host's own authentication: a fixed key in <c>x-api-key</c> signs the caller in.</summary>
    private sealed class HeaderKeyHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder)
        : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
    {
        public const string SchemeName = "HostKey";
        public const string Key = "host-secret";

        protected override Task<AuthenticateResult> HandleAuthenticateAsync() =>
            Task.FromResult(Request.Headers["x-api-key"] == Key
                ? AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.Name, "caller")], SchemeName)), SchemeName))
                : AuthenticateResult.NoResult());
    }
}
