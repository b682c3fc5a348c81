using TensorZero.Proxy.Gateway;
using TensorZero.Proxy.Tests.TestSupport;

namespace TensorZero.Proxy.Tests.Configuration;

/// <summary><c>--check-config</c> on every bundled file, and on a broken one.</summary>
public sealed class CheckConfigTests
{
    // What the bundled files' api_key_location / endpoint entries read, as an operator would set them.
    private static readonly Dictionary<string, string> Environment = new()
    {
        ["OPENAI_API_KEY"] = "sk-x",
        ["AZURE_OPENAI_API_KEY"] = "az-x",
        ["AZURE_OPENAI_ENDPOINT"] = "https://example.openai.azure.com",
        ["FAKE_OPENAI_KEY"] = "k",
        ["FAKE_AZURE_KEY"] = "k",
    };

    public static TheoryData<string> ConfigFiles()
    {
        var data = new TheoryData<string>();
        foreach (var file in Directory.GetFiles(Path.Combine(RepoPaths.Root, "config"), "*.toml").Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetFileName(file));
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(ConfigFiles))]
    public void CheckConfig_BundledFile_ExitsZero(string file)
    {
        var output = new StringWriter();
        var error = new StringWriter();

        var exit = GatewayHost.CheckConfig(["--check-config", "--config-file", RepoPaths.Config(file)], output, error, Lookup);

        error.ToString().Should().BeEmpty();
        exit.Should().Be(0);
        output.ToString().Should().Contain("valid");
    }

    [Fact]
    public void CheckConfig_BrokenFile_PrintsEveryErrorAndExitsNonZero()
    {
        var path = Path.Combine(Path.GetTempPath(), $"tzp-broken-{Guid.NewGuid():N}.toml");
        File.WriteAllText(path, """
            [gateway]
            bind_address = "nowhere"

            [models.a]
            routing = ["p", "ghost"]

            [models.a.providers.p]
            type = "openai"
            model_name = "x"
            api_key_location = "env::NOT_SET_ANYWHERE"
            """);
        try
        {
            var output = new StringWriter();
            var error = new StringWriter();

            var exit = GatewayHost.CheckConfig(["--check-config", "--config-file", path], output, error, Lookup);

            exit.Should().NotBe(0);
            var text = error.ToString();
            text.Should().Contain("2 error(s)");
            text.Should().Contain("gateway.bind_address (line 2)");
            text.Should().Contain("models.a.routing (line 5): names provider 'ghost'");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void CheckConfig_MissingCredential_IsReported()
    {
        var output = new StringWriter();
        var error = new StringWriter();

        var exit = GatewayHost.CheckConfig(["--check-config", "--config-file", RepoPaths.Config("openai-azure.toml")], output, error, _ => null);

        exit.Should().Be(1);
        error.ToString().Should().Contain("'OPENAI_API_KEY' is not set").And.Contain("'AZURE_OPENAI_API_KEY' is not set");
    }

    private static string? Lookup(string name) => Environment.TryGetValue(name, out var v) ? v : null;
}
