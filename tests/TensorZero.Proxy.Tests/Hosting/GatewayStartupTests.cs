using TensorZero.Proxy.Tests.TestSupport;

namespace TensorZero.Proxy.Tests.Hosting;

/// <summary>
/// How the gateway host (its own process) refuses to start: a problem the operator must fix is printed as it is, on
/// standard error, with exit code 1 and no stack trace, and nothing else is disturbed.
/// </summary>
public sealed class GatewayStartupTests
{
    private static readonly IReadOnlyDictionary<string, string> NoEnvironment = new Dictionary<string, string>();

    [Fact]
    public async Task SecondGateway_SameDataFolder_ExitsWithOneLineAndTheFirstKeepsServing()
    {
        using var dataDir = new TempDirectory();
        string[] args = ["--config-file", RepoPaths.Config("tensorzero.toml"), $"--TensorZero:Observability:DataDir={dataDir.Root}"];
        await using var first = await GatewayProcess.StartAsync(NoEnvironment, args);

        var (exitCode, stdout, stderr) = await GatewayProcess.RunToExitAsync(
            NoEnvironment, TimeSpan.FromSeconds(60), [.. args, "--urls", "http://127.0.0.1:0"]);

        exitCode.Should().Be(1);
        stderr.Should().ContainSingle().Which.Should()
            .Contain("in use by another gateway process").And.Contain(Path.GetFullPath(dataDir.Root)).And.Contain("DataDir");
        stdout.Concat(stderr).Should().NotContain(line => line.StartsWith("at ", StringComparison.Ordinal) || line.Contains("Exception", StringComparison.Ordinal));
        using var status = await first.Client.GetAsync("/status");
        status.StatusCode.Should().Be(System.Net.HttpStatusCode.OK);
    }

    [Fact]
    public async Task InvalidConfig_ExitsWithEveryErrorAndNoStackTrace()
    {
        using var dir = new TempDirectory();
        var config = Path.Combine(dir.Root, "tensorzero.toml");
        await File.WriteAllTextAsync(config, """
            [models.a]
            routing = ["missing"]

            [models.b.providers.p]
            type = "no_such_type"
            """);

        var (exitCode, stdout, stderr) = await GatewayProcess.RunToExitAsync(
            NoEnvironment, TimeSpan.FromSeconds(60), "--config-file", config, "--urls", "http://127.0.0.1:0",
            $"--TensorZero:Observability:DataDir={Path.Combine(dir.Root, "data")}");

        exitCode.Should().Be(1);
        stderr.Should().Contain(line => line.Contains("models.a", StringComparison.Ordinal))
            .And.Contain(line => line.Contains("models.b", StringComparison.Ordinal));
        stdout.Concat(stderr).Should().NotContain(line => line.StartsWith("at ", StringComparison.Ordinal) || line.Contains("Exception", StringComparison.Ordinal));
    }
}
