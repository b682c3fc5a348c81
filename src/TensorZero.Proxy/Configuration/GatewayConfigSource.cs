namespace TensorZero.Proxy.Configuration;

/// <summary>
/// Where the running configuration comes from: the resolved tensorzero.toml path (or glob) and the environment lookup
/// its credentials are read with. The first load and every reload use the same.
/// </summary>
internal sealed record GatewayConfigSource(string Path, Func<string, string?> Environment);
