using System.Collections.Frozen;
using System.Collections.Immutable;
using System.Globalization;
using System.Text.Json;
using TensorZero.Proxy.Configuration.Toml;
using TensorZero.Proxy.Functions;

namespace TensorZero.Proxy.Configuration;

/// <summary>
/// Maps <c>[functions.F]</c> and its variants, reading the schema and template files they name, and checks what
/// TensorZero checks at load without rendering: models, tools and embedding models exist, every schema has its
/// template in every variant, json_mode is set where required, candidates exist. Every error has its key path.
/// </summary>
internal static class FunctionConfigMapper
{
    /// <summary>The names other sections declare, for references from functions and variants.</summary>
    internal sealed record KnownNames(FrozenSet<string> Models, FrozenSet<string> EmbeddingModels, FrozenSet<string> Tools, FrozenSet<string> Metrics)
    {
        public static KnownNames Empty { get; } = new(FrozenSet<string>.Empty, FrozenSet<string>.Empty, FrozenSet<string>.Empty, FrozenSet<string>.Empty);
    }

    /// <summary>What a variant needs to know of its function.</summary>
    private sealed record FunctionContext(string Name, FunctionKind Kind, FrozenDictionary<string, SchemaFile> Schemas, KnownNames Names, GatewaySettings Gateway);

    private static readonly string[] Roles = ["system", "user", "assistant"];

    public static FunctionConfig? Map(TomlConfigReader reader, string name, TomlTable table, string path, KnownNames names, GatewaySettings gateway)
    {
        var errorsBefore = reader.ErrorCount;
        if (name.StartsWith("tensorzero::", StringComparison.Ordinal))
        {
            reader.Error(path, "a function name cannot start with 'tensorzero::'");
        }

        var typeName = reader.String(table, path, "type", required: true);
        FunctionKind kind;
        switch (typeName)
        {
            case "json":
                kind = FunctionKind.Json;
                reader.CheckKeys(table, path,
                    ["type", "variants", "system_schema", "user_schema", "assistant_schema", "schemas", "output_schema", "description", "experimentation", "evaluators"]);
                break;
            case "chat" or null:
                kind = FunctionKind.Chat;
                reader.CheckKeys(table, path,
                    ["type", "variants", "system_schema", "user_schema", "assistant_schema", "schemas", "tools", "tool_choice", "parallel_tool_calls",
                     "description", "experimentation", "evaluators"]);
                break;
            default:
                reader.Error(table, "type", path + ".type", $"unknown function type '{typeName}' (supported: chat, json)");
                return null;
        }
        var description = reader.String(table, path, "description");

        // Schemas: the legacy *_schema keys and schemas.NAME.path, one name each.
        var schemas = new Dictionary<string, SchemaFile>(StringComparer.Ordinal);
        foreach (var role in Roles)
        {
            if (reader.Schema(table, path, role + "_schema") is { } schema)
            {
                schemas[role] = schema;
            }
        }
        if (reader.Table(table, path, "schemas") is { } named)
        {
            foreach (var (schemaName, value) in named)
            {
                var schemaPath = $"{path}.schemas.{schemaName}";
                if (value is not TomlTable schemaTable)
                {
                    reader.Error(named, schemaName, schemaPath, "must be a table such as { path = \"schema.json\" }");
                    continue;
                }
                reader.CheckKeys(schemaTable, schemaPath, ["path"]);
                if (schemas.ContainsKey(schemaName))
                {
                    reader.Error(named, schemaName, schemaPath, $"cannot specify both schemas.{schemaName}.path and {schemaName}_schema");
                    continue;
                }
                if (reader.Schema(schemaTable, schemaPath, "path", required: true) is { } schema)
                {
                    schemas[schemaName] = schema;
                }
            }
        }

        SchemaFile? outputSchema = null;
        if (kind == FunctionKind.Json)
        {
            // TensorZero's default output schema is {}: any JSON value is accepted.
            outputSchema = reader.Schema(table, path, "output_schema") ?? new SchemaFile("", EmptySchema);
        }

        string[] tools = [];
        var toolChoice = ToolChoice.Auto;
        bool? parallelToolCalls = null;
        if (kind == FunctionKind.Chat)
        {
            tools = reader.StringArray(table, path, "tools") ?? [];
            foreach (var tool in tools)
            {
                if (!names.Tools.Contains(tool))
                {
                    reader.Error(table, "tools", path + ".tools", $"names tool '{tool}', which is not defined under [tools] (defined: {ConfigLoader.JoinOrNone(names.Tools.Order(StringComparer.Ordinal))})");
                }
            }
            toolChoice = MapToolChoice(reader, table, path) ?? ToolChoice.Auto;
            parallelToolCalls = reader.Bool(table, path, "parallel_tool_calls");
        }

        if (reader.Table(table, path, "evaluators") is { } evaluators)
        {
            foreach (var (evaluatorName, value) in evaluators)
            {
                if (value is not TomlTable)
                {
                    reader.Error(evaluators, evaluatorName, $"{path}.evaluators.{evaluatorName}", "must be a table");
                }
            }
            reader.Warn(path + ".evaluators", TomlConfigReader.CompatibilityNote + " (evaluators are run by TensorZero's evaluations tooling)");
        }

        var context = new FunctionContext(name, kind, schemas.ToFrozenDictionary(StringComparer.Ordinal), names, gateway);
        var variants = new Dictionary<string, VariantConfig>(StringComparer.Ordinal);
        var variantTables = reader.Table(table, path, "variants", required: true);
        if (variantTables is not null)
        {
            foreach (var (variantName, value) in variantTables)
            {
                var variantPath = $"{path}.variants.{variantName}";
                if (value is not TomlTable variantTable)
                {
                    reader.Error(variantTables, variantName, variantPath, "must be a table");
                    continue;
                }
                if (MapVariant(reader, variantName, variantTable, variantPath, context) is { } variant)
                {
                    variants.Add(variantName, variant);
                }
            }
            if (variantTables.Count == 0)
            {
                reader.Error(table, "variants", path + ".variants", "must define at least one variant");
            }
        }
        if (variantTables is not null)
        {
            CheckCandidates(reader, variantTables, path, variants);
        }

        var experimentation = ExperimentationMapper.Map(reader, table, path, variantTables, variants, names.Metrics);
        if (experimentation is not null)
        {
            CheckNamespacedVariants(reader, path, variants.Values, experimentation);
        }
        if (reader.ErrorCount != errorsBefore)
        {
            return null;
        }
        return new FunctionConfig
        {
            Name = name,
            Kind = kind,
            Description = description,
            Variants = variants.ToFrozenDictionary(StringComparer.Ordinal),
            Experimentation = experimentation!,
            SystemSchema = schemas.GetValueOrDefault("system"),
            UserSchema = schemas.GetValueOrDefault("user"),
            AssistantSchema = schemas.GetValueOrDefault("assistant"),
            Schemas = context.Schemas,
            OutputSchema = outputSchema,
            Tools = [.. tools],
            ToolChoice = toolChoice,
            ParallelToolCalls = parallelToolCalls,
        };
    }

    private static readonly JsonElement EmptySchema = JsonDocument.Parse("{}").RootElement.Clone();

    /// <summary><c>tool_choice</c>: <c>"none"</c>, <c>"auto"</c>, <c>"required"</c> or <c>{ specific = "tool" }</c>.</summary>
    private static ToolChoice? MapToolChoice(TomlConfigReader reader, TomlTable table, string path)
    {
        if (!table.TryGetValue("tool_choice", out var value))
        {
            return null;
        }
        switch (value)
        {
            case "none":
                return ToolChoice.None;
            case "auto":
                return ToolChoice.Auto;
            case "required":
                return ToolChoice.Required;
            case TomlTable specific when specific.Count == 1 && specific.TryGetValue("specific", out var tool) && tool is string { Length: > 0 } toolName:
                return new ToolChoiceSpecific(toolName);
            default:
                reader.Error(table, "tool_choice", path + ".tool_choice", "must be \"none\", \"auto\", \"required\" or { specific = \"tool_name\" }");
                return null;
        }
    }

    private static VariantConfig? MapVariant(TomlConfigReader reader, string name, TomlTable table, string path, FunctionContext function)
    {
        var errorsBefore = reader.ErrorCount;
        if (name.StartsWith("tensorzero::", StringComparison.Ordinal))
        {
            reader.Error(path, "a variant name cannot start with 'tensorzero::'");
        }
        var typeName = reader.String(table, path, "type", required: true);
        if (typeName is null)
        {
            return null;
        }
        VariantType type;
        string[] keys;
        switch (typeName)
        {
            case "chat_completion":
                type = VariantType.ChatCompletion;
                keys = [.. ChatCompletionKeys, "type", "timeouts", "namespace"];
                break;
            case "experimental_chain_of_thought":
                type = VariantType.ChainOfThought;
                keys = [.. ChatCompletionKeys, "type", "timeouts", "namespace"];
                break;
            case "experimental_best_of_n_sampling":
                type = VariantType.BestOfNSampling;
                keys = ["type", "timeouts", "namespace", "weight", "timeout_s", "candidates", "evaluator"];
                break;
            case "experimental_mixture_of_n":
                type = VariantType.MixtureOfN;
                keys = ["type", "timeouts", "namespace", "weight", "timeout_s", "candidates", "fuser"];
                break;
            case "experimental_dynamic_in_context_learning":
                type = VariantType.DynamicInContextLearning;
                keys = [.. DiclKeys, "type", "timeouts", "namespace"];
                break;
            default:
                reader.Error(table, "type", path + ".type",
                    $"unknown variant type '{typeName}' (supported: chat_completion, experimental_best_of_n_sampling, experimental_mixture_of_n, " +
                    "experimental_dynamic_in_context_learning, experimental_chain_of_thought)");
                return null;
        }
        reader.CheckKeys(table, path, keys);
        if (type != VariantType.ChatCompletion)
        {
            reader.Warn(path + ".type", $"variant type '{typeName}' is not run by TensorZero.Proxy yet: attempts at it fail over to the function's next variant");
        }
        if (type == VariantType.ChainOfThought)
        {
            reader.Warn(path + ".type", "experimental_chain_of_thought is deprecated by TensorZero; use chat_completion with a reasoning model");
        }

        var timeouts = ConfigLoader.MapTimeouts(reader, table, path, function.Gateway.GlobalOutboundHttpTimeout);
        var ns = ProviderConfigMapper.MapNamespace(reader, table, path);
        VariantConfig? variant = type switch
        {
            VariantType.ChatCompletion or VariantType.ChainOfThought => MapChatCompletion(reader, name, table, path, function, type),
            VariantType.DynamicInContextLearning => MapDicl(reader, name, table, path, function),
            _ => MapCombiner(reader, name, table, path, function, type),
        };
        if (variant is null || reader.ErrorCount != errorsBefore)
        {
            return null;
        }
        return variant with { Timeouts = timeouts, Namespace = ns };
    }

    private static readonly string[] SamplingKeys =
        ["temperature", "top_p", "max_tokens", "presence_penalty", "frequency_penalty", "seed", "stop_sequences", "reasoning_effort", "thinking_budget_tokens", "verbosity"];

    /// <summary>The keys of a chat_completion (without type, timeouts, namespace): also a best-of-n evaluator's and a mixture-of-n fuser's.</summary>
    private static readonly string[] ChatCompletionKeys =
    [
        "weight", "model", "system_template", "user_template", "assistant_template", "input_wrappers", "templates",
        .. SamplingKeys, "service_tier", "json_mode", "retries", "extra_body", "extra_headers",
    ];

    private static readonly string[] DiclKeys =
        ["weight", "embedding_model", "k", "model", "system_instructions", .. SamplingKeys, "json_mode", "extra_body", "retries", "extra_headers", "max_distance"];

    /// <summary>A chat_completion (or chain_of_thought, evaluator, fuser): model, templates, parameters, json_mode, retries, extras.</summary>
    private static VariantConfig? MapChatCompletion(TomlConfigReader reader, string name, TomlTable table, string path, FunctionContext function, VariantType type)
    {
        var errorsBefore = reader.ErrorCount;
        var model = MapModelReference(reader, table, path, function);
        var weight = MapWeight(reader, table, path);
        var system = reader.Template(table, path, "system_template");
        var user = reader.Template(table, path, "user_template");
        var assistant = reader.Template(table, path, "assistant_template");
        var templates = new Dictionary<string, TemplateFile>(StringComparer.Ordinal);
        if (reader.Table(table, path, "templates") is { } templateTables)
        {
            foreach (var (templateName, value) in templateTables)
            {
                var templatePath = $"{path}.templates.{templateName}";
                if (value is not TomlTable templateTable)
                {
                    reader.Error(templateTables, templateName, templatePath, "must be a table such as { path = \"template.minijinja\" }");
                    continue;
                }
                reader.CheckKeys(templateTable, templatePath, ["path"]);
                if (Roles.Contains(templateName) && table.ContainsKey(templateName + "_template"))
                {
                    reader.Error(templateTables, templateName, templatePath, $"cannot specify both templates.{templateName}.path and {templateName}_template");
                    continue;
                }
                if (reader.Template(templateTable, templatePath, "path", required: true) is { } template)
                {
                    templates[templateName] = template;
                }
            }
        }

        InputWrappers? wrappers = null;
        if (reader.Table(table, path, "input_wrappers") is { } wrapperTable)
        {
            var wrapperPath = path + ".input_wrappers";
            reader.CheckKeys(wrapperTable, wrapperPath, Roles);
            wrappers = new InputWrappers(
                reader.Template(wrapperTable, wrapperPath, "system"), reader.Template(wrapperTable, wrapperPath, "user"), reader.Template(wrapperTable, wrapperPath, "assistant"));
            foreach (var role in Roles)
            {
                if (!wrapperTable.ContainsKey(role))
                {
                    continue;
                }
                if (function.Schemas.ContainsKey(role))
                {
                    reader.Error(wrapperTable, role, $"{wrapperPath}.{role}", $"cannot be used when the function has a {role} schema (an input wrapper takes plain text)");
                }
                else if (table.ContainsKey(role + "_template") || templates.ContainsKey(role))
                {
                    reader.Error(wrapperTable, role, $"{wrapperPath}.{role}", $"cannot be used together with a {role} template");
                }
            }
        }

        // Every schema of the function needs the template of the same name in every variant.
        var templateNames = new HashSet<string>(templates.Keys, StringComparer.Ordinal);
        foreach (var role in Roles)
        {
            if (table.ContainsKey(role + "_template") || (wrappers is not null && RoleWrapper(wrappers, role) is not null))
            {
                templateNames.Add(role);
            }
        }
        foreach (var schemaName in function.Schemas.Keys.Order(StringComparer.Ordinal))
        {
            if (!templateNames.Contains(schemaName))
            {
                reader.Error(Roles.Contains(schemaName) ? $"{path}.{schemaName}_template" : $"{path}.templates.{schemaName}",
                    Roles.Contains(schemaName)
                        ? $"a {schemaName} template is required because functions.{function.Name} has a {schemaName} schema"
                        : $"is required because functions.{function.Name}.schemas.{schemaName} is specified");
            }
        }

        var jsonMode = MapJsonMode(reader, table, path, function, type);
        var (parameters, defaults) = MapParams(reader, table, path, allowServiceTier: true);
        var retries = MapRetries(reader, table, path);
        var extraHeaders = ExtraConfigMapper.Headers(reader, table, path, function.Gateway.ExtraHeaderLimits);
        var extraBody = ExtraConfigMapper.Body(reader, table, path);
        if (reader.ErrorCount != errorsBefore)
        {
            return null;
        }
        return new VariantConfig
        {
            Name = name,
            Type = type,
            Model = model,
            Weight = weight,
            SystemTemplate = system,
            UserTemplate = user,
            AssistantTemplate = assistant,
            Templates = templates.ToFrozenDictionary(StringComparer.Ordinal),
            InputWrappers = wrappers,
            JsonMode = jsonMode,
            Params = parameters,
            DefaultParameters = defaults,
            Retries = retries,
            ExtraHeaders = extraHeaders,
            ExtraBody = extraBody,
        };
    }

    private static TemplateFile? RoleWrapper(InputWrappers wrappers, string role) => role switch
    {
        "system" => wrappers.System,
        "user" => wrappers.User,
        _ => wrappers.Assistant,
    };

    private static VariantConfig? MapDicl(TomlConfigReader reader, string name, TomlTable table, string path, FunctionContext function)
    {
        var errorsBefore = reader.ErrorCount;
        var model = MapModelReference(reader, table, path, function);
        var weight = MapWeight(reader, table, path);
        var embeddingModel = reader.NonEmptyString(table, path, "embedding_model", required: true);
        if (embeddingModel is not null && !function.Names.EmbeddingModels.Contains(embeddingModel)
            && !embeddingModel.StartsWith("openai::", StringComparison.Ordinal) && !embeddingModel.StartsWith("openrouter::", StringComparison.Ordinal))
        {
            reader.Error(table, "embedding_model", path + ".embedding_model",
                $"'{embeddingModel}' is neither an embedding model of [embedding_models] (defined: {ConfigLoader.JoinOrNone(function.Names.EmbeddingModels.Order(StringComparer.Ordinal))}) " +
                "nor a shorthand such as 'openai::text-embedding-3-small'");
        }
        var k = reader.Integer(table, path, "k", 0, uint.MaxValue, required: true);
        var maxDistance = reader.Number(table, path, "max_distance");
        if (maxDistance < 0)
        {
            reader.Error(table, "max_distance", path + ".max_distance", $"must be non-negative (got {maxDistance})");
        }
        var instructions = reader.Template(table, path, "system_instructions");
        var jsonMode = MapJsonMode(reader, table, path, function, VariantType.DynamicInContextLearning);
        var (parameters, defaults) = MapParams(reader, table, path, allowServiceTier: false);
        var retries = MapRetries(reader, table, path);
        var extraHeaders = ExtraConfigMapper.Headers(reader, table, path, function.Gateway.ExtraHeaderLimits);
        var extraBody = ExtraConfigMapper.Body(reader, table, path);
        if (reader.ErrorCount != errorsBefore)
        {
            return null;
        }
        return new VariantConfig
        {
            Name = name,
            Type = VariantType.DynamicInContextLearning,
            Model = model,
            Weight = weight,
            JsonMode = jsonMode,
            Params = parameters,
            DefaultParameters = defaults,
            Retries = retries,
            ExtraHeaders = extraHeaders,
            ExtraBody = extraBody,
            Dicl = new DiclConfig(embeddingModel!, k!.Value, maxDistance, instructions),
        };
    }

    /// <summary>best_of_n (candidates + evaluator) and mixture_of_n (candidates + fuser).</summary>
    private static VariantConfig? MapCombiner(TomlConfigReader reader, string name, TomlTable table, string path, FunctionContext function, VariantType type)
    {
        var errorsBefore = reader.ErrorCount;
        var weight = MapWeight(reader, table, path);
        var candidates = reader.StringArray(table, path, "candidates", required: true) ?? [];
        if (reader.Number(table, path, "timeout_s") is { } timeoutSeconds && timeoutSeconds <= 0)
        {
            reader.Error(table, "timeout_s", path + ".timeout_s", "must be a positive number of seconds");
        }
        var innerKey = type == VariantType.BestOfNSampling ? "evaluator" : "fuser";
        VariantConfig? inner = null;
        if (reader.Table(table, path, innerKey, required: true) is { } innerTable)
        {
            var innerPath = $"{path}.{innerKey}";
            reader.CheckKeys(innerTable, innerPath, ChatCompletionKeys);
            inner = MapChatCompletion(reader, $"{name}.{innerKey}", innerTable, innerPath, function, type);
        }
        if (reader.ErrorCount != errorsBefore || inner is null)
        {
            return null;
        }
        return new VariantConfig
        {
            Name = name,
            Type = type,
            Weight = weight,
            BestOfN = type == VariantType.BestOfNSampling ? new BestOfNConfig([.. candidates], inner) : null,
            MixtureOfN = type == VariantType.MixtureOfN ? new MixtureOfNConfig([.. candidates], inner) : null,
        };
    }

    /// <summary><c>model</c>: a model of <c>[models]</c> or a shorthand of a type that has one.</summary>
    private static string? MapModelReference(TomlConfigReader reader, TomlTable table, string path, FunctionContext function)
    {
        var model = reader.String(table, path, "model", required: true);
        if (model is not null && !function.Names.Models.Contains(model) && !ProviderTypeInfo.TryParseShorthand(model, out _, out _, out _))
        {
            reader.Error(table, "model", path + ".model",
                $"'{model}' is neither a model of [models] (defined: {ConfigLoader.JoinOrNone(function.Names.Models.Order(StringComparer.Ordinal))}) " +
                $"nor a shorthand such as 'openai::gpt-4o-mini' (shorthand types: {string.Join(", ", ProviderTypeInfo.ShorthandTomlNames)})");
        }
        return model;
    }

    private static double? MapWeight(TomlConfigReader reader, TomlTable table, string path)
    {
        if (!table.TryGetValue("weight", out var value))
        {
            return null;
        }
        double? weight = value switch { long l => l, double d => d, _ => null };
        if (weight is null || weight < 0 || !double.IsFinite(weight.Value))
        {
            reader.Error(table, "weight", path + ".weight", "must be a number >= 0");
            return null;
        }
        return weight;
    }

    /// <summary>
    /// <c>json_mode</c>: off, on, strict, tool (<c>implicit_tool</c> is TensorZero's legacy name). Required for the
    /// variants of json functions (a best-of-n evaluator may omit it), refused on chat_completion variants of chat functions.
    /// </summary>
    private static JsonMode? MapJsonMode(TomlConfigReader reader, TomlTable table, string path, FunctionContext function, VariantType type)
    {
        JsonMode? mode = null;
        if (reader.String(table, path, "json_mode") is { } text)
        {
            mode = text switch
            {
                "off" => JsonMode.Off,
                "on" => JsonMode.On,
                "strict" => JsonMode.Strict,
                "tool" or "implicit_tool" => JsonMode.Tool,
                _ => null,
            };
            if (mode is null)
            {
                reader.Error(table, "json_mode", path + ".json_mode", $"unknown json_mode '{text}' (supported: off, on, strict, tool)");
                return null;
            }
        }
        var isEvaluator = path.EndsWith(".evaluator", StringComparison.Ordinal);
        if (function.Kind == FunctionKind.Chat && mode is not null && type == VariantType.ChatCompletion && !isEvaluator && !path.EndsWith(".fuser", StringComparison.Ordinal))
        {
            reader.Error(table, "json_mode", path + ".json_mode", $"is not allowed: functions.{function.Name} is a chat function (json_mode is for json functions)");
        }
        else if (function.Kind == FunctionKind.Json && mode is null && !isEvaluator && !table.ContainsKey("json_mode"))
        {
            reader.Error(path, $"missing required key 'json_mode': functions.{function.Name} is a json function (use json_mode = \"strict\", \"tool\", \"on\" or \"off\")");
        }
        return mode;
    }

    /// <summary>The sampling keys as <see cref="SamplingParams"/>, and as the OpenAI body members the passthrough path sets.</summary>
    private static (SamplingParams Params, ImmutableArray<KeyValuePair<string, string>> Defaults) MapParams(
        TomlConfigReader reader, TomlTable table, string path, bool allowServiceTier)
    {
        var maxTokens = reader.Integer(table, path, "max_tokens");
        if (maxTokens is not null && (maxTokens <= 0 || maxTokens > uint.MaxValue))
        {
            reader.Error(table, "max_tokens", path + ".max_tokens", $"must be an integer > 0 (got {maxTokens})");
            maxTokens = null;
        }
        string? serviceTier = null;
        if (allowServiceTier && reader.String(table, path, "service_tier") is { } tier)
        {
            if (tier is "auto" or "default" or "priority" or "flex")
            {
                serviceTier = tier;
            }
            else
            {
                reader.Error(table, "service_tier", path + ".service_tier", $"unknown service tier '{tier}' (supported: auto, default, priority, flex)");
            }
        }
        var stop = reader.StringArray(table, path, "stop_sequences");
        var parameters = new SamplingParams
        {
            Temperature = reader.Number(table, path, "temperature"),
            TopP = reader.Number(table, path, "top_p"),
            MaxTokens = maxTokens,
            PresencePenalty = reader.Number(table, path, "presence_penalty"),
            FrequencyPenalty = reader.Number(table, path, "frequency_penalty"),
            Seed = reader.Integer(table, path, "seed", 0, uint.MaxValue),
            StopSequences = stop is null ? null : [.. stop],
            ReasoningEffort = reader.String(table, path, "reasoning_effort"),
            ServiceTier = serviceTier,
            ThinkingBudgetTokens = reader.Integer(table, path, "thinking_budget_tokens", int.MinValue, int.MaxValue),
            Verbosity = reader.String(table, path, "verbosity"),
        };
        return (parameters, DefaultParameters(parameters));
    }

    /// <summary>The OpenAI chat completions members of <paramref name="p"/>, in a fixed order, as JSON text.</summary>
    internal static ImmutableArray<KeyValuePair<string, string>> DefaultParameters(SamplingParams p)
    {
        var defaults = ImmutableArray.CreateBuilder<KeyValuePair<string, string>>();
        void Number(string field, double? value)
        {
            if (value is { } v)
            {
                defaults.Add(new(field, v.ToString("R", CultureInfo.InvariantCulture)));
            }
        }
        void Integer(string field, long? value)
        {
            if (value is { } v)
            {
                defaults.Add(new(field, v.ToString(CultureInfo.InvariantCulture)));
            }
        }
        void Text(string field, string? value)
        {
            if (value is not null)
            {
                defaults.Add(new(field, JsonSerializer.Serialize(value)));
            }
        }
        Number("temperature", p.Temperature);
        Number("top_p", p.TopP);
        Integer("max_tokens", p.MaxTokens);
        Number("presence_penalty", p.PresencePenalty);
        Number("frequency_penalty", p.FrequencyPenalty);
        Integer("seed", p.Seed);
        if (p.StopSequences is { } stop)
        {
            defaults.Add(new("stop", JsonSerializer.Serialize(stop.ToArray())));
        }
        Text("reasoning_effort", p.ReasoningEffort);
        Text("service_tier", p.ServiceTier);
        Text("verbosity", p.Verbosity);
        return defaults.ToImmutable();
    }

    private static RetryConfig MapRetries(TomlConfigReader reader, TomlTable table, string path)
    {
        if (reader.Table(table, path, "retries") is not { } retryTable)
        {
            return RetryConfig.None;
        }
        var retryPath = path + ".retries";
        reader.CheckKeys(retryTable, retryPath, ["num_retries", "max_delay_s"]);
        var numRetries = reader.Integer(retryTable, retryPath, "num_retries", 0, 100) ?? 0;
        var maxDelay = reader.Number(retryTable, retryPath, "max_delay_s") ?? RetryConfig.None.MaxDelaySeconds;
        if (maxDelay <= 0)
        {
            reader.Error(retryTable, "max_delay_s", retryPath + ".max_delay_s", "must be a positive number of seconds");
        }
        return new RetryConfig((int)numRetries, maxDelay);
    }

    /// <summary>
    /// best_of_n / mixture_of_n: every candidate is a variant of the function (not the variant itself); TensorZero's
    /// deprecated <c>timeout_s</c> becomes the candidates' <c>timeouts</c> (an error where a candidate has its own).
    /// </summary>
    private static void CheckCandidates(TomlConfigReader reader, TomlTable variantTables, string path, Dictionary<string, VariantConfig> variants)
    {
        foreach (var variant in variants.Values.ToList())
        {
            var candidates = variant.BestOfN?.Candidates ?? variant.MixtureOfN?.Candidates;
            if (candidates is null)
            {
                continue;
            }
            var variantPath = $"{path}.variants.{variant.Name}";
            var variantTable = (TomlTable)variantTables[variant.Name];
            foreach (var candidate in candidates.Value)
            {
                if (candidate == variant.Name)
                {
                    reader.Error(variantTable, "candidates", variantPath + ".candidates", $"names the variant '{candidate}' itself");
                }
                else if (!variantTables.ContainsKey(candidate))
                {
                    reader.Error(variantTable, "candidates", variantPath + ".candidates", $"names variant '{candidate}', which is not defined under [{path}.variants]");
                }
            }
            if (!variantTable.TryGetValue("timeout_s", out var raw) || raw is not (long or double))
            {
                continue;
            }
            var seconds = raw is long l ? l : (double)raw;
            reader.Warn(variantPath + ".timeout_s", "deprecated by TensorZero: set timeouts on the candidate variants instead (applied to them here)");
            var timeout = TimeSpan.FromMilliseconds(Math.Floor(seconds * 1000));
            foreach (var candidate in candidates.Value.Distinct())
            {
                if (!variants.TryGetValue(candidate, out var target) || target.Name == variant.Name)
                {
                    continue;
                }
                if (!target.Timeouts.IsEmpty)
                {
                    reader.Error(variantTable, "timeout_s", variantPath + ".timeout_s",
                        $"cannot be used when candidate '{candidate}' has its own timeouts; remove timeout_s and set timeouts on the candidates");
                    continue;
                }
                variants[candidate] = target with { Timeouts = new TimeoutsConfig(timeout, timeout, null) };
            }
        }
    }

    /// <summary>A variant with a namespace must not be reachable from the base experimentation (TensorZero's rule).</summary>
    private static void CheckNamespacedVariants(TomlConfigReader reader, string path, IEnumerable<VariantConfig> variants, ExperimentationConfig experimentation)
    {
        var reachable = Reachable(experimentation);
        foreach (var variant in variants.Where(v => v.Namespace is not null && reachable.Contains(v.Name)))
        {
            reader.Error($"{path}.variants.{variant.Name}.namespace",
                $"variant '{variant.Name}' has namespace '{variant.Namespace}' but is reachable from the function's base experimentation; " +
                "namespaced variants must only be reachable from their namespace's experimentation");
        }
    }

    private static HashSet<string> Reachable(ExperimentationConfig experimentation) =>
        [.. experimentation.Candidates.Select(c => c.Key), .. experimentation.Fallbacks];

    /// <summary>A variant that uses a namespaced model must not be reachable from the base experimentation (TensorZero's rule).</summary>
    public static void CheckNamespacedModels(TomlConfigReader reader, IEnumerable<FunctionConfig> functions, IReadOnlyDictionary<string, ModelConfig> models)
    {
        if (!models.Values.Any(m => m.Namespace is not null))
        {
            return;
        }
        foreach (var function in functions)
        {
            var reachable = Reachable(function.Experimentation);
            foreach (var variant in function.Variants.Values.Where(v => reachable.Contains(v.Name)))
            {
                foreach (var model in ModelsOf(variant, function, depth: 0))
                {
                    if (models.TryGetValue(model, out var config) && config.Namespace is { } ns)
                    {
                        reader.Error($"functions.{function.Name}.variants.{variant.Name}",
                            $"uses model '{model}' of namespace '{ns}' but is reachable from the function's base experimentation; " +
                            "variants of namespaced models must only be reachable from their namespace's experimentation");
                    }
                }
            }
        }
    }

    private static IEnumerable<string> ModelsOf(VariantConfig variant, FunctionConfig function, int depth)
    {
        if (variant.Model is not null)
        {
            yield return variant.Model;
        }
        var inner = variant.BestOfN?.Evaluator ?? variant.MixtureOfN?.Fuser;
        if (inner?.Model is not null)
        {
            yield return inner.Model;
        }
        if (depth > 0)
        {
            yield break;
        }
        foreach (var candidate in variant.BestOfN?.Candidates ?? variant.MixtureOfN?.Candidates ?? [])
        {
            if (function.Variants.TryGetValue(candidate, out var candidateVariant))
            {
                foreach (var model in ModelsOf(candidateVariant, function, depth + 1))
                {
                    yield return model;
                }
            }
        }
    }
}
