using System.Collections.Immutable;
using System.Text.Json;
using TensorZero.Proxy.Functions;

namespace TensorZero.Proxy.Inference;

/// <summary>
/// Request fields both typed endpoints share, read with TensorZero's shapes: inference parameters
/// (<c>params.chat_completion</c>), cache options, dynamic credentials, namespace and tool definitions.
/// </summary>
internal static class RequestFieldReader
{
    private static readonly string[] ChatCompletionParamNames =
    [
        "temperature", "max_tokens", "seed", "top_p", "presence_penalty", "frequency_penalty", "json_mode",
        "stop_sequences", "reasoning_effort", "service_tier", "thinking_budget_tokens", "verbosity",
    ];

    private static readonly string[] JsonModes = ["off", "on", "strict", "tool"];

    /// <summary>OpenAI's service tiers as TensorZero accepts them.</summary>
    public static readonly string[] ServiceTiers = ["auto", "default", "priority", "flex"];

    private static readonly string[] CacheModes = ["on", "off", "read_only", "write_only"];

    /// <summary>
    /// <c>{"chat_completion": {...}}</c> (TensorZero's <c>InferenceParams</c>; both levels refuse unknown fields).
    /// </summary>
    public static (SamplingParams Params, JsonMode? JsonMode) ReadParams(JsonElement value, string path)
    {
        var outer = JsonMembers.Of(value, path, "struct InferenceParams");
        outer.DenyUnknown("chat_completion");
        var inner = JsonMembers.Of(outer.Required("chat_completion", "struct ChatCompletionInferenceParams"),
            outer.PathOf("chat_completion"), "struct ChatCompletionInferenceParams");
        inner.DenyUnknown(ChatCompletionParamNames);

        JsonMode? jsonMode = null;
        if (inner.OptionalString("json_mode") is { } mode)
        {
            jsonMode = ParseJsonMode(mode, inner.PathOf("json_mode"));
        }
        var thinking = inner.Optional("thinking_budget_tokens") is { } t ? JsonMembers.AsI32(t, inner.PathOf("thinking_budget_tokens")) : (int?)null;
        var parameters = new SamplingParams
        {
            Temperature = inner.OptionalFloat("temperature"),
            MaxTokens = inner.OptionalU32("max_tokens"),
            Seed = inner.OptionalU32("seed"),
            TopP = inner.OptionalFloat("top_p"),
            PresencePenalty = inner.OptionalFloat("presence_penalty"),
            FrequencyPenalty = inner.OptionalFloat("frequency_penalty"),
            StopSequences = inner.Optional("stop_sequences") is { } stop ? ReadStrings(stop, inner.PathOf("stop_sequences")) : null,
            ReasoningEffort = inner.OptionalString("reasoning_effort"),
            ServiceTier = ReadServiceTier(inner, "service_tier"),
            ThinkingBudgetTokens = thinking,
            Verbosity = inner.OptionalString("verbosity"),
        };
        return (parameters, jsonMode);
    }

    /// <summary><c>off</c>, <c>on</c>, <c>strict</c>, <c>tool</c> (and the legacy <c>implicit_tool</c>).</summary>
    public static JsonMode ParseJsonMode(string mode, string path) => mode switch
    {
        "off" => JsonMode.Off,
        "on" => JsonMode.On,
        "strict" => JsonMode.Strict,
        "tool" or "implicit_tool" => JsonMode.Tool,
        _ => throw JsonMembers.UnknownVariant(path, mode, JsonModes),
    };

    public static string? ReadServiceTier(JsonMembers members, string name)
    {
        var tier = members.OptionalString(name);
        return tier is null || Array.IndexOf(ServiceTiers, tier) >= 0
            ? tier
            : throw JsonMembers.UnknownVariant(members.PathOf(name), tier, ServiceTiers);
    }

    /// <summary>An array of strings.</summary>
    public static ImmutableArray<string> ReadStrings(JsonElement value, string path)
    {
        if (value.ValueKind != JsonValueKind.Array)
        {
            throw JsonMembers.Invalid(path, value, "a sequence");
        }
        var builder = ImmutableArray.CreateBuilder<string>(value.GetArrayLength());
        var index = 0;
        foreach (var item in value.EnumerateArray())
        {
            builder.Add(JsonMembers.AsString(item, JsonMembers.Index(path, index++)));
        }
        return builder.MoveToImmutable();
    }

    /// <summary>
    /// A value that is a string, or a list of parts of one text type whose texts are joined (an Anthropic tool result's
    /// content, a Responses function call's output). Any other part type is refused, naming the one accepted.
    /// </summary>
    /// <param name="owner">The object holding the value.</param>
    /// <param name="member">The value's member name.</param>
    /// <param name="value">The value.</param>
    /// <param name="expected">What the value must be, for the error.</param>
    /// <param name="textType">The one part type taken (<c>text</c>, <c>input_text</c>).</param>
    /// <param name="partName">What a part is called, for the error.</param>
    public static string ReadJoinedText(JsonMembers owner, string member, JsonElement value, string expected, string textType, string partName)
    {
        if (value.ValueKind == JsonValueKind.String)
        {
            return value.GetString()!;
        }
        if (value.ValueKind != JsonValueKind.Array)
        {
            throw JsonMembers.Invalid(owner.PathOf(member), value, expected);
        }
        var text = new System.Text.StringBuilder();
        var index = 0;
        foreach (var item in value.EnumerateArray())
        {
            var part = JsonMembers.Of(item, JsonMembers.Index(owner.PathOf(member), index++));
            var type = part.RequiredString("type");
            if (type != textType)
            {
                throw new RequestFormatException($"{part.Path}: {partName} of type '{type}' is not supported; only '{textType}' is.");
            }
            text.Append(part.RequiredString("text"));
        }
        return text.ToString();
    }

    /// <summary>The <c>tensorzero::</c> fields of the other client protocols kept as JSON for the gateway's field checks.</summary>
    private static readonly string[] GatewayJsonFieldNames =
    [
        "tensorzero::variant_name", "tensorzero::dryrun", "tensorzero::episode_id", "tensorzero::tags",
        "tensorzero::extra_body", "tensorzero::extra_headers",
    ];

    /// <summary>The <c>tensorzero::</c> fields the other client protocols accept (<see cref="ReadGatewayFields"/> reads them).</summary>
    public static readonly string[] GatewayFieldNames = [.. GatewayJsonFieldNames, "tensorzero::cache_options", "tensorzero::credentials"];

    /// <summary>
    /// The <c>tensorzero::</c> fields a client protocol other than TensorZero's own carries in its body (the Responses
    /// API, the Anthropic Messages ingress): variant pin, dry run, episode, tags, extra body and headers (kept as JSON for
    /// the gateway's field checks), cache options and dynamic credentials. A variant pin with a model target is refused.
    /// </summary>
    public static (Dictionary<string, JsonElement> Fields, CacheOptions Cache, ImmutableDictionary<string, string> Credentials) ReadGatewayFields(
        JsonMembers body, string? modelName)
    {
        var fields = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (var name in GatewayJsonFieldNames)
        {
            if (body.Optional(name) is { } value)
            {
                fields[name] = value.Clone();
            }
        }
        if (modelName is not null && fields.ContainsKey("tensorzero::variant_name"))
        {
            throw new RequestFormatException("'tensorzero::variant_name' cannot be used with a model target ('tensorzero::model_name::...').");
        }
        var cache = body.Optional("tensorzero::cache_options") is { } cacheValue
            ? ReadCacheOptions(cacheValue, "tensorzero::cache_options")
            : CacheOptions.Default;
        var credentials = body.Optional("tensorzero::credentials") is { } credentialsValue
            ? ReadCredentials(credentialsValue, "tensorzero::credentials")
            : ImmutableDictionary<string, string>.Empty;
        return (fields, cache, credentials);
    }

    /// <summary><c>{"enabled": "on" | "off" | "read_only" | "write_only", "max_age_s": u32?}</c>; <c>enabled</c> defaults to off, as in TensorZero's code.</summary>
    public static CacheOptions ReadCacheOptions(JsonElement value, string path)
    {
        var members = JsonMembers.Of(value, path, "struct CacheParamsOptions");
        var mode = CacheMode.Off;
        if (members.Defaulted("enabled", "a string") is { } enabled)
        {
            var text = JsonMembers.AsString(enabled, members.PathOf("enabled"));
            mode = text switch
            {
                "on" => CacheMode.On,
                "off" => CacheMode.Off,
                "read_only" => CacheMode.ReadOnly,
                "write_only" => CacheMode.WriteOnly,
                _ => throw JsonMembers.UnknownVariant(members.PathOf("enabled"), text, CacheModes),
            };
        }
        return new CacheOptions(mode, members.OptionalU32("max_age_s"));
    }

    /// <summary>Dynamic credentials: an object of strings.</summary>
    public static ImmutableDictionary<string, string> ReadCredentials(JsonElement value, string path)
    {
        var members = JsonMembers.Of(value, path);
        var builder = ImmutableDictionary.CreateBuilder<string, string>(StringComparer.Ordinal);
        foreach (var name in members.Names)
        {
            members.TryGetRaw(name, out var secret);
            builder[name] = JsonMembers.AsString(secret, members.PathOf(name));
        }
        return builder.ToImmutable();
    }

    /// <summary>A namespace: a non-empty string.</summary>
    public static string ReadNamespace(JsonElement value, string path)
    {
        var text = JsonMembers.AsString(value, path);
        return text.Length > 0 ? text : throw new RequestFormatException(JsonMembers.Prefix(path, "Namespace identifier cannot be empty"));
    }

    /// <summary>
    /// A function tool's fields (<c>name</c>, <c>description</c>, <c>parameters</c>, <c>strict</c>). The OpenAI form has
    /// an optional description; the native form requires it and refuses unknown fields.
    /// </summary>
    public static ToolDefinition ReadFunctionTool(JsonMembers members, bool native)
    {
        if (native)
        {
            members.DenyUnknown(members.Has("type") ? ["type", "description", "parameters", "name", "strict"] : ["description", "parameters", "name", "strict"]);
        }
        var description = native ? members.RequiredString("description") : members.OptionalString("description") ?? "";
        var name = members.RequiredString("name");
        if (!members.TryGetRaw("parameters", out var parameters))
        {
            throw members.Missing("parameters");
        }
        var strict = members.DefaultedBool("strict");
        return new ToolDefinition(name, description, parameters.Clone(), strict);
    }

    /// <summary>
    /// An OpenAI custom tool (<c>{"name", "description"?, "format"?}</c>, unknown fields refused; the native form also
    /// carries its <c>type</c>), returned as <c>{"name", "description"?, "format"?}</c>.
    /// </summary>
    public static JsonElement ReadCustomTool(JsonMembers members, bool withType)
    {
        members.DenyUnknown(withType ? ["type", "name", "description", "format"] : ["name", "description", "format"]);
        var name = members.RequiredString("name");
        var description = members.OptionalString("description");
        JsonElement? format = null;
        if (members.Optional("format") is { } formatValue)
        {
            var formatMembers = JsonMembers.Of(formatValue, members.PathOf("format"), "internally tagged enum OpenAICustomToolFormat");
            var type = formatMembers.RequiredString("type");
            if (type == "grammar")
            {
                var grammar = JsonMembers.Of(formatMembers.Required("grammar", "struct OpenAIGrammarDefinition"),
                    formatMembers.PathOf("grammar"), "struct OpenAIGrammarDefinition");
                var syntax = grammar.RequiredString("syntax");
                if (syntax is not ("lark" or "regex"))
                {
                    throw JsonMembers.UnknownVariant(grammar.PathOf("syntax"), syntax, "lark", "regex");
                }
                grammar.RequiredString("definition");
            }
            else if (type != "text")
            {
                throw JsonMembers.UnknownVariant(formatMembers.PathOf("type"), type, "text", "grammar");
            }
            format = formatValue;
        }

        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, JsonOptions.Writer))
        {
            writer.WriteStartObject();
            writer.WriteString("name", name);
            if (description is not null)
            {
                writer.WriteString("description", description);
            }
            if (format is { } f)
            {
                writer.WritePropertyName("format");
                f.WriteTo(writer);
            }
            writer.WriteEndObject();
        }
        return JsonElement.Parse(buffer.WrittenSpan);
    }
}
