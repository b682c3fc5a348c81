using Microsoft.AspNetCore.Http;

namespace TensorZero.Proxy.Inference;

/// <summary>
/// Told about every inference once its response is complete (DESIGN.md §1 step 5). Implementations must
/// return at once (queue, never wait): the client's request is still open while they run.
/// </summary>
internal interface IInferenceObserver
{
    void OnCompleted(HttpContext context, InferenceFeature inference);
}
