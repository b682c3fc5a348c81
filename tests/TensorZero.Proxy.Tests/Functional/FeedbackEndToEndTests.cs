using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using TensorZero.Proxy.Observability;
using TensorZero.Proxy.Tests.TestSupport;
using static TensorZero.Proxy.Tests.Observability.ObservabilityFixtures;

namespace TensorZero.Proxy.Tests.Functional;

/// <summary>
/// <c>POST /feedback</c> through the real gateway (no ClickHouse: the embedded store, so rows stay in the queue
/// files where the test reads them) for inferences made through the same gateway.
/// </summary>
public sealed class FeedbackEndToEndTests : IAsyncLifetime
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

    private FakeProvider _provider = null!;

    public async Task InitializeAsync() => _provider = await FakeProvider.StartAsync(GoodProvider);

    public async Task DisposeAsync() => await _provider.DisposeAsync();

    private Task<TestGateway> StartAsync(string gatewayTable = "", params string[] args) =>
        TestGateway.StartAsync(Toml(_provider.BaseUrl, _provider.BaseUrl, gatewayTable) + "\n" + Metrics, ProviderEnvironment,
            Args(null, args));

    private static async Task<(string InferenceId, string EpisodeId)> InferAsync(TestGateway gateway, string extra = "")
    {
        using var response = await gateway.Client.PostAsync("/v1/chat/completions", Body("tensorzero::function_name::f", stream: false, extra));
        ((int)response.StatusCode).Should().Be(200, await response.Content.ReadAsStringAsync());
        return (response.Headers.GetValues("x-tensorzero-inference-id").Single(), response.Headers.GetValues("x-tensorzero-episode-id").Single());
    }

    private static async Task<(int Status, JsonElement Body)> FeedbackAsync(TestGateway gateway, string json)
    {
        using var response = await gateway.Client.PostAsync("/feedback", new StringContent(json, Encoding.UTF8, "application/json"));
        var text = await response.Content.ReadAsStringAsync();
        text.Should().NotBeEmpty("every answer of /feedback has a JSON body");
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/json");
        return ((int)response.StatusCode, JsonDocument.Parse(text).RootElement.Clone());
    }


    private static Dictionary<string, string> Tags(JsonElement row) =>
        row.GetProperty("tags.key").EnumerateArray().Zip(row.GetProperty("tags.value").EnumerateArray())
            .ToDictionary(p => p.First.GetString()!, p => p.Second.GetString()!);

    private static Guid FeedbackId(JsonElement body)
    {
        var id = Guid.Parse(body.GetProperty("feedback_id").GetString()!);
        id.Version.Should().Be(7);
        return id;
    }

    [Fact]
    public async Task Feedback_EveryKindForAnInferenceOfTheGateway_RowsQueuedWithTags()
    {
        await using var gateway = await StartAsync();
        var (inferenceId, episodeId) = await InferAsync(gateway);

        var boolean = await FeedbackAsync(gateway, $$$"""{"metric_name":"accepted","inference_id":"{{{inferenceId}}}","value":true,"tags":{"user":"alice"}}""");
        var number = await FeedbackAsync(gateway, $$"""{"metric_name":"rating","episode_id":"{{episodeId}}","value":4.5}""");
        var comment = await FeedbackAsync(gateway, $$"""{"metric_name":"comment","episode_id":"{{episodeId}}","value":"good episode"}""");
        var demonstration = await FeedbackAsync(gateway, $$"""{"metric_name":"demonstration","inference_id":"{{inferenceId}}","value":"the ideal answer","internal":true}""");

        new[] { boolean, number, comment, demonstration }.Select(r => r.Status).Should().AllBeEquivalentTo(200);
        var booleanRow = QueuedRows(gateway, RecordTable.BooleanMetricFeedback).Should().ContainSingle().Subject;
        booleanRow.GetProperty("id").GetString().Should().Be(FeedbackId(boolean.Body).ToString());
        booleanRow.GetProperty("target_id").GetString().Should().Be(inferenceId);
        booleanRow.GetProperty("metric_name").GetString().Should().Be("accepted");
        booleanRow.GetProperty("value").GetInt32().Should().Be(1);
        Tags(booleanRow).Should().Equal(new Dictionary<string, string> { ["user"] = "alice" });

        var floatRow = QueuedRows(gateway, RecordTable.FloatMetricFeedback).Should().ContainSingle().Subject;
        floatRow.GetProperty("id").GetString().Should().Be(FeedbackId(number.Body).ToString());
        floatRow.GetProperty("target_id").GetString().Should().Be(episodeId);
        floatRow.GetProperty("value").GetDouble().Should().Be(4.5);

        var commentRow = QueuedRows(gateway, RecordTable.CommentFeedback).Should().ContainSingle().Subject;
        commentRow.GetProperty("target_type").GetString().Should().Be("episode");
        commentRow.GetProperty("value").GetString().Should().Be("good episode");

        var demonstrationRow = QueuedRows(gateway, RecordTable.DemonstrationFeedback).Should().ContainSingle().Subject;
        demonstrationRow.GetProperty("id").GetString().Should().Be(FeedbackId(demonstration.Body).ToString());
        demonstrationRow.GetProperty("inference_id").GetString().Should().Be(inferenceId);
        demonstrationRow.GetProperty("value").GetString().Should().Be("""[{"type":"text","text":"the ideal answer"}]""");
        Tags(demonstrationRow).Should().Equal(new Dictionary<string, string> { ["tensorzero::internal"] = "true" });
    }

    [Fact]
    public async Task Feedback_DryRun_ValidatedNotQueued()
    {
        await using var gateway = await StartAsync();
        var (inferenceId, _) = await InferAsync(gateway);

        var valid = await FeedbackAsync(gateway, $$"""{"metric_name":"accepted","inference_id":"{{inferenceId}}","value":false,"dryrun":true}""");
        var invalid = await FeedbackAsync(gateway, $$"""{"metric_name":"accepted","inference_id":"{{inferenceId}}","value":"no","dryrun":true}""");

        valid.Status.Should().Be(200);
        FeedbackId(valid.Body);
        invalid.Status.Should().Be(400);
        QueuedRows(gateway, RecordTable.BooleanMetricFeedback).Should().BeEmpty();
    }

    [Fact]
    public async Task Feedback_InvalidRequests_TensorZeroErrorsNothingQueued()
    {
        await using var gateway = await StartAsync();
        var (inferenceId, episodeId) = await InferAsync(gateway);
        // A minute old: not found after TensorZero's minimum wait of a second.
        var unknown = UuidV7.Create(DateTimeOffset.UtcNow.AddMinutes(-1));

        (int, string)[] expected =
        [
            (404, "Unknown metric: nope"),
            (400, "Feedback value for metric `accepted` must be a boolean"),
            (400, "Feedback value for metric `rating` must be a number"),
            (400, "Feedback value for a comment must be a string"),
            (400, "Correct ID was not provided for feedback level \"inference\"."),
            (400, "Both episode_id and inference_id cannot be provided"),
            (400, $"Inference ID: {unknown} does not exist"),
            (400, $"Episode ID: {unknown} does not exist"),
            (400, "Tag name cannot start with 'tensorzero::': tensorzero::mine"),
            (400, "Demonstration must be a string or an array of content blocks"),
            (400, "Demonstration contains invalid tool name"),
            (400, "missing field `value`"),
        ];
        string[] bodies =
        [
            $$"""{"metric_name":"nope","inference_id":"{{inferenceId}}","value":true}""",
            $$"""{"metric_name":"accepted","inference_id":"{{inferenceId}}","value":1}""",
            $$"""{"metric_name":"rating","episode_id":"{{episodeId}}","value":"4"}""",
            $$$"""{"metric_name":"comment","inference_id":"{{{inferenceId}}}","value":{"text":"x"}}""",
            $$"""{"metric_name":"accepted","episode_id":"{{episodeId}}","value":true}""",
            $$"""{"metric_name":"comment","episode_id":"{{episodeId}}","inference_id":"{{inferenceId}}","value":"x"}""",
            $$"""{"metric_name":"accepted","inference_id":"{{unknown}}","value":true}""",
            $$"""{"metric_name":"comment","episode_id":"{{unknown}}","value":"x"}""",
            $$$"""{"metric_name":"accepted","inference_id":"{{{inferenceId}}}","value":true,"tags":{"tensorzero::mine":"1"}}""",
            $$"""{"metric_name":"demonstration","inference_id":"{{inferenceId}}","value":3}""",
            $$$"""{"metric_name":"demonstration","inference_id":"{{{inferenceId}}}","value":[{"type":"tool_call","id":"c","name":"get_weather","arguments":{}}]}""",
            """{"metric_name":"accepted"}""",
        ];

        var answers = new List<(int, string)>();
        foreach (var body in bodies)
        {
            var (status, json) = await FeedbackAsync(gateway, body);
            answers.Add((status, json.GetProperty("error").GetString()!));
        }

        answers.Should().Equal(expected);
        foreach (var table in new[] { RecordTable.BooleanMetricFeedback, RecordTable.FloatMetricFeedback, RecordTable.CommentFeedback, RecordTable.DemonstrationFeedback })
        {
            QueuedRows(gateway, table).Should().BeEmpty();
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData("{\"metric_name\":")]
    [InlineData("not json")]
    public async Task Feedback_BodyNotJson_400WithMessage(string body)
    {
        await using var gateway = await StartAsync();

        var (status, json) = await FeedbackAsync(gateway, body);

        status.Should().Be(400);
        json.GetProperty("error").GetString().Should().StartWith("Failed to parse the request body as JSON: ");
    }

    [Fact]
    public async Task Feedback_DemonstrationWithToolCallForInferenceThatHadTools_KeptAsGiven()
    {
        await using var gateway = await StartAsync();
        var (inferenceId, _) = await InferAsync(gateway, Tools);

        var (status, _) = await FeedbackAsync(gateway,
            $$$"""{"metric_name":"demonstration","inference_id":"{{{inferenceId}}}","value":[{"type":"tool_call","id":"call_9","name":"get_weather","arguments":{"city":"Rome"}}]}""");

        status.Should().Be(200);
        var value = QueuedRows(gateway, RecordTable.DemonstrationFeedback).Should().ContainSingle().Subject.GetProperty("value").GetString();
        value.Should().Be("""[{"type":"tool_call","id":"call_9","raw_name":"get_weather","raw_arguments":"{\"city\":\"Rome\"}","name":"get_weather","arguments":{"city":"Rome"}}]""");
    }

    [Fact]
    public async Task Feedback_TargetValidationDisabled_UnknownTargetAccepted()
    {
        await using var gateway = await StartAsync("[gateway]\nunstable_disable_feedback_target_validation = true");
        // A minute old: not found after TensorZero's minimum wait of a second.
        var unknown = UuidV7.Create(DateTimeOffset.UtcNow.AddMinutes(-1));

        var (status, body) = await FeedbackAsync(gateway, $$"""{"metric_name":"accepted","inference_id":"{{unknown}}","value":true}""");
        var demonstration = await FeedbackAsync(gateway, $$"""{"metric_name":"demonstration","inference_id":"{{unknown}}","value":"x"}""");

        status.Should().Be(200);
        QueuedRows(gateway, RecordTable.BooleanMetricFeedback).Should().ContainSingle()
            .Which.GetProperty("id").GetString().Should().Be(FeedbackId(body).ToString());
        demonstration.Status.Should().Be(400, "a demonstration needs its inference's function");
        demonstration.Body.GetProperty("error").GetString().Should().Be($"Inference ID: {unknown} does not exist");
    }

    [Fact]
    public async Task Feedback_ObservabilityDisabled_400AsTensorZero()
    {
        await using var gateway = await StartAsync("[gateway.observability]\nenabled = false");
        var (inferenceId, _) = await InferAsync(gateway);

        var (status, body) = await FeedbackAsync(gateway, $$"""{"metric_name":"accepted","inference_id":"{{inferenceId}}","value":true}""");

        status.Should().Be(400);
        body.GetProperty("error").GetString().Should().Be("Feedback requires observability to be enabled (`gateway.observability.enabled` must not be `false`).");
    }

    [Fact]
    public async Task Feedback_BasePath_Served()
    {
        await using var gateway = await StartAsync("[gateway]\nbase_path = \"/tz\"");

        using var response = await gateway.Client.PostAsJsonAsync("/tz/feedback", new { metric_name = "nope", episode_id = Guid.CreateVersion7(), value = 1 });

        ((int)response.StatusCode).Should().Be(404);
        (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString().Should().Be("Unknown metric: nope");
    }

    [Fact]
    public async Task JsonFunction_InferenceIsAJsonInferenceRow_AndADemonstrationIsCheckedAgainstItsSchema()
    {
        using var dir = new TempDirectory();
        var schema = dir.Write("output_schema.json",
            """{"type":"object","properties":{"answer":{"type":"string"}},"required":["answer"],"additionalProperties":false}""");
        await using var gateway = await TestGateway.StartAsync($$"""
            [models.json_dummy]
            routing = ["dummy"]
            [models.json_dummy.providers.dummy]
            type = "dummy"
            model_name = "json"

            [functions.extract]
            type = "json"
            output_schema = "{{schema.Replace("\\", "/", StringComparison.Ordinal)}}"
            [functions.extract.variants.v]
            type = "chat_completion"
            model = "json_dummy"
            json_mode = "strict"
            """);

        using var response = await gateway.Client.PostAsync("/openai/v1/chat/completions", new StringContent(
            """{"model":"tensorzero::function_name::extract","messages":[{"role":"user","content":"Say hello"}]}""", Encoding.UTF8, "application/json"));
        ((int)response.StatusCode).Should().Be(200, await response.Content.ReadAsStringAsync());
        var inferenceId = response.Headers.GetValues("x-tensorzero-inference-id").Single();

        var row = QueuedRows(gateway, RecordTable.JsonInference).Should().ContainSingle().Subject;
        row.GetProperty("id").GetString().Should().Be(inferenceId);
        row.GetProperty("function_name").GetString().Should().Be("extract");
        using (var output = JsonDocument.Parse(row.GetProperty("output").GetString()!))
        {
            output.RootElement.GetProperty("raw").GetString().Should().Be("""{"answer":"Hello"}""");
            output.RootElement.GetProperty("parsed").GetProperty("answer").GetString().Should().Be("Hello");
        }
        QueuedRows(gateway, RecordTable.ChatInference).Should().BeEmpty("a JSON function's inference is a JsonInference row only");

        var (badStatus, bad) = await FeedbackAsync(gateway,
            $$$"""{"metric_name":"demonstration","inference_id":"{{{inferenceId}}}","value":{"answer":5}}""");
        badStatus.Should().Be(400);
        bad.GetProperty("error").GetString().Should().NotBeNullOrEmpty();
        var (status, body) = await FeedbackAsync(gateway,
            $$$"""{"metric_name":"demonstration","inference_id":"{{{inferenceId}}}","value":{"answer":"Goodbye"}}""");
        status.Should().Be(200, body.ToString());
        FeedbackId(body);
    }
}
