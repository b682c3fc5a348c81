using System.Net;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using TensorZero.Proxy.Inference;
using TensorZero.Proxy.Tests.TestSupport;

namespace TensorZero.Proxy.Tests.Functional;

/// <summary>
/// What the gateway logs about provider attempts (chat completions): an upstream error or failover at Warning with the
/// provider, model, status and elapsed time, naming the provider tried next; a successful attempt below Warning.
/// </summary>
public sealed class AttemptLogsEndToEndTests
{
    private static StringContent Chat(string model) =>
        new($$"""{"model":"{{model}}","messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json");

    private static async Task<(TestGateway Gateway, CapturingLogger Logs)> StartAsync(string toml)
    {
        var logs = new CapturingLogger();
        var gateway = await TestGateway.StartWithServicesAsync(toml, services => services.AddSingleton<ILoggerProvider>(logs));
        return (gateway, logs);
    }

    private static IEnumerable<CapturedLog> RunnerWarnings(CapturingLogger logs) =>
        logs.Entries.Where(e => e.Category == typeof(ModelRunner).FullName && e.Level >= LogLevel.Warning);

    [Fact]
    public async Task Failover_FirstProviderAnswers503_OneWarningNamingTheNextProvider()
    {
        await using var bad = await FakeProvider.StartAsync((context, _) => FakeResponses.Status(context, 503));
        await using var good = await FakeProvider.StartAsync();
        var (gateway, logs) = await StartAsync("[models.m]\nrouting = [\"bad\", \"good\"]\n"
            + TestConfigs.OpenAIProvider("m", "bad", bad.BaseUrl) + TestConfigs.OpenAIProvider("m", "good", good.BaseUrl));
        await using var _ = gateway;

        using var response = await gateway.Client.PostAsync("/openai/v1/chat/completions", Chat("m"));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        var warning = RunnerWarnings(logs).Should().ContainSingle().Subject;
        warning.Level.Should().Be(LogLevel.Warning);
        warning.EventId.Id.Should().Be(202);
        warning.Message.Should().MatchRegex(@"^Provider 'bad' of model 'm' failed: Status \(status 503\) after \d+ ms; failing over to provider 'good'$");
    }

    [Fact]
    public async Task LastProviderFails_WarningSaysNoFurtherProvider()
    {
        await using var bad = await FakeProvider.StartAsync((context, _) => FakeResponses.Status(context, 500));
        var (gateway, logs) = await StartAsync(TestConfigs.SingleProviderModel("m", "only", bad.BaseUrl));
        await using var _ = gateway;

        using var response = await gateway.Client.PostAsync("/openai/v1/chat/completions", Chat("m"));

        response.StatusCode.Should().Be(HttpStatusCode.InternalServerError);
        var warning = RunnerWarnings(logs).Should().ContainSingle().Subject;
        warning.EventId.Id.Should().Be(203);
        warning.Message.Should().StartWith("Provider 'only' of model 'm' failed: Status (status 500) after ").And.EndWith("no further provider of the model is tried");
    }

    [Fact]
    public async Task ProviderAnswers400_WarningSaysTheAnswerWentToTheClient()
    {
        await using var refusing = await FakeProvider.StartAsync((context, _) => FakeResponses.Status(context, 400));
        var (gateway, logs) = await StartAsync(TestConfigs.SingleProviderModel("m", "strict", refusing.BaseUrl));
        await using var _ = gateway;

        using var response = await gateway.Client.PostAsync("/openai/v1/chat/completions", Chat("m"));

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        var warning = RunnerWarnings(logs).Should().ContainSingle().Subject;
        warning.EventId.Id.Should().Be(204);
        warning.Message.Should().MatchRegex(@"^Provider 'strict' of model 'm' answered status 400 after \d+ ms; the answer was returned to the client$");
    }

    [Fact]
    public async Task Success_NothingAtWarning()
    {
        await using var good = await FakeProvider.StartAsync();
        var (gateway, logs) = await StartAsync(TestConfigs.SingleProviderModel("m", "good", good.BaseUrl));
        await using var _ = gateway;

        using var response = await gateway.Client.PostAsync("/openai/v1/chat/completions", Chat("m"));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        RunnerWarnings(logs).Should().BeEmpty();
    }
}
