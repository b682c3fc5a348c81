using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using TensorZero.Proxy.Observability;
using TensorZero.Proxy.Tests.TestSupport;
using static TensorZero.Proxy.Tests.Observability.ObservabilityFixtures;

namespace TensorZero.Proxy.Tests.Observability;

/// <summary>
/// <c>TENSORZERO_CLICKHOUSE_CLUSTER_NAME</c> against a real cluster: tests/run starts ZooKeeper and makes its
/// ClickHouse the one replica of cluster <c>tzp_cluster</c> (tests/clickhouse/cluster.xml, macros shard=01,
/// replica=replica1) and names it in <c>TZP_TEST_CLICKHOUSE_CLUSTER</c>. Without it these tests fail, saying so.
/// Each test uses a database of its own.
/// </summary>
public sealed class ClickHouseClusterTests : IDisposable
{
    private const string ClusterVariable = "TZP_TEST_CLICKHOUSE_CLUSTER";

    private readonly ClickHouseTestServer _server = ClickHouseTestServer.Shared();
    private readonly string _database = ClickHouseTestServer.NewDatabase();
    private readonly string _cluster = Environment.GetEnvironmentVariable(ClusterVariable) is { Length: > 0 } cluster ? cluster
        : throw new InvalidOperationException(
            $"{ClusterVariable} is not set: the cluster tests need the ZooKeeper and ClickHouse cluster that `bash tests/run` starts (tests/clickhouse/cluster.xml).");

    public void Dispose()
    {
        // ON CLUSTER as created, so ZooKeeper forgets the replicas too.
        _server.QueryAsync($"DROP DATABASE IF EXISTS {_database} ON CLUSTER `{_cluster}`").GetAwaiter().GetResult();
        _server.Dispose();
    }

    private ClickHouseDeployment Deployment()
    {
        ClickHouseDeployment.TryCreate(_cluster, null, out var deployment, out var errors).Should().BeTrue(string.Join("; ", errors));
        return deployment;
    }

    [Fact]
    public async Task Migrations_OnCluster_CreateReplicatedTablesThroughDistributedDdlThenAreANoOp()
    {
        ClickHouseEndpoint.TryParse(_server.UrlFor(_database), out var endpoint, out _).Should().BeTrue();
        using var client = new ClickHouseClient(endpoint!, TimeSpan.FromSeconds(60));

        var first = await ClickHouseMigrations.ApplyAsync(client, Deployment(), TimeProvider.System, CancellationToken.None);
        var second = await ClickHouseMigrations.ApplyAsync(client, Deployment(), TimeProvider.System, CancellationToken.None);

        first.Should().Equal(ClickHouseMigrations.Load(_database).Select(m => m.Version));
        second.Should().BeEmpty();
        var engines = (await _server.QueryAsync($"SELECT name, engine FROM system.tables WHERE database = '{_database}' ORDER BY name FORMAT TabSeparated"))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => line.Split('\t')).ToDictionary(f => f[0], f => f[1]);
        string[] tables = [.. RecordTables.All.Select(t => t.Name()), "InferenceByEpisodeId", ClickHouseClient.MigrationTable];
        engines.Keys.Should().BeEquivalentTo([.. tables, "ChatInferenceByEpisodeIdView", "JsonInferenceByEpisodeIdView"]);
        foreach (var table in tables)
        {
            engines[table].Should().Be("ReplicatedReplacingMergeTree", table);
        }
        // Each table is a replica whose log is at the documented ZooKeeper path, the server's macros filled in.
        (await _server.QueryAsync($"SELECT table, zookeeper_path, replica_name FROM system.replicas WHERE database = '{_database}' ORDER BY table FORMAT TabSeparated"))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).Should()
            .BeEquivalentTo(tables.Select(t => $"{t}\t/clickhouse/tables/01/{_database}/{t}\treplica1"));
        // The DDL went through the cluster's distributed DDL queue: the database and the migrations table (on both
        // runs: they are IF NOT EXISTS), and each migration's CREATE TABLE / MATERIALIZED VIEW once (the backfill
        // INSERT is a plain statement).
        var ddl = 2 * ClickHouseMigrations.Bootstrap(_database).Count
            + ClickHouseMigrations.Load(_database).SelectMany(m => m.Statements).Count(s => s.StartsWith("CREATE", StringComparison.Ordinal));
        (await _server.ScalarAsync($"SELECT count() FROM system.zookeeper WHERE path = '/clickhouse/task_queue/ddl' AND position(value, '{_database}') > 0"))
            .Should().Be(ddl);
    }

    [Fact]
    public async Task Gateway_ClusterNameSet_LogsTheModeAndRowsLandInReplicatedTables()
    {
        await using var provider = await FakeProvider.StartAsync(GoodProvider);
        var logs = new CapturingLogger();
        var toml = TestConfigs.SingleProviderModel("direct", "good", provider.BaseUrl);
        await using var gateway = await TestGateway.StartWithServicesAsync(toml, services => services.AddSingleton<ILoggerProvider>(logs),
            Args(_server.UrlFor(_database), $"--{ClickHouseDeployment.ClusterNameVariable}={_cluster}", "--Logging:LogLevel:TensorZero=Information"));

        var (status, id, body) = await SendAsync(gateway.Client, Body("direct", stream: false));

        status.Should().Be(200, body);
        (await _server.WaitForCountAsync($"SELECT count() FROM {_database}.ChatInference WHERE id = '{id}'", 1)).Should().Be(1);
        (await _server.WaitForCountAsync($"SELECT count() FROM {_database}.ModelInference WHERE inference_id = '{id}'", 1)).Should().Be(1);
        (await _server.QueryAsync($"SELECT engine FROM system.tables WHERE database = '{_database}' AND name = 'ChatInference'"))
            .Trim().Should().Be("ReplicatedReplacingMergeTree");
        logs.Entries.Should().Contain(e => e.Level == LogLevel.Information
            && e.Message.Contains($"replicated cluster '{_cluster}' (DDL ON CLUSTER, Replicated* engines)", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Migrations_ClusterNameTheServerLacks_FailBeforeCreatingAnything()
    {
        ClickHouseEndpoint.TryParse(_server.UrlFor(_database), out var endpoint, out _).Should().BeTrue();
        using var client = new ClickHouseClient(endpoint!, TimeSpan.FromSeconds(30));
        ClickHouseDeployment.TryCreate("not_a_cluster", null, out var deployment, out _).Should().BeTrue();

        var act = () => ClickHouseMigrations.ApplyAsync(client, deployment, TimeProvider.System, CancellationToken.None);

        (await act.Should().ThrowAsync<ClickHouseException>()).Which.Message.Should()
            .Contain("TENSORZERO_CLICKHOUSE_CLUSTER_NAME is 'not_a_cluster' but ClickHouse defines no such cluster").And.Contain($"'{_cluster}'");
        (await _server.ScalarAsync($"SELECT count() FROM system.databases WHERE name = '{_database}'")).Should().Be(0);
    }
}
