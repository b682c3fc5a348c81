using Microsoft.Extensions.Logging;

namespace TensorZero.Proxy;

/// <summary>API key auth's log messages (event ids 510–529). They name a key by its public id, never its secret.</summary>
internal static partial class Log
{
    [LoggerMessage(510, LogLevel.Information, "Gateway auth is on: TensorZero API keys are checked against {Store}, each replica remembering an answer for {TtlMs} ms (cache {Cache})")]
    public static partial void AuthEnabled(ILogger logger, string store, long ttlMs, string cache);

    [LoggerMessage(511, LogLevel.Debug, "Request {Method} {Path} refused (401): {Reason}")]
    public static partial void AuthRefused(ILogger logger, string method, string path, string reason);

    [LoggerMessage(512, LogLevel.Error, "Cannot check API key '{PublicId}': the API key store is unreachable; request {Method} {Path} answered 503 (logged at most every 10 s while it lasts)")]
    public static partial void AuthStoreUnavailable(ILogger logger, string publicId, string method, string path, Exception exception);
}
