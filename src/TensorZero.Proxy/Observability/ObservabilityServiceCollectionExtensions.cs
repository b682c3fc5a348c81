using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
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
    /// ClickHouse health check. The URL is env <c>TENSORZERO_CLICKHOUSE_URL</c>, else <c>TensorZero:ClickHouseUrl</c>;
    /// <c>[gateway.observability] enabled</c> decides whether anything is recorded.
    /// </summary>
    /// <exception cref="Configuration.ConfigException">A malformed URL or invalid options, every problem listed.</exception>
    public static IServiceCollection AddTensorZeroObservability(this IServiceCollection services, IConfiguration configuration, GatewayRuntime runtime)
    {
        var options = configuration.GetSection(ObservabilityOptions.SectionName).Get<ObservabilityOptions>() ?? new ObservabilityOptions();
        var url = configuration[ClickHouseUrlVariable];
        if (string.IsNullOrWhiteSpace(url))
        {
            url = configuration[$"{GatewayHostOptions.SectionName}:ClickHouseUrl"];
        }
        var settings = ObservabilitySettings.Resolve(runtime.Config.Gateway.Observability, url, options);

        services.AddSingleton(settings);
        services.AddSingleton<GatewayMetrics>();
        services.AddSingleton<ResponseCaptures>();
        if (settings.ClickHouse is { } endpoint)
        {
            services.AddSingleton(_ => new ClickHouseClient(endpoint, options.RequestTimeout));
        }
        services.AddSingleton<ClickHouseHealth>();
        services.AddSingleton(new RecentInferences(settings.Mode == ObservabilityMode.Disabled ? 1 : options.RecentInferences));
        services.AddSingleton<ObservabilityWriter>();
        services.AddSingleton<IInferenceObserver>(sp => sp.GetRequiredService<ObservabilityWriter>());
        services.AddHostedService<ObservabilityService>();
        return services;
    }

    /// <summary><c>GET /health</c> (gateway and ClickHouse) and <c>GET /metrics</c> (Prometheus text).</summary>
    public static void MapObservabilityEndpoints(this WebApplication app, string basePath)
    {
        app.MapGet(basePath + "/health", async (ClickHouseHealth health, CancellationToken cancellationToken) =>
        {
            var (status, healthy) = await health.CheckAsync(cancellationToken);
            return Results.Json(new { gateway = "ok", clickhouse = status },
                statusCode: healthy ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
        });
        app.MapGet(basePath + "/metrics", (GatewayMetrics metrics, ObservabilityWriter writer, ProviderCircuitBreakers breakers) =>
            Results.Text(
                metrics.Render(breakers.States, [.. RecordTables.All.Select(writer.Metrics)]),
                "text/plain; version=0.0.4; charset=utf-8"));
    }
}
