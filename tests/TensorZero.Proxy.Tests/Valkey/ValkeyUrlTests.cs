using System.Net;
using StackExchange.Redis;
using TensorZero.Proxy.Valkey;

namespace TensorZero.Proxy.Tests.Valkey;

public sealed class ValkeyUrlTests
{
    [Theory]
    [InlineData("redis://127.0.0.1:6380", "127.0.0.1", 6380, false, null, null, null)]
    [InlineData("valkey://cache.internal", "cache.internal", 6379, false, null, null, null)]
    [InlineData("rediss://h:6390", "h", 6390, true, null, null, null)]
    [InlineData("valkeys://h", "h", 6379, true, null, null, null)]
    [InlineData("redis://:s%40cret@h:1/3", "h", 1, false, null, "s@cret", 3)]
    [InlineData("redis://app:pw@h", "h", 6379, false, "app", "pw", null)]
    [InlineData("redis://pw@h", "h", 6379, false, null, "pw", null)]
    public void Parse_AcceptedForms_SetsEndpointTlsCredentialsAndDatabase(
        string url, string host, int port, bool tls, string? user, string? password, int? database)
    {
        var options = ValkeyUrl.Parse(url, ValkeyUrl.Variable);

        options.EndPoints.Should().ContainSingle();
        var endpoint = options.EndPoints[0];
        (endpoint switch { DnsEndPoint d => d.Host, IPEndPoint i => i.Address.ToString(), _ => "" }).Should().Be(host);
        (endpoint switch { DnsEndPoint d => d.Port, IPEndPoint i => i.Port, _ => 0 }).Should().Be(port);
        options.Ssl.Should().Be(tls);
        options.User.Should().Be(user);
        options.Password.Should().Be(password);
        options.DefaultDatabase.Should().Be(database);
        options.AbortOnConnectFail.Should().BeFalse("a store down at start-up is retried, not fatal");
        options.BacklogPolicy.Should().Be(BacklogPolicy.FailFast, "a request fails at once while the store is down");
    }

    [Theory]
    [InlineData("localhost:6379", "expected redis://host:port")]
    [InlineData("http://h:1", "scheme 'http'")]
    [InlineData("redis://h/x", "path '/x'")]
    [InlineData("not a url", "not a URL")]
    public void Parse_BadUrl_NamesTheVariableAndTheProblem(string url, string problem)
    {
        var act = () => ValkeyUrl.Parse(url, ValkeyUrl.CacheVariable);

        act.Should().Throw<FormatException>().Which.Message.Should().Contain(ValkeyUrl.CacheVariable).And.Contain(problem);
    }

    [Fact]
    public void Redact_UrlWithPassword_HidesIt()
    {
        ValkeyUrl.Redact("redis://app:pw@h:1").Should().Be("redis://***@h:1");
        ValkeyUrl.Redact("redis://h:1").Should().Be("redis://h:1");
    }
}
