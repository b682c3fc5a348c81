using System.Diagnostics;
using System.Text;

namespace TensorZero.Proxy.Benchmarks;

/// <summary>
/// Time to first token of streamed completions, direct to the mock and through the gateway, alternating
/// request by request at a modest pace (one stream in flight) so both see the same machine.
/// </summary>
internal static class TtftBenchmark
{
    private const string StreamBody = """{"model":"bench","stream":true,"messages":[{"role":"user","content":"Stream a hello."}]}""";

    /// <summary>Gateway streams one run sends (measured ones and the 100 warm-up ones).</summary>
    public static long Requests(int requestsPerTarget) => requestsPerTarget + WarmupRequests;

    private const int WarmupRequests = 100;

    public static async Task<(Latencies Direct, Latencies Gateway)> RunAsync(string directUrl, string gatewayUrl, int requestsPerTarget)
    {
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false, MaxConnectionsPerServer = 4 });
        var direct = new List<double>(requestsPerTarget);
        var gateway = new List<double>(requestsPerTarget);
        for (var i = 0; i < requestsPerTarget + WarmupRequests; i++)
        {
            var d = await MeasureAsync(client, directUrl);
            var g = await MeasureAsync(client, gatewayUrl);
            if (i >= WarmupRequests)
            {
                // The first 100 of each are warm-up.
                direct.Add(d);
                gateway.Add(g);
            }
        }
        direct.Sort();
        gateway.Sort();
        return (new Latencies(direct.Count, direct.Count, [.. direct]), new Latencies(gateway.Count, gateway.Count, [.. gateway]));
    }

    private static async Task<double> MeasureAsync(HttpClient client, string url)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new StringContent(StreamBody, Encoding.UTF8, "application/json") };
        var watch = Stopwatch.StartNew();
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        await using var stream = await response.Content.ReadAsStreamAsync();
        var buffer = new byte[4096];
        // The first body bytes are the first SSE event: the first token.
        var read = await stream.ReadAsync(buffer);
        var ttft = watch.Elapsed.TotalMilliseconds;
        while (read > 0)
        {
            read = await stream.ReadAsync(buffer);
        }
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"{url} answered {(int)response.StatusCode}");
        }
        return ttft;
    }
}
