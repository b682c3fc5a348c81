namespace TensorZero.Proxy;

/// <summary>
/// Lets a repeated log line through at most once per interval, across threads: while a shared store is down every
/// request meets the same failure, and one line per request would flood the log without saying more.
/// </summary>
internal sealed class LogInterval
{
    private readonly TimeProvider _time;
    private long _last = long.MinValue;

    public LogInterval(TimeProvider time, TimeSpan interval)
    {
        _time = time;
        Interval = interval;
    }

    /// <summary>The shortest time between two lines.</summary>
    public TimeSpan Interval { get; }

    /// <summary>True for the first call and then at most once per <see cref="Interval"/> (one caller wins a race).</summary>
    public bool TryEnter()
    {
        var now = _time.GetTimestamp();
        var last = Interlocked.Read(ref _last);
        return (last == long.MinValue || _time.GetElapsedTime(last, now) >= Interval)
            && Interlocked.CompareExchange(ref _last, now, last) == last;
    }
}
