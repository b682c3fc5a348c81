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

    public static ResolvedTarget Resolve(GatewayRuntime runtime, string model)
    {
        if (model.StartsWith(ModelPrefix, StringComparison.Ordinal))
        {
            var name = model[ModelPrefix.Length..];
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
            return NotFound(runtime, model);
        }
        if (model.StartsWith(FunctionPrefix, StringComparison.Ordinal))
        {
            return runtime.Functions.TryGetValue(model[FunctionPrefix.Length..], out var function)
                ? ResolvedTarget.For(function)
                : NotFound(runtime, model);
        }
        if (model.StartsWith("tensorzero::", StringComparison.Ordinal))
        {
            return ResolvedTarget.Error(404,
                $"Unknown model '{model}': a 'tensorzero::' name must start with '{ModelPrefix}' or '{FunctionPrefix}'.");
        }
        // A plain name: a function named so, else a model named so (DESIGN.md §2).
        if (runtime.Functions.TryGetValue(model, out var plainFunction))
        {
            return ResolvedTarget.For(plainFunction);
        }
        return runtime.FindModel(model) is { } plain ? ResolvedTarget.For(plain) : NotFound(runtime, model);
    }

    private static ResolvedTarget NotFound(GatewayRuntime runtime, string model)
    {
        static string List(IEnumerable<string> names)
        {
            var joined = string.Join(", ", names.Order(StringComparer.Ordinal).Select(k => $"'{k}'"));
            return joined.Length == 0 ? "none" : joined;
        }
        return ResolvedTarget.Error(404,
            $"Unknown model '{model}' (known models: {List(runtime.Models.Keys)}; functions: {List(runtime.Functions.Keys)}). " +
            "GET /v1/models lists every name that can be used.");
    }
}
