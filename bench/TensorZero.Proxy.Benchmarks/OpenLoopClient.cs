using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;

namespace TensorZero.Proxy.Benchmarks;

/// <summary>
/// A paced open-loop load generator (mode <c>openloop</c>), run as its own process on the load CPU. Requests
/// are sent at uniform intervals whatever the responses do, and each latency is measured from the request's
/// scheduled send time, so a stall shows up in the latency of every request it delays (no coordinated
/// omission). h2load's <c>--rps</c> fires all clients' timers together, which turns a rate into bursts.
/// Output: one line per request, "status\tlatency_us", the format <see cref="Latencies.FromLog"/> reads
/// (with a leading dummy column).
/// </summary>
internal static partial class OpenLoopClient
{
    public static async Task<int> RunAsync(string[] args)
    {
        string Value(string name) => args[Array.IndexOf(args, name) + 1];
        var url = new Uri(Value("--url"));
        var rate = int.Parse(Value("--rate"), CultureInfo.InvariantCulture);
        var seconds = int.Parse(Value("--seconds"), CultureInfo.InvariantCulture);
        var connections = int.Parse(Value("--connections"), CultureInfo.InvariantCulture);
        var body = await File.ReadAllBytesAsync(Value("--body"));
        var output = Value("--out");

        using var client = new HttpClient(new SocketsHttpHandler
        {
            UseProxy = false,
            MaxConnectionsPerServer = connections,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(10),
        });

        // Open the connections first, so connection setup is not measured.
        await Task.WhenAll(Enumerable.Range(0, connections).Select(_ => SendAsync(client, url, body)));

        var count = rate * seconds;
        var statuses = new int[count];
        var latencies = new long[count];
        var pending = new CountdownEvent(count);
        var period = Stopwatch.Frequency / (double)rate;
        var start = Stopwatch.GetTimestamp() + Stopwatch.Frequency / 100;

        var pacer = new Thread(() =>
        {
            for (var i = 0; i < count; i++)
            {
                var due = start + (long)(i * period);
                WaitUntil(due);
                var index = i;
                // The send starts on the pacer (until its first await); completions run on the thread pool.
                _ = Measure(index, due);
            }
        }) { IsBackground = true, Name = "pacer" };
        ThreadPool.SetMinThreads(16, 16);
        async Task Measure(int index, long due)
        {
            var status = await SendAsync(client, url, body);
            latencies[index] = Stopwatch.GetTimestamp() - due;
            statuses[index] = status;
            pending.Signal();
        }

        pacer.Start();
        pending.Wait(TimeSpan.FromSeconds(seconds + 60));

        await using var writer = new StreamWriter(output);
        for (var i = 0; i < count; i++)
        {
            var micros = latencies[i] * 1_000_000 / Stopwatch.Frequency;
            await writer.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"0\t{statuses[i]}\t{micros}"));
        }
        return 0;
    }

    private static async Task<int> SendAsync(HttpClient client, Uri url, byte[] body)
    {
        try
        {
            using var content = new ByteArrayContent(body);
            content.Headers.ContentType = new("application/json");
            using var response = await client.PostAsync(url, content);
            await response.Content.CopyToAsync(Stream.Null);
            return (int)response.StatusCode;
        }
        catch (HttpRequestException)
        {
            return 0;
        }
    }

    /// <summary>
    /// Sleeps until <paramref name="due"/> with usleep (about 60 µs late at worst). No spinning: the generator
    /// shares its CPU with the thread pool that completes its requests.
    /// </summary>
    private static void WaitUntil(long due)
    {
        long left;
        while ((left = (due - Stopwatch.GetTimestamp()) * 1_000_000 / Stopwatch.Frequency) > 0)
        {
            _ = Usleep((uint)Math.Min(left, 5000));
        }
    }

    [LibraryImport("libc", EntryPoint = "usleep")]
    private static partial int Usleep(uint microseconds);
}
