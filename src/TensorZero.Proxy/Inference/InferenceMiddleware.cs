using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Model;
using TensorZero.Proxy.Functions;
using TensorZero.Proxy.Resilience;
using TensorZero.Proxy.Routing;
using TensorZero.Proxy.Transforms;

namespace TensorZero.Proxy.Inference;

/// <summary>
/// The middleware that ends the inference routes (DESIGN.md §1): read the body once, validate the gateway
/// fields, resolve the target, then run it: a model's routing list, or a function's variants in sampled
/// order, each with its retries. Whatever fails before a response commits is invisible to the client; if
/// nothing commits, the client gets one OpenAI-shaped error listing every attempt.
/// </summary>
internal sealed class InferenceMiddleware
{
    private readonly RequestDelegate _next;
    private readonly GatewayRuntimeAccessor _runtime;
    private readonly ModelRunner _runner;
    private readonly VariantRetries _retries;
    private readonly TimeProvider _time;
    private readonly IOptions<TensorZeroOptions> _options;
    private readonly IInferenceObserver[] _observers;
    private readonly Embeddings.EmbeddingsEndpoint _embeddings;

    public InferenceMiddleware(
        RequestDelegate next, GatewayRuntimeAccessor runtime, ModelRunner runner, VariantRetries retries, TimeProvider time,
        IOptions<TensorZeroOptions> options, IEnumerable<IInferenceObserver> observers, Embeddings.EmbeddingsEndpoint embeddings)
    {
        _embeddings = embeddings;
        _observers = [.. observers];
        _next = next;
        _runtime = runtime;
        _runner = runner;
        _retries = retries;
        _time = time;
        _options = options;
    }

    public Task Invoke(HttpContext context)
    {
        // Routes marked as TensorZero inference routes end here; every other YARP route (the host's own, appsettings
        // "ReverseProxy") goes on to the next steps of the proxy pipeline.
        return TensorZeroRoutes.GetKind(context.GetReverseProxyFeature().Route.Config) switch
        {
            null => _next(context),
            TensorZeroRoutes.Embeddings => _embeddings.InvokeAsync(context),
            var kind => InvokeInferenceAsync(context, kind),
        };
    }

    /// <summary>The endpoint a route kind serves; null for a kind this gateway does not know.</summary>
    private static InferenceEndpoint? EndpointOf(string kind) => kind switch
    {
        TensorZeroRoutes.ChatCompletions => InferenceEndpoint.OpenAICompatible,
        TensorZeroRoutes.Inference => InferenceEndpoint.Native,
        TensorZeroRoutes.Responses => InferenceEndpoint.OpenAIResponses,
        TensorZeroRoutes.AnthropicMessages => InferenceEndpoint.AnthropicMessages,
        _ => null,
    };

    private async Task InvokeInferenceAsync(HttpContext context, string kind)
    {
        if (EndpointOf(kind) is not { } endpoint)
        {
            // A host route marked with a value we do not know: the host's configuration is wrong, not the request.
            await OpenAIError.WriteAsync(context, StatusCodes.Status500InternalServerError,
                $"Route '{context.GetReverseProxyFeature().Route.Config.RouteId}' has {TensorZeroRoutes.MetadataKey} metadata '{kind}'; "
                + $"expected '{TensorZeroRoutes.ChatCompletions}', '{TensorZeroRoutes.Inference}', '{TensorZeroRoutes.Responses}', "
                + $"'{TensorZeroRoutes.AnthropicMessages}' or '{TensorZeroRoutes.Embeddings}'.",
                "server_error", "invalid_route");
            return;
        }
        // Body errors keep the OpenAI shape on the TensorZero endpoints (as before); the Anthropic ingress answers in its own.
        var body = await ReadBodyAsync(context, endpoint == InferenceEndpoint.AnthropicMessages ? endpoint : InferenceEndpoint.OpenAICompatible,
            _options.Value.MaxRequestBodyBytes);
        if (body is null)
        {
            return;
        }
        // The one read of the snapshot for this request (InferenceFeature.Runtime carries it on).
        var runtime = _runtime.Current;
        InferenceRequest? request;
        TypedInferenceRequest? typedRequest = null;
        ResolvedTarget target;
        switch (endpoint)
        {
            case InferenceEndpoint.Native:
            {
                if (!NativeRequestReader.TryRead(body, out typedRequest, out var nativeError))
                {
                    await NativeError.WriteAsync(context, nativeError!.Status, nativeError.Message);
                    return;
                }
                var model = typedRequest!.FunctionName is { } functionName
                    ? TargetResolver.FunctionPrefix + functionName
                    : TargetResolver.ModelPrefix + typedRequest.ModelName;
                request = InferenceRequest.ForTyped(body, model, typedRequest.Stream, typedRequest.GatewayFieldJson);
                target = TargetResolver.Resolve(runtime, model);
                break;
            }
            case InferenceEndpoint.OpenAIResponses or InferenceEndpoint.AnthropicMessages:
            {
                // Always the typed path: the provider never speaks the client's protocol.
                RequestError? readError;
                var read = endpoint == InferenceEndpoint.OpenAIResponses
                    ? OpenAIResponsesRequestReader.TryRead(body, out typedRequest, out readError)
                    : AnthropicMessagesRequestReader.TryRead(body, out typedRequest, out readError);
                if (!read)
                {
                    await EndpointError.WriteAsync(context, endpoint, readError!.Status, readError.Message, "invalid_request_error", readError.Code);
                    return;
                }
                // The model field as sent: TargetResolver reads the prefixed forms and plain names as chat completions' do.
                var model = typedRequest!.RequestedModel!;
                request = InferenceRequest.ForTyped(body, model, typedRequest.Stream, typedRequest.GatewayFieldJson);
                target = TargetResolver.Resolve(runtime, model);
                break;
            }
            default:
            {
                if (!InferenceRequest.TryParse(body, out request, out var parseError))
                {
                    await OpenAIError.BadRequest(context, parseError!);
                    return;
                }
                target = TargetResolver.Resolve(runtime, request!.Model);
                break;
            }
        }
        if (!target.Found)
        {
            await EndpointError.WriteAsync(context, endpoint, target.ErrorStatus, target.ErrorMessage!, "invalid_request_error",
                target.ErrorStatus == StatusCodes.Status404NotFound ? "model_not_found" : "invalid_model");
            return;
        }
        if (typedRequest is null && NeedsTypedPath(request, target))
        {
            if (!OpenAICompatibleRequestReader.TryRead(body, out typedRequest, out var typedError))
            {
                await OpenAIError.WriteAsync(context, typedError!.Status, typedError.Message, "invalid_request_error", typedError.Code);
                return;
            }
        }

        var now = _time.GetUtcNow();
        var gatewayFields = typedRequest?.GatewayFieldJson ?? request.TensorZeroFields;
        if (!GatewayFields.TryRead(gatewayFields, now, out var fields, out var fieldError))
        {
            await EndpointError.WriteAsync(context, endpoint, StatusCodes.Status400BadRequest, fieldError!, "invalid_request_error", "invalid_request");
            return;
        }
        if (target.Model is not null && fields.VariantName is not null)
        {
            await EndpointError.WriteAsync(context, endpoint, StatusCodes.Status400BadRequest,
                $"'tensorzero::variant_name' pins a variant of a function, but '{request.Model}' names a model.", "invalid_request_error", "variant_pin_on_model");
            return;
        }
        if (target.Function is { } f && fields.VariantName is { } pinned && !f.Variants.ContainsKey(pinned))
        {
            await EndpointError.WriteAsync(context, endpoint, StatusCodes.Status404NotFound,
                $"Unknown variant '{pinned}' of function '{f.Name}' (variants: {string.Join(", ", f.Variants.Keys.Order(StringComparer.Ordinal).Select(k => $"'{k}'"))}).",
                "invalid_request_error", "variant_not_found");
            return;
        }
        var semantics = target.Function?.Semantics ?? FunctionSemantics.Default;
        if (typedRequest is not null && semantics.ValidateInput(typedRequest.Input) is { } invalidInput)
        {
            await EndpointError.WriteAsync(context, endpoint, StatusCodes.Status400BadRequest, invalidInput, "invalid_request_error", "invalid_input");
            return;
        }

        // Extra headers and body: read and checked only where there are any (request fields or configured body patches).
        var extraHeaders = UnfilteredInferenceExtraHeaders.Empty;
        var extraBody = UnfilteredInferenceExtraBody.Empty;
        if (ExtraParameters.InRequest(gatewayFields) || runtime.HasConfiguredExtraBody)
        {
            var attemptTargets = ExtraParameters.Targets(target, fields.VariantName);
            if (!ExtraParameters.TryRead(gatewayFields, target, attemptTargets, runtime.Config.Gateway.ExtraHeaderLimits,
                out extraHeaders, out extraBody, out var extraError)
                || (typedRequest is null && !TryCheckBodyPatches(request, attemptTargets, extraBody, out extraError)))
            {
                await EndpointError.WriteAsync(context, endpoint, StatusCodes.Status400BadRequest, extraError!, "invalid_request_error", "invalid_extra_parameters");
                return;
            }
        }

        var inference = new InferenceFeature(request, fields, UuidV7.Create(now), now, _time.GetTimestamp())
        {
            Runtime = runtime,
            ExtraHeaders = extraHeaders,
            ExtraBody = extraBody,
            ExtraHeadersJson = ExtraParameters.HeadersJson(gatewayFields),
            ExtraBodyJson = ExtraParameters.BodyJson(gatewayFields),
            ExtraBodyEntries = gatewayFields.TryGetValue("tensorzero::extra_body", out var bodyEntries) ? bodyEntries : null,
            ExtraHeaderEntries = gatewayFields.TryGetValue("tensorzero::extra_headers", out var headerEntries) ? headerEntries : null,
        };
        if (typedRequest is not null)
        {
            inference.Typed = new TypedInference(typedRequest, semantics, target.Function?.Name, _time);
            inference.Credentials = typedRequest.Credentials;
            if (!typedRequest.IgnoredFields.IsEmpty)
            {
                inference.Warning = $"Ignored (accepted, not implemented by TensorZero.Proxy): {string.Join(", ", typedRequest.IgnoredFields)}";
            }
        }
        context.Features.Set(inference);
        try
        {
            if (target.Function is { } function)
            {
                await RunFunctionAsync(context, inference, function);
            }
            else
            {
                await RunModelTargetAsync(context, inference, target.Model!);
            }
        }
        finally
        {
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

        // A buffered body goes out only now that its record is in the queue file: one write, with its length.
        if ((inference.DeferredBody ?? context.Features.Get<ProxyAttemptFeature>()?.DeferredBody) is { } deferred)
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

    private async Task RunModelTargetAsync(HttpContext context, InferenceFeature inference, RuntimeModel model)
    {
        inference.VariantName = model.Name;
        if (inference.Typed is { } typed)
        {
            typed.VariantName = model.Name;
            try
            {
                typed.ModelRequest = PromptBuilder.Build(FunctionSemantics.Default, VariantPrompt.None, typed.Request);
            }
            catch (PromptException ex)
            {
                await WritePromptErrorAsync(context, inference, ex.Message);
                return;
            }
        }
        var result = await _runner.RunAsync(context, inference, model, variant: null, variantDeadline: null, skip: []);
        if (Finish(inference, result))
        {
            return;
        }
        // A model target has no variant fallback: its own error is returned.
        await WriteFailureAsync(context, inference, result.Outcome == ModelRunOutcome.ModelTimedOut
            ? (StatusCodes.Status408RequestTimeout, "timeout", $"Model '{model.Name}' timed out")
            : (StatusCodes.Status500InternalServerError, "server_error", $"All providers of model '{model.Name}' failed"));
    }

    private async Task RunFunctionAsync(HttpContext context, InferenceFeature inference, RuntimeFunction function)
    {
        inference.FunctionName = function.Name;
        var pinned = inference.Fields.VariantName;
        IReadOnlyList<string> order;
        if (pinned is not null)
        {
            inference.Tags["tensorzero::variant_pinned"] = pinned;
            order = [pinned];
        }
        else
        {
            order = VariantSampler.Order(function.Experimentation, function.Name, inference.EpisodeId);
        }

        ModelRunOutcome last = ModelRunOutcome.AllProvidersFailed;
        List<string>? promptErrors = null;
        foreach (var variantName in order)
        {
            var variant = function.Variants[variantName];
            inference.VariantName = variant.Name;
            if (inference.Typed is { } typed)
            {
                typed.VariantName = variant.Name;
                try
                {
                    typed.ModelRequest = PromptBuilder.Build(function.Semantics, variant.Prompt, typed.Request);
                }
                catch (PromptException ex)
                {
                    // The request cannot be put to this variant (its templates, its JSON mode): a client error when the
                    // client chose the variant or no variant can take it, else the next variant is tried.
                    promptErrors ??= [];
                    promptErrors.Add(ex.Message);
                    if (pinned is not null || promptErrors.Count == order.Count)
                    {
                        await WritePromptErrorAsync(context, inference, ex.Message);
                        return;
                    }
                    continue;
                }
            }
            else if (inference.Request.Model.StartsWith(TargetResolver.FunctionPrefix, StringComparison.Ordinal))
            {
                // TensorZero answers `model` with the variant that ran.
                inference.Rewriter = new ResponseRewriter(inference.InferenceIdText, inference.EpisodeIdText,
                    OpenAICompatibleResponseWriter.ModelField(function.Name, variant.Name));
            }
            var result = await RunVariantAsync(context, inference, variant);
            if (Finish(inference, result))
            {
                return;
            }
            last = result.Outcome;
        }

        if (pinned is not null)
        {
            // A pinned variant has no fallback: its error is returned.
            await WriteFailureAsync(context, inference, last is ModelRunOutcome.VariantTimedOut or ModelRunOutcome.ModelTimedOut
                ? (StatusCodes.Status408RequestTimeout, "timeout", $"Pinned variant '{pinned}' of function '{function.Name}' timed out")
                : (StatusCodes.Status500InternalServerError, "server_error", $"Pinned variant '{pinned}' of function '{function.Name}' failed"));
            return;
        }
        await WriteFailureAsync(context, inference,
            (StatusCodes.Status502BadGateway, "server_error", $"All {order.Count} variant(s) of function '{function.Name}' failed"));
    }

    /// <summary>Whether the passthrough path cannot serve the request as TensorZero would (DESIGN-NOTES "Two paths").</summary>
    private static bool NeedsTypedPath(InferenceRequest request, ResolvedTarget target)
    {
        if (target.Function is { RequiresTypedPath: true } || target.Model is { RequiresTypedPath: true } || request.IgnoredFields.Count > 0)
        {
            return true;
        }
        // TensorZero's content blocks (template arguments, named templates, raw text) must be rendered, never forwarded.
        var body = request.Body.AsSpan();
        return body.IndexOf("\"tensorzero::"u8) >= 0 && (body.IndexOf("\"tensorzero::arguments\""u8) >= 0
            || body.IndexOf("\"tensorzero::template\""u8) >= 0 || body.IndexOf("\"tensorzero::raw_text\""u8) >= 0);
    }

    private static Task WritePromptErrorAsync(HttpContext context, InferenceFeature inference, string message)
    {
        inference.Outcome = InferenceOutcome.Error;
        return EndpointError.WriteAsync(context, inference.Typed!.Endpoint, StatusCodes.Status400BadRequest, message, "invalid_request_error", "invalid_request");
    }

    /// <summary>One variant: its routing list, run again per its retries, all within its timeout.</summary>
    private async Task<ModelRunResult> RunVariantAsync(HttpContext context, InferenceFeature inference, RuntimeVariant variant)
    {
        var deadline = Deadline.For(TimeoutLevel.Variant, variant.Config.Timeouts, inference.Request.Stream, _time.GetTimestamp(), _time);
        var pipeline = _retries.For(variant.FunctionName, variant.Name, variant.Config.Retries);
        if (pipeline is null)
        {
            return await _runner.RunAsync(context, inference, variant.Model, variant, deadline, skip: []);
        }

        // Rate-limited providers are not retried in later rounds of this request.
        var rateLimited = new HashSet<string>(StringComparer.Ordinal);
        using var variantTimeout = DeadlineSet.Remaining(deadline.PreCommit, _time) is { } left
            ? new CancellationTokenSource(left, _time)
            : new CancellationTokenSource();
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(variantTimeout.Token, context.RequestAborted);
        try
        {
            return await pipeline.ExecuteAsync(async _ =>
            {
                var result = await _runner.RunAsync(context, inference, variant.Model, variant, deadline, rateLimited);
                rateLimited.UnionWith(result.RateLimitedProviders);
                return result;
            }, linked.Token);
        }
        catch (OperationCanceledException) when (!context.RequestAborted.IsCancellationRequested)
        {
            // The variant's deadline fired during a backoff delay.
            return new ModelRunResult(ModelRunOutcome.VariantTimedOut, []);
        }
        catch (OperationCanceledException)
        {
            return new ModelRunResult(ModelRunOutcome.ClientAbort, []);
        }
    }

    /// <summary>
    /// Applies every attempt's body patches to its body once, before anything is sent, so a patch that cannot
    /// apply (an index into a missing array, ...) is the request's 400 rather than a failed attempt.
    /// </summary>
    private static bool TryCheckBodyPatches(InferenceRequest request, List<AttemptTarget> targets, UnfilteredInferenceExtraBody extraBody, out string? error)
    {
        error = null;
        foreach (var target in targets)
        {
            var operations = ExtraParameters.BodyOperations(extraBody, target);
            if (operations.Count == 0)
            {
                continue;
            }
            try
            {
                JsonPointerPatch.Apply(request.Template.Render(target.Provider.UpstreamModelName), operations);
            }
            catch (JsonPatchException ex)
            {
                error = $"{ex.Message} (for provider '{target.Provider.Name}' of model '{target.Model.Name}').";
                return false;
            }
        }
        return true;
    }

    /// <summary>Records the inference's outcome; true when nothing more is to be done (committed or aborted).</summary>
    private static bool Finish(InferenceFeature inference, ModelRunResult result)
    {
        switch (result.Outcome)
        {
            case ModelRunOutcome.Committed:
                inference.Outcome = inference.CommittedAttempt?.Outcome == AttemptOutcome.Truncated ? InferenceOutcome.Truncated
                    : inference.CommittedAttempt?.StatusCode is >= 400 ? InferenceOutcome.Error
                    : InferenceOutcome.Ok;
                return true;
            case ModelRunOutcome.ClientAbort:
                inference.Outcome = InferenceOutcome.ClientAbort;
                return true;
            case ModelRunOutcome.Refused:
                // The rate limiter has answered the client; no other variant is tried.
                inference.Outcome = InferenceOutcome.Error;
                return true;
            default:
                return false;
        }
    }

    private static Task WriteFailureAsync(HttpContext context, InferenceFeature inference, (int Status, string Type, string Summary) failure)
    {
        inference.Outcome = InferenceOutcome.Error;
        var attempts = inference.Attempts.Count == 0 ? "no provider could be attempted" : string.Join("; ", inference.Attempts.Select(a => a.Describe()));
        var code = failure.Status switch
        {
            StatusCodes.Status408RequestTimeout => "timeout",
            StatusCodes.Status502BadGateway => "all_variants_failed",
            _ => "all_providers_failed",
        };
        var message = $"{failure.Summary}: {attempts}.";
        return EndpointError.WriteAsync(context, inference.Typed?.Endpoint ?? InferenceEndpoint.OpenAICompatible, failure.Status, message, failure.Type, code,
            c => InferenceHeaders.Set(c, inference, inference.AttemptCount));
    }

    /// <summary>Reads the whole body, or answers 413/400 and returns null.</summary>
    private static async Task<byte[]?> ReadBodyAsync(HttpContext context, InferenceEndpoint endpoint, long limit)
    {
        try
        {
            var body = await BodyReader.ReadAsync(context.Request.Body, context.Request.ContentLength, limit, context.RequestAborted);
            if (body is null)
            {
                await EndpointError.WriteAsync(context, endpoint, StatusCodes.Status413PayloadTooLarge,
                    $"The request body is larger than the gateway's limit of {limit} bytes.", "invalid_request_error", "request_too_large");
            }
            return body;
        }
        catch (BadHttpRequestException ex)
        {
            await EndpointError.WriteAsync(context, endpoint, ex.StatusCode, "The request body could not be read: " + ex.Message, "invalid_request_error", "bad_request");
            return null;
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or EndOfStreamException)
        {
            // The client went away or sent less than it declared; no response can help.
            return null;
        }
    }
}
