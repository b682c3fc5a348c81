using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using TensorZero.Proxy.Configuration;
using TensorZero.Proxy.Resilience;
using TensorZero.Proxy.Routing;
using TensorZero.Proxy.Tests.TestSupport;
using Yarp.ReverseProxy;

namespace TensorZero.Proxy.Tests.Functional;

/// <summary>
/// Hot reload of tensorzero.toml on a running gateway: real files in a temp folder, real Kestrel servers, the
/// reloader's own file watching. Waits poll the gateway (or the reloader's counters) with a guard; the only timing
/// assertion is the 2 s acceptance bound from a write to the change being served.
/// </summary>
public sealed class ConfigReloadEndToEndTests : IDisposable
{
    private static readonly TimeSpan Acceptance = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static string Model(string model, string provider, FakeProvider upstream) => TestConfigs.SingleProviderModel(model, provider, upstream.BaseUrl) + "\n\n";

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    private static string ChatBody(string model, bool stream = false, string extra = "") =>
        $$"""{"model":"{{model}}","stream":{{(stream ? "true" : "false")}},"messages":[{"role":"user","content":"hi"}]{{extra}}}""";

    /// <summary>Asks a model; returns the status and the answer's text (null when not 200).</summary>
    private static async Task<(HttpStatusCode Status, string? Text)> AskAsync(TestGateway gateway, string model, string extra = "")
    {
        using var response = await gateway.Client.PostAsync("/openai/v1/chat/completions", Json(ChatBody("tensorzero::model_name::" + model, extra: extra)));
        if (response.StatusCode != HttpStatusCode.OK)
        {
            return (response.StatusCode, null);
        }
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return (response.StatusCode, doc.RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
    }

    /// <summary>Reads a whole stream; returns its text, or throws when it does not end in [DONE].</summary>
    private static async Task<string> ReadStreamAsync(Stream body, StringBuilder? text = null, int stopAfterChunks = int.MaxValue)
    {
        text ??= new StringBuilder();
        using var reader = new StreamReader(body, leaveOpen: true);
        var chunks = 0;
        while (await reader.ReadLineAsync() is { } line)
        {
            if (!line.StartsWith("data: ", StringComparison.Ordinal))
            {
                continue;
            }
            var data = line["data: ".Length..];
            if (data == "[DONE]")
            {
                return text.ToString();
            }
            using var doc = JsonDocument.Parse(data);
            if (doc.RootElement.TryGetProperty("error", out var error))
            {
                throw new InvalidOperationException("stream error: " + error);
            }
            if (doc.RootElement.GetProperty("choices")[0].GetProperty("delta").TryGetProperty("content", out var content))
            {
                text.Append(content.GetString());
                if (++chunks == stopAfterChunks)
                {
                    return text.ToString();
                }
            }
        }
        throw new InvalidOperationException($"the stream ended without [DONE] after '{text}'");
    }

    /// <summary>Replaces a file in one rename, as deploy tools do: the reloader never sees it half written.</summary>
    private static void WriteAtomically(string path, string content)
    {
        var temp = path + ".tmp-" + Guid.NewGuid().ToString("N");
        File.WriteAllText(temp, content);
        File.Move(temp, path, overwrite: true);
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "rename", SetLastError = true)]
    private static extern int Rename(string from, string to);

    private static ConfigReloader Reloader(TestGateway gateway) => gateway.App.Services.GetRequiredService<ConfigReloader>();

    /// <summary>Polls until <paramref name="condition"/> holds; false when <paramref name="within"/> passed first.</summary>
    private static async Task<bool> PollAsync(Func<Task<bool>> condition, TimeSpan within)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < within)
        {
            if (await condition())
            {
                return true;
            }
            await Task.Delay(10);
        }
        return await condition();
    }

    private static async Task WaitForReloadsAsync(TestGateway gateway, long count)
    {
        var reloader = Reloader(gateway);
        (await PollAsync(() => Task.FromResult(reloader.Reloads >= count), Guard)).Should().BeTrue($"reload {count} should happen (failures: {reloader.Failures})");
    }

    private static void FastReload(IServiceCollection services) =>
        services.Configure<ConfigReloadOptions>(o =>
        {
            o.Debounce = TimeSpan.FromMilliseconds(50);
            o.MaxDelay = TimeSpan.FromMilliseconds(200);
        });

    private Task<TestGateway> StartAsync(string configFile, Action<IServiceCollection>? services = null, params string[] args) =>
        TestGateway.StartWithServicesAsync("", services ?? (_ => { }), ["--config-file", configFile, .. args]);

    [Fact]
    public async Task Reload_ValidChangeAddingAModel_IsServedWithinTwoSecondsOfTheWrite()
    {
        await using var one = await FakeProvider.StartAsync(FakeResponses.Default("from one"));
        await using var two = await FakeProvider.StartAsync(FakeResponses.Default("from two"));
        var path = _dir.Write("tensorzero.toml", Model("a", "p", one));
        await using var gateway = await StartAsync(path);
        (await AskAsync(gateway, "a")).Should().Be((HttpStatusCode.OK, "from one"));
        (await AskAsync(gateway, "b")).Status.Should().Be(HttpStatusCode.NotFound);

        // A plain rewrite in place (truncate, write), as an editor saves; the default debounce.
        var clock = Stopwatch.StartNew();
        File.WriteAllText(path, Model("a", "p", one) + Model("b", "q", two));
        var served = await PollAsync(async () => (await AskAsync(gateway, "b")).Status == HttpStatusCode.OK, Acceptance);
        var elapsed = clock.Elapsed;

        served.Should().BeTrue($"the new model should be served within {Acceptance.TotalSeconds} s of the write");
        elapsed.Should().BeLessThan(Acceptance);
        (await AskAsync(gateway, "b")).Should().Be((HttpStatusCode.OK, "from two"));
        (await AskAsync(gateway, "a")).Should().Be((HttpStatusCode.OK, "from one"));
        Reloader(gateway).Reloads.Should().Be(1);
    }

    [Fact]
    public async Task Reload_InvalidChange_LogsEveryError_OldConfigKeepsServing_ThenAFixIsApplied()
    {
        await using var one = await FakeProvider.StartAsync(FakeResponses.Default("from one"));
        var path = _dir.Write("tensorzero.toml", Model("a", "p", one));
        var logs = new CapturingLogger();
        await using var gateway = await StartAsync(path, services => services.AddSingleton<ILoggerProvider>(logs));
        using var modelsBefore = await gateway.Client.GetAsync("/v1/models");
        var listBefore = await modelsBefore.Content.ReadAsStringAsync();

        var invalid = Model("a", "p", one) + """
            [models.b]
            routing = ["missing"]
            unknown_key = 1

            [functions.f]
            type = "chat"

            [functions.f.variants.v]
            type = "chat_completion"
            model = "no_such_model"
            weight = "heavy"
            """;
        WriteAtomically(path, invalid);
        var expected = FluentActions.Invoking(() => ConfigLoader.LoadFile(path)).Should().Throw<ConfigException>().Which.Errors;
        expected.Should().HaveCountGreaterThanOrEqualTo(3);
        var failed = await logs.WaitForAsync(e => e.EventId.Id == 111);

        failed.Level.Should().Be(LogLevel.Error);
        failed.Message.Should().Contain(path).And.Contain($"{expected.Count} error(s)").And.Contain("previous configuration keeps serving");
        // Each error follows the summary as an entry of its own.
        await PollAsync(() => Task.FromResult(logs.Entries.Count(e => e.EventId.Id == 112) >= expected.Count), Guard);
        var logged = logs.Entries.Where(e => e.EventId.Id == 112).ToList();
        logged.Should().OnlyContain(e => e.Level == LogLevel.Error);
        logged.Select(e => e.Message).Should().Equal(expected.Select(error => "Configuration error: " + error));
        (await AskAsync(gateway, "a")).Should().Be((HttpStatusCode.OK, "from one"));
        using var modelsAfter = await gateway.Client.GetAsync("/v1/models");
        (await modelsAfter.Content.ReadAsStringAsync()).Should().Be(listBefore);
        Reloader(gateway).Failures.Should().Be(1);
        Reloader(gateway).Reloads.Should().Be(0);

        // The broken file stays watched: fixing it reloads.
        WriteAtomically(path, Model("a", "p", one) + Model("b", "q", one));
        await WaitForReloadsAsync(gateway, 1);
        (await AskAsync(gateway, "b")).Should().Be((HttpStatusCode.OK, "from one"));
    }

    [Fact]
    public async Task Reload_ModelRemoved_IsA404ForIt_OthersStillServed()
    {
        await using var one = await FakeProvider.StartAsync(FakeResponses.Default("from one"));
        var path = _dir.Write("tensorzero.toml", Model("a", "p", one) + Model("b", "q", one));
        await using var gateway = await StartAsync(path);
        (await AskAsync(gateway, "b")).Status.Should().Be(HttpStatusCode.OK);

        var clock = Stopwatch.StartNew();
        WriteAtomically(path, Model("a", "p", one));
        var removed = await PollAsync(async () => (await AskAsync(gateway, "b")).Status == HttpStatusCode.NotFound, Acceptance);

        removed.Should().BeTrue();
        clock.Elapsed.Should().BeLessThan(Acceptance);
        (await AskAsync(gateway, "a")).Should().Be((HttpStatusCode.OK, "from one"));
        using var models = await gateway.Client.GetAsync("/v1/models");
        (await models.Content.ReadAsStringAsync()).Should().Contain("tensorzero::model_name::a").And.NotContain("tensorzero::model_name::b");
    }

    [Fact]
    public async Task Reload_GlobGainsAFile_ItsModelIsServedWithinTwoSeconds()
    {
        await using var one = await FakeProvider.StartAsync(FakeResponses.Default("from one"));
        await using var two = await FakeProvider.StartAsync(FakeResponses.Default("from two"));
        _dir.Write("config/tensorzero.a.toml", Model("a", "p", one));
        await using var gateway = await StartAsync(_dir.PathOf("config/tensorzero.*.toml"));
        (await AskAsync(gateway, "b")).Status.Should().Be(HttpStatusCode.NotFound);

        var clock = Stopwatch.StartNew();
        _dir.Write("config/tensorzero.b.toml", Model("b", "q", two));
        var served = await PollAsync(async () => (await AskAsync(gateway, "b")).Status == HttpStatusCode.OK, Acceptance);

        served.Should().BeTrue();
        clock.Elapsed.Should().BeLessThan(Acceptance);
        (await AskAsync(gateway, "b")).Should().Be((HttpStatusCode.OK, "from two"));
        (await AskAsync(gateway, "a")).Should().Be((HttpStatusCode.OK, "from one"));
    }

    [Fact]
    public async Task Reload_TwentySwapsUnderLoad_NoRequestFails_StreamsFinishOnTheirUpstream()
    {
        // Streams take a few ms per chunk so that many of them straddle a swap.
        static Func<Microsoft.AspNetCore.Http.HttpContext, ReceivedRequest, Task> Script(string text) => (context, request) =>
            FailingResponses.IsStream(request)
                ? FakeResponses.Stream(context, request, ["from ", text, " end"], _ => Task.Delay(3))
                : FakeResponses.Completion(context, request, "from " + text);
        await using var one = await FakeProvider.StartAsync(Script("one"));
        await using var two = await FakeProvider.StartAsync(Script("two"));
        // The provider's name changes too: every swap removes one YARP cluster and adds another.
        var configs = new[] { Model("m", "p1", one), Model("m", "p2", two) };
        var path = _dir.Write("tensorzero.toml", configs[0]);
        await using var gateway = await StartAsync(path, FastReload);

        var failures = new ConcurrentQueue<string>();
        var completed = 0L;
        using var stop = new CancellationTokenSource();
        async Task LoopAsync(bool stream)
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    using var request = new HttpRequestMessage(HttpMethod.Post, "/openai/v1/chat/completions") { Content = Json(ChatBody("tensorzero::model_name::m", stream)) };
                    using var response = await gateway.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
                    if (response.StatusCode != HttpStatusCode.OK)
                    {
                        failures.Enqueue($"status {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
                        continue;
                    }
                    string text;
                    if (stream)
                    {
                        text = await ReadStreamAsync(await response.Content.ReadAsStreamAsync());
                    }
                    else
                    {
                        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
                        text = doc.RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!;
                    }
                    if (text is not ("from one end" or "from two end" or "from one" or "from two"))
                    {
                        failures.Enqueue($"unexpected answer '{text}'");
                    }
                    Interlocked.Increment(ref completed);
                }
                catch (Exception ex) when (ex is HttpRequestException or IOException or InvalidOperationException or JsonException)
                {
                    failures.Enqueue(ex.Message);
                }
            }
        }
        var loops = Enumerable.Range(0, 8).Select(i => Task.Run(() => LoopAsync(stream: i % 2 == 0))).ToArray();

        for (var reload = 1; reload <= 20; reload++)
        {
            var before = Interlocked.Read(ref completed);
            WriteAtomically(path, configs[reload % 2]);
            await WaitForReloadsAsync(gateway, reload);
            // Some traffic on each configuration before the next swap.
            (await PollAsync(() => Task.FromResult(Interlocked.Read(ref completed) >= before + 16), Guard)).Should().BeTrue();
        }
        stop.Cancel();
        await Task.WhenAll(loops);

        failures.Should().BeEmpty();
        Reloader(gateway).Reloads.Should().Be(20);
        Reloader(gateway).Failures.Should().Be(0);
        completed.Should().BeGreaterThan(20 * 16);
        one.Received.Should().NotBeEmpty();
        two.Received.Should().NotBeEmpty();
        // The last configuration (20 is even) routes to upstream one.
        (await AskAsync(gateway, "m")).Should().Be((HttpStatusCode.OK, "from one"));
    }

    [Fact]
    public async Task Reload_StreamStartedBeforeTheSwap_CompletesFromTheOldUpstream_NewRequestsUseTheNewOne()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var one = await FakeProvider.StartAsync((context, request) =>
            FakeResponses.Stream(context, request, ["old ", "snapshot ", "stream"], i => i == 1 ? gate.Task : Task.CompletedTask));
        await using var two = await FakeProvider.StartAsync(FakeResponses.Default("from two"));
        var path = _dir.Write("tensorzero.toml", Model("m", "p", one));
        await using var gateway = await StartAsync(path, FastReload);

        using var request = new HttpRequestMessage(HttpMethod.Post, "/openai/v1/chat/completions") { Content = Json(ChatBody("tensorzero::model_name::m", stream: true)) };
        using var response = await gateway.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        response.StatusCode.Should().Be(HttpStatusCode.OK);
        await using var body = await response.Content.ReadAsStreamAsync();
        var text = new StringBuilder();
        (await ReadStreamAsync(body, text, stopAfterChunks: 1)).Should().Be("old ");

        WriteAtomically(path, Model("m", "p", two));
        await WaitForReloadsAsync(gateway, 1);
        (await AskAsync(gateway, "m")).Should().Be((HttpStatusCode.OK, "from two"));
        gate.SetResult();

        (await ReadStreamAsync(body, text)).Should().Be("old snapshot stream");
        one.Received.Should().ContainSingle();
    }

    [Fact]
    public async Task Reload_RequestFailingOverAfterItsModelWasRemoved_FinishesOnItsSnapshot()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var bad = await FakeProvider.StartAsync(async (context, _) =>
        {
            await gate.Task;
            await FakeResponses.Status(context, 500);
        });
        await using var good = await FakeProvider.StartAsync(FakeResponses.Default("from good"));
        var path = _dir.Write("tensorzero.toml", $"""
            [models.m]
            routing = ["bad", "good"]
            {TestConfigs.OpenAIProvider("m", "bad", bad.BaseUrl)}
            {TestConfigs.OpenAIProvider("m", "good", good.BaseUrl)}

            """ + Model("other", "p", good));
        await using var gateway = await StartAsync(path, FastReload);
        var pending = AskAsync(gateway, "m");
        await bad.FirstRequestAsync();

        WriteAtomically(path, Model("other", "p", good));
        await WaitForReloadsAsync(gateway, 1);
        var proxyState = gateway.App.Services.GetRequiredService<IProxyStateLookup>();
        (await PollAsync(() => Task.FromResult(!proxyState.TryGetCluster("m/good", out _)), Guard)).Should().BeTrue("YARP drops the removed provider's cluster");
        gate.SetResult();

        (await pending).Should().Be((HttpStatusCode.OK, "from good"), "the request fails over as its own snapshot says");
        good.Received.Should().ContainSingle();
        (await AskAsync(gateway, "m")).Status.Should().Be(HttpStatusCode.NotFound, "new requests see the new configuration");
    }

    [Fact]
    public async Task Reload_StartupOnlySettingChanged_KeepsItAndWarns_AppliesTheRest()
    {
        await using var one = await FakeProvider.StartAsync(FakeResponses.Default("from one"));
        var path = _dir.Write("tensorzero.toml", Model("a", "p", one));
        var logs = new CapturingLogger();
        await using var gateway = await StartAsync(path, services => { FastReload(services); services.AddSingleton<ILoggerProvider>(logs); });

        WriteAtomically(path, "[gateway]\nbase_path = \"/llm\"\n\n" + Model("a", "p", one) + Model("b", "q", one));
        await WaitForReloadsAsync(gateway, 1);

        logs.Entries.Should().ContainSingle(e => e.EventId.Id == 113).Which.Message.Should().Contain("'gateway.base_path'");
        (await AskAsync(gateway, "b")).Should().Be((HttpStatusCode.OK, "from one"), "the new model is served at the running base path");
        using var moved = await gateway.Client.PostAsync("/llm/openai/v1/chat/completions", Json(ChatBody("tensorzero::model_name::b")));
        moved.StatusCode.Should().Be(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Reload_Off_WatchesNothing_WhileAGatewayWithReloadOnTheSameFileApplies()
    {
        await using var one = await FakeProvider.StartAsync(FakeResponses.Default("from one"));
        var path = _dir.Write("tensorzero.toml", Model("a", "p", one));
        await using var off = await StartAsync(path, FastReload, "--TensorZero:ReloadOnChange=false");
        await using var on = await StartAsync(path, FastReload);
        (await PollAsync(() => Task.FromResult(Reloader(on).WatchedDirectories.ContainsKey(_dir.Root)), Guard)).Should().BeTrue();

        WriteAtomically(path, Model("a", "p", one) + Model("b", "q", one));
        await WaitForReloadsAsync(on, 1);

        (await AskAsync(on, "b")).Status.Should().Be(HttpStatusCode.OK);
        (await AskAsync(off, "b")).Status.Should().Be(HttpStatusCode.NotFound);
        Reloader(off).WatchedDirectories.Should().BeEmpty();
        Reloader(off).Reloads.Should().Be(0);
    }

    [Fact]
    public async Task Reload_CircuitOfAnUnchangedProviderStaysOpen_AChangedProviderStartsClosed()
    {
        await using var failing = await FakeProvider.StartAsync((context, _) => FakeResponses.Status(context, 500));
        await using var healthy = await FakeProvider.StartAsync(FakeResponses.Default("healthy"));
        var path = _dir.Write("tensorzero.toml", Model("m", "p", failing));
        await using var gateway = await StartAsync(path, FastReload,
            "--TensorZero:CircuitBreaker:MinimumThroughput=2", "--TensorZero:CircuitBreaker:BreakDuration=01:00:00");
        var breakers = gateway.App.Services.GetRequiredService<ProviderCircuitBreakers>();
        (await AskAsync(gateway, "m")).Status.Should().Be(HttpStatusCode.InternalServerError);
        (await AskAsync(gateway, "m")).Status.Should().Be(HttpStatusCode.InternalServerError);
        breakers.IsOpen("m/p").Should().BeTrue();

        WriteAtomically(path, Model("m", "p", failing) + Model("z", "q", healthy));
        await WaitForReloadsAsync(gateway, 1);
        breakers.IsOpen("m/p").Should().BeTrue("the provider did not change: its breaker state is kept");

        WriteAtomically(path, Model("m", "p", healthy));
        await WaitForReloadsAsync(gateway, 2);
        breakers.IsOpen("m/p").Should().BeFalse("the provider's settings changed: its circuit starts closed");
        (await AskAsync(gateway, "m")).Should().Be((HttpStatusCode.OK, "healthy"));
    }

    [Fact]
    public async Task Reload_CacheEntriesOfAChangedProvider_AreNotServed_UnchangedProviderKeepsThem()
    {
        await using var one = await FakeProvider.StartAsync(FakeResponses.Default("from one"));
        await using var two = await FakeProvider.StartAsync(FakeResponses.Default("from two"));
        const string cacheOn = ""","tensorzero::cache_options":{"enabled":"on"}""";
        var path = _dir.Write("tensorzero.toml", Model("m", "p", one));
        await using var gateway = await StartAsync(path, FastReload);
        (await AskAsync(gateway, "m", cacheOn)).Should().Be((HttpStatusCode.OK, "from one"));
        await gateway.Inferences.NextAsync();

        WriteAtomically(path, Model("m", "p", one) + Model("z", "q", two));
        await WaitForReloadsAsync(gateway, 1);
        (await AskAsync(gateway, "m", cacheOn)).Should().Be((HttpStatusCode.OK, "from one"));
        one.Received.Should().HaveCount(1, "the unchanged provider's entry is still served");

        WriteAtomically(path, Model("m", "p", two));
        await WaitForReloadsAsync(gateway, 2);
        (await AskAsync(gateway, "m", cacheOn)).Should().Be((HttpStatusCode.OK, "from two"), "the entry came from the provider's old settings");
        two.Received.Should().HaveCount(1);
    }
    [Fact]
    public async Task Reload_TemplateFileChanged_TheNewTextIsSent()
    {
        await using var one = await FakeProvider.StartAsync(FakeResponses.Default("from one"));
        _dir.Write("system.minijinja", "You are Alfred.");
        var path = _dir.Write("tensorzero.toml", Model("m", "p", one) + """
            [functions.f]
            type = "chat"

            [functions.f.variants.v]
            type = "chat_completion"
            model = "m"
            system_template = "system.minijinja"
            """);
        await using var gateway = await StartAsync(path, FastReload);
        async Task<string?> SystemSentAsync()
        {
            using var response = await gateway.Client.PostAsync("/openai/v1/chat/completions", Json(ChatBody("tensorzero::function_name::f")));
            response.StatusCode.Should().Be(HttpStatusCode.OK);
            return one.Received[^1].Json.GetProperty("messages")[0].GetProperty("content").GetString();
        }
        (await SystemSentAsync()).Should().Be("You are Alfred.");

        WriteAtomically(_dir.PathOf("system.minijinja"), "You are Batman.");
        await WaitForReloadsAsync(gateway, 1);

        (await SystemSentAsync()).Should().Be("You are Batman.");
    }

    [Fact]
    public async Task Reload_KubernetesStyleSymlinkSwap_IsSeen()
    {
        // A mounted ConfigMap: tensorzero.toml -> ..data/tensorzero.toml, ..data -> ..v1; an update points ..data at a
        // new folder in one rename, and no event names tensorzero.toml itself.
        await using var one = await FakeProvider.StartAsync(FakeResponses.Default("from one"));
        _dir.Write("..v1/tensorzero.toml", Model("a", "p", one));
        Directory.CreateSymbolicLink(_dir.PathOf("..data"), "..v1");
        File.CreateSymbolicLink(_dir.PathOf("tensorzero.toml"), "..data/tensorzero.toml");
        await using var gateway = await StartAsync(_dir.PathOf("tensorzero.toml"), FastReload);
        (await AskAsync(gateway, "b")).Status.Should().Be(HttpStatusCode.NotFound);

        _dir.Write("..v2/tensorzero.toml", Model("a", "p", one) + Model("b", "q", one));
        Directory.CreateSymbolicLink(_dir.PathOf("..data_tmp"), "..v2");
        // rename(2), as the atomic writer does (File.Move refuses a link to a folder, Directory.Move an existing target).
        Rename(_dir.PathOf("..data_tmp"), _dir.PathOf("..data")).Should().Be(0);
        await WaitForReloadsAsync(gateway, 1);

        (await AskAsync(gateway, "b")).Should().Be((HttpStatusCode.OK, "from one"));
    }
}
