using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using TensorZero.Proxy.Configuration;
using TensorZero.Proxy.Inference;
using TensorZero.Proxy.Resilience;
using TensorZero.Proxy.Routing;

namespace TensorZero.Proxy.Benchmarks;

/// <summary>
/// What running one provider attempt under its circuit breaker costs (the Polly.Extensions registry pipeline, with the
/// gateway's telemetry settings), against calling the attempt directly: for an attempt that completes at once and for
/// one that completes asynchronously, as a forwarded attempt does
/// (<c>dotnet run -c Release --project bench/TensorZero.Proxy.Benchmarks -- micro --filter '*ResilienceBenchmarks*'</c>).
/// </summary>
[MemoryDiagnoser]
[ShortRunJob]
public class ResilienceBenchmarks
{
    private const string Key = "bench/mock";
    private static readonly AttemptRecord Ok = new("bench", "mock", AttemptOutcome.Ok, 200, TimeSpan.Zero, null);
    private static readonly Func<ValueTask<AttemptRecord>> Completed = static () => new ValueTask<AttemptRecord>(Ok);
    private static readonly Func<ValueTask<AttemptRecord>> Yielding = static async () =>
    {
        await Task.Yield();
        return Ok;
    };

    private ServiceProvider _services = null!;
    private ProviderCircuitBreakers _breakers = null!;

    [GlobalSetup]
    public void Setup()
    {
        var runtime = GatewayRuntime.Build(ConfigLoader.Parse("""
            [models.bench]
            routing = ["mock"]

            [models.bench.providers.mock]
            type = "openai"
            model_name = "mock-model"
            api_base = "http://127.0.0.1:9/v1/"
            api_key_location = "none"
            """), _ => null);
        _services = new ServiceCollection()
            .AddLogging(builder => builder.SetMinimumLevel(LogLevel.Warning))
            .AddSingleton(new GatewayRuntimeAccessor(runtime))
            .AddSingleton<IConfiguration>(new ConfigurationBuilder().Build())
            .AddTensorZeroResilience()
            .BuildServiceProvider();
        _breakers = _services.GetRequiredService<ProviderCircuitBreakers>();
    }

    [GlobalCleanup]
    public void Cleanup() => _services.Dispose();

    [Benchmark(Baseline = true, Description = "attempt called directly, completed")]
    public async ValueTask<bool> DirectCompleted() => (await Completed()).Outcome == AttemptOutcome.Ok;

    [Benchmark(Description = "attempt under its breaker, completed")]
    public async ValueTask<bool> BreakerCompleted()
    {
        _breakers.IsOpen(Key);
        return (await _breakers.ExecuteAsync(Key, Completed)).Result?.Outcome == AttemptOutcome.Ok;
    }

    [Benchmark(Description = "attempt called directly, asynchronous")]
    public async ValueTask<bool> DirectYielding() => (await Yielding()).Outcome == AttemptOutcome.Ok;

    [Benchmark(Description = "attempt under its breaker, asynchronous")]
    public async ValueTask<bool> BreakerYielding()
    {
        _breakers.IsOpen(Key);
        return (await _breakers.ExecuteAsync(Key, Yielding)).Result?.Outcome == AttemptOutcome.Ok;
    }
}
