using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;
using TensorZero.Proxy.Valkey;

namespace TensorZero.Proxy.Auth;

/// <summary>
/// The gateway's API key commands, TensorZero's early-exit flags: <c>--create-api-key [--expiration TIME]
/// [--description TEXT]</c> prints the new key (only the key, on stdout), <c>--disable-api-key PUBLIC_ID</c> disables one,
/// and <c>--list-api-keys</c> prints one JSON object per key (never a secret). They talk to the store named by
/// <c>TENSORZERO_VALKEY_URL</c>; the exit code is 0 on success and 1 with a message on stderr otherwise.
/// </summary>
internal static partial class ApiKeyCommands
{
    public const string Create = "--create-api-key";
    public const string Disable = "--disable-api-key";
    public const string List = "--list-api-keys";
    private const string Expiration = "--expiration";
    private const string Description = "--description";

    /// <summary>Whether <paramref name="args"/> asks for one of the commands (or has one of their options, so a misplaced option is an error, not ignored).</summary>
    public static bool IsCommand(IReadOnlyList<string> args) =>
        args.Any(a => Name(a) is Create or Disable or List or Expiration or Description);

    public static async Task<int> RunAsync(IReadOnlyList<string> args, TextWriter output, TextWriter error, Func<string, string?> environment, TimeProvider time)
    {
        if (!TryParse(args, out var command, out var problem))
        {
            await error.WriteLineAsync(problem);
            return 1;
        }
        var failure = command.Name switch
        {
            Create => "Failed to create API key",
            Disable => "Failed to disable API key",
            _ => "Failed to list API keys",
        };
        DateTimeOffset? expiresAt = null;
        if (command.Expiration is { } text)
        {
            if (ParseTime(text) is not { } parsed)
            {
                await error.WriteLineAsync($"{failure}: Invalid `expires_at` value: '{text}' is not a UTC date-time such as \"2026-12-20 23:00:00 UTC\" or 2026-12-20T23:00:00Z");
                return 1;
            }
            if (parsed <= time.GetUtcNow())
            {
                await error.WriteLineAsync($"{failure}: Expiration datetime needs to be in the future");
                return 1;
            }
            expiresAt = parsed;
        }
        if (command.Name == Disable && !TensorZeroApiKey.IsPublicId(command.PublicId!))
        {
            await error.WriteLineAsync($"{failure}: '{command.PublicId}' is not a public id (the 12 letters and digits after sk-t0- in a key)");
            return 1;
        }

        var url = environment(ValkeyUrl.Variable);
        if (string.IsNullOrWhiteSpace(url))
        {
            await error.WriteLineAsync($"{failure}: {ValkeyUrl.Variable} environment variable not set (API keys live in the Valkey/Redis store the gateway's replicas share, e.g. redis://127.0.0.1:6379)");
            return 1;
        }
        try
        {
            using var valkey = new ValkeyStore(url, null, NullLogger.Instance);
            var store = new ApiKeyStore(valkey.Database);
            switch (command.Name)
            {
                case Create:
                    // Only the key on stdout, so a script can capture it.
                    await output.WriteLineAsync(await store.CreateAsync(time.GetUtcNow(), expiresAt, command.Description));
                    return 0;
                case Disable:
                    if (await store.DisableAsync(command.PublicId!, time.GetUtcNow()) is not { } disabledAt)
                    {
                        await error.WriteLineAsync($"{failure}: no API key has the public id '{command.PublicId}'");
                        return 1;
                    }
                    await output.WriteLineAsync($"Disabled API key {command.PublicId} at {ApiKeyStore.Display(disabledAt)}");
                    return 0;
                default:
                    var now = time.GetUtcNow();
                    foreach (var key in await store.ListAsync())
                    {
                        await output.WriteLineAsync(Json(key, now));
                    }
                    return 0;
            }
        }
        catch (TensorZeroStartupException ex)
        {
            await error.WriteLineAsync($"{failure}: {ex.Message}");
            return 1;
        }
        catch (Exception ex) when (ex is RedisException or RedisTimeoutException)
        {
            await error.WriteLineAsync($"{failure}: the API key store at {ValkeyUrl.Redact(url)} cannot be reached: {ex.Message}");
            return 1;
        }
    }

    /// <summary>
    /// A time with its zone, as TensorZero's <c>--expiration</c> takes it: RFC 3339 (<c>2026-12-20T23:00:00Z</c>,
    /// <c>+02:00</c>, a space for the <c>T</c>) or chrono's display form <c>2026-12-20 23:00:00.000000 UTC</c>. Null when
    /// it is none of these: a time without a zone would depend on the machine's.
    /// </summary>
    internal static DateTimeOffset? ParseTime(string text)
    {
        var match = TimePattern().Match(text.Trim());
        if (!match.Success)
        {
            return null;
        }
        var fraction = match.Groups["fraction"].Value;
        var zone = match.Groups["zone"].Value is "Z" or "z" or " UTC" ? "+00:00" : match.Groups["zone"].Value;
        // .NET keeps 7 fractional digits; TensorZero's nanoseconds beyond them do not matter for an expiry.
        var normalized = $"{match.Groups["date"].Value}T{match.Groups["time"].Value}{(fraction.Length > 0 ? "." + fraction[..Math.Min(7, fraction.Length)] : "")}{zone}";
        return DateTimeOffset.TryParse(normalized, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal, out var time) ? time : null;
    }

    [GeneratedRegex(@"^(?<date>\d{4}-\d{2}-\d{2})[Tt ](?<time>\d{2}:\d{2}:\d{2})(\.(?<fraction>\d{1,9}))?(?<zone>[Zz]| UTC|[+-]\d{2}:\d{2})$")]
    private static partial Regex TimePattern();

    private static string Json(ApiKeyInfo key, DateTimeOffset now)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            writer.WriteStartObject();
            writer.WriteString("public_id", key.PublicId);
            writer.WriteString("status", key.StatusAt(now).ToString().ToLowerInvariant());
            writer.WriteString("created_at", key.CreatedAt);
            if (key.ExpiresAt is { } expires)
            {
                writer.WriteString("expires_at", expires);
            }
            if (key.DisabledAt is { } disabled)
            {
                writer.WriteString("disabled_at", disabled);
            }
            if (key.Description is { } description)
            {
                writer.WriteString("description", description);
            }
            writer.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }

    private sealed record Command(string Name, string? PublicId, string? Expiration, string? Description);

    /// <summary>
    /// One command and its options. <c>--config-file</c> (and <c>--default-config</c>) are accepted and unused, as
    /// TensorZero's gateway accepts them beside these flags; anything else is refused, so a typo such as
    /// <c>--expiraton</c> never creates a key that does not expire.
    /// </summary>
    private static bool TryParse(IReadOnlyList<string> args, out Command command, out string problem)
    {
        command = null!;
        problem = "";
        string? name = null, publicId = null, expiration = null, description = null;
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            var flag = Name(arg);
            var inline = arg.Length > flag.Length ? arg[(flag.Length + 1)..] : null;
            string? Value()
            {
                if (inline is not null)
                {
                    return inline;
                }
                return i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal) ? args[++i] : null;
            }
            switch (flag)
            {
                case Create or List or Disable:
                    if (name is not null)
                    {
                        problem = $"{name} and {flag} cannot be used together";
                        return false;
                    }
                    name = flag;
                    if (flag == Disable && (publicId = Value()) is null)
                    {
                        problem = $"{Disable} needs the key's public id: {Disable} <PUBLIC_ID>";
                        return false;
                    }
                    if (flag != Disable && inline is not null)
                    {
                        problem = $"{flag} takes no value";
                        return false;
                    }
                    break;
                case Expiration or Description:
                    var value = Value();
                    if (value is null)
                    {
                        problem = $"{flag} needs a value";
                        return false;
                    }
                    if (flag == Expiration)
                    {
                        expiration = value;
                    }
                    else
                    {
                        description = value;
                    }
                    break;
                case "--config-file":
                    Value();
                    break;
                case "--default-config":
                    break;
                default:
                    problem = $"unexpected argument '{arg}' (API key commands: {Create} [{Expiration} <UTC date-time>] [{Description} <text>], {Disable} <PUBLIC_ID>, {List})";
                    return false;
            }
        }
        if (name != Create && (expiration ?? description) is not null)
        {
            problem = $"{(expiration is not null ? Expiration : Description)} requires {Create}";
            return false;
        }
        if (name is null)
        {
            problem = $"no API key command given ({Create}, {Disable} or {List})";
            return false;
        }
        command = new Command(name, publicId, expiration, description);
        return true;
    }

    /// <summary>The flag of <c>--name=value</c> or <c>--name</c>.</summary>
    private static string Name(string arg)
    {
        var equals = arg.IndexOf('=', StringComparison.Ordinal);
        return arg.StartsWith("--", StringComparison.Ordinal) && equals > 0 ? arg[..equals] : arg;
    }
}
