using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using TensorZero.Proxy.Configuration;
using TensorZero.Proxy.Inference;

namespace TensorZero.Proxy.Valkey;

/// <summary>
/// The start-up check of the features that live in the shared store, in one place: each one configured without
/// <c>TENSORZERO_VALKEY_URL</c> stops the gateway (where an invalid tensorzero.toml stops it: one line, no stack trace),
/// and when any of them will use the store it is connected now rather than by the first request: a burst of first
/// requests would otherwise all wait on the one connection attempt, starve the thread pool and be refused while it
/// times out.
/// </summary>
internal static class SharedStoreRequirements
{
    /// <exception cref="TensorZeroStartupException">A feature needs the store and none is set.</exception>
    public static void Check(GatewayConfig config, IServiceProvider services, ILogger logger)
    {
        var store = services.GetRequiredService<ValkeyStore>();
        var cache = services.GetRequiredService<ModelInferenceCache>();

        // A configured shared cache store that is missing is an operator's mistake, not a silent memory cache.
        cache.Require(config.Gateway.Cache);
        if (config.RateLimiting.IsEnforced)
        {
            // Rules without the shared store would let through the traffic the operator asked to limit.
            store.Require("rate_limiting.rules");
            Log.RateLimitingEnforced(logger, config.RateLimiting.Rules.Length, ValkeyUrl.Redact(store.Url!));
        }
        Auth.AuthStartupFilter.RequireStore(services, config.Gateway.Auth);

        if (config.RateLimiting.IsEnforced || config.Gateway.Auth.Enabled || cache.StoreFor(config.Gateway.Cache) == CacheStore.Valkey)
        {
            store.Connect();
        }
    }
}
