using System.Text;
using TensorZero.Proxy.Observability;

namespace TensorZero.Proxy.Tests.Observability;

/// <summary>The durable queue on a temp folder: append, batches, acknowledgement, rotation, the bound, crash recovery.</summary>
public sealed class SegmentQueueTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"tzp-queue-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    private static byte[] Lines(int from, int count) =>
        Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(from, count).Select(i => $"{{\"n\":{i}}}\n")));

    private static int[] Numbers(QueueBatch batch) =>
        [.. Encoding.UTF8.GetString(batch.Bytes.Span).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => int.Parse(l[5..^1]))];

    private SegmentQueue Open(long segmentBytes = 1 << 20, long maxBytes = 1 << 30) => SegmentQueue.Open(_dir, segmentBytes, maxBytes);

    [Fact]
    public void Peek_AfterAppends_ReturnsWholeLinesInOrderUpToMaxRows()
    {
        using var queue = Open();
        queue.Append(Lines(0, 3), 3);
        queue.Append(Lines(3, 4), 4);

        var batch = queue.Peek(maxRows: 5, maxBytes: 1 << 20)!;

        Numbers(batch).Should().Equal(0, 1, 2, 3, 4);
        batch.Rows.Should().Be(5);
        queue.PendingRows.Should().Be(7);
        var again = queue.Peek(5, 1 << 20)!;
        (again.Segment, again.Start, again.End, again.Rows).Should().Be((batch.Segment, batch.Start, batch.End, batch.Rows), "the same batch until it is acknowledged");
        again.Bytes.ToArray().Should().Equal(batch.Bytes.ToArray());
    }

    [Fact]
    public void Acknowledge_MovesTheCursor_NextBatchFollows()
    {
        using var queue = Open();
        queue.Append(Lines(0, 7), 7);

        queue.Acknowledge(queue.Peek(5, 1 << 20)!);
        var next = queue.Peek(5, 1 << 20)!;

        Numbers(next).Should().Equal(5, 6);
        queue.PendingRows.Should().Be(2);
        queue.ShippedRows.Should().Be(5);
        queue.Acknowledge(next);
        queue.Peek(5, 1 << 20).Should().BeNull();
        queue.PendingRows.Should().Be(0);
        queue.PendingBytes.Should().Be(0);
    }

    [Fact]
    public void Peek_MaxBytes_CutsOnALineBoundary_AndALongerLineComesAlone()
    {
        using var queue = Open();
        var longLine = Encoding.UTF8.GetBytes("{\"n\":99,\"pad\":\"" + new string('x', 300) + "\"}\n");
        queue.Append(Lines(0, 2), 2);
        queue.Append(longLine, 1);

        var first = queue.Peek(100, maxBytes: 20)!;
        Numbers(first).Should().Equal(0, 1);
        queue.Acknowledge(first);
        var alone = queue.Peek(100, maxBytes: 20)!;

        alone.Rows.Should().Be(1);
        alone.Bytes.ToArray().Should().Equal(longLine);
    }

    [Fact]
    public void Append_PastSegmentBytes_RotatesAndDeletesShippedSegments()
    {
        using var queue = Open(segmentBytes: 1024);
        for (var i = 0; i < 30; i++)
        {
            queue.Append(Lines(i * 10, 10), 10); // ~90 bytes each
        }
        queue.SegmentCount.Should().BeGreaterThan(2);
        Directory.GetFiles(_dir, "*.jsonl").Should().HaveCount(queue.SegmentCount);

        var seen = new List<int>();
        while (queue.Peek(1000, 1 << 20) is { } batch)
        {
            seen.AddRange(Numbers(batch));
            queue.Acknowledge(batch);
        }

        seen.Should().Equal(Enumerable.Range(0, 300), "every row once, in order, across segments");
        Directory.GetFiles(_dir, "*.jsonl").Should().HaveCount(1, "closed shipped segments are deleted; the active one stays");
    }

    [Fact]
    public void Open_AfterACrash_ResumesAfterTheCursor_AndIgnoresAPartialLastLine()
    {
        using (var queue = Open())
        {
            queue.Append(Lines(0, 6), 6);
            queue.Acknowledge(queue.Peek(4, 1 << 20)!);
        }
        // A process killed in the middle of a write leaves a partial line at the end of its segment.
        File.AppendAllText(Directory.GetFiles(_dir, "*.jsonl").Single(), "{\"n\":6,\"trunc");

        using var reopened = Open();
        reopened.PendingRows.Should().Be(2);
        reopened.Append(Lines(7, 2), 2);

        var seen = new List<int>();
        while (reopened.Peek(1000, 1 << 20) is { } batch)
        {
            seen.AddRange(Numbers(batch));
            reopened.Acknowledge(batch);
        }
        seen.Should().Equal(4, 5, 7, 8);
    }

    [Fact]
    public void Open_WithoutCursor_ShipsEverySegmentFromTheStart()
    {
        using (var queue = Open(segmentBytes: 64))
        {
            queue.Append(Lines(0, 5), 5);
            queue.Append(Lines(5, 5), 5);
        }
        File.Delete(Path.Combine(_dir, "cursor"));

        using var reopened = Open();
        var seen = new List<int>();
        while (reopened.Peek(3, 1 << 20) is { } batch)
        {
            seen.AddRange(Numbers(batch));
            reopened.Acknowledge(batch);
        }

        seen.Should().Equal(Enumerable.Range(0, 10));
        reopened.SegmentCount.Should().Be(0);
    }

    [Fact]
    public void Append_OverTheBound_DropsOldestSegmentsAndCountsTheirUnshippedRows()
    {
        using var queue = Open(segmentBytes: 1024, maxBytes: 2048);
        for (var i = 0; i < 50; i++)
        {
            queue.Append(Lines(i * 10, 10), 10);
        }

        queue.DiskBytes.Should().BeLessThanOrEqualTo(2048 + 1024);
        queue.DroppedRows.Should().BeGreaterThan(0);
        (queue.DroppedRows + queue.PendingRows).Should().Be(500, "every row is either still queued or counted as dropped");
        var first = queue.Peek(1000, 1 << 20)!;
        Numbers(first)[0].Should().Be((int)queue.DroppedRows, "what is left starts after the dropped rows");
    }

    [Fact]
    public void Acknowledge_OfABatchWhoseSegmentTheBoundDeleted_IsIgnored()
    {
        using var queue = Open(segmentBytes: 256, maxBytes: 512);
        queue.Append(Lines(0, 30), 30);
        var stale = queue.Peek(5, 1 << 20)!;
        for (var i = 1; i < 10; i++)
        {
            queue.Append(Lines(i * 30, 30), 30);
        }

        queue.Acknowledge(stale);

        queue.ShippedRows.Should().Be(0);
        (queue.DroppedRows + queue.PendingRows).Should().Be(300);
    }

    [Fact]
    public void Reject_KeepsTheBatchInRejectedFolder_AndMovesOn()
    {
        using var queue = Open();
        queue.Append(Lines(0, 4), 4);

        queue.Reject(queue.Peek(2, 1 << 20)!);

        queue.RejectedRows.Should().Be(2);
        Numbers(queue.Peek(10, 1 << 20)!).Should().Equal(2, 3);
        File.ReadAllText(Directory.GetFiles(Path.Combine(_dir, "rejected")).Single()).Should().Be("{\"n\":0}\n{\"n\":1}\n");
    }

    [Theory]
    [InlineData("", 10, 0, 0)]
    [InlineData("a\nb\n", 10, 4, 2)]
    [InlineData("a\nb\nc", 10, 4, 2)]
    [InlineData("a\nb\nc\n", 2, 4, 2)]
    [InlineData("abc", 10, 0, 0)]
    public void WholeLines_CountsOnlyCompleteLines(string text, int maxRows, int length, int rows)
    {
        SegmentQueue.WholeLines(Encoding.UTF8.GetBytes(text), maxRows).Should().Be((length, rows));
    }
}
