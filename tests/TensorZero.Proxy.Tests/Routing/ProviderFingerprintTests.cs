using TensorZero.Proxy.Configuration;
using TensorZero.Proxy.Inference;
using TensorZero.Proxy.Routing;
using TensorZero.Proxy.Tests.TestSupport;

namespace TensorZero.Proxy.Tests.Routing;

/// <summary>A provider's fingerprint: equal across loads exactly when its settings are.</summary>
public sealed class ProviderFingerprintTests
{
    private const string Base = """
        [models.m]
        routing = ["p", "q"]

        [models.m.providers.p]
        type = "openai"
        model_name = "x"
        api_base = "http://127.0.0.1:9/v1/"
        api_key_location = "none"
        extra_headers = [{ name = "a", value = "1" }, { name = "b", value = "2" }]

        [models.m.providers.q]
        type = "openai"
        model_name = "y"
        api_base = "http://127.0.0.1:10/v1/"
        api_key_location = "none"
        """;

    private static string Fingerprint(string toml, string provider = "p") =>
        ProviderFingerprint.Of(ConfigLoader.Parse(toml).Models["m"].Providers[provider]);

    [Fact]
    public void Of_SameTextLoadedTwice_IsEqual_ThoughTheRecordsAreNotEqual()
    {
        var first = ConfigLoader.Parse(Base).Models["m"].Providers["p"];
        var second = ConfigLoader.Parse(Base).Models["m"].Providers["p"];

        first.Should().NotBe(second, "frozen dictionaries and immutable arrays compare by reference");
        ProviderFingerprint.Of(first).Should().Be(ProviderFingerprint.Of(second));
    }

    [Theory]
    [InlineData("api_base = \"http://127.0.0.1:9/v1/\"", "api_base = \"http://127.0.0.1:11/v1/\"")]
    [InlineData("model_name = \"x\"", "model_name = \"x2\"")]
    [InlineData("api_key_location = \"none\"\nextra_headers", "api_key_location = \"env::KEY\"\nextra_headers")]
    [InlineData("value = \"2\" }]", "value = \"3\" }]")]
    [InlineData("value = \"2\" }]", "value = \"2\" }]\nextra_body = [{ pointer = \"/seed\", value = 1 }]")]
    [InlineData("value = \"2\" }]", "value = \"2\" }]\ntimeouts = { non_streaming = { total_ms = 5000 } }")]
    public void Of_AnySettingOfTheProviderChanged_Differs_OtherProvidersKeepTheirs(string from, string to)
    {
        var changed = Base.Replace(from, to, StringComparison.Ordinal);
        changed.Should().NotBe(Base);

        Fingerprint(changed).Should().NotBe(Fingerprint(Base));
        Fingerprint(changed, "q").Should().Be(Fingerprint(Base, "q"));
    }

    [Fact]
    public void CacheKey_ChangedProvider_Differs_SameProvider_IsEqual()
    {
        var body = """{"model":"x","messages":[]}"""u8.ToArray();
        var changed = Base.Replace("127.0.0.1:9", "127.0.0.1:11", StringComparison.Ordinal);

        ModelInferenceCache.Key("m", "p", Fingerprint(Base), body).Should().Be(ModelInferenceCache.Key("m", "p", Fingerprint(Base), body));
        ModelInferenceCache.Key("m", "p", Fingerprint(changed), body).Should().NotBe(ModelInferenceCache.Key("m", "p", Fingerprint(Base), body));
    }

    [Fact]
    public void Of_EveryProviderOfEveryBundledAndCorpusConfig_IsComputed()
    {
        var roots = new[] { Path.Combine(RepoPaths.Root, "config"), Path.Combine(RepoPaths.Root, "tests", "TensorZero.Proxy.Tests", "Compat", "TensorZeroConfigs") };
        var providers = 0;
        foreach (var file in roots.SelectMany(r => Directory.EnumerateFiles(r, "*.toml", SearchOption.AllDirectories)))
        {
            GatewayConfig config;
            try
            {
                config = ConfigLoader.LoadFile(file);
            }
            catch (ConfigException)
            {
                continue; // a fragment of a glob, or one of the corpus' expected failures
            }
            foreach (var provider in config.Models.Values.SelectMany(m => m.Providers.Values).Concat(config.EmbeddingModels.Values.SelectMany(m => m.Providers.Values)))
            {
                ProviderFingerprint.Of(provider).Should().MatchRegex("^[0-9A-F]{32}$");
                providers++;
            }
        }
        providers.Should().BeGreaterThan(50, "the corpus has every provider type");
    }
}
