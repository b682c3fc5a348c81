using System.Text.RegularExpressions;
using TensorZero.Proxy.Configuration;
using TensorZero.Proxy.Observability;
using TensorZero.Proxy.Tests.TestSupport;

namespace TensorZero.Proxy.Tests.Observability;

/// <summary>
/// <c>TENSORZERO_CLICKHOUSE_CLUSTER_NAME</c>: the variables, the rewrite of every statement the gateway runs
/// (ON CLUSTER, Replicated* engines) and TensorZero's replication check.
/// </summary>
public sealed class ClickHouseDeploymentTests
{
    private const string Database = "tzdb";

    private static ClickHouseDeployment Cluster(string name = "tz_cluster", string? overrideNonReplicated = null)
    {
        ClickHouseDeployment.TryCreate(name, overrideNonReplicated, out var deployment, out var errors).Should().BeTrue(string.Join("; ", errors));
        return deployment;
    }

    /// <summary>Every statement ApplyAsync can run: the bootstrap and each embedded migration's.</summary>
    private static IEnumerable<string> EveryStatement() =>
        ClickHouseMigrations.Bootstrap(Database).Concat(ClickHouseMigrations.Load(Database).SelectMany(m => m.Statements));

    [Fact]
    public void Prepare_EveryStatementOnCluster_DdlOnClusterTablesReplicatedNothingElseChanged()
    {
        var deployment = Cluster();
        var createdTables = new List<string>();

        foreach (var statement in EveryStatement())
        {
            var prepared = deployment.Prepare(statement, Database);

            var header = Regex.Match(statement, @"^(CREATE DATABASE IF NOT EXISTS|CREATE TABLE IF NOT EXISTS|CREATE MATERIALIZED VIEW IF NOT EXISTS) (?<name>[\w.]+)");
            if (!header.Success)
            {
                statement.Should().StartWith("INSERT INTO ");
                prepared.Should().Be(statement, "rows inserted into a replicated table replicate without ON CLUSTER");
                continue;
            }
            var name = header.Groups["name"].Value;
            prepared.Should().Contain($"{name} ON CLUSTER `tz_cluster`");
            Regex.Matches(prepared, "ON CLUSTER").Should().HaveCount(1);
            var undone = prepared.Replace(" ON CLUSTER `tz_cluster`", "", StringComparison.Ordinal);
            if (statement.StartsWith("CREATE TABLE", StringComparison.Ordinal))
            {
                var table = name.Split('.')[1];
                createdTables.Add(table);
                prepared.Should().Contain($"ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{{shard}}/{Database}/{table}', '{{replica}}')");
                undone = undone.Replace($"ReplicatedReplacingMergeTree('/clickhouse/tables/{{shard}}/{Database}/{table}', '{{replica}}')", "ReplacingMergeTree()", StringComparison.Ordinal);
            }
            undone.Should().Be(statement, "only ON CLUSTER and the engine change");
        }

        createdTables.Should().OnlyHaveUniqueItems().And.Contain([.. RecordTables.All.Select(t => t.Name()), "InferenceByEpisodeId", ClickHouseClient.MigrationTable]);
    }

    [Fact]
    public void Prepare_EveryStatementSingleNode_Unchanged()
    {
        foreach (var statement in EveryStatement())
        {
            ClickHouseDeployment.SingleNode.Prepare(statement, Database).Should().Be(statement);
        }
    }

    [Theory]
    [InlineData("CREATE DATABASE db", "CREATE DATABASE db ON CLUSTER `c`")]
    [InlineData("ALTER TABLE db.t ADD COLUMN x String", "ALTER TABLE db.t ON CLUSTER `c` ADD COLUMN x String")]
    [InlineData("alter table db.t drop column x", "alter table db.t ON CLUSTER `c` drop column x")]
    [InlineData("DROP TABLE IF EXISTS db.t", "DROP TABLE IF EXISTS db.t ON CLUSTER `c`")]
    [InlineData("DROP VIEW IF EXISTS db.v", "DROP VIEW IF EXISTS db.v ON CLUSTER `c`")]
    [InlineData("DROP DATABASE IF EXISTS db", "DROP DATABASE IF EXISTS db ON CLUSTER `c`")]
    [InlineData("CREATE VIEW db.v AS SELECT 1", "CREATE VIEW db.v ON CLUSTER `c` AS SELECT 1")]
    [InlineData("CREATE TABLE db.t (v UInt64) ENGINE = ReplacingMergeTree(v) ORDER BY v",
        "CREATE TABLE db.t ON CLUSTER `c` (v UInt64) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/db/t', '{replica}', v) ORDER BY v")]
    [InlineData("CREATE TABLE t (v UInt64) ENGINE = MergeTree ORDER BY v",
        "CREATE TABLE t ON CLUSTER `c` (v UInt64) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/dflt/t', '{replica}') ORDER BY v")]
    [InlineData("CREATE TABLE db.t (s Int8, v UInt64) ENGINE=CollapsingMergeTree( s ) ORDER BY v",
        "CREATE TABLE db.t ON CLUSTER `c` (s Int8, v UInt64) ENGINE=ReplicatedCollapsingMergeTree('/clickhouse/tables/{shard}/db/t', '{replica}', s) ORDER BY v")]
    [InlineData("CREATE TABLE db.t (v UInt64) ENGINE = ReplicatedMergeTree('/p', 'r') ORDER BY v",
        "CREATE TABLE db.t ON CLUSTER `c` (v UInt64) ENGINE = ReplicatedMergeTree('/p', 'r') ORDER BY v")]
    [InlineData("SELECT count() FROM db.t", "SELECT count() FROM db.t")]
    [InlineData("INSERT INTO db.t SELECT * FROM db.u", "INSERT INTO db.t SELECT * FROM db.u")]
    public void Prepare_OnCluster_RewritesEachKindOfStatement(string statement, string expected)
    {
        Cluster("c").Prepare(statement, "dflt").Should().Be(expected);
    }

    [Theory]
    [InlineData("CREATE TABLE db.t (v UInt64) ENGINE = Memory", "cannot be replicated")]
    [InlineData("CREATE TABLE db.t AS db.u", "exactly one ENGINE")]
    [InlineData("CREATE TABLE db.t (v UInt64) ENGINE = ReplacingMergeTree(toUInt64(v)) ORDER BY v", "not understood")]
    [InlineData("CREATE MATERIALIZED VIEW db.v ENGINE = MergeTree ORDER BY x AS SELECT 1 AS x", "must write TO a table")]
    [InlineData("RENAME TABLE db.a TO db.b", "does not know")]
    [InlineData("TRUNCATE TABLE db.a", "does not know")]
    public void Prepare_OnClusterStatementItCannotReplicate_Throws(string statement, string reason)
    {
        var act = () => Cluster().Prepare(statement, Database);

        act.Should().Throw<InvalidOperationException>().WithMessage($"*{reason}*");
    }

    [Theory]
    [InlineData("tz_cluster")]
    [InlineData(" my-cluster ")]
    [InlineData("_c1")]
    public void TryCreate_ValidClusterName_IsReplicated(string name)
    {
        ClickHouseDeployment.TryCreate(name, null, out var deployment, out var errors).Should().BeTrue();

        errors.Should().BeEmpty();
        deployment.IsReplicated.Should().BeTrue();
        deployment.ClusterName.Should().Be(name.Trim());
        deployment.Describe().Should().Contain($"'{name.Trim()}'");
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("  ")]
    public void TryCreate_NoClusterName_IsSingleNode(string? name)
    {
        ClickHouseDeployment.TryCreate(name, null, out var deployment, out _).Should().BeTrue();

        deployment.Should().BeSameAs(ClickHouseDeployment.SingleNode);
        deployment.Describe().Should().Be("single node");
    }

    [Theory]
    [InlineData("my cluster")]
    [InlineData("c`; DROP DATABASE x")]
    [InlineData("1cluster")]
    [InlineData("-c")]
    [InlineData("a.b")]
    [InlineData("'c'")]
    public void TryCreate_BadClusterName_ErrorNamesTheVariable(string name)
    {
        ClickHouseDeployment.TryCreate(name, null, out var deployment, out var errors).Should().BeFalse();

        errors.Should().ContainSingle().Which.Should().StartWith("TENSORZERO_CLICKHOUSE_CLUSTER_NAME: ");
        deployment.IsReplicated.Should().BeFalse();
    }

    [Theory]
    [InlineData("1", true, true)]
    [InlineData("0", false, true)]
    [InlineData("yes", false, false)]
    public void TryCreate_OverrideVariable_AcceptsOneOrZero(string value, bool allowed, bool valid)
    {
        ClickHouseDeployment.TryCreate(null, value, out var deployment, out var errors).Should().Be(valid);

        deployment.AllowNonReplicatedOnCluster.Should().Be(allowed);
        if (!valid)
        {
            errors.Should().ContainSingle().Which.Should().StartWith("TENSORZERO_OVERRIDE_NON_REPLICATED_CLICKHOUSE: ");
        }
    }

    /// <summary>Rows of <see cref="ClickHouseDeployment.ClustersQuery"/>: cluster, shard, replicas.</summary>
    private const string ThreeReplicas = "tz_cluster\t1\t3\n";

    /// <summary>ClickHouse 18.16's sample config: test clusters of one replica per shard.</summary>
    private const string DebianSamples = "test_cluster_two_shards_localhost\t1\t1\ntest_cluster_two_shards_localhost\t2\t1\ntest_shard_localhost\t1\t1\n";

    [Theory]
    [InlineData("tz_cluster", null, ThreeReplicas, null)]
    [InlineData("tz_cluster", null, "tz_cluster\t1\t1\n", null)]
    [InlineData("tz_cluster", null, "", "defines no such cluster (system.clusters has none)")]
    [InlineData("tz_cluster", null, DebianSamples, "defines no such cluster (system.clusters has 'test_cluster_two_shards_localhost', 'test_shard_localhost')")]
    [InlineData("tz_cluster", null, "tz_cluster\t1\t2\ntz_cluster\t2\t2\n", "a cluster of 2 shards")]
    [InlineData(null, null, "", null)]
    [InlineData(null, null, DebianSamples, null)]
    [InlineData(null, null, ThreeReplicas, "not configured for replication but ClickHouse has a replicated cluster ('tz_cluster')")]
    [InlineData(null, "1", ThreeReplicas, null)]
    [InlineData(null, null, "garbage", "unexpected answer")]
    public void CheckClusters_SettingAgainstServer_ReportsMismatch(string? cluster, string? overrideNonReplicated, string answer, string? problem)
    {
        ClickHouseDeployment.TryCreate(cluster, overrideNonReplicated, out var deployment, out _).Should().BeTrue();

        var found = deployment.CheckClusters("", answer);

        if (problem is null)
        {
            found.Should().BeNull();
        }
        else
        {
            found.Should().Contain(problem);
        }
    }

    [Fact]
    public void CheckClusters_ReplicatedServerWithoutName_NamesBothVariables()
    {
        ClickHouseDeployment.SingleNode.CheckClusters("0\n", ThreeReplicas).Should()
            .Contain("TENSORZERO_CLICKHOUSE_CLUSTER_NAME").And.Contain("TENSORZERO_OVERRIDE_NON_REPLICATED_CLICKHOUSE=1");
    }

    [Fact]
    public void CheckClusters_ClickHouseCloud_NoClusterNameAllowedAndItsOwnReplicasAccepted()
    {
        const string cloud = "default\t1\t3\n";

        ClickHouseDeployment.SingleNode.CheckClusters("1\n", cloud).Should().BeNull();
        Cluster("default").CheckClusters("1\n", cloud).Should().Contain("ClickHouse Cloud");
        Cluster("default").CheckClusters("0\n", cloud).Should().BeNull();
    }

    [Fact]
    public void Resolve_ClusterName_SetsTheDeployment()
    {
        var settings = ObservabilitySettings.Resolve(new ObservabilityConfig(), "http://h:8123/db", new ObservabilityOptions(), "tz_cluster");

        settings.Deployment.ClusterName.Should().Be("tz_cluster");
    }

    [Fact]
    public void Resolve_BadClusterNameAndOverride_ReportsBothVariables()
    {
        var act = () => ObservabilitySettings.Resolve(new ObservabilityConfig(), "http://h:8123/db", new ObservabilityOptions(), "bad name", "true");

        act.Should().Throw<ConfigException>().Which.Errors.Should().HaveCount(2)
            .And.Contain(e => e.StartsWith("TENSORZERO_CLICKHOUSE_CLUSTER_NAME: 'bad name'"))
            .And.Contain(e => e.StartsWith("TENSORZERO_OVERRIDE_NON_REPLICATED_CLICKHOUSE: "));
    }

    [Fact]
    public async Task Start_BadClusterNameInEnvironment_FailsNamingTheVariable()
    {
        var environment = new Dictionary<string, string>(ObservabilityFixtures.ProviderEnvironment)
        {
            [ClickHouseDeployment.ClusterNameVariable] = "no spaces allowed",
        };
        var toml = ObservabilityFixtures.Toml("http://127.0.0.1:9", "http://127.0.0.1:9");

        var act = async () => await TestGateway.StartAsync(toml, environment, ObservabilityFixtures.Args("http://127.0.0.1:9/db"));

        (await act.Should().ThrowAsync<ConfigException>()).Which.Message.Should().Contain("TENSORZERO_CLICKHOUSE_CLUSTER_NAME");
    }
}
