using Microsoft.Extensions.Logging;
using TensorZero.Proxy.Inference;

namespace TensorZero.Proxy;

/// <summary>
/// Every log message of the gateway. Event ids: 1xx start-up and configuration, 2xx inference attempts, 3xx resilience (circuits, retries),
/// 4xx observability (queue, ClickHouse, 42x feedback).
/// Messages quote ids; they never carry a credential or a request body.
/// </summary>
internal static partial class Log
{
    [LoggerMessage(100, LogLevel.Information, "Loaded configuration '{Path}': {ModelCount} model(s)")]
    public static partial void ConfigLoaded(ILogger logger, string path, int modelCount);

    [LoggerMessage(102, LogLevel.Warning, "Configuration warning: {Warning}")]
    public static partial void ConfigWarning(ILogger logger, string warning);

    [LoggerMessage(101, LogLevel.Information, "Listening on {Address} (from [gateway] bind_address)")]
    public static partial void BindAddress(ILogger logger, string address);

    [LoggerMessage(110, LogLevel.Information, "Reloaded configuration '{Path}' ({Reason}): {ModelCount} model(s), {FunctionCount} function(s)")]
    public static partial void ConfigReloaded(ILogger logger, string path, string reason, int modelCount, int functionCount);

    [LoggerMessage(111, LogLevel.Error, "Reloading configuration '{Path}' ({Reason}) failed with {Count} error(s); the previous configuration keeps serving")]
    public static partial void ConfigReloadFailed(ILogger logger, string path, string reason, int count);

    [LoggerMessage(112, LogLevel.Error, "Configuration error: {Error}")]
    public static partial void ConfigReloadError(ILogger logger, string error);

    [LoggerMessage(113, LogLevel.Warning, "Configuration reload: '{Key}' changed, but it is read only at start-up; it takes effect at restart (keeping {Value} until then)")]
    public static partial void ConfigRestartRequired(ILogger logger, string key, string value);

    [LoggerMessage(114, LogLevel.Warning, "Cannot watch '{Directory}' for configuration changes: {Problem}")]
    public static partial void ConfigWatchFailed(ILogger logger, string directory, string problem);

    [LoggerMessage(115, LogLevel.Information, "Configuration reload is off (TensorZero:ReloadOnChange = false)")]
    public static partial void ConfigReloadOff(ILogger logger);

    [LoggerMessage(116, LogLevel.Error, "Reloading configuration '{Path}' failed unexpectedly; the previous configuration keeps serving")]
    public static partial void ConfigReloadCrashed(ILogger logger, string path, Exception exception);

    [LoggerMessage(117, LogLevel.Debug, "Watching {Count} folder(s) for configuration changes: {Directories}")]
    public static partial void ConfigWatching(ILogger logger, int count, string directories);

    [LoggerMessage(201, LogLevel.Debug, "Provider '{Provider}' of model '{Model}' has no loaded YARP cluster (a reload ran during this request); sent through the standby client")]
    public static partial void StandbyClient(ILogger logger, string provider, string model);

    [LoggerMessage(300, LogLevel.Warning, "Circuit of provider '{Provider}' opened: it is skipped for {BreakMs} ms")]
    public static partial void CircuitOpened(ILogger logger, string provider, long breakMs);

    [LoggerMessage(301, LogLevel.Information, "Circuit of provider '{Provider}' closed: it is called again")]
    public static partial void CircuitClosed(ILogger logger, string provider);

    [LoggerMessage(400, LogLevel.Information, "Observability: {Mode} (ClickHouse {ClickHouse}, data folder '{DataDir}')")]
    public static partial void ObservabilityMode(ILogger logger, string mode, string clickHouse, string dataDir);

    [LoggerMessage(430, LogLevel.Information, "ClickHouse at {ClickHouse}: {Deployment} (TENSORZERO_CLICKHOUSE_CLUSTER_NAME; it applies only to self-hosted replicated ClickHouse, not to a single server or ClickHouse Cloud)")]
    public static partial void ClickHouseDeployment(ILogger logger, string clickHouse, string deployment);

    [LoggerMessage(401, LogLevel.Information, "Observability queue resumed from '{DataDir}': {Rows} row(s) waiting ({Tables})")]
    public static partial void QueueResumed(ILogger logger, string dataDir, long rows, string tables);

    [LoggerMessage(402, LogLevel.Information, "ClickHouse migrations at {ClickHouse}: {Count} applied ({Versions})")]
    public static partial void MigrationsApplied(ILogger logger, string clickHouse, int count, string versions);

    [LoggerMessage(403, LogLevel.Warning, "ClickHouse migrations at {ClickHouse} failed, will retry: {Problem}")]
    public static partial void MigrationFailed(ILogger logger, string clickHouse, string problem);

    [LoggerMessage(404, LogLevel.Warning, "ClickHouse at {ClickHouse} is unreachable ({Problem}); records stay queued on disk and are retried")]
    public static partial void ClickHouseUnreachable(ILogger logger, string clickHouse, string problem);

    [LoggerMessage(405, LogLevel.Information, "ClickHouse at {ClickHouse} is reachable; shipping the queued records")]
    public static partial void ClickHouseReachable(ILogger logger, string clickHouse);

    [LoggerMessage(406, LogLevel.Debug, "Sending {Rows} {Table} row(s) to ClickHouse at {ClickHouse} failed ({Problem}); {Pending} row(s) queued")]
    public static partial void ShipFailed(ILogger logger, string table, int rows, string clickHouse, string problem, long pending);

    [LoggerMessage(407, LogLevel.Error, "ClickHouse refused {Rows} {Table} row(s) as malformed; they are kept in the queue's rejected/ folder: {Problem}")]
    public static partial void BatchRejected(ILogger logger, string table, int rows, string problem);

    [LoggerMessage(408, LogLevel.Error, "Inference {InferenceId} could not be turned into observability rows; it is not recorded")]
    public static partial void RecordFailed(ILogger logger, Guid inferenceId, Exception exception);

    [LoggerMessage(409, LogLevel.Error, "Writing {Rows} {Table} row(s) to the observability queue failed; they are lost")]
    public static partial void QueueWriteFailed(ILogger logger, string table, int rows, Exception exception);

    [LoggerMessage(410, LogLevel.Warning, "Reading the {Table} observability queue failed; retrying")]
    public static partial void QueueReadFailed(ILogger logger, string table, Exception exception);

    [LoggerMessage(411, LogLevel.Warning, "Observability writer did not finish within the drain time; {Records} record(s) in memory are lost")]
    public static partial void WriterStopTimedOut(ILogger logger, int records);

    [LoggerMessage(412, LogLevel.Information, "Observability stopped; row(s) that stay queued on disk for the next start: {Tables}")]
    public static partial void ObservabilityStopped(ILogger logger, string tables);

    [LoggerMessage(413, LogLevel.Error, "Writing a batch of {Records} inference record(s) to the observability queue failed; they are lost")]
    public static partial void BatchFailed(ILogger logger, int records, Exception exception);

    [LoggerMessage(414, LogLevel.Error, "A {Table} row could not be serialized; it is not recorded")]
    public static partial void RowFailed(ILogger logger, string table, Exception exception);

    [LoggerMessage(420, LogLevel.Warning, "Feedback {FeedbackId} could not be queued for {Table} (queue full or stopping); the client was told to retry")]
    public static partial void FeedbackNotQueued(ILogger logger, Guid feedbackId, string table);

    [LoggerMessage(202, LogLevel.Warning, "Provider '{Provider}' of model '{Model}' failed: {Outcome} (status {Status}) after {ElapsedMs} ms{Detail}; failing over to provider '{Next}'")]
    public static partial void FailingOver(ILogger logger, string provider, string model, AttemptOutcome outcome, int? status, long elapsedMs, string detail, string next);

    [LoggerMessage(203, LogLevel.Warning, "Provider '{Provider}' of model '{Model}' failed: {Outcome} (status {Status}) after {ElapsedMs} ms{Detail}; no further provider of the model is tried")]
    public static partial void AttemptFailed(ILogger logger, string provider, string model, AttemptOutcome outcome, int? status, long elapsedMs, string detail);

    [LoggerMessage(204, LogLevel.Warning, "Provider '{Provider}' of model '{Model}' answered status {Status} after {ElapsedMs} ms; the answer was returned to the client")]
    public static partial void UpstreamErrorAnswered(ILogger logger, string provider, string model, int status, long elapsedMs);

    [LoggerMessage(200, LogLevel.Debug, "Attempt at provider '{Provider}' of model '{Model}': {Outcome} (status {Status}) after {ElapsedMs} ms")]
    public static partial void AttemptFinished(ILogger logger, string provider, string model, AttemptOutcome outcome, int? status, long elapsedMs);

    [LoggerMessage(500, LogLevel.Information, "Valkey/Redis store {Url}: connected at start {Connected} (reconnects in the background when not)")]
    public static partial void ValkeyConnecting(ILogger logger, string url, bool connected);

    [LoggerMessage(550, LogLevel.Warning, "Model inference cache store failed ({Error}); requests go on as cache misses (logged at most every 30 s)")]
    public static partial void CacheStoreFailed(ILogger logger, string error);
}
