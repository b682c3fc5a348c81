using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace TensorZero.Proxy.Observability;

/// <summary>
/// ClickHouse's state for <c>/health</c>: what the shippers last saw, and an authenticated <c>SELECT 1</c> when
/// asked. Logs each change between reachable and unreachable once, not every retry.
/// </summary>
internal sealed class ClickHouseHealth
{
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(2);
    private readonly ObservabilitySettings _settings;
    private readonly ClickHouseClient? _client;
    private readonly ILogger<ClickHouseHealth> _logger;
    private int _reachable = -1; // -1 unknown, 0 no, 1 yes.

    public ClickHouseHealth(ObservabilitySettings settings, ILogger<ClickHouseHealth> logger, ClickHouseClient? client = null)
    {
        _settings = settings;
        _client = client;
        _logger = logger;
    }

    /// <summary>What a request to ClickHouse found.</summary>
    public void Report(bool reachable, string? problem = null)
    {
        var previous = Interlocked.Exchange(ref _reachable, reachable ? 1 : 0);
        if (reachable && previous == 0)
        {
            Log.ClickHouseReachable(_logger, _client?.Endpoint.Display ?? "");
        }
        else if (!reachable && previous != 0)
        {
            Log.ClickHouseUnreachable(_logger, _client?.Endpoint.Display ?? "", problem ?? "no answer");
        }
    }

    /// <summary>"ok", "unreachable", "not configured" (no URL: the embedded store) or "disabled"; unhealthy only when
    /// <c>[gateway.observability] enabled = true</c> and ClickHouse is unreachable.</summary>
    public async Task<(string Status, bool Healthy)> CheckAsync(CancellationToken cancellationToken)
    {
        if (_settings.Mode == ObservabilityMode.Disabled)
        {
            return ("disabled", true);
        }
        if (_client is null)
        {
            return ("not configured", true);
        }
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(ProbeTimeout);
        bool ok;
        try
        {
            ok = await _client.PingAsync(timeout.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            ok = false;
        }
        Report(ok, ok ? null : "no answer to SELECT 1");
        return ok ? ("ok", true) : ("unreachable", !_settings.ExplicitlyEnabled);
    }
}

/// <summary>
/// Runs observability in the background: at start the writer resumes the queues and, with ClickHouse, one
/// shipper per table of <see cref="RecordTables"/> starts (migrations first). At shutdown the writer puts every record it took on disk, the
/// shippers drain for at most <c>DrainTimeout</c>, and whatever is left stays in the segment files for the next
/// start.
/// </summary>
internal sealed class ObservabilityService : IHostedService, IDisposable
{
    private readonly ObservabilitySettings _settings;
    private readonly ObservabilityWriter _writer;
    private readonly ClickHouseHealth _health;
    private readonly ClickHouseClient? _client;
    private readonly TimeProvider _time;
    private readonly ILogger<ObservabilityService> _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<ClickHouseShipper> _shippers = [];
    private Task _shipping = Task.CompletedTask;

    public ObservabilityService(
        ObservabilitySettings settings, ObservabilityWriter writer, ClickHouseHealth health, TimeProvider time,
        ILogger<ObservabilityService> logger, ClickHouseClient? client = null)
    {
        _settings = settings;
        _writer = writer;
        _health = health;
        _client = client;
        _time = time;
        _logger = logger;
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        Log.ObservabilityMode(_logger, _settings.Mode.ToString(), _settings.ClickHouse?.Display ?? "none", _settings.DataDir);
        if (_settings.Mode == ObservabilityMode.Disabled)
        {
            return Task.CompletedTask;
        }
        _writer.Start();
        if (_client is null)
        {
            return Task.CompletedTask;
        }

        Log.ClickHouseDeployment(_logger, _client.Endpoint.Display, _settings.Deployment.Describe());
        var gate = new MigrationGate(_client, _settings.Deployment, _time, _logger);
        foreach (var table in RecordTables.All)
        {
            _shippers.Add(new ClickHouseShipper(table, _writer.Queue(table)!, _client, gate, _health, _settings.Options, _time, _logger));
        }
        // Only the shippers of the tables that got rows are woken (an inference wakes two of them).
        _writer.RowsWritten += tables =>
        {
            for (var i = 0; i < _shippers.Count; i++)
            {
                if ((tables & (1 << i)) != 0)
                {
                    _shippers[i].Notify();
                }
            }
        };
        _shipping = Task.WhenAll(_shippers.Select(s => Task.Run(() => s.RunAsync(_stopping.Token))));
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_settings.Mode == ObservabilityMode.Disabled)
        {
            return;
        }
        var drain = _settings.Options.DrainTimeout;
        await _writer.StopAsync(drain);
        foreach (var shipper in _shippers)
        {
            shipper.BeginDrain();
        }
        _stopping.CancelAfter(drain);
        await _shipping.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        Log.ObservabilityStopped(_logger, _writer.DescribePending());
    }

    public void Dispose()
    {
        _stopping.Cancel();
        _stopping.Dispose();
    }
}
