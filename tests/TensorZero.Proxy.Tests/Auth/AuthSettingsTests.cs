using TensorZero.Proxy.Configuration;

namespace TensorZero.Proxy.Tests.Auth;

public sealed class AuthSettingsTests
{
    public static TheoryData<string, bool, bool, int> Mapped => new()
    {
        { "", false, true, 1000 },
        { "[gateway]\nauth.enabled = false\n", false, true, 1000 },
        { "[gateway]\nauth.enabled = true\n", true, true, 1000 },
        { "[gateway.auth]\nenabled = true\ncache = { enabled = false }\n", true, false, 1000 },
        { "[gateway.auth]\nenabled = true\n[gateway.auth.cache]\nttl_ms = 60_000\n", true, true, 60_000 },
        { "[gateway.auth]\nenabled = true\ncache = { enabled = true, ttl_ms = 0 }\n", true, true, 0 },
        { "[gateway.auth]\nenabled = false\ncache = { enabled = true, ttl_ms = 100 }\n", false, true, 100 },
    };

    [Theory]
    [MemberData(nameof(Mapped))]
    public void Parse_GatewayAuth_MapsWithTensorZerosDefaults(string toml, bool enabled, bool cacheEnabled, int ttlMs)
    {
        var config = ConfigLoader.Parse(toml);

        config.Gateway.Auth.Should().Be(new AuthSettings(enabled, cacheEnabled, TimeSpan.FromMilliseconds(ttlMs)));
        config.Warnings.Should().BeEmpty();
    }

    public static TheoryData<string, string> Invalid => new()
    {
        { "[gateway.auth]\ncache = { enabled = true }\n", "gateway.auth: missing required key 'enabled'" },
        { "[gateway.auth]\nenabled = \"yes\"\n", "gateway.auth.enabled (line 2): must be a boolean (got a string)" },
        { "[gateway.auth]\nenabled = true\ncache = { ttl_ms = -1 }\n", "gateway.auth.cache.ttl_ms (line 3): must be between 0 and 86400000 (got -1)" },
        { "[gateway.auth]\nenabled = true\ncache = { ttl_ms = 86400001 }\n", "gateway.auth.cache.ttl_ms (line 3): must be between 0 and 86400000" },
        { "[gateway.auth]\nenabled = true\ncache = { enabled = 1 }\n", "gateway.auth.cache.enabled (line 3): must be a boolean" },
        { "[gateway.auth]\nenabled = true\ncache = { ttl = 5 }\n", "gateway.auth.cache.ttl (line 3): unknown key" },
        { "[gateway.auth]\nenabled = true\nkeys = []\n", "gateway.auth.keys (line 3): unknown key" },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void Parse_GatewayAuthOfTheWrongShape_IsAnErrorWithItsKeyPath(string toml, string expected)
    {
        var act = () => ConfigLoader.Parse(toml);

        act.Should().Throw<ConfigException>().Which.Errors.Should().Contain(e => e.StartsWith(expected, StringComparison.Ordinal),
            because: $"the errors should include '{expected}'");
    }
}
