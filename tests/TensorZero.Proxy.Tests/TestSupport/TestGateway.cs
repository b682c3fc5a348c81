using TensorZero.Proxy.Gateway;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using TensorZero.Proxy.Inference;

namespace TensorZero.Proxy.Tests.TestSupport;

/// <summary>The real gateway (<see cref="GatewayHost.CreateApp"/>) on a loopback Kestrel port.</summary>
internal sealed class TestGateway : IAsyncDisposable
{
    private readonly string? _tempConfig;
    private readonly bool _ownsDataDir;

    private TestGateway(WebApplication app, string? tempConfig, InferenceCapture capture, string dataDir, bool ownsDataDir)
    {
        App = app;
        Inferences = capture;
        _tempConfig = tempConfig;
        DataDir = dataDir;
        _ownsDataDir = ownsDataDir;
        BaseUrl = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        Client = new HttpClient { BaseAddress = new Uri(BaseUrl) };
    }

    public WebApplication App { get; }

    public string BaseUrl { get; }

    public HttpClient Client { get; }

    /// <summary>Every completed inference's per-request state, as observability would receive it.</summary>
    public InferenceCapture Inferences { get; }

    /// <summary>The observability data folder of this gateway (a fresh temp folder unless a test chose one).</summary>
    public string DataDir { get; }

    /// <summary>Starts the gateway on a configuration file of config/, with text substitutions (e.g. a fake's port).</summary>
    public static Task<TestGateway> StartFromFileAsync(
        string configFile, IReadOnlyDictionary<string, string>? replacements = null, IReadOnlyDictionary<string, string>? environment = null,
        params string[] extraArgs)
    {
        var toml = File.ReadAllText(RepoPaths.Config(configFile));
        foreach (var (from, to) in replacements ?? new Dictionary<string, string>())
        {
            toml = toml.Replace(from, to, StringComparison.Ordinal);
        }
        return StartAsync(toml, environment, extraArgs);
    }

    /// <summary>Starts the gateway on TOML text.</summary>
    public static Task<TestGateway> StartAsync(string toml, IReadOnlyDictionary<string, string>? environment = null, params string[] extraArgs) =>
        StartAsync(toml, environment, time: null, extraArgs);

    /// <summary>
    /// Starts the gateway on TOML text with <paramref name="time"/> as its clock: deadlines, retry delays and
    /// measured durations then move only when the test advances a fake clock (<see cref="WatchedFakeTimeProvider"/>).
    /// </summary>
    public static Task<TestGateway> StartWithClockAsync(string toml, TimeProvider time) => StartAsync(toml, environment: null, time, []);

    /// <summary>Starts the gateway on TOML text with further service registrations (a log capture, reload settings).</summary>
    public static Task<TestGateway> StartWithServicesAsync(string toml, Action<IServiceCollection> configureServices, params string[] extraArgs) =>
        StartAsync(toml, environment: null, time: null, extraArgs, configureServices);

    private static async Task<TestGateway> StartAsync(
        string toml, IReadOnlyDictionary<string, string>? environment, TimeProvider? time, string[] extraArgs, Action<IServiceCollection>? configureServices = null)
    {
        var path = Path.Combine(Path.GetTempPath(), $"tzp-test-{Guid.NewGuid():N}.toml");
        await File.WriteAllTextAsync(path, toml);
        var env = environment ?? new Dictionary<string, string>();
        var capture = new InferenceCapture();
        // Each gateway gets its own observability folder (one process per folder), removed on dispose,
        // unless the test names one with --TensorZero:Observability:DataDir=... (then the test owns it).
        const string dataDirArg = "--TensorZero:Observability:DataDir=";
        var chosen = extraArgs.LastOrDefault(a => a.StartsWith(dataDirArg, StringComparison.Ordinal));
        var dataDir = chosen?[dataDirArg.Length..] ?? Path.Combine(Path.GetTempPath(), $"tzp-test-data-{Guid.NewGuid():N}");
        var app = GatewayHost.CreateApp(
            ["--config-file", path, "--urls", "http://127.0.0.1:0", "--Logging:LogLevel:Default=Warning", dataDirArg + dataDir, .. extraArgs],
            name => env.TryGetValue(name, out var value) ? value : null,
            services =>
            {
                services.AddSingleton<IInferenceObserver>(capture);
                if (time is not null)
                {
                    services.AddSingleton(time);
                }
                configureServices?.Invoke(services);
            });
        await app.StartAsync();
        return new TestGateway(app, path, capture, dataDir, ownsDataDir: chosen is null);
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
        if (_tempConfig is not null)
        {
            File.Delete(_tempConfig);
        }
        if (_ownsDataDir && Directory.Exists(DataDir))
        {
            Directory.Delete(DataDir, recursive: true);
        }
    }
}

/// <summary>Collects completed inferences; <see cref="NextAsync"/> waits for one without sleeping.</summary>
internal sealed class InferenceCapture : IInferenceObserver
{
    private readonly System.Threading.Channels.Channel<InferenceFeature> _channel =
        System.Threading.Channels.Channel.CreateUnbounded<InferenceFeature>();
    private readonly System.Collections.Concurrent.ConcurrentQueue<InferenceFeature> _all = new();

    private readonly System.Collections.Concurrent.ConcurrentQueue<bool> _responseStarted = new();

    public IReadOnlyList<InferenceFeature> All => [.. _all];

    /// <summary>For each completed inference, whether the client's response had started when the observers ran.</summary>
    public IReadOnlyList<bool> ResponseStartedWhenObserved => [.. _responseStarted];

    public ValueTask OnCompleted(Microsoft.AspNetCore.Http.HttpContext context, InferenceFeature inference)
    {
        _responseStarted.Enqueue(context.Response.HasStarted);
        _all.Enqueue(inference);
        _channel.Writer.TryWrite(inference);
        return default;
    }

    /// <summary>The next completed inference (30 s guard against a hang, not a timing assertion).</summary>
    public async Task<InferenceFeature> NextAsync() =>
        await _channel.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30));
}
