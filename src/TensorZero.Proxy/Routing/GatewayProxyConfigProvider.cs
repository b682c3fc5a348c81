using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;
using Yarp.ReverseProxy.Configuration;

namespace TensorZero.Proxy.Routing;

/// <summary>
/// Feeds YARP the routes and clusters of the current <see cref="GatewayRuntime"/>: the inference routes and
/// one cluster per provider. As YARP's <c>InMemoryConfigProvider</c> does, each snapshot carries a change token that
/// fires when <see cref="Update"/> replaces it; YARP then reads the new one and applies the difference (an unchanged
/// cluster keeps its HTTP client and connections).
/// </summary>
internal sealed class GatewayProxyConfigProvider : IProxyConfigProvider
{
    private readonly object _updateLock = new();
    private readonly TensorZeroOptions _options;
    private volatile Snapshot _snapshot;

    public GatewayProxyConfigProvider(GatewayRuntimeAccessor runtime, IOptions<TensorZeroOptions> options)
    {
        _options = options.Value;
        _snapshot = new Snapshot(runtime.Current, _options);
    }

    public IProxyConfig GetConfig() => _snapshot;

    /// <summary>Publishes the routes and clusters of <paramref name="runtime"/> and signals the previous snapshot's token.</summary>
    public void Update(GatewayRuntime runtime)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        lock (_updateLock)
        {
            var previous = _snapshot;
            _snapshot = new Snapshot(runtime, _options);
            previous.SignalChanged();
        }
    }

    private sealed class Snapshot : IProxyConfig
    {
        private readonly CancellationTokenSource _changed = new();

        public Snapshot(GatewayRuntime runtime, TensorZeroOptions options)
        {
            Routes = runtime.CreateRoutes(options.AddDefaultRoutes, options.ConfigureRoute);
            Clusters = runtime.CreateClusters();
            ChangeToken = new CancellationChangeToken(_changed.Token);
        }

        public IReadOnlyList<RouteConfig> Routes { get; }

        public IReadOnlyList<ClusterConfig> Clusters { get; }

        public IChangeToken ChangeToken { get; }

        // Not disposed: YARP may still be registering on the token while it is replaced (InMemoryConfigProvider's reasoning).
        internal void SignalChanged() => _changed.Cancel();
    }
}
