using TensorZero.Proxy.Configuration.Toml;

namespace TensorZero.Proxy.Configuration;

/// <summary>
/// Maps the smaller top-level sections: <c>[tools]</c>, <c>[metrics]</c>, <c>[object_storage]</c>, and the sections
/// that only matter to TensorZero's own tooling and storage (evaluations, optimizers, postgres, clickhouse, autopilot),
/// which are accepted with a warning. <c>[rate_limiting]</c> is mapped by <c>RateLimitingConfigMapper</c>.
/// </summary>
internal static class SectionMapper
{
    /// <summary><c>[tools.T]</c>: <c>description</c>, <c>parameters</c> (a JSON Schema file), <c>name</c>, <c>strict</c>.</summary>
    public static ToolConfigEntry? MapTool(TomlConfigReader reader, string key, TomlTable table, string path)
    {
        reader.CheckKeys(table, path, ["description", "parameters", "name", "strict"]);
        var errorsBefore = reader.ErrorCount;
        if (key.StartsWith("tensorzero::", StringComparison.Ordinal))
        {
            reader.Error(path, "a tool name cannot start with 'tensorzero::'");
        }
        var description = reader.String(table, path, "description", required: true);
        var parameters = reader.Schema(table, path, "parameters", required: true);
        var name = reader.NonEmptyString(table, path, "name") ?? key;
        var strict = reader.Bool(table, path, "strict") ?? false;
        return reader.ErrorCount != errorsBefore ? null : new ToolConfigEntry(key, name, description!, parameters!, strict);
    }

    /// <summary><c>[metrics.M]</c>: <c>type</c>, <c>optimize</c>, <c>level</c> (all required) and <c>description</c>.</summary>
    public static MetricConfig? MapMetric(TomlConfigReader reader, string name, TomlTable table, string path)
    {
        reader.CheckKeys(table, path, ["type", "optimize", "level", "description"]);
        var errorsBefore = reader.ErrorCount;
        if (name is "comment" or "demonstration")
        {
            reader.Error(path, $"the metric name '{name}' is reserved (feedback of that name is a comment or a demonstration)");
        }
        else if (name.StartsWith("tensorzero::", StringComparison.Ordinal))
        {
            reader.Error(path, "a metric name cannot start with 'tensorzero::'");
        }
        else if (name.Length == 0 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.' or ':' or '/'))
        {
            reader.Error(path, $"the metric name '{name}' may only contain ASCII letters, digits, '_', '-', '.', ':' and '/'");
        }
        var type = Enum(reader, table, path, "type", new Dictionary<string, MetricType> { ["boolean"] = MetricType.Boolean, ["float"] = MetricType.Float });
        var optimize = Enum(reader, table, path, "optimize", new Dictionary<string, MetricOptimize> { ["max"] = MetricOptimize.Max, ["min"] = MetricOptimize.Min });
        var level = Enum(reader, table, path, "level", new Dictionary<string, MetricLevel> { ["inference"] = MetricLevel.Inference, ["episode"] = MetricLevel.Episode });
        var description = reader.String(table, path, "description");
        return reader.ErrorCount != errorsBefore
            ? null
            : new MetricConfig(name, type!.Value, optimize!.Value, level!.Value) { Description = description };
    }

    private static T? Enum<T>(TomlConfigReader reader, TomlTable table, string path, string key, Dictionary<string, T> values)
        where T : struct
    {
        if (reader.String(table, path, key, required: true) is not { } text)
        {
            return null;
        }
        if (values.TryGetValue(text, out var value))
        {
            return value;
        }
        reader.Error(table, key, $"{path}.{key}", $"unknown {key} '{text}' (supported: {string.Join(", ", values.Keys)})");
        return null;
    }

    /// <summary><c>[object_storage]</c>: <c>type</c> filesystem (<c>path</c>), s3_compatible (<c>bucket_name</c>, <c>region</c>, <c>endpoint</c>, <c>allow_http</c>) or disabled.</summary>
    public static ObjectStorageConfig MapObjectStorage(TomlConfigReader reader, TomlTable root)
    {
        const string path = "object_storage";
        if (reader.Table(root, "", path) is not { } table)
        {
            return ObjectStorageConfig.Disabled;
        }
        switch (reader.String(table, path, "type", required: true))
        {
            case null:
                return ObjectStorageConfig.Disabled;
            case "disabled":
                reader.CheckKeys(table, path, ["type"]);
                return ObjectStorageConfig.Disabled;
            case "filesystem":
                reader.CheckKeys(table, path, ["type", "path"]);
                return reader.NonEmptyString(table, path, "path", required: true) is { } directory
                    ? new ObjectStorageConfig(ObjectStorageKind.Filesystem, directory, null, null, null)
                    : ObjectStorageConfig.Disabled;
            case "s3_compatible":
                reader.CheckKeys(table, path, ["type", "bucket_name", "region", "endpoint", "allow_http"]);
                var endpoint = reader.String(table, path, "endpoint");
                if (endpoint is not null && (endpoint is "sdk" or "none" || endpoint.StartsWith("dynamic::", StringComparison.Ordinal)
                    || endpoint.StartsWith("path::", StringComparison.Ordinal) || endpoint.StartsWith("path_from_env::", StringComparison.Ordinal)))
                {
                    reader.Error(table, "endpoint", path + ".endpoint", $"'{endpoint}' is not an endpoint: use env::VARIABLE or a URL");
                }
                return new ObjectStorageConfig(ObjectStorageKind.S3Compatible, null,
                    reader.String(table, path, "bucket_name"), reader.String(table, path, "region"), endpoint)
                {
                    AllowHttp = reader.Bool(table, path, "allow_http"),
                };
            case var other:
                reader.Error(table, "type", path + ".type", $"unknown object storage type '{other}' (supported: filesystem, s3_compatible, disabled)");
                return ObjectStorageConfig.Disabled;
        }
    }

    /// <summary>
    /// The sections for TensorZero's own tooling and datastores: their shape is checked and each present section is
    /// reported once as having no effect.
    /// </summary>
    public static void MapCompatibilitySections(TomlConfigReader reader, TomlTable root)
    {
        // Evaluations, optimizers: run by TensorZero's evaluations and optimization tooling, never by an inference.
        foreach (var section in (ReadOnlySpan<string>)["evaluations", "optimizers"])
        {
            if (reader.Table(root, "", section) is not { } table)
            {
                continue;
            }
            foreach (var (name, value) in table)
            {
                if (value is not TomlTable)
                {
                    reader.Error(table, name, $"{section}.{name}", "must be a table");
                }
            }
            reader.Warn(section, TomlConfigReader.CompatibilityNote + $" ({section} are run by TensorZero's tooling, not by the gateway)");
        }

        if (reader.Table(root, "", "postgres") is { } postgres)
        {
            reader.CheckKeys(postgres, "postgres",
                ["enabled", "connection_pool_size", "inference_metadata_retention_days", "inference_data_retention_days", "inference_retention_days"]);
            reader.Bool(postgres, "postgres", "enabled");
            foreach (var key in (ReadOnlySpan<string>)["connection_pool_size", "inference_metadata_retention_days", "inference_data_retention_days", "inference_retention_days"])
            {
                reader.Integer(postgres, "postgres", key, 0, uint.MaxValue);
            }
            reader.Warn("postgres", TomlConfigReader.CompatibilityNote + " (observability is stored in ClickHouse)");
        }

        if (reader.Table(root, "", "clickhouse") is { } clickhouse)
        {
            reader.CheckKeys(clickhouse, "clickhouse", ["disable_automatic_migrations"]);
            reader.Compat(clickhouse, "clickhouse", "disable_automatic_migrations", TomlKind.Boolean);
            if (clickhouse.TryGetValue("disable_automatic_migrations", out var value) && value is true
                && root.TryGetValue("gateway", out var gateway) && gateway is TomlTable g
                && g.TryGetValue("observability", out var observability) && observability is TomlTable o
                && o.TryGetValue("disable_automatic_migrations", out var old) && old is true)
            {
                reader.Error("clickhouse.disable_automatic_migrations",
                    "is set in both [clickhouse] and [gateway.observability]; remove it from [gateway.observability]");
            }
        }

        if (reader.Table(root, "", "autopilot") is { } autopilot)
        {
            reader.CheckKeys(autopilot, "autopilot", ["tool_whitelist"]);
            reader.StringArray(autopilot, "autopilot", "tool_whitelist");
            reader.Warn("autopilot", TomlConfigReader.CompatibilityNote);
        }
    }
}
