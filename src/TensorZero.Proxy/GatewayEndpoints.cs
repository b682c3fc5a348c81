using System.Reflection;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using TensorZero.Proxy.Feedback;
using TensorZero.Proxy.Inference;
using TensorZero.Proxy.Observability;
using TensorZero.Proxy.Routing;

namespace TensorZero.Proxy;

/// <summary>The gateway's own endpoints: model list, status, health, metrics and feedback.</summary>
internal static class GatewayEndpoints
{
    private static readonly string Version =
        typeof(GatewayEndpoints).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";

    /// <summary>Maps the endpoints on <paramref name="group"/> (the group carries <c>base_path</c>).</summary>
    public static void Map(IEndpointRouteBuilder group)
    {
        group.MapGet("/openai/v1/models", ListModels);
        group.MapGet("/v1/models", ListModels);
        // A catch-all: ids contain '::' and '/' ("tensorzero::model_name::openrouter::meta/llama").
        group.MapGet("/openai/v1/models/{**id}", GetModel);
        group.MapGet("/v1/models/{**id}", GetModel);
        group.MapGet("/status", () => Results.Json(new { status = "ok", version = Version }));
        group.MapObservabilityEndpoints();
        group.MapFeedbackEndpoint();
    }

    /// <summary>
    /// Every name that works as a request's <c>model</c>, in OpenAI's list shape: functions and models (chat completions),
    /// then embedding models (embeddings).
    /// </summary>
    private static IResult ListModels(GatewayRuntimeAccessor runtime) =>
        Results.Json(new { @object = "list", data = Ids(runtime.Current).Select(ModelObject) });

    /// <summary>
    /// One model object, <c>{id, object, created, owned_by}</c> as the list shows it, for an id the list has or a plain
    /// name a request may use (a function, model or embedding model named so); 404 in OpenAI's shape otherwise.
    /// </summary>
    private static IResult GetModel(string id, GatewayRuntimeAccessor runtime)
    {
        var current = runtime.Current;
        id = Uri.UnescapeDataString(id);
        var known = Ids(current).Contains(id)
            || current.Functions.ContainsKey(id) || current.Models.ContainsKey(id) || current.EmbeddingModels.ContainsKey(id)
            || IsUsableShorthand(current, id);
        if (known)
        {
            return Results.Json(ModelObject(id));
        }
        var body = OpenAIError.SerializeWithParam(
            $"The model '{id}' does not exist. GET /openai/v1/models lists every model that can be used.", "invalid_request_error", "model", "model_not_found");
        return Results.Content(System.Text.Encoding.UTF8.GetString(body), "application/json", System.Text.Encoding.UTF8, StatusCodes.Status404NotFound);
    }

    /// <summary>
    /// A shorthand a request may name (<c>tensorzero::model_name::openai::gpt-4o-mini</c>,
    /// <c>tensorzero::embedding_model_name::openai::text-embedding-3-small</c>): not listed, but usable, so found.
    /// </summary>
    private static bool IsUsableShorthand(GatewayRuntime current, string id)
    {
        if (id.StartsWith(TargetResolver.ModelPrefix, StringComparison.Ordinal) && id.IndexOf("::", TargetResolver.ModelPrefix.Length, StringComparison.Ordinal) > 0)
        {
            return current.ResolveShorthand(id[TargetResolver.ModelPrefix.Length..], out _) is not null;
        }
        const string embedding = Embeddings.EmbeddingRequest.ModelPrefix;
        return id.StartsWith(embedding, StringComparison.Ordinal) && id.IndexOf("::", embedding.Length, StringComparison.Ordinal) > 0
            && current.ResolveEmbeddingModel(id[embedding.Length..], out _, out _) is not null;
    }

    private static IEnumerable<string> Ids(GatewayRuntime current) =>
        current.Functions.Keys.Order(StringComparer.Ordinal).Select(name => TargetResolver.FunctionPrefix + name)
            .Concat(current.Models.Keys.Order(StringComparer.Ordinal).Select(name => TargetResolver.ModelPrefix + name))
            .Concat(current.EmbeddingModels.Keys.Order(StringComparer.Ordinal).Select(name => Embeddings.EmbeddingRequest.ModelPrefix + name));

    private static object ModelObject(string id) => new { id, @object = "model", created = 0, owned_by = "tensorzero" };
}
