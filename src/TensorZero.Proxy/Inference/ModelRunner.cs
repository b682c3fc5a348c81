using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using TensorZero.Proxy.Configuration;
using TensorZero.Proxy.Functions;
using TensorZero.Proxy.Observability;
using TensorZero.Proxy.Providers;
using TensorZero.Proxy.RateLimiting;
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

    /// <summary>
    /// The gateway refused the call itself (a rate limit, or its store unavailable) and has answered the client: no
    /// provider failed, so nothing fails over, retries or counts against a circuit.
    /// </summary>
    Refused,
}

/// <summary>The outcome of one run of a routing list, and which providers answered 429 in it.</summary>
internal sealed record ModelRunResult(ModelRunOutcome Outcome, IReadOnlyList<string> RateLimitedProviders) : IRetryOutcome
{
    /// <summary>Every provider failed or the model timed out: a variant's retries run the routing list again.</summary>
    public bool ShouldRetry => Outcome is ModelRunOutcome.AllProvidersFailed or ModelRunOutcome.ModelTimedOut;

    /// <inheritdoc />
    public string ResultName => Outcome switch
    {
        ModelRunOutcome.Committed => "committed",
        ModelRunOutcome.ClientAbort => "client_abort",
        ModelRunOutcome.AllProvidersFailed => "all_providers_failed",
        ModelRunOutcome.ModelTimedOut => "model_timed_out",
        ModelRunOutcome.Refused => "refused",
        _ => "variant_timed_out",
    };
}

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
    private readonly DummyModels _dummy;
    private readonly ModelInferenceCache _cache;
    private readonly IForwarderHttpClientFactory _clientFactory;
    private readonly ProviderCircuitBreakers _breakers;
    private readonly TimeProvider _time;
    private readonly ILogger<ModelRunner> _logger;
    private readonly int _maxBufferedResponseBytes;
    private readonly ResponseCaptures _captures;
    private readonly RateLimiter _limiter;
    private HttpMessageInvoker? _standbyClient;

    public ModelRunner(
        IHttpForwarder forwarder, IProxyStateLookup proxyState, DummyModels dummy, ProviderCircuitBreakers breakers,
        TimeProvider time, IOptions<TensorZeroOptions> options, ILogger<ModelRunner> logger, ResponseCaptures captures, ModelInferenceCache cache,
        IForwarderHttpClientFactory clientFactory, RateLimiter limiter)
    {
        _limiter = limiter;
        _clientFactory = clientFactory;
        _cache = cache;
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
        var runtime = inference.Runtime ?? throw new InvalidOperationException("The inference has no configuration snapshot.");
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
        var lastCandidate = Array.FindLastIndex(candidates, p => p.ClusterId is null || !_breakers.IsOpen(Key(p)));
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
            var open = provider.ClusterId is not null && _breakers.IsOpen(key);
            if (open && i != lastCandidate)
            {
                Record(inference, Skipped(model, provider, variant));
                continue;
            }

            var global = Deadline.For(TimeoutLevel.Provider, runtime.OutboundTimeouts, stream, now, _time);
            Deadline[] deadlines = variantDeadline is { } v
                ? [v, modelDeadline, Deadline.For(TimeoutLevel.Provider, provider.Config.Timeouts, stream, now, _time), global]
                : [modelDeadline, Deadline.For(TimeoutLevel.Provider, provider.Config.Timeouts, stream, now, _time), global];
            var set = new DeadlineSet(deadlines);

            AttemptRecord record;
            var cacheKey = provider.IsImplemented && _cache.StoreFor(runtime.Config.Gateway.Cache) != CacheStore.None ? CacheKey(inference, model, provider) : null;
            var cached = cacheKey is not null && ModelInferenceCache.Reads(inference.Typed!.Request.Cache)
                ? await _cache.GetAsync(cacheKey, inference.Typed.Request.Cache, runtime.Config.Gateway.Cache)
                : null;
            var cacheHit = cached is not null;
            RateLimitBorrow? borrow = null;
            if (!cacheHit && provider.IsImplemented && runtime.Config.RateLimiting.IsEnforced)
            {
                // Each provider call pays its rate limits first (a cache hit calls nobody and pays nothing, as in TensorZero).
                // A refusal ends the request: the limits do not depend on the provider, so another would be refused too.
                var decision = await _limiter.AcquireAsync(runtime.Config.RateLimiting, AttemptRateLimits.Scope(context, inference),
                    () => AttemptRateLimits.EstimateTokens(inference, inference.FunctionName == Embeddings.EmbeddingsEndpoint.FunctionName));
                if (decision.Kind != RateLimitDecisionKind.Admitted)
                {
                    await AttemptRateLimits.WriteRefusalAsync(context, inference, decision);
                    return new ModelRunResult(ModelRunOutcome.Refused, rateLimited);
                }
                borrow = decision.Borrow;
            }
            if (cacheHit)
            {
                record = await AnswerFromCacheAsync(context, inference, new AttemptTarget(variant, model, provider), cached!);
            }
            else if (!provider.IsImplemented)
            {
                // Loaded so the configuration works; nothing is sent. The attempt fails and the next provider is tried.
                record = new AttemptRecord(model.Name, provider.Name, AttemptOutcome.Error, null, TimeSpan.Zero,
                    ProviderTypeInfo.NotImplementedMessage(TypedInference.ProviderTypeName(provider)))
                {
                    Variant = variant?.Name, StartedTimestamp = now,
                };
            }
            else if (provider.IsDummy)
            {
                record = await AttemptDummyAsync(context, inference, model, provider, variant, set);
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
            else if (_breakers.TryAdmit(key, out var admission))
            {
                // The breaker's bookkeeping around the attempt, not an asynchronous layer over it (ProviderCircuitBreakers.ExecuteAsync).
                try
                {
                    record = await AttemptAsync(context, inference, model, provider, variant, set);
                }
                catch
                {
                    ProviderCircuitBreakers.Release(admission);
                    throw;
                }
                await _breakers.ReportAsync(admission, record);
            }
            else
            {
                record = Skipped(model, provider, variant);
            }
            if (borrow is not null)
            {
                // Nothing was sent to a skipped provider: its tickets go back. After a call, the estimate is settled
                // against the usage the provider reported (tokens stay as estimated when it reported none).
                _limiter.Settle(borrow, record.Outcome == AttemptOutcome.Ok ? AttemptRateLimits.ActualTokens(inference) : null,
                    refundCalls: record.Outcome == AttemptOutcome.CircuitOpen);
            }

            Record(inference, record, i + 1 < candidates.Length ? candidates[i + 1] : null);
            if (record.Outcome == AttemptOutcome.Ok && cacheKey is not null && !record.CacheHit
                && ModelInferenceCache.Writes(inference.Typed!.Request.Cache) && inference.Typed.LastOutput is { } output)
            {
                _cache.Set(cacheKey, output, runtime.Config.Gateway.Cache);
            }
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

    /// <summary>The client for providers whose YARP cluster is not loaded, created on first use (YARP's factory, the clusters' settings).</summary>
    private HttpMessageInvoker StandbyClient => LazyInitializer.EnsureInitialized(ref _standbyClient, () => _clientFactory.CreateClient(
        new ForwarderHttpClientContext { ClusterId = "tensorzero-standby", NewConfig = GatewayRuntime.ProviderHttpClient }));

    /// <summary>The circuit breaker key of a provider: its cluster (shorthands share one per type).</summary>
    private static string Key(RuntimeProvider provider) => provider.ClusterId ?? $"in-process/{provider.ModelName}/{provider.Name}";

    /// <summary>
    /// Adds the attempt to the inference and logs it: a success (or a skipped provider, or a client abort) at Debug; an
    /// upstream error at Warning, saying which provider is tried next when the routing list goes on (a failover).
    /// </summary>
    /// <param name="inference">The inference.</param>
    /// <param name="record">The attempt.</param>
    /// <param name="next">The provider after this one in the routing list, if any.</param>
    private void Record(InferenceFeature inference, AttemptRecord record, RuntimeProvider? next = null)
    {
        inference.AddAttempt(record);
        var elapsed = (long)record.Elapsed.TotalMilliseconds;
        if (record.Outcome == AttemptOutcome.Ok && record.StatusCode is >= 400 and var status)
        {
            Log.UpstreamErrorAnswered(_logger, record.Provider, record.Model, status, elapsed);
        }
        else if (!record.IsProviderFailure)
        {
            Log.AttemptFinished(_logger, record.Provider, record.Model, record.Outcome, record.StatusCode, elapsed);
        }
        else if (next is not null && record.Outcome != AttemptOutcome.Truncated && record.TimeoutLevel is not (TimeoutLevel.Model or TimeoutLevel.Variant))
        {
            Log.FailingOver(_logger, record.Provider, record.Model, record.Outcome, record.StatusCode, elapsed, record.Error is null ? "" : $" ({record.Error})", next.Name);
        }
        else
        {
            Log.AttemptFailed(_logger, record.Provider, record.Model, record.Outcome, record.StatusCode, elapsed, record.Error is null ? "" : $" ({record.Error})");
        }
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

    /// <summary>The cache key of a typed attempt (null when the request does not use the cache or is not typed).</summary>
    private static string? CacheKey(InferenceFeature inference, RuntimeModel model, RuntimeProvider provider)
    {
        if (inference.Typed is not { } typed || typed.Request.Cache.Mode == CacheMode.Off)
        {
            return null;
        }
        // The key is the request as the provider is sent it, in its format (OpenAI's for the dummy).
        return provider.Format.TryWriteRequest(typed.ModelRequest, provider.UpstreamModelName,
            TypedInference.ProviderTypeName(provider), inference.Request.Stream, out var body, out _, model.Name, provider.Name)
            ? ModelInferenceCache.Key(model.Name, provider.Name, provider.Fingerprint, body)
            : null;
    }

    /// <summary>A cache hit: the stored answer in the client's protocol, with zero usage (TensorZero's), no provider call.</summary>
    private async Task<AttemptRecord> AnswerFromCacheAsync(HttpContext context, InferenceFeature inference, AttemptTarget target, CachedModelOutput cached)
    {
        var started = _time.GetTimestamp();
        var typed = inference.Typed!;
        var response = context.Response;
        SetAttemptHeaders(context, inference, target.Provider);
        context.Response.Headers["x-tensorzero-cache"] = "hit";
        response.StatusCode = StatusCodes.Status200OK;
        if (!inference.Request.Stream)
        {
            var result = typed.BuildResult(inference, target, new ImmutableContent(cached.Output), Usage.Zero, cached.FinishReason, cached.RawResponse, rawUsage: null);
            typed.Result = result;
            var body = typed.WriteBody(result);
            response.ContentType = "application/json";
            response.ContentLength = body.Length;
            inference.DeferredBody = body;
        }
        else
        {
            var writer = typed.CreateStreamWriter(inference, TypedInference.ProviderTypeName(target.Provider), cached: true);
            var buffer = new System.Buffers.ArrayBufferWriter<byte>(1024);
            foreach (var stored in cached.Chunks)
            {
                writer.WriteChunk(OutputProcessor.ProcessChunk(typed.ModelRequest.Kind, typed.ModelRequest, stored with { Usage = null, RawUsage = null }), buffer);
            }
            writer.WriteDone(buffer);
            typed.BuildResult(inference, target, new ImmutableContent(cached.Output), Usage.Zero, cached.FinishReason, cached.RawResponse, rawUsage: null);
            response.ContentType = "text/event-stream";
            response.Headers.CacheControl = "no-cache";
            try
            {
                await response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted);
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException)
            {
                return new AttemptRecord(target.Model.Name, target.Provider.Name, AttemptOutcome.ClientAbort, StatusCodes.Status200OK,
                    _time.GetElapsedTime(started), null) { Variant = target.Variant?.Name, StartedTimestamp = started, CacheHit = true };
            }
        }
        var elapsed = _time.GetElapsedTime(started);
        return new AttemptRecord(target.Model.Name, target.Provider.Name, AttemptOutcome.Ok, StatusCodes.Status200OK, elapsed, null)
        {
            Variant = target.Variant?.Name, StartedTimestamp = started, TimeToFirstToken = elapsed, CacheHit = true,
        };
    }

    /// <summary>
    /// An attempt at the in-process <c>dummy</c> provider (typed path only): TensorZero's fixed answers per model name,
    /// written in the client's protocol. A dummy failure before anything is written fails over like a provider error.
    /// </summary>
    private async Task<AttemptRecord> AttemptDummyAsync(
        HttpContext context, InferenceFeature inference, RuntimeModel model, RuntimeProvider provider, RuntimeVariant? variant, DeadlineSet deadlines)
    {
        var started = _time.GetTimestamp();
        var target = new AttemptTarget(variant, model, provider);
        AttemptRecord Result(AttemptOutcome outcome, int? status, string? detail = null, TimeSpan? ttft = null, TimeoutLevel? level = null) =>
            new(model.Name, provider.Name, outcome, status, _time.GetElapsedTime(started), detail)
            {
                Variant = variant?.Name, StartedTimestamp = started, TimeToFirstToken = ttft, TimeoutLevel = level,
            };
        if (inference.Typed is not { } typed)
        {
            return Result(AttemptOutcome.Error, null, "the dummy provider answers typed requests only");
        }

        var dummyContext = new DummyContext
        {
            DynamicKeyName = provider.DynamicCredentialName,
            ApiKey = provider.DynamicCredentialName is { } keyName && inference.Credentials.TryGetValue(keyName, out var key) ? key : null,
            InferenceExtraBody = ExtraParameters.EntriesFor(inference.ExtraBodyEntries, target),
            InferenceExtraHeaders = ExtraParameters.EntriesFor(inference.ExtraHeaderEntries, target),
            VariantExtraHeaders = variant is { Config.ExtraHeaders.Length: > 0 } ? JsonSerializer.SerializeToElement(
                variant.Config.ExtraHeaders.Select(h => new Dictionary<string, object?> { ["name"] = h.Name, ["value"] = h.Value })) : null,
            BodyOperations = ExtraParameters.BodyOperations(inference.ExtraBody, target),
            HeaderOperations = ExtraParameters.HeaderOperations(inference.ExtraHeaders, target),
        };

        var (preCommitAt, preCommitLevel) = deadlines.EarliestPreCommit();
        using var preCommit = DeadlineSet.Remaining(preCommitAt, _time) is { } left ? new CancellationTokenSource(left, _time) : new CancellationTokenSource();
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(preCommit.Token, context.RequestAborted);
        var capture = _captures.For(inference);
        var response = context.Response;
        try
        {
            if (!inference.Request.Stream)
            {
                var answer = await _dummy.InferAsync(provider.UpstreamModelName, typed.ModelRequest, dummyContext, _time, linked.Token);
                var result = typed.BuildResult(inference, target, new ImmutableContent(answer.Output), answer.Usage, answer.FinishReason,
                    answer.RawResponse, rawUsage: null);
                typed.Result = result;
                var body = typed.WriteBody(result);
                capture?.OnBody(body);
                SetAttemptHeaders(context, inference, provider);
                response.StatusCode = StatusCodes.Status200OK;
                response.ContentType = "application/json";
                response.ContentLength = body.Length;
                // Written once the record is queued, as a provider's buffered body is (InferenceMiddleware).
                inference.DeferredBody = body;
                var elapsed = _time.GetElapsedTime(started);
                return Result(AttemptOutcome.Ok, StatusCodes.Status200OK, ttft: elapsed);
            }

            var writer = typed.CreateStreamWriter(inference, "dummy");
            var accumulator = new StreamAccumulator();
            var chunks = new List<ProviderChunk>();
            var buffer = new System.Buffers.ArrayBufferWriter<byte>(1024);
            TimeSpan? firstToken = null;
            await using var items = _dummy.InferStreamAsync(provider.UpstreamModelName, typed.ModelRequest, dummyContext, _time, linked.Token)
                .GetAsyncEnumerator(linked.Token);
            while (await items.MoveNextAsync())
            {
                var item = items.Current;
                buffer.ResetWrittenCount();
                if (item.Chunk is { } chunk)
                {
                    chunks.Add(chunk);
                    chunk = OutputProcessor.ProcessChunk(typed.ModelRequest.Kind, typed.ModelRequest, chunk);
                    accumulator.Add(chunk);
                    writer.WriteChunk(chunk, buffer);
                }
                else if (firstToken is null)
                {
                    // An error before anything was sent is a failed attempt, as a provider's would be.
                    return Result(item.Error!.StatusCode is null ? AttemptOutcome.Error : AttemptOutcome.Status, item.Error.StatusCode, item.Error.Message);
                }
                else
                {
                    writer.WriteError(buffer, item.Error!.Message);
                }
                if (firstToken is null)
                {
                    firstToken = _time.GetElapsedTime(started);
                    SetAttemptHeaders(context, inference, provider);
                    response.StatusCode = StatusCodes.Status200OK;
                    response.ContentType = "text/event-stream";
                    response.Headers.CacheControl = "no-cache";
                }
                if (buffer.WrittenCount > 0)
                {
                    capture?.OnEvent(buffer.WrittenSpan);
                    await response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted);
                    await response.Body.FlushAsync(context.RequestAborted);
                }
            }
            buffer.ResetWrittenCount();
            writer.WriteDone(buffer);
            if (firstToken is null)
            {
                firstToken = _time.GetElapsedTime(started);
                SetAttemptHeaders(context, inference, provider);
                response.StatusCode = StatusCodes.Status200OK;
                response.ContentType = "text/event-stream";
            }
            capture?.OnEvent(buffer.WrittenSpan);
            await response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted);
            typed.Result = typed.StreamResult(inference, target, accumulator, chunks, writer.ModelInferenceId);
            return Result(AttemptOutcome.Ok, StatusCodes.Status200OK, ttft: firstToken);
        }
        catch (DummyProviderException ex) when (!response.HasStarted)
        {
            return Result(ex.StatusCode is null ? AttemptOutcome.Error : AttemptOutcome.Status, ex.StatusCode, ex.Message);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            return Result(AttemptOutcome.ClientAbort, null);
        }
        catch (OperationCanceledException) when (!response.HasStarted)
        {
            return Result(AttemptOutcome.Timeout, null, Deadline.Describe(preCommitLevel, inference.Request.Stream), level: preCommitLevel);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or DummyProviderException)
        {
            return Result(AttemptOutcome.Truncated, StatusCodes.Status200OK, ex.Message);
        }
    }

    private async Task<AttemptRecord> AttemptAsync(
        HttpContext context, InferenceFeature inference, RuntimeModel model, RuntimeProvider provider, RuntimeVariant? variant, DeadlineSet deadlines)
    {
        var started = _time.GetTimestamp();
        HttpMessageInvoker client;
        ForwarderRequestConfig requestConfig;
        if (_proxyState.TryGetCluster(provider.ClusterId!, out var cluster) && cluster.Model.HttpClient is { } clusterClient)
        {
            client = clusterClient;
            requestConfig = cluster.Model.Config.HttpRequest ?? ForwarderRequestConfig.Empty;
        }
        else
        {
            // YARP's clusters follow the current configuration; this request's snapshot can be older (a reload removed the
            // provider while the request ran) or newer (YARP has not applied the reload yet). Either way the request
            // finishes on its own snapshot: the provider's address is the snapshot's, sent through a client with the
            // clusters' settings.
            Log.StandbyClient(_logger, provider.Name, model.Name);
            client = StandbyClient;
            requestConfig = inference.Runtime!.RequestConfig;
        }

        var (preCommitAt, preCommitLevel) = deadlines.EarliestPreCommit();
        // No deadline at any level: no timer at all (the forwarder still links the client's abort).
        using var preCommit = DeadlineSet.Remaining(preCommitAt, _time) is { } left ? new CancellationTokenSource(left, _time) : null;

        var target = new AttemptTarget(variant, model, provider);
        var typed = inference.Typed;
        byte[] body;
        if (typed is null)
        {
            body = Render(inference, target);
        }
        else if (!TryRenderTyped(inference, typed, target, out body, out var why))
        {
            // The request cannot be said in this provider's terms: this provider fails, the next may take it.
            return new AttemptRecord(model.Name, provider.Name, AttemptOutcome.Error, null, TimeSpan.Zero, why)
            {
                Variant = variant?.Name, StartedTimestamp = started,
            };
        }
        if (!TryPolicy(inference, provider, out var policy, out var credentialError))
        {
            return new AttemptRecord(model.Name, provider.Name, AttemptOutcome.Error, null, TimeSpan.Zero, credentialError)
            {
                Variant = variant?.Name, StartedTimestamp = started,
            };
        }
        var capture = _captures.For(inference);
        var attempt = new ProxyAttemptFeature(policy, body, preCommit, _time)
        {
            HeaderOperations = ExtraParameters.HeaderOperations(inference.ExtraHeaders, target),
            MaxBufferedResponseBytes = _maxBufferedResponseBytes,
            RemainingAfterCommit = () => DeadlineSet.Remaining(deadlines.EarliestPostCommit(), _time),
            Rewriter = typed is null ? inference.Rewriter : null,
            BodyTranslator = typed is null ? null : new TypedBodyTranslator(typed, inference, target),
            EventTranslator = typed is null || !inference.Request.Stream ? null : new TypedEventTranslator(typed, inference, target),
            Tap = capture,
            FailOnErrorStatus = ProviderFormats.FailsOnErrorStatus(provider.Config.Type),
        };
        attempt.Attach(context);
        SetAttemptHeaders(context, inference, provider);

        var error = await _forwarder.SendAsync(
            context, provider.DestinationPrefix!, attempt.SendThrough(client), requestConfig, ProviderHttpTransformer.Instance,
            preCommit?.Token ?? CancellationToken.None);

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

    /// <summary>The typed path's body: the model request in the provider's dialect, then the attempt's extra body patches.</summary>
    private static bool TryRenderTyped(InferenceFeature inference, TypedInference typed, AttemptTarget target, out byte[] body, out string? error)
    {
        var provider = target.Provider;
        if (!provider.Format.TryWriteRequest(typed.ModelRequest, provider.UpstreamModelName, TypedInference.ProviderTypeName(provider),
            inference.Request.Stream, out body, out error, target.Model.Name, provider.Name))
        {
            return false;
        }
        var patches = ExtraParameters.BodyOperations(inference.ExtraBody, target);
        if (patches.Count > 0)
        {
            try
            {
                body = JsonPointerPatch.Apply(body, patches);
            }
            catch (JsonPatchException ex)
            {
                error = ex.Message;
                return false;
            }
        }
        return true;
    }

    /// <summary>
    /// The attempt's path and credential: the provider's, or for <c>api_key_location = "dynamic::NAME"</c> the key the
    /// request gave in <c>tensorzero::credentials</c> (the configured fallback's when it gave none).
    /// </summary>
    private static bool TryPolicy(InferenceFeature inference, RuntimeProvider provider, out ProviderRequestPolicy policy, out string? error)
    {
        policy = inference.Request.Stream && provider.StreamPolicy is { } streaming ? streaming : provider.Policy!;
        error = null;
        if (provider.DynamicCredentialName is not { } name)
        {
            return true;
        }
        if (!inference.Credentials.TryGetValue(name, out var key))
        {
            if (policy.AuthHeaderValue is null)
            {
                error = $"API key missing for provider: dynamic credential `{name}` was not given in `tensorzero::credentials`";
                return false;
            }
            return true;
        }
        var (header, value) = GatewayRuntime.CredentialHeader(provider.Config.Type, key);
        policy = new ProviderRequestPolicy(policy.RequestUri, header, value, policy.ForwardClientHeaders, policy.AllowCredentialOverride, policy.FixedHeaders);
        return true;
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
