using System.Collections.Frozen;
using System.Text.Json;
using TensorZero.Proxy.Configuration;
using TensorZero.Proxy.Feedback;
using TensorZero.Proxy.Functions;

namespace TensorZero.Proxy.Tests.Feedback;

public sealed class FeedbackRulesTests
{
    private const string InferenceId = "0196a0b4-55a5-7c30-9a26-0e5d1e6b4c11";
    private const string EpisodeId = "0196a0b4-55a5-7c30-9a26-0e5d1e6b4c22";

    private static readonly FrozenDictionary<string, MetricConfig> Metrics = new Dictionary<string, MetricConfig>
    {
        ["accepted"] = new("accepted", MetricType.Boolean, MetricOptimize.Max, MetricLevel.Inference),
        ["rating"] = new("rating", MetricType.Float, MetricOptimize.Max, MetricLevel.Episode),
    }.ToFrozenDictionary();

    private static JsonElement Json(string text) => JsonDocument.Parse(text).RootElement.Clone();

    private static FeedbackRequest Parse(string body)
    {
        FeedbackRequest.TryParse(Json(body), out var request, out var error).Should().BeTrue(error);
        return request!;
    }

    [Fact]
    public void TryParse_FullBody_ReadsEveryField()
    {
        var request = Parse($$"""
            {"metric_name":"accepted","inference_id":"{{InferenceId}}","episode_id":null,"value":true,
             "tags":{"user":"alice"},"dryrun":true,"internal":false}
            """);

        request.MetricName.Should().Be("accepted");
        request.InferenceId.Should().Be(Guid.Parse(InferenceId));
        request.EpisodeId.Should().BeNull();
        request.Value.GetBoolean().Should().BeTrue();
        request.Tags.Should().Equal(new Dictionary<string, string> { ["user"] = "alice" });
        request.DryRun.Should().BeTrue();
        request.Internal.Should().BeFalse();
    }

    [Theory]
    [InlineData("""[1]""", "invalid type: sequence, expected struct Params")]
    [InlineData("""{"value":1}""", "missing field `metric_name`")]
    [InlineData("""{"metric_name":"m"}""", "missing field `value`")]
    [InlineData("""{"metric_name":"m","value":1,"note":"x"}""", "unknown field `note`, expected one of `episode_id`, `inference_id`, `metric_name`, `value`, `internal`, `tags`, `dryrun`")]
    [InlineData("""{"metric_name":"m","metric_name":"n","value":1}""", "duplicate field `metric_name`")]
    [InlineData("""{"metric_name":3,"value":1}""", "metric_name: invalid type: integer `3`, expected a string")]
    [InlineData("""{"metric_name":"m","value":1,"inference_id":"nope"}""", "inference_id: UUID parsing failed: 'nope' is not a UUID")]
    [InlineData("""{"metric_name":"m","value":1,"tags":{"a":1}}""", "tags.a: invalid type: integer `1`, expected a string")]
    [InlineData("""{"metric_name":"m","value":1,"dryrun":"yes"}""", "dryrun: invalid type: string \"yes\", expected a boolean")]
    [InlineData("""{"metric_name":"m","value":1,"internal":null}""", "internal: invalid type: null, expected a boolean")]
    public void TryParse_InvalidBody_NamesTheProblem(string body, string expected)
    {
        FeedbackRequest.TryParse(Json(body), out var request, out var error).Should().BeFalse();
        request.Should().BeNull();
        error.Should().Be(expected);
    }

    [Theory]
    [InlineData("""{"tensorzero::x":"1"}""", false, "Tag name cannot start with 'tensorzero::': tensorzero::x")]
    [InlineData("""{"tensorzero::x":"1"}""", true, null)]
    [InlineData("""{"tensorzero::datapoint_id":"1","tensorzero::human_feedback":"true"}""", true,
        "tensorzero::evaluator_inference_id is required when tensorzero::datapoint_id and tensorzero::human_feedback are provided")]
    [InlineData("""{"user":"bob"}""", false, null)]
    public void CheckTags_Rules_AsTensorZero(string tags, bool isInternal, string? expected)
    {
        var request = Parse($$"""{"metric_name":"comment","value":"x","tags":{{tags}},"internal":{{(isInternal ? "true" : "false")}}}""");

        var error = FeedbackRules.CheckTags(request, out var stored);

        error?.Message.Should().Be(expected);
        (error is null).Should().Be(expected is null);
        if (isInternal && error is null)
        {
            stored.Should().Contain(FeedbackRules.InternalTag, "true");
        }
    }

    [Theory]
    [InlineData("accepted", true, false, "Boolean", "Inference", 0, null)]
    [InlineData("rating", false, true, "Float", "Episode", 0, null)]
    [InlineData("comment", false, true, "Comment", "Episode", 0, null)]
    [InlineData("comment", true, false, "Comment", "Inference", 0, null)]
    [InlineData("demonstration", true, false, "Demonstration", "Inference", 0, null)]
    [InlineData("comment", false, false, null, null, 400, "Exactly one of inference_id or episode_id must be provided")]
    [InlineData("accepted", true, true, null, null, 400, "Both episode_id and inference_id cannot be provided")]
    [InlineData("accepted", false, true, null, null, 400, "Correct ID was not provided for feedback level \"inference\".")]
    [InlineData("rating", true, false, null, null, 400, "Correct ID was not provided for feedback level \"episode\".")]
    [InlineData("demonstration", false, true, null, null, 400, "Correct ID was not provided for feedback level \"inference\".")]
    [InlineData("unknown", true, false, null, null, 404, "Unknown metric: unknown")]
    public void Resolve_MetricAndIds_KindLevelOrError(
        string metric, bool withInference, bool withEpisode, string? kind, string? level, int status, string? message)
    {
        var ids = (withInference ? $",\"inference_id\":\"{InferenceId}\"" : "") + (withEpisode ? $",\"episode_id\":\"{EpisodeId}\"" : "");
        var request = Parse($$"""{"metric_name":"{{metric}}","value":1{{ids}}}""");

        var error = FeedbackRules.Resolve(Metrics, request, out var resolved);

        if (message is null)
        {
            error.Should().BeNull();
            var expectedLevel = Enum.Parse<MetricLevel>(level!);
            resolved.Should().Be(new ResolvedFeedback(
                Enum.Parse<FeedbackKind>(kind!), expectedLevel, Guid.Parse(expectedLevel == MetricLevel.Inference ? InferenceId : EpisodeId)));
        }
        else
        {
            error.Should().Be(new FeedbackError(status, message));
            resolved.Should().BeNull();
        }
    }

    [Theory]
    [InlineData("true", true)]
    [InlineData("false", true)]
    [InlineData("1", false)]
    [InlineData("\"true\"", false)]
    public void ReadBoolean_Value_OnlyJsonBooleans(string value, bool valid)
    {
        var error = FeedbackRules.ReadBoolean("accepted", Json(value), out var result);

        (error is null).Should().Be(valid);
        error?.Message.Should().Be("Feedback value for metric `accepted` must be a boolean");
        if (valid)
        {
            result.Should().Be(value == "true");
        }
    }

    [Theory]
    [InlineData("10", true, 10.0)]
    [InlineData("-0.25", true, -0.25)]
    [InlineData("1e3", true, 1000.0)]
    [InlineData("true", false, 0.0)]
    [InlineData("\"4\"", false, 0.0)]
    [InlineData("null", false, 0.0)]
    public void ReadFloat_Value_OnlyNumbers(string value, bool valid, double expected)
    {
        var error = FeedbackRules.ReadFloat("rating", Json(value), out var result);

        (error is null).Should().Be(valid);
        error?.Message.Should().Be("Feedback value for metric `rating` must be a number");
        if (valid)
        {
            result.Should().Be(expected);
        }
    }

    [Theory]
    [InlineData("\"nice\"", true)]
    [InlineData("42", false)]
    [InlineData("[\"a\"]", false)]
    public void ReadComment_Value_OnlyStrings(string value, bool valid)
    {
        var error = FeedbackRules.ReadComment(Json(value), out var result);

        (error is null).Should().Be(valid);
        error?.Message.Should().Be("Feedback value for a comment must be a string");
        if (valid)
        {
            result.Should().Be("nice");
        }
    }
}
