using System.Collections.Concurrent;
using Polly;
using Polly.Registry;
using TensorZero.Proxy.Routing;

namespace TensorZero.Proxy.Resilience;

/// <summary>
/// One pipeline per stable key (a provider's cluster, a function's variant) in a Polly.Extensions registry, each built
/// from the settings its key has in the current configuration snapshot (<see cref="GatewayRuntimeAccessor.Current"/>).
/// </summary>
/// <remarks>
/// Polly's registry never removes a pipeline, so a key is a name that survives a configuration reload, and the settings
/// a pipeline was built from are kept beside it. The first call after the snapshot changed compares them with the new
/// snapshot: a key whose settings are unchanged keeps its pipeline and its state (an open circuit stays open); a key whose
/// settings changed is rebuilt in place through Polly's reload token, so it starts afresh; a key the snapshot no longer
/// has is retired (left idle, not listed by <see cref="Live"/>) and rebuilt afresh if it comes back. The
/// registry so holds at most one pipeline per name ever configured, however often the configuration is reloaded. A
/// request that began before a reload finishes with the pipeline its key has now.
/// </remarks>
/// <typeparam name="TKey">The registry key.</typeparam>
/// <typeparam name="TSettings">What a pipeline is built from, compared with <see cref="EqualityComparer{T}.Default"/>.</typeparam>
/// <typeparam name="TState">What one build of a pipeline keeps beside it (a breaker's state provider, ...).</typeparam>
internal sealed class KeyedPipelines<TKey, TSettings, TState>
    where TKey : notnull
    where TSettings : class
    where TState : class
{
    private readonly ConcurrentDictionary<TKey, Entry> _entries = new();
    private readonly ResiliencePipelineRegistry<TKey> _registry;
    private readonly GatewayRuntimeAccessor _runtime;
    private readonly Func<GatewayRuntime, Func<TKey, TSettings?>> _settingsIn;
    private readonly Func<ResiliencePipelineBuilder, TKey, TSettings, TState> _configure;
    private readonly object _reconcileLock = new();
    private volatile GatewayRuntime? _reconciled;
    private volatile Func<TKey, TSettings?> _current = static _ => null;

    /// <param name="registry">The registry the pipelines live in (its builders carry the telemetry and the clock).</param>
    /// <param name="runtime">The configuration snapshot in force.</param>
    /// <param name="settingsIn">A key's settings in a snapshot; null when the snapshot has no such key (or it needs no pipeline).</param>
    /// <param name="configure">Adds a key's strategies to a builder and returns what the build keeps beside its pipeline.</param>
    public KeyedPipelines(
        ResiliencePipelineRegistry<TKey> registry, GatewayRuntimeAccessor runtime, Func<GatewayRuntime, Func<TKey, TSettings?>> settingsIn,
        Func<ResiliencePipelineBuilder, TKey, TSettings, TState> configure)
    {
        _registry = registry;
        _runtime = runtime;
        _settingsIn = settingsIn;
        _configure = configure;
    }

    /// <summary>
    /// The key's pipeline, built on first use from its settings in the current snapshot, or from <paramref name="fallback"/>
    /// when the snapshot does not have the key (a request of an older snapshot); such a pipeline starts retired.
    /// </summary>
    public Entry GetOrAdd(TKey key, TSettings fallback)
    {
        Refresh();
        var entry = _entries.GetOrAdd(key, static _ => new Entry());
        if (entry.Pipeline is null)
        {
            lock (entry.Gate)
            {
                if (entry.Pipeline is null)
                {
                    var settings = _current(key);
                    entry.Settings = settings ?? fallback;
                    entry.IsRetired = settings is null;
                    entry.Pipeline = _registry.GetOrAddPipeline(key, (builder, context) => Build(entry, builder, context));
                }
            }
        }
        return entry;
    }

    /// <summary>The key's pipeline if it was ever used.</summary>
    public bool TryGet(TKey key, out Entry entry)
    {
        Refresh();
        return _entries.TryGetValue(key, out entry!) && entry.Pipeline is not null;
    }

    /// <summary>Every pipeline built so far whose key the current snapshot has.</summary>
    public IEnumerable<(TKey Key, TState State)> Live
    {
        get
        {
            Refresh();
            foreach (var (key, entry) in _entries)
            {
                if (entry.Pipeline is not null && !entry.IsRetired)
                {
                    yield return (key, entry.State);
                }
            }
        }
    }

    /// <summary>Brings every pipeline in line with the snapshot in force, once per snapshot (a reference comparison otherwise).</summary>
    private void Refresh()
    {
        if (ReferenceEquals(_runtime.Current, _reconciled))
        {
            return;
        }
        lock (_reconcileLock)
        {
            var runtime = _runtime.Current;
            if (ReferenceEquals(runtime, _reconciled))
            {
                return;
            }
            var current = _settingsIn(runtime);
            // Published before the entries are compared, so an entry created meanwhile is built from the new snapshot.
            _current = current;
            foreach (var (key, entry) in _entries)
            {
                lock (entry.Gate)
                {
                    if (entry.Pipeline is null)
                    {
                        continue;
                    }
                    var settings = current(key);
                    if (settings is null)
                    {
                        entry.IsRetired = true;
                        continue;
                    }
                    // A key that comes back after a snapshot without it starts afresh, whatever its settings.
                    if (entry.IsRetired || !EqualityComparer<TSettings>.Default.Equals(settings, entry.Settings))
                    {
                        entry.Settings = settings;
                        Rebuild(entry);
                    }
                    entry.IsRetired = false;
                }
            }
            _reconciled = runtime;
        }
    }

    /// <summary>Rebuilds an entry's pipeline from its (new) settings: Polly swaps the strategies in place on the reload token.</summary>
    private static void Rebuild(Entry entry)
    {
        if (entry.Reload is not { } reload)
        {
            // A rebuild failed before (Polly then keeps the strategies it had and stops listening): nothing can swap them.
            return;
        }
        entry.Reload = null;
        // Polly's reload runs synchronously inside Cancel: it calls Build, which installs the next token. If the build
        // throws, Polly keeps the previous strategies and reports a ReloadFailed resilience event.
        reload.Cancel();
        reload.Dispose();
    }

    private void Build(Entry entry, ResiliencePipelineBuilder builder, ConfigureBuilderContext<TKey> context)
    {
        var state = _configure(builder, context.PipelineKey, entry.Settings);
        var reload = new CancellationTokenSource();
        context.AddReloadToken(reload.Token);
        entry.Reload = reload;
        entry.State = state;
    }

    /// <summary>A key's pipeline and what its current build keeps.</summary>
    internal sealed class Entry
    {
        private volatile ResiliencePipeline? _pipeline;
        private volatile TState? _state;
        private volatile bool _retired;

        /// <summary>Serialises a key's first build and rebuilds.</summary>
        public object Gate { get; } = new();

        /// <summary>The registry's pipeline; the same object across rebuilds. Null until built.</summary>
        public ResiliencePipeline? Pipeline
        {
            get => _pipeline;
            set => _pipeline = value;
        }

        /// <summary>What the current build keeps beside the pipeline.</summary>
        public TState State
        {
            get => _state!;
            set => _state = value;
        }

        /// <summary>The settings the current build was made from.</summary>
        public TSettings Settings { get; set; } = null!;

        /// <summary>Whether the current snapshot lacks the key.</summary>
        public bool IsRetired
        {
            get => _retired;
            set => _retired = value;
        }

        /// <summary>Cancelled to rebuild the pipeline.</summary>
        public CancellationTokenSource? Reload { get; set; }
    }
}
