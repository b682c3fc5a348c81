using System.Net;
using System.Text;
using FluentAssertions;
using Microsoft.AspNetCore.Http;
using TensorZero.Proxy.Transforms;
using Xunit;

namespace TensorZero.Proxy.Tests.Transforms;

/// <summary>What the transforms do for providers that do not speak OpenAI's protocol (Anthropic, Gemini).</summary>
public sealed class ProviderProtocolTransformTests
{
    [Fact]
    public async Task TransformRequestAsync_FixedHeaders_SentAndReplaceableByExtraHeaders()
    {
        var policy = new ProviderRequestPolicy(new Uri("http://provider.test/v1/messages"), "x-api-key", "k", fixedHeaders:
            [new("anthropic-version", "2023-06-01"), new("anthropic-beta", "a")]);
        var attempt = new ProxyAttemptFeature(policy, "{}"u8.ToArray(), null, TimeProvider.System)
        {
            HeaderOperations = [new ExtraHeaderEntry(ExtraEntryFilter.Always, "anthropic-beta", "b")],
        };
        var context = new DefaultHttpContext();
        attempt.Attach(context);
        using var proxyRequest = new HttpRequestMessage { Content = new StreamContent(Stream.Null) };

        await ProviderHttpTransformer.Instance.TransformRequestAsync(context, proxyRequest, "http://provider.test/", CancellationToken.None);

        proxyRequest.Headers.GetValues("x-api-key").Should().Equal("k");
        proxyRequest.Headers.GetValues("anthropic-version").Should().Equal("2023-06-01");
        proxyRequest.Headers.GetValues("anthropic-beta").Should().Equal("b");
    }

    [Theory]
    [InlineData(400, false, false)]
    [InlineData(401, false, false)]
    [InlineData(400, true, true)]
    [InlineData(404, true, true)]
    [InlineData(500, false, true)]
    [InlineData(429, false, true)]
    public async Task TransformResponseAsync_ErrorStatus_FailsTheAttemptWhenAskedOrRetryable(int status, bool failOnErrorStatus, bool fails)
    {
        var attempt = new ProxyAttemptFeature(new ProviderRequestPolicy(new Uri("http://provider.test/"), null, null), default, null, TimeProvider.System)
        {
            FailOnErrorStatus = failOnErrorStatus,
        };
        var context = new DefaultHttpContext();
        context.Features.Set(attempt);
        using var response = new HttpResponseMessage((HttpStatusCode)status)
        {
            Content = new StringContent("""{"type":"error","error":{"type":"x","message":"y"}}""", Encoding.UTF8, "application/json"),
        };

        await ProviderHttpTransformer.Instance.TransformResponseAsync(context, response, CancellationToken.None);

        attempt.Committed.Should().Be(!fails);
        attempt.Failure.Should().Be(fails ? AttemptFailureKind.RetryableStatus : AttemptFailureKind.None);
        attempt.UpstreamStatusCode.Should().Be(status);
    }

    [Theory]
    [InlineData("data: {}\n\n", 0)]
    [InlineData("event: message_start\ndata: {}\n\n", 21)]
    [InlineData("event: ping\r\ndata: {}\r\n\r\n", 13)]
    [InlineData("id: 1\nevent: x\ndata: {}\n\n", 15)]
    [InlineData(": keep-alive\n\n", null)]
    [InlineData("event: ping\n\n", null)]
    public void DataLine_FindsTheDataLineWhereverItIs(string sseEvent, int? expected)
    {
        SseResponseStream.DataLine(Encoding.UTF8.GetBytes(sseEvent)).Should().Be(expected);
    }
}
