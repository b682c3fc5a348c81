using System.Buffers;
using System.Collections.Immutable;
using System.Text;
using System.Text.Json;
using TensorZero.Proxy.Functions;

namespace TensorZero.Proxy.Inference;

/// <summary>
/// An inference's output as TensorZero serializes it, both in native responses and in the <c>output</c> column of its
/// records: chat content blocks (<c>[{"type": "text", "text"}, {"type": "tool_call", "id", "raw_name", "raw_arguments",
/// "name", "arguments"}, {"type": "thought", ...}, {"type": "unknown", ...}]</c>) and JSON output
/// (<c>{"raw", "parsed"}</c>).
/// </summary>
internal static class OutputJson
{
    /// <summary>A chat output's blocks as a JSON array (ChatInference's <c>output</c>).</summary>
    public static string WriteChat(ImmutableArray<ContentBlock> content) => Write(writer => WriteContent(writer, content));

    /// <summary>A JSON output as <c>{"raw", "parsed"}</c> (JsonInference's <c>output</c>).</summary>
    public static string WriteJson(JsonOutput output) => Write(writer => WriteJsonOutput(writer, output));

    /// <summary>Writes the blocks as an array value.</summary>
    public static void WriteContent(Utf8JsonWriter writer, ImmutableArray<ContentBlock> content)
    {
        writer.WriteStartArray();
        foreach (var block in content)
        {
            WriteBlock(writer, block);
        }
        writer.WriteEndArray();
    }

    /// <summary>Writes <c>{"raw", "parsed"}</c> as a value.</summary>
    public static void WriteJsonOutput(Utf8JsonWriter writer, JsonOutput output)
    {
        writer.WriteStartObject();
        if (output.Raw is null)
        {
            writer.WriteNull("raw");
        }
        else
        {
            writer.WriteString("raw", output.Raw);
        }
        writer.WritePropertyName("parsed");
        if (output.Parsed is { } parsed)
        {
            parsed.WriteTo(writer);
        }
        else
        {
            writer.WriteNullValue();
        }
        writer.WriteEndObject();
    }

    /// <summary>One output block (text, tool call, thought or unknown) as a value.</summary>
    public static void WriteBlock(Utf8JsonWriter writer, ContentBlock block)
    {
        writer.WriteStartObject();
        switch (block)
        {
            case TextBlock text:
                writer.WriteString("type", "text");
                writer.WriteString("text", text.Text);
                break;
            case ToolCallBlock call:
                writer.WriteString("type", "tool_call");
                writer.WriteString("id", call.Id);
                writer.WriteString("raw_name", call.RawName);
                writer.WriteString("raw_arguments", call.RawArguments);
                if (call.Name is null)
                {
                    writer.WriteNull("name");
                }
                else
                {
                    writer.WriteString("name", call.Name);
                }
                writer.WritePropertyName("arguments");
                if (call.ParsedArguments is { } arguments)
                {
                    arguments.WriteTo(writer);
                }
                else
                {
                    writer.WriteNullValue();
                }
                break;
            case ThoughtBlock thought:
                writer.WriteString("type", "thought");
                WriteThoughtFields(writer, thought);
                break;
            case UnknownBlock unknown:
                writer.WriteString("type", "unknown");
                WriteUnknownFields(writer, unknown);
                break;
            default:
                throw new ArgumentException($"A {block.GetType().Name} is not an output block.", nameof(block));
        }
        writer.WriteEndObject();
    }

    /// <summary>TensorZero's <c>Thought</c> fields: <c>text</c> (null when absent), then the optional ones when set.</summary>
    public static void WriteThoughtFields(Utf8JsonWriter writer, ThoughtBlock thought)
    {
        if (thought.Text is null)
        {
            writer.WriteNull("text");
        }
        else
        {
            writer.WriteString("text", thought.Text);
        }
        if (thought.Signature is not null)
        {
            writer.WriteString("signature", thought.Signature);
        }
        if (thought.Summary is { } summary)
        {
            writer.WritePropertyName("summary");
            summary.WriteTo(writer);
        }
        if (thought.ProviderType is not null)
        {
            writer.WriteString("provider_type", thought.ProviderType);
        }
        if (thought.ExtraData is { } extra)
        {
            writer.WritePropertyName("extra_data");
            extra.WriteTo(writer);
        }
    }

    /// <summary>TensorZero's <c>Unknown</c> fields: <c>data</c>, then <c>model_name</c> and <c>provider_name</c> when set.</summary>
    public static void WriteUnknownFields(Utf8JsonWriter writer, UnknownBlock unknown)
    {
        writer.WritePropertyName("data");
        unknown.Data.WriteTo(writer);
        if (unknown.ModelName is not null)
        {
            writer.WriteString("model_name", unknown.ModelName);
        }
        if (unknown.ProviderName is not null)
        {
            writer.WriteString("provider_name", unknown.ProviderName);
        }
    }

    /// <summary>Runs a writer over a buffer and returns the text.</summary>
    internal static string Write(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, JsonOptions.Writer))
        {
            write(writer);
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}
