using System.Collections.Frozen;
using System.Collections.Immutable;
using System.Text.Json;
using TensorZero.Proxy.Configuration.Toml;
using TensorZero.Proxy.Transforms;

namespace TensorZero.Proxy.Configuration;

/// <summary>
/// Maps <c>[models.M]</c>, their providers (every TensorZero provider type), <c>[embedding_models.E]</c>,
/// <c>[provider_types]</c> and credential locations, reporting every error with its key path.
/// </summary>
internal static class ProviderConfigMapper
{
    /// <summary>Keys every provider of a model has, whatever its type.</summary>
    private static readonly string[] ModelProviderKeys =
        ["type", "timeouts", "extra_headers", "extra_body", "discard_unknown_chunks", "cost", "batch_cost", "allow_credential_override", "forward_client_headers"];

    /// <summary>Keys every provider of an embedding model has, whatever its type.</summary>
    private static readonly string[] EmbeddingProviderKeys = ["type", "timeout_ms", "extra_headers", "extra_body", "cost"];

    public static ModelConfig? MapModel(
        TomlConfigReader reader, string name, TomlTable table, string path, GatewaySettings gateway,
        IReadOnlyDictionary<ProviderType, CredentialLocation> typeDefaults)
    {
        reader.CheckKeys(table, path, ["routing", "providers", "timeouts", "skip_relay", "namespace"]);
        var errorsBefore = reader.ErrorCount;
        if (ProviderTypeInfo.HasReservedPrefix(name))
        {
            reader.Error(path, $"the model name '{name}' starts with a reserved prefix ('tensorzero::' or a provider type followed by '::' names a shorthand)");
        }
        reader.Compat(table, path, "skip_relay", TomlKind.Boolean);
        var ns = MapNamespace(reader, table, path);

        var (routing, providers) = MapRoutingAndProviders(reader, table, path,
            (providerName, providerTable, providerPath) => MapProvider(reader, providerName, providerTable, providerPath, gateway, typeDefaults, embedding: false));
        var timeouts = ConfigLoader.MapTimeouts(reader, table, path, gateway.GlobalOutboundHttpTimeout);
        if (reader.ErrorCount != errorsBefore)
        {
            return null;
        }
        return new ModelConfig
        {
            Name = name,
            Routing = routing,
            Providers = providers,
            Timeouts = timeouts,
            Namespace = ns,
        };
    }

    public static EmbeddingModelConfig? MapEmbeddingModel(
        TomlConfigReader reader, string name, TomlTable table, string path, GatewaySettings gateway,
        IReadOnlyDictionary<ProviderType, CredentialLocation> typeDefaults)
    {
        reader.CheckKeys(table, path, ["routing", "providers", "timeout_ms"]);
        var errorsBefore = reader.ErrorCount;
        if (ProviderTypeInfo.HasReservedPrefix(name))
        {
            reader.Error(path, $"the embedding model name '{name}' starts with a reserved prefix ('tensorzero::' or a provider type followed by '::')");
        }
        var (routing, providers) = MapRoutingAndProviders(reader, table, path,
            (providerName, providerTable, providerPath) => MapProvider(reader, providerName, providerTable, providerPath, gateway, typeDefaults, embedding: true));
        var timeout = TimeoutMs(reader, table, path, gateway);
        if (reader.ErrorCount != errorsBefore)
        {
            return null;
        }
        return new EmbeddingModelConfig { Name = name, Routing = routing, Providers = providers, Timeout = timeout };
    }

    /// <summary>
    /// <c>namespace</c> of a model or variant: a non-empty string not starting with <c>tensorzero::</c>. Accepted, with
    /// a warning: namespaces select experimentation per request, which the gateway does not do.
    /// </summary>
    internal static string? MapNamespace(TomlConfigReader reader, TomlTable table, string path)
    {
        if (reader.String(table, path, "namespace") is not { } ns)
        {
            return null;
        }
        if (ns.Length == 0 || ns.StartsWith("tensorzero::", StringComparison.Ordinal))
        {
            reader.Error(table, "namespace", path + ".namespace", "must be a non-empty name that does not start with 'tensorzero::'");
            return null;
        }
        reader.Warn(path + ".namespace", TomlConfigReader.CompatibilityNote + " (namespaces are not applied: a namespaced variant is only reached when pinned)");
        return ns;
    }

    private static (ImmutableArray<string> Routing, FrozenDictionary<string, ProviderConfig> Providers) MapRoutingAndProviders(
        TomlConfigReader reader, TomlTable table, string path, Func<string, TomlTable, string, ProviderConfig?> mapProvider)
    {
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
                if (mapProvider(providerName, providerTable, providerPath) is { } provider)
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
                        $"names provider '{entry}', which is not defined under [{path}.providers] (defined: {ConfigLoader.JoinOrNone(providerTables.Keys)})");
                }
            }
        }
        return ([.. routing ?? []], providers.ToFrozenDictionary(StringComparer.Ordinal));
    }

    private static ProviderConfig? MapProvider(
        TomlConfigReader reader, string name, TomlTable table, string path, GatewaySettings gateway,
        IReadOnlyDictionary<ProviderType, CredentialLocation> typeDefaults, bool embedding)
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
        if (embedding && !(info.IsOpenAICompatible || info.Type is ProviderType.Azure or ProviderType.Dummy))
        {
            // TensorZero's embedding providers are openai, azure, openrouter (and dummy); the other OpenAI-compatible types
            // serve the same /embeddings endpoint at their api_base, so they are accepted too.
            reader.Error(table, "type", path + ".type",
                $"provider type '{info.TomlName}' has no embeddings endpoint (embedding providers: openai, azure and the OpenAI-compatible types)");
            return null;
        }
        reader.CheckKeys(table, path, [.. embedding ? EmbeddingProviderKeys : ModelProviderKeys, .. TypeKeys(info.Type)]);
        var typed = MapTypeKeys(reader, table, path, info);

        TimeoutsConfig timeouts;
        bool allowCredentialOverride = false;
        string[] forward = [];
        if (embedding)
        {
            timeouts = TimeoutMs(reader, table, path, gateway) is { } timeout ? new TimeoutsConfig(timeout, null, null) : TimeoutsConfig.None;
            reader.Compat(table, path, "cost", TomlKind.TableArray);
        }
        else
        {
            timeouts = ConfigLoader.MapTimeouts(reader, table, path, gateway.GlobalOutboundHttpTimeout);
            reader.Compat(table, path, "discard_unknown_chunks", TomlKind.Boolean);
            reader.Compat(table, path, "cost", TomlKind.TableArray);
            reader.Compat(table, path, "batch_cost", TomlKind.TableArray);
            allowCredentialOverride = reader.Bool(table, path, "allow_credential_override") ?? false;
            forward = reader.StringArray(table, path, "forward_client_headers") ?? [];
            foreach (var pattern in forward)
            {
                if (pattern.Length == 0 || !ExtraHeaderRules.IsToken(pattern.Replace("*", "x", StringComparison.Ordinal)))
                {
                    reader.Error(table, "forward_client_headers", path + ".forward_client_headers", $"'{pattern}' is not a header name pattern (a token, '*' as wildcard)");
                }
            }
        }
        var extraHeaders = ExtraConfigMapper.Headers(reader, table, path, gateway.ExtraHeaderLimits);
        var extraBody = ExtraConfigMapper.Body(reader, table, path);

        // What the gateway cannot call yet: other protocols, OpenAI's Responses API, an Azure endpoint given per request.
        var dynamicEndpoint = typed.Endpoint?.StartsWith("dynamic::", StringComparison.Ordinal) == true;
        // The in-process dummy answers chat requests only; its embeddings (TensorZero's test fixtures) are not served.
        var dummyEmbeddings = embedding && info.Type == ProviderType.Dummy;
        var implemented = info.IsImplemented && typed.ApiType == OpenAIApiType.ChatCompletions && !dynamicEndpoint && !dummyEmbeddings;
        if (!implemented && reader.ErrorCount == errorsBefore)
        {
            reader.Warn(path, ProviderTypeInfo.NotImplementedMessage(
                typed.ApiType == OpenAIApiType.Responses ? "openai (api_type = \"responses\")" : dynamicEndpoint ? "azure (endpoint = \"dynamic::...\")"
                : dummyEmbeddings ? "dummy (embeddings)" : info.TomlName));
        }
        if (reader.ErrorCount != errorsBefore)
        {
            return null;
        }

        return new ProviderConfig
        {
            Name = name,
            Type = info.Type,
            Implemented = implemented,
            ModelName = typed.ModelName,
            ApiBase = typed.ApiBase,
            ApiKeyLocation = typed.Credential ?? typeDefaults.GetValueOrDefault(info.Type) ?? info.DefaultCredential,
            DeploymentId = typed.DeploymentId,
            Endpoint = typed.Endpoint,
            ApiType = typed.ApiType,
            TypeSettings = typed.Settings.ToFrozenDictionary(StringComparer.Ordinal),
            Timeouts = timeouts,
            ExtraHeaders = extraHeaders,
            ExtraBody = [.. typed.BodyEntries, .. extraBody],
            AllowCredentialOverride = allowCredentialOverride,
            ForwardClientHeaders = [.. forward],
        };
    }

    /// <summary>The keys of each provider type (TensorZero's, plus <c>api_base</c> on every OpenAI-compatible type and <c>model_name</c> on tgi).</summary>
    private static string[] TypeKeys(ProviderType type) => type switch
    {
        ProviderType.OpenAI => ["model_name", "api_base", "api_key_location", "api_type", "include_encrypted_reasoning", "provider_tools", "content_type_overrides"],
        ProviderType.Azure => ["deployment_id", "endpoint", "api_key_location"],
        ProviderType.Vllm or ProviderType.SGLang => ["model_name", "api_base", "api_key_location"],
        ProviderType.Tgi => ["api_base", "api_key_location", "model_name"],
        ProviderType.Together or ProviderType.Fireworks => ["model_name", "api_key_location", "parse_think_blocks", "api_base"],
        ProviderType.Groq => ["model_name", "api_key_location", "reasoning_format", "api_base"],
        ProviderType.Mistral => ["model_name", "api_key_location", "prompt_mode", "api_base"],
        ProviderType.DeepSeek or ProviderType.OpenRouter or ProviderType.XAI or ProviderType.Hyperbolic => ["model_name", "api_key_location", "api_base"],
        ProviderType.Dummy => ["model_name", "api_key_location"],
        ProviderType.Anthropic => ["model_name", "api_base", "api_key_location", "beta_structured_outputs", "provider_tools"],
        ProviderType.AwsBedrock => ["model_id", "region", "allow_auto_detect_region", "endpoint_url", "api_key", "access_key_id", "secret_access_key", "session_token"],
        ProviderType.AwsSagemaker => ["endpoint_name", "model_name", "region", "allow_auto_detect_region", "hosted_provider", "endpoint_url", "access_key_id", "secret_access_key", "session_token"],
        ProviderType.GcpVertexAnthropic => ["model_id", "location", "project_id", "credential_location", "provider_tools"],
        ProviderType.GcpVertexGemini => ["model_id", "endpoint_id", "location", "project_id", "credential_location"],
        // api_base is this gateway's extension (TensorZero's URL is fixed): a proxy or a test server in front of Gemini.
        ProviderType.GoogleAIStudioGemini => ["model_name", "api_key_location", "api_base"],
        _ => [],
    };

    private sealed class TypedKeys
    {
        public string? ModelName;
        public Uri? ApiBase;
        public CredentialLocation? Credential;
        public string? DeploymentId;
        public string? Endpoint;
        public OpenAIApiType ApiType = OpenAIApiType.ChatCompletions;
        public readonly Dictionary<string, string> Settings = new(StringComparer.Ordinal);
        public readonly List<ExtraBodyEntry> BodyEntries = [];
    }

    private static TypedKeys MapTypeKeys(TomlConfigReader reader, TomlTable table, string path, ProviderTypeInfo info)
    {
        var typed = new TypedKeys();
        var implemented = info.IsImplemented;
        switch (info.Type)
        {
            case ProviderType.Azure:
                typed.DeploymentId = reader.NonEmptyString(table, path, "deployment_id", required: true);
                typed.Endpoint = reader.NonEmptyString(table, path, "endpoint", required: true);
                if (typed.Endpoint is { } endpoint && !endpoint.StartsWith("env::", StringComparison.Ordinal)
                    && !endpoint.StartsWith("dynamic::", StringComparison.Ordinal) && ConfigLoader.ParseHttpUrl(endpoint) is null)
                {
                    reader.Error(table, "endpoint", path + ".endpoint", $"'{endpoint}' is not an http(s) URL, env::VARIABLE or dynamic::NAME");
                }
                break;
            case ProviderType.Tgi:
                // TensorZero's tgi has no model_name and sends "tgi" as the model (TGI serves one model and ignores it).
                typed.ModelName = reader.NonEmptyString(table, path, "model_name") ?? "tgi";
                break;
            case ProviderType.AwsBedrock:
                typed.ModelName = Setting(reader, table, path, "model_id", typed, required: true);
                break;
            case ProviderType.AwsSagemaker:
                Setting(reader, table, path, "endpoint_name", typed, required: true);
                typed.ModelName = Setting(reader, table, path, "model_name", typed, required: true);
                if (Setting(reader, table, path, "hosted_provider", typed, required: true) is { } hosted && hosted is not ("openai" or "tgi"))
                {
                    reader.Error(table, "hosted_provider", path + ".hosted_provider", $"unknown hosted provider '{hosted}' (supported: openai, tgi)");
                }
                break;
            case ProviderType.GcpVertexAnthropic:
                typed.ModelName = Setting(reader, table, path, "model_id", typed, required: true);
                Setting(reader, table, path, "location", typed, required: true);
                Setting(reader, table, path, "project_id", typed, required: true);
                break;
            case ProviderType.GcpVertexGemini:
                var modelId = Setting(reader, table, path, "model_id", typed);
                var endpointId = Setting(reader, table, path, "endpoint_id", typed);
                if (table.ContainsKey("model_id") == table.ContainsKey("endpoint_id"))
                {
                    reader.Error(path, "exactly one of 'model_id' and 'endpoint_id' must be set");
                }
                typed.ModelName = modelId ?? endpointId;
                Setting(reader, table, path, "location", typed, required: true);
                Setting(reader, table, path, "project_id", typed, required: true);
                break;
            default:
                typed.ModelName = reader.NonEmptyString(table, path, "model_name", required: true);
                break;
        }

        if (table.ContainsKey("api_base"))
        {
            var apiBaseText = reader.String(table, path, "api_base");
            if (apiBaseText is not null)
            {
                typed.ApiBase = ConfigLoader.ParseHttpUrl(apiBaseText);
                if (typed.ApiBase is null)
                {
                    reader.Error(table, "api_base", path + ".api_base", $"'{apiBaseText}' is not an http(s) URL");
                }
            }
        }
        else if (info.RequiresApiBase)
        {
            reader.Error(path, "missing required key 'api_base'");
        }
        else if (info.DefaultApiBase is not null)
        {
            typed.ApiBase = new Uri(info.DefaultApiBase);
        }

        var credentialKey = info.Type is ProviderType.GcpVertexAnthropic or ProviderType.GcpVertexGemini ? "credential_location" : "api_key_location";
        if (table.ContainsKey(credentialKey))
        {
            typed.Credential = ParseCredential(reader, table, path, credentialKey, info.AllowsSdkCredential, allowFallback: true);
        }
        foreach (var key in (ReadOnlySpan<string>)["access_key_id", "secret_access_key", "session_token", "api_key"])
        {
            if (table.ContainsKey(key) && ParseCredential(reader, table, path, key, allowSdk: key != "api_key", allowFallback: false) is { } location)
            {
                typed.Settings[key] = location.ToString();
            }
        }
        foreach (var key in (ReadOnlySpan<string>)["region", "endpoint_url"])
        {
            // A credential location or a literal value (TensorZero's CredentialLocationOrHardcoded).
            Setting(reader, table, path, key, typed);
        }
        if (reader.Bool(table, path, "allow_auto_detect_region") is { } autoDetect)
        {
            typed.Settings["allow_auto_detect_region"] = autoDetect ? "true" : "false";
        }

        if (reader.String(table, path, "api_type") is { } apiType)
        {
            switch (apiType)
            {
                case "chat_completions":
                    break;
                case "responses":
                    typed.ApiType = OpenAIApiType.Responses;
                    break;
                default:
                    reader.Error(table, "api_type", path + ".api_type", $"unknown API type '{apiType}' (supported: chat_completions, responses)");
                    break;
            }
        }
        if (reader.Bool(table, path, "beta_structured_outputs") is { } beta)
        {
            typed.Settings["beta_structured_outputs"] = beta ? "true" : "false";
        }

        // Keys that only change TensorZero's handling of the answer, or features the gateway does not have.
        Shape(reader, table, path, "include_encrypted_reasoning", TomlKind.Boolean, implemented);
        if (info.Type == ProviderType.Anthropic && table.TryGetValue("provider_tools", out var providerTools) && TomlConfigReader.Is(providerTools, TomlKind.TableArray))
        {
            // Anthropic's server tools (web search, ...): sent after the function tools, as TensorZero sends them.
            if (ExtraConfigMapper.ToJson(providerTools, out var why) is { } json)
            {
                typed.Settings["provider_tools"] = json;
            }
            else
            {
                reader.Error(table, "provider_tools", path + ".provider_tools", why ?? "cannot be written as JSON");
            }
        }
        else
        {
            Shape(reader, table, path, "provider_tools", TomlKind.TableArray, implemented);
        }
        Shape(reader, table, path, "content_type_overrides", TomlKind.Table, implemented);
        Shape(reader, table, path, "parse_think_blocks", TomlKind.Boolean, implemented);

        // Typed request fields TensorZero adds to the body of these providers: the same as an extra_body entry.
        foreach (var (key, pointer) in (ReadOnlySpan<(string, string)>)[("reasoning_format", "/reasoning_format"), ("prompt_mode", "/prompt_mode")])
        {
            if (reader.String(table, path, key) is { } text)
            {
                typed.BodyEntries.Add(new ExtraBodyEntry(ExtraEntryFilter.Always, pointer, JsonSerializer.Serialize(text)));
            }
        }
        return typed;
    }

    /// <summary>A string key of a type the gateway does not call, kept in <see cref="ProviderConfig.TypeSettings"/>.</summary>
    private static string? Setting(TomlConfigReader reader, TomlTable table, string path, string key, TypedKeys typed, bool required = false)
    {
        var value = reader.NonEmptyString(table, path, key, required);
        if (value is not null)
        {
            typed.Settings[key] = value;
        }
        return value;
    }

    /// <summary>A compatibility key: its type is checked; on a provider the gateway calls, it is also reported.</summary>
    private static void Shape(TomlConfigReader reader, TomlTable table, string path, string key, TomlKind kind, bool warn)
    {
        if (warn)
        {
            reader.Compat(table, path, key, kind);
        }
        else if (table.TryGetValue(key, out var value) && !TomlConfigReader.Is(value, kind))
        {
            reader.Error(table, key, TomlConfigReader.Join(path, key), $"must be {TomlConfigReader.Describe(kind)} (got {TomlConfigReader.Describe(value)})");
        }
    }

    private static TimeSpan? TimeoutMs(TomlConfigReader reader, TomlTable table, string path, GatewaySettings gateway)
    {
        var ms = reader.Integer(table, path, "timeout_ms");
        if (ms is null)
        {
            return null;
        }
        var max = (long)Math.Min(ConfigLoader.MaxTimeout.TotalMilliseconds, gateway.GlobalOutboundHttpTimeout.TotalMilliseconds);
        if (ms <= 0 || ms > max)
        {
            reader.Error(table, "timeout_ms", path + ".timeout_ms", $"must be a positive number of milliseconds up to {max} (got {ms})");
            return null;
        }
        return TimeSpan.FromMilliseconds(ms.Value);
    }

    /// <summary>
    /// A credential location: <c>"env::VAR"</c>, <c>"none"</c>, <c>"dynamic::NAME"</c>, <c>"path::FILE"</c>,
    /// <c>"path_from_env::VAR"</c>, <c>"sdk"</c> (where allowed), or <c>{ default = "...", fallback = "..." }</c>.
    /// </summary>
    internal static CredentialLocation? ParseCredential(
        TomlConfigReader reader, TomlTable table, string path, string key, bool allowSdk, bool allowFallback)
    {
        var keyPath = TomlConfigReader.Join(path, key);
        if (!table.TryGetValue(key, out var value))
        {
            return null;
        }
        if (value is string text)
        {
            if (ParseCredentialLocation(text, allowSdk, out var location, out var why))
            {
                return location;
            }
            reader.Error(table, key, keyPath, why);
            return null;
        }
        if (value is TomlTable both && allowFallback)
        {
            var unknown = both.Keys.Where(k => k is not ("default" or "fallback")).ToList();
            if (unknown.Count > 0 || both.Get("default") is not string defaultText || both.Get("fallback") is not string fallbackText)
            {
                reader.Error(table, key, keyPath, "must be { default = \"...\", fallback = \"...\" } with two credential locations (strings)" +
                    (unknown.Count > 0 ? $"; unknown key '{unknown[0]}'" : ""));
                return null;
            }
            if (!ParseCredentialLocation(defaultText, allowSdk, out var primary, out var why))
            {
                reader.Error(table, key, keyPath + ".default", why);
                return null;
            }
            if (!ParseCredentialLocation(fallbackText, allowSdk, out var fallback, out why))
            {
                reader.Error(table, key, keyPath + ".fallback", why);
                return null;
            }
            return primary with { Fallback = fallback };
        }
        reader.Error(table, key, keyPath, allowFallback
            ? $"must be a credential location string or {{ default = \"...\", fallback = \"...\" }} (got {TomlConfigReader.Describe(value)})"
            : $"must be a credential location string (got {TomlConfigReader.Describe(value)})");
        return null;
    }

    /// <summary>Parses one credential location string.</summary>
    internal static bool ParseCredentialLocation(string value, bool allowSdk, out CredentialLocation location, out string error)
    {
        location = CredentialLocation.None;
        error = "";
        if (value == "none")
        {
            return true;
        }
        if (value == "sdk")
        {
            location = CredentialLocation.Sdk;
            if (!allowSdk)
            {
                error = "'sdk' is only a credential location of the aws_bedrock, aws_sagemaker, gcp_vertex_anthropic and gcp_vertex_gemini types";
                return false;
            }
            return true;
        }
        foreach (var (prefix, source) in (ReadOnlySpan<(string, CredentialSource)>)[
            ("env::", CredentialSource.Env), ("dynamic::", CredentialSource.Dynamic),
            ("path_from_env::", CredentialSource.PathFromEnv), ("path::", CredentialSource.Path)])
        {
            if (value.StartsWith(prefix, StringComparison.Ordinal))
            {
                if (value.Length == prefix.Length)
                {
                    error = $"'{value}' names nothing after '{prefix}'";
                    return false;
                }
                location = new CredentialLocation(source, value[prefix.Length..]);
                return true;
            }
        }
        error = $"'{value}' is not a credential location (use env::VARIABLE, dynamic::NAME, path::FILE, path_from_env::VARIABLE{(allowSdk ? ", sdk" : "")} or none)";
        return false;
    }

    /// <summary>
    /// <c>[provider_types]</c>: <c>T.defaults.api_key_location</c> (<c>credential_location</c> for the GCP types) replaces
    /// type T's default credential; TensorZero's other keys (<c>sft</c>, <c>batch</c>: fine-tuning and batch settings)
    /// are accepted for compatibility.
    /// </summary>
    public static FrozenDictionary<ProviderType, CredentialLocation> MapProviderTypes(TomlConfigReader reader, TomlTable root)
    {
        const string path = "provider_types";
        var result = new Dictionary<ProviderType, CredentialLocation>();
        if (reader.Table(root, "", path) is not { } table)
        {
            return result.ToFrozenDictionary();
        }
        string[] types = ["anthropic", "azure", "deepseek", "fireworks", "gcp_vertex_gemini", "gcp_vertex_anthropic", "google_ai_studio_gemini",
            "groq", "hyperbolic", "mistral", "openai", "openrouter", "sglang", "tgi", "together", "vllm", "xai"];
        reader.CheckKeys(table, path, types);
        foreach (var (typeName, value) in table)
        {
            var typePath = $"{path}.{typeName}";
            if (!ProviderTypeInfo.TryGet(typeName, out var info))
            {
                continue;
            }
            if (value is not TomlTable typeTable)
            {
                reader.Error(table, typeName, typePath, "must be a table");
                continue;
            }
            string[] extra = info.Type switch
            {
                ProviderType.Fireworks or ProviderType.Together or ProviderType.OpenAI => ["sft"],
                ProviderType.GcpVertexGemini => ["sft", "batch"],
                _ => [],
            };
            reader.CheckKeys(typeTable, typePath, ["defaults", .. extra]);
            foreach (var key in extra)
            {
                reader.Compat(typeTable, typePath, key, TomlKind.Table);
            }
            if (reader.Table(typeTable, typePath, "defaults") is { } defaults)
            {
                var defaultsPath = typePath + ".defaults";
                var credentialKey = info.Type is ProviderType.GcpVertexAnthropic or ProviderType.GcpVertexGemini ? "credential_location" : "api_key_location";
                reader.CheckKeys(defaults, defaultsPath, [credentialKey]);
                if (!defaults.ContainsKey(credentialKey))
                {
                    reader.Error(defaultsPath, $"missing required key '{credentialKey}'");
                }
                else if (ParseCredential(reader, defaults, defaultsPath, credentialKey, info.AllowsSdkCredential, allowFallback: true) is { } location)
                {
                    result[info.Type] = location;
                }
            }
        }
        return result.ToFrozenDictionary();
    }

    private static object? Get(this TomlTable table, string key) => table.TryGetValue(key, out var value) ? value : null;
}
