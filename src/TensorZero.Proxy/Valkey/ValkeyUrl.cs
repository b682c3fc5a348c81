using System.Globalization;
using StackExchange.Redis;

namespace TensorZero.Proxy.Valkey;

/// <summary>
/// TensorZero's Valkey/Redis URLs (<c>TENSORZERO_VALKEY_URL</c>, <c>TENSORZERO_VALKEY_CACHE_URL</c>):
/// <c>valkey://</c> or <c>redis://</c> (plain), <c>valkeys://</c> or <c>rediss://</c> (TLS), with optional
/// <c>user:password@</c> and <c>/db</c>: <c>redis://:secret@10.0.0.5:6379/2</c>. The port defaults to 6379.
/// </summary>
internal static class ValkeyUrl
{
    /// <summary>The shared store of rate limits, API keys and (unless <see cref="CacheVariable"/> is set) the cache.</summary>
    public const string Variable = "TENSORZERO_VALKEY_URL";

    /// <summary>A store of its own for the model inference cache, so cache evictions never touch rate limits.</summary>
    public const string CacheVariable = "TENSORZERO_VALKEY_CACHE_URL";

    /// <summary>
    /// The client options for <paramref name="url"/>. Commands fail at once while the store is unreachable (no backlog):
    /// the gateway answers 503 at once instead of holding the request until a timeout.
    /// </summary>
    /// <exception cref="FormatException">The URL is not one of the accepted forms; the message names <paramref name="variable"/>.</exception>
    public static ConfigurationOptions Parse(string url, string variable)
    {
        if (!Uri.TryCreate(url.Trim(), UriKind.Absolute, out var uri) || string.IsNullOrEmpty(uri.Host))
        {
            throw new FormatException($"{variable} is not a URL (expected redis://host:port, valkey://host:port, rediss:// or valkeys:// for TLS)");
        }
        var tls = uri.Scheme switch
        {
            "redis" or "valkey" => false,
            "rediss" or "valkeys" => true,
            _ => throw new FormatException($"{variable} has the scheme '{uri.Scheme}' (supported: redis, rediss, valkey, valkeys)"),
        };
        var options = new ConfigurationOptions
        {
            Ssl = tls,
            AbortOnConnectFail = false,
            BacklogPolicy = BacklogPolicy.FailFast,
            ConnectTimeout = 2000,
            AsyncTimeout = 2000,
            SyncTimeout = 2000,
            ClientName = "tensorzero-proxy",
        };
        options.EndPoints.Add(uri.Host.Trim('[', ']'), uri.IsDefaultPort ? 6379 : uri.Port);
        if (uri.UserInfo.Length > 0)
        {
            var colon = uri.UserInfo.IndexOf(':', StringComparison.Ordinal);
            var user = Uri.UnescapeDataString(colon < 0 ? uri.UserInfo : uri.UserInfo[..colon]);
            var password = colon < 0 ? null : Uri.UnescapeDataString(uri.UserInfo[(colon + 1)..]);
            if (password is null)
            {
                // redis://secret@host is the common short form of a password alone.
                options.Password = user;
            }
            else
            {
                options.User = user.Length > 0 ? user : null;
                options.Password = password;
            }
        }
        var path = uri.AbsolutePath.Trim('/');
        if (path.Length > 0)
        {
            if (!int.TryParse(path, NumberStyles.None, CultureInfo.InvariantCulture, out var database))
            {
                throw new FormatException($"{variable} has the path '/{path}'; the path can only be a database number");
            }
            options.DefaultDatabase = database;
        }
        return options;
    }

    /// <summary>The URL without its password, for logs and errors.</summary>
    public static string Redact(string url) =>
        Uri.TryCreate(url.Trim(), UriKind.Absolute, out var uri) && uri.UserInfo.Length > 0
            ? url.Replace(uri.UserInfo + "@", "***@", StringComparison.Ordinal)
            : url;
}
