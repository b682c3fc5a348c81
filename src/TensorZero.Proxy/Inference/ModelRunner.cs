using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using TensorZero.Proxy.Observability;
using TensorZero.Proxy.Providers;
using TensorZero.Proxy.Resilience;
using TensorZero.Proxy.Routing;
using TensorZero.Proxy.Transforms;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Forwarder;

namespace TensorZero.Proxy.Inference;

/// <summary>How one run of a model's routing list ended.</summary>
internal enum ModelRunOutcome
{
    /// <summary>A response reached the client (possibly a provider's 4xx, possibly truncated later).</summary>
    Committed,

    /// <summary>The client went away; stop everything.</summary>
    ClientAbort,

    /// <summary>Every provider was tried (or skipped) and none answered.</summary>
    AllProvidersFailed,

    /// <summary>The model's own timeout fired.</summary>
    ModelTimedOut,

    /// <summary>The variant's timeout fired.</summary>
    VariantTimedOut,
}

/// <summary>The outcome of one run of a routing list, and which providers answered 429 in it.</summary>
internal sealed record ModelRunResult(ModelRunOutcome Outcome, IReadOnlyList<string> RateLimitedProviders);

/// <summary>
/// Runs a model's providers in routing order (DESIGN.md §1 step 3, §4): skips providers whose circuit is
/// open (the last candidate is always tried), bounds each attempt by the tightest of the provider, model and
/// variant deadlines, forwards through YARP, and classifies the result. Nothing of a failed attempt stays
/// on the client's response.
/// </summary>
internal sealed class ModelRunner
{
    private readonly IHttpForwarder _forwarder;
    private readonly IProxyStateLookup _proxyState;
    private readonly DummyProvider _dummy;
    private readonly ProviderCircuitBreakers _breakers;
    private readonly TimeProvider _time;
    private readonly ILogger<ModelRunner> _logger;
    private readonly int _maxBufferedResponseBytes;
    private readonly ResponseCaptures _captures;

    public ModelRunner(
        IHttpForwarder forwarder, IProxyStateLookup proxyState, DummyProvider dummy, ProviderCircuitBreakers breakers,
        TimeProvider time, IOptions<GatewayHostOptions> options, ILogger<ModelRunner> logger, ResponseCaptures captures)
    {
        _captures = captures;
        _forwarder = forwarder;
        _proxyState = proxyState;
        _dummy = dummy;
        _breakers = breakers;
        _time = time;
        _logger = logger;
        _maxBufferedResponseBytes = options.Value.MaxResponseBodyBytes;
    }

    /// <summary>Runs the routing list once.</summary>
    /// <param name="context">The client's request.</param>
    /// <param name="inference">The inference state; attempts are appended to it.</param>
    /// <param name="model">The model.</param>
    /// <param name="variant">The variant being run, or null for a model target.</param>
    /// <param name="variantDeadline">The variant's deadline, if any.</param>
    /// <param name="skip">Providers (cluster keys) not to try again in this run (they answered 429 earlier).</param>
    public async Task<ModelRunResult> RunAsync(
        HttpContext context, InferenceFeature inference, RuntimeModel model, RuntimeVariant? variant, Deadline? variantDeadline,
        IReadOnlyCollection<string> skip)
    {
        var stream = inference.Request.Stream;
        var modelDeadline = Deadline.For(TimeoutLevel.Model, model.Timeouts, stream, _time.GetTimestamp(), _time);
        var rateLimited = new List<string>();

        var candidates = skip.Count == 0 ? model.Providers : model.Providers.Where(p => !skip.Contains(Key(p))).ToArray();
        if (candidates.Length == 0)
        {
            return new ModelRunResult(ModelRunOutcome.AllProvidersFailed, rateLimited);
        }

        // The last provider whose circuit is not open is tried even when earlier ones fail; when every
        // circuit is open the last one is tried anyway: a request never fails without any attempt.
        var lastCandidate = Array.FindLastIndex(candidates, p => p.IsDummy || !_breakers.IsOpen(Key(p)));
        if (lastCandidate < 0)
        {
            lastCandidate = candidates.Length - 1;
        }

        for (var i = 0; i < candidates.Length; i++)
        {
            var provider = candidates[i];
            var now = _time.GetTimestamp();
            if (variantDeadline is { } vd && vd.PreCommit <= now)
            {
                return new ModelRunResult(ModelRunOutcome.VariantTimedOut, rateLimited);
            }
            if (modelDeadline.PreCommit <= now)
            {
                return new ModelRunResult(ModelRunOutcome.ModelTimedOut, rateLimited);
            }

            var key = Key(provider);
            var open = !provider.IsDummy && _breakers.IsOpen(key);
            if (open && i != lastCandidate)
            {
                Record(inference, Skipped(model, provider, variant));
                continue;
            }

            Deadline[] deadlines = variantDeadline is { } v
                ? [v, modelDeadline, Deadline.For(TimeoutLevel.Provider, provider.Config.Timeouts, stream, now, _time)]
                : [modelDeadline, Deadline.For(TimeoutLevel.Provider, provider.Config.Timeouts, stream, now, _time)];
            var set = new DeadlineSet(deadlines);

            AttemptRecord record;
            if (provider.IsDummy)
            {
                record = await AttemptDummyAsync(context, inference, model, provider, variant);
            }
            else if (open)
            {
                // Forced attempt at an open circuit (the last candidate): outside the breaker, and a success closes it.
                record = await AttemptAsync(context, inference, model, provider, variant, set);
                if (record.Outcome == AttemptOutcome.Ok)
                {
                    await _breakers.CloseAsync(key);
                }
            }
            else
            {
                var (ran, result) = await _breakers.ExecuteAsync(key, () => new ValueTask<AttemptRecord>(
                    AttemptAsync(context, inference, model, provider, variant, set)));
                record = ran ? result! : Skipped(model, provider, variant);
            }

            Record(inference, record);
            switch (record.Outcome)
            {
                case AttemptOutcome.Ok:
                case AttemptOutcome.Truncated:
                    inference.CommittedAttempt = record;
                    return new ModelRunResult(ModelRunOutcome.Committed, rateLimited);
                case AttemptOutcome.ClientAbort:
                    return new ModelRunResult(ModelRunOutcome.ClientAbort, rateLimited);
                case AttemptOutcome.Status when record.StatusCode == StatusCodes.Status429TooManyRequests:
                    rateLimited.Add(key);
                    break;
                case AttemptOutcome.Timeout when record.TimeoutLevel == TimeoutLevel.Model:
                    ResetResponse(context);
                    return new ModelRunResult(ModelRunOutcome.ModelTimedOut, rateLimited);
                case AttemptOutcome.Timeout when record.TimeoutLevel == TimeoutLevel.Variant:
                    ResetResponse(context);
                    return new ModelRunResult(ModelRunOutcome.VariantTimedOut, rateLimited);
            }
            ResetResponse(context);
        }
        return new ModelRunResult(ModelRunOutcome.AllProvidersFailed, rateLimited);
    }

    /// <summary>The circuit breaker key of a provider: its cluster (shorthands share one per type).</summary>
    private static string Key(RuntimeProvider provider) => provider.ClusterId ?? $"dummy/{provider.ModelName}/{provider.Name}";

    private void Record(InferenceFeature inference, AttemptRecord record)
    {
        inference.AddAttempt(record);
        Log.AttemptFinished(_logger, record.Provider, record.Model, record.Outcome, record.StatusCode, (long)record.Elapsed.TotalMilliseconds);
    }

    private static AttemptRecord Skipped(RuntimeModel model, RuntimeProvider provider, RuntimeVariant? variant) =>
        new(model.Name, provider.Name, AttemptOutcome.CircuitOpen, null, TimeSpan.Zero, null) { Variant = variant?.Name };

    /// <summary>Nothing of a failed attempt may reach the client: status, headers and YARP's error state go.</summary>
    private static void ResetResponse(HttpContext context)
    {
        context.Response.Clear();
        context.Features.Set<IForwarderErrorFeature>(null);
    }

    private void SetAttemptHeaders(HttpContext context, InferenceFeature inference, RuntimeProvider provider)
    {
        InferenceHeaders.Set(context, inference, inference.AttemptCount + 1);
        context.Response.Headers["x-tensorzero-provider"] = provider.Name;
    }

    private async Task<AttemptRecord> AttemptDummyAsync(
        HttpContext context, InferenceFeature inference, RuntimeModel model, RuntimeProvider provider, RuntimeVariant? variant)
    {
        var started = _time.GetTimestamp();
        SetAttemptHeaders(context, inference, provider);
        var capture = _captures.For(inference);
        var status = await _dummy.HandleAsync(context, provider.UpstreamModelName, inference, capture);
        var elapsed = _time.GetElapsedTime(started);
        return status == StatusCodes.Status200OK
            ? new AttemptRecord(model.Name, provider.Name, AttemptOutcome.Ok, status, elapsed, null)
            {
                Variant = variant?.Name, TimeToFirstToken = elapsed, StartedTimestamp = started, Response = capture,
            }
            : new AttemptRecord(model.Name, provider.Name, AttemptOutcome.Status, status, elapsed, null)
            {
                Variant = variant?.Name, StartedTimestamp = started, Response = capture,
            };
    }

    private async Task<AttemptRecord> AttemptAsync(
        HttpContext context, InferenceFeature inference, RuntimeModel model, RuntimeProvider provider, RuntimeVariant? variant, DeadlineSet deadlines)
    {
        var started = _time.GetTimestamp();
        if (!_proxyState.TryGetCluster(provider.ClusterId!, out var cluster) || cluster.Model.HttpClient is null)
        {
            return new AttemptRecord(model.Name, provider.Name, AttemptOutcome.Error, null, TimeSpan.Zero, "the provider's cluster is not loaded")
            {
                Variant = variant?.Name,
                StartedTimestamp = started,
            };
        }

        var (preCommitAt, preCommitLevel) = deadlines.EarliestPreCommit();
        // No deadline at any level: no timer at all (the forwarder still links the client's abort).
        using var preCommit = DeadlineSet.Remaining(preCommitAt, _time) is { } left ? new CancellationTokenSource(left, _time) : null;

        var target = new AttemptTarget(variant, model, provider);
        var body = Render(inference, target);
        var capture = _captures.For(inference);
        var attempt = new ProxyAttemptFeature(provider.Policy!, body, preCommit, _time)
        {
            HeaderOperations = ExtraParameters.HeaderOperations(inference.ExtraHeaders, target),
            MaxBufferedResponseBytes = _maxBufferedResponseBytes,
            RemainingAfterCommit = () => DeadlineSet.Remaining(deadlines.EarliestPostCommit(), _time),
            Rewriter = inference.Rewriter,
            Tap = capture,
        };
        context.Features.Set(attempt);
        SetAttemptHeaders(context, inference, provider);

        var error = await _forwarder.SendAsync(
            context, provider.DestinationPrefix!, cluster.Model.HttpClient, cluster.Model.Config.HttpRequest ?? ForwarderRequestConfig.Empty,
            ProviderHttpTransformer.Instance, preCommit?.Token ?? CancellationToken.None);

        var elapsed = _time.GetElapsedTime(started);
        var ttft = attempt.FirstTokenAt is { } first ? _time.GetElapsedTime(started, first) : (TimeSpan?)null;
        AttemptRecord Result(AttemptOutcome outcome, string? detail = null, TimeoutLevel? level = null) =>
            new(model.Name, provider.Name, outcome, attempt.UpstreamStatusCode, elapsed, detail)
            {
                Variant = variant?.Name,
                TimeToFirstToken = ttft,
                TimeoutLevel = level,
                RawRequest = body,
                AppliedHeaders = attempt.AppliedHeaders,
                StartedTimestamp = started,
                Response = capture,
            };

        if (attempt.Committed)
        {
            // The client has (part of) this response. A stream cut by a deadline or a broken provider is truncated.
            return error == ForwarderError.None && !attempt.Truncated
                ? Result(AttemptOutcome.Ok)
                : context.RequestAborted.IsCancellationRequested ? Result(AttemptOutcome.ClientAbort) : Result(AttemptOutcome.Truncated, error.ToString());
        }
        if (context.RequestAborted.IsCancellationRequested)
        {
            return Result(AttemptOutcome.ClientAbort);
        }
        if (context.Response.HasStarted)
        {
            return Result(AttemptOutcome.Truncated, error.ToString());
        }
        // Our deadline, not the client: a timeout at the level whose deadline came first.
        if (preCommit?.IsCancellationRequested == true || attempt.Failure == AttemptFailureKind.TimedOut)
        {
            return Result(AttemptOutcome.Timeout, Deadline.Describe(preCommitLevel, inference.Request.Stream), preCommitLevel);
        }
        return attempt.Failure switch
        {
            AttemptFailureKind.RetryableStatus => Result(AttemptOutcome.Status),
            AttemptFailureKind.NoFirstToken or AttemptFailureKind.ReadError => Result(AttemptOutcome.NoFirstToken, attempt.FailureDetail),
            AttemptFailureKind.BodyTooLarge or AttemptFailureKind.InvalidResponse => Result(AttemptOutcome.Error, attempt.FailureDetail),
            _ => Result(error == ForwarderError.Request ? AttemptOutcome.ConnectError : AttemptOutcome.Error,
                DescribeException(context.Features.Get<IForwarderErrorFeature>()?.Exception) ?? error.ToString()),
        };
    }

    /// <summary>
    /// The provider's body: the client's fields, the provider's model name, the variant's defaults the client
    /// did not set, then the attempt's extra body patches (checked before the first attempt).
    /// </summary>
    private static byte[] Render(InferenceFeature inference, AttemptTarget target)
    {
        var request = inference.Request;
        var (variant, provider) = (target.Variant, target.Provider);
        byte[] body;
        if (variant is null || variant.DefaultMembers.Length == 0)
        {
            body = request.Template.Render(provider.UpstreamModelName);
        }
        else
        {
            var extra = new List<byte[]>(variant.DefaultMembers.Length);
            foreach (var (field, member) in variant.DefaultMembers)
            {
                if (!request.HasField(field))
                {
                    extra.Add(member);
                }
            }
            body = request.Template.Render(provider.UpstreamModelName, extra.ToArray());
        }
        var patches = ExtraParameters.BodyOperations(inference.ExtraBody, target);
        return patches.Count == 0 ? body : JsonPointerPatch.Apply(body, patches);
    }

    /// <summary>The innermost message (e.g. "Connection refused (127.0.0.1:9)"): no stack, no request content.</summary>
    private static string? DescribeException(Exception? exception)
    {
        while (exception?.InnerException is not null)
        {
            exception = exception.InnerException;
        }
        return exception?.Message;
    }
}
