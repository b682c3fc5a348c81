using System.ClientModel;
using System.Diagnostics;
using System.Net;
using System.Text;
using OpenAI;
using OpenAI.Chat;
using OpenAI.Models;
using TensorZero.Proxy.Tests.TestSupport;

namespace TensorZero.Proxy.Tests.Hosting;

/// <summary>
/// samples/ExistingYarpApp, a YARP app of its own (route, transform, API-key auth and policy), takes TensorZero from
/// the packed nupkg: the libraries are packed from this build into a local feed with a version of their own, the sample
/// is restored from that feed and built apart from the repository, run as its own process, and driven with the
/// official OpenAI .NET SDK and plain HTTP.
/// </summary>
public sealed class SampleAppTests
{
    private static readonly string Configuration =
        AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Release" : "Debug";

    [Fact]
    public async Task ExistingYarpApp_FromTheNupkg_ServesItsOwnRoutesAndTensorZeroBehindItsPolicy()
    {
        using var work = new TempDirectory();
        var version = $"0.1.0-test.{DateTime.UtcNow:yyyyMMddHHmmss}.{Environment.ProcessId}";
        var feed = work.PathOf("feed");
        var repo = RepoPaths.Root;

        // Pack what this test run built (no rebuild: other tests run from the same outputs), under a version no cache has seen.
        foreach (var project in (string[])["src/TensorZero.Proxy.Transforms/TensorZero.Proxy.Transforms.csproj", "src/TensorZero.Proxy/TensorZero.Proxy.csproj"])
        {
            await DotnetAsync(repo, "pack", Path.Combine(repo, project), "-c", Configuration, "--no-build", "-o", feed, $"-p:PackageVersion={version}");
        }
        Directory.GetFiles(feed, "*.nupkg").Select(Path.GetFileName).Should().BeEquivalentTo(
            [$"TensorZero.Proxy.{version}.nupkg", $"TensorZero.Proxy.Transforms.{version}.nupkg"]);

        // Restore and build the sample from that feed (and the registry for YARP and the rest), outside the repository's
        // build; packages already in the machine's cache are used from there, ours land in a folder of this test.
        var home = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        await DotnetAsync(repo, "build", Path.Combine(repo, "samples/ExistingYarpApp/ExistingYarpApp.csproj"), "-c", "Release",
            "--artifacts-path", work.PathOf("artifacts"), "--packages", work.PathOf("packages"),
            "--source", feed, "--source", "https://api.nuget.org/v3/index.json",
            $"-p:RestoreAdditionalProjectFallbackFolders={home}", $"-p:TensorZeroProxyVersion={version}");
        Directory.GetDirectories(work.PathOf("packages")).Select(Path.GetFileName).Should().Contain("tensorzero.proxy", "the sample got TensorZero from the feed");
        File.Exists(Path.Combine(work.PathOf("packages"), "tensorzero.proxy", version, "README.md")).Should().BeTrue("the package carries its README");

        await using var legacy = await FakeProvider.StartAsync(FakeResponses.Default("legacy backend reply"));
        var dll = work.PathOf("artifacts/bin/ExistingYarpApp/release/ExistingYarpApp.dll");
        await using var app = await GatewayProcess.StartAsync(dll, new Dictionary<string, string>(), "/hello",
            $"--ReverseProxy:Clusters:legacy:Destinations:backend:Address={legacy.BaseUrl}",
            $"--TensorZero:Observability:DataDir={work.PathOf("data")}", "--Logging:LogLevel:Default=Warning");

        // The app's own endpoint and its own proxied route with its transform.
        (await app.Client.GetStringAsync("/hello")).Should().Be("Hello from the existing app");
        using (var proxied = await app.Client.PostAsync("/legacy/v1/chat/completions",
            new StringContent("""{"model":"legacy-model","messages":[]}""", Encoding.UTF8, "application/json")))
        {
            proxied.StatusCode.Should().Be(HttpStatusCode.OK);
        }
        var received = legacy.Received.Should().ContainSingle().Subject;
        received.Path.Should().Be("/v1/chat/completions");
        received.Header("x-forwarded-by").Should().Be("existing-yarp-app");

        // TensorZero behind the app's policy, through the official SDK: non-streaming, failover, a function, streaming.
        var options = new OpenAIClientOptions { Endpoint = new Uri(app.BaseUrl + "/openai/v1"), NetworkTimeout = TimeSpan.FromSeconds(60) };
        var key = new ApiKeyCredential("sample-key");
        var completion = (await new ChatClient("dummy", key, options).CompleteChatAsync([new UserChatMessage("Hi")])).Value;
        completion.Content[0].Text.Should().StartWith("Megumin gleefully chanted her spell");
        completion.Model.Should().Be("dummy", "a plain model name is echoed, as TensorZero does");
        (await new ChatClient("resilient", key, options).CompleteChatAsync([new UserChatMessage("Hi")])).Value.Content[0].Text
            .Should().StartWith("Megumin gleefully chanted her spell");
        (await new ChatClient("tensorzero::function_name::greet", key, options).CompleteChatAsync([new UserChatMessage("Hi")])).Value.Model
            .Should().Be("tensorzero::function_name::greet::variant_name::a");
        var streamed = new StringBuilder();
        await foreach (var update in new ChatClient("dummy", key, options).CompleteChatStreamingAsync([new UserChatMessage("Hi")]))
        {
            foreach (var part in update.ContentUpdate)
            {
                streamed.Append(part.Text);
            }
        }
        streamed.ToString().Should().StartWith("Wally, the golden retriever");
        (await new OpenAIModelClient(key, options).GetModelsAsync()).Value.Select(m => m.Id).Should().Contain("tensorzero::function_name::greet");

        var refused = () => new ChatClient("dummy", new ApiKeyCredential("wrong-key"), options).CompleteChatAsync([new UserChatMessage("Hi")]);
        (await refused.Should().ThrowAsync<ClientResultException>()).Which.Status.Should().Be(401);
        using var anonymousModels = await app.Client.GetAsync("/openai/v1/models");
        anonymousModels.StatusCode.Should().Be(HttpStatusCode.Unauthorized, "the app put TensorZero's endpoints behind its policy");
    }

    private static async Task DotnetAsync(string workingDirectory, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory, UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true,
        };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }
        info.ArgumentList.Add("--nologo");
        // The sample's build is its own: no MSBuild node shared with the build that runs these tests.
        info.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(10));
        await process.WaitForExitAsync(timeout.Token);
        process.ExitCode.Should().Be(0, $"dotnet {string.Join(' ', args)} failed:{Environment.NewLine}{await stdout}{await stderr}");
    }
}
