using System.Reflection;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using TensorZero.Proxy.Feedback;
using TensorZero.Proxy.Observability;
using TensorZero.Proxy.Routing;

namespace TensorZero.Proxy;

/// <summary>The gateway's own endpoints: model list, status, health, metrics and feedback.</summary>
internal static class GatewayEndpoints
{
    private static readonly string Version =
        typeof(GatewayEndpoints).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";

    /// <summary>Maps the endpoints on <paramref name="group"/> (the group carries <c>base_path</c>).</summary>
    public static void Map(IEndpointRouteBuilder group)
    {
        group.MapGet("/openai/v1/models", ListModels);
        group.MapGet("/v1/models", ListModels);
        group.MapGet("/status", () => Results.Json(new { status = "ok", version = Version }));
        group.MapObservabilityEndpoints();
        group.MapFeedbackEndpoint();
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
