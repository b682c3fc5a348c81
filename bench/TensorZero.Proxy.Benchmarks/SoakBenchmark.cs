using System.Diagnostics;
using System.Globalization;

namespace TensorZero.Proxy.Benchmarks;

/// <summary>
/// Memory stability (DESIGN.md §8 / the performance issue): the gateway's inference route under open-loop load at
/// a fixed rate (default 1,000 req/s for 10 minutes), its RSS sampled every 10 s. Budget: RSS growth between
/// minute 2 and the last minute under 10%, every request answered, and no observability row lost.
/// </summary>
internal static class SoakBenchmark
{
    public static async Task<int> RunAsync(string[] args)
    {
        string? Value(string name) => LoadOptions.Option(args, name);
        var minutes = int.Parse(Value("--minutes") ?? "10", CultureInfo.InvariantCulture);
        var rate = int.Parse(Value("--rate") ?? "1000", CultureInfo.InvariantCulture);
        if (minutes < 3)
        {
            Console.Error.WriteLine("--minutes must be at least 3 (the budget compares minute 2 with the last minute)");
            return 2;
        }
        using var rig = await BenchRig.StartAsync(Value("--gateway-cpus") ?? "0", Value("--mock-cpus") ?? "1", observability: true, args.Contains("--keep"));
        var gateway = rig.Targets.Single(t => t.Name == "gateway");
        Console.WriteLine($"# TensorZero.Proxy soak — {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, gateway pid {rig.Gateway.Id}: {rate} req/s open loop for {minutes} min, RSS every 10 s");

        var samples = new List<(double Minute, double RssMb)>();
        var clock = Stopwatch.StartNew();
        var load = LoadBenchmark.H2LoadAsync(gateway, rig.BodyFile, rig.WorkDirectory, rate, minutes * 60, clients: 20);
        while (!load.IsCompleted)
        {
            samples.Add((clock.Elapsed.TotalMinutes, LoadBenchmark.ReadRssMb(rig.Gateway.Id)));
            await Task.WhenAny(load, Task.Delay(TimeSpan.FromSeconds(10)));
        }
        var run = await load;
        rig.CountGatewayResponses(gateway, run);

        Console.WriteLine();
        Console.WriteLine("| minute | gateway RSS MB |");
        Console.WriteLine("|---|---|");
        foreach (var (minute, rss) in samples.Where((_, i) => i % 6 == 0))
        {
            Console.WriteLine($"| {minute:F1} | {rss:F0} |");
        }
        var atTwo = samples.First(s => s.Minute >= 2).RssMb;
        var last = samples[^1].RssMb;
        var growth = (last - atTwo) / atTwo;
        Console.WriteLine();
        Console.WriteLine($"requests {run.Count}, success {run.SuccessPercent:F2} %, p50 {run.P50:F3} ms, p90 {run.P90:F3} ms, p99 {run.P99:F3} ms");
        Console.WriteLine($"RSS at minute 2: {atTwo:F0} MB, at minute {samples[^1].Minute:F1}: {last:F0} MB, growth {growth:P1} (budget < 10%): {(growth < 0.10 ? "PASS" : "FAIL")}");
        var rowsOk = await rig.CheckNoRowLostAsync();
        return growth < 0.10 && run.SuccessPercent >= 99.99 && rowsOk ? 0 : 1;
    }
}
