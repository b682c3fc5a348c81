using System.Globalization;
using System.Text.RegularExpressions;

namespace TensorZero.Proxy.Observability;

/// <summary>
/// How the gateway's ClickHouse schema is laid out, as TensorZero's <c>TENSORZERO_CLICKHOUSE_CLUSTER_NAME</c>: a
/// single server (the migrations run as written), or one shard of replicas, where every DDL statement runs
/// <c>ON CLUSTER</c> and every MergeTree-family table gets its <c>Replicated*</c> engine with the ZooKeeper path
/// <c>/clickhouse/tables/{shard}/&lt;database&gt;/&lt;table&gt;</c> and replica <c>{replica}</c> (the servers define both
/// macros). The embedded migrations are written for one server; <see cref="Prepare"/> is the one place they are
/// adapted to a cluster.
/// </summary>
internal sealed partial class ClickHouseDeployment
{
    /// <summary>The environment variable TensorZero reads the cluster name from.</summary>
    public const string ClusterNameVariable = "TENSORZERO_CLICKHOUSE_CLUSTER_NAME";

    /// <summary>TensorZero's escape hatch: "1" allows non-replicated tables on a server that has a replicated cluster.</summary>
    public const string OverrideNonReplicatedVariable = "TENSORZERO_OVERRIDE_NON_REPLICATED_CLICKHOUSE";

    /// <summary>One server, no cluster: statements run as written.</summary>
    public static readonly ClickHouseDeployment SingleNode = new(null, allowNonReplicatedOnCluster: false);

    private ClickHouseDeployment(string? clusterName, bool allowNonReplicatedOnCluster)
    {
        ClusterName = clusterName;
        AllowNonReplicatedOnCluster = allowNonReplicatedOnCluster;
    }

    /// <summary>The cluster of <c>&lt;remote_servers&gt;</c> the DDL runs on; null for a single server.</summary>
    public string? ClusterName { get; }

    /// <summary><c>TENSORZERO_OVERRIDE_NON_REPLICATED_CLICKHOUSE=1</c>: no error when the server has a replicated cluster but no cluster name is set.</summary>
    public bool AllowNonReplicatedOnCluster { get; }

    public bool IsReplicated => ClusterName is not null;

    /// <summary>For the start-up log: which of the modes this is.</summary>
    public string Describe() =>
        ClusterName is { } name ? $"replicated cluster '{name}' (DDL ON CLUSTER, Replicated* engines)"
        : AllowNonReplicatedOnCluster ? $"single node ({OverrideNonReplicatedVariable}=1: non-replicated tables even if ClickHouse has a replicated cluster)"
        : "single node";

    /// <summary>
    /// Reads the two variables' values (null or blank: not set). A cluster name must be a ClickHouse identifier as
    /// <c>&lt;remote_servers&gt;</c> names it (letters, digits, '_', '-'; not starting with a digit or '-'); the override
    /// must be "1", "0" or unset. Every problem names its variable.
    /// </summary>
    public static bool TryCreate(string? clusterName, string? overrideNonReplicated, out ClickHouseDeployment deployment, out IReadOnlyList<string> errors)
    {
        var problems = new List<string>();
        string? name = null;
        if (!string.IsNullOrWhiteSpace(clusterName))
        {
            name = clusterName.Trim();
            if (!ClusterNamePattern().IsMatch(name))
            {
                problems.Add($"{ClusterNameVariable}: '{name}' is not a ClickHouse cluster name: use letters, digits, '_' and '-', starting with a letter or '_', at most 128 characters (the name of a cluster under <remote_servers> in the ClickHouse config)");
                name = null;
            }
        }
        var allow = false;
        if (!string.IsNullOrWhiteSpace(overrideNonReplicated))
        {
            switch (overrideNonReplicated.Trim())
            {
                case "1":
                    allow = true;
                    break;
                case "0":
                    break;
                default:
                    problems.Add($"{OverrideNonReplicatedVariable}: must be 1 or 0, not '{overrideNonReplicated.Trim()}'");
                    break;
            }
        }
        errors = problems;
        deployment = problems.Count > 0 ? SingleNode
            : name is null && !allow ? SingleNode
            : new ClickHouseDeployment(name, allow);
        return problems.Count == 0;
    }

    /// <summary>The query whose answer <see cref="CheckClusters"/> reads: replicas per shard of every cluster the server defines.</summary>
    public const string ClustersQuery =
        "SELECT cluster, shard_num, count() FROM system.clusters GROUP BY cluster, shard_num ORDER BY cluster, shard_num FORMAT TabSeparated";

    /// <summary>
    /// Whether the server is ClickHouse Cloud: its <c>cloud_mode</c> setting is 1 there, 0 on current self-hosted
    /// servers, and absent (an empty answer) on older ones such as 18.16, which lack <c>getSetting</c> too.
    /// </summary>
    public const string CloudModeQuery = "SELECT value FROM system.settings WHERE name = 'cloud_mode' FORMAT TabSeparated";

    /// <summary>
    /// TensorZero's replication check, on the answers of <see cref="CloudModeQuery"/> and <see cref="ClustersQuery"/>.
    /// ClickHouse Cloud replicates by itself: a cluster name is an error there, and its own cluster is not checked.
    /// With a cluster name: the server
    /// must define that cluster, with one shard (TensorZero does not support sharded deployments: each shard would
    /// hold only the rows written to it). Without one: no cluster may have a shard of several replicas (tables
    /// would then exist on one replica only) unless <see cref="OverrideNonReplicatedVariable"/> is 1. Returns the
    /// problem, or null. Unlike TensorZero, a cluster of one replica is accepted (a replica set not grown yet), and
    /// clusters of several single-replica shards (ClickHouse's sample test clusters) do not count as replicated.
    /// </summary>
    public string? CheckClusters(string cloudModeAnswer, string clustersAnswer)
    {
        if (cloudModeAnswer.Trim() is "1" or "true")
        {
            return ClusterName is { } cloudCluster
                ? $"{ClusterNameVariable} is '{cloudCluster}' but this is ClickHouse Cloud, which replicates by itself: unset it, as TensorZero requires"
                : null;
        }
        var shards = new List<(string Cluster, long Shard, long Replicas)>();
        foreach (var line in clustersAnswer.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var fields = line.Split('\t');
            if (fields.Length != 3
                || !long.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out var shard)
                || !long.TryParse(fields[2], NumberStyles.None, CultureInfo.InvariantCulture, out var replicas))
            {
                return $"unexpected answer from system.clusters: '{line}'";
            }
            shards.Add((fields[0], shard, replicas));
        }

        if (ClusterName is { } name)
        {
            var mine = shards.Where(s => s.Cluster == name).ToList();
            if (mine.Count == 0)
            {
                var known = shards.Select(s => s.Cluster).Distinct().ToList();
                return $"{ClusterNameVariable} is '{name}' but ClickHouse defines no such cluster (system.clusters has " +
                    (known.Count == 0 ? "none" : string.Join(", ", known.Select(k => $"'{k}'"))) +
                    "); define it under <remote_servers> on every server, with <zookeeper> and the {shard} and {replica} macros";
            }
            if (mine.Count > 1)
            {
                return $"{ClusterNameVariable} is '{name}', a cluster of {mine.Count} shards; only replicated deployments (one shard) are supported, as TensorZero: each shard would hold only the rows written to it";
            }
            return null;
        }

        var replicated = shards.Where(s => s.Replicas > 1).Select(s => s.Cluster).Distinct().ToList();
        if (replicated.Count > 0 && !AllowNonReplicatedOnCluster)
        {
            return $"the gateway is not configured for replication but ClickHouse has a replicated cluster ({string.Join(", ", replicated.Select(c => $"'{c}'"))}): " +
                $"set {ClusterNameVariable} to that cluster's name, or (to keep non-replicated tables on this server only) {OverrideNonReplicatedVariable}=1";
        }
        return null;
    }

    /// <summary>
    /// A statement as this deployment runs it. Single node: unchanged. Cluster: <c>ON CLUSTER `name`</c> after the
    /// object name of CREATE DATABASE / TABLE / VIEW / MATERIALIZED VIEW, ALTER TABLE and DROP TABLE / VIEW /
    /// DATABASE, and a MergeTree-family engine becomes its Replicated variant (its arguments kept after the
    /// ZooKeeper path and replica). INSERT and SELECT are unchanged (a replicated table replicates the rows).
    /// Any other DDL, a table engine that cannot replicate, or a materialized view with an inner engine throws
    /// <see cref="InvalidOperationException"/>: a migration the rewrite does not understand must not run half-replicated.
    /// </summary>
    /// <param name="statement">One statement, without the trailing ';'.</param>
    /// <param name="database">The database of names written without one.</param>
    public string Prepare(string statement, string database)
    {
        if (ClusterName is not { } cluster)
        {
            return statement;
        }
        var ddl = DdlPattern().Match(statement);
        if (!ddl.Success)
        {
            if (OtherDdlPattern().IsMatch(statement))
            {
                throw new InvalidOperationException($"The cluster rewrite does not know this DDL statement: '{FirstLine(statement)}'.");
            }
            return statement;
        }

        var name = ddl.Groups["name"];
        var onCluster = $" ON CLUSTER `{cluster}`";
        var prepared = statement[..(name.Index + name.Length)] + onCluster + statement[(name.Index + name.Length)..];
        var kind = WhitespacePattern().Replace(ddl.Groups["kind"].Value.ToUpperInvariant(), " ");
        if (kind == "CREATE TABLE")
        {
            var (db, table) = SplitName(name.Value, database);
            prepared = ReplicateEngine(prepared, db, table, statement);
        }
        else if (kind == "CREATE MATERIALIZED VIEW" && EnginePattern().IsMatch(statement))
        {
            throw new InvalidOperationException($"A materialized view on a cluster must write TO a table (its inner engine would not be replicated): '{FirstLine(statement)}'.");
        }
        return prepared;
    }

    private static string ReplicateEngine(string statement, string database, string table, string original)
    {
        var engines = EnginePattern().Matches(statement);
        if (engines.Count != 1)
        {
            throw new InvalidOperationException($"A CREATE TABLE on a cluster needs exactly one ENGINE clause: '{FirstLine(original)}'.");
        }
        var engine = engines[0];
        var engineName = engine.Groups["engine"].Value;
        if (!engine.Groups["args"].Success && statement.AsSpan(engine.Index + engine.Length).TrimStart().StartsWith("("))
        {
            // Arguments with nested parentheses: the pattern cannot take them apart safely.
            throw new InvalidOperationException($"The engine arguments of {database}.{table} are not understood by the cluster rewrite: '{FirstLine(original)}'.");
        }
        if (engineName.StartsWith("Replicated", StringComparison.Ordinal))
        {
            return statement;
        }
        if (!engineName.EndsWith("MergeTree", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"The engine {engineName} of {database}.{table} cannot be replicated; a cluster needs a MergeTree-family engine.");
        }
        var arguments = engine.Groups["args"].Value.Trim();
        var replicated = $"Replicated{engineName}('/clickhouse/tables/{{shard}}/{database}/{table}', '{{replica}}'{(arguments.Length > 0 ? ", " + arguments : "")})";
        var clause = engine.Groups["clause"];
        return statement[..clause.Index] + replicated + statement[(clause.Index + clause.Length)..];
    }

    private static (string Database, string Table) SplitName(string name, string database)
    {
        var parts = name.Split('.');
        return parts.Length == 2 ? (parts[0].Trim('`'), parts[1].Trim('`')) : (database, parts[0].Trim('`'));
    }

    private static string FirstLine(string statement) => statement.Split('\n')[0].Trim();

    [GeneratedRegex(@"^[A-Za-z_][A-Za-z0-9_-]{0,127}$")]
    private static partial Regex ClusterNamePattern();

    /// <summary>The DDL that takes ON CLUSTER right after its object name; <c>name</c> is <c>[db.]object</c>.</summary>
    [GeneratedRegex(
        @"^\s*(?<kind>CREATE\s+DATABASE|CREATE\s+TABLE|CREATE\s+MATERIALIZED\s+VIEW|CREATE\s+VIEW|ALTER\s+TABLE|DROP\s+TABLE|DROP\s+VIEW|DROP\s+DATABASE)\s+" +
        @"(?:IF\s+(?:NOT\s+)?EXISTS\s+)?(?<name>(?:`[^`]+`|[A-Za-z_][A-Za-z0-9_]*)(?:\.(?:`[^`]+`|[A-Za-z_][A-Za-z0-9_]*))?)",
        RegexOptions.IgnoreCase)]
    private static partial Regex DdlPattern();

    /// <summary>Statements that change the schema but are not in <see cref="DdlPattern"/>.</summary>
    [GeneratedRegex(@"^\s*(CREATE|ALTER|DROP|RENAME|TRUNCATE|ATTACH|DETACH|OPTIMIZE|EXCHANGE)\b", RegexOptions.IgnoreCase)]
    private static partial Regex OtherDdlPattern();

    /// <summary><c>ENGINE = Name</c> or <c>ENGINE = Name(args)</c> with arguments without nested parentheses.</summary>
    [GeneratedRegex(@"\bENGINE\s*=\s*(?<clause>(?<engine>[A-Za-z_][A-Za-z0-9_]*)(?:\s*\((?<args>[^()]*)\))?)", RegexOptions.IgnoreCase)]
    private static partial Regex EnginePattern();

    [GeneratedRegex(@"\s+")]
    private static partial Regex WhitespacePattern();
}
