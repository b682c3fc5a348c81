using TensorZero.Proxy.Functions;
using System.Collections.Concurrent;
using System.Collections.Frozen;
using TensorZero.Proxy.Configuration;
using TensorZero.Proxy.Transforms;
using TensorZero.Proxy.Providers;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Forwarder;

namespace TensorZero.Proxy.Routing;

/// <summary>
/// The runtime snapshot built from one <see cref="GatewayConfig"/>: models with their providers in routing
/// order, credentials resolved, request policies and YARP clusters precomputed. Immutable apart from a
/// cache of shorthand models; a reload builds a new snapshot and swaps it whole.
/// </summary>
internal sealed class GatewayRuntime
{
    /// <summary>The YARP cluster the inference routes point at; it has no destinations, the middleware picks them.</summary>
    public const string InferenceClusterId = TensorZeroRoutes.ClusterId;

    private readonly Func<string, string?> _environment;
    private readonly ConcurrentDictionary<string, RuntimeModel> _shorthands = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, RuntimeModel> _embeddingShorthands = new(StringComparer.Ordinal);

    private GatewayRuntime(
        GatewayConfig config, FrozenDictionary<string, RuntimeModel> models, FrozenDictionary<string, RuntimeFunction> functions,
        TimeSpan activityTimeout, Func<string, string?> environment, ConfigInputs inputs)
    {
        Config = config;
        Models = models;
        EmbeddingModels = FrozenDictionary<string, RuntimeModel>.Empty;
        Functions = functions;
        ActivityTimeout = activityTimeout;
        RequestConfig = new ForwarderRequestConfig { ActivityTimeout = activityTimeout };
        Inputs = inputs;
        _environment = environment;
        HasConfiguredExtraBody = models.Values.Any(m => m.Providers.Any(p => p.Config.ExtraBody.Length > 0))
            || functions.Values.Any(f => f.Variants.Values.Any(v => v.Config.ExtraBody.Length > 0 || v.Model.Providers.Any(p => p.Config.ExtraBody.Length > 0)));
    }

    public GatewayConfig Config { get; }

    /// <summary>The public description of <see cref="Config"/> (<see cref="TensorZeroGateway.Config"/>).</summary>
    public TensorZeroConfigFile Summary => _summary ??= new TensorZeroConfigFile(Config.SourcePath ?? "", Config);

    private TensorZeroConfigFile? _summary;

    /// <summary>
    /// <c>gateway.global_outbound_http_timeout_ms</c> as a provider-level timeout every attempt also has: no request
    /// to a provider lasts longer, whatever its own timeouts say (TensorZero's global HTTP client timeout).
    /// </summary>
    public TimeoutsConfig OutboundTimeouts => _outbound ??= new TimeoutsConfig(
        Config.Gateway.GlobalOutboundHttpTimeout, null, Config.Gateway.GlobalOutboundHttpTimeout);

    private TimeoutsConfig? _outbound;

    public FrozenDictionary<string, RuntimeModel> Models { get; }

    public FrozenDictionary<string, RuntimeFunction> Functions { get; }

    /// <summary>
    /// <c>[embedding_models.E]</c> with their providers in routing order, each sending to the provider's embeddings
    /// endpoint (<c>{api_base}embeddings</c>, Azure's <c>deployments/{id}/embeddings</c>); the model's <c>timeout_ms</c> and
    /// each provider's <c>timeout_ms</c> are their <see cref="TimeoutsConfig.NonStreamingTotal"/>.
    /// </summary>
    public FrozenDictionary<string, RuntimeModel> EmbeddingModels { get; private init; }

    /// <summary>Whether any provider or variant configures <c>extra_body</c> (their patches are checked per request).</summary>
    public bool HasConfiguredExtraBody { get; }

    /// <summary>
    /// YARP's per-request activity timeout for every cluster. It also bounds time-to-headers and the gap
    /// between streamed tokens, so it is kept above every configured timeout: our deadlines are the limits.
    /// </summary>
    public TimeSpan ActivityTimeout { get; }

    /// <summary>The request settings of every provider cluster (<see cref="ActivityTimeout"/>).</summary>
    public ForwarderRequestConfig RequestConfig { get; }

    /// <summary>
    /// The HTTP client settings of every provider cluster. A provider whose cluster is gone from YARP (a reload removed
    /// it while a request on this snapshot still runs) is reached through a client with these same settings.
    /// </summary>
    public static HttpClientConfig ProviderHttpClient { get; } = new() { DangerousAcceptAnyServerCertificate = false, EnableMultipleHttp2Connections = true };

    /// <summary>What the configuration was built from: its files, and the credential files the build read.</summary>
    public ConfigInputs Inputs { get; }

    /// <summary>Builds the snapshot; a routed provider whose credential variable is unset is an error.</summary>
    /// <exception cref="ConfigException">Every missing credential, with its key path.</exception>
    public static GatewayRuntime Build(GatewayConfig config, Func<string, string?> environment) =>
        Build(config, environment, config.Inputs.With(inputs => AddCredentialFiles(inputs, config, environment)));

    /// <summary>
    /// Builds the snapshot, recording what it is built from in <paramref name="inputs"/> (the configuration's inputs
    /// plus the credential files, recorded before they are read). The reloader passes its own so that a build that
    /// fails still says which files to watch.
    /// </summary>
    /// <exception cref="ConfigException">Every missing credential, with its key path.</exception>
    public static GatewayRuntime Build(GatewayConfig config, Func<string, string?> environment, ConfigInputs inputs)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(environment);
        ArgumentNullException.ThrowIfNull(inputs);

        var errors = new List<string>();
        var models = new Dictionary<string, RuntimeModel>(StringComparer.Ordinal);
        var largest = TimeSpan.Zero;
        foreach (var model in config.Models.Values)
        {
            largest = Max(largest, model.Timeouts);
            var providers = new RuntimeProvider[model.Routing.Length];
            for (var i = 0; i < providers.Length; i++)
            {
                var provider = model.Providers[model.Routing[i]];
                largest = Max(largest, provider.Timeouts);
                providers[i] = CreateProvider(model.Name, provider, $"{model.Name}/{provider.Name}", environment, errors);
            }
            models.Add(model.Name, new RuntimeModel(model.Name, providers, model.Timeouts));
        }

        var embeddingModels = new Dictionary<string, RuntimeModel>(StringComparer.Ordinal);
        foreach (var model in config.EmbeddingModels.Values)
        {
            var timeouts = model.Timeout is { } total ? new TimeoutsConfig(total, null, null) : TimeoutsConfig.None;
            largest = Max(largest, timeouts);
            var providers = new RuntimeProvider[model.Routing.Length];
            for (var i = 0; i < providers.Length; i++)
            {
                var provider = model.Providers[model.Routing[i]];
                largest = Max(largest, provider.Timeouts);
                providers[i] = CreateProvider(model.Name, provider, EmbeddingClusterId(model.Name, provider.Name), environment, errors, embeddings: true);
            }
            embeddingModels.Add(model.Name, new RuntimeModel(model.Name, providers, timeouts));
        }

        var functions = new Dictionary<string, RuntimeFunction>(StringComparer.Ordinal);
        var shorthands = new Dictionary<string, RuntimeModel>(StringComparer.Ordinal);
        var staticTools = FunctionSemantics.CompileTools(config, errors);
        foreach (var function in config.Functions.Values)
        {
            var variants = new Dictionary<string, RuntimeVariant>(StringComparer.Ordinal);
            var prompts = new Dictionary<string, VariantPrompt>(StringComparer.Ordinal);
            foreach (var variant in function.Variants.Values)
            {
                prompts[variant.Name] = VariantPrompt.Compile(function, variant, config.Gateway.TemplateBaseDirectory, errors);
                largest = Max(largest, variant.Timeouts);
                RuntimeModel? model;
                if (variant.Type != VariantType.ChatCompletion || variant.Model is null)
                {
                    // Not run yet (the configuration warned): a model without providers fails at once, so the
                    // function falls over to its next variant.
                    model = new RuntimeModel($"{variant.Name} ({variant.Type}: not run)", [], TimeoutsConfig.None);
                }
                else if (!models.TryGetValue(variant.Model, out model) && !shorthands.TryGetValue(variant.Model, out model))
                {
                    var path = $"functions.{function.Name}.variants.{variant.Name}.model";
                    model = CreateShorthandModel(variant.Model, config, environment, out var why);
                    if (model is null)
                    {
                        errors.Add($"{path}: {why}");
                        continue;
                    }
                    shorthands.Add(variant.Model, model);
                }
                variants.Add(variant.Name, new RuntimeVariant(function.Name, variant, model, EncodeDefaults(variant))
                {
                    Prompt = prompts[variant.Name],
                });
            }
            var semantics = FunctionSemantics.Compile(function, staticTools, prompts.Values, errors);
            functions.Add(function.Name, new RuntimeFunction(function.Name, variants.ToFrozenDictionary(StringComparer.Ordinal), function.Experimentation)
            {
                Semantics = semantics,
                RequiresTypedPath = RequiresTypedPath(semantics, variants.Values),
            });
        }
        if (errors.Count > 0)
        {
            throw new ConfigException(errors);
        }

        var activityTimeout = TimeSpan.FromMinutes(10);
        if (largest + TimeSpan.FromMinutes(1) > activityTimeout)
        {
            activityTimeout = largest + TimeSpan.FromMinutes(1);
        }
        var runtime = new GatewayRuntime(config, models.ToFrozenDictionary(StringComparer.Ordinal),
            functions.ToFrozenDictionary(StringComparer.Ordinal), activityTimeout, environment, inputs)
        {
            EmbeddingModels = embeddingModels.ToFrozenDictionary(StringComparer.Ordinal),
        };
        foreach (var (shorthand, model) in shorthands)
        {
            runtime._shorthands.TryAdd(shorthand, model);
        }
        return runtime;
    }

    /// <summary>
    /// Records the key files of every routed provider (<c>path::</c>, <c>path_from_env::</c>, their fallbacks) as they are
    /// now, before the build reads them: a rotated key file is a change of the configuration.
    /// </summary>
    internal static void AddCredentialFiles(ConfigInputs inputs, GatewayConfig config, Func<string, string?> environment)
    {
        foreach (var model in config.Models.Values)
        {
            foreach (var name in model.Routing)
            {
                for (var location = model.Providers[name].ApiKeyLocation; location is not null; location = location.Fallback)
                {
                    var file = location.Source switch
                    {
                        CredentialSource.Path => location.Name,
                        CredentialSource.PathFromEnv => environment(location.Name!) is { Length: > 0 } named ? named : null,
                        _ => null,
                    };
                    if (file is not null)
                    {
                        inputs.AddFileNow(Path.GetFullPath(file));
                    }
                }
            }
        }
    }

    /// <summary>
    /// Whether a function needs TensorZero's typed semantics on every request (DESIGN-NOTES "Two paths"): JSON output,
    /// schemas, templates, tools or a JSON mode change what is sent and answered, and the in-process dummy provider
    /// answers typed requests only. Anything else may be forwarded as the client sent it.
    /// </summary>
    private static bool RequiresTypedPath(FunctionSemantics semantics, IEnumerable<RuntimeVariant> variants) =>
        semantics.Kind == FunctionKind.Json || semantics.Schemas.Count > 0 || semantics.TemplateNames.Count > 0
        || semantics.Tools.Length > 0 || semantics.ToolChoice != ToolChoice.Auto || semantics.ParallelToolCalls is not null
        || variants.Any(v => v.Prompt.JsonMode is not null || v.Model.RequiresTypedPath);

    /// <summary>A variant's default body members, pre-encoded: <c>"temperature":0.7</c>.</summary>
    private static KeyValuePair<string, byte[]>[] EncodeDefaults(VariantConfig variant) =>
        [.. variant.DefaultParameters.Select(p => new KeyValuePair<string, byte[]>(
            p.Key, System.Text.Encoding.UTF8.GetBytes(System.Text.Json.JsonSerializer.Serialize(p.Key) + ":" + p.Value)))];

    private static TimeSpan Max(TimeSpan current, TimeoutsConfig timeouts)
    {
        foreach (var t in (ReadOnlySpan<TimeSpan?>)[timeouts.NonStreamingTotal, timeouts.StreamingTtft, timeouts.StreamingTotal])
        {
            if (t > current)
            {
                current = t.Value;
            }
        }
        return current;
    }

    /// <param name="modelName">The model the provider belongs to.</param>
    /// <param name="provider">Its configuration.</param>
    /// <param name="clusterId">Its YARP cluster.</param>
    /// <param name="environment">Variable lookup for credentials.</param>
    /// <param name="errors">Where problems are reported, with their key paths.</param>
    /// <param name="embeddings">A provider of an embedding model: it is sent to the embeddings endpoint instead of chat completions.</param>
    private static RuntimeProvider CreateProvider(
        string modelName, ProviderConfig provider, string clusterId, Func<string, string?> environment, List<string> errors, bool embeddings = false)
    {
        var path = $"{(embeddings ? "embedding_models" : "models")}.{modelName}.providers.{provider.Name}";
        var operation = embeddings ? "embeddings" : "chat/completions";
        if (provider.Type == ProviderType.Dummy)
        {
            return new RuntimeProvider(modelName, provider, provider.ModelName!, Policy: null, ClusterId: null, DestinationPrefix: null)
            {
                Fingerprint = ProviderFingerprint.Of(provider),
            };
        }
        if (!provider.Implemented)
        {
            // Loaded so the configuration is accepted; no credential is looked up and no request is ever sent.
            return new RuntimeProvider(modelName, provider, provider.ModelName ?? provider.DeploymentId ?? "", Policy: null, ClusterId: null, DestinationPrefix: null)
            {
                Fingerprint = ProviderFingerprint.Of(provider),
            };
        }

        var credential = ResolveCredential(provider.ApiKeyLocation, environment, out var credentialError);
        if (credentialError is not null)
        {
            errors.Add($"{path}.api_key_location: {credentialError} (the provider is in the routing of model '{modelName}')");
        }
        var secret = credential.Secret;

        Uri baseUri;
        Uri requestUri;
        Uri? streamRequestUri = null;
        string upstreamModel;
        if (provider.Type == ProviderType.Azure)
        {
            var endpoint = provider.Endpoint!;
            if (endpoint.StartsWith("env::", StringComparison.Ordinal))
            {
                var variable = endpoint["env::".Length..];
                endpoint = environment(variable) ?? "";
                if (endpoint.Length == 0)
                {
                    errors.Add($"{path}.endpoint: environment variable '{variable}' is not set");
                }
            }
            baseUri = ConfigLoader.ParseHttpUrl(endpoint) ?? new Uri("http://invalid.invalid/");
            if (endpoint.Length > 0 && ConfigLoader.ParseHttpUrl(endpoint) is null)
            {
                errors.Add($"{path}.endpoint: '{endpoint}' is not an http(s) URL");
            }
            requestUri = new Uri(baseUri,
                $"openai/deployments/{Uri.EscapeDataString(provider.DeploymentId!)}/{operation}?api-version={AzureApiVersion}");
            upstreamModel = provider.DeploymentId!;
        }
        else if (provider.Type == ProviderType.Anthropic)
        {
            // TensorZero appends "messages" to api_base, first dropping a "/messages" suffix a configuration may carry.
            baseUri = WithTrailingSlash(provider.ApiBase!);
            if (baseUri.AbsolutePath.EndsWith("/messages/", StringComparison.Ordinal))
            {
                baseUri = new Uri(baseUri, "..");
            }
            requestUri = new Uri(baseUri, "messages");
            upstreamModel = provider.ModelName!;
        }
        else if (provider.Type == ProviderType.GoogleAIStudioGemini)
        {
            baseUri = WithTrailingSlash(provider.ApiBase!);
            upstreamModel = provider.ModelName!;
            requestUri = new Uri(baseUri, $"models/{upstreamModel}:generateContent");
            streamRequestUri = new Uri(baseUri, $"models/{upstreamModel}:streamGenerateContent?alt=sse");
        }
        else
        {
            baseUri = provider.ApiBase!;
            requestUri = new Uri(baseUri, operation);
            upstreamModel = provider.ModelName!;
        }

        var forward = provider.ForwardClientHeaders.IsEmpty ? ClientHeaderPatterns.None : new ClientHeaderPatterns(provider.ForwardClientHeaders);
        var (authHeader, authValue) = secret is null ? (null, null) : CredentialHeader(provider.Type, secret);
        KeyValuePair<string, string>[] fixedHeaders = provider.Type == ProviderType.Anthropic
            ? [new("anthropic-version", AnthropicFormat.ApiVersion)]
            : [];
        var policy = new ProviderRequestPolicy(requestUri, authHeader, authValue, forward, provider.AllowCredentialOverride, fixedHeaders);
        return new RuntimeProvider(modelName, provider, upstreamModel, policy, clusterId, baseUri.AbsoluteUri)
        {
            DynamicCredentialName = credential.DynamicName,
            Fingerprint = ProviderFingerprint.Of(provider),
            StreamPolicy = streamRequestUri is null
                ? null
                : new ProviderRequestPolicy(streamRequestUri, authHeader, authValue, forward, provider.AllowCredentialOverride, fixedHeaders),
            Format = provider.Type == ProviderType.Anthropic && provider.TypeSettings.TryGetValue("provider_tools", out var tools)
                ? new AnthropicFormat(System.Text.Json.JsonDocument.Parse(tools).RootElement.Clone())
                : ProviderFormats.For(provider.Type),
        };
    }

    /// <summary>
    /// The credential header of a provider type and its value for <paramref name="key"/>: Azure's <c>api-key</c>,
    /// Anthropic's <c>x-api-key</c>, Google AI Studio's <c>x-goog-api-key</c> (as TensorZero sends them), else a Bearer token.
    /// </summary>
    internal static (string Name, string Value) CredentialHeader(ProviderType type, string key) => type switch
    {
        ProviderType.Azure => ("api-key", key),
        ProviderType.Anthropic => ("x-api-key", key),
        ProviderType.GoogleAIStudioGemini => ("x-goog-api-key", key),
        _ => ("Authorization", "Bearer " + key),
    };

    private static Uri WithTrailingSlash(Uri uri) =>
        uri.AbsolutePath.EndsWith('/') ? uri : new UriBuilder(uri) { Path = uri.AbsolutePath + "/" }.Uri;

    /// <summary>A credential as resolved at build: a secret, the name of a per-request credential, both, or neither.</summary>
    /// <param name="Secret">The key read from the environment or a file (for a dynamic credential: its fallback's).</param>
    /// <param name="DynamicName">The <c>tensorzero::credentials</c> entry a request supplies (<c>dynamic::NAME</c>).</param>
    internal readonly record struct ResolvedCredential(string? Secret, string? DynamicName);

    /// <summary>
    /// Resolves a credential location: <c>env</c> and <c>none</c> as they say; <c>path</c>/<c>path_from_env</c> read the
    /// file now (trailing whitespace trimmed: a header value cannot end in a newline); <c>dynamic</c> leaves the secret to
    /// each request. A fallback is used when the default yields nothing: a dynamic default's fallback is read now and
    /// serves requests that do not supply the credential; an unset variable or unreadable file falls back to it.
    /// </summary>
    internal static ResolvedCredential ResolveCredential(CredentialLocation location, Func<string, string?> environment, out string? error)
    {
        error = null;
        switch (location.Source)
        {
            case CredentialSource.None:
                return default;
            case CredentialSource.Dynamic:
                if (location.Fallback is { Source: CredentialSource.Dynamic })
                {
                    error = $"a dynamic credential's fallback must not be dynamic too ({location})";
                    return default;
                }
                var fallback = location.Fallback is null ? default : ResolveCredential(location.Fallback, environment, out error);
                return new ResolvedCredential(fallback.Secret, location.Name);
            case CredentialSource.Sdk:
                error = "'sdk' credentials exist only for the aws_* and gcp_* provider types";
                return default;
        }

        string? why;
        var secret = location.Source switch
        {
            CredentialSource.Env => Env(location.Name!, environment, out why),
            CredentialSource.Path => ReadKeyFile(location.Name!, out why),
            _ => environment(location.Name!) is { Length: > 0 } file ? ReadKeyFile(file, out why) : Env(location.Name!, environment, out why),
        };
        if (secret is not null)
        {
            return new ResolvedCredential(secret, null);
        }
        if (location.Fallback is { } next)
        {
            var resolved = ResolveCredential(next, environment, out var fallbackError);
            error = fallbackError is null ? null : $"{why}; fallback: {fallbackError}";
            return resolved;
        }
        error = location.Source == CredentialSource.Env ? $"{why}; set it, or use api_key_location = \"none\"" : why;
        return default;
    }

    private static string? Env(string variable, Func<string, string?> environment, out string? why)
    {
        var value = environment(variable);
        why = string.IsNullOrEmpty(value) ? $"environment variable '{variable}' is not set" : null;
        return string.IsNullOrEmpty(value) ? null : value;
    }

    private static string? ReadKeyFile(string file, out string? why)
    {
        try
        {
            var text = File.ReadAllText(file).TrimEnd();
            why = text.Length == 0 ? $"the credential file '{file}' is empty" : null;
            return text.Length == 0 ? null : text;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            why = $"cannot read the credential file '{file}': {ex.Message}";
            return null;
        }
    }

    /// <summary>The Azure OpenAI data-plane API version the gateway speaks (a GA version with chat completions).</summary>
    public const string AzureApiVersion = "2024-10-21";

    /// <summary>Finds a configured model by name.</summary>
    public RuntimeModel? FindModel(string name) => Models.GetValueOrDefault(name);

    /// <summary>
    /// Resolves a shorthand <c>type::model</c> (e.g. <c>openai::gpt-4o-mini</c>) to a one-provider model with
    /// the type's default API base and credential. Returns null with a reason when it is not a usable shorthand.
    /// </summary>
    public RuntimeModel? ResolveShorthand(string shorthand, out string? error)
    {
        error = null;
        if (_shorthands.TryGetValue(shorthand, out var cached))
        {
            return cached;
        }
        var model = CreateShorthandModel(shorthand, Config, _environment, out error);
        return model is null ? null : _shorthands.GetOrAdd(shorthand, model);
    }

    private static RuntimeModel? CreateShorthandModel(string shorthand, GatewayConfig gatewayConfig, Func<string, string?> environment, out string? error)
    {
        if (!ProviderTypeInfo.TryParseShorthand(shorthand, out var info, out var providerModel, out var apiType, out error))
        {
            return null;
        }

        var config = new ProviderConfig
        {
            Name = info.TomlName,
            Type = info.Type,
            Implemented = info.IsImplemented && apiType == OpenAIApiType.ChatCompletions,
            ApiType = apiType,
            ModelName = providerModel,
            ApiBase = info.DefaultApiBase is null ? null : new Uri(info.DefaultApiBase),
            ApiKeyLocation = gatewayConfig.ProviderTypeDefaults.GetValueOrDefault(info.Type) ?? info.DefaultCredential,
        };
        var errors = new List<string>();
        // A shorthand model is named by its shorthand ("openai::gpt-4o-mini") in messages and records.
        var modelName = shorthand;
        var provider = CreateProvider(modelName, config, ShorthandClusterId(info), environment, errors);
        if (errors.Count > 0)
        {
            ResolveCredential(config.ApiKeyLocation, environment, out var why);
            error = $"the shorthand model '{shorthand}' cannot be used: {why ?? errors[0]}";
            return null;
        }
        return new RuntimeModel(modelName, [provider], TimeoutsConfig.None);
    }

    private static string ShorthandClusterId(ProviderTypeInfo info) => "shorthand/" + info.TomlName;

    /// <summary>The YARP cluster of a provider of an embedding model (apart from chat models, which may share its names).</summary>
    private static string EmbeddingClusterId(string model, string provider) => $"embedding/{model}/{provider}";

    /// <summary>The provider types an embedding model may be a shorthand of (TensorZero's <c>SHORTHAND_MODEL_PREFIXES</c> of embeddings).</summary>
    private static readonly ProviderType[] EmbeddingShorthandTypes = [ProviderType.OpenAI, ProviderType.OpenRouter];

    /// <summary>
    /// Resolves an embedding model: a configured <c>[embedding_models.E]</c>, else a shorthand <c>openai::M</c> or
    /// <c>openrouter::M</c> (a one-provider model with the type's default address and credential). Null with the reason
    /// (404-worthy when <paramref name="unknown"/>) otherwise.
    /// </summary>
    public RuntimeModel? ResolveEmbeddingModel(string name, out string? error, out bool unknown)
    {
        error = null;
        unknown = false;
        if (EmbeddingModels.TryGetValue(name, out var configured) || _embeddingShorthands.TryGetValue(name, out configured))
        {
            return configured;
        }
        if (!name.Contains("::", StringComparison.Ordinal))
        {
            unknown = true;
            var known = string.Join(", ", EmbeddingModels.Keys.Order(StringComparer.Ordinal).Select(k => $"'{k}'"));
            error = $"Unknown embedding model '{name}' (embedding models: {(known.Length == 0 ? "none" : known)}; shorthands: 'openai::MODEL', 'openrouter::MODEL').";
            return null;
        }
        if (!ProviderTypeInfo.TryParseShorthand(name, out var info, out var providerModel, out var apiType, out error)
            || apiType != OpenAIApiType.ChatCompletions || Array.IndexOf(EmbeddingShorthandTypes, info.Type) < 0)
        {
            error = $"Invalid embedding model '{name}': embedding shorthands exist for openai and openrouter only ('openai::text-embedding-3-small').";
            return null;
        }
        var config = new ProviderConfig
        {
            Name = info.TomlName,
            Type = info.Type,
            ModelName = providerModel,
            ApiBase = new Uri(info.DefaultApiBase!),
            ApiKeyLocation = Config.ProviderTypeDefaults.GetValueOrDefault(info.Type) ?? info.DefaultCredential,
        };
        var errors = new List<string>();
        var provider = CreateProvider(name, config, ShorthandClusterId(info), _environment, errors, embeddings: true);
        if (errors.Count > 0)
        {
            ResolveCredential(config.ApiKeyLocation, _environment, out var why);
            error = $"the shorthand embedding model '{name}' cannot be used: {why ?? errors[0]}";
            return null;
        }
        return _embeddingShorthands.GetOrAdd(name, new RuntimeModel(name, [provider], TimeoutsConfig.None));
    }

    /// <summary>
    /// The plugin's own YARP routes (none when <paramref name="addDefaultRoutes"/> is false): the chat completions and
    /// native inference endpoints under <c>base_path</c>, each marked with <see cref="TensorZeroRoutes.MetadataKey"/>
    /// and passed through <paramref name="configure"/> (the host's policies).
    /// </summary>
    public IReadOnlyList<RouteConfig> CreateRoutes(bool addDefaultRoutes = true, Func<RouteConfig, RouteConfig>? configure = null)
    {
        if (!addDefaultRoutes)
        {
            return [];
        }
        var basePath = Config.Gateway.BasePath;
        RouteConfig[] routes =
        [
            Route("tensorzero-openai-chat-completions", basePath + "/openai/v1/chat/completions", TensorZeroRoutes.ChatCompletions),
            Route("tensorzero-inference", basePath + "/inference", TensorZeroRoutes.Inference),
            Route("tensorzero-chat-completions", basePath + "/v1/chat/completions", TensorZeroRoutes.ChatCompletions),
            Route("tensorzero-openai-responses", basePath + "/openai/v1/responses", TensorZeroRoutes.Responses),
            Route("tensorzero-anthropic-messages", basePath + "/v1/messages", TensorZeroRoutes.AnthropicMessages),
            Route("tensorzero-openai-embeddings", basePath + "/openai/v1/embeddings", TensorZeroRoutes.Embeddings),
            Route("tensorzero-embeddings", basePath + "/v1/embeddings", TensorZeroRoutes.Embeddings),
        ];
        return configure is null ? routes : [.. routes.Select(configure)];

        static RouteConfig Route(string id, string path, string kind) => new()
        {
            RouteId = id,
            ClusterId = InferenceClusterId,
            Match = new RouteMatch { Path = path, Methods = ["POST"] },
            Metadata = new Dictionary<string, string> { [TensorZeroRoutes.MetadataKey] = kind },
        };
    }

    /// <summary>One YARP cluster per provider (and per shorthand type), with the gateway's request settings.</summary>
    public IReadOnlyList<ClusterConfig> CreateClusters()
    {
        var requestConfig = RequestConfig;
        var clusters = new List<ClusterConfig> { new() { ClusterId = InferenceClusterId } };
        foreach (var model in Models.Values.Concat(EmbeddingModels.Values))
        {
            foreach (var provider in model.Providers)
            {
                if (provider.ClusterId is not null)
                {
                    clusters.Add(CreateCluster(provider.ClusterId, provider.DestinationPrefix!, requestConfig));
                }
            }
        }
        foreach (var name in ProviderTypeInfo.TomlNames)
        {
            ProviderTypeInfo.TryGet(name, out var info);
            if (info.HasShorthand && info.IsImplemented && info.DefaultApiBase is not null)
            {
                clusters.Add(CreateCluster(ShorthandClusterId(info), info.DefaultApiBase, requestConfig));
            }
        }
        return clusters;
    }

    private static ClusterConfig CreateCluster(string id, string address, ForwarderRequestConfig requestConfig) => new()
    {
        ClusterId = id,
        HttpRequest = requestConfig,
        HttpClient = ProviderHttpClient,
        Destinations = new Dictionary<string, DestinationConfig>(StringComparer.Ordinal) { ["upstream"] = new() { Address = address } },
    };
}

/// <summary>A function: its variants and how they are sampled.</summary>
internal sealed record RuntimeFunction(string Name, FrozenDictionary<string, RuntimeVariant> Variants, ExperimentationConfig Experimentation)
{
    /// <summary>Its schemas, output schema and tools, compiled.</summary>
    public FunctionSemantics Semantics { get; init; } = FunctionSemantics.Default;

    /// <summary>Whether every request to it takes the typed path (see <c>GatewayRuntime.RequiresTypedPath</c>).</summary>
    public bool RequiresTypedPath { get; init; }
}

/// <summary>One variant, its model resolved.</summary>
/// <param name="FunctionName">The function it belongs to.</param>
/// <param name="Config">Its configuration.</param>
/// <param name="Model">Its model (configured or shorthand).</param>
/// <param name="DefaultMembers">Body members it sets when the request does not: field name → encoded member.</param>
internal sealed record RuntimeVariant(string FunctionName, VariantConfig Config, RuntimeModel Model, KeyValuePair<string, byte[]>[] DefaultMembers)
{
    public string Name => Config.Name;

    /// <summary>Its templates, JSON mode and parameters, compiled.</summary>
    public VariantPrompt Prompt { get; init; } = VariantPrompt.None;
}

/// <summary>A model as the attempt loop sees it: providers in routing order.</summary>
internal sealed record RuntimeModel(string Name, RuntimeProvider[] Providers, TimeoutsConfig Timeouts)
{
    /// <summary>Whether a provider is the in-process dummy, which only the typed path runs.</summary>
    public bool HasDummyProvider { get; } = Providers.Any(p => p.IsDummy);

    /// <summary>
    /// Whether a provider does not speak OpenAI's chat completions (the dummy, Anthropic, Gemini): the client's body
    /// cannot be forwarded to it, so every request to the model takes the typed path, which writes each provider's format.
    /// </summary>
    public bool RequiresTypedPath { get; } = Providers.Any(p => p.IsDummy || (p.IsImplemented && !ProviderFormats.SpeaksOpenAIChat(p.Config.Type)));
}

/// <summary>One provider of one model, ready to forward to.</summary>
/// <param name="ModelName">The gateway model the provider belongs to.</param>
/// <param name="Config">The provider's configuration.</param>
/// <param name="UpstreamModelName">The <c>model</c> value spliced into the body sent to the provider.</param>
/// <param name="Policy">Path and credential; null for the in-process dummy.</param>
/// <param name="ClusterId">The YARP cluster; null for the in-process dummy.</param>
/// <param name="DestinationPrefix">The cluster's destination address.</param>
internal sealed record RuntimeProvider(
    string ModelName, ProviderConfig Config, string UpstreamModelName, ProviderRequestPolicy? Policy, string? ClusterId, string? DestinationPrefix)
{
    public string Name => Config.Name;

    public bool IsDummy => Config.Type == ProviderType.Dummy;

    /// <summary>
    /// Whether the gateway can call this provider. When false (a type or API it does not speak yet), <see cref="Policy"/>
    /// and <see cref="ClusterId"/> are null and an attempt must fail over to the next provider without sending anything.
    /// </summary>
    public bool IsImplemented => Config.Implemented;

    /// <summary>
    /// For <c>api_key_location = "dynamic::NAME"</c>: the <c>tensorzero::credentials</c> entry that carries this
    /// provider's key per request. The policy then holds the fallback's key, or none: a request that does not supply
    /// the credential uses the fallback, and without one the attempt fails (TensorZero's "API key missing").
    /// </summary>
    public string? DynamicCredentialName { get; init; }

    /// <summary>
    /// A hash of the provider's whole configuration (<see cref="ProviderFingerprint"/>): equal across reloads exactly when
    /// nothing of it changed. It is part of the model inference cache key, so a changed provider never answers from
    /// entries its old configuration produced, and the reloader resets the circuit of a provider whose fingerprint changed.
    /// </summary>
    public string Fingerprint { get; init; } = "";

    /// <summary>The format the typed path speaks to it in (<see cref="ProviderFormats"/>; Anthropic's carries the provider's <c>provider_tools</c>).</summary>
    public IProviderFormat Format { get; init; } = ProviderFormats.For(Config.Type);

    /// <summary>The policy of streaming attempts when their endpoint differs (Gemini's <c>:streamGenerateContent?alt=sse</c>); null: <see cref="Policy"/>.</summary>
    public ProviderRequestPolicy? StreamPolicy { get; init; }

    /// <summary>Never print the policy: it holds the credential.</summary>
    public override string ToString() => $"provider '{Name}' of model '{ModelName}'";
}

/// <summary>Holds the current <see cref="GatewayRuntime"/>; a reload swaps it atomically.</summary>
internal sealed class GatewayRuntimeAccessor
{
    private volatile GatewayRuntime _current;

    public GatewayRuntimeAccessor(GatewayRuntime initial)
    {
        _current = initial;
    }

    public GatewayRuntime Current
    {
        get => _current;
        set => _current = value;
    }
}
