using System.Buffers;
using System.Runtime.InteropServices;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using TensorZero.Proxy.Inference;

namespace TensorZero.Proxy.Observability;

/// <summary>
/// An item of the group commit: a completed inference (its <c>ChatInference</c> row, or the <c>JsonInference</c> or <c>EmbeddingInference</c>
/// row in <see cref="Row"/> for a JSON function, and its <c>ModelInference</c> rows), or a row recorded on its own
/// (<see cref="Inference"/> null: feedback). A struct of two references, so queuing an inference allocates nothing.
/// </summary>
internal readonly record struct PendingRecord(InferenceFeature? Inference, ObservabilityRow? Row);

/// <summary>
/// The inference observer of observability (DESIGN.md §1 step 5, §7), and the writer of every other row (feedback,
/// JSON inferences). A completing request queues its record and the records reach the durable queues of their
/// tables (<see cref="RecordTables"/>, one <see cref="SegmentQueue"/> each) by group commit
/// (<see cref="GroupCommit{T}"/>): the request that finds no write in progress writes every record queued so far
/// itself, one write(2) per table that has rows; one that finds a write in progress awaits the batch that carries
/// its record. The response completes once its record is in the queue file, so a process killed right after its
/// responses loses none of their records; uncontended, there is no thread hop and no background wake-up on this
/// path. The wait is bounded by <see cref="ObservabilityOptions.DurableWriteWait"/>: a stalled disk never holds a
/// client longer, and the record stays queued until it is written. Dry runs are counted, never recorded.
/// Written inferences are remembered in <see cref="RecentInferences"/> for feedback's target checks.
/// </summary>
internal sealed class ObservabilityWriter : IInferenceObserver, IDisposable
{
    /// <summary>Bytes of rows grouped into one write per table, at most (one larger record is written alone).</summary>
    private const int WriteBytes = 1024 * 1024;

    private readonly ObservabilitySettings _settings;
    private readonly GatewayMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger<ObservabilityWriter> _logger;
    private readonly RecentInferences _recent;
    private readonly Counters[] _counters = [.. RecordTables.All.Select(_ => new Counters())];
    private readonly SegmentQueue?[] _queues = new SegmentQueue?[RecordTables.Count];

    private readonly GroupCommit<PendingRecord> _commit;
    private readonly InferenceRecords _records;
    // Used by the one writer of the group commit only.
    private readonly ArrayBufferWriter<byte>[] _buffers = new ArrayBufferWriter<byte>[RecordTables.Count];
    private readonly int[] _rows = new int[RecordTables.Count];
    // The inferences serialized in the current write, for the recent-inference index, and whether each is a JSON one.
    private readonly List<(Guid Id, RecordedInference Inference)> _written = [];
    private readonly List<bool> _writtenJson = [];
    private readonly FileStream? _lock;
    private Task _flusher = Task.CompletedTask;

    public ObservabilityWriter(
        ObservabilitySettings settings, GatewayMetrics metrics, TimeProvider time, ILogger<ObservabilityWriter> logger, RecentInferences recent)
    {
        _settings = settings;
        _metrics = metrics;
        _time = time;
        _logger = logger;
        _recent = recent;
        _records = new InferenceRecords(settings.Options.MaxRawBytes, time);
        // The data folder is taken when the writer is created (the proxy pipeline is built, before the host starts),
        // so a second gateway on the same folder stops with one line instead of a hosting failure.
        if (settings.Mode != ObservabilityMode.Disabled)
        {
            _lock = TakeDataFolder(settings.DataDir);
        }
        // The inference tables get rows with nearly every batch; the others start small and grow if used.
        foreach (var table in RecordTables.All)
        {
            _buffers[(int)table] = new ArrayBufferWriter<byte>(table is RecordTable.ChatInference or RecordTable.ModelInference ? 64 * 1024 : 1024);
        }
        _commit = new GroupCommit<PendingRecord>(
            WriteBatch,
            BatchFailed,
            released => Interlocked.Add(ref _counters[(int)RecordTable.ChatInference].SlowWrites, released),
            settings.Options.MaxPendingRecords,
            leaderBatches: 8,
            settings.Options.DurableWriteWait,
            time);
    }

    /// <summary>Whether anything is recorded (<c>[gateway.observability] enabled</c> is not false).</summary>
    public bool Enabled => _settings.Mode != ObservabilityMode.Disabled;

    /// <summary>The inferences written lately, for feedback's target checks.</summary>
    public RecentInferences Recent => _recent;

    /// <summary>
    /// Called after every write of a batch with the mask of tables that got rows (<see cref="RecordTables.Bit"/>), so
    /// shippers need not poll and only those of these tables are woken.
    /// </summary>
    public event Action<int>? RowsWritten;

    /// <summary>The table's queue, once <see cref="Start"/> has opened it.</summary>
    public SegmentQueue? Queue(RecordTable table) => _queues[(int)table];

    /// <inheritdoc />
    public ValueTask OnCompleted(HttpContext context, InferenceFeature inference) => inference.Embedding is null
        ? OnCompleted(context, inference, TypedRecords.JsonRow(inference))
        : OnCompleted(context, inference, EmbeddingInferenceRow.For(inference)!);

    /// <summary>
    /// A completed embeddings inference: its <c>EmbeddingInference</c> row and a <c>ModelInference</c> row per attempt, in
    /// one group commit, as <see cref="OnCompleted(HttpContext, InferenceFeature, JsonInferenceRow?)"/> records a chat inference.
    /// </summary>
    private ValueTask OnCompleted(HttpContext context, InferenceFeature inference, EmbeddingInferenceRow row)
    {
        _metrics.Record(inference);
        if (_settings.Mode == ObservabilityMode.Disabled || inference.Fields.DryRun)
        {
            return default;
        }
        if (!_commit.TryAdd(new PendingRecord(inference, row), out var written))
        {
            Interlocked.Increment(ref _counters[(int)RecordTable.EmbeddingInference].DroppedInMemory);
            Interlocked.Add(ref _counters[(int)RecordTable.ModelInference].DroppedInMemory, inference.AttemptCount);
        }
        return written;
    }

    /// <summary>
    /// A completed inference: with <paramref name="json"/> null its <c>ChatInference</c> row, else (a JSON
    /// function's inference) the <c>JsonInference</c> row as given; then a <c>ModelInference</c> row per attempt of
    /// <paramref name="inference"/>, all in the same group commit. Completes once the rows are in the queue files
    /// (at most <see cref="ObservabilityOptions.DurableWriteWait"/>).
    /// </summary>
    public ValueTask OnCompleted(HttpContext context, InferenceFeature inference, JsonInferenceRow? json)
    {
        _metrics.Record(inference);
        if (_settings.Mode == ObservabilityMode.Disabled || inference.Fields.DryRun)
        {
            return default;
        }
        if (!_commit.TryAdd(new PendingRecord(inference, json), out var written))
        {
            // A backlog this deep means the disk has stalled for long (or the gateway is stopping): count, never block.
            Interlocked.Increment(ref _counters[(int)(json is null ? RecordTable.ChatInference : RecordTable.JsonInference)].DroppedInMemory);
            Interlocked.Add(ref _counters[(int)RecordTable.ModelInference].DroppedInMemory, inference.AttemptCount);
        }
        return written;
    }

    /// <summary>
    /// Queues one row of its own (feedback, or a <see cref="JsonInferenceRow"/> written apart from its inference);
    /// <paramref name="written"/> completes once it is in its queue file (at most
    /// <see cref="ObservabilityOptions.DurableWriteWait"/>). False, with nothing queued and the row counted as
    /// dropped, when observability is disabled, the writer's backlog is full or the gateway is stopping.
    /// </summary>
    public bool TryWrite(ObservabilityRow row, out ValueTask written)
    {
        if (_settings.Mode != ObservabilityMode.Disabled && _commit.TryAdd(new PendingRecord(null, row), out written))
        {
            return true;
        }
        Interlocked.Increment(ref _counters[(int)row.Table].DroppedInMemory);
        written = default;
        return false;
    }

    /// <summary>
    /// The data folder's lock file, held open without sharing: one gateway process per folder, as its queue files
    /// have one writer. Throws <see cref="TensorZeroStartupException"/> when another process holds it.
    /// </summary>
    private static FileStream TakeDataFolder(string dataDir)
    {
        var full = Path.GetFullPath(dataDir);
        try
        {
            Directory.CreateDirectory(full);
            return new FileStream(Path.Combine(full, ".lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException ex)
        {
            throw new TensorZeroStartupException(
                $"TensorZero.Proxy cannot start: the observability data folder '{full}' is in use by another gateway process "
                + $"(one process per folder; give this one its own with --{ObservabilityOptions.SectionName}:DataDir=<folder>).", ex);
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new TensorZeroStartupException($"TensorZero.Proxy cannot start: the observability data folder '{full}' is not writable: {ex.Message}", ex);
        }
    }

    /// <summary>
    /// Resumes every table's queue from its segments in the data folder (taken when the writer was created) and
    /// starts the background flusher.
    /// </summary>
    public void Start()
    {
        var options = _settings.Options;
        foreach (var table in RecordTables.All)
        {
            _queues[(int)table] = SegmentQueue.Open(Path.Combine(_settings.DataDir, table.Name()), options.SegmentBytes, options.MaxQueueBytes);
        }
        Log.QueueResumed(_logger, _settings.DataDir, _queues.Sum(q => q!.PendingRows), DescribePending());
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

    /// <summary>The tables with rows waiting to be shipped, e.g. "ChatInference 3, ModelInference 4" ("none" when empty).</summary>
    public string DescribePending()
    {
        var waiting = RecordTables.All.Where(t => (Queue(t)?.PendingRows ?? 0) > 0).Select(t => $"{t.Name()} {Queue(t)!.PendingRows}").ToList();
        return waiting.Count == 0 ? "none" : string.Join(", ", waiting);
    }

    /// <summary>The table's numbers for /metrics.</summary>
    public QueueMetrics Metrics(RecordTable table)
    {
        var queue = Queue(table);
        var counters = _counters[(int)table];
        return new QueueMetrics(table.Name(), queue?.PendingRows ?? 0, queue?.PendingBytes ?? 0, queue?.WrittenRows ?? 0,
            queue?.ShippedRows ?? 0, queue?.DroppedRows ?? 0, Interlocked.Read(ref counters.DroppedInMemory), queue?.RejectedRows ?? 0,
            Interlocked.Read(ref counters.WriteErrors), Interlocked.Read(ref counters.SlowWrites));
    }

    /// <summary>Writes what requests handed over or left queued, drains at shutdown, then closes the segments.</summary>
    private async Task FlushLoopAsync()
    {
        await _commit.RunAsync();
        foreach (var queue in _queues)
        {
            queue!.CloseActive();
        }
    }

    /// <summary>
    /// As the group commit's one writer: serializes the batch and appends it, one write per table that has rows and
    /// megabyte; then remembers the inferences whose rows were written.
    /// </summary>
    private void WriteBatch(List<PendingRecord> batch)
    {
        var next = 0;
        while (next < batch.Count)
        {
            var bytes = 0;
            var tables = 0;
            foreach (var buffer in _buffers)
            {
                buffer.ResetWrittenCount();
            }
            Array.Clear(_rows);
            // Group the batch into one write per table, but not unboundedly.
            for (; next < batch.Count && bytes < WriteBytes; next++)
            {
                var item = batch[next];
                var main = item.Row?.Table ?? RecordTable.ChatInference;
                var mainMark = _buffers[(int)main].WrittenCount;
                var modelMark = _buffers[(int)RecordTable.ModelInference].WrittenCount;
                try
                {
                    if (item.Inference is { } inference)
                    {
                        int modelRows;
                        if (item.Row is EmbeddingInferenceRow embedding)
                        {
                            // Not a feedback target: not remembered in the recent-inference index.
                            modelRows = _records.WriteEmbeddingInference(inference, embedding, _buffers[(int)main], _buffers[(int)RecordTable.ModelInference]);
                        }
                        else if (item.Row is JsonInferenceRow json)
                        {
                            modelRows = _records.WriteJsonInference(inference, json, _buffers[(int)main], _buffers[(int)RecordTable.ModelInference]);
                            _written.Add((inference.InferenceId, new RecordedInference(json.EpisodeId, json.FunctionName, HadTools: false, json.OutputSchema)));
                            _writtenJson.Add(true);
                        }
                        else
                        {
                            modelRows = _records.Write(inference, _buffers[(int)main], _buffers[(int)RecordTable.ModelInference]).Model;
                            _written.Add((inference.InferenceId, new RecordedInference(inference.EpisodeId, inference.FunctionName, _records.LastHadTools, null)));
                            _writtenJson.Add(false);
                        }
                        _rows[(int)RecordTable.ModelInference] += modelRows;
                        tables |= modelRows > 0 ? RecordTable.ModelInference.Bit() : 0;
                    }
                    else
                    {
                        _records.Write(item.Row!, _buffers[(int)main]);
                    }
                    _rows[(int)main]++;
                    tables |= main.Bit();
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    // A record that cannot be serialized must not take the others down; half-written rows are cut off.
                    if (item.Inference is { } failed)
                    {
                        Log.RecordFailed(_logger, failed.InferenceId, ex);
                    }
                    else
                    {
                        Log.RowFailed(_logger, main.Name(), ex);
                    }
                    Truncate(ref _buffers[(int)main], mainMark);
                    Truncate(ref _buffers[(int)RecordTable.ModelInference], modelMark);
                    Interlocked.Increment(ref _counters[(int)main].WriteErrors);
                    continue;
                }
                bytes += _buffers[(int)main].WrittenCount - mainMark + _buffers[(int)RecordTable.ModelInference].WrittenCount - modelMark;
            }

            var failedTables = 0;
            foreach (var table in RecordTables.All)
            {
                if ((tables & table.Bit()) != 0 && !Append(table))
                {
                    failedTables |= table.Bit();
                }
            }
            Remember(failedTables);
            if (tables != 0)
            {
                RowsWritten?.Invoke(tables);
            }
        }
    }

    /// <summary>Tells the recent-inference index about the inferences serialized since the last call whose main row reached its file.</summary>
    private void Remember(int failedTables)
    {
        if (failedTables != 0)
        {
            // Rare (a failed write): drop the inferences whose row was lost, keeping the order.
            var kept = 0;
            for (var i = 0; i < _written.Count; i++)
            {
                var table = _writtenJson[i] ? RecordTable.JsonInference : RecordTable.ChatInference;
                if ((failedTables & table.Bit()) == 0)
                {
                    _written[kept++] = _written[i];
                }
            }
            _written.RemoveRange(kept, _written.Count - kept);
        }
        _recent.Add(CollectionsMarshal.AsSpan(_written));
        _written.Clear();
        _writtenJson.Clear();
    }

    private void BatchFailed(List<PendingRecord> batch, Exception ex)
    {
        Interlocked.Add(ref _counters[(int)RecordTable.ChatInference].WriteErrors, batch.Count);
        Log.BatchFailed(_logger, batch.Count, ex);
    }

    /// <summary>Appends the table's serialized rows; false when the write failed (the rows are lost, the gateway goes on).</summary>
    private bool Append(RecordTable table)
    {
        var queue = _queues[(int)table]!;
        var count = _rows[(int)table];
        try
        {
            queue.Append(_buffers[(int)table].WrittenSpan, count);
            return true;
        }
        catch (IOException ex)
        {
            // Disk full or the folder gone: these rows are lost, the gateway goes on serving.
            Interlocked.Add(ref _counters[(int)table].WriteErrors, count);
            Log.QueueWriteFailed(_logger, table.Name(), count, ex);
            queue.CloseActive();
            return false;
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
        foreach (var queue in _queues)
        {
            queue?.Dispose();
        }
        _lock?.Dispose();
    }

    private sealed class Counters
    {
        public long DroppedInMemory;
        public long WriteErrors;
        public long SlowWrites;
    }
}
