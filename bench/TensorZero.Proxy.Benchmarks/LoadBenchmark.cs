using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace TensorZero.Proxy.Benchmarks;

/// <summary>
/// The gateway's overhead budget (DESIGN.md §8), measured side by side in one run: the mock upstream called
/// directly, a plain YARP route to it in the gateway's process (the floor), and the gateway's inference route
/// (observability on, writing to its local queue). h2load drives the load; targets alternate within each
/// round so noise hits all alike. Processes: mock and h2load share CPU 1, the gateway has CPU 0.
/// </summary>
internal static class LoadBenchmark
{
    internal const string BodyJson = """{"model":"bench","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Say hello to the benchmark."}],"temperature":0.2}""";

    /// <summary>The same request as a dry run: the same route and provider call, no capture and no record.</summary>
    internal static readonly string DryRunBodyJson = BodyJson.Insert(BodyJson.LastIndexOf('}'), ",\"tensorzero::dryrun\":true");

    public static async Task<int> RunAsync(string[] args)
    {
        var options = LoadOptions.Parse(args);
        using var rig = await BenchRig.StartAsync(options.GatewayCpus, options.MockCpus, options.Observability, options.KeepWork);
        var work = rig.WorkDirectory;
        var body = rig.BodyFile;
        var targets = rig.Targets;
        LoadCpus = options.LoadCpus;

        Console.WriteLine($"# TensorZero.Proxy load benchmark — {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, " +
            $"open loop {string.Join("/", options.Rates)} req/s x {options.Rounds} rounds x {options.Seconds} s, closed loop {options.Connections} connections");
        Console.WriteLine($"# gateway pid {rig.Gateway.Id} (CPUs {options.GatewayCpus}), mock pid {rig.Mock.Id} (CPUs {options.MockCpus}), load generators (CPUs {options.LoadCpus}); " +
            $"observability {(options.Observability ? "on" : "off")}");

        // Warm-up: JIT tiering (on one core it takes the gateway about a minute of load), connection pools.
        for (var round = 0; round < options.WarmupRounds; round++)
        {
            foreach (var target in targets)
            {
                rig.CountGatewayResponses(target, await H2LoadAsync(target, body, work, rate: null, options.WarmupSeconds, options.Connections));
            }
        }

        var results = new List<(int Rate, string Target, Latencies L)>();
        foreach (var rate in options.Rates)
        {
            var perTarget = targets.ToDictionary(t => t.Name, _ => new List<Latencies>());
            for (var round = 0; round < options.Rounds; round++)
            {
                foreach (var target in Rotate(targets, round))
                {
                    var run = await H2LoadAsync(target, body, work, rate, options.Seconds, options.OpenLoopClients);
                    rig.CountGatewayResponses(target, run);
                    perTarget[target.Name].Add(run);
                }
            }
            foreach (var target in targets)
            {
                results.Add((rate, target.Name, Latencies.Merge(perTarget[target.Name])));
            }
        }

        Console.WriteLine();
        Console.WriteLine("| rate req/s | target | requests | success % | p50 ms | p90 ms | p99 ms | p50 over direct | p99 over direct |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|");
        var budgetOk = true;
        foreach (var group in results.GroupBy(r => r.Rate))
        {
            var direct = group.Single(r => r.Target == "direct").L;
            foreach (var (rate, name, l) in group)
            {
                var p50Over = l.P50 - direct.P50;
                var p99Over = l.P99 - direct.P99;
                Console.WriteLine($"| {rate} | {name} | {l.Count} | {l.SuccessPercent:F2} | {l.P50:F3} | {l.P90:F3} | {l.P99:F3} | " +
                    (name == "direct" ? "– | – |" : $"{p50Over:+0.000;-0.000} | {p99Over:+0.000;-0.000} |"));
                if (name == "gateway" && rate == options.BudgetRate)
                {
                    budgetOk &= p50Over <= 0.2 && p99Over <= 1.0 && l.SuccessPercent >= 99.99;
                }
            }
        }

        Console.WriteLine();
        // Closed loop: the mock alone once (it must be far faster than both routes), then the plain YARP route, the
        // gateway, and the gateway on dry runs in short alternating rounds (the order reversed every other round), so
        // that the machine's slow spells fall on all alike. The budget figure is the median of the rounds' gateway /
        // yarp ratios; the ratio of the totals is printed beside it. The dry runs (tensorzero::dryrun: the same route,
        // transforms and provider call, but no response capture and no record) split the gateway's extra cost into
        // its record and everything else.
        var mockAlone = await H2LoadAsync(targets[0], body, work, rate: null, options.Seconds, options.Connections);
        // Beside each run's throughput, the gateway process's CPU time per request (user + system), which says how many
        // microseconds separate the routes; the gateway process serves all of them, and nothing else runs in it.
        var closedTargets = new[] { targets[1], targets[2], new Target("gateway-dryrun", targets[2].Url, rig.DryRunBodyFile) };
        var rounds = new List<Dictionary<string, (double PerSecond, double Cpu)>>();
        for (var round = 0; round < options.ClosedRounds; round++)
        {
            var runs = new Dictionary<string, (double PerSecond, double Cpu)>();
            foreach (var target in round % 2 == 0 ? closedTargets : closedTargets.Reverse())
            {
                var cpuBefore = GatewayCpuTime(rig);
                var l = await H2LoadAsync(target, body, work, rate: null, options.ClosedSeconds, options.Connections);
                var cpu = GatewayCpuTime(rig) - cpuBefore;
                rig.CountGatewayResponses(target, l);
                runs[target.Name] = (l.Count / (double)options.ClosedSeconds, cpu.TotalMicroseconds / Math.Max(1, l.Count));
            }
            rounds.Add(runs);
        }
        double Rate(Dictionary<string, (double PerSecond, double Cpu)> r, string name) => r[name].PerSecond;
        double CpuOf(Dictionary<string, (double PerSecond, double Cpu)> r, string name) => r[name].Cpu;
        Console.WriteLine($"| closed loop, {options.Connections} connections | requests/s: yarp / gateway / gateway dry run | gateway relative to yarp | dry run relative to yarp | gateway process CPU µs per request: yarp / gateway / dry run |");
        Console.WriteLine("|---|---|---|---|---|");
        var yarpAverage = rounds.Average(r => Rate(r, "yarp"));
        Console.WriteLine($"| direct ({options.Seconds} s) | {mockAlone.Count / (double)options.Seconds:F0} | {mockAlone.Count / (double)options.Seconds / yarpAverage:P1} of yarp | – | – |");
        for (var i = 0; i < rounds.Count; i++)
        {
            var r = rounds[i];
            Console.WriteLine($"| round {i + 1} ({options.ClosedSeconds} s each) | {Rate(r, "yarp"):F0} / {Rate(r, "gateway"):F0} / {Rate(r, "gateway-dryrun"):F0} | " +
                $"{Rate(r, "gateway") / Rate(r, "yarp"):P1} | {Rate(r, "gateway-dryrun") / Rate(r, "yarp"):P1} | {CpuOf(r, "yarp"):F1} / {CpuOf(r, "gateway"):F1} / {CpuOf(r, "gateway-dryrun"):F1} |");
        }
        var totalRatio = rounds.Sum(r => Rate(r, "gateway")) / rounds.Sum(r => Rate(r, "yarp"));
        var medianRatio = Median(rounds.Select(r => Rate(r, "gateway") / Rate(r, "yarp")));
        var dryRatio = Median(rounds.Select(r => Rate(r, "gateway-dryrun") / Rate(r, "yarp")));
        Console.WriteLine($"| all rounds (averages; CPU medians) | {yarpAverage:F0} / {rounds.Average(r => Rate(r, "gateway")):F0} / {rounds.Average(r => Rate(r, "gateway-dryrun")):F0} | " +
            $"{totalRatio:P1} | {rounds.Sum(r => Rate(r, "gateway-dryrun")) / rounds.Sum(r => Rate(r, "yarp")):P1} | " +
            $"{Median(rounds.Select(r => CpuOf(r, "yarp"))):F1} / {Median(rounds.Select(r => CpuOf(r, "gateway"))):F1} / {Median(rounds.Select(r => CpuOf(r, "gateway-dryrun"))):F1} |");
        Console.WriteLine($"closed-loop gateway / yarp: median of {rounds.Count} rounds {medianRatio:P1}, ratio of totals {totalRatio:P1}; " +
            $"the gateway route costs {Median(rounds.Select(r => CpuOf(r, "gateway") - CpuOf(r, "yarp"))):F1} µs of CPU per request more than the plain route (median of the rounds)");
        Console.WriteLine($"of which its record (capture, two rows, their append to the queue files): {Median(rounds.Select(r => CpuOf(r, "gateway") - CpuOf(r, "gateway-dryrun"))):F1} µs; " +
            $"on dry runs (no record) the gateway route is at {dryRatio:P1} of yarp (median) and costs {Median(rounds.Select(r => CpuOf(r, "gateway-dryrun") - CpuOf(r, "yarp"))):F1} µs more");
        var throughputOk = medianRatio >= 0.85;

        var ttft = await TtftBenchmark.RunAsync(targets[0].Url, targets[2].Url, options.TtftRequests);
        rig.CountGatewayResponses(TtftBenchmark.Requests(options.TtftRequests));
        Console.WriteLine();
        Console.WriteLine("| streams (TTFT) | p50 ms | p99 ms |");
        Console.WriteLine("|---|---|---|");
        Console.WriteLine($"| direct | {ttft.Direct.P50:F3} | {ttft.Direct.P99:F3} |");
        Console.WriteLine($"| gateway | {ttft.Gateway.P50:F3} | {ttft.Gateway.P99:F3} |");
        var ttftOverhead = ttft.Gateway.P50 - ttft.Direct.P50;
        Console.WriteLine($"TTFT overhead p50: {ttftOverhead:F3} ms (budget <= 1 ms)");

        Console.WriteLine();
        Console.WriteLine($"budget at {options.BudgetRate} req/s (p50 overhead <= 0.2 ms, p99 overhead <= 1 ms): {(budgetOk ? "PASS" : "FAIL")}");
        Console.WriteLine($"closed-loop throughput >= 85% of the plain YARP route: {(throughputOk ? "PASS" : "FAIL")}");
        Console.WriteLine($"TTFT overhead <= 1 ms: {(ttftOverhead <= 1 ? "PASS" : "FAIL")}");
        Console.WriteLine($"gateway RSS at the end: {ReadRssMb(rig.Gateway.Id):F0} MB");
        var rowsOk = !options.Observability || await rig.CheckNoRowLostAsync();
        return budgetOk && throughputOk && ttftOverhead <= 1 && rowsOk ? 0 : 1;
    }

    private static string LoadCpus { get; set; } = "1";

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private static IEnumerable<Target> Rotate(Target[] targets, int round) => targets.Skip(round % targets.Length).Concat(targets.Take(round % targets.Length));

    private static TimeSpan GatewayCpuTime(BenchRig rig)
    {
        rig.Gateway.Refresh();
        return rig.Gateway.TotalProcessorTime;
    }

    /// <summary>One load run: the paced open-loop client at a rate, h2load in closed loop (rate null).</summary>
    internal static async Task<Latencies> H2LoadAsync(Target target, string body, string work, int? rate, int seconds, int clients)
    {
        body = target.Body ?? body;
        if (rate is { } paced)
        {
            return await OpenLoopAsync(target, body, work, paced, seconds, clients);
        }
        var log = Path.Combine(work, $"h2load-{target.Name}-{Guid.NewGuid():N}.tsv");
        List<string> args = ["-c", LoadCpus, "h2load", "--h1", "-t", "1", "-c", $"{clients}", "-D", $"{seconds}", "-d", body,
            "-H", "content-type: application/json", $"--log-file={log}"];
        if (rate is { } r)
        {
            args.Add(string.Create(CultureInfo.InvariantCulture, $"--rps={(double)r / clients:F3}"));
        }
        args.Add(target.Url);
        var info = new ProcessStartInfo("taskset") { WorkingDirectory = work, RedirectStandardOutput = true, RedirectStandardError = true };
        args.ForEach(info.ArgumentList.Add);
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0 || !File.Exists(log))
        {
            throw new InvalidOperationException($"h2load failed ({process.ExitCode}): {await errors}{await output}");
        }
        var latencies = Latencies.FromLog(log);
        File.Delete(log);
        return latencies;
    }

    private static async Task<Latencies> OpenLoopAsync(Target target, string body, string work, int rate, int seconds, int connections)
    {
        var log = Path.Combine(work, $"openloop-{target.Name}-{Guid.NewGuid():N}.tsv");
        var info = new ProcessStartInfo("taskset") { WorkingDirectory = work, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in (string[])["-c", LoadCpus, "dotnet", typeof(LoadBenchmark).Assembly.Location, "openloop", "--url", target.Url,
            "--rate", $"{rate}", "--seconds", $"{seconds}", "--connections", $"{connections}", "--body", body, "--out", log])
        {
            info.ArgumentList.Add(a);
        }
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0 || !File.Exists(log))
        {
            throw new InvalidOperationException($"openloop failed ({process.ExitCode}): {await errors}{await output}");
        }
        var latencies = Latencies.FromLog(log);
        File.Delete(log);
        return latencies;
    }

    internal static Process Start(string file, string arguments, string workingDirectory)
    {
        var info = new ProcessStartInfo(file, arguments) { WorkingDirectory = workingDirectory, UseShellExecute = false };
        return Process.Start(info) ?? throw new InvalidOperationException($"cannot start {file}");
    }

    internal static void Stop(Process process)
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit(10_000);
        }
    }

    internal static double ReadRssMb(int pid)
    {
        var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return line is null ? double.NaN : double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024;
    }

    internal static async Task WaitUntilUpAsync(string url, bool isPost)
    {
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        for (var i = 0; i < 300; i++)
        {
            try
            {
                using var response = isPost
                    ? await client.PostAsync(url, new StringContent(BodyJson, Encoding.UTF8, "application/json"))
                    : await client.GetAsync(url);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }
            await Task.Delay(200);
        }
        throw new TimeoutException($"{url} did not come up");
    }

    internal static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    internal static string FindRepo()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "TensorZero.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException("TensorZero.sln not found");
    }

    /// <summary>A load target; <paramref name="Body"/> is its own request body file, if not the run's.</summary>
    internal sealed record Target(string Name, string Url, string? Body = null);
}

/// <summary>Latency percentiles (ms) and success rate of one or more runs.</summary>
internal sealed record Latencies(long Count, long Succeeded, double[] SortedMs)
{
    public double SuccessPercent => Count == 0 ? 0 : 100.0 * Succeeded / Count;

    public double P50 => Percentile(0.50);

    public double P90 => Percentile(0.90);

    public double P99 => Percentile(0.99);

    private double Percentile(double q) => SortedMs.Length == 0 ? double.NaN : SortedMs[Math.Min(SortedMs.Length - 1, (int)Math.Ceiling(q * SortedMs.Length) - 1)];

    /// <summary>h2load's --log-file: start µs, status, duration µs per row.</summary>
    public static Latencies FromLog(string path)
    {
        var ms = new List<double>();
        long count = 0, ok = 0;
        foreach (var line in File.ReadLines(path))
        {
            var parts = line.Split('\t');
            if (parts.Length < 3)
            {
                continue;
            }
            count++;
            if (parts[1] == "200")
            {
                ok++;
                ms.Add(long.Parse(parts[2], CultureInfo.InvariantCulture) / 1000.0);
            }
        }
        ms.Sort();
        return new Latencies(count, ok, [.. ms]);
    }

    public static Latencies Merge(IEnumerable<Latencies> runs)
    {
        var list = runs.ToList();
        var all = list.SelectMany(l => l.SortedMs).ToArray();
        Array.Sort(all);
        return new Latencies(list.Sum(l => l.Count), list.Sum(l => l.Succeeded), all);
    }
}

/// <summary>Options of the load run; the defaults keep it under ten minutes.</summary>
internal sealed record LoadOptions(
    int[] Rates, int Rounds, int Seconds, int WarmupRounds, int WarmupSeconds, int OpenLoopClients, int Connections, int ClosedRounds, int ClosedSeconds, int BudgetRate,
    int TtftRequests, bool KeepWork,
    string GatewayCpus, string MockCpus, string LoadCpus, bool Observability)
{
    /// <summary>The value after <paramref name="name"/> on a command line, or null.</summary>
    public static string? Option(string[] args, string name) =>
        Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;

    /// <summary>The integer after <paramref name="name"/> on a command line, or <paramref name="fallback"/>.</summary>
    public static int IntOption(string[] args, string name, int fallback) =>
        int.TryParse(Option(args, name), NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value : fallback;

    public static LoadOptions Parse(string[] args)
    {
        string? Value(string name) => Option(args, name);
        var quick = args.Contains("--quick");
        return new LoadOptions(
            Rates: (Value("--rates") ?? (quick ? "2000" : "500,1000,2000")).Split(',').Select(int.Parse).ToArray(),
            Rounds: int.Parse(Value("--rounds") ?? (quick ? "1" : "3"), CultureInfo.InvariantCulture),
            Seconds: int.Parse(Value("--seconds") ?? (quick ? "5" : "10"), CultureInfo.InvariantCulture),
            WarmupRounds: int.Parse(Value("--warmup-rounds") ?? (quick ? "1" : "3"), CultureInfo.InvariantCulture),
            WarmupSeconds: int.Parse(Value("--warmup-seconds") ?? (quick ? "5" : "8"), CultureInfo.InvariantCulture),
            OpenLoopClients: int.Parse(Value("--clients") ?? "20", CultureInfo.InvariantCulture),
            Connections: int.Parse(Value("--connections") ?? "64", CultureInfo.InvariantCulture),
            ClosedRounds: int.Parse(Value("--closed-rounds") ?? Value("--closed-pairs") ?? (quick ? "2" : "9"), CultureInfo.InvariantCulture),
            ClosedSeconds: int.Parse(Value("--closed-seconds") ?? (quick ? "5" : "4"), CultureInfo.InvariantCulture),
            BudgetRate: 2000,
            TtftRequests: int.Parse(Value("--ttft-requests") ?? (quick ? "500" : "3000"), CultureInfo.InvariantCulture),
            KeepWork: args.Contains("--keep"),
            GatewayCpus: Value("--gateway-cpus") ?? "0",
            MockCpus: Value("--mock-cpus") ?? "1",
            LoadCpus: Value("--load-cpus") ?? "1",
            Observability: Value("--observability") != "off");
    }
}
