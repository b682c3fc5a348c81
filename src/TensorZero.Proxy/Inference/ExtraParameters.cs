using System.Text;
using System.Text.Json;
using TensorZero.Proxy.Routing;
using TensorZero.Proxy.Transforms;

namespace TensorZero.Proxy.Inference;

/// <summary>One place an attempt can go for this request: (variant, model, provider).</summary>
internal readonly record struct AttemptTarget(RuntimeVariant? Variant, RuntimeModel Model, RuntimeProvider Provider);

/// <summary>
/// Reads and validates a request's <c>tensorzero::extra_headers</c> and <c>tensorzero::extra_body</c>
/// (DESIGN.md §5) before any attempt: entry shapes as in TensorZero (unqualified, <c>variant_name</c>,
/// <c>model_name</c> + optional <c>provider_name</c>), unknown keys rejected, header rules and limits,
/// filters naming an existing variant/model/provider of this request's target, credential headers only
/// where every provider they can reach allows it, and body patches that apply to every attempt's body.
/// Any violation is a 400 naming the entry; nothing is sent upstream.
/// </summary>
internal static class ExtraParameters
{
    private const string HeadersField = "tensorzero::extra_headers";
    private const string BodyField = "tensorzero::extra_body";

    /// <summary>Whether the request carries extra headers or body entries.</summary>
    public static bool InRequest(IReadOnlyDictionary<string, JsonElement> fields) =>
        fields.Count > 0 && (fields.ContainsKey(HeadersField) || fields.ContainsKey(BodyField));

    /// <summary>Every (variant, model, provider) an attempt of this target may use.</summary>
    public static List<AttemptTarget> Targets(ResolvedTarget target, string? pinnedVariant)
    {
        var targets = new List<AttemptTarget>();
        if (target.Model is { } model)
        {
            targets.AddRange(model.Providers.Select(p => new AttemptTarget(null, model, p)));
        }
        else
        {
            foreach (var variant in target.Function!.Variants.Values)
            {
                if (pinnedVariant is null || variant.Name == pinnedVariant)
                {
                    targets.AddRange(variant.Model.Providers.Select(p => new AttemptTarget(variant, variant.Model, p)));
                }
            }
        }
        return targets;
    }

    public static bool TryRead(
        IReadOnlyDictionary<string, JsonElement> fields, ResolvedTarget target, List<AttemptTarget> targets, ExtraHeaderLimits limits,
        out UnfilteredInferenceExtraHeaders headers, out UnfilteredInferenceExtraBody body, out string? error)
    {
        headers = UnfilteredInferenceExtraHeaders.Empty;
        body = UnfilteredInferenceExtraBody.Empty;
        error = null;
        if (fields.TryGetValue(HeadersField, out var headerJson) && !TryReadHeaders(headerJson, target, targets, limits, out headers, out error))
        {
            return false;
        }
        if (fields.TryGetValue(BodyField, out var bodyJson) && !TryReadBody(bodyJson, target, out body, out error))
        {
            return false;
        }
        return true;
    }

    private static bool TryReadHeaders(
        JsonElement json, ResolvedTarget target, List<AttemptTarget> targets, ExtraHeaderLimits limits,
        out UnfilteredInferenceExtraHeaders result, out string? error)
    {
        result = UnfilteredInferenceExtraHeaders.Empty;
        if (json.ValueKind != JsonValueKind.Array)
        {
            error = $"'{HeadersField}' must be an array of entries such as {{\"name\": \"X-Header\", \"value\": \"v\"}}.";
            return false;
        }
        if (json.GetArrayLength() > limits.MaxEntries)
        {
            error = $"'{HeadersField}' has {json.GetArrayLength()} entries; at most {limits.MaxEntries} are allowed.";
            return false;
        }

        var entries = new List<ExtraHeaderEntry>();
        var index = 0;
        foreach (var item in json.EnumerateArray())
        {
            var where = $"'{HeadersField}'[{index++}]";
            if (!TryReadEntry(item, "name", where, target, out var filter, out var name, out var value, out error))
            {
                return false;
            }
            if (value is { ValueKind: not JsonValueKind.String })
            {
                error = $"{where}: 'value' must be a string.";
                return false;
            }
            var text = value?.GetString();
            var reached = targets.Where(t => filter.Matches(t.Variant?.Name, t.Model.Name, t.Provider.Name)).ToList();
            var allowCredentials = reached.Count > 0 && reached.All(t => t.Provider.Config.AllowCredentialOverride);
            if (ExtraHeaderRules.Check(name, text, limits, allowCredentials) is { } problem)
            {
                error = $"{where}: {problem}.";
                return false;
            }
            entries.Add(new ExtraHeaderEntry(filter, name, text));
        }
        result = new UnfilteredInferenceExtraHeaders(entries);
        error = null;
        return true;
    }

    private static bool TryReadBody(JsonElement json, ResolvedTarget target, out UnfilteredInferenceExtraBody result, out string? error)
    {
        result = UnfilteredInferenceExtraBody.Empty;
        if (json.ValueKind != JsonValueKind.Array)
        {
            error = $"'{BodyField}' must be an array of entries such as {{\"pointer\": \"/temperature\", \"value\": 0.5}}.";
            return false;
        }
        var entries = new List<ExtraBodyEntry>();
        var index = 0;
        foreach (var item in json.EnumerateArray())
        {
            var where = $"'{BodyField}'[{index++}]";
            if (!TryReadEntry(item, "pointer", where, target, out var filter, out var pointer, out var value, out error))
            {
                return false;
            }
            if (JsonPointerPatch.CheckPointer(pointer) is { } problem)
            {
                error = $"{where}: {problem}.";
                return false;
            }
            entries.Add(new ExtraBodyEntry(filter, pointer, value?.GetRawText()));
        }
        result = new UnfilteredInferenceExtraBody(entries);
        error = null;
        return true;
    }

    /// <summary>The shared entry shape: key, exactly one of value / delete: true, and an optional qualifier.</summary>
    private static bool TryReadEntry(
        JsonElement item, string keyName, string where, ResolvedTarget target,
        out ExtraEntryFilter filter, out string key, out JsonElement? value, out string? error)
    {
        filter = ExtraEntryFilter.Always;
        key = "";
        value = null;
        if (item.ValueKind != JsonValueKind.Object)
        {
            error = $"{where}: must be an object.";
            return false;
        }

        string? variantName = null, modelName = null, providerName = null;
        var delete = false;
        var hasKey = false;
        foreach (var property in item.EnumerateObject())
        {
            switch (property.Name)
            {
                case var n when n == keyName && property.Value.ValueKind == JsonValueKind.String:
                    key = property.Value.GetString()!;
                    hasKey = true;
                    break;
                case "value":
                    value = property.Value;
                    break;
                case "delete" when property.Value.ValueKind == JsonValueKind.True:
                    delete = true;
                    break;
                case "delete":
                    error = $"{where}: 'delete' must be true when present.";
                    return false;
                case "variant_name" when property.Value.ValueKind == JsonValueKind.String:
                    variantName = property.Value.GetString();
                    break;
                case "model_name" when property.Value.ValueKind == JsonValueKind.String:
                    modelName = property.Value.GetString();
                    break;
                case "provider_name" when property.Value.ValueKind == JsonValueKind.String:
                    providerName = property.Value.GetString();
                    break;
                case var n when n == keyName || n is "variant_name" or "model_name" or "provider_name":
                    error = $"{where}: '{n}' must be a string.";
                    return false;
                default:
                    error = $"{where}: unknown key '{property.Name}' (expected {keyName}, value or delete, and optionally variant_name, or model_name with provider_name).";
                    return false;
            }
        }
        if (!hasKey)
        {
            error = $"{where}: needs a string '{keyName}'.";
            return false;
        }
        if ((value is not null) == delete)
        {
            error = $"{where}: needs exactly one of 'value' or 'delete': true.";
            return false;
        }
        if (variantName is not null && (modelName is not null || providerName is not null))
        {
            error = $"{where}: 'variant_name' cannot be combined with 'model_name' or 'provider_name'.";
            return false;
        }
        if (providerName is not null && modelName is null)
        {
            error = $"{where}: 'provider_name' needs 'model_name'.";
            return false;
        }

        if (variantName is not null)
        {
            if (target.Function is null || !target.Function.Variants.ContainsKey(variantName))
            {
                error = target.Function is null
                    ? $"{where}: 'variant_name' is '{variantName}', but this request calls a model, which has no variants."
                    : $"{where}: function '{target.Function.Name}' has no variant '{variantName}'.";
                return false;
            }
            filter = new ExtraEntryFilter(ExtraEntryScope.Variant, VariantName: variantName);
        }
        else if (modelName is not null)
        {
            var models = target.Model is { } m ? [m] : target.Function!.Variants.Values.Select(v => v.Model).Distinct().ToList();
            var model = models.FirstOrDefault(x => x.Name == modelName);
            if (model is null)
            {
                error = $"{where}: model '{modelName}' is not used by this request's target (models: {string.Join(", ", models.Select(x => $"'{x.Name}'"))}).";
                return false;
            }
            if (providerName is not null && model.Providers.All(p => p.Name != providerName))
            {
                error = $"{where}: model '{modelName}' has no provider '{providerName}' (providers: {string.Join(", ", model.Providers.Select(p => $"'{p.Name}'"))}).";
                return false;
            }
            filter = new ExtraEntryFilter(ExtraEntryScope.ModelProvider, ModelName: modelName, ProviderName: providerName);
        }
        error = null;
        return true;
    }

    /// <summary>The header operations of one attempt: variant config, provider config, request entries.</summary>
    public static IReadOnlyList<ExtraHeaderEntry> HeaderOperations(UnfilteredInferenceExtraHeaders request, AttemptTarget target) =>
        request.Filter(target.Variant?.Name, target.Model.Name, target.Provider.Name)
            .MergeAfter(target.Variant?.Config.ExtraHeaders ?? [], target.Provider.Config.ExtraHeaders);

    /// <summary>The body patches of one attempt: variant config, provider config, request entries.</summary>
    public static IReadOnlyList<ExtraBodyEntry> BodyOperations(UnfilteredInferenceExtraBody request, AttemptTarget target) =>
        request.Filter(target.Variant?.Name, target.Model.Name, target.Provider.Name)
            .MergeAfter(target.Variant?.Config.ExtraBody ?? [], target.Provider.Config.ExtraBody);

    /// <summary>The field as received, for the record, with the values of credential headers redacted.</summary>
    public static string? RedactedJson(IReadOnlyDictionary<string, JsonElement> fields, string field)
    {
        if (!fields.TryGetValue(field, out var json))
        {
            return null;
        }
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            if (json.ValueKind != JsonValueKind.Array)
            {
                json.WriteTo(writer);
            }
            else
            {
                writer.WriteStartArray();
                foreach (var item in json.EnumerateArray())
                {
                    var credential = item.ValueKind == JsonValueKind.Object && item.TryGetProperty("name", out var name)
                        && name.ValueKind == JsonValueKind.String && CredentialHeaders.IsCredential(name.GetString()!);
                    if (!credential)
                    {
                        item.WriteTo(writer);
                        continue;
                    }
                    writer.WriteStartObject();
                    foreach (var property in item.EnumerateObject())
                    {
                        if (property.Name == "value")
                        {
                            writer.WriteString("value", CredentialHeaders.Redacted);
                        }
                        else
                        {
                            property.WriteTo(writer);
                        }
                    }
                    writer.WriteEndObject();
                }
                writer.WriteEndArray();
            }
        }
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    public static string? HeadersJson(IReadOnlyDictionary<string, JsonElement> fields) => RedactedJson(fields, HeadersField);

    public static string? BodyJson(IReadOnlyDictionary<string, JsonElement> fields) => RedactedJson(fields, BodyField);

    /// <summary>
    /// The request's raw entries (a <c>tensorzero::extra_body</c> or <c>tensorzero::extra_headers</c> array) that apply to
    /// <paramref name="target"/>, as the client sent them: what TensorZero's <c>echo_extra_info</c> dummy reports.
    /// </summary>
    public static JsonElement? EntriesFor(JsonElement? entries, AttemptTarget target)
    {
        if (entries is not { ValueKind: JsonValueKind.Array } array)
        {
            return null;
        }
        var kept = new List<JsonElement>();
        foreach (var entry in array.EnumerateArray())
        {
            if (entry.ValueKind != JsonValueKind.Object)
            {
                continue;
            }
            static string? Text(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
            var variant = Text(entry, "variant_name");
            var model = Text(entry, "model_name");
            var provider = Text(entry, "provider_name");
            if ((variant is null || variant == target.Variant?.Name)
                && (model is null || model == target.Model.Name)
                && (provider is null || provider == target.Provider.Name))
            {
                kept.Add(entry);
            }
        }
        return JsonSerializer.SerializeToElement(kept);
    }
}
