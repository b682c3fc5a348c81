using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace TensorZero.Proxy.Tests.TestSupport;

/// <summary>
/// A host's own ASP.NET Core app with the TensorZero plugin in it, on a free loopback port, quiet logs, and a temporary
/// folder of its own (config, data) that goes with it. The tests say what the host registers and maps.
/// </summary>
internal sealed class PluginHostApp : IAsyncDisposable
{
    private readonly TempDirectory _folder;

    private PluginHostApp(WebApplication app, TempDirectory folder)
    {
        App = app;
        _folder = folder;
        Client = new HttpClient { BaseAddress = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()) };
    }

    public WebApplication App { get; }

    public HttpClient Client { get; }

    /// <summary>Builds and starts the app: <paramref name="register"/> adds its services and settings, <paramref name="map"/> its pipeline.</summary>
    /// <param name="folder">The app's temporary folder; disposed with the app.</param>
    public static async Task<PluginHostApp> StartAsync(TempDirectory folder, Action<WebApplicationBuilder> register, Action<WebApplication> map)
    {
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        register(builder);
        var app = builder.Build();
        map(app);
        await app.StartAsync();
        return new PluginHostApp(app, folder);
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
        _folder.Dispose();
    }
}
