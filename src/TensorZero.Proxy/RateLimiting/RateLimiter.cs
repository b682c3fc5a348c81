using System.Text;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;
using TensorZero.Proxy.Valkey;

namespace TensorZero.Proxy.RateLimiting;

/// <summary>How a rate limit check ended.</summary>
internal enum RateLimitDecisionKind
{
    /// <summary>No limit applies, or every bucket paid: the provider may be called.</summary>
    Admitted,

    /// <summary>A bucket is short: 429 with <c>Retry-After</c>.</summary>
    Limited,

    /// <summary>A token limit applies and the request has no <c>max_tokens</c> to estimate with: 400 (TensorZero's).</summary>
    MissingMaxTokens,

    /// <summary>The store could not be asked: 503, and the provider is not called (fail closed).</summary>
    StoreUnavailable,
}

/// <summary>The tickets one attempt took, to be adjusted once its actual usage is known.</summary>
/// <param name="Buckets">The charged buckets, each with what it was charged.</param>
/// <param name="Limits">The limits of <paramref name="Buckets"/>, in the same order.</param>
internal sealed record RateLimitBorrow(BucketRequest[] Buckets, ActiveRateLimit[] Limits);

/// <summary>The answer of <see cref="RateLimiter.AcquireAsync"/>.</summary>
/// <param name="Kind">What happened.</param>
/// <param name="Message">The client's error message when not admitted.</param>
/// <param name="RetryAfter">When limited: when to try again, whole seconds, at least one; null when a bucket never refills.</param>
/// <param name="Borrow">When admitted under some limit: what was taken.</param>
internal sealed record RateLimitDecision(RateLimitDecisionKind Kind, string? Message = null, int? RetryAfter = null, RateLimitBorrow? Borrow = null)
{
    public static RateLimitDecision Unlimited { get; } = new(RateLimitDecisionKind.Admitted);

    /// <summary>The HTTP status of a refusal.</summary>
    public int StatusCode => Kind switch
    {
        RateLimitDecisionKind.Limited => 429,
        RateLimitDecisionKind.MissingMaxTokens => 400,
        RateLimitDecisionKind.StoreUnavailable => 503,
        _ => 200,
    };
}

/// <summary>
/// Checks <c>[rate_limiting]</c> before each model provider call (TensorZero's flow): picks the limits that apply to the
/// request, estimates its usage (one model inference; input text length / 2 plus <c>max_tokens</c> tokens), charges every
/// bucket or none in one script call, and afterwards gives back or takes the difference to the actual usage. It fails
/// closed: when the store cannot be asked, the request is refused (503) rather than sent unlimited.
/// </summary>
internal sealed class RateLimiter
{
    private readonly ValkeyStore _store;
    private readonly ILogger<RateLimiter> _logger;
    private readonly LogInterval _unavailableLog;

    public RateLimiter(ValkeyStore store, ILogger<RateLimiter> logger, TimeProvider time)
    {
        _store = store;
        _logger = logger;
        _unavailableLog = new LogInterval(time, UnavailableLogInterval);
    }

    /// <summary>The store-unavailable warning is logged at most this often (a down store would otherwise log per request).</summary>
    internal static TimeSpan UnavailableLogInterval { get; } = TimeSpan.FromSeconds(10);

    /// <summary>Charges the limits that apply to one provider call.</summary>
    /// <param name="config">The request's configuration snapshot's <c>[rate_limiting]</c>.</param>
    /// <param name="scope">The request's tags and API key.</param>
    /// <param name="estimateTokens">The call's token estimate, asked only when a token limit applies; null when it has no <c>max_tokens</c>.</param>
    public async ValueTask<RateLimitDecision> AcquireAsync(RateLimitingConfig config, RateLimitScopeInfo scope, Func<long?> estimateTokens)
    {
        if (!config.IsEnforced)
        {
            return RateLimitDecision.Unlimited;
        }
        var limits = config.ActiveLimits(scope);
        if (limits.Count == 0)
        {
            return RateLimitDecision.Unlimited;
        }
        long tokens = 0;
        if (limits.Exists(l => l.Limit.Resource == RateLimitResource.Token))
        {
            if (estimateTokens() is not { } estimate)
            {
                return new RateLimitDecision(RateLimitDecisionKind.MissingMaxTokens,
                    "Missing `max_tokens` for request subject to rate limiting rules.");
            }
            tokens = estimate;
        }
        var buckets = new BucketRequest[limits.Count];
        for (var i = 0; i < buckets.Length; i++)
        {
            var limit = limits[i].Limit;
            buckets[i] = new BucketRequest(limits[i].Key, limit.Resource == RateLimitResource.Token ? tokens : 1,
                limit.Capacity, limit.RefillRate, limit.IntervalMicroseconds);
        }

        ConsumeResult result;
        try
        {
            result = await RateLimitStore.ConsumeAsync(_store.Database, buckets);
        }
        catch (RedisException ex)
        {
            // Unreachable, timed out, the script failed, or no store is set (a reload added rules to a gateway started
            // without TENSORZERO_VALKEY_URL).
            LogUnavailable(ex);
            return new RateLimitDecision(RateLimitDecisionKind.StoreUnavailable,
                $"The rate limiting store is unavailable, so the request was not sent (rate limits are enforced fail-closed): {Describe(ex)}");
        }
        if (result.Success)
        {
            return new RateLimitDecision(RateLimitDecisionKind.Admitted, Borrow: new RateLimitBorrow(buckets, [.. limits]));
        }

        var message = Refusal(limits, buckets, result.Available, scope);
        int? retryAfter = result.RetryAfter is { } wait ? (int)Math.Clamp(Math.Ceiling(wait.TotalSeconds), 1, int.MaxValue) : null;
        Log.RateLimited(_logger, retryAfter?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "never", message.Replace('\n', ' '));
        return new RateLimitDecision(RateLimitDecisionKind.Limited, message, retryAfter);
    }

    /// <summary>
    /// After the call: gives back what the estimate over-charged, or takes what it under-charged (TensorZero's return of
    /// tickets); or, when nothing was sent after all (<paramref name="refundCalls"/>), gives everything back. Runs off
    /// the request's path; a failure is logged and never reaches the client.
    /// </summary>
    /// <param name="borrow">What the call took.</param>
    /// <param name="actualTokens">The call's input plus output tokens; null when not known (then tokens stay as estimated).</param>
    /// <param name="refundCalls">No provider was called: every ticket goes back.</param>
    public void Settle(RateLimitBorrow borrow, long? actualTokens, bool refundCalls = false)
    {
        var adjustments = new List<BucketRequest>();
        for (var i = 0; i < borrow.Buckets.Length; i++)
        {
            var bucket = borrow.Buckets[i];
            if (refundCalls)
            {
                adjustments.Add(bucket);
            }
            else if (borrow.Limits[i].Limit.Resource == RateLimitResource.Token && actualTokens is { } tokens && bucket.Amount != tokens)
            {
                adjustments.Add(bucket with { Amount = bucket.Amount - tokens });
            }
        }
        if (adjustments.Count == 0)
        {
            return;
        }
        _ = Task.Run(async () =>
        {
            try
            {
                await RateLimitStore.AdjustAsync(_store.Database, adjustments);
            }
            catch (RedisException ex)
            {
                Log.RateLimitAdjustFailed(_logger, adjustments.Count, Describe(ex));
            }
        });
    }

    /// <summary>
    /// TensorZero's estimate of a call's tokens: every 2 characters of input text are at most 1 token, plus
    /// <paramref name="maxTokens"/> for the output. Null when <paramref name="maxTokens"/> is not set.
    /// </summary>
    public static long? EstimateTokens(long inputCharacters, long? maxTokens) => maxTokens is { } max ? inputCharacters / 2 + max : null;

    /// <summary>TensorZero's 429 message: which limits refused, what was asked and what was left.</summary>
    private static string Refusal(List<ActiveRateLimit> limits, BucketRequest[] buckets, long[] available, in RateLimitScopeInfo scope)
    {
        var failed = new List<int>();
        for (var i = 0; i < buckets.Length; i++)
        {
            if (buckets[i].Amount > available[i])
            {
                failed.Add(i);
            }
        }
        if (failed.Count == 1)
        {
            var i = failed[0];
            return $"TensorZero rate limit exceeded for `{limits[i].Limit.ResourceName}` resource.\nScope: {limits[i].Rule.DescribeScope(scope)}\n"
                + $"Requested: {buckets[i].Amount}\nAvailable: {available[i]}";
        }
        var text = new StringBuilder($"TensorZero rate limits exceeded for {failed.Count} rules:\n");
        for (var n = 0; n < failed.Count; n++)
        {
            var i = failed[n];
            if (n > 0)
            {
                text.Append('\n');
            }
            text.Append($"- Resource: `{limits[i].Limit.ResourceName}`\n    ├ Scope: {limits[i].Rule.DescribeScope(scope)}\n")
                .Append($"    ├ Requested: {buckets[i].Amount}\n    └ Available: {available[i]}");
        }
        return text.ToString();
    }

    private void LogUnavailable(Exception ex)
    {
        if (_unavailableLog.TryEnter())
        {
            Log.RateLimitStoreUnavailable(_logger, _store.Url is { } url ? ValkeyUrl.Redact(url) : "(not set)", Describe(ex));
        }
    }

    /// <summary>The exception's own message (the store's URL is redacted by the client's messages; no request content).</summary>
    private string Describe(Exception ex) => ex switch
    {
        _ when !_store.IsConfigured => $"{ValkeyUrl.Variable} is not set",
        RedisConnectionException => "cannot connect to the store",
        RedisTimeoutException => "the store did not answer in time",
        _ => ex.Message,
    };
}
