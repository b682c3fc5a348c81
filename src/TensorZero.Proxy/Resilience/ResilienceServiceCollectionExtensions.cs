using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Polly;
using Polly.Telemetry;

namespace TensorZero.Proxy.Resilience;

/// <summary>Registers the circuit breakers and retry pipelines (Polly.Extensions: registries, telemetry, the DI clock).</summary>
internal static class ResilienceServiceCollectionExtensions
{
    /// <summary>Polly's event of a pipeline execution starting.</summary>
    private const string PipelineExecuting = "PipelineExecuting";

    /// <summary>Polly's event of a finished pipeline execution.</summary>
    private const string PipelineExecuted = "PipelineExecuted";

    /// <summary>Polly's event of one attempt of a retry strategy.</summary>
    private const string ExecutionAttempt = "ExecutionAttempt";

    /// <summary>
    /// Adds <see cref="ProviderCircuitBreakers"/> and <see cref="VariantRetries"/> on two Polly.Extensions registries.
    /// Their pipelines get the <see cref="TimeProvider"/> registered in DI (a test's fake clock, else the system's) and
    /// Polly's telemetry: the <c>Polly</c> meter and resilience-event logs (circuit opened/half-opened/closed, retries)
    /// through the application's logger factory, with <c>pipeline.name</c> <see cref="ProviderCircuitBreakers.PipelineName"/>
    /// or <see cref="VariantRetries.PipelineName"/> and the cluster or <c>function/variant</c> as <c>pipeline.instance</c>.
    /// Needs the <c>GatewayRuntimeAccessor</c> (the configuration snapshot the pipelines follow).
    /// Breaker settings are bound from <c>TensorZero:CircuitBreaker</c>.
    /// </summary>
    /// <param name="services">The services.</param>
    public static IServiceCollection AddTensorZeroResilience(this IServiceCollection services)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.AddOptions<CircuitBreakerSettings>().BindConfiguration($"{TensorZeroOptions.SectionName}:CircuitBreaker");

        services.AddResiliencePipelineRegistry<ProviderCircuitKey>(options =>
        {
            options.BuilderNameFormatter = static _ => ProviderCircuitBreakers.PipelineName;
            options.InstanceNameFormatter = static key => key.Cluster;
        });
        services.AddResiliencePipelineRegistry<VariantRetryKey>(options =>
        {
            options.BuilderNameFormatter = static _ => VariantRetries.PipelineName;
            options.InstanceNameFormatter = static key => key.ToString();
        });
        services.Configure<TelemetryOptions>(static options =>
        {
            // Polly formats a result for every event (even one not logged); our results name themselves with a constant word.
            options.ResultFormatter = static (_, result) => result is IResilienceResult named ? named.ResultName : result;
            // Polly reports every execution (pipeline executing and executed, an attempt that was not retried): events per
            // provider attempt that say nothing our own metrics and records do not. Severity None: never logged (Polly's
            // duration histogram still records them for a subscribed meter listener); bench/run measured the gateway's CPU
            // per request at 196.5 µs with them at Debug and 171.9 µs with None (bench/RESULTS.md). What changes something
            // (circuit opened, half-opened, closed, a retry, a reload) keeps Polly's severity.
            options.SeverityProvider = static args =>
                args.Event.EventName is PipelineExecuting or PipelineExecuted
                || (args.Event.EventName is ExecutionAttempt && args.Event.Severity <= ResilienceEventSeverity.Information)
                    ? ResilienceEventSeverity.None
                    : args.Event.Severity;
        });

        services.TryAddSingleton<ProviderCircuitBreakers>();
        services.TryAddSingleton<VariantRetries>();
        return services;
    }
}
