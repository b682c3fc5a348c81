using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Template;
using Yarp.ReverseProxy.Model;

namespace TensorZero.Proxy.Routing;

/// <summary>
/// Which request paths are the gateway's in a host's app: everything under <c>{base_path}/openai/</c>, and any path that
/// one of the gateway's endpoints (its YARP inference routes, a host's routes marked with <c>TensorZero</c> metadata, the
/// endpoints of <c>MapTensorZeroEndpoints()</c>) matches, whatever its method. Used by middleware that runs before routing
/// (JSON 404/405 bodies, API key auth), so it matches the endpoints' route patterns itself, case-insensitively as
/// ASP.NET Core's routing does.
/// </summary>
internal sealed class GatewayPaths
{
    private readonly GatewayRuntimeAccessor _runtime;
    private readonly EndpointDataSource _endpoints;
    private volatile MatcherCache? _matchers;

    public GatewayPaths(GatewayRuntimeAccessor runtime, EndpointDataSource endpoints)
    {
        _runtime = runtime;
        _endpoints = endpoints;
    }

    /// <summary>Whether <paramref name="path"/> is the gateway's.</summary>
    public bool Contains(PathString path)
    {
        var basePath = _runtime.Current.Config.Gateway.BasePath;
        if (path.StartsWithSegments(basePath + "/openai", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }
        foreach (var matcher in Matchers())
        {
            if (matcher.TryMatch(path, new RouteValueDictionary()))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>
    /// Matchers of the gateway's endpoints' route patterns, rebuilt when the endpoint data source changes (a reload adds or
    /// removes routes): a host's traffic costs a few template matches, not a walk of every endpoint.
    /// </summary>
    private TemplateMatcher[] Matchers()
    {
        var cached = _matchers;
        if (cached is not null && !cached.Token.HasChanged)
        {
            return cached.Matchers;
        }
        // The token first: a change while the list is built marks the new cache stale at once.
        var token = _endpoints.GetChangeToken();
        var matchers = _endpoints.Endpoints
            .Where(IsGatewayEndpoint)
            .OfType<RouteEndpoint>()
            .Select(route => new TemplateMatcher(new RouteTemplate(route.RoutePattern), new RouteValueDictionary()))
            .ToArray();
        _matchers = new MatcherCache(token, matchers);
        return matchers;
    }

    private sealed record MatcherCache(Microsoft.Extensions.Primitives.IChangeToken Token, TemplateMatcher[] Matchers);

    private static bool IsGatewayEndpoint(Endpoint endpoint) =>
        endpoint.Metadata.GetMetadata<TensorZeroEndpointMetadata>() is not null
        || (endpoint.Metadata.GetMetadata<RouteModel>() is { } route && TensorZeroRoutes.GetKind(route.Config) is not null);
}
