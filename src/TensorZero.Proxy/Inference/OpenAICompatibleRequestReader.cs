using System.Collections.Immutable;
using System.Text.Json;
using TensorZero.Proxy.Functions;

namespace TensorZero.Proxy.Inference;

/// <summary>
/// Reads an OpenAI-compatible chat completions body (<c>POST /openai/v1/chat/completions</c>) into a
/// <see cref="TypedInferenceRequest"/> with TensorZero's semantics and messages: the <c>model</c> forms, the messages
/// as TensorZero converts them to its input (system text or template arguments, content blocks, tool calls and
/// results, <c>tensorzero_extra_content</c>), tools, response format, sampling fields and every <c>tensorzero::*</c>
/// field TensorZero accepts. Checks run in TensorZero's order: the body's shape (serde's messages, with their path),
/// then <c>n</c>, unknown fields and usage options, then the <c>model</c> value, then the messages' content.
/// </summary>
internal static class OpenAICompatibleRequestReader
{
    public const string FunctionPrefix = "tensorzero::function_name::";

    public const string ModelPrefix = "tensorzero::model_name::";

    /// <summary>How TensorZero prefixes the messages of its OpenAI-compatible request errors.</summary>
    public const string ErrorPrefix = "Invalid request to OpenAI-compatible endpoint: ";

    /// <summary>
    /// TensorZero's error for a <c>model</c> without its prefixes. This gateway reads such a value as a plain name
    /// (<see cref="TypedInferenceRequest.PlainName"/>); the message is for when that name matches nothing.
    /// </summary>
    public const string ModelFieldPrefixMessage = ErrorPrefix +
        "`model` field must start with `tensorzero::function_name::` or `tensorzero::model_name::`. For example, " +
        "`tensorzero::function_name::my_function` for a function `my_function` defined in your config, " +
        "`tensorzero::model_name::my_model` for a model `my_model` defined in your config, or default functions like " +
        "`tensorzero::model_name::openai::gpt-4o-mini`.";

    /// <summary>The OpenAI chat completions fields TensorZero reads.</summary>
    private static readonly string[] OpenAIFields =
    [
        "messages", "model", "frequency_penalty", "max_tokens", "max_completion_tokens", "presence_penalty",
        "response_format", "seed", "stream", "stream_options", "temperature", "tools", "tool_choice", "top_p",
        "parallel_tool_calls", "stop", "reasoning_effort", "service_tier", "verbosity", "n",
    ];

    /// <summary>Every <c>tensorzero::*</c> field TensorZero's OpenAI-compatible endpoint accepts.</summary>
    public static readonly ImmutableArray<string> TensorZeroFields =
    [
        "tensorzero::variant_name", "tensorzero::dryrun", "tensorzero::episode_id", "tensorzero::namespace",
        "tensorzero::cache_options", "tensorzero::extra_body", "tensorzero::extra_headers", "tensorzero::tags",
        "tensorzero::deny_unknown_fields", "tensorzero::credentials", "tensorzero::internal_dynamic_variant_config",
        "tensorzero::provider_tools", "tensorzero::params", "tensorzero::include_raw_usage",
        "tensorzero::include_original_response", "tensorzero::include_raw_response",
    ];

    /// <summary>The <c>tensorzero::*</c> fields this gateway accepts and does not act on.</summary>
    public static readonly ImmutableArray<string> IgnoredTensorZeroFields =
    [
        "tensorzero::internal_dynamic_variant_config", "tensorzero::provider_tools",
    ];

    private static readonly string[] MessageRoles = ["system", "developer", "user", "assistant", "tool"];

    private static readonly string[] ContentBlockTypes =
        ["text", "image_url", "file", "input_audio", "tensorzero::raw_text", "tensorzero::template"];

    private enum MessageKind
    {
        System,
        User,
        Assistant,
        Tool,
    }

    /// <summary>A message after the shape checks, before its content is converted.</summary>
    private sealed record Message(
        MessageKind Kind,
        JsonElement? Content,
        ImmutableArray<ToolCallBlock> ToolCalls,
        ImmutableArray<(int? InsertIndex, ContentBlock Block)> ExtraContent,
        string? ToolCallId);

    /// <summary>Reads a body; on failure <paramref name="error"/> is TensorZero's status and message.</summary>
    public static bool TryRead(byte[] body, out TypedInferenceRequest? request, out RequestError? error) =>
        RequestError.TryParseBody(body, Read, out request, out error);

    private static TypedInferenceRequest Read(JsonElement root)
    {
        var body = JsonMembers.Of(root, "", "struct OpenAICompatibleParams");

        // 1. The body's shape, as serde checks it while deserializing (TensorZero's OpenAICompatibleParams).
        var messages = body.Has("messages") ? ReadMessages(body) : default;
        var model = body.Has("model") ? body.RequiredString("model") : null;
        var frequencyPenalty = body.OptionalFloat("frequency_penalty");
        var maxTokens = body.OptionalU32("max_tokens");
        var maxCompletionTokens = body.OptionalU32("max_completion_tokens");
        var presencePenalty = body.OptionalFloat("presence_penalty");
        var (responseJsonMode, outputSchema, jsonObject) = ReadResponseFormat(body);
        var seed = body.OptionalU32("seed");
        var stream = body.OptionalBool("stream");
        bool? explicitIncludeUsage = null;
        if (body.Optional("stream_options") is { } streamOptions)
        {
            explicitIncludeUsage = JsonMembers.Of(streamOptions, "stream_options", "struct OpenAICompatibleStreamOptions").DefaultedBool("include_usage");
        }
        var temperature = body.OptionalFloat("temperature");
        var (functionTools, customTools) = ReadTools(body);
        var (toolChoice, allowedTools) = ReadToolChoice(body);
        var topP = body.OptionalFloat("top_p");
        var parallelToolCalls = body.OptionalBool("parallel_tool_calls");
        // OpenAI also takes `stop` as one string; TensorZero's type is an array, and this gateway takes both.
        var stop = body.Optional("stop") is { } stopValue
            ? stopValue.ValueKind == JsonValueKind.String ? [stopValue.GetString()!] : RequestFieldReader.ReadStrings(stopValue, "stop")
            : (ImmutableArray<string>?)null;
        var reasoningEffort = body.OptionalString("reasoning_effort");
        var serviceTier = RequestFieldReader.ReadServiceTier(body, "service_tier");
        var verbosity = body.OptionalString("verbosity");
        var n = body.OptionalU32("n");

        var gatewayFields = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (var name in (string[])["tensorzero::variant_name", "tensorzero::dryrun", "tensorzero::episode_id"])
        {
            // Options in TensorZero: null means "not set".
            if (body.Optional(name) is { } value)
            {
                gatewayFields[name] = value.Clone();
            }
        }
        foreach (var (name, expected) in (ReadOnlySpan<(string, string)>)[("tensorzero::tags", "a map"), ("tensorzero::extra_body", "a sequence"), ("tensorzero::extra_headers", "a sequence")])
        {
            if (body.Defaulted(name, expected) is { } value)
            {
                gatewayFields[name] = value.Clone();
            }
        }
        var ns = body.Optional("tensorzero::namespace") is { } nsValue ? RequestFieldReader.ReadNamespace(nsValue, "tensorzero::namespace") : null;
        var cache = body.Optional("tensorzero::cache_options") is { } cacheValue
            ? RequestFieldReader.ReadCacheOptions(cacheValue, "tensorzero::cache_options")
            : CacheOptions.Default;
        var denyUnknownFields = body.DefaultedBool("tensorzero::deny_unknown_fields");
        var credentials = body.Defaulted("tensorzero::credentials", "a map") is { } credentialsValue
            ? RequestFieldReader.ReadCredentials(credentialsValue, "tensorzero::credentials")
            : ImmutableDictionary<string, string>.Empty;
        body.Defaulted("tensorzero::provider_tools", "a sequence");
        var (tensorZeroParams, paramsJsonMode) = body.Optional("tensorzero::params") is { } paramsValue
            ? RequestFieldReader.ReadParams(paramsValue, "tensorzero::params")
            : (SamplingParams.None, null);
        var includeRawUsage = body.DefaultedBool("tensorzero::include_raw_usage");
        var includeOriginalResponse = body.DefaultedBool("tensorzero::include_original_response");
        var includeRawResponse = body.DefaultedBool("tensorzero::include_raw_response");

        if (messages.IsDefault)
        {
            throw body.Missing("messages");
        }
        if (model is null)
        {
            throw body.Missing("model");
        }

        // 2. The handler's checks.
        if (n is { } count && count != 1)
        {
            throw Fail("TensorZero does not support `n` other than 1. Please omit this parameter or set it to 1.");
        }
        var unknown = body.Names
            .Where(name => Array.IndexOf(OpenAIFields, name) < 0 && !TensorZeroFields.Contains(name))
            .ToImmutableArray();
        if (!unknown.IsEmpty && denyUnknownFields)
        {
            throw Fail("`tensorzero::deny_unknown_fields` is set to true, but found unknown fields in the request: [" +
                string.Join(", ", unknown.Order(StringComparer.Ordinal)) + "]");
        }
        if (stream == true && includeRawUsage && explicitIncludeUsage == false)
        {
            throw Fail("`tensorzero::include_raw_usage` requires `stream_options.include_usage` to be true (or omitted) for streaming requests");
        }

        // 3. TensorZero's conversion to its inference parameters.
        string? functionName = null, modelName = null, plainName = null;
        if (model.StartsWith(FunctionPrefix, StringComparison.Ordinal))
        {
            functionName = model[FunctionPrefix.Length..];
            if (functionName.Length == 0)
            {
                throw Fail("function_name (passed in model field after \"tensorzero::function_name::\") cannot be empty");
            }
        }
        else if (model.StartsWith(ModelPrefix, StringComparison.Ordinal))
        {
            modelName = model[ModelPrefix.Length..];
            if (modelName.Length == 0)
            {
                throw Fail("model_name (passed in model field after \"tensorzero::model_name::\") cannot be empty");
            }
        }
        if (modelName is not null && gatewayFields.ContainsKey("tensorzero::variant_name"))
        {
            // TensorZero's find_function: a model target has exactly one "variant", the model.
            throw new RequestFormatException("Invalid inference target: `variant_name` cannot be provided when using `model_name`");
        }
        if (functionName is null && modelName is null)
        {
            // TensorZero refuses this (ModelFieldPrefixMessage); this gateway resolves it as a plain name (DESIGN.md §2).
            plainName = model;
        }

        // With both, the smaller limit wins.
        uint? maxTokensValue = (maxTokens, maxCompletionTokens) switch
        {
            ({ } a, { } b) => Math.Min(a, b),
            ({ } a, null) => a,
            (null, { } b) => b,
            _ => null,
        };
        var input = MessagesToInput(messages);

        // `tensorzero::params` wins over the OpenAI fields, so that json_mode "tool" can be asked for with a schema.
        var openAIParams = new SamplingParams
        {
            Temperature = temperature,
            TopP = topP,
            MaxTokens = maxTokensValue,
            PresencePenalty = presencePenalty,
            FrequencyPenalty = frequencyPenalty,
            Seed = seed,
            StopSequences = stop,
            ReasoningEffort = reasoningEffort,
            ServiceTier = serviceTier,
            Verbosity = verbosity,
        };

        var ignored = body.Names
            .Where(name => IgnoredTensorZeroFields.Contains(name) && body.Optional(name) is not null)
            .ToImmutableArray();

        return new TypedInferenceRequest
        {
            Endpoint = InferenceEndpoint.OpenAICompatible,
            FunctionName = functionName,
            ModelName = modelName,
            PlainName = plainName,
            Input = input,
            Stream = stream ?? false,
            // OpenAI's default is no usage chunk; raw usage implies usage.
            IncludeUsageInStream = (explicitIncludeUsage ?? false) || includeRawUsage,
            Params = openAIParams.OverriddenBy(tensorZeroParams),
            JsonMode = paramsJsonMode ?? responseJsonMode,
            AdditionalTools = functionTools,
            AdditionalCustomTools = customTools,
            AllowedTools = allowedTools,
            ToolChoice = toolChoice,
            ParallelToolCalls = parallelToolCalls,
            OutputSchema = outputSchema,
            JsonObjectRequested = jsonObject,
            IncludeRawResponse = includeRawResponse,
            IncludeOriginalResponse = includeOriginalResponse,
            IncludeRawUsage = includeRawUsage,
            Cache = cache,
            Credentials = credentials,
            GatewayFieldJson = gatewayFields,
            Namespace = ns,
            IgnoredFields = ignored,
            UnknownFields = unknown,
        };
    }

    private static RequestFormatException Fail(string message) => new(ErrorPrefix + message);

    // ---------------------------------------------------------------------------------------------------------------
    // Shape checks (serde level)
    // ---------------------------------------------------------------------------------------------------------------

    private static (JsonMode? Mode, JsonElement? Schema, bool JsonObject) ReadResponseFormat(JsonMembers body)
    {
        if (body.Optional("response_format") is not { } value)
        {
            return (null, null, false);
        }
        var format = JsonMembers.Of(value, "response_format", "internally tagged enum OpenAICompatibleResponseFormat");
        var type = format.RequiredString("type");
        switch (type)
        {
            case "text":
                return (JsonMode.Off, null, false);
            case "json_object":
                return (JsonMode.On, null, true);
            case "json_schema":
                var info = JsonMembers.Of(format.Required("json_schema", "struct JsonSchemaInfo"), format.PathOf("json_schema"), "struct JsonSchemaInfo");
                info.RequiredString("name");
                info.OptionalString("description");
                info.DefaultedBool("strict");
                return (JsonMode.Strict, info.Optional("schema")?.Clone(), false);
            default:
                throw JsonMembers.UnknownVariant("response_format", type, "text", "json_schema", "json_object");
        }
    }

    private static (ImmutableArray<ToolDefinition> Functions, ImmutableArray<JsonElement> Custom) ReadTools(JsonMembers body)
    {
        if (body.Optional("tools") is not { } value)
        {
            return ([], []);
        }
        if (value.ValueKind != JsonValueKind.Array)
        {
            throw JsonMembers.Invalid("tools", value, "a sequence");
        }
        var functions = ImmutableArray.CreateBuilder<ToolDefinition>();
        var custom = ImmutableArray.CreateBuilder<JsonElement>();
        var index = 0;
        foreach (var item in value.EnumerateArray())
        {
            var tool = JsonMembers.Of(item, JsonMembers.Index("tools", index++), "internally tagged enum OpenAICompatibleTool");
            var type = tool.RequiredString("type");
            switch (type)
            {
                case "function":
                    functions.Add(RequestFieldReader.ReadFunctionTool(
                        JsonMembers.Of(tool.Required("function", "struct OpenAICompatibleFunctionTool"), tool.PathOf("function"), "struct OpenAICompatibleFunctionTool"),
                        native: false));
                    break;
                case "custom":
                    custom.Add(RequestFieldReader.ReadCustomTool(
                        JsonMembers.Of(tool.Required("custom", "struct OpenAICustomTool"), tool.PathOf("custom"), "struct OpenAICustomTool"),
                        withType: false));
                    break;
                default:
                    throw JsonMembers.UnknownVariant(tool.Path, type, "function", "custom");
            }
        }
        return (functions.ToImmutable(), custom.ToImmutable());
    }

    /// <summary>
    /// <c>"none" | "auto" | "required" | {"type": "function", "function": {"name"}} |
    /// {"type": "allowed_tools", "allowed_tools": {"tools": [...], "mode": "auto" | "required"}}</c>, with TensorZero's messages.
    /// </summary>
    private static (ToolChoice? Choice, ImmutableArray<string>? Allowed) ReadToolChoice(JsonMembers body)
    {
        if (body.Optional("tool_choice") is not { } value)
        {
            return (null, null);
        }
        const string path = "tool_choice";
        switch (value.ValueKind)
        {
            case JsonValueKind.String:
                return (value.GetString() switch
                {
                    "none" => ToolChoice.None,
                    "auto" => ToolChoice.Auto,
                    "required" => ToolChoice.Required,
                    var other => throw new RequestFormatException(JsonMembers.Prefix(path, $"Invalid tool choice string: {other}")),
                }, null);
            case JsonValueKind.Object:
                var choice = JsonMembers.Of(value, path);
                if (!choice.TryGetRaw("type", out var typeValue))
                {
                    throw new RequestFormatException(JsonMembers.Prefix(path, "Tool choice field must have a 'type' field if it is an object"));
                }
                if (typeValue.ValueKind != JsonValueKind.String)
                {
                    throw new RequestFormatException(JsonMembers.Prefix(path, "Tool choice 'type' field must be a string"));
                }
                switch (typeValue.GetString())
                {
                    case "function":
                        return (new ToolChoiceSpecific(ReadNamedToolChoice(choice)), null);
                    case "allowed_tools":
                        if (!choice.TryGetRaw("allowed_tools", out var allowedValue))
                        {
                            throw new RequestFormatException(JsonMembers.Prefix(path, "Missing 'allowed_tools' field in allowed_tools type"));
                        }
                        var allowed = JsonMembers.Of(allowedValue, choice.PathOf("allowed_tools"), "struct OpenAICompatibleAllowedTools");
                        var tools = allowed.Required("tools", "a sequence");
                        if (tools.ValueKind != JsonValueKind.Array)
                        {
                            throw JsonMembers.Invalid(allowed.PathOf("tools"), tools, "a sequence");
                        }
                        var names = ImmutableArray.CreateBuilder<string>();
                        var index = 0;
                        foreach (var tool in tools.EnumerateArray())
                        {
                            names.Add(ReadNamedToolChoice(JsonMembers.Of(tool, JsonMembers.Index(allowed.PathOf("tools"), index++), "struct OpenAICompatibleNamedToolChoice")));
                        }
                        var mode = allowed.RequiredString("mode");
                        ToolChoice modeChoice = mode switch
                        {
                            "auto" => ToolChoice.Auto,
                            "required" => ToolChoice.Required,
                            _ => throw JsonMembers.UnknownVariant(allowed.PathOf("mode"), mode, "auto", "required"),
                        };
                        return (modeChoice, names.ToImmutable());
                    case var other:
                        throw new RequestFormatException(JsonMembers.Prefix(path, $"Invalid tool choice type: {other}"));
                }
            default:
                throw new RequestFormatException(JsonMembers.Prefix(path, "Tool choice must be a string or object"));
        }
    }

    private static string ReadNamedToolChoice(JsonMembers choice)
    {
        choice.RequiredString("type");
        var function = JsonMembers.Of(choice.Required("function", "struct FunctionName"), choice.PathOf("function"), "struct FunctionName");
        return function.RequiredString("name");
    }

    private static ImmutableArray<Message> ReadMessages(JsonMembers body)
    {
        var value = body.Required("messages", "a sequence");
        if (value.ValueKind != JsonValueKind.Array)
        {
            throw JsonMembers.Invalid("messages", value, "a sequence");
        }
        var messages = ImmutableArray.CreateBuilder<Message>(value.GetArrayLength());
        var index = 0;
        foreach (var item in value.EnumerateArray())
        {
            messages.Add(ReadMessage(item, JsonMembers.Index("messages", index++)));
        }
        return messages.MoveToImmutable();
    }

    private static Message ReadMessage(JsonElement item, string path)
    {
        var message = JsonMembers.Of(item, path, "internally tagged enum OpenAICompatibleMessage");
        var role = message.RequiredString("role");
        switch (role)
        {
            case "system" or "developer":
                return new Message(MessageKind.System, RequiredValue(message, "content"), [], [], null);
            case "user":
                return new Message(MessageKind.User, RequiredValue(message, "content"), [], [], null);
            case "assistant":
                return new Message(MessageKind.Assistant, message.Optional("content")?.Clone(), ReadToolCalls(message), ReadExtraContent(message), null);
            case "tool":
                return new Message(MessageKind.Tool, message.Optional("content")?.Clone(), [], [], message.RequiredString("tool_call_id"));
            default:
                throw JsonMembers.UnknownVariant(path, role, MessageRoles);
        }
    }

    /// <summary>A required <c>serde_json::Value</c>: any JSON, <c>null</c> included.</summary>
    private static JsonElement RequiredValue(JsonMembers members, string name) =>
        members.TryGetRaw(name, out var value) ? value.Clone() : throw members.Missing(name);

    private static ImmutableArray<ToolCallBlock> ReadToolCalls(JsonMembers message)
    {
        if (message.Optional("tool_calls") is not { } value)
        {
            return [];
        }
        var path = message.PathOf("tool_calls");
        if (value.ValueKind != JsonValueKind.Array)
        {
            throw JsonMembers.Invalid(path, value, "a sequence");
        }
        var calls = ImmutableArray.CreateBuilder<ToolCallBlock>();
        var index = 0;
        foreach (var item in value.EnumerateArray())
        {
            var call = JsonMembers.Of(item, JsonMembers.Index(path, index++), "struct OpenAICompatibleToolCall");
            var id = call.RequiredString("id");
            call.RequiredString("type");
            var function = JsonMembers.Of(call.Required("function", "struct OpenAICompatibleFunctionCall"), call.PathOf("function"), "struct OpenAICompatibleFunctionCall");
            calls.Add(new ToolCallBlock(id, function.RequiredString("name"), function.RequiredString("arguments")));
        }
        return calls.ToImmutable();
    }

    /// <summary><c>tensorzero_extra_content</c>: thought and unknown blocks with an optional <c>insert_index</c>.</summary>
    private static ImmutableArray<(int?, ContentBlock)> ReadExtraContent(JsonMembers message)
    {
        if (message.Optional("tensorzero_extra_content") is not { } value)
        {
            return [];
        }
        var path = message.PathOf("tensorzero_extra_content");
        if (value.ValueKind != JsonValueKind.Array)
        {
            throw JsonMembers.Invalid(path, value, "a sequence");
        }
        var blocks = ImmutableArray.CreateBuilder<(int?, ContentBlock)>();
        var index = 0;
        foreach (var item in value.EnumerateArray())
        {
            var block = JsonMembers.Of(item, JsonMembers.Index(path, index++), "internally tagged enum ExtraContentBlock");
            var type = block.RequiredString("type");
            int? insertIndex = null;
            if (block.Optional("insert_index") is { } at)
            {
                insertIndex = at.ValueKind == JsonValueKind.Number && at.TryGetInt32(out var i) && i >= 0
                    ? i
                    : throw JsonMembers.Invalid(block.PathOf("insert_index"), at, "usize");
            }
            blocks.Add(type switch
            {
                "thought" => (insertIndex, ContentBlockReader.ReadThought(block)),
                "unknown" => (insertIndex, ContentBlockReader.ReadUnknown(block)),
                _ => throw JsonMembers.UnknownVariant(block.Path, type, "thought", "unknown"),
            });
        }
        return blocks.ToImmutable();
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Conversion to TensorZero's input
    // ---------------------------------------------------------------------------------------------------------------

    /// <summary>
    /// The messages as TensorZero's input: system messages anywhere become one system part (texts joined with a newline,
    /// or one template's arguments), assistant tool calls and extra content join the assistant's blocks, and consecutive
    /// tool messages become one user message of tool results.
    /// </summary>
    private static InferenceInput MessagesToInput(ImmutableArray<Message> messages)
    {
        InputSystem? system = null;
        var output = ImmutableArray.CreateBuilder<InputMessage>();
        var toolNames = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < messages.Length; i++)
        {
            var message = messages[i];
            switch (message.Kind)
            {
                case MessageKind.System:
                    foreach (var content in ConvertContent("system", message.Content!.Value))
                    {
                        switch (content)
                        {
                            case TextBlock or RawTextInput:
                                var text = content is TextBlock t ? t.Text : ((RawTextInput)content).Value;
                                system = system switch
                                {
                                    null => new SystemText(text),
                                    SystemText s => new SystemText(s.Text + "\n" + text),
                                    _ => throw Fail("Cannot add text after template system message"),
                                };
                                break;
                            case TemplateInput template:
                                system = system is null
                                    ? new SystemArguments(template.Arguments)
                                    : throw Fail("System message cannot contain template with other content");
                                break;
                            default:
                                throw Fail("System message must contain only text or template content blocks");
                        }
                    }
                    break;
                case MessageKind.User:
                    output.Add(new InputMessage(Role.User, [.. ConvertContent("user", message.Content!.Value)]));
                    break;
                case MessageKind.Assistant:
                    var blocks = new List<InputContent>();
                    if (message.Content is { } assistantContent)
                    {
                        blocks.AddRange(ConvertContent("assistant", assistantContent));
                    }
                    foreach (var call in message.ToolCalls)
                    {
                        toolNames[call.Id] = call.RawName;
                        blocks.Add(call);
                    }
                    // Indexed extra blocks go in by ascending index (each insert shifts the later positions), clamped to
                    // the end; then the unindexed ones go first, in their order.
                    foreach (var (at, block) in message.ExtraContent.Where(e => e.InsertIndex is not null).OrderBy(e => e.InsertIndex!.Value))
                    {
                        blocks.Insert(Math.Min(at!.Value, blocks.Count), block);
                    }
                    blocks.InsertRange(0, message.ExtraContent.Where(e => e.InsertIndex is null).Select(e => (InputContent)e.Block));
                    output.Add(new InputMessage(Role.Assistant, [.. blocks]));
                    break;
                case MessageKind.Tool:
                    // Consecutive tool results become one user message (providers such as Bedrock want parallel
                    // results together).
                    var results = ImmutableArray.CreateBuilder<InputContent>();
                    for (; i < messages.Length && messages[i].Kind == MessageKind.Tool; i++)
                    {
                        var tool = messages[i];
                        if (!toolNames.TryGetValue(tool.ToolCallId!, out var name))
                        {
                            throw Fail("tool call id not found");
                        }
                        // TensorZero keeps the content as JSON text: a string content arrives quoted.
                        var result = tool.Content is { } c ? ContentBlockReader.CompactJson(c) : "null";
                        results.Add(new ToolResultBlock(tool.ToolCallId!, name, result));
                    }
                    i--;
                    output.Add(new InputMessage(Role.User, results.ToImmutable()));
                    break;
            }
        }
        return new InferenceInput(system, output.ToImmutable());
    }

    /// <summary>A message's <c>content</c>: a string (one text block) or an array of content blocks.</summary>
    private static List<InputContent> ConvertContent(string role, JsonElement content)
    {
        switch (content.ValueKind)
        {
            case JsonValueKind.String:
                return [new TextBlock(content.GetString()!)];
            case JsonValueKind.Array:
                var blocks = new List<InputContent>(content.GetArrayLength());
                foreach (var item in content.EnumerateArray())
                {
                    blocks.Add(ConvertBlock(role, item));
                }
                return blocks;
            default:
                throw Fail("message content must either be a string or an array of length 1 containing structured TensorZero inputs");
        }
    }

    private static InputContent ConvertBlock(string role, JsonElement item)
    {
        if (item.ValueKind != JsonValueKind.Object)
        {
            throw Fail($"Content block `{ContentBlockReader.CompactJson(item)}` is not an object");
        }
        var block = JsonMembers.Of(item, "");
        string? parseError;
        try
        {
            if (ParseBlock(role, block) is { } parsed)
            {
                return parsed;
            }
            parseError = "missing field `type`";
        }
        catch (RequestFormatException ex) when (!ex.Message.StartsWith(ErrorPrefix, StringComparison.Ordinal))
        {
            // A shape error of the block (serde's, in TensorZero). Failures of the conversion that follows a good
            // shape (a bad data URL, audio that is not audio) already carry the prefix and pass through as they are.
            parseError = ex.Message;
        }
        // A block with a `tensorzero::` key was meant for TensorZero; one with a `type` was meant as an OpenAI block.
        if (block.Names.Any(name => name.StartsWith("tensorzero::", StringComparison.Ordinal)))
        {
            throw Fail($"Invalid TensorZero content block: {parseError}");
        }
        if (block.Has("type"))
        {
            throw Fail($"Invalid content block: {parseError}");
        }
        // Deprecated in TensorZero: an object without a type is the arguments of the role's template.
        return new TemplateInput(role, item.Clone());
    }

    /// <summary>One OpenAI content block; null when it has no <c>type</c>.</summary>
    private static InputContent? ParseBlock(string role, JsonMembers block)
    {
        if (!block.TryGetRaw("type", out var typeValue))
        {
            return null;
        }
        var type = JsonMembers.AsString(typeValue, "type");
        switch (type)
        {
            case "text":
                var hasText = block.TryGetRaw("text", out var text);
                var hasArguments = block.TryGetRaw("tensorzero::arguments", out var arguments);
                return (hasText, hasArguments) switch
                {
                    (true, false) => text.ValueKind == JsonValueKind.String
                        ? new TextBlock(text.GetString()!)
                        : throw new RequestFormatException("`text` must be a string when using `\"type\": \"text\"`"),
                    (false, true) => arguments.ValueKind == JsonValueKind.Object
                        ? new TemplateInput(role, arguments.Clone())
                        : throw new RequestFormatException("`tensorzero::arguments` must be an object when using `\"type\": \"text\"`"),
                    (true, true) => throw new RequestFormatException("Only one of `text` or `tensorzero::arguments` can be set when using `\"type\": \"text\"`"),
                    _ => throw new RequestFormatException("Either `text` or `tensorzero::arguments` must be set when using `\"type\": \"text\"`"),
                };
            case "image_url":
                block.DenyUnknown("type", "image_url");
                return new FileBlock(ReadImageUrl(JsonMembers.Of(block.Required("image_url", "struct OpenAICompatibleImageUrl"), "", "struct OpenAICompatibleImageUrl")));
            case "file":
                block.DenyUnknown("type", "file");
                var file = JsonMembers.Of(block.Required("file", "struct OpenAICompatibleFile"), "", "struct OpenAICompatibleFile");
                var fileData = file.RequiredString("file_data");
                var filename = file.OptionalString("filename");
                if (!ContentBlockReader.TryParseDataUrl(fileData, out var fileMime, out var fileBase64, out var fileError))
                {
                    throw Fail(fileError!);
                }
                return new FileBlock(Base64File(fileMime, fileBase64, null, filename));
            case "input_audio":
                block.DenyUnknown("type", "input_audio");
                var audio = JsonMembers.Of(block.Required("input_audio", "struct OpenAICompatibleInputAudio"), "", "struct OpenAICompatibleInputAudio");
                var audioData = audio.RequiredString("data");
                var format = audio.RequiredString("format");
                var audioMime = ContentBlockReader.DetectAudioMimeType(audioData, format, out var audioError) ?? throw Fail(audioError!);
                return new FileBlock(Base64File(audioMime, audioData, null, null));
            case "tensorzero::raw_text":
                block.DenyUnknown("type", "value");
                return new RawTextInput(block.RequiredString("value"));
            case "tensorzero::template":
                block.DenyUnknown("type", "name", "arguments");
                return new TemplateInput(block.RequiredString("name"), block.RequiredObject("arguments").Clone());
            default:
                throw JsonMembers.UnknownVariant("", type, ContentBlockTypes);
        }
    }

    /// <summary><c>{"url", "detail"?, "tensorzero::mime_type"?}</c>: a <c>data:</c> URL becomes inline data, anything else a URL file.</summary>
    private static FileData ReadImageUrl(JsonMembers image)
    {
        image.DenyUnknown("type", "url", "tensorzero::mime_type", "detail");
        var url = image.RequiredString("url");
        if (!ContentBlockReader.IsAbsoluteUrl(url))
        {
            throw new RequestFormatException($"invalid value: string \"{url}\", expected a URL (relative URL without a base)");
        }
        var mimeType = image.OptionalString("tensorzero::mime_type");
        if (mimeType is not null && !ContentBlockReader.IsMediaType(mimeType))
        {
            throw new RequestFormatException($"invalid value: string \"{mimeType}\", expected a media type");
        }
        var detail = ContentBlockReader.ReadDetail(image);
        if (url.StartsWith("data:", StringComparison.OrdinalIgnoreCase))
        {
            if (!ContentBlockReader.TryParseDataUrl(url, out var dataMime, out var data, out var dataError))
            {
                throw Fail(dataError!);
            }
            return Base64File(dataMime, data, detail, null);
        }
        return new FileData { Url = url, MimeType = mimeType, Detail = detail };
    }

    private static FileData Base64File(string mimeType, string data, string? detail, string? filename) =>
        data.StartsWith("data:", StringComparison.Ordinal)
            ? throw Fail("The `data` field must not contain `data:` prefix. Data should be pure base64-encoded content only.")
            : new FileData { Base64Data = data, MimeType = mimeType, Detail = detail, Filename = filename };
}
