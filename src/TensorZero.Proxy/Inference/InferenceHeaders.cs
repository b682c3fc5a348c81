using Microsoft.AspNetCore.Http;

namespace TensorZero.Proxy.Inference;

/// <summary>The <c>x-tensorzero-*</c> headers every inference response carries (DESIGN.md §2).</summary>
internal static class InferenceHeaders
{
    public static void Set(HttpContext context, InferenceFeature inference)
    {
        if (context.Response.HasStarted)
        {
            return;
        }
        var headers = context.Response.Headers;
        headers["x-tensorzero-inference-id"] = inference.InferenceIdText;
        headers["x-tensorzero-episode-id"] = inference.EpisodeIdText;
        if (inference.VariantName is not null)
        {
            headers["x-tensorzero-variant"] = inference.VariantName;
        }
        headers["x-tensorzero-attempts"] = ModelRunner.AttemptsText(inference.AttemptCount);
    }
}
