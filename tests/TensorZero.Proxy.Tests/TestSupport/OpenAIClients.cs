using System.ClientModel;
using System.ClientModel.Primitives;
using OpenAI;
using OpenAI.Chat;

namespace TensorZero.Proxy.Tests.TestSupport;

/// <summary>The official OpenAI .NET SDK pointed at a gateway: only the endpoint changes.</summary>
internal static class OpenAIClients
{
    public const string ClientApiKey = "sk-client-secret-that-must-not-leak";

    public static ChatClient Chat(TestGateway gateway, string model, IReadOnlyDictionary<string, string>? extraHeaders = null, string basePath = "/openai/v1")
    {
        var options = new OpenAIClientOptions { Endpoint = new Uri(gateway.BaseUrl + basePath), NetworkTimeout = TimeSpan.FromSeconds(60) };
        if (extraHeaders is not null)
        {
            options.AddPolicy(new AddHeadersPolicy(extraHeaders), PipelinePosition.PerCall);
        }
        return new ChatClient(model, new ApiKeyCredential(ClientApiKey), options);
    }

    /// <summary>Adds headers to every request the SDK sends (e.g. a cookie a browser-ish client would carry).</summary>
    private sealed class AddHeadersPolicy(IReadOnlyDictionary<string, string> headers) : PipelinePolicy
    {
        public override void Process(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
        {
            Apply(message);
            ProcessNext(message, pipeline, currentIndex);
        }

        public override ValueTask ProcessAsync(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
        {
            Apply(message);
            return ProcessNextAsync(message, pipeline, currentIndex);
        }

        private void Apply(PipelineMessage message)
        {
            foreach (var (name, value) in headers)
            {
                message.Request.Headers.Set(name, value);
            }
        }
    }
}
