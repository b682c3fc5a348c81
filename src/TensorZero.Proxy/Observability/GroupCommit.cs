namespace TensorZero.Proxy.Observability;

/// <summary>
/// Group commit of items to a slow sink (the queue files): the caller that finds no write in progress becomes the
/// leader and writes, on its own thread, every item queued so far, batch after batch, until none is left (or
/// <c>leaderBatches</c> batches, then the background loop of <see cref="RunAsync"/> takes over). A caller that
/// finds a write in progress does not wait for a lock: it awaits the completion of the batch that will carry its
/// item, so one write(2) completes every caller whose item it carried, with one wake-up each.
/// A stalled sink holds nobody for long: a watchdog releases the callers of a batch that has been writing for
/// longer than <c>maxWait</c> (the items stay queued and are written when the sink recovers).
/// </summary>
/// <typeparam name="T">The queued item.</typeparam>
internal sealed class GroupCommit<T> : IDisposable
{
    private readonly Action<List<T>> _write;
    private readonly Action<int> _released;
    private readonly Action<List<T>, Exception> _failed;
    private readonly int _maxPending;
    private readonly int _leaderBatches;
    private readonly TimeProvider _time;
    private readonly long _maxWaitTicks;
    private readonly object _lock = new();
    private readonly SemaphoreSlim _handOver = new(0);
    private readonly ITimer _watchdog;
    private List<T> _pending = [];
    private List<T> _writingBatch = [];
    private bool _writing;
    private bool _handedOver;
    private bool _stopping;
    // Completed when the batch that takes the items now in _pending is written.
    private TaskCompletionSource? _next;
    private int _nextWaiters;
    // The batch being written: its completion, and when its write started (0: no write in progress).
    private TaskCompletionSource? _inflight;
    private int _inflightWaiters;
    private long _inflightSince;

    /// <param name="write">Writes one batch. Called by one thread at a time.</param>
    /// <param name="failed">Told of a batch whose write threw (its items are given up on; the next batch is written).</param>
    /// <param name="released">Told how many callers the watchdog released before their item was written.</param>
    /// <param name="maxPending">Items queued and not yet written, at most; past it <see cref="TryAdd"/> refuses.</param>
    /// <param name="leaderBatches">Batches a leading caller writes before handing over to the background loop.</param>
    /// <param name="maxWait">How long a caller waits for a write in progress, at most.</param>
    /// <param name="time">The clock of the watchdog.</param>
    public GroupCommit(Action<List<T>> write, Action<List<T>, Exception> failed, Action<int> released, int maxPending, int leaderBatches, TimeSpan maxWait, TimeProvider time)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxPending, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(leaderBatches, 1);
        _write = write;
        _failed = failed;
        _released = released;
        _maxPending = maxPending;
        _leaderBatches = leaderBatches;
        _time = time;
        _maxWaitTicks = (long)(maxWait.TotalSeconds * time.TimestampFrequency);
        var tick = TimeSpan.FromTicks(Math.Clamp(maxWait.Ticks / 2, TimeSpan.TicksPerMillisecond, TimeSpan.TicksPerSecond));
        _watchdog = time.CreateTimer(_ => Watchdog(), null, tick, tick);
    }

    /// <summary>Items queued and not yet written.</summary>
    public int PendingCount
    {
        get
        {
            lock (_lock)
            {
                return _pending.Count + _writingBatch.Count;
            }
        }
    }

    /// <summary>
    /// Queues <paramref name="item"/>; <paramref name="written"/> completes once it is written (or the wait ran
    /// out). False, with nothing queued, when the queue is full or stopping.
    /// </summary>
    public bool TryAdd(T item, out ValueTask written)
    {
        TaskCompletionSource? wait = null;
        lock (_lock)
        {
            if (_stopping || _pending.Count >= _maxPending)
            {
                written = default;
                return false;
            }
            _pending.Add(item);
            if (_writing)
            {
                wait = _next ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _nextWaiters++;
            }
            else
            {
                _writing = true;
            }
        }

        if (wait is not null)
        {
            written = new ValueTask(wait.Task);
            return true;
        }
        Drain(_leaderBatches);
        written = default;
        return true;
    }

    /// <summary>
    /// The background loop: writes what a leader handed over and what is left queued, until <see cref="Stop"/>,
    /// then drains what is queued and returns.
    /// </summary>
    public async Task RunAsync()
    {
        while (true)
        {
            await _handOver.WaitAsync(TimeSpan.FromMilliseconds(100)).ConfigureAwait(false);
            bool lead;
            bool done;
            lock (_lock)
            {
                lead = _handedOver || (!_writing && _pending.Count > 0);
                if (lead)
                {
                    _handedOver = false;
                    _writing = true;
                }
                done = _stopping && !_writing && _pending.Count == 0;
            }
            if (lead)
            {
                Drain(int.MaxValue);
            }
            else if (done)
            {
                return;
            }
        }
    }

    /// <summary>Refuses new items; <see cref="RunAsync"/> writes what is queued and returns.</summary>
    public void Stop()
    {
        lock (_lock)
        {
            _stopping = true;
        }
        _handOver.Release();
    }

    /// <summary>As the leader: writes batches until nothing is queued, or hands over after <paramref name="batches"/>.</summary>
    private void Drain(int batches)
    {
        for (var round = 0; ; round++)
        {
            TaskCompletionSource? done;
            lock (_lock)
            {
                if (_pending.Count == 0)
                {
                    _writing = false;
                    return;
                }
                if (round == batches)
                {
                    _handedOver = true;
                    _handOver.Release();
                    return;
                }
                (_pending, _writingBatch) = (_writingBatch, _pending);
                done = _next;
                _next = null;
                _inflight = done;
                _inflightWaiters = _nextWaiters;
                _nextWaiters = 0;
                _inflightSince = Math.Max(1, _time.GetTimestamp());
            }

            try
            {
                _write(_writingBatch);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                _failed(_writingBatch, ex);
            }
            finally
            {
                lock (_lock)
                {
                    _writingBatch.Clear();
                    _inflight = null;
                    _inflightWaiters = 0;
                    _inflightSince = 0;
                }
                done?.TrySetResult();
            }
        }
    }

    /// <summary>
    /// While a write has taken longer than the bound: releases its callers and those of the batch behind it, and
    /// on later ticks, the callers who queued since.
    /// </summary>
    private void Watchdog()
    {
        TaskCompletionSource? inflight;
        TaskCompletionSource? next;
        int released;
        lock (_lock)
        {
            if (_inflightSince == 0 || _time.GetTimestamp() - _inflightSince < _maxWaitTicks || (_inflight is null && _next is null))
            {
                return;
            }
            inflight = _inflight;
            next = _next;
            released = _inflightWaiters + _nextWaiters;
            _inflight = null;
            _next = null;
            _inflightWaiters = 0;
            _nextWaiters = 0;
        }
        _released(released);
        inflight?.TrySetResult();
        next?.TrySetResult();
    }

    public void Dispose()
    {
        _watchdog.Dispose();
        _handOver.Dispose();
    }
}
