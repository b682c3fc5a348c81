using System.Text.Json;
using TensorZero.Proxy.Functions;

namespace TensorZero.Proxy.Inference;

/// <summary>
/// An inference's input as TensorZero stores it in the <c>input</c> column of its records (its <c>StoredInput</c>):
/// <c>{"system"?: "text" | {...}, "messages": [{"role", "content": [...]}]}</c>, with tool calls by their raw name and
/// arguments, and files without their data (a pointer to where the file is stored).
/// </summary>
internal static class InputJson
{
    /// <summary>The stored JSON of an input.</summary>
    /// <param name="input">The input as the request gave it.</param>
    /// <param name="storagePath">
    /// The <c>storage_path</c> of a file (TensorZero's <c>{"kind": {...}, "path": "observability/files/..."}</c>), from
    /// whatever stores the gateway's files; null (or a null answer) writes <c>"storage_path": null</c>.
    /// </param>
    public static string Write(InferenceInput input, Func<FileData, JsonElement?>? storagePath = null) =>
        OutputJson.Write(writer => Write(writer, input, storagePath));

    /// <summary>Writes the stored input as a value.</summary>
    public static void Write(Utf8JsonWriter writer, InferenceInput input, Func<FileData, JsonElement?>? storagePath = null)
    {
        writer.WriteStartObject();
        switch (input.System)
        {
            case SystemText text:
                writer.WriteString("system", text.Text);
                break;
            case SystemArguments arguments:
                writer.WritePropertyName("system");
                arguments.Arguments.WriteTo(writer);
                break;
        }
        writer.WriteStartArray("messages");
        foreach (var message in input.Messages)
        {
            var role = message.Role == Role.User ? "user" : "assistant";
            writer.WriteStartObject();
            writer.WriteString("role", role);
            writer.WriteStartArray("content");
            foreach (var block in message.Content)
            {
                WriteBlock(writer, block, role, storagePath);
            }
            writer.WriteEndArray();
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    private static void WriteBlock(Utf8JsonWriter writer, InputContent block, string role, Func<FileData, JsonElement?>? storagePath)
    {
        writer.WriteStartObject();
        switch (block)
        {
            case TextBlock text:
                writer.WriteString("type", "text");
                writer.WriteString("text", text.Text);
                break;
            case TemplateInput template:
                WriteTemplate(writer, template.Name, template.Arguments);
                break;
            case ArgumentsInput arguments:
                // The role's template, as TensorZero names it.
                WriteTemplate(writer, role, arguments.Arguments);
                break;
            case RawTextInput raw:
                writer.WriteString("type", "raw_text");
                writer.WriteString("value", raw.Value);
                break;
            case ToolCallBlock call:
                writer.WriteString("type", "tool_call");
                writer.WriteString("id", call.Id);
                writer.WriteString("name", call.RawName);
                writer.WriteString("arguments", call.RawArguments);
                break;
            case ToolResultBlock result:
                writer.WriteString("type", "tool_result");
                writer.WriteString("name", result.Name);
                writer.WriteString("result", result.Result);
                writer.WriteString("id", result.Id);
                break;
            case ThoughtBlock thought:
                writer.WriteString("type", "thought");
                OutputJson.WriteThoughtFields(writer, thought);
                break;
            case UnknownBlock unknown:
                writer.WriteString("type", "unknown");
                OutputJson.WriteUnknownFields(writer, unknown);
                break;
            case FileBlock file:
                writer.WriteString("type", "file");
                WriteFile(writer, file.File, storagePath);
                break;
            default:
                throw new ArgumentException($"A {block.GetType().Name} is not an input block.", nameof(block));
        }
        writer.WriteEndObject();
    }

    private static void WriteTemplate(Utf8JsonWriter writer, string name, JsonElement arguments)
    {
        writer.WriteString("type", "template");
        writer.WriteString("name", name);
        writer.WritePropertyName("arguments");
        arguments.WriteTo(writer);
    }

    /// <summary>TensorZero's stored file (<c>ObjectStoragePointer</c>): where it came from, its type and where it is stored; never its data.</summary>
    private static void WriteFile(Utf8JsonWriter writer, FileData file, Func<FileData, JsonElement?>? storagePath)
    {
        OpenAICompatibleResponseWriter.WriteNullableString(writer, "source_url", file.Url);
        OpenAICompatibleResponseWriter.WriteNullableString(writer, "mime_type", file.MimeType);
        writer.WritePropertyName("storage_path");
        if (storagePath?.Invoke(file) is { } path)
        {
            path.WriteTo(writer);
        }
        else
        {
            writer.WriteNullValue();
        }
        if (file.Detail is not null)
        {
            writer.WriteString("detail", file.Detail);
        }
        if (file.Filename is not null)
        {
            writer.WriteString("filename", file.Filename);
        }
    }
}
