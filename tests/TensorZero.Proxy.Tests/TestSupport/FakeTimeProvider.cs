namespace TensorZero.Proxy.Tests.TestSupport;

/// <summary>
/// A manual clock: time moves only by <see cref="Advance"/>, which fires due timers in order. The registry
/// has no Microsoft.Extensions.TimeProvider.Testing, so this is the small replacement the tests need.
/// </summary>
internal sealed class FakeTimeProvider : TimeProvider
{
    private readonly object _lock = new();
    private readonly List<FakeTimer> _timers = [];
    private readonly List<TimeSpan> _oneShotsFired = [];
    private long _ticks;

    public FakeTimeProvider(DateTimeOffset start)
    {
        Start = start;
    }

    public FakeTimeProvider()
        : this(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero))
    {
    }

    public DateTimeOffset Start { get; }

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp()
    {
        lock (_lock)
        {
            return _ticks;
        }
    }

    public override DateTimeOffset GetUtcNow() => Start.AddTicks(GetTimestamp());

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new FakeTimer(this, callback, state);
        timer.Change(dueTime, period);
        return timer;
    }

    /// <summary>Moves time forward, firing every timer that falls due on the way, at its due time.</summary>
    public void Advance(TimeSpan by)
    {
        long target;
        lock (_lock)
        {
            target = _ticks + by.Ticks;
        }
        while (true)
        {
            FakeTimer? due;
            lock (_lock)
            {
                due = _timers.Where(t => t.DueAt <= target).MinBy(t => t.DueAt);
                if (due is null)
                {
                    _ticks = target;
                    return;
                }
                _ticks = Math.Max(_ticks, due.DueAt);
                if (due.Period > 0)
                {
                    due.DueAt += due.Period;
                }
                else
                {
                    _timers.Remove(due);
                    _oneShotsFired.Add(TimeSpan.FromTicks(due.DueAt));
                }
            }
            due.Fire();
        }
    }

    /// <summary>
    /// When each one-shot timer (a deadline, a delay) fired, as time since the start, in firing order. A timer fires
    /// at its due time even when one <see cref="Advance"/> passes it, so this shows a deadline's exact value.
    /// </summary>
    public IReadOnlyList<TimeSpan> OneShotsFired
    {
        get
        {
            lock (_lock)
            {
                return [.. _oneShotsFired];
            }
        }
    }

    /// <summary>Number of timers waiting to fire.</summary>
    public int PendingTimers
    {
        get
        {
            lock (_lock)
            {
                return _timers.Count;
            }
        }
    }

    private sealed class FakeTimer(FakeTimeProvider owner, TimerCallback callback, object? state) : ITimer
    {
        public long DueAt { get; set; }

        public long Period { get; private set; }

        public void Fire() => callback(state);

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            lock (owner._lock)
            {
                owner._timers.Remove(this);
                if (dueTime == Timeout.InfiniteTimeSpan)
                {
                    return true;
                }
                DueAt = owner._ticks + dueTime.Ticks;
                Period = period == Timeout.InfiniteTimeSpan ? 0 : period.Ticks;
                owner._timers.Add(this);
            }
            return true;
        }

        public void Dispose()
        {
            lock (owner._lock)
            {
                owner._timers.Remove(this);
            }
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return default;
        }
    }
}
