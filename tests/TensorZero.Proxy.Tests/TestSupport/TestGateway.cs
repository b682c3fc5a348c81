using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace TensorZero.Proxy.Tests.TestSupport;

/// <summary>The real gateway (<see cref="GatewayHost.CreateApp"/>) on a loopback Kestrel port.</summary>
internal sealed class TestGateway : IAsyncDisposable
{
    private readonly string? _tempConfig;

    private TestGateway(WebApplication app, string? tempConfig)
    {
        App = app;
        _tempConfig = tempConfig;
        BaseUrl = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        Client = new HttpClient { BaseAddress = new Uri(BaseUrl) };
    }

    public WebApplication App { get; }

    public string BaseUrl { get; }

    public HttpClient Client { get; }

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
    public static async Task<TestGateway> StartAsync(string toml, IReadOnlyDictionary<string, string>? environment = null, params string[] extraArgs)
    {
        var path = Path.Combine(Path.GetTempPath(), $"tzp-test-{Guid.NewGuid():N}.toml");
        await File.WriteAllTextAsync(path, toml);
        var env = environment ?? new Dictionary<string, string>();
        var app = GatewayHost.CreateApp(
            ["--config-file", path, "--urls", "http://127.0.0.1:0", "--Logging:LogLevel:Default=Warning", .. extraArgs],
            name => env.TryGetValue(name, out var value) ? value : null);
        await app.StartAsync();
        return new TestGateway(app, path);
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
    }
}
