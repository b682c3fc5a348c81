using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using TensorZero.Proxy.Inference;
using TensorZero.Proxy.Routing;
using TensorZero.Proxy.Transforms;

namespace TensorZero.Proxy.Embeddings;

/// <summary>
/// What an embeddings inference asked for, for its record (<c>EmbeddingInference</c>): set on the
/// <see cref="InferenceFeature"/> of an embeddings request.
/// </summary>
/// <param name="ModelName">The embedding model (configured name or shorthand).</param>
/// <param name="Request">The request as read.</param>
/// <param name="Writer">The response writer, which read the answer's usage and shape.</param>
internal sealed record EmbeddingCall(string ModelName, EmbeddingRequest Request, EmbeddingResponseWriter Writer);

/// <summary>
/// Serves <c>POST /openai/v1/embeddings</c> (routes marked <see cref="TensorZeroRoutes.Embeddings"/>), as TensorZero does:
/// the embedding model's providers in routing order through the same attempt loop as chat (<see cref="ModelRunner"/>:
/// YARP's forwarder, the provider policy, extra headers and body, circuit breakers, the provider's and the model's
/// <c>timeout_ms</c>, the global outbound timeout), the provider's answer rewritten into TensorZero's response, and the
/// attempts recorded. Embeddings have no functions, variants or episodes: the target is always a model.
/// </summary>
internal sealed class EmbeddingsEndpoint
{
    /// <summary>The function name recorded and counted for embeddings inferences (they have no function).</summary>
    public const string FunctionName = "tensorzero::embedding";

    private readonly GatewayRuntimeAccessor _runtime;
    private readonly ModelRunner _runner;
    private readonly TimeProvider _time;
    private readonly IOptions<TensorZeroOptions> _options;
    private readonly IInferenceObserver[] _observers;

    public EmbeddingsEndpoint(
        GatewayRuntimeAccessor runtime, ModelRunner runner, TimeProvider time, IOptions<TensorZeroOptions> options, IEnumerable<IInferenceObserver> observers)
    {
        _runtime = runtime;
        _runner = runner;
        _time = time;
        _options = options;
        _observers = [.. observers];
    }

    public async Task InvokeAsync(HttpContext context)
    {
        var body = await ReadBodyAsync(context, _options.Value.MaxRequestBodyBytes);
        if (body is null)
        {
            return;
        }
        if (!EmbeddingRequest.TryRead(body, out var request, out var error))
        {
            await OpenAIError.BadRequest(context, error!);
            return;
        }
        var runtime = _runtime.Current;
        var model = runtime.ResolveEmbeddingModel(request!.ModelName, out var resolveError, out var unknown);
        if (model is null)
        {
            await OpenAIError.WriteAsync(context, unknown ? StatusCodes.Status404NotFound : StatusCodes.Status400BadRequest, resolveError!,
                "invalid_request_error", unknown ? "model_not_found" : "invalid_model");
            return;
        }

        // The providers' body: TensorZero's four fields, spliced per attempt with the provider's model name.
        if (!InferenceRequest.TryParse(request.ProviderBody(), out var providerRequest, out error))
        {
            await OpenAIError.BadRequest(context, error!);
            return;
        }
        var now = _time.GetUtcNow();
        var writer = new EmbeddingResponseWriter(model.Name, request.Encoding);
        var inference = new InferenceFeature(providerRequest!, GatewayFields.Empty with { DryRun = request.DryRun }, UuidV7.Create(now), now, _time.GetTimestamp())
        {
            Runtime = runtime,
            Credentials = request.Credentials,
            Rewriter = writer,
            FunctionName = FunctionName,
            VariantName = model.Name,
            Warning = request.IgnoredFields.IsEmpty ? null : $"Ignored (accepted, not implemented by TensorZero.Proxy): {string.Join(", ", request.IgnoredFields)}",
            Embedding = new EmbeddingCall(model.Name, request, writer),
        };
        context.Features.Set(inference);
        try
        {
            var result = await _runner.RunAsync(context, inference, model, variant: null, variantDeadline: null, skip: []);
            switch (result.Outcome)
            {
                case ModelRunOutcome.Committed:
                    inference.Outcome = inference.CommittedAttempt?.StatusCode is >= 400 ? InferenceOutcome.Error : InferenceOutcome.Ok;
                    break;
                case ModelRunOutcome.ClientAbort:
                    inference.Outcome = InferenceOutcome.ClientAbort;
                    break;
                case ModelRunOutcome.Refused:
                    // The rate limiter answered (429/400/503).
                    inference.Outcome = InferenceOutcome.Error;
                    break;
                default:
                    await WriteFailureAsync(context, inference, result.Outcome == ModelRunOutcome.ModelTimedOut
                        ? (StatusCodes.Status408RequestTimeout, "timeout", "timeout", $"Embedding model '{model.Name}' timed out")
                        : (StatusCodes.Status500InternalServerError, "server_error", "all_providers_failed", $"All providers of embedding model '{model.Name}' failed"));
                    break;
            }
        }
        finally
        {
            // Embeddings have no episode (TensorZero's response has none); the shared inference headers set one.
            if (!context.Response.HasStarted)
            {
                context.Response.Headers.Remove("x-tensorzero-episode-id");
            }
            inference.Duration = _time.GetElapsedTime(inference.StartedTimestamp);
            if (context.RequestAborted.IsCancellationRequested && inference.Outcome == InferenceOutcome.Error)
            {
                inference.Outcome = InferenceOutcome.ClientAbort;
            }
            foreach (var observer in _observers)
            {
                await observer.OnCompleted(context, inference);
            }
        }

        // The answer goes out once its record is queued, in one write with its length (as chat's buffered answers do).
        if (context.Features.Get<ProxyAttemptFeature>()?.DeferredBody is { } deferred)
        {
            try
            {
                await context.Response.Body.WriteAsync(deferred, context.RequestAborted);
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException && context.RequestAborted.IsCancellationRequested)
            {
                // The client left; its record says what the provider answered.
            }
        }
    }

    private static Task WriteFailureAsync(HttpContext context, InferenceFeature inference, (int Status, string Type, string Code, string Summary) failure)
    {
        inference.Outcome = InferenceOutcome.Error;
        var attempts = inference.Attempts.Count == 0 ? "no provider could be attempted" : string.Join("; ", inference.Attempts.Select(a => a.Describe()));
        return OpenAIError.WriteAsync(context, failure.Status, $"{failure.Summary}: {attempts}.", failure.Type, failure.Code,
            c => InferenceHeaders.Set(c, inference, inference.AttemptCount));
    }

    /// <summary>Reads the whole body, or answers 413/400 and returns null.</summary>
    private static async Task<byte[]?> ReadBodyAsync(HttpContext context, long limit)
    {
        try
        {
            var body = await BodyReader.ReadAsync(context.Request.Body, context.Request.ContentLength, limit, context.RequestAborted);
            if (body is null)
            {
                await OpenAIError.WriteAsync(context, StatusCodes.Status413PayloadTooLarge,
                    $"The request body is larger than the gateway's limit of {limit} bytes.", "invalid_request_error", "request_too_large");
            }
            return body;
        }
        catch (BadHttpRequestException ex)
        {
            await OpenAIError.WriteAsync(context, ex.StatusCode, "The request body could not be read: " + ex.Message, "invalid_request_error", "bad_request");
            return null;
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or EndOfStreamException)
        {
            return null;
        }
    }
}
