using TensorZero.Proxy.Configuration;
using TensorZero.Proxy.Routing;
using TensorZero.Proxy.Tests.TestSupport;
using TensorZero.Proxy.Transforms;

namespace TensorZero.Proxy.Tests.Configuration;

/// <summary>Every TensorZero provider type and its keys, credential locations, shorthands, embedding models.</summary>
public sealed class ProviderConfigTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static string Provider(string body) => $"[models.m]\nrouting = [\"p\"]\n[models.m.providers.p]\n{body}\n";

    public static TheoryData<string, bool, string?> ProviderTypes => new()
    {
        { "type = \"openai\"\nmodel_name = \"gpt\"\napi_type = \"chat_completions\"", true, "gpt" },
        { "type = \"openai\"\nmodel_name = \"gpt\"\napi_type = \"responses\"\ninclude_encrypted_reasoning = true\nprovider_tools = [{ type = \"web_search\" }]", false, "gpt" },
        { "type = \"azure\"\ndeployment_id = \"dep\"\nendpoint = \"https://x.openai.azure.com\"", true, null },
        { "type = \"azure\"\ndeployment_id = \"dep\"\nendpoint = \"dynamic::azure_endpoint\"", false, null },
        { "type = \"vllm\"\nmodel_name = \"llama\"\napi_base = \"http://h:8000/v1\"", true, "llama" },
        { "type = \"sglang\"\nmodel_name = \"llama\"\napi_base = \"http://h:8000/v1\"", true, "llama" },
        { "type = \"tgi\"\napi_base = \"http://h:8080/v1/\"", true, "tgi" },
        { "type = \"tgi\"\napi_base = \"http://h:8080/v1/\"\nmodel_name = \"phi\"", true, "phi" },
        { "type = \"together\"\nmodel_name = \"t\"\nparse_think_blocks = true", true, "t" },
        { "type = \"fireworks\"\nmodel_name = \"f\"\nparse_think_blocks = false", true, "f" },
        { "type = \"groq\"\nmodel_name = \"g\"\nreasoning_format = \"parsed\"", true, "g" },
        { "type = \"mistral\"\nmodel_name = \"m\"\nprompt_mode = \"reasoning\"", true, "m" },
        { "type = \"deepseek\"\nmodel_name = \"d\"", true, "d" },
        { "type = \"openrouter\"\nmodel_name = \"o\"", true, "o" },
        { "type = \"xai\"\nmodel_name = \"x\"", true, "x" },
        { "type = \"hyperbolic\"\nmodel_name = \"h\"", true, "h" },
        { "type = \"dummy\"\nmodel_name = \"test\"", true, "test" },
        { "type = \"anthropic\"\nmodel_name = \"claude\"\nbeta_structured_outputs = true\napi_base = \"https://a.example/v1\"", true, "claude" },
        { "type = \"aws_bedrock\"\nmodel_id = \"anthropic.claude\"\nregion = \"us-east-1\"\nendpoint_url = \"env::BEDROCK_URL\"\napi_key = \"env::BEDROCK_KEY\"", false, "anthropic.claude" },
        { "type = \"aws_bedrock\"\nmodel_id = \"m1\"\nregion = \"sdk\"\naccess_key_id = \"env::A\"\nsecret_access_key = \"env::S\"\nsession_token = \"dynamic::t\"\nallow_auto_detect_region = true", false, "m1" },
        { "type = \"aws_sagemaker\"\nendpoint_name = \"ep\"\nmodel_name = \"gemma\"\nhosted_provider = \"tgi\"\nregion = \"us-east-1\"", false, "gemma" },
        { "type = \"gcp_vertex_anthropic\"\nmodel_id = \"claude@1\"\nlocation = \"us-east5\"\nproject_id = \"p\"\ncredential_location = \"sdk\"", false, "claude@1" },
        { "type = \"gcp_vertex_gemini\"\nmodel_id = \"gemini\"\nlocation = \"us-central1\"\nproject_id = \"p\"", false, "gemini" },
        { "type = \"gcp_vertex_gemini\"\nendpoint_id = \"123\"\nlocation = \"us-central1\"\nproject_id = \"p\"\ncredential_location = { default = \"sdk\", fallback = \"path::/k.json\" }", false, "123" },
        { "type = \"google_ai_studio_gemini\"\nmodel_name = \"gemini-2.0\"", true, "gemini-2.0" },
    };

    [Theory]
    [MemberData(nameof(ProviderTypes))]
    public void Parse_EveryProviderType_LoadsWithItsKeys(string body, bool implemented, string? modelName)
    {
        var config = ConfigLoader.Parse(Provider(body));

        var provider = config.Models["m"].Providers["p"];
        provider.Implemented.Should().Be(implemented);
        provider.ModelName.Should().Be(modelName);
        var notImplemented = config.Warnings.Where(w => w.StartsWith("models.m.providers.p: provider type ", StringComparison.Ordinal)).ToList();
        if (implemented)
        {
            notImplemented.Should().BeEmpty();
        }
        else
        {
            notImplemented.Should().ContainSingle().Which.Should().EndWith("is not implemented by TensorZero.Proxy yet: attempts at it fail over to the next provider");
        }
    }

    [Fact]
    public void Parse_AwsBedrock_KeepsItsSettings()
    {
        var config = ConfigLoader.Parse(Provider("type = \"aws_bedrock\"\nmodel_id = \"m1\"\nregion = \"env::R\"\naccess_key_id = \"env::A\""));

        var provider = config.Models["m"].Providers["p"];
        provider.Type.Should().Be(ProviderType.AwsBedrock);
        provider.ApiKeyLocation.Should().Be(CredentialLocation.Sdk);
        provider.TypeSettings.Should().Contain(new KeyValuePair<string, string>("region", "env::R"))
            .And.Contain(new KeyValuePair<string, string>("access_key_id", "env::A"));
        config.Warnings.Should().Contain("models.m.providers.p: provider type 'aws_bedrock' is not implemented by TensorZero.Proxy yet: attempts at it fail over to the next provider");
    }

    public static TheoryData<string, string> InvalidProviders => new()
    {
        { "type = \"openai\"\nmodel_name = \"x\"\nmodel_id = \"y\"", "models.m.providers.p.model_id (line 6): unknown key" },
        { "type = \"vllm\"\nmodel_name = \"x\"\napi_base = \"http://h/\"\ndeployment_id = \"d\"", "models.m.providers.p.deployment_id (line 7): unknown key" },
        { "type = \"together\"\nmodel_name = \"x\"\nreasoning_format = \"parsed\"", "models.m.providers.p.reasoning_format (line 6): unknown key" },
        { "type = \"tgi\"", "models.m.providers.p: missing required key 'api_base'" },
        { "type = \"aws_bedrock\"\nregion = \"us-east-1\"", "models.m.providers.p: missing required key 'model_id'" },
        { "type = \"aws_sagemaker\"\nendpoint_name = \"e\"\nmodel_name = \"m\"\nhosted_provider = \"vllm\"", "models.m.providers.p.hosted_provider (line 7): unknown hosted provider 'vllm'" },
        { "type = \"aws_sagemaker\"\nendpoint_name = \"e\"\nmodel_name = \"m\"", "models.m.providers.p: missing required key 'hosted_provider'" },
        { "type = \"gcp_vertex_gemini\"\nmodel_id = \"a\"\nendpoint_id = \"b\"\nlocation = \"l\"\nproject_id = \"p\"", "models.m.providers.p: exactly one of 'model_id' and 'endpoint_id' must be set" },
        { "type = \"gcp_vertex_gemini\"\nlocation = \"l\"\nproject_id = \"p\"", "models.m.providers.p: exactly one of 'model_id' and 'endpoint_id' must be set" },
        { "type = \"gcp_vertex_anthropic\"\nmodel_id = \"a\"\nproject_id = \"p\"", "models.m.providers.p: missing required key 'location'" },
        { "type = \"gcp_vertex_anthropic\"\nmodel_id = \"a\"\nlocation = \"l\"\nproject_id = \"p\"\napi_key_location = \"none\"", "models.m.providers.p.api_key_location (line 8): unknown key" },
        { "type = \"openai\"\nmodel_name = \"x\"\napi_type = \"completions\"", "models.m.providers.p.api_type (line 6): unknown API type 'completions'" },
        { "type = \"openai\"\nmodel_name = \"\"", "models.m.providers.p.model_name (line 5): must not be empty" },
        { "type = \"anthropic\"\nmodel_name = \"c\"\nprovider_tools = \"web\"", "models.m.providers.p.provider_tools (line 6): must be an array of tables (got a string)" },
        { "type = \"openai\"\nmodel_name = \"x\"\ndiscard_unknown_chunks = 1", "models.m.providers.p.discard_unknown_chunks (line 6): must be a boolean (got an integer)" },
        { "type = \"openai\"\nmodel_name = \"x\"\ncost = 3", "models.m.providers.p.cost (line 6): must be an array of tables" },
    };

    [Theory]
    [MemberData(nameof(InvalidProviders))]
    public void Parse_InvalidProvider_ReportsKeyPath(string body, string expected) => ShouldFail(Provider(body), expected);

    public static TheoryData<string, string> CredentialLocations => new()
    {
        { "\"env::KEY\"", "env::KEY" },
        { "\"none\"", "none" },
        { "\"dynamic::my_key\"", "dynamic::my_key" },
        { "\"path::/etc/key\"", "path::/etc/key" },
        { "\"path_from_env::KEY_FILE\"", "path_from_env::KEY_FILE" },
        { "{ default = \"dynamic::k\", fallback = \"env::OPENAI_API_KEY\" }", "{ default = \"dynamic::k\", fallback = \"env::OPENAI_API_KEY\" }" },
        { "{ fallback = \"none\", default = \"env::A\" }", "{ default = \"env::A\", fallback = \"none\" }" },
    };

    [Theory]
    [MemberData(nameof(CredentialLocations))]
    public void Parse_CredentialLocation_EveryForm(string toml, string expected)
    {
        var config = ConfigLoader.Parse(Provider($"type = \"openai\"\nmodel_name = \"x\"\napi_key_location = {toml}"));

        config.Models["m"].Providers["p"].ApiKeyLocation.ToString().Should().Be(expected);
    }

    public static TheoryData<string, string> InvalidCredentialLocations => new()
    {
        { "\"sdk\"", "models.m.providers.p.api_key_location (line 6): 'sdk' is only a credential location of the aws_bedrock, aws_sagemaker" },
        { "\"KEY\"", "models.m.providers.p.api_key_location (line 6): 'KEY' is not a credential location" },
        { "\"dynamic::\"", "models.m.providers.p.api_key_location (line 6): 'dynamic::' names nothing after 'dynamic::'" },
        { "{ default = \"env::A\" }", "models.m.providers.p.api_key_location (line 6): must be { default = \"...\", fallback = \"...\" }" },
        { "{ default = \"env::A\", fallback = \"none\", extra = 1 }", "models.m.providers.p.api_key_location (line 6): must be { default = \"...\", fallback = \"...\" } with two credential locations (strings); unknown key 'extra'" },
        { "{ default = \"env::A\", fallback = \"nope\" }", "models.m.providers.p.api_key_location.fallback (line 6): 'nope' is not a credential location" },
        { "3", "models.m.providers.p.api_key_location (line 6): must be a credential location string or" },
    };

    [Theory]
    [MemberData(nameof(InvalidCredentialLocations))]
    public void Parse_InvalidCredentialLocation_ReportsKeyPath(string toml, string expected) =>
        ShouldFail(Provider($"type = \"openai\"\nmodel_name = \"x\"\napi_key_location = {toml}"), expected);

    [Fact]
    public void Parse_ProviderTypeDefaults_ApplyWhereNoCredentialIsNamed()
    {
        var config = ConfigLoader.Parse(Provider("type = \"openai\"\nmodel_name = \"x\"") + """
            [models.m.providers.own]
            type = "openai"
            model_name = "y"
            api_key_location = "env::OWN"
            [provider_types.openai.defaults]
            api_key_location = "dynamic::openai_key"
            [provider_types.gcp_vertex_gemini.defaults]
            credential_location = "sdk"
            [provider_types.gcp_vertex_gemini.sft]
            project_id = "p"
            """);

        config.Models["m"].Providers["p"].ApiKeyLocation.Should().Be(CredentialLocation.Dynamic("openai_key"));
        config.Models["m"].Providers["own"].ApiKeyLocation.Should().Be(CredentialLocation.Env("OWN"));
        config.ProviderTypeDefaults[ProviderType.GcpVertexGemini].Should().Be(CredentialLocation.Sdk);
        config.Warnings.Should().Contain(w => w.StartsWith("provider_types.gcp_vertex_gemini.sft: accepted for compatibility", StringComparison.Ordinal));

        var runtime = GatewayRuntime.Build(config, _ => null);
        runtime.ResolveShorthand("openai::gpt-4o", out _)!.Providers[0].DynamicCredentialName.Should().Be("openai_key");
    }

    [Theory]
    [InlineData("[provider_types.bedrock]\n", "provider_types.bedrock (line 1): unknown key")]
    [InlineData("[provider_types.openai.defaults]\n", "provider_types.openai.defaults: missing required key 'api_key_location'")]
    [InlineData("[provider_types.anthropic.defaults]\napi_key_location = \"sdk\"\n", "provider_types.anthropic.defaults.api_key_location (line 2): 'sdk' is only")]
    [InlineData("[provider_types.anthropic]\nsft = {}\n", "provider_types.anthropic.sft (line 2): unknown key")]
    public void Parse_InvalidProviderTypes_ReportsKeyPath(string toml, string expected) => ShouldFail(toml, expected);

    [Fact]
    public void Parse_TypedBodyKeys_BecomeExtraBodyEntriesBeforeTheProvidersOwn()
    {
        var config = ConfigLoader.Parse(Provider("type = \"groq\"\nmodel_name = \"g\"\nreasoning_format = \"parsed\"\nextra_body = [{ pointer = \"/x\", value = 1 }]") + """
            [models.n]
            routing = ["q"]
            [models.n.providers.q]
            type = "mistral"
            model_name = "m"
            prompt_mode = "reasoning"
            """);

        config.Models["m"].Providers["p"].ExtraBody.Select(e => e.ToString()).Should().Equal("{pointer: '/reasoning_format', value: \"parsed\"}", "{pointer: '/x', value: 1}");
        config.Models["n"].Providers["q"].ExtraBody.Select(e => e.ToString()).Should().Equal("{pointer: '/prompt_mode', value: \"reasoning\"}");
    }

    [Theory]
    [InlineData("openai::gpt")]
    [InlineData("tensorzero::x")]
    [InlineData("aws_bedrock::y")]
    public void Parse_ModelNameWithReservedPrefix_IsAnError(string name) =>
        ShouldFail(Provider("type = \"dummy\"\nmodel_name = \"x\"").Replace("models.m", $"models.\"{name}\"", StringComparison.Ordinal),
            $"models.{name}: the model name '{name}' starts with a reserved prefix");

    [Fact]
    public void Parse_ConfigExtraHeaders_MayCarryCredentialsAndContentLength()
    {
        var config = ConfigLoader.Parse(Provider("""
            type = "openai"
            model_name = "x"
            extra_headers = [{ name = "Content-Length", value = "2" }, { name = "x-api-key", value = "k" }, { name = "Authorization", delete = true }]
            """));

        config.Models["m"].Providers["p"].ExtraHeaders.Select(h => h.Name).Should().Equal("Content-Length", "x-api-key", "Authorization");
    }

    [Theory]
    [InlineData("Content-Length", false, false, "is a framing or hop-by-hop header")]
    [InlineData("Content-Length", true, true, null)]
    [InlineData("Authorization", false, false, "carries credentials")]
    [InlineData("Authorization", true, false, null)]
    [InlineData("x-api-key", false, true, null)]
    [InlineData("Transfer-Encoding", true, true, "is a framing or hop-by-hop header")]
    [InlineData("Host", true, true, "is a framing or hop-by-hop header")]
    public void ExtraHeaderRules_ConfigurationIsTrusted_RequestsAreNot(string name, bool allowCredentialOverride, bool fromConfiguration, string? problem)
    {
        var result = ExtraHeaderRules.Check(name, "v", ExtraHeaderLimits.Default, allowCredentialOverride, fromConfiguration);

        if (problem is null)
        {
            result.Should().BeNull();
        }
        else
        {
            result.Should().Contain(problem);
        }
    }

    public static TheoryData<string, string, string?, string?> RuntimeCredentials => new()
    {
        // location, environment (NAME=value;...), expected secret header value, expected dynamic name
        { "\"env::K\"", "K=secret", "Bearer secret", null },
        { "\"none\"", "", null, null },
        { "\"dynamic::k\"", "", null, "k" },
        { "{ default = \"dynamic::k\", fallback = \"env::K\" }", "K=fb", "Bearer fb", "k" },
        { "{ default = \"env::A\", fallback = \"env::B\" }", "B=second", "Bearer second", null },
        { "{ default = \"env::A\", fallback = \"none\" }", "", null, null },
        { "\"path::{dir}/key.txt\"", "", "Bearer file-secret", null },
        { "\"path_from_env::KEY_FILE\"", "KEY_FILE={dir}/key.txt", "Bearer file-secret", null },
    };

    [Theory]
    [MemberData(nameof(RuntimeCredentials))]
    public void BuildRuntime_CredentialLocation_ResolvesAtBuildOrPerRequest(string location, string environment, string? header, string? dynamicName)
    {
        _dir.Write("key.txt", "file-secret\n");
        var variables = environment.Split(';', StringSplitOptions.RemoveEmptyEntries)
            .Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p[1].Replace("{dir}", _dir.Root, StringComparison.Ordinal));
        var config = ConfigLoader.Parse(Provider($"type = \"openai\"\nmodel_name = \"x\"\napi_key_location = {location.Replace("{dir}", _dir.Root, StringComparison.Ordinal)}"));

        var provider = GatewayRuntime.Build(config, variables.GetValueOrDefault).Models["m"].Providers[0];

        provider.IsImplemented.Should().BeTrue();
        provider.Policy!.AuthHeaderValue.Should().Be(header);
        provider.DynamicCredentialName.Should().Be(dynamicName);
    }

    public static TheoryData<string, string, string> RuntimeCredentialErrors => new()
    {
        { "\"path::{dir}/missing.txt\"", "", "models.m.providers.p.api_key_location: cannot read the credential file '{dir}/missing.txt'" },
        { "\"path::{dir}/empty.txt\"", "", "models.m.providers.p.api_key_location: the credential file '{dir}/empty.txt' is empty" },
        { "\"path_from_env::KEY_FILE\"", "", "models.m.providers.p.api_key_location: environment variable 'KEY_FILE' is not set" },
        { "{ default = \"env::A\", fallback = \"env::B\" }", "", "models.m.providers.p.api_key_location: environment variable 'A' is not set; fallback: environment variable 'B' is not set" },
        { "{ default = \"dynamic::k\", fallback = \"env::B\" }", "", "models.m.providers.p.api_key_location: environment variable 'B' is not set" },
        { "{ default = \"dynamic::k\", fallback = \"dynamic::j\" }", "", "models.m.providers.p.api_key_location: a dynamic credential's fallback must not be dynamic too" },
    };

    [Theory]
    [MemberData(nameof(RuntimeCredentialErrors))]
    public void BuildRuntime_UnavailableCredential_IsAStartupErrorWithItsKeyPath(string location, string environment, string expected)
    {
        _dir.Write("empty.txt", "\n");
        var variables = environment.Split(';', StringSplitOptions.RemoveEmptyEntries).Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
        var config = ConfigLoader.Parse(Provider($"type = \"openai\"\nmodel_name = \"x\"\napi_key_location = {location.Replace("{dir}", _dir.Root, StringComparison.Ordinal)}"));

        var act = () => GatewayRuntime.Build(config, variables.GetValueOrDefault);

        act.Should().Throw<ConfigException>().Which.Errors.Should().ContainSingle()
            .Which.Should().StartWith(expected.Replace("{dir}", _dir.Root, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("vllm", "VLLM_API_KEY")]
    [InlineData("sglang", "SGLANG_API_KEY")]
    [InlineData("tgi", "TGI_API_KEY")]
    public void BuildRuntime_SelfHostedDefaultKey_IsUsedWhenSetAndOptional(string type, string variable)
    {
        var config = ConfigLoader.Parse(Provider($"type = \"{type}\"\nmodel_name = \"x\"\napi_base = \"http://h/v1/\""));

        GatewayRuntime.Build(config, name => name == variable ? "k" : null).Models["m"].Providers[0].Policy!.AuthHeaderValue.Should().Be("Bearer k");
        GatewayRuntime.Build(config, _ => null).Models["m"].Providers[0].Policy!.AuthHeaderName.Should().BeNull();
    }

    [Theory]
    [InlineData("AZURE_API_KEY")]
    [InlineData("AZURE_OPENAI_API_KEY")]
    public void BuildRuntime_AzureDefaultKey_ReadsTheLegacyVariableToo(string variable)
    {
        var config = ConfigLoader.Parse(Provider("type = \"azure\"\ndeployment_id = \"d\"\nendpoint = \"https://x.example\""));

        var provider = GatewayRuntime.Build(config, name => name == variable ? "k" : null).Models["m"].Providers[0];

        provider.Policy!.AuthHeaderName.Should().Be("api-key");
        provider.Policy.AuthHeaderValue.Should().Be("k");
    }

    [Fact]
    public void BuildRuntime_UnimplementedProvider_HasNoPolicyNoClusterAndNeedsNoCredential()
    {
        var config = ConfigLoader.Parse("""
            [models.m]
            routing = ["p", "q"]
            [models.m.providers.p]
            type = "aws_bedrock"
            model_id = "claude"
            region = "us-east-1"
            [models.m.providers.q]
            type = "openai"
            model_name = "x"
            api_key_location = "none"
            """);

        var runtime = GatewayRuntime.Build(config, _ => null);

        var providers = runtime.Models["m"].Providers;
        providers[0].IsImplemented.Should().BeFalse();
        providers[0].Policy.Should().BeNull();
        providers[0].ClusterId.Should().BeNull();
        providers[0].UpstreamModelName.Should().Be("claude");
        providers[1].IsImplemented.Should().BeTrue();
        runtime.CreateClusters().Select(c => c.ClusterId).Should().NotContain(id => id.Contains("aws_bedrock", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("openai::gpt-4o-mini", true, "gpt-4o-mini")]
    [InlineData("openai::responses::gpt-5", false, "gpt-5")]
    [InlineData("anthropic::claude-haiku-4-5", true, "claude-haiku-4-5")]
    [InlineData("google_ai_studio_gemini::gemini-2.5-flash", true, "gemini-2.5-flash")]
    [InlineData("gcp_vertex_gemini::projects/p/locations/l/publishers/google/models/g", false, "projects/p/locations/l/publishers/google/models/g")]
    [InlineData("gcp_vertex_anthropic::projects/p/locations/l/publishers/anthropic/models/c", false, "projects/p/locations/l/publishers/anthropic/models/c")]
    [InlineData("deepseek::deepseek-chat", true, "deepseek-chat")]
    [InlineData("fireworks::accounts/fireworks/models/x", true, "accounts/fireworks/models/x")]
    [InlineData("groq::llama", true, "llama")]
    [InlineData("dummy::good", true, "good")]
    public void ResolveShorthand_EveryTypeWithAShorthand_ResolvesToOneProvider(string shorthand, bool implemented, string upstream)
    {
        var runtime = GatewayRuntime.Build(ConfigLoader.Parse(""), _ => "key");

        var model = runtime.ResolveShorthand(shorthand, out var error);

        error.Should().BeNull();
        model!.Name.Should().Be(shorthand);
        model.Providers.Should().ContainSingle();
        model.Providers[0].IsImplemented.Should().Be(implemented);
        model.Providers[0].UpstreamModelName.Should().Be(upstream);
    }

    [Theory]
    [InlineData("azure::gpt")]
    [InlineData("vllm::llama")]
    [InlineData("aws_bedrock::m")]
    [InlineData("tgi::x")]
    public void ResolveShorthand_TypeWithoutShorthand_IsAnError(string shorthand)
    {
        var runtime = GatewayRuntime.Build(ConfigLoader.Parse(""), _ => "key");

        runtime.ResolveShorthand(shorthand, out var error).Should().BeNull();
        error.Should().Contain("has no shorthand form");
    }

    [Theory]
    [InlineData("gcp_vertex_anthropic::projects/p/locations/l/publishers/anthropic/models/c")]
    [InlineData("openai::responses::gpt-5")]
    public void Parse_VariantOnUnimplementedShorthand_LoadsAndBuilds(string model)
    {
        var config = ConfigLoader.Parse($"[functions.f]\ntype = \"chat\"\n[functions.f.variants.v]\ntype = \"chat_completion\"\nmodel = \"{model}\"\n");

        var runtime = GatewayRuntime.Build(config, _ => null);

        runtime.Functions["f"].Variants["v"].Model.Providers.Should().ContainSingle().Which.IsImplemented.Should().BeFalse();
    }

    [Fact]
    public void Parse_EmbeddingModels_AreParsedWithoutWarning()
    {
        var config = ConfigLoader.Parse("""
            [embedding_models.small]
            routing = ["openai", "azure"]
            timeout_ms = 5000
            [embedding_models.small.providers.openai]
            type = "openai"
            model_name = "text-embedding-3-small"
            timeout_ms = 1000
            extra_headers = [{ name = "X-A", value = "1" }]
            extra_body = [{ pointer = "/dimensions", value = 256 }]
            cost = [{ pointer = "/usage/prompt_tokens", cost_per_million = 0.02 }]
            [embedding_models.small.providers.azure]
            type = "azure"
            deployment_id = "emb"
            endpoint = "env::AZURE_ENDPOINT"
            api_key_location = "dynamic::azure"
            """);

        var model = config.EmbeddingModels["small"];
        model.Routing.Should().Equal("openai", "azure");
        model.Timeout.Should().Be(TimeSpan.FromSeconds(5));
        model.Providers["openai"].Timeouts.NonStreamingTotal.Should().Be(TimeSpan.FromSeconds(1));
        model.Providers["openai"].ExtraBody.Should().ContainSingle();
        model.Providers["azure"].ApiKeyLocation.Should().Be(CredentialLocation.Dynamic("azure"));
        config.Warnings.Should().Equal("embedding_models.small.providers.openai.cost: accepted for compatibility; has no effect in TensorZero.Proxy");
    }

    [Theory]
    [InlineData("[embedding_models.e]\nrouting = [\"p\"]\n[embedding_models.e.providers.p]\ntype = \"openai\"\nmodel_name = \"x\"\ntimeouts = { non_streaming.total_ms = 5 }\n",
        "embedding_models.e.providers.p.timeouts (line 6): unknown key")]
    [InlineData("[embedding_models.e]\nrouting = [\"q\"]\n[embedding_models.e.providers.p]\ntype = \"openai\"\nmodel_name = \"x\"\n",
        "embedding_models.e.routing (line 2): names provider 'q'")]
    [InlineData("[embedding_models.e]\nrouting = [\"p\"]\ntimeout_ms = 0\n[embedding_models.e.providers.p]\ntype = \"openai\"\nmodel_name = \"x\"\n",
        "embedding_models.e.timeout_ms (line 3): must be a positive number of milliseconds")]
    [InlineData("[embedding_models.e]\nrouting = [\"p\"]\n[embedding_models.e.providers.p]\ntype = \"anthropic\"\nmodel_name = \"x\"\n",
        "embedding_models.e.providers.p.type (line 4): provider type 'anthropic' has no embeddings endpoint")]
    public void Parse_InvalidEmbeddingModel_ReportsKeyPath(string toml, string expected) => ShouldFail(toml, expected);

    [Fact]
    public void Build_EmbeddingModel_SendsToEmbeddingsEndpoints()
    {
        var config = ConfigLoader.Parse("""
            [embedding_models.small]
            routing = ["openai", "azure", "vllm", "dummy"]
            timeout_ms = 5000
            [embedding_models.small.providers.openai]
            type = "openai"
            model_name = "text-embedding-3-small"
            [embedding_models.small.providers.azure]
            type = "azure"
            deployment_id = "emb"
            endpoint = "https://example.openai.azure.com"
            [embedding_models.small.providers.vllm]
            type = "vllm"
            model_name = "e5"
            api_base = "http://127.0.0.1:8000/v1/"
            [embedding_models.small.providers.dummy]
            type = "dummy"
            model_name = "test-embeddings"
            """);

        var runtime = GatewayRuntime.Build(config, name => name is "OPENAI_API_KEY" or "AZURE_API_KEY" ? "key" : null);

        var model = runtime.EmbeddingModels["small"];
        model.Timeouts.NonStreamingTotal.Should().Be(TimeSpan.FromSeconds(5));
        model.Providers.Select(p => p.Policy?.RequestUri?.ToString()).Should().Equal(
            "https://api.openai.com/v1/embeddings",
            $"https://example.openai.azure.com/openai/deployments/emb/embeddings?api-version={GatewayRuntime.AzureApiVersion}",
            "http://127.0.0.1:8000/v1/embeddings",
            null);
        model.Providers[1].Policy!.AuthHeaderName.Should().Be("api-key");
        model.Providers[3].IsImplemented.Should().BeFalse("the dummy answers chat requests only");
        model.Providers.Select(p => p.ClusterId).Should().Equal("embedding/small/openai", "embedding/small/azure", "embedding/small/vllm", null);
        runtime.CreateClusters().Select(c => c.ClusterId).Should().Contain(["embedding/small/openai", "embedding/small/azure", "embedding/small/vllm"]);
        config.Warnings.Should().ContainSingle().Which.Should().Contain("dummy (embeddings)");
    }

    [Theory]
    [InlineData("small", true, null)]
    [InlineData("openai::text-embedding-3-large", true, null)]
    [InlineData("openrouter::google/gemini-embedding-001", true, null)]
    [InlineData("missing", false, "Unknown embedding model 'missing' (embedding models: 'small'")]
    [InlineData("together::m", false, "embedding shorthands exist for openai and openrouter only")]
    public void ResolveEmbeddingModel_Names_ResolveOrExplain(string name, bool found, string? error)
    {
        var config = ConfigLoader.Parse("[embedding_models.small]\nrouting = [\"p\"]\n[embedding_models.small.providers.p]\ntype = \"openai\"\nmodel_name = \"x\"\n");
        var runtime = GatewayRuntime.Build(config, _ => "key");

        var model = runtime.ResolveEmbeddingModel(name, out var why, out var unknown);

        (model is not null).Should().Be(found);
        if (error is not null)
        {
            why.Should().Contain(error);
            unknown.Should().Be(name == "missing");
        }
        else
        {
            model!.Providers.Should().ContainSingle().Which.Policy!.RequestUri.AbsolutePath.Should().EndWith("/embeddings");
        }
    }

    [Fact]
    public void Parse_TimeoutAboveGlobalOutboundTimeout_IsAnError() =>
        ShouldFail(Provider("type = \"dummy\"\nmodel_name = \"x\"\ntimeouts = { non_streaming.total_ms = 60000 }") +
            "[gateway]\nglobal_outbound_http_timeout_ms = 30000\n",
            "models.m.providers.p.timeouts.non_streaming.total_ms (line 6): must be at most gateway.global_outbound_http_timeout_ms (30000 ms; got 60000)");

    private static void ShouldFail(string toml, string expected)
    {
        var act = () => ConfigLoader.Parse(toml);

        act.Should().Throw<ConfigException>().Which.Errors.Should().Contain(e => e.StartsWith(expected, StringComparison.Ordinal),
            because: $"the errors should include '{expected}'");
    }
}
