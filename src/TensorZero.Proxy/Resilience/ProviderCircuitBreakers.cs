using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Polly;
using Polly.CircuitBreaker;
using Polly.Registry;
using TensorZero.Proxy.Routing;

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

/// <summary>
/// A result of a resilience pipeline as Polly's telemetry names it (the <c>Result</c> of its log lines): a constant word,
/// so naming it costs nothing on executions whose events are not logged.
/// </summary>
internal interface IResilienceResult
{
    /// <summary>A short constant word: <c>connect_error</c>, <c>all_providers_failed</c>, ...</summary>
    string ResultName { get; }
}

/// <summary>What an attempt run under a circuit breaker reports back to it.</summary>
internal interface ICircuitOutcome : IResilienceResult
{
    /// <summary>Whether the provider failed (connect error, timeout, 5xx, 429, stalled or broken stream).</summary>
    bool IsProviderFailure { get; }
}

/// <summary>The registry key of a provider's circuit breaker: its YARP cluster.</summary>
/// <param name="Cluster"><c>model/provider</c> for a configured provider; <c>shorthand/type</c>, shared by a type's shorthand models.</param>
internal readonly record struct ProviderCircuitKey(string Cluster)
{
    public override string ToString() => Cluster;
}

/// <summary>
/// One circuit breaker per provider (keyed by its cluster), a Polly.Extensions registry pipeline
/// (<see cref="ResiliencePipelineRegistry{TKey}"/> of <see cref="ProviderCircuitKey"/>) with the gateway's telemetry and
/// clock. The attempt loop asks <see cref="IsOpen"/> to skip a provider known to be dead, which costs no connection;
/// attempts run through <see cref="ExecuteAsync{T}"/> so their outcomes move the breaker. A client abort is never a failure.
/// </summary>
/// <remarks>
/// A breaker belongs to its cluster and to the provider's settings (<see cref="Identity"/>): a reloaded configuration
/// whose provider has the same settings keeps the breaker and its state; changed settings rebuild it closed; a removed
/// provider's breaker is retired (see <see cref="KeyedPipelines{TKey, TSettings, TState}"/>).
/// </remarks>
internal sealed class ProviderCircuitBreakers
{
    /// <summary>The <c>pipeline.name</c> of every breaker in Polly's telemetry (the instance is the cluster).</summary>
    public const string PipelineName = "tensorzero-provider-circuit";

    /// <summary>The identity of a cluster the configuration does not have (a request of an older configuration).</summary>
    private const string NotConfigured = "(not in the configuration)";

    private readonly KeyedPipelines<ProviderCircuitKey, string, Breaker> _breakers;
    private readonly CircuitBreakerSettings _settings;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger<ProviderCircuitBreakers> _logger;

    public ProviderCircuitBreakers(
        ResiliencePipelineRegistry<ProviderCircuitKey> registry, GatewayRuntimeAccessor runtime, IOptions<CircuitBreakerSettings> settings,
        TimeProvider timeProvider, ILogger<ProviderCircuitBreakers> logger)
    {
        _settings = settings.Value;
        _timeProvider = timeProvider;
        _logger = logger;
        _breakers = new(registry, runtime, Identities, Configure);
    }

    /// <summary>
    /// Whether calls to the provider are being skipped. Polly reports <see cref="CircuitState.Open"/> until an
    /// execution arrives after the break, so the break's end is tracked here: once it has passed, the next
    /// attempt goes through the breaker and becomes the half-open probe.
    /// </summary>
    public bool IsOpen(string key) =>
        _breakers.TryGet(new ProviderCircuitKey(key), out var entry) && entry.State is var breaker && breaker.State.CircuitState switch
        {
            CircuitState.Isolated => true,
            CircuitState.Open => _timeProvider.GetTimestamp() < Interlocked.Read(ref breaker.OpenUntil),
            _ => false,
        };

    /// <summary>The state of every breaker created so far whose provider the configuration has, for /metrics.</summary>
    public IEnumerable<(string Key, CircuitState State)> States => _breakers.Live.Select(b => (b.Key.Cluster, b.State.State.CircuitState));

    /// <summary>
    /// Runs an attempt under the provider's breaker. Returns false without running it when the circuit is
    /// open (a concurrent request opened it, or another request holds the half-open probe).
    /// </summary>
    /// <remarks>
    /// The attempt runs outside Polly's pipeline, and its outcome then goes through the pipeline as an execution that has
    /// already completed (so Polly's breaker counts it, moves its state and reports its events as it would have). Running
    /// the forwarded attempt inside the pipeline's asynchronous layers cost the gateway about 18 µs of CPU per request
    /// (bench/run, bench/RESULTS.md). Which attempts may run is decided here, as Polly would: all while the circuit is
    /// closed; none while it is open and its break lasts; after the break, one probe at a time (<see cref="Breaker.Probing"/>),
    /// whose outcome Polly takes as its half-open execution: a success closes the circuit, a failure opens it again.
    /// </remarks>
    public async ValueTask<(bool Ran, T? Result)> ExecuteAsync<T>(string key, Func<ValueTask<T>> attempt)
        where T : class, ICircuitOutcome
    {
        if (!TryAdmit(key, out var admission))
        {
            return (false, null);
        }
        T result;
        try
        {
            result = await attempt();
        }
        catch
        {
            Release(admission);
            throw;
        }
        await ReportAsync(admission, result);
        return (true, result);
    }

    /// <summary>
    /// Whether an attempt at the provider may run now (see <see cref="ExecuteAsync{T}"/>). An admitted attempt must end
    /// in <see cref="ReportAsync{T}"/> with its outcome, or in <see cref="Release"/> when it produced none.
    /// </summary>
    public bool TryAdmit(string key, out CircuitAdmission admission)
    {
        var entry = _breakers.GetOrAdd(new ProviderCircuitKey(key), NotConfigured);
        var breaker = entry.State;
        admission = default;
        switch (breaker.State.CircuitState)
        {
            case CircuitState.Closed:
                admission = new CircuitAdmission(entry.Pipeline!, breaker, Probe: false);
                return true;
            case CircuitState.Open when _timeProvider.GetTimestamp() < Interlocked.Read(ref breaker.OpenUntil):
            case CircuitState.Isolated:
                return false;
            default:
                // The break is over (or Polly is half-open): this attempt is the probe unless another one already is.
                if (Interlocked.CompareExchange(ref breaker.Probing, 1, 0) != 0)
                {
                    return false;
                }
                admission = new CircuitAdmission(entry.Pipeline!, breaker, Probe: true);
                return true;
        }
    }

    /// <summary>
    /// Gives Polly's breaker an admitted attempt's outcome: an execution that completes at once (no asynchronous layer),
    /// which the breaker counts. Polly may refuse it (the circuit opened meanwhile, by a concurrent request): it is then not
    /// counted, as an attempt Polly had refused to run would not have been.
    /// </summary>
    public ValueTask ReportAsync<T>(CircuitAdmission admission, T result)
        where T : class, ICircuitOutcome
    {
        var context = ResilienceContextPool.Shared.Get();
        ValueTask<Outcome<T>> execution;
        try
        {
            execution = admission.Pipeline.ExecuteOutcomeAsync<T, T>(
                static (_, completed) => new ValueTask<Outcome<T>>(Outcome.FromResult(completed)), context, result);
        }
        catch
        {
            ResilienceContextPool.Shared.Return(context);
            Release(admission);
            throw;
        }
        if (!execution.IsCompletedSuccessfully)
        {
            return Awaited(execution, context, admission);
        }
        Finish(execution.Result, context, admission);
        return default;

        static async ValueTask Awaited(ValueTask<Outcome<T>> execution, ResilienceContext context, CircuitAdmission admission)
        {
            Outcome<T> outcome;
            try
            {
                outcome = await execution;
            }
            catch
            {
                ResilienceContextPool.Shared.Return(context);
                Release(admission);
                throw;
            }
            Finish(outcome, context, admission);
        }

        static void Finish(Outcome<T> outcome, ResilienceContext context, CircuitAdmission admission)
        {
            ResilienceContextPool.Shared.Return(context);
            Release(admission);
            if (outcome.Exception is not (null or BrokenCircuitException or IsolatedCircuitException))
            {
                outcome.ThrowIfException();
            }
        }
    }

    /// <summary>Ends an admitted attempt that produced no outcome (it threw): a probe slot is given back, nothing is counted.</summary>
    public static void Release(CircuitAdmission admission)
    {
        if (admission.Probe)
        {
            Volatile.Write(ref admission.Breaker.Probing, 0);
        }
    }

    /// <summary>Closes a provider's circuit: a forced attempt at an open provider succeeded.</summary>
    public ValueTask CloseAsync(string key) =>
        _breakers.TryGet(new ProviderCircuitKey(key), out var entry) ? new ValueTask(entry.State.Control.CloseAsync()) : default;

    /// <summary>
    /// What a breaker's verdict is about, per cluster of a snapshot: for a configured provider, where its attempts go and
    /// every setting of it (type, address, model, credential location, timeouts, extra headers and body, ...); for a
    /// shorthand type's shared cluster, its address and the configured credential defaults of the provider types.
    /// Credentials read from the environment or files are named by location, never by value; the identities are kept as
    /// SHA-256 digests, so configured header values (which may be credentials) are not copied either.
    /// </summary>
    internal static Func<ProviderCircuitKey, string?> Identities(GatewayRuntime runtime)
    {
        var identities = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var model in runtime.Models.Values.Concat(runtime.EmbeddingModels.Values))
        {
            foreach (var provider in model.Providers)
            {
                if (provider.ClusterId is { } cluster)
                {
                    identities[cluster] = Digest(Identity(provider));
                }
            }
        }
        var typeDefaults = string.Join(",", runtime.Config.ProviderTypeDefaults
            .Select(d => $"{d.Key}={d.Value}").Order(StringComparer.Ordinal));
        foreach (var cluster in runtime.CreateClusters())
        {
            if (cluster.Destinations is { Count: > 0 } destinations && !identities.ContainsKey(cluster.ClusterId))
            {
                identities[cluster.ClusterId] = Digest($"shared {destinations.Values.First().Address} {typeDefaults}");
            }
        }
        return key => identities.GetValueOrDefault(key.Cluster);
    }

    /// <summary>
    /// A configured provider's settings, as one comparable string: where it sends (address, request URI, upstream model),
    /// its credential's location, and <see cref="RuntimeProvider.Fingerprint"/>, the hash of its whole configuration
    /// (every setting, one added later included), the one the reload and the cache compare too.
    /// </summary>
    internal static string Identity(RuntimeProvider provider) => string.Join("\n",
        provider.DestinationPrefix, provider.Policy?.RequestUri, provider.UpstreamModelName, provider.Config.ApiKeyLocation, provider.Fingerprint);

    private static string Digest(string identity) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(identity)));

    private Breaker Configure(ResiliencePipelineBuilder builder, ProviderCircuitKey key, string identity)
    {
        // A new state provider and control per build: Polly binds each to one breaker.
        var breaker = new Breaker();
        builder.AddCircuitBreaker(new CircuitBreakerStrategyOptions
        {
            FailureRatio = _settings.FailureRatio,
            MinimumThroughput = Math.Max(2, _settings.MinimumThroughput),
            SamplingDuration = _settings.SamplingDuration,
            BreakDuration = _settings.BreakDuration,
            StateProvider = breaker.State,
            ManualControl = breaker.Control,
            ShouldHandle = static args => new ValueTask<bool>(args.Outcome.Result is ICircuitOutcome { IsProviderFailure: true }),
            OnOpened = args =>
            {
                var until = _timeProvider.GetTimestamp() + (long)(args.BreakDuration.TotalSeconds * _timeProvider.TimestampFrequency);
                Interlocked.Exchange(ref breaker.OpenUntil, until);
                Log.CircuitOpened(_logger, key.Cluster, (long)args.BreakDuration.TotalMilliseconds);
                return default;
            },
            OnClosed = _ =>
            {
                Log.CircuitClosed(_logger, key.Cluster);
                return default;
            },
        });
        return breaker;
    }

    /// <summary>One build of a provider's breaker: its state, its control and the end of its current break.</summary>
    internal sealed class Breaker
    {
        /// <summary>When the current break ends (a <see cref="TimeProvider"/> timestamp).</summary>
        public long OpenUntil;

        /// <summary>1 while an attempt runs as the probe after a break: the others wait for its verdict.</summary>
        public int Probing;

        public CircuitBreakerStateProvider State { get; } = new();

        public CircuitBreakerManualControl Control { get; } = new();
    }
}

/// <summary>An attempt <see cref="ProviderCircuitBreakers.TryAdmit"/> let through: the pipeline that counts its outcome, and whether it is the probe after a break.</summary>
internal readonly record struct CircuitAdmission(ResiliencePipeline Pipeline, ProviderCircuitBreakers.Breaker Breaker, bool Probe);
