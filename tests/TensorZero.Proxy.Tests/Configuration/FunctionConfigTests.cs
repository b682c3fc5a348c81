using System.Text.Json;
using TensorZero.Proxy.Configuration;
using TensorZero.Proxy.Functions;
using TensorZero.Proxy.Routing;
using TensorZero.Proxy.Tests.TestSupport;

namespace TensorZero.Proxy.Tests.Configuration;

/// <summary>Functions, variants (every type), schemas, templates, tools, metrics and experimentation.</summary>
public sealed class FunctionConfigTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public FunctionConfigTests()
    {
        _dir.Write("system.json", """{"type": "object", "properties": {"name": {"type": "string"}}}""");
        _dir.Write("user.json", """{"type": "object"}""");
        _dir.Write("named.json", """{"type": "object", "title": "named"}""");
        _dir.Write("out.json", """{"type": "object", "required": ["answer"]}""");
        _dir.Write("array.json", "[1, 2]");
        _dir.Write("broken.json", "{ nope");
        _dir.Write("system.minijinja", "Hello {{ name }}");
        _dir.Write("user.minijinja", "User: {{ user_text }}");
        _dir.Write("named.minijinja", "Named");
        _dir.Write("wrapper.minijinja", "<x>{{ user_text }}</x>");
        _dir.WriteBytes("latin1.minijinja", [0x48, 0xE9, 0xFF]);
        _dir.Write("tool.json", """{"type": "object", "properties": {"city": {"type": "string"}}}""");
    }

    public void Dispose() => _dir.Dispose();

    /// <summary>Parses TOML as if it were a file in the test directory (relative paths resolve there).</summary>
    private GatewayConfig Parse(string toml) => ConfigLoader.Parse(System.Text.Encoding.UTF8.GetBytes(toml), _dir.PathOf("tensorzero.toml"));

    private void ShouldFail(string toml, string expected)
    {
        var act = () => Parse(toml);

        act.Should().Throw<ConfigException>().Which.Errors.Should().Contain(e => e.StartsWith(expected, StringComparison.Ordinal),
            because: $"the errors should include '{expected}'");
    }

    private static string Chat(string functionLines, string variantLines = "", string type = "chat") => $"""
        [functions.f]
        type = "{type}"
        {functionLines}
        [functions.f.variants.v]
        type = "chat_completion"
        model = "dummy::x"
        {variantLines}
        """;

    [Fact]
    public void Parse_ChatFunction_ReadsSchemasTemplatesAndToolSettings()
    {
        var config = Parse(Chat("""
            description = "drafts"
            system_schema = "system.json"
            schemas.named.path = "named.json"
            tools = ["weather"]
            tool_choice = { specific = "weather" }
            parallel_tool_calls = false
            """, """
            system_template = "system.minijinja"
            user_template = "user.minijinja"
            templates.named.path = "named.minijinja"
            """) + """

            [tools.weather]
            description = "Get the weather"
            parameters = "tool.json"
            strict = true
            name = "get_weather"
            """);

        var function = config.Functions["f"];
        function.Kind.Should().Be(FunctionKind.Chat);
        function.Description.Should().Be("drafts");
        function.SystemSchema!.Path.Should().Be(_dir.PathOf("system.json"));
        function.SystemSchema.Schema.GetProperty("properties").GetProperty("name").GetProperty("type").GetString().Should().Be("string");
        function.UserSchema.Should().BeNull();
        function.Schemas.Keys.Should().BeEquivalentTo("system", "named");
        function.Schemas["named"].Schema.GetProperty("title").GetString().Should().Be("named");
        function.OutputSchema.Should().BeNull();
        function.Tools.Should().Equal("weather");
        function.ToolChoice.Should().Be(new ToolChoiceSpecific("weather"));
        function.ParallelToolCalls.Should().BeFalse();
        var variant = function.Variants["v"];
        variant.SystemTemplate.Should().Be(new TemplateFile(_dir.PathOf("system.minijinja"), "Hello {{ name }}"));
        variant.UserTemplate!.Text.Should().Be("User: {{ user_text }}");
        variant.AssistantTemplate.Should().BeNull();
        variant.Templates["named"].Text.Should().Be("Named");
        var tool = config.Tools["weather"];
        tool.Should().BeEquivalentTo(new { Key = "weather", Name = "get_weather", Description = "Get the weather", Strict = true });
        tool.Parameters.Path.Should().Be(_dir.PathOf("tool.json"));
    }

    [Theory]
    [InlineData("tool_choice = \"none\"", "none")]
    [InlineData("tool_choice = \"auto\"", "auto")]
    [InlineData("tool_choice = \"required\"", "required")]
    [InlineData("", "auto")]
    public void Parse_ToolChoice_EveryKind(string line, string expected)
    {
        var function = Parse(Chat(line)).Functions["f"];

        ((ToolChoiceKind)function.ToolChoice).Kind.Should().Be(expected);
    }

    [Theory]
    [InlineData("output_schema = \"out.json\"", "required")]
    [InlineData("", null)]
    public void Parse_JsonFunction_OutputSchemaDefaultsToAnyJson(string line, string? property)
    {
        var function = Parse(Chat(line, "json_mode = \"strict\"", type: "json")).Functions["f"];

        function.Kind.Should().Be(FunctionKind.Json);
        function.Variants["v"].JsonMode.Should().Be(JsonMode.Strict);
        if (property is null)
        {
            function.OutputSchema!.Path.Should().BeEmpty();
            function.OutputSchema.Schema.GetRawText().Should().Be("{}");
        }
        else
        {
            function.OutputSchema!.Schema.TryGetProperty(property, out _).Should().BeTrue();
        }
    }

    [Theory]
    [InlineData("off", "Off")]
    [InlineData("on", "On")]
    [InlineData("strict", "Strict")]
    [InlineData("tool", "Tool")]
    [InlineData("implicit_tool", "Tool")]
    public void Parse_JsonMode_EveryNameAndTheLegacyAlias(string name, string expected) =>
        Parse(Chat("", $"json_mode = \"{name}\"", type: "json")).Functions["f"].Variants["v"].JsonMode.ToString().Should().Be(expected);

    [Fact]
    public void Parse_EverySamplingKey_MapsToParamsAndDefaultParameters()
    {
        var variant = Parse(Chat("", """
            temperature = 0.5
            top_p = 1
            max_tokens = 100
            presence_penalty = -0.5
            frequency_penalty = 0.25
            seed = 42
            stop_sequences = ["END", "STOP"]
            reasoning_effort = "low"
            service_tier = "flex"
            thinking_budget_tokens = 1024
            verbosity = "high"
            retries = { num_retries = 2, max_delay_s = 1.5 }
            """)).Functions["f"].Variants["v"];

        variant.Params.Should().BeEquivalentTo(new SamplingParams
        {
            Temperature = 0.5, TopP = 1, MaxTokens = 100, PresencePenalty = -0.5, FrequencyPenalty = 0.25, Seed = 42,
            StopSequences = ["END", "STOP"], ReasoningEffort = "low", ServiceTier = "flex", ThinkingBudgetTokens = 1024, Verbosity = "high",
        });
        variant.DefaultParameters.Select(p => $"{p.Key}={p.Value}").Should().Equal(
            "temperature=0.5", "top_p=1", "max_tokens=100", "presence_penalty=-0.5", "frequency_penalty=0.25", "seed=42",
            "stop=[\"END\",\"STOP\"]", "reasoning_effort=\"low\"", "service_tier=\"flex\"", "verbosity=\"high\"");
        variant.Retries.Should().Be(new RetryConfig(2, 1.5));
    }

    public static TheoryData<string, string> InvalidFunctions => new()
    {
        { "[functions.\"tensorzero::f\"]\ntype = \"chat\"\n[functions.\"tensorzero::f\".variants.v]\ntype = \"chat_completion\"\nmodel = \"dummy::x\"\n",
            "functions.tensorzero::f: a function name cannot start with 'tensorzero::'" },
        { Chat("type2 = 1"), "functions.f.type2 (line 3): unknown key" },
        { Chat("", type: "tool"), "functions.f.type (line 2): unknown function type 'tool' (supported: chat, json)" },
        { Chat("output_schema = \"out.json\""), "functions.f.output_schema (line 3): unknown key" },
        { Chat("tools = [\"t\"]", "json_mode = \"strict\"", type: "json"), "functions.f.tools (line 3): unknown key" },
        { Chat("system_schema = \"missing.json\"", "system_template = \"system.minijinja\""), "functions.f.system_schema (line 3): cannot read '" },
        { Chat("system_schema = \"broken.json\"", "system_template = \"system.minijinja\""), "functions.f.system_schema (line 3): the schema file '" },
        { Chat("system_schema = \"array.json\"", "system_template = \"system.minijinja\""), "functions.f.system_schema (line 3): the schema file '" },
        { Chat("system_schema = \".\""), "functions.f.system_schema (line 3): '" },
        { Chat("system_schema = \"system.json\"\nschemas.system.path = \"named.json\"", "system_template = \"system.minijinja\""),
            "functions.f.schemas.system (line 4): cannot specify both schemas.system.path and system_schema" },
        { Chat("schemas.named = \"named.json\""), "functions.f.schemas.named (line 3): must be a table such as { path = \"schema.json\" }" },
        { Chat("system_schema = \"system.json\""), "functions.f.variants.v.system_template: a system template is required because functions.f has a system schema" },
        { Chat("schemas.named.path = \"named.json\""), "functions.f.variants.v.templates.named: is required because functions.f.schemas.named is specified" },
        { Chat("", "user_template = \"missing.minijinja\""), "functions.f.variants.v.user_template (line 7): cannot read '" },
        { Chat("", "user_template = \"latin1.minijinja\""), "functions.f.variants.v.user_template (line 7): the template file '" },
        { Chat("", "templates.named = \"named.minijinja\""), "functions.f.variants.v.templates.named (line 7): must be a table such as { path = \"template.minijinja\" }" },
        { Chat("", "templates.user.path = \"named.minijinja\"\nuser_template = \"user.minijinja\""),
            "functions.f.variants.v.templates.user (line 7): cannot specify both templates.user.path and user_template" },
        { Chat("user_schema = \"user.json\"", "input_wrappers.user = \"wrapper.minijinja\""),
            "functions.f.variants.v.input_wrappers.user (line 7): cannot be used when the function has a user schema" },
        { Chat("", "input_wrappers.user = \"wrapper.minijinja\"\nuser_template = \"user.minijinja\""),
            "functions.f.variants.v.input_wrappers.user (line 7): cannot be used together with a user template" },
        { Chat("", "input_wrappers.tool = \"wrapper.minijinja\""), "functions.f.variants.v.input_wrappers.tool (line 7): unknown key" },
        { Chat("tools = [\"nope\"]"), "functions.f.tools (line 3): names tool 'nope', which is not defined under [tools] (defined: none)" },
        { Chat("tool_choice = \"any\""), "functions.f.tool_choice (line 3): must be \"none\", \"auto\", \"required\" or { specific = \"tool_name\" }" },
        { Chat("tool_choice = { specific = 1 }"), "functions.f.tool_choice (line 3): must be" },
        { Chat("evaluators = 3"), "functions.f.evaluators (line 3): must be a table" },
        { Chat("", "json_mode = \"strict\""), "functions.f.variants.v.json_mode (line 7): is not allowed: functions.f is a chat function" },
        { Chat("", type: "json"), "functions.f.variants.v: missing required key 'json_mode'" },
        { Chat("", "json_mode = \"maybe\"", type: "json"), "functions.f.variants.v.json_mode (line 7): unknown json_mode 'maybe'" },
        { Chat("", "service_tier = \"gold\""), "functions.f.variants.v.service_tier (line 7): unknown service tier 'gold'" },
        { Chat("", "seed = -1"), "functions.f.variants.v.seed (line 7): must be between 0 and 4294967295" },
        { Chat("", "thinking_budget_tokens = 1.5"), "functions.f.variants.v.thinking_budget_tokens (line 7): must be an integer" },
        { Chat("", "temperature = nan"), "functions.f.variants.v.temperature (line 7): must be a finite number" },
        { Chat("", "retries = { num_retries = 101 }"), "functions.f.variants.v.retries.num_retries (line 7): must be between 0 and 100" },
        { Chat("", "timeouts = { non_streaming.total_ms = 0 }"), "functions.f.variants.v.timeouts.non_streaming.total_ms (line 7): must be a positive number" },
        { Chat("", "namespace = \"\""), "functions.f.variants.v.namespace (line 7): must be a non-empty name" },
        { Chat("").Replace("variants.v]", "variants.\"tensorzero::v\"]", StringComparison.Ordinal),
            "functions.f.variants.tensorzero::v: a variant name cannot start with 'tensorzero::'" },
        { Chat("").Replace("dummy::x", "azure::gpt", StringComparison.Ordinal), "functions.f.variants.v.model (line 6): 'azure::gpt' is neither a model of [models]" },
    };

    [Theory]
    [MemberData(nameof(InvalidFunctions))]
    public void Parse_InvalidFunction_ReportsKeyPath(string toml, string expected) => ShouldFail(toml, expected);

    [Fact]
    public void Parse_InputWrappers_AreReadAndCountAsTheRolesTemplate()
    {
        var variant = Parse(Chat("", "input_wrappers = { user = \"wrapper.minijinja\" }")).Functions["f"].Variants["v"];

        variant.InputWrappers.Should().Be(new InputWrappers(null, new TemplateFile(_dir.PathOf("wrapper.minijinja"), "<x>{{ user_text }}</x>"), null));
    }

    private const string ExperimentalVariants = """
        [functions.f]
        type = "json"
        output_schema = "out.json"
        [functions.f.variants.a]
        type = "chat_completion"
        model = "dummy::a"
        json_mode = "strict"
        [functions.f.variants.b]
        type = "experimental_chain_of_thought"
        model = "dummy::b"
        json_mode = "tool"
        [functions.f.variants.bon]
        type = "experimental_best_of_n_sampling"
        candidates = ["a", "a", "b"]
        [functions.f.variants.bon.evaluator]
        model = "dummy::judge"
        system_template = "system.minijinja"
        temperature = 0.1
        [functions.f.variants.mon]
        type = "experimental_mixture_of_n"
        candidates = ["a", "b"]
        weight = 0.5
        [functions.f.variants.mon.fuser]
        model = "dummy::fuser"
        json_mode = "on"
        [functions.f.variants.dicl]
        type = "experimental_dynamic_in_context_learning"
        model = "dummy::d"
        embedding_model = "openai::text-embedding-3-small"
        k = 5
        max_distance = 0.5
        json_mode = "strict"
        system_instructions = "system.minijinja"
        max_tokens = 10
        """;

    [Fact]
    public void Parse_ExperimentalVariantTypes_ParseTheirKeysAndWarn()
    {
        var config = Parse(ExperimentalVariants);

        var variants = config.Functions["f"].Variants;
        variants["a"].Type.Should().Be(VariantType.ChatCompletion);
        variants["b"].Type.Should().Be(VariantType.ChainOfThought);
        variants["b"].Model.Should().Be("dummy::b");
        var bon = variants["bon"];
        bon.Type.Should().Be(VariantType.BestOfNSampling);
        bon.Model.Should().BeNull();
        bon.BestOfN!.Candidates.Should().Equal("a", "a", "b");
        bon.BestOfN.Evaluator.Name.Should().Be("bon.evaluator");
        bon.BestOfN.Evaluator.Model.Should().Be("dummy::judge");
        bon.BestOfN.Evaluator.JsonMode.Should().BeNull();
        bon.BestOfN.Evaluator.SystemTemplate!.Text.Should().Be("Hello {{ name }}");
        bon.BestOfN.Evaluator.Params.Temperature.Should().Be(0.1);
        var mon = variants["mon"];
        mon.MixtureOfN!.Fuser.JsonMode.Should().Be(JsonMode.On);
        mon.Weight.Should().Be(0.5);
        var dicl = variants["dicl"];
        dicl.Dicl.Should().BeEquivalentTo(new { EmbeddingModel = "openai::text-embedding-3-small", K = 5L, MaxDistance = 0.5 });
        dicl.Dicl!.SystemInstructions!.Path.Should().Be(_dir.PathOf("system.minijinja"));
        dicl.Params.MaxTokens.Should().Be(10);
        foreach (var (name, type) in (ReadOnlySpan<(string, string)>)[("b", "experimental_chain_of_thought"), ("bon", "experimental_best_of_n_sampling"),
            ("mon", "experimental_mixture_of_n"), ("dicl", "experimental_dynamic_in_context_learning")])
        {
            config.Warnings.Should().Contain($"functions.f.variants.{name}.type: variant type '{type}' is not run by TensorZero.Proxy yet: attempts at it fail over to the function's next variant");
        }
    }

    [Fact]
    public void BuildRuntime_ExperimentalVariant_HasAModelWithoutProviders()
    {
        var runtime = GatewayRuntime.Build(Parse(ExperimentalVariants), _ => null);

        var function = runtime.Functions["f"];
        function.Variants["a"].Model.Providers.Should().ContainSingle();
        foreach (var name in (string[])["b", "bon", "mon", "dicl"])
        {
            function.Variants[name].Model.Providers.Should().BeEmpty();
        }
    }

    public static TheoryData<string, string> InvalidExperimentalVariants => new()
    {
        { ExperimentalVariants.Replace("candidates = [\"a\", \"a\", \"b\"]", "candidates = [\"a\", \"ghost\"]", StringComparison.Ordinal),
            "functions.f.variants.bon.candidates (line 14): names variant 'ghost', which is not defined under [functions.f.variants]" },
        { ExperimentalVariants.Replace("candidates = [\"a\", \"b\"]", "candidates = [\"mon\"]", StringComparison.Ordinal),
            "functions.f.variants.mon.candidates (line 21): names the variant 'mon' itself" },
        { ExperimentalVariants.Replace("[functions.f.variants.bon.evaluator]", "[functions.f.variants.bon.judge]", StringComparison.Ordinal),
            "functions.f.variants.bon.judge (line 15): unknown key" },
        { ExperimentalVariants.Replace("json_mode = \"on\"", "", StringComparison.Ordinal),
            "functions.f.variants.mon.fuser: missing required key 'json_mode'" },
        { ExperimentalVariants.Replace("model = \"dummy::judge\"", "model = \"judge\"", StringComparison.Ordinal),
            "functions.f.variants.bon.evaluator.model (line 16): 'judge' is neither a model of [models]" },
        { ExperimentalVariants.Replace("model = \"dummy::fuser\"", "model = \"dummy::fuser\"\ntimeouts = { non_streaming.total_ms = 5 }", StringComparison.Ordinal),
            "functions.f.variants.mon.fuser.timeouts (line 25): unknown key" },
        { ExperimentalVariants.Replace("openai::text-embedding-3-small", "my_embedder", StringComparison.Ordinal),
            "functions.f.variants.dicl.embedding_model (line 29): 'my_embedder' is neither an embedding model of [embedding_models]" },
        { ExperimentalVariants.Replace("k = 5", "", StringComparison.Ordinal), "functions.f.variants.dicl: missing required key 'k'" },
        { ExperimentalVariants.Replace("max_distance = 0.5", "max_distance = -1", StringComparison.Ordinal),
            "functions.f.variants.dicl.max_distance (line 31): must be non-negative" },
        { ExperimentalVariants.Replace("max_tokens = 10", "service_tier = \"flex\"", StringComparison.Ordinal),
            "functions.f.variants.dicl.service_tier (line 34): unknown key" },
        { ExperimentalVariants.Replace("type = \"experimental_mixture_of_n\"", "type = \"experimental_mixture_of_n\"\nmodel = \"dummy::x\"", StringComparison.Ordinal),
            "functions.f.variants.mon.model (line 21): unknown key" },
        { ExperimentalVariants.Replace("[functions.f.variants.bon.evaluator]", "", StringComparison.Ordinal).Replace("model = \"dummy::judge\"\nsystem_template = \"system.minijinja\"\ntemperature = 0.1", "", StringComparison.Ordinal),
            "functions.f.variants.bon: missing required key 'evaluator'" },
    };

    [Theory]
    [MemberData(nameof(InvalidExperimentalVariants))]
    public void Parse_InvalidExperimentalVariant_ReportsKeyPath(string toml, string expected) => ShouldFail(toml, expected);

    [Fact]
    public void Parse_EvaluatorOfAFunctionWithASchema_NeedsTheTemplateToo() =>
        ShouldFail(ExperimentalVariants.Replace("output_schema = \"out.json\"", "output_schema = \"out.json\"\nuser_schema = \"user.json\"", StringComparison.Ordinal)
            .Replace("json_mode = \"strict\"\n[functions.f.variants.b]", "json_mode = \"strict\"\nuser_template = \"user.minijinja\"\n[functions.f.variants.b]", StringComparison.Ordinal),
            "functions.f.variants.bon.evaluator.user_template: a user template is required because functions.f has a user schema");

    [Fact]
    public void Parse_TimeoutSeconds_BecomesTheCandidatesTimeoutsWithAWarning()
    {
        var config = Parse(ExperimentalVariants.Replace("candidates = [\"a\", \"a\", \"b\"]", "candidates = [\"a\"]\ntimeout_s = 2.5", StringComparison.Ordinal));

        config.Functions["f"].Variants["a"].Timeouts.Should().Be(new TimeoutsConfig(TimeSpan.FromMilliseconds(2500), TimeSpan.FromMilliseconds(2500), null));
        config.Warnings.Should().Contain(w => w.StartsWith("functions.f.variants.bon.timeout_s: deprecated by TensorZero", StringComparison.Ordinal));
    }

    [Fact]
    public void Parse_TimeoutSecondsWithACandidateThatHasTimeouts_IsAnError() =>
        ShouldFail(ExperimentalVariants
            .Replace("candidates = [\"a\", \"a\", \"b\"]", "candidates = [\"a\"]\ntimeout_s = 2.5", StringComparison.Ordinal)
            .Replace("model = \"dummy::a\"", "model = \"dummy::a\"\ntimeouts = { non_streaming.total_ms = 100 }", StringComparison.Ordinal),
            "functions.f.variants.bon.timeout_s (line 16): cannot be used when candidate 'a' has its own timeouts");

    [Theory]
    [InlineData("type = \"boolean\"\noptimize = \"max\"\nlevel = \"inference\"", "Boolean Max Inference ")]
    [InlineData("type = \"float\"\noptimize = \"min\"\nlevel = \"episode\"\ndescription = \"d\"", "Float Min Episode d")]
    public void Parse_Metric_MapsEveryKey(string body, string expected)
    {
        var metric = Parse($"[metrics.\"task-success/v1\"]\n{body}\n").Metrics["task-success/v1"];

        metric.Name.Should().Be("task-success/v1");
        $"{metric.Type} {metric.Optimize} {metric.Level} {metric.Description}".Should().Be(expected);
    }

    [Theory]
    [InlineData("comment", "metrics.comment: the metric name 'comment' is reserved")]
    [InlineData("demonstration", "metrics.demonstration: the metric name 'demonstration' is reserved")]
    [InlineData("\"tensorzero::m\"", "metrics.tensorzero::m: a metric name cannot start with 'tensorzero::'")]
    [InlineData("\"bad name\"", "metrics.bad name: the metric name 'bad name' may only contain")]
    public void Parse_ReservedOrUnsafeMetricName_IsAnError(string name, string expected) =>
        ShouldFail($"[metrics.{name}]\ntype = \"boolean\"\noptimize = \"max\"\nlevel = \"inference\"\n", expected);

    [Theory]
    [InlineData("type = \"int\"\noptimize = \"max\"\nlevel = \"inference\"", "metrics.m.type (line 2): unknown type 'int' (supported: boolean, float)")]
    [InlineData("type = \"float\"\noptimize = \"up\"\nlevel = \"inference\"", "metrics.m.optimize (line 3): unknown optimize 'up' (supported: max, min)")]
    [InlineData("type = \"float\"\noptimize = \"max\"", "metrics.m: missing required key 'level'")]
    [InlineData("type = \"float\"\noptimize = \"max\"\nlevel = \"inference\"\nweight = 1", "metrics.m.weight (line 5): unknown key")]
    public void Parse_InvalidMetric_ReportsKeyPath(string body, string expected) => ShouldFail($"[metrics.m]\n{body}\n", expected);

    [Theory]
    [InlineData("description = \"d\"", "tools.t: missing required key 'parameters'")]
    [InlineData("parameters = \"tool.json\"", "tools.t: missing required key 'description'")]
    [InlineData("description = \"d\"\nparameters = \"broken.json\"", "tools.t.parameters (line 3): the schema file '")]
    [InlineData("description = \"d\"\nparameters = \"tool.json\"\nstrict = \"yes\"", "tools.t.strict (line 4): must be a boolean (got a string)")]
    [InlineData("description = \"d\"\nparameters = \"tool.json\"\nkind = 1", "tools.t.kind (line 4): unknown key")]
    public void Parse_InvalidTool_ReportsKeyPath(string body, string expected) => ShouldFail($"[tools.t]\n{body}\n", expected);

    [Fact]
    public void Parse_ToolWithoutName_IsNamedByItsKey() =>
        Parse("[tools.t]\ndescription = \"d\"\nparameters = \"tool.json\"\n").Tools["t"].Should().BeEquivalentTo(new { Key = "t", Name = "t", Strict = false });

    private static string ThreeVariants(string experimentation, string weightA = "", string weightB = "") => $"""
        [metrics.m]
        type = "boolean"
        optimize = "max"
        level = "inference"
        [functions.f]
        type = "chat"
        [functions.f.variants.a]
        type = "chat_completion"
        model = "dummy::a"
        {weightA}
        [functions.f.variants.b]
        type = "chat_completion"
        model = "dummy::b"
        {weightB}
        [functions.f.variants.c]
        type = "chat_completion"
        model = "dummy::c"
        {experimentation}
        """;

    public static TheoryData<string, string, string, string> Experimentations => new()
    {
        // [experimentation] lines, weight of a, weight of b → "candidates|fallbacks"
        { "", "", "", "a=1,b=1,c=1|" },
        { "", "weight = 3", "weight = 1", "a=3,b=1|c" },
        { "", "weight = 0", "weight = 0.5", "b=0.5|c" },
        { "[functions.f.experimentation]\ntype = \"static\"\ncandidate_variants = { a = 0.7, b = 0.3 }\nfallback_variants = [\"c\"]", "", "", "a=0.7,b=0.3|c" },
        { "[functions.f.experimentation]\ntype = \"static\"\ncandidate_variants = [\"c\", \"a\"]", "", "", "c=1,a=1|" },
        { "[functions.f.experimentation]\ntype = \"static\"\ncandidate_variants = { a = 0 }\nfallback_variants = [\"b\"]", "", "", "a=0|b" },
        { "[functions.f.experimentation]\ntype = \"static_weights\"\ncandidate_variants = { b = 2 }", "", "", "b=2|" },
        { "[functions.f.experimentation]\ntype = \"uniform\"", "", "", "a=1,b=1,c=1|" },
        { "[functions.f.experimentation]\ntype = \"uniform\"\ncandidate_variants = [\"a\", \"b\"]\nfallback_variants = [\"c\"]", "", "", "a=1,b=1|c" },
        { "[functions.f.experimentation]\ntype = \"uniform\"\nfallback_variants = [\"c\", \"a\"]", "", "", "|c,a" },
        { "[functions.f.experimentation]\ntype = \"adaptive\"\nmetric = \"m\"\ncandidate_variants = [\"a\", \"b\"]\nfallback_variants = [\"c\"]\nmin_samples_per_variant = 5\ndelta = 0.1\nepsilon = 0.01\nupdate_period_s = 60\nmin_prob = 0.1\nmax_samples_per_variant = 100\nalgorithm = \"track_and_stop\"", "", "", "a=1,b=1|c" },
        { "[functions.f.experimentation]\ntype = \"track_and_stop\"\nmetric = \"m\"\ncandidate_variants = [\"b\"]", "", "", "b=1|" },
    };

    [Theory]
    [MemberData(nameof(Experimentations))]
    public void Parse_Experimentation_ResolvesCandidatesAndFallbacks(string experimentation, string weightA, string weightB, string expected)
    {
        var resolved = Parse(ThreeVariants(experimentation, weightA, weightB)).Functions["f"].Experimentation;

        (string.Join(",", resolved.Candidates.Select(c => $"{c.Key}={c.Value}")) + "|" + string.Join(",", resolved.Fallbacks)).Should().Be(expected);
    }

    [Theory]
    [InlineData("adaptive", "functions.f.experimentation.type: adaptive experimentation is not implemented; sampling uniformly over candidate_variants")]
    [InlineData("track_and_stop", "functions.f.experimentation.type: track_and_stop is deprecated by TensorZero (use type = \"adaptive\"); adaptive experimentation is not implemented")]
    public void Parse_AdaptiveExperimentation_WarnsThatItSamplesUniformly(string type, string expected)
    {
        var config = Parse(ThreeVariants($"[functions.f.experimentation]\ntype = \"{type}\"\nmetric = \"m\"\ncandidate_variants = [\"a\"]"));

        config.Warnings.Should().Contain(w => w.StartsWith(expected, StringComparison.Ordinal));
    }

    public static TheoryData<string, string, string> InvalidExperimentations => new()
    {
        { "[functions.f.experimentation]\ntype = \"static\"\ncandidate_variants = [\"a\"]", "weight = 1",
            "functions.f.experimentation: cannot be combined with variant weights (set on: a)" },
        { "[functions.f.experimentation]\ncandidate_variants = [\"a\"]", "", "functions.f.experimentation: missing required key 'type'" },
        { "[functions.f.experimentation]\ntype = \"static\"", "", "functions.f.experimentation: missing required key 'candidate_variants'" },
        { "[functions.f.experimentation]\ntype = \"static\"\ncandidate_variants = 3", "", "functions.f.experimentation.candidate_variants (line 20): must be a table of weights or a list" },
        { "[functions.f.experimentation]\ntype = \"static\"\ncandidate_variants = [\"a\", \"a\"]", "", "functions.f.experimentation.candidate_variants (line 20): names variant 'a' more than once" },
        { "[functions.f.experimentation]\ntype = \"static\"\ncandidate_variants = { a = -1 }", "", "functions.f.experimentation.candidate_variants.a (line 20): must be a number >= 0" },
        { "[functions.f.experimentation]\ntype = \"static\"\ncandidate_variants = [\"a\"]\nfallback_variants = [\"a\"]", "", "functions.f.experimentation.fallback_variants (line 21): names variant 'a', which is also a candidate" },
        { "[functions.f.experimentation]\ntype = \"static\"\ncandidate_variants = [\"a\"]\nfallback_variants = [\"b\", \"b\"]", "", "functions.f.experimentation.fallback_variants (line 21): names variant 'b' more than once" },
        { "[functions.f.experimentation]\ntype = \"static\"\ncandidate_variants = { a = 0 }", "", "functions.f.experimentation: has no candidate with a positive weight and no fallback variant" },
        { "[functions.f.experimentation]\ntype = \"static\"\ncandidate_variants = []", "", "functions.f.experimentation: has no candidate with a positive weight and no fallback variant" },
        { "[functions.f.experimentation]\ntype = \"static\"\ncandidate_variants = [\"z\"]", "", "functions.f.experimentation.candidate_variants (line 20): names variant 'z', which is not defined" },
        { "[functions.f.experimentation]\ntype = \"static\"\ncandidate_variants = [\"a\"]\nmetric = \"m\"", "", "functions.f.experimentation.metric (line 21): unknown key" },
        { "[functions.f.experimentation]\ntype = \"bandit\"", "", "functions.f.experimentation.type (line 19): unknown experimentation type 'bandit'" },
        { "[functions.f.experimentation]\ntype = \"adaptive\"\nmetric = \"nope\"\ncandidate_variants = [\"a\"]", "", "functions.f.experimentation.metric (line 20): names metric 'nope', which is not defined under [metrics] (defined: 'm')" },
        { "[functions.f.experimentation]\ntype = \"adaptive\"\nmetric = \"m\"\ncandidate_variants = []", "", "functions.f.experimentation.candidate_variants (line 21): must name at least one variant" },
        { "[functions.f.experimentation]\ntype = \"adaptive\"\nmetric = \"m\"\ncandidate_variants = [\"a\"]\ndelta = 1", "", "functions.f.experimentation.delta (line 22): must be in (0, 1)" },
        { "[functions.f.experimentation]\ntype = \"adaptive\"\nmetric = \"m\"\ncandidate_variants = [\"a\"]\nepsilon = -1", "", "functions.f.experimentation.epsilon (line 22): must be >= 0" },
        { "[functions.f.experimentation]\ntype = \"adaptive\"\nmetric = \"m\"\ncandidate_variants = [\"a\", \"b\"]\nmin_prob = 0.6", "", "functions.f.experimentation.min_prob (line 22): is too large" },
        { "[functions.f.experimentation]\ntype = \"adaptive\"\nmetric = \"m\"\ncandidate_variants = [\"a\"]\nmin_samples_per_variant = 0", "", "functions.f.experimentation.min_samples_per_variant (line 22): must be between 1 and" },
        { "[functions.f.experimentation]\ntype = \"adaptive\"\nmetric = \"m\"\ncandidate_variants = [\"a\"]\nmax_samples_per_variant = 3", "", "functions.f.experimentation.max_samples_per_variant (line 22): must be >= min_samples_per_variant (10; got 3)" },
        { "[functions.f.experimentation]\ntype = \"adaptive\"\nmetric = \"m\"\ncandidate_variants = [\"a\"]\nalgorithm = \"thompson\"", "", "functions.f.experimentation.algorithm (line 22): unknown algorithm 'thompson'" },
        { "[functions.f.experimentation]\ntype = \"track_and_stop\"\nmetric = \"m\"\ncandidate_variants = [\"a\"]\nalgorithm = \"track_and_stop\"", "", "functions.f.experimentation.algorithm (line 22): unknown key" },
        { "[functions.f.experimentation]\ntype = \"static\"\ncandidate_variants = [\"a\"]\n[functions.f.experimentation.namespaces.mobile]\ntype = \"static\"\ncandidate_variants = [\"ghost\"]", "",
            "functions.f.experimentation.namespaces.mobile.candidate_variants (line 23): names variant 'ghost'" },
    };

    [Theory]
    [MemberData(nameof(InvalidExperimentations))]
    public void Parse_InvalidExperimentation_ReportsKeyPath(string experimentation, string weightA, string expected) =>
        ShouldFail(ThreeVariants(experimentation, weightA), expected);

    [Fact]
    public void Parse_NamespacedExperimentation_IsValidatedAndWarned()
    {
        var config = Parse(ThreeVariants("""
            [functions.f.experimentation]
            type = "static"
            candidate_variants = ["a"]
            [functions.f.experimentation.namespaces.mobile]
            type = "static"
            candidate_variants = ["c"]
            """).Replace("model = \"dummy::c\"", "model = \"dummy::c\"\nnamespace = \"mobile\"", StringComparison.Ordinal));

        config.Functions["f"].Experimentation.Candidates.Select(c => c.Key).Should().Equal("a");
        config.Functions["f"].Variants["c"].Namespace.Should().Be("mobile");
        config.Warnings.Should().Contain(w => w.StartsWith("functions.f.experimentation.namespaces: accepted for compatibility", StringComparison.Ordinal));
        config.Warnings.Should().Contain(w => w.StartsWith("functions.f.variants.c.namespace: accepted for compatibility", StringComparison.Ordinal));
    }

    [Fact]
    public void Parse_NamespacedVariantReachableFromTheBase_IsAnError() =>
        ShouldFail(ThreeVariants("").Replace("model = \"dummy::c\"", "model = \"dummy::c\"\nnamespace = \"mobile\"", StringComparison.Ordinal),
            "functions.f.variants.c.namespace: variant 'c' has namespace 'mobile' but is reachable from the function's base experimentation");

    [Fact]
    public void Parse_VariantOfANamespacedModelReachableFromTheBase_IsAnError() =>
        ShouldFail("[models.nm]\nrouting = [\"p\"]\nnamespace = \"web\"\n[models.nm.providers.p]\ntype = \"dummy\"\nmodel_name = \"x\"\n" +
            Chat("").Replace("dummy::x", "nm", StringComparison.Ordinal),
            "functions.f.variants.v: uses model 'nm' of namespace 'web' but is reachable from the function's base experimentation");

    [Fact]
    public void Parse_SchemaFile_KeepsTheParsedDocumentAfterLoading()
    {
        var schema = Parse(Chat("user_schema = \"user.json\"", "user_template = \"user.minijinja\"")).Functions["f"].UserSchema!;

        // The element is a clone: it outlives the document it was parsed from.
        JsonSerializer.Serialize(schema.Schema).Should().Be("""{"type":"object"}""");
    }
}
