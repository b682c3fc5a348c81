using TensorZero.Proxy.Configuration;
using TensorZero.Proxy.RateLimiting;

namespace TensorZero.Proxy.Tests.RateLimiting;

/// <summary><c>[rate_limiting]</c>: TensorZero's rule syntax mapped, every error with its key path, and which limits apply.</summary>
public sealed class RateLimitingConfigTests
{
    private const string Rules = "[[rate_limiting.rules]]\n";

    [Fact]
    public void Map_AllResourcesIntervalsAndShapes_AreRead()
    {
        var config = ConfigLoader.Parse("""
            [rate_limiting]
            backend = "valkey"
            [[rate_limiting.rules]]
            model_inferences_per_second = 1
            model_inferences_per_minute = 2
            model_inferences_per_hour = 3
            model_inferences_per_day = 4
            model_inferences_per_week = 5
            model_inferences_per_month = 6
            tokens_per_minute = { capacity = 20, refill_rate = 10 }
            priority = 0
            """).RateLimiting;

        config.IsEnforced.Should().BeTrue();
        var rule = config.Rules.Should().ContainSingle().Subject;
        rule.Priority.Should().Be(0);
        rule.Limits.Should().HaveCount(7);
        rule.Limits.Should().Contain(new RateLimit(RateLimitResource.ModelInference, RateLimitInterval.Month, 6, 6));
        rule.Limits.Should().Contain(new RateLimit(RateLimitResource.Token, RateLimitInterval.Minute, 20, 10));
    }

    [Fact]
    public void Map_Scopes_AreSortedSoTheirOrderDoesNotChangeTheBucket()
    {
        const string a = "{ tag_key = \"app\", tag_value = \"1\" }";
        const string b = "{ tag_key = \"user\", tag_value = \"tensorzero::each\" }";
        const string c = "{ api_key_public_id = \"tensorzero::each\" }";
        var one = ConfigLoader.Parse($"{Rules}always = true\nmodel_inferences_per_minute = 1\nscope = [{c}, {b}, {a}]\n").RateLimiting.Rules[0];
        var other = ConfigLoader.Parse($"{Rules}always = true\nmodel_inferences_per_minute = 1\nscope = [{a}, {c}, {b}]\n").RateLimiting.Rules[0];

        one.Scopes.Should().Equal(other.Scopes);
        one.Scopes.Select(s => s.TagKey).Should().Equal("app", "user", null);
    }

    [Fact]
    public void Map_Disabled_KeepsTheRulesWarnsAndEnforcesNothing()
    {
        var config = ConfigLoader.Parse($"[rate_limiting]\nenabled = false\n{Rules}always = true\nmodel_inferences_per_minute = 10\n");

        config.RateLimiting.Rules.Should().HaveCount(1);
        config.RateLimiting.IsEnforced.Should().BeFalse();
        config.RateLimiting.ActiveLimits(new RateLimitScopeInfo(new Dictionary<string, string>(), null)).Should().BeEmpty();
        config.Warnings.Should().Contain(w => w.StartsWith("rate_limiting.enabled: is false", StringComparison.Ordinal));
    }

    [Fact]
    public void Map_NoSection_IsNotEnforced()
    {
        ConfigLoader.Parse("").RateLimiting.IsEnforced.Should().BeFalse();
    }

    public static TheoryData<string, string, string> Errors => new()
    {
        { "[rate_limiting]\nbackend = \"postgres\"\n", "rate_limiting.backend (line 2)", "has no Postgres" },
        { "[rate_limiting]\nbackend = \"memcached\"\n", "rate_limiting.backend (line 2)", "unknown backend 'memcached'" },
        { "[rate_limiting]\nrule = []\n", "rate_limiting.rule (line 2)", "unknown key" },
        { "[rate_limiting]\nrules = [1]\n", "rate_limiting.rules[0]", "must be a table" },
        { Rules + "always = true\nrequests_per_minute = 1\n", "rate_limiting.rules[0].requests_per_minute", "unknown resource 'requests'" },
        { Rules + "always = true\ntokens_per_fortnight = 1\n", "rate_limiting.rules[0].tokens_per_fortnight", "unknown interval 'fortnight'" },
        { Rules + "always = true\ncost_per_hour = 1.5\n", "rate_limiting.rules[0].cost_per_hour", "cost rate limits are not supported" },
        { Rules + "always = true\nmodel_inferences_per_minute = -1\n", "rate_limiting.rules[0].model_inferences_per_minute", "non-negative integer" },
        { Rules + "always = true\nmodel_inferences_per_minute = 1.5\n", "rate_limiting.rules[0].model_inferences_per_minute", "non-negative integer" },
        { Rules + "always = true\ntokens_per_minute = { capacity = 10 }\n", "rate_limiting.rules[0].tokens_per_minute", "missing required key 'refill_rate'" },
        { Rules + "always = true\ntokens_per_minute = { capacity = -1, refill_rate = 1 }\n", "rate_limiting.rules[0].tokens_per_minute.capacity", "must be between 0" },
        { Rules + "always = true\ntokens_per_minute = { capacity = 1, refill_rate = 1, burst = 2 }\n", "rate_limiting.rules[0].tokens_per_minute.burst", "unknown key" },
        { Rules + "model_inferences_per_minute = 1\n", "rate_limiting.rules[0]", "needs priority = N" },
        { Rules + "always = false\nmodel_inferences_per_minute = 1\n", "rate_limiting.rules[0]", "needs priority = N" },
        { Rules + "always = true\npriority = 1\nmodel_inferences_per_minute = 1\n", "rate_limiting.rules[0].always", "cannot be set together with priority" },
        { Rules + "priority = -1\nmodel_inferences_per_minute = 1\n", "rate_limiting.rules[0].priority", "must be between 0" },
        { Rules + "always = true\nmodel_inferences_per_minute = 1\nlimit = 2\n", "rate_limiting.rules[0].limit", "unknown key" },
        { Rules + "always = true\nmodel_inferences_per_minute = 1\nscope = [{ tag_key = \"u\" }]\n", "rate_limiting.rules[0].scope[0]", "missing required key 'tag_value'" },
        { Rules + "always = true\nmodel_inferences_per_minute = 1\nscope = [{ tag_key = \"u\", tag_value = \"tensorzero::all\" }]\n",
            "rate_limiting.rules[0].scope[0].tag_value", "may not start with \"tensorzero::\"" },
        { Rules + "always = true\nmodel_inferences_per_minute = 1\nscope = [{ api_key_public_id = \"short\" }]\n",
            "rate_limiting.rules[0].scope[0].api_key_public_id", "must be 12 characters long" },
        { Rules + "always = true\nmodel_inferences_per_minute = 1\nscope = [{ api_key_public_id = \"tensorzero::total\" }]\n",
            "rate_limiting.rules[0].scope[0].api_key_public_id", "may not start with \"tensorzero::\"" },
        { Rules + "always = true\nmodel_inferences_per_minute = 1\nscope = [{ model_name = \"m\" }]\n", "rate_limiting.rules[0].scope[0]", "must have tag_key and tag_value, or api_key_public_id" },
        { Rules + "always = true\nmodel_inferences_per_minute = 1\nscope = [{ tag_key = \"u\", tag_value = \"1\" }, { tag_key = \"u\", tag_value = \"1\" }]\n",
            "rate_limiting.rules[0].scope[1]", "duplicate scopes are not allowed in the same rule" },
        { Rules + "always = true\nmodel_inferences_per_minute = 1\n" + Rules + "priority = 2\ntokens_per_hour = 5\n", "rate_limiting.rules[1].scope", "rules[0] has the same scope" },
        { "[rate_limiting]\ndefault_cost = -1\n", "rate_limiting.default_cost (line 2)", "non-negative" },
    };

    [Theory]
    [MemberData(nameof(Errors))]
    public void Map_InvalidRule_IsAnErrorWithItsKeyPath(string toml, string path, string fragment)
    {
        var act = () => ConfigLoader.Parse(toml);

        act.Should().Throw<ConfigException>().Which.Errors.Should().Contain(e => e.StartsWith(path, StringComparison.Ordinal) && e.Contains(fragment, StringComparison.Ordinal),
            because: $"an error should start with '{path}' and say '{fragment}'");
    }

    // Rules for the selection table: the config is TensorZero's documentation example plus an API key rule.
    private const string Example = """
        [[rate_limiting.rules]]
        model_inferences_per_second = 10
        always = true

        [[rate_limiting.rules]]
        model_inferences_per_hour = 10000
        priority = 1
        scope = [{ tag_key = "application_id", tag_value = "1" }]

        [[rate_limiting.rules]]
        model_inferences_per_day = 100
        priority = 1
        scope = [{ tag_key = "user_id", tag_value = "tensorzero::each" }]

        [[rate_limiting.rules]]
        tokens_per_hour = 5000
        priority = 2
        scope = [{ tag_key = "application_id", tag_value = "2" }, { tag_key = "user_id", tag_value = "tensorzero::each" }]

        [[rate_limiting.rules]]
        model_inferences_per_week = 7
        priority = 0
        scope = [{ tag_key = "org", tag_value = "tensorzero::total" }]

        [[rate_limiting.rules]]
        model_inferences_per_minute = 3
        always = true
        scope = [{ api_key_public_id = "tensorzero::each" }]
        """;

    public static TheoryData<string, string?, string[]> Selections => new()
    {
        // No tags: the global always-rule only.
        { "", null, ["model_inference/second/[]"] },
        // Application 1: always + its priority-1 rule.
        { "application_id=1", null, ["model_inference/second/[]", "model_inference/hour/[{\"type\":\"TagConcrete\",\"key\":\"application_id\",\"value\":\"1\"}]"] },
        // Application 1 and a user: both priority-1 rules apply.
        { "application_id=1,user_id=al", null, ["model_inference/second/[]",
            "model_inference/hour/[{\"type\":\"TagConcrete\",\"key\":\"application_id\",\"value\":\"1\"}]",
            "model_inference/day/[{\"type\":\"TagEach\",\"key\":\"user_id\",\"value\":\"al\"}]"] },
        // Application 2 and a user: the priority-2 rule wins over the user's priority-1 rule.
        { "application_id=2,user_id=al", null, ["model_inference/second/[]",
            "token/hour/[{\"type\":\"TagConcrete\",\"key\":\"application_id\",\"value\":\"2\"},{\"type\":\"TagEach\",\"key\":\"user_id\",\"value\":\"al\"}]"] },
        // tensorzero::total: one bucket whatever the value; priority 0 applies when nothing higher matched.
        { "org=x", null, ["model_inference/second/[]", "model_inference/week/[{\"type\":\"TagTotal\",\"key\":\"org\"}]"] },
        { "org=y", null, ["model_inference/second/[]", "model_inference/week/[{\"type\":\"TagTotal\",\"key\":\"org\"}]"] },
        // ...and not when a higher priority matched.
        { "org=x,user_id=bo", null, ["model_inference/second/[]", "model_inference/day/[{\"type\":\"TagEach\",\"key\":\"user_id\",\"value\":\"bo\"}]"] },
        // An authenticated request gets its key's bucket (always).
        { "", "abcdefghijkl", ["model_inference/second/[]",
            "model_inference/minute/[{\"type\":\"ApiKeyPublicIdEach\",\"api_key_public_id\":\"abcdefghijkl\"}]"] },
    };

    [Theory]
    [MemberData(nameof(Selections))]
    public void ActiveLimits_PriorityAlwaysEachAndTotal_SelectAsTensorZero(string tags, string? apiKey, string[] expected)
    {
        var config = ConfigLoader.Parse(Example).RateLimiting;
        var tagMap = tags.Length == 0 ? new Dictionary<string, string>()
            : tags.Split(',').Select(t => t.Split('=')).ToDictionary(p => p[0], p => p[1]);

        var active = config.ActiveLimits(new RateLimitScopeInfo(tagMap, apiKey));

        active.Select(a => $"{a.Limit.ResourceName}/{a.Limit.Interval.ToString().ToLowerInvariant()}/{a.ScopeKey}").Should().BeEquivalentTo(expected);
        active.Select(a => a.Key).Should().OnlyHaveUniqueItems();
    }

    [Fact]
    public void ActiveLimits_ConcreteApiKey_AppliesOnlyToThatKey()
    {
        var config = ConfigLoader.Parse(Rules + "priority = 1\nmodel_inferences_per_minute = 1\nscope = [{ api_key_public_id = \"abcdefghijkl\" }]\n").RateLimiting;

        config.ActiveLimits(new RateLimitScopeInfo(new Dictionary<string, string>(), "abcdefghijkl")).Should().HaveCount(1);
        config.ActiveLimits(new RateLimitScopeInfo(new Dictionary<string, string>(), "zzzzzzzzzzzz")).Should().BeEmpty();
        config.ActiveLimits(new RateLimitScopeInfo(new Dictionary<string, string>(), null)).Should().BeEmpty("unauthenticated requests match no API key scope");
    }

    [Theory]
    [InlineData(100, 50, 100)]
    [InlineData(101, 50, 100)]
    [InlineData(0, 7, 7)]
    public void EstimateTokens_HalfTheInputPlusMaxTokens(long characters, long maxTokens, long expected) =>
        RateLimiter.EstimateTokens(characters, maxTokens).Should().Be(expected);

    [Fact]
    public void EstimateTokens_NoMaxTokens_IsNull() => RateLimiter.EstimateTokens(10, null).Should().BeNull();
}
