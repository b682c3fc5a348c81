using System.Collections.Immutable;
using System.Text;
using System.Text.Json;
using TensorZero.Proxy.Functions;

namespace TensorZero.Proxy.Inference;

/// <summary>
/// Reads an Anthropic Messages API body (<c>POST /v1/messages</c>) into a <see cref="TypedInferenceRequest"/>, so that
/// Claude clients reach any configured model or function: <c>system</c> and the messages' text, image, tool_use,
/// tool_result and thinking blocks become TensorZero's input, <c>tools</c> and <c>tool_choice</c> its tool settings,
/// <c>max_tokens</c> (required, as Anthropic requires it), <c>stop_sequences</c>, <c>temperature</c>, <c>top_p</c> and
/// <c>thinking.budget_tokens</c> its parameters. The <c>model</c> field takes the chat completions forms.
/// </summary>
internal static class AnthropicMessagesRequestReader
{
    private static readonly string[] Fields =
    [
        "model", "max_tokens", "messages", "system", "tools", "tool_choice", "stop_sequences", "temperature", "top_p",
        "top_k", "metadata", "stream", "thinking", "service_tier",
    ];

    /// <summary>Fields accepted and not acted on (reported in <c>x-tensorzero-warning</c>).</summary>
    private static readonly string[] IgnoredFields = ["top_k", "metadata"];

    /// <summary>Reads a body; on failure <paramref name="error"/> is the 400 and its message.</summary>
    public static bool TryRead(byte[] body, out TypedInferenceRequest? request, out RequestError? error) =>
        RequestError.TryParseBody(body, Read, out request, out error);

    private static TypedInferenceRequest Read(JsonElement root)
    {
        var body = JsonMembers.Of(root, "", "an object");
        var unknown = body.Names.Where(n => Array.IndexOf(Fields, n) < 0 && Array.IndexOf(RequestFieldReader.GatewayFieldNames, n) < 0).ToArray();
        if (unknown.Length > 0)
        {
            throw new RequestFormatException($"{unknown[0]}: Extra inputs are not permitted");
        }
        var model = body.RequiredString("model");
        var (functionName, modelName, plainName) = OpenAIResponsesRequestReader.ReadModel(model);
        if (!body.Has("max_tokens"))
        {
            throw new RequestFormatException("max_tokens: Field required");
        }
        var maxTokens = body.OptionalU32("max_tokens") ?? throw new RequestFormatException("max_tokens: Input should be a valid integer");
        if (maxTokens < 1)
        {
            throw new RequestFormatException("max_tokens: Input should be greater than or equal to 1");
        }
        var stream = body.OptionalBool("stream") ?? false;
        var temperature = body.OptionalFloat("temperature");
        if (temperature is < 0 or > 1)
        {
            throw new RequestFormatException("temperature: Input should be less than or equal to 1 and greater than or equal to 0");
        }
        var topP = body.OptionalFloat("top_p");
        if (body.Optional("top_k") is { } topK)
        {
            JsonMembers.AsU32(topK, "top_k");
        }
        if (body.Optional("metadata") is { } metadata)
        {
            JsonMembers.Of(metadata, "metadata").OptionalString("user_id");
        }
        var serviceTier = body.OptionalString("service_tier");
        if (serviceTier is not null and not ("auto" or "standard_only"))
        {
            throw JsonMembers.UnknownVariant("service_tier", serviceTier, "auto", "standard_only");
        }
        var stop = body.Optional("stop_sequences") is { } stopValue ? RequestFieldReader.ReadStrings(stopValue, "stop_sequences") : (ImmutableArray<string>?)null;
        long? thinkingBudget = null;
        if (body.Optional("thinking") is { } thinkingValue)
        {
            var thinking = JsonMembers.Of(thinkingValue, "thinking");
            var type = thinking.RequiredString("type");
            thinkingBudget = type switch
            {
                "enabled" => JsonMembers.AsU32(thinking.Required("budget_tokens", "an integer"), "thinking.budget_tokens"),
                "disabled" => null,
                _ => throw JsonMembers.UnknownVariant("thinking.type", type, "enabled", "disabled"),
            };
        }
        var tools = ReadTools(body);
        var (toolChoice, parallel) = ReadToolChoice(body);
        var system = ReadSystem(body);
        var messages = ReadMessages(body, ref system);

        var (gatewayFields, cache, credentials) = RequestFieldReader.ReadGatewayFields(body, modelName);

        return new TypedInferenceRequest
        {
            Endpoint = InferenceEndpoint.AnthropicMessages,
            FunctionName = functionName,
            ModelName = modelName,
            PlainName = plainName,
            RequestedModel = model,
            Input = new InferenceInput(system is null ? null : new SystemText(system), messages),
            Stream = stream,
            Params = new SamplingParams
            {
                Temperature = temperature,
                TopP = topP,
                MaxTokens = maxTokens,
                StopSequences = stop,
                ThinkingBudgetTokens = thinkingBudget,
            },
            AdditionalTools = tools,
            ToolChoice = toolChoice,
            ParallelToolCalls = parallel,
            Cache = cache,
            Credentials = credentials,
            GatewayFieldJson = gatewayFields,
            IgnoredFields = [.. body.Names.Where(n => Array.IndexOf(IgnoredFields, n) >= 0 && body.Optional(n) is not null)],
        };
    }

    /// <summary><c>system</c>: a string or text blocks (joined with newlines).</summary>
    private static string? ReadSystem(JsonMembers body)
    {
        if (body.Optional("system") is not { } value)
        {
            return null;
        }
        if (value.ValueKind == JsonValueKind.String)
        {
            return value.GetString();
        }
        return ReadTextBlocks(value, "system");
    }

    /// <summary>A list of text blocks, joined with newlines.</summary>
    private static string ReadTextBlocks(JsonElement value, string path)
    {
        if (value.ValueKind != JsonValueKind.Array)
        {
            throw JsonMembers.Invalid(path, value, "a string or a list of text blocks");
        }
        var text = new StringBuilder();
        var index = 0;
        foreach (var item in value.EnumerateArray())
        {
            var block = JsonMembers.Of(item, JsonMembers.Index(path, index++));
            var type = block.RequiredString("type");
            if (type != "text")
            {
                throw JsonMembers.UnknownVariant(block.PathOf("type"), type, "text");
            }
            if (text.Length > 0)
            {
                text.Append('\n');
            }
            text.Append(block.RequiredString("text"));
        }
        return text.ToString();
    }

    /// <summary><c>[{"name", "description"?, "input_schema", "type"?: "custom"}]</c>; Anthropic's server tools are refused.</summary>
    private static ImmutableArray<ToolDefinition> ReadTools(JsonMembers body)
    {
        if (body.Optional("tools") is not { } value)
        {
            return [];
        }
        if (value.ValueKind != JsonValueKind.Array)
        {
            throw JsonMembers.Invalid("tools", value, "a list");
        }
        var tools = ImmutableArray.CreateBuilder<ToolDefinition>();
        var index = 0;
        foreach (var item in value.EnumerateArray())
        {
            var tool = JsonMembers.Of(item, JsonMembers.Index("tools", index++));
            if (tool.OptionalString("type") is { } type && type != "custom")
            {
                throw new RequestFormatException(
                    $"{tool.Path}: tool type '{type}' is not supported by the gateway; only client tools ({{name, description, input_schema}}) are.");
            }
            var name = tool.RequiredString("name");
            var schema = tool.RequiredObject("input_schema");
            tools.Add(new ToolDefinition(name, tool.OptionalString("description") ?? "", schema.Clone(), Strict: false));
        }
        return tools.ToImmutable();
    }

    /// <summary><c>{"type": "auto" | "any" | "tool" | "none", "name"?, "disable_parallel_tool_use"?}</c>.</summary>
    private static (ToolChoice? Choice, bool? Parallel) ReadToolChoice(JsonMembers body)
    {
        if (body.Optional("tool_choice") is not { } value)
        {
            return (null, null);
        }
        var choice = JsonMembers.Of(value, "tool_choice");
        var type = choice.RequiredString("type");
        var disableParallel = choice.OptionalBool("disable_parallel_tool_use");
        ToolChoice result = type switch
        {
            "auto" => ToolChoice.Auto,
            "any" => ToolChoice.Required,
            "none" => ToolChoice.None,
            "tool" => new ToolChoiceSpecific(choice.RequiredString("name")),
            _ => throw JsonMembers.UnknownVariant("tool_choice.type", type, "auto", "any", "tool", "none"),
        };
        return (result, disableParallel is { } disable ? !disable : null);
    }

    /// <summary>The messages; a <c>system</c> message's text joins <paramref name="system"/> (after a newline).</summary>
    private static ImmutableArray<InputMessage> ReadMessages(JsonMembers body, ref string? system)
    {
        var value = body.Required("messages", "a list");
        if (value.ValueKind != JsonValueKind.Array)
        {
            throw JsonMembers.Invalid("messages", value, "a list");
        }
        var messages = ImmutableArray.CreateBuilder<InputMessage>();
        var toolNames = new Dictionary<string, string>(StringComparer.Ordinal);
        var index = 0;
        foreach (var item in value.EnumerateArray())
        {
            var message = JsonMembers.Of(item, JsonMembers.Index("messages", index++));
            var roleName = message.RequiredString("role");
            var content = message.Required("content", "a string or a list of content blocks");
            if (roleName == "system")
            {
                var text = content.ValueKind == JsonValueKind.String ? content.GetString()! : ReadTextBlocks(content, message.PathOf("content"));
                system = system is null ? text : system + "\n" + text;
                continue;
            }
            var role = roleName switch
            {
                "user" => Role.User,
                "assistant" => Role.Assistant,
                _ => throw JsonMembers.UnknownVariant(message.PathOf("role"), roleName, "user", "assistant", "system"),
            };
            if (content.ValueKind == JsonValueKind.String)
            {
                messages.Add(new InputMessage(role, [new TextBlock(content.GetString()!)]));
                continue;
            }
            if (content.ValueKind != JsonValueKind.Array)
            {
                throw JsonMembers.Invalid(message.PathOf("content"), content, "a string or a list of content blocks");
            }
            var blocks = ImmutableArray.CreateBuilder<InputContent>();
            var blockIndex = 0;
            foreach (var blockValue in content.EnumerateArray())
            {
                blocks.Add(ReadBlock(JsonMembers.Of(blockValue, JsonMembers.Index(message.PathOf("content"), blockIndex++)), roleName, toolNames));
            }
            messages.Add(new InputMessage(role, blocks.ToImmutable()));
        }
        return messages.ToImmutable();
    }

    private static InputContent ReadBlock(JsonMembers block, string role, Dictionary<string, string> toolNames)
    {
        var type = block.RequiredString("type");
        switch (type)
        {
            case "text":
                return new TextBlock(block.RequiredString("text"));
            case "image":
                return new FileBlock(ReadImage(block));
            case "tool_use" when role == "assistant":
                var id = block.RequiredString("id");
                var name = block.RequiredString("name");
                toolNames[id] = name;
                return new ToolCallBlock(id, name, ContentBlockReader.CompactJson(block.RequiredObject("input")));
            case "tool_result" when role == "user":
                var toolUseId = block.RequiredString("tool_use_id");
                if (!toolNames.TryGetValue(toolUseId, out var toolName))
                {
                    throw new RequestFormatException(
                        $"{block.Path}: tool_use_id '{toolUseId}' does not match any tool_use block in an earlier assistant message.");
                }
                block.OptionalBool("is_error");
                return new ToolResultBlock(toolUseId, toolName, ReadToolResultContent(block));
            case "thinking" when role == "assistant":
                return new ThoughtBlock(block.RequiredString("thinking")) { Signature = block.OptionalString("signature"), ProviderType = "anthropic" };
            case "tool_use" or "tool_result" or "thinking":
                throw new RequestFormatException($"{block.Path}: a '{type}' block is not allowed in a {role} message.");
            default:
                throw new RequestFormatException(
                    $"{block.Path}: content block type '{type}' is not supported by the gateway; it takes 'text', 'image', 'tool_use', 'tool_result' and 'thinking'.");
        }
    }

    /// <summary>A tool result's <c>content</c>: a string, or text blocks (joined); absent is empty.</summary>
    private static string ReadToolResultContent(JsonMembers block)
    {
        if (block.Optional("content") is not { } content)
        {
            return "";
        }
        return RequestFieldReader.ReadJoinedText(block, "content", content, "a string or a list of content blocks", "text", "a tool_result content block");
    }

    /// <summary><c>{"source": {"type": "base64", "media_type", "data"} | {"type": "url", "url"}}</c>.</summary>
    private static FileData ReadImage(JsonMembers block)
    {
        var source = JsonMembers.Of(block.Required("source", "an object"), block.PathOf("source"));
        var type = source.RequiredString("type");
        switch (type)
        {
            case "base64":
                var mediaType = source.RequiredString("media_type");
                if (mediaType is not ("image/jpeg" or "image/png" or "image/gif" or "image/webp"))
                {
                    throw JsonMembers.UnknownVariant(source.PathOf("media_type"), mediaType, "image/jpeg", "image/png", "image/gif", "image/webp");
                }
                var data = source.RequiredString("data");
                if (data.StartsWith("data:", StringComparison.Ordinal))
                {
                    throw new RequestFormatException($"{source.PathOf("data")}: must be plain base64, without a 'data:' prefix.");
                }
                return new FileData { Base64Data = data, MimeType = mediaType };
            case "url":
                var url = source.RequiredString("url");
                return ContentBlockReader.IsAbsoluteUrl(url) ? new FileData { Url = url }
                    : throw new RequestFormatException($"{source.PathOf("url")}: '{url}' is not an absolute URL.");
            default:
                throw JsonMembers.UnknownVariant(source.PathOf("type"), type, "base64", "url");
        }
    }
}
