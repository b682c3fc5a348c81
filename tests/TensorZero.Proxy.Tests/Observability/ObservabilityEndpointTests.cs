using TensorZero.Proxy.Tests.TestSupport;
using static TensorZero.Proxy.Tests.Observability.ObservabilityFixtures;

namespace TensorZero.Proxy.Tests.Observability;

/// <summary>/health and /metrics, and what lands in the data folder, on the bundled dummy configuration (no ClickHouse needed).</summary>
public sealed class ObservabilityEndpointTests
{
    private const string Unreachable = "http://tzp:secret-pass@127.0.0.1:1/tensorzero";

    private static Task<TestGateway> StartAsync(string? observability, params string[] args)
    {
        var toml = File.ReadAllText(RepoPaths.Config("tensorzero.toml"));
        if (observability is not null)
        {
            toml = toml.Replace("[gateway]", "[gateway]\nobservability = { " + observability + " }", StringComparison.Ordinal);
        }
        return TestGateway.StartAsync(toml, null, args);
    }

    private static int Lines(string folder) =>
        Directory.Exists(folder) ? Directory.GetFiles(folder, "*.jsonl").Sum(f => File.ReadAllLines(f).Length) : 0;

    [Fact]
    public async Task Health_ExplicitlyEnabledAndClickHouseUnreachable_Is503()
    {
        await using var gateway = await StartAsync("enabled = true", Args(Unreachable));

        var health = await HealthAsync(gateway.Client, 503);

        health.GetProperty("clickhouse").GetString().Should().Be("unreachable");
        health.GetProperty("gateway").GetString().Should().Be("ok");
        var (status, _, _) = await SendAsync(gateway.Client, Body("dummy", stream: false));
        status.Should().Be(200, "a down ClickHouse never fails an inference");
    }

    [Fact]
    public async Task Health_ClickHouseUnreachableByDefault_ReportsItWith200()
    {
        await using var gateway = await StartAsync(null, Args(Unreachable));

        (await HealthAsync(gateway.Client, 200)).GetProperty("clickhouse").GetString().Should().Be("unreachable");
        (await gateway.Client.GetStringAsync("/health")).Should().NotContain("secret-pass");
    }

    [Fact]
    public async Task Disabled_RecordsNothing_AndHealthSaysSo()
    {
        await using var gateway = await StartAsync("enabled = false", Args(Unreachable));

        (await SendAsync(gateway.Client, Body("dummy", stream: true))).Status.Should().Be(200);
        await gateway.DisposeAsync();

        Directory.Exists(gateway.DataDir).Should().BeFalse("a disabled gateway does not even create its data folder");
    }

    [Fact]
    public async Task Embedded_DryRunIsNotRecorded_OthersAreWithTheirAttempts()
    {
        var dataDir = Path.Combine(Path.GetTempPath(), $"tzp-dry-{Guid.NewGuid():N}");
        try
        {
            await using (var gateway = await StartAsync(null, Args(null, "--TensorZero:Observability:DataDir=" + dataDir)))
            {
                (await HealthAsync(gateway.Client, 200)).GetProperty("clickhouse").GetString().Should().Be("not configured");
                (await SendAsync(gateway.Client, Body("dummy", stream: false, ""","tensorzero::dryrun":true"""))).Status.Should().Be(200);
                (await SendAsync(gateway.Client, Body("dummy", stream: true, ""","tensorzero::dryrun":true"""))).Status.Should().Be(200);
                (await SendAsync(gateway.Client, Body("dummy", stream: false))).Status.Should().Be(200);
            }

            Lines(Path.Combine(dataDir, "ChatInference")).Should().Be(1);
            Lines(Path.Combine(dataDir, "ModelInference")).Should().Be(1);
        }
        finally
        {
            Directory.Delete(dataDir, recursive: true);
        }
    }

    [Fact]
    public async Task Metrics_AfterInferences_ExposesCountersHistogramsCircuitsAndQueue()
    {
        await using var gateway = await StartAsync(null, Args(null));
        for (var i = 0; i < 3; i++)
        {
            (await SendAsync(gateway.Client, Body("dummy", stream: i == 0))).Status.Should().Be(200);
        }
        (await SendAsync(gateway.Client, Body("dummy-failover", stream: false))).Status.Should().Be(200);

        using var response = await gateway.Client.GetAsync("/metrics");
        var text = await response.Content.ReadAsStringAsync();

        response.Content.Headers.ContentType!.MediaType.Should().Be("text/plain");
        text.Should().Contain("tensorzero_inferences_total{function=\"tensorzero::default\",variant=\"dummy\",model=\"dummy\",provider=\"dummy\",outcome=\"ok\"} 3");
        text.Should().Contain("tensorzero_provider_requests_total{model=\"dummy\",provider=\"dummy\",outcome=\"ok\"} 3");
        text.Should().Contain("tensorzero_provider_attempt_duration_seconds_count{model=\"dummy\",provider=\"dummy\"} 3");
        text.Should().Contain("# TYPE tensorzero_gateway_overhead_seconds histogram");
        text.Should().Contain("tensorzero_observability_queue_rows{table=\"ChatInference\"}");
        text.Should().Contain("tensorzero_observability_rows_dropped_total{table=\"ModelInference\",reason=\"queue_bound\"} 0");
        text.Should().Contain("tensorzero_failovers_total{model=\"dummy-failover\",provider=\"broken\"} 1");
        text.Should().Contain("# TYPE tensorzero_circuit_state gauge");
    }
}
