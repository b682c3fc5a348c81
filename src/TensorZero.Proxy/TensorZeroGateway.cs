using TensorZero.Proxy.Routing;

namespace TensorZero.Proxy;

/// <summary>
/// The running TensorZero plugin, resolved from dependency injection. Resolving it loads and validates
/// tensorzero.toml if nothing has yet: a host that resolves it before <c>Run()</c> fails fast with a
/// <see cref="Configuration.ConfigException"/> instead of failing its first request.
/// </summary>
public sealed class TensorZeroGateway
{
    private readonly GatewayRuntimeAccessor _runtime;

    internal TensorZeroGateway(GatewayRuntimeAccessor runtime)
    {
        _runtime = runtime;
    }

    /// <summary>The configuration serving now (a reload replaces it).</summary>
    public TensorZeroConfigFile Config => _runtime.Current.Summary;
}
