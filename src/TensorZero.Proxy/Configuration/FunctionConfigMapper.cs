using System.Collections.Frozen;
using System.Collections.Immutable;
using System.Globalization;
using TensorZero.Proxy.Configuration.Toml;
using TensorZero.Proxy.Transforms;

namespace TensorZero.Proxy.Configuration;

/// <summary>Maps <c>[functions.F]</c>, its variants and its experimentation, reporting every error with its key path.</summary>
internal static class FunctionConfigMapper
{
    /// <summary>Variant keys that become request body defaults: TOML key → OpenAI body field.</summary>
    private static readonly (string Key, string Field)[] SamplingParameters =
    [
        ("temperature", "temperature"), ("top_p", "top_p"), ("max_tokens", "max_tokens"), ("presence_penalty", "presence_penalty"),
        ("frequency_penalty", "frequency_penalty"), ("seed", "seed"), ("stop_sequences", "stop"),
    ];

    public static FunctionConfig? Map(
        TomlConfigReader reader, string name, TomlTable table, string path, IReadOnlyDictionary<string, ModelConfig> models, ExtraHeaderLimits limits)
    {
        reader.CheckKeys(table, path, ["type", "variants", "experimentation", "description"],
            ["system_schema", "user_schema", "assistant_schema", "output_schema", "schemas", "tools", "tool_choice", "parallel_tool_calls", "evaluators"]);
        var errorsBefore = reader.ErrorCount;

        var type = reader.String(table, path, "type", required: true);
        if (type is not null && type != "chat")
        {
            reader.Error(table, "type", path + ".type", type == "json"
                ? "functions of type 'json' are not supported yet (use type = \"chat\")"
                : $"unknown function type '{type}' (supported: chat)");
        }
        reader.String(table, path, "description");

        var variants = new List<VariantConfig>();
        if (reader.Table(table, path, "variants", required: true) is { } variantTables)
        {
            foreach (var (variantName, value) in variantTables)
            {
                var variantPath = $"{path}.variants.{variantName}";
                if (value is not TomlTable variantTable)
                {
                    reader.Error(variantTables, variantName, variantPath, "must be a table");
                    continue;
                }
                if (MapVariant(reader, variantName, variantTable, variantPath, models, limits) is { } variant)
                {
                    variants.Add(variant);
                }
            }
            if (variantTables.Count == 0)
            {
                reader.Error(table, "variants", path + ".variants", "must define at least one variant");
            }
        }

        var experimentation = MapExperimentation(reader, table, path, variants);
        if (reader.ErrorCount != errorsBefore)
        {
            return null;
        }
        return new FunctionConfig
        {
            Name = name,
            Variants = variants.ToFrozenDictionary(v => v.Name, StringComparer.Ordinal),
            Experimentation = experimentation!,
        };
    }

    private static VariantConfig? MapVariant(
        TomlConfigReader reader, string name, TomlTable table, string path, IReadOnlyDictionary<string, ModelConfig> models, ExtraHeaderLimits limits)
    {
        string[] allowed = ["type", "model", "weight", "timeouts", "retries", "extra_headers", "extra_body", .. SamplingParameters.Select(p => p.Key)];
        reader.CheckKeys(table, path, allowed,
            ["system_template", "user_template", "assistant_template", "templates", "json_mode",
             "reasoning_effort", "service_tier", "thinking_budget_tokens", "verbosity", "input_wrappers"]);
        var errorsBefore = reader.ErrorCount;

        var type = reader.String(table, path, "type", required: true);
        if (type is not null && type != "chat_completion")
        {
            reader.Error(table, "type", path + ".type", $"variant type '{type}' is not supported (supported: chat_completion)");
        }

        var model = reader.String(table, path, "model", required: true);
        if (model is not null && !models.ContainsKey(model) && !ProviderTypeInfo.TryParseShorthand(model, out _, out _, out _))
        {
            var known = models.Count == 0 ? "none" : string.Join(", ", models.Keys.Select(k => $"'{k}'"));
            reader.Error(table, "model", path + ".model",
                $"'{model}' is neither a model of [models] (defined: {known}) nor a shorthand such as 'openai::gpt-4o-mini'");
        }

        double? weight = null;
        if (table.TryGetValue("weight", out var weightValue))
        {
            weight = weightValue switch { long l => l, double d => d, _ => null };
            if (weight is null || weight < 0 || double.IsNaN(weight.Value) || double.IsInfinity(weight.Value))
            {
                reader.Error(table, "weight", path + ".weight", "must be a number >= 0");
            }
        }

        var retries = RetryConfig.None;
        if (reader.Table(table, path, "retries") is { } retryTable)
        {
            var retryPath = path + ".retries";
            reader.CheckKeys(retryTable, retryPath, ["num_retries", "max_delay_s"], []);
            var numRetries = reader.Integer(retryTable, retryPath, "num_retries") ?? 0;
            if (numRetries is < 0 or > 100)
            {
                reader.Error(retryTable, "num_retries", retryPath + ".num_retries", $"must be between 0 and 100 (got {numRetries})");
            }
            var maxDelay = retryTable.TryGetValue("max_delay_s", out var md) ? md switch { long l => l, double d => d, _ => -1 } : RetryConfig.None.MaxDelaySeconds;
            if (maxDelay <= 0 || double.IsNaN(maxDelay) || double.IsInfinity(maxDelay))
            {
                reader.Error(retryTable, "max_delay_s", retryPath + ".max_delay_s", "must be a positive number of seconds");
            }
            retries = new RetryConfig((int)Math.Clamp(numRetries, 0, 100), maxDelay);
        }

        var defaults = ImmutableArray.CreateBuilder<KeyValuePair<string, string>>();
        foreach (var (key, field) in SamplingParameters)
        {
            if (!table.TryGetValue(key, out var value))
            {
                continue;
            }
            var json = ParameterJson(key, value);
            if (json is null)
            {
                reader.Error(table, key, $"{path}.{key}", key == "stop_sequences" ? "must be an array of strings" : key is "max_tokens" or "seed"
                    ? "must be an integer" + (key == "max_tokens" ? " > 0" : "") : "must be a number");
                continue;
            }
            defaults.Add(new(field, json));
        }

        var timeouts = ConfigLoader.MapTimeouts(reader, table, path);
        // Credential headers at variant level are checked against the variant's providers once models resolve.
        var extraHeaders = ExtraConfigMapper.Headers(reader, table, path, limits, allowCredentialOverride: true);
        var extraBody = ExtraConfigMapper.Body(reader, table, path);
        if (reader.ErrorCount != errorsBefore)
        {
            return null;
        }
        return new VariantConfig
        {
            ExtraHeaders = extraHeaders,
            ExtraBody = extraBody,
            Name = name,
            Model = model!,
            Weight = weight,
            Timeouts = timeouts,
            Retries = retries,
            DefaultParameters = defaults.ToImmutable(),
        };
    }

    private static string? ParameterJson(string key, object value)
    {
        switch (key)
        {
            case "max_tokens" when value is long l && l > 0:
            case "seed" when value is long:
                return ((long)value).ToString(CultureInfo.InvariantCulture);
            case "stop_sequences" when value is TomlArray array && array.All(v => v is string):
                return System.Text.Json.JsonSerializer.Serialize(array.Cast<string>().ToArray());
            case "temperature" or "top_p" or "presence_penalty" or "frequency_penalty":
                var number = value switch { long l => l, double d => d, _ => double.NaN };
                return double.IsFinite(number) ? number.ToString("R", CultureInfo.InvariantCulture) : null;
            default:
                return null;
        }
    }

    private static ExperimentationConfig? MapExperimentation(TomlConfigReader reader, TomlTable table, string path, List<VariantConfig> variants)
    {
        var names = variants.Select(v => v.Name).ToList();
        if (reader.Table(table, path, "experimentation") is not { } experimentation)
        {
            // TensorZero's default: the variants' weights when any is set (unset counts as 0), else uniform.
            var anyWeight = variants.Any(v => v.Weight is not null);
            return new ExperimentationConfig(
                [.. variants.Select(v => new KeyValuePair<string, double>(v.Name, anyWeight ? v.Weight ?? 0 : 1))], []);
        }

        var expPath = path + ".experimentation";
        reader.CheckKeys(experimentation, expPath, ["type", "candidate_variants", "fallback_variants"], []);
        var type = reader.String(experimentation, expPath, "type")
            ?? (experimentation.TryGetValue("candidate_variants", out var c) && c is TomlTable ? "static_weights" : "uniform");

        var candidates = ImmutableArray.CreateBuilder<KeyValuePair<string, double>>();
        switch (type)
        {
            case "static_weights":
                if (reader.Table(experimentation, expPath, "candidate_variants", required: true) is { } weights)
                {
                    foreach (var (name, value) in weights)
                    {
                        var weight = value switch { long l => l, double d => d, _ => double.NaN };
                        if (!double.IsFinite(weight) || weight < 0)
                        {
                            reader.Error(weights, name, $"{expPath}.candidate_variants.{name}", "must be a number >= 0");
                        }
                        candidates.Add(new(name, weight));
                    }
                }
                break;
            case "uniform":
                var list = experimentation.ContainsKey("candidate_variants")
                    ? reader.StringArray(experimentation, expPath, "candidate_variants") ?? []
                    : names.ToArray();
                candidates.AddRange(list.Select(n => new KeyValuePair<string, double>(n, 1)));
                break;
            default:
                reader.Error(experimentation, "type", expPath + ".type", $"unknown experimentation type '{type}' (supported: static_weights, uniform)");
                break;
        }

        var fallbacks = reader.StringArray(experimentation, expPath, "fallback_variants") ?? [];
        foreach (var name in candidates.Select(x => x.Key).Concat(fallbacks))
        {
            if (!names.Contains(name))
            {
                var key = candidates.Any(x => x.Key == name) ? "candidate_variants" : "fallback_variants";
                reader.Error(experimentation, key, $"{expPath}.{key}", $"names variant '{name}', which is not defined under [{path}.variants]");
            }
        }
        return new ExperimentationConfig(candidates.ToImmutable(), [.. fallbacks]);
    }
}
