namespace TensorZero.Proxy.Tests.TestSupport;

/// <summary>
/// Several gateway processes (<see cref="GatewayProcess"/>) on one configuration file and one environment (the shared
/// store's URL), each with its own observability folder, as replicas behind a load balancer run. Disposing stops all.
/// </summary>
internal sealed class GatewayReplicas : IAsyncDisposable
{
    private readonly List<GatewayProcess> _replicas;

    private GatewayReplicas(List<GatewayProcess> replicas)
    {
        _replicas = replicas;
    }

    public int Count => _replicas.Count;

    public GatewayProcess this[int index] => _replicas[index];

    public IReadOnlyList<GatewayProcess> All => _replicas;

    /// <summary>Starts <paramref name="count"/> replicas one after another; each data folder is <c>replicaN</c> under <paramref name="folder"/>.</summary>
    public static async Task<GatewayReplicas> StartAsync(
        int count, IReadOnlyDictionary<string, string> environment, string configFile, TempDirectory folder, params string[] args)
    {
        var replicas = new List<GatewayProcess>();
        try
        {
            for (var i = 0; i < count; i++)
            {
                replicas.Add(await GatewayProcess.StartAsync(environment,
                    ["--config-file", configFile, $"--TensorZero:Observability:DataDir={folder.PathOf($"replica{i}")}", .. args]));
            }
            return new GatewayReplicas(replicas);
        }
        catch
        {
            await new GatewayReplicas(replicas).DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var replica in _replicas)
        {
            await replica.DisposeAsync();
        }
    }
}
