using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace TensorZero.Proxy.Benchmarks;

/// <summary>
/// Bytes allocated per request (mode <c>alloc</c>): the gateway route against the plain YARP route, in one
/// process with the mock and the client, sequentially. Client and mock allocate the same for both routes, so
/// the difference is what the gateway adds per request (observability included).
/// </summary>
internal static class AllocationBenchmark
{
    public static async Task<int> RunAsync(string[] args)
    {
        var requests = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 20_000;
        await using var upstream = await MockUpstream.StartAsync();
        var work = Directory.CreateTempSubdirectory("tzp-alloc-");
        var config = Path.Combine(work.FullName, "alloc.toml");
        await File.WriteAllTextAsync(config, BenchSetup.Config(upstream.BaseUrl, observability: true));
        try
        {
            var app = GatewayHost.CreateApp(
                BenchSetup.GatewayArgs(config, "http://127.0.0.1:0", Path.Combine(work.FullName, "data"), upstream.BaseUrl));
            await app.StartAsync();
            var gateway = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            using var client = new HttpClient { BaseAddress = new Uri(gateway) };
            var body = Encoding.UTF8.GetBytes("""{"model":"bench","messages":[{"role":"user","content":"Say hello."}],"temperature":0.2}""");

            async Task<double> PerRequest(string path)
            {
                for (var i = 0; i < 2000; i++)
                {
                    await SendAsync(client, path, body);
                }
                var before = GC.GetTotalAllocatedBytes(precise: true);
                for (var i = 0; i < requests; i++)
                {
                    await SendAsync(client, path, body);
                }
                return (GC.GetTotalAllocatedBytes(precise: true) - before) / (double)requests;
            }

            var yarp = await PerRequest("/yarp/v1/chat/completions");
            var inference = await PerRequest("/v1/chat/completions");
            Console.WriteLine($"allocated per request (client + mock + proxy): yarp route {yarp:F0} B, gateway route {inference:F0} B; gateway adds {inference - yarp:F0} B");
            await app.StopAsync();
            return 0;
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    private static async Task SendAsync(HttpClient client, string path, byte[] body)
    {
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new("application/json");
        using var response = await client.PostAsync(path, content);
        await response.Content.CopyToAsync(Stream.Null);
        response.EnsureSuccessStatusCode();
    }
}
