using Microsoft.Extensions.Logging;

namespace TensorZero.Proxy;

/// <summary>Rate limiting's log messages (event ids 530–549). A refusal is Debug: under load there is one per request.</summary>
internal static partial class Log
{
    [LoggerMessage(530, LogLevel.Debug, "Rate limited (retry after {RetryAfter} s): {Message}")]
    public static partial void RateLimited(ILogger logger, string retryAfter, string message);

    [LoggerMessage(531, LogLevel.Warning,
        "The rate limiting store {Url} is unavailable ({Reason}); requests subject to rate limits are refused with 503 until it is back (logged at most every 10 s)")]
    public static partial void RateLimitStoreUnavailable(ILogger logger, string url, string reason);

    [LoggerMessage(532, LogLevel.Warning, "Adjusting {Count} rate limit bucket(s) to the actual usage failed ({Reason}); they keep the estimate")]
    public static partial void RateLimitAdjustFailed(ILogger logger, int count, string reason);

    [LoggerMessage(533, LogLevel.Information, "Rate limiting: {RuleCount} rule(s) enforced through the Valkey/Redis store {Url}")]
    public static partial void RateLimitingEnforced(ILogger logger, int ruleCount, string url);
}
