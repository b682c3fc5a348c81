using System.Collections.Frozen;

namespace TensorZero.Proxy.Configuration;

/// <summary>The provider types the gateway speaks to.</summary>
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
}

/// <summary>
/// What each provider type's TOML name is and what it defaults to. The OpenAI-compatible types all use
/// <c>{api_base}chat/completions</c> with a Bearer token; they differ only in defaults.
/// </summary>
/// <param name="Type">The type.</param>
/// <param name="TomlName">The <c>type = "..."</c> value.</param>
/// <param name="DefaultApiBase">The default <c>api_base</c>; null where <c>api_base</c> is required or unused.</param>
/// <param name="DefaultCredential">The default <c>api_key_location</c>.</param>
internal sealed record ProviderTypeInfo(ProviderType Type, string TomlName, string? DefaultApiBase, CredentialLocation DefaultCredential)
{
    /// <summary>Whether the type is spoken to over the OpenAI chat completions protocol at <c>api_base</c>.</summary>
    public bool IsOpenAICompatible => Type is not (ProviderType.Azure or ProviderType.Dummy);

    /// <summary>Whether <c>type::model_name</c> shorthands exist: the type needs no configuration beyond defaults.</summary>
    public bool HasShorthand => Type == ProviderType.Dummy || (IsOpenAICompatible && DefaultApiBase is not null);

    /// <summary>Whether <c>api_base</c> must be given (self-hosted servers have no public default).</summary>
    public bool RequiresApiBase => IsOpenAICompatible && DefaultApiBase is null;

    private static readonly ProviderTypeInfo[] All =
    [
        new(ProviderType.OpenAI, "openai", "https://api.openai.com/v1/", CredentialLocation.Env("OPENAI_API_KEY")),
        new(ProviderType.Azure, "azure", null, CredentialLocation.Env("AZURE_OPENAI_API_KEY")),
        new(ProviderType.Vllm, "vllm", null, CredentialLocation.None),
        new(ProviderType.Together, "together", "https://api.together.xyz/v1/", CredentialLocation.Env("TOGETHER_API_KEY")),
        new(ProviderType.Groq, "groq", "https://api.groq.com/openai/v1/", CredentialLocation.Env("GROQ_API_KEY")),
        new(ProviderType.Mistral, "mistral", "https://api.mistral.ai/v1/", CredentialLocation.Env("MISTRAL_API_KEY")),
        new(ProviderType.DeepSeek, "deepseek", "https://api.deepseek.com/", CredentialLocation.Env("DEEPSEEK_API_KEY")),
        new(ProviderType.Fireworks, "fireworks", "https://api.fireworks.ai/inference/v1/", CredentialLocation.Env("FIREWORKS_API_KEY")),
        new(ProviderType.OpenRouter, "openrouter", "https://openrouter.ai/api/v1/", CredentialLocation.Env("OPENROUTER_API_KEY")),
        new(ProviderType.XAI, "xai", "https://api.x.ai/v1/", CredentialLocation.Env("XAI_API_KEY")),
        new(ProviderType.Hyperbolic, "hyperbolic", "https://api.hyperbolic.xyz/v1/", CredentialLocation.Env("HYPERBOLIC_API_KEY")),
        new(ProviderType.SGLang, "sglang", null, CredentialLocation.None),
        new(ProviderType.Tgi, "tgi", null, CredentialLocation.None),
        new(ProviderType.Dummy, "dummy", null, CredentialLocation.None),
    ];

    private static readonly FrozenDictionary<string, ProviderTypeInfo> ByTomlName =
        All.ToFrozenDictionary(t => t.TomlName, StringComparer.Ordinal);

    /// <summary>The TOML names of every type, for error messages.</summary>
    public static IEnumerable<string> TomlNames => All.Select(t => t.TomlName);

    /// <summary>
    /// Parses a shorthand model <c>type::model_name</c> (e.g. <c>openai::gpt-4o-mini</c>): a provider type that
    /// needs no configuration beyond its defaults, and the provider's model name. False with the reason otherwise.
    /// </summary>
    public static bool TryParseShorthand(string value, out ProviderTypeInfo info, out string providerModel, out string? error)
    {
        info = null!;
        providerModel = "";
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
            error = $"'{typeName}' has no shorthand form (shorthands exist for: " +
                string.Join(", ", All.Where(t => t.HasShorthand).Select(t => t.TomlName)) + ")";
            return false;
        }
        providerModel = value[(separator + 2)..];
        return true;
    }

    /// <summary>Looks a type up by its TOML name.</summary>
    public static bool TryGet(string tomlName, out ProviderTypeInfo info) => ByTomlName.TryGetValue(tomlName, out info!);

    /// <summary>The info of a type.</summary>
    public static ProviderTypeInfo Of(ProviderType type) => All[(int)type];
}
