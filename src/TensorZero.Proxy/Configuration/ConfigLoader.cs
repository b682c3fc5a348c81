using System.Collections.Frozen;
using System.Net;
using TensorZero.Proxy.Configuration.Toml;
using TensorZero.Proxy.Transforms;

namespace TensorZero.Proxy.Configuration;

/// <summary>The configuration could not be loaded; <see cref="Errors"/> lists every problem found.</summary>
public sealed class ConfigException : TensorZeroStartupException
{
    /// <summary>Creates the exception for every problem found, each as "key.path: message".</summary>
    public ConfigException(IReadOnlyList<string> errors)
        : base(FormatMessage(errors))
    {
        Errors = errors;
    }

    /// <summary>Creates the exception for one problem.</summary>
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
/// Maps <c>tensorzero.toml</c> (one file, or every file of a glob merged) to <see cref="GatewayConfig"/>. Like YARP's
/// config validation it does not stop at the first problem: every error is collected, with its TOML key path, before
/// failing. Unknown keys are errors, as in TensorZero. Every key TensorZero documents is accepted: mapped, accepted
/// with a warning where it would change nothing here, or rejected as not supported yet where ignoring it would be
/// unsafe (rate limits, relaying).
/// </summary>
internal static class ConfigLoader
{
    /// <summary>Reads and maps a file, or every file a glob (<c>config/tensorzero.*.toml</c>) matches.</summary>
    /// <param name="pathOrGlob">The file or glob.</param>
    /// <param name="inputs">
    /// Records every file and directory read, also when the load fails (so the reloader can watch a file that is missing
    /// or broken); a new one when null. The result's <see cref="GatewayConfig.Inputs"/> is this.
    /// </param>
    /// <exception cref="ConfigException">No file, a file that is not TOML, two files defining one key, or an invalid configuration.</exception>
    public static GatewayConfig LoadFile(string pathOrGlob, ConfigInputs? inputs = null)
    {
        var (root, sources) = ConfigFiles.Load(pathOrGlob, inputs ?? new ConfigInputs());
        return Map(root, sources);
    }

    /// <summary>Parses and maps TOML bytes; relative paths resolve against <paramref name="sourcePath"/>'s directory.</summary>
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
        if (sourcePath is null)
        {
            return Map(root, ConfigSources.None);
        }
        var sources = new ConfigSources([Path.GetFullPath(sourcePath)]);
        sources.AddDocument(root, Path.GetFullPath(sourcePath));
        return Map(root, sources);
    }

    /// <summary>Parses and maps TOML text (tests); relative paths resolve against the working directory.</summary>
    public static GatewayConfig Parse(string toml) => Parse(System.Text.Encoding.UTF8.GetBytes(toml));

    /// <summary>Maps a parsed (and possibly merged) document.</summary>
    public static GatewayConfig Map(TomlTable root, ConfigSources sources)
    {
        var reader = new TomlConfigReader(sources);
        reader.CheckKeys(root, "", TopLevelKeys);

        var gateway = GatewaySettingsMapper.Map(reader, reader.Table(root, "", "gateway"));
        var typeDefaults = ProviderConfigMapper.MapProviderTypes(reader, root);
        var models = MapSection(reader, root, "models",
            (name, table, path) => ProviderConfigMapper.MapModel(reader, name, table, path, gateway, typeDefaults));
        var embeddingModels = MapSection(reader, root, "embedding_models",
            (name, table, path) => ProviderConfigMapper.MapEmbeddingModel(reader, name, table, path, gateway, typeDefaults));
        var tools = MapSection(reader, root, "tools", (name, table, path) => SectionMapper.MapTool(reader, name, table, path));
        var metrics = MapSection(reader, root, "metrics", (name, table, path) => SectionMapper.MapMetric(reader, name, table, path));

        var names = new FunctionConfigMapper.KnownNames(
            DeclaredNames(root, "models"), DeclaredNames(root, "embedding_models"), DeclaredNames(root, "tools"), DeclaredNames(root, "metrics"));
        var functions = MapSection(reader, root, "functions", (name, table, path) => FunctionConfigMapper.Map(reader, name, table, path, names, gateway));
        FunctionConfigMapper.CheckNamespacedModels(reader, functions.Values, models);

        var objectStorage = SectionMapper.MapObjectStorage(reader, root);
        SectionMapper.MapCompatibilitySections(reader, root);
        var rateLimiting = RateLimiting.RateLimitingConfigMapper.Map(reader, root);

        reader.ThrowIfErrors();
        return new GatewayConfig
        {
            Gateway = gateway,
            Models = models.ToFrozenDictionary(StringComparer.Ordinal),
            Functions = functions.ToFrozenDictionary(StringComparer.Ordinal),
            Tools = tools.ToFrozenDictionary(StringComparer.Ordinal),
            Metrics = metrics.ToFrozenDictionary(StringComparer.Ordinal),
            EmbeddingModels = embeddingModels.ToFrozenDictionary(StringComparer.Ordinal),
            ObjectStorage = objectStorage,
            RateLimiting = rateLimiting,
            ProviderTypeDefaults = typeDefaults,
            SourcePath = sources.Files.IsEmpty ? null : sources.Files[0],
            SourcePaths = sources.Files,
            Inputs = sources.Inputs ?? ConfigInputs.None,
            Warnings = [.. reader.Warnings],
        };
    }

    /// <summary>The names a top-level section declares, mapped or not (so a broken model is reported once, not again by each user).</summary>
    private static FrozenSet<string> DeclaredNames(TomlTable root, string section) =>
        root.TryGetValue(section, out var value) && value is TomlTable table ? table.Keys.ToFrozenSet(StringComparer.Ordinal) : FrozenSet<string>.Empty;

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

    private static readonly string[] TopLevelKeys =
    [
        "gateway", "models", "embedding_models", "functions", "metrics", "tools", "object_storage", "provider_types",
        "evaluations", "optimizers", "postgres", "clickhouse", "rate_limiting", "autopilot",
    ];

    internal static bool IsValidBindAddress(string value)
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

    /// <summary>
    /// <c>timeouts = { non_streaming.total_ms, streaming.ttft_ms, streaming.total_ms }</c>; each must fit within
    /// <paramref name="limit"/> (<c>gateway.global_outbound_http_timeout_ms</c>), as TensorZero requires.
    /// </summary>
    internal static TimeoutsConfig MapTimeouts(TomlConfigReader reader, TomlTable parent, string parentPath, TimeSpan limit)
    {
        var path = parentPath + ".timeouts";
        if (reader.Table(parent, parentPath, "timeouts") is not { } table)
        {
            return TimeoutsConfig.None;
        }

        reader.CheckKeys(table, path, ["non_streaming", "streaming"]);
        TimeSpan? nonStreamingTotal = null, ttft = null, streamingTotal = null;
        if (reader.Table(table, path, "non_streaming") is { } nonStreaming)
        {
            reader.CheckKeys(nonStreaming, path + ".non_streaming", ["total_ms"]);
            nonStreamingTotal = Milliseconds(reader, nonStreaming, path + ".non_streaming", "total_ms", limit);
        }
        if (reader.Table(table, path, "streaming") is { } streaming)
        {
            reader.CheckKeys(streaming, path + ".streaming", ["ttft_ms", "total_ms"]);
            ttft = Milliseconds(reader, streaming, path + ".streaming", "ttft_ms", limit);
            streamingTotal = Milliseconds(reader, streaming, path + ".streaming", "total_ms", limit);
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

    private static TimeSpan? Milliseconds(TomlConfigReader reader, TomlTable table, string path, string key, TimeSpan limit)
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
        if (value > (long)limit.TotalMilliseconds)
        {
            reader.Error(table, key, $"{path}.{key}",
                $"must be at most gateway.global_outbound_http_timeout_ms ({(long)limit.TotalMilliseconds} ms; got {value}): raise that to allow longer requests");
            return null;
        }
        return TimeSpan.FromMilliseconds(value.Value);
    }

    internal static string JoinOrNone(IEnumerable<string> names)
    {
        var joined = string.Join(", ", names.Select(n => $"'{n}'"));
        return joined.Length == 0 ? "none" : joined;
    }
}

/// <summary>Maps <c>[gateway]</c>: the keys the gateway implements, those accepted for compatibility, and those it refuses.</summary>
internal static class GatewaySettingsMapper
{
    public static GatewaySettings Map(TomlConfigReader reader, TomlTable? table)
    {
        if (table is null)
        {
            return new GatewaySettings();
        }

        const string path = "gateway";
        reader.CheckKeys(table, path,
        [
            "bind_address", "base_path", "debug", "observability", "extra_headers", "template_filesystem_access", "export",
            "unstable_disable_feedback_target_validation", "unstable_error_json", "disable_pseudonymous_usage_analytics",
            "fetch_and_encode_input_files_before_inference", "auth", "global_outbound_http_timeout_ms", "relay", "metrics", "cache",
        ]);

        var bindAddress = reader.String(table, path, "bind_address");
        if (bindAddress is not null && !ConfigLoader.IsValidBindAddress(bindAddress))
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

        foreach (var key in (ReadOnlySpan<string>)["unstable_error_json",
            "disable_pseudonymous_usage_analytics", "fetch_and_encode_input_files_before_inference"])
        {
            reader.Compat(table, path, key, TomlKind.Boolean);
        }

        var global = GatewaySettings.DefaultGlobalOutboundHttpTimeout;
        if (reader.Integer(table, path, "global_outbound_http_timeout_ms") is { } globalMs)
        {
            if (globalMs <= 0 || globalMs > (long)ConfigLoader.MaxTimeout.TotalMilliseconds)
            {
                reader.Error(table, "global_outbound_http_timeout_ms", path + ".global_outbound_http_timeout_ms",
                    $"must be a positive number of milliseconds up to {(long)ConfigLoader.MaxTimeout.TotalMilliseconds} (got {globalMs})");
            }
            else
            {
                global = TimeSpan.FromMilliseconds(globalMs);
            }
        }

        string? templateBase = null;
        if (reader.Table(table, path, "template_filesystem_access") is { } access)
        {
            const string accessPath = "gateway.template_filesystem_access";
            reader.CheckKeys(access, accessPath, ["enabled", "base_path"]);
            if (reader.Bool(access, accessPath, "enabled") is not null)
            {
                reader.Warn(accessPath + ".enabled", TomlConfigReader.CompatibilityNote +
                    " (deprecated by TensorZero: template includes are enabled if and only if base_path is set)");
            }
            templateBase = reader.Directory(access, accessPath, "base_path");
        }

        MapExport(reader, table);
        MapMetrics(reader, table);
        var auth = MapAuth(reader, table);
        MapRelay(reader, table);

        return new GatewaySettings
        {
            ExtraHeaderLimits = MapExtraHeaderLimits(reader, table),
            BindAddress = bindAddress,
            BasePath = basePath,
            Debug = reader.Bool(table, path, "debug") ?? false,
            Observability = MapObservability(reader, table),
            TemplateBaseDirectory = templateBase,
            Cache = MapCache(reader, table),
            Auth = auth,
            GlobalOutboundHttpTimeout = global,
            DisableFeedbackTargetValidation = reader.Bool(table, path, "unstable_disable_feedback_target_validation") ?? false,
        };
    }

    private static ObservabilityConfig MapObservability(TomlConfigReader reader, TomlTable gateway)
    {
        if (reader.Table(gateway, "gateway", "observability") is not { } obs)
        {
            return new ObservabilityConfig();
        }
        const string path = "gateway.observability";
        reader.CheckKeys(obs, path, ["enabled", "async_writes", "backend", "batch_writes", "disable_automatic_migrations"]);
        var asyncWrites = reader.Bool(obs, path, "async_writes");
        if (reader.String(obs, path, "backend") is { } backend)
        {
            if (backend is "auto" or "clickhouse" or "postgres")
            {
                reader.Warn(path + ".backend", TomlConfigReader.CompatibilityNote + " (observability writes go to ClickHouse)");
            }
            else
            {
                reader.Error(obs, "backend", path + ".backend", $"unknown backend '{backend}' (supported: auto, clickhouse, postgres)");
            }
        }
        reader.Compat(obs, path, "disable_automatic_migrations", TomlKind.Boolean);
        if (reader.Table(obs, path, "batch_writes") is { } batch)
        {
            const string batchPath = path + ".batch_writes";
            reader.CheckKeys(batch, batchPath,
                ["enabled", "flush_interval_ms", "max_rows", "max_rows_postgres", "write_queue_capacity", "__force_allow_embedded_batch_writes"]);
            var enabled = reader.Bool(batch, batchPath, "enabled", required: true);
            foreach (var key in (ReadOnlySpan<string>)["flush_interval_ms", "max_rows", "max_rows_postgres", "write_queue_capacity"])
            {
                reader.Integer(batch, batchPath, key, 1, long.MaxValue);
            }
            reader.Bool(batch, batchPath, "__force_allow_embedded_batch_writes");
            // TensorZero's rule (its async_writes defaults to true): the two modes exclude each other.
            if (enabled == true && (asyncWrites ?? true))
            {
                reader.Error(batch, "enabled", batchPath + ".enabled", "batch writes and async writes cannot both be enabled; set gateway.observability.async_writes = false");
            }
            reader.Warn(batchPath, TomlConfigReader.CompatibilityNote + " (the gateway batches its writes itself)");
        }
        return new ObservabilityConfig
        {
            Enabled = reader.Bool(obs, path, "enabled"),
            AsyncWrites = asyncWrites ?? false,
        };
    }

    private static ExtraHeaderLimits MapExtraHeaderLimits(TomlConfigReader reader, TomlTable gateway)
    {
        var limits = ExtraHeaderLimits.Default;
        if (reader.Table(gateway, "gateway", "extra_headers") is not { } limitTable)
        {
            return limits;
        }
        const string limitPath = "gateway.extra_headers";
        reader.CheckKeys(limitTable, limitPath, ["max_entries", "max_name_bytes", "max_value_bytes"]);
        int Limit(string key, int fallback, int max) => (int)(reader.Integer(limitTable, limitPath, key, 1, max) ?? fallback);
        return new ExtraHeaderLimits(
            Limit("max_entries", limits.MaxEntries, 1024), Limit("max_name_bytes", limits.MaxNameBytes, 8192), Limit("max_value_bytes", limits.MaxValueBytes, 1 << 20));
    }

    private static CacheSettings MapCache(TomlConfigReader reader, TomlTable gateway)
    {
        if (reader.Table(gateway, "gateway", "cache") is not { } cache)
        {
            return CacheSettings.Default;
        }
        const string path = "gateway.cache";
        reader.CheckKeys(cache, path, ["enabled", "backend", "valkey"]);
        CacheBackend? backend = null;
        if (reader.String(cache, path, "backend") is { } text)
        {
            backend = text switch { "auto" => CacheBackend.Auto, "clickhouse" => CacheBackend.ClickHouse, "valkey" => CacheBackend.Valkey, _ => null };
            if (backend is null)
            {
                reader.Error(cache, "backend", path + ".backend", $"unknown cache backend '{text}' (supported: auto, clickhouse, valkey)");
            }
        }
        TimeSpan? ttl = null;
        if (reader.Table(cache, path, "valkey") is { } valkey)
        {
            reader.CheckKeys(valkey, path + ".valkey", ["ttl_s"]);
            if (reader.Integer(valkey, path + ".valkey", "ttl_s", 1, int.MaxValue) is { } seconds)
            {
                ttl = TimeSpan.FromSeconds(seconds);
            }
        }
        return new CacheSettings(reader.Bool(cache, path, "enabled"), backend, ttl);
    }

    private static void MapExport(TomlConfigReader reader, TomlTable gateway)
    {
        if (reader.Table(gateway, "gateway", "export") is not { } export)
        {
            return;
        }
        const string path = "gateway.export";
        reader.CheckKeys(export, path, ["otlp"]);
        if (reader.Table(export, path, "otlp") is { } otlp)
        {
            reader.CheckKeys(otlp, path + ".otlp", ["traces"]);
            if (reader.Table(otlp, path + ".otlp", "traces") is { } traces)
            {
                const string tracesPath = path + ".otlp.traces";
                reader.CheckKeys(traces, tracesPath, ["enabled", "format", "extra_headers", "include_content"]);
                reader.Bool(traces, tracesPath, "enabled");
                reader.Bool(traces, tracesPath, "include_content");
                if (reader.String(traces, tracesPath, "format") is { } format && format is not ("opentelemetry" or "openinference"))
                {
                    reader.Error(traces, "format", tracesPath + ".format", $"unknown format '{format}' (supported: opentelemetry, openinference)");
                }
                if (reader.Table(traces, tracesPath, "extra_headers") is { } headers)
                {
                    foreach (var (name, value) in headers)
                    {
                        if (value is not string)
                        {
                            reader.Error(headers, name, $"{tracesPath}.extra_headers.{name}", $"must be a string (got {TomlConfigReader.Describe(value)})");
                        }
                    }
                }
            }
        }
        reader.Warn(path, TomlConfigReader.CompatibilityNote + " (no OpenTelemetry export)");
    }

    private static void MapMetrics(TomlConfigReader reader, TomlTable gateway)
    {
        if (reader.Table(gateway, "gateway", "metrics") is not { } metrics)
        {
            return;
        }
        const string path = "gateway.metrics";
        const string key = "tensorzero_inference_latency_overhead_seconds_buckets";
        reader.CheckKeys(metrics, path, [key]);
        if (reader.Array(metrics, path, key) is { } buckets)
        {
            var previous = double.NegativeInfinity;
            for (var i = 0; i < buckets.Count; i++)
            {
                var bucket = buckets[i] switch { long l => l, double d => d, _ => double.NaN };
                if (!double.IsFinite(bucket) || bucket < 0 || bucket <= previous)
                {
                    reader.Error(metrics, key, $"{path}.{key}[{i}]", "must be finite, non-negative numbers in strictly ascending order");
                    break;
                }
                previous = bucket;
            }
        }
        reader.Warn(path, TomlConfigReader.CompatibilityNote);
    }

    private static AuthSettings MapAuth(TomlConfigReader reader, TomlTable gateway)
    {
        if (reader.Table(gateway, "gateway", "auth") is not { } auth)
        {
            return AuthSettings.Disabled;
        }
        const string path = "gateway.auth";
        reader.CheckKeys(auth, path, ["enabled", "cache"]);
        var cacheEnabled = true;
        var ttl = AuthSettings.DefaultCacheTtl;
        if (reader.Table(auth, path, "cache") is { } cache)
        {
            const string cachePath = path + ".cache";
            reader.CheckKeys(cache, cachePath, ["enabled", "ttl_ms"]);
            cacheEnabled = reader.Bool(cache, cachePath, "enabled") ?? true;
            if (reader.Integer(cache, cachePath, "ttl_ms", 0, AuthSettings.MaxCacheTtlMs) is { } ms)
            {
                ttl = TimeSpan.FromMilliseconds(ms);
            }
        }
        // Required as in TensorZero: a [gateway.auth] table that does not say whether auth is on is a mistake.
        var enabled = reader.Bool(auth, path, "enabled", required: true) ?? false;
        return new AuthSettings(enabled, cacheEnabled, ttl);
    }

    private static void MapRelay(TomlConfigReader reader, TomlTable gateway)
    {
        if (reader.Table(gateway, "gateway", "relay") is not { } relay)
        {
            return;
        }
        const string path = "gateway.relay";
        reader.CheckKeys(relay, path, ["gateway_url", "api_key_location"]);
        ProviderConfigMapper.ParseCredential(reader, relay, path, "api_key_location", allowSdk: false, allowFallback: true);
        if (reader.String(relay, path, "gateway_url") is { } url)
        {
            if (ConfigLoader.ParseHttpUrl(url) is null)
            {
                reader.Error(relay, "gateway_url", path + ".gateway_url", $"'{url}' is not an http(s) URL");
            }
            else
            {
                // Ignoring it would call the providers directly where the operator routed every model through another gateway.
                reader.Error(relay, "gateway_url", path + ".gateway_url",
                    "relaying to another TensorZero gateway is not supported yet by TensorZero.Proxy; remove it or point clients at that gateway directly");
            }
        }
        else
        {
            reader.Warn(path, TomlConfigReader.CompatibilityNote + " (no gateway_url: nothing is relayed)");
        }
    }
}
