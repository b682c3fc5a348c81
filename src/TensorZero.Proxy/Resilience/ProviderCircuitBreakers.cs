using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Polly;
using Polly.CircuitBreaker;

namespace TensorZero.Proxy.Resilience;

/// <summary>
/// Circuit breaker settings for every provider (<c>appsettings.json</c> section <c>TensorZero:CircuitBreaker</c>).
/// Defaults: open when at least half of at least 5 attempts in 10 s failed; stay open 5 s; then let one
/// probe through (half-open) and close on its success.
/// </summary>
internal sealed class CircuitBreakerSettings
{
    /// <summary>Failure ratio (0, 1] that opens the circuit. Default 0.5.</summary>
    public double FailureRatio { get; set; } = 0.5;

    /// <summary>Attempts needed in the sampling window before the ratio counts. Default 5 (at least 2).</summary>
    public int MinimumThroughput { get; set; } = 5;

    /// <summary>The sliding window the ratio is measured over. Default 10 s.</summary>
    public TimeSpan SamplingDuration { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long an open circuit skips the provider before a probe. Default 5 s.</summary>
    public TimeSpan BreakDuration { get; set; } = TimeSpan.FromSeconds(5);
}

/// <summary>What an attempt run under a circuit breaker reports back to it.</summary>
internal interface ICircuitOutcome
{
    /// <summary>Whether the provider failed (connect error, timeout, 5xx, 429, stalled or broken stream).</summary>
    bool IsProviderFailure { get; }
}

/// <summary>
/// One Polly.Core circuit breaker per provider (keyed by its cluster). The attempt loop asks
/// <see cref="IsOpen"/> to skip a provider known to be dead, which costs no connection; attempts run through
/// <see cref="ExecuteAsync{T}"/> so their outcomes move the breaker. A client abort is never a failure.
/// </summary>
internal sealed class ProviderCircuitBreakers
{
    private readonly ConcurrentDictionary<string, Breaker> _breakers = new(StringComparer.Ordinal);
    private readonly CircuitBreakerSettings _settings;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger<ProviderCircuitBreakers> _logger;

    public ProviderCircuitBreakers(IOptions<CircuitBreakerSettings> settings, TimeProvider timeProvider, ILogger<ProviderCircuitBreakers> logger)
    {
        _settings = settings.Value;
        _timeProvider = timeProvider;
        _logger = logger;
    }

    /// <summary>
    /// Whether calls to the provider are being skipped. Polly reports <see cref="CircuitState.Open"/> until an
    /// execution arrives after the break, so the break's end is tracked here: once it has passed, the next
    /// attempt goes through the breaker and becomes the half-open probe.
    /// </summary>
    public bool IsOpen(string key) =>
        _breakers.TryGetValue(key, out var breaker) && breaker.State.CircuitState switch
        {
            CircuitState.Isolated => true,
            CircuitState.Open => _timeProvider.GetTimestamp() < Interlocked.Read(ref breaker.OpenUntil),
            _ => false,
        };

    /// <summary>The state of every breaker created so far, for /metrics.</summary>
    public IEnumerable<(string Key, CircuitState State)> States => _breakers.Select(b => (b.Key, b.Value.State.CircuitState));

    /// <summary>
    /// Runs an attempt under the provider's breaker. Returns false without running it when the circuit is
    /// open (a concurrent request opened it, or another request holds the half-open probe).
    /// </summary>
    public async ValueTask<(bool Ran, T? Result)> ExecuteAsync<T>(string key, Func<ValueTask<T>> attempt)
        where T : class, ICircuitOutcome
    {
        var breaker = _breakers.GetOrAdd(key, Create);
        var context = ResilienceContextPool.Shared.Get();
        Outcome<object?> outcome;
        try
        {
            outcome = await breaker.Pipeline.ExecuteOutcomeAsync<object?, Func<ValueTask<T>>>(
                static async (_, run) => Outcome.FromResult<object?>(await run()), context, attempt);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
        if (outcome.Exception is BrokenCircuitException or IsolatedCircuitException)
        {
            return (false, null);
        }
        outcome.ThrowIfException();
        return (true, (T)outcome.Result!);
    }

    /// <summary>Closes a provider's circuit: a forced attempt at an open provider succeeded.</summary>
    public ValueTask CloseAsync(string key) =>
        _breakers.TryGetValue(key, out var breaker) ? new ValueTask(breaker.Control.CloseAsync()) : default;

    private Breaker Create(string key)
    {
        var breaker = new Breaker();
        var state = breaker.State;
        var control = breaker.Control;
        var pipeline = new ResiliencePipelineBuilder<object?> { TimeProvider = _timeProvider }
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions<object?>
            {
                FailureRatio = _settings.FailureRatio,
                MinimumThroughput = Math.Max(2, _settings.MinimumThroughput),
                SamplingDuration = _settings.SamplingDuration,
                BreakDuration = _settings.BreakDuration,
                StateProvider = state,
                ManualControl = control,
                ShouldHandle = static args => new ValueTask<bool>(args.Outcome.Result is ICircuitOutcome { IsProviderFailure: true }),
                OnOpened = args =>
                {
                    var until = _timeProvider.GetTimestamp() + (long)(args.BreakDuration.TotalSeconds * _timeProvider.TimestampFrequency);
                    Interlocked.Exchange(ref breaker.OpenUntil, until);
                    Log.CircuitOpened(_logger, key, (long)args.BreakDuration.TotalMilliseconds);
                    return default;
                },
                OnClosed = _ =>
                {
                    Log.CircuitClosed(_logger, key);
                    return default;
                },
            })
            .Build();
        breaker.Pipeline = pipeline;
        return breaker;
    }

    private sealed class Breaker
    {
        /// <summary>When the current break ends (a <see cref="TimeProvider"/> timestamp).</summary>
        public long OpenUntil;

        public CircuitBreakerStateProvider State { get; } = new();

        public CircuitBreakerManualControl Control { get; } = new();

        public ResiliencePipeline<object?> Pipeline { get; set; } = ResiliencePipeline<object?>.Empty;
    }
}
