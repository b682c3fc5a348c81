using System.Net;
using System.Text;
using TensorZero.Proxy.Transforms;

namespace TensorZero.Proxy.Tests.Transforms;

public sealed class AttemptHttpInvokerTests
{
    private static readonly byte[] Bytes = Encoding.UTF8.GetBytes("""{"model":"good-upstream","messages":[{"role":"user","content":"hi"}]}""");

    private static ProxyAttemptFeature Attempt(ReadOnlyMemory<byte> body) =>
        new(new ProviderRequestPolicy(new Uri("http://provider.test/v1/chat/completions"), null, null), body, null, TimeProvider.System);

    /// <summary>Records what reaches the cluster's client: the content's bytes and headers as the handler serialises them.</summary>
    private sealed class RecordingHandler : HttpMessageHandler
    {
        public HttpContent? Content { get; private set; }

        public byte[] Sent { get; private set; } = [];

        public bool Disposed { get; private set; }

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Content = request.Content;
            using var sink = new MemoryStream();
            await request.Content!.CopyToAsync(sink, cancellationToken);
            Sent = sink.ToArray();
            return new HttpResponseMessage(HttpStatusCode.OK);
        }

        protected override void Dispose(bool disposing)
        {
            Disposed = true;
            base.Dispose(disposing);
        }
    }

    /// <summary>Stands for YARP's request content: it must never be read once the attempt's bytes replace it.</summary>
    private sealed class ForwarderContent : HttpContent
    {
        protected override Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context) =>
            throw new InvalidOperationException("the forwarder's content was read");

        protected override bool TryComputeLength(out long length)
        {
            length = -1;
            return false;
        }
    }

    [Fact]
    public async Task SendThrough_ForwarderContent_SendsTheAttemptBytesWithTheTransformersContentHeaders()
    {
        var handler = new RecordingHandler();
        using var cluster = new HttpMessageInvoker(handler);
        var request = new HttpRequestMessage(HttpMethod.Post, "http://provider.test/v1/chat/completions") { Content = new ForwarderContent() };
        request.Content.Headers.ContentLength = Bytes.Length;
        request.Content.Headers.ContentType = new("application/json");
        request.Content.Headers.TryAddWithoutValidation("Content-Language", "en");

        using var response = await Attempt(Bytes).SendThrough(cluster).SendAsync(request, CancellationToken.None);

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        handler.Sent.Should().Equal(Bytes);
        handler.Content.Should().BeOfType<ReadOnlyMemoryContent>();
        handler.Content!.Headers.ContentLength.Should().Be(Bytes.Length);
        handler.Content.Headers.ContentType!.MediaType.Should().Be("application/json");
        handler.Content.Headers.ContentLanguage.Should().Equal("en");
    }

    [Fact]
    public async Task SendThrough_EachAttempt_SendsItsOwnBytes()
    {
        var handler = new RecordingHandler();
        using var cluster = new HttpMessageInvoker(handler);
        var second = Encoding.UTF8.GetBytes("""{"model":"other"}""");

        await Attempt(Bytes).SendThrough(cluster).SendAsync(
            new HttpRequestMessage(HttpMethod.Post, "http://provider.test/") { Content = new ForwarderContent() }, CancellationToken.None);
        handler.Sent.Should().Equal(Bytes);
        await Attempt(second).SendThrough(cluster).SendAsync(
            new HttpRequestMessage(HttpMethod.Post, "http://provider.test/") { Content = new ForwarderContent() }, CancellationToken.None);
        handler.Sent.Should().Equal(second);
    }

    [Fact]
    public void SendThrough_Disposed_LeavesTheClustersClientOpen()
    {
        var handler = new RecordingHandler();
        using var cluster = new HttpMessageInvoker(handler);

        Attempt(Bytes).SendThrough(cluster).Dispose();

        handler.Disposed.Should().BeFalse();
    }
}
