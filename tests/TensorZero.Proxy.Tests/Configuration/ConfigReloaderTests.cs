using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using TensorZero.Proxy.Configuration;
using TensorZero.Proxy.Tests.TestSupport;

namespace TensorZero.Proxy.Tests.Configuration;

/// <summary>The reloader's pieces that need no files: the debounce, and the settings read only at start-up.</summary>
public sealed class ConfigReloaderTests
{
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan MaxDelay = TimeSpan.FromSeconds(1);

    [Fact]
    public void Debouncer_BurstOfChanges_FiresOnceWhenQuiet()
    {
        var time = new FakeTimeProvider();
        var start = time.GetTimestamp();
        var fired = new List<TimeSpan>();
        using var debouncer = new Debouncer(time, Quiet, MaxDelay, () => fired.Add(time.GetElapsedTime(start)));

        debouncer.Notify();
        time.Advance(TimeSpan.FromMilliseconds(100));
        debouncer.Notify();
        time.Advance(TimeSpan.FromMilliseconds(100));
        debouncer.Notify();
        time.Advance(TimeSpan.FromMilliseconds(249));
        fired.Should().BeEmpty("the files have not been quiet for 250 ms yet");
        time.Advance(TimeSpan.FromMilliseconds(1));

        fired.Should().Equal(TimeSpan.FromMilliseconds(450));
        time.Advance(TimeSpan.FromSeconds(5));
        fired.Should().HaveCount(1);
    }

    [Fact]
    public void Debouncer_ChangesWithoutPause_FireAtTheBurstsBound_ThenANewBurstStarts()
    {
        var time = new FakeTimeProvider();
        var start = time.GetTimestamp();
        var fired = new List<TimeSpan>();
        using var debouncer = new Debouncer(time, Quiet, MaxDelay, () => fired.Add(time.GetElapsedTime(start)));

        for (var i = 0; i < 15; i++)
        {
            debouncer.Notify();
            time.Advance(TimeSpan.FromMilliseconds(100));
        }

        fired.Should().HaveCountGreaterThanOrEqualTo(1);
        fired[0].Should().Be(TimeSpan.FromSeconds(1), "a burst postpones the reload by at most MaxDelay from its first change");
        // Microsoft's fake clock fires a timer with the clock at the end of the Advance, so step up to the due time.
        time.Advance(TimeSpan.FromMilliseconds(149));
        fired.Should().HaveCount(1, "the second burst's last change came at 1.4 s: quiet for 249 ms only");
        time.Advance(TimeSpan.FromMilliseconds(1));
        fired.Should().HaveCount(2, "the changes after the first firing are a burst of their own");
        fired[1].Should().Be(TimeSpan.FromMilliseconds(1650), "its last change came at 1.4 s");
    }

    private static GatewayConfig Config(string gateway) =>
        ConfigLoader.Parse(gateway + "\n\n" + TestConfigs.SingleProviderModel("m", "p", "http://127.0.0.1:9", modelName: "x"));

    [Theory]
    [InlineData("[gateway]\nbind_address = \"127.0.0.1:4000\"", "gateway.bind_address", "the default")]
    [InlineData("[gateway]\nbase_path = \"/llm\"", "gateway.base_path", "no base path")]
    [InlineData("[gateway.observability]\nenabled = false", "gateway.observability.enabled", "unset")]
    [InlineData("[gateway.observability]\nasync_writes = true", "gateway.observability.async_writes", "false")]
    public void KeepStartupSettings_StartupOnlyKeyChanged_KeepsTheRunningValue_WarnsNamingTheKey(string changed, string key, string kept)
    {
        var running = Config("");
        var loaded = Config(changed + "\n[gateway.extra_headers]\nmax_entries = 3\n");
        var log = new CapturingLogger();

        var applied = ConfigReloader.KeepStartupSettings(running, loaded, log);

        applied.Gateway.BindAddress.Should().Be(running.Gateway.BindAddress);
        applied.Gateway.BasePath.Should().Be(running.Gateway.BasePath);
        applied.Gateway.Observability.Should().Be(running.Gateway.Observability);
        applied.Gateway.ExtraHeaderLimits.MaxEntries.Should().Be(3, "the rest of the new configuration applies");
        applied.Models.Should().BeSameAs(loaded.Models);
        var warning = log.Entries.Should().ContainSingle().Subject;
        warning.Level.Should().Be(LogLevel.Warning);
        warning.Message.Should().Contain($"'{key}'").And.Contain("restart").And.Contain(kept);
    }

    [Fact]
    public void KeepStartupSettings_NothingStartupOnlyChanged_ReturnsTheLoadedConfigAsIs()
    {
        var running = Config("[gateway]\nbind_address = \"127.0.0.1:4000\"\nbase_path = \"/llm\"");
        var loaded = Config("[gateway]\nbind_address = \"127.0.0.1:4000\"\nbase_path = \"/llm\"\ndebug = true");
        var log = new CapturingLogger();

        ConfigReloader.KeepStartupSettings(running, loaded, log).Should().BeSameAs(loaded);
        log.Entries.Should().BeEmpty();
    }
}
