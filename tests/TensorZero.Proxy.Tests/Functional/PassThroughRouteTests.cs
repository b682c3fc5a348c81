using System.Net;
using TensorZero.Proxy.Tests.TestSupport;

namespace TensorZero.Proxy.Tests.Functional;

/// <summary>Plain YARP routes from appsettings "ReverseProxy" run beside the inference routes (sidecar use).</summary>
public sealed class PassThroughRouteTests
{
    [Fact]
    public async Task AppSettingsRoute_IsProxiedByYarp_WhileInferenceRoutesStillWork()
    {
        await using var legacy = await FakeProvider.StartAsync(async (context, request) =>
        {
            context.Response.ContentType = "text/plain";
            await Microsoft.AspNetCore.Http.HttpResponseWritingExtensions.WriteAsync(context.Response, $"legacy saw {request.Method} {request.Path}");
        });
        await using var gateway = await TestGateway.StartFromFileAsync("tensorzero.toml", extraArgs:
        [
            "--ReverseProxy:Routes:legacy:ClusterId=legacy",
            "--ReverseProxy:Routes:legacy:Match:Path=/legacy/{**rest}",
            "--ReverseProxy:Routes:legacy:Transforms:0:PathRemovePrefix=/legacy",
            $"--ReverseProxy:Clusters:legacy:Destinations:d1:Address={legacy.BaseUrl}",
        ]);

        var text = await gateway.Client.GetStringAsync("/legacy/orders/42");
        using var inference = await gateway.Client.PostAsync("/v1/chat/completions",
            new StringContent("""{"model":"dummy","messages":[]}""", System.Text.Encoding.UTF8, "application/json"));

        text.Should().Be("legacy saw GET /orders/42");
        inference.StatusCode.Should().Be(HttpStatusCode.OK);
        gateway.Inferences.All.Should().ContainSingle("only the inference route records an inference");
    }
}
