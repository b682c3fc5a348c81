using System.Buffers;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace TensorZero.Proxy.Inference;

/// <summary>
/// Writes errors of TensorZero's native endpoint in its shape, <c>{"error": "message"}</c> (the OpenAI-compatible
/// endpoint nests it: <see cref="OpenAIError"/>).
/// </summary>
internal static class NativeError
{
    /// <param name="context">The request.</param>
    /// <param name="statusCode">The HTTP status.</param>
    /// <param name="message">What went wrong, for the client.</param>
    /// <param name="setHeaders">Sets further response headers once the response was cleared.</param>
    public static Task WriteAsync(HttpContext context, int statusCode, string message, Action<HttpContext>? setHeaders = null)
    {
        var response = context.Response;
        if (response.HasStarted)
        {
            // Too late for a status code: the caller ends a stream with an SSE error event instead.
            return Task.CompletedTask;
        }
        response.Clear();
        response.StatusCode = statusCode;
        response.ContentType = "application/json";
        setHeaders?.Invoke(context);
        return response.Body.WriteAsync(Serialize(message), context.RequestAborted).AsTask();
    }

    /// <summary><c>{"error": "message"}</c>.</summary>
    public static byte[] Serialize(string message)
    {
        var buffer = new ArrayBufferWriter<byte>(64 + message.Length);
        using (var writer = new Utf8JsonWriter(buffer, JsonOptions.Writer))
        {
            writer.WriteStartObject();
            writer.WriteString("error", message);
            writer.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>
    /// An error in the middle of a stream, as TensorZero sends it: an SSE event <c>data: {"error": "message"}</c> (native)
    /// or <c>data: {"error": {"message": "message"}}</c> (OpenAI-compatible). TensorZero goes on with the stream after it.
    /// </summary>
    public static void WriteStreamEvent(IBufferWriter<byte> output, string message, bool openAIFormat)
    {
        ResponseJson.StartEvent(output);
        using (var writer = new Utf8JsonWriter(output, JsonOptions.Writer))
        {
            writer.WriteStartObject();
            if (openAIFormat)
            {
                writer.WriteStartObject("error");
                writer.WriteString("message", message);
                writer.WriteEndObject();
            }
            else
            {
                writer.WriteString("error", message);
            }
            writer.WriteEndObject();
        }
        ResponseJson.EndEvent(output);
    }
}
