namespace TensorZero.Proxy.Transforms;

/// <summary>Headers that carry credentials: their values never appear in logs, errors or stored records.</summary>
public static class CredentialHeaders
{
    /// <summary>What a credential value is replaced with wherever it would be shown or stored.</summary>
    public const string Redacted = "[redacted]";

    // x-api-key: Anthropic's; x-goog-api-key: Google AI Studio's.
    private static readonly string[] Names = ["Authorization", "api-key", "x-api-key", "x-goog-api-key", "Proxy-Authorization"];

    /// <summary>Whether <paramref name="name"/> is a credential header (case-insensitive).</summary>
    public static bool IsCredential(string name)
    {
        foreach (var candidate in Names)
        {
            if (string.Equals(candidate, name, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>The value to show or store for a header: redacted when it is a credential.</summary>
    public static string Display(string name, string value) => IsCredential(name) ? Redacted : value;
}
