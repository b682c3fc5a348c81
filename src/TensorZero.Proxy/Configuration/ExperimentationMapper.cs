using System.Collections.Frozen;
using System.Collections.Immutable;
using TensorZero.Proxy.Configuration.Toml;

namespace TensorZero.Proxy.Configuration;

/// <summary>
/// Maps <c>[functions.F.experimentation]</c> to <see cref="ExperimentationConfig"/> with TensorZero's types: <c>static</c>
/// (<c>candidate_variants</c> as weights or a list of equal weights, <c>fallback_variants</c>) and <c>adaptive</c>
/// (track-and-stop; sampled uniformly over its candidates here, with a warning), and the legacy <c>static_weights</c>,
/// <c>uniform</c> and <c>track_and_stop</c>. Without the section, TensorZero's legacy rule over the variants' <c>weight</c>s.
/// </summary>
internal static class ExperimentationMapper
{
    /// <summary>Null when the section has errors (they are reported).</summary>
    public static ExperimentationConfig? Map(
        TomlConfigReader reader, TomlTable function, string path, TomlTable? variantTables, IReadOnlyDictionary<string, VariantConfig> variants,
        FrozenSet<string> metrics)
    {
        // Document order of the variants (TomlTable keeps it): the legacy fallbacks are tried in it.
        var order = variantTables?.Keys.Where(variants.ContainsKey).ToList() ?? [];
        var declared = variantTables?.Keys.ToHashSet(StringComparer.Ordinal) ?? [];
        if (reader.Table(function, path, "experimentation") is not { } table)
        {
            return Legacy(order, variants);
        }

        var expPath = path + ".experimentation";
        var weighted = order.Where(v => variants[v].Weight is not null).ToList();
        if (weighted.Count > 0)
        {
            reader.Error(expPath, "cannot be combined with variant weights (set on: " + string.Join(", ", weighted) +
                "); use either the experimentation section or the variants' weight");
        }

        var errorsBefore = reader.ErrorCount;
        var result = MapOne(reader, table, expPath, declared, order, metrics, allowNamespaces: true);
        if (reader.Table(table, expPath, "namespaces") is { } namespaces)
        {
            foreach (var (ns, value) in namespaces)
            {
                var nsPath = $"{expPath}.namespaces.{ns}";
                if (value is not TomlTable nsTable)
                {
                    reader.Error(namespaces, ns, nsPath, "must be an experimentation table");
                    continue;
                }
                if (ns.Length == 0 || ns.StartsWith("tensorzero::", StringComparison.Ordinal))
                {
                    reader.Error(namespaces, ns, nsPath, "a namespace must be non-empty and not start with 'tensorzero::'");
                }
                MapOne(reader, nsTable, nsPath, declared, order, metrics, allowNamespaces: false);
            }
            reader.Warn(expPath + ".namespaces", TomlConfigReader.CompatibilityNote + " (namespaces are not applied: every request uses the base experimentation)");
        }
        return reader.ErrorCount != errorsBefore ? null : result;
    }

    /// <summary>
    /// TensorZero's rule without <c>[experimentation]</c>: when any variant has a <c>weight</c>, the variants with a
    /// positive weight are the candidates, those without one are fallbacks (tried in document order once every
    /// candidate failed), and weight 0 disables a variant (it runs only when pinned). Without weights, every variant is
    /// a candidate of equal weight.
    /// </summary>
    internal static ExperimentationConfig Legacy(IReadOnlyList<string> order, IReadOnlyDictionary<string, VariantConfig> variants)
    {
        if (!order.Any(v => variants[v].Weight is not null))
        {
            return new ExperimentationConfig([.. order.Select(v => new KeyValuePair<string, double>(v, 1))], []);
        }
        return new ExperimentationConfig(
            [.. order.Where(v => variants[v].Weight > 0).Select(v => new KeyValuePair<string, double>(v, variants[v].Weight!.Value))],
            [.. order.Where(v => variants[v].Weight is null)]);
    }

    private static ExperimentationConfig? MapOne(
        TomlConfigReader reader, TomlTable table, string path, HashSet<string> declared, List<string> order, FrozenSet<string> metrics, bool allowNamespaces)
    {
        var type = reader.String(table, path, "type", required: true);
        string[] namespaces = allowNamespaces ? ["namespaces"] : [];
        string[] adaptiveKeys = ["metric", "candidate_variants", "fallback_variants", "min_samples_per_variant", "delta", "epsilon",
            "update_period_s", "min_prob", "max_samples_per_variant"];
        List<KeyValuePair<string, double>>? candidates;
        switch (type)
        {
            case null:
                return null;
            case "static" or "static_weights":
                reader.CheckKeys(table, path, ["type", "candidate_variants", "fallback_variants", .. namespaces]);
                candidates = type == "static" ? StaticCandidates(reader, table, path) : WeightTable(reader, table, path, required: true);
                if (type == "static_weights")
                {
                    reader.Warn(path + ".type", "static_weights is deprecated by TensorZero; use type = \"static\"");
                }
                break;
            case "uniform":
                reader.CheckKeys(table, path, ["type", "candidate_variants", "fallback_variants", .. namespaces]);
                reader.Warn(path + ".type", "uniform is deprecated by TensorZero; use type = \"static\"");
                if (!table.ContainsKey("candidate_variants") && !table.ContainsKey("fallback_variants"))
                {
                    return new ExperimentationConfig([.. order.Select(v => new KeyValuePair<string, double>(v, 1))], []);
                }
                candidates = table.ContainsKey("candidate_variants") ? EqualWeights(reader, table, path) : [];
                break;
            case "adaptive" or "track_and_stop":
                reader.CheckKeys(table, path, ["type", .. type == "adaptive" ? ["algorithm"] : Array.Empty<string>(), .. adaptiveKeys, .. namespaces]);
                candidates = Adaptive(reader, table, path, type, metrics);
                break;
            default:
                reader.Error(table, "type", path + ".type",
                    $"unknown experimentation type '{type}' (supported: static, adaptive; legacy: static_weights, uniform, track_and_stop)");
                return null;
        }
        var fallbacks = reader.StringArray(table, path, "fallback_variants") ?? [];
        if (candidates is null)
        {
            return null;
        }
        var errorsBefore = reader.ErrorCount;
        Validate(reader, table, path, candidates, fallbacks, declared);
        return reader.ErrorCount != errorsBefore ? null : new ExperimentationConfig([.. candidates], [.. fallbacks]);
    }

    /// <summary><c>static</c>: <c>candidate_variants</c> is a table of weights or a list (weight 1 each).</summary>
    private static List<KeyValuePair<string, double>>? StaticCandidates(TomlConfigReader reader, TomlTable table, string path)
    {
        if (!table.TryGetValue("candidate_variants", out var value))
        {
            reader.Error(path, "missing required key 'candidate_variants'");
            return null;
        }
        if (value is TomlArray)
        {
            return EqualWeights(reader, table, path);
        }
        if (value is TomlTable)
        {
            return WeightTable(reader, table, path, required: true);
        }
        reader.Error(table, "candidate_variants", path + ".candidate_variants",
            $"must be a table of weights or a list of variant names (got {TomlConfigReader.Describe(value)})");
        return null;
    }

    private static List<KeyValuePair<string, double>>? EqualWeights(TomlConfigReader reader, TomlTable table, string path)
    {
        var names = reader.StringArray(table, path, "candidate_variants");
        if (names is null)
        {
            return null;
        }
        var duplicate = names.GroupBy(n => n, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            reader.Error(table, "candidate_variants", path + ".candidate_variants", $"names variant '{duplicate.Key}' more than once");
            return null;
        }
        return [.. names.Select(n => new KeyValuePair<string, double>(n, 1))];
    }

    private static List<KeyValuePair<string, double>>? WeightTable(TomlConfigReader reader, TomlTable table, string path, bool required)
    {
        if (reader.Table(table, path, "candidate_variants", required) is not { } weights)
        {
            return null;
        }
        var result = new List<KeyValuePair<string, double>>();
        foreach (var (name, value) in weights)
        {
            var weight = value switch { long l => l, double d => d, _ => double.NaN };
            if (!double.IsFinite(weight) || weight < 0)
            {
                reader.Error(weights, name, $"{path}.candidate_variants.{name}", "must be a number >= 0");
                continue;
            }
            result.Add(new(name, weight));
        }
        return result;
    }

    /// <summary>
    /// <c>adaptive</c> / <c>track_and_stop</c>: its keys are validated as TensorZero does; the gateway samples uniformly
    /// over <c>candidate_variants</c> (a warning says so).
    /// </summary>
    private static List<KeyValuePair<string, double>>? Adaptive(TomlConfigReader reader, TomlTable table, string path, string type, FrozenSet<string> metrics)
    {
        if (reader.String(table, path, "algorithm") is { } algorithm && algorithm != "track_and_stop")
        {
            reader.Error(table, "algorithm", path + ".algorithm", $"unknown algorithm '{algorithm}' (supported: track_and_stop)");
        }
        if (reader.String(table, path, "metric", required: true) is { } metric && !metrics.Contains(metric))
        {
            reader.Error(table, "metric", path + ".metric",
                $"names metric '{metric}', which is not defined under [metrics] (defined: {ConfigLoader.JoinOrNone(metrics.Order(StringComparer.Ordinal))})");
        }
        var minSamples = reader.Integer(table, path, "min_samples_per_variant", 1, long.MaxValue) ?? 10;
        if (reader.Number(table, path, "delta") is { } delta && (delta <= 0 || delta >= 1))
        {
            reader.Error(table, "delta", path + ".delta", $"must be in (0, 1) (got {delta})");
        }
        if (reader.Number(table, path, "epsilon") is < 0)
        {
            reader.Error(table, "epsilon", path + ".epsilon", "must be >= 0");
        }
        reader.Integer(table, path, "update_period_s", 0, long.MaxValue);
        if (reader.Integer(table, path, "max_samples_per_variant", 0, long.MaxValue) is { } maxSamples && maxSamples < minSamples)
        {
            reader.Error(table, "max_samples_per_variant", path + ".max_samples_per_variant",
                $"must be >= min_samples_per_variant ({minSamples}; got {maxSamples})");
        }
        if (!table.ContainsKey("candidate_variants"))
        {
            reader.Error(path, "missing required key 'candidate_variants'");
            return null;
        }
        var candidates = EqualWeights(reader, table, path);
        if (candidates is null)
        {
            return null;
        }
        if (candidates.Count == 0)
        {
            reader.Error(table, "candidate_variants", path + ".candidate_variants", "must name at least one variant");
        }
        if (reader.Number(table, path, "min_prob") is { } minProb)
        {
            if (minProb < 0)
            {
                reader.Error(table, "min_prob", path + ".min_prob", "must be >= 0");
            }
            else if (minProb * candidates.Count > 1 + 1e-9)
            {
                reader.Error(table, "min_prob", path + ".min_prob",
                    $"is too large: min_prob ({minProb}) times the {candidates.Count} candidate variants exceeds 1");
            }
        }
        reader.Warn(path + ".type", (type == "track_and_stop" ? "track_and_stop is deprecated by TensorZero (use type = \"adaptive\"); " : "") +
            "adaptive experimentation is not implemented; sampling uniformly over candidate_variants");
        return candidates;
    }

    /// <summary>Names exist, no fallback repeats or is also a candidate, and something can be sampled (TensorZero's checks).</summary>
    private static void Validate(
        TomlConfigReader reader, TomlTable table, string path, List<KeyValuePair<string, double>> candidates, string[] fallbacks, HashSet<string> declared)
    {
        foreach (var (name, _) in candidates.Where(c => !declared.Contains(c.Key)))
        {
            reader.Error(table, "candidate_variants", path + ".candidate_variants", $"names variant '{name}', which is not defined under the function's variants");
        }
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var name in fallbacks)
        {
            if (!declared.Contains(name))
            {
                reader.Error(table, "fallback_variants", path + ".fallback_variants", $"names variant '{name}', which is not defined under the function's variants");
            }
            else if (!seen.Add(name))
            {
                reader.Error(table, "fallback_variants", path + ".fallback_variants", $"names variant '{name}' more than once");
            }
            else if (candidates.Any(c => c.Key == name))
            {
                reader.Error(table, "fallback_variants", path + ".fallback_variants", $"names variant '{name}', which is also a candidate");
            }
        }
        if (!candidates.Any(c => c.Value > 0) && fallbacks.Length == 0)
        {
            reader.Error(path, "has no candidate with a positive weight and no fallback variant: nothing could be sampled");
        }
    }
}
