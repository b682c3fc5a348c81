using System.Collections.Frozen;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using TensorZero.Proxy.Configuration;

namespace TensorZero.Proxy.Feedback;

/// <summary>
/// A <c>POST /feedback</c> error in TensorZero's native shape, <c>{"error": "message"}</c>, with TensorZero's status:
/// 400 for a request that is invalid (including a target that does not exist, as TensorZero answers), 404 for an
/// unknown metric or function, 5xx when the gateway cannot check or store it.
/// </summary>
internal readonly record struct FeedbackError(int Status, string Message)
{
    public static FeedbackError Invalid(string message) => new(StatusCodes.Status400BadRequest, message);
}

/// <summary>The body of <c>POST /feedback</c> (TensorZero's <c>Params</c>), as sent.</summary>
/// <param name="MetricName">A <c>[metrics.M]</c> name, <c>comment</c> or <c>demonstration</c>.</param>
/// <param name="InferenceId">The inference the feedback is about, for inference-level feedback.</param>
/// <param name="EpisodeId">The episode the feedback is about, for episode-level feedback.</param>
/// <param name="Value">The value (a clone: it outlives the request's document).</param>
/// <param name="Internal"><c>internal</c>: tags may use the <c>tensorzero::</c> prefix, and <c>tensorzero::internal</c> is added.</param>
/// <param name="Tags"><c>tags</c>: string keys and values.</param>
/// <param name="DryRun"><c>dryrun</c>: validated, not stored.</param>
internal sealed record FeedbackRequest(
    string MetricName, Guid? InferenceId, Guid? EpisodeId, JsonElement Value, bool Internal, IReadOnlyDictionary<string, string> Tags, bool DryRun)
{
    private static readonly FrozenSet<string> Fields = FrozenSet.Create(StringComparer.Ordinal,
        "episode_id", "inference_id", "metric_name", "value", "internal", "tags", "dryrun");

    /// <summary>
    /// Reads the body as TensorZero does (unknown fields and duplicates refused, <c>metric_name</c> and
    /// <c>value</c> required, <c>dryrun</c> and the ids may be null). On failure <paramref name="error"/> names the field.
    /// </summary>
    public static bool TryParse(JsonElement body, out FeedbackRequest? request, out string? error)
    {
        request = null;
        if (body.ValueKind != JsonValueKind.Object)
        {
            error = $"invalid type: {Describe(body)}, expected struct Params";
            return false;
        }
        string? metric = null;
        Guid? inferenceId = null;
        Guid? episodeId = null;
        JsonElement? value = null;
        var isInternal = false;
        var tags = new Dictionary<string, string>(StringComparer.Ordinal);
        var dryrun = false;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var member in body.EnumerateObject())
        {
            var name = member.Name;
            if (!Fields.Contains(name))
            {
                error = $"unknown field `{name}`, expected one of `episode_id`, `inference_id`, `metric_name`, `value`, `internal`, `tags`, `dryrun`";
                return false;
            }
            if (!seen.Add(name))
            {
                error = $"duplicate field `{name}`";
                return false;
            }
            var v = member.Value;
            switch (name)
            {
                case "metric_name":
                    if (v.ValueKind != JsonValueKind.String)
                    {
                        error = $"metric_name: invalid type: {Describe(v)}, expected a string";
                        return false;
                    }
                    metric = v.GetString()!;
                    break;
                case "inference_id" or "episode_id":
                    if (v.ValueKind == JsonValueKind.Null)
                    {
                        break;
                    }
                    if (v.ValueKind != JsonValueKind.String || !Guid.TryParse(v.GetString(), out var id))
                    {
                        error = $"{name}: UUID parsing failed: {(v.ValueKind == JsonValueKind.String ? $"'{v.GetString()}' is not a UUID" : $"invalid type: {Describe(v)}, expected a UUID string")}";
                        return false;
                    }
                    if (name == "inference_id")
                    {
                        inferenceId = id;
                    }
                    else
                    {
                        episodeId = id;
                    }
                    break;
                case "value":
                    value = v.Clone();
                    break;
                case "internal":
                    if (v.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
                    {
                        error = $"internal: invalid type: {Describe(v)}, expected a boolean";
                        return false;
                    }
                    isInternal = v.GetBoolean();
                    break;
                case "dryrun":
                    if (v.ValueKind is not (JsonValueKind.True or JsonValueKind.False or JsonValueKind.Null))
                    {
                        error = $"dryrun: invalid type: {Describe(v)}, expected a boolean";
                        return false;
                    }
                    dryrun = v.ValueKind == JsonValueKind.True;
                    break;
                case "tags":
                    if (v.ValueKind != JsonValueKind.Object)
                    {
                        error = $"tags: invalid type: {Describe(v)}, expected a map";
                        return false;
                    }
                    foreach (var tag in v.EnumerateObject())
                    {
                        if (tag.Value.ValueKind != JsonValueKind.String)
                        {
                            error = $"tags.{tag.Name}: invalid type: {Describe(tag.Value)}, expected a string";
                            return false;
                        }
                        tags[tag.Name] = tag.Value.GetString()!;
                    }
                    break;
            }
        }
        if (metric is null)
        {
            error = "missing field `metric_name`";
            return false;
        }
        if (value is null)
        {
            error = "missing field `value`";
            return false;
        }
        request = new FeedbackRequest(metric, inferenceId, episodeId, value.Value, isInternal, tags, dryrun);
        error = null;
        return true;
    }

    /// <summary>serde's words for a JSON value's type.</summary>
    internal static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => $"string \"{value.GetString()}\"",
        JsonValueKind.Number => value.TryGetInt64(out var n) ? $"integer `{n}`" : $"floating point `{value.GetRawText()}`",
        JsonValueKind.True => "boolean `true`",
        JsonValueKind.False => "boolean `false`",
        JsonValueKind.Null => "null",
        JsonValueKind.Array => "sequence",
        _ => "map",
    };
}

/// <summary>The four kinds of feedback, each with its table.</summary>
internal enum FeedbackKind
{
    Boolean,
    Float,
    Comment,
    Demonstration,
}

/// <summary>What a feedback request is, once its metric and target are resolved.</summary>
/// <param name="Kind">Boolean or float metric, comment or demonstration.</param>
/// <param name="Level">Whether <paramref name="TargetId"/> is an inference or an episode.</param>
/// <param name="TargetId">The inference or episode the feedback is about.</param>
internal sealed record ResolvedFeedback(FeedbackKind Kind, MetricLevel Level, Guid TargetId);

/// <summary>
/// TensorZero's feedback rules that need no lookup (endpoints/feedback/mod.rs): tags, the metric, its level and the
/// id that must come with it, and the value's type. Each check returns the error TensorZero gives, or null.
/// </summary>
internal static class FeedbackRules
{
    public const string Comment = "comment";
    public const string Demonstration = "demonstration";
    public const string InternalTag = "tensorzero::internal";
    private const string TagPrefix = "tensorzero::";

    /// <summary>
    /// The tags as stored: the request's, plus <c>tensorzero::internal = "true"</c> for internal feedback. Users may not
    /// use the <c>tensorzero::</c> prefix; an evaluation's human feedback must name its evaluator inference.
    /// </summary>
    public static FeedbackError? CheckTags(FeedbackRequest request, out Dictionary<string, string> tags)
    {
        tags = new Dictionary<string, string>(request.Tags, StringComparer.Ordinal);
        if (request.Internal)
        {
            tags[InternalTag] = "true";
        }
        else
        {
            foreach (var key in tags.Keys.Order(StringComparer.Ordinal))
            {
                if (key.StartsWith(TagPrefix, StringComparison.Ordinal))
                {
                    return FeedbackError.Invalid($"Tag name cannot start with 'tensorzero::': {key}");
                }
            }
        }
        if (tags.ContainsKey("tensorzero::datapoint_id") && tags.ContainsKey("tensorzero::human_feedback")
            && !tags.ContainsKey("tensorzero::evaluator_inference_id"))
        {
            return FeedbackError.Invalid(
                "tensorzero::evaluator_inference_id is required when tensorzero::datapoint_id and tensorzero::human_feedback are provided");
        }
        return null;
    }

    /// <summary>
    /// The metric's kind and level, and the id given for that level: a <c>[metrics.M]</c> has its own; a
    /// demonstration is about an inference; a comment is about whichever id was given.
    /// </summary>
    public static FeedbackError? Resolve(IReadOnlyDictionary<string, MetricConfig> metrics, FeedbackRequest request, out ResolvedFeedback? resolved)
    {
        resolved = null;
        if (request.InferenceId is not null && request.EpisodeId is not null)
        {
            return FeedbackError.Invalid("Both episode_id and inference_id cannot be provided");
        }
        FeedbackKind kind;
        MetricLevel level;
        if (metrics.TryGetValue(request.MetricName, out var metric))
        {
            kind = metric.Type == MetricType.Boolean ? FeedbackKind.Boolean : FeedbackKind.Float;
            level = metric.Level;
        }
        else if (request.MetricName == Demonstration)
        {
            kind = FeedbackKind.Demonstration;
            level = MetricLevel.Inference;
        }
        else if (request.MetricName == Comment)
        {
            kind = FeedbackKind.Comment;
            if (request.InferenceId is null && request.EpisodeId is null)
            {
                return FeedbackError.Invalid("Exactly one of inference_id or episode_id must be provided");
            }
            level = request.InferenceId is not null ? MetricLevel.Inference : MetricLevel.Episode;
        }
        else
        {
            return new FeedbackError(StatusCodes.Status404NotFound, $"Unknown metric: {request.MetricName}");
        }

        var target = level == MetricLevel.Inference ? request.InferenceId : request.EpisodeId;
        if (target is not { } id)
        {
            return FeedbackError.Invalid($"Correct ID was not provided for feedback level \"{LevelName(level)}\".");
        }
        resolved = new ResolvedFeedback(kind, level, id);
        return null;
    }

    /// <summary>A boolean metric's value: <c>true</c> or <c>false</c>.</summary>
    public static FeedbackError? ReadBoolean(string metricName, JsonElement value, out bool result)
    {
        result = value.ValueKind == JsonValueKind.True;
        return value.ValueKind is JsonValueKind.True or JsonValueKind.False
            ? null
            : FeedbackError.Invalid($"Feedback value for metric `{metricName}` must be a boolean");
    }

    /// <summary>A float metric's value: any JSON number (TensorZero stores it as Float32).</summary>
    public static FeedbackError? ReadFloat(string metricName, JsonElement value, out double result)
    {
        result = 0;
        return value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out result) && double.IsFinite(result)
            ? null
            : FeedbackError.Invalid($"Feedback value for metric `{metricName}` must be a number");
    }

    /// <summary>A comment: a string.</summary>
    public static FeedbackError? ReadComment(JsonElement value, out string result)
    {
        result = value.ValueKind == JsonValueKind.String ? value.GetString()! : "";
        return value.ValueKind == JsonValueKind.String ? null : FeedbackError.Invalid("Feedback value for a comment must be a string");
    }

    /// <summary>TensorZero's name of a level, as its messages quote it.</summary>
    public static string LevelName(MetricLevel level) => level == MetricLevel.Inference ? "inference" : "episode";
}
