using System.Globalization;
using System.Net.Http.Headers;
using System.Reflection;
using System.Text;
using System.Text.RegularExpressions;

namespace TensorZero.Proxy.Observability;

/// <summary>How a ClickHouse request ended.</summary>
internal enum ClickHouseStatus
{
    Ok,

    /// <summary>No answer: connection refused, reset, timed out. Retry later.</summary>
    Unreachable,

    /// <summary>The server answered with an error that may pass (missing table, overload, auth). Retry later.</summary>
    Failed,

    /// <summary>The server refused the data itself (it cannot be parsed): retrying the same rows cannot help.</summary>
    Rejected,
}

/// <summary>The outcome of one ClickHouse request; <see cref="Message"/> never carries credentials.</summary>
internal readonly record struct ClickHouseResult(ClickHouseStatus Status, string? Body, int? ErrorCode = null)
{
    public bool IsOk => Status == ClickHouseStatus.Ok;

    public string Message => Status == ClickHouseStatus.Ok ? "ok" : $"{Status}: {Body}";
}

/// <summary>
/// ClickHouse over its HTTP interface: statements as POST bodies, rows as <c>INSERT ... FORMAT JSONEachRow</c>.
/// Only what ClickHouse 18.16 already had is used (no settings newer than it). Credentials go in a Basic
/// authorization header, never in a URL or a log.
/// </summary>
internal sealed partial class ClickHouseClient : IDisposable
{
    /// <summary>The table that records applied migrations.</summary>
    public const string MigrationTable = "TensorZeroProxyMigration";

    /// <summary>
    /// Exception codes meaning "these rows are malformed" (cannot parse text, quoted string, date, date-time,
    /// number or UUID; bad data; type mismatch; unknown column; array sizes differ): retrying them is pointless.
    /// </summary>
    private static readonly HashSet<int> DataErrorCodes = [6, 16, 26, 27, 38, 41, 53, 69, 70, 72, 117, 131, 190, 376];

    private readonly HttpClient _http;

    public ClickHouseClient(ClickHouseEndpoint endpoint, TimeSpan requestTimeout, HttpMessageHandler? handler = null)
    {
        Endpoint = endpoint;
        _http = handler is null ? new HttpClient() : new HttpClient(handler);
        _http.BaseAddress = endpoint.BaseAddress;
        _http.Timeout = requestTimeout;
        if (endpoint.Authorization is { } authorization)
        {
            _http.DefaultRequestHeaders.Authorization = authorization;
        }
    }

    public ClickHouseEndpoint Endpoint { get; }

    public string Database => Endpoint.Database;

    /// <summary>Runs one statement (DDL or a query); the result's body is ClickHouse's answer.</summary>
    public Task<ClickHouseResult> ExecuteAsync(string sql, CancellationToken cancellationToken) =>
        SendAsync("/", new StringContent(sql, Encoding.UTF8, "text/plain"), cancellationToken);

    /// <summary>
    /// Runs one statement with <c>wait_end_of_query=1</c>: ClickHouse answers only once it has finished, so an error
    /// late in the statement (a host of an <c>ON CLUSTER</c> DDL failing after others succeeded) is an error status,
    /// not a 200 whose body ends in an exception.
    /// </summary>
    public Task<ClickHouseResult> ExecuteToEndAsync(string sql, CancellationToken cancellationToken) =>
        SendAsync("/?wait_end_of_query=1", new StringContent(sql, Encoding.UTF8, "text/plain"), cancellationToken);

    /// <summary>Sends <c>JSONEachRow</c> lines to a table of the database.</summary>
    public Task<ClickHouseResult> InsertAsync(string table, ReadOnlyMemory<byte> rows, CancellationToken cancellationToken)
    {
        var query = Uri.EscapeDataString($"INSERT INTO {Database}.{table} FORMAT JSONEachRow");
        var content = new ReadOnlyMemoryContent(rows);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/x-ndjson");
        return SendAsync("/?query=" + query, content, cancellationToken);
    }

    /// <summary>Whether the server answers an authenticated <c>SELECT 1</c>.</summary>
    public async Task<bool> PingAsync(CancellationToken cancellationToken) => (await ExecuteAsync("SELECT 1", cancellationToken)).IsOk;

    private async Task<ClickHouseResult> SendAsync(string path, HttpContent content, CancellationToken cancellationToken)
    {
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = content };
            using var response = await _http.SendAsync(request, cancellationToken);
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            if (response.IsSuccessStatusCode)
            {
                return new ClickHouseResult(ClickHouseStatus.Ok, body);
            }
            var code = ErrorCode(body);
            var status = code is { } c && DataErrorCodes.Contains(c) ? ClickHouseStatus.Rejected : ClickHouseStatus.Failed;
            return new ClickHouseResult(status, $"HTTP {(int)response.StatusCode}: {Shorten(body)}", code);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new ClickHouseResult(ClickHouseStatus.Unreachable, "timed out");
        }
        catch (HttpRequestException ex)
        {
            return new ClickHouseResult(ClickHouseStatus.Unreachable, ex.InnerException?.Message ?? ex.Message);
        }
        catch (IOException ex)
        {
            return new ClickHouseResult(ClickHouseStatus.Unreachable, ex.Message);
        }
    }

    /// <summary>"Code: 376, e.displayText() = ..." (18.16) or "Code: 376. DB::Exception: ..." (current).</summary>
    internal static int? ErrorCode(string body)
    {
        var match = ErrorCodePattern().Match(body);
        return match.Success ? int.Parse(match.Groups[1].ValueSpan, CultureInfo.InvariantCulture) : null;
    }

    private static string Shorten(string body)
    {
        body = body.Trim();
        return body.Length <= 500 ? body : body[..500] + "...";
    }

    [GeneratedRegex(@"^\s*Code:\s*(\d+)")]
    private static partial Regex ErrorCodePattern();

    public void Dispose() => _http.Dispose();
}

/// <summary>A versioned schema change: <c>Migrations/NNNN_name.sql</c>, embedded in the assembly.</summary>
internal sealed record Migration(int Version, string Name, IReadOnlyList<string> Statements);

/// <summary>
/// Applies the embedded <c>.sql</c> migrations in version order (DESIGN.md §7): creates the database and the
/// migrations table, skips versions it records, runs each statement of the others (all idempotent:
/// <c>IF NOT EXISTS</c>), then records the version. Running it again applies nothing.
/// </summary>
internal static partial class ClickHouseMigrations
{
    private const string ResourcePrefix = "TensorZero.Proxy.Observability.Migrations.";

    /// <summary>Every migration in the assembly, in version order, with <c>{database}</c> substituted.</summary>
    public static IReadOnlyList<Migration> Load(string database)
    {
        var assembly = typeof(ClickHouseMigrations).Assembly;
        var migrations = new List<Migration>();
        foreach (var resource in assembly.GetManifestResourceNames().Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal) && n.EndsWith(".sql", StringComparison.Ordinal)))
        {
            var name = resource[ResourcePrefix.Length..^".sql".Length];
            var match = MigrationName().Match(name);
            if (!match.Success)
            {
                throw new InvalidOperationException($"Migration resource '{resource}' is not named NNNN_name.sql.");
            }
            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var reader = new StreamReader(stream, Encoding.UTF8);
            migrations.Add(new Migration(int.Parse(match.Groups[1].ValueSpan, CultureInfo.InvariantCulture), name,
                SplitStatements(reader.ReadToEnd().Replace("{database}", database, StringComparison.Ordinal))));
        }
        migrations.Sort((a, b) => a.Version.CompareTo(b.Version));
        return migrations;
    }

    /// <summary>Statements end with ';' at the end of a line; <c>--</c> comment lines are dropped.</summary>
    internal static IReadOnlyList<string> SplitStatements(string sql)
    {
        var statements = new List<string>();
        var current = new StringBuilder();
        foreach (var raw in sql.Split('\n'))
        {
            var line = raw.TrimEnd();
            if (line.TrimStart().StartsWith("--", StringComparison.Ordinal))
            {
                continue;
            }
            current.AppendLine(line);
            if (line.EndsWith(';'))
            {
                AddStatement(statements, current);
            }
        }
        AddStatement(statements, current);
        return statements;
    }

    private static void AddStatement(List<string> statements, StringBuilder current)
    {
        var statement = current.ToString().Trim().TrimEnd(';').Trim();
        if (statement.Length > 0)
        {
            statements.Add(statement);
        }
        current.Clear();
    }

    /// <summary>What runs before the migrations: the database and the table that records them.</summary>
    internal static IReadOnlyList<string> Bootstrap(string database) =>
    [
        $"CREATE DATABASE IF NOT EXISTS {database}",
        $"CREATE TABLE IF NOT EXISTS {database}.{ClickHouseClient.MigrationTable} (version UInt32, name String, applied_at DateTime('UTC')) " +
            "ENGINE = ReplacingMergeTree() ORDER BY version",
    ];

    /// <summary>Applies what is missing, on a single server. Returns the versions applied now (empty when up to date); throws on failure.</summary>
    public static Task<IReadOnlyList<int>> ApplyAsync(ClickHouseClient client, TimeProvider time, CancellationToken cancellationToken) =>
        ApplyAsync(client, ClickHouseDeployment.SingleNode, time, cancellationToken);

    /// <summary>
    /// Applies what is missing, every DDL statement (the database, the migrations table, each migration's) as
    /// <paramref name="deployment"/> prepares it. First TensorZero's replication check (<see cref="ClickHouseDeployment.CheckClusters"/>):
    /// a mismatch between the setting and the server throws before anything is created. Returns the versions applied
    /// now (empty when up to date); throws on failure.
    /// </summary>
    public static async Task<IReadOnlyList<int>> ApplyAsync(ClickHouseClient client, ClickHouseDeployment deployment, TimeProvider time, CancellationToken cancellationToken)
    {
        var db = client.Database;
        var cloudMode = await Run(client, ClickHouseDeployment.CloudModeQuery, cancellationToken);
        var clusters = await Run(client, ClickHouseDeployment.ClustersQuery, cancellationToken);
        if (deployment.CheckClusters(cloudMode, clusters) is { } problem)
        {
            throw new ClickHouseException(problem, new ClickHouseResult(ClickHouseStatus.Failed, problem));
        }
        foreach (var statement in Bootstrap(db))
        {
            await Run(client, deployment.Prepare(statement, db), cancellationToken);
        }
        var applied = (await Run(client, $"SELECT DISTINCT version FROM {db}.{ClickHouseClient.MigrationTable} FORMAT TabSeparated", cancellationToken))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(v => int.Parse(v, CultureInfo.InvariantCulture))
            .ToHashSet();

        var now = new List<int>();
        foreach (var migration in Load(db))
        {
            if (applied.Contains(migration.Version))
            {
                continue;
            }
            foreach (var statement in migration.Statements)
            {
                await Run(client, deployment.Prepare(statement, db), cancellationToken);
            }
            var row = $"{{\"version\":{migration.Version},\"name\":\"{migration.Name}\",\"applied_at\":\"{InferenceRecords.FormatTimestamp(time.GetUtcNow())}\"}}\n";
            var result = await client.InsertAsync(ClickHouseClient.MigrationTable, Encoding.UTF8.GetBytes(row), cancellationToken);
            if (!result.IsOk)
            {
                throw new ClickHouseException($"recording migration {migration.Name} failed: {result.Message}", result);
            }
            now.Add(migration.Version);
        }
        return now;
    }

    private static async Task<string> Run(ClickHouseClient client, string sql, CancellationToken cancellationToken)
    {
        var result = await client.ExecuteToEndAsync(sql, cancellationToken);
        if (!result.IsOk)
        {
            var firstLine = sql.Split('\n')[0];
            throw new ClickHouseException($"'{firstLine}' failed: {result.Message}", result);
        }
        return result.Body ?? "";
    }

    [GeneratedRegex(@"^(\d{4})_[a-z0-9_]+$")]
    private static partial Regex MigrationName();
}

/// <summary>A ClickHouse statement failed; the message names the statement and ClickHouse's answer.</summary>
internal sealed class ClickHouseException(string message, ClickHouseResult result) : Exception(message)
{
    public ClickHouseResult Result { get; } = result;
}
