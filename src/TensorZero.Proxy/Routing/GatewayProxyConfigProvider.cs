using Microsoft.Extensions.Options;
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
    private readonly TensorZeroOptions _options;

    public GatewayProxyConfigProvider(GatewayRuntimeAccessor runtime, IOptions<TensorZeroOptions> options)
    {
        _runtime = runtime;
        _options = options.Value;
    }

    public IProxyConfig GetConfig() => new Snapshot(_runtime.Current, _options);

    private sealed class Snapshot : IProxyConfig
    {
        public Snapshot(GatewayRuntime runtime, TensorZeroOptions options)
        {
            Routes = runtime.CreateRoutes(options.AddDefaultRoutes, options.ConfigureRoute);
            Clusters = runtime.CreateClusters();
        }

        public IReadOnlyList<RouteConfig> Routes { get; }

        public IReadOnlyList<ClusterConfig> Clusters { get; }

        // Nothing changes the snapshot yet; configuration reload will signal here.
        public IChangeToken ChangeToken { get; } = new CancellationChangeToken(CancellationToken.None);
    }
}
