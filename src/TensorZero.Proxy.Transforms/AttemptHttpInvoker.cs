namespace TensorZero.Proxy.Transforms;

/// <summary>
/// The client one attempt is forwarded through (<see cref="ProxyAttemptFeature.SendThrough"/>): it hands the cluster's
/// client the request with the attempt's bytes as its content, so the body goes out in the same write as the request
/// headers.
/// </summary>
/// <remarks>
/// YARP 2.3's own request content (which <see cref="ProxyAttemptFeature.Attach"/> feeds, and which a transform may no
/// longer replace: dotnet/yarp#2722) flushes the request headers before it copies the body, so every attempt took two
/// sends where one does. The content is swapped here, below the forwarder, where YARP does not look: it never starts
/// its own content, so it never waits for it, and a failed send is a request error as any connection failure is. The
/// content headers the transformer set (type, length, extra headers) are carried over. Sent bytes are the attempt's, not
/// a copy of them.
/// </remarks>
internal sealed class AttemptHttpInvoker : HttpMessageInvoker
{
    // HttpMessageInvoker needs a handler; every send goes to the cluster's client instead.
    private static readonly HttpMessageHandler NoHandler = new UnusedHandler();

    private readonly HttpMessageInvoker _client;
    private readonly ReadOnlyMemory<byte> _body;

    public AttemptHttpInvoker(HttpMessageInvoker client, ReadOnlyMemory<byte> body)
        : base(NoHandler, disposeHandler: false)
    {
        _client = client;
        _body = body;
    }

    public override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        SwapContent(request);
        return _client.SendAsync(request, cancellationToken);
    }

    public override HttpResponseMessage Send(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        SwapContent(request);
        return _client.Send(request, cancellationToken);
    }

    private void SwapContent(HttpRequestMessage request)
    {
        if (request.Content is not { } forwarderContent || forwarderContent is ReadOnlyMemoryContent)
        {
            return;
        }
        var content = new ReadOnlyMemoryContent(_body);
        foreach (var header in forwarderContent.Headers.NonValidated)
        {
            // Content-Length included: the attempt's length, as the content computes it too.
            content.Headers.TryAddWithoutValidation(header.Key, header.Value);
        }
        request.Content = content;
    }

    // The cluster's client belongs to YARP (or to the gateway's standby client): never disposed here.
    protected override void Dispose(bool disposing)
    {
    }

    private sealed class UnusedHandler : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            throw new InvalidOperationException("An attempt's client sends through its cluster's client.");
    }
}
