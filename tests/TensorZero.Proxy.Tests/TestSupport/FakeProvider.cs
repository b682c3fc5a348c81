using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace TensorZero.Proxy.Tests.TestSupport;

/// <summary>What a fake provider received.</summary>
internal sealed record ReceivedRequest(string Method, string Path, string Query, IReadOnlyDictionary<string, string> Headers, byte[] Body)
{
    public JsonElement Json => JsonDocument.Parse(Body).RootElement;

    public string? Header(string name) => Headers.TryGetValue(name, out var v) ? v : null;
}

/// <summary>
/// An OpenAI-compatible provider on a real loopback Kestrel port, scripted per request: each request is
/// recorded, then answered by the script (by default a normal chat completion, or an SSE stream when asked).
/// </summary>
internal sealed class FakeProvider : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<ReceivedRequest> _received = new();
    private readonly TaskCompletionSource _firstReceived = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Func<HttpContext, ReceivedRequest, Task> _script;

    private FakeProvider(WebApplication app, Func<HttpContext, ReceivedRequest, Task>? script)
    {
        _app = app;
        _script = script ?? FakeResponses.Default("fake reply");
    }

    /// <summary>e.g. http://127.0.0.1:41234</summary>
    public string BaseUrl { get; private set; } = "";

    /// <summary>host:port, for substituting into configuration files.</summary>
    public string Authority => new Uri(BaseUrl).Authority;

    public IReadOnlyList<ReceivedRequest> Received => [.. _received];

    /// <summary>
    /// Completes when the first request has arrived (its body read, before the script answers it): by then the
    /// gateway has started every deadline of that attempt. 30 s guard against a hang, not a timing assertion.
    /// </summary>
    public Task FirstRequestAsync() => _firstReceived.Task.WaitAsync(TimeSpan.FromSeconds(30));

    public Func<HttpContext, ReceivedRequest, Task> Script
    {
        set => _script = value;
    }

    public static async Task<FakeProvider> StartAsync(Func<HttpContext, ReceivedRequest, Task>? script = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var fake = new FakeProvider(app, script);
        app.Run(fake.HandleAsync);
        await app.StartAsync();
        fake.BaseUrl = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return fake;
    }

    private async Task HandleAsync(HttpContext context)
    {
        using var buffer = new MemoryStream();
        await context.Request.Body.CopyToAsync(buffer);
        var headers = context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
        var request = new ReceivedRequest(context.Request.Method, context.Request.Path.Value ?? "", context.Request.QueryString.Value ?? "", headers, buffer.ToArray());
        _received.Enqueue(request);
        _firstReceived.TrySetResult();
        await _script(context, request);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>Scripted answers of a fake provider.</summary>
internal static class FakeResponses
{
    /// <summary>A chat completion, or an SSE stream of the words of <paramref name="text"/> when the request streams.</summary>
    public static Func<HttpContext, ReceivedRequest, Task> Default(string text) => (context, request) =>
        request.Json.TryGetProperty("stream", out var s) && s.ValueKind == JsonValueKind.True
            ? Stream(context, request, text.Split(' ').Select((w, i) => i == 0 ? w : " " + w).ToArray())
            : Completion(context, request, text);

    public static Task Completion(HttpContext context, ReceivedRequest request, string text)
    {
        var model = request.Json.GetProperty("model").GetString();
        var json = JsonSerializer.Serialize(new
        {
            id = "chatcmpl-fake",
            @object = "chat.completion",
            created = 1700000000,
            model,
            choices = new[] { new { index = 0, message = new { role = "assistant", content = text }, finish_reason = "stop" } },
            usage = new { prompt_tokens = 5, completion_tokens = 3, total_tokens = 8 },
        });
        context.Response.ContentType = "application/json";
        context.Response.Headers["x-fake-provider"] = "yes";
        return context.Response.WriteAsync(json);
    }

    public static async Task Stream(HttpContext context, ReceivedRequest request, string[] pieces, Func<int, Task>? beforeChunk = null)
    {
        var model = request.Json.GetProperty("model").GetString();
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers["x-fake-provider"] = "yes";
        for (var i = 0; i < pieces.Length; i++)
        {
            if (beforeChunk is not null)
            {
                await beforeChunk(i);
            }
            await WriteEvent(context, Chunk(model, pieces[i], finish: null));
        }
        await WriteEvent(context, Chunk(model, null, finish: "stop"));
        await context.Response.WriteAsync("data: [DONE]\n\n");
        await context.Response.Body.FlushAsync();
    }

    public static string Chunk(string? model, string? content, string? finish) => JsonSerializer.Serialize(new
    {
        id = "chatcmpl-fake",
        @object = "chat.completion.chunk",
        created = 1700000000,
        model,
        choices = new[] { new { index = 0, delta = content is null ? (object)new { } : new { content }, finish_reason = finish } },
    });

    public static async Task WriteEvent(HttpContext context, string json)
    {
        await context.Response.WriteAsync("data: " + json + "\n\n", Encoding.UTF8);
        await context.Response.Body.FlushAsync();
    }

    public static Task Status(HttpContext context, int status, string body = "{\"error\":{\"message\":\"upstream failure\"}}")
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(body);
    }
}

/// <summary>The ways a scripted provider misbehaves (issue: timeouts and failover).</summary>
public enum FailureMode
{
    RefuseConnection,
    HangBeforeHeaders,
    Status500,
    Status429WithRetryAfter,
    OkThenNoToken,
    SlowSecondChunk,
    /// <summary>200 with an HTML page (a captive portal, a misrouted proxy).</summary>
    OkHtml,
    /// <summary>200 text/event-stream whose first event is not JSON.</summary>
    OkGarbageStream,
}

/// <summary>Scripts for misbehaving providers. Each marks its responses with x-bad-provider so a leak shows.</summary>
internal static class FailingResponses
{
    public static Func<HttpContext, ReceivedRequest, Task> For(FailureMode mode) => mode switch
    {
        FailureMode.HangBeforeHeaders => async (context, _) => await HangAsync(context),
        FailureMode.Status500 => (context, _) =>
        {
            context.Response.Headers["x-bad-provider"] = "1";
            return FakeResponses.Status(context, 500, "{\"error\":{\"message\":\"bad provider body\"}}");
        },
        FailureMode.Status429WithRetryAfter => (context, _) =>
        {
            context.Response.Headers["x-bad-provider"] = "1";
            context.Response.Headers["retry-after"] = "17";
            return FakeResponses.Status(context, 429, "{\"error\":{\"message\":\"bad provider body\"}}");
        },
        FailureMode.OkThenNoToken => async (context, request) =>
        {
            context.Response.Headers["x-bad-provider"] = "1";
            context.Response.ContentType = IsStream(request) ? "text/event-stream" : "application/json";
            await context.Response.StartAsync();
            await context.Response.Body.FlushAsync();
            await HangAsync(context);
        },
        FailureMode.SlowSecondChunk => async (context, request) =>
        {
            context.Response.Headers["x-bad-provider"] = "1";
            if (IsStream(request))
            {
                context.Response.ContentType = "text/event-stream";
                await FakeResponses.WriteEvent(context, FakeResponses.Chunk("bad", "bad provider body", null));
            }
            else
            {
                context.Response.ContentType = "application/json";
                await context.Response.WriteAsync("{\"id\":\"bad\",\"object\":\"chat.completion\",\"choices\":[");
                await context.Response.Body.FlushAsync();
            }
            await HangAsync(context);
        },
        FailureMode.OkHtml => async (context, _) =>
        {
            context.Response.Headers["x-bad-provider"] = "1";
            context.Response.ContentType = "text/html";
            await context.Response.WriteAsync("<html><body>bad provider body</body></html>");
        },
        FailureMode.OkGarbageStream => async (context, _) =>
        {
            context.Response.Headers["x-bad-provider"] = "1";
            context.Response.ContentType = "text/event-stream";
            await context.Response.WriteAsync("data: <html>bad provider body</html>\n\ndata: [DONE]\n\n");
        },
        _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, "has no script (RefuseConnection uses a closed port)"),
    };

    public static bool IsStream(ReceivedRequest request) =>
        request.Json.TryGetProperty("stream", out var s) && s.ValueKind == System.Text.Json.JsonValueKind.True;

    /// <summary>Holds the request open until the gateway gives up on it.</summary>
    public static async Task HangAsync(HttpContext context)
    {
        try
        {
            await Task.Delay(Timeout.Infinite, context.RequestAborted);
        }
        catch (OperationCanceledException)
        {
        }
    }
}
