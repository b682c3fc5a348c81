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

    /// <summary>
    /// A plain route's request body is YARP's own stream of the client's body, untouched by the inference routes' way of
    /// sending attempt bodies: the bytes arrive as sent (several reads of the forwarder's 64 KB buffer), a fixed-length body
    /// keeps its Content-Length and a chunked one stays chunked.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task AppSettingsRoute_PostBody_IsStreamedUnchanged(bool chunked)
    {
        await using var legacy = await FakeProvider.StartAsync(async (context, request) =>
        {
            context.Response.ContentType = "text/plain";
            await Microsoft.AspNetCore.Http.HttpResponseWritingExtensions.WriteAsync(context.Response, $"legacy got {request.Body.Length} bytes");
        });
        await using var gateway = await TestGateway.StartFromFileAsync("tensorzero.toml", extraArgs:
        [
            "--ReverseProxy:Routes:legacy:ClusterId=legacy",
            "--ReverseProxy:Routes:legacy:Match:Path=/legacy/{**rest}",
            "--ReverseProxy:Routes:legacy:Transforms:0:PathRemovePrefix=/legacy",
            $"--ReverseProxy:Clusters:legacy:Destinations:d1:Address={legacy.BaseUrl}",
        ]);
        var body = new byte[150_000];
        new Random(17).NextBytes(body);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/legacy/upload") { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/octet-stream");
        request.Headers.TransferEncodingChunked = chunked;

        using var response = await gateway.Client.SendAsync(request);

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        (await response.Content.ReadAsStringAsync()).Should().Be("legacy got 150000 bytes");
        var received = legacy.Received.Should().ContainSingle().Subject;
        received.Body.Should().Equal(body);
        received.Header("Content-Type").Should().Be("application/octet-stream");
        if (chunked)
        {
            received.Header("Transfer-Encoding").Should().Be("chunked");
            received.Header("Content-Length").Should().BeNull();
        }
        else
        {
            received.Header("Content-Length").Should().Be("150000");
            received.Header("Transfer-Encoding").Should().BeNull();
        }
        gateway.Inferences.All.Should().BeEmpty();
    }
}
