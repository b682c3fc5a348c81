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
        headers["x-tensorzero-attempts"] = AttemptsText(attempts);
        if (inference.Warning is not null)
        {
            headers["x-tensorzero-warning"] = inference.Warning;
        }
    }

    private static readonly string[] SmallNumbers = [.. Enumerable.Range(0, 16).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture))];

    /// <summary>The attempt count as header text, without formatting for the common small counts.</summary>
    private static string AttemptsText(int count) =>
        count < SmallNumbers.Length ? SmallNumbers[count] : count.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
