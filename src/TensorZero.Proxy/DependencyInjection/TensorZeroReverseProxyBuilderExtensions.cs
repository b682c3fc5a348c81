using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using TensorZero.Proxy;
using TensorZero.Proxy.Configuration;
using TensorZero.Proxy.Feedback;
using TensorZero.Proxy.Inference;
using TensorZero.Proxy.Observability;
using TensorZero.Proxy.Providers;
using TensorZero.Proxy.Resilience;
using TensorZero.Proxy.Routing;
using Yarp.ReverseProxy.Configuration;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds TensorZero to a YARP reverse proxy: <c>services.AddReverseProxy().AddTensorZero()</c>.</summary>
public static class TensorZeroReverseProxyBuilderExtensions
{
    /// <summary>
    /// Registers the TensorZero gateway: its inference routes and placeholder cluster (an extra YARP config provider,
    /// merged with the host's own routes), the services of <c>UseTensorZero()</c> and <c>MapTensorZeroEndpoints()</c>,
    /// observability, feedback and configuration reload. <see cref="TensorZeroOptions"/> are bound from the
    /// configuration section <c>TensorZero</c>, then <paramref name="configure"/> runs. tensorzero.toml is loaded
    /// when the gateway is first resolved (at the latest when the proxy pipeline is built), and every problem in it is
    /// reported at once as a <see cref="ConfigException"/>.
    /// </summary>
    /// <param name="builder">The builder returned by <c>AddReverseProxy()</c>.</param>
    /// <param name="configure">Changes to the options after they are bound from configuration.</param>
    public static IReverseProxyBuilder AddTensorZero(this IReverseProxyBuilder builder, Action<TensorZeroOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        var options = services.AddOptions<TensorZeroOptions>().BindConfiguration(TensorZeroOptions.SectionName);
        if (configure is not null)
        {
            options.Configure(configure);
        }
        services.AddTensorZeroCore();
        return builder;
    }

    /// <summary>Everything behind the public surface; internal so tests and benchmarks can see the pieces.</summary>
    internal static IServiceCollection AddTensorZeroCore(this IServiceCollection services)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<TensorZeroOptions>>().Value;
            var environment = options.EnvironmentVariables ?? Environment.GetEnvironmentVariable;
            var path = TensorZeroConfigFile.ResolvePath(sp.GetRequiredService<IConfiguration>(), options.ConfigFile, environment);
            return new GatewayConfigSource(path, environment);
        });
        services.AddSingleton(sp =>
        {
            var source = sp.GetRequiredService<GatewayConfigSource>();
            var config = ConfigLoader.LoadFile(source.Path);
            var runtime = GatewayRuntime.Build(config, source.Environment);
            var logger = sp.GetRequiredService<ILoggerFactory>().CreateLogger("TensorZero.Proxy");
            Log.ConfigLoaded(logger, source.Path, config.Models.Count);
            foreach (var warning in config.Warnings)
            {
                Log.ConfigWarning(logger, warning);
            }
            // Auth, rate limits and the shared cache without their store stop the gateway here, with the config's errors.
            TensorZero.Proxy.Valkey.SharedStoreRequirements.Check(config, sp, logger);
            return new GatewayRuntimeAccessor(runtime);
        });
        services.AddSingleton(sp =>
        {
            var runtime = sp.GetRequiredService<GatewayRuntimeAccessor>();
            return new TensorZeroGateway(runtime);
        });
        services.AddSingleton<DummyModels>();
        services.AddSingleton<ModelInferenceCache>();
        // The store the replicas share (API keys, rate limits, cache); connected at start-up when a feature uses it.
        services.AddSingleton<TensorZero.Proxy.Valkey.ValkeyStore>();
        services.AddTensorZeroResilience();
        services.AddSingleton<TensorZero.Proxy.RateLimiting.RateLimiter>();
        services.AddSingleton<ModelRunner>();
        services.AddSingleton<TensorZero.Proxy.Embeddings.EmbeddingsEndpoint>();
        // OpenAI-shaped bodies for 404/405 of the gateway's paths (all paths with TensorZeroOptions.JsonErrorsForAllPaths).
        services.TryAddEnumerable(ServiceDescriptor.Singleton<Microsoft.AspNetCore.Hosting.IStartupFilter, RouteErrorsStartupFilter>());
        services.AddSingleton<GatewayPaths>();
        // [gateway.auth]: API keys on the gateway's paths (every path with JsonErrorsForAllPaths), inside the route errors.
        services.AddSingleton<TensorZero.Proxy.Auth.ApiKeyAuthenticator>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<Microsoft.AspNetCore.Hosting.IStartupFilter, TensorZero.Proxy.Auth.AuthStartupFilter>());
        services.AddSingleton<IProxyConfigProvider, GatewayProxyConfigProvider>();
        services.AddTensorZeroObservability();
        services.AddTensorZeroFeedback();
        services.AddTensorZeroConfigReload();
        // TensorZeroOptions.ReloadOnChange (configuration or code) decides whether the reloader watches.
        services.AddOptions<ConfigReloadOptions>().PostConfigure<IOptions<TensorZeroOptions>>(
            (reload, options) => reload.ReloadOnChange = options.Value.ReloadOnChange);
        return services;
    }
}
