using Microsoft.Extensions.Time.Testing;

namespace TensorZero.Proxy.Tests.TestSupport;

/// <summary>
/// Microsoft's <see cref="FakeTimeProvider"/> (its clock, its timers and the order it fires them in) plus two things
/// it keeps to itself: how many of its timers are waiting (<see cref="PendingTimers"/>), and when each one-shot timer
/// that fired was due (<see cref="OneShotsFired"/>).
/// </summary>
/// <remarks>
/// Some tests move the clock only while the code under test waits on it, so the virtual time they read is exactly
/// the sum of the waits. Others prove a deadline's exact value: <see cref="FakeTimeProvider.Advance"/> fires every
/// timer it passes with the clock already at the target, so only the due time tells a 400 ms deadline from a 300 ms one.
/// </remarks>
internal sealed class WatchedFakeTimeProvider : FakeTimeProvider
{
    private readonly object _lock = new();
    private readonly HashSet<WatchedTimer> _pending = [];
    private readonly List<TimeSpan> _oneShotsFired = [];

    public WatchedFakeTimeProvider()
    {
    }

    public WatchedFakeTimeProvider(DateTimeOffset start)
        : base(start)
    {
    }

    /// <summary>Number of timers waiting to fire.</summary>
    public int PendingTimers
    {
        get
        {
            lock (_lock)
            {
                return _pending.Count;
            }
        }
    }

    /// <summary>When each one-shot timer (a deadline, a delay) that fired was due, as time since <see cref="FakeTimeProvider.Start"/>, in firing order.</summary>
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

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        // The inner timer is Microsoft's; it calls back through the watcher, which is what keeps it scheduled.
        var timer = new WatchedTimer(this, callback, state);
        timer.Inner = base.CreateTimer(static s => ((WatchedTimer)s!).Fire(), timer, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        timer.Change(dueTime, period);
        return timer;
    }

    private sealed class WatchedTimer(WatchedFakeTimeProvider owner, TimerCallback callback, object? state) : ITimer
    {
        private DateTimeOffset _dueAt;
        private TimeSpan _period;

        public ITimer Inner { get; set; } = null!;

        public void Fire()
        {
            lock (owner._lock)
            {
                if (_period <= TimeSpan.Zero)
                {
                    owner._pending.Remove(this);
                    owner._oneShotsFired.Add(_dueAt - owner.Start);
                }
                else
                {
                    _dueAt += _period;
                }
            }
            callback(state);
        }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            var now = owner.GetUtcNow();
            lock (owner._lock)
            {
                if (dueTime == Timeout.InfiniteTimeSpan)
                {
                    owner._pending.Remove(this);
                }
                else
                {
                    _dueAt = now + dueTime;
                    _period = period == Timeout.InfiniteTimeSpan ? TimeSpan.Zero : period;
                    owner._pending.Add(this);
                }
            }
            // Outside the lock: a timer due now fires inside Change.
            return Inner.Change(dueTime, period);
        }

        public void Dispose()
        {
            lock (owner._lock)
            {
                owner._pending.Remove(this);
            }
            Inner.Dispose();
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return default;
        }
    }
}
