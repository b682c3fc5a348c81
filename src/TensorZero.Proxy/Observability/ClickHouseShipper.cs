using Microsoft.Extensions.Logging;

namespace TensorZero.Proxy.Observability;

/// <summary>
/// Applies the migrations once per process before anything is shipped, and again if ClickHouse reports the
/// database or a table missing (someone dropped it): the shippers of both tables share one.
/// </summary>
internal sealed class MigrationGate
{
    private readonly ClickHouseClient _client;
    private readonly ClickHouseDeployment _deployment;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _mutex = new(1, 1);
    private volatile bool _done;

    public MigrationGate(ClickHouseClient client, ClickHouseDeployment deployment, TimeProvider time, ILogger logger)
    {
        _client = client;
        _deployment = deployment;
        _time = time;
        _logger = logger;
    }

    /// <summary>Applies what is missing; throws <see cref="ClickHouseException"/> when ClickHouse is not there.</summary>
    public async Task EnsureAsync(CancellationToken cancellationToken)
    {
        if (_done)
        {
            return;
        }
        await _mutex.WaitAsync(cancellationToken);
        try
        {
            if (!_done)
            {
                var applied = await ClickHouseMigrations.ApplyAsync(_client, _deployment, _time, cancellationToken);
                Log.MigrationsApplied(_logger, _client.Endpoint.Display, applied.Count, string.Join(", ", applied));
                _done = true;
            }
        }
        finally
        {
            _mutex.Release();
        }
    }

    /// <summary>The schema went away: apply the migrations again before the next batch.</summary>
    public void Invalidate() => _done = false;
}

/// <summary>
/// Ships one table's queue to ClickHouse (DESIGN.md §7): batches of up to <c>BatchRows</c> rows, sent at once when
/// that many wait, else when the oldest has waited <c>FlushInterval</c>; acknowledged batches move the queue's
/// cursor (and finished segments are deleted). A failure is retried with exponential backoff and jitter while
/// the queue keeps growing on disk; when ClickHouse is back the backlog goes in order. Rows ClickHouse refuses
/// as malformed are set aside in <c>rejected/</c> so they cannot block the queue.
/// </summary>
internal sealed class ClickHouseShipper
{
    private readonly string _table;
    private readonly SegmentQueue _queue;
    private readonly ClickHouseClient _client;
    private readonly MigrationGate _migrations;
    private readonly ClickHouseHealth _health;
    private readonly ObservabilityOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private TaskCompletionSource _signal = NewSignal();
    private volatile bool _draining;

    public ClickHouseShipper(
        RecordTable table, SegmentQueue queue, ClickHouseClient client, MigrationGate migrations, ClickHouseHealth health,
        ObservabilityOptions options, TimeProvider time, ILogger logger)
    {
        _table = table.ToString();
        _queue = queue;
        _client = client;
        _migrations = migrations;
        _health = health;
        _options = options;
        _time = time;
        _logger = logger;
    }

    /// <summary>Rows were written: re-check whether a batch is due.</summary>
    public void Notify() => Interlocked.Exchange(ref _signal, NewSignal()).TrySetResult();

    /// <summary>From now on ship whatever is queued without waiting for batches to fill, and return once empty.</summary>
    public void BeginDrain()
    {
        _draining = true;
        Notify();
    }

    /// <summary>Runs until <paramref name="stopping"/> fires, or until the queue is empty once draining.</summary>
    public async Task RunAsync(CancellationToken stopping)
    {
        var failures = 0;
        var lastShipped = _time.GetTimestamp();
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                var signal = Volatile.Read(ref _signal).Task;
                var pending = _queue.PendingRows;
                if (pending == 0 && _draining)
                {
                    return;
                }
                var waited = _time.GetElapsedTime(lastShipped);
                var due = pending > 0 && (_draining || pending >= _options.BatchRows || waited >= _options.FlushInterval);
                if (!due)
                {
                    await WaitAsync(signal, pending > 0 ? _options.FlushInterval - waited : _options.FlushInterval, stopping);
                    if (pending == 0)
                    {
                        lastShipped = _time.GetTimestamp(); // The interval counts from when rows start waiting.
                    }
                    continue;
                }

                var shipped = await ShipOneBatchAsync(stopping);
                if (shipped is null)
                {
                    // Counted but not readable yet: look again shortly.
                    await WaitAsync(signal, _options.RetryBaseDelay, stopping);
                    continue;
                }
                if (shipped.Value)
                {
                    failures = 0;
                    if (_queue.PendingRows < _options.BatchRows)
                    {
                        lastShipped = _time.GetTimestamp();
                    }
                    continue;
                }
                failures++;
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // The queue's files (cursor, segments) could not be read or written: retry like a failed send.
                Log.QueueReadFailed(_logger, _table, ex);
                failures++;
            }
            await WaitAsync(null, Backoff(failures), stopping);
        }
    }

    /// <summary>True: shipped (or set aside); false: failed, retry later; null: nothing readable.</summary>
    private async Task<bool?> ShipOneBatchAsync(CancellationToken stopping)
    {
        try
        {
            await _migrations.EnsureAsync(stopping);
        }
        catch (ClickHouseException ex)
        {
            _health.Report(reachable: ex.Result.Status != ClickHouseStatus.Unreachable, ex.Message);
            Log.MigrationFailed(_logger, _client.Endpoint.Display, ex.Message);
            return false;
        }

        var batch = _queue.Peek(_options.BatchRows, _options.BatchBytes);
        if (batch is null)
        {
            return null;
        }
        var result = await _client.InsertAsync(_table, batch.Bytes, stopping);
        switch (result.Status)
        {
            case ClickHouseStatus.Ok:
                _health.Report(reachable: true);
                _queue.Acknowledge(batch);
                return true;
            case ClickHouseStatus.Rejected:
                _health.Report(reachable: true);
                Log.BatchRejected(_logger, _table, batch.Rows, result.Message);
                _queue.Reject(batch);
                return true;
            default:
                _health.Report(reachable: result.Status != ClickHouseStatus.Unreachable, result.Message);
                if (result.ErrorCode is 60 or 81)
                {
                    _migrations.Invalidate(); // Unknown table / database: the schema was dropped.
                }
                Log.ShipFailed(_logger, _table, batch.Rows, _client.Endpoint.Display, result.Message, _queue.PendingRows);
                return false;
        }
    }

    /// <summary>Exponential backoff from RetryBaseDelay, capped at RetryMaxDelay, with full jitter on its upper half.</summary>
    internal TimeSpan Backoff(int failures)
    {
        var exponent = Math.Min(failures - 1, 30);
        var ceiling = Math.Min(_options.RetryMaxDelay.TotalMilliseconds, _options.RetryBaseDelay.TotalMilliseconds * Math.Pow(2, exponent));
        return TimeSpan.FromMilliseconds(ceiling * (0.5 + Random.Shared.NextDouble() * 0.5));
    }

    private async Task WaitAsync(Task? signal, TimeSpan delay, CancellationToken stopping)
    {
        if (delay <= TimeSpan.Zero)
        {
            return;
        }
        using var timer = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        var sleep = Task.Delay(delay, _time, timer.Token);
        await (signal is null ? sleep : Task.WhenAny(sleep, signal)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        timer.Cancel();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
