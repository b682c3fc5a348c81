using System.Buffers;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using TensorZero.Proxy.Inference;
using TensorZero.Proxy.Transforms;

namespace TensorZero.Proxy.Providers;

/// <summary>
/// The in-process <c>dummy</c> provider: a deterministic chat completion (plain or SSE, with usage) that
/// says it is a dummy, so the gateway runs offline. <c>model_name = "error"</c> fails like a provider
/// answering 500, so failover can be tried without any network.
/// </summary>
internal sealed class DummyProvider
{
    /// <summary>The model name that makes the dummy fail.</summary>
    public const string ErrorModelName = "error";

    private readonly TimeProvider _timeProvider;

    public DummyProvider(TimeProvider timeProvider)
    {
        _timeProvider = timeProvider;
    }

    /// <summary>The reply's words; the content is the same for every request so tests can rely on it.</summary>
    public static string ResponseText(string modelName) =>
        $"This is a dummy response from the TensorZero.Proxy dummy provider (model_name '{modelName}'); no LLM was called.";

    /// <summary>Answers one attempt. Returns the HTTP status the dummy "provider" gave.</summary>
    /// <param name="context">The client's request.</param>
    /// <param name="modelName">The provider's <c>model_name</c>.</param>
    /// <param name="inference">The inference (ids, request).</param>
    /// <param name="tap">Sees what the dummy writes, as a real provider's response would be seen; may be null.</param>
    public async Task<int> HandleAsync(HttpContext context, string modelName, InferenceFeature inference, IResponseTap? tap = null)
    {
        var request = inference.Request;
        var clientModel = request.Model;
        var stream = request.Stream;
        if (modelName == ErrorModelName)
        {
            return StatusCodes.Status500InternalServerError;
        }

        var text = ResponseText(modelName);
        var words = text.Split(' ');
        var promptTokens = CountPromptWords(request.Body);
        var completionTokens = words.Length;
        var created = _timeProvider.GetUtcNow().ToUnixTimeSeconds();
        var id = (inference.InferenceIdText, inference.EpisodeIdText);
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;

        if (!stream)
        {
            response.ContentType = "application/json";
            var buffer = new ArrayBufferWriter<byte>(512);
            using (var writer = new Utf8JsonWriter(buffer, JsonOptions.Writer))
            {
                writer.WriteStartObject();
                WriteHeader(writer, id, "chat.completion", created, clientModel);
                writer.WriteStartArray("choices");
                writer.WriteStartObject();
                writer.WriteNumber("index", 0);
                writer.WriteStartObject("message");
                writer.WriteString("role", "assistant");
                writer.WriteString("content", text);
                writer.WriteEndObject();
                writer.WriteString("finish_reason", "stop");
                writer.WriteEndObject();
                writer.WriteEndArray();
                WriteUsage(writer, promptTokens, completionTokens);
                writer.WriteEndObject();
            }
            tap?.OnBody(buffer.WrittenMemory);
            await response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted);
            return StatusCodes.Status200OK;
        }

        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        for (var i = 0; i < words.Length; i++)
        {
            var content = i == 0 ? words[i] : " " + words[i];
            await WriteChunkAsync(context, id, created, clientModel, role: i == 0, content, finishReason: null, usage: null, tap);
        }
        await WriteChunkAsync(context, id, created, clientModel, role: false, content: null, finishReason: "stop", usage: null, tap);
        await WriteChunkAsync(context, id, created, clientModel, role: false, content: null, finishReason: null, usage: (promptTokens, completionTokens), tap);
        tap?.OnEvent("data: [DONE]\n\n"u8);
        await response.Body.WriteAsync("data: [DONE]\n\n"u8.ToArray(), context.RequestAborted);
        await response.Body.FlushAsync(context.RequestAborted);
        return StatusCodes.Status200OK;
    }

    private static async Task WriteChunkAsync(
        HttpContext context, (string Inference, string Episode) id, long created, string model, bool role, string? content, string? finishReason,
        (int Prompt, int Completion)? usage, IResponseTap? tap)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        buffer.Write("data: "u8);
        using (var writer = new Utf8JsonWriter(buffer, JsonOptions.Writer))
        {
            writer.WriteStartObject();
            WriteHeader(writer, id, "chat.completion.chunk", created, model);
            writer.WriteStartArray("choices");
            if (usage is null)
            {
                writer.WriteStartObject();
                writer.WriteNumber("index", 0);
                writer.WriteStartObject("delta");
                if (role)
                {
                    writer.WriteString("role", "assistant");
                }
                if (content is not null)
                {
                    writer.WriteString("content", content);
                }
                writer.WriteEndObject();
                if (finishReason is null)
                {
                    writer.WriteNull("finish_reason");
                }
                else
                {
                    writer.WriteString("finish_reason", finishReason);
                }
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
            if (usage is { } u)
            {
                WriteUsage(writer, u.Prompt, u.Completion);
            }
            writer.WriteEndObject();
        }
        buffer.Write("\n\n"u8);
        tap?.OnEvent(buffer.WrittenSpan);
        await context.Response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted);
        await context.Response.Body.FlushAsync(context.RequestAborted);
    }

    private static void WriteHeader(Utf8JsonWriter writer, (string Inference, string Episode) id, string obj, long created, string model)
    {
        writer.WriteString("id", id.Inference);
        writer.WriteString("episode_id", id.Episode);
        writer.WriteString("object", obj);
        writer.WriteNumber("created", created);
        writer.WriteString("model", model);
        writer.WriteString("system_fingerprint", "tensorzero-proxy-dummy");
    }

    private static void WriteUsage(Utf8JsonWriter writer, int prompt, int completion)
    {
        writer.WriteStartObject("usage");
        writer.WriteNumber("prompt_tokens", prompt);
        writer.WriteNumber("completion_tokens", completion);
        writer.WriteNumber("total_tokens", prompt + completion);
        writer.WriteEndObject();
    }

    /// <summary>"Tokens" of the prompt: whitespace-separated words of every string message content.</summary>
    private static int CountPromptWords(byte[] body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            if (!document.RootElement.TryGetProperty("messages", out var messages) || messages.ValueKind != JsonValueKind.Array)
            {
                return 0;
            }
            var count = 0;
            foreach (var message in messages.EnumerateArray())
            {
                if (message.ValueKind == JsonValueKind.Object && message.TryGetProperty("content", out var content))
                {
                    count += CountWords(content);
                }
            }
            return count;
        }
        catch (JsonException)
        {
            return 0;
        }
    }

    private static int CountWords(JsonElement content) => content.ValueKind switch
    {
        JsonValueKind.String => content.GetString()!.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Length,
        JsonValueKind.Array => content.EnumerateArray()
            .Where(part => part.ValueKind == JsonValueKind.Object && part.TryGetProperty("text", out _))
            .Sum(part => CountWords(part.GetProperty("text"))),
        _ => 0,
    };
}
