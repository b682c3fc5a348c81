using System.Collections.Concurrent;
using System.Diagnostics.Tracing;

namespace TensorZero.Proxy.Benchmarks;

/// <summary>
/// Bytes allocated per type, sampled in-process from the runtime's <c>GCAllocationTick</c> events (one event per
/// about 100 KB allocated, naming the type of the allocation that crossed the mark). Approximate by design, but
/// where the bytes of a route go shows after a few thousand requests.
/// </summary>
internal sealed class AllocationSampler : EventListener
{
    private const EventKeywords GcKeyword = (EventKeywords)0x1;
    private readonly ConcurrentDictionary<string, long> _bytes = new();
    private volatile bool _sampling;

    /// <summary>The sampled bytes by type name since the last <see cref="Start"/>.</summary>
    public IReadOnlyDictionary<string, long> Bytes => _bytes;

    public void Start()
    {
        _bytes.Clear();
        _sampling = true;
    }

    public void Stop() => _sampling = false;

    protected override void OnEventSourceCreated(EventSource source)
    {
        if (source.Name == "Microsoft-Windows-DotNETRuntime")
        {
            EnableEvents(source, EventLevel.Verbose, GcKeyword);
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        if (!_sampling || e.EventName?.StartsWith("GCAllocationTick", StringComparison.Ordinal) != true || e.PayloadNames is null)
        {
            return;
        }
        var type = e.Payload![e.PayloadNames.IndexOf("TypeName")] as string ?? "?";
        var amount = Convert.ToInt64(e.Payload[e.PayloadNames.IndexOf("AllocationAmount64")], System.Globalization.CultureInfo.InvariantCulture);
        _bytes.AddOrUpdate(type, amount, (_, total) => total + amount);
    }
}
