using TensorZero.Proxy.Configuration;
using TensorZero.Proxy.Routing;

namespace TensorZero.Proxy.Tests.Routing;

/// <summary>How <c>anthropic</c> and <c>google_ai_studio_gemini</c> providers are built: endpoints, credentials, clusters, typed path.</summary>
public sealed class ProviderTypesRuntimeTests
{
    private static RuntimeProvider Build(string providerLines, Func<string, string?>? environment = null)
    {
        var config = ConfigLoader.Parse("[models.m]\nrouting = [\"p\"]\n[models.m.providers.p]\n" + providerLines);
        return GatewayRuntime.Build(config, environment ?? (_ => "secret")).Models["m"].Providers[0];
    }

    [Theory]
    [InlineData("", "https://api.anthropic.com/v1/messages")]
    [InlineData("api_base = \"http://proxy.test/anthropic/v1\"\n", "http://proxy.test/anthropic/v1/messages")]
    [InlineData("api_base = \"http://proxy.test/v1/\"\n", "http://proxy.test/v1/messages")]
    [InlineData("api_base = \"http://proxy.test/v1/messages\"\n", "http://proxy.test/v1/messages")]
    public void Build_Anthropic_MessagesUriXApiKeyAndVersionHeader(string apiBase, string expectedUri)
    {
        var provider = Build("type = \"anthropic\"\nmodel_name = \"claude-3-5-haiku-20241022\"\n" + apiBase);

        provider.IsImplemented.Should().BeTrue();
        provider.Policy!.RequestUri.Should().Be(new Uri(expectedUri));
        provider.Policy.AuthHeaderName.Should().Be("x-api-key");
        provider.Policy.AuthHeaderValue.Should().Be("secret");
        provider.Policy.FixedHeaders.Should().ContainSingle().Which.Should().Be(new KeyValuePair<string, string>("anthropic-version", "2023-06-01"));
        provider.StreamPolicy.Should().BeNull("Anthropic streams from the same endpoint");
    }

    [Fact]
    public void Build_AnthropicProviderTools_InItsFormat()
    {
        var provider = Build("type = \"anthropic\"\nmodel_name = \"claude-3-5-haiku-20241022\"\nprovider_tools = [{ type = \"web_search_20250305\", name = \"web_search\", max_uses = 5 }]\n");
        var request = new TensorZero.Proxy.Functions.ModelRequest { Messages = [new(TensorZero.Proxy.Functions.Role.User, [new TensorZero.Proxy.Functions.TextBlock("Hi")])] };

        provider.Format.TryWriteRequest(request, provider.UpstreamModelName, "anthropic", false, out var body, out _, null, null).Should().BeTrue();

        System.Text.Json.JsonDocument.Parse(body).RootElement.GetProperty("tools").GetRawText()
            .Should().Be("""[{"type":"web_search_20250305","name":"web_search","max_uses":5}]""");
    }

    [Fact]
    public void Build_Gemini_GenerateContentAndStreamUrisWithGoogleKeyHeader()
    {
        var provider = Build("type = \"google_ai_studio_gemini\"\nmodel_name = \"gemini-2.0-flash\"\n");

        provider.Policy!.RequestUri.Should().Be(new Uri("https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:generateContent"));
        provider.StreamPolicy!.RequestUri.Should().Be(new Uri("https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse"));
        provider.Policy.AuthHeaderName.Should().Be("x-goog-api-key");
        provider.StreamPolicy.AuthHeaderValue.Should().Be("secret");
    }

    [Theory]
    [InlineData("anthropic", "claude-3-5-haiku-20241022", "ANTHROPIC_API_KEY")]
    [InlineData("google_ai_studio_gemini", "gemini-2.0-flash", "GOOGLE_AI_STUDIO_API_KEY")]
    public void Build_DefaultCredential_TensorZerosVariable(string type, string model, string variable)
    {
        var provider = Build($"type = \"{type}\"\nmodel_name = \"{model}\"\n", name => name == variable ? "from-env" : null);

        provider.Policy!.AuthHeaderValue.Should().Be("from-env");
    }

    [Theory]
    [InlineData("anthropic")]
    [InlineData("google_ai_studio_gemini")]
    public void Build_NoneCredential_NoAuthHeader(string type)
    {
        var provider = Build($"type = \"{type}\"\nmodel_name = \"x\"\napi_key_location = \"none\"\n");

        provider.Policy!.AuthHeaderName.Should().BeNull();
    }

    [Theory]
    [InlineData("azure", "api-key", "k")]
    [InlineData("anthropic", "x-api-key", "k")]
    [InlineData("google_ai_studio_gemini", "x-goog-api-key", "k")]
    [InlineData("openai", "Authorization", "Bearer k")]
    [InlineData("groq", "Authorization", "Bearer k")]
    public void CredentialHeader_EachTypesHeader(string type, string name, string value)
    {
        ProviderTypeInfo.TryGet(type, out var info).Should().BeTrue();

        GatewayRuntime.CredentialHeader(info.Type, "k").Should().Be((name, value));
    }

    [Fact]
    public void CreateClusters_ShorthandClustersForAnthropicAndGemini()
    {
        var runtime = GatewayRuntime.Build(ConfigLoader.Parse(""), _ => "key");

        var clusters = runtime.CreateClusters().ToDictionary(c => c.ClusterId);

        clusters["shorthand/anthropic"].Destinations!["upstream"].Address.Should().Be("https://api.anthropic.com/v1/");
        clusters["shorthand/google_ai_studio_gemini"].Destinations!["upstream"].Address.Should().Be("https://generativelanguage.googleapis.com/v1beta/");
        var model = runtime.ResolveShorthand("anthropic::claude-sonnet-4-5", out _)!;
        model.Providers[0].ClusterId.Should().Be("shorthand/anthropic");
        model.RequiresTypedPath.Should().BeTrue();
    }

    [Theory]
    [InlineData("anthropic", true)]
    [InlineData("google_ai_studio_gemini", true)]
    [InlineData("openai", false)]
    public void RequiresTypedPath_ModelsWithAProviderThatDoesNotSpeakOpenAIChat(string type, bool expected)
    {
        var config = ConfigLoader.Parse($"""
            [models.m]
            routing = ["o", "p"]
            [models.m.providers.o]
            type = "openai"
            model_name = "gpt"
            [models.m.providers.p]
            type = "{type}"
            model_name = "claude-3-5-haiku-20241022"

            [functions.f]
            type = "chat"
            [functions.f.variants.v]
            type = "chat_completion"
            model = "m"
            """);

        var runtime = GatewayRuntime.Build(config, _ => "key");

        runtime.Models["m"].RequiresTypedPath.Should().Be(expected);
        runtime.Functions["f"].RequiresTypedPath.Should().Be(expected);
    }
}
