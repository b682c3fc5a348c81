using OpenAI.Chat;
using TensorZero.Proxy.Inference;
using TensorZero.Proxy.Resilience;
using TensorZero.Proxy.Tests.TestSupport;

namespace TensorZero.Proxy.Tests.Functional;

/// <summary>
/// <c>gateway.global_outbound_http_timeout_ms</c> bounds every provider request, even one without timeouts of its own:
/// a provider that never answers is given up after it and the next provider answers.
/// </summary>
public sealed class GlobalOutboundTimeoutTests
{
    [Fact]
    public async Task HangingProvider_WithoutOwnTimeouts_IsAbandonedAtTheGlobalTimeout_AndTheNextProviderAnswers()
    {
        await using var hanging = await FakeProvider.StartAsync((context, _) => FailingResponses.HangAsync(context));
        await using var good = await FakeProvider.StartAsync(FakeResponses.Default("from the second provider"));
        await using var gateway = await TestGateway.StartAsync(
            "[gateway]\nglobal_outbound_http_timeout_ms = 300\n\n[models.m]\nrouting = [\"hanging\", \"good\"]\n"
            + TestConfigs.OpenAIProvider("m", "hanging", hanging.BaseUrl)
            + TestConfigs.OpenAIProvider("m", "good", good.BaseUrl));

        ChatCompletion completion = await OpenAIClients.Chat(gateway, "tensorzero::model_name::m").CompleteChatAsync([new UserChatMessage("hi")]);
        var inference = await gateway.Inferences.NextAsync();

        completion.Content[0].Text.Should().Be("from the second provider");
        inference.Attempts.Select(a => (a.Provider, a.Outcome)).Should().Equal(("hanging", AttemptOutcome.Timeout), ("good", AttemptOutcome.Ok));
        inference.Attempts[0].TimeoutLevel.Should().Be(TimeoutLevel.Provider);
        inference.Attempts[0].Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(10), "the global timeout, not the forwarder's activity timeout, ended it");
    }
}
