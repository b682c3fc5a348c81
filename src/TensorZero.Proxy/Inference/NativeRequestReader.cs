using System.Collections.Immutable;
using System.Text.Json;
using TensorZero.Proxy.Functions;

namespace TensorZero.Proxy.Inference;

/// <summary>
/// Reads a body of TensorZero's native <c>POST /inference</c> into a <see cref="TypedInferenceRequest"/>: exactly one
/// of <c>function_name</c> and <c>model_name</c>, the <c>input</c> (system and messages of content blocks, with
/// TensorZero's legacy shapes), parameters, dynamic tools and output schema, and the other fields of TensorZero's
/// <c>Params</c>; an unknown field is refused, as TensorZero does. Gateway fields go to
/// <see cref="TypedInferenceRequest.GatewayFieldJson"/> under their <c>tensorzero::</c> names.
/// </summary>
internal static class NativeRequestReader
{
    /// <summary>The fields of TensorZero's native <c>Params</c>.</summary>
    public static readonly ImmutableArray<string> Fields =
    [
        "function_name", "model_name", "episode_id", "namespace", "input", "stream", "params", "variant_name", "dryrun",
        "internal", "tags", "allowed_tools", "additional_tools", "tool_choice", "parallel_tool_calls", "provider_tools",
        "output_schema", "cache_options", "credentials", "include_original_response", "include_raw_response",
        "include_raw_usage", "include_aggregated_response", "extra_body", "extra_headers", "internal_dynamic_variant_config",
    ];

    private static readonly string[] ContentTypes =
        ["text", "template", "tool_call", "tool_result", "raw_text", "thought", "file", "unknown"];

    private static readonly string[] FileTypes = ["url", "base64", "object_storage_pointer", "object_storage"];

    /// <summary>Reads a body; on failure <paramref name="error"/> is TensorZero's status and message.</summary>
    public static bool TryRead(byte[] body, out TypedInferenceRequest? request, out RequestError? error) =>
        RequestError.TryParseBody(body, Read, out request, out error);

    private static TypedInferenceRequest Read(JsonElement root)
    {
        var body = JsonMembers.Of(root, "", "struct Params");
        foreach (var name in body.Names)
        {
            if (!Fields.Contains(name))
            {
                // TensorZero's Params refuses unknown fields (it flattens the dynamic tool fields, so serde names only the field).
                throw new RequestFormatException($"unknown field `{name}`");
            }
        }

        var functionName = body.OptionalString("function_name");
        var modelName = body.OptionalString("model_name");
        var gatewayFields = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (var name in (string[])["episode_id", "variant_name", "dryrun"])
        {
            if (body.Optional(name) is { } value)
            {
                gatewayFields["tensorzero::" + name] = value.Clone();
            }
        }
        foreach (var (name, expected) in (ReadOnlySpan<(string, string)>)[("tags", "a map"), ("extra_body", "a sequence"), ("extra_headers", "a sequence")])
        {
            if (body.Defaulted(name, expected) is { } value)
            {
                gatewayFields["tensorzero::" + name] = value.Clone();
            }
        }
        var ns = body.Optional("namespace") is { } nsValue ? RequestFieldReader.ReadNamespace(nsValue, "namespace") : null;
        var input = ReadInput(body.Required("input", "struct Input"));
        var stream = body.OptionalBool("stream") ?? false;
        var (parameters, jsonMode) = body.Defaulted("params", "struct InferenceParams") is { } paramsValue
            ? RequestFieldReader.ReadParams(paramsValue, "params")
            : (SamplingParams.None, null);
        var ignored = ImmutableArray.CreateBuilder<string>();
        if (body.DefaultedBool("internal"))
        {
            ignored.Add("internal");
        }
        var allowedTools = body.Optional("allowed_tools") is { } allowed ? RequestFieldReader.ReadStrings(allowed, "allowed_tools") : (ImmutableArray<string>?)null;
        var (functionTools, customTools) = ReadAdditionalTools(body);
        var toolChoice = ReadToolChoice(body);
        var parallelToolCalls = body.OptionalBool("parallel_tool_calls");
        if (body.Defaulted("provider_tools", "a sequence") is { } providerTools)
        {
            if (providerTools.ValueKind != JsonValueKind.Array)
            {
                throw JsonMembers.Invalid("provider_tools", providerTools, "a sequence");
            }
            if (providerTools.GetArrayLength() > 0)
            {
                ignored.Add("provider_tools");
            }
        }
        var outputSchema = body.Optional("output_schema")?.Clone();
        var cache = body.Defaulted("cache_options", "struct CacheParamsOptions") is { } cacheValue
            ? RequestFieldReader.ReadCacheOptions(cacheValue, "cache_options")
            : CacheOptions.Default;
        var credentials = body.Defaulted("credentials", "a map") is { } credentialsValue
            ? RequestFieldReader.ReadCredentials(credentialsValue, "credentials")
            : ImmutableDictionary<string, string>.Empty;
        var includeOriginalResponse = body.DefaultedBool("include_original_response");
        var includeRawResponse = body.DefaultedBool("include_raw_response");
        var includeRawUsage = body.DefaultedBool("include_raw_usage");
        if (body.DefaultedBool("include_aggregated_response"))
        {
            ignored.Add("include_aggregated_response");
        }
        if (body.Optional("internal_dynamic_variant_config") is not null)
        {
            ignored.Add("internal_dynamic_variant_config");
        }

        // TensorZero's choice of target (its find_function).
        switch (functionName, modelName)
        {
            case (null, null):
                throw new RequestFormatException("Invalid inference target: Either `function_name` or `model_name` must be provided");
            case (not null, not null):
                throw new RequestFormatException("Invalid inference target: Only one of `function_name` or `model_name` can be provided");
            case (null, not null) when gatewayFields.ContainsKey("tensorzero::variant_name"):
                throw new RequestFormatException("Invalid inference target: `variant_name` cannot be provided when using `model_name`");
        }

        return new TypedInferenceRequest
        {
            Endpoint = InferenceEndpoint.Native,
            FunctionName = functionName,
            ModelName = modelName,
            Input = input,
            Stream = stream,
            Params = parameters,
            JsonMode = jsonMode,
            AdditionalTools = functionTools,
            AdditionalCustomTools = customTools,
            AllowedTools = allowedTools,
            ToolChoice = toolChoice,
            ParallelToolCalls = parallelToolCalls,
            OutputSchema = outputSchema,
            IncludeRawResponse = includeRawResponse,
            IncludeOriginalResponse = includeOriginalResponse,
            IncludeRawUsage = includeRawUsage,
            Cache = cache,
            Credentials = credentials,
            GatewayFieldJson = gatewayFields,
            Namespace = ns,
            IgnoredFields = ignored.ToImmutable(),
        };
    }

    /// <summary><c>additional_tools</c>: function tools (tagged <c>function</c>, legacy <c>client_side_function</c>, or untagged) and <c>openai_custom</c> tools.</summary>
    private static (ImmutableArray<ToolDefinition>, ImmutableArray<JsonElement>) ReadAdditionalTools(JsonMembers body)
    {
        if (body.Optional("additional_tools") is not { } value)
        {
            return ([], []);
        }
        if (value.ValueKind != JsonValueKind.Array)
        {
            throw JsonMembers.Invalid("additional_tools", value, "a sequence");
        }
        var functions = ImmutableArray.CreateBuilder<ToolDefinition>();
        var custom = ImmutableArray.CreateBuilder<JsonElement>();
        var index = 0;
        foreach (var item in value.EnumerateArray())
        {
            var path = JsonMembers.Index("additional_tools", index++);
            JsonMembers.Of(item, path, "struct Tool");
            try
            {
                // TensorZero parses each tool from a value: the messages from inside it carry no further path.
                var tool = JsonMembers.Of(item, "");
                var type = tool.OptionalString("type");
                switch (type)
                {
                    case null or "function" or "client_side_function":
                        functions.Add(RequestFieldReader.ReadFunctionTool(tool, native: true));
                        break;
                    case "openai_custom":
                        custom.Add(RequestFieldReader.ReadCustomTool(tool, withType: true));
                        break;
                    default:
                        throw JsonMembers.UnknownVariant("", type, "function", "openai_custom");
                }
            }
            catch (RequestFormatException ex)
            {
                throw new RequestFormatException(JsonMembers.Prefix(path,
                    $"Failed to parse as `Tool` (tagged) or `FunctionTool` (untagged): {ex.Message}"));
            }
        }
        return (functions.ToImmutable(), custom.ToImmutable());
    }

    /// <summary><c>"none" | "auto" | "required" | {"specific": "name"}</c>.</summary>
    private static ToolChoice? ReadToolChoice(JsonMembers body)
    {
        if (body.Optional("tool_choice") is not { } value)
        {
            return null;
        }
        if (value.ValueKind == JsonValueKind.String)
        {
            return value.GetString() switch
            {
                "none" => ToolChoice.None,
                "auto" => ToolChoice.Auto,
                "required" => ToolChoice.Required,
                var other => throw JsonMembers.UnknownVariant("tool_choice", other!, "none", "auto", "required", "specific"),
            };
        }
        var choice = JsonMembers.Of(value, "tool_choice", "enum ToolChoice");
        choice.DenyUnknown("specific");
        return new ToolChoiceSpecific(choice.RequiredString("specific"));
    }

    // -----------------------------------------------------------------------------------------------------------------
    // input
    // -----------------------------------------------------------------------------------------------------------------

    /// <summary><c>{"system"?: string | object, "messages"?: [...]}</c> (TensorZero's <c>Input</c>, unknown fields refused).</summary>
    internal static InferenceInput ReadInput(JsonElement value)
    {
        var input = JsonMembers.Of(value, "input", "struct Input");
        input.DenyUnknown("system", "messages");
        InputSystem? system = null;
        if (input.Optional("system") is { } systemValue)
        {
            system = systemValue.ValueKind switch
            {
                JsonValueKind.String => new SystemText(systemValue.GetString()!),
                JsonValueKind.Object => new SystemArguments(systemValue.Clone()),
                _ => throw new RequestFormatException(JsonMembers.Prefix(input.PathOf("system"), "data did not match any variant of untagged enum System")),
            };
        }
        var messages = ImmutableArray.CreateBuilder<InputMessage>();
        if (input.Defaulted("messages", "a sequence") is { } messagesValue)
        {
            var path = input.PathOf("messages");
            if (messagesValue.ValueKind != JsonValueKind.Array)
            {
                throw JsonMembers.Invalid(path, messagesValue, "a sequence");
            }
            var index = 0;
            foreach (var item in messagesValue.EnumerateArray())
            {
                messages.Add(ReadMessage(item, JsonMembers.Index(path, index++)));
            }
        }
        return new InferenceInput(system, messages.ToImmutable());
    }

    private static InputMessage ReadMessage(JsonElement item, string path)
    {
        var message = JsonMembers.Of(item, path, "struct InputMessage");
        message.DenyUnknown("role", "content");
        var roleName = message.RequiredString("role");
        var role = roleName switch
        {
            "user" => Role.User,
            "assistant" => Role.Assistant,
            _ => throw JsonMembers.UnknownVariant(message.PathOf("role"), roleName, "user", "assistant"),
        };
        if (!message.TryGetRaw("content", out var content))
        {
            throw message.Missing("content");
        }
        var contentPath = message.PathOf("content");
        switch (content.ValueKind)
        {
            case JsonValueKind.String:
                return new InputMessage(role, [new TextBlock(content.GetString()!)]);
            case JsonValueKind.Object:
                // Deprecated in TensorZero: an object is the arguments of the role's template.
                return new InputMessage(role, [new TemplateInput(roleName, content.Clone())]);
            case JsonValueKind.Array:
                var blocks = ImmutableArray.CreateBuilder<InputContent>(content.GetArrayLength());
                var index = 0;
                foreach (var block in content.EnumerateArray())
                {
                    blocks.Add(ReadBlock(block, JsonMembers.Index(contentPath, index++), roleName));
                }
                return new InputMessage(role, blocks.MoveToImmutable());
            default:
                throw JsonMembers.Invalid(contentPath, content, "a string, object, or array");
        }
    }

    private static InputContent ReadBlock(JsonElement item, string path, string role)
    {
        var block = JsonMembers.Of(item, path, "internally tagged enum InputMessageContent");
        var type = block.RequiredString("type");
        try
        {
            return ReadBlockCore(JsonMembers.Of(item, ""), type, role);
        }
        catch (RequestFormatException ex)
        {
            // serde_path_to_error stops at the block: the messages from inside it carry no further path.
            throw new RequestFormatException(JsonMembers.Prefix(path, ex.Message));
        }
    }

    private static InputContent ReadBlockCore(JsonMembers block, string type, string role)
    {
        switch (type)
        {
            case "text":
                // Legacy-compatible text: exactly one other key, `text` (a string) or `arguments` (the role's template arguments).
                var others = block.Names.Where(n => n != "type").ToList();
                if (others.Count != 1)
                {
                    throw new RequestFormatException($"Expected exactly one other key in text content, found {others.Count} other keys");
                }
                block.TryGetRaw(others[0], out var value);
                return others[0] switch
                {
                    "text" => value.ValueKind == JsonValueKind.String
                        ? new TextBlock(value.GetString()!)
                        : throw new RequestFormatException($"Error deserializing `text`: invalid type: {JsonMembers.Describe(value)}, expected a string"),
                    "arguments" => value.ValueKind == JsonValueKind.Object
                        ? new TemplateInput(role, value.Clone())
                        : throw new RequestFormatException($"Error deserializing `arguments`: invalid type: {JsonMembers.Describe(value)}, expected a map"),
                    var key => throw new RequestFormatException($"Unknown key `{key}` in text content"),
                };
            case "template":
                block.DenyUnknown("type", "name", "arguments");
                return new TemplateInput(block.RequiredString("name"), block.RequiredObject("arguments").Clone());
            case "tool_call":
                return ReadToolCall(block);
            case "tool_result":
                block.DenyUnknown("type", "name", "result", "id");
                return new ToolResultBlock(block.RequiredString("id"), block.RequiredString("name"), block.RequiredString("result"));
            case "raw_text":
                block.DenyUnknown("type", "value");
                return new RawTextInput(block.RequiredString("value"));
            case "thought":
                return ContentBlockReader.ReadThought(block);
            case "file" or "image":
                return new FileBlock(ReadFile(block));
            case "unknown":
                return ContentBlockReader.ReadUnknown(block);
            default:
                throw JsonMembers.UnknownVariant("", type, ContentTypes);
        }
    }

    /// <summary>
    /// A tool call as TensorZero takes it back: <c>{"id", "name", "arguments"}</c> (arguments a string, or an object
    /// kept as its JSON text) or an inference response's <c>{"id", "raw_name", "raw_arguments", ...}</c>.
    /// </summary>
    private static ToolCallBlock ReadToolCall(JsonMembers block)
    {
        if (block.Optional("id") is { ValueKind: JsonValueKind.String } id)
        {
            if (block.Optional("name") is { ValueKind: JsonValueKind.String } name
                && block.Optional("arguments") is { ValueKind: JsonValueKind.String or JsonValueKind.Object } arguments)
            {
                var text = arguments.ValueKind == JsonValueKind.String ? arguments.GetString()! : ContentBlockReader.CompactJson(arguments);
                return new ToolCallBlock(id.GetString()!, name.GetString()!, text);
            }
            if (block.Optional("raw_name") is { ValueKind: JsonValueKind.String } rawName
                && block.Optional("raw_arguments") is { ValueKind: JsonValueKind.String } rawArguments)
            {
                return new ToolCallBlock(id.GetString()!, rawName.GetString()!, rawArguments.GetString()!);
            }
        }
        throw new RequestFormatException("data did not match any variant of untagged enum ToolCallWrapper");
    }

    /// <summary>
    /// A file: tagged by <c>file_type</c> (<c>url</c>, <c>base64</c>, <c>object_storage</c>) or in the legacy untagged
    /// forms (<c>{"url"}</c>, <c>{"data", "mime_type"}</c>). Base64 data without a MIME type gets one from its magic bytes.
    /// </summary>
    private static FileData ReadFile(JsonMembers file)
    {
        var fileType = file.OptionalString("file_type");
        if (fileType is null)
        {
            fileType = file.Has("url") && !file.Has("data") ? "url" : file.Has("data") ? "base64" : null;
            if (fileType is null)
            {
                throw new RequestFormatException("data did not match any variant of untagged enum FileTaggedOrUntagged");
            }
        }
        var detail = ContentBlockReader.ReadDetail(file);
        var filename = file.OptionalString("filename");
        var mimeType = file.OptionalString("mime_type");
        if (mimeType is not null && !ContentBlockReader.IsMediaType(mimeType))
        {
            throw new RequestFormatException($"invalid value: string \"{mimeType}\", expected a media type");
        }
        switch (fileType)
        {
            case "url":
                var url = file.RequiredString("url");
                if (!ContentBlockReader.IsAbsoluteUrl(url))
                {
                    throw new RequestFormatException($"invalid value: string \"{url}\", expected a URL (relative URL without a base)");
                }
                return new FileData { Url = url, MimeType = mimeType, Detail = detail, Filename = filename };
            case "base64" or "object_storage":
                var data = file.RequiredString("data");
                if (data.StartsWith("data:", StringComparison.Ordinal))
                {
                    throw new RequestFormatException("The `data` field must not contain `data:` prefix. Data should be pure base64-encoded content only.");
                }
                if (mimeType is null)
                {
                    byte[] bytes;
                    try
                    {
                        bytes = Convert.FromBase64String(data);
                    }
                    catch (FormatException ex)
                    {
                        throw new RequestFormatException($"Failed to decode base64 data: {ex.Message}");
                    }
                    mimeType = ContentBlockReader.SniffMimeType(bytes)
                        ?? throw new RequestFormatException("No mime type provided and unable to infer from data");
                }
                return new FileData { Base64Data = data, MimeType = mimeType, Detail = detail, Filename = filename };
            case "object_storage_pointer":
                throw new RequestFormatException(
                    "A `file_type` of `object_storage_pointer` needs the gateway to read the file from object storage, which this gateway does not do; send the file's `data` instead.");
            default:
                throw JsonMembers.UnknownVariant("file_type", fileType, FileTypes);
        }
    }
}
