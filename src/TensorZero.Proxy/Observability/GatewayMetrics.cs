using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Polly.CircuitBreaker;
using TensorZero.Proxy.Inference;
using TensorZero.Proxy.Resilience;

namespace TensorZero.Proxy.Observability;

/// <summary>
/// The gateway's Prometheus metrics, hand-written (text exposition format 0.0.4). Recording costs a dictionary
/// lookup on struct keys and interlocked adds, no allocation once a label set has been seen; the text is built
/// only when <c>/metrics</c> is scraped.
/// </summary>
internal sealed class GatewayMetrics
{
    /// <summary>Provider attempt latency buckets, seconds.</summary>
    private static readonly double[] LatencyBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

    /// <summary>Gateway overhead buckets, seconds: the budget is sub-millisecond.</summary>
    private static readonly double[] OverheadBuckets = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1];

    private readonly ConcurrentDictionary<InferenceKey, Counter> _inferences = new();
    private readonly ConcurrentDictionary<AttemptKey, Counter> _attempts = new();
    private readonly ConcurrentDictionary<ProviderKey, Histogram> _attemptLatency = new();
    private readonly ConcurrentDictionary<ProviderKey, Counter> _failovers = new();
    private readonly Histogram _overhead = new(OverheadBuckets);

    /// <summary>Records one completed inference (dry runs included: they are requests all the same).</summary>
    public void Record(InferenceFeature inference)
    {
        var answered = inference.CommittedAttempt ?? (inference.Attempts.Count > 0 ? inference.Attempts[^1] : null);
        var key = new InferenceKey(inference.FunctionName, inference.VariantName ?? "", answered?.Model ?? "",
            inference.CommittedAttempt?.Provider ?? "", inference.Outcome);
        _inferences.GetOrAdd(key, static _ => new Counter()).Increment();

        var attempts = inference.Attempts;
        var providerTime = TimeSpan.Zero;
        for (var i = 0; i < attempts.Count; i++)
        {
            var attempt = attempts[i];
            var provider = new ProviderKey(attempt.Model, attempt.Provider);
            _attempts.GetOrAdd(new AttemptKey(attempt.Model, attempt.Provider, attempt.Outcome), static _ => new Counter()).Increment();
            if (attempt.WasAttempted)
            {
                _attemptLatency.GetOrAdd(provider, static _ => new Histogram(LatencyBuckets)).Observe(attempt.Elapsed.TotalSeconds);
                providerTime += attempt.Elapsed;
            }
            if (i < attempts.Count - 1)
            {
                // Another attempt followed this one: the gateway failed over from this provider.
                _failovers.GetOrAdd(provider, static _ => new Counter()).Increment();
            }
        }
        var overhead = inference.Duration - providerTime;
        _overhead.Observe(overhead > TimeSpan.Zero ? overhead.TotalSeconds : 0);
    }

    /// <summary>The exposition: inference and attempt counters, histograms, circuits and the observability queues.</summary>
    public string Render(IEnumerable<(string Key, CircuitState State)> circuits, IReadOnlyList<QueueMetrics> queues)
    {
        var text = new StringBuilder(4096);

        Header(text, "tensorzero_inferences_total", "counter", "Completed inference requests by function, variant, model, answering provider and outcome.");
        foreach (var (key, counter) in _inferences.OrderBy(p => p.Key.ToString(), StringComparer.Ordinal))
        {
            Sample(text, "tensorzero_inferences_total", [("function", key.Function), ("variant", key.Variant), ("model", key.Model),
                ("provider", key.Provider), ("outcome", InferenceRecords.Describe(key.Outcome))], counter.Value);
        }

        Header(text, "tensorzero_provider_requests_total", "counter", "Provider attempts (model inferences) by model, provider and outcome.");
        foreach (var (key, counter) in _attempts.OrderBy(p => p.Key.ToString(), StringComparer.Ordinal))
        {
            Sample(text, "tensorzero_provider_requests_total", [("model", key.Model), ("provider", key.Provider),
                ("outcome", InferenceRecords.Describe(key.Outcome))], counter.Value);
        }

        Header(text, "tensorzero_failovers_total", "counter", "Attempts after which the gateway moved on to another provider or variant, by the provider it left.");
        foreach (var (key, counter) in _failovers.OrderBy(p => p.Key.ToString(), StringComparer.Ordinal))
        {
            Sample(text, "tensorzero_failovers_total", [("model", key.Model), ("provider", key.Provider)], counter.Value);
        }

        Header(text, "tensorzero_provider_attempt_duration_seconds", "histogram", "Duration of provider attempts, to the end of the response.");
        foreach (var (key, histogram) in _attemptLatency.OrderBy(p => p.Key.ToString(), StringComparer.Ordinal))
        {
            histogram.Write(text, "tensorzero_provider_attempt_duration_seconds", [("model", key.Model), ("provider", key.Provider)]);
        }

        Header(text, "tensorzero_gateway_overhead_seconds", "histogram", "Time an inference spent in the gateway outside provider attempts.");
        _overhead.Write(text, "tensorzero_gateway_overhead_seconds", []);

        Header(text, "tensorzero_circuit_state", "gauge", "Circuit breaker state per provider: 1 for the current state.");
        foreach (var (key, state) in circuits.OrderBy(c => c.Key, StringComparer.Ordinal))
        {
            foreach (var candidate in (ReadOnlySpan<CircuitState>)[CircuitState.Closed, CircuitState.Open, CircuitState.HalfOpen, CircuitState.Isolated])
            {
                Sample(text, "tensorzero_circuit_state", [("provider", key), ("state", StateName(candidate))], candidate == state ? 1 : 0);
            }
        }

        Header(text, "tensorzero_observability_queue_rows", "gauge", "Rows queued on disk, not yet shipped to ClickHouse.");
        foreach (var q in queues)
        {
            Sample(text, "tensorzero_observability_queue_rows", [("table", q.Table)], q.PendingRows);
        }
        Header(text, "tensorzero_observability_queue_bytes", "gauge", "Bytes of the queued rows.");
        foreach (var q in queues)
        {
            Sample(text, "tensorzero_observability_queue_bytes", [("table", q.Table)], q.PendingBytes);
        }
        Header(text, "tensorzero_observability_rows_written_total", "counter", "Rows written to the queue's segment files.");
        foreach (var q in queues)
        {
            Sample(text, "tensorzero_observability_rows_written_total", [("table", q.Table)], q.WrittenRows);
        }
        Header(text, "tensorzero_observability_rows_shipped_total", "counter", "Rows acknowledged by ClickHouse.");
        foreach (var q in queues)
        {
            Sample(text, "tensorzero_observability_rows_shipped_total", [("table", q.Table)], q.ShippedRows);
        }
        Header(text, "tensorzero_observability_rows_dropped_total", "counter",
            "Rows lost: queue_bound (oldest segments deleted past the size bound), memory_full (writer backlog full), rejected (refused by ClickHouse, kept in rejected/), write_error.");
        foreach (var q in queues)
        {
            Sample(text, "tensorzero_observability_rows_dropped_total", [("table", q.Table), ("reason", "queue_bound")], q.DroppedByBound);
            Sample(text, "tensorzero_observability_rows_dropped_total", [("table", q.Table), ("reason", "memory_full")], q.DroppedInMemory);
            Sample(text, "tensorzero_observability_rows_dropped_total", [("table", q.Table), ("reason", "rejected")], q.Rejected);
            Sample(text, "tensorzero_observability_rows_dropped_total", [("table", q.Table), ("reason", "write_error")], q.WriteErrors);
        }
        Header(text, "tensorzero_observability_slow_writes_total", "counter",
            "Responses that completed before their record reached the queue file (the wait is bounded by DurableWriteWait).");
        foreach (var q in queues.Where(q => q.Table == nameof(RecordTable.ChatInference)))
        {
            Sample(text, "tensorzero_observability_slow_writes_total", [], q.SlowWrites);
        }
        return text.ToString();
    }

    private static string StateName(CircuitState state) => state switch
    {
        CircuitState.Closed => "closed",
        CircuitState.Open => "open",
        CircuitState.HalfOpen => "half_open",
        _ => "isolated",
    };

    private static void Header(StringBuilder text, string name, string type, string help) =>
        text.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n')
            .Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');

    private static void Sample(StringBuilder text, string name, ReadOnlySpan<(string Name, string Value)> labels, double value)
    {
        text.Append(name);
        Labels(text, labels);
        text.Append(' ').Append(Format(value)).Append('\n');
    }

    internal static void Labels(StringBuilder text, ReadOnlySpan<(string Name, string Value)> labels)
    {
        if (labels.IsEmpty)
        {
            return;
        }
        text.Append('{');
        for (var i = 0; i < labels.Length; i++)
        {
            if (i > 0)
            {
                text.Append(',');
            }
            text.Append(labels[i].Name).Append("=\"");
            foreach (var c in labels[i].Value)
            {
                _ = c switch
                {
                    '\\' => text.Append("\\\\"),
                    '"' => text.Append("\\\""),
                    '\n' => text.Append("\\n"),
                    _ => text.Append(c),
                };
            }
            text.Append('"');
        }
        text.Append('}');
    }

    internal static string Format(double value) =>
        double.IsPositiveInfinity(value) ? "+Inf" : value.ToString("R", CultureInfo.InvariantCulture);

    private readonly record struct InferenceKey(string Function, string Variant, string Model, string Provider, InferenceOutcome Outcome);

    private readonly record struct AttemptKey(string Model, string Provider, AttemptOutcome Outcome);

    private readonly record struct ProviderKey(string Model, string Provider);

    private sealed class Counter
    {
        private long _value;

        public long Value => Interlocked.Read(ref _value);

        public void Increment() => Interlocked.Increment(ref _value);
    }

    /// <summary>A cumulative histogram: per-bucket counts, a count and a sum (in microseconds, to stay integral).</summary>
    private sealed class Histogram(double[] bounds)
    {
        private readonly long[] _buckets = new long[bounds.Length];
        private long _count;
        private long _sumMicros;

        public void Observe(double seconds)
        {
            var index = Array.BinarySearch(bounds, seconds);
            if (index < 0)
            {
                index = ~index;
            }
            if (index < _buckets.Length)
            {
                Interlocked.Increment(ref _buckets[index]);
            }
            Interlocked.Increment(ref _count);
            Interlocked.Add(ref _sumMicros, (long)(seconds * 1_000_000));
        }

        public void Write(StringBuilder text, string name, (string Name, string Value)[] labels)
        {
            long cumulative = 0;
            for (var i = 0; i < bounds.Length; i++)
            {
                cumulative += Interlocked.Read(ref _buckets[i]);
                Sample(text, name + "_bucket", [.. labels, ("le", Format(bounds[i]))], cumulative);
            }
            var count = Interlocked.Read(ref _count);
            Sample(text, name + "_bucket", [.. labels, ("le", "+Inf")], count);
            Sample(text, name + "_sum", labels, Interlocked.Read(ref _sumMicros) / 1_000_000.0);
            Sample(text, name + "_count", labels, count);
        }
    }
}

/// <summary>One table's queue numbers for <c>/metrics</c>.</summary>
internal sealed record QueueMetrics(
    string Table, long PendingRows, long PendingBytes, long WrittenRows, long ShippedRows, long DroppedByBound, long DroppedInMemory,
    long Rejected, long WriteErrors, long SlowWrites = 0);
