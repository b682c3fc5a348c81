using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using TensorZero.Proxy.Auth;
using TensorZero.Proxy.Functions;
using TensorZero.Proxy.Inference;

namespace TensorZero.Proxy.RateLimiting;

/// <summary>
/// What the attempt loop (<see cref="ModelRunner"/>) needs from rate limiting: the request's scope, its token estimate on
/// either path, and the refusal in the shape of the endpoint the client called.
/// </summary>
internal static class AttemptRateLimits
{
    /// <summary>The request's tags and the API key it authenticated with.</summary>
    public static RateLimitScopeInfo Scope(HttpContext context, InferenceFeature inference) =>
        new(inference.Tags, context.Features.Get<AuthenticatedApiKey>()?.PublicId);

    /// <summary>
    /// TensorZero's token estimate of one call: input text / 2 + <c>max_tokens</c>. On the typed path the input is the
    /// rendered system prompt and messages; on the passthrough path the raw JSON of <c>messages</c> (an upper bound: its
    /// syntax counts too). Embeddings have no output: their estimate is the input's length / 2. Null when a chat request
    /// has no <c>max_tokens</c> (nor <c>max_completion_tokens</c>).
    /// </summary>
    public static long? EstimateTokens(InferenceFeature inference, bool embeddings)
    {
        if (inference.Typed is { } typed)
        {
            var request = typed.ModelRequest;
            long characters = request.System?.Length ?? 0;
            foreach (var message in request.Messages)
            {
                foreach (var block in message.Content)
                {
                    characters += block switch
                    {
                        TextBlock text => text.Text.Length,
                        ToolCallBlock call => call.RawName.Length + call.RawArguments.Length,
                        ToolResultBlock result => result.Result.Length,
                        ThoughtBlock thought => thought.Text?.Length ?? 0,
                        _ => 0,
                    };
                }
            }
            return RateLimiter.EstimateTokens(characters, request.Params.MaxTokens);
        }
        using var document = JsonDocument.Parse(inference.Request.Body);
        var root = document.RootElement;
        if (embeddings)
        {
            return root.TryGetProperty("input", out var input) ? input.GetRawText().Length / 2 : 0;
        }
        long? maxTokens = null;
        foreach (var name in (ReadOnlySpan<string>)["max_completion_tokens", "max_tokens"])
        {
            if (root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var max))
            {
                maxTokens = max;
                break;
            }
        }
        var inputCharacters = root.TryGetProperty("messages", out var messages) ? messages.GetRawText().Length : 0;
        return RateLimiter.EstimateTokens(inputCharacters, maxTokens);
    }

    /// <summary>The actual tokens of a successful typed call (input + output), when the provider reported both.</summary>
    public static long? ActualTokens(InferenceFeature inference) =>
        inference.Typed?.Result?.Usage is { InputTokens: { } input, OutputTokens: { } output } ? input + output : null;

    /// <summary>
    /// Answers a refusal in the client's endpoint's shape: 429 with <c>Retry-After</c>, 400 for a missing
    /// <c>max_tokens</c>, 503 when the store is unavailable.
    /// </summary>
    public static Task WriteRefusalAsync(HttpContext context, InferenceFeature inference, RateLimitDecision decision)
    {
        var status = decision.StatusCode;
        var message = decision.Message!;
        void Headers(HttpContext c)
        {
            InferenceHeaders.Set(c, inference, inference.AttemptCount);
            if (decision.RetryAfter is { } seconds)
            {
                c.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
            }
        }
        var (type, code) = decision.Kind switch
        {
            RateLimitDecisionKind.Limited => ("rate_limit_exceeded", "rate_limit_exceeded"),
            RateLimitDecisionKind.MissingMaxTokens => ("invalid_request_error", "rate_limit_missing_max_tokens"),
            _ => ("server_error", "rate_limit_store_unavailable"),
        };
        return EndpointError.WriteAsync(context, inference.Typed?.Endpoint ?? InferenceEndpoint.OpenAICompatible, status, message, type, code, Headers);
    }
}
