using System.Reflection;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using TensorZero.Proxy.Feedback;
using TensorZero.Proxy.Observability;
using TensorZero.Proxy.Routing;

namespace TensorZero.Proxy;

/// <summary>The gateway's own endpoints: model list, status, health, metrics and feedback.</summary>
internal static class GatewayEndpoints
{
    private static readonly string Version =
        typeof(GatewayEndpoints).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";

    public static void Map(WebApplication app, string basePath)
    {
        app.MapGet(basePath + "/openai/v1/models", ListModels);
        app.MapGet(basePath + "/v1/models", ListModels);
        app.MapGet(basePath + "/status", () => Results.Json(new { status = "ok", version = Version }));
        app.MapObservabilityEndpoints(basePath);
        app.MapFeedbackEndpoint(basePath);
    }

    /// <summary>Every name that works as a request's <c>model</c>, in OpenAI's list shape.</summary>
    private static IResult ListModels(GatewayRuntimeAccessor runtime)
    {
        var current = runtime.Current;
        var models = current.Functions.Keys.Order(StringComparer.Ordinal).Select(name => TargetResolver.FunctionPrefix + name)
            .Concat(current.Models.Keys.Order(StringComparer.Ordinal).Select(name => TargetResolver.ModelPrefix + name))
            .Select(id => new { id, @object = "model", created = 0, owned_by = "tensorzero" });
        return Results.Json(new { @object = "list", data = models });
    }
}
