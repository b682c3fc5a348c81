using System.Collections.Immutable;
using System.Text;
using System.Text.Json;

namespace TensorZero.Proxy.RateLimiting;

/// <summary>
/// <c>[rate_limiting]</c>, validated: the rules (TensorZero's syntax), whether they are enforced, and the backend.
/// Immutable and part of the configuration snapshot, so a reload changes the rules of the requests that start after it.
/// </summary>
internal sealed record RateLimitingConfig
{
    /// <summary>No rules: nothing is limited and no store is needed.</summary>
    public static RateLimitingConfig None { get; } = new();

    /// <summary><c>rules</c>, in file order.</summary>
    public ImmutableArray<RateLimitRule> Rules { get; init; } = [];

    /// <summary><c>enabled</c> (TensorZero's default: true). False keeps the rules parsed and enforces none.</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>Whether requests are checked: enabled with at least one rule (then the store is required).</summary>
    public bool IsEnforced => Enabled && !Rules.IsEmpty;

    /// <summary>
    /// The limits that apply to a request (TensorZero's selection): every matching <c>always</c> rule, plus the matching
    /// priority rules whose priority is the highest among the matching ones. Each carries its bucket key.
    /// </summary>
    public List<ActiveRateLimit> ActiveLimits(in RateLimitScopeInfo info)
    {
        var active = new List<ActiveRateLimit>();
        if (!IsEnforced)
        {
            return active;
        }
        var matches = new (RateLimitRule Rule, string ScopeKey)?[Rules.Length];
        var maxPriority = 0L;
        for (var i = 0; i < Rules.Length; i++)
        {
            var rule = Rules[i];
            if (rule.ScopeKeyIfMatches(info) is not { } key)
            {
                continue;
            }
            matches[i] = (rule, key);
            if (rule.Priority is { } priority && priority > maxPriority)
            {
                maxPriority = priority;
            }
        }
        foreach (var match in matches)
        {
            if (match is not ({ } rule, { } scopeKey) || (rule.Priority is { } priority && priority != maxPriority))
            {
                continue;
            }
            foreach (var limit in rule.Limits)
            {
                active.Add(new ActiveRateLimit(limit, rule, scopeKey));
            }
        }
        return active;
    }
}

/// <summary>What a rule's scopes are matched against: the request's tags and the API key it authenticated with.</summary>
/// <param name="Tags">The request's <c>tensorzero::tags</c>.</param>
/// <param name="ApiKeyPublicId">The public id of the request's API key; null when unauthenticated.</param>
internal readonly record struct RateLimitScopeInfo(IReadOnlyDictionary<string, string> Tags, string? ApiKeyPublicId);

/// <summary>What a limit counts.</summary>
internal enum RateLimitResource
{
    /// <summary><c>model_inferences_per_*</c>: one per model provider call.</summary>
    ModelInference,

    /// <summary><c>tokens_per_*</c>: input and output tokens (estimated before the call, adjusted after).</summary>
    Token,
}

/// <summary>A limit's window: the refill interval of its bucket.</summary>
internal enum RateLimitInterval
{
    Second,
    Minute,
    Hour,
    Day,
    Week,

    /// <summary>30 days, as TensorZero's Valkey backend counts it.</summary>
    Month,
}

/// <summary>
/// One <c>RESOURCE_per_INTERVAL</c> of a rule: a token bucket that holds at most <see cref="Capacity"/> and gets
/// <see cref="RefillRate"/> back each whole interval. <c>x_per_minute = 100</c> is capacity 100, refill 100.
/// </summary>
internal sealed record RateLimit(RateLimitResource Resource, RateLimitInterval Interval, long Capacity, long RefillRate)
{
    /// <summary>The interval in microseconds (what the store's script counts in).</summary>
    public long IntervalMicroseconds => Interval switch
    {
        RateLimitInterval.Second => 1_000_000L,
        RateLimitInterval.Minute => 60_000_000L,
        RateLimitInterval.Hour => 3_600_000_000L,
        RateLimitInterval.Day => 86_400_000_000L,
        RateLimitInterval.Week => 604_800_000_000L,
        _ => 2_592_000_000_000L,
    };

    /// <summary>TensorZero's name of the resource in messages (<c>model_inference</c>, <c>token</c>).</summary>
    public string ResourceName => Resource == RateLimitResource.ModelInference ? "model_inference" : "token";
}

/// <summary>A rule's <c>tag_value</c> / <c>api_key_public_id</c>: one value, each value separately, or all values together.</summary>
internal enum ScopeValueKind
{
    Concrete,

    /// <summary><c>tensorzero::each</c>: a bucket per value.</summary>
    Each,

    /// <summary><c>tensorzero::total</c>: one bucket for every request that has the tag.</summary>
    Total,
}

/// <summary>One entry of a rule's <c>scope</c>.</summary>
/// <param name="TagKey">The tag's key; null for an API key scope.</param>
/// <param name="Kind">Which values match.</param>
/// <param name="Value">The concrete value (tag value or 12-character public id); null otherwise.</param>
internal sealed record RateLimitScope(string? TagKey, ScopeValueKind Kind, string? Value) : IComparable<RateLimitScope>
{
    /// <summary>Whether this is an <c>api_key_public_id</c> scope.</summary>
    public bool IsApiKey => TagKey is null;

    /// <summary>Tag scopes first, then by key and value: a rule's scopes in any order make the same bucket key.</summary>
    public int CompareTo(RateLimitScope? other) =>
        other is null ? 1
        : IsApiKey != other.IsApiKey ? (IsApiKey ? 1 : -1)
        : string.CompareOrdinal(TagKey, other.TagKey) is var byKey and not 0 ? byKey
        : Kind != other.Kind ? Kind.CompareTo(other.Kind)
        : string.CompareOrdinal(Value, other.Value);

    /// <summary>The configuration's spelling, for messages: <c>tag_key="user", tag_value="tensorzero::each" (matched: "alice")</c>.</summary>
    public string Describe(string? matched) => (TagKey, Kind) switch
    {
        (null, ScopeValueKind.Each) => $"api_key_public_id=\"tensorzero::each\" (matched: \"{matched}\")",
        (null, _) => $"api_key_public_id=\"{Value}\"",
        (_, ScopeValueKind.Each) => $"tag_key=\"{TagKey}\", tag_value=\"tensorzero::each\" (matched: \"{matched}\")",
        (_, ScopeValueKind.Total) => $"tag_key=\"{TagKey}\", tag_value=\"tensorzero::total\"",
        _ => $"tag_key=\"{TagKey}\", tag_value=\"{Value}\"",
    };
}

/// <summary>One <c>[[rate_limiting.rules]]</c>.</summary>
/// <param name="Limits">Its <c>RESOURCE_per_INTERVAL</c> entries.</param>
/// <param name="Scopes">Its <c>scope</c>, sorted (see <see cref="RateLimitScope.CompareTo"/>); empty matches every request.</param>
/// <param name="Priority"><c>priority</c>; null for <c>always = true</c>.</param>
internal sealed record RateLimitRule(ImmutableArray<RateLimit> Limits, ImmutableArray<RateLimitScope> Scopes, long? Priority)
{
    /// <summary>
    /// The part of the bucket key that names the scope values this request matched (so <c>tensorzero::each</c> gets a
    /// bucket per value), or null when some scope does not match.
    /// </summary>
    public string? ScopeKeyIfMatches(in RateLimitScopeInfo info)
    {
        if (Scopes.IsEmpty)
        {
            return "[]";
        }
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartArray();
            foreach (var scope in Scopes)
            {
                string? value;
                if (scope.IsApiKey)
                {
                    value = info.ApiKeyPublicId;
                    if (value is null || (scope.Kind == ScopeValueKind.Concrete && value != scope.Value))
                    {
                        return null;
                    }
                    json.WriteStartObject();
                    json.WriteString("type", scope.Kind == ScopeValueKind.Each ? "ApiKeyPublicIdEach" : "ApiKeyPublicIdConcrete");
                    json.WriteString("api_key_public_id", value);
                    json.WriteEndObject();
                    continue;
                }
                if (!info.Tags.TryGetValue(scope.TagKey!, out value) || (scope.Kind == ScopeValueKind.Concrete && value != scope.Value))
                {
                    return null;
                }
                json.WriteStartObject();
                json.WriteString("type", scope.Kind switch
                {
                    ScopeValueKind.Total => "TagTotal",
                    ScopeValueKind.Each => "TagEach",
                    _ => "TagConcrete",
                });
                json.WriteString("key", scope.TagKey);
                if (scope.Kind != ScopeValueKind.Total)
                {
                    json.WriteString("value", value);
                }
                json.WriteEndObject();
            }
            json.WriteEndArray();
        }
        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    /// <summary>The scope as the configuration spells it, with the values this request matched (messages).</summary>
    public string DescribeScope(in RateLimitScopeInfo info)
    {
        if (Scopes.IsEmpty)
        {
            return "(all requests)";
        }
        var parts = new List<string>(Scopes.Length);
        foreach (var scope in Scopes)
        {
            parts.Add(scope.Describe(scope.IsApiKey ? info.ApiKeyPublicId : info.Tags.GetValueOrDefault(scope.TagKey!)));
        }
        return string.Join(", ", parts);
    }
}

/// <summary>A limit that applies to a request, with the key of its bucket in the store.</summary>
internal sealed record ActiveRateLimit(RateLimit Limit, RateLimitRule Rule, string ScopeKey)
{
    /// <summary>
    /// The bucket's key (without the store prefix): resource, interval and the matched scope values. TensorZero's key has
    /// no interval, so two windows of one resource in one rule would share a bucket; here each window has its own.
    /// </summary>
    public string Key { get; } =
        $"{{\"resource\":\"{Limit.ResourceName}\",\"interval\":\"{Limit.Interval.ToString().ToLowerInvariant()}\",\"scope_key\":{ScopeKey}}}";
}
