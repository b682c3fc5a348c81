using TensorZero.Proxy.Resilience;
using TensorZero.Proxy.Routing;
using TensorZero.Proxy.Transforms;

namespace TensorZero.Proxy.Inference;

/// <summary>How one provider attempt ended.</summary>
internal enum AttemptOutcome
{
    /// <summary>The provider's response was sent to the client.</summary>
    Ok,

    /// <summary>The provider answered with a status the gateway fails over on (5xx, 429).</summary>
    Status,

    /// <summary>No connection, or the connection broke before response headers.</summary>
    ConnectError,

    /// <summary>A gateway deadline fired before commit.</summary>
    Timeout,

    /// <summary>A 200 stream that stalled or ended before its first event, or a body that broke off.</summary>
    NoFirstToken,

    /// <summary>The client went away; nothing further was tried.</summary>
    ClientAbort,

    /// <summary>The response had started and then ended early: the client got a truncated response.</summary>
    Truncated,

    /// <summary>Not attempted: the provider's circuit is open.</summary>
    CircuitOpen,

    /// <summary>Anything else that kept the attempt from producing a response.</summary>
    Error,
}

/// <summary>One provider attempt, as the error message and the observability record show it.</summary>
internal sealed record AttemptRecord(
    string Model, string Provider, AttemptOutcome Outcome, int? StatusCode, TimeSpan Elapsed, string? Error) : ICircuitOutcome
{
    /// <summary>The variant the attempt ran for, if any.</summary>
    public string? Variant { get; init; }

    /// <summary>Answered from the model inference cache: no provider was called.</summary>
    public bool CacheHit { get; init; }

    /// <summary>Time to the first token (streams) or to the full body, when the provider got that far.</summary>
    public TimeSpan? TimeToFirstToken { get; init; }

    /// <summary>The timeout level that fired, for <see cref="AttemptOutcome.Timeout"/>.</summary>
    public TimeoutLevel? TimeoutLevel { get; init; }

    /// <summary>The body sent to the provider (null when nothing was sent).</summary>
    public ReadOnlyMemory<byte>? RawRequest { get; init; }

    /// <summary>The headers sent to the provider, credential values redacted.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> AppliedHeaders { get; init; } = [];

    /// <summary>When the attempt started (a <see cref="TimeProvider.GetTimestamp"/> value; 0 when not attempted).</summary>
    public long StartedTimestamp { get; init; }

    /// <summary>The provider's response as observability captured it; null when the inference is not recorded.</summary>
    public Observability.ResponseCapture? Response { get; init; }

    /// <inheritdoc />
    public bool IsProviderFailure => Outcome is AttemptOutcome.Status or AttemptOutcome.ConnectError or AttemptOutcome.Timeout
        or AttemptOutcome.NoFirstToken or AttemptOutcome.Truncated or AttemptOutcome.Error;

    /// <summary>Whether a connection was attempted (everything but a skipped provider).</summary>
    public bool WasAttempted => Outcome != AttemptOutcome.CircuitOpen;

    /// <inheritdoc />
    public string ResultName => Observability.InferenceRecords.Describe(Outcome);

    /// <summary>e.g. "provider 'azure' of model 'gpt-4o': status 500 after 12 ms".</summary>
    public string Describe()
    {
        var what = Outcome switch
        {
            AttemptOutcome.Status => $"status {StatusCode}",
            AttemptOutcome.ConnectError => "connect error" + (Error is null ? "" : $" ({Error})"),
            AttemptOutcome.Timeout => "timeout" + (Error is null ? "" : $" ({Error})"),
            AttemptOutcome.NoFirstToken => "no first token" + (Error is null ? "" : $" ({Error})"),
            AttemptOutcome.ClientAbort => "client abort",
            AttemptOutcome.Truncated => "truncated after the response started",
            AttemptOutcome.CircuitOpen => "skipped, circuit open",
            AttemptOutcome.Ok => StatusCode is { } s ? $"status {s}" : "ok",
            _ => "error" + (Error is null ? "" : $" ({Error})"),
        };
        var variant = Variant is null ? "" : $"variant '{Variant}', ";
        return $"{variant}provider '{Provider}' of model '{Model}': {what} after {(long)Elapsed.TotalMilliseconds} ms";
    }
}

/// <summary>How the inference as a whole ended.</summary>
internal enum InferenceOutcome
{
    Ok,
    Error,
    Truncated,
    ClientAbort,
}

/// <summary>
/// Per-request inference state on the <c>HttpContext</c> (<c>context.Features.Get&lt;InferenceFeature&gt;()</c>):
/// what was asked, what it resolved to, the ids, tags and every attempt made. Observability reads it once
/// the response is complete.
/// </summary>
internal sealed class InferenceFeature
{
    /// <summary>The function name TensorZero records for direct model calls.</summary>
    public const string DefaultFunctionName = "tensorzero::default";

    public InferenceFeature(InferenceRequest request, GatewayFields fields, Guid inferenceId, DateTimeOffset startedAt, long startedTimestamp)
    {
        Request = request;
        Fields = fields;
        InferenceId = inferenceId;
        EpisodeId = fields.EpisodeId ?? inferenceId;
        StartedAt = startedAt;
        StartedTimestamp = startedTimestamp;
        Tags = new Dictionary<string, string>(fields.Tags, StringComparer.Ordinal);
        InferenceIdText = InferenceId.ToString();
        EpisodeIdText = fields.EpisodeId is null ? InferenceIdText : EpisodeId.ToString();
        Rewriter = new ResponseRewriter(InferenceIdText, EpisodeIdText, request.Model);
    }

    public InferenceRequest Request { get; }

    /// <summary>
    /// The configuration snapshot this request runs on, read once when it started. Everything the request does (target,
    /// variants, providers, timeouts) comes from it, never from the accessor again: a reload mid-request does not
    /// change what the request sees, and the request finishes on the snapshot it started with.
    /// </summary>
    public GatewayRuntime? Runtime { get; init; }

    /// <summary>The validated <c>tensorzero::*</c> fields.</summary>
    public GatewayFields Fields { get; }

    /// <summary>The inference id (UUIDv7): the response's <c>id</c>.</summary>
    public Guid InferenceId { get; }

    /// <summary>The episode id: the request's, or the inference id for a new episode (a UUIDv7 either way).</summary>
    public Guid EpisodeId { get; }

    /// <summary><see cref="InferenceId"/> as text, formatted once (headers, body rewrites, records).</summary>
    public string InferenceIdText { get; }

    /// <summary><see cref="EpisodeId"/> as text, formatted once.</summary>
    public string EpisodeIdText { get; }

    public DateTimeOffset StartedAt { get; }

    /// <summary><see cref="TimeProvider.GetTimestamp"/> at the start, for durations.</summary>
    public long StartedTimestamp { get; }

    /// <summary>The function called, or <see cref="DefaultFunctionName"/> for a model target.</summary>
    public string FunctionName { get; set; } = DefaultFunctionName;

    /// <summary>The variant that produced the response (or was last tried); the model name for a model target.</summary>
    public string? VariantName { get; set; }

    /// <summary>The user's tags plus automatic <c>tensorzero::</c> tags such as <c>tensorzero::variant_pinned</c>.</summary>
    public Dictionary<string, string> Tags { get; }

    /// <summary>The request's extra header entries, validated, before filtering per attempt.</summary>
    public UnfilteredInferenceExtraHeaders ExtraHeaders { get; set; } = UnfilteredInferenceExtraHeaders.Empty;

    /// <summary>The request's extra body entries, validated, before filtering per attempt.</summary>
    public UnfilteredInferenceExtraBody ExtraBody { get; set; } = UnfilteredInferenceExtraBody.Empty;

    /// <summary>The request's <c>tensorzero::extra_headers</c> entries as received (JSON, credential values redacted), or null.</summary>
    public string? ExtraHeadersJson { get; set; }

    /// <summary>The request's <c>tensorzero::extra_body</c> entries as received (JSON), or null.</summary>
    public string? ExtraBodyJson { get; set; }

    /// <summary>Rewrites response ids and model for this inference (passthrough path; set per variant for its <c>model</c>).</summary>
    public IResponseRewriter Rewriter { get; set; }

    /// <summary>The request's <c>tensorzero::credentials</c> (typed path): dynamic keys by name.</summary>
    public System.Collections.Immutable.ImmutableDictionary<string, string> Credentials { get; set; } =
        System.Collections.Immutable.ImmutableDictionary<string, string>.Empty;

    /// <summary>The request's <c>tensorzero::extra_body</c> array as sent, or null.</summary>
    public System.Text.Json.JsonElement? ExtraBodyEntries { get; set; }

    /// <summary>The request's <c>tensorzero::extra_headers</c> array as sent, or null.</summary>
    public System.Text.Json.JsonElement? ExtraHeaderEntries { get; set; }

    /// <summary>The <c>x-tensorzero-warning</c> header: request fields accepted and not acted on; null when none.</summary>
    public string? Warning { get; set; }

    /// <summary>An in-process answer's body, written after the record is queued (as a provider's buffered body is).</summary>
    public byte[]? DeferredBody { get; set; }

    /// <summary>The typed path's state; null on the passthrough path.</summary>
    public TypedInference? Typed { get; set; }

    /// <summary>What an embeddings request asked for (its record is an <c>EmbeddingInference</c> row); null for chat and native inferences.</summary>
    public Embeddings.EmbeddingCall? Embedding { get; set; }

    /// <summary>Every attempt, skipped providers included; append with <see cref="AddAttempt"/>.</summary>
    public IReadOnlyList<AttemptRecord> Attempts => _attempts;

    private readonly List<AttemptRecord> _attempts = [];

    /// <summary>Records an attempt (or a skipped provider).</summary>
    public void AddAttempt(AttemptRecord attempt)
    {
        _attempts.Add(attempt);
        if (attempt.WasAttempted)
        {
            AttemptCount++;
        }
    }

    /// <summary>The attempt whose response reached the client, once one did.</summary>
    public AttemptRecord? CommittedAttempt { get; set; }

    public InferenceOutcome Outcome { get; set; } = InferenceOutcome.Error;

    /// <summary>Gateway processing time, from the body read to the response's end.</summary>
    public TimeSpan Duration { get; set; }

    /// <summary>Attempts that made a connection (circuit-open skips excluded).</summary>
    public int AttemptCount { get; private set; }
}
