using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Model;
using TensorZero.Proxy.Inference;

namespace TensorZero.Proxy.Routing;

/// <summary>Marks the endpoints <c>MapTensorZeroEndpoints()</c> maps, so route errors know which paths are the gateway's.</summary>
internal sealed class TensorZeroEndpointMetadata
{
    public static TensorZeroEndpointMetadata Instance { get; } = new();
}

/// <summary>
/// Gives an unknown route (404) or a wrong method (405) an OpenAI-shaped JSON body, <c>{"error":{"message","type","param",
/// "code"}}</c>, where ASP.NET Core would answer with an empty one. It wraps the whole pipeline (registered by
/// <c>AddTensorZero()</c> as a startup filter) and acts only after the rest of the pipeline ran: on a response that has not
/// started, with status 404 or 405 and no body. The 405 and its <c>Allow</c> header come from ASP.NET's own routing (the
/// endpoint data source, so routes added later count too); this only writes the body. Which paths it covers:
/// <see cref="TensorZeroOptions.JsonErrorsForAllPaths"/> (the runnable gateway) every path; otherwise the gateway's own:
/// everything under <c>{base_path}/openai/</c> and any path that one of the gateway's endpoints (its YARP inference routes,
/// the endpoints of <c>MapTensorZeroEndpoints()</c>) matches, so a host's own routes and 404s are left alone.
/// </summary>
internal sealed class RouteErrorsMiddleware
{
    private readonly RequestDelegate _next;
    private readonly IOptions<TensorZeroOptions> _options;
    private readonly GatewayPaths _paths;

    public RouteErrorsMiddleware(RequestDelegate next, IOptions<TensorZeroOptions> options, GatewayPaths paths)
    {
        _next = next;
        _options = options;
        _paths = paths;
    }

    public Task Invoke(HttpContext context)
    {
        var task = _next(context);
        return task.IsCompletedSuccessfully ? AfterAsync(context) : Awaited(task, context);

        async Task Awaited(Task next, HttpContext c)
        {
            await next;
            await AfterAsync(c);
        }
    }

    private Task AfterAsync(HttpContext context)
    {
        var response = context.Response;
        // A response that started (a body, or headers flushed), one with a declared length (even 0), or one YARP proxied
        // (a plain route's upstream said 404) is someone's answer: never touched. Routing's own 404 and 405 have none of these.
        if (response.HasStarted || response.StatusCode is not (StatusCodes.Status404NotFound or StatusCodes.Status405MethodNotAllowed)
            || HttpMethods.IsHead(context.Request.Method) || response.ContentLength is not null || context.RequestAborted.IsCancellationRequested
            || context.Features.Get<IReverseProxyFeature>() is not null)
        {
            return Task.CompletedTask;
        }
        if (!_options.Value.JsonErrorsForAllPaths && !_paths.Contains(context.Request.Path))
        {
            return Task.CompletedTask;
        }
        var method = context.Request.Method;
        var path = context.Request.Path.Value ?? "/";
        byte[] body;
        if (response.StatusCode == StatusCodes.Status404NotFound)
        {
            body = OpenAIError.SerializeWithParam($"Invalid URL ({method} {path}): no such endpoint.", "invalid_request_error", null, "not_found");
        }
        else
        {
            var allowed = response.Headers.Allow.ToString();
            body = OpenAIError.SerializeWithParam($"Method {method} is not allowed on {path}" + (allowed.Length > 0 ? $" (allowed: {allowed})." : "."),
                "invalid_request_error", null, "method_not_allowed");
        }
        response.ContentType = "application/json";
        response.ContentLength = body.Length;
        return response.Body.WriteAsync(body, context.RequestAborted).AsTask();
    }
}

/// <summary>Puts <see cref="RouteErrorsMiddleware"/> around the host's whole pipeline (registered by <c>AddTensorZero()</c>).</summary>
internal sealed class RouteErrorsStartupFilter : IStartupFilter
{
    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        app.UseMiddleware<RouteErrorsMiddleware>();
        next(app);
    };
}
