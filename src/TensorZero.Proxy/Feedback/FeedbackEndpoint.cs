using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using TensorZero.Proxy.Configuration;
using TensorZero.Proxy.Functions;
using TensorZero.Proxy.Inference;
using TensorZero.Proxy.Observability;
using TensorZero.Proxy.Routing;
using TensorZero.Proxy.Transforms;

namespace TensorZero.Proxy.Feedback;

/// <summary>
/// <c>POST /feedback</c> (TensorZero's <c>endpoints/feedback</c>): a boolean or float metric's value, a comment or a
/// demonstration for an inference or an episode, checked as TensorZero checks it and queued through the same durable
/// queue as inferences. The answer is <c>{"feedback_id": "&lt;uuidv7&gt;"}</c> once the row is in its queue file; every
/// error is TensorZero's native <c>{"error": "message"}</c>.
/// </summary>
internal sealed class FeedbackHandler
{
    private readonly GatewayRuntimeAccessor _runtime;
    private readonly ObservabilityWriter _writer;
    private readonly FeedbackTargets _targets;
    private readonly TimeProvider _time;
    private readonly long _maxBodyBytes;
    private readonly ILogger<FeedbackHandler> _logger;

    public FeedbackHandler(
        GatewayRuntimeAccessor runtime, ObservabilityWriter writer, FeedbackTargets targets, TimeProvider time,
        IOptions<TensorZeroOptions> options, ILogger<FeedbackHandler> logger)
    {
        _runtime = runtime;
        _writer = writer;
        _targets = targets;
        _time = time;
        _maxBodyBytes = options.Value.MaxRequestBodyBytes;
        _logger = logger;
    }

    /// <summary>Reads the body, processes it and writes the answer.</summary>
    public async Task InvokeAsync(HttpContext context)
    {
        var cancellationToken = context.RequestAborted;
        byte[]? body;
        try
        {
            body = await BodyReader.ReadAsync(context.Request.Body, context.Request.ContentLength, _maxBodyBytes, cancellationToken);
        }
        catch (BadHttpRequestException ex)
        {
            await WriteErrorAsync(context, new FeedbackError(ex.StatusCode, "The request body could not be read: " + ex.Message));
            return;
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or EndOfStreamException)
        {
            // The client went away mid-body: nobody is left to answer.
            return;
        }
        if (body is null)
        {
            await WriteErrorAsync(context, new FeedbackError(StatusCodes.Status413PayloadTooLarge, $"The request body is larger than {_maxBodyBytes} bytes."));
            return;
        }

        FeedbackRequest? request;
        try
        {
            using var document = JsonDocument.Parse(body);
            if (!FeedbackRequest.TryParse(document.RootElement, out request, out var parseError))
            {
                await WriteErrorAsync(context, FeedbackError.Invalid(parseError!));
                return;
            }
        }
        catch (JsonException ex)
        {
            await WriteErrorAsync(context, FeedbackError.Invalid($"Failed to parse the request body as JSON: {ex.Message} (400 Bad Request)"));
            return;
        }

        Guid feedbackId;
        FeedbackError? error;
        try
        {
            (feedbackId, error) = await ProcessAsync(request!, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The client left while its target was looked up: nothing was queued, nobody is left to answer.
            return;
        }
        if (error is { } e)
        {
            await WriteErrorAsync(context, e);
            return;
        }
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync($$"""{"feedback_id":"{{feedbackId}}"}""", cancellationToken);
    }

    /// <summary>
    /// TensorZero's order: tags, observability, metric and level; then, per kind, the value and the target (a
    /// demonstration's inference always, since its function decides what is valid); then the row, unless a dry run.
    /// </summary>
    internal async Task<(Guid FeedbackId, FeedbackError? Error)> ProcessAsync(FeedbackRequest request, CancellationToken cancellationToken)
    {
        var config = _runtime.Current.Config;
        if (FeedbackRules.CheckTags(request, out var tags) is { } tagError)
        {
            return (default, tagError);
        }
        if (!_writer.Enabled)
        {
            return (default, FeedbackError.Invalid(
                "Feedback requires observability to be enabled (`gateway.observability.enabled` must not be `false`)."));
        }
        if (FeedbackRules.Resolve(config.Metrics, request, out var resolved) is { } resolveError)
        {
            return (default, resolveError);
        }
        var (kind, level, targetId) = (resolved!.Kind, resolved.Level, resolved.TargetId);
        var validateTarget = !config.Gateway.DisableFeedbackTargetValidation;
        var now = _time.GetUtcNow();
        var feedbackId = UuidV7.Create(now);
        ObservabilityRow row;
        // The value is checked before the target: a wrong type is refused without waiting for a lookup.
        switch (kind)
        {
            case FeedbackKind.Boolean:
                if (FeedbackRules.ReadBoolean(request.MetricName, request.Value, out var flag) is { } booleanError)
                {
                    return (default, booleanError);
                }
                row = new BooleanMetricFeedbackRow(feedbackId, targetId, request.MetricName, flag, tags, now);
                break;
            case FeedbackKind.Float:
                if (FeedbackRules.ReadFloat(request.MetricName, request.Value, out var number) is { } floatError)
                {
                    return (default, floatError);
                }
                row = new FloatMetricFeedbackRow(feedbackId, targetId, request.MetricName, number, tags, now);
                break;
            case FeedbackKind.Comment:
                if (FeedbackRules.ReadComment(request.Value, out var text) is { } commentError)
                {
                    return (default, commentError);
                }
                row = new CommentFeedbackRow(feedbackId, targetId,
                    level == MetricLevel.Inference ? FeedbackTargetType.Inference : FeedbackTargetType.Episode, text, tags, now);
                break;
            default:
                var (inference, lookupError) = await _targets.FindInferenceAsync(targetId, needToolParams: true, cancellationToken);
                if (lookupError is { } missing)
                {
                    return (default, missing);
                }
                if (ParseDemonstration(config, inference!, request.Value, out var stored) is { } demonstrationError)
                {
                    return (default, demonstrationError);
                }
                row = new DemonstrationFeedbackRow(feedbackId, targetId, stored, tags, now);
                validateTarget = false;
                break;
        }
        if (validateTarget && await _targets.CheckAsync(level, targetId, cancellationToken) is { } targetError)
        {
            return (default, targetError);
        }
        if (request.DryRun)
        {
            return (feedbackId, null);
        }
        if (!_writer.TryWrite(row, out var written))
        {
            Log.FeedbackNotQueued(_logger, feedbackId, row.Table.Name());
            return (default, new FeedbackError(StatusCodes.Status503ServiceUnavailable,
                "Feedback could not be recorded: the observability queue is full or the gateway is stopping. Retry later."));
        }
        // Completes once the row is in its queue file (bounded by DurableWriteWait), as an inference's response does.
        await written;
        return (feedbackId, null);
    }

    /// <summary>
    /// A demonstration checked against the inference's function (TensorZero's <c>get_dynamic_demonstration_info</c>
    /// and <c>validate_parse_demonstration</c>): a chat function's configured tools plus the ones its request offered,
    /// or a JSON function's output schema as the inference used it (else the function's).
    /// </summary>
    internal static FeedbackError? ParseDemonstration(GatewayConfig config, KnownInference inference, JsonElement value, out string stored)
    {
        stored = "";
        FunctionConfig? function = null;
        if (!config.Functions.TryGetValue(inference.FunctionName, out function) && inference.FunctionName != InferenceFeature.DefaultFunctionName)
        {
            return new FeedbackError(StatusCodes.Status404NotFound, $"Unknown function: {inference.FunctionName}");
        }
        if (function is { Kind: FunctionKind.Json } json)
        {
            var schema = CompileOutputSchema(json, inference, out var schemaError);
            return schemaError ?? Demonstrations.ParseJson(value, schema, out stored);
        }

        var parameters = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (var key in function?.Tools ?? [])
        {
            if (config.Tools.TryGetValue(key, out var tool))
            {
                parameters[tool.Name] = tool.Parameters.Schema;
            }
        }
        if (inference.ToolParams is { } toolParams)
        {
            DemonstrationTools.AddRecorded(toolParams, parameters);
        }
        var tools = new DemonstrationTools(parameters, Complete: !inference.HadTools || inference.ToolParams is not null);
        return Demonstrations.ParseChat(value, tools, out stored);
    }

    private static Json.Schema.JsonSchema? CompileOutputSchema(FunctionConfig function, KnownInference inference, out FeedbackError? error)
    {
        error = null;
        string? problem;
        Json.Schema.JsonSchema? schema;
        if (inference.OutputSchema is { } recorded)
        {
            // The schema the inference used (a request's dynamic output_schema wins over the function's).
            try
            {
                using var document = JsonDocument.Parse(recorded);
                schema = Demonstrations.Compile(recorded, document.RootElement.Clone(), out problem);
            }
            catch (JsonException ex)
            {
                schema = null;
                problem = ex.Message;
            }
        }
        else if (function.OutputSchema is { } file)
        {
            schema = Demonstrations.Compile(file, file.Schema, out problem);
        }
        else
        {
            return null;
        }
        if (schema is null)
        {
            error = new FeedbackError(StatusCodes.Status500InternalServerError,
                $"The output schema of function `{function.Name}` could not be compiled: {problem}");
        }
        return schema;
    }

    private static Task WriteErrorAsync(HttpContext context, FeedbackError error)
    {
        var response = context.Response;
        response.StatusCode = error.Status;
        response.ContentType = "application/json";
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, JsonOptions.Writer))
        {
            writer.WriteStartObject();
            writer.WriteString("error", error.Message);
            writer.WriteEndObject();
        }
        return response.Body.WriteAsync(stream.ToArray(), context.RequestAborted).AsTask();
    }
}

/// <summary>Registration and route of <c>POST /feedback</c>.</summary>
internal static class FeedbackEndpointExtensions
{
    /// <summary>Registers the handler and its target lookup (the recent-inference index, then ClickHouse when configured).</summary>
    public static IServiceCollection AddTensorZeroFeedback(this IServiceCollection services)
    {
        services.AddSingleton(sp =>
        {
            var settings = sp.GetRequiredService<ObservabilitySettings>();
            var client = sp.GetService<ClickHouseClient>();
            return new FeedbackTargets(
                sp.GetRequiredService<RecentInferences>(),
                client is null ? null : new ClickHouseFeedbackTargets(client),
                settings.Options.FeedbackTargetWait,
                sp.GetRequiredService<TimeProvider>());
        });
        services.AddSingleton<FeedbackHandler>();
        return services;
    }

    /// <summary>Maps <c>POST {basePath}/feedback</c>.</summary>
    public static void MapFeedbackEndpoint(this IEndpointRouteBuilder endpoints) =>
        endpoints.MapPost("/feedback", context => context.RequestServices.GetRequiredService<FeedbackHandler>().InvokeAsync(context));
}
