using System.Net;
using System.Net.Http.Headers;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using TensorZero.Proxy.Auth;
using TensorZero.Proxy.Tests.TestSupport;
using TensorZero.Proxy.Valkey;

namespace TensorZero.Proxy.Tests.Auth;

/// <summary>In a host's own app the plugin's API keys protect the gateway's paths, and leave the host's routes alone.</summary>
public sealed class PluginAuthTests
{
    [Fact]
    public async Task HostApp_AuthOn_GatewayPathsNeedAKey_HostRoutesDoNot()
    {
        await using var redis = await RedisTestServer.StartAsync();
        var folder = new TempDirectory();
        folder.Write("tensorzero.toml", "[gateway]\nbase_path = \"/llm\"\n[gateway.auth]\nenabled = true\n\n" + TestConfigs.DummyProtocolModels);
        await using var host = await PluginHostApp.StartAsync(folder, builder =>
        {
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["TensorZero:ConfigFile"] = folder.PathOf("tensorzero.toml"),
                ["TensorZero:Observability:DataDir"] = folder.PathOf("data"),
            });
            builder.Services.AddReverseProxy().AddTensorZero(o => o.EnvironmentVariables = name => name == ValkeyUrl.Variable ? redis.Url : null);
        }, app =>
        {
            app.MapGet("/hello", () => "host");
            app.MapTensorZeroEndpoints();
            app.MapReverseProxy(proxy => proxy.UseTensorZero());
        });
        using var valkey = new ValkeyStore(redis.Url, null, NullLogger.Instance);
        var key = await new ApiKeyStore(valkey.Database).CreateAsync(DateTimeOffset.UtcNow, null, null);

        (await StatusAsync(host, "/hello")).Should().Be(HttpStatusCode.OK, "the host's own route is the host's business");
        (await StatusAsync(host, "/not-the-gateways")).Should().Be(HttpStatusCode.NotFound, "the host's 404s stay its own");
        (await StatusAsync(host, "/llm/status")).Should().Be(HttpStatusCode.OK);
        (await StatusAsync(host, "/llm/openai/v1/models")).Should().Be(HttpStatusCode.Unauthorized);
        (await StatusAsync(host, "/llm/v1/models")).Should().Be(HttpStatusCode.Unauthorized, "an endpoint of MapTensorZeroEndpoints");
        (await StatusAsync(host, "/llm/v1/chat/completions", HttpMethod.Post)).Should().Be(HttpStatusCode.Unauthorized, "a TensorZero route");
        (await StatusAsync(host, "/llm/openai/v1/models", key: key)).Should().Be(HttpStatusCode.OK);
    }

    private static async Task<HttpStatusCode> StatusAsync(PluginHostApp host, string path, HttpMethod? method = null, string? key = null)
    {
        using var request = new HttpRequestMessage(method ?? HttpMethod.Get, path);
        if (key is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }
        using var response = await host.Client.SendAsync(request);
        return response.StatusCode;
    }
}
