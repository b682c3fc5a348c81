using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace TensorZero.Proxy.Tests.TestSupport;

/// <summary>
/// Scripts that make a <see cref="FakeProvider"/> answer as Anthropic's Messages API does (docs.anthropic.com/en/api/messages,
/// .../messages-streaming): a message object, or named SSE events (<c>event: X</c> then <c>data: {...}</c>).
/// </summary>
internal static class FakeAnthropic
{
    public static bool IsStream(ReceivedRequest request) =>
        request.Json.TryGetProperty("stream", out var s) && s.ValueKind == JsonValueKind.True;

    /// <summary>A text answer (whole, or streamed word by word when the request streams).</summary>
    public static Func<HttpContext, ReceivedRequest, Task> Text(string text) => (context, request) => IsStream(request)
        ? StreamText(context, request, text.Split(' ').Select((w, i) => i == 0 ? w : " " + w).ToArray())
        : Message(context, request, [new { type = "text", text }], "end_turn");

    /// <summary>One tool call (whole, or streamed as a tool_use start and input_json_delta pieces).</summary>
    public static Func<HttpContext, ReceivedRequest, Task> ToolUse(string id, string name, string inputJson) => async (context, request) =>
    {
        if (!IsStream(request))
        {
            await Message(context, request, [new { type = "tool_use", id, name, input = JsonDocument.Parse(inputJson).RootElement }], "tool_use");
            return;
        }
        await StartStream(context, request);
        await Event(context, "content_block_start", new { type = "content_block_start", index = 0, content_block = new { type = "tool_use", id, name, input = new { } } });
        var half = inputJson.Length / 2;
        foreach (var piece in new[] { inputJson[..half], inputJson[half..] })
        {
            await Event(context, "content_block_delta", new { type = "content_block_delta", index = 0, delta = new { type = "input_json_delta", partial_json = piece } });
        }
        await Event(context, "content_block_stop", new { type = "content_block_stop", index = 0 });
        await EndStream(context, "tool_use");
    };

    public static Task Message(HttpContext context, ReceivedRequest request, object[] content, string stopReason)
    {
        var json = JsonSerializer.Serialize(new
        {
            id = "msg_fake",
            type = "message",
            role = "assistant",
            model = request.Json.GetProperty("model").GetString(),
            content,
            stop_reason = stopReason,
            stop_sequence = (string?)null,
            usage = new { input_tokens = 11, output_tokens = 7 },
        });
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(json);
    }

    public static async Task StreamText(HttpContext context, ReceivedRequest request, string[] pieces)
    {
        await StartStream(context, request);
        await Event(context, "content_block_start", new { type = "content_block_start", index = 0, content_block = new { type = "text", text = "" } });
        await Event(context, "ping", new { type = "ping" });
        foreach (var piece in pieces)
        {
            await Event(context, "content_block_delta", new { type = "content_block_delta", index = 0, delta = new { type = "text_delta", text = piece } });
        }
        await Event(context, "content_block_stop", new { type = "content_block_stop", index = 0 });
        await EndStream(context, "end_turn");
    }

    private static async Task StartStream(HttpContext context, ReceivedRequest request)
    {
        context.Response.ContentType = "text/event-stream";
        await Event(context, "message_start", new
        {
            type = "message_start",
            message = new
            {
                id = "msg_fake", type = "message", role = "assistant", content = Array.Empty<object>(), model = request.Json.GetProperty("model").GetString(),
                stop_reason = (string?)null, stop_sequence = (string?)null, usage = new { input_tokens = 11, output_tokens = 1 },
            },
        });
    }

    private static async Task EndStream(HttpContext context, string stopReason)
    {
        await Event(context, "message_delta", new { type = "message_delta", delta = new { stop_reason = stopReason, stop_sequence = (string?)null }, usage = new { output_tokens = 7 } });
        await Event(context, "message_stop", new { type = "message_stop" });
    }

    public static async Task Event(HttpContext context, string name, object data)
    {
        await context.Response.WriteAsync($"event: {name}\ndata: {JsonSerializer.Serialize(data)}\n\n", Encoding.UTF8);
        await context.Response.Body.FlushAsync();
    }

    /// <summary>Anthropic's error shape with its status.</summary>
    public static Func<HttpContext, ReceivedRequest, Task> Error(int status, string type, string message) => (context, _) =>
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(JsonSerializer.Serialize(new { type = "error", error = new { type, message } }));
    };
}

/// <summary>
/// Scripts that make a <see cref="FakeProvider"/> answer as Gemini's generateContent API does (ai.google.dev/api/generate-content):
/// a <c>GenerateContentResponse</c>, or (<c>:streamGenerateContent?alt=sse</c>) one per SSE <c>data:</c> event.
/// </summary>
internal static class FakeGemini
{
    public static bool IsStream(ReceivedRequest request) => request.Path.EndsWith(":streamGenerateContent", StringComparison.Ordinal);

    public static Func<HttpContext, ReceivedRequest, Task> Text(string text) => async (context, request) =>
    {
        if (!IsStream(request))
        {
            await Respond(context, [new { text }], "STOP");
            return;
        }
        context.Response.ContentType = "text/event-stream";
        var words = text.Split(' ').Select((w, i) => i == 0 ? w : " " + w).ToArray();
        for (var i = 0; i < words.Length; i++)
        {
            await Event(context, Response([new { text = words[i] }], i == words.Length - 1 ? "STOP" : null));
        }
    };

    public static Func<HttpContext, ReceivedRequest, Task> FunctionCall(string name, string argsJson) => async (context, request) =>
    {
        object[] parts = [new { functionCall = new { name, args = JsonDocument.Parse(argsJson).RootElement } }];
        if (!IsStream(request))
        {
            await Respond(context, parts, "STOP");
            return;
        }
        context.Response.ContentType = "text/event-stream";
        await Event(context, Response(parts, "STOP"));
    };

    private static object Response(object[] parts, string? finishReason) => new
    {
        candidates = new[] { new { content = new { role = "model", parts }, finishReason, index = 0 } },
        usageMetadata = new { promptTokenCount = 9, candidatesTokenCount = 4, totalTokenCount = 13 },
        modelVersion = "gemini-2.0-flash",
    };

    private static Task Respond(HttpContext context, object[] parts, string finishReason)
    {
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(JsonSerializer.Serialize(Response(parts, finishReason)));
    }

    private static async Task Event(HttpContext context, object data)
    {
        // Gemini frames its events with CRLF.
        await context.Response.WriteAsync("data: " + JsonSerializer.Serialize(data) + "\r\n\r\n", Encoding.UTF8);
        await context.Response.Body.FlushAsync();
    }

    /// <summary>Google's error shape with its status.</summary>
    public static Func<HttpContext, ReceivedRequest, Task> Error(int status, string message) => (context, _) =>
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(JsonSerializer.Serialize(new { error = new { code = status, message, status = "INVALID_ARGUMENT" } }));
    };
}
