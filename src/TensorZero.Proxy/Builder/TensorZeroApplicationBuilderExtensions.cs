using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using TensorZero.Proxy;
using TensorZero.Proxy.Inference;
using Yarp.ReverseProxy.Model;

namespace Microsoft.AspNetCore.Builder;

/// <summary>The TensorZero steps of an ASP.NET Core app that hosts YARP (<c>AddTensorZero()</c> registers their services).</summary>
public static class TensorZeroApplicationBuilderExtensions
{
    /// <summary>
    /// The proxy pipeline step that serves TensorZero inference routes (routes whose metadata has
    /// <see cref="TensorZeroRoutes.MetadataKey"/>): it picks the function, variant, model and provider per attempt, forwards
    /// with the provider's transforms, fails over, and records the result. Every other route passes through untouched to
    /// the next step, so place it first inside <c>MapReverseProxy(p =&gt; { p.UseTensorZero(); p.UseLoadBalancing(); … })</c>.
    /// ASP.NET Core's authentication, authorization and rate limiting run before the proxy pipeline, per route policy.
    /// </summary>
    public static IReverseProxyApplicationBuilder UseTensorZero(this IReverseProxyApplicationBuilder proxyPipeline)
    {
        ArgumentNullException.ThrowIfNull(proxyPipeline);
        // Fail at start-up, not at the first request, on an invalid tensorzero.toml or a data folder in use.
        proxyPipeline.ApplicationServices.GetRequiredService<TensorZeroGateway>();
        proxyPipeline.UseMiddleware<InferenceMiddleware>();
        return proxyPipeline;
    }

    /// <summary>
    /// Maps TensorZero's other endpoints under <c>[gateway] base_path</c>: <c>GET /openai/v1/models</c> and
    /// <c>/v1/models</c>, <c>GET /openai/v1/models/{id}</c> and <c>/v1/models/{id}</c>, <c>GET /status</c>, <c>GET /health</c>, <c>GET /metrics</c> and <c>POST /feedback</c>.
    /// Returns their group, so a host can add conventions (<c>.RequireAuthorization()</c>, rate limiting) to all of them.
    /// </summary>
    public static RouteGroupBuilder MapTensorZeroEndpoints(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var gateway = endpoints.ServiceProvider.GetRequiredService<TensorZeroGateway>();
        var group = endpoints.MapGroup(gateway.Config.BasePath);
        // Marks the gateway's paths for its JSON 404/405 bodies (TensorZeroOptions.JsonErrorsForAllPaths).
        group.WithMetadata(TensorZero.Proxy.Routing.TensorZeroEndpointMetadata.Instance);
        GatewayEndpoints.Map(group);
        return group;
    }
}
