using System.Buffers;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using TensorZero.Proxy.Inference;

namespace TensorZero.Proxy.Observability;

/// <summary>
/// The inference observer of observability (DESIGN.md §1 step 5, §7). A completing request queues its inference
/// and the records reach the two durable queues by group commit (<see cref="GroupCommit{T}"/>): the request that
/// finds no write in progress writes every record queued so far itself, one write(2) per table; one that finds a
/// write in progress awaits the batch that carries its record. The response completes once its record is in the
/// queue file, so a process killed right after its responses loses none of their records; uncontended, there is
/// no thread hop and no background wake-up on this path. The wait is bounded by
/// <see cref="ObservabilityOptions.DurableWriteWait"/>: a stalled disk never holds a client longer, and the
/// record stays queued until it is written. Dry runs are counted, never recorded.
/// </summary>
internal sealed class ObservabilityWriter : IInferenceObserver, IDisposable
{
    private readonly ObservabilitySettings _settings;
    private readonly GatewayMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger<ObservabilityWriter> _logger;
    private readonly Dictionary<RecordTable, Counters> _counters = new()
    {
        [RecordTable.ChatInference] = new Counters(),
        [RecordTable.ModelInference] = new Counters(),
    };

    private readonly GroupCommit<InferenceFeature> _commit;
    private readonly InferenceRecords _records;
    // Used by the one writer of the group commit only.
    private ArrayBufferWriter<byte> _chat = new(64 * 1024);
    private ArrayBufferWriter<byte> _model = new(64 * 1024);
    private FileStream? _lock;
    private Task _flusher = Task.CompletedTask;

    public ObservabilityWriter(ObservabilitySettings settings, GatewayMetrics metrics, TimeProvider time, ILogger<ObservabilityWriter> logger)
    {
        _settings = settings;
        _metrics = metrics;
        _time = time;
        _logger = logger;
        _records = new InferenceRecords(settings.Options.MaxRawBytes, time);
        _commit = new GroupCommit<InferenceFeature>(
            WriteBatch,
            BatchFailed,
            released => Interlocked.Add(ref _counters[RecordTable.ChatInference].SlowWrites, released),
            settings.Options.MaxPendingRecords,
            leaderBatches: 8,
            settings.Options.DurableWriteWait,
            time);
    }

    /// <summary>The queues, once <see cref="Start"/> has opened them.</summary>
    public SegmentQueue? Chat { get; private set; }

    public SegmentQueue? Model { get; private set; }

    /// <summary>Called after every append, so shippers need not poll.</summary>
    public event Action? RowsWritten;

    /// <inheritdoc />
    public ValueTask OnCompleted(HttpContext context, InferenceFeature inference)
    {
        _metrics.Record(inference);
        if (_settings.Mode == ObservabilityMode.Disabled || inference.Fields.DryRun)
        {
            return default;
        }
        if (!_commit.TryAdd(inference, out var written))
        {
            // A backlog this deep means the disk has stalled for long (or the gateway is stopping): count, never block.
            Interlocked.Increment(ref _counters[RecordTable.ChatInference].DroppedInMemory);
            Interlocked.Add(ref _counters[RecordTable.ModelInference].DroppedInMemory, inference.AttemptCount);
        }
        return written;
    }

    /// <summary>
    /// Takes the data folder (a lock file: one process per folder), resumes both queues from their segments and
    /// starts the background flusher. Throws <see cref="IOException"/> when another process holds the folder.
    /// </summary>
    public void Start()
    {
        Directory.CreateDirectory(_settings.DataDir);
        try
        {
            _lock = new FileStream(Path.Combine(_settings.DataDir, ".lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException ex)
        {
            throw new IOException($"The observability data folder '{_settings.DataDir}' is in use by another gateway process: {ex.Message}", ex);
        }
        var options = _settings.Options;
        Chat = SegmentQueue.Open(Path.Combine(_settings.DataDir, nameof(RecordTable.ChatInference)), options.SegmentBytes, options.MaxQueueBytes);
        Model = SegmentQueue.Open(Path.Combine(_settings.DataDir, nameof(RecordTable.ModelInference)), options.SegmentBytes, options.MaxQueueBytes);
        Log.QueueResumed(_logger, _settings.DataDir, Chat.PendingRows, Model.PendingRows);
        _flusher = Task.Run(FlushLoopAsync);
    }

    /// <summary>Stops taking records and waits (at most <paramref name="timeout"/>) until every taken one is on disk.</summary>
    public async Task StopAsync(TimeSpan timeout)
    {
        _commit.Stop();
        try
        {
            await _flusher.WaitAsync(timeout, _time);
        }
        catch (TimeoutException)
        {
            Log.WriterStopTimedOut(_logger, _commit.PendingCount);
        }
    }

    /// <summary>The table's numbers for /metrics.</summary>
    public QueueMetrics Metrics(RecordTable table)
    {
        var queue = table == RecordTable.ChatInference ? Chat : Model;
        var counters = _counters[table];
        return new QueueMetrics(table.ToString(), queue?.PendingRows ?? 0, queue?.PendingBytes ?? 0, queue?.WrittenRows ?? 0,
            queue?.ShippedRows ?? 0, queue?.DroppedRows ?? 0, Interlocked.Read(ref counters.DroppedInMemory), queue?.RejectedRows ?? 0,
            Interlocked.Read(ref counters.WriteErrors), Interlocked.Read(ref counters.SlowWrites));
    }

    /// <summary>Writes what requests handed over or left queued, drains at shutdown, then closes the segments.</summary>
    private async Task FlushLoopAsync()
    {
        await _commit.RunAsync();
        Chat!.CloseActive();
        Model!.CloseActive();
    }

    /// <summary>As the group commit's one writer: serializes the batch and appends it, one write per table and megabyte.</summary>
    private void WriteBatch(List<InferenceFeature> batch)
    {
        var next = 0;
        while (next < batch.Count)
        {
            _chat.ResetWrittenCount();
            _model.ResetWrittenCount();
            var chatRows = 0;
            var modelRows = 0;
            // Group the batch into one write per table, but not unboundedly.
            for (; next < batch.Count && _chat.WrittenCount < 1024 * 1024; next++)
            {
                var inference = batch[next];
                var chatMark = _chat.WrittenCount;
                var modelMark = _model.WrittenCount;
                try
                {
                    var (c, m) = _records.Write(inference, _chat, _model);
                    chatRows += c;
                    modelRows += m;
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    // A record that cannot be serialized must not take the others down; half-written rows are cut off.
                    Log.RecordFailed(_logger, inference.InferenceId, ex);
                    Truncate(ref _chat, chatMark);
                    Truncate(ref _model, modelMark);
                    Interlocked.Increment(ref _counters[RecordTable.ChatInference].WriteErrors);
                }
            }
            Append(Chat!, RecordTable.ChatInference, _chat, chatRows);
            Append(Model!, RecordTable.ModelInference, _model, modelRows);
            RowsWritten?.Invoke();
        }
    }

    private void BatchFailed(List<InferenceFeature> batch, Exception ex)
    {
        Interlocked.Add(ref _counters[RecordTable.ChatInference].WriteErrors, batch.Count);
        Log.BatchFailed(_logger, batch.Count, ex);
    }

    private void Append(SegmentQueue queue, RecordTable table, ArrayBufferWriter<byte> rows, int count)
    {
        try
        {
            queue.Append(rows.WrittenSpan, count);
        }
        catch (IOException ex)
        {
            // Disk full or the folder gone: these rows are lost, the gateway goes on serving.
            Interlocked.Add(ref _counters[table].WriteErrors, count);
            Log.QueueWriteFailed(_logger, table.ToString(), count, ex);
            queue.CloseActive();
        }
    }

    private static void Truncate(ref ArrayBufferWriter<byte> buffer, int length)
    {
        if (buffer.WrittenCount == length)
        {
            return;
        }
        var kept = buffer.WrittenSpan[..length].ToArray();
        buffer = new ArrayBufferWriter<byte>(Math.Max(kept.Length, 64 * 1024));
        buffer.Write(kept);
    }

    public void Dispose()
    {
        _commit.Dispose();
        Chat?.Dispose();
        Model?.Dispose();
        _lock?.Dispose();
    }

    private sealed class Counters
    {
        public long DroppedInMemory;
        public long WriteErrors;
        public long SlowWrites;
    }
}
