using System.Globalization;
using Microsoft.Win32.SafeHandles;

namespace TensorZero.Proxy.Observability;

/// <summary>A run of whole rows read from the queue, to be sent as one INSERT.</summary>
internal sealed record QueueBatch(long Segment, long Start, long End, int Rows, ReadOnlyMemory<byte> Bytes);

/// <summary>
/// The durable queue of one table (DESIGN.md §7): append-only segment files <c>{seq:D12}.jsonl</c> of
/// <c>JSONEachRow</c> lines in one folder, written by one writer straight to the OS (no user-space buffer, no
/// fsync per record: a process crash loses nothing written, a machine crash may lose the page cache), read by
/// one shipper from a cursor (<c>cursor</c>: segment and byte offset, replaced after every acknowledged batch).
/// A segment is deleted once shipped past its end and closed. Past <c>maxBytes</c> the oldest segments are
/// deleted and their unshipped rows counted as dropped; the writer is never blocked.
/// Each start writes to a new segment; a crash's partial last line (if any) is never read.
/// </summary>
internal sealed class SegmentQueue : IDisposable
{
    public const string Extension = ".jsonl";
    private const string CursorFile = "cursor";

    private readonly object _lock = new();
    private readonly string _directory;
    private readonly long _segmentBytes;
    private readonly long _maxBytes;
    private readonly List<Segment> _segments = [];
    private long _nextSeq;
    private FileStream? _active;
    private Segment? _activeSegment;
    private long _cursorSeq;
    private long _cursorOffset;
    private int _cursorRows;
    private SafeFileHandle? _readHandle;
    private long _readHandleSeq = -1;
    private long _writtenRows;
    private long _shippedRows;
    private long _droppedRows;
    private long _rejectedRows;

    private SegmentQueue(string directory, long segmentBytes, long maxBytes)
    {
        _directory = directory;
        _segmentBytes = segmentBytes;
        _maxBytes = maxBytes;
    }

    public string Directory => _directory;

    /// <summary>Rows not yet shipped (written, not acknowledged, not dropped).</summary>
    public long PendingRows
    {
        get
        {
            lock (_lock)
            {
                return _segments.Where(s => s.Seq >= _cursorSeq).Sum(s => (long)s.Rows) - (_segments.Exists(s => s.Seq == _cursorSeq) ? _cursorRows : 0);
            }
        }
    }

    /// <summary>Bytes of rows not yet shipped.</summary>
    public long PendingBytes
    {
        get
        {
            lock (_lock)
            {
                return _segments.Where(s => s.Seq >= _cursorSeq).Sum(s => s.Bytes) - (_segments.Exists(s => s.Seq == _cursorSeq) ? _cursorOffset : 0);
            }
        }
    }

    /// <summary>Bytes of every segment on disk (shipped or not): the embedded store's size.</summary>
    public long DiskBytes
    {
        get
        {
            lock (_lock)
            {
                return _segments.Sum(s => s.Bytes);
            }
        }
    }

    public long WrittenRows => Interlocked.Read(ref _writtenRows);

    public long ShippedRows => Interlocked.Read(ref _shippedRows);

    /// <summary>Rows deleted unshipped because the queue outgrew its bound.</summary>
    public long DroppedRows => Interlocked.Read(ref _droppedRows);

    /// <summary>Rows ClickHouse refused as malformed, moved to <c>rejected/</c>.</summary>
    public long RejectedRows => Interlocked.Read(ref _rejectedRows);

    /// <summary>Number of segment files.</summary>
    public int SegmentCount
    {
        get
        {
            lock (_lock)
            {
                return _segments.Count;
            }
        }
    }

    /// <summary>
    /// Opens (creating) the queue folder and resumes: every existing segment is kept in order with its complete
    /// lines counted; the cursor file says how far shipping got (none: from the start).
    /// </summary>
    public static SegmentQueue Open(string directory, long segmentBytes, long maxBytes)
    {
        System.IO.Directory.CreateDirectory(directory);
        var queue = new SegmentQueue(directory, segmentBytes, maxBytes);
        foreach (var path in System.IO.Directory.EnumerateFiles(directory, "*" + Extension))
        {
            if (long.TryParse(Path.GetFileNameWithoutExtension(path), NumberStyles.None, CultureInfo.InvariantCulture, out var seq))
            {
                var (bytes, rows) = CountCompleteLines(path);
                queue._segments.Add(new Segment(seq, path) { Bytes = bytes, Rows = rows, Closed = true });
            }
        }
        queue._segments.Sort((a, b) => a.Seq.CompareTo(b.Seq));
        queue._nextSeq = queue._segments.Count == 0 ? 1 : queue._segments[^1].Seq + 1;
        queue.ReadCursor();
        return queue;
    }

    /// <summary>Appends whole lines (each ending in '\n'); called by the single writer only.</summary>
    public void Append(ReadOnlySpan<byte> lines, int rows)
    {
        if (lines.IsEmpty)
        {
            return;
        }
        if (_active is null)
        {
            var seq = _nextSeq++;
            var path = Path.Combine(_directory, seq.ToString("D12", CultureInfo.InvariantCulture) + Extension);
            // bufferSize 0: every Write is a write(2) to the OS; FileShare lets the shipper read and delete.
            _active = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read | FileShare.Delete, bufferSize: 0);
            var segment = new Segment(seq, path);
            lock (_lock)
            {
                _segments.Add(segment);
                _activeSegment = segment;
            }
        }

        _active.Write(lines);
        var full = false;
        lock (_lock)
        {
            _activeSegment!.Bytes += lines.Length;
            _activeSegment.Rows += rows;
            full = _activeSegment.Bytes >= _segmentBytes;
        }
        Interlocked.Add(ref _writtenRows, rows);
        if (full)
        {
            // The bound is checked as each segment fills (only closed segments can go): the queue overshoots it by
            // at most the segment being written, and appends do not walk the segment list.
            CloseActive();
            EnforceBound();
        }
    }

    /// <summary>Closes the segment being written; the next append starts a new one.</summary>
    public void CloseActive()
    {
        _active?.Dispose();
        _active = null;
        lock (_lock)
        {
            if (_activeSegment is not null)
            {
                _activeSegment.Closed = true;
                _activeSegment = null;
            }
        }
    }

    /// <summary>
    /// The next rows after the cursor: up to <paramref name="maxRows"/> lines and about <paramref name="maxBytes"/>
    /// (a single longer line is returned alone). Segments shipped to their end are deleted on the way. Null when
    /// nothing is waiting. Called by the single shipper only; the same batch is returned until acknowledged.
    /// </summary>
    public QueueBatch? Peek(int maxRows, int maxBytes)
    {
        while (true)
        {
            Segment segment;
            long start;
            long available;
            lock (_lock)
            {
                var current = FirstUnshipped();
                if (current is null)
                {
                    return null;
                }
                segment = current;
                start = _cursorOffset;
                available = segment.Bytes - start;
                if (available <= 0)
                {
                    if (!segment.Closed)
                    {
                        return null;
                    }
                    RemoveShipped(segment);
                    continue;
                }
            }

            var handle = ReadHandle(segment);
            if (handle is null)
            {
                // Deleted under us (the bound): the cursor has moved on.
                continue;
            }
            var want = (int)Math.Min(available, Math.Max(maxBytes, 1));
            var buffer = new byte[want];
            var read = RandomAccess.Read(handle, buffer, start);
            var span = buffer.AsSpan(0, read);
            var (length, rows) = WholeLines(span, maxRows);
            if (rows == 0)
            {
                // One line longer than maxBytes: read it whole.
                var line = ReadOneLine(handle, start, available);
                if (line is null)
                {
                    return null;
                }
                return new QueueBatch(segment.Seq, start, start + line.Length, 1, line);
            }
            return new QueueBatch(segment.Seq, start, start + length, rows, buffer.AsMemory(0, length));
        }
    }

    /// <summary>Marks a batch shipped: the cursor moves past it and is saved; a finished closed segment is deleted.</summary>
    public void Acknowledge(QueueBatch batch) => Advance(batch, rejected: false);

    /// <summary>Moves a batch ClickHouse refused as malformed to <c>rejected/</c> (kept for an operator) and moves past it.</summary>
    public void Reject(QueueBatch batch)
    {
        var folder = Path.Combine(_directory, "rejected");
        System.IO.Directory.CreateDirectory(folder);
        File.WriteAllBytes(Path.Combine(folder, $"{batch.Segment:D12}-{batch.Start:D12}{Extension}"), batch.Bytes.ToArray());
        Advance(batch, rejected: true);
    }

    private void Advance(QueueBatch batch, bool rejected)
    {
        lock (_lock)
        {
            if (batch.Segment != _cursorSeq || batch.Start != _cursorOffset)
            {
                return; // The bound deleted this segment meanwhile; its rows were counted as dropped.
            }
            _cursorOffset = batch.End;
            _cursorRows += batch.Rows;
            Interlocked.Add(ref rejected ? ref _rejectedRows : ref _shippedRows, batch.Rows);
            var segment = _segments.Find(s => s.Seq == batch.Segment);
            if (segment is not null && segment.Closed && _cursorOffset >= segment.Bytes)
            {
                RemoveShipped(segment);
            }
            else
            {
                WriteCursor();
            }
        }
    }

    /// <summary>Deletes the oldest closed segments while the queue is over its bound, counting their unshipped rows.</summary>
    private void EnforceBound()
    {
        lock (_lock)
        {
            var total = _segments.Sum(s => s.Bytes);
            while (total > _maxBytes && _segments.Count > 0 && _segments[0].Closed)
            {
                var oldest = _segments[0];
                var unshipped = oldest.Seq < _cursorSeq ? 0 : oldest.Seq == _cursorSeq ? oldest.Rows - _cursorRows : oldest.Rows;
                Interlocked.Add(ref _droppedRows, unshipped);
                total -= oldest.Bytes;
                RemoveShipped(oldest);
            }
        }
    }

    /// <summary>Removes a segment (under the lock) and moves the cursor to the next one if it was there.</summary>
    private void RemoveShipped(Segment segment)
    {
        // An open read handle stays valid after the delete; the shipper replaces it when it moves on.
        _segments.Remove(segment);
        if (segment.Seq >= _cursorSeq)
        {
            _cursorSeq = segment.Seq + 1;
            _cursorOffset = 0;
            _cursorRows = 0;
        }
        // The cursor is saved before the file goes: a crash in between re-reads nothing.
        WriteCursor();
        try
        {
            File.Delete(segment.Path);
        }
        catch (IOException)
        {
            // Gone already, or the folder went away; nothing to ship from it either way.
        }
    }

    /// <summary>The segment the cursor is in (or the first after it), under the lock.</summary>
    private Segment? FirstUnshipped()
    {
        foreach (var segment in _segments)
        {
            if (segment.Seq < _cursorSeq)
            {
                continue;
            }
            if (segment.Seq > _cursorSeq)
            {
                _cursorSeq = segment.Seq;
                _cursorOffset = 0;
                _cursorRows = 0;
            }
            return segment;
        }
        return null;
    }

    private SafeFileHandle? ReadHandle(Segment segment)
    {
        if (_readHandleSeq == segment.Seq && _readHandle is { IsClosed: false })
        {
            return _readHandle;
        }
        _readHandle?.Dispose();
        try
        {
            _readHandle = File.OpenHandle(segment.Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            _readHandleSeq = segment.Seq;
            return _readHandle;
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            lock (_lock)
            {
                _segments.Remove(segment);
            }
            _readHandle = null;
            _readHandleSeq = -1;
            return null;
        }
    }

    private static byte[]? ReadOneLine(SafeFileHandle handle, long start, long available)
    {
        var buffer = new byte[(int)Math.Min(available, int.MaxValue)];
        var read = RandomAccess.Read(handle, buffer, start);
        var end = buffer.AsSpan(0, read).IndexOf((byte)'\n');
        return end < 0 ? null : buffer[..(end + 1)];
    }

    /// <summary>Length of the first <paramref name="maxRows"/> whole lines in <paramref name="span"/>, and their count.</summary>
    internal static (int Length, int Rows) WholeLines(ReadOnlySpan<byte> span, int maxRows)
    {
        var length = 0;
        var rows = 0;
        while (rows < maxRows)
        {
            var newline = span[length..].IndexOf((byte)'\n');
            if (newline < 0)
            {
                break;
            }
            length += newline + 1;
            rows++;
        }
        return (length, rows);
    }

    /// <summary>Bytes up to and including the last '\n', and the number of lines; a partial last line is ignored.</summary>
    private static (long Bytes, int Rows) CountCompleteLines(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 64 * 1024);
        var buffer = new byte[64 * 1024];
        long position = 0;
        long lastNewline = -1;
        var rows = 0;
        int read;
        while ((read = stream.Read(buffer)) > 0)
        {
            var span = buffer.AsSpan(0, read);
            var offset = 0;
            int index;
            while ((index = span[offset..].IndexOf((byte)'\n')) >= 0)
            {
                offset += index + 1;
                lastNewline = position + offset - 1;
                rows++;
            }
            position += read;
        }
        return (lastNewline + 1, rows);
    }

    private void ReadCursor()
    {
        var path = Path.Combine(_directory, CursorFile);
        _cursorSeq = _segments.Count > 0 ? _segments[0].Seq : _nextSeq;
        if (!File.Exists(path))
        {
            return;
        }
        var parts = File.ReadAllText(path).Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (parts.Length < 2
            || !long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var seq)
            || !long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var offset))
        {
            return; // Unreadable: ship everything again (ids make that harmless).
        }
        // Segments wholly before the cursor were shipped; a crash kept them. They go now.
        foreach (var shipped in _segments.Where(s => s.Seq < seq).ToList())
        {
            _segments.Remove(shipped);
            File.Delete(shipped.Path);
        }
        _cursorSeq = seq;
        var segment = _segments.Find(s => s.Seq == seq);
        if (segment is null)
        {
            _cursorOffset = 0;
            return;
        }
        _cursorOffset = Math.Min(offset, segment.Bytes);
        _cursorRows = CountRowsBefore(segment.Path, _cursorOffset);
    }

    private static int CountRowsBefore(string path, long offset)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 64 * 1024);
        var buffer = new byte[64 * 1024];
        long remaining = offset;
        var rows = 0;
        while (remaining > 0)
        {
            var read = stream.Read(buffer.AsSpan(0, (int)Math.Min(buffer.Length, remaining)));
            if (read == 0)
            {
                break;
            }
            rows += buffer.AsSpan(0, read).Count((byte)'\n');
            remaining -= read;
        }
        return rows;
    }

    /// <summary>Saves the cursor (under the lock): a new file renamed over the old, so a crash leaves one or the other.</summary>
    private void WriteCursor()
    {
        var path = Path.Combine(_directory, CursorFile);
        var temp = path + ".tmp";
        File.WriteAllText(temp, string.Create(CultureInfo.InvariantCulture, $"{_cursorSeq} {_cursorOffset}\n"));
        File.Move(temp, path, overwrite: true);
    }

    public void Dispose()
    {
        CloseActive();
        lock (_lock)
        {
            _readHandle?.Dispose();
            _readHandle = null;
            _readHandleSeq = -1;
        }
    }

    private sealed class Segment(long seq, string path)
    {
        public long Seq { get; } = seq;

        public string Path { get; } = path;

        /// <summary>Bytes of complete lines.</summary>
        public long Bytes { get; set; }

        public int Rows { get; set; }

        /// <summary>No more appends: written by an earlier process, or rotated.</summary>
        public bool Closed { get; set; }
    }
}
