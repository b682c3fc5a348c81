using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using TensorZero.Proxy.Configuration;
using TensorZero.Proxy.Feedback;
using TensorZero.Proxy.Inference;
using TensorZero.Proxy.Observability;
using TensorZero.Proxy.Providers;
using TensorZero.Proxy.Resilience;
using TensorZero.Proxy.Routing;
using Yarp.ReverseProxy.Configuration;

namespace TensorZero.Proxy;

/// <summary>
/// The composition root: finds and loads the configuration, registers the gateway's services and shows the
/// whole request pipeline in one place. <c>Program.cs</c> and the functional tests both start here.
/// </summary>
internal static class GatewayHost
{
    /// <summary>The default configuration file, relative to the working directory (then to the app's folder).</summary>
    public const string DefaultConfigFile = "config/tensorzero.toml";

    /// <summary>The runtime's switch for running socket completions on the I/O threads.</summary>
    internal const string InlineCompletionsVariable = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    /// <summary>
    /// Called first by the executable, before any socket exists: socket completions (client and provider
    /// connections) run inline on the runtime's I/O threads instead of being handed to the thread pool, and Kestrel
    /// schedules inline too. A proxy does little work per read, so the hand-off (a thread wake-up each way) was a
    /// large share of its latency and CPU; nothing on the gateway's request path blocks. An operator's own
    /// <c>DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS</c> wins (<c>0</c> turns this off). Measured in bench/RESULTS.md.
    /// </summary>
    public static void PreferInlineIoCompletions()
    {
        if (Environment.GetEnvironmentVariable(InlineCompletionsVariable) is null)
        {
            Environment.SetEnvironmentVariable(InlineCompletionsVariable, "1");
        }
    }

    /// <summary>Builds the gateway application. Throws <see cref="ConfigException"/> listing every problem.</summary>
    /// <param name="args">Command-line arguments (<c>--config-file</c>, <c>--urls</c>, any ASP.NET setting).</param>
    /// <param name="environment">Environment lookup for credentials; the process environment when null.</param>
    /// <param name="configureServices">Further service registrations (tests add observers or a fake clock).</param>
    public static WebApplication CreateApp(string[] args, Func<string, string?>? environment = null, Action<IServiceCollection>? configureServices = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        // The content root is the application's folder, where the build copies the repository's appsettings.json
        // and config/: `dotnet run` starts in the project folder, which has neither.
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });

        var configPath = ResolveConfigPath(builder.Configuration, environment);
        var config = ConfigLoader.LoadFile(configPath);
        var runtime = GatewayRuntime.Build(config, environment);

        // [gateway] bind_address sets the address unless ASP.NET's own --urls / ASPNETCORE_URLS is given.
        if (string.IsNullOrEmpty(builder.Configuration[WebHostDefaults.ServerUrlsKey]))
        {
            builder.WebHost.UseUrls(ToUrl(config.Gateway.BindAddress ?? "127.0.0.1:3000"));
        }

        if (Environment.GetEnvironmentVariable(InlineCompletionsVariable) == "1")
        {
            // Kestrel's own continuations inline as well (it only helps with the runtime switch on).
            builder.WebHost.UseSockets(options => options.UnsafePreferInlineScheduling = true);
        }
        builder.Services.AddTensorZeroGateway(builder.Configuration, runtime);
        configureServices?.Invoke(builder.Services);
        var app = builder.Build();
        app.MapTensorZeroGateway();
        Log.ConfigLoaded(app.Logger, configPath, config.Models.Count);
        foreach (var warning in config.Warnings)
        {
            Log.ConfigWarning(app.Logger, warning);
        }
        return app;
    }

    /// <summary>
    /// DESIGN.md §3: <c>--config-file</c>, else env <c>TENSORZERO_CONFIG_FILE</c>, else appsettings
    /// <c>TensorZero:ConfigFile</c>, else <c>config/tensorzero.toml</c>. The value may be a glob
    /// (<c>config/tensorzero.*.toml</c>), as in TensorZero: it is returned absolute, and <see cref="ConfigLoader.LoadFile"/>
    /// expands it. A plain relative file that does not exist under the working directory is looked up beside the
    /// application, where the build copies config/.
    /// </summary>
    public static string ResolveConfigPath(IConfiguration configuration, Func<string, string?> environment)
    {
        var path = configuration["config-file"];
        if (string.IsNullOrEmpty(path))
        {
            path = environment("TENSORZERO_CONFIG_FILE");
        }
        if (string.IsNullOrEmpty(path))
        {
            path = configuration[$"{GatewayHostOptions.SectionName}:ConfigFile"];
        }
        if (string.IsNullOrEmpty(path))
        {
            path = DefaultConfigFile;
        }
        if (!Path.IsPathRooted(path) && !ConfigFiles.IsGlob(path) && !File.Exists(path))
        {
            var besideApp = Path.Combine(AppContext.BaseDirectory, path);
            if (File.Exists(besideApp))
            {
                return besideApp;
            }
        }
        return Path.GetFullPath(path);
    }

    /// <summary>
    /// <c>--check-config</c>: validates the configuration (including credentials of routed providers) and
    /// returns the process exit code: 0 valid, 1 invalid with every error printed.
    /// </summary>
    public static int CheckConfig(string[] args, TextWriter output, TextWriter error, Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        var configuration = new ConfigurationBuilder()
            .AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: true)
            .AddCommandLine(args.Where(a => a != "--check-config").ToArray())
            .Build();
        var path = ResolveConfigPath(configuration, environment);
        try
        {
            var config = ConfigLoader.LoadFile(path);
            GatewayRuntime.Build(config, environment);
            var files = config.SourcePaths.Length > 1 ? $"{config.SourcePaths.Length} files, " : "";
            output.WriteLine($"{path}: valid ({files}{config.Models.Count} model(s), {config.Functions.Count} function(s)).");
            foreach (var warning in config.Warnings)
            {
                output.WriteLine("  warning: " + warning);
            }
            return 0;
        }
        catch (ConfigException ex)
        {
            error.WriteLine($"{path}: invalid, {ex.Errors.Count} error(s):");
            foreach (var line in ex.Errors)
            {
                error.WriteLine("  " + line);
            }
            return 1;
        }
    }

    private static string ToUrl(string bindAddress) => "http://" + bindAddress;

    /// <summary>Registers the gateway's services: YARP fed from the runtime snapshot, the middleware's dependencies.</summary>
    public static IServiceCollection AddTensorZeroGateway(this IServiceCollection services, IConfiguration configuration, GatewayRuntime runtime)
    {
        services.Configure<GatewayHostOptions>(configuration.GetSection(GatewayHostOptions.SectionName));
        services.AddSingleton(new GatewayRuntimeAccessor(runtime));
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<DummyModels>();
        services.AddSingleton<ModelInferenceCache>();
        services.AddTensorZeroResilience(configuration);
        services.AddSingleton<ModelRunner>();
        services.AddSingleton<IProxyConfigProvider, GatewayProxyConfigProvider>();
        // Plain YARP routes and clusters from appsettings.json "ReverseProxy" (a sidecar in front of a legacy
        // app, or a direct route to compare against): YARP merges them with the gateway's own.
        services.AddReverseProxy().LoadFromConfig(configuration.GetSection("ReverseProxy"));
        services.AddTensorZeroObservability(configuration, runtime);
        services.AddTensorZeroFeedback();
        return services;
    }

    /// <summary>The whole request pipeline, in order.</summary>
    public static WebApplication MapTensorZeroGateway(this WebApplication app)
    {
        var basePath = app.Services.GetRequiredService<GatewayRuntimeAccessor>().Current.Config.Gateway.BasePath;
        GatewayEndpoints.Map(app, basePath);

        // The inference routes end in the inference middleware, which picks the provider cluster per attempt.
        // Any other YARP route (from appsettings "ReverseProxy") passes through it to YARP's standard stages.
        app.MapReverseProxy(pipeline =>
        {
            pipeline.UseMiddleware<InferenceMiddleware>();
            pipeline.UseSessionAffinity();
            pipeline.UseLoadBalancing();
            pipeline.UsePassiveHealthChecks();
        });
        return app;
    }
}

/// <summary>Host settings from <c>appsettings.json</c> section <c>TensorZero</c> (not from tensorzero.toml).</summary>
internal sealed class GatewayHostOptions
{
    public const string SectionName = "TensorZero";

    /// <summary>Path of tensorzero.toml when neither --config-file nor TENSORZERO_CONFIG_FILE is given.</summary>
    public string? ConfigFile { get; set; }

    /// <summary>The largest request body accepted; larger is 413. Default 32 MiB.</summary>
    public long MaxRequestBodyBytes { get; set; } = 32 * 1024 * 1024;

    /// <summary>The largest non-streaming provider response buffered before commit. Default 64 MiB.</summary>
    public int MaxResponseBodyBytes { get; set; } = 64 * 1024 * 1024;
}
