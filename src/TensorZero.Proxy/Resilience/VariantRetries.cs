using Polly;
using Polly.Registry;
using Polly.Retry;
using TensorZero.Proxy.Configuration;
using TensorZero.Proxy.Routing;

namespace TensorZero.Proxy.Resilience;

/// <summary>What one run of a variant's routing list reports to its retry pipeline.</summary>
internal interface IRetryOutcome : IResilienceResult
{
    /// <summary>Whether another run of the routing list is worth it (every provider failed, or the model timed out).</summary>
    bool ShouldRetry { get; }
}

/// <summary>The registry key of a variant's retry pipeline.</summary>
internal readonly record struct VariantRetryKey(string Function, string Variant)
{
    public override string ToString() => $"{Function}/{Variant}";
}

/// <summary>
/// The retry pipeline of each variant's <c>retries = { num_retries, max_delay_s }</c>, a Polly.Extensions registry
/// pipeline (<see cref="ResiliencePipelineRegistry{TKey}"/> of <see cref="VariantRetryKey"/>) with the gateway's
/// telemetry and clock: the routing list is run again after an exponential, jittered delay (base <see cref="BaseDelay"/>,
/// capped at <c>max_delay_s</c>) while the result says <see cref="IRetryOutcome.ShouldRetry"/>. The variant's deadline
/// token cancels a pending delay, so retries stop at the variant timeout. One pipeline per variant, shared by its
/// requests; a reload that changes a variant's retries rebuilds it (see <see cref="KeyedPipelines{TKey, TSettings, TState}"/>).
/// </summary>
internal sealed class VariantRetries
{
    /// <summary>The <c>pipeline.name</c> of every retry pipeline in Polly's telemetry (the instance is <c>function/variant</c>).</summary>
    public const string PipelineName = "tensorzero-variant-retry";

    /// <summary>The first retry's nominal delay; each further retry doubles it (before jitter and the cap).</summary>
    public static readonly TimeSpan BaseDelay = TimeSpan.FromMilliseconds(100);

    private readonly KeyedPipelines<VariantRetryKey, RetryConfig, RetryConfig> _pipelines;

    public VariantRetries(ResiliencePipelineRegistry<VariantRetryKey> registry, GatewayRuntimeAccessor runtime)
    {
        _pipelines = new(registry, runtime, RetriesIn, static (builder, _, retries) =>
        {
            builder.AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = retries.NumRetries,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = BaseDelay,
                MaxDelay = TimeSpan.FromSeconds(retries.MaxDelaySeconds),
                ShouldHandle = static args => new ValueTask<bool>(
                    args.Outcome.Exception is null && args.Outcome.Result is IRetryOutcome { ShouldRetry: true }),
            });
            return retries;
        });
    }

    /// <summary>The pipeline of a variant's retries; null when it has none.</summary>
    /// <param name="function">The function's name.</param>
    /// <param name="variant">The variant's name.</param>
    /// <param name="retries">The variant's settings (those of the configuration the request started with).</param>
    public ResiliencePipeline? For(string function, string variant, RetryConfig retries) =>
        retries.NumRetries <= 0 ? null : _pipelines.GetOrAdd(new VariantRetryKey(function, variant), retries).Pipeline;

    /// <summary>Each variant's retry settings in a snapshot; none for a variant without retries.</summary>
    private static Func<VariantRetryKey, RetryConfig?> RetriesIn(GatewayRuntime runtime) => key =>
        runtime.Functions.TryGetValue(key.Function, out var function)
        && function.Variants.TryGetValue(key.Variant, out var variant)
        && variant.Config.Retries.NumRetries > 0
            ? variant.Config.Retries
            : null;
}
