using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using TensorZero.Proxy.Observability;
using TensorZero.Proxy.Tests.TestSupport;
using static TensorZero.Proxy.Tests.Observability.ObservabilityFixtures;

namespace TensorZero.Proxy.Tests.Observability;

/// <summary>
/// Observability against the real ClickHouse server that tests/run starts (DESIGN.md §7): migrations, the rows
/// of mixed traffic with every column kind checked, the embedded store loaded with the README's command.
/// Each test uses a database of its own.
/// </summary>
public sealed class ClickHouseEndToEndTests : IDisposable
{
    private readonly ClickHouseTestServer _server = ClickHouseTestServer.Shared();
    private readonly string _database = ClickHouseTestServer.NewDatabase();

    public void Dispose()
    {
        _server.DropDatabaseAsync(_database).GetAwaiter().GetResult();
        _server.Dispose();
    }

    [Fact]
    public async Task Migrations_OnEmptyServer_ApplyOnceThenAreANoOp()
    {
        ClickHouseEndpoint.TryParse(_server.UrlFor(_database), out var endpoint, out _).Should().BeTrue();
        using var client = new ClickHouseClient(endpoint!, TimeSpan.FromSeconds(30));

        var first = await ClickHouseMigrations.ApplyAsync(client, TimeProvider.System, CancellationToken.None);
        var second = await ClickHouseMigrations.ApplyAsync(client, TimeProvider.System, CancellationToken.None);

        first.Should().Equal(ClickHouseMigrations.Load(_database).Select(m => m.Version));
        first.Should().Contain(1);
        second.Should().BeEmpty();
        (await _server.QueryAsync($"SHOW TABLES FROM {_database}")).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Should().BeEquivalentTo([.. RecordTables.All.Select(t => t.Name()), "InferenceByEpisodeId", "ChatInferenceByEpisodeIdView",
                "JsonInferenceByEpisodeIdView", ClickHouseClient.MigrationTable]);
        (await _server.ScalarAsync($"SELECT count() FROM {_database}.{ClickHouseClient.MigrationTable}")).Should().Be(first.Count);
        (await _server.QueryAsync($"SELECT name FROM system.columns WHERE database = '{_database}' AND table = 'ChatInference' AND name LIKE 'tags.%' ORDER BY name"))
            .Should().Be("tags.key\ntags.value\n");
    }

    [Fact]
    public async Task ThousandInferences_MixedTraffic_EveryRecordedIdOnceWithItsFields()
    {
        await using var good = await FakeProvider.StartAsync(GoodProvider);
        await using var bad = await FakeProvider.StartAsync(FailingResponses.For(FailureMode.Status500));
        await using var gateway = await TestGateway.StartAsync(Toml(good.BaseUrl, bad.BaseUrl), ProviderEnvironment, Args(_server.UrlFor(_database)));

        // Five kinds, 200 each: a dry run (recorded nowhere), failover (500 then good) non-streaming, a streamed tool
        // call, a pinned function variant with tags, failover streaming.
        var ids = new ConcurrentDictionary<int, ConcurrentBag<string>>();
        using var gate = new SemaphoreSlim(8);
        var sends = Enumerable.Range(0, 1000).Select(async i =>
        {
            var kind = i % 5;
            var body = kind switch
            {
                0 => Body("direct", stream: false, ""","tensorzero::dryrun":true"""),
                1 => Body("failover", stream: false),
                2 => Body("direct", stream: true, Tools),
                3 => Body("tensorzero::function_name::f", stream: false,
                    ""","temperature":0.5,"tensorzero::variant_name":"a","tensorzero::tags":{"team":"mail","n":"${i}"}""".Replace("${i}", i.ToString(), StringComparison.Ordinal)),
                _ => Body("failover", stream: true),
            };
            await gate.WaitAsync();
            try
            {
                var (status, id, _) = await SendAsync(gateway.Client, body);
                status.Should().Be(200);
                ids.GetOrAdd(kind, _ => []).Add(id!);
            }
            finally
            {
                gate.Release();
            }
        });
        await Task.WhenAll(sends);

        var recorded = ids.Where(p => p.Key != 0).SelectMany(p => p.Value).ToHashSet();
        recorded.Should().HaveCount(800);
        var chat = await _server.WaitForCountAsync($"SELECT uniqExact(id) FROM {_database}.ChatInference", 800);
        var model = await _server.WaitForCountAsync($"SELECT uniqExact(id) FROM {_database}.ModelInference", 1200);
        chat.Should().Be(800);
        model.Should().Be(200 * 2 + 200 + 200 + 200 * 2, "failover inferences have two attempts, the others one; dry runs none");

        var stored = (await _server.QueryAsync($"SELECT DISTINCT toString(id) FROM {_database}.ChatInference FORMAT TabSeparated"))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).ToHashSet();
        stored.Should().BeEquivalentTo(recorded);
        stored.Should().NotIntersectWith(ids[0], "a dry run records nothing");
        (await _server.ScalarAsync($"SELECT uniqExact(inference_id) FROM {_database}.ModelInference")).Should().Be(800);
        (await _server.ScalarAsync($"SELECT count() FROM {_database}.ModelInference WHERE inference_id NOT IN (SELECT id FROM {_database}.ChatInference)"))
            .Should().Be(0);

        // A streamed tool call: output reassembled from the pieces, usage from the last chunk, TTFT present.
        var tool = Rows(await _server.QueryAsync(
            $"SELECT * FROM {_database}.ChatInference FINAL WHERE id = '{ids[2].First()}' FORMAT JSONEachRow")).Single();
        tool.GetProperty("function_name").GetString().Should().Be("tensorzero::default");
        tool.GetProperty("variant_name").GetString().Should().Be("direct");
        tool.GetProperty("model").GetString().Should().Be("direct");
        tool.GetProperty("stream").GetInt32().Should().Be(1);
        tool.GetProperty("outcome").GetString().Should().Be("ok");
        tool.GetProperty("attempt_count").GetInt32().Should().Be(1);
        tool.GetProperty("ttft_ms").ValueKind.Should().Be(JsonValueKind.Number);
        tool.GetProperty("input_tokens").GetInt32().Should().Be(11);
        tool.GetProperty("output_tokens").GetInt32().Should().Be(7);
        tool.GetProperty("finish_reason").GetString().Should().Be("tool_calls");
        tool.GetProperty("tool_params").GetString().Should().Contain("get_weather");
        JsonDocument.Parse(tool.GetProperty("input").GetString()!).RootElement[0].GetProperty("content").GetString().Should().Be("what is the weather?");
        var output = JsonDocument.Parse(tool.GetProperty("output").GetString()!).RootElement;
        output.GetArrayLength().Should().Be(1);
        output[0].GetProperty("type").GetString().Should().Be("tool_call");
        output[0].GetProperty("id").GetString().Should().Be("call_1");
        output[0].GetProperty("name").GetString().Should().Be("get_weather");
        output[0].GetProperty("arguments").GetString().Should().Be("{\"city\":\"Paris\"}");
        tool.GetProperty("extra_headers").ValueKind.Should().Be(JsonValueKind.Null);

        // A pinned function variant: tags (user and automatic) as Nested arrays, inference params, no TTFT (not streamed).
        var pinned = Rows(await _server.QueryAsync(
            $"SELECT * FROM {_database}.ChatInference FINAL WHERE id = '{ids[3].First()}' FORMAT JSONEachRow")).Single();
        pinned.GetProperty("function_name").GetString().Should().Be("f");
        pinned.GetProperty("variant_name").GetString().Should().Be("a");
        pinned.GetProperty("model_name").GetString().Should().Be("direct");
        pinned.GetProperty("model_provider_name").GetString().Should().Be("good");
        var tags = pinned.GetProperty("tags.key").EnumerateArray().Select(k => k.GetString()!)
            .Zip(pinned.GetProperty("tags.value").EnumerateArray().Select(v => v.GetString()!)).ToDictionary(p => p.First, p => p.Second);
        tags.Should().Contain("team", "mail").And.Contain("tensorzero::variant_pinned", "a").And.ContainKey("n");
        JsonDocument.Parse(pinned.GetProperty("inference_params").GetString()!).RootElement.GetProperty("temperature").GetDouble().Should().Be(0.5);
        pinned.GetProperty("ttft_ms").ValueKind.Should().Be(JsonValueKind.Null);
        pinned.GetProperty("input_tokens").GetInt32().Should().Be(5);
        pinned.GetProperty("output_tokens").GetInt32().Should().Be(3);
        JsonDocument.Parse(pinned.GetProperty("output").GetString()!).RootElement[0].GetProperty("text").GetString().Should().Be("fake reply");
        (await _server.ScalarAsync($"SELECT count() FROM {_database}.ChatInference FINAL WHERE has(tags.key, 'tensorzero::variant_pinned')")).Should().Be(200);

        // A streamed failover: the text reassembled, and both attempts with status, error body, headers (credentials redacted).
        var failoverId = ids[4].First();
        var streamed = Rows(await _server.QueryAsync(
            $"SELECT * FROM {_database}.ChatInference FINAL WHERE id = '{failoverId}' FORMAT JSONEachRow")).Single();
        streamed.GetProperty("attempt_count").GetInt32().Should().Be(2);
        streamed.GetProperty("ttft_ms").ValueKind.Should().Be(JsonValueKind.Number);
        streamed.GetProperty("processing_time_ms").GetInt64().Should().BeGreaterThanOrEqualTo(streamed.GetProperty("ttft_ms").GetInt64());
        JsonDocument.Parse(streamed.GetProperty("output").GetString()!).RootElement[0].GetProperty("text").GetString().Should().Be("fake reply");
        var attempts = Rows(await _server.QueryAsync(
            $"SELECT * FROM {_database}.ModelInference FINAL WHERE inference_id = '{failoverId}' ORDER BY attempt FORMAT JSONEachRow"));
        attempts.Should().HaveCount(2);
        attempts[0].GetProperty("model_name").GetString().Should().Be("failover");
        attempts[0].GetProperty("model_provider_name").GetString().Should().Be("bad");
        attempts[0].GetProperty("outcome").GetString().Should().Be("status");
        attempts[0].GetProperty("status_code").GetInt32().Should().Be(500);
        attempts[0].GetProperty("raw_response").GetString().Should().Contain("bad provider body");
        attempts[0].GetProperty("raw_request").GetString().Should().Contain("\"bad-upstream\"");
        attempts[0].GetProperty("ttft_ms").ValueKind.Should().Be(JsonValueKind.Null);
        attempts[1].GetProperty("model_provider_name").GetString().Should().Be("good");
        attempts[1].GetProperty("outcome").GetString().Should().Be("ok");
        attempts[1].GetProperty("status_code").GetInt32().Should().Be(200);
        attempts[1].GetProperty("ttft_ms").ValueKind.Should().Be(JsonValueKind.Number);
        attempts[1].GetProperty("raw_response").GetString().Should().StartWith("data: {").And.Contain("[DONE]");
        attempts[1].GetProperty("raw_request").GetString().Should().Contain("\"good-upstream\"");
        attempts[1].GetProperty("id").GetString().Should().NotBe(attempts[0].GetProperty("id").GetString());
        Guid.Parse(attempts[1].GetProperty("id").GetString()!).Version.Should().Be(7);
        var headers = attempts[1].GetProperty("headers.key").EnumerateArray().Select(k => k.GetString()!)
            .Zip(attempts[1].GetProperty("headers.value").EnumerateArray().Select(v => v.GetString()!)).ToDictionary(p => p.First, p => p.Second);
        headers.Should().Contain("Authorization", TensorZero.Proxy.Transforms.CredentialHeaders.Redacted);
        headers.Should().ContainKey("Content-Type");

        // No credential anywhere: not in headers, raw requests or raw responses.
        (await _server.ScalarAsync(
            $"SELECT count() FROM {_database}.ModelInference WHERE position(raw_request, '{ProviderKey}') > 0 OR position(raw_response, '{ProviderKey}') > 0 " +
            $"OR arrayExists(v -> position(v, '{ProviderKey}') > 0, headers.value)")).Should().Be(0);
        (await _server.ScalarAsync($"SELECT count() FROM {_database}.ModelInference FINAL WHERE outcome = 'status' AND status_code = 500")).Should().Be(400);

        // The acknowledgement of the last batch may trail its rows' visibility in ClickHouse.
        (await WaitForMetricAsync(gateway.Client, "tensorzero_observability_rows_shipped_total{table=\"ChatInference\"}", v => v >= 800)).Should().BeTrue();
        var metrics = await MetricsAsync(gateway.Client);
        metrics.Should().Contain("tensorzero_failovers_total{model=\"failover\",provider=\"bad\"} 400");
        metrics.Should().Contain("tensorzero_inferences_total{function=\"f\",variant=\"a\",model=\"direct\",provider=\"good\",outcome=\"ok\"} 200");
    }

    [Fact]
    public async Task NoClickHouse_EmbeddedStore_ReadmeCommandLoadsTheSameCount()
    {
        await using var good = await FakeProvider.StartAsync(GoodProvider);
        await using var bad = await FakeProvider.StartAsync(FailingResponses.For(FailureMode.Status500));
        var dataDir = Path.Combine(Path.GetTempPath(), $"tzp-embedded-{Guid.NewGuid():N}");
        var ids = new List<string>();
        try
        {
            await using (var gateway = await TestGateway.StartAsync(Toml(good.BaseUrl, bad.BaseUrl), ProviderEnvironment,
                Args(null, "--TensorZero:Observability:DataDir=" + dataDir, "--TensorZero:Observability:SegmentBytes=4096")))
            {
                (await HealthAsync(gateway.Client, 200)).GetProperty("clickhouse").GetString().Should().Be("not configured");
                for (var i = 0; i < 60; i++)
                {
                    var (status, id, _) = await SendAsync(gateway.Client, Body(i % 2 == 0 ? "failover" : "direct", stream: i % 3 == 0, i % 4 == 0 ? Tools : ""));
                    status.Should().Be(200);
                    ids.Add(id!);
                }
            }

            var segments = Directory.GetFiles(Path.Combine(dataDir, "ChatInference"), "*.jsonl");
            segments.Length.Should().BeGreaterThan(1, "4 KiB segments rotate");
            segments.Sum(f => File.ReadAllLines(f).Length).Should().Be(60);

            // The tables, as the gateway creates them; then the README's command, pointed at this test's folder, database and port.
            ClickHouseEndpoint.TryParse(_server.UrlFor(_database), out var endpoint, out _).Should().BeTrue();
            using (var client = new ClickHouseClient(endpoint!, TimeSpan.FromSeconds(30)))
            {
                await ClickHouseMigrations.ApplyAsync(client, TimeProvider.System, CancellationToken.None);
            }
            var command = ReadmeLoadCommand()
                .Replace("data/observability", dataDir, StringComparison.Ordinal)
                .Replace("tensorzero.", _database + ".", StringComparison.Ordinal)
                .Replace("clickhouse-client", $"clickhouse-client --port {_server.TcpPort}", StringComparison.Ordinal);
            var (exit, stderr) = await RunBashAsync(command);
            exit.Should().Be(0, stderr);

            (await _server.ScalarAsync($"SELECT uniqExact(id) FROM {_database}.ChatInference")).Should().Be(60);
            (await _server.QueryAsync($"SELECT DISTINCT toString(id) FROM {_database}.ChatInference FORMAT TabSeparated"))
                .Split('\n', StringSplitOptions.RemoveEmptyEntries).Should().BeEquivalentTo(ids);
            (await _server.ScalarAsync($"SELECT uniqExact(id) FROM {_database}.ModelInference")).Should().Be(30 * 2 + 30);
        }
        finally
        {
            Directory.Delete(dataDir, recursive: true);
        }
    }

    /// <summary>The load command of the README's Observability section: the line of its code block that runs clickhouse-client.</summary>
    private static string ReadmeLoadCommand()
    {
        var readme = File.ReadAllText(Path.Combine(RepoPaths.Root, "README.md"));
        var section = readme[readme.IndexOf("## Observability", StringComparison.Ordinal)..];
        return section.Split('\n').First(line => line.Contains("clickhouse-client", StringComparison.Ordinal) && line.Contains("INSERT", StringComparison.Ordinal)).Trim();
    }

    private static async Task<(int Exit, string Stderr)> RunBashAsync(string command)
    {
        var info = new ProcessStartInfo("bash") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(command);
        using var process = Process.Start(info)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stderr + await stdout);
    }

    [Fact]
    public async Task Health_ClickHouseUp_ReportsOk()
    {
        await using var gateway = await TestGateway.StartFromFileAsync("tensorzero.toml", extraArgs: Args(_server.UrlFor(_database)));

        var health = await HealthAsync(gateway.Client, 200);

        health.GetProperty("gateway").GetString().Should().Be("ok");
        health.GetProperty("clickhouse").GetString().Should().Be("ok");
    }
}
