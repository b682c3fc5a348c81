using Microsoft.Extensions.Logging;
using TensorZero.Proxy.Inference;

namespace TensorZero.Proxy;

/// <summary>
/// Every log message of the gateway. Event ids: 1xx start-up and configuration, 2xx inference attempts, 3xx resilience (circuits, retries).
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

    [LoggerMessage(300, LogLevel.Warning, "Circuit of provider '{Provider}' opened: it is skipped for {BreakMs} ms")]
    public static partial void CircuitOpened(ILogger logger, string provider, long breakMs);

    [LoggerMessage(301, LogLevel.Information, "Circuit of provider '{Provider}' closed: it is called again")]
    public static partial void CircuitClosed(ILogger logger, string provider);

    [LoggerMessage(200, LogLevel.Debug, "Attempt at provider '{Provider}' of model '{Model}': {Outcome} (status {Status}) after {ElapsedMs} ms")]
    public static partial void AttemptFinished(ILogger logger, string provider, string model, AttemptOutcome outcome, int? status, long elapsedMs);
}
