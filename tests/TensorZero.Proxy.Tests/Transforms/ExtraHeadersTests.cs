using System.Text;
using System.Text.Json;
using TensorZero.Proxy.Transforms;

namespace TensorZero.Proxy.Tests.Transforms;

public sealed class ExtraEntryFilterTests
{
    // The attempt every row is checked against: variant "v", model "m", provider "p".
    public static TheoryData<string, ExtraEntryFilter, bool> Filters => new()
    {
        { "unqualified", ExtraEntryFilter.Always, true },
        { "variant matches", new(ExtraEntryScope.Variant, VariantName: "v"), true },
        { "variant differs", new(ExtraEntryScope.Variant, VariantName: "w"), false },
        { "model matches, any provider", new(ExtraEntryScope.ModelProvider, ModelName: "m"), true },
        { "model differs, any provider", new(ExtraEntryScope.ModelProvider, ModelName: "n"), false },
        { "model and provider match", new(ExtraEntryScope.ModelProvider, ModelName: "m", ProviderName: "p"), true },
        { "model matches, provider differs", new(ExtraEntryScope.ModelProvider, ModelName: "m", ProviderName: "q"), false },
        { "model differs, provider matches", new(ExtraEntryScope.ModelProvider, ModelName: "n", ProviderName: "p"), false },
    };

    [Theory]
    [MemberData(nameof(Filters))]
    public void Filter_KeepsExactlyTheEntriesForTheAttempt(string kind, ExtraEntryFilter filter, bool matches)
    {
        foreach (var delete in new[] { false, true })
        {
            var entry = new ExtraHeaderEntry(filter, "X-Test", delete ? null : "1");
            var headers = new UnfilteredInferenceExtraHeaders([entry]);
            var body = new UnfilteredInferenceExtraBody([new ExtraBodyEntry(filter, "/x", delete ? null : "1")]);

            headers.Filter("v", "m", "p").Entries.Should().HaveCount(matches ? 1 : 0, kind);
            body.Filter("v", "m", "p").Entries.Should().HaveCount(matches ? 1 : 0, kind);
        }
    }

    [Fact]
    public void Filter_VariantEntry_NeverMatchesAModelTargetAttempt()
    {
        new ExtraEntryFilter(ExtraEntryScope.Variant, VariantName: "v").Matches(null, "m", "p").Should().BeFalse();
    }

    /// <summary>Merge order: variant config, provider config, request entries; later wins; delete removes.</summary>
    public static TheoryData<string, string?, string?, string?, string?> MergeCases => new()
    {
        // variant, provider, request (null = layer has no entry; "-" = delete) → expected final value
        { "variant only", "a", null, null, "a" },
        { "provider beats variant", "a", "b", null, "b" },
        { "request beats provider", "a", "b", "c", "c" },
        { "request beats variant", "a", null, "c", "c" },
        { "provider deletes variant's", "a", "-", null, null },
        { "request deletes provider's", null, "b", "-", null },
        { "request deletes variant's and provider's", "a", "b", "-", null },
        { "provider re-sets after nothing", null, "b", null, "b" },
        { "variant deletes nothing", "-", null, null, null },
        { "request sets after provider delete", "a", "-", "c", "c" },
    };

    [Theory]
    [MemberData(nameof(MergeCases))]
    public void MergeAfter_LaterLayerWins_DeleteRemoves(string because, string? variant, string? provider, string? request, string? expected)
    {
        static List<ExtraHeaderEntry> Layer(string? v) => v is null ? [] : [new ExtraHeaderEntry(ExtraEntryFilter.Always, "X-Layer", v == "-" ? null : v)];

        var operations = new UnfilteredInferenceExtraHeaders(Layer(request)).Filter("v", "m", "p").MergeAfter(Layer(variant), Layer(provider));
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var op in operations)
        {
            if (op.Delete)
            {
                headers.Remove(op.Name);
            }
            else
            {
                headers[op.Name] = op.Value!;
            }
        }

        headers.GetValueOrDefault("X-Layer").Should().Be(expected, because);
    }
}

public sealed class ExtraHeaderRulesTests
{
    private static readonly ExtraHeaderLimits Limits = ExtraHeaderLimits.Default;

    public static TheoryData<string, string?, string> Violations => new()
    {
        { "X-A", "v\r\nHost: evil", "control character" },
        { "X-A", "v\nX-B: 1", "control character" },
        { "X-A", "v\rX", "control character" },
        { "X-A", "nul\0", "control character" },
        { "X-A", "bell\a", "control character" },
        { "X A", "v", "not an RFC 9110 token" },
        { "X-A:", "v", "not an RFC 9110 token" },
        { "X-\u00e9", "v", "not an RFC 9110 token" },
        { "", "v", "not an RFC 9110 token" },
        { "X-(A)", "v", "not an RFC 9110 token" },
        { new string('x', 257), "v", "longer than 256 bytes" },
        { "X-A", new string('v', 8 * 1024 + 1), "longer than 8192 bytes" },
        { "Host", "evil", "framing or hop-by-hop" },
        { "content-length", "1", "framing or hop-by-hop" },
        { "Transfer-Encoding", "chunked", "framing or hop-by-hop" },
        { "Connection", "close", "framing or hop-by-hop" },
        { "Upgrade", "h2c", "framing or hop-by-hop" },
        { "TE", "trailers", "framing or hop-by-hop" },
        { "Trailer", "x", "framing or hop-by-hop" },
        { "Keep-Alive", "1", "framing or hop-by-hop" },
        { "Proxy-Authorization", "x", "framing or hop-by-hop" },
        { "Proxy-Connection", "x", "framing or hop-by-hop" },
        { "Host", null, "framing or hop-by-hop" },
        { "Authorization", "Bearer x", "carries credentials" },
        { "api-key", "x", "carries credentials" },
        { "X-Api-Key", "x", "carries credentials" },
        { "authorization", null, "carries credentials" },
    };

    [Theory]
    [MemberData(nameof(Violations))]
    public void Check_Violation_SaysWhy(string name, string? value, string expected)
    {
        ExtraHeaderRules.Check(name, value, Limits, allowCredentialOverride: false).Should().Contain(expected);
    }

    [Theory]
    [InlineData("X-Request-Id", "abc")]
    [InlineData("helicone-auth", "Bearer x")]
    [InlineData("X-A", "tab\there")]
    [InlineData("X-A", "")]
    [InlineData("!#$%&'*+-.^_`|~09azAZ", "v")]
    [InlineData("X-A", null)]
    public void Check_ValidEntry_IsNull(string name, string? value)
    {
        ExtraHeaderRules.Check(name, value, Limits, allowCredentialOverride: false).Should().BeNull();
    }

    [Theory]
    [InlineData("Authorization")]
    [InlineData("api-key")]
    [InlineData("x-api-key")]
    public void Check_CredentialHeader_AllowedWithOverride(string name)
    {
        ExtraHeaderRules.Check(name, "secret", Limits, allowCredentialOverride: true).Should().BeNull();
    }

    [Fact]
    public void Check_CredentialViolation_NeverEchoesTheValue()
    {
        ExtraHeaderRules.Check("Authorization", "Bearer sk-very-secret", Limits, false).Should().NotContain("sk-very-secret");
        new ExtraHeaderEntry(ExtraEntryFilter.Always, "api-key", "sk-very-secret").ToString().Should().NotContain("sk-very-secret").And.Contain("[redacted]");
    }

    [Fact]
    public void Check_ConfiguredLimits_Apply()
    {
        var tight = new ExtraHeaderLimits(MaxEntries: 2, MaxNameBytes: 4, MaxValueBytes: 3);

        ExtraHeaderRules.Check("X-AB", "123", tight, false).Should().BeNull();
        ExtraHeaderRules.Check("X-ABC", "1", tight, false).Should().Contain("longer than 4 bytes");
        ExtraHeaderRules.Check("X-A", "1234", tight, false).Should().Contain("longer than 3 bytes");
    }

    [Theory]
    [InlineData("helicone-*", "Helicone-Auth", true)]
    [InlineData("helicone-*", "helicone-", true)]
    [InlineData("helicone-*", "x-helicone-auth", false)]
    [InlineData("x-request-id", "X-Request-ID", true)]
    [InlineData("x-request-id", "x-request-idx", false)]
    [InlineData("*-trace-*", "x-trace-id", true)]
    [InlineData("*", "anything", true)]
    [InlineData("a*b*c", "aXXbYYc", true)]
    [InlineData("a*b*c", "aXXbYY", false)]
    public void ClientHeaderPatterns_MatchCaseInsensitiveGlobs(string pattern, string header, bool expected)
    {
        new ClientHeaderPatterns([pattern]).Matches(header).Should().Be(expected);
    }
}

public sealed class JsonPointerPatchTests
{
    private static string Apply(string body, params (string Pointer, string? Value)[] patches) =>
        Encoding.UTF8.GetString(JsonPointerPatch.Apply(Encoding.UTF8.GetBytes(body),
            [.. patches.Select(p => new ExtraBodyEntry(ExtraEntryFilter.Always, p.Pointer, p.Value))]));

    public static TheoryData<string, string, string?, string> Patches => new()
    {
        { """{"a":1}""", "/b", "2", """{"a":1,"b":2}""" },
        { """{"a":1}""", "/a", "\"x\"", """{"a":"x"}""" },
        { """{"a":1}""", "/n/m/o", "true", """{"a":1,"n":{"m":{"o":true}}}""" },
        { """{"a":1,"b":2}""", "/a", null, """{"b":2}""" },
        { """{"a":1}""", "/missing", null, """{"a":1}""" },
        { """{"a":1}""", "/missing/deep", null, """{"a":1}""" },
        { """{"m":[1,2,3]}""", "/m/1", "9", """{"m":[1,9,3]}""" },
        { """{"m":[1,2,3]}""", "/m/-", "4", """{"m":[1,2,3,4]}""" },
        { """{"m":[1,2,3]}""", "/m/3", "4", """{"m":[1,2,3,4]}""" },
        { """{"m":[1,2,3]}""", "/m/0", null, """{"m":[2,3]}""" },
        { """{"m":[{"c":"x"}]}""", "/m/0/c", "\"y\"", """{"m":[{"c":"y"}]}""" },
        { """{"a/b":1,"c~d":2}""", "/a~1b", "3", """{"a/b":3,"c~d":2}""" },
        { """{"a/b":1,"c~d":2}""", "/c~0d", null, """{"a/b":1}""" },
        { """{"a":1}""", "/o", """{"k":[1,{"z":null}]}""", """{"a":1,"o":{"k":[1,{"z":null}]}}""" },
    };

    [Theory]
    [MemberData(nameof(Patches))]
    public void Apply_SetsAndDeletes(string body, string pointer, string? value, string expected)
    {
        JsonDocument.Parse(Apply(body, (pointer, value))).RootElement.GetRawText().Should().Be(JsonDocument.Parse(expected).RootElement.GetRawText());
    }

    [Theory]
    [InlineData("""{"a":1}""", "/missing_array/0", "indexes into a missing array")]
    [InlineData("""{"a":1}""", "/missing_array/-", "indexes into a missing array")]
    [InlineData("""{"a":1}""", "/x/missing_array/3/y", "indexes into a missing array")]
    [InlineData("""{"m":[1]}""", "/m/5", "outside the array")]
    [InlineData("""{"m":[1]}""", "/m/5/x", "outside the array")]
    [InlineData("""{"m":[1]}""", "/m/01", "is not an array index")]
    [InlineData("""{"m":[1]}""", "/m/x", "is not an array index")]
    [InlineData("""{"a":1}""", "/a/b", "neither an object nor an array")]
    public void Apply_ImpossiblePointer_Throws(string body, string pointer, string expected)
    {
        var act = () => Apply(body, (pointer, "1"));

        act.Should().Throw<JsonPatchException>().WithMessage($"*{expected}*");
    }

    [Fact]
    public void Apply_ThroughAString_IsAnError()
    {
        var act = () => Apply("""{"messages":"text"}""", ("/messages/0", "1"));

        act.Should().Throw<JsonPatchException>().WithMessage("*neither an object nor an array*");
    }

    [Theory]
    [InlineData("", "must start with '/'")]
    [InlineData("a/b", "must start with '/'")]
    [InlineData("/a~2", "'~' that is not")]
    [InlineData("/a~", "'~' that is not")]
    public void CheckPointer_RejectsMalformed(string pointer, string expected)
    {
        JsonPointerPatch.CheckPointer(pointer).Should().Contain(expected);
    }

    [Fact]
    public void Apply_LaterEntryWins()
    {
        Apply("""{"a":1}""", ("/t", "1"), ("/t", "2"), ("/u", "3"), ("/u", null)).Should().Be("""{"a":1,"t":2}""");
    }
}
