using Microsoft.Extensions.Time.Testing;

namespace TensorZero.Proxy.Tests.Hosting;

public sealed class LogIntervalTests
{
    [Fact]
    public void TryEnter_RepeatedFailures_LetsOneLineThroughPerInterval()
    {
        var time = new FakeTimeProvider();
        var interval = new LogInterval(time, TimeSpan.FromSeconds(10));

        interval.TryEnter().Should().BeTrue("the first failure is logged");
        interval.TryEnter().Should().BeFalse();
        time.Advance(TimeSpan.FromSeconds(9.9));
        interval.TryEnter().Should().BeFalse("still within the interval");
        time.Advance(TimeSpan.FromSeconds(0.1));
        interval.TryEnter().Should().BeTrue("a full interval after the last line");
        interval.TryEnter().Should().BeFalse();
    }

    [Fact]
    public void TryEnter_ManyThreadsAtOnce_OnlyOneWins()
    {
        var interval = new LogInterval(new FakeTimeProvider(), TimeSpan.FromSeconds(10));

        var entered = 0;
        Parallel.For(0, 1000, _ =>
        {
            if (interval.TryEnter())
            {
                Interlocked.Increment(ref entered);
            }
        });

        entered.Should().Be(1);
    }
}
