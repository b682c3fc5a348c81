using TensorZero.Proxy.Functions;
using TensorZero.Proxy.Inference;

namespace TensorZero.Proxy.Observability;

/// <summary>
/// The rows of a typed-path inference that differ from the passthrough's: a JSON function's answer is a
/// <c>JsonInference</c> row (input in TensorZero's shape, output <c>{"raw","parsed"}</c>, the output schema used), as
/// TensorZero records it, so feedback can find it and demonstrations can be checked against its schema.
/// </summary>
internal static class TypedRecords
{
    /// <summary>The <c>JsonInference</c> row of a JSON function's answered inference; null for anything else.</summary>
    public static JsonInferenceRow? JsonRow(InferenceFeature inference)
    {
        if (inference.Typed is not { Result: { Kind: FunctionKind.Json } result } typed)
        {
            return null;
        }
        var committed = inference.CommittedAttempt;
        TimeSpan? ttft = null;
        if (inference.Request.Stream && committed?.TimeToFirstToken is { } first)
        {
            ttft = first;
        }
        return new JsonInferenceRow
        {
            Id = inference.InferenceId,
            EpisodeId = inference.EpisodeId,
            FunctionName = inference.FunctionName,
            VariantName = inference.VariantName ?? "",
            Input = InputJson.Write(typed.Request.Input),
            Output = OutputJson.WriteJson(result.Json ?? new JsonOutput(null, null)),
            OutputSchema = typed.ModelRequest.OutputSchema?.GetRawText() ?? "{}",
            Timestamp = inference.StartedAt,
            ProcessingTime = inference.Duration,
            TimeToFirstToken = ttft,
            AuxiliaryContent = OutputJson.WriteChat([.. result.Content.Where(b => b is ThoughtBlock)]),
            Tags = inference.Tags,
            ExtraHeaders = inference.ExtraHeadersJson,
            ExtraBody = inference.ExtraBodyJson,
            Model = inference.Request.Model,
            ModelName = committed?.Model ?? "",
            ModelProviderName = committed?.Provider ?? "",
            InputTokens = result.Usage.InputTokens,
            OutputTokens = result.Usage.OutputTokens,
            FinishReason = result.FinishReason is { } reason ? ResponseJson.OpenAIName(reason) : null,
            Outcome = InferenceRecords.Describe(inference.Outcome),
            AttemptCount = inference.AttemptCount,
            Stream = inference.Request.Stream,
        };
    }
}
