using System.Diagnostics;
using System.Net.Http;

namespace TensorZero.Proxy.Benchmarks;

/// <summary>
/// The processes of a load run: the mock upstream (on the load CPUs) and the gateway (on its own CPUs) with the
/// bench config, its observability queue in a temporary folder, and a plain YARP route to the same mock. Counts
/// the gateway responses the load generators saw, and at the end checks that each has its record on disk.
/// </summary>
internal sealed class BenchRig : IDisposable
{
    // The files and folder of the work folder, named once for the properties and for StartAsync, which writes them.
    private const string BodyFileName = "body.json";
    private const string DryRunBodyFileName = "dryrun.json";
    private const string DataFolderName = "data";

    private readonly DirectoryInfo _work;
    private readonly bool _keepWork;
    private long _gatewayResponses;

    private BenchRig(DirectoryInfo work, bool keepWork, Process mock, Process gateway, string mockUrl, string gatewayUrl)
    {
        _work = work;
        _keepWork = keepWork;
        Mock = mock;
        Gateway = gateway;
        MockUrl = mockUrl;
        GatewayUrl = gatewayUrl;
    }

    public Process Mock { get; }

    public Process Gateway { get; }

    public string MockUrl { get; }

    public string GatewayUrl { get; }

    public string WorkDirectory => _work.FullName;

    public string DataDirectory => Path.Combine(_work.FullName, DataFolderName);

    /// <summary>The request body file of the load runs.</summary>
    public string BodyFile => Path.Combine(_work.FullName, BodyFileName);

    /// <summary>The same body as a dry run (<c>tensorzero::dryrun</c>: nothing is recorded).</summary>
    public string DryRunBodyFile => Path.Combine(_work.FullName, DryRunBodyFileName);

    /// <summary>The three targets: the mock called directly, the plain YARP route, the gateway's inference route.</summary>
    public LoadBenchmark.Target[] Targets =>
    [
        new("direct", $"{MockUrl}/v1/chat/completions"),
        new("yarp", $"{GatewayUrl}/yarp/v1/chat/completions"),
        new("gateway", $"{GatewayUrl}/v1/chat/completions"),
    ];

    public static async Task<BenchRig> StartAsync(string gatewayCpus, string mockCpus, bool observability, bool keepWork)
    {
        var repo = LoadBenchmark.FindRepo();
        var gatewayDll = Path.Combine(repo, "src/TensorZero.Proxy.Gateway/bin/Release/net10.0/TensorZero.Proxy.Gateway.dll");
        if (!File.Exists(gatewayDll))
        {
            throw new FileNotFoundException($"{gatewayDll} is missing: build with -c Release first (bench/run does).");
        }
        var benchDll = typeof(BenchRig).Assembly.Location;
        var work = Directory.CreateTempSubdirectory("tzp-bench-");
        var mockUrl = $"http://127.0.0.1:{LoadBenchmark.FreePort()}";
        var gatewayUrl = $"http://127.0.0.1:{LoadBenchmark.FreePort()}";
        var config = await BenchSetup.WriteConfigAsync(work.FullName, "bench.toml", BenchSetup.Config(mockUrl, observability));
        await File.WriteAllTextAsync(Path.Combine(work.FullName, BodyFileName), LoadBenchmark.BodyJson);
        await File.WriteAllTextAsync(Path.Combine(work.FullName, DryRunBodyFileName), LoadBenchmark.DryRunBodyJson);

        var mock = LoadBenchmark.Start("taskset", $"-c {mockCpus} dotnet {benchDll} mock --port {new Uri(mockUrl).Port}", work.FullName);
        var gateway = LoadBenchmark.Start("taskset", string.Join(' ',
            [$"-c {gatewayCpus} dotnet", gatewayDll, .. BenchSetup.GatewayArgs(config, gatewayUrl, Path.Combine(work.FullName, DataFolderName), mockUrl)]),
            work.FullName);
        var rig = new BenchRig(work, keepWork, mock, gateway, mockUrl, gatewayUrl);
        try
        {
            await LoadBenchmark.WaitUntilUpAsync($"{mockUrl}/v1/chat/completions", isPost: true);
            await LoadBenchmark.WaitUntilUpAsync($"{gatewayUrl}/status", isPost: false);
        }
        catch
        {
            rig.Dispose();
            throw;
        }
        return rig;
    }

    /// <summary>Counts gateway responses the load generators received (each must have its record).</summary>
    public void CountGatewayResponses(LoadBenchmark.Target target, Latencies run)
    {
        if (target.Name == "gateway")
        {
            Interlocked.Add(ref _gatewayResponses, run.Succeeded);
        }
    }

    public void CountGatewayResponses(long responses) => Interlocked.Add(ref _gatewayResponses, responses);

    /// <summary>
    /// No observability row lost: reads the gateway's drop counters, kills it with SIGKILL (no drain, no flush),
    /// and counts the complete rows in its queue files. Every successful response a client received must have its
    /// ChatInference row and its ModelInference row (one attempt each); rows of requests the load generator
    /// abandoned at the end of a timed run may add a few more.
    /// </summary>
    public async Task<bool> CheckNoRowLostAsync()
    {
        var dropped = await DroppedRowsAsync();
        LoadBenchmark.Stop(Gateway);
        var chat = CountRows(Path.Combine(DataDirectory, "ChatInference"));
        var model = CountRows(Path.Combine(DataDirectory, "ModelInference"));
        var responses = Interlocked.Read(ref _gatewayResponses);
        var ok = dropped == 0 && chat >= responses && model >= responses;
        Console.WriteLine($"observability rows on disk after SIGKILL: ChatInference {chat}, ModelInference {model}; gateway responses " +
            $"received by the clients {responses}; rows dropped by the gateway {dropped}: {(ok ? "PASS (no row lost)" : "FAIL")}");
        return ok;
    }

    private async Task<long> DroppedRowsAsync()
    {
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var metrics = await client.GetStringAsync($"{GatewayUrl}/metrics");
        return metrics.Split('\n')
            .Where(l => l.StartsWith("tensorzero_observability_rows_dropped_total{", StringComparison.Ordinal))
            .Sum(l => long.Parse(l[(l.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>Complete lines (ending in '\n') in a queue folder's segment files.</summary>
    private static long CountRows(string folder)
    {
        long rows = 0;
        var buffer = new byte[1 << 20];
        foreach (var file in Directory.EnumerateFiles(folder, "*.jsonl"))
        {
            using var stream = File.OpenRead(file);
            int read;
            while ((read = stream.Read(buffer)) > 0)
            {
                rows += buffer.AsSpan(0, read).Count((byte)'\n');
            }
        }
        return rows;
    }

    public void Dispose()
    {
        LoadBenchmark.Stop(Gateway);
        LoadBenchmark.Stop(Mock);
        Gateway.Dispose();
        Mock.Dispose();
        if (!_keepWork)
        {
            _work.Delete(recursive: true);
        }
    }
}
