using Yarp.ReverseProxy.Configuration;

namespace TensorZero.Proxy;

/// <summary>
/// How a YARP route is marked as a TensorZero inference route. <c>UseTensorZero()</c> serves every route whose
/// <see cref="RouteConfig.Metadata"/> has <see cref="MetadataKey"/> (value <see cref="ChatCompletions"/>,
/// <see cref="Inference"/>, <see cref="Responses"/>, <see cref="AnthropicMessages"/> or <see cref="Embeddings"/>); every other route passes through it untouched to the next step of the proxy pipeline.
/// A route of your own must name <see cref="ClusterId"/> (the plugin's placeholder cluster: the provider is chosen per
/// attempt from tensorzero.toml, not by YARP's load balancing).
/// </summary>
public static class TensorZeroRoutes
{
    /// <summary>The route metadata key that marks an inference route.</summary>
    public const string MetadataKey = "TensorZero";

    /// <summary>Metadata value: OpenAI-compatible chat completions (<c>/openai/v1/chat/completions</c>).</summary>
    public const string ChatCompletions = "chat-completions";

    /// <summary>Metadata value: TensorZero's native inference endpoint (<c>/inference</c>).</summary>
    public const string Inference = "inference";

    /// <summary>Metadata value: OpenAI's Responses API (<c>/openai/v1/responses</c>), served on the typed path.</summary>
    public const string Responses = "openai-responses";

    /// <summary>Metadata value: an Anthropic Messages API ingress (<c>/v1/messages</c>), served on the typed path.</summary>
    public const string AnthropicMessages = "anthropic-messages";

    /// <summary>Metadata value: OpenAI-compatible embeddings (<c>/openai/v1/embeddings</c>) of <c>[embedding_models]</c>.</summary>
    public const string Embeddings = "embeddings";

    /// <summary>The cluster every TensorZero inference route names.</summary>
    public const string ClusterId = "tensorzero-inference";

    /// <summary>The TensorZero endpoint kind of <paramref name="route"/>, or null when it is not an inference route.</summary>
    public static string? GetKind(RouteConfig route)
    {
        ArgumentNullException.ThrowIfNull(route);
        return route.Metadata is { } metadata && metadata.TryGetValue(MetadataKey, out var kind) ? kind : null;
    }
}
