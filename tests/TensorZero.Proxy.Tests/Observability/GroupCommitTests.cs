using FluentAssertions;
using Microsoft.Extensions.Time.Testing;
using TensorZero.Proxy.Observability;
using Xunit;

namespace TensorZero.Proxy.Tests.Observability;

/// <summary>
/// The group commit behind the observability writer: who writes, what a waiting caller waits for, and the bound on
/// that wait. The sink is a list; a gate lets a test hold a write in progress (a stalled disk).
/// </summary>
public sealed class GroupCommitTests : IDisposable
{
    private static readonly TimeSpan WaitBound = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    private readonly FakeTimeProvider _time = new();
    private readonly List<List<int>> _batches = [];
    private readonly List<int> _failedItems = [];
    private readonly SemaphoreSlim _writeStarted = new(0);
    private ManualResetEventSlim? _holdWrites;
    private int _released;
    private bool _throwOnce;

    private GroupCommit<int> Create(int maxPending = 100, int leaderBatches = 8) => new(
        batch =>
        {
            _writeStarted.Release();
            _holdWrites?.Wait(Patience);
            if (_throwOnce)
            {
                _throwOnce = false;
                throw new IOException("disk gone");
            }
            lock (_batches)
            {
                _batches.Add([.. batch]);
            }
        },
        (batch, _) => _failedItems.AddRange(batch),
        released => Interlocked.Add(ref _released, released),
        maxPending,
        leaderBatches,
        WaitBound,
        _time);

    /// <summary>Item 1's caller becomes the leader and its write is held (a stalled disk) until the test lets it go.</summary>
    private async Task<Task> StallLeaderAsync(GroupCommit<int> commit)
    {
        _holdWrites = new ManualResetEventSlim(false);
        var leader = Task.Run(() => commit.TryAdd(1, out _));
        (await _writeStarted.WaitAsync(Patience)).Should().BeTrue();
        return leader;
    }

    private void ReleaseWrites() => _holdWrites?.Set();

    [Fact]
    public void An_uncontended_item_is_written_by_its_own_caller_before_TryAdd_returns()
    {
        using var commit = Create();

        commit.TryAdd(1, out var written).Should().BeTrue();

        written.IsCompletedSuccessfully.Should().BeTrue();
        _batches.Should().ContainSingle().Which.Should().Equal(1);
        commit.PendingCount.Should().Be(0);
    }

    [Fact]
    public async Task Callers_that_arrive_during_a_write_wait_for_one_batch_that_carries_all_their_items()
    {
        using var commit = Create();
        var leader = await StallLeaderAsync(commit);

        commit.TryAdd(2, out var second).Should().BeTrue();
        commit.TryAdd(3, out var third).Should().BeTrue();
        second.IsCompleted.Should().BeFalse("item 2 waits for the write in progress to end and its own batch to be written");
        commit.PendingCount.Should().Be(3);

        ReleaseWrites();
        await leader.WaitAsync(Patience);
        await second.AsTask().WaitAsync(Patience);
        await third.AsTask().WaitAsync(Patience);

        _batches.Should().HaveCount(2);
        _batches[0].Should().Equal(1);
        _batches[1].Should().Equal(2, 3);
        _released.Should().Be(0);
    }

    [Fact]
    public async Task A_stalled_write_holds_its_waiting_callers_no_longer_than_the_bound_and_their_items_are_written_later()
    {
        using var commit = Create();
        var leader = await StallLeaderAsync(commit);
        commit.TryAdd(2, out var waiting).Should().BeTrue();

        _time.Advance(WaitBound / 2);
        waiting.IsCompleted.Should().BeFalse("the write has not yet taken longer than the bound");
        _time.Advance(WaitBound);
        await waiting.AsTask().WaitAsync(Patience);
        _released.Should().Be(1, "item 2's caller was released before its write");

        // A caller that arrives while the write is still stalled is released on a later tick.
        commit.TryAdd(3, out var late).Should().BeTrue();
        _time.Advance(WaitBound);
        await late.AsTask().WaitAsync(Patience);
        _released.Should().Be(2);

        ReleaseWrites();
        await leader.WaitAsync(Patience);
        _batches.SelectMany(b => b).Should().Equal(1, 2, 3);
    }

    [Fact]
    public async Task A_full_queue_refuses_instead_of_blocking()
    {
        using var commit = Create(maxPending: 2);
        var leader = await StallLeaderAsync(commit);

        commit.TryAdd(2, out _).Should().BeTrue();
        commit.TryAdd(3, out _).Should().BeTrue();
        commit.TryAdd(4, out var refused).Should().BeFalse("two items are already waiting behind the stalled write");
        refused.IsCompletedSuccessfully.Should().BeTrue();

        ReleaseWrites();
        await leader.WaitAsync(Patience);
        _batches.SelectMany(b => b).Should().Equal(1, 2, 3);
    }

    [Fact]
    public async Task A_leader_hands_over_to_the_background_loop_after_its_batches()
    {
        using var commit = Create(leaderBatches: 1);
        var loop = commit.RunAsync();
        var leader = await StallLeaderAsync(commit);
        commit.TryAdd(2, out var second).Should().BeTrue();

        ReleaseWrites();
        await leader.WaitAsync(Patience);
        await second.AsTask().WaitAsync(Patience);

        _batches.Should().HaveCount(2);
        _batches[1].Should().Equal(2);
        commit.Stop();
        await loop.WaitAsync(Patience);
    }

    [Fact]
    public async Task A_batch_whose_write_throws_is_reported_and_the_next_one_is_written()
    {
        using var commit = Create();
        _throwOnce = true;

        commit.TryAdd(1, out var first).Should().BeTrue();
        commit.TryAdd(2, out var second).Should().BeTrue();
        await first;
        await second;

        _failedItems.Should().Equal(1);
        _batches.Should().ContainSingle().Which.Should().Equal(2);
    }

    [Fact]
    public async Task Stop_refuses_new_items_and_the_background_loop_writes_what_is_queued_then_ends()
    {
        using var commit = Create();
        var loop = commit.RunAsync();
        var leader = await StallLeaderAsync(commit);
        commit.TryAdd(2, out var queued).Should().BeTrue();

        commit.Stop();
        commit.TryAdd(3, out _).Should().BeFalse();
        ReleaseWrites();
        await leader.WaitAsync(Patience);
        await queued.AsTask().WaitAsync(Patience);
        await loop.WaitAsync(Patience);

        _batches.SelectMany(b => b).Should().Equal(1, 2);
        commit.PendingCount.Should().Be(0);
    }

    public void Dispose()
    {
        _holdWrites?.Set();
        _holdWrites?.Dispose();
        _writeStarted.Dispose();
    }
}
