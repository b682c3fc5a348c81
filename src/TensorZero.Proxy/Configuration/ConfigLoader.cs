using System.Collections.Frozen;
using System.Collections.Immutable;
using System.Net;
using TensorZero.Proxy.Configuration.Toml;
using TensorZero.Proxy.Transforms;

namespace TensorZero.Proxy.Configuration;

/// <summary>The configuration could not be loaded; <see cref="Errors"/> lists every problem found.</summary>
internal sealed class ConfigException : Exception
{
    public ConfigException(IReadOnlyList<string> errors)
        : base(FormatMessage(errors))
    {
        Errors = errors;
    }

    public ConfigException(string error)
        : this([error])
    {
    }

    /// <summary>Each problem as "key.path: message".</summary>
    public IReadOnlyList<string> Errors { get; }

    private static string FormatMessage(IReadOnlyList<string> errors) =>
        $"The configuration has {errors.Count} error(s):{Environment.NewLine}  " + string.Join(Environment.NewLine + "  ", errors);
}

/// <summary>
/// Maps <c>tensorzero.toml</c> to <see cref="GatewayConfig"/>. Like YARP's config validation it does not
/// stop at the first problem: every error is collected, with its TOML key path, before failing.
/// Unknown keys are errors, as in TensorZero.
/// </summary>
internal static class ConfigLoader
{
    /// <summary>Reads and maps a file.</summary>
    /// <exception cref="ConfigException">The file is missing, not TOML, or not a valid configuration.</exception>
    public static GatewayConfig LoadFile(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ConfigException($"{path}: cannot read the configuration file: {ex.Message}");
        }
        return Parse(bytes, path);
    }

    /// <summary>Parses and maps TOML bytes.</summary>
    public static GatewayConfig Parse(ReadOnlySpan<byte> utf8, string? sourcePath = null)
    {
        TomlTable root;
        try
        {
            root = TomlParser.Parse(utf8);
        }
        catch (TomlParseException ex)
        {
            throw new ConfigException($"{sourcePath ?? "tensorzero.toml"}:{ex.Message}");
        }
        return Map(root, sourcePath);
    }

    /// <summary>Parses and maps TOML text (tests).</summary>
    public static GatewayConfig Parse(string toml) => Parse(System.Text.Encoding.UTF8.GetBytes(toml));

    /// <summary>Maps a parsed document.</summary>
    public static GatewayConfig Map(TomlTable root, string? sourcePath = null)
    {
        var reader = new TomlConfigReader();
        reader.CheckKeys(root, "", TopLevelKeys, NotSupportedTopLevelKeys);

        var gateway = MapGateway(reader, reader.Table(root, "", "gateway"));
        var models = MapSection(reader, root, "models", (name, table, path) => MapModel(reader, name, table, path, gateway.ExtraHeaderLimits));
        var functions = MapSection(reader, root, "functions",
            (name, table, path) => FunctionConfigMapper.Map(reader, name, table, path, models, gateway.ExtraHeaderLimits));

        reader.ThrowIfErrors();
        return new GatewayConfig
        {
            Gateway = gateway,
            Models = models.ToFrozenDictionary(StringComparer.Ordinal),
            Functions = functions.ToFrozenDictionary(StringComparer.Ordinal),
            SourcePath = sourcePath,
            Warnings = [.. reader.Warnings],
        };
    }

    /// <summary>Maps each table of a top-level section (<c>[models.*]</c>, <c>[functions.*]</c>); failed entries are left out.</summary>
    private static Dictionary<string, T> MapSection<T>(TomlConfigReader reader, TomlTable root, string section, Func<string, TomlTable, string, T?> map)
        where T : class
    {
        var result = new Dictionary<string, T>(StringComparer.Ordinal);
        if (reader.Table(root, "", section) is not { } tables)
        {
            return result;
        }
        foreach (var (name, value) in tables)
        {
            var path = $"{section}.{name}";
            if (value is not TomlTable table)
            {
                reader.Error(tables, name, path, "must be a table");
            }
            else if (map(name, table, path) is { } mapped)
            {
                result.Add(name, mapped);
            }
        }
        return result;
    }

    private static readonly string[] TopLevelKeys = ["gateway", "models", "functions"];

    // TensorZero sections this gateway does not implement: named so the error says "not supported", not "unknown".
    private static readonly string[] NotSupportedTopLevelKeys =
        ["metrics", "tools", "embedding_models", "object_storage", "evaluations", "provider_types", "postgres", "rate_limiting", "optimizers", "autopilot"];

    private static GatewaySettings MapGateway(TomlConfigReader reader, TomlTable? table)
    {
        if (table is null)
        {
            return new GatewaySettings();
        }

        const string path = "gateway";
        reader.CheckKeys(table, path, ["bind_address", "base_path", "debug", "observability", "extra_headers"],
            ["export", "template_filesystem_access", "enable_template_filesystem_access", "auth", "fetch_and_encode_input_files_before_inference", "disable_pseudonymous_usage_analytics"]);

        var bindAddress = reader.String(table, path, "bind_address");
        if (bindAddress is not null && !IsValidBindAddress(bindAddress))
        {
            reader.Error(table, "bind_address", path + ".bind_address", $"'{bindAddress}' is not a host:port address (e.g. 0.0.0.0:3000)");
        }

        var basePath = reader.String(table, path, "base_path") ?? "";
        if (basePath.Length > 0)
        {
            if (basePath[0] != '/' || basePath.AsSpan().IndexOfAny("?#\\ ") >= 0 || basePath.Contains("//", StringComparison.Ordinal))
            {
                reader.Error(table, "base_path", path + ".base_path", $"'{basePath}' must be an absolute URL path such as '/llm'");
            }
            basePath = basePath.TrimEnd('/');
        }

        var observability = new ObservabilityConfig();
        if (reader.Table(table, path, "observability") is { } obs)
        {
            const string obsPath = "gateway.observability";
            reader.CheckKeys(obs, obsPath, ["enabled", "async_writes"], ["batch_writes", "disable_automatic_migrations"]);
            observability = new ObservabilityConfig
            {
                Enabled = reader.Bool(obs, obsPath, "enabled"),
                AsyncWrites = reader.Bool(obs, obsPath, "async_writes") ?? false,
            };
        }

        var limits = ExtraHeaderLimits.Default;
        if (reader.Table(table, path, "extra_headers") is { } limitTable)
        {
            const string limitPath = "gateway.extra_headers";
            reader.CheckKeys(limitTable, limitPath, ["max_entries", "max_name_bytes", "max_value_bytes"], []);
            int Limit(string key, int fallback, int max)
            {
                var value = reader.Integer(limitTable, limitPath, key) ?? fallback;
                if (value < 1 || value > max)
                {
                    reader.Error(limitTable, key, $"{limitPath}.{key}", $"must be between 1 and {max} (got {value})");
                    return fallback;
                }
                return (int)value;
            }
            limits = new ExtraHeaderLimits(
                Limit("max_entries", limits.MaxEntries, 1024), Limit("max_name_bytes", limits.MaxNameBytes, 8192), Limit("max_value_bytes", limits.MaxValueBytes, 1 << 20));
        }

        return new GatewaySettings
        {
            ExtraHeaderLimits = limits,
            BindAddress = bindAddress,
            BasePath = basePath,
            Debug = reader.Bool(table, path, "debug") ?? false,
            Observability = observability,
        };
    }

    private static bool IsValidBindAddress(string value)
    {
        if (IPEndPoint.TryParse(value, out var endPoint))
        {
            return endPoint.Port is > 0 and <= 65535 && value.Contains(':', StringComparison.Ordinal);
        }
        var colon = value.LastIndexOf(':');
        return colon > 0
            && Uri.CheckHostName(value[..colon]) == UriHostNameType.Dns
            && int.TryParse(value.AsSpan(colon + 1), out var port) && port is > 0 and <= 65535;
    }

    private static ModelConfig? MapModel(TomlConfigReader reader, string name, TomlTable table, string path, ExtraHeaderLimits limits)
    {
        reader.CheckKeys(table, path, ["routing", "providers", "timeouts"], ["endpoints", "skip_relay"]);
        var errorsBefore = reader.ErrorCount;

        var routing = reader.StringArray(table, path, "routing", required: true);
        var providers = new Dictionary<string, ProviderConfig>(StringComparer.Ordinal);
        var providerTables = reader.Table(table, path, "providers", required: true);
        if (providerTables is not null)
        {
            foreach (var (providerName, value) in providerTables)
            {
                var providerPath = $"{path}.providers.{providerName}";
                if (value is not TomlTable providerTable)
                {
                    reader.Error(providerTables, providerName, providerPath, "must be a table");
                    continue;
                }
                if (MapProvider(reader, providerName, providerTable, providerPath, limits) is { } provider)
                {
                    providers.Add(providerName, provider);
                }
            }
        }

        if (routing is not null)
        {
            if (routing.Length == 0)
            {
                reader.Error(table, "routing", path + ".routing", "must name at least one provider");
            }
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var entry in routing)
            {
                if (!seen.Add(entry))
                {
                    reader.Error(table, "routing", path + ".routing", $"names provider '{entry}' more than once");
                }
                else if (providerTables is not null && !providerTables.ContainsKey(entry))
                {
                    reader.Error(table, "routing", path + ".routing",
                        $"names provider '{entry}', which is not defined under [{path}.providers] (defined: {JoinOrNone(providerTables.Keys)})");
                }
            }
        }

        var timeouts = MapTimeouts(reader, table, path);
        if (reader.ErrorCount != errorsBefore)
        {
            return null;
        }

        return new ModelConfig
        {
            Name = name,
            Routing = [.. routing!],
            Providers = providers.ToFrozenDictionary(StringComparer.Ordinal),
            Timeouts = timeouts,
        };
    }

    private static ProviderConfig? MapProvider(TomlConfigReader reader, string name, TomlTable table, string path, ExtraHeaderLimits limits)
    {
        var typeName = reader.String(table, path, "type", required: true);
        if (typeName is null)
        {
            return null;
        }
        if (!ProviderTypeInfo.TryGet(typeName, out var info))
        {
            reader.Error(table, "type", path + ".type",
                $"unknown provider type '{typeName}' (supported: {string.Join(", ", ProviderTypeInfo.TomlNames)})");
            return null;
        }

        var errorsBefore = reader.ErrorCount;
        string[] common = ["type", "timeouts", "api_key_location", "extra_headers", "extra_body", "allow_credential_override", "forward_client_headers"];
        string[] notSupported = ["discard_unknown_chunks", "include_encrypted_reasoning", "provider_tools"];
        if (info.Type == ProviderType.Azure)
        {
            reader.CheckKeys(table, path, [.. common, "deployment_id", "endpoint"], notSupported);
        }
        else if (info.Type == ProviderType.Dummy)
        {
            reader.CheckKeys(table, path, [.. common, "model_name"], notSupported);
        }
        else
        {
            reader.CheckKeys(table, path, [.. common, "model_name", "api_base"], [.. notSupported, "api_type"]);
        }

        string? modelName = null;
        Uri? apiBase = null;
        string? deploymentId = null;
        string? endpoint = null;
        if (info.Type == ProviderType.Azure)
        {
            deploymentId = reader.String(table, path, "deployment_id", required: true);
            endpoint = reader.String(table, path, "endpoint", required: true);
            if (endpoint is not null && !endpoint.StartsWith("env::", StringComparison.Ordinal) && ParseHttpUrl(endpoint) is null)
            {
                reader.Error(table, "endpoint", path + ".endpoint", $"'{endpoint}' is not an http(s) URL or env::VARIABLE");
            }
        }
        else
        {
            modelName = reader.String(table, path, "model_name", required: true);
            if (info.IsOpenAICompatible)
            {
                var apiBaseText = reader.String(table, path, "api_base", required: info.RequiresApiBase) ?? info.DefaultApiBase;
                if (apiBaseText is not null)
                {
                    apiBase = ParseHttpUrl(apiBaseText);
                    if (apiBase is null)
                    {
                        reader.Error(table, "api_base", path + ".api_base", $"'{apiBaseText}' is not an http(s) URL");
                    }
                }
            }
        }

        var credential = info.DefaultCredential;
        if (reader.String(table, path, "api_key_location") is { } location)
        {
            if (ParseCredentialLocation(location, out var parsed, out var why))
            {
                credential = parsed;
            }
            else
            {
                reader.Error(table, "api_key_location", path + ".api_key_location", why);
            }
        }

        var timeouts = MapTimeouts(reader, table, path);
        var allowCredentialOverride = reader.Bool(table, path, "allow_credential_override") ?? false;
        var extraHeaders = ExtraConfigMapper.Headers(reader, table, path, limits, allowCredentialOverride);
        var extraBody = ExtraConfigMapper.Body(reader, table, path);
        var forward = reader.StringArray(table, path, "forward_client_headers") ?? [];
        foreach (var pattern in forward)
        {
            if (pattern.Length == 0 || !ExtraHeaderRules.IsToken(pattern.Replace("*", "x", StringComparison.Ordinal)))
            {
                reader.Error(table, "forward_client_headers", path + ".forward_client_headers", $"'{pattern}' is not a header name pattern (a token, '*' as wildcard)");
            }
        }
        if (reader.ErrorCount != errorsBefore)
        {
            return null;
        }

        return new ProviderConfig
        {
            ExtraHeaders = extraHeaders,
            ExtraBody = extraBody,
            AllowCredentialOverride = allowCredentialOverride,
            ForwardClientHeaders = [.. forward],
            Name = name,
            Type = info.Type,
            ModelName = modelName,
            ApiBase = apiBase,
            ApiKeyLocation = credential,
            DeploymentId = deploymentId,
            Endpoint = endpoint,
            Timeouts = timeouts,
        };
    }

    /// <summary>Parses <c>env::VAR</c> or <c>none</c>.</summary>
    internal static bool ParseCredentialLocation(string value, out CredentialLocation location, out string error)
    {
        location = default;
        error = "";
        if (value == "none")
        {
            location = CredentialLocation.None;
            return true;
        }
        if (value.StartsWith("env::", StringComparison.Ordinal) && value.Length > "env::".Length)
        {
            location = CredentialLocation.Env(value["env::".Length..]);
            return true;
        }
        error = value.StartsWith("dynamic::", StringComparison.Ordinal) || value.StartsWith("path::", StringComparison.Ordinal)
            ? $"'{value}' is not supported yet (use env::VARIABLE or none)"
            : $"'{value}' is not a credential location (use env::VARIABLE or none)";
        return false;
    }

    /// <summary>Parses an absolute http(s) URL and normalises it to end with '/', so relative paths append.</summary>
    internal static Uri? ParseHttpUrl(string value)
    {
        if (!Uri.TryCreate(value, UriKind.Absolute, out var uri)
            || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)
            || !string.IsNullOrEmpty(uri.Query) || !string.IsNullOrEmpty(uri.Fragment))
        {
            return null;
        }
        return uri.AbsoluteUri.EndsWith('/') ? uri : new Uri(uri.AbsoluteUri + "/");
    }

    internal static TimeoutsConfig MapTimeouts(TomlConfigReader reader, TomlTable parent, string parentPath)
    {
        var path = parentPath + ".timeouts";
        if (reader.Table(parent, parentPath, "timeouts") is not { } table)
        {
            return TimeoutsConfig.None;
        }

        reader.CheckKeys(table, path, ["non_streaming", "streaming"], []);
        TimeSpan? nonStreamingTotal = null, ttft = null, streamingTotal = null;
        if (reader.Table(table, path, "non_streaming") is { } nonStreaming)
        {
            reader.CheckKeys(nonStreaming, path + ".non_streaming", ["total_ms"], []);
            nonStreamingTotal = Milliseconds(reader, nonStreaming, path + ".non_streaming", "total_ms");
        }
        if (reader.Table(table, path, "streaming") is { } streaming)
        {
            reader.CheckKeys(streaming, path + ".streaming", ["ttft_ms", "total_ms"], []);
            ttft = Milliseconds(reader, streaming, path + ".streaming", "ttft_ms");
            streamingTotal = Milliseconds(reader, streaming, path + ".streaming", "total_ms");
            if (ttft is not null && streamingTotal is not null && streamingTotal < ttft)
            {
                reader.Warn(path + ".streaming",
                    $"total_ms ({streamingTotal.Value.TotalMilliseconds}) is below ttft_ms ({ttft.Value.TotalMilliseconds}): " +
                    "the first token must arrive within total_ms anyway, so ttft_ms has no effect");
            }
        }
        return new TimeoutsConfig(nonStreamingTotal, ttft, streamingTotal);
    }

    /// <summary>The largest timeout the gateway accepts: below the YARP activity timeout it sets on clusters.</summary>
    internal static readonly TimeSpan MaxTimeout = TimeSpan.FromHours(1);

    private static TimeSpan? Milliseconds(TomlConfigReader reader, TomlTable table, string path, string key)
    {
        var value = reader.Integer(table, path, key);
        if (value is null)
        {
            return null;
        }
        if (value <= 0)
        {
            reader.Error(table, key, $"{path}.{key}", $"must be a positive number of milliseconds (got {value})");
            return null;
        }
        if (value > (long)MaxTimeout.TotalMilliseconds)
        {
            reader.Error(table, key, $"{path}.{key}", $"must be at most {(long)MaxTimeout.TotalMilliseconds} ms (got {value})");
            return null;
        }
        return TimeSpan.FromMilliseconds(value.Value);
    }

    private static string JoinOrNone(IEnumerable<string> names)
    {
        var joined = string.Join(", ", names.Select(n => $"'{n}'"));
        return joined.Length == 0 ? "none" : joined;
    }
}
