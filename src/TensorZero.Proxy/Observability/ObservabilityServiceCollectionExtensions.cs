using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using TensorZero.Proxy.Inference;
using TensorZero.Proxy.Resilience;
using TensorZero.Proxy.Routing;

namespace TensorZero.Proxy.Observability;

/// <summary>Registration and endpoints of observability (DESIGN.md §7).</summary>
internal static class ObservabilityServiceCollectionExtensions
{
    /// <summary>The environment variable TensorZero reads the ClickHouse URL from.</summary>
    public const string ClickHouseUrlVariable = "TENSORZERO_CLICKHOUSE_URL";

    /// <summary>
    /// Registers the recorder (an <see cref="IInferenceObserver"/>), its queues and shippers, metrics and the
    /// ClickHouse health check. The URL is env <c>TENSORZERO_CLICKHOUSE_URL</c> (through
    /// <see cref="TensorZeroOptions.EnvironmentVariables"/>, else the app's configuration), else
    /// <c>TensorZero:ClickHouseUrl</c>; <c>TENSORZERO_CLICKHOUSE_CLUSTER_NAME</c> and
    /// <c>TENSORZERO_OVERRIDE_NON_REPLICATED_CLICKHOUSE</c> are read the same way (<see cref="ClickHouseDeployment"/>);
    /// <c>[gateway.observability] enabled</c> decides whether anything is recorded.
    /// Settings are resolved with the configuration, when first needed; a malformed URL or invalid options throw
    /// <see cref="Configuration.ConfigException"/> listing every problem.
    /// </summary>
    public static IServiceCollection AddTensorZeroObservability(this IServiceCollection services)
    {
        services.AddSingleton(sp =>
        {
            var configuration = sp.GetRequiredService<IConfiguration>();
            var hostOptions = sp.GetRequiredService<IOptions<TensorZeroOptions>>().Value;
            var options = configuration.GetSection(ObservabilityOptions.SectionName).Get<ObservabilityOptions>() ?? new ObservabilityOptions();
            // As the URL: the host's environment lookup first, else the app's configuration (environment variables included).
            string? Variable(string name)
            {
                var value = hostOptions.EnvironmentVariables?.Invoke(name);
                return string.IsNullOrWhiteSpace(value) ? configuration[name] : value;
            }
            var url = Variable(ClickHouseUrlVariable);
            if (string.IsNullOrWhiteSpace(url))
            {
                url = hostOptions.ClickHouseUrl;
            }
            var runtime = sp.GetRequiredService<GatewayRuntimeAccessor>().Current;
            return ObservabilitySettings.Resolve(runtime.Config.Gateway.Observability, url, options,
                Variable(ClickHouseDeployment.ClusterNameVariable), Variable(ClickHouseDeployment.OverrideNonReplicatedVariable));
        });
        services.AddSingleton<GatewayMetrics>();
        services.AddSingleton<ResponseCaptures>();
        // Null when no ClickHouse is configured: its users take it as optional (records then wait on disk).
        services.AddSingleton(sp => sp.GetRequiredService<ObservabilitySettings>().ClickHouse is { } endpoint
            ? new ClickHouseClient(endpoint, sp.GetRequiredService<ObservabilitySettings>().Options.RequestTimeout)
            : null!);
        services.AddSingleton<ClickHouseHealth>();
        services.AddSingleton(sp =>
        {
            var settings = sp.GetRequiredService<ObservabilitySettings>();
            return new RecentInferences(settings.Mode == ObservabilityMode.Disabled ? 1 : settings.Options.RecentInferences);
        });
        services.AddSingleton<ObservabilityWriter>();
        services.AddSingleton<IInferenceObserver>(sp => sp.GetRequiredService<ObservabilityWriter>());
        services.AddHostedService<ObservabilityService>();
        return services;
    }

    /// <summary><c>GET /health</c> (gateway and ClickHouse) and <c>GET /metrics</c> (Prometheus text).</summary>
    public static void MapObservabilityEndpoints(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/health", async (ClickHouseHealth health, CancellationToken cancellationToken) =>
        {
            var (status, healthy) = await health.CheckAsync(cancellationToken);
            return Results.Json(new { gateway = "ok", clickhouse = status },
                statusCode: healthy ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
        });
        endpoints.MapGet("/metrics", (GatewayMetrics metrics, ObservabilityWriter writer, ProviderCircuitBreakers breakers) =>
            Results.Text(
                metrics.Render(breakers.States, [.. RecordTables.All.Select(writer.Metrics)]),
                "text/plain; version=0.0.4; charset=utf-8"));
    }
}
