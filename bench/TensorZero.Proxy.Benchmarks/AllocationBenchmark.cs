using TensorZero.Proxy.Gateway;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace TensorZero.Proxy.Benchmarks;

/// <summary>
/// Bytes allocated per request (mode <c>alloc</c>): the gateway route against the plain YARP route, in one
/// process with the mock and the client, sequentially. Client and mock allocate the same for both routes, so
/// the difference is what the gateway adds per request (observability included). Then the types that make the
/// difference, sampled (<see cref="AllocationSampler"/>).
/// </summary>
internal static class AllocationBenchmark
{
    public static async Task<int> RunAsync(string[] args)
    {
        var requests = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 20_000;
        await using var upstream = await MockUpstream.StartAsync();
        var work = Directory.CreateTempSubdirectory("tzp-alloc-");
        var config = await BenchSetup.WriteConfigAsync(work.FullName, "alloc.toml", BenchSetup.Config(upstream.BaseUrl, observability: true));
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
                for (var i = 0; i < Warmup; i++)
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

            using var sampler = new AllocationSampler();
            sampler.Start();
            var yarp = await PerRequest("/yarp/v1/chat/completions");
            sampler.Stop();
            var yarpTypes = sampler.Bytes.ToDictionary();
            sampler.Start();
            var inference = await PerRequest("/v1/chat/completions");
            sampler.Stop();
            Console.WriteLine($"allocated per request (client + mock + proxy): yarp route {yarp:F0} B, gateway route {inference:F0} B; gateway adds {inference - yarp:F0} B");
            PrintTypes(yarpTypes, sampler.Bytes, requests + Warmup);
            await app.StopAsync();
            return 0;
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    private const int Warmup = 2000;

    /// <summary>The types the gateway route allocates more of than the plain route, sampled (warm-up included).</summary>
    private static void PrintTypes(IReadOnlyDictionary<string, long> yarp, IReadOnlyDictionary<string, long> gateway, int requests)
    {
        Console.WriteLine("sampled bytes per request by type, where the gateway route allocates more (gateway, yarp, difference):");
        var rows = gateway.Keys.Union(yarp.Keys)
            .Select(type => (Type: type, Gateway: gateway.GetValueOrDefault(type) / (double)requests, Yarp: yarp.GetValueOrDefault(type) / (double)requests))
            .OrderByDescending(row => row.Gateway - row.Yarp)
            .Take(25);
        foreach (var row in rows)
        {
            Console.WriteLine($"{row.Gateway,8:F0} {row.Yarp,8:F0} {row.Gateway - row.Yarp,8:F0}  {row.Type}");
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
