using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using TensorZero.Proxy.Configuration;
using TensorZero.Proxy.Inference;
using TensorZero.Proxy.Resilience;
using TensorZero.Proxy.Tests.TestSupport;

namespace TensorZero.Proxy.Tests.Resilience;

public sealed class DeadlineTests
{
    private static readonly FakeTimeProvider Time = new();

    [Theory]
    [InlineData(false, 1000, null, null, 1000, -1)]
    [InlineData(false, null, 300, 900, -1, -1)]
    [InlineData(true, 1000, 300, 900, 300, 900)]
    [InlineData(true, null, 500, 200, 200, 200)]
    [InlineData(true, null, null, 700, 700, 700)]
    [InlineData(true, 1000, null, null, -1, -1)]
    public void For_PicksTheLimitOfTheRequestKind(bool stream, int? nonStreamingTotal, int? ttft, int? streamingTotal, int preMs, int postMs)
    {
        static TimeSpan? Ms(int? v) => v is { } x ? TimeSpan.FromMilliseconds(x) : null;
        var start = Time.GetTimestamp();

        var deadline = Deadline.For(TimeoutLevel.Provider, new TimeoutsConfig(Ms(nonStreamingTotal), Ms(ttft), Ms(streamingTotal)), stream, start, Time);

        deadline.PreCommit.Should().Be(preMs < 0 ? long.MaxValue : start + TimeSpan.FromMilliseconds(preMs).Ticks);
        deadline.PostCommit.Should().Be(postMs < 0 ? long.MaxValue : start + TimeSpan.FromMilliseconds(postMs).Ticks);
    }

    [Fact]
    public void DeadlineSet_EarliestWinsAndNamesItsLevel()
    {
        var set = new DeadlineSet(
        [
            new Deadline(TimeoutLevel.Variant, 500, 900),
            new Deadline(TimeoutLevel.Model, 300, long.MaxValue),
            new Deadline(TimeoutLevel.Provider, 400, 800),
        ]);

        set.EarliestPreCommit().Should().Be((300L, TimeoutLevel.Model));
        set.EarliestPostCommit().Should().Be(800);
    }

    [Fact]
    public void Remaining_NeverNegative_NullWithoutDeadline()
    {
        var time = new FakeTimeProvider();
        var at = time.GetTimestamp() + TimeSpan.FromMilliseconds(250).Ticks;

        DeadlineSet.Remaining(at, time).Should().Be(TimeSpan.FromMilliseconds(250));
        time.Advance(TimeSpan.FromSeconds(1));
        DeadlineSet.Remaining(at, time).Should().Be(TimeSpan.Zero);
        DeadlineSet.Remaining(long.MaxValue, time).Should().BeNull();
    }
}

public sealed class ProviderCircuitBreakersTests
{
    private static AttemptRecord Failed => new("m", "p", AttemptOutcome.ConnectError, null, TimeSpan.Zero, null);
    private static AttemptRecord Succeeded => new("m", "p", AttemptOutcome.Ok, 200, TimeSpan.Zero, null);
    private static AttemptRecord Aborted => new("m", "p", AttemptOutcome.ClientAbort, null, TimeSpan.Zero, null);

    private static ProviderCircuitBreakers Create(FakeTimeProvider time) => new(
        Options.Create(new CircuitBreakerSettings { FailureRatio = 0.5, MinimumThroughput = 4, SamplingDuration = TimeSpan.FromSeconds(10), BreakDuration = TimeSpan.FromSeconds(5) }),
        time, NullLogger<ProviderCircuitBreakers>.Instance);

    private static async Task RunAsync(ProviderCircuitBreakers breakers, AttemptRecord record, int times = 1)
    {
        for (var i = 0; i < times; i++)
        {
            await breakers.ExecuteAsync("p", () => new ValueTask<AttemptRecord>(record));
        }
    }

    [Fact]
    public async Task RepeatedFailures_OpenTheCircuit_WhichSkipsWithoutRunning()
    {
        var time = new FakeTimeProvider();
        var breakers = Create(time);

        await RunAsync(breakers, Failed, times: 4);
        var ran = false;
        var (executed, _) = await breakers.ExecuteAsync("p", () => { ran = true; return new ValueTask<AttemptRecord>(Succeeded); });

        breakers.IsOpen("p").Should().BeTrue();
        executed.Should().BeFalse();
        ran.Should().BeFalse();
    }

    [Fact]
    public async Task AfterBreakDuration_HalfOpenProbe_SuccessCloses()
    {
        var time = new FakeTimeProvider();
        var breakers = Create(time);
        await RunAsync(breakers, Failed, times: 4);

        time.Advance(TimeSpan.FromSeconds(5));
        breakers.IsOpen("p").Should().BeFalse("half-open lets a probe through");
        var (executed, _) = await breakers.ExecuteAsync("p", () => new ValueTask<AttemptRecord>(Succeeded));

        executed.Should().BeTrue();
        breakers.States.Should().ContainSingle().Which.State.Should().Be(Polly.CircuitBreaker.CircuitState.Closed);
    }

    [Fact]
    public async Task FailedProbe_ReopensForAnotherBreak()
    {
        var time = new FakeTimeProvider();
        var breakers = Create(time);
        await RunAsync(breakers, Failed, times: 4);
        time.Advance(TimeSpan.FromSeconds(5));

        await RunAsync(breakers, Failed);

        breakers.IsOpen("p").Should().BeTrue();
        time.Advance(TimeSpan.FromSeconds(4));
        breakers.IsOpen("p").Should().BeTrue();
    }

    [Fact]
    public async Task ClientAborts_AreNotFailures()
    {
        var breakers = Create(new FakeTimeProvider());

        await RunAsync(breakers, Aborted, times: 10);

        breakers.IsOpen("p").Should().BeFalse();
    }

    [Fact]
    public async Task FailuresBelowRatio_KeepCircuitClosed()
    {
        var breakers = Create(new FakeTimeProvider());

        for (var i = 0; i < 10; i++)
        {
            await RunAsync(breakers, i % 4 == 0 ? Failed : Succeeded);
        }

        breakers.IsOpen("p").Should().BeFalse();
    }

    [Fact]
    public async Task Close_ClosesAnOpenCircuit()
    {
        var breakers = Create(new FakeTimeProvider());
        await RunAsync(breakers, Failed, times: 4);

        await breakers.CloseAsync("p");

        breakers.IsOpen("p").Should().BeFalse();
    }
}

public sealed class VariantRetriesTests
{
    [Fact]
    public void NoRetries_NoPipeline()
    {
        new VariantRetries(new FakeTimeProvider()).For<string>(RetryConfig.None, _ => true).Should().BeNull();
    }

    [Fact]
    public async Task Retries_WaitBetweenRuns_CappedAtMaxDelay_UntilCancelled()
    {
        var time = new FakeTimeProvider();
        var pipeline = new VariantRetries(time).For<string>(new RetryConfig(100, 0.5), r => r == "failed")!;
        var runs = new List<long>();
        using var cts = new CancellationTokenSource();

        var execution = pipeline.ExecuteAsync(_ =>
        {
            runs.Add(time.GetTimestamp());
            return new ValueTask<string>("failed");
        }, cts.Token).AsTask();

        for (var step = 0; step < 100 && runs.Count < 6; step++)
        {
            await Task.Yield();
            time.Advance(TimeSpan.FromMilliseconds(50));
        }
        await cts.CancelAsync();

        await FluentActions.Awaiting(() => execution).Should().ThrowAsync<OperationCanceledException>();
        runs.Count.Should().BeGreaterThanOrEqualTo(6);
        var gaps = runs.Zip(runs.Skip(1), (a, b) => TimeSpan.FromTicks(b - a)).ToList();
        gaps.Should().OnlyContain(g => g > TimeSpan.Zero, "each retry waits").And.OnlyContain(g => g <= TimeSpan.FromMilliseconds(550), "max_delay_s caps a delay (plus one 50 ms step)");
    }

    [Fact]
    public async Task Retries_StopWhenResultIsNotRetryable()
    {
        var pipeline = new VariantRetries(new FakeTimeProvider()).For<string>(new RetryConfig(5, 1), r => r == "failed")!;
        var runs = 0;

        var result = await pipeline.ExecuteAsync(_ => new ValueTask<string>(++runs == 1 ? "committed" : "failed"));

        result.Should().Be("committed");
        runs.Should().Be(1);
    }
}
