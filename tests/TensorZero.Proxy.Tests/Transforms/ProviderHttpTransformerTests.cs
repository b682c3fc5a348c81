using System.Net;
using System.Text;
using FluentAssertions;
using Microsoft.AspNetCore.Http;
using TensorZero.Proxy.Transforms;
using Xunit;

namespace TensorZero.Proxy.Tests.Transforms;

public sealed class ProviderHttpTransformerTests
{
    [Fact]
    public async Task A_buffered_success_whose_deadline_passed_before_commit_leaves_no_body_for_the_client()
    {
        using var deadline = new CancellationTokenSource();
        deadline.Cancel();
        var attempt = new ProxyAttemptFeature(new ProviderRequestPolicy(new Uri("http://provider.test/v1/chat/completions"), null, null), default, deadline, TimeProvider.System);
        var context = new DefaultHttpContext();
        context.Features.Set(attempt);
        using var response = new HttpResponseMessage(HttpStatusCode.OK)
        {
            Content = new StringContent("""{"object":"chat.completion"}""", Encoding.UTF8, "application/json"),
        };

        var copyBody = await ProviderHttpTransformer.Instance.TransformResponseAsync(context, response, CancellationToken.None);

        copyBody.Should().BeFalse();
        attempt.Committed.Should().BeFalse();
        attempt.Failure.Should().Be(AttemptFailureKind.TimedOut);
        attempt.DeferredBody.Should().BeNull("a failed attempt's body must never be written after the error the client gets");
    }

    [Fact]
    public async Task TransformRequestAsync_KeepsTheForwardersContent_AndGivesItTheAttemptsExactLengthAndType()
    {
        var body = Encoding.UTF8.GetBytes("""{"model":"good-upstream","messages":[]}""");
        var attempt = new ProxyAttemptFeature(new ProviderRequestPolicy(new Uri("http://provider.test/v1/chat/completions"), null, null), body, null, TimeProvider.System);
        var context = new DefaultHttpContext();
        attempt.Attach(context);
        // Stands in for YARP's own request content, which streams the request body (since YARP 2.3 it may not be replaced).
        var forwarderContent = new StreamContent(Stream.Null);
        using var proxyRequest = new HttpRequestMessage { Content = forwarderContent };

        await ProviderHttpTransformer.Instance.TransformRequestAsync(context, proxyRequest, "http://provider.test/", CancellationToken.None);

        proxyRequest.Content.Should().BeSameAs(forwarderContent);
        proxyRequest.Content!.Headers.ContentLength.Should().Be(body.Length);
        proxyRequest.Content.Headers.ContentType!.MediaType.Should().Be("application/json");
        proxyRequest.Headers.TransferEncodingChunked.Should().NotBe(true);
        proxyRequest.RequestUri.Should().Be(new Uri("http://provider.test/v1/chat/completions"));
        attempt.AppliedHeaders.Should().Contain(new KeyValuePair<string, string>("Content-Length", body.Length.ToString(System.Globalization.CultureInfo.InvariantCulture)));
    }

    [Fact]
    public async Task TransformRequestAsync_ForwarderMadeNoContent_FailsClearly()
    {
        var attempt = new ProxyAttemptFeature(new ProviderRequestPolicy(new Uri("http://provider.test/v1/chat/completions"), null, null), "{}"u8.ToArray(), null, TimeProvider.System);
        var context = new DefaultHttpContext();
        context.Features.Set(attempt);
        using var proxyRequest = new HttpRequestMessage();

        var transform = async () => await ProviderHttpTransformer.Instance.TransformRequestAsync(context, proxyRequest, "http://provider.test/", CancellationToken.None);

        await transform.Should().ThrowAsync<InvalidOperationException>().WithMessage("*ProxyAttemptFeature.Attach*");
    }
}
