using System.Runtime.CompilerServices;
using Polly;
using Polly.Retry;
using TensorZero.Proxy.Configuration;

namespace TensorZero.Proxy.Resilience;

/// <summary>
/// The Polly.Core retry pipeline of each variant's <c>retries = { num_retries, max_delay_s }</c>: the routing
/// list is run again after an exponential, jittered delay (base <see cref="BaseDelay"/>, capped at
/// <c>max_delay_s</c>) while the result is retryable. The variant's deadline token cancels a pending delay,
/// so retries stop at the variant timeout. Pipelines are built once per variant and shared.
/// </summary>
internal sealed class VariantRetries
{
    /// <summary>The first retry's nominal delay; each further retry doubles it (before jitter and the cap).</summary>
    public static readonly TimeSpan BaseDelay = TimeSpan.FromMilliseconds(100);

    private readonly ConditionalWeakTable<RetryConfig, object> _pipelines = [];
    private readonly TimeProvider _timeProvider;

    public VariantRetries(TimeProvider timeProvider)
    {
        _timeProvider = timeProvider;
    }

    /// <summary>The pipeline for a variant's retry settings; null when it has no retries.</summary>
    /// <param name="retries">The variant's settings.</param>
    /// <param name="shouldRetry">Whether a result is worth another run of the routing list.</param>
    public ResiliencePipeline<T>? For<T>(RetryConfig retries, Func<T, bool> shouldRetry)
    {
        if (retries.NumRetries <= 0)
        {
            return null;
        }
        return (ResiliencePipeline<T>)_pipelines.GetValue(retries, r => new ResiliencePipelineBuilder<T> { TimeProvider = _timeProvider }
            .AddRetry(new RetryStrategyOptions<T>
            {
                MaxRetryAttempts = r.NumRetries,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = BaseDelay,
                MaxDelay = TimeSpan.FromSeconds(r.MaxDelaySeconds),
                ShouldHandle = args => new ValueTask<bool>(args.Outcome.Exception is null && shouldRetry(args.Outcome.Result!)),
            })
            .Build());
    }
}
