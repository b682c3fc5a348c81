using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Polly.CircuitBreaker;
using TensorZero.Proxy.Configuration;
using TensorZero.Proxy.Inference;
using TensorZero.Proxy.Resilience;
using TensorZero.Proxy.Routing;
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

/// <summary>
/// The resilience services as the gateway registers them (<see cref="ResilienceServiceCollectionExtensions.AddTensorZeroResilience"/>),
/// on a fake clock, a configuration snapshot a test can swap (as a reload does) and an optional log sink.
/// </summary>
internal sealed class ResilienceHost : IDisposable
{
    private readonly ServiceProvider _services;

    public ResilienceHost(string toml, FakeTimeProvider time, ILoggerProvider? logs = null)
    {
        Time = time;
        Runtime = new GatewayRuntimeAccessor(Build(toml));
        var settings = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["TensorZero:CircuitBreaker:FailureRatio"] = "0.5",
            ["TensorZero:CircuitBreaker:MinimumThroughput"] = "4",
            ["TensorZero:CircuitBreaker:SamplingDuration"] = "00:00:10",
            ["TensorZero:CircuitBreaker:BreakDuration"] = "00:00:05",
        }).Build();
        _services = new ServiceCollection()
            .AddLogging(builder =>
            {
                builder.SetMinimumLevel(LogLevel.Information);
                if (logs is not null)
                {
                    builder.AddProvider(logs);
                }
            })
            .AddSingleton<TimeProvider>(time)
            .AddSingleton(Runtime)
            .AddSingleton<IConfiguration>(settings)
            .AddTensorZeroResilience()
            .BuildServiceProvider();
    }

    public FakeTimeProvider Time { get; }

    public GatewayRuntimeAccessor Runtime { get; }

    public ProviderCircuitBreakers Breakers => _services.GetRequiredService<ProviderCircuitBreakers>();

    public VariantRetries Retries => _services.GetRequiredService<VariantRetries>();

    public static GatewayRuntime Build(string toml) => GatewayRuntime.Build(ConfigLoader.Parse(toml), _ => null);

    /// <summary>Swaps the configuration snapshot, as a reload does.</summary>
    public void Reload(string toml) => Runtime.Current = Build(toml);

    public void Dispose() => _services.Dispose();
}

public sealed class ProviderCircuitBreakersTests
{
    private const string Key = "m/p";
    private static readonly string Toml = TestConfigs.SingleProviderModel("m", "p", "http://127.0.0.1:9");

    private static AttemptRecord Failed => new("m", "p", AttemptOutcome.ConnectError, null, TimeSpan.Zero, null);
    private static AttemptRecord Succeeded => new("m", "p", AttemptOutcome.Ok, 200, TimeSpan.Zero, null);
    private static AttemptRecord Aborted => new("m", "p", AttemptOutcome.ClientAbort, null, TimeSpan.Zero, null);

    private static async Task RunAsync(ProviderCircuitBreakers breakers, AttemptRecord record, int times = 1, string key = Key)
    {
        for (var i = 0; i < times; i++)
        {
            await breakers.ExecuteAsync(key, () => new ValueTask<AttemptRecord>(record));
        }
    }

    [Fact]
    public async Task RepeatedFailures_OpenTheCircuit_WhichSkipsWithoutRunning()
    {
        using var host = new ResilienceHost(Toml, new FakeTimeProvider());
        var breakers = host.Breakers;

        await RunAsync(breakers, Failed, times: 4);
        var ran = false;
        var (executed, _) = await breakers.ExecuteAsync(Key, () => { ran = true; return new ValueTask<AttemptRecord>(Succeeded); });

        breakers.IsOpen(Key).Should().BeTrue();
        executed.Should().BeFalse();
        ran.Should().BeFalse();
    }

    [Fact]
    public async Task AfterBreakDuration_HalfOpenProbe_SuccessCloses()
    {
        using var host = new ResilienceHost(Toml, new FakeTimeProvider());
        var breakers = host.Breakers;
        await RunAsync(breakers, Failed, times: 4);

        host.Time.Advance(TimeSpan.FromSeconds(5));
        breakers.IsOpen(Key).Should().BeFalse("half-open lets a probe through");
        var (executed, _) = await breakers.ExecuteAsync(Key, () => new ValueTask<AttemptRecord>(Succeeded));

        executed.Should().BeTrue();
        breakers.States.Should().ContainSingle().Which.Should().Be((Key, CircuitState.Closed));
    }

    [Fact]
    public async Task AfterBreakDuration_OneProbeAtATime_OthersSkipUntilItsVerdict()
    {
        using var host = new ResilienceHost(Toml, new FakeTimeProvider());
        var breakers = host.Breakers;
        await RunAsync(breakers, Failed, times: 4);
        host.Time.Advance(TimeSpan.FromSeconds(5));

        var probeAnswer = new TaskCompletionSource<AttemptRecord>(TaskCreationOptions.RunContinuationsAsynchronously);
        var probe = breakers.ExecuteAsync(Key, () => new ValueTask<AttemptRecord>(probeAnswer.Task)).AsTask();
        var ranDuringProbe = false;
        var (second, _) = await breakers.ExecuteAsync(Key, () =>
        {
            ranDuringProbe = true;
            return new ValueTask<AttemptRecord>(Succeeded);
        });

        second.Should().BeFalse("the probe's verdict is not in yet");
        ranDuringProbe.Should().BeFalse();
        probeAnswer.SetResult(Succeeded);
        (await probe).Ran.Should().BeTrue();
        breakers.States.Should().ContainSingle().Which.Should().Be((Key, CircuitState.Closed));
        (await breakers.ExecuteAsync(Key, () => new ValueTask<AttemptRecord>(Succeeded))).Ran.Should().BeTrue("a closed circuit lets everything through");
    }

    [Fact]
    public async Task ProbeThatThrows_GivesTheProbeBack()
    {
        using var host = new ResilienceHost(Toml, new FakeTimeProvider());
        var breakers = host.Breakers;
        await RunAsync(breakers, Failed, times: 4);
        host.Time.Advance(TimeSpan.FromSeconds(5));

        var thrown = () => breakers.ExecuteAsync<AttemptRecord>(Key, () => throw new InvalidOperationException("bug in the attempt")).AsTask();
        await thrown.Should().ThrowAsync<InvalidOperationException>();

        (await breakers.ExecuteAsync(Key, () => new ValueTask<AttemptRecord>(Succeeded))).Ran.Should().BeTrue("the next attempt is the probe");
        breakers.States.Should().ContainSingle().Which.Should().Be((Key, CircuitState.Closed));
    }

    [Fact]
    public async Task BreakDuration_IsMeasuredOnTheClockFromDependencyInjection()
    {
        using var host = new ResilienceHost(Toml, new FakeTimeProvider());
        var breakers = host.Breakers;
        await RunAsync(breakers, Failed, times: 4);

        host.Time.Advance(TimeSpan.FromSeconds(5) - TimeSpan.FromTicks(1));
        breakers.IsOpen(Key).Should().BeTrue("one tick before the break ends");
        (await breakers.ExecuteAsync(Key, () => new ValueTask<AttemptRecord>(Succeeded))).Ran.Should().BeFalse("Polly's own clock is the same fake clock");
        host.Time.Advance(TimeSpan.FromTicks(1));
        breakers.IsOpen(Key).Should().BeFalse();
        (await breakers.ExecuteAsync(Key, () => new ValueTask<AttemptRecord>(Succeeded))).Ran.Should().BeTrue();
    }

    [Fact]
    public async Task FailedProbe_ReopensForAnotherBreak()
    {
        using var host = new ResilienceHost(Toml, new FakeTimeProvider());
        var breakers = host.Breakers;
        await RunAsync(breakers, Failed, times: 4);
        host.Time.Advance(TimeSpan.FromSeconds(5));

        await RunAsync(breakers, Failed);

        breakers.IsOpen(Key).Should().BeTrue();
        host.Time.Advance(TimeSpan.FromSeconds(4));
        breakers.IsOpen(Key).Should().BeTrue();
    }

    [Fact]
    public async Task ClientAborts_AreNotFailures()
    {
        using var host = new ResilienceHost(Toml, new FakeTimeProvider());

        await RunAsync(host.Breakers, Aborted, times: 10);

        host.Breakers.IsOpen(Key).Should().BeFalse();
    }

    [Fact]
    public async Task FailuresBelowRatio_KeepCircuitClosed()
    {
        using var host = new ResilienceHost(Toml, new FakeTimeProvider());

        for (var i = 0; i < 10; i++)
        {
            await RunAsync(host.Breakers, i % 4 == 0 ? Failed : Succeeded);
        }

        host.Breakers.IsOpen(Key).Should().BeFalse();
    }

    [Fact]
    public async Task Close_ClosesAnOpenCircuit()
    {
        using var host = new ResilienceHost(Toml, new FakeTimeProvider());
        await RunAsync(host.Breakers, Failed, times: 4);

        await host.Breakers.CloseAsync(Key);

        host.Breakers.IsOpen(Key).Should().BeFalse();
    }

    [Fact]
    public async Task Reload_SameProviderSettings_KeepsTheOpenCircuit()
    {
        using var host = new ResilienceHost(Toml, new FakeTimeProvider());
        await RunAsync(host.Breakers, Failed, times: 4);

        // Another model and a function come and go; provider m/p is configured as before.
        host.Reload(Toml + TestConfigs.SingleProviderModel("other", "q", "http://127.0.0.1:9") + TestConfigs.SingleVariantFunction("f", "m"));

        host.Breakers.IsOpen(Key).Should().BeTrue();
        host.Breakers.States.Should().ContainSingle().Which.Should().Be((Key, CircuitState.Open));
    }

    [Theory]
    [InlineData("api_base")]
    [InlineData("model_name")]
    [InlineData("timeouts")]
    [InlineData("extra_headers")]
    public async Task Reload_ChangedProviderSettings_StartsAClosedCircuit(string setting)
    {
        using var host = new ResilienceHost(Toml, new FakeTimeProvider());
        await RunAsync(host.Breakers, Failed, times: 4);

        host.Reload(setting switch
        {
            "api_base" => TestConfigs.SingleProviderModel("m", "p", "http://127.0.0.1:10"),
            "model_name" => TestConfigs.SingleProviderModel("m", "p", "http://127.0.0.1:9", modelName: "another"),
            "timeouts" => "[models.m]\nrouting = [\"p\"]\n" + TestConfigs.OpenAIProvider("m", "p", "http://127.0.0.1:9", "timeouts = { non_streaming.total_ms = 900 }"),
            _ => "[models.m]\nrouting = [\"p\"]\n" + TestConfigs.OpenAIProvider("m", "p", "http://127.0.0.1:9", "extra_headers = [{ name = \"x-a\", value = \"1\" }]"),
        });

        host.Breakers.IsOpen(Key).Should().BeFalse();
        host.Breakers.States.Should().ContainSingle().Which.Should().Be((Key, CircuitState.Closed));
        // The rebuilt breaker counts afresh: three failures stay below its minimum throughput of four.
        await RunAsync(host.Breakers, Failed, times: 3);
        host.Breakers.IsOpen(Key).Should().BeFalse();
        await RunAsync(host.Breakers, Failed);
        host.Breakers.IsOpen(Key).Should().BeTrue();
    }

    [Fact]
    public async Task Reload_RemovedProvider_IsNotListed_AndComesBackClosed()
    {
        using var host = new ResilienceHost(Toml, new FakeTimeProvider());
        await RunAsync(host.Breakers, Failed, times: 4);

        host.Reload(TestConfigs.SingleProviderModel("other", "q", "http://127.0.0.1:9"));
        host.Breakers.States.Should().BeEmpty("m/p is no longer configured");
        // A request that began before the reload still finds its breaker.
        host.Breakers.IsOpen(Key).Should().BeTrue();

        host.Reload(Toml);
        host.Breakers.IsOpen(Key).Should().BeFalse("a provider that was removed comes back afresh, even with its old settings");
        host.Breakers.States.Should().ContainSingle().Which.Should().Be((Key, CircuitState.Closed));
    }

    [Fact]
    public async Task ShorthandCluster_IsLive_AndKeepsItsStateAcrossReloads()
    {
        const string shorthand = "shorthand/openai";
        using var host = new ResilienceHost(Toml, new FakeTimeProvider());
        await RunAsync(host.Breakers, Failed, times: 4, key: shorthand);

        host.Reload(Toml + TestConfigs.SingleProviderModel("other", "q", "http://127.0.0.1:9"));

        host.Breakers.IsOpen(shorthand).Should().BeTrue();
        host.Breakers.States.Should().ContainSingle().Which.Should().Be((shorthand, CircuitState.Open));
    }

    [Fact]
    public void Identity_NamesTheCredentialByLocation_NeverByValue()
    {
        var toml = "[models.m]\nrouting = [\"p\"]\n[models.m.providers.p]\ntype = \"openai\"\nmodel_name = \"x\"\napi_key_location = \"env::KEY\"\n";
        var provider = GatewayRuntime.Build(ConfigLoader.Parse(toml), name => name == "KEY" ? "sk-secret-value" : null).Models["m"].Providers[0];

        var identity = ProviderCircuitBreakers.Identity(provider);

        identity.Should().Contain("KEY").And.NotContain("sk-secret-value");
    }
}

public sealed class VariantRetriesTests
{
    private static readonly string Toml = TestConfigs.SingleProviderModel("m", "p", "http://127.0.0.1:9")
        + TestConfigs.SingleVariantFunction("f", "m", "retries = { num_retries = 2, max_delay_s = 0.5 }");

    /// <summary>A run of a routing list, for the retry pipeline: "failed" is worth another run.</summary>
    private sealed record Run(string Value) : IRetryOutcome
    {
        public bool ShouldRetry => Value == "failed";

        public string ResultName => Value;
    }

    /// <summary>Runs the pipeline with a routing list that always fails, moving the clock while it waits; returns how many runs it made.</summary>
    private static async Task<int> RunsUntilGivingUpAsync(Polly.ResiliencePipeline pipeline, FakeTimeProvider time)
    {
        var runs = 0;
        var execution = pipeline.ExecuteAsync(_ =>
        {
            Interlocked.Increment(ref runs);
            return new ValueTask<Run>(new Run("failed"));
        }).AsTask();
        var guard = System.Diagnostics.Stopwatch.StartNew();
        while (!execution.IsCompleted && guard.Elapsed < TimeSpan.FromSeconds(10))
        {
            time.Advance(TimeSpan.FromMilliseconds(100));
            await Task.Delay(1);
        }
        (await execution.WaitAsync(TimeSpan.FromSeconds(10))).Value.Should().Be("failed");
        return runs;
    }

    [Fact]
    public void NoRetries_NoPipeline()
    {
        using var host = new ResilienceHost(Toml, new FakeTimeProvider());

        host.Retries.For("f", "v", RetryConfig.None).Should().BeNull();
    }

    [Fact]
    public async Task Retries_WaitBetweenRuns_CappedAtMaxDelay_UntilCancelled()
    {
        using var host = new ResilienceHost(Toml, new FakeTimeProvider());
        var time = host.Time;
        var pipeline = host.Retries.For("f", "x", new RetryConfig(100, 0.5))!;
        var runs = new List<long>();
        using var cts = new CancellationTokenSource();

        var execution = pipeline.ExecuteAsync(_ =>
        {
            runs.Add(time.GetTimestamp());
            return new ValueTask<Run>(new Run("failed"));
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
        using var host = new ResilienceHost(Toml, new FakeTimeProvider());
        var pipeline = host.Retries.For("f", "v", new RetryConfig(5, 1))!;
        var runs = 0;

        var result = await pipeline.ExecuteAsync(_ => new ValueTask<Run>(new Run(++runs == 1 ? "committed" : "failed")));

        result.Value.Should().Be("committed");
        runs.Should().Be(1);
    }

    [Fact]
    public async Task NumRetries_BoundsTheRuns()
    {
        using var host = new ResilienceHost(Toml, new FakeTimeProvider());

        (await RunsUntilGivingUpAsync(host.Retries.For("f", "v", new RetryConfig(2, 0.5))!, host.Time)).Should().Be(3);
    }

    [Fact]
    public async Task Reload_ChangedRetries_RebuildTheVariantsPipeline_UnchangedKeepIt()
    {
        using var host = new ResilienceHost(Toml, new FakeTimeProvider());
        var before = host.Retries.For("f", "v", new RetryConfig(2, 0.5))!;

        host.Reload(Toml + "\n" + TestConfigs.SingleProviderModel("other", "q", "http://127.0.0.1:9"));
        host.Retries.For("f", "v", new RetryConfig(2, 0.5)).Should().BeSameAs(before);
        host.Reload(TestConfigs.SingleProviderModel("m", "p", "http://127.0.0.1:9")
            + TestConfigs.SingleVariantFunction("f", "m", "retries = { num_retries = 4, max_delay_s = 0.5 }"));
        var after = host.Retries.For("f", "v", new RetryConfig(4, 0.5))!;

        after.Should().BeSameAs(before, "the registry keeps one pipeline per variant; a reload swaps its strategies in place");
        (await RunsUntilGivingUpAsync(after, host.Time)).Should().Be(5);
    }
}

/// <summary>Polly's telemetry (the "Polly" meter and its resilience-event logs) is wired into the gateway's pipelines.</summary>
public sealed class ResilienceTelemetryTests
{
    [Fact]
    public async Task BreakerOpening_EmitsPollysMeterEventAndErrorLog()
    {
        // A model name of its own: the meter is process-wide and other tests' pipelines report to it too.
        var model = "telemetry-" + Guid.NewGuid().ToString("N");
        var cluster = $"{model}/p";
        var logs = new CapturingLoggerProvider();
        using var meter = new PollyEvents();
        using var host = new ResilienceHost(TestConfigs.SingleProviderModel(model, "p", "http://127.0.0.1:9"), new FakeTimeProvider(), logs);
        var failed = new AttemptRecord(model, "p", AttemptOutcome.ConnectError, null, TimeSpan.Zero, null);

        for (var i = 0; i < 4; i++)
        {
            await host.Breakers.ExecuteAsync(cluster, () => new ValueTask<AttemptRecord>(failed));
        }

        host.Breakers.IsOpen(cluster).Should().BeTrue();
        meter.For(cluster).Should().ContainSingle(e => e.Event == "OnCircuitOpened").Which.Should().Be(
            new PollyEvent("OnCircuitOpened", "Error", ProviderCircuitBreakers.PipelineName, cluster));
        var opened = logs.Entries.Should().ContainSingle(e => e.Category == "Polly" && e.Message.Contains("OnCircuitOpened")).Subject;
        opened.Level.Should().Be(LogLevel.Error);
        opened.Message.Should().Contain($"'{ProviderCircuitBreakers.PipelineName}/{cluster}/").And.Contain("connect_error", "the result names itself");
        logs.Entries.Should().NotContain(e => e.Category == "Polly" && e.Message.Contains("Resilience pipeline execut") && e.Level != LogLevel.None,
            "an execution is not logged at any level a logger writes");
        meter.Durations(cluster).Should().Be(4, "each execution is still metered (its duration histogram), for a subscribed meter listener");
    }

    [Fact]
    public async Task Retry_EmitsPollysOnRetryEvent()
    {
        var function = "telemetry-" + Guid.NewGuid().ToString("N");
        using var meter = new PollyEvents();
        using var host = new ResilienceHost(TestConfigs.SingleProviderModel("m", "p", "http://127.0.0.1:9"), new FakeTimeProvider());
        var pipeline = host.Retries.For(function, "v", new RetryConfig(1, 0.5))!;
        var runs = 0;

        var execution = pipeline.ExecuteAsync(_ => new ValueTask<ModelRunResult>(new ModelRunResult(
            ++runs == 1 ? ModelRunOutcome.AllProvidersFailed : ModelRunOutcome.Committed, []))).AsTask();
        while (!execution.IsCompleted)
        {
            host.Time.Advance(TimeSpan.FromMilliseconds(100));
            await Task.Delay(1);
        }
        await execution;

        meter.For($"{function}/v").Should().ContainSingle(e => e.Event == "OnRetry").Which.Should().Be(
            new PollyEvent("OnRetry", "Warning", VariantRetries.PipelineName, $"{function}/v"));
    }

    private sealed record PollyEvent(string Event, string Severity, string? Pipeline, string? Instance);

    /// <summary>Listens to the "Polly" meter: its resilience events and pipeline durations.</summary>
    private sealed class PollyEvents : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly ConcurrentQueue<PollyEvent> _events = new();
        private readonly ConcurrentQueue<string?> _durations = new();

        public PollyEvents()
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == "Polly")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<int>((instrument, _, tags, _) =>
            {
                if (instrument.Name == "resilience.polly.strategy.events")
                {
                    _events.Enqueue(new PollyEvent(Tag(tags, "event.name")!, Tag(tags, "event.severity")!, Tag(tags, "pipeline.name"), Tag(tags, "pipeline.instance")));
                }
            });
            _listener.SetMeasurementEventCallback<double>((instrument, _, tags, _) =>
            {
                if (instrument.Name == "resilience.polly.pipeline.duration")
                {
                    _durations.Enqueue(Tag(tags, "pipeline.instance"));
                }
            });
            _listener.Start();
        }

        public IReadOnlyList<PollyEvent> For(string instance) => [.. _events.Where(e => e.Instance == instance)];

        public int Durations(string instance) => _durations.Count(d => d == instance);

        public void Dispose() => _listener.Dispose();

        private static string? Tag(ReadOnlySpan<KeyValuePair<string, object?>> tags, string name)
        {
            foreach (var tag in tags)
            {
                if (tag.Key == name)
                {
                    return tag.Value?.ToString();
                }
            }
            return null;
        }
    }

    /// <summary>Keeps every log entry at Information and above.</summary>
    private sealed class CapturingLoggerProvider : ILoggerProvider
    {
        private readonly ConcurrentQueue<(string Category, LogLevel Level, string Message)> _entries = new();

        public IReadOnlyList<(string Category, LogLevel Level, string Message)> Entries => [.. _entries];

        public ILogger CreateLogger(string categoryName) => new Logger(categoryName, _entries);

        public void Dispose()
        {
        }

        private sealed class Logger(string category, ConcurrentQueue<(string, LogLevel, string)> entries) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                if (IsEnabled(logLevel))
                {
                    entries.Enqueue((category, logLevel, formatter(state, exception)));
                }
            }
        }
    }
}
