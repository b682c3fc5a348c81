using System.Net.Http.Headers;
using Microsoft.AspNetCore.Http;
using Yarp.ReverseProxy.Forwarder;

namespace TensorZero.Proxy.Transforms;

/// <summary>
/// The request and response transform of every provider attempt.
/// Request: built from scratch instead of copied from the client's, so no client header (Authorization,
/// Cookie, X-Forwarded-*, ...) reaches a provider unless a policy forwards it.
/// Response: the commit point. A retryable status is suppressed; a stream is peeked until its first event
/// and a non-streaming body is read whole, both under the attempt's pre-commit deadline, so a provider that
/// answers 200 and then stalls can still be failed over. Only then are status and headers copied.
/// </summary>
public sealed class ProviderHttpTransformer : HttpTransformer
{
    private static readonly MediaTypeHeaderValue JsonContentType = new("application/json");
    private static readonly ProductInfoHeaderValue UserAgent = new("TensorZero.Proxy", "1.0");

    /// <summary>How much of an error body the tap is shown.</summary>
    private const int MaxTappedErrorBytes = 64 * 1024;

    /// <summary>How long a failed attempt's error body may be read before failover goes on without it.</summary>
    private static readonly TimeSpan ErrorBodyBudget = TimeSpan.FromMilliseconds(250);

    /// <summary>The shared instance; the transformer keeps no state of its own.</summary>
    public static ProviderHttpTransformer Instance { get; } = new();

    private ProviderHttpTransformer()
    {
    }

    /// <inheritdoc />
    public override ValueTask TransformRequestAsync(
        HttpContext httpContext, HttpRequestMessage proxyRequest, string destinationPrefix, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(httpContext);
        ArgumentNullException.ThrowIfNull(proxyRequest);

        var attempt = GetAttempt(httpContext);
        var policy = attempt.Policy;

        // Deliberately no call to base: it would copy every client header.
        proxyRequest.RequestUri = policy.RequestUri;
        proxyRequest.Method = HttpMethod.Post;

        // The forwarder's own content streams the attempt's body, which ProxyAttemptFeature.Attach put on the request
        // (YARP 2.3 throws if a transform replaces this content). Its length is known: the provider gets a
        // Content-Length, never a chunked body.
        var content = proxyRequest.Content
            ?? throw new InvalidOperationException($"The forwarder created no request content: call {nameof(ProxyAttemptFeature)}.{nameof(ProxyAttemptFeature.Attach)} before forwarding.");
        content.Headers.ContentLength = attempt.Body.Length;
        content.Headers.ContentType = JsonContentType;

        var headers = proxyRequest.Headers;
        headers.Accept.ParseAdd("application/json");
        headers.Accept.ParseAdd("text/event-stream");
        headers.UserAgent.Add(UserAgent);
        if (policy.AuthHeaderName is not null)
        {
            headers.TryAddWithoutValidation(policy.AuthHeaderName, policy.AuthHeaderValue);
        }
        foreach (var (name, value) in policy.FixedHeaders)
        {
            SetHeader(proxyRequest, name, value);
        }

        // Sidecar pass-through: only the client headers the provider names; never framing or hop-by-hop
        // headers, and credentials only where the provider allows overriding its own.
        if (!policy.ForwardClientHeaders.IsEmpty)
        {
            foreach (var header in httpContext.Request.Headers)
            {
                if (policy.ForwardClientHeaders.Matches(header.Key) && !ExtraHeaderRules.IsForbidden(header.Key)
                    && (!CredentialHeaders.IsCredential(header.Key) || policy.AllowCredentialOverride))
                {
                    SetHeader(proxyRequest, header.Key, header.Value.ToString());
                }
            }
        }

        // Extra headers: variant config, provider config, request entries; later wins, delete removes.
        foreach (var operation in attempt.HeaderOperations)
        {
            if (operation.Delete)
            {
                RemoveHeader(proxyRequest, operation.Name);
            }
            else
            {
                SetHeader(proxyRequest, operation.Name, operation.Value!);
            }
        }

        attempt.AppliedHeaders = AppliedHeaders(proxyRequest);
        return default;
    }

    /// <inheritdoc />
    public override async ValueTask<bool> TransformResponseAsync(
        HttpContext httpContext, HttpResponseMessage? proxyResponse, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(httpContext);
        if (proxyResponse is null)
        {
            return await base.TransformResponseAsync(httpContext, proxyResponse, cancellationToken);
        }

        var attempt = GetAttempt(httpContext);
        var status = (int)proxyResponse.StatusCode;
        attempt.UpstreamStatusCode = status;
        if (ProxyAttemptFeature.IsRetryableStatus(status) || (attempt.FailOnErrorStatus && status >= 400))
        {
            // Nothing of a failed attempt reaches the client: not its status, not its headers
            // (retry-after, ...), not its body. The middleware clears the response and tries the next provider.
            attempt.Fail(AttemptFailureKind.RetryableStatus, $"status {status}");
            await TapErrorBodyAsync(httpContext, proxyResponse, attempt);
            return false;
        }

        if (status is >= 200 and < 300)
        {
            if (!await PrepareSuccessBodyAsync(httpContext, proxyResponse, attempt, cancellationToken))
            {
                return false;
            }
        }
        else if (attempt.Tap is { } tap)
        {
            // A 4xx is the client's answer and is streamed through as it is; the tap sees its first bytes.
            var original = proxyResponse.Content;
            var tapped = new StreamContent(new TapStream(await original.ReadAsStreamAsync(cancellationToken), tap, MaxTappedErrorBytes));
            foreach (var header in original.Headers)
            {
                tapped.Headers.TryAddWithoutValidation(header.Key, header.Value);
            }
            proxyResponse.Content = tapped;
        }
        if (!attempt.Committed && !attempt.TryCommit())
        {
            attempt.Fail(AttemptFailureKind.TimedOut, "deadline reached before the response could be sent");
            return false;
        }

        var copyBody = await base.TransformResponseAsync(httpContext, proxyResponse, cancellationToken);
        // A provider's cookies belong to the gateway's connection to it, never to the client.
        httpContext.Response.Headers.Remove("Set-Cookie");
        if (attempt.DeferredBody is { } deferred)
        {
            // Status and headers are set; the body goes out later, in one write (ProxyAttemptFeature.DeferredBody).
            httpContext.Response.ContentLength = deferred.Length;
            return false;
        }
        return copyBody;
    }

    /// <summary>Peeks a stream / buffers a body before commit. False when the attempt failed instead.</summary>
    private static async ValueTask<bool> PrepareSuccessBodyAsync(
        HttpContext httpContext, HttpResponseMessage proxyResponse, ProxyAttemptFeature attempt, CancellationToken cancellationToken)
    {
        var status = (int)proxyResponse.StatusCode;
        var original = proxyResponse.Content;
        var isEventStream = string.Equals(original.Headers.ContentType?.MediaType, "text/event-stream", StringComparison.OrdinalIgnoreCase);
        HttpContent replacement;
        try
        {
            var upstream = await original.ReadAsStreamAsync(cancellationToken);
            if (isEventStream)
            {
                var sse = new SseResponseStream(upstream, attempt);
                if (!await sse.PeekFirstEventAsync(cancellationToken))
                {
                    await sse.DisposeAsync();
                    if (sse.FirstEventError is { } invalid)
                    {
                        attempt.Fail(AttemptFailureKind.InvalidResponse, invalid);
                    }
                    else
                    {
                        attempt.Fail(AttemptFailureKind.NoFirstToken, "the stream ended before its first event");
                    }
                    return false;
                }
                if (!attempt.TryCommit())
                {
                    await sse.DisposeAsync();
                    attempt.Fail(AttemptFailureKind.TimedOut, "deadline reached at the first event");
                    return false;
                }
                sse.StartPostCommitDeadline(attempt.RemainingAfterCommit?.Invoke());
                replacement = new StreamContent(sse);
            }
            else
            {
                var body = await BodyReader.ReadAsync(upstream, original.Headers.ContentLength, attempt.MaxBufferedResponseBytes, cancellationToken);
                if (body is null)
                {
                    attempt.Fail(AttemptFailureKind.BodyTooLarge, $"response body over {attempt.MaxBufferedResponseBytes} bytes");
                    return false;
                }
                attempt.FirstTokenAt = attempt.TimeProvider.GetTimestamp();
                attempt.Tap?.OnBody(body);
                // A 200 that is not an answer (an HTML page from a proxy, garbage) fails over like any provider failure.
                if (attempt.BodyTranslator is { } translator)
                {
                    if (!translator.TryTranslate(body, out var translated, out var why))
                    {
                        attempt.Fail(AttemptFailureKind.InvalidResponse, why);
                        return false;
                    }
                    body = translated;
                    original.Headers.ContentType = JsonContentType;
                }
                else if (attempt.Rewriter is { } rewriter)
                {
                    if (!rewriter.TryRewriteBody(body, out var rewritten))
                    {
                        attempt.Fail(AttemptFailureKind.InvalidResponse,
                            $"the provider's {status} response is not a JSON object (content type '{original.Headers.ContentType?.MediaType ?? "none"}')");
                        return false;
                    }
                    body = rewritten;
                }
                attempt.DeferredBody = body;
                // The provider's content keeps carrying its headers to the client (TransformResponseAsync then sets the
                // length of the rewritten body); the body itself is deferred, so YARP never reads the spent stream.
                return true;
            }
        }
        catch (OperationCanceledException) when (!httpContext.RequestAborted.IsCancellationRequested)
        {
            attempt.Fail(AttemptFailureKind.TimedOut, isEventStream ? "no first event before the deadline" : "no complete body before the deadline");
            return false;
        }
        catch (Exception ex) when (ex is IOException or HttpRequestException && !httpContext.RequestAborted.IsCancellationRequested)
        {
            attempt.Fail(AttemptFailureKind.ReadError, "the connection broke before the response was complete");
            return false;
        }

        foreach (var header in original.Headers)
        {
            if (!string.Equals(header.Key, "Content-Length", StringComparison.OrdinalIgnoreCase))
            {
                replacement.Headers.TryAddWithoutValidation(header.Key, header.Value);
            }
        }
        proxyResponse.Content = replacement;
        return true;
    }

    private static void SetHeader(HttpRequestMessage request, string name, string value)
    {
        RemoveHeader(request, name);
        if (name.StartsWith("Content-", StringComparison.OrdinalIgnoreCase))
        {
            request.Content?.Headers.TryAddWithoutValidation(name, value);
        }
        else
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }
    }

    /// <summary>Removes a header from the collection it belongs to (content headers reject request header names).</summary>
    private static void RemoveHeader(HttpRequestMessage request, string name)
    {
        if (name.StartsWith("Content-", StringComparison.OrdinalIgnoreCase))
        {
            request.Content?.Headers.Remove(name);
        }
        else
        {
            request.Headers.Remove(name);
        }
    }

    /// <summary>
    /// Lets the tap see the start of a failed attempt's body (the provider's error message). Bounded in size and
    /// time so a provider that sends headers and then stalls delays failover by at most <see cref="ErrorBodyBudget"/>.
    /// Deliberately not tied to the attempt's deadline: this read must not turn a status failure into a timeout.
    /// </summary>
    private static async ValueTask TapErrorBodyAsync(HttpContext httpContext, HttpResponseMessage proxyResponse, ProxyAttemptFeature attempt)
    {
        if (attempt.Tap is not { } tap)
        {
            return;
        }
        using var budget = new CancellationTokenSource(ErrorBodyBudget, attempt.TimeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(budget.Token, httpContext.RequestAborted);
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            var stream = await proxyResponse.Content.ReadAsStreamAsync(linked.Token);
            var total = 0;
            while (total < MaxTappedErrorBytes)
            {
                var read = await stream.ReadAsync(buffer.AsMemory(0, Math.Min(buffer.Length, MaxTappedErrorBytes - total)), linked.Token);
                if (read == 0)
                {
                    break;
                }
                tap.OnBodyChunk(buffer.AsSpan(0, read));
                total += read;
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or HttpRequestException)
        {
            // What was read is kept; the attempt's outcome stays the status.
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Every header of the upstream request, credential values redacted.</summary>
    private static List<KeyValuePair<string, string>> AppliedHeaders(HttpRequestMessage request)
    {
        var applied = new List<KeyValuePair<string, string>>();
        foreach (var header in request.Headers.NonValidated)
        {
            applied.Add(new(header.Key, CredentialHeaders.Display(header.Key, header.Value.ToString())));
        }
        if (request.Content is not null)
        {
            foreach (var header in request.Content.Headers.NonValidated)
            {
                applied.Add(new(header.Key, header.Value.ToString()));
            }
        }
        return applied;
    }

    /// <summary>A read-only pass-through that shows the tap the first bytes it hands on.</summary>
    private sealed class TapStream(Stream inner, IResponseTap tap, int limit) : Stream
    {
        private int _tapped;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var read = await inner.ReadAsync(buffer, cancellationToken);
            Tap(buffer.Span[..read]);
            return read;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override int Read(byte[] buffer, int offset, int count)
        {
            var read = inner.Read(buffer, offset, count);
            Tap(buffer.AsSpan(offset, read));
            return read;
        }

        private void Tap(ReadOnlySpan<byte> bytes)
        {
            var take = Math.Min(bytes.Length, limit - _tapped);
            if (take > 0)
            {
                tap.OnBodyChunk(bytes[..take]);
                _tapped += take;
            }
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }
            base.Dispose(disposing);
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    private static ProxyAttemptFeature GetAttempt(HttpContext httpContext) =>
        httpContext.Features.Get<ProxyAttemptFeature>()
        ?? throw new InvalidOperationException($"{nameof(ProxyAttemptFeature)} must be set before forwarding.");
}
