using System.Collections.Immutable;
using System.Text;
using System.Text.Json;
using TensorZero.Proxy.Functions;

namespace TensorZero.Proxy.Inference;

/// <summary>The request fields a Responses API answer repeats back to the client (OpenAI's response object echoes them).</summary>
/// <param name="Instructions"><c>instructions</c>, or null.</param>
/// <param name="MaxOutputTokens"><c>max_output_tokens</c>, or null.</param>
/// <param name="Temperature"><c>temperature</c>, or null.</param>
/// <param name="TopP"><c>top_p</c>, or null.</param>
/// <param name="ParallelToolCalls"><c>parallel_tool_calls</c> (OpenAI's default is true).</param>
/// <param name="Tools"><c>tools</c> as sent, or null.</param>
/// <param name="ToolChoice"><c>tool_choice</c> as sent, or null (echoed as <c>"auto"</c>).</param>
/// <param name="Text"><c>text</c> as sent, or null (echoed as <c>{"format": {"type": "text"}}</c>).</param>
/// <param name="Metadata"><c>metadata</c> as sent, or null (echoed as <c>{}</c>).</param>
/// <param name="User"><c>user</c>, or null.</param>
internal sealed record ResponsesEcho(
    string? Instructions, uint? MaxOutputTokens, double? Temperature, double? TopP, bool ParallelToolCalls,
    JsonElement? Tools, JsonElement? ToolChoice, JsonElement? Text, JsonElement? Metadata, string? User);

/// <summary>
/// Reads an OpenAI Responses API body (<c>POST /openai/v1/responses</c>) into a <see cref="TypedInferenceRequest"/>:
/// <c>input</c> (a string, or message / function_call / function_call_output items) and <c>instructions</c> become
/// TensorZero's input, function tools and <c>text.format</c> its tool and output settings, and the <c>model</c> field
/// names its target as chat completions' does. Stateful features (<c>previous_response_id</c>, <c>conversation</c>,
/// <c>background</c>) and the hosted tools are refused with a 400 that says so: the gateway keeps no conversation state.
/// </summary>
internal static class OpenAIResponsesRequestReader
{
    /// <summary>The Responses API fields this gateway reads.</summary>
    private static readonly string[] Fields =
    [
        "model", "input", "instructions", "tools", "tool_choice", "parallel_tool_calls", "text", "max_output_tokens",
        "temperature", "top_p", "stream", "metadata", "store", "previous_response_id", "conversation", "background",
        "user", "reasoning", "service_tier", "include", "truncation", "stream_options", "safety_identifier",
        "prompt_cache_key", "max_tool_calls", "top_logprobs", "prompt",
    ];

    /// <summary>Fields accepted and not acted on (reported in <c>x-tensorzero-warning</c>).</summary>
    private static readonly string[] IgnoredFields =
    [
        "include", "truncation", "stream_options", "safety_identifier", "prompt_cache_key", "max_tool_calls", "top_logprobs",
    ];

    /// <summary>Reads a body; on failure <paramref name="error"/> is the 400 and its message.</summary>
    public static bool TryRead(byte[] body, out TypedInferenceRequest? request, out RequestError? error) =>
        RequestError.TryParseBody(body, Read, out request, out error);

    private static TypedInferenceRequest Read(JsonElement root)
    {
        var body = JsonMembers.Of(root, "", "a Responses API request object");
        var unknown = body.Names.Where(n => Array.IndexOf(Fields, n) < 0 && Array.IndexOf(RequestFieldReader.GatewayFieldNames, n) < 0).ToArray();
        if (unknown.Length > 0)
        {
            throw new RequestFormatException($"Unknown or unsupported parameter(s): {string.Join(", ", unknown.Select(n => $"'{n}'"))}.");
        }
        if (body.Optional("previous_response_id") is not null)
        {
            throw new RequestFormatException(
                "'previous_response_id' is not supported: the gateway keeps no conversation state. Send the whole conversation in 'input'.");
        }
        if (body.Optional("conversation") is not null)
        {
            throw new RequestFormatException("'conversation' is not supported: the gateway keeps no conversation state. Send the whole conversation in 'input'.");
        }
        if (body.OptionalBool("background") == true)
        {
            throw new RequestFormatException("'background' is not supported: the gateway answers within the request.");
        }
        if (body.Optional("prompt") is not null)
        {
            throw new RequestFormatException("'prompt' (stored prompt templates) is not supported; use a TensorZero function's templates instead.");
        }

        var model = body.RequiredString("model");
        var (functionName, modelName, plainName) = ReadModel(model);
        var stream = body.OptionalBool("stream") ?? false;
        body.OptionalBool("store");
        var instructions = body.OptionalString("instructions");
        var maxOutputTokens = body.OptionalU32("max_output_tokens");
        var temperature = body.OptionalFloat("temperature");
        var topP = body.OptionalFloat("top_p");
        var parallelToolCalls = body.OptionalBool("parallel_tool_calls");
        var user = body.OptionalString("user");
        var serviceTier = RequestFieldReader.ReadServiceTier(body, "service_tier");
        string? reasoningEffort = null;
        if (body.Optional("reasoning") is { } reasoningValue)
        {
            var reasoning = JsonMembers.Of(reasoningValue, "reasoning");
            reasoningEffort = reasoning.OptionalString("effort");
        }
        if (body.Optional("metadata") is { } metadata)
        {
            foreach (var entry in JsonMembers.Of(metadata, "metadata").Names)
            {
                JsonMembers.AsString(metadata.GetProperty(entry), JsonMembers.Join("metadata", entry));
            }
        }
        var tools = ReadTools(body);
        var toolChoice = ReadToolChoice(body);
        var (jsonMode, outputSchema, jsonObject, verbosity) = ReadText(body);
        var input = ReadInput(body, instructions);

        var (gatewayFields, cache, credentials) = RequestFieldReader.ReadGatewayFields(body, modelName);

        return new TypedInferenceRequest
        {
            Endpoint = InferenceEndpoint.OpenAIResponses,
            FunctionName = functionName,
            ModelName = modelName,
            PlainName = plainName,
            RequestedModel = model,
            Input = input,
            Stream = stream,
            Params = new SamplingParams
            {
                Temperature = temperature,
                TopP = topP,
                MaxTokens = maxOutputTokens,
                ReasoningEffort = reasoningEffort,
                ServiceTier = serviceTier,
                Verbosity = verbosity,
            },
            JsonMode = jsonMode,
            OutputSchema = outputSchema,
            JsonObjectRequested = jsonObject,
            AdditionalTools = tools,
            ToolChoice = toolChoice,
            ParallelToolCalls = parallelToolCalls,
            Cache = cache,
            Credentials = credentials,
            GatewayFieldJson = gatewayFields,
            IgnoredFields = [.. body.Names.Where(n => Array.IndexOf(IgnoredFields, n) >= 0 && body.Optional(n) is not null)],
            ResponsesEcho = new ResponsesEcho(instructions, maxOutputTokens, temperature, topP, parallelToolCalls ?? true,
                body.Optional("tools")?.Clone(), body.Optional("tool_choice")?.Clone(), body.Optional("text")?.Clone(),
                body.Optional("metadata")?.Clone(), user),
        };
    }

    /// <summary>The <c>model</c> forms of chat completions: <c>tensorzero::function_name::F</c>, <c>tensorzero::model_name::M</c>, or a plain name.</summary>
    internal static (string? Function, string? Model, string? Plain) ReadModel(string model)
    {
        if (model.StartsWith(OpenAICompatibleRequestReader.FunctionPrefix, StringComparison.Ordinal))
        {
            var function = model[OpenAICompatibleRequestReader.FunctionPrefix.Length..];
            return function.Length > 0 ? (function, null, null)
                : throw new RequestFormatException("The function name after 'tensorzero::function_name::' in 'model' cannot be empty.");
        }
        if (model.StartsWith(OpenAICompatibleRequestReader.ModelPrefix, StringComparison.Ordinal))
        {
            var name = model[OpenAICompatibleRequestReader.ModelPrefix.Length..];
            return name.Length > 0 ? (null, name, null)
                : throw new RequestFormatException("The model name after 'tensorzero::model_name::' in 'model' cannot be empty.");
        }
        return model.Length > 0 ? (null, null, model) : throw new RequestFormatException("'model' cannot be empty.");
    }

    /// <summary><c>[{"type": "function", "name", "description"?, "parameters", "strict"?}]</c>; hosted tools are refused.</summary>
    private static ImmutableArray<ToolDefinition> ReadTools(JsonMembers body)
    {
        if (body.Optional("tools") is not { } value)
        {
            return [];
        }
        if (value.ValueKind != JsonValueKind.Array)
        {
            throw JsonMembers.Invalid("tools", value, "a sequence");
        }
        var tools = ImmutableArray.CreateBuilder<ToolDefinition>();
        var index = 0;
        foreach (var item in value.EnumerateArray())
        {
            var tool = JsonMembers.Of(item, JsonMembers.Index("tools", index++));
            var type = tool.RequiredString("type");
            if (type != "function")
            {
                throw new RequestFormatException(
                    $"{tool.Path}: tool type '{type}' is not supported by the gateway; only 'function' tools are (hosted tools run at OpenAI).");
            }
            tool.DenyUnknown("type", "name", "description", "parameters", "strict");
            var name = tool.RequiredString("name");
            var description = tool.OptionalString("description") ?? "";
            // OpenAI lets a function tool omit its parameters; TensorZero's tools always have a schema.
            var parameters = tool.Optional("parameters") is { } p ? p.Clone() : JsonDocument.Parse("""{"type":"object","properties":{}}""").RootElement;
            tools.Add(new ToolDefinition(name, description, parameters, tool.OptionalBool("strict") ?? false));
        }
        return tools.ToImmutable();
    }

    /// <summary><c>"none" | "auto" | "required" | {"type": "function", "name"}</c>.</summary>
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
                var other => throw JsonMembers.UnknownVariant("tool_choice", other!, "none", "auto", "required"),
            };
        }
        var choice = JsonMembers.Of(value, "tool_choice", "a string or an object");
        var type = choice.RequiredString("type");
        return type == "function"
            ? new ToolChoiceSpecific(choice.RequiredString("name"))
            : throw new RequestFormatException($"tool_choice: type '{type}' is not supported by the gateway; use 'none', 'auto', 'required' or {{\"type\": \"function\", \"name\": ...}}.");
    }

    /// <summary><c>text: {"format": {"type": "text" | "json_object" | "json_schema", ...}, "verbosity"?}</c>.</summary>
    private static (JsonMode? Mode, JsonElement? Schema, bool JsonObject, string? Verbosity) ReadText(JsonMembers body)
    {
        if (body.Optional("text") is not { } value)
        {
            return (null, null, false, null);
        }
        var text = JsonMembers.Of(value, "text");
        text.DenyUnknown("format", "verbosity");
        var verbosity = text.OptionalString("verbosity");
        if (text.Optional("format") is not { } formatValue)
        {
            return (null, null, false, verbosity);
        }
        var format = JsonMembers.Of(formatValue, "text.format");
        var type = format.RequiredString("type");
        switch (type)
        {
            case "text":
                return (JsonMode.Off, null, false, verbosity);
            case "json_object":
                return (JsonMode.On, null, true, verbosity);
            case "json_schema":
                format.DenyUnknown("type", "name", "schema", "description", "strict");
                format.RequiredString("name");
                format.OptionalString("description");
                format.OptionalBool("strict");
                return (JsonMode.Strict, format.RequiredObject("schema").Clone(), false, verbosity);
            default:
                throw JsonMembers.UnknownVariant("text.format", type, "text", "json_object", "json_schema");
        }
    }

    /// <summary>
    /// <c>input</c> and <c>instructions</c> as TensorZero's input: instructions, then system and developer messages, form
    /// the system text (joined by newlines); function calls join the assistant message before them; consecutive call
    /// outputs become one user message of tool results.
    /// </summary>
    private static InferenceInput ReadInput(JsonMembers body, string? instructions)
    {
        var value = body.Required("input", "a string or a sequence of input items");
        var system = instructions is null ? null : new StringBuilder(instructions);
        var messages = new List<(Role Role, List<InputContent> Content)>();
        if (value.ValueKind == JsonValueKind.String)
        {
            messages.Add((Role.User, [new TextBlock(value.GetString()!)]));
        }
        else if (value.ValueKind == JsonValueKind.Array)
        {
            var toolNames = new Dictionary<string, string>(StringComparer.Ordinal);
            var index = 0;
            foreach (var itemValue in value.EnumerateArray())
            {
                var item = JsonMembers.Of(itemValue, JsonMembers.Index("input", index++));
                // An item without a type but with a role is an "easy" input message.
                var type = item.OptionalString("type") ?? (item.Has("role") ? "message" : throw item.Missing("type"));
                switch (type)
                {
                    case "message":
                        var role = item.RequiredString("role");
                        var content = ReadMessageContent(item, role);
                        switch (role)
                        {
                            case "system" or "developer":
                                var text = string.Concat(content.Select(c => c is TextBlock t ? t.Text
                                    : throw new RequestFormatException($"{item.Path}: a {role} message may contain text only.")));
                                system = system is null ? new StringBuilder(text) : system.Append('\n').Append(text);
                                break;
                            case "user":
                                Append(messages, Role.User, content, merge: false);
                                break;
                            case "assistant":
                                Append(messages, Role.Assistant, content, merge: false);
                                break;
                            default:
                                throw JsonMembers.UnknownVariant(item.PathOf("role"), role, "user", "assistant", "system", "developer");
                        }
                        break;
                    case "function_call":
                        var callId = item.RequiredString("call_id");
                        var name = item.RequiredString("name");
                        toolNames[callId] = name;
                        Append(messages, Role.Assistant, [new ToolCallBlock(callId, name, item.RequiredString("arguments"))], merge: true);
                        break;
                    case "function_call_output":
                        var outputId = item.RequiredString("call_id");
                        if (!toolNames.TryGetValue(outputId, out var toolName))
                        {
                            throw new RequestFormatException(
                                $"{item.Path}: no 'function_call' item with call_id '{outputId}' comes before this output (the gateway keeps no conversation state: send the call too).");
                        }
                        Append(messages, Role.User, [new ToolResultBlock(outputId, toolName, ReadCallOutput(item))], merge: true);
                        break;
                    default:
                        throw new RequestFormatException(
                            $"{item.Path}: input item type '{type}' is not supported; the gateway takes 'message', 'function_call' and 'function_call_output' items.");
                }
            }
        }
        else
        {
            throw JsonMembers.Invalid("input", value, "a string or a sequence of input items");
        }
        return new InferenceInput(system is null ? null : new SystemText(system.ToString()),
            [.. messages.Select(m => new InputMessage(m.Role, [.. m.Content]))]);
    }

    /// <summary>Adds content as a message; with <paramref name="merge"/>, to the last message when it has the same role.</summary>
    private static void Append(List<(Role Role, List<InputContent> Content)> messages, Role role, List<InputContent> content, bool merge)
    {
        if (merge && messages.Count > 0 && messages[^1].Role == role)
        {
            messages[^1].Content.AddRange(content);
            return;
        }
        messages.Add((role, content));
    }

    /// <summary>A function call's output: a string, or input_text parts (joined).</summary>
    private static string ReadCallOutput(JsonMembers item)
    {
        var output = item.Required("output", "a string or a sequence of content parts");
        return RequestFieldReader.ReadJoinedText(item, "output", output, "a string or a sequence of content parts", "input_text", "a function call output part");
    }

    /// <summary>A message's <c>content</c>: a string, or input_text / input_image / output_text / refusal parts.</summary>
    private static List<InputContent> ReadMessageContent(JsonMembers item, string role)
    {
        var content = item.Required("content", "a string or a sequence of content parts");
        if (content.ValueKind == JsonValueKind.String)
        {
            return [new TextBlock(content.GetString()!)];
        }
        if (content.ValueKind != JsonValueKind.Array)
        {
            throw JsonMembers.Invalid(item.PathOf("content"), content, "a string or a sequence of content parts");
        }
        var blocks = new List<InputContent>();
        var index = 0;
        foreach (var partValue in content.EnumerateArray())
        {
            var part = JsonMembers.Of(partValue, JsonMembers.Index(item.PathOf("content"), index++));
            var type = part.RequiredString("type");
            switch (type)
            {
                case "input_text" or "output_text":
                    blocks.Add(new TextBlock(part.RequiredString("text")));
                    break;
                case "refusal" when role == "assistant":
                    blocks.Add(new TextBlock(part.RequiredString("refusal")));
                    break;
                case "input_image":
                    blocks.Add(new FileBlock(ReadImage(part)));
                    break;
                default:
                    throw new RequestFormatException(
                        $"{part.Path}: content part type '{type}' is not supported; the gateway takes 'input_text', 'input_image' and 'output_text'.");
            }
        }
        return blocks;
    }

    /// <summary><c>{"type": "input_image", "image_url", "detail"?}</c>: a data URL becomes inline data, any other URL is fetched by the provider.</summary>
    private static FileData ReadImage(JsonMembers part)
    {
        if (part.Optional("file_id") is not null)
        {
            throw new RequestFormatException($"{part.Path}: 'file_id' images are not supported (the gateway has no file store); send 'image_url'.");
        }
        var url = part.RequiredString("image_url");
        var detail = part.OptionalString("detail");
        if (detail is not null and not ("auto" or "low" or "high"))
        {
            throw JsonMembers.UnknownVariant(part.PathOf("detail"), detail, "auto", "low", "high");
        }
        if (url.StartsWith("data:", StringComparison.OrdinalIgnoreCase))
        {
            if (!ContentBlockReader.TryParseDataUrl(url, out var mime, out var data, out var error))
            {
                throw new RequestFormatException($"{part.PathOf("image_url")}: {error}");
            }
            return new FileData { Base64Data = data, MimeType = mime, Detail = detail };
        }
        if (!ContentBlockReader.IsAbsoluteUrl(url))
        {
            throw new RequestFormatException($"{part.PathOf("image_url")}: '{url}' is not an absolute URL or a data URL.");
        }
        return new FileData { Url = url, Detail = detail };
    }
}
