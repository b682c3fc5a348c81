using System.Collections.Immutable;

namespace TensorZero.Proxy.Observability;

/// <summary>
/// The ClickHouse tables the gateway writes, each with its own queue folder of the same name and its own shipper.
/// A new table is a member here, its <c>CREATE TABLE</c> in a migration, and its row writer in <see cref="InferenceRecords"/>.
/// </summary>
internal enum RecordTable
{
    ChatInference,
    ModelInference,
    JsonInference,
    BooleanMetricFeedback,
    FloatMetricFeedback,
    CommentFeedback,
    DemonstrationFeedback,
    EmbeddingInference,
}

/// <summary>The registry of <see cref="RecordTable"/>s: every table in order, and their names without allocation.</summary>
internal static class RecordTables
{
    private static readonly string[] Names = [.. Enum.GetValues<RecordTable>().Select(t => t.ToString())];

    /// <summary>Every table, in declaration order (a table's index is its numeric value).</summary>
    public static ImmutableArray<RecordTable> All { get; } = [.. Enum.GetValues<RecordTable>()];

    public static int Count => Names.Length;

    /// <summary>The table's name: its ClickHouse table and its queue folder.</summary>
    public static string Name(this RecordTable table) => Names[(int)table];

    /// <summary>The table's bit in a mask of tables (at most 32 tables).</summary>
    public static int Bit(this RecordTable table) => 1 << (int)table;
}

/// <summary>
/// A row recorded on its own, not derived from an <see cref="Inference.InferenceFeature"/>: feedback, or the
/// <c>JsonInference</c> row of a JSON function's inference. It goes through the same group commit and durable queue
/// as inference records (<see cref="ObservabilityWriter"/>), serialized by <see cref="InferenceRecords.Write(ObservabilityRow, System.Buffers.IBufferWriter{byte})"/>.
/// </summary>
internal abstract record ObservabilityRow
{
    /// <summary>The table the row belongs to.</summary>
    public abstract RecordTable Table { get; }
}

/// <summary>
/// One <c>JsonInference</c> row (DESIGN.md §7): the inference of a function of type <c>json</c>, with TensorZero's
/// columns adapted as <c>ChatInference</c>'s are (migration 0002). Every JSON column holds JSON text; the caller
/// formats it (the row is written as given).
/// </summary>
internal sealed record JsonInferenceRow : ObservabilityRow
{
    /// <inheritdoc />
    public override RecordTable Table => RecordTable.JsonInference;

    /// <summary>The inference id (UUIDv7).</summary>
    public required Guid Id { get; init; }

    public required Guid EpisodeId { get; init; }

    public required string FunctionName { get; init; }

    public required string VariantName { get; init; }

    /// <summary>The input as JSON text (TensorZero's <c>{"system", "messages"}</c>, or the OpenAI messages as sent).</summary>
    public required string Input { get; init; }

    /// <summary>The output as JSON text: <c>{"raw": "...", "parsed": {...} | null}</c>.</summary>
    public required string Output { get; init; }

    /// <summary>The output schema the inference used (the function's, or the request's dynamic one), as JSON text.</summary>
    public required string OutputSchema { get; init; }

    /// <summary>When the inference started (UTC).</summary>
    public required DateTimeOffset Timestamp { get; init; }

    /// <summary>Time the gateway spent on the inference.</summary>
    public required TimeSpan ProcessingTime { get; init; }

    /// <summary>Time to the first token, for streamed inferences.</summary>
    public TimeSpan? TimeToFirstToken { get; init; }

    /// <summary>Content blocks the model produced besides the JSON (e.g. thoughts), as a JSON array; TensorZero writes <c>[]</c> when none.</summary>
    public string AuxiliaryContent { get; init; } = "[]";

    /// <summary>Sampling and other inference parameters as JSON text ("" when none).</summary>
    public string InferenceParams { get; init; } = "";

    /// <summary>User and automatic (<c>tensorzero::</c>) tags.</summary>
    public IReadOnlyCollection<KeyValuePair<string, string>> Tags { get; init; } = [];

    /// <summary>The request's <c>extra_headers</c> entries as JSON (credential values redacted), or null.</summary>
    public string? ExtraHeaders { get; init; }

    /// <summary>The request's <c>extra_body</c> entries as JSON, or null.</summary>
    public string? ExtraBody { get; init; }

    /// <summary>What the request named as its model or function.</summary>
    public string Model { get; init; } = "";

    /// <summary>The model that answered.</summary>
    public string ModelName { get; init; } = "";

    /// <summary>The provider that answered.</summary>
    public string ModelProviderName { get; init; } = "";

    public long? InputTokens { get; init; }

    public long? OutputTokens { get; init; }

    public string? FinishReason { get; init; }

    /// <summary><c>ok</c>, <c>error</c>, <c>truncated</c> or <c>client_abort</c> (<see cref="InferenceRecords.Describe(Inference.InferenceOutcome)"/>).</summary>
    public string Outcome { get; init; } = "ok";

    /// <summary>Provider attempts made.</summary>
    public int AttemptCount { get; init; } = 1;

    public bool Stream { get; init; }
}

/// <summary>What a comment is about (TensorZero's <c>target_type</c>).</summary>
internal enum FeedbackTargetType
{
    Inference,
    Episode,
}

/// <summary>A <c>BooleanMetricFeedback</c> row: a boolean metric's value for an inference or an episode.</summary>
internal sealed record BooleanMetricFeedbackRow(
    Guid Id, Guid TargetId, string MetricName, bool Value, IReadOnlyCollection<KeyValuePair<string, string>> Tags, DateTimeOffset Timestamp)
    : ObservabilityRow
{
    /// <inheritdoc />
    public override RecordTable Table => RecordTable.BooleanMetricFeedback;
}

/// <summary>A <c>FloatMetricFeedback</c> row: a float metric's value for an inference or an episode.</summary>
internal sealed record FloatMetricFeedbackRow(
    Guid Id, Guid TargetId, string MetricName, double Value, IReadOnlyCollection<KeyValuePair<string, string>> Tags, DateTimeOffset Timestamp)
    : ObservabilityRow
{
    /// <inheritdoc />
    public override RecordTable Table => RecordTable.FloatMetricFeedback;
}

/// <summary>A <c>CommentFeedback</c> row: free text about an inference or an episode.</summary>
internal sealed record CommentFeedbackRow(
    Guid Id, Guid TargetId, FeedbackTargetType TargetType, string Value, IReadOnlyCollection<KeyValuePair<string, string>> Tags, DateTimeOffset Timestamp)
    : ObservabilityRow
{
    /// <inheritdoc />
    public override RecordTable Table => RecordTable.CommentFeedback;
}

/// <summary>
/// A <c>DemonstrationFeedback</c> row: the output an inference should have had, as JSON text (content blocks for a
/// chat function, <c>{"raw","parsed"}</c> for a JSON function).
/// </summary>
internal sealed record DemonstrationFeedbackRow(
    Guid Id, Guid InferenceId, string Value, IReadOnlyCollection<KeyValuePair<string, string>> Tags, DateTimeOffset Timestamp)
    : ObservabilityRow
{
    /// <inheritdoc />
    public override RecordTable Table => RecordTable.DemonstrationFeedback;
}

/// <summary>
/// One <c>EmbeddingInference</c> row (migration 0003): an embeddings request, written with a <c>ModelInference</c> row per
/// attempt of its inference (as a <see cref="JsonInferenceRow"/> is).
/// </summary>
internal sealed record EmbeddingInferenceRow : ObservabilityRow
{
    /// <inheritdoc />
    public override RecordTable Table => RecordTable.EmbeddingInference;

    /// <summary>The inference id (UUIDv7), the <c>ModelInference</c> rows' <c>inference_id</c>.</summary>
    public required Guid Id { get; init; }

    /// <summary>The embedding model (configured name or shorthand).</summary>
    public required string EmbeddingModelName { get; init; }

    /// <summary><c>model</c> as the client sent it.</summary>
    public required string Model { get; init; }

    /// <summary>The provider that answered ("" when none did).</summary>
    public string ModelProviderName { get; init; } = "";

    /// <summary><c>input</c> as the client sent it, JSON text.</summary>
    public required string Input { get; init; }

    public required int InputCount { get; init; }

    public int? Dimensions { get; init; }

    /// <summary><c>float</c> or <c>base64</c>.</summary>
    public required string EncodingFormat { get; init; }

    /// <summary>The length of the vectors answered, when there was an answer.</summary>
    public int? OutputDimensions { get; init; }

    public long? InputTokens { get; init; }

    public required TimeSpan ProcessingTime { get; init; }

    /// <summary><c>ok</c>, <c>error</c> or <c>client_abort</c>.</summary>
    public required string Outcome { get; init; }

    public int AttemptCount { get; init; }

    /// <summary>When the request started (UTC).</summary>
    public required DateTimeOffset Timestamp { get; init; }

    /// <summary>The row of a completed embeddings inference; null for any other inference.</summary>
    public static EmbeddingInferenceRow? For(Inference.InferenceFeature inference)
    {
        if (inference.Embedding is not { } call)
        {
            return null;
        }
        var answered = inference.Outcome == Inference.InferenceOutcome.Ok;
        return new EmbeddingInferenceRow
        {
            Id = inference.InferenceId,
            EmbeddingModelName = call.ModelName,
            Model = call.Request.Model,
            ModelProviderName = inference.CommittedAttempt?.Provider ?? "",
            Input = call.Request.InputJson,
            InputCount = call.Request.InputCount,
            Dimensions = call.Request.Dimensions,
            EncodingFormat = call.Request.Encoding == Embeddings.EmbeddingEncoding.Base64 ? "base64" : "float",
            OutputDimensions = answered ? call.Writer.Shape.Dimensions : null,
            InputTokens = answered ? call.Writer.InputTokens : null,
            ProcessingTime = inference.Duration,
            Outcome = InferenceRecords.Describe(inference.Outcome),
            AttemptCount = inference.AttemptCount,
            Timestamp = inference.StartedAt,
        };
    }
}
