using System.Collections.Immutable;
using System.Text;
using System.Text.Json;

namespace TensorZero.Proxy.Functions;

/// <summary>
/// What a function makes of a model's answer (TensorZero's <c>prepare_response</c>): chat output blocks with tool
/// calls checked against the inference's tools, or a JSON function's raw text and, when it parses and validates
/// against the output schema, its parsed value. Streams are processed chunk by chunk and accumulated so the
/// complete output can be recorded.
/// </summary>
internal static class OutputProcessor
{
    /// <summary>The output of a chat or JSON inference from the model's blocks.</summary>
    public static (ImmutableArray<ContentBlock> Content, JsonOutput? Json) Process(
        FunctionKind kind, ModelRequest request, ImmutableArray<ContentBlock> output)
    {
        if (kind == FunctionKind.Json)
        {
            return ([], JsonFromBlocks(request, output));
        }

        var content = ImmutableArray.CreateBuilder<ContentBlock>(output.Length);
        foreach (var block in output)
        {
            if (block is ToolCallBlock call)
            {
                // json_mode = "tool" on a chat function: the implicit tool's arguments are the text answer.
                content.Add(request.JsonMode == JsonMode.Tool ? new TextBlock(call.RawArguments) : CheckToolCall(call, request.Tools));
            }
            else
            {
                content.Add(block);
            }
        }
        return (content.MoveToImmutable(), null);
    }

    /// <summary>
    /// TensorZero's InferenceResponseToolCall: the name is kept when it names a tool of the inference, the arguments
    /// when they parse as JSON and validate against that tool's parameters.
    /// </summary>
    public static ToolCallBlock CheckToolCall(ToolCallBlock call, ToolConfig? tools)
    {
        var tool = tools?.Tools.FirstOrDefault(t => t.Name == call.RawName);
        if (tool is null)
        {
            return call with { Name = null, ParsedArguments = null };
        }
        JsonElement? arguments = null;
        try
        {
            using var document = JsonDocument.Parse(call.RawArguments);
            if (SchemaValidator.Cached(tool.Parameters) is { } validator && validator.Validate(document.RootElement) is null)
            {
                arguments = document.RootElement.Clone();
            }
        }
        catch (JsonException)
        {
            // Arguments that are not JSON stay raw only.
        }
        return call with { Name = tool.Name, ParsedArguments = arguments };
    }

    /// <summary>
    /// The JSON output: the last text or tool call block is the JSON (a tool call when the implicit tool was used);
    /// parsed when it is JSON and valid against the output schema, else only raw.
    /// </summary>
    private static JsonOutput JsonFromBlocks(ModelRequest request, ImmutableArray<ContentBlock> output)
    {
        string? raw = null;
        for (var i = output.Length - 1; i >= 0 && raw is null; i--)
        {
            raw = output[i] switch
            {
                TextBlock text => text.Text,
                ToolCallBlock call => call.RawArguments,
                _ => null,
            };
        }
        return new JsonOutput(raw, raw is null ? null : ParseValid(raw, request.OutputSchema));
    }

    /// <summary>The parsed value of <paramref name="raw"/> when it is JSON valid against <paramref name="schema"/>.</summary>
    public static JsonElement? ParseValid(string raw, JsonElement? schema)
    {
        try
        {
            using var document = JsonDocument.Parse(raw);
            if (schema is { } s && (SchemaValidator.Cached(s) is not { } validator || validator.Validate(document.RootElement) is not null))
            {
                return null;
            }
            return document.RootElement.Clone();
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>
    /// A chunk as the client sees it: for a chat function in <c>json_mode = "tool"</c> and for JSON functions the
    /// implicit tool call's argument pieces become text pieces (the JSON document streams as text).
    /// </summary>
    public static ProviderChunk ProcessChunk(FunctionKind kind, ModelRequest request, ProviderChunk chunk)
    {
        var asText = kind == FunctionKind.Json || request.JsonMode == JsonMode.Tool;
        if (!asText || !chunk.Content.Any(c => c is ToolCallChunk))
        {
            return chunk;
        }
        var content = ImmutableArray.CreateBuilder<ChunkBlock>(chunk.Content.Length);
        foreach (var piece in chunk.Content)
        {
            content.Add(piece is ToolCallChunk call ? new TextChunk(call.Id, call.RawArguments) : piece);
        }
        return chunk with { Content = content.MoveToImmutable() };
    }
}

/// <summary>
/// Joins a stream's chunks into the blocks a non-streaming answer would have had (pieces with the same id form one
/// block, in order of first appearance), with the last usage and finish reason seen. One per streamed attempt.
/// </summary>
internal sealed class StreamAccumulator
{
    private readonly List<(string Kind, string Id)> _order = [];
    private readonly Dictionary<(string Kind, string Id), StringBuilder> _text = [];
    private readonly Dictionary<string, string> _toolNames = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string?> _signatures = new(StringComparer.Ordinal);
    private readonly Dictionary<string, JsonElement> _unknown = new(StringComparer.Ordinal);
    private readonly StringBuilder _raw = new();

    public Usage? Usage { get; private set; }

    public FinishReason? FinishReason { get; private set; }

    /// <summary>The chunks' raw payloads, one per line (the record's raw response).</summary>
    public string RawResponse => _raw.ToString();

    public void Add(ProviderChunk chunk)
    {
        if (chunk.RawChunk.Length > 0)
        {
            _raw.Append(chunk.RawChunk).Append('\n');
        }
        Usage = chunk.Usage ?? Usage;
        FinishReason = chunk.FinishReason ?? FinishReason;
        foreach (var piece in chunk.Content)
        {
            switch (piece)
            {
                case TextChunk text:
                    Append("text", text.Id, text.Text);
                    break;
                case ToolCallChunk call:
                    Append("tool_call", call.Id, call.RawArguments);
                    if (call.RawName is { } name)
                    {
                        _toolNames[call.Id] = _toolNames.TryGetValue(call.Id, out var before) ? before + name : name;
                    }
                    break;
                case ThoughtChunk thought:
                    Append("thought", thought.Id, thought.Text ?? "");
                    if (thought.Signature is not null)
                    {
                        _signatures[thought.Id] = thought.Signature;
                    }
                    break;
                case UnknownChunk unknown:
                    if (!_unknown.ContainsKey(unknown.Id))
                    {
                        _order.Add(("unknown", unknown.Id));
                    }
                    _unknown[unknown.Id] = unknown.Data;
                    break;
            }
        }
    }

    private void Append(string kind, string id, string text)
    {
        if (!_text.TryGetValue((kind, id), out var builder))
        {
            builder = new StringBuilder();
            _text[(kind, id)] = builder;
            _order.Add((kind, id));
        }
        builder.Append(text);
    }

    /// <summary>The joined blocks, in order of first appearance.</summary>
    public ImmutableArray<ContentBlock> Blocks()
    {
        var blocks = ImmutableArray.CreateBuilder<ContentBlock>(_order.Count);
        foreach (var (kind, id) in _order)
        {
            blocks.Add(kind switch
            {
                "text" => new TextBlock(_text[(kind, id)].ToString()),
                "tool_call" => new ToolCallBlock(id, _toolNames.GetValueOrDefault(id, ""), _text[(kind, id)].ToString()),
                "thought" => new ThoughtBlock(_text[(kind, id)].ToString()) { Signature = _signatures.GetValueOrDefault(id) },
                _ => new UnknownBlock(_unknown[id]),
            });
        }
        return blocks.MoveToImmutable();
    }
}
