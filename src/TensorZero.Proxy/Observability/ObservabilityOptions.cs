using System.Net.Http.Headers;
using System.Text;
using TensorZero.Proxy.Configuration;

namespace TensorZero.Proxy.Observability;

/// <summary>
/// Observability host settings (<c>appsettings.json</c> section <c>TensorZero:Observability</c>). The ClickHouse
/// URL is env <c>TENSORZERO_CLICKHOUSE_URL</c>, else <c>TensorZero:ClickHouseUrl</c>.
/// </summary>
internal sealed class ObservabilityOptions
{
    public const string SectionName = "TensorZero:Observability";

    /// <summary>Folder of the durable queue (segment files); relative to the working directory. Default <c>data/observability</c>.</summary>
    public string DataDir { get; set; } = "data/observability";

    /// <summary>Rows per INSERT at most; a queue this deep is shipped without waiting for the interval. Default 1000.</summary>
    public int BatchRows { get; set; } = 1000;

    /// <summary>Bytes per INSERT at most (a single larger row is still sent alone). Default 8 MiB.</summary>
    public int BatchBytes { get; set; } = 8 * 1024 * 1024;

    /// <summary>How long rows may wait for a batch to fill. Default 1 s.</summary>
    public TimeSpan FlushInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>A segment file is closed and a new one started past this size. Default 16 MiB.</summary>
    public long SegmentBytes { get; set; } = 16 * 1024 * 1024;

    /// <summary>
    /// The queue's size bound on disk, per table: past it the oldest segments are deleted and their rows counted
    /// as dropped. Without ClickHouse this is the embedded store's retention. Default 1 GiB.
    /// </summary>
    public long MaxQueueBytes { get; set; } = 1024L * 1024 * 1024;

    /// <summary>Raw requests and responses are stored up to this many bytes each. Default 64 KiB.</summary>
    public int MaxRawBytes { get; set; } = 64 * 1024;

    /// <summary>Records waiting in memory for the disk writer; past it new records are dropped and counted. Default 100,000.</summary>
    public int MaxPendingRecords { get; set; } = 100_000;

    /// <summary>First retry delay after a failed INSERT; doubled per failure, with jitter. Default 200 ms.</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Longest retry delay. Default 10 s.</summary>
    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long shutdown keeps shipping; what is left stays on disk for the next start. Default 5 s.</summary>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long a completing response waits for the append gate to write its record to the queue file (an OS
    /// write, no fsync: microseconds normally). Past it the response completes anyway and the record stays queued
    /// in memory for the background flusher: a stalled disk never holds a client longer than this. Default 200 ms.
    /// </summary>
    public TimeSpan DurableWriteWait { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// Recorded inferences remembered in memory (id, episode, function) for <c>POST /feedback</c>'s target checks;
    /// older ones are looked up in ClickHouse when it is configured. About 100 bytes each. Default 100,000.
    /// </summary>
    public int RecentInferences { get; set; } = 100_000;

    /// <summary>
    /// How long after its id's own time a feedback target that nothing knows yet is waited for (an inference still
    /// streaming, a record still on its way to the queue), as TensorZero's 6 s cooldown. Default 6 s.
    /// </summary>
    public TimeSpan FeedbackTargetWait { get; set; } = TimeSpan.FromSeconds(6);

    /// <summary>Timeout of one ClickHouse HTTP request. Default 30 s.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Validates once, where the options enter; every problem is listed.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        void Check(bool ok, string message)
        {
            if (!ok)
            {
                errors.Add($"{SectionName}:{message}");
            }
        }
        Check(!string.IsNullOrWhiteSpace(DataDir), "DataDir must be set");
        Check(BatchRows >= 1, "BatchRows must be at least 1");
        Check(BatchBytes >= 1024, "BatchBytes must be at least 1024");
        Check(FlushInterval > TimeSpan.Zero, "FlushInterval must be positive");
        Check(SegmentBytes >= 1024, "SegmentBytes must be at least 1024");
        Check(MaxQueueBytes >= SegmentBytes, "MaxQueueBytes must be at least SegmentBytes");
        Check(MaxRawBytes >= 0, "MaxRawBytes must not be negative");
        Check(MaxPendingRecords >= 1, "MaxPendingRecords must be at least 1");
        Check(RetryBaseDelay > TimeSpan.Zero && RetryMaxDelay >= RetryBaseDelay, "RetryBaseDelay must be positive and at most RetryMaxDelay");
        Check(DrainTimeout >= TimeSpan.Zero, "DrainTimeout must not be negative");
        Check(RequestTimeout > TimeSpan.Zero, "RequestTimeout must be positive");
        Check(RecentInferences >= 1, "RecentInferences must be at least 1");
        Check(FeedbackTargetWait >= TimeSpan.Zero, "FeedbackTargetWait must not be negative");
        return errors;
    }
}

/// <summary>What observability does in this process, decided once at start-up.</summary>
internal enum ObservabilityMode
{
    /// <summary><c>[gateway.observability] enabled = false</c>: nothing is recorded.</summary>
    Disabled,

    /// <summary>No ClickHouse URL: the queue's segment files are the store.</summary>
    Embedded,

    /// <summary>Records are queued on disk and shipped to ClickHouse.</summary>
    ClickHouse,
}

/// <summary>
/// A ClickHouse server from <c>http://user:pass@host:8123/database</c>: the HTTP base address, the database (the
/// URL's path; default <c>tensorzero</c>) and the credentials, which only <see cref="Authorization"/> carries.
/// <see cref="ToString"/> never shows the password.
/// </summary>
internal sealed class ClickHouseEndpoint
{
    public const string DefaultDatabase = "tensorzero";

    private ClickHouseEndpoint(Uri baseAddress, string database, AuthenticationHeaderValue? authorization, string display)
    {
        BaseAddress = baseAddress;
        Database = database;
        Authorization = authorization;
        Display = display;
    }

    /// <summary><c>http://host:port/</c>, without credentials or path.</summary>
    public Uri BaseAddress { get; }

    public string Database { get; }

    /// <summary>Basic credentials from the URL, or null.</summary>
    public AuthenticationHeaderValue? Authorization { get; }

    /// <summary>The URL with the password masked, for logs and /health.</summary>
    public string Display { get; }

    /// <summary>Parses the URL; on failure <paramref name="error"/> says why without echoing the URL (it may hold a password).</summary>
    public static bool TryParse(string url, out ClickHouseEndpoint? endpoint, out string? error)
    {
        endpoint = null;
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            error = "the ClickHouse URL must be an absolute http:// or https:// URL such as http://user:pass@host:8123/tensorzero";
            return false;
        }
        var database = Uri.UnescapeDataString(uri.AbsolutePath.Trim('/'));
        if (database.Length == 0)
        {
            database = DefaultDatabase;
        }
        if (database.Contains('/', StringComparison.Ordinal) || !database.All(c => char.IsAsciiLetterOrDigit(c) || c == '_'))
        {
            error = $"the ClickHouse database name '{database}' (the URL's path) must be letters, digits and '_'";
            return false;
        }

        AuthenticationHeaderValue? authorization = null;
        var user = "";
        if (uri.UserInfo.Length > 0)
        {
            var colon = uri.UserInfo.IndexOf(':', StringComparison.Ordinal);
            user = Uri.UnescapeDataString(colon < 0 ? uri.UserInfo : uri.UserInfo[..colon]);
            var password = colon < 0 ? "" : Uri.UnescapeDataString(uri.UserInfo[(colon + 1)..]);
            authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));
        }
        var baseAddress = new UriBuilder(uri.Scheme, uri.Host, uri.Port).Uri;
        var display = $"{uri.Scheme}://{(user.Length > 0 ? Uri.EscapeDataString(user) + ":***@" : "")}{uri.Authority}/{database}";
        endpoint = new ClickHouseEndpoint(baseAddress, database, authorization, display);
        error = null;
        return true;
    }

    public override string ToString() => Display;
}

/// <summary>The resolved observability settings of the process.</summary>
internal sealed class ObservabilitySettings
{
    public required ObservabilityMode Mode { get; init; }

    /// <summary>Whether <c>[gateway.observability] enabled = true</c> was set explicitly (an unreachable ClickHouse is then unhealthy).</summary>
    public required bool ExplicitlyEnabled { get; init; }

    public ClickHouseEndpoint? ClickHouse { get; init; }

    /// <summary>Single node, or the replicated cluster of <c>TENSORZERO_CLICKHOUSE_CLUSTER_NAME</c> the migrations run on.</summary>
    public ClickHouseDeployment Deployment { get; init; } = ClickHouseDeployment.SingleNode;

    public required ObservabilityOptions Options { get; init; }

    /// <summary>The data directory, absolute.</summary>
    public required string DataDir { get; init; }

    /// <summary>
    /// Decides the mode: <c>enabled = false</c> records nothing; otherwise a URL means ClickHouse and no URL the
    /// embedded store. <paramref name="clusterName"/> and <paramref name="overrideNonReplicated"/> are the values of
    /// <c>TENSORZERO_CLICKHOUSE_CLUSTER_NAME</c> and <c>TENSORZERO_OVERRIDE_NON_REPLICATED_CLICKHOUSE</c> (null: unset).
    /// Throws <see cref="ConfigException"/> for a bad URL, a bad cluster name or bad options.
    /// </summary>
    public static ObservabilitySettings Resolve(
        ObservabilityConfig config, string? clickHouseUrl, ObservabilityOptions options, string? clusterName = null, string? overrideNonReplicated = null)
    {
        var errors = options.Validate().ToList();
        ClickHouseEndpoint? endpoint = null;
        if (!string.IsNullOrWhiteSpace(clickHouseUrl) && !ClickHouseEndpoint.TryParse(clickHouseUrl.Trim(), out endpoint, out var urlError))
        {
            errors.Add("TENSORZERO_CLICKHOUSE_URL: " + urlError);
        }
        if (!ClickHouseDeployment.TryCreate(clusterName, overrideNonReplicated, out var deployment, out var deploymentErrors))
        {
            errors.AddRange(deploymentErrors);
        }
        if (errors.Count > 0)
        {
            throw new ConfigException(errors);
        }
        var mode = config.Enabled == false ? ObservabilityMode.Disabled
            : endpoint is not null ? ObservabilityMode.ClickHouse
            : ObservabilityMode.Embedded;
        return new ObservabilitySettings
        {
            Mode = mode,
            ExplicitlyEnabled = config.Enabled == true,
            ClickHouse = mode == ObservabilityMode.ClickHouse ? endpoint : null,
            Deployment = deployment,
            Options = options,
            DataDir = Path.GetFullPath(options.DataDir),
        };
    }
}
