using System.Text;
using System.Text.Json;
using TensorZero.Proxy.Tests.TestSupport;
using static TensorZero.Proxy.Tests.Observability.ObservabilityFixtures;

namespace TensorZero.Proxy.Tests.Observability;

/// <summary>
/// <c>POST /feedback</c> against the real ClickHouse server that tests/run starts: the four feedback tables get
/// their rows, and a gateway that never saw an inference (a restart: its recent-inference index is empty) finds it
/// and its episode in ClickHouse, tools included. Each test uses a database of its own.
/// </summary>
public sealed class ClickHouseFeedbackTests : IDisposable
{
    private const string Metrics = """

        [metrics.accepted]
        type = "boolean"
        optimize = "max"
        level = "inference"

        [metrics.rating]
        type = "float"
        optimize = "max"
        level = "episode"
        """;

    private readonly ClickHouseTestServer _server = ClickHouseTestServer.Shared();
    private readonly string _database = ClickHouseTestServer.NewDatabase();

    public void Dispose()
    {
        _server.DropDatabaseAsync(_database).GetAwaiter().GetResult();
        _server.Dispose();
    }

    private async Task<TestGateway> StartAsync(FakeProvider provider) =>
        await TestGateway.StartAsync(Toml(provider.BaseUrl, provider.BaseUrl) + Metrics, ProviderEnvironment, Args(_server.UrlFor(_database)));

    private static async Task<(string InferenceId, string EpisodeId)> InferAsync(TestGateway gateway, string extra = "")
    {
        using var response = await gateway.Client.PostAsync("/v1/chat/completions", Body("tensorzero::function_name::f", stream: false, extra));
        ((int)response.StatusCode).Should().Be(200);
        return (response.Headers.GetValues("x-tensorzero-inference-id").Single(), response.Headers.GetValues("x-tensorzero-episode-id").Single());
    }

    private static async Task<(int Status, string Body)> FeedbackAsync(TestGateway gateway, string json)
    {
        using var response = await gateway.Client.PostAsync("/feedback", new StringContent(json, Encoding.UTF8, "application/json"));
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private static string FeedbackId(string body) => JsonDocument.Parse(body).RootElement.GetProperty("feedback_id").GetString()!;

    [Fact]
    public async Task Feedback_EveryKind_RowsLandInTheirTables()
    {
        await using var provider = await FakeProvider.StartAsync(GoodProvider);
        await using var gateway = await StartAsync(provider);
        var (inferenceId, episodeId) = await InferAsync(gateway);

        var boolean = await FeedbackAsync(gateway, $$$"""{"metric_name":"accepted","inference_id":"{{{inferenceId}}}","value":true,"tags":{"user":"alice"}}""");
        var number = await FeedbackAsync(gateway, $$"""{"metric_name":"rating","episode_id":"{{episodeId}}","value":0.75}""");
        var comment = await FeedbackAsync(gateway, $$"""{"metric_name":"comment","inference_id":"{{inferenceId}}","value":"fine"}""");
        var demonstration = await FeedbackAsync(gateway, $$"""{"metric_name":"demonstration","inference_id":"{{inferenceId}}","value":"better"}""");
        var dryRun = await FeedbackAsync(gateway, $$"""{"metric_name":"comment","inference_id":"{{inferenceId}}","value":"not stored","dryrun":true}""");

        new[] { boolean, number, comment, demonstration, dryRun }.Select(r => r.Status).Should().AllBeEquivalentTo(200);
        (await _server.WaitForCountAsync($"SELECT count() FROM {_database}.DemonstrationFeedback", 1)).Should().Be(1);
        (await _server.WaitForCountAsync($"SELECT count() FROM {_database}.CommentFeedback", 1)).Should().Be(1);
        (await _server.WaitForCountAsync($"SELECT count() FROM {_database}.FloatMetricFeedback", 1)).Should().Be(1);
        (await _server.WaitForCountAsync($"SELECT count() FROM {_database}.BooleanMetricFeedback", 1)).Should().Be(1);

        (await _server.QueryAsync($"SELECT toString(id), toString(target_id), metric_name, value, tags.key, tags.value FROM {_database}.BooleanMetricFeedback FORMAT TabSeparated"))
            .Should().Be($"{FeedbackId(boolean.Body)}\t{inferenceId}\taccepted\t1\t['user']\t['alice']\n");
        (await _server.QueryAsync($"SELECT toString(id), toString(target_id), metric_name, value FROM {_database}.FloatMetricFeedback FORMAT TabSeparated"))
            .Should().Be($"{FeedbackId(number.Body)}\t{episodeId}\trating\t0.75\n");
        (await _server.QueryAsync($"SELECT toString(id), toString(target_id), target_type, value FROM {_database}.CommentFeedback FORMAT TabSeparated"))
            .Should().Be($"{FeedbackId(comment.Body)}\t{inferenceId}\tinference\tfine\n");
        (await _server.QueryAsync($"SELECT toString(id), toString(inference_id), value FROM {_database}.DemonstrationFeedback FORMAT JSONEachRow"))
            .Should().Be($$"""{"toString(id)":"{{FeedbackId(demonstration.Body)}}","toString(inference_id)":"{{inferenceId}}","value":"[{\"type\":\"text\",\"text\":\"better\"}]"}""" + "\n");
    }

    [Fact]
    public async Task Feedback_AfterRestart_TargetsFoundInClickHouse()
    {
        await using var provider = await FakeProvider.StartAsync(GoodProvider);
        string inferenceId, episodeId;
        await using (var first = await StartAsync(provider))
        {
            (inferenceId, episodeId) = await InferAsync(first, Tools);
        }
        (await _server.WaitForCountAsync($"SELECT count() FROM {_database}.InferenceByEpisodeId WHERE episode_id = toUUID('{episodeId}')", 1)).Should().Be(1);

        await using var second = await StartAsync(provider);
        var comment = await FeedbackAsync(second, $$"""{"metric_name":"comment","episode_id":"{{episodeId}}","value":"seen again"}""");
        var boolean = await FeedbackAsync(second, $$"""{"metric_name":"accepted","inference_id":"{{inferenceId}}","value":false}""");
        var toolCall = await FeedbackAsync(second,
            $$$"""{"metric_name":"demonstration","inference_id":"{{{inferenceId}}}","value":[{"type":"tool_call","id":"c1","name":"get_weather","arguments":{"city":"Lima"}}]}""");
        var unknownTool = await FeedbackAsync(second,
            $$$"""{"metric_name":"demonstration","inference_id":"{{{inferenceId}}}","value":[{"type":"tool_call","id":"c2","name":"get_time","arguments":{}}]}""");
        var badArguments = await FeedbackAsync(second,
            $$$"""{"metric_name":"demonstration","inference_id":"{{{inferenceId}}}","value":[{"type":"tool_call","id":"c3","name":"get_weather","arguments":{"city":7}}]}""");

        comment.Status.Should().Be(200, comment.Body);
        boolean.Status.Should().Be(200, boolean.Body);
        toolCall.Status.Should().Be(200, toolCall.Body);
        unknownTool.Should().Be((400, """{"error":"Demonstration contains invalid tool name"}"""), "the recorded tool_params name every tool the inference had");
        badArguments.Should().Be((400, """{"error":"Demonstration contains invalid tool call arguments"}"""));
        (await _server.WaitForCountAsync($"SELECT count() FROM {_database}.DemonstrationFeedback", 1)).Should().Be(1);
        (await _server.WaitForCountAsync($"SELECT count() FROM {_database}.CommentFeedback WHERE target_type = 'episode'", 1)).Should().Be(1);
    }
}
