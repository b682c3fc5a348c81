using System.Buffers;
using System.Collections.Immutable;
using System.Text.Json;
using TensorZero.Proxy.Functions;

namespace TensorZero.Proxy.Inference;

/// <summary>
/// The stored form of a <see cref="CachedModelOutput"/> in the shared cache store: JSON, versioned by <see cref="Version"/>
/// so that replicas of another version read an entry they do not know as a miss, never as a wrong answer. Every field
/// a hit replays is kept: the blocks in TensorZero's output shape (<see cref="OutputJson.WriteBlock"/>: validated tool
/// names and parsed arguments, reasoning signatures), the stream's chunks; usage is not, since a hit reports zero usage.
/// </summary>
internal static class CachedModelOutputJson
{
    /// <summary>The entry format's version, part of the entry and checked on read.</summary>
    public const int Version = 1;

    /// <summary>The entry as UTF-8 JSON.</summary>
    /// <exception cref="ArgumentException">The output holds a block a model does not produce (a file, a tool result).</exception>
    public static byte[] Serialize(CachedModelOutput entry)
    {
        var buffer = new ArrayBufferWriter<byte>(256 + entry.RawResponse.Length);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteNumber("v", Version);
            writer.WriteNumber("stored_at_ms", entry.StoredAt.ToUnixTimeMilliseconds());
            WriteFinishReason(writer, entry.FinishReason);
            writer.WriteString("raw_response", entry.RawResponse);
            writer.WriteStartArray("output");
            foreach (var block in entry.Output)
            {
                OutputJson.WriteBlock(writer, block);
            }
            writer.WriteEndArray();
            if (!entry.Chunks.IsDefaultOrEmpty)
            {
                writer.WriteStartArray("chunks");
                foreach (var chunk in entry.Chunks)
                {
                    writer.WriteStartObject();
                    WriteFinishReason(writer, chunk.FinishReason);
                    writer.WriteString("raw_chunk", chunk.RawChunk);
                    writer.WriteStartArray("content");
                    foreach (var piece in chunk.Content)
                    {
                        WriteChunkBlock(writer, piece);
                    }
                    writer.WriteEndArray();
                    writer.WriteEndObject();
                }
                writer.WriteEndArray();
            }
            writer.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Reads an entry; false (a miss) for another version or anything malformed.</summary>
    public static bool TryDeserialize(ReadOnlyMemory<byte> json, out CachedModelOutput? entry)
    {
        entry = null;
        try
        {
            using var document = JsonDocument.Parse(json);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("v", out var v) || v.ValueKind != JsonValueKind.Number
                || v.GetInt32() != Version)
            {
                return false;
            }
            var output = ImmutableArray.CreateBuilder<ContentBlock>();
            foreach (var block in root.GetProperty("output").EnumerateArray())
            {
                output.Add(ReadBlock(block));
            }
            var chunks = ImmutableArray<ProviderChunk>.Empty;
            if (root.TryGetProperty("chunks", out var chunkArray))
            {
                var builder = ImmutableArray.CreateBuilder<ProviderChunk>();
                foreach (var chunk in chunkArray.EnumerateArray())
                {
                    var content = ImmutableArray.CreateBuilder<ChunkBlock>();
                    foreach (var piece in chunk.GetProperty("content").EnumerateArray())
                    {
                        content.Add(ReadChunkBlock(piece));
                    }
                    builder.Add(new ProviderChunk(content.ToImmutable(), null, ReadFinishReason(chunk), chunk.GetProperty("raw_chunk").GetString()!));
                }
                chunks = builder.ToImmutable();
            }
            entry = new CachedModelOutput(output.ToImmutable(), ReadFinishReason(root), root.GetProperty("raw_response").GetString()!,
                DateTimeOffset.FromUnixTimeMilliseconds(root.GetProperty("stored_at_ms").GetInt64()))
            {
                Chunks = chunks,
            };
            return true;
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or FormatException or ArgumentException)
        {
            entry = null;
            return false;
        }
    }

    private static void WriteFinishReason(Utf8JsonWriter writer, FinishReason? reason)
    {
        if (reason is { } value)
        {
            writer.WriteString("finish_reason", value.ToString());
        }
    }

    private static FinishReason? ReadFinishReason(JsonElement element) =>
        element.TryGetProperty("finish_reason", out var reason)
            ? Enum.Parse<FinishReason>(reason.GetString()!)
            : null;

    private static ContentBlock ReadBlock(JsonElement block) => block.GetProperty("type").GetString() switch
    {
        "text" => new TextBlock(block.GetProperty("text").GetString()!),
        "tool_call" => new ToolCallBlock(block.GetProperty("id").GetString()!, block.GetProperty("raw_name").GetString()!,
            block.GetProperty("raw_arguments").GetString()!)
        {
            Name = OptionalString(block, "name"),
            ParsedArguments = OptionalElement(block, "arguments"),
        },
        "thought" => new ThoughtBlock(OptionalString(block, "text"))
        {
            Signature = OptionalString(block, "signature"),
            Summary = OptionalElement(block, "summary"),
            ProviderType = OptionalString(block, "provider_type"),
            ExtraData = OptionalElement(block, "extra_data"),
        },
        "unknown" => new UnknownBlock(block.GetProperty("data").Clone())
        {
            ModelName = OptionalString(block, "model_name"),
            ProviderName = OptionalString(block, "provider_name"),
        },
        var type => throw new FormatException($"unknown block type '{type}'"),
    };

    private static void WriteChunkBlock(Utf8JsonWriter writer, ChunkBlock piece)
    {
        writer.WriteStartObject();
        writer.WriteString("id", piece.Id);
        switch (piece)
        {
            case TextChunk text:
                writer.WriteString("type", "text");
                writer.WriteString("text", text.Text);
                break;
            case ToolCallChunk call:
                writer.WriteString("type", "tool_call");
                WriteOptional(writer, "raw_name", call.RawName);
                writer.WriteString("raw_arguments", call.RawArguments);
                break;
            case ThoughtChunk thought:
                writer.WriteString("type", "thought");
                WriteOptional(writer, "text", thought.Text);
                WriteOptional(writer, "signature", thought.Signature);
                WriteOptional(writer, "provider_type", thought.ProviderType);
                break;
            case UnknownChunk unknown:
                writer.WriteString("type", "unknown");
                writer.WritePropertyName("data");
                unknown.Data.WriteTo(writer);
                break;
            default:
                throw new ArgumentException($"a {piece.GetType().Name} is not a stream piece", nameof(piece));
        }
        writer.WriteEndObject();
    }

    private static ChunkBlock ReadChunkBlock(JsonElement piece)
    {
        var id = piece.GetProperty("id").GetString()!;
        return piece.GetProperty("type").GetString() switch
        {
            "text" => new TextChunk(id, piece.GetProperty("text").GetString()!),
            "tool_call" => new ToolCallChunk(id, OptionalString(piece, "raw_name"), piece.GetProperty("raw_arguments").GetString()!),
            "thought" => new ThoughtChunk(id, OptionalString(piece, "text"))
            {
                Signature = OptionalString(piece, "signature"),
                ProviderType = OptionalString(piece, "provider_type"),
            },
            "unknown" => new UnknownChunk(id, piece.GetProperty("data").Clone()),
            var type => throw new FormatException($"unknown stream piece type '{type}'"),
        };
    }

    private static void WriteOptional(Utf8JsonWriter writer, string name, string? value)
    {
        if (value is not null)
        {
            writer.WriteString(name, value);
        }
    }

    private static void WriteOptional(Utf8JsonWriter writer, string name, JsonElement? value)
    {
        if (value is { } element)
        {
            writer.WritePropertyName(name);
            element.WriteTo(writer);
        }
    }

    private static string? OptionalString(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) ? value.GetString() : null;

    private static JsonElement? OptionalElement(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null ? value.Clone() : null;
}
