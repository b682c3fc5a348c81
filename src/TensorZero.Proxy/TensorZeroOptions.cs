using Yarp.ReverseProxy.Configuration;

namespace TensorZero.Proxy;

/// <summary>
/// Settings of the TensorZero plugin, bound from the configuration section <c>TensorZero</c> (appsettings.json,
/// environment <c>TensorZero__…</c>, command line <c>--TensorZero:…</c>) and then from the delegate given to
/// <c>AddTensorZero</c>. What the gateway routes (models, functions, variants, providers, timeouts) is in
/// <c>tensorzero.toml</c>, named by <see cref="ConfigFile"/>.
/// </summary>
public sealed class TensorZeroOptions
{
    /// <summary>The configuration section these options are bound from.</summary>
    public const string SectionName = "TensorZero";

    /// <summary>
    /// Path or glob of tensorzero.toml (<c>config/tensorzero.*.toml</c> merges every match). The command-line
    /// <c>--config-file</c> and the environment variable <c>TENSORZERO_CONFIG_FILE</c> win over it; when none is
    /// given, <c>config/tensorzero.toml</c>. A relative path is taken from the working directory, then from the
    /// application's folder.
    /// </summary>
    public string? ConfigFile { get; set; }

    /// <summary>
    /// Whether every unknown route (404) and wrong method (405) of the app gets an OpenAI-shaped JSON error body. When
    /// false (the default, for a plugin in a host app), only the gateway's own paths get one: everything under
    /// <c>{base_path}/openai/</c> and the paths of the gateway's routes and endpoints; the host's own 404s are untouched.
    /// The runnable gateway sets it.
    /// </summary>
    public bool JsonErrorsForAllPaths { get; set; }

    /// <summary>The largest request body accepted on an inference route; larger is 413. Default 32 MiB.</summary>
    public long MaxRequestBodyBytes { get; set; } = 32 * 1024 * 1024;

    /// <summary>The largest non-streaming provider response buffered before it is committed to the client. Default 64 MiB.</summary>
    public int MaxResponseBodyBytes { get; set; } = 64 * 1024 * 1024;

    /// <summary>
    /// Whether a changed tensorzero.toml (or a file it references) is validated and swapped in while the gateway
    /// runs. An invalid change is logged with every error and the running configuration keeps serving. Default true.
    /// </summary>
    public bool ReloadOnChange { get; set; } = true;

    /// <summary>
    /// ClickHouse URL for observability when the environment variable <c>TENSORZERO_CLICKHOUSE_URL</c> is not set
    /// (TensorZero's own variable wins, as in TensorZero).
    /// </summary>
    public string? ClickHouseUrl { get; set; }

    /// <summary>
    /// Whether the plugin adds its own inference routes (<c>POST {base_path}/openai/v1/chat/completions</c>,
    /// <c>/v1/chat/completions</c>, <c>/inference</c>, <c>/openai/v1/embeddings</c>, <c>/v1/embeddings</c>). Turn off to expose inference only on routes of your own:
    /// any YARP route whose <see cref="RouteConfig.Metadata"/> has <see cref="TensorZeroRoutes.MetadataKey"/> is
    /// served by <c>UseTensorZero()</c>. Default true.
    /// </summary>
    public bool AddDefaultRoutes { get; set; } = true;

    /// <summary>
    /// Applied to each of the plugin's own routes before YARP sees it: set an <see cref="RouteConfig.AuthorizationPolicy"/>,
    /// a <see cref="RouteConfig.RateLimiterPolicy"/>, CORS or extra metadata with a <c>with</c> expression.
    /// </summary>
    public Func<RouteConfig, RouteConfig>? ConfigureRoute { get; set; }

    /// <summary>
    /// Where the gateway looks up environment variables: credentials named <c>env::NAME</c> in tensorzero.toml,
    /// <c>TENSORZERO_CONFIG_FILE</c> and <c>TENSORZERO_CLICKHOUSE_URL</c>. The process environment when null; a host
    /// that keeps secrets elsewhere (or a test) supplies its own lookup.
    /// </summary>
    public Func<string, string?>? EnvironmentVariables { get; set; }
}
