using System.Net;
using System.Text;
using System.Text.Json;
using OpenAI.Chat;
using TensorZero.Proxy.Tests.TestSupport;

namespace TensorZero.Proxy.Tests.Functional;

#pragma warning disable SCME0001 // JsonPatch (additional request properties) is experimental in the OpenAI SDK.

/// <summary>Extra headers and body, injected and filtered per provider, end to end.</summary>
public sealed class ExtraHeadersEndToEndTests
{
    private static string Toml(FakeProvider first, FakeProvider second, FakeProvider keyed) => $$"""
        [models.m]
        routing = ["first", "second"]

        [models.m.providers.first]
        type = "openai"
        model_name = "first-up"
        api_base = "{{first.BaseUrl}}/v1/"
        api_key_location = "none"
        extra_headers = [{ name = "X-Provider", value = "first" }, { name = "X-Shared", value = "from-first" }]
        extra_body = [{ pointer = "/provider_tag", value = "first" }]

        [models.m.providers.second]
        type = "openai"
        model_name = "second-up"
        api_base = "{{second.BaseUrl}}/v1/"
        api_key_location = "none"
        extra_headers = [{ name = "X-Provider", value = "second" }]
        forward_client_headers = ["helicone-*", "x-request-id"]

        [models.keyed]
        routing = ["k"]

        [models.keyed.providers.k]
        type = "openai"
        model_name = "keyed-up"
        api_base = "{{keyed.BaseUrl}}/v1/"
        api_key_location = "env::KEYED_KEY"
        allow_credential_override = true

        [functions.f]
        type = "chat"

        [functions.f.variants.v]
        type = "chat_completion"
        model = "m"
        extra_headers = [{ name = "X-Variant", value = "v" }, { name = "X-Shared", value = "from-variant" }]
        """;

    /// <summary>Three fake providers and the gateway in front of them, disposed together.</summary>
    private sealed record Rig(FakeProvider First, FakeProvider Second, FakeProvider Keyed, TestGateway Gateway) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Gateway.DisposeAsync();
            await First.DisposeAsync();
            await Second.DisposeAsync();
            await Keyed.DisposeAsync();
        }
    }

    private static async Task<Rig> StartAsync(Func<Microsoft.AspNetCore.Http.HttpContext, ReceivedRequest, Task>? firstScript = null)
    {
        var first = await FakeProvider.StartAsync(firstScript);
        var second = await FakeProvider.StartAsync();
        var keyed = await FakeProvider.StartAsync();
        var gateway = await TestGateway.StartAsync(Toml(first, second, keyed), new Dictionary<string, string> { ["KEYED_KEY"] = "sk-configured" });
        return new Rig(first, second, keyed, gateway);
    }

    /// <summary>The headers a test controls: x-* and helicone-*, lower-cased name → value.</summary>
    private static Dictionary<string, string> Custom(ReceivedRequest request) => request.Headers
        .Where(h => h.Key.StartsWith("x-", StringComparison.OrdinalIgnoreCase) || h.Key.StartsWith("helicone-", StringComparison.OrdinalIgnoreCase))
        .ToDictionary(h => h.Key.ToLowerInvariant(), h => h.Value);

    [Fact]
    public async Task Failover_EachProviderReceivesExactlyItsOwnHeaderSet()
    {
        await using var rig = await StartAsync((context, _) => FakeResponses.Status(context, 503));
        var (first, second, keyed, gateway) = rig;

        var client = OpenAIClients.Chat(gateway, "f", new Dictionary<string, string>
        {
            ["Helicone-Auth"] = "Bearer helicone-key",
            ["X-Request-Id"] = "req-1",
            ["X-Other-Client-Header"] = "stays out",
        });
        var options = new ChatCompletionOptions();
        options.Patch.Set("$['tensorzero::extra_headers']"u8, BinaryData.FromString("""
            [
              {"name": "X-Always", "value": "a"},
              {"model_name": "m", "provider_name": "first", "name": "X-Only-First", "value": "1"},
              {"model_name": "m", "provider_name": "second", "name": "X-Only-Second", "value": "2"},
              {"model_name": "m", "name": "X-Any-Provider-Of-M", "value": "m"},
              {"variant_name": "v", "name": "X-Variant-Req", "value": "vr"},
              {"model_name": "m", "provider_name": "second", "name": "X-Provider", "delete": true}
            ]
            """));
        options.Patch.Set("$['tensorzero::extra_body']"u8, BinaryData.FromString("""
            [
              {"pointer": "/temperature", "value": 0.25},
              {"model_name": "m", "provider_name": "second", "pointer": "/metadata/route", "value": "second"}
            ]
            """));

        ChatCompletion completion = await client.CompleteChatAsync([new UserChatMessage("hi")], options);
        var inference = await gateway.Inferences.NextAsync();

        completion.Content[0].Text.Should().Be("fake reply");
        var toFirst = first.Received.Should().ContainSingle().Subject;
        var toSecond = second.Received.Should().ContainSingle().Subject;
        Custom(toFirst).Should().BeEquivalentTo(new Dictionary<string, string>
        {
            ["x-always"] = "a", ["x-only-first"] = "1", ["x-any-provider-of-m"] = "m", ["x-variant-req"] = "vr",
            ["x-variant"] = "v", ["x-provider"] = "first", ["x-shared"] = "from-first",
        });
        Custom(toSecond).Should().BeEquivalentTo(new Dictionary<string, string>
        {
            ["x-always"] = "a", ["x-only-second"] = "2", ["x-any-provider-of-m"] = "m", ["x-variant-req"] = "vr",
            ["x-variant"] = "v", ["x-shared"] = "from-variant", ["helicone-auth"] = "Bearer helicone-key", ["x-request-id"] = "req-1",
        });
        toFirst.Json.GetProperty("provider_tag").GetString().Should().Be("first");
        toFirst.Json.GetProperty("temperature").GetDouble().Should().Be(0.25);
        toFirst.Json.TryGetProperty("metadata", out _).Should().BeFalse();
        toSecond.Json.TryGetProperty("provider_tag", out _).Should().BeFalse();
        toSecond.Json.GetProperty("metadata").GetProperty("route").GetString().Should().Be("second");
        inference.ExtraHeadersJson.Should().Contain("X-Only-First");
        inference.Attempts.Select(a => a.AppliedHeaders.Any(h => h.Key == "X-Only-First")).Should().Equal(true, false);
    }

    public static TheoryData<string, string> RejectedEntries => new()
    {
        { """[{"name": "X-A", "value": "v\r\nHost: evil"}]""", "control character" },
        { """[{"name": "X-A", "value": "nul\u0000"}]""", "control character" },
        { """[{"name": "Bad Name", "value": "v"}]""", "not an RFC 9110 token" },
        { """[{"name": "Host", "value": "evil.example"}]""", "framing or hop-by-hop" },
        { """[{"name": "Transfer-Encoding", "delete": true}]""", "framing or hop-by-hop" },
        { """[{"name": "Proxy-Authorization", "value": "x"}]""", "framing or hop-by-hop" },
        { """[{"name": "Authorization", "value": "Bearer stolen"}]""", "carries credentials" },
        { """[{"name": "x-api-key", "value": "stolen"}]""", "carries credentials" },
        { """[{"name": "X-A", "value": "v", "colour": "red"}]""", "unknown key 'colour'" },
        { """[{"name": "X-A"}]""", "exactly one of 'value' or 'delete'" },
        { """[{"name": "X-A", "value": "v", "delete": true}]""", "exactly one of 'value' or 'delete'" },
        { """[{"name": "X-A", "value": 3}]""", "'value' must be a string" },
        { """[{"variant_name": "nope", "name": "X-A", "value": "v"}]""", "function 'f' has no variant 'nope'" },
        { """[{"model_name": "nope", "name": "X-A", "value": "v"}]""", "model 'nope' is not used by this request's target" },
        { """[{"model_name": "m", "provider_name": "nope", "name": "X-A", "value": "v"}]""", "model 'm' has no provider 'nope'" },
        { """[{"provider_name": "first", "name": "X-A", "value": "v"}]""", "'provider_name' needs 'model_name'" },
        { """{"name": "X-A", "value": "v"}""", "must be an array" },
        { "[" + string.Join(",", Enumerable.Range(0, 65).Select(i => $"{{\"name\":\"X-{i}\",\"value\":\"v\"}}")) + "]", "at most 64 are allowed" },
        { "[{\"name\": \"X-A\", \"value\": \"" + new string('v', 8193) + "\"}]", "longer than 8192 bytes" },
    };

    [Theory]
    [MemberData(nameof(RejectedEntries))]
    public async Task InvalidExtraHeader_Is400NamingTheEntry_AndNothingIsSent(string entries, string expected)
    {
        await using var rig = await StartAsync();
        var (first, second, keyed, gateway) = rig;

        using var response = await gateway.Client.PostAsync("/v1/chat/completions", new StringContent(
            $$"""{"model":"f","messages":[{"role":"user","content":"hi"}],"tensorzero::extra_headers":{{entries}}}""", Encoding.UTF8, "application/json"));
        var text = await response.Content.ReadAsStringAsync();

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest, text);
        var message = JsonDocument.Parse(text).RootElement.GetProperty("error").GetProperty("message").GetString();
        message.Should().Contain(expected);
        message.Should().NotContain("stolen");
        first.Received.Should().BeEmpty();
        second.Received.Should().BeEmpty();
    }

    [Theory]
    [InlineData("""[{"pointer": "/tools/0/type", "value": "x"}]""", "indexes into a missing array")]
    [InlineData("""[{"pointer": "/messages/7", "value": 1}]""", "outside the array")]
    [InlineData("""[{"pointer": "temperature", "value": 1}]""", "must start with '/'")]
    [InlineData("""[{"pointer": "/a", "value": 1, "extra": 2}]""", "unknown key 'extra'")]
    public async Task InvalidExtraBody_Is400_AndNothingIsSent(string entries, string expected)
    {
        await using var rig = await StartAsync();
        var (first, second, keyed, gateway) = rig;

        using var response = await gateway.Client.PostAsync("/v1/chat/completions", new StringContent(
            $$"""{"model":"f","messages":[{"role":"user","content":"hi"}],"tensorzero::extra_body":{{entries}}}""", Encoding.UTF8, "application/json"));

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        (await response.Content.ReadAsStringAsync()).Should().Contain(expected);
        first.Received.Should().BeEmpty();
    }

    [Fact]
    public async Task ForbiddenHeaderThroughSdk_Is400_AndTheProviderReceivesNothing()
    {
        await using var rig = await StartAsync();
        var (first, second, keyed, gateway) = rig;
        var options = new ChatCompletionOptions();
        options.Patch.Set("$['tensorzero::extra_headers']"u8, BinaryData.FromString("""[{"name": "Content-Length", "value": "0"}]"""));

        var act = () => OpenAIClients.Chat(gateway, "m").CompleteChatAsync([new UserChatMessage("hi")], options);

        (await act.Should().ThrowAsync<System.ClientModel.ClientResultException>()).Which.Status.Should().Be(400);
        first.Received.Should().BeEmpty();
        second.Received.Should().BeEmpty();
    }

    [Fact]
    public async Task CredentialOverride_WhereAllowed_ReplacesTheKey_AndIsRedactedInRecords()
    {
        await using var rig = await StartAsync();
        var (first, second, keyed, gateway) = rig;

        using var response = await gateway.Client.PostAsync("/v1/chat/completions", new StringContent(
            """{"model":"keyed","messages":[],"tensorzero::extra_headers":[{"name":"Authorization","value":"Bearer sk-user-own-key"}]}""",
            Encoding.UTF8, "application/json"));
        var inference = await gateway.Inferences.NextAsync();

        response.StatusCode.Should().Be(HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        keyed.Received.Should().ContainSingle().Which.Header("Authorization").Should().Be("Bearer sk-user-own-key");
        inference.ExtraHeadersJson.Should().NotContain("sk-user-own-key").And.Contain("[redacted]");
        inference.Attempts.Single().AppliedHeaders.Should().Contain(new KeyValuePair<string, string>("Authorization", "[redacted]"));
        inference.Attempts.Single().AppliedHeaders.Should().NotContain(h => h.Value.Contains("sk-", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ThousandConcurrentRequests_EachReachesTheProviderWithItsOwnValues()
    {
        await using var fake = await FakeProvider.StartAsync();
        await using var gateway = await TestGateway.StartAsync(TestConfigs.SingleProviderModel("m", "p", fake.BaseUrl, modelName: "up"));

        var requests = Enumerable.Range(0, 1000).Select(async i =>
        {
            var body = $$"""{"model":"m","messages":[{"role":"user","content":"request-{{i}}"}],"tensorzero::extra_headers":[{"name":"X-Request-Value","value":"value-{{i}}"}],"tensorzero::extra_body":[{"pointer":"/user","value":"user-{{i}}"}]}""";
            using var response = await gateway.Client.PostAsync("/v1/chat/completions", new StringContent(body, Encoding.UTF8, "application/json"));
            return response.StatusCode;
        });
        var statuses = await Task.WhenAll(requests);

        statuses.Should().OnlyContain(s => s == HttpStatusCode.OK);
        fake.Received.Should().HaveCount(1000);
        foreach (var received in fake.Received)
        {
            var marker = received.Json.GetProperty("messages")[0].GetProperty("content").GetString()!["request-".Length..];
            received.Header("X-Request-Value").Should().Be($"value-{marker}");
            received.Json.GetProperty("user").GetString().Should().Be($"user-{marker}");
        }
    }
}
