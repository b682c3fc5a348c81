using System.ClientModel;
using OpenAI.Chat;
using TensorZero.Proxy.Tests.TestSupport;

#pragma warning disable SCME0001 // JsonPatch (additional request properties) is experimental in the OpenAI SDK.

namespace TensorZero.Proxy.Tests.Functional;

/// <summary>
/// A configuration split over files given as a glob (TensorZero's <c>--config-file 'config/*.toml'</c>), a <c>tgi</c>
/// provider without <c>model_name</c>, and a credential header set in configuration (trusted) where the same header
/// in a request stays refused: driven with the OpenAI .NET SDK.
/// </summary>
public sealed class ConfigGlobEndToEndTests
{
    [Fact]
    public async Task GlobConfig_MergesFiles_TgiWithoutModelName_AndConfiguredCredentialHeaderIsSent()
    {
        await using var upstream = await FakeProvider.StartAsync(FakeResponses.Default("from tgi"));
        using var dir = new TempDirectory();
        dir.Write("config/tensorzero.models.toml", $$"""
            [models.local]
            routing = ["tgi"]

            [models.local.providers.tgi]
            type = "tgi"
            api_base = "{{upstream.BaseUrl}}/v1/"
            api_key_location = "none"
            extra_headers = [{ name = "Authorization", value = "Bearer from-config" }]
            """);
        dir.Write("config/tensorzero.functions.toml", """
            [functions.ask]
            type = "chat"

            [functions.ask.variants.v]
            type = "chat_completion"
            model = "local"
            """);
        await using var gateway = await TestGateway.StartAsync("", extraArgs: ["--config-file", dir.PathOf("config/tensorzero.*.toml")]);
        var client = OpenAIClients.Chat(gateway, "tensorzero::function_name::ask");

        ChatCompletion completion = await client.CompleteChatAsync([new UserChatMessage("hi")]);

        completion.Content[0].Text.Should().Be("from tgi");
        completion.Model.Should().Be("tensorzero::function_name::ask::variant_name::v");
        var received = upstream.Received.Should().ContainSingle().Subject;
        received.Json.GetProperty("model").GetString().Should().Be("tgi", "TensorZero sends the model 'tgi' when model_name is not set");
        received.Header("Authorization").Should().Be("Bearer from-config", "configuration is trusted with credential headers");

        var options = new ChatCompletionOptions();
        options.Patch.Set("$['tensorzero::extra_headers']"u8, BinaryData.FromString(
            """[{"model_name": "local", "provider_name": "tgi", "name": "Authorization", "value": "Bearer from-request"}]"""));
        var refused = await FluentActions.Awaiting(() => client.CompleteChatAsync([new UserChatMessage("hi")], options))
            .Should().ThrowAsync<ClientResultException>();
        refused.Which.Status.Should().Be(400, "a request may not set a provider's credential header unless the provider allows it");
        upstream.Received.Should().HaveCount(1);
    }
}
