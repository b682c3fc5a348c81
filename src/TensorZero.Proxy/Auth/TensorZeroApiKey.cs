using System.Buffers;
using System.Security.Cryptography;
using System.Text;

namespace TensorZero.Proxy.Auth;

/// <summary>
/// A TensorZero API key as a client sends it, <c>sk-t0-&lt;public id&gt;-&lt;secret&gt;</c> (12 and 48 alphanumeric
/// characters, TensorZero's <c>tensorzero-auth</c> format), parsed into its public id and the SHA-256 of its secret: the
/// secret itself is not kept, so nothing downstream can log or store it.
/// </summary>
internal sealed class TensorZeroApiKey
{
    public const int PublicIdLength = 12;
    public const int SecretLength = 48;

    /// <summary>The prefix of TensorZero's parse errors; the auth middleware puts its own before it.</summary>
    public const string FormatErrorPrefix = "Invalid format for TensorZero API key: ";

    private const string Alphanumerics = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    private static readonly SearchValues<char> AlphanumericChars = SearchValues.Create(Alphanumerics);

    private TensorZeroApiKey(string publicId, string secretHash)
    {
        PublicId = publicId;
        SecretHash = secretHash;
    }

    /// <summary>The key's public id: names it in the store, in logs and in <c>--disable-api-key</c>.</summary>
    public string PublicId { get; }

    /// <summary>The lowercase hex SHA-256 of the secret part, as the store keeps it.</summary>
    public string SecretHash { get; }

    /// <summary>
    /// The per-replica cache key: public id and secret hash together, so a made-up secret under a known public id never
    /// finds the real key's answer (TensorZero's <c>cache_key</c>).
    /// </summary>
    public string CacheKey => PublicId + ":" + SecretHash;

    /// <summary>
    /// Parses <paramref name="key"/> with TensorZero's checks, in its order; <paramref name="error"/> is its message
    /// (<see cref="FormatErrorPrefix"/> and the reason) when the key is malformed. Only ASCII letters and digits count as
    /// alphanumeric (TensorZero's Rust check accepts any Unicode one; no key it generates has one).
    /// </summary>
    public static bool TryParse(string key, out TensorZeroApiKey? parsed, out string? error)
    {
        parsed = null;
        var parts = key.Split('-');
        error = parts switch
        {
            { Length: not 4 } => "API key must be of the form `sk-t0-<public_id>-<long_key>`",
            [not "sk", ..] or [_, not "t0", ..] => "API key must start with `sk-t0-`",
            [_, _, { Length: not PublicIdLength }, _] => "Public ID must be 12 characters",
            [_, _, _, { Length: not SecretLength }] => "Long key must be 48 characters",
            [_, _, var id, _] when !IsAlphanumeric(id) => "Public ID must be alphanumeric",
            [_, _, _, var secret] when !IsAlphanumeric(secret) => "Long key must be alphanumeric",
            _ => null,
        };
        if (error is not null)
        {
            error = FormatErrorPrefix + error;
            return false;
        }
        parsed = new TensorZeroApiKey(parts[2], HashSecret(parts[3]));
        return true;
    }

    /// <summary>A fresh key from the operating system's CSPRNG (<see cref="RandomNumberGenerator"/>).</summary>
    public static string Generate() =>
        "sk-t0-" + RandomNumberGenerator.GetString(Alphanumerics, PublicIdLength) + "-" + RandomNumberGenerator.GetString(Alphanumerics, SecretLength);

    /// <summary>The lowercase hex SHA-256 of <paramref name="secret"/>'s UTF-8 bytes (TensorZero's <c>hash_long_key</c>).</summary>
    public static string HashSecret(string secret) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));

    /// <summary>Whether <paramref name="storedHash"/> is this key's secret hash, in time that does not depend on where they differ.</summary>
    public bool Matches(string storedHash) =>
        CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(SecretHash), Encoding.ASCII.GetBytes(storedHash));

    /// <summary>Whether <paramref name="publicId"/> has the shape of a public id (12 ASCII letters or digits).</summary>
    public static bool IsPublicId(string publicId) => publicId.Length == PublicIdLength && IsAlphanumeric(publicId);

    private static bool IsAlphanumeric(string text) => text.AsSpan().IndexOfAnyExcept(AlphanumericChars) < 0;

    /// <summary>Never the secret: the public id only.</summary>
    public override string ToString() => $"sk-t0-{PublicId}-***";
}
