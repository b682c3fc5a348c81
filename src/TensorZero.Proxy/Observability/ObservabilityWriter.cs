using System.Buffers;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using TensorZero.Proxy.Inference;

namespace TensorZero.Proxy.Observability;

/// <summary>
/// The inference observer of observability (DESIGN.md §1 step 5, §7). A completing request enqueues its
/// inference and then writes the queued records to the two durable queues itself, holding one append gate
/// (group commit: whoever holds the gate writes every record queued so far, one write(2) per table). The
/// response completes once its record is in the queue file, so a process killed right after its responses
/// loses none of their records; uncontended, there is no thread hop and no background wake-up on this path.
/// Waiting for the gate is asynchronous and bounded by <see cref="ObservabilityOptions.DurableWriteWait"/>: a stalled disk never holds a
/// client longer, and a background flusher writes what such a request left queued. Dry runs are counted,
/// never recorded.
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

    // Records waiting to be written, in sequence order (the enqueue lock keeps sequence and queue order equal).
    private readonly Queue<(InferenceFeature Inference, long Sequence)> _pending = new();
    private readonly object _enqueueLock = new();
    // The append gate: one writer at a time. A SemaphoreSlim, not a lock: a request that must wait for it waits
    // asynchronously and never blocks a thread-pool thread.
    private readonly SemaphoreSlim _appendGate = new(1, 1);
    private readonly InferenceRecords _records;
    private readonly TimeSpan _durableWait;
    private readonly SemaphoreSlim _flushSignal = new(0);
    private ArrayBufferWriter<byte> _chat = new(64 * 1024);
    private ArrayBufferWriter<byte> _model = new(64 * 1024);
    private long _enqueued;
    private long _written;
    private volatile bool _stopping;
    private FileStream? _lock;
    private Task _flusher = Task.CompletedTask;

    public ObservabilityWriter(ObservabilitySettings settings, GatewayMetrics metrics, TimeProvider time, ILogger<ObservabilityWriter> logger)
    {
        _settings = settings;
        _metrics = metrics;
        _time = time;
        _logger = logger;
        _durableWait = settings.Options.DurableWriteWait;
        _records = new InferenceRecords(settings.Options.MaxRawBytes, time);
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

        long sequence;
        lock (_enqueueLock)
        {
            if (_stopping || _pending.Count >= _settings.Options.MaxPendingRecords)
            {
                // A backlog this deep means the disk has stalled for long: count, never block.
                Interlocked.Increment(ref _counters[RecordTable.ChatInference].DroppedInMemory);
                Interlocked.Add(ref _counters[RecordTable.ModelInference].DroppedInMemory, inference.AttemptCount);
                return default;
            }
            sequence = ++_enqueued;
            _pending.Enqueue((inference, sequence));
        }

        // Write it (and whatever else is queued) now. When another request holds the gate, wait for it
        // asynchronously, at most the bound; past it the flusher writes the record and this response completes.
        if (_appendGate.Wait(0))
        {
            WriteAndRelease(sequence);
            return default;
        }
        return WaitForGateAsync(sequence);
    }

    private async ValueTask WaitForGateAsync(long sequence)
    {
        if (await _appendGate.WaitAsync(_durableWait))
        {
            WriteAndRelease(sequence);
            return;
        }
        Interlocked.Increment(ref _counters[RecordTable.ChatInference].SlowWrites);
        _flushSignal.Release();
    }

    /// <summary>Holding the gate: writes everything queued unless a previous holder already wrote this record.</summary>
    private void WriteAndRelease(long sequence)
    {
        try
        {
            if (Volatile.Read(ref _written) < sequence)
            {
                WritePending();
            }
        }
        finally
        {
            _appendGate.Release();
        }
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
        lock (_enqueueLock)
        {
            _stopping = true;
        }
        _flushSignal.Release();
        try
        {
            await _flusher.WaitAsync(timeout, _time);
        }
        catch (TimeoutException)
        {
            int left;
            lock (_enqueueLock)
            {
                left = _pending.Count;
            }
            Log.WriterStopTimedOut(_logger, left);
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

    /// <summary>Writes what requests left queued (their wait for the append lock ran out) and drains at shutdown.</summary>
    private async Task FlushLoopAsync()
    {
        while (!_stopping)
        {
            await _flushSignal.WaitAsync(TimeSpan.FromMilliseconds(100));
            await FlushAsync();
        }
        await FlushAsync();
        await _appendGate.WaitAsync();
        try
        {
            Chat!.CloseActive();
            Model!.CloseActive();
        }
        finally
        {
            _appendGate.Release();
        }
    }

    private async Task FlushAsync()
    {
        await _appendGate.WaitAsync();
        try
        {
            WritePending();
        }
        finally
        {
            _appendGate.Release();
        }
    }

    /// <summary>Holding the append gate: serializes every queued record and appends them, one write per table.</summary>
    private void WritePending()
    {
        while (true)
        {
            _chat.ResetWrittenCount();
            _model.ResetWrittenCount();
            var chatRows = 0;
            var modelRows = 0;
            var lastSequence = 0L;
            // Group what is waiting into one write per table, but not unboundedly.
            while (_chat.WrittenCount < 1024 * 1024)
            {
                (InferenceFeature Inference, long Sequence) item;
                lock (_enqueueLock)
                {
                    if (!_pending.TryDequeue(out item))
                    {
                        break;
                    }
                }
                lastSequence = item.Sequence;
                var chatMark = _chat.WrittenCount;
                var modelMark = _model.WrittenCount;
                try
                {
                    var (c, m) = _records.Write(item.Inference, _chat, _model);
                    chatRows += c;
                    modelRows += m;
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    // A record that cannot be serialized must not take the others down; half-written rows are cut off.
                    Log.RecordFailed(_logger, item.Inference.InferenceId, ex);
                    Truncate(ref _chat, chatMark);
                    Truncate(ref _model, modelMark);
                    Interlocked.Increment(ref _counters[RecordTable.ChatInference].WriteErrors);
                }
            }
            if (lastSequence == 0)
            {
                return;
            }
            Append(Chat!, RecordTable.ChatInference, _chat, chatRows);
            Append(Model!, RecordTable.ModelInference, _model, modelRows);
            // Written, or given up on after a write error (counted): either way no response waits for it.
            Volatile.Write(ref _written, lastSequence);
            RowsWritten?.Invoke();
        }
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
        _flushSignal.Dispose();
        _appendGate.Dispose();
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
