using System.Collections.Frozen;

namespace TensorZero.Proxy.Configuration;

/// <summary>The provider types of TensorZero (<c>type = "..."</c> of a provider).</summary>
internal enum ProviderType
{
    OpenAI,
    Azure,
    Vllm,
    Together,
    Groq,
    Mistral,
    DeepSeek,
    Fireworks,
    OpenRouter,
    XAI,
    Hyperbolic,
    SGLang,
    Tgi,
    Dummy,
    Anthropic,
    AwsBedrock,
    AwsSagemaker,
    GcpVertexAnthropic,
    GcpVertexGemini,
    GoogleAIStudioGemini,
}

/// <summary>
/// What each provider type's TOML name is and what it defaults to. The implemented OpenAI-compatible types all use
/// <c>{api_base}chat/completions</c> with a Bearer token; they differ only in defaults. <c>anthropic</c> (Messages API)
/// and <c>google_ai_studio_gemini</c> (generateContent) are translated on the typed path. The other types load (their
/// keys are validated) but are not called: attempts at them fail over.
/// </summary>
/// <param name="Type">The type.</param>
/// <param name="TomlName">The <c>type = "..."</c> value.</param>
/// <param name="DefaultApiBase">The default <c>api_base</c>; null where <c>api_base</c> is required or unused.</param>
/// <param name="DefaultCredential">The default <c>api_key_location</c> (TensorZero's).</param>
/// <param name="IsImplemented">Whether the gateway calls providers of this type.</param>
/// <param name="HasShorthand">Whether <c>type::model_name</c> shorthands exist (TensorZero's list, plus dummy).</param>
internal sealed record ProviderTypeInfo(
    ProviderType Type, string TomlName, string? DefaultApiBase, CredentialLocation DefaultCredential, bool IsImplemented, bool HasShorthand)
{
    /// <summary>Whether the type is spoken to over the OpenAI chat completions protocol at <c>api_base</c>.</summary>
    public bool IsOpenAICompatible => IsImplemented && Type is not (ProviderType.Azure or ProviderType.Dummy or ProviderType.Anthropic or ProviderType.GoogleAIStudioGemini);

    /// <summary>Whether <c>api_base</c> must be given (self-hosted servers have no public default).</summary>
    public bool RequiresApiBase => Type is ProviderType.Vllm or ProviderType.SGLang or ProviderType.Tgi;

    /// <summary>Whether the type's credential keys may name <c>sdk</c> (the cloud SDK's own credential lookup).</summary>
    public bool AllowsSdkCredential => Type is ProviderType.AwsBedrock or ProviderType.AwsSagemaker
        or ProviderType.GcpVertexAnthropic or ProviderType.GcpVertexGemini;

    // TensorZero reads the key of a self-hosted server from a variable when it is set; the gateway sends none when it
    // is not (TensorZero would refuse to start), so configurations written for either keep working.
    private static CredentialLocation OptionalEnv(string variable) => CredentialLocation.Env(variable) with { Fallback = CredentialLocation.None };

    private static readonly ProviderTypeInfo[] All =
    [
        new(ProviderType.OpenAI, "openai", "https://api.openai.com/v1/", CredentialLocation.Env("OPENAI_API_KEY"), true, true),
        // AZURE_OPENAI_API_KEY is TensorZero's legacy default, still read when AZURE_API_KEY is not set.
        new(ProviderType.Azure, "azure", null,
            CredentialLocation.Env("AZURE_API_KEY") with { Fallback = CredentialLocation.Env("AZURE_OPENAI_API_KEY") }, true, false),
        new(ProviderType.Vllm, "vllm", null, OptionalEnv("VLLM_API_KEY"), true, false),
        new(ProviderType.Together, "together", "https://api.together.xyz/v1/", CredentialLocation.Env("TOGETHER_API_KEY"), true, true),
        new(ProviderType.Groq, "groq", "https://api.groq.com/openai/v1/", CredentialLocation.Env("GROQ_API_KEY"), true, true),
        new(ProviderType.Mistral, "mistral", "https://api.mistral.ai/v1/", CredentialLocation.Env("MISTRAL_API_KEY"), true, true),
        new(ProviderType.DeepSeek, "deepseek", "https://api.deepseek.com/", CredentialLocation.Env("DEEPSEEK_API_KEY"), true, true),
        new(ProviderType.Fireworks, "fireworks", "https://api.fireworks.ai/inference/v1/", CredentialLocation.Env("FIREWORKS_API_KEY"), true, true),
        new(ProviderType.OpenRouter, "openrouter", "https://openrouter.ai/api/v1/", CredentialLocation.Env("OPENROUTER_API_KEY"), true, true),
        new(ProviderType.XAI, "xai", "https://api.x.ai/v1/", CredentialLocation.Env("XAI_API_KEY"), true, true),
        new(ProviderType.Hyperbolic, "hyperbolic", "https://api.hyperbolic.xyz/v1/", CredentialLocation.Env("HYPERBOLIC_API_KEY"), true, true),
        new(ProviderType.SGLang, "sglang", null, OptionalEnv("SGLANG_API_KEY"), true, false),
        new(ProviderType.Tgi, "tgi", null, OptionalEnv("TGI_API_KEY"), true, false),
        new(ProviderType.Dummy, "dummy", null, CredentialLocation.None, true, true),
        new(ProviderType.Anthropic, "anthropic", "https://api.anthropic.com/v1/", CredentialLocation.Env("ANTHROPIC_API_KEY"), true, true),
        new(ProviderType.AwsBedrock, "aws_bedrock", null, CredentialLocation.Sdk, false, false),
        new(ProviderType.AwsSagemaker, "aws_sagemaker", null, CredentialLocation.Sdk, false, false),
        new(ProviderType.GcpVertexAnthropic, "gcp_vertex_anthropic", null,
            new CredentialLocation(CredentialSource.PathFromEnv, "GCP_VERTEX_CREDENTIALS_PATH"), false, true),
        new(ProviderType.GcpVertexGemini, "gcp_vertex_gemini", null,
            new CredentialLocation(CredentialSource.PathFromEnv, "GCP_VERTEX_CREDENTIALS_PATH"), false, true),
        new(ProviderType.GoogleAIStudioGemini, "google_ai_studio_gemini", "https://generativelanguage.googleapis.com/v1beta/",
            CredentialLocation.Env("GOOGLE_AI_STUDIO_API_KEY"), true, true),
    ];

    private static readonly FrozenDictionary<string, ProviderTypeInfo> ByTomlName =
        All.ToFrozenDictionary(t => t.TomlName, StringComparer.Ordinal);

    /// <summary>The TOML names of every type, for error messages.</summary>
    public static IEnumerable<string> TomlNames => All.Select(t => t.TomlName);

    /// <summary>The TOML names of the types with shorthands, for error messages.</summary>
    public static IEnumerable<string> ShorthandTomlNames => All.Where(t => t.HasShorthand).Select(t => t.TomlName);

    /// <summary>The message a configuration warning and a failed attempt give for a provider that is not implemented.</summary>
    public static string NotImplementedMessage(string typeName) =>
        $"provider type '{typeName}' is not implemented by TensorZero.Proxy yet: attempts at it fail over to the next provider";

    /// <summary>Whether <paramref name="name"/> starts with a prefix TensorZero reserves for shorthands: any type's <c>type::</c>, or <c>tensorzero::</c>.</summary>
    public static bool HasReservedPrefix(string name) =>
        name.StartsWith("tensorzero::", StringComparison.Ordinal)
        || All.Any(t => name.StartsWith(t.TomlName + "::", StringComparison.Ordinal));

    /// <summary>
    /// Parses a shorthand model <c>type::model_name</c> (e.g. <c>openai::gpt-4o-mini</c>): a provider type that needs
    /// no configuration beyond its defaults, and the provider's model name. <c>openai::responses::M</c> names OpenAI's
    /// Responses API (<paramref name="apiType"/>). False with the reason otherwise.
    /// </summary>
    public static bool TryParseShorthand(string value, out ProviderTypeInfo info, out string providerModel, out OpenAIApiType apiType, out string? error)
    {
        info = null!;
        providerModel = "";
        apiType = OpenAIApiType.ChatCompletions;
        error = null;
        var separator = value.IndexOf("::", StringComparison.Ordinal);
        if (separator <= 0 || separator + 2 >= value.Length)
        {
            error = $"'{value}' is not a shorthand of the form 'type::model_name'";
            return false;
        }
        var typeName = value[..separator];
        if (!TryGet(typeName, out info) || !info.HasShorthand)
        {
            error = $"'{typeName}' has no shorthand form (shorthands exist for: {string.Join(", ", ShorthandTomlNames)})";
            return false;
        }
        providerModel = value[(separator + 2)..];
        const string responses = "responses::";
        if (info.Type == ProviderType.OpenAI && providerModel.StartsWith(responses, StringComparison.Ordinal) && providerModel.Length > responses.Length)
        {
            providerModel = providerModel[responses.Length..];
            apiType = OpenAIApiType.Responses;
        }
        return true;
    }

    /// <summary><see cref="TryParseShorthand(string, out ProviderTypeInfo, out string, out OpenAIApiType, out string?)"/> without the API type.</summary>
    public static bool TryParseShorthand(string value, out ProviderTypeInfo info, out string providerModel, out string? error) =>
        TryParseShorthand(value, out info, out providerModel, out _, out error);

    /// <summary>Looks a type up by its TOML name.</summary>
    public static bool TryGet(string tomlName, out ProviderTypeInfo info) => ByTomlName.TryGetValue(tomlName, out info!);

    /// <summary>The info of a type.</summary>
    public static ProviderTypeInfo Of(ProviderType type) => All[(int)type];
}
