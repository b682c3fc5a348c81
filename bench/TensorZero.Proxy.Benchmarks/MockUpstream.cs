using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace TensorZero.Proxy.Benchmarks;

/// <summary>
/// A fast OpenAI-compatible upstream on loopback: a fixed chat.completion body, or a fixed SSE stream.
/// It does no work per request beyond writing constant bytes, so it is not what limits a run.
/// </summary>
internal sealed class MockUpstream : IAsyncDisposable
{
    public static readonly byte[] Completion = Encoding.UTF8.GetBytes(
        """{"id":"chatcmpl-mock","object":"chat.completion","created":1700000000,"model":"mock","choices":[{"index":0,"message":{"role":"assistant","content":"Hello from the mock upstream."},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":6,"total_tokens":15}}""");

    public static readonly byte[][] StreamEvents =
    [
        .. new[] { "Hello", " from", " the", " mock", " upstream." }.Select(word => Encoding.UTF8.GetBytes(
            $$"""data: {"id":"chatcmpl-mock","object":"chat.completion.chunk","created":1700000000,"model":"mock","choices":[{"index":0,"delta":{"content":"{{word}}"},"finish_reason":null}]}""" + "\n\n")),
        Encoding.UTF8.GetBytes("""data: {"id":"chatcmpl-mock","object":"chat.completion.chunk","created":1700000000,"model":"mock","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":6,"total_tokens":15}}""" + "\n\n"),
        "data: [DONE]\n\n"u8.ToArray(),
    ];

    private readonly WebApplication _app;

    private MockUpstream(WebApplication app, string baseUrl)
    {
        _app = app;
        BaseUrl = baseUrl;
    }

    public string BaseUrl { get; }

    /// <summary>The <c>mock</c> mode: serves on a fixed port until the process is killed.</summary>
    public static async Task<int> RunUntilKilledAsync(string[] args)
    {
        var i = Array.IndexOf(args, "--port");
        var port = i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], System.Globalization.CultureInfo.InvariantCulture) : 0;
        await using var mock = await StartAsync(port);
        Console.WriteLine($"mock upstream on {mock.BaseUrl}");
        // Ends on SIGTERM/Ctrl+C: the host's lifetime stops the app.
        await mock._app.WaitForShutdownAsync();
        return 0;
    }

    public static async Task<MockUpstream> StartAsync(int port = 0)
    {
        // No file watching: the default content root is the working directory, where the gateway's queue folder
        // lives in the load benchmark, and a watcher there would take an inotify event for every queue write.
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            ContentRootPath = AppContext.BaseDirectory,
            Args = ["--hostBuilder:reloadConfigOnChange=false"],
        });
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        var app = builder.Build();
        app.Run(async context =>
        {
            // Drain the request; the body decides streaming by a plain byte search (no JSON parse).
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body);
            var stream = body.GetBuffer().AsSpan(0, (int)body.Length).IndexOf("\"stream\":true"u8) >= 0;
            if (!stream)
            {
                context.Response.ContentType = "application/json";
                context.Response.ContentLength = Completion.Length;
                await context.Response.Body.WriteAsync(Completion);
                return;
            }
            context.Response.ContentType = "text/event-stream";
            foreach (var e in StreamEvents)
            {
                await context.Response.Body.WriteAsync(e);
                await context.Response.Body.FlushAsync();
            }
        });
        await app.StartAsync();
        var url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new MockUpstream(app, url);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
