using System.Text.Json;
using TensorZero.Proxy.Functions;

namespace TensorZero.Proxy.Providers;

// The messages of a chat completions request: TensorZero's content blocks become system, user, assistant and tool
// messages (crates/tensorzero-core/src/providers/openai/mod.rs, prepare_openai_messages and its per-type variants).
internal static partial class OpenAIChatFormat
{
    private abstract record WireMessage;

    private sealed record SystemMessage(string Content) : WireMessage;

    private sealed record UserMessage(List<WirePart> Parts) : WireMessage;

    private sealed record AssistantMessage(List<WirePart> Parts, List<ToolCallBlock> ToolCalls, string? Reasoning) : WireMessage;

    private sealed record ToolMessage(string ToolCallId, string Content) : WireMessage;

    private abstract record WirePart;

    private sealed record TextPart(string Text) : WirePart;

    private sealed record ImagePart(string Url, string? Detail) : WirePart;

    private sealed record FilePart(string FileData, string Filename) : WirePart;

    private sealed record AudioPart(string Data, string Format) : WirePart;

    private sealed record RawPart(JsonElement Data) : WirePart;

    private static bool TryBuildMessages(ModelRequest request, Target target, out List<WireMessage> messages, out string? error)
    {
        messages = new List<WireMessage>(request.Messages.Length + 1);
        error = null;
        foreach (var message in request.Messages)
        {
            var ok = message.Role == Role.User
                ? TryAddUserMessages(message.Content, target, messages, out error)
                : TryAddAssistantMessage(message.Content, target, messages, out error);
            if (!ok)
            {
                return false;
            }
        }

        var dialect = target.Dialect;
        var model = target.ProviderModelName.ToLowerInvariant();
        if (dialect.DeepSeekQuirks && model.Contains("reasoner", StringComparison.Ordinal))
        {
            // DeepSeek's R1 models do poorly with a system prompt: it goes first, as the user's.
            if (request.System is { } system)
            {
                messages.Insert(0, new UserMessage([new TextPart(system)]));
            }
        }
        else if (SystemMessageFor(request, dialect, messages) is { } systemMessage)
        {
            messages.Insert(0, systemMessage);
        }

        if (dialect.O1Quirks && model.StartsWith("o1-mini", StringComparison.Ordinal) && messages.Count > 0 && messages[0] is SystemMessage first)
        {
            messages[0] = new UserMessage([new TextPart(first.Content)]);
        }
        if (dialect.DeepSeekQuirks)
        {
            Coalesce(messages);
        }
        return true;
    }

    private static SystemMessage? SystemMessageFor(ModelRequest request, Dialect dialect, List<WireMessage> messages)
    {
        var system = request.System;
        if (request.JsonMode != JsonMode.On || dialect.JsonInstruction == JsonInstructionStyle.None)
        {
            return system is null ? null : new SystemMessage(system);
        }
        if (system is null)
        {
            if (dialect.JsonInstruction == JsonInstructionStyle.XAI && messages.Any(m => MentionsJson(m, textOnly: true)))
            {
                return null;
            }
            return new SystemMessage(JsonInstruction);
        }
        var mentioned = ContainsJson(system) || messages.Any(m => MentionsJson(m, textOnly: dialect.JsonInstruction == JsonInstructionStyle.XAI));
        return new SystemMessage(mentioned ? system : $"{JsonInstruction}\n\n{system}");
    }

    private static bool ContainsJson(string text) => text.Contains("json", StringComparison.OrdinalIgnoreCase);

    private static bool MentionsJson(WireMessage message, bool textOnly) => message switch
    {
        SystemMessage s => ContainsJson(s.Content),
        UserMessage u => u.Parts.Any(p => p is TextPart t && ContainsJson(t.Text)),
        AssistantMessage a => a.Parts.Any(p => p is TextPart t && ContainsJson(t.Text)),
        ToolMessage t => !textOnly && ContainsJson(t.Content),
        _ => false,
    };

    /// <summary>Whether a provider-specific block goes to this attempt: a block naming a model or provider goes only there.</summary>
    private static bool Applies(UnknownBlock block, Target target) =>
        (block.ModelName is null || string.Equals(block.ModelName, target.ModelName, StringComparison.Ordinal))
        && (block.ProviderName is null || string.Equals(block.ProviderName, target.ProviderName, StringComparison.Ordinal));

    /// <summary>A thought scoped to a provider type goes only to providers of that type.</summary>
    private static bool Applies(ThoughtBlock thought, Target target) =>
        thought.ProviderType is null || string.Equals(thought.ProviderType, target.Dialect.Type, StringComparison.Ordinal);

    private static bool TryAddUserMessages(IReadOnlyList<ContentBlock> content, Target target, List<WireMessage> messages, out string? error)
    {
        error = null;
        List<WirePart>? parts = null;
        foreach (var block in content)
        {
            switch (block)
            {
                case TextBlock text:
                    (parts ??= []).Add(new TextPart(text.Text));
                    break;
                case ToolCallBlock:
                    error = "Tool calls are not supported in user messages";
                    return false;
                case ToolResultBlock result:
                    // Tool results become tool messages, ahead of the user message that carries the rest.
                    messages.Add(new ToolMessage(result.Id, result.Result));
                    break;
                case FileBlock file:
                    if (!TryFilePart(file.File, target.Dialect, out var part, out error))
                    {
                        return false;
                    }
                    (parts ??= []).Add(part);
                    break;
                case ThoughtBlock:
                    // A user message cannot carry reasoning: TensorZero discards it.
                    break;
                case UnknownBlock unknown:
                    if (Applies(unknown, target))
                    {
                        (parts ??= []).Add(new RawPart(unknown.Data));
                    }
                    break;
            }
        }
        if (parts is not null)
        {
            messages.Add(new UserMessage(parts));
        }
        return true;
    }

    private static bool TryAddAssistantMessage(IReadOnlyList<ContentBlock> content, Target target, List<WireMessage> messages, out string? error)
    {
        error = null;
        var dialect = target.Dialect;
        var parts = new List<WirePart>();
        var toolCalls = new List<ToolCallBlock>();
        string? reasoning = null;
        string? thinkTags = null;
        foreach (var block in content)
        {
            switch (block)
            {
                case TextBlock text:
                    parts.Add(new TextPart(text.Text));
                    break;
                case ToolCallBlock call:
                    toolCalls.Add(call);
                    break;
                case ToolResultBlock:
                    error = "Tool results are not supported in assistant messages";
                    return false;
                case FileBlock file:
                    if (!TryFilePart(file.File, dialect, out var part, out error))
                    {
                        return false;
                    }
                    parts.Add(part);
                    break;
                case ThoughtBlock thought:
                    if (!Applies(thought, target) || thought.Text is not { } thoughtText || dialect.Reasoning == ReasoningStyle.Drop)
                    {
                        break;
                    }
                    if (dialect.Reasoning is ReasoningStyle.ReasoningOrThinkTags or ReasoningStyle.ReasoningContentOrThinkTags)
                    {
                        switch (ReasoningFormat(thought))
                        {
                            case null or "reasoning_field":
                                reasoning = Join(reasoning, thoughtText);
                                break;
                            case "think_tags":
                                thinkTags = Join(thinkTags, thoughtText);
                                break;
                            case var other:
                                error = $"Unknown `reasoning_format` value in thought `extra_data`: `{other}`";
                                return false;
                        }
                    }
                    else
                    {
                        reasoning = Join(reasoning, thoughtText);
                    }
                    break;
                case UnknownBlock unknown:
                    if (Applies(unknown, target))
                    {
                        parts.Add(new RawPart(unknown.Data));
                    }
                    break;
            }
        }
        if (thinkTags is not null)
        {
            parts.Insert(0, new TextPart($"<think>{thinkTags}</think>"));
        }
        // Providers want content or a tool call in an assistant message: reasoning alone is not sent.
        if (parts.Count == 0 && toolCalls.Count == 0)
        {
            return true;
        }
        messages.Add(new AssistantMessage(parts, toolCalls, reasoning));
        return true;
    }

    private static string Join(string? existing, string text) => existing is null ? text : existing + "\n\n" + text;

    private static string? ReasoningFormat(ThoughtBlock thought) =>
        thought.ExtraData is { ValueKind: JsonValueKind.Object } data
        && data.TryGetProperty("reasoning_format", out var format)
        && format.ValueKind == JsonValueKind.String
            ? format.GetString()
            : null;

    private static void Coalesce(List<WireMessage> messages)
    {
        var i = 0;
        while (i < messages.Count - 1)
        {
            WireMessage? merged = (messages[i], messages[i + 1]) switch
            {
                (SystemMessage a, SystemMessage b) => new SystemMessage(a.Content + "\n\n" + b.Content),
                (UserMessage a, UserMessage b) => new UserMessage([.. a.Parts, .. b.Parts]),
                (AssistantMessage a, AssistantMessage b) => new AssistantMessage(
                    [.. a.Parts, .. b.Parts],
                    [.. a.ToolCalls, .. b.ToolCalls],
                    a.Reasoning is null ? b.Reasoning : b.Reasoning is null ? a.Reasoning : a.Reasoning + "\n\n" + b.Reasoning),
                _ => null,
            };
            if (merged is null)
            {
                i++;
                continue;
            }
            messages[i] = merged;
            messages.RemoveAt(i + 1);
        }
    }

    private static bool TryFilePart(FileData file, Dialect dialect, out WirePart part, out string? error)
    {
        part = null!;
        error = null;
        var detail = dialect.ImageDetail ? file.Detail : null;
        if (file.Url is { } url)
        {
            // A URL goes to the provider only as an image: other files would have to be fetched and inlined,
            // and the gateway fetches nothing itself.
            if (file.MimeType is null || file.MimeType.StartsWith("image/", StringComparison.OrdinalIgnoreCase))
            {
                part = new ImagePart(url, dialect.FilesAsImageUrl ? null : detail);
                return true;
            }
            error = $"a file of type '{file.MimeType}' given by URL cannot be sent to a '{dialect.Type}' provider: " +
                "only images are passed by URL and the gateway does not fetch files; send the file's data as base64";
            return false;
        }
        if (file.Base64Data is not { } data)
        {
            error = "a file has neither a URL nor data";
            return false;
        }
        if (file.MimeType is not { Length: > 0 } mimeType)
        {
            error = "a file given as base64 data needs a MIME type";
            return false;
        }
        var dataUrl = $"data:{mimeType};base64,{data}";
        if (dialect.FilesAsImageUrl)
        {
            part = new ImagePart(dataUrl, null);
            return true;
        }
        if (mimeType.StartsWith("image/", StringComparison.OrdinalIgnoreCase))
        {
            part = new ImagePart(dataUrl, detail);
            return true;
        }
        if (mimeType.StartsWith("audio/", StringComparison.OrdinalIgnoreCase))
        {
            if (MimeTypes.Extension(mimeType) is not { } format)
            {
                error = $"Unsupported audio MIME type: {mimeType}";
                return false;
            }
            part = new AudioPart(data, format);
            return true;
        }
        if (file.Filename is { } filename)
        {
            part = new FilePart(dataUrl, filename);
            return true;
        }
        if (MimeTypes.Extension(mimeType) is not { } extension)
        {
            error = $"Mime type {mimeType} has no filetype suffix";
            return false;
        }
        part = new FilePart(dataUrl, "input." + extension);
        return true;
    }

    private static void WriteMessage(Utf8JsonWriter writer, WireMessage message, Dialect dialect)
    {
        writer.WriteStartObject();
        switch (message)
        {
            case SystemMessage system:
                writer.WriteString("role", "system");
                writer.WriteString("content", system.Content);
                break;
            case UserMessage user:
                writer.WriteString("role", "user");
                writer.WritePropertyName("content");
                WriteContent(writer, user.Parts);
                break;
            case AssistantMessage assistant:
                writer.WriteString("role", "assistant");
                if (assistant.Parts.Count > 0)
                {
                    writer.WritePropertyName("content");
                    WriteContent(writer, assistant.Parts);
                }
                if (assistant.ToolCalls.Count > 0)
                {
                    writer.WriteStartArray("tool_calls");
                    foreach (var call in assistant.ToolCalls)
                    {
                        writer.WriteStartObject();
                        writer.WriteString("id", call.Id);
                        writer.WriteString("type", "function");
                        writer.WriteStartObject("function");
                        writer.WriteString("name", call.RawName);
                        writer.WriteString("arguments", call.RawArguments);
                        writer.WriteEndObject();
                        writer.WriteEndObject();
                    }
                    writer.WriteEndArray();
                }
                if (assistant.Reasoning is { } reasoning)
                {
                    var field = dialect.Reasoning is ReasoningStyle.Reasoning or ReasoningStyle.ReasoningOrThinkTags ? "reasoning" : "reasoning_content";
                    writer.WriteString(field, reasoning);
                }
                break;
            case ToolMessage tool:
                writer.WriteString("role", "tool");
                writer.WriteString("content", tool.Content);
                writer.WriteString("tool_call_id", tool.ToolCallId);
                break;
        }
        writer.WriteEndObject();
    }

    private static void WriteContent(Utf8JsonWriter writer, List<WirePart> parts)
    {
        // One text part is sent as a plain string, which older OpenAI-compatible servers require.
        if (parts is [TextPart only])
        {
            writer.WriteStringValue(only.Text);
            return;
        }
        writer.WriteStartArray();
        foreach (var part in parts)
        {
            switch (part)
            {
                case TextPart text:
                    writer.WriteStartObject();
                    writer.WriteString("type", "text");
                    writer.WriteString("text", text.Text);
                    writer.WriteEndObject();
                    break;
                case ImagePart image:
                    writer.WriteStartObject();
                    writer.WriteString("type", "image_url");
                    writer.WriteStartObject("image_url");
                    writer.WriteString("url", image.Url);
                    if (image.Detail is not null)
                    {
                        writer.WriteString("detail", image.Detail);
                    }
                    writer.WriteEndObject();
                    writer.WriteEndObject();
                    break;
                case FilePart file:
                    writer.WriteStartObject();
                    writer.WriteString("type", "file");
                    writer.WriteStartObject("file");
                    writer.WriteString("file_data", file.FileData);
                    writer.WriteString("filename", file.Filename);
                    writer.WriteEndObject();
                    writer.WriteEndObject();
                    break;
                case AudioPart audio:
                    writer.WriteStartObject();
                    writer.WriteString("type", "input_audio");
                    writer.WriteStartObject("input_audio");
                    writer.WriteString("data", audio.Data);
                    writer.WriteString("format", audio.Format);
                    writer.WriteEndObject();
                    writer.WriteEndObject();
                    break;
                case RawPart raw:
                    raw.Data.WriteTo(writer);
                    break;
            }
        }
        writer.WriteEndArray();
    }
}
