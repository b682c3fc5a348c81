using System.Threading.Channels;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using TensorZero.Proxy.Routing;
using Yarp.ReverseProxy.Configuration;

namespace TensorZero.Proxy.Configuration;

/// <summary>Reload settings from <c>appsettings.json</c> section <c>TensorZero</c>.</summary>
internal sealed class ConfigReloadOptions
{
    public const string SectionName = "TensorZero";

    /// <summary><c>TensorZero:ReloadOnChange</c>: watch tensorzero.toml and the files it names, and reload on a change. Default true.</summary>
    public bool ReloadOnChange { get; set; } = true;

    /// <summary>
    /// How long the files must stay quiet before a reload (editors and deploy tools write in several steps). Default
    /// 250 ms, as ASP.NET Core's own configuration reload waits. Not bound from configuration.
    /// </summary>
    public TimeSpan Debounce { get; internal set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>The longest a burst of changes may postpone a reload, measured from its first change. Default 1 s.</summary>
    public TimeSpan MaxDelay { get; internal set; } = TimeSpan.FromSeconds(1);
}

/// <summary>Registration of the configuration reloader.</summary>
internal static class ConfigReloadServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="ConfigReloader"/> as a hosted service. It needs a <see cref="GatewayConfigSource"/>, the
    /// <see cref="GatewayRuntimeAccessor"/> and the gateway's <see cref="GatewayProxyConfigProvider"/>.
    /// </summary>
    internal static IServiceCollection AddTensorZeroConfigReload(this IServiceCollection services)
    {
        services.AddOptions<ConfigReloadOptions>().BindConfiguration(ConfigReloadOptions.SectionName);
        services.AddSingleton<ConfigReloader>();
        services.AddHostedService(sp => sp.GetRequiredService<ConfigReloader>());
        return services;
    }
}

/// <summary>
/// Hot reload of tensorzero.toml (DESIGN.md §3): watches the configuration's files, the files they name and the
/// template include directory (<see cref="ConfigInputs"/>); after a burst of changes settles, loads and builds the
/// configuration again with the start-up environment. A valid configuration is swapped in atomically: YARP gets the new
/// routes and clusters through its change token, then the accessor's snapshot is replaced, so each new request sees
/// either the old or the new configuration whole, and requests already running finish on the snapshot they started
/// with. An invalid one is logged, every error with its key path, and the old configuration keeps serving.
/// Settings read only at start-up keep their running value (<see cref="KeepStartupSettings"/>).
/// </summary>
internal sealed class ConfigReloader : BackgroundService
{
    private readonly GatewayConfigSource _source;
    private readonly GatewayRuntimeAccessor _runtime;
    private readonly GatewayProxyConfigProvider _proxyConfig;
    private readonly ConfigReloadOptions _options;
    private readonly ILogger<ConfigReloader> _logger;
    private readonly Debouncer _debouncer;
    private readonly Channel<bool> _checks = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly Dictionary<string, (FileSystemWatcher Watcher, bool Recursive)> _watchers = new(StringComparer.Ordinal);
    private readonly object _watchersLock = new();
    private volatile ConfigInputs _inputs;
    private long _reloads;
    private long _failures;

    public ConfigReloader(
        GatewayConfigSource source, GatewayRuntimeAccessor runtime, IEnumerable<IProxyConfigProvider> proxyConfigProviders,
        IOptions<ConfigReloadOptions> options, TimeProvider time, ILogger<ConfigReloader> logger)
    {
        _source = source;
        _runtime = runtime;
        _proxyConfig = proxyConfigProviders.OfType<GatewayProxyConfigProvider>().SingleOrDefault()
            ?? throw new InvalidOperationException("The configuration reloader needs the gateway's GatewayProxyConfigProvider registered as an IProxyConfigProvider.");
        _options = options.Value;
        _logger = logger;
        _inputs = runtime.Current.Inputs;
        _debouncer = new Debouncer(time, _options.Debounce, _options.MaxDelay, () => _checks.Writer.TryWrite(true));
    }

    /// <summary>Configurations swapped in so far.</summary>
    public long Reloads => Interlocked.Read(ref _reloads);

    /// <summary>Reloads refused so far (invalid configuration).</summary>
    public long Failures => Interlocked.Read(ref _failures);

    /// <summary>The folders watched now, and whether with their subfolders.</summary>
    public IReadOnlyDictionary<string, bool> WatchedDirectories
    {
        get
        {
            lock (_watchersLock)
            {
                return _watchers.ToDictionary(w => w.Key, w => w.Value.Recursive, StringComparer.Ordinal);
            }
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!_options.ReloadOnChange)
        {
            Log.ConfigReloadOff(_logger);
            return;
        }
        await Task.Yield();
        Watch(_inputs);
        // The first check catches a change made between the start-up load and the watchers' start.
        _checks.Writer.TryWrite(true);
        try
        {
            while (await _checks.Reader.WaitToReadAsync(stoppingToken))
            {
                _checks.Reader.TryRead(out _);
                Check();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    /// <summary>Reloads when an input differs from what the running (or last attempted) configuration read.</summary>
    private void Check()
    {
        try
        {
            if (_inputs.FindChange() is { } change)
            {
                Reload(change);
            }
            // Folders may have appeared (a template folder created): watch what exists now.
            Watch(_inputs);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // A background service that throws stops the host: the gateway keeps serving and the next change checks again.
            Interlocked.Increment(ref _failures);
            Log.ConfigReloadCrashed(_logger, _source.Path, ex);
        }
    }

    private void Reload(string reason)
    {
        var inputs = new ConfigInputs();
        try
        {
            var current = _runtime.Current;
            var loaded = ConfigLoader.LoadFile(_source.Path, inputs);
            var config = KeepStartupSettings(current.Config, loaded, _logger);
            inputs = inputs.With(i => GatewayRuntime.AddCredentialFiles(i, config, _source.Environment));
            var next = GatewayRuntime.Build(config, _source.Environment, inputs);
            Swap(next);
            Interlocked.Increment(ref _reloads);
            Log.ConfigReloaded(_logger, _source.Path, reason, config.Models.Count, config.Functions.Count);
            foreach (var warning in config.Warnings)
            {
                Log.ConfigWarning(_logger, warning);
            }
        }
        catch (ConfigException ex)
        {
            Interlocked.Increment(ref _failures);
            Log.ConfigReloadFailed(_logger, _source.Path, reason, ex.Errors.Count);
            foreach (var error in ex.Errors)
            {
                Log.ConfigReloadError(_logger, error);
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Whatever went wrong, the gateway keeps serving the configuration it has; the next change tries again.
            Interlocked.Increment(ref _failures);
            Log.ConfigReloadCrashed(_logger, _source.Path, ex);
        }
        finally
        {
            // After a failure too: a broken or missing file is watched, so fixing it reloads.
            _inputs = inputs;
        }
    }

    /// <summary>
    /// YARP first, so the new snapshot's clusters are usually in place when requests start using it (a request whose
    /// cluster is not loaded still runs: ModelRunner's standby client), then the snapshot every new request reads.
    /// </summary>
    private void Swap(GatewayRuntime next)
    {
        // Circuit breakers follow by themselves: keyed by cluster, a provider whose settings changed (say, a new
        // api_base after an outage) gets a rebuilt, closed breaker the next time it is used (ProviderCircuitBreakers).
        _proxyConfig.Update(next);
        _runtime.Current = next;
    }

    /// <summary>
    /// The settings the gateway reads only at start-up: a change is logged with its key and takes effect at restart;
    /// the rest of the new configuration is applied. <c>bind_address</c> (the listening socket), <c>base_path</c> (the
    /// mapped endpoints; the inference routes follow it, so it must not change alone) and <c>[gateway.observability]</c>
    /// (the recorder and its queues are set up once).
    /// </summary>
    internal static GatewayConfig KeepStartupSettings(GatewayConfig running, GatewayConfig loaded, ILogger logger)
    {
        var (was, now) = (running.Gateway, loaded.Gateway);
        var kept = now;
        if (was.BindAddress != now.BindAddress)
        {
            Log.ConfigRestartRequired(logger, "gateway.bind_address", was.BindAddress is null ? "the default" : $"'{was.BindAddress}'");
            kept = kept with { BindAddress = was.BindAddress };
        }
        if (was.BasePath != now.BasePath)
        {
            Log.ConfigRestartRequired(logger, "gateway.base_path", was.BasePath.Length == 0 ? "no base path" : $"'{was.BasePath}'");
            kept = kept with { BasePath = was.BasePath };
        }
        if (was.Observability.Enabled != now.Observability.Enabled)
        {
            Log.ConfigRestartRequired(logger, "gateway.observability.enabled", was.Observability.Enabled?.ToString().ToLowerInvariant() ?? "unset");
            kept = kept with { Observability = kept.Observability with { Enabled = was.Observability.Enabled } };
        }
        if (was.Observability.AsyncWrites != now.Observability.AsyncWrites)
        {
            Log.ConfigRestartRequired(logger, "gateway.observability.async_writes", was.Observability.AsyncWrites.ToString().ToLowerInvariant());
            kept = kept with { Observability = kept.Observability with { AsyncWrites = was.Observability.AsyncWrites } };
        }
        return ReferenceEquals(kept, now) ? loaded : loaded with { Gateway = kept };
    }

    /// <summary>Watches the folders the inputs live in; folders no longer needed are let go.</summary>
    private void Watch(ConfigInputs inputs)
    {
        var targets = inputs.WatchTargets();
        lock (_watchersLock)
        {
            foreach (var (directory, entry) in _watchers.ToList())
            {
                if (!targets.TryGetValue(directory, out var recursive) || recursive != entry.Recursive)
                {
                    entry.Watcher.Dispose();
                    _watchers.Remove(directory);
                }
            }
            foreach (var (directory, recursive) in targets)
            {
                if (_watchers.ContainsKey(directory))
                {
                    continue;
                }
                try
                {
                    var watcher = new FileSystemWatcher(directory)
                    {
                        IncludeSubdirectories = recursive,
                        NotifyFilter = NotifyFilters.FileName | NotifyFilters.DirectoryName | NotifyFilters.LastWrite | NotifyFilters.Size | NotifyFilters.CreationTime,
                    };
                    watcher.Changed += (_, e) => OnChanged(e.FullPath);
                    watcher.Created += (_, e) => OnChanged(e.FullPath);
                    watcher.Deleted += (_, e) => OnChanged(e.FullPath);
                    watcher.Renamed += (_, e) =>
                    {
                        OnChanged(e.OldFullPath);
                        OnChanged(e.FullPath);
                    };
                    // Lost events (an overflowing queue): compare everything.
                    watcher.Error += (_, _) => _debouncer.Notify();
                    watcher.EnableRaisingEvents = true;
                    _watchers[directory] = (watcher, recursive);
                }
                catch (Exception ex) when (ex is IOException or ArgumentException or UnauthorizedAccessException or PlatformNotSupportedException)
                {
                    Log.ConfigWatchFailed(_logger, directory, ex.Message);
                }
            }
            Log.ConfigWatching(_logger, _watchers.Count, string.Join(", ", _watchers.Keys));
        }
    }

    private void OnChanged(string path)
    {
        if (_inputs.IsRelevant(path))
        {
            _debouncer.Notify();
        }
    }

    public override void Dispose()
    {
        lock (_watchersLock)
        {
            foreach (var (watcher, _) in _watchers.Values)
            {
                watcher.Dispose();
            }
            _watchers.Clear();
        }
        _debouncer.Dispose();
        base.Dispose();
    }
}

/// <summary>
/// Runs an action once a burst of notifications has been quiet for <c>quiet</c>, and at the latest <c>maxDelay</c> after
/// the burst's first notification (a file rewritten without pause cannot postpone a reload for ever). Time comes from
/// the <see cref="TimeProvider"/>.
/// </summary>
internal sealed class Debouncer : IDisposable
{
    private readonly object _lock = new();
    private readonly TimeProvider _time;
    private readonly TimeSpan _quiet;
    private readonly TimeSpan _maxDelay;
    private readonly Action _action;
    private readonly ITimer _timer;
    private long? _burstStarted;

    public Debouncer(TimeProvider time, TimeSpan quiet, TimeSpan maxDelay, Action action)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(quiet, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxDelay, quiet);
        _time = time;
        _quiet = quiet;
        _maxDelay = maxDelay;
        _action = action;
        _timer = time.CreateTimer(static state => ((Debouncer)state!).Fire(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Something changed: (re)start the quiet period, within the burst's bound.</summary>
    public void Notify()
    {
        lock (_lock)
        {
            var now = _time.GetTimestamp();
            _burstStarted ??= now;
            var left = _maxDelay - _time.GetElapsedTime(_burstStarted.Value, now);
            _timer.Change(left < _quiet ? (left > TimeSpan.Zero ? left : TimeSpan.Zero) : _quiet, Timeout.InfiniteTimeSpan);
        }
    }

    private void Fire()
    {
        lock (_lock)
        {
            _burstStarted = null;
        }
        _action();
    }

    public void Dispose() => _timer.Dispose();
}
