using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace TensorZero.Proxy.Tests.TestSupport;

/// <summary>One log entry as a test sees it.</summary>
internal sealed record CapturedLog(string Category, LogLevel Level, EventId EventId, string Message);

/// <summary>
/// A logger provider (and logger) that keeps every entry it is given, for tests that assert on what the gateway logs.
/// Register it with <c>services.AddSingleton&lt;ILoggerProvider&gt;(capture)</c>, or use it directly as an <see cref="ILogger"/>.
/// </summary>
internal sealed class CapturingLogger : ILoggerProvider, ILogger
{
    private readonly ConcurrentQueue<CapturedLog> _entries = new();
    private readonly string _category;

    public CapturingLogger()
        : this(new ConcurrentQueue<CapturedLog>(), "test")
    {
    }

    private CapturingLogger(ConcurrentQueue<CapturedLog> entries, string category)
    {
        _entries = entries;
        _category = category;
    }

    public IReadOnlyList<CapturedLog> Entries => [.. _entries];

    /// <summary>Waits until an entry matches (polling; 30 s guard against a hang, not a timing assertion).</summary>
    public async Task<CapturedLog> WaitForAsync(Func<CapturedLog, bool> match)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            if (_entries.FirstOrDefault(match) is { } found)
            {
                return found;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("No matching log entry within 30 s. Logged: " + string.Join(" | ", _entries.Select(e => e.Message)));
            }
            await Task.Delay(10);
        }
    }

    public ILogger CreateLogger(string categoryName) => new CapturingLogger(_entries, categoryName);

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        _entries.Enqueue(new CapturedLog(_category, logLevel, eventId, formatter(state, exception)));

    public void Dispose()
    {
    }
}
