using TensorZero.Proxy.Tests.TestSupport;
using static TensorZero.Proxy.Tests.Observability.ObservabilityFixtures;

namespace TensorZero.Proxy.Tests.Observability;

/// <summary>
/// Nothing is lost when ClickHouse goes away mid-run or the gateway is killed with SIGKILL right after its
/// responses (DESIGN.md §7): rows wait in the segment files and are shipped, in order, once possible. Counts are
/// of distinct ids (delivery is at-least-once; ReplacingMergeTree makes a re-sent batch harmless).
/// The kill comes the moment the last response is complete, with no wait on the gateway's metrics: a response
/// completes only once its record is in the queue file (group commit, docs/DESIGN-NOTES.md), so a kill at any
/// later moment finds every answered request's rows on disk.
/// </summary>
public sealed class FaultToleranceTests
{
    [Fact]
    public async Task ClickHouseStoppedMidRun_GatewayKeepsServing_NoRowLost()
    {
        await using var clickHouse = await DedicatedClickHouse.StartAsync();
        var database = ClickHouseTestServer.NewDatabase();
        await using var gateway = await TestGateway.StartFromFileAsync("tensorzero.toml", extraArgs: Args(clickHouse.Client.UrlFor(database)));
        var chatCount = $"SELECT uniqExact(id) FROM {database}.ChatInference";

        await SendDummiesAsync(gateway.Client, 100);
        (await clickHouse.Client.WaitForCountAsync(chatCount, 100)).Should().Be(100);

        await clickHouse.StopAsync();
        await SendDummiesAsync(gateway.Client, 100); // Every one answered 200 while ClickHouse is down.
        (await HealthAsync(gateway.Client, 200)).GetProperty("clickhouse").GetString().Should().Be("unreachable");
        // At least these 100 wait on disk (more if the last batch before the stop was stored but not acknowledged:
        // it is sent again, harmlessly).
        (await WaitForMetricAsync(gateway.Client, "tensorzero_observability_queue_rows{table=\"ChatInference\"}", v => v >= 100))
            .Should().BeTrue("the rows wait on disk while ClickHouse is down");
        await SendDummiesAsync(gateway.Client, 50);

        await clickHouse.StartAgainAsync();
        (await clickHouse.Client.WaitForCountAsync(chatCount, 250)).Should().Be(250);
        (await clickHouse.Client.WaitForCountAsync($"SELECT uniqExact(id) FROM {database}.ModelInference", 250)).Should().Be(250);
        (await HealthAsync(gateway.Client, 200)).GetProperty("clickhouse").GetString().Should().Be("ok");
        (await WaitForMetricAsync(gateway.Client, "tensorzero_observability_queue_rows{table=\"ChatInference\"}", v => v == 0)).Should().BeTrue();
        (await MetricsAsync(gateway.Client)).Should().Contain("tensorzero_observability_rows_dropped_total{table=\"ChatInference\",reason=\"queue_bound\"} 0");
    }

    [Fact]
    public async Task GatewayKilledRightAfterResponses_Restarted_NoRowLost()
    {
        using var server = ClickHouseTestServer.Shared();
        var database = ClickHouseTestServer.NewDatabase();
        var dataDir = Path.Combine(Path.GetTempPath(), $"tzp-kill-{Guid.NewGuid():N}");
        var chatCount = $"SELECT uniqExact(id) FROM {database}.ChatInference";
        try
        {
            // 1. Rows are only on disk: the shipper waits an hour for a batch to fill, and the process is killed.
            await using (var first = await StartGatewayAsync(server.UrlFor(database), dataDir, "--TensorZero:Observability:FlushInterval=01:00:00",
                "--TensorZero:Observability:BatchRows=100000"))
            {
                // Killed the moment the last response is complete: a response completes only once its record is
                // in the queue file, so nothing may be missing.
                await SendDummiesAsync(first.Client, 300);
                first.Kill();
            }
            Directory.GetFiles(Path.Combine(dataDir, "ChatInference"), "*.jsonl").Sum(f => File.ReadAllLines(f).Length).Should().Be(300);

            // 2. Restarted: it resumes from the segments. Killed again right after 300 more responses, while shipping.
            await using (var second = await StartGatewayAsync(server.UrlFor(database), dataDir, "--TensorZero:Observability:BatchRows=50"))
            {
                (await server.WaitForCountAsync(chatCount, 300)).Should().Be(300);
                await SendDummiesAsync(second.Client, 300);
                second.Kill();
            }

            // 3. Restarted again: everything arrives, once per id.
            await using (var third = await StartGatewayAsync(server.UrlFor(database), dataDir))
            {
                (await server.WaitForCountAsync(chatCount, 600)).Should().Be(600);
                (await server.WaitForCountAsync($"SELECT uniqExact(id) FROM {database}.ModelInference", 600)).Should().Be(600);
            }
        }
        finally
        {
            await server.DropDatabaseAsync(database);
            Directory.Delete(dataDir, recursive: true);
        }
    }

    [Fact]
    public async Task Shutdown_ClickHouseUnreachable_StopsWithinTheDrainBound_AndTheNextStartShipsTheRest()
    {
        using var server = ClickHouseTestServer.Shared();
        var database = ClickHouseTestServer.NewDatabase();
        var dataDir = Path.Combine(Path.GetTempPath(), $"tzp-drain-{Guid.NewGuid():N}");
        try
        {
            var gateway = await TestGateway.StartFromFileAsync("tensorzero.toml", extraArgs: Args($"http://127.0.0.1:1/{database}",
                "--TensorZero:Observability:DataDir=" + dataDir, "--TensorZero:Observability:DrainTimeout=00:00:00.300"));
            await SendDummiesAsync(gateway.Client, 40);
            // Without the drain bound, shutdown would retry the unreachable server forever: the guard catches that
            // hang (it is not a timing assertion; the bound itself is 0.3 s).
            await gateway.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(60));
            Directory.GetFiles(Path.Combine(dataDir, "ChatInference"), "*.jsonl").Sum(f => File.ReadAllLines(f).Length).Should().Be(40);

            await using var next = await TestGateway.StartFromFileAsync("tensorzero.toml", extraArgs: Args(server.UrlFor(database),
                "--TensorZero:Observability:DataDir=" + dataDir));
            (await server.WaitForCountAsync($"SELECT uniqExact(id) FROM {database}.ChatInference", 40)).Should().Be(40);
            (await server.WaitForCountAsync($"SELECT uniqExact(id) FROM {database}.ModelInference", 40)).Should().Be(40);
        }
        finally
        {
            await server.DropDatabaseAsync(database);
            Directory.Delete(dataDir, recursive: true);
        }
    }

    /// <summary>Sends dummy inferences, streaming and not, four at a time; every one must answer 200.</summary>
    private static async Task SendDummiesAsync(HttpClient client, int count)
    {
        using var gate = new SemaphoreSlim(4);
        await Task.WhenAll(Enumerable.Range(0, count).Select(async i =>
        {
            await gate.WaitAsync();
            try
            {
                var (status, id, _) = await SendAsync(client, Body("dummy", stream: i % 2 == 0));
                status.Should().Be(200);
                id.Should().NotBeNull();
            }
            finally
            {
                gate.Release();
            }
        }));
    }

    /// <summary>The gateway host as its own process on the shared tensorzero.toml, recording to <paramref name="clickHouseUrl"/> from <paramref name="dataDir"/>.</summary>
    private static Task<GatewayProcess> StartGatewayAsync(string clickHouseUrl, string dataDir, params string[] args) =>
        GatewayProcess.StartAsync(
            new Dictionary<string, string> { ["TENSORZERO_CLICKHOUSE_URL"] = clickHouseUrl, ["TensorZero__Observability__DataDir"] = dataDir },
            ["--config-file", RepoPaths.Config("tensorzero.toml"), "--Logging:LogLevel:Default=Warning", .. Args(null), .. args]);
}
