using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace TensorZero.Proxy.Inference;

/// <summary>
/// Writes errors in the OpenAI shape, <c>{"error":{"message","type","code"}}</c>, with TensorZero's status
/// codes. Messages are for the client: they never carry a stack trace or a credential.
/// </summary>
internal static class OpenAIError
{
    /// <param name="context">The request.</param>
    /// <param name="statusCode">The HTTP status.</param>
    /// <param name="message">What went wrong, for the client.</param>
    /// <param name="type">The OpenAI error type.</param>
    /// <param name="code">A machine-readable code.</param>
    /// <param name="setHeaders">Sets further response headers once the response was cleared.</param>
    public static Task WriteAsync(HttpContext context, int statusCode, string message, string type, string? code = null, Action<HttpContext>? setHeaders = null)
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
        return response.Body.WriteAsync(Serialize(message, type, code), context.RequestAborted).AsTask();
    }

    public static Task BadRequest(HttpContext context, string message, string code = "invalid_request") =>
        WriteAsync(context, StatusCodes.Status400BadRequest, message, "invalid_request_error", code);

    public static byte[] Serialize(string message, string type, string? code) => Serialize(message, type, code, includeParam: false, param: null);

    /// <summary>The shape with <c>param</c>, <c>{"error":{"message","type","param","code"}}</c>, as OpenAI's routing and model lookup errors have it.</summary>
    public static byte[] SerializeWithParam(string message, string type, string? param, string? code) =>
        Serialize(message, type, code, includeParam: true, param);

    private static byte[] Serialize(string message, string type, string? code, bool includeParam, string? param)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, JsonOptions.Writer))
        {
            writer.WriteStartObject();
            writer.WriteStartObject("error");
            writer.WriteString("message", message);
            writer.WriteString("type", type);
            if (includeParam)
            {
                WriteNullable(writer, "param", param);
            }
            WriteNullable(writer, "code", code);
            writer.WriteEndObject();
            writer.WriteEndObject();
        }
        return stream.ToArray();

        static void WriteNullable(Utf8JsonWriter writer, string name, string? value)
        {
            if (value is null)
            {
                writer.WriteNull(name);
            }
            else
            {
                writer.WriteString(name, value);
            }
        }
    }
}
