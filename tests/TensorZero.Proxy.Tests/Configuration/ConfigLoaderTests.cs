using TensorZero.Proxy.Configuration;
using TensorZero.Proxy.Routing;

namespace TensorZero.Proxy.Tests.Configuration;

public sealed class ConfigLoaderTests
{
    private const string ValidModel = """
        [models.m]
        routing = ["p"]

        [models.m.providers.p]
        type = "openai"
        model_name = "gpt-4o-mini"
        api_key_location = "none"
        """;

    [Fact]
    public void Parse_ValidFile_MapsEveryField()
    {
        var config = ConfigLoader.Parse("""
            [gateway]
            bind_address = "0.0.0.0:3001"
            base_path = "/llm/"
            debug = true
            observability = { enabled = false }

            [models."gpt-4o"]
            routing = ["azure", "openai"]
            timeouts = { non_streaming.total_ms = 5000, streaming.ttft_ms = 800, streaming.total_ms = 9000 }

            [models."gpt-4o".providers.openai]
            type = "openai"
            model_name = "gpt-4o-2024-08-06"
            api_key_location = "env::MY_KEY"
            timeouts = { non_streaming = { total_ms = 1500 } }

            [models."gpt-4o".providers.azure]
            type = "azure"
            deployment_id = "dep"
            endpoint = "https://x.openai.azure.com"
            """);

        config.Gateway.BindAddress.Should().Be("0.0.0.0:3001");
        config.Gateway.BasePath.Should().Be("/llm");
        config.Gateway.Debug.Should().BeTrue();
        config.Gateway.Observability.Enabled.Should().BeFalse();
        var model = config.Models["gpt-4o"];
        model.Routing.Should().Equal("azure", "openai");
        model.Timeouts.Should().Be(new TimeoutsConfig(TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(800), TimeSpan.FromSeconds(9)));
        var openai = model.Providers["openai"];
        openai.Type.Should().Be(ProviderType.OpenAI);
        openai.ApiBase.Should().Be(new Uri("https://api.openai.com/v1/"));
        openai.ApiKeyLocation.Should().Be(CredentialLocation.Env("MY_KEY"));
        openai.Timeouts.NonStreamingTotal.Should().Be(TimeSpan.FromMilliseconds(1500));
        var azure = model.Providers["azure"];
        // TensorZero's default, with its legacy variable as fallback.
        azure.ApiKeyLocation.Should().Be(CredentialLocation.Env("AZURE_API_KEY") with { Fallback = CredentialLocation.Env("AZURE_OPENAI_API_KEY") });
        azure.DeploymentId.Should().Be("dep");
    }

    [Theory]
    [InlineData("vllm", "api_base = \"http://127.0.0.1:8000/v1\"", "http://127.0.0.1:8000/v1/")]
    [InlineData("together", "", "https://api.together.xyz/v1/")]
    [InlineData("groq", "", "https://api.groq.com/openai/v1/")]
    [InlineData("mistral", "", "https://api.mistral.ai/v1/")]
    [InlineData("deepseek", "", "https://api.deepseek.com/")]
    [InlineData("fireworks", "", "https://api.fireworks.ai/inference/v1/")]
    [InlineData("openrouter", "", "https://openrouter.ai/api/v1/")]
    [InlineData("xai", "", "https://api.x.ai/v1/")]
    [InlineData("hyperbolic", "", "https://api.hyperbolic.xyz/v1/")]
    [InlineData("sglang", "api_base = \"http://h:1/v1/\"", "http://h:1/v1/")]
    [InlineData("tgi", "api_base = \"http://h:2/v1\"", "http://h:2/v1/")]
    public void Parse_OpenAICompatibleTypes_HaveTheirApiBase(string type, string extra, string expectedBase)
    {
        var config = ConfigLoader.Parse($"""
            [models.m]
            routing = ["p"]
            [models.m.providers.p]
            type = "{type}"
            model_name = "x"
            {extra}
            """);

        config.Models["m"].Providers["p"].ApiBase.Should().Be(new Uri(expectedBase));
    }

    public static TheoryData<string, string> InvalidConfigs => new()
    {
        { "[gateway]\nbogus = 1\n", "gateway.bogus (line 2): unknown key" },
        { "wat = 1\n", "wat (line 1): unknown key" },
        { "[metrics.m]\ntype = \"boolean\"\n", "metrics.m: missing required key 'optimize'" },
        { "[gateway]\nbind_address = \"nonsense\"\n", "gateway.bind_address (line 2): 'nonsense' is not a host:port address" },
        { "[gateway]\nbase_path = \"llm\"\n", "gateway.base_path (line 2): 'llm' must be an absolute URL path" },
        { "[gateway]\ndebug = \"yes\"\n", "gateway.debug (line 2): must be a boolean (got a string)" },
        { "[models.m]\nrouting = [\"p\"]\n", "models.m: missing required key 'providers'" },
        { "[models.m.providers.p]\ntype = \"openai\"\nmodel_name = \"x\"\n", "models.m: missing required key 'routing'" },
        { ValidModel.Replace("routing = [\"p\"]", "routing = [\"p\", \"q\"]"), "models.m.routing (line 2): names provider 'q', which is not defined under [models.m.providers] (defined: 'p')" },
        { ValidModel.Replace("routing = [\"p\"]", "routing = []"), "models.m.routing (line 2): must name at least one provider" },
        { ValidModel.Replace("routing = [\"p\"]", "routing = [\"p\", \"p\"]"), "models.m.routing (line 2): names provider 'p' more than once" },
        { ValidModel.Replace("routing = [\"p\"]", "routing = [1]"), "models.m.routing[0] (line 2): must be a string (got an integer)" },
        { ValidModel.Replace("type = \"openai\"", "type = \"anthropicx\""), "models.m.providers.p.type (line 5): unknown provider type 'anthropicx'" },
        { ValidModel.Replace("type = \"openai\"\n", ""), "models.m.providers.p: missing required key 'type'" },
        { ValidModel.Replace("model_name = \"gpt-4o-mini\"\n", ""), "models.m.providers.p: missing required key 'model_name'" },
        { ValidModel + "\nbogus = true\n", "models.m.providers.p.bogus (line 8): unknown key (expected one of: type, timeouts, extra_headers, extra_body, discard_unknown_chunks, cost, batch_cost, allow_credential_override, forward_client_headers, model_name, api_base, api_key_location, api_type, include_encrypted_reasoning, provider_tools, content_type_overrides)" },
        { ValidModel + "\nextra_headers = [{ name = \"Host\", value = \"x\" }]\n", "models.m.providers.p.extra_headers[0] (line 8): header 'Host' is a framing or hop-by-hop header" },
        { ValidModel + "\nextra_headers = [{ name = \"X-A\", value = \"v\\r\\nHost: evil\" }]\n", "models.m.providers.p.extra_headers[0] (line 8): the value of header 'X-A' contains a control character" },
        { ValidModel + "\nextra_headers = [{ name = \"Connection\", delete = true }]\n", "models.m.providers.p.extra_headers[0] (line 8): header 'Connection' is a framing or hop-by-hop header" },
        { ValidModel + "\nextra_headers = [{ name = \"X-A\", value = \"v\", when = 1 }]\n", "models.m.providers.p.extra_headers[0] (line 8): unknown key 'when'" },
        { ValidModel + "\nextra_headers = [{ name = \"X-A\" }]\n", "models.m.providers.p.extra_headers[0] (line 8): needs exactly one of 'value' or 'delete = true'" },
        { ValidModel + "\nextra_headers = [{ name = \"X-A\", delete = false }]\n", "models.m.providers.p.extra_headers[0] (line 8): 'delete' must be true when present" },
        { ValidModel + "\nextra_headers = \"X-A: v\"\n", "models.m.providers.p.extra_headers (line 8): must be an array" },
        { ValidModel + "\nextra_body = [{ pointer = \"temperature\", value = 1 }]\n", "models.m.providers.p.extra_body[0].pointer (line 8): pointer 'temperature' must start with '/'" },
        { ValidModel + "\nextra_body = [{ pointer = \"/t\", value = nan }]\n", "models.m.providers.p.extra_body[0].value (line 8): nan and inf have no JSON form" },
        { ValidModel + "\nforward_client_headers = [\"bad header\"]\n", "models.m.providers.p.forward_client_headers (line 8): 'bad header' is not a header name pattern" },
        { "[gateway.extra_headers]\nmax_entries = 0\n", "gateway.extra_headers.max_entries (line 2): must be between 1 and 1024" },
        { ValidModel.Replace("\"none\"", "\"env::\""), "models.m.providers.p.api_key_location (line 7): 'env::' names nothing after 'env::'" },
        { ValidModel.Replace("\"none\"", "\"KEY\""), "models.m.providers.p.api_key_location (line 7): 'KEY' is not a credential location" },
        { ValidModel + "\napi_base = \"ftp://x\"\n", "models.m.providers.p.api_base (line 8): 'ftp://x' is not an http(s) URL" },
        { "[models.m]\nrouting = [\"p\"]\n[models.m.providers.p]\ntype = \"vllm\"\nmodel_name = \"x\"\n", "models.m.providers.p: missing required key 'api_base'" },
        { "[models.m]\nrouting = [\"p\"]\n[models.m.providers.p]\ntype = \"azure\"\nendpoint = \"https://x\"\n", "models.m.providers.p: missing required key 'deployment_id'" },
        { "[models.m]\nrouting = [\"p\"]\n[models.m.providers.p]\ntype = \"azure\"\ndeployment_id = \"d\"\nendpoint = \"nope\"\n", "models.m.providers.p.endpoint (line 6): 'nope' is not an http(s) URL, env::VARIABLE or dynamic::NAME" },
        { ValidModel + "\ntimeouts = { non_streaming.total_ms = 0 }\n", "models.m.providers.p.timeouts.non_streaming.total_ms (line 8): must be a positive number of milliseconds (got 0)" },
        { ValidModel + "\ntimeouts = { streaming.ttft_ms = -5 }\n", "models.m.providers.p.timeouts.streaming.ttft_ms (line 8): must be a positive number of milliseconds (got -5)" },
        { ValidModel + "\ntimeouts = { streaming.ttft_ms = 1.5 }\n", "models.m.providers.p.timeouts.streaming.ttft_ms (line 8): must be an integer (got a float)" },
        { ValidModel + "\ntimeouts = { streaming.total_ms = 99999999 }\n", "models.m.providers.p.timeouts.streaming.total_ms (line 8): must be at most 3600000 ms" },
        { ValidModel + "\ntimeouts = { streaming.first_ms = 5 }\n", "models.m.providers.p.timeouts.streaming.first_ms (line 8): unknown key" },
        { ValidModel + "\ntimeouts = { total_ms = 5 }\n", "models.m.providers.p.timeouts.total_ms (line 8): unknown key (expected one of: non_streaming, streaming)" },
        { "[models.m]\nrouting = [\"p\"]\nproviders = 3\n", "models.m.providers (line 3): must be a table (got an integer)" },
        { "this is not toml", "tensorzero.toml:1:" },
        { ValidModel + Function("model = \"nope\""), "functions.f.variants.v.model (line 14): 'nope' is neither a model of [models] (defined: 'm') nor a shorthand" },
        { ValidModel + Function("model = \"azure::x\""), "functions.f.variants.v.model (line 14): 'azure::x' is neither" },
        { ValidModel + Function("model = \"m\"\nweight = -1"), "functions.f.variants.v.weight (line 15): must be a number >= 0" },
        { ValidModel + Function("model = \"m\"\ntemperature = \"hot\""), "functions.f.variants.v.temperature (line 15): must be a number" },
        { ValidModel + Function("model = \"m\"\nmax_tokens = 0"), "functions.f.variants.v.max_tokens (line 15): must be an integer > 0" },
        { ValidModel + Function("model = \"m\"\nstop_sequences = [1]"), "functions.f.variants.v.stop_sequences[0] (line 15): must be a string (got an integer)" },
        { ValidModel + Function("model = \"m\"\nretries = { num_retries = -1 }"), "functions.f.variants.v.retries.num_retries (line 15): must be between 0 and 100" },
        { ValidModel + Function("model = \"m\"\nretries = { max_delay_s = 0 }"), "functions.f.variants.v.retries.max_delay_s (line 15): must be a positive number of seconds" },
        { ValidModel + Function("model = \"m\"\nsystem_template = \"no-such-template.minijinja\""), "functions.f.variants.v.system_template (line 15): cannot read '" },
        { ValidModel + Function("model = \"m\"\nmystery = 1"), "functions.f.variants.v.mystery (line 15): unknown key" },
        { ValidModel + Function("model = \"m\"").Replace("type = \"chat_completion\"", "type = \"best_of_n\""), "functions.f.variants.v.type (line 13): unknown variant type 'best_of_n'" },
        { ValidModel + Function("model = \"m\"").Replace("type = \"chat\"", "type = \"json\""), "functions.f.variants.v: missing required key 'json_mode': functions.f is a json function" },
        { ValidModel + Function("model = \"m\"") + "\n[functions.f.experimentation]\ntype = \"static_weights\"\ncandidate_variants = { ghost = 1.0 }\n",
            "functions.f.experimentation.candidate_variants (line 17): names variant 'ghost', which is not defined under the function's variants" },
        { ValidModel + Function("model = \"m\"") + "\n[functions.f.experimentation]\ntype = \"uniform\"\nfallback_variants = [\"ghost\"]\n",
            "functions.f.experimentation.fallback_variants (line 17): names variant 'ghost'" },
        { ValidModel + Function("model = \"m\"") + "\n[functions.f.experimentation]\ntype = \"bandit\"\n", "functions.f.experimentation.type (line 16): unknown experimentation type 'bandit'" },
        { ValidModel + "\n[functions.f]\ntype = \"chat\"\n", "functions.f: missing required key 'variants'" },
    };

    private static string Function(string variantBody) => $"""


        [functions.f]
        type = "chat"

        [functions.f.variants.v]
        type = "chat_completion"
        {variantBody}
        """;

    [Fact]
    public void Parse_Functions_MapsVariantsAndExperimentation()
    {
        var config = ConfigLoader.Parse(File.ReadAllText(TestSupport.RepoPaths.Config("functions-example.toml")));

        var function = config.Functions["draft_email"];
        function.Variants.Keys.Should().BeEquivalentTo("a", "b", "canary");
        function.Experimentation.Candidates.Select(c => $"{c.Key}={c.Value}").Should().Equal("a=0.7", "b=0.3", "canary=0");
        function.Variants["a"].DefaultParameters.Select(p => $"{p.Key}={p.Value}").Should().Equal("temperature=0.3", "max_tokens=200");
        config.Functions["flaky"].Experimentation.Fallbacks.Should().Equal("backup");
    }

    [Theory]
    [InlineData("", "a=1,b=1|")]
    [InlineData("weight = 2.0", "a=2|b")]
    [InlineData("weight = 0", "|b")]
    public void Parse_NoExperimentation_UsesLegacyWeightsElseUniform(string weightOfA, string expected)
    {
        var config = ConfigLoader.Parse(ValidModel + $$"""


            [functions.f]
            type = "chat"
            [functions.f.variants.a]
            type = "chat_completion"
            model = "m"
            {{weightOfA}}
            [functions.f.variants.b]
            type = "chat_completion"
            model = "m"
            """);

        var experimentation = config.Functions["f"].Experimentation;
        (string.Join(",", experimentation.Candidates.Select(c => $"{c.Key}={c.Value}")) + "|" + string.Join(",", experimentation.Fallbacks)).Should().Be(expected);
    }

    [Theory]
    [MemberData(nameof(InvalidConfigs))]
    public void Parse_InvalidConfig_ReportsKeyPath(string toml, string expectedError)
    {
        var act = () => ConfigLoader.Parse(toml);

        act.Should().Throw<ConfigException>().Which.Errors.Should().Contain(e => e.StartsWith(expectedError, StringComparison.Ordinal),
            because: $"the errors should include '{expectedError}'");
    }

    [Fact]
    public void Parse_StreamingTotalBelowTtft_Warns()
    {
        var config = ConfigLoader.Parse(ValidModel + "\ntimeouts = { streaming.ttft_ms = 900, streaming.total_ms = 400 }\n");

        config.Warnings.Should().ContainSingle().Which.Should().StartWith("models.m.providers.p.timeouts.streaming: total_ms (400) is below ttft_ms (900)");
    }

    [Fact]
    public void Parse_StreamingTotalAboveTtft_DoesNotWarn()
    {
        ConfigLoader.Parse(ValidModel + "\ntimeouts = { streaming.ttft_ms = 400, streaming.total_ms = 900 }\n").Warnings.Should().BeEmpty();
    }

    [Fact]
    public void Parse_SeveralProblems_ReportsEveryOneAtOnce()
    {
        var act = () => ConfigLoader.Parse("""
            [gateway]
            nope = 1

            [models.a]
            routing = ["missing"]
            [models.a.providers.p]
            type = "wat"

            [models.b]
            routing = ["p"]
            [models.b.providers.p]
            type = "openai"
            model_name = "x"
            timeouts = { non_streaming.total_ms = -1 }
            """);

        act.Should().Throw<ConfigException>().Which.Errors.Should().HaveCount(4);
    }

    [Fact]
    public void BuildRuntime_MissingCredentialVariable_IsAStartupErrorNamingIt()
    {
        var config = ConfigLoader.Parse(ValidModel.Replace("\"none\"", "\"env::SOME_MISSING_KEY\""));

        var act = () => GatewayRuntime.Build(config, _ => null);

        act.Should().Throw<ConfigException>().Which.Errors.Should().ContainSingle()
            .Which.Should().Be("models.m.providers.p.api_key_location: environment variable 'SOME_MISSING_KEY' is not set; " +
                "set it, or use api_key_location = \"none\" (the provider is in the routing of model 'm')");
    }

    [Fact]
    public void Parse_ExtraHeadersAndBody_MapInOrderWithValuesAsJson()
    {
        var config = ConfigLoader.Parse(ValidModel + """

            extra_headers = [{ name = "X-A", value = "1" }, { name = "X-B", delete = true }]
            extra_body = [{ pointer = "/metadata/x", value = { k = [1, 2.5, "s", true] } }, { pointer = "/n", delete = true }]
            allow_credential_override = true
            forward_client_headers = ["helicone-*"]

            [gateway.extra_headers]
            max_entries = 10
            max_name_bytes = 100
            max_value_bytes = 1000
            """);

        var provider = config.Models["m"].Providers["p"];
        provider.ExtraHeaders.Select(h => h.ToString()).Should().Equal("{name: 'X-A', value: '1'}", "{name: 'X-B', delete: true}");
        provider.ExtraBody.Select(b => b.Value).Should().Equal("{\"k\":[1,2.5,\"s\",true]}", null);
        provider.AllowCredentialOverride.Should().BeTrue();
        provider.ForwardClientHeaders.Should().Equal("helicone-*");
        config.Gateway.ExtraHeaderLimits.Should().Be(new TensorZero.Proxy.Transforms.ExtraHeaderLimits(10, 100, 1000));
    }

    [Fact]
    public void BuildRuntime_VariantCredentialHeader_IsAllowedFromConfiguration()
    {
        var config = ConfigLoader.Parse(ValidModel + """


            [functions.f]
            type = "chat"
            [functions.f.variants.v]
            type = "chat_completion"
            model = "m"
            extra_headers = [{ name = "api-key", value = "k" }]
            """);

        // The configuration is trusted (as in TensorZero): only request-level headers need allow_credential_override.
        var runtime = GatewayRuntime.Build(config, _ => null);

        runtime.Functions["f"].Variants["v"].Config.ExtraHeaders.Should().ContainSingle().Which.Name.Should().Be("api-key");
    }

    [Fact]
    public void BuildRuntime_UnroutedProvider_NeedsNoCredential()
    {
        var config = ConfigLoader.Parse(ValidModel + """

            [models.m.providers.spare]
            type = "openai"
            model_name = "x"
            api_key_location = "env::UNSET_SPARE_KEY"
            """);

        GatewayRuntime.Build(config, _ => null).Models["m"].Providers.Should().ContainSingle();
    }

    [Fact]
    public void BuildRuntime_ActivityTimeout_IsAboveEveryConfiguredTimeout()
    {
        var config = ConfigLoader.Parse(ValidModel + "\ntimeouts = { non_streaming.total_ms = 1800000 }\n[gateway]\nglobal_outbound_http_timeout_ms = 2400000\n");

        var runtime = GatewayRuntime.Build(config, _ => null);

        runtime.ActivityTimeout.Should().BeGreaterThan(TimeSpan.FromMinutes(30));
        runtime.CreateClusters().Where(c => c.HttpRequest is not null)
            .Should().OnlyContain(c => c.HttpRequest!.ActivityTimeout == runtime.ActivityTimeout);
    }
}
