namespace TensorZero.Proxy.Routing;

/// <summary>What a request's <c>model</c> names (a function or a model), or why it names nothing callable.</summary>
internal readonly record struct ResolvedTarget(RuntimeModel? Model, RuntimeFunction? Function, int ErrorStatus, string? ErrorMessage)
{
    public bool Found => Model is not null || Function is not null;

    public static ResolvedTarget For(RuntimeModel model) => new(model, null, 0, null);

    public static ResolvedTarget For(RuntimeFunction function) => new(null, function, 0, null);

    public static ResolvedTarget Error(int status, string message) => new(null, null, status, message);
}

/// <summary>
/// Resolves a request's <c>model</c> value (DESIGN.md §2): <c>tensorzero::model_name::M</c>, a shorthand
/// <c>tensorzero::model_name::TYPE::NAME</c>, <c>tensorzero::function_name::F</c>, or a plain name.
/// </summary>
internal static class TargetResolver
{
    public const string ModelPrefix = "tensorzero::model_name::";
    public const string FunctionPrefix = "tensorzero::function_name::";

    /// <summary>TensorZero's words for a <c>model</c> it cannot read (kept: clients and TensorZero's tests match them).</summary>
    public const string PrefixRule = "the `model` field must start with `tensorzero::function_name::` or `tensorzero::model_name::`";

    public static ResolvedTarget Resolve(GatewayRuntime runtime, string model)
    {
        if (model.StartsWith(ModelPrefix, StringComparison.Ordinal))
        {
            var name = model[ModelPrefix.Length..];
            if (name.Length == 0)
            {
                return ResolvedTarget.Error(400, $"model_name (passed in model field after \"{ModelPrefix}\") cannot be empty");
            }
            if (runtime.FindModel(name) is { } configured)
            {
                return ResolvedTarget.For(configured);
            }
            if (name.Contains("::", StringComparison.Ordinal))
            {
                var shorthand = runtime.ResolveShorthand(name, out var why);
                return shorthand is not null
                    ? ResolvedTarget.For(shorthand)
                    : ResolvedTarget.Error(400, $"Invalid model '{model}': {why ?? "not a known shorthand"}.");
            }
            return ResolvedTarget.Error(404, $"Unknown model: {name} (models: {List(runtime.Models.Keys)}). GET /v1/models lists every name that can be used.");
        }
        if (model.StartsWith(FunctionPrefix, StringComparison.Ordinal))
        {
            var name = model[FunctionPrefix.Length..];
            if (name.Length == 0)
            {
                return ResolvedTarget.Error(400, $"function_name (passed in model field after \"{FunctionPrefix}\") cannot be empty");
            }
            return runtime.Functions.TryGetValue(name, out var function)
                ? ResolvedTarget.For(function)
                : ResolvedTarget.Error(404, $"Unknown function: {name} (functions: {List(runtime.Functions.Keys)}). GET /v1/models lists every name that can be used.");
        }
        if (model.StartsWith("tensorzero::", StringComparison.Ordinal))
        {
            return ResolvedTarget.Error(404, $"Unknown model '{model}': {PrefixRule}.");
        }
        // A plain name: a function named so, else a model named so (DESIGN.md §2).
        if (runtime.Functions.TryGetValue(model, out var plainFunction))
        {
            return ResolvedTarget.For(plainFunction);
        }
        return runtime.FindModel(model) is { } plain
            ? ResolvedTarget.For(plain)
            : ResolvedTarget.Error(404,
                $"Unknown model '{model}': {PrefixRule}, or be the name of a configured function or model " +
                $"(known models: {List(runtime.Models.Keys)}; functions: {List(runtime.Functions.Keys)}). GET /v1/models lists every name that can be used.");
    }

    private static string List(IEnumerable<string> names)
    {
        var joined = string.Join(", ", names.Order(StringComparer.Ordinal).Select(k => $"'{k}'"));
        return joined.Length == 0 ? "none" : joined;
    }
}
