using Microsoft.AspNetCore.Http;

namespace TensorZero.Proxy.Inference;

/// <summary>The <c>x-tensorzero-*</c> headers every inference response carries (DESIGN.md §2).</summary>
internal static class InferenceHeaders
{
    /// <param name="context">The request.</param>
    /// <param name="inference">The inference.</param>
    /// <param name="attempts">The value of <c>x-tensorzero-attempts</c>: attempts made so far, or counting the one starting.</param>
    public static void Set(HttpContext context, InferenceFeature inference, int attempts)
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
        headers["x-tensorzero-attempts"] = ModelRunner.AttemptsText(attempts);
    }
}
