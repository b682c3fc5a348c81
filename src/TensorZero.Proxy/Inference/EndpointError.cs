using Microsoft.AspNetCore.Http;
using TensorZero.Proxy.Functions;

namespace TensorZero.Proxy.Inference;

/// <summary>An error in the shape of the endpoint the client called: TensorZero's native, Anthropic's or OpenAI's.</summary>
internal static class EndpointError
{
    /// <param name="context">The request, whose response has not started.</param>
    /// <param name="endpoint">The endpoint the client called.</param>
    /// <param name="status">The HTTP status.</param>
    /// <param name="message">The message, in every shape.</param>
    /// <param name="type">OpenAI's <c>type</c> (OpenAI's shape only).</param>
    /// <param name="code">OpenAI's <c>code</c> (OpenAI's shape only).</param>
    /// <param name="setHeaders">Further response headers (<c>Retry-After</c>, the gateway's own).</param>
    public static Task WriteAsync(
        HttpContext context, InferenceEndpoint endpoint, int status, string message, string type, string? code, Action<HttpContext>? setHeaders = null) =>
        endpoint switch
        {
            InferenceEndpoint.Native => NativeError.WriteAsync(context, status, message, setHeaders),
            InferenceEndpoint.AnthropicMessages => AnthropicError.WriteAsync(context, status, message, setHeaders),
            _ => OpenAIError.WriteAsync(context, status, message, type, code, setHeaders),
        };
}
