using System.Buffers;
using System.Threading.Channels;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using TensorZero.Proxy.Inference;

namespace TensorZero.Proxy.Observability;

/// <summary>
/// The inference observer of observability (DESIGN.md §1 step 5, §7). <see cref="OnCompleted"/> counts the
/// inference in the metrics and hands it to a bounded channel, nothing more: it never blocks and never throws.
/// One writer task drains the channel, turns each inference into rows (parsing captured bodies here, off the
/// client's path) and appends them to the two durable queues with one write per table per drain. The
/// response completes once its record is in the queue file (bounded by <see cref="ObservabilityOptions.DurableWriteWait"/>),
/// so a process killed right after its responses loses none of their records.
/// Dry runs are counted, never recorded.
/// </summary>
internal sealed class ObservabilityWriter : IInferenceObserver, IDisposable
{
    private readonly ObservabilitySettings _settings;
    private readonly GatewayMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger<ObservabilityWriter> _logger;
    private readonly Channel<(InferenceFeature Inference, long Sequence)> _channel;
    private readonly TimeSpan _durableWait;
    private long _enqueued;
    private long _written;
    private TaskCompletionSource _nextWrite = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Dictionary<RecordTable, Counters> _counters = new()
    {
        [RecordTable.ChatInference] = new Counters(),
        [RecordTable.ModelInference] = new Counters(),
    };
    private FileStream? _lock;
    private Task _loop = Task.CompletedTask;

    public ObservabilityWriter(ObservabilitySettings settings, GatewayMetrics metrics, TimeProvider time, ILogger<ObservabilityWriter> logger)
    {
        _settings = settings;
        _metrics = metrics;
        _time = time;
        _logger = logger;
        _durableWait = settings.Options.DurableWriteWait;
        _channel = Channel.CreateBounded<(InferenceFeature, long)>(new BoundedChannelOptions(settings.Options.MaxPendingRecords)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait, // TryWrite then fails at once: the record is counted as dropped.
        });
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
        // Sequence numbers are taken under the channel's order: a record's rows are on disk once the writer has
        // written every record up to its number.
        long sequence;
        lock (_channel)
        {
            sequence = ++_enqueued;
            if (!_channel.Writer.TryWrite((inference, sequence)))
            {
                _enqueued--;
                Interlocked.Increment(ref _counters[RecordTable.ChatInference].DroppedInMemory);
                Interlocked.Add(ref _counters[RecordTable.ModelInference].DroppedInMemory, inference.AttemptCount);
                return default;
            }
        }
        return _durableWait <= TimeSpan.Zero ? default : WaitWrittenAsync(sequence);
    }

    /// <summary>Waits, at most <see cref="ObservabilityOptions.DurableWriteWait"/>, until the record's rows are in the queue file.</summary>
    private async ValueTask WaitWrittenAsync(long sequence)
    {
        var deadline = _time.GetTimestamp() + (long)(_durableWait.TotalSeconds * _time.TimestampFrequency);
        while (Volatile.Read(ref _written) < sequence)
        {
            var next = Volatile.Read(ref _nextWrite).Task;
            if (Volatile.Read(ref _written) >= sequence)
            {
                return;
            }
            var left = deadline - _time.GetTimestamp();
            if (left <= 0)
            {
                Interlocked.Increment(ref _counters[RecordTable.ChatInference].SlowWrites);
                return;
            }
            try
            {
                await next.WaitAsync(TimeSpan.FromSeconds((double)left / _time.TimestampFrequency), _time);
            }
            catch (TimeoutException)
            {
                Interlocked.Increment(ref _counters[RecordTable.ChatInference].SlowWrites);
                return;
            }
        }
    }

    /// <summary>
    /// Takes the data folder (a lock file: one process per folder), resumes both queues from their segments and
    /// starts the writer task. Throws <see cref="IOException"/> when another process holds the folder.
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
        _loop = Task.Run(RunAsync);
    }

    /// <summary>Stops taking records and waits (at most <paramref name="timeout"/>) until every taken one is on disk.</summary>
    public async Task StopAsync(TimeSpan timeout)
    {
        _channel.Writer.TryComplete();
        try
        {
            await _loop.WaitAsync(timeout, _time);
        }
        catch (TimeoutException)
        {
            Log.WriterStopTimedOut(_logger, _channel.Reader.Count);
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

    private async Task RunAsync()
    {
        var records = new InferenceRecords(_settings.Options.MaxRawBytes, _time);
        var chat = new ArrayBufferWriter<byte>(64 * 1024);
        var model = new ArrayBufferWriter<byte>(64 * 1024);
        var reader = _channel.Reader;
        while (await reader.WaitToReadAsync())
        {
            chat.ResetWrittenCount();
            model.ResetWrittenCount();
            var chatRows = 0;
            var modelRows = 0;
            var lastSequence = 0L;
            // Group what is waiting into one write per table, but not unboundedly.
            while (chat.WrittenCount < 1024 * 1024 && reader.TryRead(out var item))
            {
                var inference = item.Inference;
                lastSequence = item.Sequence;
                var chatMark = chat.WrittenCount;
                var modelMark = model.WrittenCount;
                try
                {
                    var (c, m) = records.Write(inference, chat, model);
                    chatRows += c;
                    modelRows += m;
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    // A record that cannot be serialized must not take the others down; half-written rows are cut off.
                    Log.RecordFailed(_logger, inference.InferenceId, ex);
                    Truncate(ref chat, chatMark);
                    Truncate(ref model, modelMark);
                    Interlocked.Increment(ref _counters[RecordTable.ChatInference].WriteErrors);
                }
            }
            Append(Chat!, RecordTable.ChatInference, chat, chatRows);
            Append(Model!, RecordTable.ModelInference, model, modelRows);
            // Release the responses waiting for these records (written, or given up on after a write error).
            Volatile.Write(ref _written, lastSequence);
            Interlocked.Exchange(ref _nextWrite, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
            RowsWritten?.Invoke();
        }
        Chat!.CloseActive();
        Model!.CloseActive();
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
