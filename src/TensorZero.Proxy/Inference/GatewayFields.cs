using System.Text.Json;
using TensorZero.Proxy.Routing;

namespace TensorZero.Proxy.Inference;

/// <summary>
/// The request's <c>tensorzero::*</c> fields, validated (DESIGN.md §2): variant pin, episode id (a UUIDv7 not
/// in the future), tags (strings; the <c>tensorzero::</c> prefix is reserved) and dry run. Extra headers and
/// body depend on the target and are read by <see cref="ExtraParameters"/>.
/// </summary>
internal sealed record GatewayFields
{
    public static readonly GatewayFields Empty = new();

    public string? VariantName { get; init; }

    public Guid? EpisodeId { get; init; }

    public IReadOnlyDictionary<string, string> Tags { get; init; } = new Dictionary<string, string>();

    public bool DryRun { get; init; }

    /// <summary>Reads and validates the fields; on failure <paramref name="error"/> is the 400 message.</summary>
    public static bool TryRead(IReadOnlyDictionary<string, JsonElement> fields, DateTimeOffset now, out GatewayFields result, out string? error)
    {
        result = Empty;
        error = null;
        if (fields.Count == 0)
        {
            return true;
        }

        string? variant = null;
        if (fields.TryGetValue("tensorzero::variant_name", out var v))
        {
            if (v.ValueKind != JsonValueKind.String || string.IsNullOrEmpty(v.GetString()))
            {
                error = "'tensorzero::variant_name' must be a non-empty string.";
                return false;
            }
            variant = v.GetString();
        }

        Guid? episode = null;
        if (fields.TryGetValue("tensorzero::episode_id", out var e))
        {
            if (e.ValueKind != JsonValueKind.String || !Guid.TryParse(e.GetString(), out var id))
            {
                error = "'tensorzero::episode_id' must be a UUID string.";
                return false;
            }
            if (id.Version != 7 || (id.Variant & 0xC) != 0x8)
            {
                error = $"'tensorzero::episode_id' must be a UUIDv7 (got a version {id.Version} UUID); omit it to start a new episode.";
                return false;
            }
            var ms = VariantSampler.UuidV7Milliseconds(id);
            if (ms > now.ToUnixTimeMilliseconds())
            {
                error = $"'tensorzero::episode_id' is in the future (its timestamp is {DateTimeOffset.FromUnixTimeMilliseconds(ms):O}).";
                return false;
            }
            episode = id;
        }

        var tags = new Dictionary<string, string>(StringComparer.Ordinal);
        if (fields.TryGetValue("tensorzero::tags", out var t))
        {
            if (t.ValueKind != JsonValueKind.Object)
            {
                error = "'tensorzero::tags' must be an object of string values.";
                return false;
            }
            foreach (var tag in t.EnumerateObject())
            {
                if (tag.Value.ValueKind != JsonValueKind.String)
                {
                    error = $"Tag '{tag.Name}' in 'tensorzero::tags' must have a string value.";
                    return false;
                }
                if (tag.Name.StartsWith("tensorzero::", StringComparison.Ordinal))
                {
                    error = $"Tag '{tag.Name}' in 'tensorzero::tags' uses the reserved prefix 'tensorzero::'.";
                    return false;
                }
                tags[tag.Name] = tag.Value.GetString()!;
            }
        }

        var dryRun = false;
        if (fields.TryGetValue("tensorzero::dryrun", out var d))
        {
            if (d.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
            {
                error = "'tensorzero::dryrun' must be a boolean.";
                return false;
            }
            dryRun = d.GetBoolean();
        }

        result = new GatewayFields { VariantName = variant, EpisodeId = episode, Tags = tags, DryRun = dryRun };
        return true;
    }
}
