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
}
