using System.Text.Json;
using TensorZero.Proxy.Configuration;
using TensorZero.Proxy.Functions;

namespace TensorZero.Proxy.Providers;

/// <summary>
/// A provider protocol of the typed path: how a <see cref="ModelRequest"/> is written for it, and how its whole answer
/// and its stream events are read back into <see cref="ProviderResponse"/> / <see cref="ProviderChunk"/>. Pure: no I/O.
/// </summary>
internal interface IProviderFormat
{
    /// <summary>Writes one attempt's body; false with a reason (bad input for this provider) when it cannot be said.</summary>
    /// <param name="request">What the variant asks.</param>
    /// <param name="providerModelName">The provider's <c>model_name</c>.</param>
    /// <param name="providerType">The provider type's TOML name.</param>
    /// <param name="stream">Whether the attempt streams.</param>
    /// <param name="body">The body; empty when false is returned.</param>
    /// <param name="error">Why the request cannot be written.</param>
    /// <param name="targetModelName">The model attempted (unknown blocks naming another model are left out).</param>
    /// <param name="targetProviderName">The provider attempted (unknown blocks naming another provider are left out).</param>
    bool TryWriteRequest(
        ModelRequest request, string providerModelName, string providerType, bool stream,
        out byte[] body, out string? error, string? targetModelName, string? targetProviderName);

    /// <summary>Reads a whole 2xx answer; false with a short reason when the body is not one.</summary>
    bool TryReadResponse(ReadOnlySpan<byte> body, ModelRequest request, ResponseContext context, out ProviderResponse? response, out string? error);

    /// <summary>A reader for the <c>data:</c> payloads of one stream.</summary>
    IProviderStreamReader CreateStreamReader(ModelRequest request, ResponseContext context);
}

/// <summary>Who answered, for blocks a reader tags with their origin (thoughts, unknown blocks).</summary>
/// <param name="ProviderType">The provider type's TOML name.</param>
/// <param name="ModelName">The gateway model attempted.</param>
/// <param name="ProviderName">The provider attempted.</param>
/// <param name="Time">The clock, for ids a provider does not give (Gemini's tool calls).</param>
internal sealed record ResponseContext(string ProviderType, string? ModelName, string? ProviderName, TimeProvider Time);

/// <summary>Reads one stream's events, keeping what the protocol spreads across them. One reader per stream.</summary>
internal interface IProviderStreamReader
{
    /// <summary>
    /// Reads one event's <c>data:</c> payload: true with a chunk, or with null for an event that carries nothing for the
    /// client (an end marker, a keep-alive); false with the error for an event that is not valid or reports an error.
    /// </summary>
    bool TryReadEvent(ReadOnlySpan<byte> data, out ProviderChunk? chunk, out string? error);
}

/// <summary>The format of each provider type (DESIGN-NOTES "Two paths": the typed path speaks each provider's protocol).</summary>
internal static class ProviderFormats
{
    /// <summary>The format a provider type is spoken to in.</summary>
    public static IProviderFormat For(ProviderType type) => type switch
    {
        ProviderType.Anthropic => AnthropicFormat.Instance,
        ProviderType.GoogleAIStudioGemini => GeminiFormat.Instance,
        _ => OpenAIChatProviderFormat.Instance,
    };

    /// <summary>Whether a provider type speaks OpenAI's chat completions (so the passthrough path can forward the client's body).</summary>
    public static bool SpeaksOpenAIChat(ProviderType type) => type is not (ProviderType.Anthropic or ProviderType.GoogleAIStudioGemini);

    /// <summary>Whether an error status of this provider type must fail the attempt (its error bodies are not OpenAI's).</summary>
    public static bool FailsOnErrorStatus(ProviderType type) => !SpeaksOpenAIChat(type);
}

/// <summary>The OpenAI chat completions format (<see cref="OpenAIChatFormat"/>, <see cref="OpenAIChatStreamReader"/>) behind <see cref="IProviderFormat"/>.</summary>
internal sealed class OpenAIChatProviderFormat : IProviderFormat
{
    public static OpenAIChatProviderFormat Instance { get; } = new();

    private OpenAIChatProviderFormat()
    {
    }

    public bool TryWriteRequest(
        ModelRequest request, string providerModelName, string providerType, bool stream,
        out byte[] body, out string? error, string? targetModelName, string? targetProviderName) =>
        // The dummy answers in-process; its cache key is written in OpenAI's dialect.
        OpenAIChatFormat.TryWriteRequest(request, providerModelName, OpenAIChatFormat.Speaks(providerType) ? providerType : "openai", stream,
            out body, out error, targetModelName, targetProviderName);

    public bool TryReadResponse(ReadOnlySpan<byte> body, ModelRequest request, ResponseContext context, out ProviderResponse? response, out string? error) =>
        OpenAIChatFormat.TryReadResponse(body, out response, out error, context.ProviderType);

    public IProviderStreamReader CreateStreamReader(ModelRequest request, ResponseContext context) => new OpenAIChatStreamReader(context.ProviderType);
}

/// <summary>JSON reading shared by the provider formats that are not OpenAI's.</summary>
internal static class ProviderJson
{
    /// <summary>A tool call's arguments as the JSON object Anthropic (and Gemini) take.</summary>
    internal static bool TryParseArguments(string raw, out JsonElement arguments, out string? error)
    {
        arguments = default;
        try
        {
            using var document = JsonDocument.Parse(raw);
            arguments = document.RootElement.Clone();
        }
        catch (JsonException ex)
        {
            error = "Error parsing tool call arguments as JSON Value: " + ex.Message;
            return false;
        }
        if (arguments.ValueKind != JsonValueKind.Object)
        {
            error = "Tool call arguments must be a JSON object";
            return false;
        }
        error = null;
        return true;
    }

    internal static string? String(JsonElement element, string property) =>
        element.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    /// <summary>The message of an Anthropic error (<c>{"type":"error","error":{"type","message"}}</c>), or of an OpenAI-style one.</summary>
    internal static string? ErrorMessage(JsonElement root) =>
        root.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.Object
            ? (String(error, "type") is { } type ? type + ": " : "") + (String(error, "message") ?? error.GetRawText())
            : OpenAIChatFormat.ErrorMessage(root);

    internal static bool TryParseObject(ReadOnlySpan<byte> body, string prefix, out JsonDocument? document, out string? error)
    {
        document = null;
        error = null;
        try
        {
            document = JsonDocument.Parse(body.ToArray());
        }
        catch (JsonException)
        {
            error = prefix + "it is not JSON (" + OpenAIChatFormat.Preview(body) + ")";
            return false;
        }
        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            document.Dispose();
            document = null;
            error = prefix + "it is not a JSON object";
            return false;
        }
        return true;
    }
}
