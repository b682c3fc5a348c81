using System.Collections.Immutable;
using System.Text;
using System.Text.Json;
using TensorZero.Proxy.Functions;

namespace TensorZero.Proxy.Providers;

// Reading a chat completion: the provider's 200 body becomes a ProviderResponse, or a short error when the body is
// not a chat completion at all (an HTML page, garbage, JSON of another shape). Never throws on the body.
internal static partial class OpenAIChatFormat
{
    private const string NotACompletion = "the provider's 200 response is not a chat completion: ";

    /// <summary>
    /// Reads a non-streaming chat completion: the thought (<c>reasoning</c>, else <c>reasoning_content</c>), the text,
    /// then the tool calls of <c>choices[0].message</c>; usage; the finish reason. Mistral's content as an array of
    /// text and thinking chunks and TGI's tool arguments as a JSON object are read too.
    /// </summary>
    /// <param name="body">The response body.</param>
    /// <param name="response">The parsed answer; its <see cref="ProviderResponse.RawResponse"/> is the body as text.</param>
    /// <param name="error">Why the body is not a chat completion.</param>
    /// <param name="providerType">The provider type, given to thoughts (they are sent back only to that type).</param>
    public static bool TryReadResponse(ReadOnlySpan<byte> body, out ProviderResponse? response, out string? error, string? providerType = null)
    {
        response = null;
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body.ToArray());
        }
        catch (JsonException)
        {
            error = NotACompletion + "it is not JSON (" + Preview(body) + ")";
            return false;
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                error = NotACompletion + $"it is a JSON {Kind(root)}, not an object";
                return false;
            }
            if (!root.TryGetProperty("choices", out var choices) || choices.ValueKind != JsonValueKind.Array)
            {
                error = NotACompletion + (ErrorMessage(root) is { } errorMessage ? $"it is an error ({errorMessage})" : "it has no 'choices' array");
                return false;
            }
            if (choices.GetArrayLength() != 1)
            {
                error = NotACompletion + $"it has {choices.GetArrayLength()} choices, expected 1";
                return false;
            }
            var choice = choices[0];
            if (choice.ValueKind != JsonValueKind.Object || !choice.TryGetProperty("message", out var message) || message.ValueKind != JsonValueKind.Object)
            {
                error = NotACompletion + "'choices[0].message' is not an object";
                return false;
            }
            var output = ImmutableArray.CreateBuilder<ContentBlock>();
            if (!TryReadMessage(message, providerType, output, out error))
            {
                error = NotACompletion + error;
                return false;
            }
            var finishReason = choice.TryGetProperty("finish_reason", out var reason) ? ParseFinishReason(reason) : null;
            var usage = root.TryGetProperty("usage", out var usageElement) ? ReadUsage(usageElement) : Usage.Unknown;
            response = new ProviderResponse(output.ToImmutable(), usage, finishReason, Encoding.UTF8.GetString(body));
            error = null;
            return true;
        }
    }

    /// <summary>Together and Fireworks models may think in <c>&lt;think&gt;</c> tags inside the text: TensorZero splits them out.</summary>
    internal static bool ParsesThinkTags(string? providerType) => providerType is "together" or "fireworks";

    /// <summary>The <c>extra_data</c> that says a thought came from the reasoning field (sent back there).</summary>
    internal static readonly JsonElement ReasoningFieldFormat = JsonDocument.Parse("""{"reasoning_format":"reasoning_field"}""").RootElement.Clone();

    /// <summary>The <c>extra_data</c> that says a thought came from <c>&lt;think&gt;</c> tags (sent back as tags).</summary>
    internal static readonly JsonElement ThinkTagsFormat = JsonDocument.Parse("""{"reasoning_format":"think_tags"}""").RootElement.Clone();

    private static bool TryReadMessage(JsonElement message, string? providerType, ImmutableArray<ContentBlock>.Builder output, out string? error)
    {
        error = null;
        var thinkTags = ParsesThinkTags(providerType);
        if (ReasoningText(message) is { } reasoning)
        {
            output.Add(new ThoughtBlock(reasoning) { ProviderType = providerType, ExtraData = thinkTags ? ReasoningFieldFormat : null });
        }
        if (message.TryGetProperty("content", out var content))
        {
            switch (content.ValueKind)
            {
                case JsonValueKind.String when thinkTags:
                    if (!TrySplitThinkTags(content.GetString()!, out var cleaned, out var tagged, out error))
                    {
                        return false;
                    }
                    if (tagged is not null)
                    {
                        output.Add(new ThoughtBlock(tagged) { ProviderType = providerType, ExtraData = ThinkTagsFormat });
                    }
                    if (cleaned.Length > 0)
                    {
                        output.Add(new TextBlock(cleaned));
                    }
                    break;
                case JsonValueKind.String:
                    output.Add(new TextBlock(content.GetString()!));
                    break;
                case JsonValueKind.Array:
                    foreach (var chunk in content.EnumerateArray())
                    {
                        if (!TryReadContentChunk(chunk, out var text, out var thinking, out error))
                        {
                            return false;
                        }
                        if (thinking is not null)
                        {
                            output.Add(new ThoughtBlock(thinking) { ProviderType = providerType });
                        }
                        else if (text is not null)
                        {
                            output.Add(new TextBlock(text));
                        }
                    }
                    break;
                case JsonValueKind.Null:
                    break;
                default:
                    error = $"'content' is a JSON {Kind(content)}";
                    return false;
            }
        }
        if (message.TryGetProperty("tool_calls", out var toolCalls) && toolCalls.ValueKind != JsonValueKind.Null)
        {
            if (toolCalls.ValueKind != JsonValueKind.Array)
            {
                error = "'tool_calls' is not an array";
                return false;
            }
            foreach (var call in toolCalls.EnumerateArray())
            {
                if (!TryReadToolCall(call, out var block, out error))
                {
                    return false;
                }
                output.Add(block);
            }
        }
        return true;
    }

    /// <summary>One <c>&lt;think&gt;...&lt;/think&gt;</c> block is taken out of the text; more than one, or unmatched tags, is an error.</summary>
    private static bool TrySplitThinkTags(string text, out string cleaned, out string? thought, out string? error)
    {
        cleaned = text;
        thought = null;
        error = null;
        var opens = Count(text, "<think>");
        if (opens > 1)
        {
            error = "Multiple thinking blocks found";
            return false;
        }
        if (opens != Count(text, "</think>"))
        {
            error = "Mismatched thinking tags";
            return false;
        }
        var start = text.IndexOf("<think>", StringComparison.Ordinal);
        var end = text.IndexOf("</think>", StringComparison.Ordinal);
        if (start < 0 || end < start)
        {
            if (start >= 0)
            {
                error = "Mismatched thinking tags";
                return false;
            }
            return true;
        }
        thought = text[(start + "<think>".Length)..end];
        cleaned = text[..start] + text[(end + "</think>".Length)..];
        return true;
    }

    private static int Count(string text, string value)
    {
        var count = 0;
        for (var at = text.IndexOf(value, StringComparison.Ordinal); at >= 0; at = text.IndexOf(value, at + value.Length, StringComparison.Ordinal))
        {
            count++;
        }
        return count;
    }

    /// <summary>vLLM 0.8 renamed <c>reasoning_content</c> to <c>reasoning</c> and sent both for a while: the new name wins.</summary>
    private static string? ReasoningText(JsonElement message)
    {
        if (message.TryGetProperty("reasoning", out var reasoning) && reasoning.ValueKind == JsonValueKind.String)
        {
            return reasoning.GetString();
        }
        return message.TryGetProperty("reasoning_content", out var content) && content.ValueKind == JsonValueKind.String ? content.GetString() : null;
    }

    /// <summary>Mistral's reasoning models answer with <c>[{"type":"thinking","thinking":[{"type":"text","text"}]}, {"type":"text","text"}]</c>.</summary>
    private static bool TryReadContentChunk(JsonElement chunk, out string? text, out string? thinking, out string? error)
    {
        text = null;
        thinking = null;
        error = null;
        var type = chunk.ValueKind == JsonValueKind.Object && chunk.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
        switch (type)
        {
            case "text" when chunk.TryGetProperty("text", out var value) && value.ValueKind == JsonValueKind.String:
                text = value.GetString();
                return true;
            case "thinking" when chunk.TryGetProperty("thinking", out var parts) && parts.ValueKind == JsonValueKind.Array:
                var builder = new StringBuilder();
                foreach (var part in parts.EnumerateArray())
                {
                    if (part.ValueKind == JsonValueKind.Object && part.TryGetProperty("text", out var partText) && partText.ValueKind == JsonValueKind.String)
                    {
                        builder.Append(partText.GetString());
                    }
                }
                thinking = builder.ToString();
                return true;
            default:
                error = "a 'content' part is neither text nor thinking";
                return false;
        }
    }

    private static bool TryReadToolCall(JsonElement call, out ToolCallBlock block, out string? error)
    {
        block = null!;
        error = null;
        if (call.ValueKind != JsonValueKind.Object || !call.TryGetProperty("id", out var id) || id.ValueKind != JsonValueKind.String)
        {
            error = "a tool call has no 'id'";
            return false;
        }
        // OpenAI's custom tools answer {"custom": {"name", "input"}}; function tools {"function": {"name", "arguments"}}.
        if (call.TryGetProperty("custom", out var custom) && custom.ValueKind == JsonValueKind.Object)
        {
            if (!TryString(custom, "name", out var customName) || !TryString(custom, "input", out var input))
            {
                error = "a custom tool call has no 'name' or 'input'";
                return false;
            }
            block = new ToolCallBlock(id.GetString()!, customName, input);
            return true;
        }
        if (!call.TryGetProperty("function", out var function) || function.ValueKind != JsonValueKind.Object || !TryString(function, "name", out var name))
        {
            error = "a tool call has no 'function.name'";
            return false;
        }
        block = new ToolCallBlock(id.GetString()!, name, Arguments(function));
        return true;
    }

    /// <summary>The arguments as text: TGI sends them as a JSON object, which is kept as its JSON text.</summary>
    private static string Arguments(JsonElement function)
    {
        if (!function.TryGetProperty("arguments", out var arguments))
        {
            return "";
        }
        return arguments.ValueKind switch
        {
            JsonValueKind.String => arguments.GetString()!,
            JsonValueKind.Null => "",
            _ => arguments.GetRawText(),
        };
    }

    private static bool TryString(JsonElement element, string property, out string value)
    {
        if (element.TryGetProperty(property, out var found) && found.ValueKind == JsonValueKind.String)
        {
            value = found.GetString()!;
            return true;
        }
        value = "";
        return false;
    }

    /// <summary>TensorZero's mapping of every OpenAI-compatible type's finish reasons; an unknown one is <see cref="FinishReason.Unknown"/>.</summary>
    internal static FinishReason? ParseFinishReason(JsonElement reason)
    {
        if (reason.ValueKind != JsonValueKind.String)
        {
            return null;
        }
        return reason.GetString() switch
        {
            "" => null,
            "stop" or "eos" => FinishReason.Stop,
            "stop_sequence" => FinishReason.StopSequence,
            "length" or "model_length" => FinishReason.Length,
            "tool_calls" or "function_call" => FinishReason.ToolCall,
            "content_filter" => FinishReason.ContentFilter,
            _ => FinishReason.Unknown,
        };
    }

    internal static Usage ReadUsage(JsonElement usage)
    {
        if (usage.ValueKind != JsonValueKind.Object)
        {
            return Usage.Unknown;
        }
        return new Usage(Count(usage, "prompt_tokens"), Count(usage, "completion_tokens"));
    }

    private static long? Count(JsonElement usage, string property) =>
        usage.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var count) ? count : null;

    /// <summary>The message of an OpenAI-style error body (<c>{"error": {"message"}}</c> or <c>{"error": "..."}</c>).</summary>
    internal static string? ErrorMessage(JsonElement root)
    {
        if (!root.TryGetProperty("error", out var error))
        {
            return null;
        }
        if (error.ValueKind == JsonValueKind.String)
        {
            return error.GetString();
        }
        return error.ValueKind == JsonValueKind.Object && error.TryGetProperty("message", out var message) && message.ValueKind == JsonValueKind.String
            ? message.GetString()
            : error.GetRawText();
    }

    private static string Kind(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Array => "array",
        JsonValueKind.String => "string",
        JsonValueKind.Number => "number",
        JsonValueKind.True or JsonValueKind.False => "boolean",
        JsonValueKind.Null => "null",
        _ => "object",
    };

    /// <summary>The start of a body that is not JSON, for the error message (an HTML error page, say).</summary>
    internal static string Preview(ReadOnlySpan<byte> body)
    {
        if (body.IsEmpty)
        {
            return "the body is empty";
        }
        const int Max = 80;
        var text = Encoding.UTF8.GetString(body[..Math.Min(body.Length, Max)]);
        var builder = new StringBuilder("it starts with '");
        foreach (var c in text)
        {
            builder.Append(char.IsControl(c) ? ' ' : c);
        }
        builder.Append(body.Length > Max ? "...'" : "'");
        return builder.ToString();
    }
}
