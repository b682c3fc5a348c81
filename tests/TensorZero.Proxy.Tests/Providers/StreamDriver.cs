using TensorZero.Proxy.Providers;
using TensorZero.Proxy.Tests.TestSupport;

namespace TensorZero.Proxy.Tests.Providers;

/// <summary>
/// Runs code that waits on a <see cref="WatchedFakeTimeProvider"/>: time moves 1 ms at a time, and only while a timer is
/// waiting, so the virtual time at the end is exactly the sum of the waits.
/// </summary>
internal static class StreamDriver
{
    public static async Task RunAsync(Task task, WatchedFakeTimeProvider time)
    {
        var giveUp = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!task.IsCompleted)
        {
            if (time.PendingTimers > 0)
            {
                time.Advance(TimeSpan.FromMilliseconds(1));
            }
            else
            {
                await Task.Delay(1);
            }
            if (DateTime.UtcNow > giveUp)
            {
                throw new TimeoutException("the code under test neither finished nor waited on the fake clock");
            }
        }
    }

    /// <summary>Collects a dummy stream, with the virtual time (since the clock's start) at which each item came.</summary>
    public static async Task<List<(DummyStreamItem Item, TimeSpan At)>> CollectAsync(IAsyncEnumerable<DummyStreamItem> stream, WatchedFakeTimeProvider time)
    {
        var items = new List<(DummyStreamItem, TimeSpan)>();
        var task = Task.Run(async () =>
        {
            await foreach (var item in stream)
            {
                lock (items)
                {
                    items.Add((item, time.GetUtcNow() - time.Start));
                }
            }
        });
        await RunAsync(task, time);
        await task;
        return items;
    }
}
