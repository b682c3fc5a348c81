using Microsoft.AspNetCore.Http;

namespace TensorZero.Proxy.Inference;

/// <summary>
/// Told about every inference once its response body has been written (DESIGN.md §1 step 5), before the
/// response completes. Implementations must not do slow work here (queue it); the returned task lets a
/// durable store say "the record is on disk", and the response completes only then, so a process killed
/// right after a client got its response has not lost the record. An observer bounds that wait itself.
/// </summary>
internal interface IInferenceObserver
{
    ValueTask OnCompleted(HttpContext context, InferenceFeature inference);
}
