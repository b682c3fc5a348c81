using Microsoft.Extensions.Configuration;
using TensorZero.Proxy.Configuration;
using TensorZero.Proxy.Routing;

namespace TensorZero.Proxy;

/// <summary>
/// A loaded and validated tensorzero.toml (one file, or every file of a glob merged): what a host needs to know about
/// it. <see cref="Load"/> is what <c>--check-config</c> runs; <see cref="TensorZeroGateway.Config"/> is the one serving.
/// </summary>
public sealed class TensorZeroConfigFile
{
    /// <summary>The default configuration file, relative to the working directory (then to the app's folder).</summary>
    public const string DefaultPath = "config/tensorzero.toml";

    /// <summary>The command-line key of the configuration file (<c>--config-file path</c>).</summary>
    public const string CommandLineKey = "config-file";

    /// <summary>The environment variable TensorZero reads the configuration file from.</summary>
    public const string EnvironmentVariable = "TENSORZERO_CONFIG_FILE";

    internal TensorZeroConfigFile(string path, GatewayConfig config)
    {
        Path = path;
        SourcePaths = config.SourcePaths.IsDefaultOrEmpty ? [path] : [.. config.SourcePaths];
        BindAddress = config.Gateway.BindAddress;
        BasePath = config.Gateway.BasePath;
        Models = [.. config.Models.Keys.Order(StringComparer.Ordinal)];
        Functions = [.. config.Functions.Keys.Order(StringComparer.Ordinal)];
        Warnings = [.. config.Warnings];
    }

    /// <summary>The path (or glob) the configuration was loaded from, absolute.</summary>
    public string Path { get; }

    /// <summary>Every file merged into the configuration, absolute.</summary>
    public IReadOnlyList<string> SourcePaths { get; }

    /// <summary><c>[gateway] bind_address</c> (e.g. <c>0.0.0.0:3000</c>), or null when not set.</summary>
    public string? BindAddress { get; }

    /// <summary><c>[gateway] base_path</c>: the prefix of every TensorZero route ("" when not set).</summary>
    public string BasePath { get; }

    /// <summary>The names of <c>[models.*]</c>.</summary>
    public IReadOnlyList<string> Models { get; }

    /// <summary>The names of <c>[functions.*]</c>.</summary>
    public IReadOnlyList<string> Functions { get; }

    /// <summary>Accepted settings that change nothing here, one line each.</summary>
    public IReadOnlyList<string> Warnings { get; }

    /// <summary>
    /// Which configuration file to load: <c>--config-file</c> (configuration key <c>config-file</c>), else environment
    /// variable <c>TENSORZERO_CONFIG_FILE</c>, else <paramref name="configured"/> (<see cref="TensorZeroOptions.ConfigFile"/>),
    /// else <c>config/tensorzero.toml</c>. A glob is returned absolute and expanded when loaded. A plain relative file
    /// that does not exist under the working directory is looked up beside the application.
    /// </summary>
    /// <param name="configuration">The application's configuration (command line included).</param>
    /// <param name="configured">The path set in code or appsettings, if any.</param>
    /// <param name="environment">Environment lookup; the process environment when null.</param>
    public static string ResolvePath(IConfiguration configuration, string? configured = null, Func<string, string?>? environment = null)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        environment ??= Environment.GetEnvironmentVariable;
        var path = configuration[CommandLineKey];
        if (string.IsNullOrEmpty(path))
        {
            path = environment(EnvironmentVariable);
        }
        if (string.IsNullOrEmpty(path))
        {
            path = configured;
        }
        if (string.IsNullOrEmpty(path))
        {
            path = DefaultPath;
        }
        if (!System.IO.Path.IsPathRooted(path) && !ConfigFiles.IsGlob(path) && !File.Exists(path))
        {
            var besideApp = System.IO.Path.Combine(AppContext.BaseDirectory, path);
            if (File.Exists(besideApp))
            {
                return besideApp;
            }
        }
        return System.IO.Path.GetFullPath(path);
    }

    /// <summary>
    /// Loads and validates the configuration as the gateway would at start, credentials of routed providers included.
    /// </summary>
    /// <param name="path">A file or glob (see <see cref="ResolvePath"/>).</param>
    /// <param name="environment">Environment lookup for credentials; the process environment when null.</param>
    /// <exception cref="ConfigException">The configuration is invalid; every problem is listed.</exception>
    public static TensorZeroConfigFile Load(string path, Func<string, string?>? environment = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var config = ConfigLoader.LoadFile(path);
        GatewayRuntime.Build(config, environment ?? Environment.GetEnvironmentVariable);
        return new TensorZeroConfigFile(path, config);
    }
}
