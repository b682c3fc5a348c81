namespace TensorZero.Proxy.Benchmarks;

/// <summary>
/// The gateway the load and allocation benchmarks measure: model <c>bench</c> → one openai-type provider at the
/// mock, and a plain YARP route <c>/yarp/{**rest}</c> to the same mock in the same process (the floor).
/// </summary>
internal static class BenchSetup
{
    /// <summary>The bench tensorzero.toml for a mock at <paramref name="mockUrl"/> (e.g. http://127.0.0.1:5000).</summary>
    public static string Config(string mockUrl, bool observability) => $"""
        [gateway.observability]
        enabled = {(observability ? "true" : "false")}

        [models.bench]
        routing = ["mock"]

        [models.bench.providers.mock]
        type = "openai"
        model_name = "mock-model"
        api_base = "{mockUrl}/v1/"
        api_key_location = "none"
        """;

    /// <summary>
    /// Writes a tensorzero.toml into a folder of its own under <paramref name="work"/> and returns its path. The gateway
    /// watches its config file's folder for hot reload; the benchmark's other files (h2load's per-request log lines, the
    /// queue, the gateway's output) must not land there, or the gateway spends CPU on every write's change notification
    /// and the run measures the load generator's log instead of the request path (as a production gateway keeps its
    /// config in a folder of its own).
    /// </summary>
    public static async Task<string> WriteConfigAsync(string work, string fileName, string toml)
    {
        var folder = Directory.CreateDirectory(Path.Combine(work, "config")).FullName;
        var path = Path.Combine(folder, fileName);
        await File.WriteAllTextAsync(path, toml);
        return path;
    }

    /// <summary>
    /// The gateway's command line: config, address, quiet logs, its queue folder and the plain route. There is no
    /// ClickHouse in the benchmark, so nothing ships the queue: its bound is raised to 16 GiB (default 1 GiB) so
    /// that a whole run's rows stay on disk and none is dropped.
    /// </summary>
    public static string[] GatewayArgs(string configFile, string urls, string dataDir, string mockUrl) =>
    [
        "--config-file", configFile, "--urls", urls, "--Logging:LogLevel:Default=Warning",
        $"--TensorZero:Observability:DataDir={dataDir}", "--TensorZero:Observability:MaxQueueBytes=17179869184",
        "--ReverseProxy:Routes:direct:ClusterId=mock", "--ReverseProxy:Routes:direct:Match:Path=/yarp/{**rest}",
        "--ReverseProxy:Routes:direct:Transforms:0:PathRemovePrefix=/yarp",
        $"--ReverseProxy:Clusters:mock:Destinations:d1:Address={mockUrl}/",
    ];
}
