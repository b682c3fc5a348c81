using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace TensorZero.Proxy.Transforms;

/// <summary>Why an attempt that got response headers still failed before it committed.</summary>
public enum AttemptFailureKind
{
    /// <summary>No failure recorded by the transformer.</summary>
    None,

    /// <summary>The provider answered 5xx or 429 (or any 4xx when <see cref="ProxyAttemptFeature.FailOnErrorStatus"/> is set).</summary>
    RetryableStatus,

    /// <summary>The pre-commit deadline fired while the body (or the first event) was awaited.</summary>
    TimedOut,

    /// <summary>A 200 stream that ended before its first event.</summary>
    NoFirstToken,

    /// <summary>The connection broke while the body (or the first event) was read.</summary>
    ReadError,

    /// <summary>A non-streaming body larger than the gateway buffers.</summary>
    BodyTooLarge,

    /// <summary>A 200 whose body (or first stream event) is not what the provider's protocol promises (HTML, garbage).</summary>
    InvalidResponse,
}

/// <summary>
/// Per-attempt state, put on the <c>HttpContext</c> by the inference middleware before each forward
/// (<see cref="Attach"/>) and read by <see cref="ProviderHttpTransformer"/>. One instance per attempt: a failed
/// attempt's state never leaks into the next.
/// </summary>
public sealed class ProxyAttemptFeature
{
    private readonly CancellationTokenSource? _preCommitTimeout;

    /// <summary>Creates the state of one attempt.</summary>
    /// <param name="policy">The provider's request policy.</param>
    /// <param name="body">The exact bytes to send upstream (already rewritten for this provider).</param>
    /// <param name="preCommitTimeout">
    /// The source whose token was given to the forwarder for this attempt; it fires at the pre-commit deadline
    /// and is disarmed at commit, so the post-commit deadline (<see cref="RemainingAfterCommit"/>) takes over.
    /// </param>
    /// <param name="timeProvider">Time for deadlines and time-to-first-token.</param>
    public ProxyAttemptFeature(ProviderRequestPolicy policy, ReadOnlyMemory<byte> body, CancellationTokenSource? preCommitTimeout, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(timeProvider);
        Policy = policy;
        Body = body;
        _preCommitTimeout = preCommitTimeout;
        TimeProvider = timeProvider;
        StartedAt = timeProvider.GetTimestamp();
    }

    /// <summary>The provider's request policy.</summary>
    public ProviderRequestPolicy Policy { get; }

    /// <summary>The request body sent upstream.</summary>
    public ReadOnlyMemory<byte> Body { get; }

    /// <summary>The clock of this attempt.</summary>
    public TimeProvider TimeProvider { get; }

    /// <summary>When the attempt started (a <see cref="TimeProvider.GetTimestamp"/> value).</summary>
    public long StartedAt { get; }

    /// <summary>The largest non-streaming response body buffered before commit.</summary>
    public int MaxBufferedResponseBytes { get; init; } = 64 * 1024 * 1024;

    /// <summary>
    /// At commit, how much longer the rest of the response may take (streaming <c>total_ms</c> of the tightest
    /// level), or null for no limit.
    /// </summary>
    public Func<TimeSpan?>? RemainingAfterCommit { get; init; }

    /// <summary>
    /// The extra header operations of this attempt in the order they apply (variant config, provider config,
    /// request entries), already validated.
    /// </summary>
    public IReadOnlyList<ExtraHeaderEntry> HeaderOperations { get; init; } = [];

    /// <summary>Rewrites the response (ids, model echo) on its way to the client; null leaves bytes untouched.</summary>
    public IResponseRewriter? Rewriter { get; init; }

    /// <summary>
    /// The typed path's translator of a whole non-streaming body (the provider's protocol in, the client's format out);
    /// when set it replaces <see cref="Rewriter"/> for bodies.
    /// </summary>
    public IBodyTranslator? BodyTranslator { get; init; }

    /// <summary>The typed path's translator of stream events; when set it replaces <see cref="Rewriter"/> for streams.</summary>
    public IEventTranslator? EventTranslator { get; init; }

    /// <summary>
    /// Whether every error status (4xx as well as 5xx and 429) fails the attempt instead of reaching the client. Set for
    /// providers whose error bodies are not in the client's protocol (Anthropic, Gemini behind the OpenAI-compatible
    /// endpoint): their errors can only be reported as failed attempts, and the next provider is tried, as TensorZero does.
    /// </summary>
    public bool FailOnErrorStatus { get; init; }

    /// <summary>Sees the provider's response as received (for observability); null when nothing records it.</summary>
    public IResponseTap? Tap { get; init; }

    /// <summary>
    /// A committed non-streaming body (complete, rewritten) that the forwarder did not send: the gateway writes it
    /// itself, with its <c>Content-Length</c> and in one write, once the inference's record is in the queue file, so
    /// a client never holds a response whose record could still be lost. Null for streams and failed attempts.
    /// </summary>
    public byte[]? DeferredBody { get; set; }

    /// <summary>The upstream status code, once response headers arrived.</summary>
    public int? UpstreamStatusCode { get; set; }

    /// <summary>True when the transformer kept the upstream response from the client so another attempt can run.</summary>
    public bool ResponseSuppressed { get; set; }

    /// <summary>Why the attempt failed before commit, when the transformer knows.</summary>
    public AttemptFailureKind Failure { get; set; }

    /// <summary>A short description of <see cref="Failure"/> (no secrets, no body content).</summary>
    public string? FailureDetail { get; set; }

    /// <summary>True once the response is the client's: no other attempt may run.</summary>
    public bool Committed { get; private set; }

    /// <summary>True when a committed stream ended early (deadline, broken upstream) with an SSE error event.</summary>
    public bool Truncated { get; set; }

    /// <summary>When the first response event (stream) or the whole body (non-streaming) was available.</summary>
    public long? FirstTokenAt { get; set; }

    /// <summary>
    /// The headers the transformer actually sent upstream, credential values redacted
    /// (<see cref="CredentialHeaders.Redacted"/>); for the attempt's record.
    /// </summary>
    public IReadOnlyList<KeyValuePair<string, string>> AppliedHeaders { get; set; } = [];

    /// <summary>
    /// Makes this the request's current attempt, right before it is forwarded: its state for
    /// <see cref="ProviderHttpTransformer"/>, and its <see cref="Body"/> as the request body that YARP's forwarder
    /// streams upstream (YARP 2.3 refuses a transform that replaces the outgoing content, so the body goes through the
    /// request). The client's own body, already read whole by the middleware, is never read again.
    /// </summary>
    public void Attach(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        context.Features.Set(this);
        // The forwarder creates its request content only for a request that can have a body, and decides so before any
        // transform runs: every attempt has one, whatever the client's framing was.
        context.Features.Set<IHttpRequestBodyDetectionFeature>(AttemptRequestBody.HasBody);
        context.Request.Body = new AttemptRequestBody(Body);
    }

    /// <summary>
    /// The client to forward this attempt through: <paramref name="client"/> (the cluster's), with the attempt's
    /// <see cref="Body"/> sent in the same write as the request headers. YARP's own content, which <see cref="Attach"/>
    /// feeds, flushes the headers first: two sends per attempt instead of one. Forwarding through
    /// <paramref name="client"/> itself stays correct, one send slower.
    /// </summary>
    public HttpMessageInvoker SendThrough(HttpMessageInvoker client)
    {
        ArgumentNullException.ThrowIfNull(client);
        return new AttemptHttpInvoker(client, Body);
    }

    /// <summary>Whether an upstream status is one the gateway fails over on: 5xx and 429.</summary>
    public static bool IsRetryableStatus(int statusCode) => statusCode >= 500 || statusCode == 429;

    /// <summary>
    /// Makes the response the client's, unless the pre-commit deadline fired first. Disarms that deadline so
    /// the post-commit limit alone applies from here on.
    /// </summary>
    public bool TryCommit()
    {
        if (_preCommitTimeout is not null)
        {
            _preCommitTimeout.CancelAfter(Timeout.InfiniteTimeSpan);
            if (_preCommitTimeout.IsCancellationRequested)
            {
                return false;
            }
        }
        Committed = true;
        return true;
    }

    /// <summary>Marks the attempt failed before commit: nothing of it reaches the client.</summary>
    public void Fail(AttemptFailureKind kind, string? detail = null)
    {
        Failure = kind;
        FailureDetail = detail;
        ResponseSuppressed = true;
        // Nothing of a failed attempt reaches the client, a body it had buffered included.
        DeferredBody = null;
    }
}

/// <summary>Rewrites provider responses on their way to the client without building a DOM per chunk.</summary>
public interface IResponseRewriter
{
    /// <summary>
    /// Rewrites a whole non-streaming body; false when it is not a JSON object (an HTML page, garbage): a 200 like
    /// that is a provider failure, not an answer.
    /// </summary>
    bool TryRewriteBody(ReadOnlySpan<byte> body, out byte[] rewritten);

    /// <summary>Rewrites the JSON payload of one SSE <c>data:</c> event into <paramref name="output"/>.</summary>
    void RewriteEvent(ReadOnlySpan<byte> json, System.Buffers.IBufferWriter<byte> output);
}

/// <summary>Translates a provider's whole non-streaming body into the client's response (the typed path).</summary>
public interface IBodyTranslator
{
    /// <summary>
    /// The client's body for the provider's <paramref name="body"/>; false with a short reason (no body content) when
    /// the body is not a valid answer of the provider's protocol: the attempt then fails over.
    /// </summary>
    bool TryTranslate(ReadOnlySpan<byte> body, out byte[] translated, out string? error);
}

/// <summary>Translates a provider's stream, event by event, into the client's stream (the typed path).</summary>
public interface IEventTranslator
{
    /// <summary>
    /// Translates one SSE <c>data:</c> payload, writing zero or more complete SSE events (with their framing) to
    /// <paramref name="output"/>. False with a short reason when the payload is not a valid event: before the first
    /// event has been handed on the attempt fails over, after it the stream ends with an error event.
    /// </summary>
    bool TryTranslate(ReadOnlySpan<byte> data, System.Buffers.IBufferWriter<byte> output, out string? error);

    /// <summary>Called once when the provider's stream ends (after its <c>[DONE]</c>, or without one): final events.</summary>
    void Complete(System.Buffers.IBufferWriter<byte> output);

    /// <summary>
    /// Writes the events that end the client's stream when the provider's stream is cut short after the commit (a
    /// timeout, a broken connection, an invalid event), in the client's protocol. The default is
    /// <see cref="WriteOpenAITruncation"/>.
    /// </summary>
    /// <param name="output">The client's stream.</param>
    /// <param name="message">What happened, for the client (plain text without quotes or backslashes).</param>
    /// <param name="code">A machine-readable code (<c>stream_timeout</c>, <c>stream_interrupted</c>, <c>stream_invalid</c>).</param>
    void WriteTruncation(System.Buffers.IBufferWriter<byte> output, string message, string code) => WriteOpenAITruncation(output, message, code);

    /// <summary>The OpenAI-shaped end of a truncated stream: <c>data: {"error": {"message", "type": "server_error", "code"}}</c>.</summary>
    static void WriteOpenAITruncation(System.Buffers.IBufferWriter<byte> output, string message, string code)
    {
        System.Buffers.BuffersExtensions.Write(output, "data: "u8);
        System.Buffers.BuffersExtensions.Write<byte>(output, System.Text.Encoding.UTF8.GetBytes(
            $"{{\"error\":{{\"message\":\"{message}\",\"type\":\"server_error\",\"code\":\"{code}\"}}}}"));
        System.Buffers.BuffersExtensions.Write(output, "\n\n"u8);
    }
}

/// <summary>
/// Sees a provider's response as the provider sent it (before any rewriting), for the attempt's record.
/// Called on the response path: implementations copy or parse cheaply and never block or throw.
/// </summary>
public interface IResponseTap
{
    /// <summary>A whole non-streaming body, buffered before commit. The memory is not reused: it may be kept.</summary>
    void OnBody(ReadOnlyMemory<byte> body);

    /// <summary>
    /// A part of a body that is not buffered (an error response), in order; the span is only valid during the call.
    /// </summary>
    void OnBodyChunk(ReadOnlySpan<byte> chunk);

    /// <summary>One complete SSE event (its lines and terminator); the span is only valid during the call.</summary>
    void OnEvent(ReadOnlySpan<byte> sseEvent);
}
