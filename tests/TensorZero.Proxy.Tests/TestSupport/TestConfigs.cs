namespace TensorZero.Proxy.Tests.TestSupport;

/// <summary>tensorzero.toml fragments the functional tests assemble around their fake providers.</summary>
internal static class TestConfigs
{
    /// <summary>
    /// Dummy models for the client-protocol tests (Responses, Anthropic Messages): <c>dummy</c> (text), <c>tool</c> (a tool
    /// call), <c>echo</c> (echoes the messages it got), <c>broken</c> (fails), and function <c>basic</c> on <c>dummy</c>.
    /// </summary>
    public const string DummyProtocolModels = """
        [models.dummy]
        routing = ["dummy"]
        [models.dummy.providers.dummy]
        type = "dummy"
        model_name = "test"

        [models.tool]
        routing = ["dummy"]
        [models.tool.providers.dummy]
        type = "dummy"
        model_name = "tool"

        [models.echo]
        routing = ["dummy"]
        [models.echo.providers.dummy]
        type = "dummy"
        model_name = "echo_request_messages"

        [models.broken]
        routing = ["dummy"]
        [models.broken.providers.dummy]
        type = "dummy"
        model_name = "error"

        [functions.basic]
        type = "chat"
        [functions.basic.variants.v1]
        type = "chat_completion"
        model = "dummy"
        """;

    /// <summary>
    /// <c>[models.M.providers.P]</c> of type openai at <paramref name="apiBase"/>, without credential; its upstream
    /// model name is <paramref name="modelName"/>, by default "P-upstream". <paramref name="extra"/> adds lines.
    /// </summary>
    public static string OpenAIProvider(string model, string name, string apiBase, string extra = "", string? modelName = null) => $"""

        [models.{model}.providers.{name}]
        type = "openai"
        model_name = "{modelName ?? name + "-upstream"}"
        api_base = "{apiBase}/v1/"
        api_key_location = "none"
        {extra}
        """;

    /// <summary><c>[models.M]</c> routed to one such provider.</summary>
    public static string SingleProviderModel(string model, string provider, string apiBase, string? modelName = null) =>
        $"[models.{model}]\nrouting = [\"{provider}\"]\n" + OpenAIProvider(model, provider, apiBase, modelName: modelName);

    /// <summary>A chat function with one chat_completion variant <c>v</c> on <paramref name="model"/>, plus variant lines.</summary>
    public static string SingleVariantFunction(string function, string model, string variantLines = "") => $"""


        [functions.{function}]
        type = "chat"

        [functions.{function}.variants.v]
        type = "chat_completion"
        model = "{model}"
        {variantLines}
        """;
}
