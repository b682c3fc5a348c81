using Microsoft.Extensions.Primitives;
using Yarp.ReverseProxy.Configuration;

namespace TensorZero.Proxy.Routing;

/// <summary>
/// Feeds YARP the routes and clusters of the current <see cref="GatewayRuntime"/>: the inference routes and
/// one cluster per provider. A reload will publish a new snapshot through the change token.
/// </summary>
internal sealed class GatewayProxyConfigProvider : IProxyConfigProvider
{
    private readonly GatewayRuntimeAccessor _runtime;

    public GatewayProxyConfigProvider(GatewayRuntimeAccessor runtime)
    {
        _runtime = runtime;
    }

    public IProxyConfig GetConfig() => new Snapshot(_runtime.Current);

    private sealed class Snapshot : IProxyConfig
    {
        public Snapshot(GatewayRuntime runtime)
        {
            Routes = runtime.CreateRoutes();
            Clusters = runtime.CreateClusters();
        }

        public IReadOnlyList<RouteConfig> Routes { get; }

        public IReadOnlyList<ClusterConfig> Clusters { get; }

        // Nothing changes the snapshot yet; configuration reload will signal here.
        public IChangeToken ChangeToken { get; } = new CancellationChangeToken(CancellationToken.None);
    }
}
