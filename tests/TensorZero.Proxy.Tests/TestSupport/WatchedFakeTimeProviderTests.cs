namespace TensorZero.Proxy.Tests.TestSupport;

/// <summary>The watcher reports what the timing tests rely on, on top of Microsoft's fake clock.</summary>
public sealed class WatchedFakeTimeProviderTests
{
    [Fact]
    public void OneShotsFired_AreTheDueTimes_EvenWhenOneAdvancePassesThem()
    {
        var time = new WatchedFakeTimeProvider();
        var clockAtFire = new List<TimeSpan>();
        using var late = time.CreateTimer(_ => clockAtFire.Add(time.GetUtcNow() - time.Start), null, TimeSpan.FromMilliseconds(400), Timeout.InfiniteTimeSpan);
        using var early = time.CreateTimer(_ => clockAtFire.Add(time.GetUtcNow() - time.Start), null, TimeSpan.FromMilliseconds(300), Timeout.InfiniteTimeSpan);
        time.PendingTimers.Should().Be(2);

        time.Advance(TimeSpan.FromMilliseconds(500));

        time.OneShotsFired.Should().Equal(TimeSpan.FromMilliseconds(300), TimeSpan.FromMilliseconds(400));
        clockAtFire.Should().Equal([TimeSpan.FromMilliseconds(500), TimeSpan.FromMilliseconds(500)], "Microsoft's clock is already at the target when it fires them");
        time.PendingTimers.Should().Be(0);
    }

    [Fact]
    public void PendingTimers_CountsWaitingTimers_NotStoppedOrDisposedOnes()
    {
        var time = new WatchedFakeTimeProvider();
        var fired = 0;
        using var periodic = time.CreateTimer(_ => fired++, null, TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(100));
        var stopped = time.CreateTimer(_ => fired += 100, null, TimeSpan.FromMilliseconds(100), Timeout.InfiniteTimeSpan);
        var disposed = time.CreateTimer(_ => fired += 100, null, TimeSpan.FromMilliseconds(100), Timeout.InfiniteTimeSpan);

        stopped.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        disposed.Dispose();
        time.PendingTimers.Should().Be(1);
        time.Advance(TimeSpan.FromMilliseconds(250));

        fired.Should().Be(2);
        time.PendingTimers.Should().Be(1, "a periodic timer keeps waiting");
        time.OneShotsFired.Should().BeEmpty();
        stopped.Dispose();
    }
}
