using TensorZero.Proxy.Auth;

namespace TensorZero.Proxy;

/// <summary>
/// TensorZero's API key commands for a host's command line (the runnable gateway's <c>--create-api-key</c>,
/// <c>--disable-api-key</c> and <c>--list-api-keys</c>). Keys live in the Valkey/Redis store named by
/// <c>TENSORZERO_VALKEY_URL</c>, which every replica with <c>[gateway.auth] enabled = true</c> checks.
/// </summary>
public static class TensorZeroApiKeys
{
    /// <summary>Whether <paramref name="args"/> asks for an API key command (then run it instead of the app).</summary>
    public static bool IsCommand(IReadOnlyList<string> args)
    {
        ArgumentNullException.ThrowIfNull(args);
        return ApiKeyCommands.IsCommand(args);
    }

    /// <summary>
    /// Runs the command in <paramref name="args"/>: <c>--create-api-key [--expiration "2026-12-20 23:00:00 UTC"]
    /// [--description TEXT]</c> writes the new key (and nothing else) to <paramref name="output"/>;
    /// <c>--disable-api-key PUBLIC_ID</c> disables a key; <c>--list-api-keys</c> writes one JSON object per key. Returns the
    /// process exit code: 0, or 1 with the reason on <paramref name="error"/> (no store URL, store unreachable, unknown
    /// public id, a bad argument).
    /// </summary>
    /// <param name="args">The command line.</param>
    /// <param name="output">Where results go (stdout).</param>
    /// <param name="error">Where problems go (stderr).</param>
    /// <param name="environment">Where <c>TENSORZERO_VALKEY_URL</c> is read; the process environment when null.</param>
    public static Task<int> RunCommandAsync(IReadOnlyList<string> args, TextWriter output, TextWriter error, Func<string, string?>? environment = null)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        return ApiKeyCommands.RunAsync(args, output, error, environment ?? Environment.GetEnvironmentVariable, TimeProvider.System);
    }
}
