using System.Collections.Immutable;
using TensorZero.Proxy.Configuration;
using TensorZero.Proxy.Configuration.Toml;

namespace TensorZero.Proxy.RateLimiting;

/// <summary>
/// Maps <c>[rate_limiting]</c> (TensorZero's syntax) to a <see cref="RateLimitingConfig"/>, reporting every error with
/// its key path: <c>rules = [{ model_inferences_per_minute = 100, tokens_per_hour = { capacity = 10000, refill_rate = 1000 },
/// priority = 1 | always = true, scope = [{ tag_key = "user", tag_value = "tensorzero::each" }, { api_key_public_id = "..." }] }]</c>.
/// </summary>
internal static class RateLimitingConfigMapper
{
    /// <summary>The length of a TensorZero API key's public id (<c>sk-t0-&lt;12 characters&gt;-&lt;secret&gt;</c>).</summary>
    public const int PublicIdLength = 12;

    private const string Path = "rate_limiting";
    private const string Each = "tensorzero::each";
    private const string Total = "tensorzero::total";

    public static RateLimitingConfig Map(TomlConfigReader reader, TomlTable root)
    {
        if (reader.Table(root, "", Path) is not { } table)
        {
            return RateLimitingConfig.None;
        }
        reader.CheckKeys(table, Path, ["rules", "enabled", "backend", "default_cost"]);
        var enabled = reader.Bool(table, Path, "enabled") ?? true;
        if (reader.Number(table, Path, "default_cost") is { } cost)
        {
            if (cost < 0)
            {
                reader.Error(table, "default_cost", Path + ".default_cost", "must be a non-negative number of dollars");
            }
            else
            {
                // It only prices cost rules, which are refused below.
                reader.Warn(Path + ".default_cost", TomlConfigReader.CompatibilityNote + " (cost rate limits are not supported)");
            }
        }
        switch (reader.String(table, Path, "backend"))
        {
            case null or "auto" or "valkey":
                break;
            case "postgres":
                reader.Error(table, "backend", Path + ".backend",
                    "TensorZero.Proxy keeps rate limits in Valkey/Redis only (it has no Postgres); use backend = \"valkey\" or \"auto\" and set TENSORZERO_VALKEY_URL");
                break;
            case var other:
                reader.Error(table, "backend", Path + ".backend", $"unknown backend '{other}' (supported: auto, valkey, postgres)");
                break;
        }

        var rules = ImmutableArray.CreateBuilder<RateLimitRule>();
        if (reader.Array(table, Path, "rules") is { } array)
        {
            var seenScopes = new List<(ImmutableArray<RateLimitScope> Scopes, int Index)>();
            for (var i = 0; i < array.Count; i++)
            {
                var rulePath = $"{Path}.rules[{i}]";
                if (array[i] is not TomlTable ruleTable)
                {
                    reader.Error(rulePath, "must be a table");
                    continue;
                }
                if (MapRule(reader, ruleTable, rulePath) is not { } rule)
                {
                    continue;
                }
                // TensorZero refuses two rules with the same scope: which one's limits hold would be ambiguous.
                var duplicate = seenScopes.FindIndex(s => s.Scopes.SequenceEqual(rule.Scopes));
                if (duplicate >= 0)
                {
                    reader.Error(rulePath + ".scope", $"rules[{seenScopes[duplicate].Index}] has the same scope; merge the two rules into one");
                    continue;
                }
                seenScopes.Add((rule.Scopes, i));
                rules.Add(rule);
            }
        }
        if (!enabled && rules.Count > 0)
        {
            reader.Warn(Path + ".enabled", "is false: the rate limiting rules are not enforced");
        }
        return new RateLimitingConfig { Rules = rules.ToImmutable(), Enabled = enabled };
    }

    private static RateLimitRule? MapRule(TomlConfigReader reader, TomlTable table, string path)
    {
        var errorsBefore = reader.ErrorCount;
        var limits = ImmutableArray.CreateBuilder<RateLimit>();
        foreach (var (key, value) in table)
        {
            if (key is "priority" or "always" or "scope")
            {
                continue;
            }
            var keyPath = $"{path}.{key}";
            var per = key.IndexOf("_per_", StringComparison.Ordinal);
            if (per < 0)
            {
                reader.Error(table, key, keyPath,
                    "unknown key (expected priority, always, scope, or a limit such as model_inferences_per_minute or tokens_per_hour)");
                continue;
            }
            RateLimitResource? resource = key[..per] switch
            {
                "model_inferences" => RateLimitResource.ModelInference,
                "tokens" => RateLimitResource.Token,
                _ => null,
            };
            if (key[..per] == "cost")
            {
                reader.Error(table, key, keyPath,
                    "cost rate limits are not supported by TensorZero.Proxy (it does not compute inference costs); use model_inferences_per_* or tokens_per_*");
                continue;
            }
            if (resource is null)
            {
                reader.Error(table, key, keyPath, $"unknown resource '{key[..per]}' (supported: model_inferences, tokens)");
                continue;
            }
            RateLimitInterval? interval = key[(per + 5)..] switch
            {
                "second" => RateLimitInterval.Second,
                "minute" => RateLimitInterval.Minute,
                "hour" => RateLimitInterval.Hour,
                "day" => RateLimitInterval.Day,
                "week" => RateLimitInterval.Week,
                "month" => RateLimitInterval.Month,
                _ => null,
            };
            if (interval is null)
            {
                reader.Error(table, key, keyPath, $"unknown interval '{key[(per + 5)..]}' (supported: second, minute, hour, day, week, month)");
                continue;
            }
            long capacity, refill;
            switch (value)
            {
                case long amount when amount >= 0:
                    (capacity, refill) = (amount, amount);
                    break;
                case TomlTable bucket:
                    reader.CheckKeys(bucket, keyPath, ["capacity", "refill_rate"]);
                    var c = reader.Integer(bucket, keyPath, "capacity", 0, long.MaxValue / 2, required: true);
                    var r = reader.Integer(bucket, keyPath, "refill_rate", 0, long.MaxValue / 2, required: true);
                    if (c is null || r is null)
                    {
                        continue;
                    }
                    (capacity, refill) = (c.Value, r.Value);
                    break;
                default:
                    reader.Error(table, key, keyPath,
                        "must be a non-negative integer or { capacity = .., refill_rate = .. } with non-negative integers");
                    continue;
            }
            if (limits.Any(l => l.Resource == resource && l.Interval == interval))
            {
                reader.Error(table, key, keyPath, "is given twice in this rule");
                continue;
            }
            limits.Add(new RateLimit(resource.Value, interval.Value, capacity, refill));
        }

        var always = reader.Bool(table, path, "always");
        var priority = reader.Integer(table, path, "priority", 0, int.MaxValue);
        switch (always, priority)
        {
            case (true, not null):
                reader.Error(table, "always", path + ".always", "cannot be set together with priority; a rule has either always = true or a priority");
                break;
            case (not true, null) when !table.ContainsKey("priority"):
                reader.Error(path, "needs priority = N (a non-negative integer) or always = true");
                break;
        }

        var scopes = ImmutableArray.CreateBuilder<RateLimitScope>();
        if (reader.Array(table, path, "scope") is { } scopeArray)
        {
            for (var i = 0; i < scopeArray.Count; i++)
            {
                var scopePath = $"{path}.scope[{i}]";
                if (scopeArray[i] is not TomlTable scopeTable)
                {
                    reader.Error(scopePath, "must be a table: { tag_key = \"..\", tag_value = \"..\" } or { api_key_public_id = \"..\" }");
                    continue;
                }
                if (MapScope(reader, scopeTable, scopePath) is { } scope)
                {
                    if (scopes.Contains(scope))
                    {
                        reader.Error(scopePath, "duplicate scopes are not allowed in the same rule");
                        continue;
                    }
                    scopes.Add(scope);
                }
            }
        }
        if (reader.ErrorCount != errorsBefore)
        {
            return null;
        }
        scopes.Sort();
        return new RateLimitRule(limits.ToImmutable(), scopes.ToImmutable(), always == true ? null : priority);
    }

    private static RateLimitScope? MapScope(TomlConfigReader reader, TomlTable table, string path)
    {
        if (table.ContainsKey("tag_key"))
        {
            reader.CheckKeys(table, path, ["tag_key", "tag_value"]);
            var key = reader.String(table, path, "tag_key", required: true);
            var value = reader.String(table, path, "tag_value", required: true);
            if (key is null || value is null)
            {
                return null;
            }
            switch (value)
            {
                case Each:
                    return new RateLimitScope(key, ScopeValueKind.Each, null);
                case Total:
                    return new RateLimitScope(key, ScopeValueKind.Total, null);
                case var v when v.StartsWith("tensorzero::", StringComparison.Ordinal):
                    reader.Error(table, "tag_value", path + ".tag_value",
                        $"'{v}': tag values besides tensorzero::each and tensorzero::total may not start with \"tensorzero::\"");
                    return null;
                default:
                    return new RateLimitScope(key, ScopeValueKind.Concrete, value);
            }
        }
        if (table.ContainsKey("api_key_public_id"))
        {
            reader.CheckKeys(table, path, ["api_key_public_id"]);
            switch (reader.String(table, path, "api_key_public_id", required: true))
            {
                case null:
                    return null;
                case Each:
                    return new RateLimitScope(null, ScopeValueKind.Each, null);
                case var v when v.StartsWith("tensorzero::", StringComparison.Ordinal):
                    reader.Error(table, "api_key_public_id", path + ".api_key_public_id",
                        $"'{v}': API key public id values besides tensorzero::each may not start with \"tensorzero::\"");
                    return null;
                case var v when v.Length != PublicIdLength:
                    reader.Error(table, "api_key_public_id", path + ".api_key_public_id",
                        $"API key public ID `{v}` must be {PublicIdLength} characters long. Check that this is a TensorZero API key public ID.");
                    return null;
                case var v:
                    return new RateLimitScope(null, ScopeValueKind.Concrete, v);
            }
        }
        reader.Error(path, "must have tag_key and tag_value, or api_key_public_id");
        return null;
    }
}
