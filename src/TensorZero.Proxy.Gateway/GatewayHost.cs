using Microsoft.AspNetCore.Hosting;
using TensorZero.Proxy;
using TensorZero.Proxy.Configuration;

namespace TensorZero.Proxy.Gateway;

/// <summary>
/// The runnable gateway: a YARP app that adds TensorZero through the plugin's public surface only, as any
/// existing YARP app would (docs/plugin.md). <c>Program.cs</c>, the functional tests and the benchmarks start here.
/// </summary>
internal static class GatewayHost
{
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

    /// <summary>
    /// Builds the gateway application. Throws <see cref="TensorZeroStartupException"/> (a <see cref="ConfigException"/>
    /// listing every problem, or a data folder in use) before anything listens.
    /// </summary>
    /// <param name="args">Command-line arguments (<c>--config-file</c>, <c>--urls</c>, any ASP.NET setting).</param>
    /// <param name="environment">Environment lookup for credentials; the process environment when null.</param>
    /// <param name="configureServices">Further service registrations (tests add observers or a fake clock).</param>
    public static WebApplication CreateApp(string[] args, Func<string, string?>? environment = null, Action<IServiceCollection>? configureServices = null)
    {
        // The content root is the application's folder, where the build copies the repository's appsettings.json
        // and config/: `dotnet run` starts in the project folder, which has neither.
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        if (Environment.GetEnvironmentVariable(InlineCompletionsVariable) == "1")
        {
            // Kestrel's own continuations inline as well (it only helps with the runtime switch on).
            builder.WebHost.UseSockets(options => options.UnsafePreferInlineScheduling = true);
        }

        // Plain YARP routes and clusters from appsettings.json "ReverseProxy" (a sidecar in front of a legacy app, or a
        // direct route to compare against) beside TensorZero's own: YARP merges the two config providers.
        builder.Services.AddReverseProxy()
            .LoadFromConfig(builder.Configuration.GetSection("ReverseProxy"))
            .AddTensorZero(options =>
            {
                // The gateway is the whole app: every unknown route or wrong method answers in OpenAI's error shape.
                options.JsonErrorsForAllPaths = true;
                if (environment is not null)
                {
                    options.EnvironmentVariables = environment;
                }
            });
        configureServices?.Invoke(builder.Services);

        var app = builder.Build();
        var gateway = app.Services.GetRequiredService<TensorZeroGateway>();
        // [gateway] bind_address sets the address unless ASP.NET's own --urls / ASPNETCORE_URLS is given.
        if (string.IsNullOrEmpty(app.Configuration[WebHostDefaults.ServerUrlsKey]))
        {
            app.Urls.Add("http://" + (gateway.Config.BindAddress ?? "127.0.0.1:3000"));
        }

        app.MapTensorZeroEndpoints();
        // TensorZero's inference routes end in UseTensorZero, which picks the provider per attempt; every other route
        // passes through it to YARP's standard steps.
        app.MapReverseProxy(pipeline =>
        {
            pipeline.UseTensorZero();
            pipeline.UseSessionAffinity();
            pipeline.UseLoadBalancing();
            pipeline.UsePassiveHealthChecks();
        });
        return app;
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
        var path = TensorZeroConfigFile.ResolvePath(configuration, configuration[$"{TensorZeroOptions.SectionName}:ConfigFile"], environment);
        try
        {
            var config = TensorZeroConfigFile.Load(path, environment);
            var files = config.SourcePaths.Count > 1 ? $"{config.SourcePaths.Count} files, " : "";
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
}
